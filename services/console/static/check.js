/*
 * Gridcase grid workers' page (/check), on a phone. Two lists of the worker's grids (community staff:
 * their community's):
 *   - 待我先行处置: cases the responsibility matrix sent to the grid or the community first (小事不出网格),
 *     status dispatched or signed with a `handler_level`: sign, resolve on the spot (notes, photos), or
 *     hand over to the department with the reason it can't be solved locally;
 *   - 待核查: cases the department reported handled (status resolved): pass (close) or fail (rework).
 * The actions are the case's `viewer.actions`, through actions.js.
 *
 * Vanilla ES2020, no dependencies. Needs common.js and actions.js.
 */
'use strict';

(() => {
  const G = window.Gridcase;
  const { el, s, orDash, isObj, objects, HttpError, SignedOut } = G;
  const $ = (id) => document.getElementById(id);

  const CHECK_URL = G.casesUrl({ statuses: ['resolved'], limit: 100 });
  const LOCAL_URL = G.casesUrl({ statuses: ['dispatched', 'signed'], limit: 100 });
  const POLL_MS = 15000;

  // What the worker is told after an action that ends their part (back to the list).
  const DONE_TEXT = {
    close: '核查通过，案件已结案。',
    rework: '核查不通过，已退回部门返工。',
    resolve: '已提交办结反馈。',
    hand_over: '已转交职能部门办理。',
  };

  const state = {
    items: [], // waiting for the check (resolved)
    localAll: [], // dispatched or signed: those at the grid or community stage are filtered at render
    loaded: false,
    localLoaded: false,
    parents: new Map(), // area code -> parent area code (from /api/v1/grids), for community cases
    selectedId: null,
    detail: null,
    detailError: null,
  };

  const session = G.createSession({
    onMe: (me) => {
      const u = isObj(me.user) ? me.user : {};
      $('whoami').textContent = [s(u.display_name) || s(u.username), s(u.unit)].filter(Boolean).join(' · ');
      setAlert('me', null);
      renderList();
    },
    onLeave: () => clearInterval(pollTimer),
  });
  const api = session.api;

  const alerts = new Map();
  function setAlert(key, text) {
    if (text) alerts.set(key, text);
    else alerts.delete(key);
    $('alert').textContent = [...alerts.values()].join('　');
    $('alert').hidden = alerts.size === 0;
  }

  // ---------------------------------------------------------------------
  // The lists
  // ---------------------------------------------------------------------

  const valid = (data) => objects(data && data.items).filter((c) => typeof c.case_id === 'string');

  let listBusy = false;
  async function loadList() {
    if (listBusy) return;
    listBusy = true;
    const btn = $('ck-refresh');
    btn.disabled = true;
    try {
      const [check, local] = await Promise.allSettled([api(CHECK_URL), api(LOCAL_URL)]);
      for (const r of [check, local]) if (r.status === 'rejected' && r.reason instanceof SignedOut) return;
      if (check.status === 'fulfilled') {
        G.setServerTime(check.value && check.value.server_time);
        // The server filters by status; keep only resolved ones in case it answers more.
        state.items = valid(check.value).filter((c) => c.status === 'resolved');
        state.loaded = true;
        setAlert('list', null);
      } else {
        setAlert('list', `待核查案件加载失败（${G.describeError(check.reason)}），请点“刷新”重试。`);
      }
      if (local.status === 'fulfilled') {
        G.setServerTime(local.value && local.value.server_time);
        state.localAll = valid(local.value);
        state.localLoaded = true;
        setAlert('local', null);
      } else {
        setAlert('local', `先行处置案件加载失败（${G.describeError(local.reason)}），请点“刷新”重试。`);
      }
      renderList();
    } finally {
      listBusy = false;
      btn.disabled = false;
    }
  }

  /** Areas above the grids (community, street), to tell a community's cases from a grid's. */
  async function loadAreas() {
    try {
      const fc = await api('/api/v1/grids');
      for (const f of objects(fc && fc.features)) {
        const p = isObj(f.properties) ? f.properties : {};
        if (s(p.code) && s(p.parent_code)) state.parents.set(s(p.code), s(p.parent_code));
      }
      renderList();
    } catch (err) {
      // Without the areas, a community case is told from the list's scope (below).
    }
  }

  /**
   * Cases at the grid or community stage that this worker works: a grid's for its grid worker, a
   * community's for the community's staff (the list is already limited to the worker's areas; the
   * case's own `viewer.actions` decide in the end).
   */
  function localItems() {
    const u = session.user;
    const areas = new Set(u && Array.isArray(u.area_codes) ? u.area_codes.map(s).filter(Boolean) : []);
    const mine = state.localAll.filter((c) => {
      if (!G.atLocalStage(c)) return false;
      if (!areas.size) return true;
      const grid = s(c.grid_code);
      if (c.handler_level === 'grid') return areas.has(grid);
      const parent = state.parents.get(grid);
      return parent ? areas.has(parent) : !areas.has(grid);
    });
    // Soonest deadline first; those without one last.
    const due = (c) => {
      const t = G.parseTime(c.due_at);
      return Number.isNaN(t) ? Infinity : t;
    };
    return mine.sort((a, b) => due(a) - due(b));
  }

  function renderList() {
    const local = localItems();
    $('ck-local-count').textContent = state.localLoaded ? `（${local.length}）` : '';
    $('ck-local-badge').textContent = state.localLoaded ? String(local.length) : '—';
    $('ck-local-empty').hidden = !state.localLoaded || local.length > 0;
    $('ck-local-list').replaceChildren(...local.map((c) => el('li', {}, [localCard(c)])));

    $('ck-count').textContent = state.loaded ? `（${state.items.length}）` : '';
    $('ck-check-badge').textContent = state.loaded ? String(state.items.length) : '—';
    $('ck-empty').hidden = !state.loaded || state.items.length > 0;
    $('ck-list').replaceChildren(...state.items.map((c) => el('li', {}, [checkCard(c)])));
  }

  function cardDesc(c) {
    return el('span', {
      class: `ck-card-desc${c.description_hidden === true ? ' muted' : ''}`,
      text: c.description_hidden === true ? '（无权查看案件描述）' : orDash(c.description),
    });
  }

  function cardTop(c) {
    return el('span', { class: 'ck-card-top' }, [
      el('span', { class: 'ck-card-cat', text: orDash(c.category_name) }),
      el('span', { class: 'ck-card-no mono', text: orDash(c.case_no) }),
    ]);
  }

  /** "待签收" / "处置中" and the time left, for a case at the grid or community stage. */
  function localState(c) {
    const signed = c.status === 'signed';
    const dl = G.deadline(c);
    return [
      el('span', { class: `ck-state ck-state-${signed ? 'signed' : 'new'}`, text: signed ? '处置中' : '待签收' }),
      dl.tone === 'none' ? null : el('span', { class: `ck-due due-${dl.tone}`, title: dl.tip }, [
        el('span', { class: `light light-${dl.tone}`, attrs: { 'aria-hidden': 'true' } }),
        el('span', { text: dl.short || G.fmtTime(c.due_at) }),
      ]),
    ];
  }

  function localCard(c) {
    return el('button', {
      class: `ck-card ck-card-local${c.bounced === true ? ' ck-card-bounced' : ''}`,
      attrs: { type: 'button' },
      dataset: { id: c.case_id, caseNo: s(c.case_no), stage: s(c.handler_level) },
      on: { click: () => openCase(c.case_id) },
    }, [
      cardTop(c),
      cardDesc(c),
      el('span', { class: 'ck-card-meta' }, [
        G.stageTag(c),
        ...localState(c),
        el('span', { text: orDash(c.grid_name) }),
      ]),
    ]);
  }

  function checkCard(c) {
    return el('button', {
      class: 'ck-card',
      attrs: { type: 'button' },
      dataset: { id: c.case_id, caseNo: s(c.case_no) },
      on: { click: () => openCase(c.case_id) },
    }, [
      cardTop(c),
      cardDesc(c),
      el('span', { class: 'ck-card-meta' }, [
        el('span', { text: orDash(c.grid_name) }),
        el('span', { text: s(c.department_name) || '—' }),
        el('span', { class: 'mono', text: `更新 ${G.fmtTime(c.updated_at)}` }),
      ]),
    ]);
  }

  // ---------------------------------------------------------------------
  // One case
  // ---------------------------------------------------------------------

  const actions = window.GridcaseActions.create({
    request: (url, opts) => api(url, opts),
    idPrefix: 'ck',
    onDone: ({ action, caseId, refused }) => {
      if (refused) {
        if (state.selectedId === caseId) loadDetail(caseId);
        return;
      }
      // Signed: stay on the case (resolve or hand over next); the list shows it as 处置中.
      if (action === 'sign') {
        if (state.selectedId === caseId) loadDetail(caseId);
        loadList();
        return;
      }
      // Checked, resolved or handed over: back to the list, which no longer has this case.
      const label = DONE_TEXT[action] || '已提交。';
      const no = state.detail && state.detail.case_id === caseId ? s(state.detail.case_no) : '';
      showToast(no ? `案件 ${no}：${label}` : label);
      closeCase();
      loadList();
    },
  });
  const parts = { top: null, acts: null, rest: null };

  function ensureParts() {
    if (parts.top) return;
    parts.top = el('div', { class: 'ck-part', attrs: { id: 'ck-case-top' } });
    parts.acts = el('div', { class: 'ck-part ck-acts', attrs: { id: 'ck-case-acts' } }, [actions.root]);
    parts.rest = el('div', { class: 'ck-part', attrs: { id: 'ck-case-rest' } });
    $('ck-detail').replaceChildren(parts.top, parts.acts, parts.rest);
  }

  let toastTimer = null;
  function showToast(text) {
    const box = $('ck-toast');
    box.textContent = text;
    box.hidden = !text;
    clearTimeout(toastTimer);
    if (text) toastTimer = setTimeout(() => { box.hidden = true; }, 8000);
  }

  let detailSeq = 0;
  let pushed = false; // the open case has its own history entry (the list is one step back)

  function openCase(id, { fromHash = false } = {}) {
    if (typeof id !== 'string' || !id) return;
    if (id !== state.selectedId) {
      state.detail = null;
      state.detailError = null;
    }
    state.selectedId = id;
    if (!fromHash) {
      const hash = `#case=${encodeURIComponent(id)}`;
      if (location.hash !== hash) {
        history.pushState({ ck: 'case' }, '', hash);
        pushed = true;
      }
    }
    showToast('');
    render();
    window.scrollTo(0, 0);
    loadDetail(id);
  }

  function closeCase({ fromHash = false } = {}) {
    state.selectedId = null;
    state.detail = null;
    state.detailError = null;
    detailSeq += 1;
    pushed = false;
    if (!fromHash && location.hash) history.replaceState(null, '', location.pathname + location.search);
    render();
  }

  async function loadDetail(id) {
    const token = ++detailSeq;
    try {
      const d = await api(`/api/v1/cases/${encodeURIComponent(id)}`);
      if (token !== detailSeq || state.selectedId !== id) return;
      if (!isObj(d)) throw new Error('bad payload');
      state.detail = d;
      state.detailError = null;
    } catch (err) {
      if (err instanceof SignedOut) return;
      if (token !== detailSeq || state.selectedId !== id) return;
      state.detailError = err instanceof HttpError && err.status === 404
        ? '未找到该案件，或不在您负责的网格内。'
        : `案件加载失败（${G.describeError(err)}）。`;
    }
    render();
  }

  function render() {
    const id = state.selectedId;
    $('ck-list-view').hidden = !!id;
    $('ck-detail-view').hidden = !id;
    $('ck-back').hidden = !id;
    if (!id) {
      $('ck-title').textContent = '网格工作台';
      document.title = 'Gridcase 网格工作台';
      actions.reset();
      renderList();
      return;
    }
    ensureParts();
    const d = state.detail && state.detail.case_id === id ? state.detail : null;
    const summary = d || state.items.find((c) => c.case_id === id) || state.localAll.find((c) => c.case_id === id) || null;
    const local = !!summary && G.atLocalStage(summary);
    $('ck-title').textContent = local ? '先行处置' : '案件核查';
    document.title = local ? 'Gridcase 先行处置' : 'Gridcase 案件核查';
    const top = [];
    const rest = [];
    if (state.detailError) {
      top.push(el('div', { class: 'panel-error', attrs: { role: 'alert' } }, [
        el('span', { text: state.detailError }),
        el('button', { class: 'link-btn', text: '重试', attrs: { type: 'button' }, on: { click: () => loadDetail(id) } }),
      ]));
    }
    if (!summary) {
      if (!state.detailError) top.push(el('div', { class: 'panel-loading', text: '正在加载…' }));
      parts.top.replaceChildren(...top);
      parts.rest.replaceChildren();
      actions.reset();
      return;
    }
    top.push(el('div', { class: 'ck-case-head' }, [
      el('span', { class: 'ck-case-no mono', attrs: { id: 'ck-case-no' }, text: orDash(summary.case_no) }),
      G.statusBadge(summary),
    ]));
    top.push(el('h2', { class: 'ck-case-cat', text: orDash(summary.category_name) }));
    top.push(G.bounceBanner(summary, { id: 'ck-bounce-banner' }));
    top.push(summary.description_hidden === true
      ? el('p', { class: 'panel-desc panel-desc-hidden', text: '（无权查看案件描述）' })
      : el('p', { class: 'panel-desc', attrs: { id: 'ck-desc' }, text: orDash(summary.description) }));
    if (local) {
      renderLocal(summary, d, top, rest);
      finish(d, top, rest);
      return;
    }
    top.push(G.fieldList([
      ['网格', orDash(summary.grid_name)],
      d ? ['地址', orDash(d.address)] : null,
      ['办理部门', s(summary.department_name) || '—'],
      ['上报时间', G.fmtMinute(summary.created_at)],
    ]));
    if (d) {
      const result = G.latestResult(d);
      top.push(el('section', { class: 'result-box ck-result', attrs: { id: 'ck-result', 'aria-label': '部门办理结果' } }, [
        el('div', { class: 'result-head' }, [
          el('span', { class: 'result-title', text: '部门办理结果' }),
          result ? el('span', { class: 'result-who', text: [result.actor, G.fmtTime(result.at)].filter(Boolean).join(' · ') }) : null,
        ]),
        el('div', { class: 'result-text', attrs: { id: 'ck-result-text' }, text: result && result.note ? result.note : '（部门未填写办理结果）' }),
        resultPhotos(d, result),
      ]));
      const others = objects(d.photos).filter((p) => !result || s(p.event_id) !== s(result.event.event_id));
      if (others.length) top.push(el('h3', { class: 'ck-section', text: '其他照片' }), G.photoGrid(others));
      top.push(el('h3', { class: 'ck-section', text: '现场核查' }));
      rest.push(el('details', { class: 'ck-history' }, [
        el('summary', { text: '处置记录' }),
        G.timeline(d.events, { photos: d.photos, hideNotifications: true }),
      ]));
    }
    finish(d, top, rest);
  }

  /** A case at the grid or community stage: where, what, who works it now, by when; then the actions. */
  function renderLocal(summary, d, top, rest) {
    const dl = G.deadline(summary);
    const handler = G.handlerField(summary, { id: 'ck-handler-now' });
    top.push(G.fieldList([
      ['网格', orDash(summary.grid_name)],
      d ? ['地址', orDash(d.address)] : null,
      handler ? handler.slice(0, 2) : null,
      ['职能部门', s(summary.department_name) || '—', '无法就地解决时转交'],
      ['处置时限', G.deadlineCell(summary, dl), dl.tone === 'none' ? null : dl.tip.split('\n').slice(1).join(' ')],
      ['上报时间', G.fmtMinute(summary.created_at)],
    ]));
    if (!d) return;
    const photos = objects(d.photos);
    if (photos.length) top.push(el('h3', { class: 'ck-section', text: '现场照片' }), G.photoGrid(photos));
    top.push(el('h3', { class: 'ck-section', text: '先行处置' }));
    rest.push(el('details', { class: 'ck-history' }, [
      el('summary', { text: '处置记录' }),
      G.timeline(d.events, { photos: d.photos, hideNotifications: true }),
    ]));
  }

  function finish(d, top, rest) {
    parts.top.replaceChildren(...top.filter(Boolean));
    if (d) actions.render(d);
    else actions.reset();
    const open = parts.rest.querySelector('details[open]');
    parts.rest.replaceChildren(...rest);
    if (open) {
      const again = parts.rest.querySelector('details');
      if (again) again.open = true;
    }
  }

  function resultPhotos(d, result) {
    if (!result) return null;
    const photos = objects(d.photos).filter((p) => s(p.event_id) === s(result.event.event_id));
    return photos.length ? G.photoGrid(photos) : null;
  }

  // ---------------------------------------------------------------------
  // Boot
  // ---------------------------------------------------------------------

  let pollTimer = null;

  function init() {
    render();
    $('ck-refresh').addEventListener('click', loadList);
    for (const btn of document.querySelectorAll('[data-jump]')) {
      btn.addEventListener('click', () => {
        const target = $(btn.dataset.jump);
        if (target) target.scrollIntoView({ block: 'start', behavior: 'smooth' });
      });
    }
    $('ck-back').addEventListener('click', () => {
      // Opened from the list: go back in history (the phone's back button does the same).
      if (pushed && history.state && history.state.ck === 'case') history.back();
      else closeCase();
      loadList();
    });
    $('logout').addEventListener('click', () => session.logout($('logout'), (text) => setAlert('logout', text)));
    window.addEventListener('hashchange', onHash);
    window.addEventListener('popstate', onHash);
    window.addEventListener('pageshow', (e) => {
      if (e.persisted) session.loadMe().catch(() => {});
    });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && !state.selectedId) loadList();
    });
    boot();
  }

  function onHash() {
    const id = G.caseIdFromHash();
    if (id && id !== state.selectedId) openCase(id, { fromHash: true });
    else if (!id && state.selectedId) closeCase({ fromHash: true });
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
    loadAreas();
    pollTimer = setInterval(() => {
      if (!state.selectedId && document.visibilityState !== 'hidden') loadList();
    }, POLL_MS);
    const id = G.caseIdFromHash();
    if (id) openCase(id, { fromHash: true });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
