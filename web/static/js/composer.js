// The composer's extras: a keyboard-first macro picker (type "/" at the
// start of the reply box, or press m), files by drag-and-drop or a file
// picker, and sending a reply with a macro or files.

import { announce, debounce, h, t } from './dom.js';
import { APIError, get, signIn } from './api.js';

const MAX_FILE = 10 * 1024 * 1024;
const MAX_FILES = 10;

let pickerSeq = 0;

// MacroPicker is a combobox over /api/v1/macros?q= with a live preview of
// the active macro rendered for this ticket. Enter puts the preview in the
// reply box (the agent may edit it) and remembers the macro, whose actions
// the server applies when the reply is sent.
export class MacroPicker {
  constructor(pane) {
    this.pane = pane;
    this.items = [];
    this.active = -1;
    this.seq = 0;
    const id = 'macro-pick-' + (++pickerSeq);
    this.input = h('input', {
      id, type: 'text', role: 'combobox', autocomplete: 'off', spellcheck: 'false',
      'aria-autocomplete': 'list', 'aria-expanded': 'true', 'aria-controls': id + '-list',
      placeholder: t('macro_search_placeholder'),
    });
    this.list = h('ul', { id: id + '-list', role: 'listbox', class: 'macro-list', 'aria-label': t('macros') });
    this.preview = h('div', { class: 'macro-preview', 'aria-live': 'polite', id: id + '-preview' });
    this.el = h('div', { class: 'macro-picker', role: 'group', 'aria-label': t('macro_picker'), hidden: true },
      h('label', { for: id }, t('macro_search')),
      this.input,
      h('div', { class: 'macro-panes' }, this.list, this.preview),
      h('p', { class: 'hint' }, t('macro_picker_hint')));
    this.input.setAttribute('aria-describedby', id + '-preview');
    this.search = debounce(() => this.load(), 120);
    this.input.addEventListener('input', () => this.search());
    this.input.addEventListener('keydown', (e) => this.key(e));
    // Enter picks on keyup, once the key is done with the search box, so
    // that it never also types a newline into the reply box.
    this.input.addEventListener('keyup', (e) => {
      if (e.key === 'Enter' && this.enterDown) {
        this.enterDown = false;
        this.choose();
      }
    });
    this.list.addEventListener('mousedown', (e) => e.preventDefault());
    this.list.addEventListener('click', (e) => {
      const li = e.target.closest('li[role=option]');
      if (li) {
        this.setActive(Number(li.dataset.index));
        this.choose();
      }
    });
  }

  get open() {
    return !this.el.hidden;
  }

  show(query) {
    this.el.hidden = false;
    this.input.value = query || '';
    this.input.focus();
    this.load();
  }

  close(focusReply = true) {
    this.el.hidden = true;
    this.list.replaceChildren();
    this.preview.replaceChildren();
    this.items = [];
    this.active = -1;
    if (focusReply) this.pane.reply.focus();
  }

  async load() {
    const seq = ++this.seq;
    let data;
    try {
      data = await get('/api/v1/macros?limit=20&q=' + encodeURIComponent(this.input.value.trim()));
    } catch (e) {
      this.preview.textContent = e.message || t('err_generic');
      return;
    }
    if (seq !== this.seq) return;
    this.items = data.macros || [];
    this.list.replaceChildren(...this.items.map((m, i) => h('li', {
      id: this.list.id + '-' + i, role: 'option', class: 'macro-option', dataset: { index: String(i), id: m.id },
      'aria-selected': 'false',
    }, h('span', { class: 'macro-name' }, m.name), m.shared ? null : h('span', { class: 'badge' }, t('macro_personal')))));
    if (this.items.length === 0) {
      this.preview.textContent = t('macro_none');
      this.input.removeAttribute('aria-activedescendant');
      this.active = -1;
      return;
    }
    this.setActive(0);
  }

  setActive(i) {
    if (i < 0 || i >= this.items.length) return;
    this.active = i;
    for (const li of this.list.children) li.setAttribute('aria-selected', String(Number(li.dataset.index) === i));
    const li = this.list.children[i];
    this.input.setAttribute('aria-activedescendant', li.id);
    li.scrollIntoView({ block: 'nearest' });
    this.showPreview(this.items[i]);
  }

  async showPreview(m) {
    const seq = ++this.seq;
    this.preview.replaceChildren(h('p', { class: 'muted' }, t('loading')));
    this.previewText = null;
    try {
      const res = await get('/api/v1/tickets/' + encodeURIComponent(this.pane.ticket.id) + '/macros/' + encodeURIComponent(m.id) + '/preview');
      if (seq !== this.seq) return;
      this.previewText = res.text;
      const acts = actionsText(m.actions || {});
      this.preview.replaceChildren(
        h('p', { class: 'macro-preview-title' }, t('macro_preview', { name: m.name })),
        h('div', { class: 'macro-preview-text' }, res.text),
        acts ? h('p', { class: 'macro-actions' }, t('macro_then', { actions: acts })) : null);
    } catch (e) {
      if (seq !== this.seq) return;
      this.preview.replaceChildren(h('p', { class: 'macro-error', role: 'alert' }, e.message || t('err_generic')));
    }
  }

