// @-mentions in the composer: typing @ and the start of a name offers the
// matching agents in a listbox under the text box (arrows move, Enter or
// Tab inserts, Escape closes; the text box keeps focus and names the
// highlighted agent with aria-activedescendant). It inserts @handle, a
// form ticketing/notify understands: the name without spaces, else the
// email's local part.

import { h, t } from './dom.js';

const HANDLE = /^[\p{L}\p{N}._-]+$/u;
const TOKEN = /(^|\s)@([\p{L}\p{N}._-]*)$/u;
const MAX = 8;

// handleOf is what to type after @ for agent a, or '' when nothing would
// match them.
export function handleOf(a) {
  const full = (a.name || '').replace(/\s+/g, '');
  if (full && HANDLE.test(full)) return full;
  const local = (a.email || '').split('@')[0];
  return local && HANDLE.test(local) ? local : '';
}

export class Mentions {
  // agents() lists the agents to offer; meID is left out.
  constructor(textarea, agents, meID) {
    this.ta = textarea;
    this.agents = agents;
    this.meID = meID;
    this.items = [];
    this.active = -1;
    this.start = -1; // where the @ is
    this.list = h('ul', { id: textarea.id + '-mentions', class: 'mention-list', role: 'listbox', 'aria-label': t('mention_agents'), hidden: true });
    this.list.addEventListener('mousedown', (e) => e.preventDefault()); // keep the text box focused
    this.list.addEventListener('click', (e) => {
      const li = e.target.closest('li[role=option]');
      if (li) this.pick(Number(li.dataset.i));
    });
    textarea.setAttribute('aria-autocomplete', 'list');
    textarea.setAttribute('aria-controls', this.list.id);
    textarea.addEventListener('input', () => this.update());
    textarea.addEventListener('click', () => this.update());
    textarea.addEventListener('blur', () => this.close());
    // Registered before the composer's own keys, so that an open list
    // takes Enter, Tab and Escape first.
    textarea.addEventListener('keydown', (e) => this.key(e));
  }

  get open() {
    return !this.list.hidden;
  }

  update() {
    const caret = this.ta.selectionStart;
    if (caret !== this.ta.selectionEnd) return this.close();
    const m = TOKEN.exec(this.ta.value.slice(0, caret));
    if (!m) return this.close();
    const q = m[2].toLowerCase();
    this.start = caret - m[2].length - 1;
    this.items = this.agents()
      .filter((a) => a.active !== false && a.id !== this.meID && handleOf(a))
      .filter((a) => !q || [(a.name || '').toLowerCase(), (a.name || '').toLowerCase().replace(/\s+/g, ''),
        (a.email || '').toLowerCase()].some((s) => s.startsWith(q) || s.split(/\s+/).some((w) => w.startsWith(q))))
      .sort((a, b) => (a.name || a.email).localeCompare(b.name || b.email))
      .slice(0, MAX);
    if (!this.items.length) return this.close();
    this.active = 0;
    this.render();
  }

  render() {
    this.list.replaceChildren(...this.items.map((a, i) => h('li', {
      id: this.list.id + '-' + i, role: 'option', 'aria-selected': String(i === this.active), dataset: { i: String(i) },
      class: i === this.active ? 'active' : '',
    }, h('span', { class: 'mention-name' }, a.name || a.email), ' ', h('span', { class: 'muted' }, '@' + handleOf(a)))));
    this.list.hidden = false;
    this.ta.setAttribute('aria-activedescendant', this.list.id + '-' + this.active);
  }

  close() {
    if (this.list.hidden) return;
    this.list.hidden = true;
    this.list.replaceChildren();
    this.items = [];
    this.active = -1;
    this.ta.removeAttribute('aria-activedescendant');
  }

  key(e) {
    if (!this.open) return;
    const n = this.items.length;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      this.active = (this.active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
      this.render();
    } else if ((e.key === 'Enter' && !e.ctrlKey && !e.metaKey) || e.key === 'Tab') {
      this.pick(this.active);
    } else if (e.key === 'Escape') {
      this.close();
    } else {
      return;
    }
    e.preventDefault();
    e.stopImmediatePropagation();
  }

  // pick replaces the @ and what follows it up to the caret with the
  // agent's handle and a space.
  pick(i) {
    const a = this.items[i];
    if (!a) return;
    const caret = this.ta.selectionStart;
    const ins = '@' + handleOf(a) + ' ';
    this.ta.value = this.ta.value.slice(0, this.start) + ins + this.ta.value.slice(caret);
    const at = this.start + ins.length;
    this.ta.setSelectionRange(at, at);
    this.close();
    this.ta.dispatchEvent(new Event('input', { bubbles: true }));
  }
}
