// Webhooks, for admins: register a URL for some event types, delete one,
// and read each webhook's delivery log (event, receiver's status, attempt,
// time, error) from GET /api/v1/webhooks/{id}/deliveries.

import { announce, formatTime, h, parseTime, replace, t } from './dom.js';
import { del, errorText, get, post } from './api.js';
import { confirmAction } from './confirm.js';

const EVENTS = ['ticket.created', 'ticket.updated', 'message.created', 'message.updated'];

function when(s) {
  const d = parseTime(s);
  return d ? formatTime(d) : '';
}

// randomSecret makes a signing secret the admin can copy to the receiver.
function randomSecret() {
  const b = new Uint8Array(24);
  crypto.getRandomValues(b);
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

function deliveriesTable(hook, rows) {
  if (!rows.length) return h('p', { class: 'muted' }, t('no_deliveries'));
  return h('table', { class: 'deliveries' },
    h('caption', null, t('deliveries_of', { url: hook.url })),
    h('thead', null, h('tr', null, ['wh_event', 'wh_status', 'wh_attempt', 'wh_time', 'wh_error'].map((k) => h('th', { scope: 'col' }, t(k))))),
    h('tbody', null, rows.map((d) => h('tr', { class: d.ok ? 'ok' : 'failed' },
      h('td', null, d.event_type, h('span', { class: 'muted' }, ' ' + d.event_id)),
      h('td', null, d.status ? String(d.status) : '–', ' ', h('span', { class: 'badge ' + (d.ok ? 'ok' : 'warn') }, d.ok ? t('wh_ok') : d.gave_up ? t('wh_gave_up') : t('wh_failed'))),
      h('td', null, String(d.attempt)),
      h('td', null, h('time', { datetime: d.at }, when(d.at))),
      h('td', null, d.error || '')))));
}

export async function renderWebhooks(app, main) {
  const list = h('div', { class: 'webhooks' });
  const st = h('p', { class: 'form-status', role: 'status' });
  const url = h('input', { id: 'wh-url', type: 'url', autocomplete: 'off', required: true, placeholder: 'https://shop.example/svar-hook' });
  const secret = h('input', { id: 'wh-secret', type: 'text', autocomplete: 'off', required: true, minlength: '16', value: randomSecret(), 'aria-describedby': 'wh-secret-hint' });
  const boxes = EVENTS.map((ev) => h('input', { id: 'wh-ev-' + ev.replace('.', '-'), type: 'checkbox', value: ev, checked: ev === 'ticket.created' || ev === 'message.created' }));
  const err = h('p', { class: 'error', id: 'wh-err', role: 'alert' });
  const form = h('form', { class: 'card', 'aria-labelledby': 'wh-create-h', novalidate: true },
    h('h3', { id: 'wh-create-h' }, t('create_webhook')),
    h('div', { class: 'field' }, h('label', { for: 'wh-url' }, t('wh_url')), url),
    h('fieldset', null, h('legend', null, t('wh_events')),
      boxes.map((b) => h('div', { class: 'check' }, b, h('label', { for: b.id }, b.value)))),
    h('div', { class: 'field' }, h('label', { for: 'wh-secret' }, t('wh_secret')), secret,
      h('p', { class: 'hint', id: 'wh-secret-hint' }, t('wh_secret_hint'))),
    h('button', { type: 'submit', class: 'primary' }, t('create_webhook')), err);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    for (const x of form.querySelectorAll('[aria-invalid]')) x.removeAttribute('aria-invalid');
    try {
      const res = await post('/api/v1/webhooks', { url: url.value.trim(), events: boxes.filter((b) => b.checked).map((b) => b.value), secret: secret.value });
      url.value = '';
      secret.value = randomSecret();
      st.textContent = t('webhook_created', { url: res.webhook.url });
      announce(t('webhook_created', { url: res.webhook.url }));
      await load();
    } catch (e2) {
      err.textContent = errorText(e2);
      const f = (e2.field || '').split('[')[0];
      const el = f === 'url' ? url : f === 'secret' ? secret : f === 'events' ? boxes[0] : null;
      if (el) {
        el.setAttribute('aria-invalid', 'true');
        el.focus();
      }
    }
  });

  function card(hook) {
    const box = h('div', { class: 'wh-deliveries', id: 'whd-' + hook.id, hidden: true });
    const show = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false', 'aria-controls': box.id },
      t('show_deliveries'), h('span', { class: 'sr-only' }, ' ' + hook.url));
    const refresh = h('button', { type: 'button', class: 'ghost small', hidden: true }, t('refresh'), h('span', { class: 'sr-only' }, ' ' + hook.url));
    const e1 = h('p', { class: 'error', role: 'alert' });
    async function loadDeliveries() {
      e1.textContent = '';
      try {
        const data = await get('/api/v1/webhooks/' + encodeURIComponent(hook.id) + '/deliveries');
        replace(box, deliveriesTable(hook, data.deliveries || []));
        announce(t('deliveries_shown', { n: (data.deliveries || []).length }));
      } catch (e) {
        e1.textContent = errorText(e);
      }
    }
    show.addEventListener('click', async () => {
      const open = show.getAttribute('aria-expanded') === 'true';
      show.setAttribute('aria-expanded', String(!open));
      box.hidden = open;
      refresh.hidden = open;
      if (!open) await loadDeliveries();
    });
    refresh.addEventListener('click', loadDeliveries);
    const rm = h('button', { type: 'button', class: 'danger' }, t('delete_webhook'), h('span', { class: 'sr-only' }, ' ' + hook.url));
    rm.addEventListener('click', async () => {
      if (!await confirmAction(t('confirm_delete_webhook', { url: hook.url }), t('delete_webhook'))) return;
      try {
        await del('/api/v1/webhooks/' + encodeURIComponent(hook.id));
        st.textContent = t('webhook_deleted', { url: hook.url });
        announce(t('webhook_deleted', { url: hook.url }));
        await load();
        const h2 = main.querySelector('h2');
        if (h2) h2.focus();
      } catch (e) {
        e1.textContent = errorText(e);
      }
    });
    return h('section', { class: 'card webhook', 'aria-label': hook.url },
      h('h3', { class: 'wh-url' }, hook.url),
      h('p', { class: 'muted' }, t('wh_events'), ': ', hook.events.join(', '), ' · ', t('wh_created', { at: when(hook.created_at) })),
      h('div', { class: 'form-actions' }, show, refresh, rm), e1, box);
  }

  async function load() {
    try {
      const data = await get('/api/v1/webhooks');
      const hooks = data.webhooks || [];
      replace(list, ...(hooks.length ? hooks.map(card) : [h('p', { class: 'muted' }, t('no_webhooks'))]));
    } catch (e) {
      replace(list, h('p', { class: 'error', role: 'alert' }, errorText(e)));
    }
  }
  replace(main, h('section', { class: 'page webhooks-page', 'aria-labelledby': 'wh-h' },
    h('h2', { id: 'wh-h', tabindex: '-1' }, t('webhooks')),
    h('p', { class: 'muted' }, t('webhooks_hint')), st, form,
    h('h3', null, t('registered_webhooks')), list));
  await load();
}
