// The agent's own settings: language, password, two-factor sign-in, and
// how this browser tells them of notifications.

import { announce, h, t } from './dom.js';
import { del, errorText, patch, post } from './api.js';
import { beep, prefs } from './notices.js';
import { csatText } from './agents.js';

// notificationCard: desktop notifications (asks the browser's permission
// when turned on) and the sound, both stored in this browser.
function notificationCard() {
  const st = status();
  const desk = h('input', { type: 'checkbox', id: 'set-desktop', checked: prefs.desktop(), 'aria-describedby': 'set-desktop-hint' });
  const sound = h('input', { type: 'checkbox', id: 'set-sound', checked: prefs.sound() });
  desk.addEventListener('change', async () => {
    if (!desk.checked) {
      prefs.setDesktop(false);
      say(st, t('desktop_notifications') + ': ' + t('off'));
      return;
    }
    if (!('Notification' in window)) {
      desk.checked = false;
      say(st, t('desktop_denied'), true);
      return;
    }
    let perm = Notification.permission;
    if (perm === 'default') {
      try {
        perm = await Notification.requestPermission();
      } catch (e) {
        perm = 'denied';
      }
    }
    if (perm !== 'granted') {
      desk.checked = false;
      prefs.setDesktop(false);
      say(st, t('desktop_denied') + ' ' + t('desktop_blocked_hint'), true);
      return;
    }
    prefs.setDesktop(true);
    say(st, t('desktop_on'));
  });
  sound.addEventListener('change', () => {
    prefs.setSound(sound.checked);
    if (sound.checked) beep();
    say(st, t(sound.checked ? 'sound_on' : 'sound_off'));
  });
  return h('section', { class: 'card', 'aria-labelledby': 'notif-set-h' },
    h('h3', { id: 'notif-set-h' }, t('notif_settings')),
    h('div', { class: 'check' }, desk, h('label', { for: 'set-desktop' }, t('desktop_notifications'))),
    h('p', { class: 'hint', id: 'set-desktop-hint' }, t('desktop_notifications_hint')),
    h('div', { class: 'check' }, sound, h('label', { for: 'set-sound' }, t('notification_sound'))),
    st);
}

function field(id, labelText, input, hint) {
  input.id = id;
  if (hint) input.setAttribute('aria-describedby', id + '-hint');
  return h('div', { class: 'field' }, h('label', { for: id }, labelText), input,
    hint ? h('p', { class: 'hint', id: id + '-hint' }, hint) : null);
}

function status() {
  return h('p', { class: 'form-status', role: 'status' });
}

function say(el, text, bad) {
  el.textContent = text;
  el.classList.toggle('error', Boolean(bad));
}

export function renderSettings(app, main) {
  const me = app.me;

  // Language
  const lang = h('select', null, h('option', { value: 'en' }, 'English'), h('option', { value: 'sv' }, 'Svenska'));
  lang.value = me.language === 'sv' ? 'sv' : 'en';
  const langStatus = status();
  const langForm = h('form', { class: 'card' },
    h('h3', null, t('language')),
    field('set-lang', t('console_language'), lang),
    h('button', { type: 'submit', class: 'primary' }, t('save')),
    langStatus);
  langForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await patch('/api/v1/me', { language: lang.value });
      location.reload(); // the page is rendered in the agent's language
    } catch (err) {
      say(langStatus, errorText(err), true);
    }
  });

  // Name and password
  const name = h('input', { type: 'text', autocomplete: 'name', value: me.name || '' });
  const nameStatus = status();
  const own = csatText(app.agents.get(me.id));
  const nameForm = h('form', { class: 'card' },
    h('h3', null, t('profile')),
    own ? h('p', { class: 'agent-csat' }, own) : null,
    field('set-name', t('name'), name),
    h('button', { type: 'submit', class: 'primary' }, t('save')),
    nameStatus);
  nameForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const res = await patch('/api/v1/me', { name: name.value });
      app.me.name = res.agent.name;
      say(nameStatus, t('saved'));
    } catch (err) {
      say(nameStatus, errorText(err), true);
    }
  });

  const current = h('input', { type: 'password', autocomplete: 'current-password' });
  const next = h('input', { type: 'password', autocomplete: 'new-password', minlength: '10' });
  const pwStatus = status();
  const pwForm = h('form', { class: 'card' },
    h('h3', null, t('password')),
    // The account's name, for password managers.
    field('set-username', t('email'), h('input', { type: 'email', autocomplete: 'username', readonly: true, value: me.email })),
    field('set-current', t('current_password'), current),
    field('set-new', t('new_password'), next, t('password_hint')),
    h('button', { type: 'submit', class: 'primary' }, t('change_password')),
    pwStatus);
  pwForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await patch('/api/v1/me', { password: next.value, current_password: current.value });
      current.value = '';
      next.value = '';
      say(pwStatus, t('password_changed'));
    } catch (err) {
      say(pwStatus, errorText(err), true);
    }
  });

  const totpCard = h('section', { class: 'card', 'aria-labelledby': 'totp-h' });
  renderTOTP(app, totpCard);

  main.replaceChildren(h('div', { class: 'page' },
    h('h2', { tabindex: '-1' }, t('settings')),
    langForm, nameForm, notificationCard(), pwForm, totpCard));
}

function renderTOTP(app, card) {
  const me = app.me;
  const st = status();
  const heading = h('h3', { id: 'totp-h' }, t('two_factor'));
  if (me.totp_enabled) {
    const code = h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '10' });
    const form = h('form', null,
      field('totp-off-code', t('totp_code'), code),
      h('button', { type: 'submit', class: 'secondary' }, t('totp_turn_off')), st);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const res = await del('/api/v1/me/totp', { code: code.value.trim() });
        Object.assign(app.me, res.agent);
        renderTOTP(app, card);
        announce(t('totp_off'));
      } catch (err) {
        say(st, errorText(err), true);
      }
    });
    card.replaceChildren(heading, h('p', { class: 'ok-text' }, t('totp_is_on')), form);
    return;
  }
  const start = h('button', { type: 'button', class: 'primary' }, t('totp_set_up'));
  start.addEventListener('click', async () => {
    try {
      const res = await post('/api/v1/me/totp');
      const code = h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '10' });
      const confirm = h('form', null,
        h('img', { class: 'qr', src: res.qr, alt: t('totp_qr_alt'), width: '240', height: '240' }),
        h('p', null, t('totp_manual'), ' ', h('code', { class: 'secret' }, res.secret)),
        field('totp-code', t('totp_code'), code, t('totp_code_hint')),
        h('button', { type: 'submit', class: 'primary' }, t('totp_confirm')), st);
      confirm.addEventListener('submit', async (e) => {
        e.preventDefault();
        try {
          const done = await post('/api/v1/me/totp/confirm', { code: code.value.trim() });
          Object.assign(app.me, done.agent);
          renderTOTP(app, card);
          announce(t('totp_on'));
        } catch (err) {
          say(st, errorText(err), true);
          code.focus();
        }
      });
      card.replaceChildren(heading, h('p', null, t('totp_scan')), confirm);
      code.focus();
    } catch (err) {
      say(st, errorText(err), true);
    }
  });
  card.replaceChildren(heading, h('p', null, t('totp_intro')), start, st);
}
