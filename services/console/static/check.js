/*
 * Gridcase on-site check (/check), for grid workers on a phone: their grids' cases the department
 * reported handled (status resolved), and for each the description, the department's result and
 * photos, and pass (close) or fail (rework) with notes and photos (actions.js).
 *
 * Vanilla ES2020, no dependencies. Needs common.js and actions.js.
 */
'use strict';

(() => {
  const G = window.Gridcase;
  const { el, s, orDash, isObj, objects, HttpError, SignedOut } = G;
  const $ = (id) => document.getElementById(id);

  const LIST_URL = '/api/v1/cases?status=resolved&limit=100';
  const POLL_MS = 15000;

  const state = {
    items: [],
    loaded: false,
    selectedId: null,
    detail: null,
    detailError: null,
  };

  const session = G.createSession({
    onMe: (me) => {
      const u = isObj(me.user) ? me.user : {};
      $('whoami').textContent = [s(u.display_name) || s(u.username), s(u.unit)].filter(Boolean).join(' · ');
      setAlert('me', null);
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
  // The list
  // ---------------------------------------------------------------------

  let listBusy = false;
  async function loadList() {
    if (listBusy) return;
    listBusy = true;
    const btn = $('ck-refresh');
    btn.disabled = true;
    try {
      const data = await api(LIST_URL);
      G.setServerTime(data && data.server_time);
      // The server filters by status; keep only resolved ones in case it answers more.
      state.items = objects(data && data.items).filter((c) => typeof c.case_id === 'string' && c.status === 'resolved');
      state.loaded = true;
      setAlert('list', null);
      renderList();
    } catch (err) {
      if (err instanceof SignedOut) return;
      setAlert('list', `待核查案件加载失败（${G.describeError(err)}），请下拉或点“刷新”重试。`);
    } finally {
      listBusy = false;
      btn.disabled = false;
    }
  }

  function renderList() {
    $('ck-count').textContent = state.loaded ? `（${state.items.length}）` : '';
    $('ck-empty').hidden = !state.loaded || state.items.length > 0;
    $('ck-list').replaceChildren(...state.items.map((c) => el('li', {}, [
      el('button', {
        class: 'ck-card',
        attrs: { type: 'button' },
        dataset: { id: c.case_id, caseNo: s(c.case_no) },
        on: { click: () => openCase(c.case_id) },
      }, [
        el('span', { class: 'ck-card-top' }, [
          el('span', { class: 'ck-card-cat', text: orDash(c.category_name) }),
          el('span', { class: 'ck-card-no mono', text: orDash(c.case_no) }),
        ]),
        el('span', {
          class: `ck-card-desc${c.description_hidden === true ? ' muted' : ''}`,
          text: c.description_hidden === true ? '（无权查看案件描述）' : orDash(c.description),
        }),
        el('span', { class: 'ck-card-meta' }, [
          el('span', { text: orDash(c.grid_name) }),
          el('span', { text: s(c.department_name) || '—' }),
          el('span', { class: 'mono', text: `更新 ${G.fmtTime(c.updated_at)}` }),
        ]),
      ]),
    ])));
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
      // Checked: back to the list, which no longer has this case.
      const label = action === 'close' ? '核查通过，案件已结案。' : action === 'rework' ? '核查不通过，已退回部门返工。' : '已提交。';
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
    $('ck-title').textContent = id ? '案件核查' : '网格核查';
    document.title = id ? 'Gridcase 案件核查' : 'Gridcase 网格核查';
    if (!id) {
      actions.reset();
      renderList();
      return;
    }
    ensureParts();
    const d = state.detail && state.detail.case_id === id ? state.detail : null;
    const summary = d || state.items.find((c) => c.case_id === id) || null;
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
    top.push(summary.description_hidden === true
      ? el('p', { class: 'panel-desc panel-desc-hidden', text: '（无权查看案件描述）' })
      : el('p', { class: 'panel-desc', attrs: { id: 'ck-desc' }, text: orDash(summary.description) }));
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
    pollTimer = setInterval(() => {
      if (!state.selectedId && document.visibilityState !== 'hidden') loadList();
    }, POLL_MS);
    const id = G.caseIdFromHash();
    if (id) openCase(id, { fromHash: true });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
