/*
 * Gridcase console: the operator's entry of a report (录入案件) — a call taken by hand, a task handed down
 * from above (上级交办), a WeChat message retyped — posted as POST /api/v1/reports (JSON).
 *
 * Vanilla ES2020, no build step, nothing fetched from outside this origin. Needs common.js
 * (window.Gridcase). Exposes `window.GridcaseEntry`:
 *
 *   const entry = GridcaseEntry.create({ request, areas, map, onCreated });
 *   entry.open();            // shows the side panel (#entry-panel), keeping a draft closed with ✕
 *   entry.refreshAreas();    // the grids arrived (or changed): refill the grid list
 *
 * `request(url, {method, body})` is the page's API call (cookie + CSRF header); `areas()` the page's
 * G.areaIndex of GET /api/v1/grids (or null while loading); `map` picks a point on the page's map:
 * {startPick(onPick), stopPick(), showPoint(point|null)} where onPick gets {lon, lat, grid_code}.
 * Each fresh form has its own external_id, so a double click or a retry makes one case.
 */
'use strict';

window.GridcaseEntry = (() => {
  const G = window.Gridcase;
  const { el, s } = G;

  // The channels an operator enters by hand (the server checks again: REPORT_CHANNELS).
  const CHANNELS = [
    ['operator', '指挥中心录入'],
    ['superior', '上级交办'],
    ['hotline', '12345热线（人工录入）'],
    ['wechat', '微信（人工录入）'],
  ];
  const DESC_MIN = 2;
  const DESC_MAX = 4000;
  const PHONE_RE = /^\+?[0-9][0-9\- ]{4,19}$/;

  function create({ request, areas = () => null, map = null, onCreated = null } = {}) {
    const panel = document.getElementById('entry-panel');
    const body = document.getElementById('entry-body');
    const foot = document.getElementById('entry-foot');
    const closeBtn = document.getElementById('entry-close');

    const st = { form: null, busy: false, open: false, picking: false };

    // -- building a fresh form ------------------------------------------------------------------

    function build() {
      const fk = G.formKit('entry');
      const f = { fk, externalId: G.newExternalId('op'), point: null, inputs: {} };
      const input = (name, attrs = {}, tag = 'input') => {
        const node = el(tag, { class: `act-input${tag === 'textarea' ? ' act-textarea' : ''}`, attrs: { name, autocomplete: 'off', ...attrs } });
        f.inputs[name] = node;
        return node;
      };

      const channel = el('select', { class: 'act-input act-select', attrs: { name: 'channel' } },
        CHANNELS.map(([v, label]) => el('option', { text: label, attrs: { value: v } })));
      f.inputs.channel = channel;

      const desc = input('description', { rows: 4, maxlength: DESC_MAX, placeholder: '问题是什么、在哪里、持续多久，例如：柳塘路12号门口路灯不亮已三天' }, 'textarea');
      const descCount = el('span', { class: 'entry-count', text: `0／${DESC_MAX}` });
      desc.addEventListener('input', () => { descCount.textContent = `${[...desc.value.trim()].length}／${DESC_MAX}`; });

      const category = el('select', { class: 'act-input act-select', attrs: { name: 'category_code' } },
        [el('option', { text: '加载中…', attrs: { value: '' } })]);
      f.inputs.category_code = category;
      fillCategories(category);

      const grid = el('select', { class: 'act-input act-select', attrs: { name: 'grid_code' } });
      f.inputs.grid_code = grid;
      fillGrids(grid);
      grid.addEventListener('change', () => {
        // A grid chosen by hand that isn't the picked point's: the grid wins, the point goes.
        if (f.point && grid.value !== s(f.point.grid_code)) setPoint(f, null);
      });

      const pickBtn = el('button', {
        class: 'btn btn-secondary entry-pick',
        text: '在地图上选点',
        attrs: { type: 'button', id: 'entry-pick', 'aria-pressed': 'false', disabled: map ? null : true },
        on: { click: () => togglePick(f) },
      });
      f.pickBtn = pickBtn;
      f.pointText = el('span', { class: 'entry-point', attrs: { id: 'entry-point', 'aria-live': 'polite' } });
      f.pointClear = el('button', {
        class: 'link-btn entry-point-clear', text: '清除', attrs: { type: 'button', id: 'entry-point-clear' },
        on: { click: () => setPoint(f, null) },
      });
      f.pointClear.hidden = true;

      const urgency = el('select', { class: 'act-input act-select', attrs: { name: 'urgency' } },
        G.URGENCIES.map(([v, label]) => el('option', { text: label, attrs: { value: v } })));
      f.inputs.urgency = urgency;

      // 上级交办: who handed it down, the document, by when, what they require (channel superior only).
      const fromUnit = input('handed_down.from_unit', { maxlength: 100, placeholder: '例如：市12345热线办、区委督查室' });
      const docNo = input('handed_down.document_no', { maxlength: 100, placeholder: '例如：青12345〔2026〕118号' });
      const deadline = input('handed_down.deadline', { type: 'datetime-local', step: 60 });
      deadline.classList.add('act-datetime');
      const reqs = input('handed_down.requirements', { rows: 2, maxlength: 1000, placeholder: '例如：三日内办结并书面回复' }, 'textarea');
      f.handed = el('fieldset', { class: 'entry-handed', attrs: { id: 'entry-handed' } }, [
        el('legend', { text: '上级交办' }),
        fk.row('handed_down.from_unit', '交办单位', fromUnit, { required: true }),
        fk.row('handed_down.document_no', '交办文号', docNo),
        fk.row('handed_down.deadline', '要求办结时间', deadline, { extra: el('span', { class: 'act-tz', text: '北京时间' }) }),
        fk.row('handed_down.requirements', '交办要求', reqs),
      ]);
      f.handed.hidden = true;
      channel.addEventListener('change', () => {
        f.handed.hidden = channel.value !== 'superior';
      });

      const name = input('reporter.name', { maxlength: 50, placeholder: '姓名（可选）' });
      const phone = input('reporter.phone', { type: 'tel', maxlength: 20, placeholder: '电话（可选）' });
      const address = input('address', { maxlength: 300, placeholder: '例如：柳塘路12号小区东门' });

      f.submit = el('button', { class: 'btn btn-primary', text: '提交录入', attrs: { type: 'submit', id: 'entry-submit', form: 'entry-form' } });
      f.node = el('form', {
        class: 'entry-form',
        attrs: { id: 'entry-form', novalidate: true, 'aria-label': '录入案件' },
        on: { submit: (e) => { e.preventDefault(); submit(f); } },
      }, [
        fk.row('channel', '来源渠道', channel, { required: true }),
        f.handed,
        fk.row('description', '问题描述', desc, { required: true, extra: descCount }),
        fk.row('category_code', '案件类别', category, { hint: '不选则由系统按描述识别；识别不准的进入待分拣' }),
        fk.row('grid_code', '所属网格', grid, {
          extra: el('div', { class: 'entry-pick-row' }, [pickBtn, f.pointText, f.pointClear]),
        }),
        fk.row('address', '地址', address),
        fk.row('urgency', '紧急程度', urgency),
        el('div', { class: 'entry-pair' }, [
          fk.row('reporter.name', '上报人', name),
          fk.row('reporter.phone', '联系电话', phone),
        ]),
      ]);
      // Below the scrolling fields, always in sight: what went wrong, and the buttons.
      f.foot = el('div', { class: 'entry-foot-in' }, [
        fk.error,
        el('div', { class: 'act-form-foot entry-buttons' }, [
          f.submit,
          el('button', { class: 'btn btn-plain', text: '清空', attrs: { type: 'button', id: 'entry-reset' }, on: { click: () => fresh() } }),
          el('span', { class: 'entry-foot-hint', text: '带 * 的为必填项' }),
        ]),
      ]);
      return f;
    }

    async function fillCategories(select) {
      let list;
      try {
        list = await G.refList('categories', request);
      } catch (err) {
        if (err instanceof G.SignedOut) return;
        select.replaceChildren(el('option', { text: '类别加载失败（可不选，由系统识别）', attrs: { value: '' } }));
        return;
      }
      const keep = select.value;
      select.replaceChildren(...G.categoryOptions(list, { empty: '由系统识别' }));
      if (keep) select.value = keep;
    }

    function fillGrids(select) {
      const index = areas();
      const keep = select.value;
      select.replaceChildren(...(index
        ? G.gridOptions(index, { empty: '不指定（按地图选点或由指挥中心定位）' })
        : [el('option', { text: '网格加载中…', attrs: { value: '' } })]));
      if (keep) select.value = keep;
    }

    // -- the point on the map -------------------------------------------------------------------------

    function togglePick(f) {
      if (!map || st.busy) return;
      if (st.picking) {
        stopPicking(f);
        return;
      }
      st.picking = true;
      f.pickBtn.textContent = '取消选点';
      f.pickBtn.setAttribute('aria-pressed', 'true');
      f.pointText.textContent = '请在左侧地图上点击问题位置';
      map.startPick((pt) => {
        stopPicking(f);
        setPoint(f, pt);
      });
    }

    function stopPicking(f) {
      if (!st.picking) return;
      st.picking = false;
      if (map) map.stopPick();
      f.pickBtn.textContent = '在地图上选点';
      f.pickBtn.setAttribute('aria-pressed', 'false');
      if (!f.point) f.pointText.textContent = '';
    }

    function setPoint(f, pt) {
      f.point = pt && Number.isFinite(pt.lon) && Number.isFinite(pt.lat) ? pt : null;
      if (map) map.showPoint(f.point);
      f.pointClear.hidden = !f.point;
      if (!f.point) {
        f.pointText.textContent = '';
        return;
      }
      const index = areas();
      const gridName = f.point.grid_code && index ? index.name(f.point.grid_code) : '';
      f.pointText.textContent = `已选点 ${f.point.lon.toFixed(5)}, ${f.point.lat.toFixed(5)}` +
        (gridName ? `（${gridName}）` : '（不在本区网格内，将转人工定位）');
      f.inputs.grid_code.value = s(f.point.grid_code);
      f.fk.rows.get('grid_code').input.removeAttribute('aria-invalid');
    }

    // -- submit -----------------------------------------------------------------------------------

    function value(f, name) {
      return f.inputs[name] ? f.inputs[name].value.trim() : '';
    }

    /** The JSON body, or the problems the page can tell before asking the server (it checks again). */
    function collect(f) {
      const errors = new Map();
      const channel = value(f, 'channel');
      const description = value(f, 'description');
      const descProblem = G.descriptionProblem(description, { min: DESC_MIN, max: DESC_MAX });
      if (descProblem) errors.set('description', descProblem);
      const bodyOut = { channel, description, external_id: f.externalId };
      for (const name of ['category_code', 'grid_code', 'address', 'urgency']) {
        const v = value(f, name);
        if (v) bodyOut[name] = v;
      }
      if (f.point) bodyOut.location = { lon: f.point.lon, lat: f.point.lat, crs: 'wgs84' };
      const reporter = {};
      if (value(f, 'reporter.name')) reporter.name = value(f, 'reporter.name');
      const phone = value(f, 'reporter.phone');
      if (phone) {
        if (!PHONE_RE.test(phone)) errors.set('reporter.phone', '电话号码格式不正确（5–20位数字，可含 + - 空格）');
        reporter.phone = phone;
      }
      if (Object.keys(reporter).length) bodyOut.reporter = reporter;
      if (channel === 'superior') {
        const handed = { from_unit: value(f, 'handed_down.from_unit') };
        if (!handed.from_unit) errors.set('handed_down.from_unit', '请填写交办单位');
        if (value(f, 'handed_down.document_no')) handed.document_no = value(f, 'handed_down.document_no');
        const raw = value(f, 'handed_down.deadline');
        if (raw) {
          const iso = G.fromLocalInput(raw);
          if (!iso) errors.set('handed_down.deadline', '请按“年-月-日 时:分”填写要求办结时间');
          else handed.deadline = iso;
        }
        if (value(f, 'handed_down.requirements')) handed.requirements = value(f, 'handed_down.requirements');
        bodyOut.handed_down = handed;
      }
      return { body: bodyOut, errors };
    }

    function setBusy(f, busy) {
      st.busy = busy;
      f.node.setAttribute('aria-busy', busy ? 'true' : 'false');
      panel.setAttribute('aria-busy', busy ? 'true' : 'false');
      for (const node of [...f.node.querySelectorAll('input, textarea, select, button'), ...f.foot.querySelectorAll('button')]) node.disabled = busy;
      if (!map) f.pickBtn.disabled = true;
      f.submit.textContent = busy ? '提交中…' : '提交录入';
    }

    async function submit(f) {
      if (st.busy || st.form !== f) return;
      stopPicking(f);
      const { body: payload, errors } = collect(f);
      if (errors.size) {
        f.fk.showErrors('请检查以下内容后再提交。', errors);
        return;
      }
      f.fk.showErrors('');
      setBusy(f, true);
      let accepted = null;
      try {
        accepted = await request('/api/v1/reports', { method: 'POST', body: payload });
      } catch (err) {
        if (err instanceof G.SignedOut) return;
        if (st.form !== f) return;
        setBusy(f, false);
        f.fk.showServerError(err, '录入');
        return;
      }
      setBusy(f, false);
      if (st.form !== f) return;
      const caseId = accepted && s(accepted.case_id);
      const caseNo = accepted && s(accepted.case_no);
      fresh({ keepOpen: false });
      close();
      if (onCreated && caseId) onCreated({ caseId, caseNo, again: accepted.duplicate_of_request === true });
    }

    // -- the panel ------------------------------------------------------------------------------

    /** A new empty form with its own external_id (after a case was made, or 清空). */
    function fresh({ keepOpen = true } = {}) {
      if (st.form) stopPicking(st.form);
      if (map) map.showPoint(null);
      st.form = build();
      body.replaceChildren(st.form.node);
      foot.replaceChildren(st.form.foot);
      if (keepOpen && st.open) focusFirst();
    }

    function focusFirst() {
      const first = st.form && st.form.inputs.description;
      if (first) first.focus({ preventScroll: true });
    }

    function open() {
      if (!st.form) fresh({ keepOpen: false });
      else fillGrids(st.form.inputs.grid_code);
      st.open = true;
      panel.classList.add('open');
      panel.setAttribute('aria-hidden', 'false');
      if (st.form.point && map) map.showPoint(st.form.point);
      focusFirst();
    }

    /** Close; what was typed stays for the next opening (with the same external_id). */
    function close() {
      if (st.form) stopPicking(st.form);
      if (map) map.showPoint(null);
      st.open = false;
      panel.classList.remove('open');
      panel.setAttribute('aria-hidden', 'true');
    }

    closeBtn.addEventListener('click', () => { if (!st.busy) close(); });
    panel.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape' || st.busy) return;
      e.stopPropagation();
      if (st.picking && st.form) stopPicking(st.form);
      else close();
    });

    return {
      open,
      close,
      refreshAreas: () => { if (st.form) fillGrids(st.form.inputs.grid_code); },
      /** Esc on the page while picking a point: stop picking. True when it did. */
      cancelPick: () => {
        if (!st.picking || !st.form) return false;
        stopPicking(st.form);
        return true;
      },
      get isOpen() {
        return st.open;
      },
    };
  }

  return { create, CHANNELS };
})();
