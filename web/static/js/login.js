// The sign-in form. A two-factor code field appears when the server says
// the account needs one.

import { setStrings, t } from './dom.js';

const boot = JSON.parse(document.getElementById('boot').textContent);
setStrings(boot.strings, boot.lang);

const form = document.getElementById('login');
const email = document.getElementById('email');
const password = document.getElementById('password');
const codeField = document.getElementById('code-field');
const code = document.getElementById('code');
const error = document.getElementById('login-error');
const button = form.querySelector('button[type=submit]');

function showError(text, focus) {
  error.textContent = text;
  error.hidden = false;
  if (focus) focus.focus();
}

function next() {
  const n = new URLSearchParams(location.search).get('next') || '/';
  return n.startsWith('/') && !n.startsWith('//') && !n.startsWith('/\\') ? n : '/';
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  error.hidden = true;
  if (!email.value.trim()) return showError(t('login_need_email'), email);
  if (!password.value) return showError(t('login_need_password'), password);
  const body = { email: email.value.trim(), password: password.value };
  if (!codeField.hidden && code.value.trim()) body.code = code.value.trim();
  button.disabled = true;
  form.setAttribute('aria-busy', 'true');
  try {
    const res = await fetch('/api/v1/session', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      credentials: 'same-origin',
      body: JSON.stringify(body),
    });
    if (res.ok) {
      location.assign(next());
      return;
    }
    let err = {};
    try {
      err = (await res.json()).error || {};
    } catch (x) {
      err = {};
    }
    const msg = err.message || '';
    if (res.status === 401 && err.field === 'code') {
      codeField.hidden = false;
      showError(t('login_code_required'), code);
    } else if (res.status === 401 && msg.startsWith('code:')) {
      codeField.hidden = false;
      code.value = '';
      showError(t('login_code_wrong'), code);
    } else if (res.status === 401) {
      showError(t('login_wrong'), password);
    } else if (res.status === 429) {
      showError(t('login_throttled'));
    } else if (res.status === 422 || res.status === 400) {
      showError(msg || t('err_generic'), email);
    } else {
      showError(t('err_server'));
    }
  } catch (x) {
    showError(t('err_network'));
  } finally {
    button.disabled = false;
    form.removeAttribute('aria-busy');
  }
});
