// Retention, for admins: how long solved tickets and attachments are
// kept. Before saving, the page shows what the setting would erase now
// (the dry-run count of GET /api/v1/settings/retention/preview) and asks
// for confirmation in a dialog.

import { announce, h, t } from './dom.js';
import { errorText, get, put } from './api.js';
import { confirmAction } from './confirm.js';

function daysField(id, label, hint, value) {
  const input = h('input', { id, type: 'text', inputmode: 'numeric', autocomplete: 'off', required: true,
    value: String(value || 0), 'aria-describedby': id + '-hint' });
  return { input, el: h('div', { class: 'field' }, h('label', { for: id }, label), input, h('p', { class: 'hint', id: id + '-hint' }, hint)) };
}

export async function renderRetention(app, main) {
  const solved = daysField('ret-solved', t('retention_solved_days'), t('retention_solved_hint'), 0);
  const atts = daysField('ret-attachments', t('retention_attachments_days'), t('retention_attachments_hint'), 0);
  const count = h('p', { id: 'ret-preview', class: 'form-status retention-preview', role: 'status', 'aria-live': 'polite' });
  const st = h('p', { id: 'ret-status', class: 'form-status error', role: 'alert' });
  const check = h('button', { type: 'button', class: 'secondary', id: 'ret-check' }, t('retention_check'));
  const form = h('form', { class: 'card retention', 'aria-labelledby': 'ret-h', novalidate: true },
    h('p', { class: 'hint' }, t('retention_intro')),
    solved.el, atts.el,
    h('div', { class: 'retention-actions' }, check, h('button', { type: 'submit', class: 'primary', id: 'ret-save' }, t('retention_save'))),
    count, st);
  main.replaceChildren(h('section', { class: 'page' }, h('h2', { id: 'ret-h', tabindex: '-1' }, t('retention')), form));

  const values = () => ({ solved_ticket_days: Number(solved.input.value), attachments_days: Number(atts.input.value) });
  function refuse(err) {
    st.textContent = errorText(err);
    const bad = err.field === 'attachments_days' || /attachments_days/.test(err.message || '') ? atts.input
      : err.field === 'solved_ticket_days' || /solved_ticket_days/.test(err.message || '') ? solved.input : null;
    for (const i of [solved.input, atts.input]) i.removeAttribute('aria-invalid');
    if (bad) {
      bad.setAttribute('aria-invalid', 'true');
      bad.focus();
    }
  }
  // preview shows and returns what the entered setting would erase now.
  async function preview() {
    const v = values();
    const p = await get('/api/v1/settings/retention/preview?solved_ticket_days=' + encodeURIComponent(solved.input.value) +
      '&attachments_days=' + encodeURIComponent(atts.input.value));
    const text = v.solved_ticket_days === 0 && v.attachments_days === 0 ? t('retention_keeps_all')
      : t('retention_would_erase', { tickets: p.tickets, customers: p.customers, attachments: p.attachments });
    count.textContent = text;
    st.textContent = '';
    for (const i of [solved.input, atts.input]) i.removeAttribute('aria-invalid');
    return text;
  }
  check.addEventListener('click', async () => {
    try {
      await preview();
    } catch (err) {
      count.textContent = '';
      refuse(err);
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let text;
    try {
      text = await preview();
    } catch (err) {
      count.textContent = '';
      refuse(err);
      return;
    }
    if (!(await confirmAction(t('retention_confirm', { preview: text }), t('retention_save')))) return;
    try {
      const saved = await put('/api/v1/settings/retention', values());
      solved.input.value = String(saved.solved_ticket_days);
      atts.input.value = String(saved.attachments_days);
      st.textContent = '';
      count.textContent = t('retention_saved');
      announce(t('retention_saved'));
    } catch (err) {
      refuse(err);
    }
  });
  try {
    const cur = await get('/api/v1/settings/retention');
    solved.input.value = String(cur.solved_ticket_days || 0);
    atts.input.value = String(cur.attachments_days || 0);
  } catch (err) {
    refuse(err);
  }
}
