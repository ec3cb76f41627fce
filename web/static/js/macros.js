// The macros page: every agent manages their personal macros, admins the
// shared ones and the email identity (From name and signatures).

import { announce, h, t } from './dom.js';
import { api, del, errorText, get, patch } from './api.js';

const STATUSES = ['', 'open', 'pending', 'solved', 'closed'];
const PRIORITIES = ['', 'low', 'normal', 'high', 'urgent'];
const TYPES = ['', 'question', 'order', 'delivery', 'return', 'complaint'];

function field(id, labelText, input, hint) {
  input.id = id;
  if (hint) input.setAttribute('aria-describedby', id + '-hint');
  return h('div', { class: 'field' }, h('label', { for: id }, labelText), input,
    hint ? h('p', { class: 'hint', id: id + '-hint' }, hint) : null);
}

function choice(values, label) {
  return h('select', null, values.map((v) => h('option', { value: v }, v ? label(v) : t('macro_no_change'))));
}

const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);

export async function renderMacros(app, main) {
  const admin = app.me.role === 'admin';
  const rows = h('tbody');
  const say = h('p', { class: 'form-status', role: 'status' });
  const table = h('table', { class: 'agents macros-table' },
    h('caption', { class: 'sr-only' }, t('macros')),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('name')), h('th', { scope: 'col' }, t('macro_text')),
      h('th', { scope: 'col' }, t('macro_shared')), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('actions'))))),
    rows);

  // The form, for a new macro or the one being edited.
  const name = h('input', { type: 'text', required: true, maxlength: '100' });
  const text = h('textarea', { rows: '5' });
  const textSV = h('textarea', { rows: '5' });
  const status = choice(STATUSES, (v) => t('status_' + v));
  const priority = choice(PRIORITIES, (v) => t('priority_' + v));
  const type = choice(TYPES, (v) => t('type_' + v));
  const tagsAdd = h('input', { type: 'text', autocomplete: 'off' });
  const tagsRemove = h('input', { type: 'text', autocomplete: 'off' });
  const assignee = h('select', null, h('option', { value: '' }, t('macro_no_change')), h('option', { value: 'me' }, t('macro_assign_me')),
    Array.from(app.agents.values()).filter((a) => a.active).map((a) => h('option', { value: a.id }, a.name || a.email)));
  const team = h('input', { type: 'text', autocomplete: 'off' });
  const shared = h('input', { type: 'checkbox', disabled: !admin });
  const formTitle = h('h3', { id: 'macro-form-h' }, t('macro_new'));
  const save = h('button', { type: 'submit', class: 'primary' }, t('save'));
  const cancel = h('button', { type: 'button', class: 'secondary', hidden: true }, t('cancel'));
  const formStatus = h('p', { class: 'form-status', role: 'status' });
  let editing = null;
  const form = h('form', { class: 'card macro-form', 'aria-labelledby': 'macro-form-h', novalidate: true },
    formTitle,
    field('mac-name', t('name'), name),
    field('mac-text', t('macro_text_en'), text, t('macro_placeholders_hint')),
    field('mac-text-sv', t('macro_text_sv'), textSV),
    h('fieldset', null, h('legend', null, t('macro_actions')),
      field('mac-status', t('status'), status),
      field('mac-priority', t('priority'), priority),
      field('mac-type', t('type'), type),
      field('mac-tags-add', t('macro_tags_add'), tagsAdd),
      field('mac-tags-remove', t('macro_tags_remove'), tagsRemove),
      field('mac-assignee', t('assignee'), assignee),
      field('mac-team', t('team'), team)),
    h('div', { class: 'field field-check' }, shared, h('label', { for: 'mac-shared' }, t('macro_shared_label'))),
    h('div', { class: 'form-actions' }, save, cancel),
    formStatus);
  shared.id = 'mac-shared';

  const reset = () => {
    editing = null;
    form.reset();
    formTitle.textContent = t('macro_new');
    cancel.hidden = true;
  };
  const edit = (m) => {
    editing = m;
    name.value = m.name;
    text.value = m.text || '';
    textSV.value = (m.texts && m.texts.sv) || '';
    const a = m.actions || {};
    status.value = a.status || '';
    priority.value = a.priority || '';
    type.value = a.type || '';
    tagsAdd.value = (a.tags_add || []).join(', ');
    tagsRemove.value = (a.tags_remove || []).join(', ');
    assignee.value = a.assignee_id || '';
    team.value = a.team_id || '';
    shared.checked = Boolean(m.shared);
    formTitle.textContent = t('macro_edit', { name: m.name });
    cancel.hidden = false;
    name.focus();
  };
  cancel.addEventListener('click', reset);

  const load = async () => {
    try {
      const data = await get('/api/v1/macros');
      rows.replaceChildren(...data.macros.map((m) => {
        const editBtn = h('button', { type: 'button', class: 'secondary', 'aria-label': t('macro_edit', { name: m.name }) }, t('edit'));
        const delBtn = h('button', { type: 'button', class: 'ghost', 'aria-label': t('macro_delete', { name: m.name }) }, t('delete'));
        editBtn.addEventListener('click', () => edit(m));
        delBtn.addEventListener('click', async () => {
          if (!confirm(t('macro_delete_confirm', { name: m.name }))) return;
          try {
            await del('/api/v1/macros/' + encodeURIComponent(m.id));
            announce(t('macro_deleted', { name: m.name }));
            load();
          } catch (e) {
            say.textContent = errorText(e);
          }
        });
        const mine = admin || m.owner_id === app.me.id;
        return h('tr', null, h('th', { scope: 'row' }, m.name), h('td', { class: 'macro-cell' }, (m.text || '').slice(0, 160)),
          h('td', null, m.shared ? t('yes') : t('no')), h('td', null, mine ? [editBtn, ' ', delBtn] : null));
      }));
      if (data.macros.length === 0) rows.replaceChildren(h('tr', null, h('td', { colspan: '4' }, t('macro_none'))));
    } catch (e) {
      say.textContent = errorText(e);
    }
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    formStatus.textContent = '';
    const body = {
      name: name.value.trim(), text: text.value, texts: textSV.value.trim() ? { sv: textSV.value } : {},
      actions: {
        status: status.value, priority: priority.value, type: type.value, tags_add: list(tagsAdd.value),
        tags_remove: list(tagsRemove.value), assignee_id: assignee.value, team_id: team.value.trim(),
      },
      shared: shared.checked,
    };
    try {
      if (editing) await patch('/api/v1/macros/' + encodeURIComponent(editing.id), body);
      else await api('POST', '/api/v1/macros', body);
      announce(t('macro_saved', { name: body.name }));
      formStatus.textContent = t('macro_saved', { name: body.name });
      reset();
      load();
    } catch (err) {
      formStatus.textContent = errorText(err);
      formStatus.classList.add('error');
    }
  });

  const parts = [h('h2', { tabindex: '-1' }, t('macros')), h('p', { class: 'muted' }, t('macros_intro')), say, table, form];
  if (admin) parts.push(emailIdentity());
  main.replaceChildren(h('div', { class: 'page macros-page' }, ...parts));
  load();
}

function emailIdentity() {
  const fromName = h('input', { type: 'text', maxlength: '100', autocomplete: 'organization' });
  const sig = h('textarea', { rows: '4' });
  const sigSV = h('textarea', { rows: '4' });
  const st = h('p', { class: 'form-status', role: 'status' });
  const form = h('form', { class: 'card', 'aria-labelledby': 'email-id-h' },
    h('h3', { id: 'email-id-h' }, t('email_identity')),
    field('email-from-name', t('email_from_name'), fromName, t('email_from_name_hint')),
    field('email-signature', t('email_signature'), sig),
    field('email-signature-sv', t('email_signature_sv'), sigSV),
    h('button', { type: 'submit', class: 'primary' }, t('save')),
    st);
  get('/api/v1/settings/email').then((s) => {
    fromName.value = s.from_name || '';
    sig.value = s.signature || '';
    sigSV.value = (s.signatures && s.signatures.sv) || '';
  }).catch(() => {});
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('PUT', '/api/v1/settings/email', { from_name: fromName.value, signature: sig.value,
        signatures: sigSV.value.trim() ? { sv: sigSV.value } : {} });
      st.textContent = t('saved');
    } catch (err) {
      st.textContent = errorText(err);
    }
  });
  return form;
}
