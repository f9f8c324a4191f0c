/*
 * Gridcase pages: what the console, the department workbench and the grid workers' check page share.
 *
 * Vanilla ES2020, no dependencies, nothing fetched from outside this origin. Exposes one global,
 * `window.Gridcase`. Server data reaches the DOM through textContent / setAttribute only; innerHTML
 * is never used.
 */
'use strict';

window.Gridcase = (() => {
  const SHANGHAI_OFFSET_MS = 8 * 3600 * 1000; // Asia/Shanghai is UTC+8, no DST since 1991

  const STATUSES = [
    ['reported', '待派遣'],
    ['triage', '待分拣'],
    ['dispatched', '已派遣'],
    ['signed', '已签收'],
    ['returned', '已退回'],
    ['suspended', '已挂起'],
    ['resolved', '已办结待核查'],
    ['closed', '已结案'],
    ['rejected', '不予受理'],
    ['duplicate', '重复件'],
  ];
  const STATUS_LABEL = new Map(STATUSES);
  const CLOCK_STOPPED = new Map([
    ['resolved', '已办结，停止计时'],
    ['closed', '已结案，停止计时'],
    ['rejected', '不予受理，不计时'],
    ['duplicate', '重复件，不计时'],
    ['suspended', '已挂起，暂停计时'],
  ]);
  const REQUEST_KIND_LABEL = { extension: '延期申请', suspension: '挂起申请' };

  // ---------------------------------------------------------------------
  // Text and elements
  // ---------------------------------------------------------------------

  /** Coerce a server value to display text: only strings and finite numbers pass. */
  function s(v) {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    return '';
  }

  function orDash(v) {
    const t = s(v).trim();
    return t === '' ? '—' : t;
  }

  function applyProps(node, props) {
    if (props.class) node.className = props.class;
    if (props.text != null) node.textContent = props.text;
    if (props.title) node.title = props.title;
    if (props.attrs) {
      for (const [k, v] of Object.entries(props.attrs)) {
        if (v != null && v !== false) node.setAttribute(k, v === true ? '' : String(v));
      }
    }
    if (props.dataset) Object.assign(node.dataset, props.dataset);
    if (props.on) for (const [ev, fn] of Object.entries(props.on)) node.addEventListener(ev, fn);
  }

  /** Create an element. props: {class, text, title, attrs, dataset, on}; string children become text. */
  function el(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    applyProps(node, props);
    for (const child of children) {
      if (child == null || child === false) continue;
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  const isObj = (v) => v != null && typeof v === 'object' && !Array.isArray(v);
  const objects = (v) => (Array.isArray(v) ? v.filter(isObj) : []);

  // ---------------------------------------------------------------------
  // Time (always shown in Asia/Shanghai, whatever the PC's zone)
  // ---------------------------------------------------------------------

  /** Parse ISO-8601 with timezone; tolerates >3 fractional digits. Returns ms or NaN. */
  function parseTime(v) {
    if (typeof v !== 'string' || v === '') return NaN;
    return Date.parse(v.trim().replace(/(\.\d{3})\d+/, '$1'));
  }

  const pad2 = (n) => String(n).padStart(2, '0');

  function shanghai(t) {
    return new Date(t + SHANGHAI_OFFSET_MS);
  }

  /** "MM-DD HH:mm". */
  function fmtTime(v) {
    const t = typeof v === 'number' ? v : parseTime(v);
    if (Number.isNaN(t)) return '—';
    const d = shanghai(t);
    return `${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
  }

  /** "YYYY-MM-DD HH:mm:ss" (ms or ISO string). */
  function fmtFull(v) {
    const t = typeof v === 'number' ? v : parseTime(v);
    if (Number.isNaN(t)) return '';
    const d = shanghai(t);
    return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ` +
      `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
  }

  /** "YYYY-MM-DD HH:mm". */
  function fmtMinute(v) {
    const f = fmtFull(v);
    return f ? f.slice(0, 16) : '—';
  }

  /** A time as the value of <input type="datetime-local"> in Shanghai time ("YYYY-MM-DDTHH:mm"). */
  function toLocalInput(v) {
    const t = typeof v === 'number' ? v : parseTime(v);
    if (Number.isNaN(t)) return '';
    const d = shanghai(t);
    return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T` +
      `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
  }

  /** <input type="datetime-local"> value read as Shanghai time → ISO-8601 with +08:00, or ''. */
  function fromLocalInput(value) {
    const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::(\d{2}))?/.exec(s(value));
    if (!m) return '';
    return `${m[1]}T${m[2]}:${m[3] || '00'}+08:00`;
  }

  function fmtDuration(ms) {
    const mins = Math.max(0, Math.round(ms / 60000));
    const days = Math.floor(mins / 1440);
    const hours = Math.floor((mins % 1440) / 60);
    const m = mins % 60;
    if (days > 0) return hours ? `${days}天${hours}小时` : `${days}天`;
    if (hours > 0) return m ? `${hours}小时${m}分` : `${hours}小时`;
    return `${m}分钟`;
  }

  let clockOffset = 0;
  function setServerTime(v) {
    const t = parseTime(v);
    if (!Number.isNaN(t)) clockOffset = t - Date.now();
  }
  const serverNow = () => Date.now() + clockOffset;

  // ---------------------------------------------------------------------
  // Statuses, deadlines, badges
  // ---------------------------------------------------------------------

  function statusTone(status) {
    return STATUS_LABEL.has(status) ? status : 'unknown';
  }
  function statusLabel(c) {
    return s(c.status_label) || STATUS_LABEL.get(c.status) || s(c.status) || '未知';
  }
  function statusBadge(c) {
    return el('span', { class: `badge tone-${statusTone(c.status)}`, text: statusLabel(c) });
  }
  function urgencyTag(urgency, label) {
    const u = s(urgency);
    const tone = u === 'critical' || u === 'emergency' ? 'critical' : u === 'urgent' ? 'urgent' : 'normal';
    return el('span', { class: `urg urg-${tone}`, text: orDash(label) });
  }

  /** Deadline light: green < 80 % of dispatched_at..due_at used; yellow 80–100 %; red past due. */
  function deadline(c, now = serverNow()) {
    const due = parseTime(c.due_at);
    if (Number.isNaN(due)) return { tone: 'none', tip: '未设置处置时限' };
    const dueText = `处置时限 ${fmtFull(due)}`;
    if (CLOCK_STOPPED.has(c.status)) {
      return { tone: 'stopped', due, short: CLOCK_STOPPED.get(c.status), tip: `${dueText}\n${CLOCK_STOPPED.get(c.status)}` };
    }
    if (now >= due || c.overdue === true) {
      const short = now >= due ? `超期 ${fmtDuration(now - due)}` : '已超期';
      return { tone: 'red', due, short, tip: `${dueText}\n${short.replace(/^超期/, '已超期')}` };
    }
    const short = `剩余 ${fmtDuration(due - now)}`;
    // A case page has its clocks: the one due then says how much of its limit is used, counting
    // working time only where the limit is in working hours (the server's light).
    const clock = objects(c.clocks).find((k) => s(k.state) === 'running' && (k.light === 'green' || k.light === 'yellow') &&
      Math.abs(parseTime(k.due_at) - due) < 60000);
    if (clock) {
      const pct = Math.round(Math.max(0, Number(clock.elapsed_ratio) || 0) * 100);
      return {
        tone: clock.light,
        due,
        short,
        tip: `${dueText}\n${short}（已用时 ${pct}%${clock.working_time === true ? '，按工作时间计' : ''}）`,
      };
    }
    const start = parseTime(c.dispatched_at);
    if (Number.isNaN(start) || start >= due) return { tone: 'green', due, short, tip: `${dueText}\n${short}` };
    const ratio = Math.max(0, (now - start) / (due - start));
    return {
      tone: ratio >= 0.8 || c.due_soon === true ? 'yellow' : 'green',
      due,
      short,
      tip: `${dueText}\n${short}（已用时 ${Math.round(ratio * 100)}%）`,
    };
  }

  function deadlineCell(c, dl = deadline(c)) {
    if (dl.tone === 'none') return el('span', { class: 'muted', text: '—', title: dl.tip });
    return el('span', { class: `due due-${dl.tone}`, title: dl.tip }, [
      el('span', { class: `light light-${dl.tone}`, attrs: { 'aria-hidden': 'true' } }),
      el('span', { class: 'mono', text: fmtTime(c.due_at) }),
    ]);
  }

  /**
   * The kinds of request waiting for an answer on a case (list item or detail), tolerant of the
   * shapes a list may use: `pending_requests` (objects or kind strings), `pending_request(s)_kinds`,
   * `pending_request` (one object or kind).
   */
  function pendingKinds(c) {
    const out = [];
    const add = (v) => {
      const kind = isObj(v) ? s(v.kind) : s(v);
      if (kind && !out.some((k) => k.kind === kind)) {
        out.push({ kind, label: (isObj(v) && s(v.kind_label)) || REQUEST_KIND_LABEL[kind] || kind });
      }
    };
    if (!isObj(c)) return out;
    for (const key of ['pending_requests', 'pending_request_kinds', 'pending_kinds']) {
      if (Array.isArray(c[key])) c[key].forEach(add);
    }
    if (c.pending_request) add(c.pending_request);
    return out;
  }

  /** "延期申请待审批" tags for a case. */
  function pendingTags(c) {
    return pendingKinds(c).map((p) => el('span', {
      class: `tag-pending tag-pending-${p.kind === 'suspension' ? 'suspension' : 'extension'}`,
      text: `${p.label}待审批`,
      dataset: { pending: p.kind },
    }));
  }

  // ---------------------------------------------------------------------
  // Errors and the session (cookie + CSRF)
  // ---------------------------------------------------------------------

  /** A non-2xx answer; error bodies are {"error", "message" (Chinese), "fields", "details"}. */
  class HttpError extends Error {
    constructor(status, body) {
      const b = isObj(body) ? body : {};
      super(`HTTP ${status}`);
      this.status = status;
      this.code = s(b.error);
      this.serverMessage = s(b.message) || (typeof b.detail === 'string' ? b.detail : '');
      this.details = isObj(b.details) ? b.details : {};
      this.fields = fieldNames(b.fields);
      // field -> the server's reason (422: [{field, reason}]), for forms that show it beside the field
      this.fieldReasons = new Map();
      if (Array.isArray(b.fields)) {
        for (const f of b.fields) if (isObj(f) && s(f.field)) this.fieldReasons.set(s(f.field), s(f.reason));
      }
      if (!this.fields.size && Array.isArray(b.detail)) {
        // FastAPI's own validation shape: [{loc: ["body", "note"], msg}]
        for (const f of b.detail) if (isObj(f) && Array.isArray(f.loc)) f.loc.forEach((p) => typeof p === 'string' && this.fields.add(p));
      }
    }
  }

  /** Thrown after a 401: the page is on its way to /login and callers just stop. */
  class SignedOut extends Error {}

  function fieldNames(fields) {
    const out = new Set();
    if (!Array.isArray(fields)) return out;
    for (const f of fields) {
      if (typeof f === 'string') out.add(f);
      else if (isObj(f)) {
        if (typeof f.field === 'string') out.add(f.field);
        if (typeof f.name === 'string') out.add(f.name);
        if (Array.isArray(f.loc)) for (const part of f.loc) if (typeof part === 'string') out.add(part);
      }
    }
    return out;
  }

  function describeError(err) {
    if (err instanceof HttpError) return err.serverMessage || `服务器返回 ${err.status}`;
    return '网络异常';
  }

  const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

  /**
   * The signed-in session of a page: every API call goes through `api()` (same-origin cookie,
   * JSON, the CSRF header on state-changing calls, a 401 sends the page to /login).
   * `form` (FormData) sends multipart instead of JSON (photo uploads), with the CSRF header too.
   */
  function createSession({ onMe, onLeave } = {}) {
    const auth = { me: null, csrf: null, permissions: null, mePromise: null, redirecting: false };

    function loginUrl() {
      return `/login?next=${encodeURIComponent(location.pathname + location.search + location.hash)}`;
    }

    function leave(url) {
      if (auth.redirecting) return;
      auth.redirecting = true;
      if (onLeave) onLeave();
      location.replace(url);
    }

    async function api(url, { method = 'GET', body, form, on401 = 'redirect', retried = false } = {}) {
      if (auth.redirecting) throw new SignedOut();
      const unsafe = UNSAFE.has(method);
      const headers = { Accept: 'application/json' };
      if (unsafe) {
        if (!form) headers['Content-Type'] = 'application/json';
        const token = await csrfToken();
        if (token) headers['X-CSRF-Token'] = token;
      }
      const res = await fetch(url, {
        method,
        headers,
        credentials: 'same-origin',
        cache: 'no-store',
        body: form || (unsafe ? JSON.stringify(body === undefined ? {} : body) : undefined),
      });
      if (res.status === 401 && on401 === 'redirect') {
        leave(loginUrl());
        throw new SignedOut();
      }
      if (!res.ok) {
        let data = null;
        try {
          data = await res.json();
        } catch (_) {
          data = null;
        }
        const err = new HttpError(res.status, data);
        if (unsafe && !retried && res.status === 403 && err.code === 'csrf_failed') {
          auth.csrf = null;
          await loadMe();
          return api(url, { method, body, form, on401, retried: true });
        }
        throw err;
      }
      if (res.status === 204) return null;
      const text = await res.text();
      return text ? JSON.parse(text) : null;
    }

    async function csrfToken() {
      if (auth.csrf) return auth.csrf;
      try {
        await loadMe();
      } catch (err) {
        if (err instanceof SignedOut) throw err;
      }
      return auth.csrf;
    }

    function loadMe() {
      if (!auth.mePromise) {
        auth.mePromise = api('/api/v1/auth/me')
          .then((me) => {
            const m = isObj(me) ? me : {};
            auth.me = m;
            if (s(m.csrf_token)) auth.csrf = s(m.csrf_token);
            auth.permissions = Array.isArray(m.permissions)
              ? new Set(m.permissions.filter((p) => typeof p === 'string'))
              : null;
            if (onMe) onMe(m);
            return m;
          })
          .finally(() => {
            auth.mePromise = null;
          });
      }
      return auth.mePromise;
    }

    /** Sign out from a button; on failure say so (a shared terminal must not stay signed in). */
    async function logout(btn, onFail) {
      if (btn.disabled) return;
      btn.disabled = true;
      const label = btn.textContent;
      btn.textContent = '正在退出…';
      try {
        await api('/api/v1/auth/logout', { method: 'POST', body: {}, on401: 'throw' });
      } catch (err) {
        if (err instanceof SignedOut) return;
        if (!(err instanceof HttpError && err.status === 401)) {
          if (onFail) onFail(`退出登录失败：${describeError(err)}，请重试。`);
          btn.disabled = false;
          btn.textContent = label;
          return;
        }
      }
      leave('/login');
    }

    return {
      api,
      loadMe,
      leave,
      logout,
      loginUrl,
      get me() {
        return auth.me;
      },
      get user() {
        return auth.me && isObj(auth.me.user) ? auth.me.user : null;
      },
      get permissions() {
        return auth.permissions;
      },
      get redirecting() {
        return auth.redirecting;
      },
    };
  }

  /** "王敏 · 指挥中心操作员 · 区网格化管理指挥中心" into the header's who-am-I box. */
  function renderWhoami(me, box, wrap) {
    const u = isObj(me) && isObj(me.user) ? me.user : null;
    if (!u) {
      box.replaceChildren();
      if (wrap) wrap.hidden = true;
      return;
    }
    const name = s(u.display_name) || s(u.username) || '—';
    const rest = [s(u.role_label), s(u.unit)].filter(Boolean);
    box.replaceChildren(
      el('b', { class: 'whoami-name', text: name }),
      rest.length ? el('span', { class: 'whoami-rest', text: ` · ${rest.join(' · ')}` }) : null,
    );
    const expires = parseTime(me.expires_at);
    if (wrap) {
      wrap.title = [
        `当前登录：${box.textContent}`,
        s(u.username) ? `用户名：${s(u.username)}` : '',
        Number.isNaN(expires) ? '' : `登录有效期至 ${fmtFull(expires)}`,
      ].filter(Boolean).join('\n');
      wrap.hidden = false;
    }
  }

  /** Which page a role works on: department staff the workbench, grid workers the check page. */
  function homeOf(role) {
    if (role === 'department') return '/workbench';
    if (role === 'grid_worker') return '/check';
    return '/';
  }

  // ---------------------------------------------------------------------
  // Case parts: timeline, photos, pending requests, assisting departments
  // ---------------------------------------------------------------------

  /** Event payload as an object (tolerates a JSON-encoded string). */
  function payloadOf(ev) {
    let p = ev.payload;
    if (typeof p === 'string') {
      try {
        p = JSON.parse(p);
      } catch (_) {
        p = null;
      }
    }
    return isObj(p) ? p : {};
  }

  /** "2wh" → "2个工作小时" (the categories' and the matrix's time limits). */
  function limitText(v) {
    const m = /^(\d+)(m|h|wh|wd)$/.exec(s(v));
    if (!m) return s(v);
    const unit = { m: '分钟', h: '小时', wh: '个工作小时', wd: '个工作日' }[m[2]];
    return `${m[1]}${unit}`;
  }

  /** What the responsibility matrix decided at a (re)dispatch: who works it first, which rule, limits, assists. */
  function routeBits(p) {
    const rule = s(p.matrix_rule);
    const assists = Array.isArray(p.assist_departments) ? p.assist_departments.map(s).filter(Boolean) : [];
    const limits = [
      s(p.sign_limit) ? `签收 ${limitText(p.sign_limit)}` : '',
      s(p.handle_limit) ? `办理 ${limitText(p.handle_limit)}` : '',
    ].filter(Boolean).join('、');
    return [
      s(p.handler_level) && s(p.handler_label) ? `由${s(p.handler_label)}` : '',
      rule ? `依据：${rule === '类别默认' ? '类别默认规则' : `${rule}责任规则`}` : '',
      limits ? `时限：${limits}` : '',
      assists.length ? `协办：${assists.join('、')}` : '',
    ];
  }

  const EVENT_SUMMARY = {
    'case.reported': (p) => (s(p.channel_label) ? `经${s(p.channel_label)}上报` : ''),
    'case.triaged': (p) => [s(p.reason_label) || s(p.reason), s(p.note)].filter(Boolean).join('；'),
    'case.dispatched': (p) => [
      s(p.category_name) ? `类别：${s(p.category_name)}` : '',
      s(p.department_name) ? `派往 ${s(p.department_name)}` : '',
      ...routeBits(p),
      s(p.note),
    ].filter(Boolean).join('；'),
    'case.redispatched': (p) => [
      s(p.department_name) ? `改派至 ${s(p.department_name)}` : '',
      ...routeBits(p),
      s(p.note) || s(p.reason) ? `原因：${s(p.note) || s(p.reason)}` : '',
    ].filter(Boolean).join('；'),
    'case.handed_over': (p) => [
      s(p.department_name) ? `转交 ${s(p.department_name)}` : '',
      s(p.note) || s(p.reason) ? `无法就地解决的原因：${s(p.note) || s(p.reason)}` : '',
    ].filter(Boolean).join('；'),
    'case.bounce_flagged': (p) => {
      const tried = Array.isArray(p.departments_tried) ? p.departments_tried.map(s).filter(Boolean) : [];
      return [
        (s(p.reason_label) || '').replace(/^推诿预警[：:]\s*/, ''),
        tried.length ? `经手部门：${tried.join(' → ')}` : '',
        s(p.coordinator_department_name) ? `首接部门 ${s(p.coordinator_department_name)} 负责协调` : '',
        s(p.to_level_label) ? `提级至${s(p.to_level_label)}督办` : '',
      ].filter(Boolean).join('；');
    },
    'case.escalated': (p) => [
      `${s(p.from_level_label) || '—'} → ${s(p.to_level_label) || '—'}`,
      Number.isFinite(p.step) && Number.isFinite(p.steps) ? `第${p.step}/${p.steps}级` : '',
      s(p.supervisor) ? `由${s(p.supervisor)}督办` : '',
      s(p.notify) ? `通知${s(p.notify)}` : '',
      Number.isNaN(parseTime(p.due_at)) ? '' : `下一级 ${fmtMinute(p.due_at)}`,
    ].filter(Boolean).join('；'),
    'case.overdue': (p) => `${phaseLabel(p)}超时${s(p.level_label) ? `（${s(p.level_label)}级）` : ''}`,
    'case.sla_started': (p) => [
      s(p.phase) ? `${phaseLabel(p)}开始计时` : '',
      s(p.limit) ? `时限${limitText(p.limit)}` : '',
      Number.isNaN(parseTime(p.due_at)) ? '' : `至 ${fmtMinute(p.due_at)}`,
      p.provisional === true ? '暂估' : '',
    ].filter(Boolean).join('，'),
    'case.deadline_warning': (p) => [
      `${phaseLabel(p)}临期`,
      Number.isFinite(p.elapsed_ratio) ? `已用时 ${Math.round(p.elapsed_ratio * 100)}%` : '',
      Number.isNaN(parseTime(p.due_at)) ? '' : `时限 ${fmtMinute(p.due_at)}`,
    ].filter(Boolean).join('，'),
    'case.supervision_ordered': (p) => [
      s(p.issuer_label) ? `${s(p.issuer_label)}督办` : '',
      s(p.reason) ? `事由：${s(p.reason)}` : '',
      Number.isNaN(parseTime(p.reply_due_at))
        ? '' : `请${s(p.department_name) || '承办部门'}于 ${fmtMinute(p.reply_due_at)} 前回复`,
    ].filter(Boolean).join('；'),
    'case.supervision_replied': (p) => (s(p.reply) ? `回复：${s(p.reply)}` : ''),
    'case.supervision_overdue': (p) => [
      s(p.issuer_label) ? `${s(p.issuer_label)}的督办单` : '督办单',
      Number.isNaN(parseTime(p.reply_due_at)) ? '超期未回复' : `超过 ${fmtMinute(p.reply_due_at)} 仍未回复`,
    ].join(''),
    'case.returned': (p) => (s(p.note) || s(p.reason) ? `退回原因：${s(p.note) || s(p.reason)}` : ''),
    'case.suspended': (p) => (s(p.note) || s(p.reason) ? `挂起原因：${s(p.note) || s(p.reason)}` : ''),
    'case.resolved': (p) => (s(p.note) || s(p.result) ? `办理结果：${s(p.note) || s(p.result)}` : ''),
    'case.reworked': (p) => (s(p.note) || s(p.reason) ? `不通过原因：${s(p.note) || s(p.reason)}` : ''),
    'case.closed': (p) => s(p.note) || s(p.result),
    'case.rejected': (p) => (s(p.note) || s(p.reason) ? `原因：${s(p.note) || s(p.reason)}` : ''),
    'case.marked_duplicate': (p) => {
      const no = s(p.original_case_no) || s(p.duplicate_of_case_no) || s(p.original_case_id) || s(p.duplicate_of);
      return [no ? `并入案件 ${no}` : '', s(p.note)].filter(Boolean).join('；');
    },
    'notification.delivered': (p) => (s(p.target) ? `已推送至 ${s(p.target)}` : ''),
    'notification.failed': (p) => {
      const who = s(p.target) ? `推送至 ${s(p.target)} 失败` : '推送失败';
      return s(p.error) ? `${who}（${s(p.error)}）` : who;
    },
  };
  const SUMMARY_KEYS = ['summary', 'note', 'reason_label', 'reason', 'result', 'comment'];

  function eventSummary(ev) {
    const p = payloadOf(ev);
    const fn = EVENT_SUMMARY[s(ev.type)];
    let text = '';
    try {
      text = fn ? fn(p) : '';
    } catch (_) {
      text = '';
    }
    if (!text) {
      for (const k of SUMMARY_KEYS) {
        if (s(p[k])) {
          text = s(p[k]);
          break;
        }
      }
    }
    // Extension requests and answers carry the deadline asked for / granted.
    const due = s(p.requested_due_at) || s(p.to_due_at) || s(p.new_due_at) ||
      (s(ev.type).includes('extension') ? s(p.due_at) : '');
    if (due && !Number.isNaN(parseTime(due))) {
      const by = s(p.extended_by_label);
      const dueText = `延期至 ${fmtMinute(due)}${by ? `（延长 ${by}）` : ''}`;
      text = text ? `${dueText}；${text}` : dueText;
    }
    const missing = s(p.missing_assists_reason);
    if (missing) text = text ? `${text}；协办未反馈原因：${missing}` : `协办未反馈原因：${missing}`;
    return text;
  }

  function eventKind(type) {
    if (type.startsWith('notification.')) return type.endsWith('failed') ? 'bad' : 'info';
    if (type === 'case.bounce_flagged') return 'bad';
    if (type === 'case.handed_over') return 'warn';
    if (type === 'case.supervision_overdue') return 'bad';
    if (/escalated|returned|reworked|overdue|refused|rejected|deadline_warning|supervision_ordered/.test(type)) return 'warn';
    if (type === 'case.closed' || type === 'case.resolved' || type === 'case.supervision_replied') return 'good';
    return 'std';
  }

  /** The timeline, oldest first; each event with its photos (matched by event_id). */
  function timeline(events, { photos = [], newIds = null, hideNotifications = false } = {}) {
    let list = objects(events);
    if (hideNotifications) list = list.filter((e) => !s(e.type).startsWith('notification.'));
    if (!list.length) return el('div', { class: 'panel-empty', text: '暂无处置记录' });
    list.sort((a, b) => {
      const sa = Number(a.seq), sb = Number(b.seq);
      if (Number.isFinite(sa) && Number.isFinite(sb) && sa !== sb) return sa - sb;
      return parseTime(a.occurred_at) - parseTime(b.occurred_at);
    });
    const byEvent = new Map();
    for (const p of objects(photos)) {
      const id = s(p.event_id);
      if (!id) continue;
      if (!byEvent.has(id)) byEvent.set(id, []);
      byEvent.get(id).push(p);
    }
    return el('ol', { class: 'timeline' }, list.map((e) => {
      const summary = eventSummary(e);
      const type = s(e.type);
      const id = s(e.event_id) || String(e.seq);
      const shots = byEvent.get(s(e.event_id)) || [];
      return el('li', {
        class: `tl-item tl-${eventKind(type)}${newIds && newIds.has(id) ? ' flash' : ''}`,
        dataset: { eventType: type, eventId: s(e.event_id) },
      }, [
        el('div', { class: 'tl-time mono', text: fmtTime(e.occurred_at), title: fmtFull(e.occurred_at) }),
        el('div', { class: 'tl-main' }, [
          el('div', { class: 'tl-head' }, [
            el('span', { class: 'tl-type', text: s(e.type_label) || type || '事件' }),
            s(e.actor_label) ? el('span', { class: 'tl-actor', text: s(e.actor_label) }) : null,
          ]),
          summary ? el('div', { class: 'tl-summary', text: summary, title: summary }) : null,
          shots.length ? photoGrid(shots, { small: true }) : null,
        ]),
      ]);
    }));
  }

  /** Same-origin photo address only (never a javascript: or another site's URL). */
  function photoUrl(p) {
    const url = s(p.url);
    if (url.startsWith('/') && !url.startsWith('//') && !url.startsWith('/\\')) return url;
    const id = s(p.photo_id);
    return id ? `/api/v1/photos/${encodeURIComponent(id)}` : '';
  }

  /** Thumbnails, each a link to the full photo (opens in a new tab). */
  function photoGrid(photos, { small = false } = {}) {
    const list = objects(photos).filter((p) => photoUrl(p));
    if (!list.length) return el('div', { class: 'panel-empty', text: '暂无照片' });
    return el('ul', { class: `photos${small ? ' photos-small' : ''}` }, list.map((p) => {
      const url = photoUrl(p);
      const caption = [s(p.kind_label), s(p.uploaded_by_label)].filter(Boolean).join(' · ');
      return el('li', { class: 'photo' }, [
        el('a', {
          class: 'photo-link',
          attrs: { href: url, target: '_blank', rel: 'noopener', 'data-photo-id': s(p.photo_id) },
          title: [caption, fmtFull(p.created_at)].filter(Boolean).join('\n'),
        }, [
          el('img', { attrs: { src: url, alt: caption || '照片', loading: 'lazy', decoding: 'async' } }),
        ]),
        small ? null : el('span', { class: 'photo-cap', text: s(p.kind_label) || '照片' }),
      ]);
    }));
  }

  /** Requests waiting for the command centre's answer (extension, suspension). */
  function pendingBox(list) {
    const rows = objects(list);
    if (!rows.length) return null;
    return el('div', { class: 'pending', attrs: { id: 'pending-requests', role: 'status' } }, rows.map((r) => {
      const kind = s(r.kind);
      const label = s(r.kind_label) || REQUEST_KIND_LABEL[kind] || '申请';
      const bits = [];
      if (s(r.requested_due_at)) bits.push(`申请延期至 ${fmtMinute(r.requested_due_at)}`);
      if (s(r.reason)) bits.push(`理由：${s(r.reason)}`);
      const who = [s(r.requested_by_label), fmtTime(r.requested_at) === '—' ? '' : fmtTime(r.requested_at)]
        .filter(Boolean).join(' · ');
      return el('div', { class: `pending-item pending-${kind === 'suspension' ? 'suspension' : 'extension'}`, dataset: { pending: kind } }, [
        el('div', { class: 'pending-head' }, [
          el('span', { class: 'pending-label', text: `${label} · 待指挥中心审批` }),
          who ? el('span', { class: 'pending-who', text: who }) : null,
        ]),
        bits.length ? el('div', { class: 'pending-body', text: bits.join('；') }) : null,
      ]);
    }));
  }

  /** Assisting departments and their parts. */
  function assistList(list) {
    const rows = objects(list);
    if (!rows.length) return null;
    return el('ul', { class: 'assists', attrs: { id: 'assists' } }, rows.map((a) => {
      const reported = s(a.status) === 'reported';
      return el('li', { class: `assist assist-${reported ? 'reported' : 'pending'}`, dataset: { department: s(a.department_code) } }, [
        el('div', { class: 'assist-head' }, [
          el('span', { class: 'assist-dept', text: s(a.department_name) || orDash(a.department_code) }),
          el('span', { class: `assist-status assist-status-${reported ? 'ok' : 'wait'}`, text: s(a.status_label) || (reported ? '已反馈' : '待反馈') }),
          reported && s(a.reported_at) ? el('span', { class: 'assist-time mono', text: fmtTime(a.reported_at) }) : null,
        ]),
        s(a.note) ? el('div', { class: 'assist-note', text: s(a.note) }) : null,
      ]);
    }));
  }

  /** The department's latest result text (the newest case.resolved event's note). */
  function latestResult(d) {
    const events = objects(d && d.events).filter((e) => s(e.type) === 'case.resolved');
    if (!events.length) return null;
    events.sort((a, b) => (Number(b.seq) || 0) - (Number(a.seq) || 0));
    const e = events[0];
    const p = payloadOf(e);
    return { event: e, note: s(p.note) || s(p.result), actor: s(e.actor_label), at: e.occurred_at };
  }

  function fieldList(fields) {
    return el('dl', { class: 'fields' }, fields.filter(Boolean).flatMap(([k, v, extra]) => [
      el('dt', { text: k }),
      el('dd', {}, [v, extra ? el('span', { class: 'field-extra', text: extra }) : null]),
    ]));
  }

  // ---------------------------------------------------------------------
  // 小事不出网格 (the grid or community first) and 踢皮球 (anti-bounce)
  // ---------------------------------------------------------------------

  const LOCAL_LEVELS = { grid: '网格', community: '社区' };
  const LOCAL_ACTIVE = new Set(['dispatched', 'signed']);

  /** Still with the grid worker or the community (not handed over to the department yet). */
  function atLocalStage(c) {
    return isObj(c) && Object.prototype.hasOwnProperty.call(LOCAL_LEVELS, s(c.handler_level)) && LOCAL_ACTIVE.has(s(c.status));
  }

  /** "网格先行" / "社区先行" in a queue line, for a case at the grid or community stage. */
  function stageTag(c) {
    if (!atLocalStage(c)) return null;
    return el('span', {
      class: `tag-stage tag-stage-${s(c.handler_level)}`,
      text: `${LOCAL_LEVELS[s(c.handler_level)]}先行`,
      title: `当前处置：${s(c.handler_label) || LOCAL_LEVELS[s(c.handler_level)]}`,
      dataset: { stage: s(c.handler_level) },
    });
  }

  /** The red "推诿" badge of a flagged case. */
  function bounceTag(c) {
    if (!isObj(c) || c.bounced !== true) return null;
    return el('span', {
      class: 'tag-bounce',
      text: '推诿',
      title: [s(c.bounce_label) || '推诿预警', s(c.coordinator_department_name) ? `首接部门：${s(c.coordinator_department_name)}` : '']
        .filter(Boolean).join('\n'),
      dataset: { bounced: 'true' },
    });
  }

  /**
   * The red banner of a flagged case: why, who coordinates (the first department: 首接负责), and the
   * level that now supervises it. `mine`: the viewer is the coordinating department.
   */
  function bounceBanner(c, { id = 'bounce-banner', mine = false } = {}) {
    if (!isObj(c) || c.bounced !== true) return null;
    const coord = s(c.coordinator_department_name);
    const level = s(c.level_label);
    return el('div', { class: 'bounce-banner', attrs: { id, role: 'status' } }, [
      el('div', { class: 'bounce-title', text: s(c.bounce_label) || '推诿预警' }),
      el('div', { class: 'bounce-lines' }, [
        coord ? el('span', { class: 'bounce-line', dataset: { part: 'coordinator' }, text: `首接部门：${coord} 负责协调` }) : null,
        level ? el('span', { class: 'bounce-line', dataset: { part: 'level' }, text: `已提级至${level}督办` }) : null,
        Number.isFinite(c.return_count) && c.return_count > 0
          ? el('span', { class: 'bounce-line', text: `已退回 ${c.return_count} 次` }) : null,
      ]),
      mine ? el('div', { class: 'bounce-mine', text: '本部门为首接部门，请牵头协调相关部门，不得再推诿。' }) : null,
    ]);
  }

  /**
   * The "当前处置" field: who works the case now, when that is not the department shown beside it
   * (the grid or community first). Null otherwise.
   */
  function handlerField(c, { id = null } = {}) {
    if (!isObj(c)) return null;
    const label = s(c.handler_label);
    if (!label || (!s(c.handler_level) && label === s(c.department_name))) return null;
    return ['当前处置', el('span', {
      class: `handler-now${atLocalStage(c) ? ' handler-local' : ''}`,
      text: label,
      attrs: { id },
    }), atLocalStage(c) ? '无法就地解决时转交责任部门' : null];
  }

  /** Header links for staff (责任矩阵): shown once signed in with the right to read reference data. */
  function showStaffLinks(session) {
    const perms = session && session.permissions;
    const ok = !!(session && session.user) && (!perms || perms.has('reference.read'));
    for (const a of document.querySelectorAll('[data-staff-link]')) a.hidden = !ok;
  }

  /**
   * The case list's address (GET /api/v1/cases) for filters the server applies: statuses (each sent
   * as its own `status`), overdue, dueSoon (with overdue: either), bounced (推诿预警 only), category,
   * grid (any area code), department, channel, from / to (YYYY-MM-DD, Beijing days, both included),
   * q (digits: a case number or how it begins; text: description and address), cursor (next_cursor
   * of the page before) and limit. Empty values are left out.
   */
  function casesUrl({
    statuses = [], overdue = false, dueSoon = false, bounced = false, category = '', grid = '', department = '',
    channel = '', from = '', to = '', q = '', cursor = null, limit = null,
  } = {}) {
    const p = new URLSearchParams();
    if (limit != null) p.set('limit', String(limit));
    for (const st of statuses) if (s(st)) p.append('status', s(st));
    if (overdue) p.set('overdue', 'true');
    if (dueSoon) p.set('due_soon', 'true');
    if (bounced) p.set('bounced', 'true');
    if (category) p.set('category_code', category);
    if (grid) p.set('grid_code', grid);
    if (department) p.set('department_code', department);
    if (channel) p.set('channel', channel);
    if (from) p.set('from', from);
    if (to) p.set('to', to);
    if (q) p.set('q', q);
    if (cursor) p.set('cursor', cursor);
    const query = p.toString();
    return query ? `/api/v1/cases?${query}` : '/api/v1/cases';
  }

  function caseIdFromHash() {
    const m = /^#case=([^&]+)/.exec(location.hash);
    if (!m) return null;
    try {
      return decodeURIComponent(m[1]);
    } catch (_) {
      return null;
    }
  }

  // ---------------------------------------------------------------------
  // How a case came in: 上级交办, the app's GPS accuracy, 四必报, the hotline's callback, attachments
  // kept by reference, and a 并案 candidate found at routing
  // ---------------------------------------------------------------------

  const CHANNEL_NAMES = { wechat: '微信', hotline: '12345热线', app: '网格员App', open311: 'Open311', operator: '指挥中心', superior: '上级' };
  const ATTACHMENT_KINDS = { image: '图片', voice: '语音', video: '视频', file: '文件' };

  const intakeOf = (d) => (isObj(d) && isObj(d.intake_details) ? d.intake_details : {});

  /** A link that opens a case ({case_id, case_no}) on the same page (#case=…). */
  function caseLink(ref, { id = null } = {}) {
    const caseId = isObj(ref) ? s(ref.case_id) : '';
    return el('a', {
      class: 'case-link mono',
      text: orDash(isObj(ref) ? ref.case_no || ref.case_id : ''),
      attrs: { href: caseId ? `#case=${encodeURIComponent(caseId)}` : null, id, 'data-case-id': caseId || null },
    });
  }

  /** "8.5" → "9" (at least 1): GPS accuracy to show as "约N米". */
  function fmtMeters(v) {
    return String(Math.max(1, Math.round(v)));
  }

  /** Tags from how the case came in: 四必报 (must report), 需回访 (the caller wants a call back). */
  function intakeTags(d) {
    const x = intakeOf(d);
    return [
      x.must_report === true ? el('span', {
        class: 'tag-intake tag-must',
        text: '四必报',
        title: '四必报事项：至少按紧急办理，须现场核查并附照片后方可结案',
        dataset: { intake: 'must_report' },
      }) : null,
      x.callback_wanted === true ? el('span', {
        class: 'tag-intake tag-callback',
        text: '需回访',
        title: '来电人要求办结后回访',
        dataset: { intake: 'callback_wanted' },
      }) : null,
    ].filter(Boolean);
  }

  /** Field rows (for fieldList) from how the case came in: the GPS accuracy, the hotline call's time. */
  function intakeFields(d, { idPrefix = '' } = {}) {
    const x = intakeOf(d);
    const rows = [];
    if (typeof x.gps_accuracy_m === 'number' && Number.isFinite(x.gps_accuracy_m)) {
      rows.push(['定位精度', el('span', {
        class: 'gps-accuracy',
        text: `约${fmtMeters(x.gps_accuracy_m)}米`,
        attrs: { id: idPrefix ? `${idPrefix}gps-accuracy` : null },
      }), '网格员手机定位']);
    }
    if (!Number.isNaN(parseTime(x.called_at))) rows.push(['来电时间', fmtMinute(x.called_at)]);
    return rows;
  }

  /** The 上级交办 box: who handed the task down, its document number, by when, what they require. */
  function handedDownBox(d, { id = 'handed-down' } = {}) {
    const h = intakeOf(d).handed_down;
    if (!isObj(h)) return null;
    const due = parseTime(h.deadline);
    let dueExtra = null;
    if (!Number.isNaN(due) && !CLOCK_STOPPED.has(s(d.status))) {
      const now = serverNow();
      dueExtra = now >= due ? `已超过交办时限 ${fmtDuration(now - due)}` : `剩余 ${fmtDuration(due - now)}`;
    }
    return el('section', { class: 'handed-down', attrs: { id, 'aria-label': '上级交办' } }, [
      el('div', { class: 'handed-down-title', text: '上级交办' }),
      fieldList([
        ['交办单位', el('span', { text: orDash(h.from_unit), dataset: { part: 'from_unit' } })],
        ['文号', el('span', { class: 'mono', text: orDash(h.document_no), dataset: { part: 'document_no' } })],
        ['要求办结时间', el('span', {
          class: !Number.isNaN(due) && dueExtra && dueExtra.startsWith('已超') ? 'handed-down-late' : '',
          text: Number.isNaN(due) ? '未规定' : fmtMinute(due),
          dataset: { part: 'deadline' },
        }), dueExtra],
        s(h.requirements) ? ['交办要求', el('span', { class: 'handed-down-req', text: s(h.requirements), dataset: { part: 'requirements' } })] : null,
      ]),
    ]);
  }

  /** What a channel sent that is kept by reference (a WeChat photo stays on WeChat's servers). */
  function attachmentList(d, { id = 'attachments' } = {}) {
    const rows = objects(d && d.attachments);
    if (!rows.length) return null;
    return el('ul', { class: 'attachments', attrs: { id } }, rows.map((a) => {
      const channel = s(a.channel);
      const from = CHANNEL_NAMES[channel] || '';
      const kind = s(a.kind_label) || ATTACHMENT_KINDS[s(a.kind)] || '附件';
      const where = channel === 'wechat' ? '存于微信服务器' : from ? `存于${from}系统` : '';
      return el('li', { class: `attachment attachment-${ATTACHMENT_KINDS[s(a.kind)] ? s(a.kind) : 'file'}`, dataset: { kind: s(a.kind) } }, [
        el('span', { class: 'attachment-name', text: `${from}${kind}` }),
        where ? el('span', { class: 'attachment-where', text: `（${where}）` }) : null,
        el('span', { class: 'attachment-time mono', text: fmtTime(a.created_at), title: fmtFull(a.created_at) }),
      ]);
    }));
  }

  /**
   * The yellow notice of a 并案 candidate found at routing: "疑似重复：与案件 … 相近", a link that opens
   * it, and, for who may act on it, what to do (并案 with it, or 派遣 to keep them apart). `onMerge`:
   * a button that opens the 并案 form (pre-filled with that case).
   */
  function likelyDuplicateNotice(d, { id = 'likely-duplicate', onMerge = null } = {}) {
    const ref = isObj(d) && isObj(d.likely_duplicate_of) ? d.likely_duplicate_of : null;
    if (!ref || !s(ref.case_id)) return null;
    const acts = isObj(d.viewer) && Array.isArray(d.viewer.actions) ? d.viewer.actions : [];
    const canMerge = acts.includes('mark_duplicate');
    const canDispatch = acts.includes('dispatch');
    const hint = [
      canMerge ? '确属同一问题的，请“并案”（已预填该案件）' : '',
      canDispatch ? '不是同一问题的，请“派遣”分开办理' : '',
    ].filter(Boolean).join('；');
    return el('div', { class: 'likely-dup', attrs: { id, role: 'status' } }, [
      el('div', { class: 'likely-dup-title' }, [
        '疑似重复：与案件 ', caseLink(ref, { id: `${id}-link` }), ' 相近',
      ]),
      hint ? el('div', { class: 'likely-dup-hint', text: `${hint}。` }) : null,
      canMerge && onMerge ? el('button', {
        class: 'btn btn-plain likely-dup-merge',
        text: '并案到该案件…',
        attrs: { type: 'button', id: `${id}-merge` },
        on: { click: onMerge },
      }) : null,
    ]);
  }

  // ---------------------------------------------------------------------
  // 办理时限: each phase's clock (签收, 处置, 核查) on the case page, and the calendar's warning
  // ---------------------------------------------------------------------

  const PHASE_LABELS = { sign: '签收', handle: '处置', check: '核查' };
  const CLOCK_STATE_LABELS = { running: '计时中', paused: '已暂停', done: '已完成', stopped: '已停止' };
  const LIGHT_LABELS = { green: '正常', yellow: '临期', red: '超时' };
  const PROVISIONAL_TIP = '涉及未确认节假日安排的年份，时限按周末与固定节日暂估';
  const DEFAULT_WORKDAY_MINUTES = 450; // 08:30-12:00,13:30-17:30
  let workdayMinutes = DEFAULT_WORKDAY_MINUTES;

  const phaseLabel = (p) => s(p.phase_label) || PHASE_LABELS[s(p.phase)] || '';

  /** The minutes of a working day from office hours ("08:30-12:00,13:30-17:30" → 450); null if unreadable. */
  function officeDayMinutes(text) {
    let total = 0;
    for (const part of s(text).split(',')) {
      const m = /^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/.exec(part);
      if (!m) return null;
      total += Number(m[3]) * 60 + Number(m[4]) - (Number(m[1]) * 60 + Number(m[2]));
    }
    return total > 0 ? total : null;
  }

  /** The office hours the deadlines count (GET /api/v1/calendar/status): a working day's length. */
  function setOfficeHours(text) {
    workdayMinutes = officeDayMinutes(text) || workdayMinutes;
  }

  /** 7.5, 2, 0.3: at most one decimal. */
  const oneDecimal = (v) => String(Math.round(v * 10) / 10);

  /**
   * Minutes as people say them. Working time: "40分钟", "2.5工作小时", "1个工作日（7.5工作小时）"
   * ("1个工作日，7.5工作小时" with `inner`, for inside brackets); calendar time: "30分钟", "2小时30分",
   * "1天3小时". `dayMinutes`: a working day (office hours).
   */
  function minutesText(minutes, working, dayMinutes = workdayMinutes, { inner = false } = {}) {
    const m = Math.max(0, Number(minutes) || 0);
    if (!working) return fmtDuration(m * 60000);
    if (m < 60) return `${Math.round(m)}分钟`;
    if (m < dayMinutes) return `${oneDecimal(m / 60)}工作小时`;
    const days = oneDecimal(m / dayMinutes);
    const hours = oneDecimal(m / 60);
    return inner ? `${days}个工作日，${hours}工作小时` : `${days}个工作日（${hours}工作小时）`;
  }

  /** "已用 0.6/共 2 工作小时" (calendar limits: 分钟, 小时 or 天, by the limit's size). */
  function clockUsedText(c, dayMinutes = workdayMinutes) {
    const used = Math.max(0, Number(c.elapsed_minutes) || 0);
    const total = Math.max(0, (Number(c.limit_minutes) || 0) + (Number(c.extended_minutes) || 0));
    if (c.working_time === true) {
      const days = total >= dayMinutes ? `（${oneDecimal(total / dayMinutes)}个工作日）` : '';
      return `已用 ${oneDecimal(used / 60)}/共 ${oneDecimal(total / 60)} 工作小时${days}`;
    }
    if (total < 120) return `已用 ${Math.round(used)}/共 ${Math.round(total)} 分钟`;
    if (total < 2880) return `已用 ${oneDecimal(used / 60)}/共 ${oneDecimal(total / 60)} 小时`;
    return `已用 ${oneDecimal(used / 1440)}/共 ${oneDecimal(total / 1440)} 天`;
  }

  /** One entry of a clock's history, in Chinese: "暂停（已用1.5工作小时）". */
  function clockHistoryText(h, working, dayMinutes) {
    const mins = (v) => minutesText(v, working, dayMinutes, { inner: true });
    const limit = s(h.limit) ? `（时限${limitText(h.limit)}）` : '';
    switch (s(h.what)) {
      case 'started': return `开始计时${limit}`;
      case 'restarted': return `重新计时${limit}`;
      case 'paused': return Number.isFinite(h.used_minutes) ? `暂停（已用${mins(h.used_minutes)}）` : '暂停';
      case 'resumed': return Number.isFinite(h.left_minutes) ? `恢复（剩余${mins(h.left_minutes)}）` : '恢复';
      case 'extended': {
        const to = Number.isNaN(parseTime(h.to)) ? '' : `至 ${fmtTime(h.to)}`;
        const by = Number.isFinite(h.minutes) && h.minutes > 0 ? `（延长${mins(h.minutes)}）` : '';
        return `延期${to}${by}`;
      }
      case 'done': return Number.isFinite(h.used_minutes) ? `完成（共用${mins(h.used_minutes)}）` : '完成';
      case 'stopped': return Number.isFinite(h.used_minutes) ? `停止（已用${mins(h.used_minutes)}）` : '停止';
      case 'exhausted': return '阶梯已到顶';
      default: return s(h.what) || '—';
    }
  }

  // Which clocks' histories are unfolded ("caseId:phase"): they stay so across the page's refreshes.
  const openClockHistories = new Set();

  function clockRow(c, caseId, idPrefix) {
    const phase = s(c.phase);
    const state = s(c.state);
    const working = c.working_time === true;
    const dayMinutes = officeDayMinutes(c.office_hours) || workdayMinutes;
    const light = Object.prototype.hasOwnProperty.call(LIGHT_LABELS, s(c.light)) ? s(c.light) : '';
    const tone = light || (state === 'done' ? 'done' : 'stopped');
    const ratio = Math.max(0, Number(c.elapsed_ratio) || 0);
    const pct = Math.round(ratio * 100);
    const label = phaseLabel(c) || phase || '时限';
    let when = null;
    if (state === 'paused') {
      when = el('span', { class: 'clock-when', text: '暂停中，恢复后顺延' });
    } else if (state === 'done' || state === 'stopped') {
      const at = parseTime(c.ended_at);
      when = el('span', { class: 'clock-when', title: Number.isNaN(at) ? '' : fmtFull(at) }, [
        `${state === 'done' ? '完成' : '停止'}于 `, el('span', { class: 'mono', text: fmtTime(at) }),
      ]);
    } else if (!Number.isNaN(parseTime(c.due_at))) {
      when = el('span', { class: 'clock-when', title: `时限 ${fmtFull(c.due_at)}（北京时间）` }, [
        '时限 ', el('span', { class: 'mono clock-due', text: fmtTime(c.due_at) }),
      ]);
    }
    const extended = Number(c.extended_minutes) || 0;
    const limit = [
      s(c.limit) ? `时限${limitText(c.limit)}` : '',
      extended > 0 ? `已延长${minutesText(extended, working, dayMinutes)}` : '',
      working ? '按工作时间计' : '按自然时间计',
    ].filter(Boolean).join('，');
    const history = objects(c.history);
    const pauses = Number.isFinite(c.pauses) ? c.pauses : history.filter((h) => h.what === 'paused').length;
    const extensions = Number.isFinite(c.extensions) ? c.extensions : history.filter((h) => h.what === 'extended').length;
    const counts = [pauses ? `${pauses}次暂停` : '', extensions ? `${extensions}次延期` : ''].filter(Boolean).join('、');
    const key = `${caseId}:${phase}`;
    const fill = el('span', { class: `clock-fill clock-fill-${tone}` });
    fill.style.width = `${Math.min(100, pct)}%`;
    return el('li', {
      class: `clock-row clock-${tone}`,
      attrs: { id: `${idPrefix}-${phase}` },
      dataset: { phase, state, light },
    }, [
      el('div', { class: 'clock-head' }, [
        el('span', {
          class: `light light-${light || 'stopped'}`,
          title: light ? LIGHT_LABELS[light] : s(c.state_label) || CLOCK_STATE_LABELS[state] || '',
          attrs: { 'aria-hidden': 'true' },
        }),
        el('span', { class: 'clock-phase', text: label }),
        el('span', { class: `clock-state clock-state-${CLOCK_STATE_LABELS[state] ? state : 'other'}`, text: s(c.state_label) || CLOCK_STATE_LABELS[state] || state }),
        light ? el('span', { class: `clock-light clock-light-${light}`, text: LIGHT_LABELS[light] }) : null,
        c.provisional === true ? el('span', {
          class: 'tag-provisional', text: '暂估', title: PROVISIONAL_TIP, attrs: { tabindex: '0', 'aria-label': `暂估：${PROVISIONAL_TIP}` },
        }) : null,
        when,
      ]),
      el('div', {
        class: 'clock-bar',
        attrs: {
          role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(Math.min(100, pct)),
          'aria-label': `${label}已用时 ${pct}%`,
        },
        title: `已用时 ${pct}%`,
      }, [fill]),
      el('div', { class: 'clock-meta' }, [
        el('span', { class: 'clock-used', text: clockUsedText(c, dayMinutes) }),
        el('span', { class: 'clock-limit', text: limit }),
      ]),
      history.length ? el('details', {
        class: 'clock-history',
        attrs: { open: openClockHistories.has(key) },
        on: { toggle: (e) => (e.target.open ? openClockHistories.add(key) : openClockHistories.delete(key)) },
      }, [
        el('summary', { text: counts ? `计时记录（${counts}）` : '计时记录' }),
        el('ol', { class: 'clock-events' }, history.map((h) => el('li', { class: 'clock-event', dataset: { what: s(h.what) } }, [
          el('span', { class: 'clock-event-time mono', text: fmtTime(h.at), title: fmtFull(h.at) }),
          el('span', { class: 'clock-event-text', text: clockHistoryText(h, working, dayMinutes) }),
        ]))),
      ]) : null,
    ]);
  }

  /**
   * The 办理时限 section: one row per clock (签收, 处置, 核查) with its light, due time, time used of
   * the limit, a bar, 暂估 when a deadline reaches a year whose holidays aren't confirmed, and its
   * history (pauses, resumptions, extensions). Null when the case has no clock (not dispatched yet).
   */
  function clockSection(d, { id = 'clocks', headClass = 'panel-section' } = {}) {
    const list = objects(d && d.clocks);
    if (!list.length) return null;
    const caseId = s(d.case_id);
    return el('section', { class: 'clocks', attrs: { id, 'aria-label': '办理时限' } }, [
      el('h3', { class: headClass, text: '办理时限' }),
      el('ul', { class: 'clock-list' }, list.map((c) => clockRow(c, caseId, id))),
    ]);
  }

  const CALENDAR_DISMISSED = 'gridcase.calendar-warning-dismissed';

  /**
   * The calendar's warning (a year whose holiday schedule isn't imported: its deadlines are estimates),
   * as a yellow banner after `after`, until dismissed for this session (sessionStorage).
   * Also learns the office hours (a working day's length).
   */
  async function calendarBanner(request, { after, id = 'calendar-banner' } = {}) {
    let status;
    try {
      status = await request('/api/v1/calendar/status');
    } catch (err) {
      return null; // no right to read reference data, or the server is busy: no banner
    }
    if (!isObj(status)) return null;
    setOfficeHours(status.office_hours);
    const warning = s(status.warning);
    const old = document.getElementById(id);
    let dismissed = '';
    try {
      dismissed = sessionStorage.getItem(CALENDAR_DISMISSED) || '';
    } catch (_) {
      dismissed = '';
    }
    if (!warning || dismissed === warning || !after || !after.parentNode) {
      if (old) old.remove();
      return null;
    }
    if (old && old.dataset.warning === warning) return old;
    const box = el('div', { class: 'cal-banner', attrs: { id, role: 'status' }, dataset: { warning } }, [
      el('span', { class: 'cal-banner-icon', text: '!', attrs: { 'aria-hidden': 'true' } }),
      el('span', { class: 'cal-banner-text', text: warning }),
      el('button', {
        class: 'cal-banner-close',
        text: '知道了',
        title: '本次登录期间不再提示',
        attrs: { type: 'button', id: `${id}-close` },
        on: {
          click: () => {
            try {
              sessionStorage.setItem(CALENDAR_DISMISSED, warning);
            } catch (_) {
              // private mode: dismissed until the page reloads
            }
            box.remove();
          },
        },
      }),
    ]);
    if (old) old.replaceWith(box);
    else after.after(box);
    return box;
  }

  // ---------------------------------------------------------------------
  // 督办: supervision orders (the list on a case, the late ones on the console)
  // ---------------------------------------------------------------------

  const ORDER_STATUS_LABELS = { open: '待回复', replied: '已回复', closed: '已办结' };

  /** An order's reply deadline light: stopped once answered; red when late; yellow in its last fifth. */
  function orderDeadline(o, now = serverNow()) {
    const due = parseTime(o.reply_due_at);
    if (s(o.status) !== 'open') return { tone: 'stopped', due, short: '' };
    if (Number.isNaN(due)) return { tone: 'none', due, short: '' };
    if (now >= due || o.overdue === true || !Number.isNaN(parseTime(o.overdue_at))) {
      return { tone: 'red', due, short: now >= due ? `超期 ${fmtDuration(now - due)}` : '已超期' };
    }
    const start = parseTime(o.created_at);
    const ratio = Number.isNaN(start) || start >= due ? 0 : (now - start) / (due - start);
    return { tone: ratio >= 0.8 ? 'yellow' : 'green', due, short: `剩余 ${fmtDuration(due - now)}` };
  }

  /** "待回复" / "超期未回复" / "已回复" / "超期回复". */
  function orderStatusText(o, dl = orderDeadline(o)) {
    const status = s(o.status);
    if (status === 'open') return dl.tone === 'red' ? '超期未回复' : s(o.status_label) || ORDER_STATUS_LABELS.open;
    const late = !Number.isNaN(parseTime(o.overdue_at));
    if (status === 'replied' && late) return '超期回复';
    return s(o.status_label) || ORDER_STATUS_LABELS[status] || status || '—';
  }

  // ---------------------------------------------------------------------
  // New reports: reference lists, grids by community, ids, photos, forms
  // ---------------------------------------------------------------------

  const URGENCIES = [['normal', '一般'], ['urgent', '紧急'], ['emergency', '特急']];

  const refCache = new Map();

  /** A reference list (GET /api/v1/categories, /departments), loaded once per page; a failure is asked again next time. */
  function refList(kind, request) {
    if (!refCache.has(kind)) {
      refCache.set(kind, request(`/api/v1/${kind}`).then(
        (list) => objects(Array.isArray(list) ? list : isObj(list) && Array.isArray(list.items) ? list.items : []),
        (err) => {
          refCache.delete(kind);
          throw err;
        },
      ));
    }
    return refCache.get(kind);
  }

  /** The areas of GET /api/v1/grids (GeoJSON): each by code ({code, name, level, parent, worker}), and the grids. */
  function areaIndex(fc) {
    const byCode = new Map();
    for (const f of objects(fc && fc.features)) {
      const p = isObj(f.properties) ? f.properties : {};
      const code = s(p.code);
      if (!code) continue;
      byCode.set(code, { code, name: s(p.name) || code, level: s(p.level), parent: s(p.parent_code), worker: s(p.worker) });
    }
    const grids = [...byCode.values()].filter((a) => a.level === 'grid').sort((a, b) => a.code.localeCompare(b.code));
    /** "梅溪街道 · 柳塘社区": the street and community of an area (not the district). */
    const parents = (code) => {
      const names = [];
      let a = byCode.get(code);
      for (let i = 0; a && a.parent && i < 6; i += 1) {
        a = byCode.get(a.parent);
        if (a && a.level !== 'district') names.unshift(a.name);
      }
      return names.join(' · ');
    };
    /** Is `code` this area or below it? */
    const within = (code, area) => {
      let a = byCode.get(code);
      for (let i = 0; a && i < 6; i += 1) {
        if (a.code === area) return true;
        a = byCode.get(a.parent);
      }
      return false;
    };
    return { byCode, grids, parents, within, name: (code) => (byCode.get(code) || {}).name || '' };
  }

  /** A grid <select>'s options, grouped by street · community. `only(grid)` keeps some; `empty` first. */
  function gridOptions(index, { only = null, empty = '' } = {}) {
    const groups = new Map();
    for (const g of index.grids) {
      if (only && !only(g)) continue;
      const label = index.parents(g.code) || '其他';
      if (!groups.has(label)) groups.set(label, []);
      groups.get(label).push(g);
    }
    const out = [];
    if (empty) out.push(el('option', { text: empty, attrs: { value: '' } }));
    for (const [label, list] of groups) {
      out.push(el('optgroup', { attrs: { label } }, list.map((g) => el('option', { text: g.name, attrs: { value: g.code } }))));
    }
    return out;
  }

  /** A category <select>'s options: "0101 路灯损坏"; `empty` first. */
  function categoryOptions(list, { empty = '' } = {}) {
    const out = empty ? [el('option', { text: empty, attrs: { value: '' } })] : [];
    for (const cat of objects(list)) {
      const code = s(cat.code);
      if (code) out.push(el('option', { text: `${code} ${s(cat.name)}${cat.must_report === true ? '（四必报）' : ''}`, attrs: { value: code } }));
    }
    return out;
  }

  /** A report's own id (external_id), one per opening of a form: a double click or a retry makes one case. */
  function newExternalId(prefix) {
    const c = window.crypto;
    if (c && typeof c.randomUUID === 'function') return `${prefix}-${c.randomUUID()}`;
    // Pages served over plain http on a LAN have no randomUUID (secure contexts only).
    const hex = [...c.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
    return `${prefix}-${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** Today in Asia/Shanghai ("YYYY-MM-DD"), by the server's clock once known. */
  function todayShanghai(now = serverNow()) {
    const d = shanghai(now);
    return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
  }

  /** What is wrong with a report's description (2–4000 characters, the server's rule), in Chinese; '' if nothing. */
  function descriptionProblem(text, { min = 2, max = 4000 } = {}) {
    const n = [...s(text).trim()].length;
    if (n === 0) return '请填写问题描述';
    return n < min || n > max ? `问题描述须为 ${min}–${max} 个字（现为 ${n} 个字）` : '';
  }

  const PHOTO_RULES = { max: 9, maxBytes: 5 * 1024 * 1024, types: ['image/jpeg', 'image/png', 'image/webp'] };

  /** What is wrong with the photos chosen (too many, not JPG/PNG/WebP, over 5 MB), in Chinese; '' if nothing. */
  function photoProblem(files) {
    const list = [...(files || [])];
    if (list.length > PHOTO_RULES.max) return `最多上传 ${PHOTO_RULES.max} 张照片（已选 ${list.length} 张）。`;
    const badType = list.find((file) => !PHOTO_RULES.types.includes(file.type));
    if (badType) return `“${badType.name}”不是 JPG、PNG 或 WebP 图片。`;
    const big = list.find((file) => file.size > PHOTO_RULES.maxBytes);
    if (big) return `“${big.name}”超过 5 MB（${(big.size / 1048576).toFixed(1)} MB），请换一张或压缩后再传。`;
    return '';
  }

  /** Thumbnails of the photos chosen into `box`; returns the object URLs made (revoke them with the next call). */
  function renderPhotoPreviews(box, files, oldUrls = []) {
    for (const url of oldUrls) URL.revokeObjectURL(url);
    const urls = [];
    const list = [...(files || [])];
    const items = list.map((file) => {
      const url = URL.createObjectURL(file);
      urls.push(url);
      const bad = !PHOTO_RULES.types.includes(file.type) || file.size > PHOTO_RULES.maxBytes;
      return el('li', { class: `act-preview${bad ? ' bad' : ''}`, title: `${file.name}（${Math.ceil(file.size / 1024)} KB）` }, [
        el('img', { attrs: { src: url, alt: file.name } }),
      ]);
    });
    box.replaceChildren(
      list.length ? el('ul', { class: 'act-preview-list' }, items) : '',
      list.length ? el('span', {
        class: `act-file-count${list.length > PHOTO_RULES.max ? ' bad' : ''}`,
        text: `已选 ${list.length}／${PHOTO_RULES.max} 张`,
      }) : '',
    );
    return urls;
  }

  const CJK = /[\u3400-\u9fff\uff01-\uff5e\u3000-\u303f]/;

  /**
   * The Chinese of a server message or field reason: parts ("；") keep only their segments ("：") with
   * Chinese in them, so "description：内容太短：String should have …" reads "内容太短".
   */
  function chineseOnly(text) {
    return s(text).split('；').map((part) => part.split('：').map(validatorText).filter((seg) => CJK.test(seg)).join('：'))
      .filter(Boolean).join('；');
  }

  // The validator's English that says how long or how much: said again in Chinese.
  const VALIDATOR_TEXT = [
    [/at least (\d+) characters?/i, (n) => `至少 ${n} 个字`],
    [/at most (\d+) characters?/i, (n) => `最多 ${n} 个字`],
    [/at least (\d+) items?/i, (n) => `至少 ${n} 项`],
    [/at most (\d+) items?/i, (n) => `最多 ${n} 项`],
    [/greater than or equal to (-?[\d.]+)/i, (n) => `不能小于 ${n}`],
    [/less than or equal to (-?[\d.]+)/i, (n) => `不能大于 ${n}`],
  ];

  function validatorText(seg) {
    for (const [re, say] of VALIDATOR_TEXT) {
      const m = re.exec(seg);
      if (m) return say(m[1]);
    }
    return seg;
  }

  /**
   * The fields of a form built in a page, each with its error line, and the form's error box:
   *   const fk = formKit('entry');
   *   fk.row('description', '问题描述', textarea, { required: true, hint: '…' });
   *   fk.showErrors('请填写…', new Map([['description', '至少2个字']]));   // or fk.showServerError(err)
   * Field names are the server's (dotted for nested ones: "handed_down.from_unit").
   */
  function formKit(idPrefix) {
    const rows = new Map(); // name -> {node, input, err}
    const error = el('div', { class: 'act-error', attrs: { role: 'alert', id: `${idPrefix}-error` } });
    error.hidden = true;
    let aboutFields = false; // the message only points at the fields' own lines: it goes with the last of them

    function clear(name) {
      const r = rows.get(name);
      if (!r) return;
      r.input.removeAttribute('aria-invalid');
      r.err.textContent = '';
      r.err.hidden = true;
      if (aboutFields && ![...rows.values()].some((x) => x.input.getAttribute('aria-invalid') === 'true')) {
        error.textContent = '';
        error.hidden = true;
        aboutFields = false;
      }
    }

    function row(name, label, input, { required = false, hint = '', extra = null } = {}) {
      if (!input.id) input.id = `${idPrefix}-${name.replace(/[._]/g, '-')}`;
      if (!input.name) input.name = name;
      const err = el('div', { class: 'act-field-error', attrs: { id: `${input.id}-error` } });
      err.hidden = true;
      input.setAttribute('aria-describedby', err.id);
      const reset = () => clear(name);
      input.addEventListener('input', reset);
      input.addEventListener('change', reset);
      const node = el('div', { class: 'act-field', dataset: { field: name } }, [
        label ? el('label', { class: 'act-label', attrs: { for: input.id } }, [
          label,
          required ? el('span', { class: 'req', text: '*', attrs: { 'aria-hidden': 'true' } }) : null,
        ]) : null,
        input,
        extra,
        hint ? el('div', { class: 'act-field-hint', text: hint }) : null,
        err,
      ]);
      rows.set(name, { node, input, err });
      return node;
    }

    /** The message in the error box and each reason under its field (a reason for no field joins the message). */
    function showErrors(message, reasons = new Map()) {
      const loose = [];
      const marked = new Set();
      for (const [field, reason] of reasons) {
        const text = chineseOnly(reason) || '内容有误';
        // "reporter.phone" → the row "reporter.phone", else the nearest row above it ("reporter").
        let name = field;
        while (name && !rows.has(name)) name = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : '';
        if (!name) {
          loose.push(text);
          continue;
        }
        const r = rows.get(name);
        r.input.setAttribute('aria-invalid', 'true');
        r.err.textContent = marked.has(name) ? `${r.err.textContent}；${text}` : text;
        r.err.hidden = false;
        marked.add(name);
      }
      aboutFields = false;
      for (const name of rows.keys()) if (!marked.has(name)) clear(name);
      aboutFields = marked.size > 0 && loose.length === 0;
      const main = [chineseOnly(message) || s(message), ...loose].filter(Boolean);
      error.textContent = [...new Set(main)].join('；');
      error.hidden = !error.textContent;
      const first = [...rows.values()].find((r) => r.input.getAttribute('aria-invalid') === 'true');
      if (first && typeof first.input.focus === 'function') first.input.focus();
      else if (!error.hidden) error.scrollIntoView({ block: 'nearest' });
    }

    /** A refusal from the API: its Chinese message and field reasons; a network failure says so. */
    function showServerError(err, what = '提交') {
      if (err instanceof HttpError) {
        showErrors(err.serverMessage || `${what}未成功（服务器返回 ${err.status}）。`, err.fieldReasons);
      } else {
        showErrors(`网络异常，${what}未完成，请重试（重试不会重复生成案件）。`);
      }
    }

    return { row, rows, error, showErrors, showServerError, clear: () => showErrors('') };
  }

  return {
    SHANGHAI_OFFSET_MS,
    STATUSES,
    STATUS_LABEL,
    CLOCK_STOPPED,
    REQUEST_KIND_LABEL,
    s,
    orDash,
    el,
    isObj,
    objects,
    parseTime,
    pad2,
    fmtTime,
    fmtFull,
    fmtMinute,
    fmtDuration,
    toLocalInput,
    fromLocalInput,
    setServerTime,
    serverNow,
    statusTone,
    statusLabel,
    statusBadge,
    urgencyTag,
    deadline,
    deadlineCell,
    pendingKinds,
    pendingTags,
    HttpError,
    SignedOut,
    describeError,
    createSession,
    renderWhoami,
    homeOf,
    payloadOf,
    eventSummary,
    timeline,
    photoUrl,
    photoGrid,
    pendingBox,
    assistList,
    latestResult,
    fieldList,
    limitText,
    LOCAL_LEVELS,
    atLocalStage,
    stageTag,
    bounceTag,
    bounceBanner,
    handlerField,
    showStaffLinks,
    casesUrl,
    caseIdFromHash,
    CHANNEL_NAMES,
    caseLink,
    intakeTags,
    intakeFields,
    handedDownBox,
    attachmentList,
    likelyDuplicateNotice,
    URGENCIES,
    refList,
    areaIndex,
    gridOptions,
    categoryOptions,
    newExternalId,
    todayShanghai,
    descriptionProblem,
    PHOTO_RULES,
    photoProblem,
    renderPhotoPreviews,
    chineseOnly,
    formKit,
    PHASE_LABELS,
    LIGHT_LABELS,
    PROVISIONAL_TIP,
    setOfficeHours,
    minutesText,
    clockUsedText,
    clockHistoryText,
    clockSection,
    calendarBanner,
    ORDER_STATUS_LABELS,
    orderDeadline,
    orderStatusText,
  };
})();
