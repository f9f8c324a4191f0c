/*
 * Gridcase responsibility matrix (/matrix, 权责清单): the check of the matrix, a "who handles it"
 * query for a category at a grid, and the table of category defaults and area rules. Admins
 * (reference.write) add, edit and delete rules; everyone else reads.
 *
 * Vanilla ES2020, no dependencies. Needs common.js. Server data reaches the DOM through
 * textContent / setAttribute only.
 */
'use strict';

(() => {
  const G = window.Gridcase;
  const { el, s, orDash, isObj, objects, HttpError, SignedOut } = G;
  const $ = (id) => document.getElementById(id);

  const LEVELS = [['grid', '网格'], ['community', '社区'], ['street', '街道'], ['district', '区']];
  const LEVEL_LABEL = new Map(LEVELS);
  const AREA_LEVEL_LABEL = new Map([['district', '区'], ['street', '街道'], ['community', '社区'], ['grid', '网格']]);
  const LIMIT_UNITS = { s: '秒', m: '分钟', h: '小时', wh: '工作小时', wd: '工作日' };
  const LIMIT_HINT = '时限格式：数字加单位，如 30m（30分钟）、2h（2小时）、4wh（4工作小时）、1wd（1工作日）';
  const FIELD_LABELS = {
    category_code: '案件类别',
    area_code: '适用区域',
    department_code: '主办部门',
    assist: '协办部门',
    level: '先行处置层级',
    sign_limit: '签收时限',
    handle_limit: '办结时限',
    note: '说明',
  };
  const FIELD_INPUTS = {
    category_code: 'mx-f-category',
    area_code: 'mx-f-area',
    department_code: 'mx-f-department',
    level: 'mx-f-level',
    sign_limit: 'mx-f-sign',
    handle_limit: 'mx-f-handle',
    note: 'mx-f-note',
  };
  const CHECK_OK = '检查通过：每个类别在每个网格都有责任部门';

  const state = {
    rules: [],
    loaded: false,
    categories: [],
    categoryName: new Map(),
    departments: new Map(), // code -> name, in the server's order
    areas: [], // the area tree, depth-first: {code, name, level, parent_code, depth}
    areaByCode: new Map(),
    canWrite: false,
    filters: { category: '', area: '', q: '' },
    confirmDelete: null, // the id of the rule whose 删除 waits for confirmation
    flash: null, // "category|area" of the row saved last
    form: null, // {mode: 'new' | 'rule' | 'default', row, opener}
  };

  const session = G.createSession({
    onMe: (me) => {
      G.renderWhoami(me, $('whoami'), $('user'));
      const perms = session.permissions;
      setCanWrite(!!perms && perms.has('reference.write'));
      setBackLink(s(me.role) || (isObj(me.user) ? s(me.user.role) : ''));
      setAlert('me', null);
    },
  });
  const api = session.api;

  // ---------------------------------------------------------------------
  // Alerts and notices
  // ---------------------------------------------------------------------

  const alerts = new Map();
  function setAlert(key, text) {
    if (text) alerts.set(key, text);
    else alerts.delete(key);
    const box = $('alert');
    box.textContent = [...alerts.values()].join('　');
    box.hidden = alerts.size === 0;
  }

  let noticeTimer = null;
  function notice(text, tone = 'ok') {
    const box = $('mx-notice');
    clearTimeout(noticeTimer);
    box.className = `acts-notice acts-notice-${tone} mx-notice`;
    box.textContent = text;
    box.hidden = !text;
    if (text) noticeTimer = setTimeout(() => { box.hidden = true; }, 8000);
  }

  function failure(what, err) {
    return err instanceof HttpError && err.serverMessage ? err.serverMessage : `${what}（${G.describeError(err)}）`;
  }

  // ---------------------------------------------------------------------
  // Formatting
  // ---------------------------------------------------------------------

  /** "30m" → "30分钟", "4wh" → "4工作小时", "1wd" → "1工作日"; anything else as it is. */
  function fmtLimit(v) {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|wh|wd)\s*$/.exec(s(v));
    return m ? `${m[1]}${LIMIT_UNITS[m[2]]}` : orDash(v);
  }

  function levelLabel(code, label) {
    return s(label) || LEVEL_LABEL.get(s(code)) || orDash(code);
  }

  function departmentName(code) {
    return state.departments.get(s(code)) || orDash(code);
  }

  function namesOf(codes) {
    const list = Array.isArray(codes) ? codes.filter((c) => typeof c === 'string') : [];
    return list.length ? list.map(departmentName).join('、') : '—';
  }

  /** Who changed a rule, as the server records it: "user:admin" → "admin", "system:seed" → "初始数据"… */
  function who(v) {
    const t = s(v);
    const [kind, ...rest] = t.split(':');
    const name = rest.join(':');
    if (!name) return orDash(t);
    if (kind === 'user') return name;
    if (kind === 'token') return `接口令牌 ${name}`;
    if (kind === 'cli') return `命令行（${name}）`;
    if (kind === 'system') return name === 'seed' ? '初始数据' : `系统（${name}）`;
    return t;
  }

  function categoryLabel(code) {
    const name = state.categoryName.get(code);
    return name ? `${code} ${name}` : code;
  }

  // ---------------------------------------------------------------------
  // Reference data: categories, departments, the area tree
  // ---------------------------------------------------------------------

  function setAreas(geojson) {
    const nodes = objects(geojson && geojson.features)
      .map((f) => (isObj(f.properties) ? f.properties : {}))
      .filter((p) => s(p.code))
      .map((p) => ({ code: s(p.code), name: s(p.name) || s(p.code), level: s(p.level), parent_code: s(p.parent_code) || null }));
    const byCode = new Map(nodes.map((n) => [n.code, n]));
    const children = new Map();
    const roots = [];
    for (const n of nodes) {
      if (n.parent_code && byCode.has(n.parent_code)) {
        if (!children.has(n.parent_code)) children.set(n.parent_code, []);
        children.get(n.parent_code).push(n);
      } else {
        roots.push(n);
      }
    }
    const out = [];
    const walk = (list, depth) => {
      for (const n of [...list].sort((a, b) => a.code.localeCompare(b.code))) {
        if (out.some((o) => o.code === n.code)) continue; // a cycle in bad data
        out.push({ ...n, depth });
        walk(children.get(n.code) || [], depth + 1);
      }
    };
    walk(roots, 0);
    state.areas = out;
    state.areaByCode = new Map(out.map((n) => [n.code, n]));
  }

  /** The area and its ancestors, most specific first. */
  function pathOf(code) {
    const out = [];
    let node = state.areaByCode.get(code);
    while (node && !out.includes(node.code)) {
      out.push(node.code);
      node = node.parent_code ? state.areaByCode.get(node.parent_code) : null;
    }
    return out;
  }

  /** Areas as indented options (区 / 街道 / 社区 / 网格). */
  function areaOptions() {
    return state.areas.map((n) => el('option', {
      text: `${'\u3000'.repeat(n.depth)}${n.name}`,
      attrs: { value: n.code, 'data-level': n.level },
    }));
  }

  /** Grids, under "街道 · 社区" groups. */
  function gridOptions() {
    const groups = new Map();
    for (const n of state.areas) {
      if (n.level !== 'grid') continue;
      const parents = pathOf(n.code).slice(1).map((c) => state.areaByCode.get(c))
        .filter((a) => a && a.level !== 'district').reverse();
      const label = parents.map((a) => a.name).join(' · ') || '其他';
      if (!groups.has(label)) groups.set(label, []);
      groups.get(label).push(el('option', { text: n.name, attrs: { value: n.code } }));
    }
    return [...groups].map(([label, options]) => el('optgroup', { attrs: { label } }, options));
  }

  function categoryOptions() {
    return state.categories.map((c) => el('option', { text: `${s(c.code)} ${s(c.name)}`, attrs: { value: s(c.code) } }));
  }

  function fillSelect(select, first, options) {
    const keep = select.value;
    select.replaceChildren(...first, ...options);
    if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  }

  async function loadReference() {
    const [categories, departments, grids] = await Promise.all([
      api('/api/v1/categories'),
      api('/api/v1/departments'),
      api('/api/v1/grids'),
    ]);
    state.categories = objects(categories).filter((c) => s(c.code));
    state.categoryName = new Map(state.categories.map((c) => [s(c.code), s(c.name)]));
    state.departments = new Map(objects(departments).filter((d) => s(d.code)).map((d) => [s(d.code), s(d.name) || s(d.code)]));
    setAreas(grids);

    fillSelect($('mx-filter-category'), [el('option', { text: '全部类别', attrs: { value: '' } })], categoryOptions());
    fillSelect($('mx-filter-area'), [el('option', { text: '全部区域', attrs: { value: '' } })], areaOptions());
    fillSelect($('mx-resolve-category'), [el('option', { text: '请选择类别', attrs: { value: '' } })], categoryOptions());
    fillSelect($('mx-resolve-grid'), [el('option', { text: '请选择网格', attrs: { value: '' } })], gridOptions());
  }

  // ---------------------------------------------------------------------
  // The check
  // ---------------------------------------------------------------------

  let checkSeq = 0;
  async function loadCheck() {
    const seq = ++checkSeq;
    const box = $('mx-check-body');
    box.setAttribute('aria-busy', 'true');
    try {
      const data = await api('/api/v1/matrix/check');
      if (seq !== checkSeq) return;
      renderCheck(isObj(data) ? data : {});
    } catch (err) {
      if (err instanceof SignedOut || seq !== checkSeq) return;
      box.dataset.ok = '';
      $('mx-check').className = 'card mx-check mx-check-fail';
      box.replaceChildren(el('p', { class: 'mx-check-line', text: `矩阵检查失败：${failure('请稍后重试', err)}` }));
    } finally {
      if (seq === checkSeq) box.removeAttribute('aria-busy');
    }
  }

  function renderCheck(data) {
    const box = $('mx-check-body');
    const problems = objects(data.problems);
    const errors = problems.filter((p) => s(p.severity) === 'error');
    const ok = data.ok === true && errors.length === 0;
    box.dataset.ok = ok ? 'true' : 'false';
    $('mx-check').className = `card mx-check ${ok ? 'mx-check-ok' : 'mx-check-fail'}`;
    const head = ok
      ? el('p', { class: 'mx-check-line mx-check-pass', attrs: { id: 'mx-check-pass' } }, [
        el('span', { class: 'mx-check-icon', text: '✓', attrs: { 'aria-hidden': 'true' } }),
        CHECK_OK,
        problems.length ? el('span', { class: 'mx-check-extra', text: `（另有 ${problems.length} 条提示）` }) : null,
      ])
      : el('p', { class: 'mx-check-line mx-check-bad' }, [
        el('span', { class: 'mx-check-icon', text: '!', attrs: { 'aria-hidden': 'true' } }),
        `检查未通过：发现 ${errors.length} 个错误${problems.length > errors.length ? `、${problems.length - errors.length} 条提示` : ''}，请修正后再派遣`,
      ]);
    const list = problems.length
      ? el('ul', { class: 'mx-problems', attrs: { id: 'mx-problems' } }, problems.map((p) => {
        const error = s(p.severity) === 'error';
        const code = s(p.category_code);
        return el('li', { class: `mx-problem mx-problem-${error ? 'error' : 'warning'}`, dataset: { severity: error ? 'error' : 'warning' } }, [
          el('span', { class: 'mx-problem-tag', text: error ? '错误' : '提示' }),
          el('span', { class: 'mx-problem-text', text: s(p.message) || '（无说明）' }),
          code && state.categoryName.has(code)
            ? el('button', {
              class: 'link-btn mx-problem-show',
              text: '查看该类别',
              attrs: { type: 'button', 'aria-label': `查看类别 ${categoryLabel(code)}` },
              on: { click: () => showCategory(code) },
            })
            : null,
        ]);
      }))
      : null;
    box.replaceChildren(...[head, list].filter(Boolean));
  }

  function showCategory(code) {
    $('mx-filter-category').value = code;
    $('mx-filter-area').value = '';
    $('mx-filter-q').value = '';
    state.filters = { category: code, area: '', q: '' };
    renderTable();
    $('mx-rules-title').scrollIntoView({ block: 'start', behavior: 'smooth' });
  }

  // ---------------------------------------------------------------------
  // The rules table
  // ---------------------------------------------------------------------

  let rulesSeq = 0;
  async function loadRules() {
    const seq = ++rulesSeq;
    try {
      const data = await api('/api/v1/matrix/rules');
      if (seq !== rulesSeq) return;
      state.rules = objects(data).filter((r) => s(r.category_code));
      state.loaded = true;
      setAlert('rules', null);
      renderTable();
    } catch (err) {
      if (err instanceof SignedOut || seq !== rulesSeq) return;
      setAlert('rules', `权责清单加载失败：${failure('请刷新页面重试', err)}`);
    }
  }

  const rowKey = (r) => `${s(r.category_code)}|${s(r.area_code) || 'default'}`;

  /** Related to the chosen area: the area itself, the areas above it (their rules apply there) and below. */
  function relatedToArea(areaCode, chosen) {
    if (!areaCode) return false;
    return pathOf(chosen).includes(areaCode) || pathOf(areaCode).includes(chosen);
  }

  function groups() {
    const f = state.filters;
    const q = f.q.trim().toLowerCase();
    const byCategory = new Map();
    for (const r of state.rules) {
      const code = s(r.category_code);
      if (!byCategory.has(code)) byCategory.set(code, { code, name: s(r.category_name), def: null, rules: [] });
      const g = byCategory.get(code);
      if (s(r.area_code)) g.rules.push(r);
      else g.def = r;
    }
    const out = [];
    for (const g of byCategory.values()) {
      if (f.category && g.code !== f.category) continue;
      if (q && !g.name.toLowerCase().includes(q) && !g.code.includes(q)) continue;
      const rules = f.area ? g.rules.filter((r) => relatedToArea(s(r.area_code), f.area)) : g.rules;
      if (f.area && !rules.length) continue;
      out.push({ ...g, rules });
    }
    return out;
  }

  function renderTable() {
    // A re-render keeps the focus on the same button of the same row.
    const active = document.activeElement;
    const activeRow = active && active.dataset && active.dataset.action ? active.closest('#mx-table tr.mx-row') : null;
    const keep = activeRow ? { row: activeRow.dataset, action: active.dataset.action } : null;
    const list = groups();
    const f = state.filters;
    $('mx-reset').hidden = !(f.category || f.area || f.q);
    const bodies = list.map(groupBody);
    const table = $('mx-table');
    for (const old of [...table.tBodies]) old.remove();
    table.append(...bodies);
    $('mx-empty').hidden = !state.loaded || list.length > 0;
    if (!state.loaded) {
      $('mx-count').textContent = '加载中…';
    } else {
      const rules = list.reduce((a, g) => a + g.rules.length, 0);
      $('mx-count').textContent = `显示 ${list.length} 个类别，${rules} 条区域规则`;
    }
    state.flash = null;
    if (keep) focusOp({ category_code: keep.row.category, area_code: keep.row.area === 'default' ? '' : keep.row.area }, keep.action);
  }

  function groupBody(g) {
    const rows = [g.def, ...g.rules].filter(Boolean);
    const def = g.def || {};
    return el('tbody', { class: 'mx-group', dataset: { category: g.code } }, rows.map((r, i) => ruleRow(r, def, i === 0 ? rows.length : 0, g)));
  }

  function inherited(text) {
    return el('span', { class: 'mx-inherit', text: `（沿用默认：${text}）` });
  }

  /** A cell of an area rule: its own value, or the default's, greyed. */
  function valueCell(cls, own, fallback) {
    return el('td', { class: cls }, [own == null ? inherited(fallback) : own]);
  }

  function ruleRow(r, def, rowspan, g) {
    const isDefault = !s(r.area_code);
    const key = rowKey(r);
    const cells = [];
    if (rowspan) {
      cells.push(el('th', { class: 'mx-col-cat', attrs: { scope: 'rowgroup', rowspan } }, [
        el('span', { class: 'mx-cat-code mono', text: g.code }),
        el('span', { class: 'mx-cat-name', text: g.name || '—' }),
      ]));
    }
    cells.push(el('td', { class: 'mx-col-area' }, isDefault
      ? [el('span', { class: 'mx-default-tag', text: s(r.area_name) || '全区（类别默认）' })]
      : [
        el('span', { class: 'mx-area-name', text: s(r.area_name) || orDash(r.area_code) }),
        s(r.area_level) ? el('span', { class: 'mx-area-level', text: AREA_LEVEL_LABEL.get(s(r.area_level)) || s(r.area_level) }) : null,
      ]));
    const dept = (row) => (s(row.department_code) ? s(row.department_name) || departmentName(row.department_code) : null);
    const assist = (row) => {
      if (!Array.isArray(row.assist)) return null;
      const names = Array.isArray(row.assist_names) ? row.assist_names.map(s).filter(Boolean) : [];
      return names.length ? names.join('、') : namesOf(row.assist);
    };
    const level = (row) => (s(row.level) ? levelLabel(row.level, row.level_label) : null);
    const limit = (v) => (s(v) ? fmtLimit(v) : null);
    const orD = (v) => (v == null ? '—' : v);
    if (isDefault) {
      cells.push(
        el('td', { class: 'mx-col-dept', text: orD(dept(r)) }),
        el('td', { class: 'mx-col-assist', text: orD(assist(r)) }),
        el('td', { class: 'mx-col-level', text: orD(level(r)) }),
        el('td', { class: 'mx-col-limit', text: orD(limit(r.sign_limit)) }),
        el('td', { class: 'mx-col-limit', text: orD(limit(r.handle_limit)) }),
      );
    } else {
      cells.push(
        valueCell('mx-col-dept', dept(r), orD(dept(def))),
        valueCell('mx-col-assist', assist(r), orD(assist(def))),
        valueCell('mx-col-level', level(r), orD(level(def))),
        valueCell('mx-col-limit', limit(r.sign_limit), orD(limit(def.sign_limit))),
        valueCell('mx-col-limit', limit(r.handle_limit), orD(limit(def.handle_limit))),
      );
    }
    cells.push(el('td', { class: 'mx-col-note', text: isDefault ? '' : s(r.note), title: s(r.note) || undefined }));
    cells.push(el('td', { class: 'mx-col-updated' }, s(r.updated_by) || s(r.updated_at)
      ? [
        el('span', { class: 'mx-updated-by', text: who(r.updated_by), title: s(r.updated_by) || undefined }),
        el('span', { class: 'mx-updated-at mono', text: G.fmtMinute(r.updated_at), title: G.fmtFull(r.updated_at) || undefined }),
      ]
      : [el('span', { class: 'muted', text: '—' })]));
    if (state.canWrite) cells.push(opsCell(r, isDefault, g));
    return el('tr', {
      class: `mx-row ${isDefault ? 'mx-row-default' : 'mx-row-rule'}${state.flash === key ? ' flash' : ''}`,
      dataset: { category: g.code, area: s(r.area_code) || 'default', ruleId: r.id == null ? '' : String(r.id) },
    }, cells);
  }

  function opsCell(r, isDefault, g) {
    const where = isDefault ? '全区默认' : s(r.area_name) || s(r.area_code);
    const what = `${g.code} ${g.name}（${where}）`;
    if (!isDefault && state.confirmDelete === r.id) {
      return el('td', { class: 'mx-col-ops mx-confirm' }, [
        el('span', { class: 'mx-confirm-text', text: '确定删除？' }),
        el('button', {
          class: 'btn btn-danger mx-op', text: '确认删除',
          attrs: { type: 'button', 'data-action': 'confirm-delete', 'aria-label': `确认删除 ${what} 的规则` },
          on: { click: (e) => deleteRule(r, e.currentTarget) },
        }),
        el('button', {
          class: 'btn btn-plain mx-op', text: '取消',
          attrs: { type: 'button', 'data-action': 'cancel-delete' },
          on: { click: () => { state.confirmDelete = null; renderTable(); focusOp(r, 'delete'); } },
        }),
      ]);
    }
    return el('td', { class: 'mx-col-ops' }, [
      el('button', {
        class: 'btn btn-secondary mx-op', text: '编辑',
        attrs: { type: 'button', 'data-action': 'edit', 'aria-label': `编辑 ${what}` },
        on: { click: (e) => openForm(r, e.currentTarget) },
      }),
      isDefault ? null : el('button', {
        class: 'btn btn-danger mx-op', text: '删除',
        attrs: { type: 'button', 'data-action': 'delete', 'aria-label': `删除 ${what} 的规则` },
        on: {
          click: () => {
            state.confirmDelete = r.id;
            renderTable();
            focusOp(r, 'confirm-delete');
          },
        },
      }),
    ]);
  }

  function rowOf(r) {
    return document.querySelector(
      `#mx-table tr[data-category="${CSS.escape(s(r.category_code))}"][data-area="${CSS.escape(s(r.area_code) || 'default')}"]`,
    );
  }

  function focusOp(r, action) {
    const row = rowOf(r);
    const btn = row && row.querySelector(`[data-action="${action}"]`);
    if (btn) btn.focus({ preventScroll: true });
  }

  async function deleteRule(r, btn) {
    btn.disabled = true;
    btn.textContent = '正在删除…';
    const what = `${categoryLabel(s(r.category_code))} · ${s(r.area_name) || s(r.area_code)}`;
    try {
      await api(`/api/v1/matrix/rules/${encodeURIComponent(String(r.id))}`, { method: 'DELETE' });
      notice(`已删除规则：${what}`);
    } catch (err) {
      if (err instanceof SignedOut) return;
      notice(`删除失败：${failure('请稍后重试', err)}`, 'warn');
    }
    state.confirmDelete = null;
    $('mx-rules-title').focus();
    afterChange();
  }

  /** After any change: the table, the check and the open query again. */
  function afterChange() {
    loadRules();
    loadCheck();
    if ($('mx-resolve-category').value && $('mx-resolve-grid').value) resolve();
  }

  // ---------------------------------------------------------------------
  // 查询责任
  // ---------------------------------------------------------------------

  let resolveSeq = 0;
  async function resolve() {
    const category = $('mx-resolve-category').value;
    const grid = $('mx-resolve-grid').value;
    const box = $('mx-resolve-result');
    if (!category || !grid) {
      box.className = 'mx-resolve-result mx-resolve-hint';
      box.replaceChildren(el('p', { text: '请选择案件类别和网格。' }));
      return;
    }
    const seq = ++resolveSeq;
    box.setAttribute('aria-busy', 'true');
    try {
      const p = new URLSearchParams({ category_code: category, grid_code: grid });
      const data = await api(`/api/v1/matrix/resolve?${p}`);
      if (seq !== resolveSeq) return;
      renderResolved(isObj(data) ? data : {}, grid);
    } catch (err) {
      if (err instanceof SignedOut || seq !== resolveSeq) return;
      box.className = 'mx-resolve-result mx-resolve-error';
      box.replaceChildren(el('p', { text: `查询失败：${failure('请稍后重试', err)}` }));
    } finally {
      if (seq === resolveSeq) box.removeAttribute('aria-busy');
    }
  }

  function renderResolved(d, grid) {
    const box = $('mx-resolve-result');
    const area = state.areaByCode.get(s(d.grid_code) || grid);
    const gridName = area ? area.name : orDash(d.grid_code);
    const code = s(d.category_code);
    const catName = state.categoryName.get(code) || code;
    const label = s(d.first_handler_label);
    const first = s(d.first_handler) ? `先由${label || levelLabel(d.first_handler)}先行处置` : `由${label || '职能部门'}直接处置`;
    const lead = s(d.department_name) || (s(d.department_code) ? departmentName(d.department_code) : '—');
    const basis = s(d.rule_area_code) ? `${s(d.rule_area_name) || s(d.rule_area_code)}规则` : '类别默认';
    const b = (text, cls = '') => el('b', { class: cls, text });
    box.className = 'mx-resolve-result mx-resolve-done';
    box.replaceChildren(el('p', { class: 'mx-resolve-text', attrs: { id: 'mx-resolve-text' } }, [
      b(gridName), '的“', b(catName), '”：',
      b(first, `mx-first mx-first-${s(d.first_handler) || 'department'}`),
      '，主办 ', b(lead),
      '，协办 ', namesOf(d.assist),
      '，签收 ', b(fmtLimit(d.sign_limit)),
      '，办结 ', b(fmtLimit(d.handle_limit)),
      el('span', { class: 'mx-basis', text: `（依据：${basis}）` }),
    ]));
  }

  // ---------------------------------------------------------------------
  // The rule form (admins)
  // ---------------------------------------------------------------------

  function defaultOf(category) {
    return state.rules.find((r) => s(r.category_code) === category && !s(r.area_code)) || null;
  }

  function existingRule(category, area) {
    return state.rules.find((r) => s(r.category_code) === category && s(r.area_code) === area) || null;
  }

  /** The form's parts for the chosen category: "沿用默认（…）" options, placeholders, assist boxes. */
  function fillChoices({ mode, row }) {
    const category = $('mx-f-category').value;
    const def = defaultOf(category) || {};
    const own = mode === 'default';
    const inheritText = (text) => `沿用默认（${text}）`;
    const deptFirst = own ? [] : [el('option', { text: inheritText(s(def.department_name) || departmentName(def.department_code)), attrs: { value: '' } })];
    const deptSelect = $('mx-f-department');
    const deptValue = deptSelect.value;
    deptSelect.replaceChildren(...deptFirst, ...[...state.departments].map(([code, name]) => el('option', { text: name, attrs: { value: code } })));
    deptSelect.value = deptValue;
    if (deptSelect.selectedIndex < 0) deptSelect.selectedIndex = 0;

    const levelSelect = $('mx-f-level');
    const levelValue = levelSelect.value;
    levelSelect.replaceChildren(
      ...(own ? [] : [el('option', { text: inheritText(levelLabel(def.level, def.level_label)), attrs: { value: '' } })]),
      ...LEVELS.map(([code, label]) => el('option', { text: label, attrs: { value: code } })),
    );
    levelSelect.value = levelValue;
    if (levelSelect.selectedIndex < 0) levelSelect.selectedIndex = 0;

    for (const [id, key] of [['mx-f-sign', 'sign_limit'], ['mx-f-handle', 'handle_limit']]) {
      $(id).placeholder = own ? '如 2h、4wh、1wd' : `留空沿用默认：${fmtLimit(def[key])}`;
    }
    $('mx-f-assist-inherit-text').textContent = own ? '' : inheritText(namesOf(def.assist));
    if ($('mx-f-assist-inherit').checked) setAssistBoxes(Array.isArray(def.assist) ? def.assist : []);
    syncAssist();
  }

  function setAssistBoxes(codes) {
    const chosen = new Set(codes);
    for (const box of $('mx-f-assist-list').querySelectorAll('input[type="checkbox"]')) box.checked = chosen.has(box.value);
  }

  function syncAssist() {
    const inherit = !$('mx-f-assist-inherit-wrap').hidden && $('mx-f-assist-inherit').checked;
    $('mx-f-assist-list').classList.toggle('mx-disabled', inherit);
    for (const box of $('mx-f-assist-list').querySelectorAll('input[type="checkbox"]')) box.disabled = inherit;
  }

  function areaHint() {
    const { mode } = state.form || {};
    const hint = $('mx-f-area-hint');
    if (mode !== 'new') {
      hint.textContent = mode === 'default' ? '类别默认适用于全区；区域规则未填写的项沿用这里的设置' : '';
      return;
    }
    const area = $('mx-f-area').value;
    hint.textContent = area && existingRule($('mx-f-category').value, area)
      ? '该区域已有此类别的规则，保存将覆盖原规则'
      : '规则适用于所选区域及其下级区域（以最具体的规则为准）';
  }

  function openForm(row, opener) {
    const mode = !row ? 'new' : s(row.area_code) ? 'rule' : 'default';
    state.form = { mode, row, opener: opener || null };
    const category = row ? s(row.category_code) : state.filters.category;
    const catSelect = $('mx-f-category');
    catSelect.replaceChildren(el('option', { text: '请选择类别', attrs: { value: '' } }), ...categoryOptions());
    catSelect.value = category;
    catSelect.disabled = mode !== 'new';

    const areaSelect = $('mx-f-area');
    if (mode === 'default') {
      areaSelect.replaceChildren(el('option', { text: '全区（类别默认）', attrs: { value: '' } }));
    } else {
      areaSelect.replaceChildren(el('option', { text: '请选择区域', attrs: { value: '' } }), ...areaOptions());
      areaSelect.value = row ? s(row.area_code) : state.filters.area;
    }
    areaSelect.disabled = mode !== 'new';
    areaSelect.required = mode === 'new';

    // Clear, then fill from the row (an edited rule) or leave empty (a new rule inherits everything).
    $('mx-f-department').value = '';
    $('mx-f-level').value = '';
    $('mx-f-assist-list').replaceChildren(...[...state.departments].map(([code, name]) => el('label', { class: 'mx-assist-item' }, [
      el('input', { attrs: { type: 'checkbox', name: 'assist', value: code } }),
      el('span', { text: name }),
    ])));
    $('mx-f-assist-inherit-wrap').hidden = mode === 'default';
    $('mx-f-assist-inherit').checked = mode !== 'default' && !(row && Array.isArray(row.assist));
    fillChoices({ mode });
    if (row) {
      $('mx-f-department').value = s(row.department_code);
      $('mx-f-level').value = s(row.level);
      if (Array.isArray(row.assist)) setAssistBoxes(row.assist);
    }
    syncAssist();
    $('mx-f-sign').value = row ? s(row.sign_limit) : '';
    $('mx-f-handle').value = row ? s(row.handle_limit) : '';
    $('mx-f-note').value = row && mode === 'rule' ? s(row.note) : '';
    $('mx-f-note-wrap').hidden = mode === 'default';

    const where = row ? (mode === 'default' ? '全区默认' : s(row.area_name)) : '';
    $('mx-form-title').textContent = mode === 'new' ? '新增区域规则' : mode === 'default' ? '编辑类别默认' : '编辑区域规则';
    $('mx-form-hint').textContent = mode === 'new'
      ? '未填写的项沿用该类别的全区默认'
      : `${categoryLabel(category)} · ${where}`;
    $('mx-limit-hint').textContent = mode === 'default' ? `${LIMIT_HINT}；留空则不修改` : `${LIMIT_HINT}；留空沿用默认`;
    areaHint();
    formError(null);
    const dialog = $('mx-dialog');
    if (!dialog.open) dialog.showModal();
    (mode === 'new' ? (category ? areaSelect : catSelect) : $('mx-f-department')).focus();
  }

  function closeForm() {
    const dialog = $('mx-dialog');
    if (dialog.open) dialog.close();
  }

  function onDialogClose() {
    const form = state.form;
    state.form = null;
    formError(null);
    // Back to the button that opened the form (re-rendered rows: find it again).
    let target = form && form.opener && document.contains(form.opener) ? form.opener : null;
    if (!target && form && form.row) {
      const row = rowOf(form.row);
      target = row && row.querySelector('[data-action="edit"]');
    }
    (target || $('mx-add')).focus();
  }

  function formError(text, fields = []) {
    const box = $('mx-form-error');
    box.textContent = text || '';
    box.hidden = !text;
    for (const id of Object.values(FIELD_INPUTS)) $(id).removeAttribute('aria-invalid');
    $('mx-f-assist').classList.remove('mx-invalid');
    for (const f of fields) {
      if (FIELD_INPUTS[f]) $(FIELD_INPUTS[f]).setAttribute('aria-invalid', 'true');
      if (f === 'assist') $('mx-f-assist').classList.add('mx-invalid');
    }
  }

  function formBody(mode) {
    const body = { category_code: $('mx-f-category').value };
    if (mode !== 'default') body.area_code = $('mx-f-area').value;
    const dept = $('mx-f-department').value;
    if (dept) body.department_code = dept;
    if (mode === 'default' || !$('mx-f-assist-inherit').checked) {
      body.assist = [...$('mx-f-assist-list').querySelectorAll('input[type="checkbox"]:checked')].map((b) => b.value);
    }
    const level = $('mx-f-level').value;
    if (level) body.level = level;
    for (const [id, key] of [['mx-f-sign', 'sign_limit'], ['mx-f-handle', 'handle_limit']]) {
      const v = $(id).value.trim();
      if (v) body[key] = v;
    }
    const note = $('mx-f-note').value.trim();
    if (note && mode !== 'default') body.note = note;
    return body;
  }

  async function submitForm(e) {
    e.preventDefault();
    const form = state.form;
    if (!form) return;
    const submit = $('mx-form-submit');
    if (submit.disabled) return;
    const body = formBody(form.mode);
    const missing = [];
    if (!body.category_code) missing.push('category_code');
    if (form.mode !== 'default' && !body.area_code) missing.push('area_code');
    if (missing.length) {
      formError(`请选择${missing.map((f) => FIELD_LABELS[f]).join('和')}`, missing);
      $(FIELD_INPUTS[missing[0]]).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = '正在保存…';
    $('mx-form').setAttribute('aria-busy', 'true');
    try {
      const saved = await api('/api/v1/matrix/rules', { method: 'PUT', body });
      const row = isObj(saved) ? saved : body;
      state.flash = rowKey(row);
      const where = s(row.area_name) || (s(row.area_code) ? s(row.area_code) : '全区默认');
      form.opener = null;
      closeForm();
      notice(`已保存：${categoryLabel(s(row.category_code))} · ${where}`);
      afterChange();
    } catch (err) {
      if (err instanceof SignedOut) return;
      const fields = err instanceof HttpError ? [...err.fields].filter((f) => FIELD_LABELS[f]) : [];
      let text = failure('保存失败，请稍后重试', err);
      if (fields.length) text += `：${fields.map((f) => FIELD_LABELS[f]).join('、')}`;
      if (fields.some((f) => f === 'sign_limit' || f === 'handle_limit')) text += `。${LIMIT_HINT}`;
      formError(text, fields);
      if (fields.length && FIELD_INPUTS[fields[0]]) $(FIELD_INPUTS[fields[0]]).focus();
    } finally {
      submit.disabled = false;
      submit.textContent = '保存';
      $('mx-form').removeAttribute('aria-busy');
    }
  }

  // ---------------------------------------------------------------------
  // Who is signed in
  // ---------------------------------------------------------------------

  function setCanWrite(can) {
    if (state.canWrite === can) return;
    state.canWrite = can;
    $('mx-add').hidden = !can;
    $('mx-col-ops').hidden = !can;
    $('mx-table').classList.toggle('mx-writable', can);
    if (!can) closeForm();
    renderTable();
  }

  /** Staff working elsewhere go back to their own page. */
  function setBackLink(role) {
    const home = G.homeOf(role);
    const link = $('mx-back');
    link.href = home;
    link.textContent = home === '/workbench' ? '返回工作台' : home === '/check' ? '返回网格核查' : '返回指挥台';
  }

  // ---------------------------------------------------------------------
  // Boot
  // ---------------------------------------------------------------------

  function setFilter(changes) {
    Object.assign(state.filters, changes);
    state.confirmDelete = null;
    renderTable();
  }

  function init() {
    renderTable();
    $('mx-filter-category').addEventListener('change', (e) => setFilter({ category: e.target.value }));
    $('mx-filter-area').addEventListener('change', (e) => setFilter({ area: e.target.value }));
    $('mx-filter-q').addEventListener('input', (e) => setFilter({ q: e.target.value }));
    $('mx-reset').addEventListener('click', () => {
      $('mx-filter-category').value = '';
      $('mx-filter-area').value = '';
      $('mx-filter-q').value = '';
      setFilter({ category: '', area: '', q: '' });
      $('mx-filter-category').focus();
    });
    $('mx-recheck').addEventListener('click', loadCheck);
    $('mx-resolve-form').addEventListener('submit', (e) => {
      e.preventDefault();
      resolve();
    });
    for (const id of ['mx-resolve-category', 'mx-resolve-grid']) {
      $(id).addEventListener('change', () => {
        if ($('mx-resolve-category').value && $('mx-resolve-grid').value) resolve();
      });
    }
    $('mx-add').addEventListener('click', (e) => openForm(null, e.currentTarget));
    $('mx-form').addEventListener('submit', submitForm);
    $('mx-form-cancel').addEventListener('click', closeForm);
    $('mx-dialog').addEventListener('close', onDialogClose);
    $('mx-f-category').addEventListener('change', () => {
      if (state.form) fillChoices(state.form);
      areaHint();
    });
    $('mx-f-area').addEventListener('change', areaHint);
    $('mx-f-assist-inherit').addEventListener('change', syncAssist);
    $('logout').addEventListener('click', () => session.logout($('logout'), (text) => setAlert('logout', text)));
    window.addEventListener('pageshow', (e) => {
      if (e.persisted) session.loadMe().catch(() => {});
    });
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
    try {
      await loadReference();
      setAlert('reference', null);
    } catch (err) {
      if (err instanceof SignedOut) return;
      setAlert('reference', `类别、部门或网格加载失败：${failure('请刷新页面重试', err)}`);
    }
    loadCheck();
    loadRules();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
