/*
 * Gridcase grid workers' page (/check), on a phone. On top, 今日上报: the day's state of the worker's
 * grids (GET /api/v1/app/activity), "上报问题" (a report from the street with the phone's position and
 * photos: POST /api/v1/app/reports, multipart) and "零上报" (nothing to report today: POST
 * /api/v1/app/checkins). Then two lists of the worker's grids (community staff: their community's):
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
    areas: null, // G.areaIndex of GET /api/v1/grids
    today: null, // {day, grids: [{grid_code, grid_name, reports, checkins}]}: the worker's grids today
    todayError: '',
    zeroDone: null, // the answer to this page's last 零上报 ({grid_name, recorded})
    reporting: false, // the 上报问题 form shows
    report: null, // the form (kept while the worker steps back, with its external_id)
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
      state.areas = G.areaIndex(fc);
      renderList();
      renderToday();
      if (state.report) fillReportGrids(state.report);
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
    const reporting = !id && state.reporting;
    $('ck-list-view').hidden = !!id || reporting;
    $('ck-detail-view').hidden = !id;
    $('ck-report-view').hidden = !reporting;
    $('ck-back').hidden = !id && !reporting;
    if (reporting) {
      $('ck-title').textContent = '上报问题';
      document.title = 'Gridcase 上报问题';
      actions.reset();
      renderReport();
      return;
    }
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
      el('span', { class: 'ck-case-tags' }, [...G.intakeTags(d), G.statusBadge(summary)]),
    ]));
    top.push(el('h2', { class: 'ck-case-cat', text: orDash(summary.category_name) }));
    top.push(G.bounceBanner(summary, { id: 'ck-bounce-banner' }));
    if (d) top.push(G.handedDownBox(d, { id: 'ck-handed-down' }));
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
      ...(d ? G.intakeFields(d, { idPrefix: 'ck-' }) : []),
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
      top.push(G.clockSection(d, { id: 'ck-clocks', headClass: 'ck-section' }));
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
      ...(d ? G.intakeFields(d, { idPrefix: 'ck-' }) : []),
    ]));
    if (!d) return;
    top.push(G.clockSection(d, { id: 'ck-clocks', headClass: 'ck-section' }));
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
  // 今日上报: the day's state of the worker's grids, and 零上报
  // ---------------------------------------------------------------------

  const todayState = (g) => (g.reports > 0 ? 'reported' : g.checkins > 0 ? 'zero' : 'silent');

  async function loadToday() {
    try {
      const data = await api(`/api/v1/app/activity?day=${encodeURIComponent(G.todayShanghai())}`);
      state.today = {
        day: s(data && data.day),
        grids: objects(data && data.grids).filter((g) => typeof g.grid_code === 'string').map((g) => ({
          grid_code: g.grid_code,
          grid_name: s(g.grid_name) || g.grid_code,
          reports: Number.isFinite(g.reports) ? g.reports : 0,
          checkins: Number.isFinite(g.checkins) ? g.checkins : 0,
        })),
      };
      state.todayError = '';
    } catch (err) {
      if (err instanceof SignedOut) return;
      state.todayError = `今日上报情况查询失败（${G.describeError(err)}），不影响上报和零上报。`;
    }
    renderToday();
    if (state.report && !state.report.busy) fillReportGrids(state.report);
  }

  /** The worker's grids: today's list, else the areas below their area codes. */
  function myGrids() {
    if (state.today && state.today.grids.length) return state.today.grids.map((g) => ({ code: g.grid_code, name: g.grid_name }));
    const u = session.user;
    const codes = u && Array.isArray(u.area_codes) ? u.area_codes.map(s).filter(Boolean) : [];
    if (!state.areas) return [];
    return state.areas.grids.filter((g) => codes.some((a) => state.areas.within(g.code, a))).map((g) => ({ code: g.code, name: g.name }));
  }

  function renderToday() {
    const grids = state.today ? state.today.grids : [];
    const box = $('ck-today-state');
    const one = grids.length === 1 ? grids[0] : null;
    $('ck-today-grid').textContent = one ? one.grid_name : grids.length ? `负责 ${grids.length} 个网格` : '';
    let tone = 'wait';
    if (state.todayError && !state.today) {
      box.textContent = state.todayError;
    } else if (!state.today) {
      box.textContent = '正在查询今日上报情况…';
    } else if (one) {
      const st = todayState(one);
      tone = st;
      box.textContent = st === 'reported' ? `今日已上报 ${one.reports} 件问题（${one.grid_name}）`
        : st === 'zero' ? `今日已零上报（${one.grid_name}）`
          : '今日尚未上报：巡查发现问题请“上报问题”，没有问题请“零上报”。';
    } else if (grids.length) {
      const silent = grids.filter((g) => todayState(g) === 'silent');
      tone = silent.length ? 'silent' : 'zero';
      box.replaceChildren(...grids.map((g) => el('span', { class: `ck-today-item ck-today-${todayState(g)}`, dataset: { grid: g.grid_code } }, [
        el('b', { text: g.grid_name }),
        ` ${todayState(g) === 'reported' ? `已上报 ${g.reports} 件` : todayState(g) === 'zero' ? '已零上报' : '未报告'}`,
      ])));
    } else {
      box.textContent = '您的账号未关联网格，请联系管理员。';
    }
    if (state.zeroDone && state.zeroDone.recorded === false) {
      box.append(el('span', { class: 'ck-today-note', text: `（${state.zeroDone.grid_name}今日已零上报过，本次未重复记录）` }));
    }
    box.className = `ck-today-state ck-today-state-${tone}`;
    // One grid that was heard from today: 零上报 is done (or moot: it reported a problem).
    const zeroBtn = $('ck-zero-open');
    const doneOne = one ? todayState(one) : '';
    zeroBtn.disabled = doneOne === 'zero' || doneOne === 'reported' || zeroBusy;
    zeroBtn.textContent = doneOne === 'zero' ? '今日已零上报' : doneOne === 'reported' ? '无需零上报' : '零上报';
    if (zeroBtn.disabled && !zeroBusy) toggleZero(false);
    const sel = $('ck-zero-grid');
    const mine = myGrids();
    $('ck-zero-grid-row').hidden = mine.length <= 1;
    if (mine.length > 1 && sel.options.length !== mine.length) {
      const byCode = new Map(grids.map((g) => [g.grid_code, g]));
      sel.replaceChildren(...mine.map((g) => el('option', {
        text: `${g.name}${byCode.get(g.code) && todayState(byCode.get(g.code)) !== 'silent' ? '（今日已报告）' : ''}`,
        attrs: { value: g.code },
      })));
      const firstSilent = mine.find((g) => byCode.get(g.code) && todayState(byCode.get(g.code)) === 'silent');
      if (firstSilent) sel.value = firstSilent.code;
    }
  }

  let zeroBusy = false;

  function toggleZero(show = $('ck-zero-form').hidden) {
    const form = $('ck-zero-form');
    if (zeroBusy) return;
    form.hidden = !show;
    $('ck-zero-open').setAttribute('aria-expanded', show ? 'true' : 'false');
    $('ck-zero-error').hidden = true;
    if (show) {
      renderToday();
      $('ck-zero-note').focus({ preventScroll: true });
      form.scrollIntoView({ block: 'nearest' });
    }
  }

  async function submitZero() {
    if (zeroBusy) return;
    const body = {};
    const note = $('ck-zero-note').value.trim();
    if (note) body.note = note;
    if (!$('ck-zero-grid-row').hidden && $('ck-zero-grid').value) body.grid_code = $('ck-zero-grid').value;
    zeroBusy = true;
    const btn = $('ck-zero-submit');
    btn.disabled = true;
    btn.textContent = '提交中…';
    try {
      const r = await api('/api/v1/app/checkins', { method: 'POST', body });
      state.zeroDone = { grid_name: s(r && r.grid_name) || s(r && r.grid_code), recorded: !!(r && r.recorded) };
      // Say it at once; the day's list follows.
      if (state.today) {
        const g = state.today.grids.find((x) => x.grid_code === s(r && r.grid_code));
        if (g && !g.checkins) g.checkins = 1;
      }
      zeroBusy = false;
      $('ck-zero-note').value = '';
      toggleZero(false);
      renderToday();
      showToast(state.zeroDone.recorded
        ? `今日已零上报（${state.zeroDone.grid_name}）`
        : `${state.zeroDone.grid_name}今日已零上报过，无需重复提交`);
      loadToday();
    } catch (err) {
      zeroBusy = false;
      if (err instanceof SignedOut) return;
      const box = $('ck-zero-error');
      box.textContent = err instanceof HttpError
        ? G.chineseOnly(err.serverMessage) || `零上报未成功（服务器返回 ${err.status}）。`
        : '网络异常，零上报未提交，请重试。';
      box.hidden = false;
    } finally {
      btn.disabled = false;
      btn.textContent = '确认零上报';
      renderToday();
    }
  }

  // ---------------------------------------------------------------------
  // 上报问题: a report from the street (multipart: the fields, the position, up to 9 photos)
  // ---------------------------------------------------------------------

  const DESC_MIN = 2;
  const DESC_MAX = 4000;

  function openReport({ fromHash = false } = {}) {
    if (state.selectedId) closeCase({ fromHash: true });
    state.reporting = true;
    if (!state.report) state.report = buildReport();
    if (!fromHash && location.hash !== '#report') {
      history.pushState({ ck: 'report' }, '', '#report');
      pushed = true;
    }
    showToast('');
    render();
    window.scrollTo(0, 0);
  }

  /** Back to the list; what was typed stays (with its external_id) unless `done`. */
  function closeReport({ fromHash = false, done = false } = {}) {
    state.reporting = false;
    if (done && state.report) {
      G.renderPhotoPreviews(state.report.previewBox, [], state.report.previews);
      state.report = null;
    }
    pushed = false;
    if (!fromHash && location.hash) history.replaceState(null, '', location.pathname + location.search);
    render();
    window.scrollTo(0, 0);
  }

  function renderReport() {
    const box = $('ck-report');
    if (state.report && box.firstChild !== state.report.node) box.replaceChildren(state.report.node);
  }

  function fillReportGrids(r) {
    const mine = myGrids();
    const keep = r.inputs.grid_code.value;
    r.inputs.grid_code.replaceChildren(...(mine.length === 1
      ? [el('option', { text: mine[0].name, attrs: { value: mine[0].code } })]
      : [el('option', { text: '按定位确定网格', attrs: { value: '' } }),
        ...mine.map((g) => el('option', { text: g.name, attrs: { value: g.code } }))]));
    if (keep && mine.some((g) => g.code === keep)) r.inputs.grid_code.value = keep;
  }

  async function fillReportCategories(select) {
    try {
      const list = await G.refList('categories', api);
      const keep = select.value;
      select.replaceChildren(...G.categoryOptions(list, { empty: '由系统识别' }));
      if (keep) select.value = keep;
    } catch (err) {
      if (err instanceof SignedOut) return;
      select.replaceChildren(el('option', { text: '类别加载失败（可不选，由系统识别）', attrs: { value: '' } }));
    }
  }

  function buildReport() {
    const fk = G.formKit('ck-report');
    const r = { fk, inputs: {}, externalId: G.newExternalId('app'), point: null, previews: [], busy: false };
    const input = (tag, name, attrs = {}, cls = '') => {
      const node = el(tag, { class: `act-input ${cls}`.trim(), attrs: { name, autocomplete: 'off', ...attrs } });
      r.inputs[name] = node;
      return node;
    };
    const desc = input('textarea', 'description', { rows: 4, maxlength: DESC_MAX, placeholder: '发现了什么问题，例如：小区东门垃圾桶满溢，周边有异味' }, 'act-textarea');
    const category = input('select', 'category_code');
    category.append(el('option', { text: '加载中…', attrs: { value: '' } }));
    fillReportCategories(category);
    const grid = input('select', 'grid_code');
    fillReportGrids(r);
    const address = input('input', 'address', { maxlength: 300, placeholder: '例如：柳塘路12号小区东门' });
    const urgency = input('select', 'urgency');
    urgency.replaceChildren(...G.URGENCIES.map(([v, label]) => el('option', { text: label, attrs: { value: v } })));

    // The phone's position, when the worker asks for it (the browser asks them to allow it).
    r.locBtn = el('button', {
      class: 'btn btn-secondary ck-loc-btn', text: '获取当前位置',
      attrs: { type: 'button', id: 'ck-locate' }, on: { click: () => locate(r) },
    });
    r.locText = el('div', { class: 'ck-loc-text', attrs: { id: 'ck-loc-text', role: 'status', 'aria-live': 'polite' }, text: '未定位：可获取手机当前位置，也可不定位直接上报（请写清地址）。' });
    r.locClear = el('button', {
      class: 'link-btn', text: '不带定位', attrs: { type: 'button', id: 'ck-loc-clear' },
      on: { click: () => setPoint(r, null, '已取消定位，将不带定位上报。') },
    });
    r.locClear.hidden = true;
    const locRow = el('div', { class: 'act-field ck-loc', dataset: { field: 'lat' } }, [
      el('span', { class: 'act-label', text: '位置' }),
      el('div', { class: 'ck-loc-row' }, [r.locBtn, r.locClear]),
      r.locText,
    ]);

    // Photos: the camera on a phone; checked here (count, type, size) and again by the server.
    const photos = el('input', {
      class: 'act-file',
      attrs: {
        type: 'file', name: 'photos', id: 'ck-report-photos', multiple: true,
        accept: G.PHOTO_RULES.types.join(','), capture: 'environment',
      },
    });
    r.inputs.photos = photos;
    r.previewBox = el('div', { class: 'act-previews', attrs: { id: 'ck-report-previews' } });
    const photoRow = el('div', { class: 'act-file-row' }, [
      photos,
      el('label', { class: 'act-file-btn', attrs: { for: 'ck-report-photos' } }, ['拍照／选择照片']),
      el('span', { class: 'act-file-hint', text: `最多 ${G.PHOTO_RULES.max} 张，每张不超过 5 MB` }),
    ]);

    r.submit = el('button', { class: 'btn btn-primary', text: '提交上报', attrs: { type: 'submit', id: 'ck-report-submit' } });
    r.node = el('form', {
      class: 'ck-report-form',
      attrs: { id: 'ck-report-form', novalidate: true, 'aria-label': '上报问题' },
      on: { submit: (e) => { e.preventDefault(); submitReport(r); } },
    }, [
      el('p', { class: 'ck-intro ck-report-intro', text: '巡查中发现的问题，写清是什么、在哪里，拍照并定位后提交，系统将自动分派处置。' }),
      fk.row('description', '问题描述', desc, { required: true }),
      fk.row('category_code', '问题类别', category, { hint: '不选则由系统按描述识别' }),
      fk.row('grid_code', '网格', grid),
      locRow,
      fk.row('address', '地址', address),
      fk.row('urgency', '紧急程度', urgency),
      fk.row('photos', '现场照片', photos, { extra: el('div', {}, [photoRow, r.previewBox]) }),
      fk.error,
      el('div', { class: 'act-form-foot' }, [
        r.submit,
        el('button', { class: 'btn btn-plain', text: '取消', attrs: { type: 'button', id: 'ck-report-cancel' }, on: { click: () => { if (!r.busy) closeReport({ done: true }); } } }),
      ]),
    ]);
    // fk.row put the file input first in its row: back before its button (the button is its label).
    photoRow.prepend(photos);
    // After fk.row's own listener (which clears the field's error): say at once what is wrong with them.
    photos.addEventListener('change', () => {
      r.previews = G.renderPhotoPreviews(r.previewBox, photos.files, r.previews);
      const problem = G.photoProblem(photos.files);
      if (problem) fk.showErrors('', new Map([['photos', problem]]));
    });
    return r;
  }

  function setPoint(r, point, text) {
    r.point = point;
    r.locText.textContent = text;
    r.locText.className = `ck-loc-text${point ? ' ck-loc-ok' : ''}`;
    r.locClear.hidden = !point;
    r.locBtn.textContent = point ? '重新定位' : '获取当前位置';
  }

  function locate(r) {
    const geo = navigator.geolocation;
    if (!geo || !window.isSecureContext) {
      setPoint(r, null, '此浏览器无法定位（需通过 https 访问），可不带定位直接上报，请写清地址。');
      return;
    }
    r.locBtn.disabled = true;
    r.locText.className = 'ck-loc-text';
    r.locText.textContent = '正在定位…';
    geo.getCurrentPosition((pos) => {
      r.locBtn.disabled = r.busy;
      const c = pos.coords;
      const acc = Number.isFinite(c.accuracy) ? c.accuracy : null;
      setPoint(r, { lat: c.latitude, lon: c.longitude, accuracy: acc },
        `已定位：${c.longitude.toFixed(5)}, ${c.latitude.toFixed(5)}${acc != null ? `（精度约 ${Math.max(1, Math.round(acc))} 米）` : ''}`);
    }, (err) => {
      r.locBtn.disabled = r.busy;
      const why = err && err.code === 1 ? '您未允许定位（可在浏览器设置中允许）'
        : err && err.code === 3 ? '定位超时' : '定位不可用';
      setPoint(r, null, `无法获取位置：${why}。可不带定位直接上报，请写清地址。`);
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  function setReportBusy(r, busy) {
    r.busy = busy;
    r.node.setAttribute('aria-busy', busy ? 'true' : 'false');
    for (const node of r.node.querySelectorAll('input, textarea, select, button')) node.disabled = busy;
    r.submit.textContent = busy ? '正在上报…' : '提交上报';
  }

  async function submitReport(r) {
    if (r.busy) return;
    const errors = new Map();
    const description = r.inputs.description.value.trim();
    const descProblem = G.descriptionProblem(description, { min: DESC_MIN, max: DESC_MAX });
    if (descProblem) errors.set('description', descProblem);
    const files = [...(r.inputs.photos.files || [])];
    const problem = G.photoProblem(files);
    if (problem) errors.set('photos', problem);
    if (errors.size) {
      r.fk.showErrors('请检查以下内容后再提交。', errors);
      return;
    }
    const form = new FormData();
    form.append('description', description);
    for (const name of ['category_code', 'grid_code', 'address', 'urgency']) {
      const v = r.inputs[name].value.trim();
      if (v) form.append(name, v);
    }
    if (r.point) {
      form.append('lat', String(r.point.lat));
      form.append('lon', String(r.point.lon));
      if (r.point.accuracy != null) form.append('accuracy_m', String(Math.round(r.point.accuracy * 10) / 10));
      form.append('crs', 'wgs84');
    }
    form.append('external_id', r.externalId);
    for (const file of files) form.append('photos', file, file.name);
    r.fk.showErrors('');
    setReportBusy(r, true);
    let accepted;
    try {
      accepted = await api('/api/v1/app/reports', { method: 'POST', form });
    } catch (err) {
      if (err instanceof SignedOut) return;
      setReportBusy(r, false);
      r.fk.showServerError(err, '上报');
      return;
    }
    setReportBusy(r, false);
    const no = s(accepted && accepted.case_no);
    const shots = accepted && Number.isFinite(accepted.photos) ? accepted.photos : 0;
    closeReport({ done: true });
    showToast(accepted && accepted.duplicate_of_request === true
      ? `该上报已提交过：案件编号 ${no}`
      : `已上报：案件编号 ${no}${shots ? `（照片 ${shots} 张）` : ''}`);
    loadList();
    loadToday();
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
      if (state.reporting && !state.selectedId) {
        if (pushed && history.state && history.state.ck === 'report') history.back();
        else closeReport();
        return;
      }
      if (pushed && history.state && history.state.ck === 'case') history.back();
      else closeCase();
      loadList();
    });
    $('ck-report-open').addEventListener('click', () => openReport());
    $('ck-zero-open').addEventListener('click', () => toggleZero());
    $('ck-zero-cancel').addEventListener('click', () => toggleZero(false));
    $('ck-zero-form').addEventListener('submit', (e) => {
      e.preventDefault();
      submitZero();
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
    else if (!id && location.hash === '#report' && !state.reporting) openReport({ fromHash: true });
    else if (!id && location.hash !== '#report' && state.reporting) closeReport({ fromHash: true });
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
    loadToday();
    pollTimer = setInterval(() => {
      if (!state.selectedId && !state.reporting && document.visibilityState !== 'hidden') {
        loadList();
        loadToday();
      }
    }, POLL_MS);
    const id = G.caseIdFromHash();
    if (id) openCase(id, { fromHash: true });
    else if (location.hash === '#report') openReport({ fromHash: true });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
