// Bulk actions on the list: tick several tickets (or press x on a row),
// then assign, set the status or add a tag to all of them at once
// (POST /api/v1/tickets/bulk).

import { $, announce, h, t } from './dom.js';
import { errorText, post } from './api.js';

const STATUSES = ['open', 'pending', 'solved', 'closed'];

export function installBulk(app) {
  const bar = $('#bulk');
  const rows = $('#rows');
  if (!bar || !rows) return;
  const selected = new Set();
  const count = h('span', { class: 'bulk-count', 'aria-live': 'polite' });
  const assign = h('select', { id: 'bulk-assign' });
  const status = h('select', { id: 'bulk-status' },
    h('option', { value: '' }, t('bulk_keep')), STATUSES.map((s) => h('option', { value: s }, t('status_' + s))));
  const tag = h('input', { id: 'bulk-tag', type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const apply = h('button', { type: 'button', class: 'primary' }, t('bulk_apply'));
  const clear = h('button', { type: 'button', class: 'ghost' }, t('bulk_clear'));
  const err = h('p', { class: 'pane-error', role: 'alert', hidden: true });
  bar.append(count,
    h('span', { class: 'control control-inline' }, h('label', { for: 'bulk-assign' }, t('bulk_assign')), assign),
    h('span', { class: 'control control-inline' }, h('label', { for: 'bulk-status' }, t('bulk_status')), status),
    h('span', { class: 'control control-inline' }, h('label', { for: 'bulk-tag' }, t('bulk_add_tag')), tag),
    apply, clear, err);

  const fillAgents = () => {
    const opts = [h('option', { value: '-' }, t('bulk_keep')), h('option', { value: '' }, t('unassigned')),
      h('option', { value: app.me.id }, t('you'))];
    for (const a of app.agents.values()) {
      if (a.active && a.id !== app.me.id) opts.push(h('option', { value: a.id }, a.name || a.email));
    }
    assign.replaceChildren(...opts);
  };
  const refresh = () => {
    for (const id of Array.from(selected)) {
      if (!rows.querySelector('.row-check[data-id="' + CSS.escape(id) + '"]')) selected.delete(id);
    }
    bar.hidden = selected.size === 0;
    count.textContent = t('bulk_selected', { n: selected.size });
  };
  rows.addEventListener('change', (e) => {
    const box = e.target.closest && e.target.closest('.row-check');
    if (!box) return;
    if (box.checked) selected.add(box.dataset.id);
    else selected.delete(box.dataset.id);
    if (assign.options.length === 0) fillAgents();
    refresh();
  });
  // x on a focused row ticks it.
  rows.addEventListener('keydown', (e) => {
    if (e.key !== 'x' || e.ctrlKey || e.metaKey || e.altKey) return;
    const a = e.target.closest && e.target.closest('a.row');
    if (!a) return;
    const box = a.parentElement.querySelector('.row-check');
    box.checked = !box.checked;
    box.dispatchEvent(new Event('change', { bubbles: true }));
    e.preventDefault();
  });
  clear.addEventListener('click', () => {
    for (const box of rows.querySelectorAll('.row-check:checked')) box.checked = false;
    selected.clear();
    refresh();
  });
  apply.addEventListener('click', async () => {
    err.hidden = true;
    const body = { ids: Array.from(selected), update: {} };
    if (assign.value !== '-' && assign.value !== '') body.update.assignee_id = assign.value;
    if (assign.value === '') body.update.assignee_id = '';
    if (status.value) body.update.status = status.value;
    const tg = tag.value.trim().toLowerCase();
    if (tg) body.tags_add = [tg];
    if (Object.keys(body.update).length === 0 && !body.tags_add) {
      err.textContent = t('bulk_nothing');
      err.hidden = false;
      return;
    }
    apply.disabled = true;
    try {
      const res = await post('/api/v1/tickets/bulk', body);
      let failed = 0;
      for (const r of res.results) {
        if (r.ticket) app.inbox.apply(r.ticket);
        else failed++;
      }
      announce(failed ? t('bulk_some_failed', { n: failed }) : t('bulk_done', { n: res.results.length }));
      if (failed) {
        err.textContent = res.results.filter((r) => r.error).map((r) => r.error.message).join('; ');
        err.hidden = false;
      }
      tag.value = '';
      status.value = '';
      assign.value = '-';
    } catch (e) {
      err.textContent = errorText(e);
      err.hidden = false;
    } finally {
      apply.disabled = false;
    }
  });
  refresh();
}
