/*
 * Gridcase department workbench (/workbench): the signed-in department's queue with filters and
 * counts, and the case page beside it (timeline, photos, the actions of actions.js).
 *
 * Vanilla ES2020, no dependencies. Needs common.js and actions.js. Server data reaches the DOM
 * through textContent / setAttribute only.
 */
'use strict';

(() => {
  const G = window.Gridcase;
  const { el, s, orDash, isObj, objects, HttpError, SignedOut } = G;
  const $ = (id) => document.getElementById(id);

  const PAGE = 50;
  const REFRESH_DEBOUNCE_MS = 300;
  const POLL_MS = 10000;
  const TICK_MS = 30000;
  const ORDERS_LIMIT = 500; // open supervision orders read at once
  const SUPERVISED_MAX = 100; // cases listed under 待回复督办

  // Status tabs: [key, label, statuses sent as ?status=…, tone].
  const TABS = [
    ['all', '全部', [], 'all'],
    ['dispatched', '待签收', ['dispatched'], 'dispatched'],
    ['signed', '办理中', ['signed'], 'signed'],
    ['suspended', '已挂起', ['suspended'], 'suspended'],
    ['resolved', '待核查', ['resolved'], 'resolved'],
    ['returned', '已退回', ['returned'], 'returned'],
    ['closed', '已结案', ['closed'], 'closed'],
  ];

  const state = {
    filters: {
      tab: 'all', overdue: false, dueSoon: false, bounced: false, supervision: false, category: '', grid: '', from: '', to: '', q: '',
    },
    // This department's open supervision orders (待回复督办): by case, in reply-due order.
    orders: { items: [], byCase: new Map(), loaded: false },
    items: [],
    counts: {},
    total: null,
    nextCursor: null,
    loaded: false,
    loading: false,
    selectedId: null,
    detail: null,
    detailError: null,
    seenSeq: new Map(),
    newEventIds: new Set(),
  };

  const session = G.createSession({
    onMe: (me) => {
      G.renderWhoami(me, $('whoami'), $('user'));
      const u = isObj(me.user) ? me.user : {};
      $('wb-unit').textContent = s(u.unit) || '签收 · 办理 · 反馈';
      G.showStaffLinks(session);
      setAlert('me', null);
    },
    onLeave: () => stopLive(),
  });
  const api = session.api;

  // ---------------------------------------------------------------------
  // Alerts
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
  // Queue
  // ---------------------------------------------------------------------

  function listUrl({ cursor = null, limit = PAGE } = {}) {
    const f = state.filters;
    const tab = TABS.find((t) => t[0] === f.tab) || TABS[0];
    // Days in Beijing time, both ends included (YYYY-MM-DD, as <input type="date"> gives them).
    return G.casesUrl({
      statuses: tab[2], overdue: f.overdue, dueSoon: f.dueSoon, bounced: f.bounced, category: f.category, grid: f.grid,
      from: f.from, to: f.to, q: f.q, cursor, limit,
    });
  }

  let listSeq = 0;
  let listAgain = false;
  let retryTimer = null;

  /** Reload the queue's first page (as many rows as are shown, so a refresh keeps "load more"). */
  async function loadList({ keepSize = true } = {}) {
    if (state.loading) {
      listAgain = true;
      return;
    }
    state.loading = true;
    clearTimeout(retryTimer);
    const seq = ++listSeq;
    const limit = keepSize ? Math.min(Math.max(PAGE, state.items.length), 500) : PAGE;
    try {
      const data = state.filters.supervision ? await supervisedPage() : await api(listUrl({ limit }));
      if (seq !== listSeq) return;
      applyPage(data, false);
      setAlert('list', null);
      if (!state.filters.supervision) loadOpenOrders();
    } catch (err) {
      if (err instanceof SignedOut) return;
      setAlert('list', err instanceof HttpError && err.status < 500 && err.status !== 429
        ? err.serverMessage || `案件列表加载失败（${G.describeError(err)}）。`
        : `案件列表加载失败（${G.describeError(err)}），正在自动重试…`);
      retryTimer = setTimeout(() => loadList(), 5000);
    } finally {
      state.loading = false;
      if (listAgain) {
        listAgain = false;
        loadList();
      }
    }
  }

  async function loadMore() {
    if (!state.nextCursor || state.loading) return;
    const btn = $('wb-more');
    btn.disabled = true;
    btn.textContent = '加载中…';
    state.loading = true;
    const seq = ++listSeq;
    try {
      const data = await api(listUrl({ cursor: state.nextCursor }));
      if (seq === listSeq) applyPage(data, true);
    } catch (err) {
      if (err instanceof SignedOut) return;
      setAlert('list', `加载更多失败（${G.describeError(err)}）。`);
    } finally {
      state.loading = false;
      btn.disabled = false;
      btn.textContent = '加载更多';
    }
  }

  // -- 待回复督办: the cases with supervision orders this department has not answered yet ------------

  async function fetchOpenOrders() {
    const list = await api(`/api/v1/supervision-orders?status=open&limit=${ORDERS_LIMIT}`);
    const mine = myDepartment();
    const items = objects(list).filter((o) => typeof o.case_id === 'string' && o.id != null &&
      (!mine || !s(o.department_code) || s(o.department_code) === mine));
    const byCase = new Map();
    for (const o of items) {
      if (!byCase.has(o.case_id)) byCase.set(o.case_id, []);
      byCase.get(o.case_id).push(o);
    }
    state.orders = { items, byCase, loaded: true };
    return state.orders;
  }

  async function loadOpenOrders() {
    try {
      await fetchOpenOrders();
    } catch (err) {
      return; // the chip keeps its last count; the next refresh asks again
    }
    renderQueue();
  }

  /**
   * The queue under 待回复督办: the cases of the open orders (earliest reply due first), each as the
   * list shows it with the other filters applied (GET /api/v1/cases?q=<case number>&…).
   */
  async function supervisedPage() {
    const f = state.filters;
    const tab = TABS.find((t) => t[0] === f.tab) || TABS[0];
    const [orders, base] = await Promise.all([fetchOpenOrders(), api(listUrl({ limit: 1 }))]);
    const caseNos = [];
    for (const o of orders.items) {
      const no = s(o.case_no);
      if (no && !caseNos.includes(no)) caseNos.push(no);
    }
    const wanted = caseNos.slice(0, SUPERVISED_MAX);
    const found = new Array(wanted.length).fill(null);
    let next = 0;
    const worker = async () => {
      while (next < wanted.length) {
        const i = next++;
        const data = await api(G.casesUrl({
          statuses: tab[2], overdue: f.overdue, dueSoon: f.dueSoon, bounced: f.bounced, category: f.category, grid: f.grid,
          from: f.from, to: f.to, q: wanted[i], limit: 5,
        }));
        found[i] = objects(data && data.items).find((c) => s(c.case_no) === wanted[i]) || null;
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    // The search box too: a case number (or how it begins), or words of the description or address.
    const q = f.q.toLowerCase();
    const items = found.filter(Boolean).filter((c) => !q || s(c.case_no).startsWith(q) ||
      s(c.description).toLowerCase().includes(q) || s(c.address).toLowerCase().includes(q));
    return {
      items,
      counts: isObj(base && base.counts) ? base.counts : {},
      total: base && base.total,
      server_time: base && base.server_time,
      next_cursor: null,
    };
  }

  function applyPage(data, append) {
    const items = objects(data && data.items).filter((c) => typeof c.case_id === 'string');
    if (append) {
      const seen = new Set(state.items.map((c) => c.case_id));
      state.items = state.items.concat(items.filter((c) => !seen.has(c.case_id)));
    } else {
      state.items = items;
    }
    state.counts = isObj(data && data.counts) ? data.counts : {};
    state.total = Number.isFinite(data && data.total) ? data.total : null;
    state.nextCursor = s(data && data.next_cursor) || null;
    G.setServerTime(data && data.server_time);
    state.loaded = true;
    renderQueue();
  }

  function myDepartment() {
    const u = session.user;
    return u ? s(u.department_code) : '';
  }

  /**
   * How this department stands to a case: 'lead' (its own), 'coordinator' (the first department of a
   * flagged case, which coordinates: 首接负责) or 'assist' (helping another department).
   */
  function relation(c) {
    const mine = myDepartment();
    if (!mine || !s(c.department_code) || s(c.department_code) === mine) return 'lead';
    return isCoordinator(c) ? 'coordinator' : 'assist';
  }

  /** A flagged case whose first department (the coordinator) is this one. */
  function isCoordinator(c) {
    const u = session.user;
    const coord = s(c.coordinator_department_name);
    return c.bounced === true && !!coord && !!u && coord === s(u.unit);
  }

  function renderQueue() {
    renderTabs();
    const f = state.filters;
    const overdue = Number.isFinite(state.counts.overdue) ? state.counts.overdue : null;
    const dueSoon = Number.isFinite(state.counts.due_soon) ? state.counts.due_soon : null;
    setChip('wb-overdue', f.overdue, overdue);
    setChip('wb-due-soon', f.dueSoon, dueSoon);
    setChip('wb-bounced', f.bounced, Number.isFinite(state.counts.bounced) ? state.counts.bounced : null);
    setChip('wb-supervision', f.supervision, state.orders.loaded ? state.orders.items.length : null);
    $('wb-supervision').classList.toggle('chip-alarm', state.orders.items.some((o) => G.orderDeadline(o).tone === 'red'));
    const filtered = f.overdue || f.dueSoon || f.bounced || f.supervision || f.category || f.grid || f.from || f.to || f.q;
    $('wb-reset').hidden = !filtered;

    const rows = state.items.map(caseRow);
    $('wb-rows').replaceChildren(...rows);
    $('wb-empty').hidden = !state.loaded || state.items.length > 0;
    $('wb-more').hidden = !state.nextCursor;
    if (!state.loaded) {
      $('wb-count').textContent = '加载中…';
    } else {
      const more = state.nextCursor ? '，还有更多' : '';
      $('wb-count').textContent = f.supervision
        ? `待回复督办的案件 ${state.items.length} 件（督办单 ${state.orders.items.length} 件）`
        : `显示 ${state.items.length} 件${more}`;
    }
  }

  function setChip(id, active, count) {
    const chip = $(id);
    chip.classList.toggle('active', active);
    chip.setAttribute('aria-pressed', active ? 'true' : 'false');
    const badge = $(`${id}-count`);
    badge.textContent = count == null ? '' : String(count);
    badge.hidden = count == null; // a server without that counter: the chip still filters
  }

  function tabCount(tab) {
    if (tab[0] === 'all') {
      if (Number.isFinite(state.total)) return state.total;
      return Object.entries(state.counts)
        .filter(([k, v]) => G.STATUS_LABEL.has(k) && Number.isFinite(v))
        .reduce((a, [, v]) => a + v, 0);
    }
    return tab[2].reduce((a, st) => a + (Number.isFinite(state.counts[st]) ? state.counts[st] : 0), 0);
  }

  function renderTabs() {
    const box = $('wb-tabs');
    box.replaceChildren(...TABS.map((tab) => {
      const [key, label, , tone] = tab;
      const active = state.filters.tab === key;
      return el('button', {
        class: `counter tone-${tone}${active ? ' active' : ''}`,
        attrs: { type: 'button', 'aria-pressed': active ? 'true' : 'false', 'data-tab': key },
        title: `查看：${label}`,
        on: { click: () => setFilter({ tab: key }) },
      }, [
        el('span', { class: 'counter-label', text: label }),
        el('span', { class: 'counter-value', text: state.loaded ? String(tabCount(tab)) : '—' }),
      ]);
    }));
  }

  function caseRow(c) {
    const dl = G.deadline(c);
    const rel = relation(c);
    const lead = `牵头部门：${s(c.department_name) || s(c.department_code)}`;
    const tags = [
      G.bounceTag(c),
      rel === 'coordinator' ? el('span', { class: 'tag-assist', text: '首接协调', title: lead }) : null,
      rel === 'assist' ? el('span', { class: 'tag-assist', text: '协办', title: lead }) : null,
      supervisionTag(c),
      G.stageTag(c),
      ...G.pendingTags(c),
    ].filter(Boolean);
    const desc = c.description_hidden === true
      ? el('span', { class: 'truncate muted', text: '（无权查看案件描述）' })
      : el('span', { class: 'truncate', text: orDash(c.description), title: s(c.description) });
    const selected = c.case_id === state.selectedId;
    return el('tr', {
      class: `case-row${selected ? ' selected' : ''}${dl.tone === 'red' ? ' is-overdue' : ''}${c.bounced === true ? ' is-bounced' : ''}`,
      attrs: { tabindex: '0', 'aria-selected': selected ? 'true' : 'false' },
      dataset: { id: c.case_id, caseNo: s(c.case_no), status: s(c.status) },
    }, [
      el('td', { class: 'col-no mono', text: orDash(c.case_no) }),
      el('td', { class: 'col-status' }, [G.statusBadge(c)]),
      el('td', { class: 'col-desc' }, [tags.length ? el('div', { class: 'desc-line' }, [...tags, desc]) : el('div', { class: 'truncate' }, [desc])]),
      el('td', { class: 'col-cat' }, [el('div', { class: 'truncate', text: orDash(c.category_name), title: s(c.category_name) })]),
      el('td', { class: 'col-grid' }, [el('div', { class: 'truncate', text: orDash(c.grid_name), title: s(c.grid_name) })]),
      el('td', { class: 'col-time mono', text: G.fmtTime(c.created_at), title: G.fmtFull(c.created_at) }),
      el('td', { class: 'col-due' }, [G.deadlineCell(c, dl)]),
    ]);
  }

  /** "待回复督办" (red "督办超期" once a reply is late) on a case with an order this department hasn't answered. */
  function supervisionTag(c) {
    const list = state.orders.byCase.get(c.case_id);
    if (!list || !list.length) return null;
    const late = list.some((o) => G.orderDeadline(o).tone === 'red');
    const first = list[0];
    return el('span', {
      class: `tag-sup${late ? ' tag-sup-late' : ''}`,
      text: late ? '督办超期' : '待回复督办',
      title: [`${s(first.issuer_label)}督办：${s(first.reason)}`, `回复时限 ${G.fmtMinute(first.reply_due_at)}`,
        list.length > 1 ? `共 ${list.length} 件督办单待回复` : ''].filter(Boolean).join('\n'),
      dataset: { supervision: late ? 'late' : 'open' },
    });
  }

  function onRowActivate(ev) {
    const tr = ev.target.closest('tr[data-id]');
    if (!tr) return;
    if (ev.type === 'keydown' && ev.key !== 'Enter' && ev.key !== ' ') return;
    if (ev.type === 'keydown') ev.preventDefault();
    openCase(tr.dataset.id);
  }

  function setFilter(change) {
    Object.assign(state.filters, change);
    state.items = [];
    state.nextCursor = null;
    state.loaded = false;
    renderQueue();
    listSeq += 1; // an answer to the old filters is dropped
    state.loading = false;
    loadList({ keepSize: false });
  }

  // -- filter options ---------------------------------------------------------

  async function loadFilterOptions() {
    try {
      const cats = await api('/api/v1/categories');
      const sel = $('wb-category');
      sel.replaceChildren(el('option', { text: '全部类别', attrs: { value: '' } }),
        ...objects(cats).filter((c) => s(c.code)).map((c) => el('option', { text: `${s(c.code)} ${s(c.name)}`, attrs: { value: s(c.code) } })));
      sel.value = state.filters.category;
    } catch (err) {
      if (err instanceof SignedOut) return;
    }
    try {
      const fc = await api('/api/v1/grids');
      const grids = objects(fc && fc.features)
        .map((f) => (isObj(f.properties) ? f.properties : {}))
        .filter((p) => s(p.level) === 'grid' && s(p.code));
      const sel = $('wb-grid');
      sel.replaceChildren(el('option', { text: '全部网格', attrs: { value: '' } }),
        ...grids.map((p) => el('option', { text: s(p.name) || s(p.code), attrs: { value: s(p.code) } })));
      sel.value = state.filters.grid;
    } catch (err) {
      if (err instanceof SignedOut) return;
    }
  }

  // ---------------------------------------------------------------------
  // The case page
  // ---------------------------------------------------------------------

  const actions = window.GridcaseActions.create({
    request: (url, opts) => api(url, opts),
    idPrefix: 'wb',
    onDone: ({ caseId }) => {
      if (state.selectedId === caseId) loadDetail(caseId);
      loadList();
    },
  });
  const supervision = window.GridcaseActions.createSupervision({
    request: (url, opts) => api(url, opts),
    idPrefix: 'wb-sup',
    permissions: () => session.permissions,
    onDone: ({ caseId }) => {
      if (state.selectedId === caseId) loadDetail(caseId);
      loadList();
    },
  });
  const parts = { top: null, acts: null, sup: null, rest: null };

  function ensureParts() {
    if (parts.top) return;
    parts.top = el('div', { class: 'panel-part', attrs: { id: 'wb-case-top' } });
    parts.acts = el('div', { class: 'panel-part', attrs: { id: 'wb-case-acts' } }, [actions.root]);
    parts.sup = el('div', { class: 'panel-part', attrs: { id: 'wb-case-sup' } }, [supervision.root]);
    parts.rest = el('div', { class: 'panel-part', attrs: { id: 'wb-case-rest' } });
    $('wb-case-body').replaceChildren(parts.top, parts.acts, parts.sup, parts.rest);
  }

  let detailSeq = 0;

  function openCase(id, { fromHash = false } = {}) {
    if (typeof id !== 'string' || !id) return;
    const changed = id !== state.selectedId;
    state.selectedId = id;
    if (changed) {
      state.detail = null;
      state.detailError = null;
      state.newEventIds.clear();
    }
    if (!fromHash) {
      const hash = `#case=${encodeURIComponent(id)}`;
      if (location.hash !== hash) history.replaceState(null, '', hash);
    }
    document.body.classList.add('case-open');
    renderQueue();
    renderCase();
    if (changed) {
      $('wb-case-body').scrollTop = 0;
      loadDetail(id);
    }
  }

  function closeCase() {
    state.selectedId = null;
    state.detail = null;
    state.detailError = null;
    detailSeq += 1;
    document.body.classList.remove('case-open');
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
    renderQueue();
    renderCase();
  }

  async function loadDetail(id) {
    const token = ++detailSeq;
    try {
      const d = await api(`/api/v1/cases/${encodeURIComponent(id)}`);
      if (token !== detailSeq || state.selectedId !== id) return;
      if (!isObj(d)) throw new Error('bad payload');
      markNewEvents(d);
      state.detail = d;
      state.detailError = null;
    } catch (err) {
      if (err instanceof SignedOut) return;
      if (token !== detailSeq || state.selectedId !== id) return;
      state.detailError = err instanceof HttpError && err.status === 404
        ? '未找到该案件，可能已被改派或无权查看。'
        : err instanceof HttpError && err.status === 403
          ? err.serverMessage || '当前账号无权查看该案件。'
          : `案件详情加载失败（${G.describeError(err)}）。`;
    }
    renderCase();
  }

  function markNewEvents(d) {
    const events = objects(d.events);
    const maxSeq = events.reduce((m, e) => (Number.isFinite(e.seq) ? Math.max(m, e.seq) : m), -Infinity);
    const seen = state.seenSeq.get(d.case_id);
    state.newEventIds.clear();
    if (seen !== undefined) {
      for (const e of events) if (Number.isFinite(e.seq) && e.seq > seen) state.newEventIds.add(s(e.event_id) || String(e.seq));
    }
    if (Number.isFinite(maxSeq)) state.seenSeq.set(d.case_id, maxSeq);
  }

  function replacePart(part, nodes) {
    const active = document.activeElement;
    const focusId = active && part.contains(active) && active.id ? active.id : null;
    part.replaceChildren(...nodes.filter(Boolean));
    if (focusId) {
      const again = document.getElementById(focusId);
      if (again && again !== document.activeElement && !again.disabled) again.focus({ preventScroll: true });
    }
  }

  function renderCase() {
    ensureParts();
    const id = state.selectedId;
    $('wb-case-close').hidden = !id;
    $('wb-case-title').classList.toggle('wb-none', !id);
    if (!id) {
      $('wb-case-title').textContent = '未选择案件';
      replacePart(parts.top, [el('div', { class: 'wb-placeholder' }, [
        el('p', { class: 'wb-placeholder-title', text: '选择左侧案件查看详情' }),
        el('p', { class: 'muted', text: '在这里签收、退回、申请延期或挂起、反馈办理结果；协办部门在这里反馈本部门承担的部分。' }),
      ])]);
      replacePart(parts.rest, []);
      actions.reset();
      supervision.reset();
      return;
    }
    const d = state.detail && state.detail.case_id === id ? state.detail : null;
    const summary = d || state.items.find((c) => c.case_id === id) || null;
    $('wb-case-title').textContent = summary ? orDash(summary.case_no) : state.detailError ? '无法显示' : '加载中…';
    const top = [];
    const rest = [];
    if (state.detailError) {
      top.push(el('div', { class: 'panel-error', attrs: { role: 'alert' } }, [
        el('span', { text: state.detailError }),
        el('button', {
          class: 'link-btn', text: '重试', attrs: { type: 'button' },
          on: { click: () => { state.detailError = null; renderCase(); loadDetail(id); } },
        }),
      ]));
    }
    if (!summary) {
      if (!state.detailError) top.push(el('div', { class: 'panel-loading', text: '正在加载案件详情…' }));
      replacePart(parts.top, top);
      replacePart(parts.rest, []);
      actions.reset();
      supervision.reset();
      return;
    }
    const dl = G.deadline(summary);
    const rel = relation(summary);
    top.push(el('div', { class: 'panel-tags' }, [
      G.statusBadge(summary),
      G.urgencyTag(summary.urgency, summary.urgency_label),
      dl.tone === 'red' ? el('span', { class: 'tag-overdue', text: '已超期' }) : null,
      G.bounceTag(summary),
      el('span', { class: 'panel-cat', text: orDash(summary.category_name) }),
      rel === 'assist' ? el('span', { class: 'tag-assist', text: '本部门协办' }) : null,
      rel === 'coordinator' ? el('span', { class: 'tag-assist', text: '本部门首接协调' }) : null,
      ...G.intakeTags(d),
      ...G.pendingTags(d || summary),
    ]));
    if (d) top.push(G.likelyDuplicateNotice(d, { id: 'wb-likely-duplicate' }), G.handedDownBox(d, { id: 'wb-handed-down' }));
    top.push(G.bounceBanner(summary, { id: 'wb-bounce-banner', mine: rel === 'coordinator' || (rel === 'lead' && isCoordinator(summary)) }));
    top.push(summary.description_hidden === true
      ? el('p', { class: 'panel-desc panel-desc-hidden', text: '（无权查看案件描述）' })
      : el('p', { class: 'panel-desc', attrs: { id: 'wb-case-desc' }, text: orDash(summary.description) }));
    const fields = [
      ['网格', orDash(summary.grid_name)],
      d ? ['地址', orDash(d.address)] : null,
      ['来源', orDash(summary.channel_label)],
      ['牵头部门', s(summary.department_name) || '未派遣'],
      G.handlerField(summary, { id: 'wb-handler-now' }),
      ['上报时间', G.fmtMinute(summary.created_at)],
      ['派遣时间', G.fmtMinute(summary.dispatched_at)],
      ['处置时限', G.deadlineCell(summary, dl), dl.tone === 'none' ? null : dl.tip.split('\n').slice(1).join(' ')],
    ];
    if (d) {
      fields.push(...G.intakeFields(d, { idPrefix: 'wb-' }));
      const rep = isObj(d.reporter) ? d.reporter : null;
      const repText = rep ? [s(rep.name), s(rep.phone)].filter(Boolean).join('　') : '';
      if (repText) fields.push(['上报人', repText]);
    }
    top.push(G.fieldList(fields));
    if (d) {
      top.push(G.pendingBox(d.pending_requests));
      top.push(G.clockSection(d, { id: 'wb-clocks' }));
      const result = G.latestResult(d);
      if (result && result.note) top.push(resultBox(result));
    }
    // 小事不出网格: the grid worker or the community has it first; the department waits for a hand-over.
    if (G.atLocalStage(summary) && rel === 'lead') {
      top.push(el('div', { class: 'stage-notice', attrs: { id: 'wb-stage-notice', role: 'status' } }, [
        `该案件由${s(summary.handler_label) || `${G.LOCAL_LEVELS[s(summary.handler_level)]}先行处置`}，转交后本部门方可签收`,
      ]));
    }
    if (d) {
      const assists = G.assistList(d.assists);
      if (assists) rest.push(el('h3', { class: 'panel-section', text: '协办部门' }), assists);
      const photos = objects(d.photos);
      if (photos.length) rest.push(el('h3', { class: 'panel-section', text: `现场照片（${photos.length}）` }), G.photoGrid(photos));
      const attachments = G.attachmentList(d, { id: 'wb-attachments' });
      if (attachments) rest.push(el('h3', { class: 'panel-section', text: '渠道附件' }), attachments);
      rest.push(el('h3', { class: 'panel-section', text: '处置时间线' }));
      rest.push(G.timeline(d.events, { photos: d.photos, newIds: state.newEventIds, hideNotifications: true }));
    } else {
      rest.push(el('h3', { class: 'panel-section', text: '处置时间线' }), el('div', { class: 'panel-loading', text: '正在加载…' }));
    }
    replacePart(parts.top, top);
    if (d) {
      actions.render(d);
      supervision.render(d);
    } else {
      actions.reset();
      supervision.reset();
    }
    replacePart(parts.rest, rest);
  }

  function resultBox(result) {
    return el('div', { class: 'result-box', attrs: { id: 'wb-result' } }, [
      el('div', { class: 'result-head' }, [
        el('span', { class: 'result-title', text: '办理结果' }),
        el('span', { class: 'result-who', text: [result.actor, G.fmtTime(result.at)].filter(Boolean).join(' · ') }),
      ]),
      el('div', { class: 'result-text', text: result.note }),
    ]);
  }

  // ---------------------------------------------------------------------
  // Live updates: SSE when the account may read it, else polling
  // ---------------------------------------------------------------------

  let source = null;
  let pollTimer = null;
  let refreshTimer = null;
  let reconnectTimer = null;
  let reconnectDelay = 3000;
  const pendingIds = new Set();

  function setConn(mode) {
    $('conn').className = `conn conn-${mode}`;
    $('conn-text').textContent = { connecting: '连接中…', live: '实时', reconnecting: '重连中…', polling: '定时刷新' }[mode];
  }

  function scheduleRefresh(caseId) {
    pendingIds.add(caseId || '*');
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => {
      const ids = new Set(pendingIds);
      pendingIds.clear();
      loadList();
      const id = state.selectedId;
      if (id && (ids.has('*') || ids.has(id))) loadDetail(id);
    }, REFRESH_DEBOUNCE_MS);
  }

  function startPolling() {
    if (pollTimer || session.redirecting) return;
    pollTimer = setInterval(() => scheduleRefresh(null), POLL_MS);
  }

  function stopLive() {
    if (source) source.close();
    source = null;
    clearInterval(pollTimer);
    pollTimer = null;
    clearTimeout(refreshTimer);
    clearTimeout(reconnectTimer);
    clearTimeout(retryTimer);
  }

  function connectStream() {
    clearTimeout(reconnectTimer);
    if (session.redirecting) return;
    const perms = session.permissions;
    if ((perms && !perms.has('live_feed.read')) || typeof window.EventSource !== 'function') {
      setConn('polling');
      startPolling();
      return;
    }
    const es = new EventSource('/api/v1/stream');
    source = es;
    let hadError = false;
    es.onopen = () => {
      if (source !== es) return;
      setConn('live');
      clearInterval(pollTimer);
      pollTimer = null;
      reconnectDelay = 3000;
      if (hadError) scheduleRefresh(null);
      hadError = false;
    };
    const onMessage = (e) => {
      let data = null;
      try {
        data = JSON.parse(e.data);
      } catch (_) {
        data = null;
      }
      scheduleRefresh(isObj(data) && typeof data.case_id === 'string' ? data.case_id : null);
    };
    es.addEventListener('case', onMessage);
    es.onmessage = onMessage;
    es.onerror = () => {
      if (source !== es) return;
      hadError = true;
      session.loadMe().catch(() => {});
      setConn('reconnecting');
      startPolling();
      if (es.readyState === EventSource.CLOSED) {
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

  function init() {
    renderQueue();
    renderCase();
    const tick = () => { $('clock').textContent = G.fmtFull(Date.now()); };
    tick();
    setInterval(tick, 1000);
    setInterval(() => {
      renderQueue();
      if (state.selectedId) renderCase();
    }, TICK_MS);

    const rows = $('wb-rows');
    rows.addEventListener('click', onRowActivate);
    rows.addEventListener('keydown', onRowActivate);
    $('wb-overdue').addEventListener('click', () => setFilter({ overdue: !state.filters.overdue, dueSoon: false }));
    $('wb-due-soon').addEventListener('click', () => setFilter({ dueSoon: !state.filters.dueSoon, overdue: false }));
    $('wb-bounced').addEventListener('click', () => setFilter({ bounced: !state.filters.bounced }));
    $('wb-supervision').addEventListener('click', () => setFilter({ supervision: !state.filters.supervision }));
    $('wb-category').addEventListener('change', (e) => setFilter({ category: e.target.value }));
    $('wb-grid').addEventListener('change', (e) => setFilter({ grid: e.target.value }));
    $('wb-from').addEventListener('change', (e) => setFilter({ from: e.target.value }));
    $('wb-to').addEventListener('change', (e) => setFilter({ to: e.target.value }));
    let searchTimer = null;
    $('wb-search').addEventListener('input', (e) => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => setFilter({ q: e.target.value.trim() }), 300);
    });
    $('wb-reset').addEventListener('click', () => {
      $('wb-category').value = '';
      $('wb-grid').value = '';
      $('wb-from').value = '';
      $('wb-to').value = '';
      $('wb-search').value = '';
      setFilter({ overdue: false, dueSoon: false, bounced: false, supervision: false, category: '', grid: '', from: '', to: '', q: '' });
    });
    $('wb-more').addEventListener('click', loadMore);
    $('wb-case-close').addEventListener('click', closeCase);
    $('logout').addEventListener('click', () => session.logout($('logout'), (text) => setAlert('logout', text)));
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && state.selectedId && !e.defaultPrevented) closeCase();
    });
    window.addEventListener('hashchange', () => {
      const id = G.caseIdFromHash();
      if (id && id !== state.selectedId) openCase(id, { fromHash: true });
      else if (!id && state.selectedId) closeCase();
    });
    window.addEventListener('pageshow', (e) => {
      if (e.persisted) session.loadMe().catch(() => {});
    });

    setConn('connecting');
    boot();
  }

  async function boot() {
    try {
      await session.loadMe();
    } catch (err) {
      if (err instanceof SignedOut) return;
      setAlert('me', `登录信息加载失败（${G.describeError(err)}），正在重试…`);
      setTimeout(boot, 10000);
      return;
    }
    loadList();
    loadFilterOptions();
    connectStream();
    // A year whose holidays aren't imported yet: its deadlines are estimates (a yellow banner).
    G.calendarBanner(api, { after: $('alert') });
    const id = G.caseIdFromHash();
    if (id) openCase(id, { fromHash: true });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
