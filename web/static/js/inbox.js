// The inbox list: one view at a time, newest activity first, kept current
// from live events, with counts for every view.

import { age, announce, channelName, debounce, h, icon, parseTime, replace, srOnly, t } from './dom.js';
import { errorText, get } from './api.js';
import { slaBadge } from './sla.js';

const SORTS = ['activity', 'oldest', 'waiting', 'due'];
const CHANNELS = ['email', 'chat', 'sms'];
const PRIORITIES = ['low', 'normal', 'high', 'urgent'];

export const VIEWS = ['open', 'mine', 'my_teams', 'unassigned', 'pending', 'solved', 'all'];

const PAGE = 50;
const SEEN_MAX = 1000;

// inView mirrors ticketing.ViewFilter; myTeams are the agent's own teams.
export function inView(tk, view, meID, myTeams) {
  switch (view) {
    case 'open': return tk.status === 'open';
    case 'mine': return tk.status === 'open' && tk.assignee_id === meID;
    case 'my_teams': return tk.status === 'open' && !!tk.team_id && (myTeams || []).includes(tk.team_id);
    case 'unassigned': return tk.status === 'open' && !tk.assignee_id;
    case 'pending': return tk.status === 'pending';
    case 'solved': return tk.status === 'solved';
    default: return true;
  }
}

