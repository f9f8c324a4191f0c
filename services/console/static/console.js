/*
 * Gridcase command-centre console.
 *
 * Vanilla ES2020, no dependencies, nothing fetched from outside this origin.
 * All server data reaches the DOM through textContent / setAttribute only;
 * innerHTML is never used.
 */
'use strict';

(() => {
  const G = window.Gridcase; // common.js
  // ---------------------------------------------------------------------
  // Constants
  // ---------------------------------------------------------------------

  const API = {
    detail: (id) => `/api/v1/cases/${encodeURIComponent(id)}`,
    grids: '/api/v1/grids',
    stream: '/api/v1/stream',
    me: '/api/v1/auth/me',
    logout: '/api/v1/auth/logout',
    reveal: (id) => `/api/v1/cases/${encodeURIComponent(id)}/reveal`,
  };

  const REFRESH_DEBOUNCE_MS = 300;
  const SEARCH_DEBOUNCE_MS = 300;
  const PAGE_MAX = 500; // the list API's largest page
  // Cases per page: 100, or ?page_size=N (1–500) on the page's address (tests, slow links).
  const PAGE = (() => {
    const n = Number(new URLSearchParams(location.search).get('page_size'));
    return Number.isInteger(n) && n >= 1 && n <= PAGE_MAX ? n : 100;
  })();
  const WARN_LIMIT = 100; // 督办预警: the overdue and due-soon cases, whatever the table's filters
  const DETAILS_PERMISSION = 'case.read_details'; // may search descriptions and addresses
  const POLL_INTERVAL_MS = 3000;
  const POLL_NO_LIVE_MS = 10000; // accounts without the live feed refresh on a timer
  const LIVE_PERMISSION = 'live_feed.read';
  const REPORT_PERMISSION = 'case.report'; // 录入案件
  const SESSION_CHECK_MIN_MS = 5000; // at most one /auth/me check per this after stream errors
  const TICK_MS = 30000; // re-evaluate deadline lights
  const SHANGHAI_OFFSET_MS = 8 * 3600 * 1000; // Asia/Shanghai is UTC+8, no DST since 1991

  // Status order, fallback labels (server labels win) and whether the
  // deadline clock still runs for a case in that status.
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
  // Active (not finished) statuses, used for the map heat shading.
  const ACTIVE = new Set(['reported', 'triage', 'dispatched', 'signed', 'returned', 'suspended']);

  // Header counters: [key in `counts`, label, tone].
  const COUNTERS = [
    ['reported', '待派遣', 'reported'],
    ['triage', '待分拣', 'triage'],
    ['dispatched', '已派遣', 'dispatched'],
    ['signed', '已签收', 'signed'],
    ['resolved', '已办结待核查', 'resolved'],
    ['closed', '已结案', 'closed'],
    ['overdue', '超期', 'overdue'],
  ];

  const DESCRIPTION_HIDDEN = '（无权查看案件描述）';
  // Why dispatch left a case to the command centre (the server's label wins when it sends one).
  const TRIAGE_LABELS = {
    unknown_grid: '网格编码不存在，需人工核实位置',
    outside_grids: '上报位置不在本区任何网格内，需人工核实',
    no_location: '未提供网格编码或位置，需人工定位',
    no_category: '未指定案件类别，需人工分类',
    unknown_category: '案件类别编码不存在，需人工分类',
    needs_operator: '“其他”类案件由指挥中心人工分拣',
    unknown_department: '责任矩阵中的责任部门不存在，需人工派遣',
  };
  const LOCATION_HIDDEN = '（无权查看精确位置）';
  const REASON_MIN = 2;
  const REASON_MAX = 200;

  // ---------------------------------------------------------------------
  // State
  // ---------------------------------------------------------------------

  const state = {
    items: [], // the loaded pages for the current filters (the server filters)
    counts: {},
    total: 0,
    loaded: false, // counters known
    pageLoaded: false, // the first page for the current filters is in
    nextCursor: null, // next_cursor of the last page loaded: "加载更多"
    signatures: new Map(), // case_id -> signature of displayed fields
    flash: new Set(), // case ids to flash on the next table render
    statusFilter: new Set(),
    overdueOnly: false,
    dueSoonOnly: false,
    bouncedOnly: false, // 推诿预警
    query: '',
    searchError: '', // the server's refusal of the search text (422), shown under the box
    warnItems: [], // 督办预警
    warnCounts: null,
    warnLoaded: false,
    selectedId: null,
    detail: null, // detail object for selectedId (or null while loading)
    detailError: null,
    seenEventSeq: new Map(), // case_id -> max event seq already shown
    newEventIds: new Set(),
    grids: null,
    gridError: false,
  };

  // ---------------------------------------------------------------------
  // Small helpers
  // ---------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  /** Coerce a server value to display text: only strings and finite numbers pass. */
  function s(v) {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    return '';
  }

  /** Text or an em dash placeholder. */
  function orDash(v) {
    const t = s(v).trim();
    return t === '' ? '—' : t;
  }

  /**
   * Create an element. props: {class, text, title, attrs, dataset, on}.
   * Children may be nodes or strings (strings become text nodes).
   */
  function el(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    applyProps(node, props);
    for (const child of children) {
      if (child == null || child === false) continue;
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs = {}, children = []) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v != null) node.setAttribute(k, String(v));
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }
  function svgTitle(text) {
    const t = document.createElementNS(SVG_NS, 'title');
    t.textContent = text;
    return t;
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

  /** CSS-safe tone name for a status (unknown statuses get a neutral tone). */
  function statusTone(status) {
    return STATUS_LABEL.has(status) ? status : 'unknown';
  }
  function statusLabel(c) {
    return s(c.status_label) || STATUS_LABEL.get(c.status) || s(c.status) || '未知';
  }

  /** The triage reason of a case in the triage queue, in Chinese. */
  function triageReason(c) {
    const code = s(c.triage_reason);
    return s(c.triage_reason_label) || TRIAGE_LABELS[code] || code;
  }

  /** Parse ISO-8601 with timezone; tolerates >3 fractional digits. Returns ms or NaN. */
  function parseTime(v) {
    if (typeof v !== 'string' || v === '') return NaN;
    return Date.parse(v.trim().replace(/(\.\d{3})\d+/, '$1'));
  }

  const pad2 = (n) => String(n).padStart(2, '0');

  /** "MM-DD HH:mm" in Asia/Shanghai. */
  function fmtTime(v) {
    const t = parseTime(v);
    if (Number.isNaN(t)) return '—';
    const d = new Date(t + SHANGHAI_OFFSET_MS);
    return `${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
  }

  /** "YYYY-MM-DD HH:mm:ss" in Asia/Shanghai (for tooltips and the clock). */
  function fmtFull(t) {
    if (Number.isNaN(t)) return '';
    const d = new Date(t + SHANGHAI_OFFSET_MS);
    return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ` +
      `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
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
  function serverNow() {
    return Date.now() + clockOffset;
  }

  /**
   * Deadline light for a case.
   * green: < 80 % of dispatched_at..due_at elapsed; yellow: 80–100 %; red: past due.
   */
  function deadline(c, now = serverNow()) {
    const due = parseTime(c.due_at);
    if (Number.isNaN(due)) return { tone: 'none', tip: '未设置处置时限' };
    const dueText = `处置时限 ${fmtFull(due)}`;
    if (CLOCK_STOPPED.has(c.status)) {
      return { tone: 'stopped', due, tip: `${dueText}\n${CLOCK_STOPPED.get(c.status)}` };
    }
    if (now >= due || c.overdue === true) {
      const short = now >= due ? `超期 ${fmtDuration(now - due)}` : '已超期';
      return { tone: 'red', due, short, tip: `${dueText}\n${short.replace(/^超期/, '已超期')}` };
    }
    const start = parseTime(c.dispatched_at);
    const short = `剩余 ${fmtDuration(due - now)}`;
    if (Number.isNaN(start) || start >= due) {
      return { tone: 'green', due, short, tip: `${dueText}\n${short}` };
    }
    const ratio = Math.max(0, (now - start) / (due - start));
    return {
      tone: ratio >= 0.8 ? 'yellow' : 'green',
      due,
      short,
      tip: `${dueText}\n${short}（已用时 ${Math.round(ratio * 100)}%）`,
    };
  }

  function isOverdue(c) {
    return deadline(c).tone === 'red';
  }

  /** Fields whose change makes a row flash. */
  function signature(c) {
    return JSON.stringify([
      c.status, c.status_label, c.department_code, c.level, c.urgency,
      c.due_at, c.dispatched_at, c.overdue, c.description, c.grid_code, c.bounced, c.handler_level,
    ]);
  }

  // A non-2xx answer ({"error", "message" (Chinese), "fields", "details"}) and "signed out, stop":
  // shared with the case actions (actions.js), which tell them apart the same way.
  const { HttpError, SignedOut } = G;

  // ---------------------------------------------------------------------
  // Session: who is signed in, CSRF token, redirect to /login
  // ---------------------------------------------------------------------

  // The session (cookie, CSRF header, /auth/me, 401 → /login) is common.js's, shared with the
  // workbench and the check page; the console adds its own reaction to who is signed in.
  const session = G.createSession({ onMe: applyMe, onLeave: () => stopLive() });
  const { api, loadMe, leave } = session;
  const auth = {
    get me() {
      return session.me;
    },
    get permissions() {
      return session.permissions;
    },
    get redirecting() {
      return session.redirecting;
    },
    expiryTimer: null,
  };

  const fetchJSON = (url) => api(url);

  function applyMe(me) {
    const m = me && typeof me === 'object' ? me : {};
    // Roles that may not read descriptions search by case number only (the server refuses text).
    $('search').placeholder = auth.permissions && !auth.permissions.has(DETAILS_PERMISSION)
      ? '按案件编号搜索（14位数字或开头部分）'
      : '搜索 案件编号 / 描述 / 地址';
    setAlert('me', null);
    renderWhoami();
    G.showStaffLinks(session);
    $('entry-open').hidden = !(auth.permissions && auth.permissions.has(REPORT_PERMISSION));
    scheduleExpiryCheck(m.expires_at);
    // Department staff work on the workbench, grid workers on the check page (the sign-in page
    // brings everyone to "/" by default): send them on, keeping a #case=… link.
    const role = m.user && typeof m.user === 'object' ? s(m.user.role) : '';
    const home = G.homeOf(role);
    if (home !== '/' && location.pathname === '/') leave(home + location.hash);
  }

  /** Re-check the session just after it is due to expire (a wall display may sit idle). */
  function scheduleExpiryCheck(expiresAt) {
    clearTimeout(auth.expiryTimer);
    const t = parseTime(expiresAt);
    if (Number.isNaN(t)) return;
    const wait = Math.min(Math.max(t - serverNow() + 1500, 1000), 2 ** 31 - 1);
    auth.expiryTimer = setTimeout(() => loadMe().catch(() => {}), wait);
  }

  function renderWhoami() {
    const u = auth.me && auth.me.user && typeof auth.me.user === 'object' ? auth.me.user : null;
    const box = $('whoami');
    if (!u) {
      box.replaceChildren();
      $('user').hidden = true;
      return;
    }
    const name = s(u.display_name) || s(u.username) || '—';
    const rest = [s(u.role_label), s(u.unit)].filter(Boolean);
    box.replaceChildren(
      el('b', { class: 'whoami-name', text: name }),
      rest.length ? el('span', { class: 'whoami-rest', text: ` · ${rest.join(' · ')}` }) : null,
    );
    const expires = parseTime(auth.me.expires_at);
    $('user').title = [
      `当前登录：${box.textContent}`,
      s(u.username) ? `用户名：${s(u.username)}` : '',
      Number.isNaN(expires) ? '' : `登录有效期至 ${fmtFull(expires)}`,
    ].filter(Boolean).join('\n');
    $('user').hidden = false;
  }

  async function logout() {
    const btn = $('logout');
    if (btn.disabled) return;
    btn.disabled = true;
    btn.textContent = '正在退出…';
    try {
      await api(API.logout, { method: 'POST', body: {}, on401: 'throw' });
    } catch (err) {
      if (err instanceof SignedOut) return;
      if (!(err instanceof HttpError && err.status === 401)) {
        // Still signed in: say so rather than pretend (a shared terminal must not stay signed in).
        setAlert('logout', `退出登录失败：${describeError(err)}，请重试。`);
        btn.disabled = false;
        btn.textContent = '退出登录';
        return;
      }
      // 401: the session had already ended; nothing to sign out of.
    }
    leave('/login');
  }

  function describeError(err) {
    if (err instanceof HttpError) return err.serverMessage || `服务器返回 ${err.status}`;
    return '网络异常';
  }

  const isForbidden = (err) => err instanceof HttpError && err.status === 403;

  // ---------------------------------------------------------------------
  // Alert banner
  // ---------------------------------------------------------------------

  const alerts = new Map();
  function setAlert(key, text) {
    if (text) alerts.set(key, text);
    else alerts.delete(key);
    const box = $('alert');
    box.textContent = [...alerts.values()].join('　');
    box.hidden = alerts.size === 0;
  }

  // ---------------------------------------------------------------------
  // Case list
  // ---------------------------------------------------------------------

  let listSeq = 0; // answers to older filters are dropped
  let listInFlight = false;
  let listAgain = false;
  let listRetryTimer = null;

  function listUrl({ cursor = null, limit = PAGE } = {}) {
    return G.casesUrl({
      statuses: [...state.statusFilter],
      overdue: state.overdueOnly,
      dueSoon: state.dueSoonOnly,
      bounced: state.bouncedOnly,
      q: state.query,
      cursor,
      limit,
    });
  }

  // Filters that are chips beside the status chips: [state key, list key in `counts`, label, tone].
  const FLAG_FILTERS = [
    ['overdueOnly', 'overdue', '超期', 'overdue'],
    ['dueSoonOnly', 'due_soon', '临期', 'reported'],
    ['bouncedOnly', 'bounced', '推诿预警', 'bounce'],
  ];
  const flagActive = () => FLAG_FILTERS.some(([key]) => state[key]);

  const filtersActive = () => state.statusFilter.size > 0 || flagActive() || state.query !== '';

  /**
   * Reload the first page for the current filters. A refresh (live update, timer, after an action)
   * asks for as many rows as are shown (up to 500), so pages added with "加载更多" stay.
   */
  async function loadList({ keepSize = true } = {}) {
    if (listInFlight) {
      listAgain = true;
      return;
    }
    listInFlight = true;
    clearTimeout(listRetryTimer);
    const seq = ++listSeq;
    const limit = keepSize ? Math.min(Math.max(PAGE, state.items.length), PAGE_MAX) : PAGE;
    try {
      const data = await fetchJSON(listUrl({ limit }));
      if (seq !== listSeq) return;
      applyList(data, { append: false });
      setSearchError('');
      setAlert('list', null);
    } catch (err) {
      if (err instanceof SignedOut || seq !== listSeq) return;
      if (err instanceof HttpError && err.status === 422 && state.query) {
        // The search text refused (too short, too long, or text from a role that may search only
        // by case number): say why under the box, with nothing listed, and don't retry.
        state.items = [];
        state.nextCursor = null;
        state.signatures = new Map();
        state.pageLoaded = true;
        setSearchError(err.serverMessage || '搜索内容有误，请修改后重试。');
        setAlert('list', null);
        renderAll();
      } else if (isForbidden(err)) {
        setAlert('list', err.serverMessage || '当前账号无权查看案件列表。');
        listRetryTimer = setTimeout(loadList, 30000);
      } else {
        setAlert('list', `案件列表加载失败（${describeError(err)}），正在自动重试…`);
        listRetryTimer = setTimeout(loadList, 5000);
      }
    } finally {
      if (seq === listSeq) {
        listInFlight = false;
        if (listAgain) {
          listAgain = false;
          loadList();
        }
      }
    }
  }

  /** The next page (next_cursor) for the same filters, appended. */
  async function loadMore() {
    if (!state.nextCursor || listInFlight) return;
    listInFlight = true;
    const seq = ++listSeq;
    moreBusy = true;
    renderMore();
    try {
      const data = await fetchJSON(listUrl({ cursor: state.nextCursor }));
      if (seq !== listSeq) return;
      applyList(data, { append: true });
      setAlert('list', null);
    } catch (err) {
      if (err instanceof SignedOut || seq !== listSeq) return;
      setAlert('list', `加载更多失败（${describeError(err)}），请重试。`);
    } finally {
      moreBusy = false;
      renderMore();
      if (seq === listSeq) {
        listInFlight = false;
        if (listAgain) {
          listAgain = false;
          loadList();
        }
      }
    }
  }

  /** Filters changed: drop what is listed and ask for the first page again. */
  function reloadForFilters() {
    listSeq += 1; // an answer to the old filters is dropped
    listInFlight = false;
    listAgain = false;
    clearTimeout(listRetryTimer);
    state.items = [];
    state.nextCursor = null;
    state.signatures = new Map();
    state.pageLoaded = false;
    renderAll();
    loadList({ keepSize: false });
  }

  function applyList(data, { append }) {
    const items = Array.isArray(data && data.items)
      ? data.items.filter((c) => c && typeof c === 'object' && typeof c.case_id === 'string')
      : [];
    if (append) {
      const seen = new Set(state.items.map((c) => c.case_id));
      const added = items.filter((c) => !seen.has(c.case_id));
      for (const c of added) state.signatures.set(c.case_id, signature(c));
      state.items = state.items.concat(added);
    } else {
      // A refresh of the same filters flashes new and changed rows; a new filter's first page doesn't.
      const flash = state.pageLoaded;
      const nextSig = new Map();
      for (const c of items) {
        const sig = signature(c);
        nextSig.set(c.case_id, sig);
        if (flash && state.signatures.get(c.case_id) !== sig) state.flash.add(c.case_id);
      }
      state.items = items;
      state.signatures = nextSig;
    }
    state.nextCursor = s(data && data.next_cursor) || null;
    state.pageLoaded = true;
    applyCounts(data);
    state.loaded = true;
    $('updated-at').textContent = fmtFull(Date.now()).slice(11);
    renderAll();
  }

  /** The header counters, the clock and the stranded reports: every list answer carries them. */
  function applyCounts(data) {
    state.counts = data && typeof data.counts === 'object' && data.counts ? data.counts : {};
    // Deadline lights follow the server's clock: an operator PC's clock may be off.
    const serverTime = parseTime(data && data.server_time);
    if (!Number.isNaN(serverTime)) clockOffset = serverTime - Date.now();
    G.setServerTime(data && data.server_time); // the shared helpers' clock (today in Beijing, deadlines)
    state.total = Number.isFinite(data && data.total) ? data.total : state.items.length;
    // Reports not picked up by dispatch for minutes: dispatch re-drives them; say so meanwhile.
    const stranded = Number.isFinite(data && data.stranded) ? data.stranded : 0;
    setAlert(
      'stranded',
      stranded > 0 ? `有 ${stranded} 件上报超过2分钟仍未分拣派遣，系统正在自动重新处理；如持续存在请联系系统管理员。` : ''
    );
  }

  function setSearchError(text) {
    if (state.searchError === text) return;
    state.searchError = text;
    const box = $('search-error');
    box.textContent = text;
    box.hidden = !text;
    const input = $('search');
    if (text) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }

  let moreBusy = false;
  function renderMore() {
    const btn = $('more');
    btn.hidden = !state.nextCursor;
    btn.disabled = moreBusy;
    btn.textContent = moreBusy ? '加载中…' : '加载更多';
  }

  // -- 督办预警: overdue and due-soon cases, from the server, whatever the table shows ------------

  let warnSeq = 0;

  async function loadWarnings() {
    const seq = ++warnSeq;
    try {
      const data = await fetchJSON(G.casesUrl({ overdue: true, dueSoon: true, limit: WARN_LIMIT }));
      if (seq !== warnSeq) return;
      state.warnItems = Array.isArray(data && data.items)
        ? data.items.filter((c) => c && typeof c === 'object' && typeof c.case_id === 'string')
        : [];
      state.warnCounts = data && typeof data.counts === 'object' && data.counts ? data.counts : null;
      state.warnLoaded = true;
      renderWarnings();
    } catch (err) {
      // The list's own load reports errors; the warnings try again with the next refresh.
    }
  }

  /** Everything the page lists, again (live updates, the timer, after an action). */
  function refreshLists() {
    loadList();
    loadWarnings();
    loadOrders();
  }

  function renderAll() {
    // The server filters: what is loaded is what is shown (the map too).
    const visible = state.items;
    renderCounters();
    renderChips();
    renderTable(visible);
    renderMore();
    renderMapCases(visible);
    renderWarnings();
    renderOrders();
    state.flash.clear();
  }

  // -- supervision warnings (overdue / near deadline) ----------------------

  function renderWarnings() {
    // The server's overdue-or-due-soon cases: red when past due, else amber (due soon).
    const rows = [];
    for (const c of state.warnItems) {
      const dl = deadline(c);
      if (dl.tone === 'none' || dl.tone === 'stopped') continue;
      rows.push({ c, dl: dl.tone === 'red' ? dl : { ...dl, tone: 'yellow' } });
    }
    rows.sort((a, b) => (a.dl.tone === b.dl.tone ? a.dl.due - b.dl.due : a.dl.tone === 'red' ? -1 : 1));
    const red = rows.filter((r) => r.dl.tone === 'red').length;
    const wc = state.warnCounts || {};
    const overdueN = Number.isFinite(wc.overdue) ? wc.overdue : red;
    const soonN = Number.isFinite(wc.due_soon) ? wc.due_soon : rows.length - red;
    $('warn-hint').textContent = state.warnLoaded ? `超期 ${overdueN} · 临期 ${soonN}` : '—';
    const list = $('warn-list');
    if (!rows.length) {
      list.replaceChildren(el('li', { class: 'warn-empty', text: state.warnLoaded ? '暂无超期或临期案件' : '加载中…' }));
      return;
    }
    list.replaceChildren(...rows.map(({ c, dl }) => el('li', {}, [
      el('button', {
        class: `warn-item warn-${dl.tone}${c.case_id === state.selectedId ? ' selected' : ''}`,
        attrs: { type: 'button' },
        title: `${orDash(c.case_no)}\n${s(c.description)}\n${dl.tip}`,
        on: { click: () => openCase(c.case_id) },
      }, [
        el('span', { class: `light light-${dl.tone}`, attrs: { 'aria-hidden': 'true' } }),
        el('span', { class: 'warn-body' }, [
          el('span', { class: 'warn-title' }, [
            el('span', { class: 'warn-cat', text: orDash(c.category_name) }),
            el('span', { class: 'warn-grid', text: s(c.grid_name) }),
          ]),
          el('span', { class: 'warn-sub', text: s(c.department_name) || '未派遣' }),
        ]),
        el('span', { class: 'warn-left', text: dl.short || '' }),
      ]),
    ])));
  }

  // -- header counters ----------------------------------------------------

  function renderCounters() {
    const box = $('counters');
    const frag = document.createDocumentFragment();
    for (const [key, label, tone] of COUNTERS) {
      const raw = state.counts[key];
      const n = Number.isFinite(raw) ? raw : 0;
      const active = key === 'overdue' ? state.overdueOnly : state.statusFilter.has(key);
      frag.append(el('button', {
        class: `counter tone-${tone}${active ? ' active' : ''}${key === 'overdue' && n > 0 ? ' alarm' : ''}`,
        attrs: { type: 'button', 'aria-pressed': active ? 'true' : 'false' },
        title: `筛选：${label}`,
        on: { click: () => toggleFilter(key) },
      }, [
        el('span', { class: 'counter-label', text: label }),
        el('span', { class: 'counter-value', text: state.loaded ? String(n) : '—' }),
      ]));
    }
    frag.append(el('div', { class: 'counter counter-total' }, [
      el('span', { class: 'counter-label', text: '案件总数' }),
      el('span', { class: 'counter-value', text: state.loaded ? String(state.total) : '—' }),
    ]));
    box.replaceChildren(frag);
  }

  // -- filter chips -------------------------------------------------------

  function renderChips() {
    // Counts are the server's (everything this account may see), like the header counters.
    const count = (key) => (state.loaded && Number.isFinite(state.counts[key]) ? state.counts[key] : null);
    const chips = [];
    const none = state.statusFilter.size === 0 && !flagActive();
    chips.push(chip('all', '全部', state.loaded ? state.total : null, 'all', none, () => {
      state.statusFilter.clear();
      for (const [key] of FLAG_FILTERS) state[key] = false;
      reloadForFilters();
    }));
    for (const [key, countKey, label, tone] of FLAG_FILTERS) {
      chips.push(chip(countKey, label, count(countKey), tone, state[key], () => toggleFilter(countKey)));
    }
    const known = new Set([...STATUSES.map(([k]) => k), ...FLAG_FILTERS.map(([, k]) => k)]);
    const extra = Object.keys(state.counts).filter((k) => !known.has(k));
    for (const key of [...STATUSES.map(([k]) => k), ...extra]) {
      const n = count(key);
      if (!n && !state.statusFilter.has(key)) continue;
      const sample = state.items.find((c) => c.status === key);
      const label = (sample && s(sample.status_label)) || STATUS_LABEL.get(key) || s(key);
      chips.push(chip(key, label, n, statusTone(key), state.statusFilter.has(key), () => toggleFilter(key)));
    }
    $('chips').replaceChildren(...chips);
  }

  function chip(key, label, count, tone, active, onClick) {
    return el('button', {
      class: `chip tone-${tone}${active ? ' active' : ''}`,
      attrs: { type: 'button', 'aria-pressed': active ? 'true' : 'false' },
      dataset: { chip: key },
      on: { click: onClick },
    }, [
      tone === 'all' ? null : el('span', { class: 'chip-dot', attrs: { 'aria-hidden': 'true' } }),
      el('span', { text: label }),
      el('span', { class: 'chip-count', text: count == null ? '—' : String(count) }),
    ]);
  }

  /** Status chips and counters add up (any of them); 超期 and 临期 take turns; 推诿预警 narrows either. */
  function toggleFilter(key) {
    if (key === 'bounced') {
      state.bouncedOnly = !state.bouncedOnly;
    } else if (key === 'overdue') {
      state.overdueOnly = !state.overdueOnly;
      if (state.overdueOnly) state.dueSoonOnly = false;
    } else if (key === 'due_soon') {
      state.dueSoonOnly = !state.dueSoonOnly;
      if (state.dueSoonOnly) state.overdueOnly = false;
    } else if (state.statusFilter.has(key)) {
      state.statusFilter.delete(key);
    } else {
      state.statusFilter.add(key);
    }
    reloadForFilters();
  }

  // -- table --------------------------------------------------------------

  function renderTable(visible) {
    const active = document.activeElement;
    const focusedId = active && active.closest && active.closest('#case-rows tr[data-id]')
      ? active.closest('tr[data-id]').dataset.id
      : null;
    const frag = document.createDocumentFragment();
    for (const c of visible) frag.append(caseRow(c));
    const tbody = $('case-rows');
    tbody.replaceChildren(frag);
    if (focusedId) {
      // Keep keyboard focus on the same case across re-renders.
      const row = [...tbody.rows].find((r) => r.dataset.id === focusedId);
      if (row) row.focus({ preventScroll: true });
    }
    $('empty').hidden = visible.length > 0 || !state.pageLoaded;
    if (!state.pageLoaded) {
      $('table-count').textContent = '加载中…';
    } else {
      const more = state.nextCursor ? '，还有更多' : '';
      const shown = filtersActive() ? `筛选出 ${visible.length} 件${more}` : `显示最新 ${visible.length} 件${more}`;
      $('table-count').textContent = `${shown}（系统共 ${state.total} 件）`;
    }
  }

  function caseRow(c) {
    const dl = deadline(c);
    const cls = ['case-row'];
    if (c.case_id === state.selectedId) cls.push('selected');
    if (state.flash.has(c.case_id)) cls.push('flash');
    if (dl.tone === 'red') cls.push('is-overdue');
    if (c.bounced === true) cls.push('is-bounced');
    const urg = s(c.urgency);
    const tr = el('tr', {
      class: cls.join(' '),
      attrs: { tabindex: '0', 'aria-selected': c.case_id === state.selectedId ? 'true' : 'false' },
      dataset: { id: c.case_id, caseNo: s(c.case_no), status: s(c.status) },
    }, [
      el('td', { class: 'col-no mono', text: orDash(c.case_no) }),
      el('td', { class: 'col-status' }, [statusBadge(c)]),
      el('td', { class: 'col-channel', text: orDash(c.channel_label) }),
      el('td', { class: 'col-desc' }, [descCell(c)]),
      el('td', { class: 'col-cat' }, [truncated(c.category_name)]),
      el('td', { class: 'col-grid' }, [truncated(c.grid_name)]),
      el('td', { class: 'col-dept' }, [
        s(c.department_name)
          ? truncated(c.department_name)
          : el('span', { class: 'muted', text: '未派遣' }),
      ]),
      el('td', { class: 'col-level', text: orDash(c.level_label) }),
      el('td', { class: 'col-urg' }, [urgencyTag(urg, c.urgency_label)]),
      el('td', { class: 'col-time mono', text: fmtTime(c.created_at), title: fmtFull(parseTime(c.created_at)) }),
      el('td', { class: 'col-due' }, [deadlineCell(c, dl)]),
    ]);
    return tr;
  }

  /**
   * The description, after what needs the operator's eye: the triage reason of a case in the
   * triage queue, requests waiting for approval.
   */
  function descCell(c) {
    const triage = c.status === 'triage' ? triageReason(c) : '';
    const desc = c.description_hidden === true
      ? el('span', { class: 'truncate muted', text: DESCRIPTION_HIDDEN })
      : el('span', { class: 'truncate', text: orDash(c.description), title: s(c.description) });
    const tags = [G.bounceTag(c), G.stageTag(c), ...G.pendingTags(c)].filter(Boolean);
    if (!triage && !tags.length) return el('div', { class: 'truncate' }, [desc]);
    return el('div', { class: 'desc-line' }, [
      triage ? el('span', { class: 'tag-triage', text: triage, title: `分拣原因：${triage}`, dataset: { triageReason: s(c.triage_reason) } }) : null,
      ...tags,
      desc,
    ]);
  }

  function truncated(v) {
    return el('div', { class: 'truncate', text: orDash(v), title: s(v) });
  }

  function statusBadge(c) {
    return el('span', { class: `badge tone-${statusTone(c.status)}`, text: statusLabel(c) });
  }

  const urgencyTag = (urgency, label) => G.urgencyTag(urgency, label); // 特急 (emergency) in red too

  function deadlineCell(c, dl) {
    if (dl.tone === 'none') return el('span', { class: 'muted', text: '—', title: dl.tip });
    return el('span', { class: `due due-${dl.tone}`, title: dl.tip }, [
      el('span', { class: `light light-${dl.tone}`, attrs: { 'aria-hidden': 'true' } }),
      el('span', { class: 'mono', text: fmtTime(c.due_at) }),
    ]);
  }

  function onRowActivate(ev) {
    const tr = ev.target.closest('tr[data-id]');
    if (!tr) return;
    if (ev.type === 'keydown' && ev.key !== 'Enter' && ev.key !== ' ') return;
    if (ev.type === 'keydown') ev.preventDefault();
    openCase(tr.dataset.id);
  }

  // ---------------------------------------------------------------------
  // Map
  // ---------------------------------------------------------------------

  const MAP_W = 360;
  const MAP_H = 320;
  const MAP_PAD = 10;
  const map = {
    project: null, // ([lon, lat]) -> [x, y]
    gridPaths: new Map(), // code -> path element (grid-level features)
    allPaths: new Map(), // code -> {path, feature props}
    dotLayer: null,
    gridLayer: null,
    pickLayer: null, // the point picked for a new report
    names: new Map(), // code -> name
    proj: null, // {minLon, maxLat, kx, scale, ox, oy}: for turning a click back into lon/lat
    gridRings: new Map(), // grid code -> rings of [lon, lat] (which grid a picked point is in)
    index: null, // G.areaIndex of the grids (the entry form's grid list)
    onPick: null, // set while the entry form waits for a click on the map
  };

  async function loadGrids() {
    try {
      const fc = await fetchJSON(API.grids);
      state.grids = fc;
      state.gridError = false;
      map.index = G.areaIndex(fc);
      setAlert('grids', null);
      drawMap();
      entry.refreshAreas();
    } catch (err) {
      if (err instanceof SignedOut) return;
      state.gridError = true;
      const box = $('map-empty');
      box.hidden = false;
      if (isForbidden(err)) {
        box.textContent = '当前账号无权查看网格数据';
        setAlert('grids', err.serverMessage || '当前账号无权查看网格数据。');
        return;
      }
      box.textContent = `网格数据加载失败（${describeError(err)}），稍后重试…`;
      setTimeout(loadGrids, 10000);
    }
  }

  /** Normalize a GeoJSON geometry into a list of rings of [lon, lat]. */
  function geometryRings(geom) {
    if (!geom || typeof geom !== 'object') return [];
    const valid = (ring) => Array.isArray(ring) && ring.length >= 3 &&
      ring.every((p) => Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]));
    if (geom.type === 'Polygon' && Array.isArray(geom.coordinates)) {
      return geom.coordinates.filter(valid);
    }
    if (geom.type === 'MultiPolygon' && Array.isArray(geom.coordinates)) {
      return geom.coordinates.flatMap((poly) => (Array.isArray(poly) ? poly.filter(valid) : []));
    }
    return [];
  }

  function drawMap() {
    const root = $('map');
    const features = Array.isArray(state.grids && state.grids.features) ? state.grids.features : [];
    const shapes = [];
    let minLon = Infinity, maxLon = -Infinity, minLat = Infinity, maxLat = -Infinity;
    for (const f of features) {
      const props = (f && f.properties) || {};
      const rings = geometryRings(f && f.geometry);
      if (!rings.length) continue;
      for (const ring of rings) {
        for (const [lon, lat] of ring) {
          if (lon < minLon) minLon = lon;
          if (lon > maxLon) maxLon = lon;
          if (lat < minLat) minLat = lat;
          if (lat > maxLat) maxLat = lat;
        }
      }
      const level = ['district', 'street', 'community', 'grid'].includes(props.level) ? props.level : 'grid';
      shapes.push({ code: s(props.code), name: s(props.name), parent: s(props.parent_code), level, rings });
    }
    const empty = $('map-empty');
    if (!shapes.length) {
      root.replaceChildren();
      empty.textContent = '暂无网格数据';
      empty.hidden = false;
      return;
    }
    empty.hidden = true;

    // Equirectangular projection, longitude scaled by cos(mid latitude), y flipped.
    const kx = Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180);
    const spanX = Math.max((maxLon - minLon) * kx, 1e-9);
    const spanY = Math.max(maxLat - minLat, 1e-9);
    const scale = Math.min((MAP_W - 2 * MAP_PAD) / spanX, (MAP_H - 2 * MAP_PAD) / spanY);
    const ox = (MAP_W - spanX * scale) / 2;
    const oy = (MAP_H - spanY * scale) / 2;
    map.project = ([lon, lat]) => [ox + (lon - minLon) * kx * scale, oy + (maxLat - lat) * scale];
    map.proj = { minLon, maxLat, kx, scale, ox, oy };
    map.gridRings = new Map(shapes.filter((sh) => sh.level === 'grid').map((sh) => [sh.code, sh.rings]));

    const pathData = (rings) => rings.map((ring) => 'M' + ring.map((p) => {
      const [x, y] = map.project(p);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    }).join('L') + 'Z').join('');

    map.names = new Map(shapes.map((sh) => [sh.code, sh.name]));
    map.gridPaths.clear();
    map.allPaths.clear();

    const layers = {
      grid: svg('g', { class: 'lyr-grid' }),
      street: svg('g', { class: 'lyr-street' }),
      community: svg('g', { class: 'lyr-community' }),
      district: svg('g', { class: 'lyr-district' }),
      labels: svg('g', { class: 'lyr-labels', 'aria-hidden': 'true' }),
      dots: svg('g', { class: 'lyr-dots' }),
      pick: svg('g', { class: 'lyr-pick', 'aria-hidden': 'true' }),
    };
    for (const sh of shapes) {
      const path = svg('path', {
        d: pathData(sh.rings),
        class: `shape shape-${sh.level}`,
        'fill-rule': 'evenodd',
        'data-code': sh.code,
      });
      if (sh.level === 'grid') {
        path.append(svgTitle(gridTitle(sh.code, sh.name, sh.parent, 0)));
        map.gridPaths.set(sh.code, { path, name: sh.name, parent: sh.parent });
      }
      map.allPaths.set(sh.code, path);
      layers[sh.level].append(path);
      if (sh.level === 'community') {
        const [cx, cy] = ringCentroid(sh.rings[0].map(map.project));
        layers.labels.append(svg('text', { x: cx.toFixed(1), y: cy.toFixed(1), class: 'map-label' },
          [document.createTextNode(sh.name)]));
      }
    }
    map.gridLayer = layers.grid;
    map.dotLayer = layers.dots;
    map.pickLayer = layers.pick;
    root.setAttribute('viewBox', `0 0 ${MAP_W} ${MAP_H}`);
    root.replaceChildren(layers.grid, layers.street, layers.community, layers.district, layers.labels, layers.dots, layers.pick);
    renderMapCases(state.items);
    showPickPoint(pickPoint);
  }

  // -- a point picked on the map for a new report (录入案件) -------------------------------------

  let pickPoint = null; // {lon, lat, grid_code} shown on the map

  /** SVG coordinates of a click → [lon, lat] (the inverse of map.project). */
  function unproject(x, y) {
    const p = map.proj;
    return [p.minLon + (x - p.ox) / (p.kx * p.scale), p.maxLat - (y - p.oy) / p.scale];
  }

  /** The grid a point lies in (even-odd over its rings), or ''. */
  function gridAt(lon, lat) {
    for (const [code, rings] of map.gridRings) {
      let inside = false;
      for (const ring of rings) {
        for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
          const [xi, yi] = ring[i];
          const [xj, yj] = ring[j];
          if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
        }
      }
      if (inside) return code;
    }
    return '';
  }

  function onMapPick(ev) {
    if (!map.onPick || !map.proj) return false;
    const root = $('map');
    const ctm = root.getScreenCTM();
    if (!ctm) return false;
    const pt = root.createSVGPoint();
    pt.x = ev.clientX;
    pt.y = ev.clientY;
    const { x, y } = pt.matrixTransform(ctm.inverse());
    const [lon, lat] = unproject(x, y);
    const done = map.onPick;
    ev.preventDefault();
    ev.stopPropagation();
    done({ lon: Number(lon.toFixed(6)), lat: Number(lat.toFixed(6)), grid_code: gridAt(lon, lat) });
    return true;
  }

  const mapPicker = {
    startPick(onPick) {
      map.onPick = onPick;
      $('map').closest('.map-card').classList.add('picking');
      $('map-hint').textContent = '点击地图选择问题位置（Esc 取消）';
    },
    stopPick() {
      map.onPick = null;
      $('map').closest('.map-card').classList.remove('picking');
      renderMapCases(state.items);
    },
    showPoint(pt) {
      showPickPoint(pt);
    },
  };

  function showPickPoint(pt) {
    pickPoint = pt || null;
    if (!map.pickLayer || !map.project) return;
    if (!pickPoint) {
      map.pickLayer.replaceChildren();
      return;
    }
    const [x, y] = map.project([pickPoint.lon, pickPoint.lat]);
    map.pickLayer.replaceChildren(
      svg('circle', { cx: x.toFixed(1), cy: y.toFixed(1), r: 11, class: 'pick-halo' }),
      svg('path', { d: `M${x.toFixed(1)},${y.toFixed(1)}m-7,0h14m-7,-7v14`, class: 'pick-cross' }),
      svg('circle', { cx: x.toFixed(1), cy: y.toFixed(1), r: 3.2, class: 'pick-dot', 'data-picked': 'true' }),
    );
  }

  function gridTitle(code, name, parent, n) {
    const parentName = map.names.get(parent);
    const head = parentName ? `${name || code}（${parentName}）` : name || code;
    return n > 0 ? `${head}\n在办案件 ${n} 件` : head;
  }

  /** Area-weighted centroid of a projected ring. */
  function ringCentroid(pts) {
    let a = 0, cx = 0, cy = 0;
    for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
      const f = pts[j][0] * pts[i][1] - pts[i][0] * pts[j][1];
      a += f;
      cx += (pts[j][0] + pts[i][0]) * f;
      cy += (pts[j][1] + pts[i][1]) * f;
    }
    if (Math.abs(a) < 1e-9) {
      const n = pts.length || 1;
      return [pts.reduce((t, p) => t + p[0], 0) / n, pts.reduce((t, p) => t + p[1], 0) / n];
    }
    return [cx / (3 * a), cy / (3 * a)];
  }

  function validLocation(loc) {
    return loc && typeof loc === 'object' &&
      Number.isFinite(loc.lat) && Number.isFinite(loc.lon) &&
      Math.abs(loc.lat) <= 90 && Math.abs(loc.lon) <= 180;
  }

  function renderMapCases(visible) {
    if (!map.project || !map.dotLayer) {
      $('map-hint').textContent = state.gridError ? '网格数据不可用' : '—';
      return;
    }
    // Heat shading of grids by number of active cases among all listed cases.
    const active = new Map();
    for (const c of state.items) {
      if (ACTIVE.has(c.status) && typeof c.grid_code === 'string') {
        active.set(c.grid_code, (active.get(c.grid_code) || 0) + 1);
      }
    }
    const byGrid = activityByGrid();
    for (const [code, g] of map.gridPaths) {
      const n = active.get(code) || 0;
      const a = byGrid ? byGrid.get(code) : null;
      g.path.setAttribute('class', a ? `shape shape-grid activity-${activityState(a)}` : `shape shape-grid heat-${Math.min(n, 3)}`);
      g.path.firstChild.textContent = gridTitle(code, g.name, g.parent, n) + (a ? `\n${ACTIVITY_STATES[activityState(a)]}` : '');
    }

    // Highlight the selected case's grid (or whatever feature matches its code).
    for (const p of map.allPaths.values()) p.classList.remove('selected');
    const sel = selectedCase();
    if (sel && typeof sel.grid_code === 'string') {
      const p = map.allPaths.get(sel.grid_code);
      if (p) {
        p.classList.add('selected');
        p.parentNode.append(p); // draw on top of its siblings
      }
    }

    const dots = [];
    let located = 0;
    let selectedDot = null;
    for (const c of visible) {
      if (!validLocation(c.location)) continue;
      located += 1;
      const [x, y] = map.project([c.location.lon, c.location.lat]);
      const isSel = c.case_id === state.selectedId;
      const dot = svg('circle', {
        cx: x.toFixed(1),
        cy: y.toFixed(1),
        r: isSel ? 7 : 5,
        class: `dot tone-${statusTone(c.status)}${isSel ? ' selected' : ''}${isOverdue(c) ? ' overdue' : ''}`,
        tabindex: '0',
        role: 'button',
        'data-id': c.case_id,
      }, [svgTitle(`${orDash(c.case_no)} · ${statusLabel(c)}\n${s(c.category_name)} · ${s(c.grid_name)}`)]);
      if (isSel) selectedDot = dot;
      else dots.push(dot);
    }
    if (selectedDot) dots.push(selectedDot); // selected dot on top
    map.dotLayer.replaceChildren(...dots);
    if (map.onPick) return; // the hint says how to pick a point
    $('map-hint').textContent = byGrid
      ? `红色为${activity.data.day === G.todayShanghai() ? '今日' : `${activity.data.day} `}未报告网格（${activity.data.silent} 个）`
      : `网格 ${map.gridPaths.size} 个 · 定位案件 ${located} 件`;
  }

  function onDotActivate(ev) {
    if (ev.type === 'click' && onMapPick(ev)) return;
    const dot = ev.target.closest && ev.target.closest('circle[data-id]');
    if (!dot) return;
    if (ev.type === 'keydown' && ev.key !== 'Enter' && ev.key !== ' ') return;
    if (ev.type === 'keydown') ev.preventDefault();
    openCase(dot.getAttribute('data-id'));
  }

  function renderLegend() {
    const items = [
      ['reported', '待派遣'], ['triage', '待分拣'], ['dispatched', '已派遣'], ['signed', '已签收'],
      ['returned', '已退回'], ['resolved', '已办结'], ['closed', '已结案'],
    ];
    const lis = items.map(([tone, label]) =>
      el('li', {}, [el('span', { class: `legend-dot tone-${tone}`, attrs: { 'aria-hidden': 'true' } }), label]));
    lis.push(el('li', {}, [el('span', { class: 'legend-ring', attrs: { 'aria-hidden': 'true' } }), '超期']));
    lis.push(el('li', {}, [el('span', { class: 'legend-sel', attrs: { 'aria-hidden': 'true' } }), '所选案件网格']));
    if (activityByGrid()) {
      for (const [key, label] of Object.entries(ACTIVITY_STATES)) {
        lis.push(el('li', {}, [el('span', { class: `legend-area activity-${key}`, attrs: { 'aria-hidden': 'true' } }), `网格${label}`]));
      }
    }
    $('legend').replaceChildren(...lis);
  }

  // ---------------------------------------------------------------------
  // 网格上报情况: each grid's reports and 零上报 check-ins of a day (GET /api/v1/app/activity)
  // ---------------------------------------------------------------------

  const ACTIVITY_STATES = { reported: '已上报', zero: '已零上报', silent: '未报告' };
  const ACTIVITY_REFRESH_MS = 60000;
  const activity = {
    view: 'cases', // the table card's view: cases | activity | orders (督办超期)
    day: '', // YYYY-MM-DD (Beijing); '' until the first load (today)
    data: null, // {day, silent, grids: [...]}
    error: '',
    loading: false,
    silentOnly: false,
    seq: 0,
    lastLoad: 0,
  };

  const activityState = (g) => (g.reports > 0 ? 'reported' : g.checkins > 0 ? 'zero' : 'silent');

  /** The grids' states for the map, while the 网格上报情况 view shows. */
  function activityByGrid() {
    if (activity.view !== 'activity' || !activity.data) return null;
    return new Map(activity.data.grids.map((g) => [g.grid_code, g]));
  }

  async function loadActivity() {
    const seq = ++activity.seq;
    const day = activity.day || G.todayShanghai();
    activity.loading = true;
    activity.lastLoad = Date.now();
    renderActivity();
    try {
      const data = await fetchJSON(`/api/v1/app/activity?day=${encodeURIComponent(day)}`);
      if (seq !== activity.seq) return;
      const grids = G.objects(data && data.grids)
        .filter((g) => typeof g.grid_code === 'string')
        .map((g) => ({
          grid_code: g.grid_code,
          grid_name: s(g.grid_name) || g.grid_code,
          worker: s(g.worker),
          reports: Number.isFinite(g.reports) ? g.reports : 0,
          checkins: Number.isFinite(g.checkins) ? g.checkins : 0,
        }));
      activity.data = {
        day: s(data && data.day) || day,
        grids,
        silent: Number.isFinite(data && data.silent) ? data.silent : grids.filter((g) => activityState(g) === 'silent').length,
      };
      activity.day = activity.data.day;
      activity.error = '';
    } catch (err) {
      if (err instanceof SignedOut || seq !== activity.seq) return;
      activity.error = isForbidden(err)
        ? err.serverMessage || '当前账号无权查看网格上报情况。'
        : `网格上报情况加载失败（${describeError(err)}），请点“刷新”重试。`;
    } finally {
      if (seq === activity.seq) {
        activity.loading = false;
        renderActivity();
        renderLegend();
        renderMapCases(state.items);
      }
    }
  }

  function renderActivity() {
    const data = activity.data;
    const today = G.todayShanghai();
    const dayInput = $('activity-day');
    if (document.activeElement !== dayInput) dayInput.value = activity.day || today;
    dayInput.max = today;
    const badge = $('activity-badge');
    badge.hidden = !data || data.silent === 0;
    badge.textContent = data ? String(data.silent) : '';
    badge.title = data ? `${data.day === today ? '今日' : data.day} 未报告网格 ${data.silent} 个` : '';
    const isToday = !data || data.day === today;
    $('activity-reports-head').textContent = isToday ? '今日上报' : '当日上报';
    const summary = $('activity-summary');
    summary.classList.toggle('activity-summary-bad', !!data && data.silent > 0);
    if (activity.error) {
      summary.textContent = activity.error;
      summary.classList.add('activity-summary-bad');
    } else if (!data) {
      summary.textContent = activity.loading ? '加载中…' : '—';
    } else {
      const n = data.grids.length;
      summary.replaceChildren(
        el('span', { text: `${isToday ? '今日' : data.day}：共 ${n} 个网格，` }),
        el('b', { class: data.silent > 0 ? 'activity-silent-count' : 'activity-ok-count', attrs: { id: 'activity-silent-count' }, text: `未报告 ${data.silent} 个` }),
        el('span', { text: `，已上报 ${data.grids.filter((g) => g.reports > 0).length} 个，已零上报 ${data.grids.filter((g) => activityState(g) === 'zero').length} 个` }),
      );
    }
    const rows = data ? data.grids.filter((g) => !activity.silentOnly || activityState(g) === 'silent') : [];
    $('activity-rows').replaceChildren(...rows.map((g) => {
      const st = activityState(g);
      const area = map.index ? map.index.byCode.get(g.grid_code) : null;
      const community = area && map.index ? map.index.name(area.parent) : '';
      return el('tr', {
        class: `activity-row activity-row-${st}`,
        dataset: { grid: g.grid_code, state: st },
        attrs: { tabindex: '0' },
        title: '在地图上标出该网格',
        on: {
          click: () => highlightGrid(g.grid_code),
          keydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); highlightGrid(g.grid_code); } },
        },
      }, [
        el('td', { class: 'col-a-grid' }, [el('div', { class: 'truncate', text: g.grid_name, title: g.grid_name })]),
        el('td', { class: 'col-a-comm muted' }, [el('div', { class: 'truncate', text: orDash(community) })]),
        el('td', { class: 'col-a-worker', text: orDash(g.worker) }),
        el('td', { class: 'col-a-num num', text: String(g.reports) }),
        el('td', { class: 'col-a-num num', text: String(g.checkins) }),
        el('td', { class: 'col-a-state' }, [el('span', { class: `a-state a-state-${st}`, text: ACTIVITY_STATES[st] })]),
      ]);
    }));
    const empty = $('activity-empty');
    empty.hidden = !data || rows.length > 0;
    empty.textContent = activity.silentOnly ? '所有网格均已上报或零上报' : '暂无网格';
    $('activity-foot').textContent = data
      ? `${data.day}（北京时间）· 显示 ${rows.length} 个网格 · 更新于 ${fmtFull(activity.lastLoad).slice(11)}`
      : '—';
  }

  /** A grid of the board, outlined on the map. */
  function highlightGrid(code) {
    for (const p of map.allPaths.values()) p.classList.remove('selected');
    const p = map.allPaths.get(code);
    if (p) {
      p.classList.add('selected');
      p.parentNode.append(p);
    }
    for (const tr of document.querySelectorAll('#activity-rows tr')) tr.classList.toggle('selected', tr.dataset.grid === code);
  }

  function setView(view) {
    activity.view = VIEWS.includes(view) ? view : 'cases';
    for (const tab of document.querySelectorAll('.view-tab')) {
      const on = tab.dataset.view === activity.view;
      tab.classList.toggle('active', on);
      tab.setAttribute('aria-selected', on ? 'true' : 'false');
      tab.tabIndex = on ? 0 : -1;
    }
    $('view-cases').hidden = activity.view !== 'cases';
    $('view-activity').hidden = activity.view !== 'activity';
    $('view-orders').hidden = activity.view !== 'orders';
    if (activity.view === 'activity') loadActivity();
    if (activity.view === 'orders') loadOrders();
    renderLegend();
    renderMapCases(state.items);
  }

  // ---------------------------------------------------------------------
  // 督办超期: supervision orders past their reply deadline and still unanswered
  // ---------------------------------------------------------------------

  const VIEWS = ['cases', 'activity', 'orders'];
  const ORDERS_LIMIT = 200;
  const orders = { items: [], departments: new Map(), loaded: false, error: '', seq: 0, lastLoad: 0 };

  async function loadOrders() {
    const seq = ++orders.seq;
    try {
      const list = await fetchJSON(`/api/v1/supervision-orders?status=overdue&limit=${ORDERS_LIMIT}`);
      if (seq !== orders.seq) return;
      orders.items = G.objects(list).filter((o) => o.id != null && typeof o.case_id === 'string');
      orders.loaded = true;
      orders.error = '';
      orders.lastLoad = Date.now();
      if (orders.items.some((o) => !orders.departments.has(s(o.department_code)))) {
        try {
          const deps = await G.refList('departments', api);
          orders.departments = new Map(deps.map((dep) => [s(dep.code), s(dep.name)]));
        } catch (err) {
          // the codes are shown instead
        }
      }
    } catch (err) {
      if (err instanceof SignedOut || seq !== orders.seq) return;
      orders.error = isForbidden(err)
        ? err.serverMessage || '当前账号无权查看督办单。'
        : `督办单加载失败（${describeError(err)}），请点“刷新”重试。`;
    }
    if (seq === orders.seq) renderOrders();
  }

  function renderOrders() {
    const n = orders.items.length;
    const badge = $('orders-badge');
    badge.hidden = !orders.loaded || n === 0;
    badge.textContent = n >= ORDERS_LIMIT ? `${ORDERS_LIMIT}+` : String(n);
    badge.title = `超期未回复的督办单 ${n} 件`;
    const summary = $('orders-summary');
    summary.classList.toggle('orders-summary-bad', !!orders.error || n > 0);
    summary.textContent = orders.error || (!orders.loaded ? '加载中…'
      : n ? `超期未回复的督办单 ${n >= ORDERS_LIMIT ? `${ORDERS_LIMIT} 件以上` : `${n} 件`}，请督促承办部门回复`
        : '所有督办单均在回复时限内或已回复');
    const now = serverNow();
    $('orders-rows').replaceChildren(...orders.items.map((o) => {
      const open = () => openCase(o.case_id);
      const due = parseTime(o.reply_due_at);
      const dept = orders.departments.get(s(o.department_code)) || s(o.department_code);
      return el('tr', {
        class: `activity-row order-row${o.case_id === state.selectedId ? ' selected' : ''}`,
        dataset: { orderId: String(o.id), caseId: o.case_id },
        attrs: { tabindex: '0' },
        title: '查看案件',
        on: {
          click: (e) => { if (!e.target.closest('a')) open(); },
          keydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } },
        },
      }, [
        el('td', { class: 'col-o-no' }, [G.caseLink(o)]),
        el('td', { class: 'col-o-issuer' }, [el('div', { class: 'truncate', text: orDash(o.issuer_label), title: s(o.issued_by_label) })]),
        el('td', { class: 'col-o-reason' }, [el('div', { class: 'truncate', text: orDash(o.reason), title: s(o.reason) })]),
        el('td', { class: 'col-o-dept' }, [el('div', { class: 'truncate', text: orDash(dept), title: dept })]),
        el('td', { class: 'col-o-due' }, [el('span', { class: 'due due-red', title: `回复时限 ${fmtFull(due)}` }, [
          el('span', { class: 'light light-red', attrs: { 'aria-hidden': 'true' } }),
          el('span', { class: 'mono', text: fmtTime(o.reply_due_at) }),
        ])]),
        el('td', { class: 'col-o-late order-late', text: Number.isNaN(due) || now < due ? '—' : fmtDuration(now - due) }),
      ]);
    }));
    $('orders-empty').hidden = !orders.loaded || n > 0;
    $('orders-foot').textContent = orders.loaded ? `显示 ${n} 件 · 更新于 ${fmtFull(orders.lastLoad).slice(11)}` : '—';
  }

  // ---------------------------------------------------------------------
  // 录入案件: the operator's entry form (entry.js), its point picked on the map
  // ---------------------------------------------------------------------

  const entry = window.GridcaseEntry.create({
    request: (url, opts) => api(url, opts),
    areas: () => map.index,
    map: mapPicker,
    onCreated: ({ caseId, caseNo, again }) => {
      showToast(again ? `该录入已受理过：案件编号 ${caseNo}` : `已受理：案件编号 ${caseNo}`);
      refreshLists();
      if (activity.data) loadActivity();
      openCase(caseId);
    },
  });

  let toastTimer = null;
  function showToast(text) {
    const box = $('toast');
    box.textContent = text;
    box.hidden = !text;
    clearTimeout(toastTimer);
    if (text) toastTimer = setTimeout(() => { box.hidden = true; }, 15000);
  }

  function openEntry() {
    if (state.selectedId) closePanel();
    entry.open();
  }

  // ---------------------------------------------------------------------
  // Detail panel
  // ---------------------------------------------------------------------

  let detailSeq = 0;

  function selectedCase() {
    if (!state.selectedId) return null;
    if (state.detail && state.detail.case_id === state.selectedId) return state.detail;
    return state.items.find((c) => c.case_id === state.selectedId) || null;
  }

  function openCase(id, { fromHash = false } = {}) {
    if (typeof id !== 'string' || id === '') return;
    const changed = id !== state.selectedId;
    state.selectedId = id;
    if (changed) {
      state.detail = null;
      state.detailError = null;
      state.newEventIds.clear();
      resetReveal(id);
    }
    const panel = $('panel');
    panel.classList.add('open');
    panel.setAttribute('aria-hidden', 'false');
    document.body.classList.add('panel-open');
    if (!fromHash) {
      const hash = `#case=${encodeURIComponent(id)}`;
      if (location.hash !== hash) history.replaceState(null, '', hash);
    }
    renderDetail();
    renderAll();
    if (changed) loadDetail(id);
  }

  function closePanel() {
    state.selectedId = null;
    state.detail = null;
    state.detailError = null;
    resetReveal();
    detailSeq += 1; // drop in-flight responses
    const panel = $('panel');
    panel.classList.remove('open');
    panel.setAttribute('aria-hidden', 'true');
    document.body.classList.remove('panel-open');
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
    renderAll();
  }

  async function loadDetail(id) {
    const token = ++detailSeq;
    try {
      const d = await fetchJSON(API.detail(id));
      if (token !== detailSeq || state.selectedId !== id) return;
      if (!d || typeof d !== 'object') throw new Error('bad payload');
      markNewEvents(d);
      state.detail = d;
      state.detailError = null;
    } catch (err) {
      if (err instanceof SignedOut) return;
      if (token !== detailSeq || state.selectedId !== id) return;
      state.detailError = err instanceof HttpError && err.status === 404
        ? '未找到该案件，可能已被撤销或无权查看。'
        : isForbidden(err)
          ? err.serverMessage || '当前账号无权查看该案件。'
          : `案件详情加载失败（${describeError(err)}）。`;
    }
    renderDetail();
    renderMapCases(state.items);
  }

  function markNewEvents(d) {
    const events = Array.isArray(d.events) ? d.events : [];
    const maxSeq = events.reduce((m, e) => (Number.isFinite(e && e.seq) ? Math.max(m, e.seq) : m), -Infinity);
    const seen = state.seenEventSeq.get(d.case_id);
    state.newEventIds.clear();
    if (seen !== undefined) {
      for (const e of events) {
        if (e && Number.isFinite(e.seq) && e.seq > seen) state.newEventIds.add(s(e.event_id) || String(e.seq));
      }
    }
    if (Number.isFinite(maxSeq)) state.seenEventSeq.set(d.case_id, maxSeq);
  }

  // The panel body in three parts: the case (re-rendered), its actions (one element that stays in
  // the page, so a half-filled form survives live refreshes), and its history (re-rendered).
  const actions = window.GridcaseActions.create({
    request: (url, opts) => api(url, opts),
    onDone: ({ caseId }) => {
      if (state.selectedId === caseId) loadDetail(caseId);
      refreshLists();
    },
  });
  // 督办 (supervision orders): like the actions, one element that stays (a half-written order survives).
  const supervision = window.GridcaseActions.createSupervision({
    request: (url, opts) => api(url, opts),
    permissions: () => auth.permissions,
    onDone: ({ caseId }) => {
      if (state.selectedId === caseId) loadDetail(caseId);
      loadOrders();
    },
  });
  const panelParts = { top: null, acts: null, sup: null, rest: null };

  function ensurePanelParts() {
    if (panelParts.top) return;
    panelParts.top = el('div', { class: 'panel-part', attrs: { id: 'panel-top' } });
    panelParts.acts = el('div', { class: 'panel-part', attrs: { id: 'panel-acts' } }, [actions.root]);
    panelParts.sup = el('div', { class: 'panel-part', attrs: { id: 'panel-sup' } }, [supervision.root]);
    panelParts.rest = el('div', { class: 'panel-part', attrs: { id: 'panel-rest' } });
    $('panel-body').replaceChildren(panelParts.top, panelParts.acts, panelParts.sup, panelParts.rest);
  }

  function renderDetail() {
    ensurePanelParts();
    const id = state.selectedId;
    if (!id) {
      panelParts.top.replaceChildren();
      panelParts.rest.replaceChildren();
      actions.reset();
      supervision.reset();
      return;
    }
    const d = state.detail && state.detail.case_id === id ? state.detail : null;
    const summary = d || state.items.find((c) => c.case_id === id) || null;
    $('panel-title').textContent = summary
      ? orDash(summary.case_no)
      : state.detailError ? '无法显示' : '加载中…';

    const parts = [];
    const rest = [];
    if (state.detailError) {
      parts.push(el('div', { class: 'panel-error', attrs: { role: 'alert' } }, [
        el('span', { text: state.detailError }),
        el('button', {
          class: 'link-btn', text: '重试', attrs: { type: 'button' },
          on: { click: () => { state.detailError = null; renderDetail(); loadDetail(id); } },
        }),
      ]));
    }
    if (!summary) {
      if (!state.detailError) parts.push(el('div', { class: 'panel-loading', text: '正在加载案件详情…' }));
      replacePart(panelParts.top, parts);
      replacePart(panelParts.rest, rest);
      actions.reset();
      supervision.reset();
      return;
    }

    const dl = deadline(summary);
    parts.push(el('div', { class: 'panel-tags' }, [
      statusBadge(summary),
      urgencyTag(s(summary.urgency), summary.urgency_label),
      dl.tone === 'red' ? el('span', { class: 'tag-overdue', text: '已超期' }) : null,
      G.bounceTag(summary),
      el('span', { class: 'panel-cat', text: orDash(summary.category_name) }),
      ...G.intakeTags(d),
      ...G.pendingTags(summary),
    ]));
    parts.push(G.bounceBanner(summary));
    if (d) {
      parts.push(G.likelyDuplicateNotice(d, { onMerge: () => actions.open('mark_duplicate') }));
      parts.push(G.handedDownBox(d));
    }
    parts.push(summary.description_hidden === true
      ? el('p', { class: 'panel-desc panel-desc-hidden', text: DESCRIPTION_HIDDEN })
      : el('p', { class: 'panel-desc', text: orDash(summary.description) }));

    const fields = [
      ['来源', orDash(summary.channel_label)],
      ['网格', orDash(summary.grid_name)],
      ['责任部门', s(summary.department_name) || '未派遣'],
      G.handlerField(summary, { id: 'handler-now' }),
      ['层级', orDash(summary.level_label)],
      ['上报时间', fmtTime(summary.created_at)],
      ['派遣时间', fmtTime(summary.dispatched_at)],
      ['处置时限', deadlineCell(summary, dl), dl.tone === 'none' ? null : dl.tip.split('\n').slice(1).join(' ')],
    ];
    if (d) {
      if (d.location_hidden === true) fields.push(['位置', el('span', { class: 'muted', text: LOCATION_HIDDEN })]);
      fields.push(['地址', orDash(d.address)]);
      fields.push(...G.intakeFields(d));
      const rep = d.reporter && typeof d.reporter === 'object' ? d.reporter : null;
      const repText = rep ? [s(rep.name), s(rep.phone)].filter(Boolean).join('　') : '';
      fields.push(['上报人', repText || '—']);
      if (rep && s(rep.id_number)) fields.push(['证件号码', el('span', { class: 'mono', text: s(rep.id_number) })]);
      const triage = d.status === 'triage' ? triageReason(d) : '';
      if (triage) fields.push(['分拣原因', el('span', { class: 'triage-reason', text: triage, attrs: { id: 'triage-reason' } })]);
      // What the model read from the text: its top three, best first (the operator picks one at dispatch).
      const sugs = Array.isArray(d.category_suggestions)
        ? d.category_suggestions.filter((x) => x && typeof x === 'object' && typeof x.code === 'string')
        : [];
      if (d.status === 'triage' && sugs.length) {
        const text = sugs
          .map((x) => `${s(x.name) || x.code}（${Math.round((Number(x.confidence) || 0) * 100)}%）`)
          .join('、');
        fields.push(['推荐类别', el('span', { text, attrs: { id: 'category-suggestions' } })]);
      }
      if (d.duplicate_of && typeof d.duplicate_of === 'object') {
        fields.push(['并入案件', caseLink(d.duplicate_of)]);
      }
      const dups = Array.isArray(d.duplicates) ? d.duplicates.filter((x) => x && typeof x === 'object') : [];
      if (dups.length) fields.push(['重复件', el('span', {}, dups.flatMap((x, i) => [i ? '、' : null, caseLink(x)]))]);
    }
    parts.push(fieldList(fields));
    if (d) {
      parts.push(revealSection(d));
      parts.push(G.pendingBox(d.pending_requests));
      parts.push(G.clockSection(d));
    }

    if (d) {
      const assists = G.assistList(d.assists);
      if (assists) rest.push(el('h3', { class: 'panel-section', text: '协办部门' }), assists);
      const photos = Array.isArray(d.photos) ? d.photos : [];
      if (photos.length) {
        rest.push(el('h3', { class: 'panel-section', text: `现场照片（${photos.length}）` }), G.photoGrid(photos));
      }
      const attachments = G.attachmentList(d);
      if (attachments) rest.push(el('h3', { class: 'panel-section', text: '渠道附件' }), attachments);
    }
    rest.push(el('h3', { class: 'panel-section', text: '处置时间线' }));
    if (!d) {
      rest.push(el('div', { class: 'panel-loading', text: state.detailError ? '—' : '正在加载…' }));
    } else {
      rest.push(G.timeline(d.events, { photos: d.photos, newIds: state.newEventIds }));
      rest.push(el('h3', { class: 'panel-section', text: '通知记录' }));
      rest.push(notifications(d.notifications));
    }
    replacePart(panelParts.top, parts);
    if (d) {
      actions.render(d);
      supervision.render(d);
    } else {
      actions.reset();
      supervision.reset();
    }
    replacePart(panelParts.rest, rest);
  }

  /** Replace a part's children, keeping keyboard focus on the same control (by id). */
  function replacePart(part, nodes) {
    const active = document.activeElement;
    const focusId = active && part.contains(active) && active.id ? active.id : null;
    part.replaceChildren(...nodes.filter(Boolean));
    if (focusId) {
      const again = document.getElementById(focusId);
      if (again && again !== document.activeElement && !again.disabled) again.focus({ preventScroll: true });
    }
  }

  const caseLink = (ref) => G.caseLink(ref);

  function fieldList(fields) {
    return el('dl', { class: 'fields' }, fields.filter(Boolean).flatMap(([k, v, extra]) => [
      el('dt', { text: k }),
      el('dd', {}, [v, extra ? el('span', { class: 'field-extra', text: extra }) : null]),
    ]));
  }

  // -- reveal residents' contact data (audited) -----------------------------

  // One case at a time; cleared when the panel closes or shows another case,
  // so clear contact data never outlives the panel it was asked for in.
  const reveal = {
    caseId: null,
    open: false, // the reason form is showing
    busy: false,
    error: '',
    result: null, // {reporter, address, description} in clear
    input: null, // the reason <input>, kept across re-renders (value, caret)
  };

  function resetReveal(caseId = null) {
    reveal.caseId = caseId;
    reveal.open = false;
    reveal.busy = false;
    reveal.error = '';
    reveal.result = null;
    reveal.input = null;
  }

  function revealSection(d) {
    if (reveal.caseId !== d.case_id) resetReveal(d.case_id);
    if (reveal.result) return revealResult(d);
    const viewer = d.viewer && typeof d.viewer === 'object' ? d.viewer : {};
    if (viewer.can_reveal !== true) return null;
    if (!reveal.open) {
      return el('div', { class: 'reveal' }, [
        el('span', { class: 'reveal-hint', text: '居民联系方式已脱敏显示' }),
        el('button', {
          class: 'btn btn-secondary',
          text: '查看联系方式',
          attrs: { type: 'button', id: 'reveal-button', 'aria-expanded': 'false' },
          on: { click: () => openRevealForm() },
        }),
      ]);
    }
    if (!reveal.input) {
      reveal.input = el('input', {
        class: 'reveal-input',
        attrs: {
          id: 'reveal-reason',
          type: 'text',
          maxlength: String(REASON_MAX),
          required: true,
          autocomplete: 'off',
          placeholder: '例如：回访核实处置情况',
          'aria-describedby': 'reveal-note',
        },
        on: {
          input: () => {
            if (reveal.error) {
              reveal.error = '';
              renderDetail();
            }
          },
          keydown: (e) => {
            if (e.key === 'Escape') {
              e.stopPropagation(); // Esc cancels the form, not the whole panel
              closeRevealForm();
            }
          },
        },
      });
    }
    reveal.input.disabled = reveal.busy;
    if (reveal.error) reveal.input.setAttribute('aria-invalid', 'true');
    else reveal.input.removeAttribute('aria-invalid');
    const caseId = d.case_id;
    return el('form', {
      class: 'reveal reveal-open',
      attrs: { novalidate: true, 'aria-label': '查看居民联系方式' },
      on: { submit: (e) => submitReveal(e, caseId) },
    }, [
      el('label', { class: 'reveal-label', attrs: { for: 'reveal-reason' } }, [
        '查看原因', el('span', { class: 'req', text: '*', attrs: { 'aria-hidden': 'true' } }),
      ]),
      el('div', { class: 'reveal-row' }, [
        reveal.input,
        el('button', {
          class: 'btn btn-primary',
          text: reveal.busy ? '查看中…' : '确认',
          attrs: { type: 'submit', id: 'reveal-submit', disabled: reveal.busy },
        }),
        el('button', {
          class: 'btn btn-plain',
          text: '取消',
          attrs: { type: 'button', id: 'reveal-cancel', disabled: reveal.busy },
          on: { click: () => closeRevealForm() },
        }),
      ]),
      reveal.error ? el('div', { class: 'reveal-error', text: reveal.error, attrs: { role: 'alert' } }) : null,
      el('p', {
        class: 'reveal-note',
        text: `查看明文联系方式将记入审计日志，请如实填写原因（${REASON_MIN}–${REASON_MAX} 字）。`,
        attrs: { id: 'reveal-note' },
      }),
    ]);
  }

  function openRevealForm() {
    reveal.open = true;
    reveal.error = '';
    renderDetail();
    if (reveal.input) reveal.input.focus();
  }

  function closeRevealForm() {
    if (reveal.busy) return;
    reveal.open = false;
    reveal.error = '';
    reveal.input = null;
    renderDetail();
    const btn = $('reveal-button');
    if (btn) btn.focus();
  }

  async function submitReveal(ev, caseId) {
    ev.preventDefault();
    if (reveal.busy || reveal.caseId !== caseId || !reveal.input) return;
    const reason = reveal.input.value.trim();
    const n = [...reason].length;
    if (n < REASON_MIN || n > REASON_MAX) {
      reveal.error = `请填写查看原因（${REASON_MIN}–${REASON_MAX} 字）。`;
      renderDetail();
      reveal.input.focus();
      return;
    }
    reveal.busy = true;
    reveal.error = '';
    renderDetail();
    let ok = false;
    try {
      const r = await api(API.reveal(caseId), { method: 'POST', body: { reason } });
      if (reveal.caseId !== caseId) return;
      reveal.result = r && typeof r === 'object' ? r : {};
      reveal.open = false;
      reveal.input = null;
      ok = true;
    } catch (err) {
      if (err instanceof SignedOut || reveal.caseId !== caseId) return;
      reveal.error = err instanceof HttpError
        ? err.serverMessage || `查看失败（服务器返回 ${err.status}）。`
        : '查看失败（网络异常），请重试。';
    } finally {
      if (reveal.caseId === caseId) {
        reveal.busy = false;
        renderDetail();
      }
    }
    if (ok) {
      const box = $('reveal-result');
      if (box) box.focus({ preventScroll: false });
    } else if (reveal.input) {
      reveal.input.focus();
    }
  }

  function revealResult(d) {
    const r = reveal.result;
    const rep = r.reporter && typeof r.reporter === 'object' ? r.reporter : {};
    const fields = [
      ['上报人', orDash(rep.name)],
      ['联系电话', el('span', { class: 'mono', text: orDash(rep.phone), attrs: { id: 'revealed-phone' } })],
    ];
    if (s(rep.id_number)) fields.push(['证件号码', el('span', { class: 'mono', text: s(rep.id_number) })]);
    if (s(r.address)) fields.push(['地址', s(r.address)]);
    if (s(r.description) && s(r.description) !== s(d.description)) fields.push(['问题描述', s(r.description)]);
    return el('section', {
      class: 'reveal-result',
      attrs: { id: 'reveal-result', tabindex: '-1', 'aria-label': '居民联系方式（明文）' },
    }, [
      el('div', { class: 'reveal-result-head' }, [
        el('span', { class: 'reveal-result-title', text: '居民联系方式（明文）' }),
        el('button', {
          class: 'link-btn',
          text: '隐藏',
          attrs: { type: 'button', id: 'reveal-hide' },
          on: {
            click: () => {
              resetReveal(d.case_id);
              renderDetail();
              const btn = $('reveal-button');
              if (btn) btn.focus();
            },
          },
        }),
      ]),
      fieldList(fields),
      el('p', { class: 'reveal-audit', text: '本次查看已记入审计日志' }),
    ]);
  }

  function notifications(list) {
    const rows = (Array.isArray(list) ? list : []).filter((n) => n && typeof n === 'object');
    if (!rows.length) return el('div', { class: 'panel-empty', text: '暂无通知记录' });
    const head = el('tr', {}, ['渠道', '接收方', '状态', '次数', '送达时间'].map((t) => el('th', { text: t })));
    const body = rows.map((n) => {
      const st = s(n.status);
      const tone = st === 'delivered' ? 'ok' : st === 'failed' ? 'bad' : 'pending';
      return el('tr', {}, [
        el('td', { text: s(n.channel_label) || orDash(n.channel) }),
        el('td', {}, [el('div', { class: 'truncate', text: orDash(n.target), title: s(n.target) })]),
        el('td', {}, [
          el('span', { class: `nstat nstat-${tone}`, text: s(n.status_label) || orDash(n.status), title: s(n.last_error) }),
          s(n.last_error) ? el('div', { class: 'nerr', text: s(n.last_error) }) : null,
        ]),
        el('td', { class: 'num', text: Number.isFinite(n.attempts) ? String(n.attempts) : '—' }),
        el('td', { class: 'mono', text: fmtTime(n.delivered_at) }),
      ]);
    });
    return el('table', { class: 'ntable' }, [el('thead', {}, [head]), el('tbody', {}, body)]);
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

  function onHashChange() {
    const id = caseIdFromHash();
    if (id && id !== state.selectedId) openCase(id, { fromHash: true });
    else if (!id && state.selectedId) closePanel();
  }

  // ---------------------------------------------------------------------
  // Live updates: SSE with polling fallback
  // ---------------------------------------------------------------------

  let source = null;
  let hadStreamError = false;
  let reconnectTimer = null;
  let reconnectDelay = 3000;
  let pollTimer = null;
  let refreshTimer = null;
  const pendingIds = new Set();

  function setConn(mode) {
    const box = $('conn');
    box.className = `conn conn-${mode}`;
    const text = { connecting: '连接中…', live: '实时', reconnecting: '重连中…', polling: '定时刷新' }[mode];
    $('conn-text').textContent = text;
    box.title = mode === 'live' ? '实时推送已连接'
      : mode === 'reconnecting' ? `实时推送中断，每 ${POLL_INTERVAL_MS / 1000} 秒轮询刷新`
        : mode === 'polling' ? `当前账号未开通实时推送，每 ${POLL_NO_LIVE_MS / 1000} 秒刷新` : '';
  }

  function scheduleRefresh(caseId) {
    pendingIds.add(caseId || '*');
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(runRefresh, REFRESH_DEBOUNCE_MS);
  }

  function runRefresh() {
    const ids = new Set(pendingIds);
    pendingIds.clear();
    refreshLists();
    if (activity.data && Date.now() - activity.lastLoad > 10000) loadActivity();
    const id = state.selectedId;
    if (id && (ids.has('*') || ids.has(id))) loadDetail(id);
  }

  function startPolling(interval = POLL_INTERVAL_MS) {
    if (pollTimer || auth.redirecting) return;
    pollTimer = setInterval(() => {
      refreshLists();
      if (state.selectedId) loadDetail(state.selectedId);
    }, interval);
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  /** After /auth/me: the live stream if the account may read it, else a slower timer. */
  function startLive() {
    if (auth.redirecting) return;
    if (auth.permissions && !auth.permissions.has(LIVE_PERMISSION)) {
      setConn('polling');
      startPolling(POLL_NO_LIVE_MS);
      return;
    }
    connectStream();
  }

  /** Stop everything that fetches on its own (we are leaving the page). */
  function stopLive() {
    if (source) source.close();
    source = null;
    clearTimeout(reconnectTimer);
    clearTimeout(refreshTimer);
    clearTimeout(listRetryTimer);
    clearTimeout(auth.expiryTimer);
    stopPolling();
  }

  // EventSource can't see status codes: after a stream error ask /auth/me, whose 401 redirects.
  let lastSessionCheck = 0;
  function checkSessionAfterStreamError() {
    const now = Date.now();
    if (now - lastSessionCheck < SESSION_CHECK_MIN_MS) return;
    lastSessionCheck = now;
    loadMe().catch(() => {});
  }

  function connectStream() {
    clearTimeout(reconnectTimer);
    if (auth.redirecting) return;
    if (typeof window.EventSource !== 'function') {
      setConn('reconnecting');
      startPolling();
      return;
    }
    const es = new EventSource(API.stream);
    source = es;
    es.onopen = () => {
      if (source !== es) return;
      setConn('live');
      stopPolling();
      reconnectDelay = 3000;
      if (hadStreamError) scheduleRefresh(null); // catch up on anything missed
      hadStreamError = false;
    };
    const onMessage = (e) => {
      let data = null;
      try {
        data = JSON.parse(e.data);
      } catch (_) {
        data = null;
      }
      scheduleRefresh(data && typeof data.case_id === 'string' ? data.case_id : null);
    };
    es.addEventListener('case', onMessage);
    es.onmessage = onMessage; // unnamed events too
    es.onerror = () => {
      if (source !== es) return;
      checkSessionAfterStreamError();
      hadStreamError = true;
      setConn('reconnecting');
      startPolling();
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. HTTP error): retry ourselves with backoff.
        es.close();
        source = null;
        reconnectTimer = setTimeout(connectStream, reconnectDelay);
        reconnectDelay = Math.min(reconnectDelay * 2, 30000);
      }
    };
  }

  // ---------------------------------------------------------------------
  // Boot
  // ---------------------------------------------------------------------

  function tickClock() {
    $('clock').textContent = fmtFull(Date.now());
  }

  /** Keep the side panel below the header (its height depends on the viewport). */
  function syncHeaderHeight() {
    const h = document.querySelector('.topbar').getBoundingClientRect().height;
    document.documentElement.style.setProperty('--header-h', `${Math.round(h)}px`);
  }

  function init() {
    renderLegend();
    renderAll();
    syncHeaderHeight();
    if (typeof ResizeObserver === 'function') {
      new ResizeObserver(syncHeaderHeight).observe(document.querySelector('.topbar'));
    } else {
      window.addEventListener('resize', syncHeaderHeight);
    }
    tickClock();
    setInterval(tickClock, 1000);
    setInterval(() => {
      renderAll();
      if (state.selectedId) renderDetail();
    }, TICK_MS);

    const rows = $('case-rows');
    rows.addEventListener('click', onRowActivate);
    rows.addEventListener('keydown', onRowActivate);
    const mapEl = $('map');
    mapEl.addEventListener('click', onDotActivate);
    mapEl.addEventListener('keydown', onDotActivate);

    // The search goes to the server (q): digits are a case number or how it begins, text searches
    // descriptions and addresses (for roles that may read them; others get a 422 to show).
    let searchTimer = null;
    $('search').addEventListener('input', (e) => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => {
        const q = e.target.value.trim();
        if (q === state.query) return;
        state.query = q;
        setSearchError('');
        reloadForFilters();
      }, SEARCH_DEBOUNCE_MS);
    });
    $('more').addEventListener('click', loadMore);
    $('panel-close').addEventListener('click', closePanel);
    $('logout').addEventListener('click', logout);
    document.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape') return;
      if (entry.cancelPick()) return;
      if (entry.isOpen) entry.close();
      else if (state.selectedId) closePanel();
    });
    $('entry-open').addEventListener('click', openEntry);
    for (const tab of document.querySelectorAll('.view-tab')) {
      tab.addEventListener('click', () => setView(tab.dataset.view));
      tab.addEventListener('keydown', (e) => {
        if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
        e.preventDefault();
        const at = VIEWS.indexOf(activity.view);
        const next = VIEWS[(at + (e.key === 'ArrowRight' ? 1 : VIEWS.length - 1)) % VIEWS.length];
        setView(next);
        document.querySelector(`.view-tab[data-view="${next}"]`).focus();
      });
    }
    $('activity-day').addEventListener('change', (e) => {
      const v = e.target.value;
      if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) return;
      activity.day = v;
      activity.data = null;
      loadActivity();
    });
    $('activity-today').addEventListener('click', () => {
      activity.day = G.todayShanghai();
      loadActivity();
    });
    $('activity-refresh').addEventListener('click', loadActivity);
    $('orders-refresh').addEventListener('click', loadOrders);
    $('activity-silent-only').addEventListener('change', (e) => {
      activity.silentOnly = e.target.checked;
      renderActivity();
    });
    setInterval(() => {
      if (!auth.redirecting && document.visibilityState !== 'hidden') loadActivity();
    }, ACTIVITY_REFRESH_MS);
    window.addEventListener('hashchange', onHashChange);

    // A page restored from the back/forward cache after signing out must not stay usable.
    window.addEventListener('pageshow', (e) => {
      if (e.persisted) loadMe().catch(() => {});
    });

    setConn('connecting');
    bootSession();
    refreshLists();
    loadGrids();
    const hashId = caseIdFromHash();
    if (hashId) openCase(hashId, { fromHash: true });
  }

  /** Who is signed in first (it decides the live stream), retried while it fails. */
  async function bootSession() {
    try {
      await loadMe();
    } catch (err) {
      if (err instanceof SignedOut) return;
      setAlert('me', isForbidden(err)
        ? err.serverMessage || '当前账号无权使用指挥中心控制台。'
        : `登录信息加载失败（${describeError(err)}），正在重试…`);
      if (!source && !pollTimer) connectStream(); // don't hold the live view hostage
      setTimeout(bootSession, 10000);
      return;
    }
    if (!source && !pollTimer) startLive();
    loadActivity(); // the 网格上报情况 tab's count of grids not heard from today
    // A year whose holidays aren't imported yet: its deadlines are estimates (a yellow banner).
    G.calendarBanner(api, { after: $('alert') });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
