// Editing the customer in the sidebar: name, tier, emails and phones, and
// typed attributes (text, number, yes/no, date), saved with one
// PATCH /api/v1/customers/{id}. Every control has a visible label; rows
// are numbered in their labels so that a screen reader says which one a
// "Remove" button removes; an error names the field and moves focus to it.

import { announce, h, t } from './dom.js';
import { errorText, patch } from './api.js';

const DATE = /^\d{4}-\d{2}-\d{2}(T.*)?$/;

// attrType guesses the type of a stored attribute value.
export function attrType(v) {
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string' && DATE.test(v)) return 'date';
  return 'string';
}

let seq = 0;

// editCustomerForm returns a form that edits c; onSaved gets the saved
// customer, onCancel is called when the agent cancels (Escape too).
export function editCustomerForm(c, onSaved, onCancel) {
  const n = ++seq;
  const idp = 'ce' + n + '-';
  const err = h('p', { class: 'error', role: 'alert', id: idp + 'err' });
  const name = h('input', { id: idp + 'name', type: 'text', value: c.name || '', autocomplete: 'off', maxlength: '200' });
  const tier = h('input', { id: idp + 'tier', type: 'text', value: c.tier || '', autocomplete: 'off', maxlength: '50', 'aria-describedby': idp + 'tier-hint' });

  // Contacts: one list per kind.
  function contactList(kind, values) {
    const list = h('ol', { class: 'edit-rows' });
    const addBtn = h('button', { type: 'button', class: 'secondary small' }, t(kind === 'email' ? 'add_email' : 'add_phone'));
    const rows = [];
    function renumber() {
      rows.forEach((r, i) => {
        r.label.textContent = t(kind === 'email' ? 'email_n' : 'phone_n', { n: i + 1 });
        r.rmText.textContent = ' ' + t(kind === 'email' ? 'email_n' : 'phone_n', { n: i + 1 });
      });
    }
    function addRow(value, focus) {
      const id = idp + kind + '-' + (++seq);
      const input = h('input', { id, type: kind === 'email' ? 'email' : 'tel', value: value || '', autocomplete: 'off',
        'aria-describedby': kind === 'phone' ? idp + 'phone-hint' : null });
      const label = h('label', { for: id });
      const rmText = h('span', { class: 'sr-only' });
      const rm = h('button', { type: 'button', class: 'ghost small' }, t('remove'), rmText);
      const li = h('li', { class: 'edit-row' }, label, h('div', { class: 'edit-inline' }, input, rm));
      const row = { li, input, label, rmText };
      rm.addEventListener('click', () => {
        const i = rows.indexOf(row);
        rows.splice(i, 1);
        li.remove();
        renumber();
        announce(t('row_removed'));
        (rows[Math.min(i, rows.length - 1)] ? rows[Math.min(i, rows.length - 1)].input : addBtn).focus();
      });
      rows.push(row);
      list.appendChild(li);
      renumber();
      if (focus) input.focus();
    }
    for (const v of values) addRow(v, false);
    addBtn.addEventListener('click', () => addRow('', true));
    const filled = () => rows.filter((r) => r.input.value.trim());
    return { el: h('div', null, list, addBtn), values: () => filled().map((r) => r.input.value.trim()), filled, initial: values.slice() };
  }
  const ids = c.identities || [];
  const emails = contactList('email', ids.filter((i) => i.kind === 'email').map((i) => i.value));
  const phones = contactList('phone', ids.filter((i) => i.kind === 'phone').map((i) => i.value));

  // Attributes: key, type and value per row.
  const attrList = h('ol', { class: 'edit-rows' });
  const attrRows = [];
  const addAttr = h('button', { type: 'button', class: 'secondary small' }, t('add_attribute'));
  function renumberAttrs() {
    attrRows.forEach((r, i) => {
      r.keyLabel.textContent = t('attr_name_n', { n: i + 1 });
      r.typeLabel.textContent = t('attr_type_n', { n: i + 1 });
      r.valueLabel.textContent = t('attr_value_n', { n: i + 1 });
      r.rmText.textContent = ' ' + t('attr_n', { n: i + 1 });
    });
  }
  function valueControl(row, type, v) {
    const id = row.id + '-v';
    let el;
    if (type === 'boolean') {
      el = h('select', { id }, h('option', { value: 'true', selected: v === true }, t('yes')), h('option', { value: 'false', selected: v !== true }, t('no')));
    } else if (type === 'number') {
      el = h('input', { id, type: 'number', step: 'any', value: typeof v === 'number' ? String(v) : '' });
    } else if (type === 'date') {
      el = h('input', { id, type: 'date', value: typeof v === 'string' && DATE.test(v) ? v.slice(0, 10) : '' });
    } else {
      el = h('input', { id, type: 'text', value: v === undefined || v === null ? '' : String(v), maxlength: '500' });
    }
    row.valueLabel.setAttribute('for', id);
    if (row.value) row.value.replaceWith(el);
    row.value = el;
  }
  function addAttrRow(k, v, focus) {
    const id = idp + 'a' + (++seq);
    const type = v === undefined ? 'string' : attrType(v);
    const key = h('input', { id: id + '-k', type: 'text', value: k || '', autocomplete: 'off', maxlength: '50' });
    const sel = h('select', { id: id + '-t' }, ['string', 'number', 'boolean', 'date'].map((ty) => h('option', { value: ty, selected: ty === type }, t('attr_type_' + ty))));
    const row = { id, orig: k, origValue: v, origType: type, key, type: sel, keyLabel: h('label', { for: id + '-k' }),
      typeLabel: h('label', { for: id + '-t' }), valueLabel: h('label'), rmText: h('span', { class: 'sr-only' }) };
    valueControl(row, type, v);
    const valueWrap = h('div', { class: 'field' }, row.valueLabel, row.value);
    sel.addEventListener('change', () => {
      valueControl(row, sel.value, undefined);
      valueWrap.replaceChildren(row.valueLabel, row.value);
    });
    const rm = h('button', { type: 'button', class: 'ghost small' }, t('remove'), row.rmText);
    row.li = h('li', { class: 'edit-row attr-row' },
      h('div', { class: 'field' }, row.keyLabel, key),
      h('div', { class: 'field' }, row.typeLabel, sel),
      valueWrap, rm);
    rm.addEventListener('click', () => {
      const i = attrRows.indexOf(row);
      attrRows.splice(i, 1);
      row.li.remove();
      renumberAttrs();
      announce(t('row_removed'));
      const next = attrRows[Math.min(i, attrRows.length - 1)];
      (next ? next.key : addAttr).focus();
    });
    attrRows.push(row);
    attrList.appendChild(row.li);
    renumberAttrs();
    if (focus) key.focus();
  }
  const attrs = c.attributes || {};
  for (const k of Object.keys(attrs).sort()) addAttrRow(k, attrs[k], false);
  addAttr.addEventListener('click', () => addAttrRow('', undefined, true));

  const save = h('button', { type: 'submit', class: 'primary' }, t('save_customer'));
  const cancel = h('button', { type: 'button', class: 'secondary' }, t('cancel'));
  const form = h('form', { class: 'customer-edit', 'aria-labelledby': idp + 'h', novalidate: true },
    h('h3', { id: idp + 'h' }, t('edit_customer')),
    h('div', { class: 'field' }, h('label', { for: idp + 'name' }, t('customer_name')), name),
    h('div', { class: 'field' }, h('label', { for: idp + 'tier' }, t('tier')), tier,
      h('p', { class: 'hint', id: idp + 'tier-hint' }, t('tier_hint'))),
    h('fieldset', null, h('legend', null, t('emails')), emails.el),
    h('fieldset', null, h('legend', null, t('phones')),
      h('p', { class: 'hint', id: idp + 'phone-hint' }, t('phone_hint')), phones.el),
    h('fieldset', null, h('legend', null, t('attributes')), attrList, addAttr),
    err,
    h('div', { class: 'form-actions' }, save, cancel));

  // fail shows a message and focuses the control it names.
  function fail(text, el) {
    for (const x of form.querySelectorAll('[aria-invalid]')) x.removeAttribute('aria-invalid');
    err.textContent = text;
    if (el) {
      el.setAttribute('aria-invalid', 'true');
      el.setAttribute('aria-errormessage', err.id);
      el.focus();
    }
  }
  // control finds the input a server error's field names.
  function control(field) {
    let m;
    if (field === 'name') return name;
    if (field === 'tier') return tier;
    for (const [kind, list] of [['emails', emails], ['phones', phones]]) {
      if ((m = new RegExp('^' + kind + '(?:\\[(\\d+)\\])?$').exec(field))) {
        const r = list.filled()[m[1] ? Number(m[1]) : 0];
        return r ? r.input : null;
      }
    }
    if ((m = /^attributes\.(.+)$/.exec(field))) {
      const r = attrRows.find((x) => x.key.value.trim() === m[1]);
      return r && r.value;
    }
    return null;
  }

  // Editing a field marked invalid takes the mark off it.
  form.addEventListener('input', (e) => {
    if (e.target.getAttribute && e.target.getAttribute('aria-invalid')) {
      e.target.removeAttribute('aria-invalid');
      e.target.removeAttribute('aria-errormessage');
    }
  });
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      onCancel();
    }
  });
  cancel.addEventListener('click', () => onCancel());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { name: name.value.trim(), tier: tier.value.trim() };
    // Contacts are sent only when they changed (they replace the list).
    const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
    if (!same(emails.values(), emails.initial)) body.emails = emails.values();
    if (!same(phones.values(), phones.initial)) body.phones = phones.values();
    const set = {};
    const keys = new Set();
    for (const [i, r] of attrRows.entries()) {
      const k = r.key.value.trim();
      if (!k) {
        fail(t('attr_name_missing', { n: i + 1 }), r.key);
        return;
      }
      if (keys.has(k)) {
        fail(t('attr_name_twice', { name: k }), r.key);
        return;
      }
      keys.add(k);
      let v;
      const raw = r.value.value;
      if (r.type.value === 'boolean') v = raw === 'true';
      else if (r.type.value === 'number') {
        if (raw === '' || !Number.isFinite(Number(raw))) {
          fail(t('attr_not_number', { n: i + 1 }), r.value);
          return;
        }
        v = Number(raw);
      } else if (r.type.value === 'date') {
        if (!/^\d{4}-\d{2}-\d{2}$/.test(raw)) {
          fail(t('attr_not_date', { n: i + 1 }), r.value);
          return;
        }
        // An unchanged day keeps the time the shop sent.
        v = r.origType === 'date' && typeof r.origValue === 'string' && r.origValue.slice(0, 10) === raw ? r.origValue : raw;
      } else v = raw;
      if (k !== r.orig || v !== r.origValue) set[k] = v;
    }
    const removed = Object.keys(attrs).filter((k) => !keys.has(k));
    if (Object.keys(set).length) body.attributes = set;
    if (removed.length) body.remove_attributes = removed;
    save.disabled = true;
    try {
      const res = await patch('/api/v1/customers/' + encodeURIComponent(c.id), body);
      announce(t('customer_saved'));
      onSaved(res.customer);
    } catch (e2) {
      save.disabled = false;
      fail(errorText(e2), control(e2.field || ''));
    }
  });
  setTimeout(() => name.focus(), 0);
  return form;
}