function newer(a, b) {
  const ta = Date.parse(a.last_message_at) || 0;
  const tb = Date.parse(b.last_message_at) || 0;
  if (ta !== tb) return tb - ta;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export class Inbox {
  constructor(app, els) {
    this.app = app;
    this.els = els;
    this.view = '';
    this.q = '';
    this.all = new Map(); // every ticket seen, newest version
    this.rows = new Map(); // tickets of this view
    this.items = new Map(); // ticket id → <li>
    this.cursor = '';
    this.gen = 0;
    this.current = '';
    this.loaded = false;
    this.seenKey = 'svar.seen.' + app.me.id;
    this.seen = this.readSeen();
    this.renderSoon = debounce(() => this.render(), 16);
    this.filters = { sort: '', channel: '', priority: '' };
    this.buildTools();
    els.more.addEventListener('click', () => this.loadMore());
    // Ages move on by themselves.
    setInterval(() => this.render(), 30000);
  }

  readSeen() {
    try {
      return JSON.parse(localStorage.getItem(this.seenKey) || '{}') || {};
    } catch (e) {
      return {};
    }
  }

  // markSeen records that the agent has read the ticket as it is now.
  markSeen(tk) {
    const at = tk.last_inbound_at;
    if (!parseTime(at)) return;
    this.seen[tk.id] = at;
    const keys = Object.keys(this.seen);
    if (keys.length > SEEN_MAX) {
      keys.sort((a, b) => Date.parse(this.seen[a]) - Date.parse(this.seen[b]));
      for (const k of keys.slice(0, keys.length - SEEN_MAX)) delete this.seen[k];
    }
    try {
      localStorage.setItem(this.seenKey, JSON.stringify(this.seen));
    } catch (e) {
      // storage full or off: unread marks last for this page only
    }
    this.renderSoon();
  }

  // unread: the customer wrote after the agent last opened the ticket.
  unread(tk) {
    if (tk.status !== 'open' && tk.status !== 'pending') return false;
    const inbound = parseTime(tk.last_inbound_at);
    if (!inbound) return false;
    const seen = parseTime(this.seen[tk.id]);
    return !seen || inbound > seen;
  }

  // buildTools adds the list's sort and filter controls and "Save as
  // view" above the rows.
  buildTools() {
    const select = (id, label, values, key, names) => {
      const sel = h('select', { id },
        ...values.map((v) => h('option', { value: v }, v ? names(v) : t('filter_any'))));
      sel.addEventListener('change', () => {
        this.filters[key] = sel.value === 'activity' ? '' : sel.value;
        this.reload();
      });
      return h('label', { class: 'tool' }, h('span', null, label), sel);
    };
    const save = h('button', { type: 'button', class: 'secondary save-view' }, t('save_view'));
    save.addEventListener('click', () => this.app.saveView(this.saveFilters()));
    const tools = h('div', { class: 'list-tools', role: 'group', 'aria-label': t('filters') },
      select('f-sort', t('sort'), SORTS, 'sort', (v) => t('sort_' + v)),
      select('f-channel', t('filter_channel'), [''].concat(CHANNELS), 'channel', channelName),
      select('f-priority', t('filter_priority'), [''].concat(PRIORITIES), 'priority', (v) => t('priority_' + v)),
      save);
    this.els.heading.after(tools);
  }

  // saveFilters are the current list's filters as a view saves them.
  saveFilters() {
    const f = {};
    const builtin = { open: { status: 'open' }, mine: { status: 'open', assignee: 'me' },
      unassigned: { status: 'open', assignee: 'none' }, pending: { status: 'pending' }, solved: { status: 'solved' } };
    Object.assign(f, builtin[this.view] || {});
    const saved = this.app.savedViews.get(this.view);
    if (saved) Object.assign(f, saved.filters);
    for (const [k, v] of Object.entries(this.filters)) if (v) f[k] = v;
    if (this.q) f.q = this.q;
    return f;
  }

  // custom: the list is ordered or filtered in ways the console cannot
  // mirror from live events (a search, a saved view, a filter or sort), so
  // events only update the rows it shows.
  custom() {
    return !VIEWS.includes(this.view) || !!this.q || !!this.filters.sort || !!this.filters.channel || !!this.filters.priority;
  }

  viewLabel() {
    const saved = this.app.savedViews.get(this.view);
    return saved ? saved.name : t('view_' + this.view);
  }

  setCounts(counts) {
    for (const el of document.querySelectorAll('[data-count]')) {
      const n = counts[el.dataset.count];
      el.textContent = n === undefined ? '' : String(n);
    }
  }

  setView(view) {
    if (view === this.view && this.loaded) return;
    this.view = view;
    sessionStorage.setItem('svar.view', view);
    this.els.heading.textContent = this.viewLabel();
    for (const a of document.querySelectorAll('.views a')) {
      a.href = '/views/' + a.dataset.view;
    }
    this.reload();
  }

  setQuery(q) {
    if (q === this.q) return;
    this.q = q;
    this.reload();
  }

  async reload() {
    const gen = ++this.gen;
    this.loaded = true;
    this.els.list.setAttribute('aria-busy', 'true');
    this.loadCounts();
    try {
      const data = await get(this.listURL(''));
      if (gen !== this.gen) return;
      this.rows = new Map();
      for (const tk of data.tickets) this.rows.set(tk.id, this.remember(tk));
      this.cursor = data.next_cursor || '';
      this.error = '';
    } catch (e) {
      if (gen !== this.gen) return;
      this.error = errorText(e);
    } finally {
      if (gen === this.gen) this.els.list.removeAttribute('aria-busy');
    }
    this.render();
  }

  listURL(cursor) {
    let u = '/api/v1/tickets?view=' + encodeURIComponent(this.view) + '&limit=' + PAGE;
    if (this.q) u += '&q=' + encodeURIComponent(this.q);
    for (const [k, v] of Object.entries(this.filters)) if (v) u += '&' + k + '=' + encodeURIComponent(v);
    if (cursor) u += '&cursor=' + encodeURIComponent(cursor);
    return u;
  }

  async loadMore() {
    if (!this.cursor) return;
    const gen = this.gen;
    try {
      const data = await get(this.listURL(this.cursor));
      if (gen !== this.gen) return;
      for (const tk of data.tickets) this.rows.set(tk.id, this.remember(tk));
      this.cursor = data.next_cursor || '';
      this.render();
      announce(t('loaded_more', { n: data.tickets.length }));
    } catch (e) {
      announce(errorText(e));
    }
  }

  // remember keeps the newest version of a ticket and returns it.
  remember(tk) {
    const known = this.all.get(tk.id);
    if (known && known.version > tk.version) return known;
    this.all.set(tk.id, tk);
    return tk;
  }

  get(id) {
    return this.all.get(id);
  }

  // remove drops a ticket the agent may no longer see.
  remove(id) {
    if (!this.all.has(id)) return;
    this.all.delete(id);
    this.rows.delete(id);
    this.renderSoon();
    this.loadCounts();
  }

  // apply places a changed ticket in or out of the list.
  apply(tk) {
    const known = this.all.get(tk.id);
    if (known && known.version > tk.version) return;
    this.all.set(tk.id, tk);
    if (this.custom()) {
      if (this.rows.has(tk.id)) this.rows.set(tk.id, tk);
    } else if (inView(tk, this.view, this.app.me.id, this.app.me.team_ids) && this.withinLoaded(tk)) {
      this.rows.set(tk.id, tk);
    } else {
      this.rows.delete(tk.id);
    }
    this.renderSoon();
  }

  // withinLoaded: with more pages on the server, an old ticket belongs to
  // them, not to the end of what is shown.
  withinLoaded(tk) {
    if (!this.cursor || this.rows.has(tk.id)) return true;
    let oldest = null;
    for (const r of this.rows.values()) if (!oldest || newer(oldest, r) < 0) oldest = r;
    return !oldest || newer(tk, oldest) <= 0;
  }

  // loadCounts fetches the counts once; afterwards they come as live
  // "counts" frames.
  async loadCounts() {
    try {
      const data = await get('/api/v1/counts');
      this.setCounts(data.counts);
    } catch (e) {
      // counts come back with the next counts frame
    }
  }

  markCurrent(id) {
    this.current = id;
    this.render();
  }

  sorted() {
    const rows = Array.from(this.rows.values());
    return this.custom() && this.filters.sort ? rows : rows.sort(newer);
  }

  render() {
    const ul = this.els.rows;
    const list = this.sorted();
    const active = document.activeElement;
    const focusedID = active && active.classList && active.classList.contains('row') ? active.dataset.id : '';
    const keep = new Set();
    let prev = null;
    for (const tk of list) {
      keep.add(tk.id);
      let li = this.items.get(tk.id);
      if (!li) {
        li = h('li', { class: 'row-item' }, h('a', { class: 'row', href: '/tickets/' + encodeURIComponent(tk.id), dataset: { id: tk.id } }),
          h('input', { type: 'checkbox', class: 'row-check', dataset: { id: tk.id }, 'aria-label': t('select_ticket', { number: tk.number }) }));
        this.items.set(tk.id, li);
      }
      this.fill(li.firstChild, tk);
      const want = prev ? prev.nextSibling : ul.firstChild;
      if (want !== li) ul.insertBefore(li, want);
      prev = li;
    }
    for (const [id, li] of this.items) {
      if (!keep.has(id)) {
        li.remove();
        this.items.delete(id);
      }
    }
    const empty = this.els.list.querySelector('.empty');
    if (empty) empty.remove();
    if (list.length === 0) {
      this.els.list.insertBefore(h('p', { class: 'empty' }, this.error || (this.q ? t('no_matches') : t('view_empty'))), this.els.more);
    } else if (this.error) {
      this.els.list.insertBefore(h('p', { class: 'empty error', role: 'alert' }, this.error), this.els.more);
    }
    this.els.more.hidden = !this.cursor;
    if (focusedID && document.activeElement !== active) {
      const li = this.items.get(focusedID);
      if (li) li.firstChild.focus();
    }
  }

  fill(a, tk) {
    const unread = this.unread(tk);
    const last = parseTime(tk.last_message_at) || parseTime(tk.updated_at);
    const assignee = tk.assignee_id ? this.app.agentName(tk.assignee_id) : t('unassigned');
    const key = [tk.version, unread, age(last), assignee, tk.id === this.current].join('|');
    if (a.dataset.key === key) return;
    a.dataset.key = key;
    a.classList.toggle('unread', unread);
    if (tk.id === this.current) a.setAttribute('aria-current', 'true');
    else a.removeAttribute('aria-current');
    const subject = (tk.subject || '').trim();
    const preview = (tk.preview || '').trim();
    replace(a,
      h('span', { class: 'row-top' },
        h('span', { class: 'dot', 'aria-hidden': 'true' }),
        unread ? srOnly(t('unread') + ', ') : null,
        h('span', { class: 'row-customer' }, tk.customer_name || t('unknown_customer')),
        h('span', { class: 'row-channel', title: channelName(tk.last_inbound_channel || tk.channel) },
          icon(tk.last_inbound_channel || tk.channel || 'chat'),
          srOnly(', ' + channelName(tk.last_inbound_channel || tk.channel) + ', ')),
        h('time', { class: 'row-age', datetime: last ? last.toISOString() : '' }, age(last))),
      subject && subject !== preview ? h('span', { class: 'row-subject' }, subject) : null,
      h('span', { class: 'row-preview' }, preview || subject || t('no_text')),
      h('span', { class: 'row-meta' },
        h('span', { class: 'row-number' }, '#' + tk.number),
        this.view === 'all' || this.q || this.custom() ? h('span', { class: 'badge status-' + tk.status }, t('status_' + tk.status)) : null,
        tk.priority === 'high' || tk.priority === 'urgent' ? h('span', { class: 'badge prio-' + tk.priority }, t('priority_' + tk.priority)) : null,
        slaBadge(tk),
        h('span', { class: 'row-assignee' + (tk.assignee_id ? '' : ' muted') }, srOnly(t('assignee') + ': '), assignee)),
    );
  }

  // rowLinks are the list's links in order.
  rowLinks() {
    return Array.from(this.els.rows.querySelectorAll('a.row'));
  }

  // move focuses the row delta steps from the focused (or current) one.
  move(delta) {
    const links = this.rowLinks();
    if (links.length === 0) return;
    const i = links.indexOf(document.activeElement);
    if (i < 0) {
      // Coming from elsewhere: start at the open ticket's row, if shown.
      const cur = links.find((a) => a.dataset.id === this.current);
      (cur || (delta > 0 ? links[0] : links[links.length - 1])).focus();
      return;
    }
    links[Math.max(0, Math.min(links.length - 1, i + delta))].focus();
  }

  focusSelected() {
    const links = this.rowLinks();
    const a = links.find((l) => l.dataset.id === this.current) || links[0];
    if (a) a.focus();
    else this.els.heading.focus();
  }
}