  key(e) {
    switch (e.key) {
      case 'ArrowDown':
        this.setActive(Math.min(this.items.length - 1, this.active + 1));
        break;
      case 'ArrowUp':
        this.setActive(Math.max(0, this.active - 1));
        break;
      case 'Enter':
        this.enterDown = true;
        break;
      case 'Escape':
        this.close();
        break;
      case 'Tab':
        return;
      default:
        return;
    }
    e.preventDefault();
    e.stopPropagation();
  }

  choose() {
    const m = this.items[this.active];
    if (!m || this.previewText == null) {
      announce(t('macro_cannot_use'));
      return;
    }
    this.pane.useMacro(m, this.previewText);
    this.close();
  }
}

function actionsText(a) {
  const out = [];
  if (a.status) out.push(t('status') + ': ' + t('status_' + a.status));
  if (a.priority) out.push(t('priority') + ': ' + t('priority_' + a.priority));
  if (a.type) out.push(t('type') + ': ' + t('type_' + a.type));
  if (a.tags_add && a.tags_add.length) out.push('+' + a.tags_add.join(', +'));
  if (a.tags_remove && a.tags_remove.length) out.push('−' + a.tags_remove.join(', −'));
  if (a.assignee_id) out.push(t('assignee') + ': ' + (a.assignee_id === 'me' ? t('you') : a.assignee_id));
  if (a.team_id) out.push(t('team') + ': ' + a.team_id);
  return out.join(' · ');
}

// Files is the composer's list of files to send, with a labelled file
// picker and drag-and-drop onto the reply form.
export class Files {
  constructor(form, onError) {
    this.files = [];
    this.onError = onError;
    this.input = h('input', { type: 'file', multiple: true, id: 'reply-files', class: 'sr-only', tabindex: '-1' });
    this.button = h('label', { for: 'reply-files', class: 'button secondary file-button' }, t('attach_files'));
    this.list = h('ul', { class: 'reply-files', 'aria-label': t('attachments') });
    this.input.addEventListener('change', () => {
      this.add(Array.from(this.input.files || []));
      this.input.value = '';
    });
    // Space and Enter on the label open the picker, as on a button.
    this.button.setAttribute('tabindex', '0');
    this.button.setAttribute('role', 'button');
    this.button.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        this.input.click();
      }
    });
    form.addEventListener('dragover', (e) => {
      if (e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files')) {
        e.preventDefault();
        form.classList.add('dropping');
      }
    });
    form.addEventListener('dragleave', () => form.classList.remove('dropping'));
    form.addEventListener('drop', (e) => {
      form.classList.remove('dropping');
      if (!e.dataTransfer || !e.dataTransfer.files || e.dataTransfer.files.length === 0) return;
      e.preventDefault();
      this.add(Array.from(e.dataTransfer.files));
    });
  }

  add(files) {
    for (const f of files) {
      if (f.size > MAX_FILE) {
        this.onError(t('file_too_large', { name: f.name, mb: 10 }));
        continue;
      }
      if (this.files.length >= MAX_FILES) {
        this.onError(t('too_many_files', { n: MAX_FILES }));
        break;
      }
      this.files.push(f);
    }
    this.render();
    if (files.length) announce(t('files_attached', { n: this.files.length }));
  }

  clear() {
    this.files = [];
    this.render();
  }

  render() {
    this.list.replaceChildren(...this.files.map((f, i) => {
      const rm = h('button', { type: 'button', class: 'link-button', 'aria-label': t('remove_file', { name: f.name }) }, '×');
      rm.addEventListener('click', () => {
        this.files.splice(i, 1);
        this.render();
        this.button.focus();
      });
      return h('li', null, h('span', null, '📎 ' + f.name), ' ', rm);
    }));
    this.list.hidden = this.files.length === 0;
  }
}

// postMessage sends a reply as JSON, or as multipart/form-data with a
// JSON part "message" and file parts "files" when there are files.
export async function postMessage(ticketID, body, files) {
  const path = '/api/v1/tickets/' + encodeURIComponent(ticketID) + '/messages';
  const init = { method: 'POST', headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (files && files.length) {
    const fd = new FormData();
    fd.append('message', new Blob([JSON.stringify(body)], { type: 'application/json' }));
    for (const f of files) fd.append('files', f, f.name);
    init.body = fd;
  } else {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new APIError(0, 'network', t('err_network'));
  }
  let data = null;
  try {
    data = await res.json();
  } catch (e) {
    data = null;
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    if (res.status === 401) signIn();
    throw new APIError(res.status, e.code || 'http_' + res.status, e.message || res.statusText || t('err_generic'), e.field);
  }
  return data;
}
