// Merging a ticket into another of the same customer, and splitting
// messages off into a new ticket, from the ticket view. Both ask in the
// confirm dialog first; both are keyboard operable: "Merge into…" opens a
// dialog with a ticket picker, "Split…" puts a checkbox on each message
// and a bar with the split button (Escape leaves it).

import { announce, formatDate, h, parseTime, t } from './dom.js';
import { errorText, post } from './api.js';
import { confirmAction } from './confirm.js';

function ticketLabel(tk) {
  const when = parseTime(tk.created_at);
  return '#' + tk.number + ' ' + (tk.subject || tk.preview || t('no_text')) + ' (' + t('status_' + tk.status) +
    (when ? ', ' + formatDate(when) : '') + ')';
}

export class TicketMerge {
  constructor(pane) {
    this.pane = pane;
    this.mergeBtn = h('button', { type: 'button', class: 'secondary small', 'aria-haspopup': 'dialog' }, t('merge_into'));
    this.splitBtn = h('button', { type: 'button', class: 'secondary small', 'aria-pressed': 'false' }, t('split'));
    this.mergeBtn.addEventListener('click', () => this.openMerge());
    this.splitBtn.addEventListener('click', () => (this.splitting ? this.stopSplit() : this.startSplit()));
    // In the ticket's status line, so the head keeps its rows and the
    // timeline most of the pane.
    this.el = h('span', { class: 'ticket-actions' }, this.mergeBtn, this.splitBtn);
    this.notice = h('p', { class: 'merge-notice', hidden: true });
    this.splitting = false;
    this.bar = null;
  }

  // update follows the ticket: a merged-away ticket offers neither action
  // and says where its conversation is now.
  update(tk) {
    if (this.el.parentNode !== this.pane.sub) this.pane.sub.append(this.el);
    const gone = Boolean(tk.merged_into);
    // Viewers change nothing (the server refuses them too).
    this.el.hidden = gone || (this.pane.app.me && this.pane.app.me.role === 'viewer');
    const links = [];
    if (gone) {
      links.push(t('merged_into_notice'), ' ', h('a', { href: '/tickets/' + encodeURIComponent(tk.merged_into) }, t('open_merged_into')));
      if (this.splitting) this.stopSplit();
    } else if (tk.split_from) {
      links.push(t('split_from_notice'), ' ', h('a', { href: '/tickets/' + encodeURIComponent(tk.split_from) }, t('open_split_from')));
    }
    this.notice.replaceChildren(...links);
    this.notice.hidden = links.length === 0;
    this.notice.setAttribute('role', gone ? 'status' : 'note');
  }

  // ---- merge

