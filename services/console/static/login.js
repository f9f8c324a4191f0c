/*
 * Gridcase sign-in page.
 *
 * Vanilla ES2020, no dependencies. Server text reaches the DOM through
 * textContent only. Public file: it may not rely on anything but
 * /static/login.css and /static/favicon.svg.
 */
'use strict';

(() => {
  const API = {
    session: '/api/v1/auth/session',
  };

  // Fallback texts, used only when the server's answer has no message of its own.
  const FALLBACK = {
    400: '请求无效，请刷新页面后重试。',
    401: '用户名或密码错误。',
    403: '该账号已停用，请联系系统管理员。',
    422: '请检查用户名和密码。',
    423: '账号已被临时锁定，请稍后再试。',
    429: '登录尝试过于频繁，请稍后再试。',
  };

  const $ = (id) => document.getElementById(id);

  /** Coerce a server value to display text: only strings and finite numbers pass. */
  function s(v) {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    return '';
  }

  /**
   * Where to go after signing in: the `next` query parameter when it is a
   * same-origin relative path ("/…" but not "//…" or "/\…"), else "/".
   */
  function nextTarget() {
    let next = null;
    try {
      next = new URLSearchParams(location.search).get('next');
    } catch (_) {
      next = null;
    }
    if (typeof next !== 'string' || next === '') return '/';
    if (next[0] !== '/' || next.startsWith('//') || next.startsWith('/\\')) return '/';
    // Browsers drop tabs and newlines inside URLs ("/\t/evil" would become "//evil"):
    // refuse any control character outright.
    if (/[\u0000-\u001f\u007f]/.test(next)) return '/';
    let url;
    try {
      url = new URL(next, location.origin);
    } catch (_) {
      return '/';
    }
    if (url.origin !== location.origin) return '/';
    // Coming back to the sign-in page itself would be a loop.
    if (url.pathname === '/login' || url.pathname.startsWith('/login/')) return '/';
    // A server-side redirect to /login can't put the fragment (#case=…) into `next`, but the
    // browser carries it over to this page: hand it on.
    const hash = url.hash || (location.hash.length > 1 ? location.hash : '');
    return url.pathname + url.search + hash;
  }

  // ---------------------------------------------------------------------
  // Error area
  // ---------------------------------------------------------------------

  function showError(text) {
    const box = $('login-error');
    box.textContent = text;
    box.hidden = !text;
  }

  function markInvalid(names) {
    for (const name of ['username', 'password']) {
      const input = $(name);
      if (names.has(name)) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    }
  }

  /** Field names named by an error's `fields` (strings, or objects with field/name/loc). */
  function fieldNames(fields) {
    const out = new Set();
    if (!Array.isArray(fields)) return out;
    for (const f of fields) {
      if (typeof f === 'string') out.add(f);
      else if (f && typeof f === 'object') {
        if (typeof f.field === 'string') out.add(f.field);
        if (typeof f.name === 'string') out.add(f.name);
        if (Array.isArray(f.loc)) for (const part of f.loc) if (typeof part === 'string') out.add(part);
      }
    }
    return out;
  }

  // ---------------------------------------------------------------------
  // Submit button (busy / wait-for-retry states)
  // ---------------------------------------------------------------------

  let busy = false;
  let waitUntil = 0;
  let waitTimer = null;

  function renderButton() {
    const btn = $('login-submit');
    const left = Math.ceil((waitUntil - Date.now()) / 1000);
    btn.classList.toggle('busy', busy);
    btn.classList.toggle('waiting', !busy && left > 0);
    if (busy) {
      btn.disabled = true;
      btn.textContent = '登录中…';
    } else if (left > 0) {
      btn.disabled = true;
      btn.textContent = `请 ${left} 秒后再试`;
    } else {
      btn.disabled = false;
      btn.textContent = '登录';
    }
  }

  /** Keep the button disabled for `seconds` (from a 429/423 answer's details.retry_after_s). */
  function waitFor(seconds) {
    const secs = Number(seconds);
    if (!Number.isFinite(secs) || secs <= 0) return;
    waitUntil = Date.now() + Math.min(secs, 24 * 3600) * 1000;
    clearInterval(waitTimer);
    waitTimer = setInterval(() => {
      if (Date.now() >= waitUntil) {
        clearInterval(waitTimer);
        waitTimer = null;
      }
      renderButton();
    }, 1000);
    renderButton();
  }

  // ---------------------------------------------------------------------
  // Sign in
  // ---------------------------------------------------------------------

  async function readError(res) {
    let body = null;
    try {
      body = await res.json();
    } catch (_) {
      body = null;
    }
    return body && typeof body === 'object' ? body : {};
  }

  async function onSubmit(ev) {
    ev.preventDefault();
    if (busy || Date.now() < waitUntil) return;
    const username = $('username').value.trim();
    const password = $('password').value;
    if (!username || !password) {
      const missing = new Set();
      if (!username) missing.add('username');
      if (!password) missing.add('password');
      markInvalid(missing);
      showError(!username && !password ? '请输入用户名和密码。' : !username ? '请输入用户名。' : '请输入密码。');
      $(!username ? 'username' : 'password').focus();
      return;
    }

    busy = true;
    renderButton();
    showError('');
    let res;
    try {
      res = await fetch(API.session, {
        method: 'POST',
        credentials: 'same-origin',
        cache: 'no-store',
        headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
        body: JSON.stringify({ username, password }),
      });
    } catch (_) {
      busy = false;
      renderButton();
      showError('无法连接服务器，请检查网络后重试。');
      return;
    }

    if (res.ok) {
      // Keep the button busy: the page is about to go.
      location.replace(nextTarget());
      return;
    }

    const err = await readError(res);
    busy = false;
    const message = s(err.message) ||
      FALLBACK[res.status] ||
      (res.status >= 500 ? `服务暂时不可用（HTTP ${res.status}），请稍后再试。` : `登录失败（HTTP ${res.status}）。`);
    showError(message);

    const details = err.details && typeof err.details === 'object' ? err.details : {};
    if (res.status === 429 || res.status === 423) waitFor(details.retry_after_s);
    renderButton();

    if (res.status === 422) {
      const names = fieldNames(err.fields);
      markInvalid(names);
      $(names.has('username') || !names.has('password') ? 'username' : 'password').focus();
    } else if (res.status === 401) {
      markInvalid(new Set(['password']));
      const pw = $('password');
      pw.value = '';
      pw.focus();
    } else {
      markInvalid(new Set());
    }
  }

  // ---------------------------------------------------------------------
  // Small conveniences: show/hide password, caps-lock hint
  // ---------------------------------------------------------------------

  function initPasswordToggle() {
    const btn = $('pw-toggle');
    const input = $('password');
    btn.hidden = false;
    btn.addEventListener('click', () => {
      const show = input.type === 'password';
      input.type = show ? 'text' : 'password';
      btn.textContent = show ? '隐藏' : '显示';
      btn.setAttribute('aria-pressed', show ? 'true' : 'false');
      btn.setAttribute('aria-label', show ? '隐藏密码' : '显示密码');
      input.focus();
    });
    btn.setAttribute('aria-label', '显示密码');
  }

  function initCapsHint() {
    const hint = $('caps-hint');
    const update = (e) => {
      if (typeof e.getModifierState === 'function') hint.hidden = !e.getModifierState('CapsLock');
    };
    $('password').addEventListener('keydown', update);
    $('password').addEventListener('keyup', update);
    $('password').addEventListener('blur', () => {
      hint.hidden = true;
    });
  }

  function init() {
    const form = $('login-form');
    form.addEventListener('submit', onSubmit);
    for (const name of ['username', 'password']) {
      $(name).addEventListener('input', () => $(name).removeAttribute('aria-invalid'));
    }
    initPasswordToggle();
    initCapsHint();
    renderButton(); // enables the button: until now the form could not be used
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
