/*
 * Gridcase case actions: the buttons a viewer may use on a case and an inline form per action,
 * shared by the console, the department workbench and the grid workers' check page.
 *
 * Vanilla ES2020, no build step, nothing fetched from outside this origin. Needs common.js
 * (window.Gridcase) first. Exposes `window.GridcaseActions`.
 *
 *   const ctl = GridcaseActions.create({ request, onDone });
 *   container.append(ctl.root);     // once: the root stays in the page
 *   ctl.render(detail);             // after every load of GET /api/v1/cases/{id}
 *
 * `request(url, {method, body, form})` is the page's API call (cookie, CSRF header, JSON or
 * multipart); it throws an error with `status`, `serverMessage` and `fields` on refusal.
 * The buttons come from the case's `viewer.actions` (what the server lets this person do now);
 * each form asks for exactly what docs/WORKFLOW.md says the action needs, posts
 * POST /api/v1/cases/{id}/actions and shows the server's Chinese message when it is refused.
 * Photos are uploaded first (POST /api/v1/photos?case_id=…, multipart field `files`) and then
 * named by the action in `photo_ids`.
 */
'use strict';

window.GridcaseActions = (() => {
  const G = window.Gridcase;
  const { el, s, isObj, objects } = G;

  const MAX_PHOTOS = G.PHOTO_RULES.max;
  const PHOTO_TYPES = G.PHOTO_RULES.types;
  const NOTE_MAX = 2000;
  const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

  const LABELS = {
    sign: '签收',
    return: '退回',
    request_extension: '申请延期',
    approve_extension: '批准延期',
    refuse_extension: '驳回延期',
    request_suspension: '申请挂起',
    approve_suspension: '批准挂起',
    refuse_suspension: '驳回挂起',
    suspend: '挂起',
    resume: '恢复办理',
    report_assist: '协办反馈',
    resolve: '办结反馈',
    hand_over: '转职能部门',
    close: '核查通过·结案',
    rework: '核查不通过·返工',
    reopen: '重新办理',
    dispatch: '派遣',
    redispatch: '改派',
    triage: '转人工分拣',
    reject: '作废',
    mark_duplicate: '并案',
  };

  // Button order: the step that moves the case forward first, the ones that send it back last.
  const ORDER = [
    'sign', 'dispatch', 'redispatch', 'approve_extension', 'refuse_extension', 'approve_suspension',
    'refuse_suspension', 'resolve', 'hand_over', 'report_assist', 'close', 'rework', 'request_extension',
    'request_suspension', 'suspend', 'resume', 'reopen', 'return', 'triage', 'mark_duplicate', 'reject',
  ];
  const TONE = {
    sign: 'primary', dispatch: 'primary', resolve: 'primary', report_assist: 'primary', close: 'primary',
    approve_extension: 'primary', approve_suspension: 'primary', resume: 'primary', redispatch: 'primary',
    hand_over: 'warn',
    return: 'danger', reject: 'danger', rework: 'danger', refuse_extension: 'danger', refuse_suspension: 'danger',
  };

  const note = (label, placeholder, required = true) => ({ name: 'note', label, placeholder, required });
  const photos = (label = '照片') => ({ name: 'files', label });

  /**
   * What each action asks for (docs/WORKFLOW.md, "needs"). `confirm` is the one line saying what
   * the action does; `submit` the submit button's text.
   */
  const SPECS = {
    dispatch: {
      fields: [
        { name: 'category_code', label: '案件类别' },
        { name: 'department_code', label: '责任部门', empty: '按类别的责任部门' },
      ],
      confirm: '选择类别（决定处置时限与责任部门），需要时改选部门。',
      submit: '确认派遣',
    },
    triage: { fields: [], confirm: '转入人工分拣队列，由指挥中心重新判断类别和部门。', submit: '确认转人工分拣' },
    redispatch: {
      fields: [
        { name: 'department_code', label: '改派至', required: true, excludeCurrent: true },
        note('改派原因', '例如：经核实属环境卫生范畴，改派环卫部门'),
      ],
      submit: '确认改派',
    },
    sign: { fields: [], confirm: '签收后本部门开始办理，处置时限照常计时。', submit: '确认签收' },
    return: {
      fields: [note('退回原因', '说明为何不属本部门职责，可建议应派的部门')],
      confirm: '退回指挥中心，由其改派。',
      submit: '确认退回',
    },
    request_extension: {
      fields: [
        { name: 'due_at', label: '申请延期至', required: true },
        note('延期理由', '例如：需等待配件到货，预计两天后完成'),
      ],
      confirm: '提交后由指挥中心审批；批准前处置时限不变。',
      submit: '提交延期申请',
    },
    approve_extension: { fields: [], request: 'extension', confirm: '批准后处置时限改为申请的时间。', submit: '确认批准延期' },
    refuse_extension: {
      fields: [note('驳回理由', '例如：时限内可以完成，请按原时限办理')],
      request: 'extension',
      submit: '确认驳回延期',
    },
    request_suspension: {
      fields: [note('挂起理由', '例如：涉及产权纠纷，需等待法院裁定')],
      confirm: '提交后由指挥中心审批；批准后暂停计时。',
      submit: '提交挂起申请',
    },
    approve_suspension: { fields: [], request: 'suspension', confirm: '批准后案件挂起，暂停计时。', submit: '确认批准挂起' },
    refuse_suspension: {
      fields: [note('驳回理由', '例如：不符合挂起条件，请继续办理')],
      request: 'suspension',
      submit: '确认驳回挂起',
    },
    suspend: { fields: [note('挂起原因', '挂起期间暂停计时')], submit: '确认挂起' },
    resume: { fields: [], confirm: '恢复办理，继续计时。', submit: '确认恢复办理' },
    report_assist: {
      fields: [note('协办情况', '本部门承担部分的办理情况'), photos('现场照片（可选）')],
      submit: '提交协办反馈',
    },
    resolve: {
      fields: [
        note('办理结果', '办理了什么、结果如何，网格员将据此现场核查'),
        photos('处置照片（可选）'),
        { name: 'missing_assists_reason', label: '协办未反馈原因', placeholder: '协办部门尚未反馈，说明为何仍要办结', onlyWithMissingAssists: true, required: true },
      ],
      submit: '提交办结反馈',
    },
    hand_over: {
      fields: [{
        ...note('原因', '说明为何网格/社区无法解决，需职能部门处置'),
        missing: '转交职能部门须说明为何无法就地解决，请填写原因。',
      }],
      confirm: '无法就地解决的，转交责任部门办理（由其签收并重新计时）。',
      submit: '确认转交',
      done: '已转交职能部门办理。',
    },
    close: {
      fields: [note('核查情况', '现场核查情况（可选）', false), photos('核查照片（可选）')],
      confirm: '现场核查通过，案件结案。',
      submit: '确认通过并结案',
    },
    rework: {
      fields: [note('不通过原因', '现场看到的问题，部门将据此返工'), photos('核查照片（可选）')],
      confirm: '退回原部门返工（案件回到“已签收”）。',
      submit: '确认不通过，返工',
    },
    reopen: { fields: [note('重新办理原因', '例如：居民反映问题再次出现')], submit: '确认重新办理' },
    reject: { fields: [note('作废原因', '例如：非本辖区事项／信息不全无法办理')], submit: '确认作废' },
    mark_duplicate: {
      fields: [{ name: 'original_case_id', label: '原案件', required: true }],
      confirm: '本案作为重复件并入原案件，不再单独办理。',
      submit: '确认并案',
    },
  };

  function labelOf(action) {
    return LABELS[action] || s(action);
  }

  // Reference lists (departments, categories): loaded once per page, shared with the page's own forms.
  const loadRef = (kind, request) => G.refList(kind, request);

  // ---------------------------------------------------------------------
  // The controller: one per page (it follows whichever case the page shows)
  // ---------------------------------------------------------------------

  function create({ request, onDone, idPrefix = 'act' } = {}) {
    if (typeof request !== 'function') throw new Error('GridcaseActions.create: request is required');

    const root = el('section', { class: 'acts', attrs: { id: `${idPrefix}-actions`, 'aria-label': '案件办理' } });
    const buttons = el('div', { class: 'acts-buttons', attrs: { role: 'group', 'aria-label': '可执行操作' } });
    const notice = el('div', { class: 'acts-notice', attrs: { role: 'status', 'aria-live': 'polite' } });
    const slot = el('div', { class: 'acts-form-slot' });
    root.append(buttons, notice, slot);
    root.hidden = true;

    const st = {
      detail: null,
      caseId: null,
      actions: [],
      open: null, // the action whose form shows
      form: null, // {action, node, fields: {name: element}, error, context, submit}
      busy: false,
      uploaded: null, // {key, ids}: photos already uploaded for the open form (a retry reuses them)
    };

    function reset() {
      st.detail = null;
      st.caseId = null;
      st.actions = [];
      closeForm();
      setNotice('');
      root.hidden = true;
      root.removeAttribute('data-case-id');
    }

    function setNotice(text, tone = 'ok') {
      notice.textContent = text;
      notice.className = `acts-notice acts-notice-${tone}`;
      notice.hidden = !text;
      syncHidden();
    }

    /** Nothing to do and nothing to say (a leader's view, a finished case): no section at all. */
    function syncHidden() {
      root.hidden = !st.caseId || (!st.actions.length && !st.form && notice.hidden);
    }

    /** Show the actions for this case detail. Keeps an open form (and what was typed) if still allowed. */
    function render(d) {
      if (!isObj(d) || !s(d.case_id)) {
        reset();
        return root;
      }
      if (d.case_id !== st.caseId) {
        reset();
        st.caseId = d.case_id;
      }
      st.detail = d;
      root.dataset.caseId = d.case_id;
      const viewer = isObj(d.viewer) ? d.viewer : {};
      const list = Array.isArray(viewer.actions) ? viewer.actions.filter((a) => typeof a === 'string' && a) : [];
      st.actions = [...list].sort((a, b) => rank(a) - rank(b));
      if (st.open && !st.actions.includes(st.open) && !st.busy) {
        const was = labelOf(st.open);
        const refused = st.form && !st.form.error.hidden ? st.form.error.textContent : '';
        closeForm();
        setNotice(refused || `案件状态已变化，当前不能再“${was}”。`, 'warn');
      }
      renderButtons();
      if (st.form) renderContext(st.form);
      return root;
    }

    function rank(a) {
      const i = ORDER.indexOf(a);
      return i < 0 ? ORDER.length : i;
    }

    function renderButtons() {
      buttons.hidden = !st.actions.length;
      syncHidden();
      if (!st.actions.length) {
        buttons.replaceChildren();
        return;
      }
      buttons.replaceChildren(...st.actions.map((action) => {
        const open = st.open === action;
        return el('button', {
          class: `btn act-btn act-${TONE[action] || 'plain'}${open ? ' active' : ''}`,
          text: labelOf(action),
          attrs: {
            type: 'button',
            'data-action': action,
            'aria-expanded': open ? 'true' : 'false',
            'aria-controls': `${idPrefix}-form`,
            disabled: st.busy,
          },
          on: { click: () => toggle(action) },
        });
      }));
    }

    function toggle(action) {
      if (st.busy) return;
      if (st.open === action) {
        closeForm();
        renderButtons();
        return;
      }
      openForm(action);
    }

    function closeForm() {
      for (const url of (st.form && st.form.previews) || []) URL.revokeObjectURL(url);
      st.open = null;
      st.form = null;
      st.uploaded = null;
      slot.replaceChildren();
    }

    function openForm(action) {
      closeForm();
      setNotice('');
      st.open = action;
      st.form = buildForm(action);
      slot.replaceChildren(st.form.node);
      renderButtons();
      const first = st.form.node.querySelector('select, textarea, input:not([type=file])') ||
        st.form.node.querySelector('[data-submit]');
      if (first) first.focus({ preventScroll: false });
      st.form.node.scrollIntoView({ block: 'nearest' });
    }

    // -- the form -----------------------------------------------------------

    function fieldId(action, name) {
      return `${idPrefix}-${action}-${name.replace(/_/g, '-')}`;
    }

    function buildForm(action) {
      const spec = SPECS[action] || { fields: [note('说明', '', false)] };
      const f = { action, spec, fields: {}, rows: {}, previews: [] };
      f.context = el('div', { class: 'act-context' });
      f.error = el('div', { class: 'act-error', attrs: { role: 'alert', id: `${idPrefix}-form-error` } });
      f.error.hidden = true;
      f.submit = el('button', {
        class: `btn ${TONE[action] === 'danger' ? 'btn-danger' : 'btn-primary'}`,
        text: spec.submit || `确认${labelOf(action)}`,
        attrs: { type: 'submit', 'data-submit': action },
      });
      f.cancel = el('button', {
        class: 'btn btn-plain',
        text: '取消',
        attrs: { type: 'button', 'data-cancel': action },
        on: { click: () => { if (!st.busy) { closeForm(); renderButtons(); } } },
      });
      const rows = spec.fields.map((fs) => {
        const row = fieldRow(action, fs, f);
        f.rows[fs.name] = row;
        return row;
      });
      f.node = el('form', {
        class: `act-form act-form-${TONE[action] || 'plain'}`,
        attrs: { id: `${idPrefix}-form`, novalidate: true, 'data-form': action, 'aria-label': labelOf(action) },
        on: {
          submit: (e) => {
            e.preventDefault();
            submit(f);
          },
          keydown: (e) => {
            if (e.key === 'Escape' && !st.busy) {
              e.stopPropagation(); // Esc closes the form, not the page's panel
              closeForm();
              renderButtons();
              const btn = buttons.querySelector(`[data-action="${action}"]`);
              if (btn) btn.focus();
            }
          },
        },
      }, [
        el('div', { class: 'act-form-head' }, [
          el('span', { class: 'act-form-title', text: labelOf(action) }),
          spec.confirm ? el('span', { class: 'act-form-hint', text: spec.confirm }) : null,
        ]),
        f.context,
        ...rows,
        f.error,
        el('div', { class: 'act-form-foot' }, [f.submit, f.cancel]),
      ]);
      renderContext(f);
      return f;
    }

    function labelFor(action, fs, required) {
      return el('label', { class: 'act-label', attrs: { for: fieldId(action, fs.name) } }, [
        fs.label,
        required ? el('span', { class: 'req', text: '*', attrs: { 'aria-hidden': 'true' } }) : null,
      ]);
    }

    function fieldRow(action, fs, f) {
      const id = fieldId(action, fs.name);
      const clearError = () => {
        const input = f.fields[fs.name];
        if (input) input.removeAttribute('aria-invalid');
      };
      if (fs.name === 'note' || fs.name === 'missing_assists_reason') {
        const input = el('textarea', {
          class: 'act-input act-textarea',
          attrs: {
            id, name: fs.name, rows: fs.name === 'note' ? 3 : 2, maxlength: NOTE_MAX,
            placeholder: fs.placeholder || '', required: fs.required ? true : null, autocomplete: 'off',
          },
          on: { input: clearError },
        });
        f.fields[fs.name] = input;
        return el('div', { class: 'act-field', dataset: { field: fs.name } }, [labelFor(action, fs, fs.required), input]);
      }
      if (fs.name === 'department_code' || fs.name === 'category_code') {
        const kind = fs.name === 'department_code' ? 'departments' : 'categories';
        const input = el('select', {
          class: 'act-input act-select',
          attrs: { id, name: fs.name, required: fs.required ? true : null },
          on: {
            change: () => {
              clearError();
              renderContext(f);
            },
          },
        }, [el('option', { text: '加载中…', attrs: { value: '' } })]);
        f.fields[fs.name] = input;
        const hint = el('div', { class: 'act-field-hint', dataset: { hintFor: fs.name } });
        fillSelect(kind, fs, input, f);
        return el('div', { class: 'act-field', dataset: { field: fs.name } }, [labelFor(action, fs, fs.required), input, hint]);
      }
      if (fs.name === 'due_at') {
        const input = el('input', {
          class: 'act-input act-datetime',
          attrs: { id, name: 'due_at', type: 'datetime-local', step: 60, required: true },
          on: { input: () => { clearError(); renderContext(f); }, change: () => renderContext(f) },
        });
        f.fields.due_at = input;
        const quick = el('div', { class: 'act-quick', attrs: { role: 'group', 'aria-label': '快捷选择' } },
          [1, 2, 3, 7].map((days) => el('button', {
            class: 'chip act-quick-btn',
            text: `原时限+${days}天`,
            attrs: { type: 'button', 'data-extend-days': days },
            on: {
              click: () => {
                const base = G.parseTime(st.detail && st.detail.due_at);
                const from = Number.isNaN(base) ? G.serverNow() : base;
                input.value = G.toLocalInput(from + days * 86400000);
                clearError();
                renderContext(f);
              },
            },
          })));
        return el('div', { class: 'act-field', dataset: { field: 'due_at' } }, [
          labelFor(action, fs, true),
          el('div', { class: 'act-due-row' }, [input, el('span', { class: 'act-tz', text: '北京时间' })]),
          quick,
          el('div', { class: 'act-field-hint', dataset: { hintFor: 'due_at' } }),
        ]);
      }
      if (fs.name === 'original_case_id') {
        // A 并案 candidate found at routing (likely_duplicate_of) fills it in; the operator may change it.
        const likely = st.detail && isObj(st.detail.likely_duplicate_of) ? st.detail.likely_duplicate_of : null;
        const input = el('input', {
          class: 'act-input',
          attrs: {
            id, name: 'original_case_id', type: 'text', required: true, autocomplete: 'off',
            placeholder: '原案件编号（如 20261125000001）或案件ID', maxlength: 64, spellcheck: 'false',
            value: likely ? s(likely.case_no) || s(likely.case_id) : null,
          },
          on: { input: clearError },
        });
        f.fields.original_case_id = input;
        return el('div', { class: 'act-field', dataset: { field: 'original_case_id' } }, [
          labelFor(action, fs, true),
          input,
          likely ? el('div', { class: 'act-field-hint', text: '已预填系统识别的疑似原案件，可修改。' }) : null,
        ]);
      }
      if (fs.name === 'files') {
        const input = el('input', {
          class: 'act-file',
          attrs: { id, name: 'files', type: 'file', multiple: true, accept: PHOTO_TYPES.join(',') },
          on: {
            change: () => {
              clearError();
              st.uploaded = null;
              renderPreviews(f);
            },
          },
        });
        f.fields.files = input;
        f.previewBox = el('div', { class: 'act-previews' });
        const picker = el('label', { class: 'act-file-btn', attrs: { for: id } }, ['选择照片']);
        return el('div', { class: 'act-field', dataset: { field: 'files' } }, [
          el('span', { class: 'act-label' }, [fs.label]),
          el('div', { class: 'act-file-row' }, [
            input,
            picker,
            el('span', { class: 'act-file-hint', text: `最多 ${MAX_PHOTOS} 张，JPG／PNG／WebP，每张不超过 5 MB` }),
          ]),
          f.previewBox,
        ]);
      }
      // An action this page doesn't know: a plain optional note.
      const input = el('textarea', { class: 'act-input act-textarea', attrs: { id, name: fs.name, rows: 2 } });
      f.fields[fs.name] = input;
      return el('div', { class: 'act-field' }, [labelFor(action, fs, fs.required), input]);
    }

    async function fillSelect(kind, fs, select, f) {
      let list;
      try {
        list = await loadRef(kind, request);
      } catch (err) {
        if (err instanceof G.SignedOut) return;
        select.replaceChildren(el('option', { text: '加载失败，请关闭表单后重试', attrs: { value: '' } }));
        return;
      }
      if (!select.isConnected && st.form !== f) return;
      const keep = select.value;
      const d = st.detail || {};
      const opts = [];
      if (kind === 'departments') {
        opts.push(el('option', { text: fs.empty || '— 请选择部门 —', attrs: { value: '' } }));
        for (const dep of list) {
          const code = s(dep.code);
          if (!code) continue;
          const current = code === s(d.department_code);
          opts.push(el('option', {
            text: `${s(dep.name) || code}${current ? '（当前）' : ''}`,
            attrs: { value: code, disabled: current && fs.excludeCurrent ? true : null },
          }));
        }
      } else {
        opts.push(el('option', { text: '— 请选择类别 —', attrs: { value: '' } }));
        for (const cat of list) {
          const code = s(cat.code);
          if (!code) continue;
          opts.push(el('option', { text: `${code} ${s(cat.name)}`, attrs: { value: code } }));
        }
      }
      select.replaceChildren(...opts);
      if (keep) select.value = keep;
      else if (kind === 'categories' && s(d.category_code)) select.value = s(d.category_code);
      renderContext(f);
    }

    function renderPreviews(f) {
      f.previews = G.renderPhotoPreviews(f.previewBox, f.fields.files.files, f.previews);
    }

    /** What the form shows about the case: the request being answered, the deadline, assists. */
    function renderContext(f) {
      const d = st.detail || {};
      const parts = [];
      if (f.spec.request) {
        const req = objects(d.pending_requests).find((r) => s(r.kind) === f.spec.request);
        if (req) {
          const bits = [];
          if (s(req.requested_due_at)) bits.push(`申请延期至 ${G.fmtMinute(req.requested_due_at)}（现时限 ${G.fmtMinute(d.due_at)}）`);
          if (s(req.reason)) bits.push(`理由：${s(req.reason)}`);
          if (s(req.requested_by_label)) bits.push(`申请人：${s(req.requested_by_label)}`);
          parts.push(el('div', { class: 'act-request' }, [
            el('b', { text: s(req.kind_label) || G.REQUEST_KIND_LABEL[f.spec.request] || '申请' }),
            el('span', { text: ` ${bits.join('；')}` }),
          ]));
        } else {
          parts.push(el('div', { class: 'act-request muted', text: '未找到待审批的申请（可能已被处理）。' }));
        }
      }
      if (f.action === 'request_extension') {
        const hint = f.node && f.node.querySelector('[data-hint-for="due_at"]');
        const cur = G.parseTime(d.due_at);
        const chosen = G.parseTime(G.fromLocalInput(f.fields.due_at.value));
        if (hint) {
          hint.textContent = Number.isNaN(cur) ? '当前未设处置时限' : `当前处置时限 ${G.fmtMinute(cur)}` +
            (!Number.isNaN(chosen) && !Number.isNaN(cur) ? (chosen > cur ? `，延长 ${G.fmtDuration(chosen - cur)}` : '，须晚于当前时限') : '');
        }
        if (!Number.isNaN(cur)) f.fields.due_at.min = G.toLocalInput(cur);
      }
      if (f.action === 'dispatch' || f.action === 'redispatch') renderDispatchHint(f);
      if (f.action === 'resolve') {
        const missing = objects(d.assists).filter((a) => s(a.status) !== 'reported');
        const row = f.rows.missing_assists_reason;
        if (row) row.hidden = missing.length === 0;
        if (missing.length) {
          parts.push(el('div', { class: 'act-request act-warn', text: `协办部门尚未反馈：${missing.map((a) => s(a.department_name) || s(a.department_code)).join('、')}。可等待其反馈，或填写说明后办结。` }));
        }
      }
      f.context.replaceChildren(...parts);
      f.context.hidden = parts.length === 0;
    }

    async function renderDispatchHint(f) {
      const hint = f.node && f.node.querySelector('[data-hint-for="category_code"]');
      const deptHint = f.node && f.node.querySelector('[data-hint-for="department_code"]');
      const catSel = f.fields.category_code;
      if (!hint && !deptHint) return;
      let cats = [];
      try {
        cats = catSel ? await loadRef('categories', request) : [];
      } catch (_) {
        cats = [];
      }
      const cat = catSel ? cats.find((c) => s(c.code) === catSel.value) : null;
      if (hint) {
        hint.textContent = cat
          ? [
            s(cat.department_name) ? `责任部门：${s(cat.department_name)}` : '',
            s(cat.sign_limit) ? `签收时限 ${limitText(cat.sign_limit)}` : '',
            s(cat.handle_limit) ? `办理时限 ${limitText(cat.handle_limit)}` : '',
          ].filter(Boolean).join('；')
          : '';
      }
      if (deptHint) {
        const dep = f.fields.department_code;
        deptHint.textContent = dep && !dep.value && f.action === 'dispatch'
          ? (cat && s(cat.department_name) ? `将派往 ${s(cat.department_name)}` : '未选部门时按类别的责任部门派遣')
          : '';
      }
    }

    // -- submit ---------------------------------------------------------------

    function showError(f, text, names = []) {
      f.error.textContent = text;
      f.error.hidden = !text;
      for (const [name, input] of Object.entries(f.fields)) {
        if (names.includes(name) || (name === 'files' && names.includes('photo_ids'))) input.setAttribute('aria-invalid', 'true');
        else input.removeAttribute('aria-invalid');
      }
      const first = names.map((n) => f.fields[n === 'photo_ids' ? 'files' : n]).find(Boolean);
      if (first) first.focus();
    }

    function setBusy(f, busy, text) {
      st.busy = busy;
      f.node.setAttribute('aria-busy', busy ? 'true' : 'false');
      for (const input of f.node.querySelectorAll('input, textarea, select, button')) input.disabled = busy;
      f.submit.textContent = busy ? text || '提交中…' : f.spec.submit || `确认${labelOf(f.action)}`;
      renderButtons();
    }

    /** Check the form in the page before asking the server (the server checks again). */
    function collect(f) {
      const d = st.detail || {};
      const body = { action: f.action };
      const missing = [];
      for (const fs of f.spec.fields) {
        const input = f.fields[fs.name];
        const row = f.rows[fs.name];
        if (!input || (row && row.hidden)) continue;
        if (fs.name === 'files') continue;
        const value = fs.name === 'due_at' ? G.fromLocalInput(input.value) : input.value.trim();
        if (!value) {
          if (fs.required) missing.push(fs.name);
          continue;
        }
        body[fs.name] = value;
      }
      if (missing.length) {
        const specs = missing.map((n) => f.spec.fields.find((x) => x.name === n) || {});
        if (specs.length === 1 && specs[0].missing) return { error: specs[0].missing, fields: missing };
        const names = specs.map((x) => x.label).filter(Boolean);
        return { error: `请填写${names.join('、')}。`, fields: missing };
      }
      if (f.action === 'dispatch' && !body.category_code && !body.department_code) {
        return { error: '请选择案件类别或责任部门。', fields: ['category_code', 'department_code'] };
      }
      if (f.action === 'request_extension') {
        const chosen = G.parseTime(body.due_at);
        const cur = G.parseTime(d.due_at);
        if (Number.isNaN(chosen)) return { error: '请填写申请延期至的时间。', fields: ['due_at'] };
        if (!Number.isNaN(cur) && chosen <= cur) return { error: `新的处置时限须晚于当前时限（${G.fmtMinute(cur)}）。`, fields: ['due_at'] };
      }
      if (f.fields.files) {
        const problem = G.photoProblem(f.fields.files.files);
        if (problem) return { error: problem, fields: ['files'] };
      }
      return { body };
    }

    async function resolveOriginal(value) {
      const d = st.detail || {};
      if (UUID_RE.test(value)) return value.toLowerCase();
      const no = value.replace(/\s+/g, '');
      if (no === s(d.case_no)) throw new UserError('原案件不能是本案件。', ['original_case_id']);
      const found = await request(`/api/v1/cases?q=${encodeURIComponent(no)}&limit=20`);
      const items = objects(found && found.items);
      const hit = items.find((c) => s(c.case_no) === no);
      if (!hit) throw new UserError(`未找到编号为 ${no} 的案件（或无权查看）。`, ['original_case_id']);
      return s(hit.case_id);
    }

    async function upload(f) {
      const input = f.fields.files;
      const files = input ? [...(input.files || [])] : [];
      if (!files.length) return [];
      const key = files.map((file) => `${file.name}:${file.size}:${file.lastModified}`).join('|');
      if (st.uploaded && st.uploaded.key === key) return st.uploaded.ids;
      const form = new FormData();
      for (const file of files) form.append('files', file, file.name);
      const answer = await request(`/api/v1/photos?case_id=${encodeURIComponent(st.caseId)}`, { method: 'POST', form });
      const ids = objects(answer && answer.photos).map((p) => s(p.photo_id)).filter(Boolean);
      if (ids.length !== files.length) throw new UserError('照片上传未完成，请重试。', ['files']);
      st.uploaded = { key, ids };
      return ids;
    }

    async function submit(f) {
      if (st.busy || st.form !== f) return;
      const caseId = st.caseId;
      const checked = collect(f);
      if (checked.error) {
        showError(f, checked.error, checked.fields);
        return;
      }
      const body = checked.body;
      showError(f, '');
      setBusy(f, true);
      try {
        if (body.original_case_id) {
          setBusy(f, true, '正在查找原案件…');
          body.original_case_id = await resolveOriginal(body.original_case_id);
          if (body.original_case_id === caseId) throw new UserError('原案件不能是本案件。', ['original_case_id']);
        }
        if (f.fields.files && f.fields.files.files && f.fields.files.files.length) {
          setBusy(f, true, '正在上传照片…');
          body.photo_ids = await upload(f);
        }
        setBusy(f, true, '提交中…');
        const result = await request(`/api/v1/cases/${encodeURIComponent(caseId)}/actions`, { method: 'POST', body });
        if (st.caseId !== caseId) return;
        st.busy = false;
        closeForm();
        setNotice(f.spec.done || `已${labelOf(f.action)}。`);
        renderButtons();
        if (onDone) onDone({ action: f.action, caseId, result });
      } catch (err) {
        if (err instanceof G.SignedOut) return;
        if (st.caseId !== caseId || st.form !== f) return;
        setBusy(f, false);
        if (err instanceof UserError) {
          showError(f, err.message, err.fields);
        } else if (err && Number.isFinite(err.status)) {
          const fields = err.fields instanceof Set ? [...err.fields] : [];
          showError(f, s(err.serverMessage) || `操作未成功（服务器返回 ${err.status}）。`, fields);
          // The case changed under us (409): let the page reload it; the form stays with the message.
          if (err.status === 409 && onDone) onDone({ action: f.action, caseId, refused: true });
        } else {
          showError(f, '网络异常，操作未提交，请重试。');
        }
      }
    }

    return { root, render, reset, open: (action) => st.actions.includes(action) && openForm(action) };
  }

  class UserError extends Error {
    constructor(message, fields = []) {
      super(message);
      this.fields = fields;
    }
  }

  const limitText = G.limitText; // "2wh" → "2个工作小时"

  // ---------------------------------------------------------------------
  // 督办: a case's supervision orders; operators and leaders issue one, the lead department answers
  // ---------------------------------------------------------------------

  // 回复时限 of a new order (the server's default is 1 working day).
  const REPLY_WITHIN = [['2h', '2小时'], ['4wh', '4个工作小时'], ['1wd', '1个工作日'], ['3wd', '3个工作日']];
  const REPLY_WITHIN_DEFAULT = '1wd';
  // A case the server takes an order on: dispatched to a department and not finished.
  const NOT_SUPERVISABLE = new Set(['reported', 'triage', 'closed', 'rejected', 'duplicate']);
  const ISSUE_PERMISSION = 'case.supervise';
  const REPLY_PERMISSION = 'case.reply_supervision';

  /**
   * The 督办 part of a case page: who supervises the case now, its orders (issuer, reason, reply due
   * with a light, status, reply), the "下发督办单" form for who may issue one (case.supervise) and a
   * "回复" form on open orders for the lead department (case.reply_supervision; the server decides
   * whether this department leads the case and says so when it doesn't).
   *
   *   const sup = GridcaseActions.createSupervision({ request, onDone, permissions: () => session.permissions });
   *   container.append(sup.root);   // once
   *   sup.render(detail);           // after every load of the case
   */
  function createSupervision({ request, onDone, idPrefix = 'sup', permissions = () => null } = {}) {
    if (typeof request !== 'function') throw new Error('GridcaseActions.createSupervision: request is required');
    const root = el('section', { class: 'sup', attrs: { id: `${idPrefix}-supervision`, 'aria-label': '督办' } });
    const head = el('div', { class: 'sup-head' });
    const list = el('div', { class: 'sup-body' });
    const bar = el('div', { class: 'sup-bar' });
    const notice = el('div', { class: 'acts-notice', attrs: { role: 'status', 'aria-live': 'polite' } });
    const slot = el('div', { class: 'sup-form-slot' });
    root.append(head, list, bar, notice, slot);
    root.hidden = true;

    const st = { caseId: null, detail: null, form: null, busy: false };
    const can = (perm) => {
      const set = permissions();
      return !!set && typeof set.has === 'function' && set.has(perm);
    };

    function reset() {
      st.caseId = null;
      st.detail = null;
      st.busy = false;
      closeForm();
      setNotice('');
      root.hidden = true;
      root.removeAttribute('data-case-id');
    }

    function setNotice(text, tone = 'ok') {
      notice.textContent = text;
      notice.className = `acts-notice acts-notice-${tone}`;
      notice.hidden = !text;
    }

    function closeForm() {
      st.form = null;
      slot.replaceChildren();
    }

    const mayIssue = (d) => can(ISSUE_PERMISSION) && !!s(d.department_code) && !NOT_SUPERVISABLE.has(s(d.status));
    const mayReply = () => can(REPLY_PERMISSION);

    function render(d) {
      if (!isObj(d) || !s(d.case_id)) {
        reset();
        return root;
      }
      if (d.case_id !== st.caseId) {
        reset();
        st.caseId = d.case_id;
      }
      st.detail = d;
      root.dataset.caseId = d.case_id;
      const orders = objects(d.supervision_orders);
      const supervisor = s(d.supervisor_label);
      // Nothing to show and nothing to do (a grid worker's view of a case nobody supervises): no section.
      if (!orders.length && !supervisor && !mayIssue(d) && !st.form && notice.hidden) {
        root.hidden = true;
        head.replaceChildren();
        list.replaceChildren();
        bar.replaceChildren();
        return root;
      }
      root.hidden = false;
      const open = orders.filter((o) => s(o.status) === 'open');
      const late = open.filter((o) => G.orderDeadline(o).tone === 'red');
      head.replaceChildren(
        el('h3', { class: 'panel-section sup-title' }, [
          '督办',
          open.length ? el('span', {
            class: `sup-count${late.length ? ' sup-count-late' : ''}`,
            text: late.length ? `${late.length} 件超期未回复` : `${open.length} 件待回复`,
          }) : null,
        ]),
        el('div', { class: 'sup-now', attrs: { id: `${idPrefix}-supervisor` } }, [
          el('span', { class: 'sup-now-label', text: '当前督办' }),
          supervisor
            ? el('b', { class: 'sup-now-who', text: supervisor })
            : el('span', { class: 'muted', text: '暂无（未提级、未下发督办单）' }),
          s(d.level_label) ? el('span', { class: 'sup-now-level', text: `${s(d.level_label)}级` }) : null,
        ]),
      );
      list.replaceChildren(orders.length
        ? el('ol', { class: 'sup-orders', attrs: { id: `${idPrefix}-orders` } }, orders.map((o) => orderItem(o)))
        : el('div', { class: 'panel-empty sup-empty', text: '暂无督办单' }));
      const issue = mayIssue(d);
      const issuing = st.form && st.form.kind === 'supervise';
      bar.replaceChildren(issue ? el('button', {
        class: `btn btn-secondary sup-issue-btn${issuing ? ' active' : ''}`,
        text: '下发督办单',
        attrs: {
          type: 'button', id: `${idPrefix}-issue`, 'data-sup': 'issue', 'aria-expanded': issuing ? 'true' : 'false',
          'aria-controls': `${idPrefix}-form`, disabled: st.busy,
        },
        on: { click: () => (issuing ? (closeForm(), render(st.detail)) : openIssue()) },
      }) : null);
      bar.hidden = !issue;
      // An answer form for an order that is no longer open (answered meanwhile): close it, say so.
      if (st.form && st.form.kind === 'reply_supervision' && !st.busy) {
        const still = open.find((o) => String(o.id) === st.form.orderId);
        if (!still) {
          const refused = !st.form.fk.error.hidden ? st.form.fk.error.textContent : '';
          closeForm();
          setNotice(refused || '该督办单已回复，无需再回复。', 'warn');
        } else {
          st.form.context.replaceChildren(orderContext(still));
        }
      }
      if (st.form && st.form.kind === 'supervise' && !issue && !st.busy) {
        closeForm();
        setNotice('案件状态已变化，当前不能下发督办单。', 'warn');
      }
      return root;
    }

    function orderItem(o) {
      const id = String(o.id);
      const dl = G.orderDeadline(o);
      const status = s(o.status);
      const reply = s(o.reply);
      const replyable = status === 'open' && mayReply();
      const replying = st.form && st.form.kind === 'reply_supervision' && st.form.orderId === id;
      return el('li', {
        class: `sup-order sup-order-${status === 'open' ? (dl.tone === 'red' ? 'late' : 'open') : 'done'}`,
        dataset: { orderId: id, status, overdue: dl.tone === 'red' || !Number.isNaN(G.parseTime(o.overdue_at)) ? 'true' : 'false' },
      }, [
        el('div', { class: 'sup-order-head' }, [
          el('span', { class: 'sup-issuer', text: `${s(o.issuer_label) || '督办'}督办` }),
          el('span', { class: `sup-status sup-status-${status === 'open' ? (dl.tone === 'red' ? 'late' : 'open') : 'done'}`, text: G.orderStatusText(o, dl) }),
          el('span', { class: 'sup-created mono', text: G.fmtTime(o.created_at), title: `下发于 ${G.fmtFull(o.created_at)}` }),
        ]),
        el('div', { class: 'sup-reason', text: s(o.reason) }),
        el('div', { class: 'sup-meta' }, [
          el('span', { class: `due due-${dl.tone === 'none' ? 'stopped' : dl.tone}`, title: `回复时限 ${G.fmtFull(o.reply_due_at)}` }, [
            el('span', { class: `light light-${dl.tone === 'none' ? 'stopped' : dl.tone}`, attrs: { 'aria-hidden': 'true' } }),
            '回复时限 ',
            el('span', { class: 'mono', text: G.fmtTime(o.reply_due_at) }),
          ]),
          dl.short ? el('span', { class: `sup-left sup-left-${dl.tone}`, text: dl.short }) : null,
          s(o.issued_by_label) ? el('span', { class: 'sup-by', text: `下发：${s(o.issued_by_label)}` }) : null,
        ]),
        reply ? el('div', { class: 'sup-reply' }, [
          el('div', { class: 'sup-reply-head' }, [
            el('b', { text: '回复' }),
            el('span', { class: 'sup-reply-who', text: [s(o.replied_by_label), G.fmtTime(o.replied_at) === '—' ? '' : G.fmtTime(o.replied_at)].filter(Boolean).join(' · ') }),
          ]),
          el('div', { class: 'sup-reply-text', text: reply }),
        ]) : null,
        replyable ? el('div', { class: 'sup-order-foot' }, [el('button', {
          class: `btn btn-primary sup-reply-btn${replying ? ' active' : ''}`,
          text: '回复督办',
          attrs: {
            type: 'button', 'data-reply-order': id, 'aria-expanded': replying ? 'true' : 'false',
            'aria-controls': `${idPrefix}-form`, disabled: st.busy,
          },
          on: { click: () => (replying ? (closeForm(), render(st.detail)) : openReply(id)) },
        })]) : null,
      ]);
    }

    function orderContext(o) {
      return el('div', { class: 'act-request' }, [
        el('b', { text: `${s(o.issuer_label) || '督办'}督办` }),
        el('span', { text: ` 事由：${s(o.reason)}；回复时限 ${G.fmtMinute(o.reply_due_at)}` }),
      ]);
    }

    function buildForm(kind, { title, hint, fields, submitText, orderId = '' }) {
      const fk = G.formKit(`${idPrefix}-${kind}`);
      const context = el('div', { class: 'act-context' });
      const submit = el('button', { class: 'btn btn-primary', text: submitText, attrs: { type: 'submit', 'data-submit': kind } });
      const cancel = el('button', {
        class: 'btn btn-plain',
        text: '取消',
        attrs: { type: 'button', 'data-cancel': kind },
        on: { click: () => { if (!st.busy) { closeForm(); render(st.detail); } } },
      });
      const f = { kind, orderId, fk, context, submit, submitText, inputs: {} };
      const rows = fields.map(([name, label, input, opts]) => {
        f.inputs[name] = input;
        return fk.row(name, label, input, opts);
      });
      f.node = el('form', {
        class: `act-form sup-form sup-form-${kind}`,
        attrs: { id: `${idPrefix}-form`, novalidate: true, 'data-form': kind, 'aria-label': title },
        on: {
          submit: (e) => {
            e.preventDefault();
            send(f);
          },
          keydown: (e) => {
            if (e.key === 'Escape' && !st.busy) {
              e.stopPropagation();
              closeForm();
              render(st.detail);
            }
          },
        },
      }, [
        el('div', { class: 'act-form-head' }, [
          el('span', { class: 'act-form-title', text: title }),
          hint ? el('span', { class: 'act-form-hint', text: hint }) : null,
        ]),
        context,
        ...rows,
        fk.error,
        el('div', { class: 'act-form-foot' }, [submit, cancel]),
      ]);
      return f;
    }

    function show(f) {
      setNotice('');
      st.form = f;
      slot.replaceChildren(f.node);
      render(st.detail);
      const first = f.node.querySelector('textarea, select');
      if (first) first.focus();
      f.node.scrollIntoView({ block: 'nearest' });
    }

    function openIssue() {
      if (st.busy) return;
      const d = st.detail || {};
      const reason = el('textarea', {
        class: 'act-input act-textarea',
        attrs: { rows: 3, maxlength: 1000, autocomplete: 'off', placeholder: '例如：群众多次反映，请加快处置并回复办理进展' },
      });
      const within = el('select', { class: 'act-input act-select' }, REPLY_WITHIN.map(([value, label]) => el('option', {
        text: label, attrs: { value, selected: value === REPLY_WITHIN_DEFAULT },
      })));
      const f = buildForm('supervise', {
        title: '下发督办单',
        hint: `督办${s(d.department_name) || '承办部门'}，须在回复时限内回复办理情况。`,
        submitText: '确认下发',
        fields: [
          ['reason', '督办事由', reason, { required: true, hint: '2–1000 字' }],
          ['reply_within', '回复时限', within, { hint: '工作小时、工作日按工作时间计算（不含节假日）' }],
        ],
      });
      show(f);
    }

    function openReply(orderId) {
      if (st.busy) return;
      const o = objects(st.detail && st.detail.supervision_orders).find((x) => String(x.id) === orderId);
      if (!o) return;
      const reply = el('textarea', {
        class: 'act-input act-textarea',
        attrs: { rows: 3, maxlength: 2000, autocomplete: 'off', placeholder: '办理进展、已采取的措施、预计办结时间' },
      });
      const f = buildForm('reply_supervision', {
        title: '回复督办',
        submitText: '提交回复',
        orderId,
        fields: [['reply', '回复内容', reply, { required: true, hint: '2–2000 字' }]],
      });
      f.context.replaceChildren(orderContext(o));
      show(f);
    }

    function setBusy(f, busy) {
      st.busy = busy;
      f.node.setAttribute('aria-busy', busy ? 'true' : 'false');
      for (const input of f.node.querySelectorAll('input, textarea, select, button')) input.disabled = busy;
      f.submit.textContent = busy ? '提交中…' : f.submitText;
      for (const b of root.querySelectorAll('.sup-bar button, [data-reply-order]')) b.disabled = busy;
    }

    async function send(f) {
      if (st.busy || st.form !== f) return;
      const caseId = st.caseId;
      const name = f.kind === 'supervise' ? 'reason' : 'reply';
      const max = f.kind === 'supervise' ? 1000 : 2000;
      const text = f.inputs[name].value.trim();
      const n = [...text].length;
      if (n < 2 || n > max) {
        f.fk.showErrors('', new Map([[name, n === 0 ? `请填写${f.kind === 'supervise' ? '督办事由' : '回复内容'}` : `须为 2–${max} 个字（现为 ${n} 个字）`]]));
        return;
      }
      f.fk.clear();
      setBusy(f, true);
      try {
        let done;
        if (f.kind === 'supervise') {
          const answer = await request(`/api/v1/cases/${encodeURIComponent(caseId)}/supervision-orders`, {
            method: 'POST', body: { reason: text, reply_within: f.inputs.reply_within.value || REPLY_WITHIN_DEFAULT },
          });
          const due = isObj(answer) ? G.fmtMinute(answer.reply_due_at) : '—';
          done = due === '—' ? '已下发督办单。' : `已下发督办单，须于 ${due} 前回复。`;
        } else {
          await request(`/api/v1/supervision-orders/${encodeURIComponent(f.orderId)}/reply`, { method: 'POST', body: { reply: text } });
          done = '已回复督办。';
        }
        if (st.caseId !== caseId) return;
        st.busy = false;
        closeForm();
        setNotice(done);
        render(st.detail);
        if (onDone) onDone({ kind: f.kind, caseId });
      } catch (err) {
        if (err instanceof G.SignedOut) return;
        if (st.caseId !== caseId || st.form !== f) return;
        setBusy(f, false);
        f.fk.showServerError(err, f.kind === 'supervise' ? '下发' : '回复');
        // Refused because the case or the order changed (409) or isn't this department's (403): reload it.
        if (err instanceof G.HttpError && (err.status === 409 || err.status === 403) && onDone) {
          onDone({ kind: f.kind, caseId, refused: true });
        }
      }
    }

    return { root, render, reset };
  }

  return { create, createSupervision, LABELS, SPECS, labelOf };
})();