  openMerge() {
    const pane = this.pane;
    const cur = pane.ticket;
    const others = (pane.tickets || []).filter((tk) => tk.id !== cur.id && !tk.merged_into);
    const err = h('p', { class: 'pane-error', role: 'alert', hidden: true });
    const cancel = h('button', { type: 'button', class: 'secondary' }, t('cancel'));
    const dlg = h('dialog', { class: 'merge-dialog', 'aria-labelledby': 'merge-h' },
      h('h2', { id: 'merge-h' }, t('merge_title', { number: cur.number })));
    if (!others.length) {
      dlg.append(h('p', null, t('merge_none')), h('div', { class: 'dialog-actions' }, cancel));
    } else {
      const sel = h('select', { id: 'merge-target' }, others.map((tk) => h('option', { value: tk.id }, ticketLabel(tk))));
      const ok = h('button', { type: 'submit', class: 'primary' }, t('merge_button'));
      const form = h('form', { method: 'dialog', novalidate: true },
        h('p', { id: 'merge-hint', class: 'muted' }, t('merge_hint')),
        h('div', { class: 'control' }, h('label', { for: 'merge-target' }, t('merge_target')), sel),
        err,
        h('div', { class: 'dialog-actions' }, cancel, ok));
      sel.setAttribute('aria-describedby', 'merge-hint');
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const into = others.find((tk) => tk.id === sel.value);
        if (!into) return;
        if (!(await confirmAction(t('merge_confirm', { from: cur.number, into: into.number }), t('merge_button')))) {
          sel.focus();
          return;
        }
        ok.disabled = true;
        err.hidden = true;
        try {
          const res = await post('/api/v1/tickets/' + encodeURIComponent(into.id) + '/merge', { from_id: cur.id });
          dlg.close();
          announce(t('merged_done', { from: cur.number, into: res.ticket.number }));
          pane.app.openTicket(res.ticket.id);
        } catch (ex) {
          err.textContent = errorText(ex);
          err.hidden = false;
          ok.disabled = false;
          sel.focus();
        }
      });
      dlg.append(form);
    }
    const back = document.activeElement;
    cancel.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (back && back.isConnected && back.focus) back.focus();
    });
    document.body.appendChild(dlg);
    dlg.showModal();
    const first = dlg.querySelector('select') || cancel;
    first.focus();
  }

  // ---- split

  startSplit() {
    const pane = this.pane;
    this.splitting = true;
    this.splitBtn.setAttribute('aria-pressed', 'true');
    this.count = h('span', { class: 'split-count', 'aria-live': 'polite' });
    this.doSplit = h('button', { type: 'button', class: 'primary' }, t('split_button'));
    const cancel = h('button', { type: 'button', class: 'secondary' }, t('cancel'));
    this.err = h('p', { class: 'pane-error', role: 'alert', hidden: true });
    this.doSplit.addEventListener('click', () => this.split());
    cancel.addEventListener('click', () => this.stopSplit(true));
    this.bar = h('div', { class: 'split-bar', role: 'group', 'aria-label': t('split') },
      h('p', { class: 'split-hint' }, t('split_mode_hint')), this.count, this.err,
      h('div', { class: 'dialog-actions' }, cancel, this.doSplit));
    this.bar.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        this.stopSplit(true);
      }
    });
    // In the head: the ticket's grid keeps its rows (head, timeline, composer).
    pane.main.querySelector('.ticket-head').append(this.bar);
    pane.timeline.classList.add('splitting');
    for (const li of pane.items.values()) this.decorate(li);
    pane.timeline.addEventListener('keydown', this.onKey = (e) => {
      if (e.key === 'Escape' && this.splitting) {
        e.preventDefault();
        this.stopSplit(true);
      }
    });
    this.refresh();
    const box = pane.list.querySelector('.split-pick input');
    if (box) box.focus();
  }

  // decorate gives a message of the timeline its checkbox while splitting.
  decorate(li) {
    if (!this.splitting || li.querySelector('.split-pick')) return;
    const m = li.message || {};
    const art = li.querySelector('article');
    const name = art ? art.getAttribute('aria-label') : '';
    const box = h('input', { type: 'checkbox', id: 'split-' + m.id, value: m.id });
    box.addEventListener('change', () => this.refresh());
    li.prepend(h('div', { class: 'split-pick' }, box, h('label', { for: 'split-' + m.id }, t('split_select', { message: name }))));
  }

  selected() {
    return Array.from(this.pane.list.querySelectorAll('.split-pick input:checked')).map((b) => b.value);
  }

  refresh() {
    const n = this.selected().length;
    const all = this.pane.items.size;
    this.count.textContent = t('split_count', { n });
    this.doSplit.disabled = n === 0 || n >= all;
    this.doSplit.textContent = t('split_button_n', { n });
    this.doSplit.title = n === 0 ? t('split_need_one') : n >= all ? t('split_not_all') : '';
  }

  stopSplit(focus) {
    this.splitting = false;
    this.splitBtn.setAttribute('aria-pressed', 'false');
    for (const el of this.pane.list.querySelectorAll('.split-pick')) el.remove();
    if (this.bar) this.bar.remove();
    this.bar = null;
    this.pane.timeline.classList.remove('splitting');
    if (this.onKey) this.pane.timeline.removeEventListener('keydown', this.onKey);
    if (focus) this.splitBtn.focus();
  }

  async split() {
    const ids = this.selected();
    if (!ids.length) return;
    if (!(await confirmAction(t('split_confirm', { n: ids.length, number: this.pane.ticket.number }), t('split_button')))) return;
    this.doSplit.disabled = true;
    this.err.hidden = true;
    try {
      const res = await post('/api/v1/tickets/' + encodeURIComponent(this.pane.ticket.id) + '/split', { message_ids: ids });
      this.stopSplit(false);
      announce(t('split_done', { number: res.ticket.number, n: ids.length }));
      this.pane.app.openTicket(res.ticket.id);
    } catch (ex) {
      this.err.textContent = errorText(ex);
      this.err.hidden = false;
      this.refresh();
    }
  }
}
