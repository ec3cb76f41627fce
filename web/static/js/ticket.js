// The ticket pane: header with status, assignee, priority and tags; the
// timeline; the composer; presence; and the customer sidebar.

import { announce, channelName, formatDate, h, icon, parseTime, t, uid } from './dom.js';
import { errorText, get, patch } from './api.js';
import { deliveryRank, renderMessage, updateDelivery } from './timeline.js';
import { renderCustomer } from './sidebar.js';
import { Files, MacroPicker, postMessage } from './composer.js';
import { slaBadge } from './sla.js';
import { TicketMerge } from './ticketmerge.js';
import { csatText } from './agents.js';
import { Mentions } from './mention.js';

const PRESENCE_REFRESH = 10000; // the hub forgets presence after 30 s
const PRESENCE_TTL = 35000;
const TYPING_THROTTLE = 2000;
const TYPING_IDLE = 6000;

const STATUSES = ['open', 'pending', 'solved', 'closed'];
const PRIORITIES = ['low', 'normal', 'high', 'urgent'];
const TYPES = ['', 'question', 'order', 'delivery', 'return', 'complaint'];
const CUSTOMER_TYPING_TTL = 8000;

// reachable mirrors ticketing.Customer.Reachable: the channels a reply can
// go out on, with the address it would go to.
export function reachable(c) {
  const out = [];
  const seen = new Set();
  for (const id of (c && c.identities) || []) {
    const ch = id.kind === 'email' ? 'email' : id.kind === 'phone' ? 'sms' : (id.kind === 'chat' || id.kind === 'external') ? 'chat' : '';
    if (!ch || seen.has(ch)) continue;
    seen.add(ch);
    out.push({ channel: ch, to: ch === 'chat' ? '' : id.value });
  }
  return out;
}

export class TicketPane {
  constructor(app, id, main) {
    this.app = app;
    this.id = id;
    this.main = main;
    this.ticket = null;
    this.customer = null;
    this.tickets = [];
    this.items = new Map(); // message id → <li>
    this.present = new Map(); // agent id → presence frame
    this.mine = new Set(); // ticket versions this console caused
    this.changes = []; // what others changed since the agent began typing
    this.typingSince = 0;
    this.lastTyping = 0;
    this.noteMode = false;
    this.channelTouched = false;
    this.replyChannels = null; // the channels this Svar can send by, from the ticket view
    this.clientID = uid();
    this.destroyed = false;
    this.timers = [];
  }

  // load fetches and renders the ticket; concurrent calls share one load.
  load() {
    if (!this.loading) {
      this.loading = this.fetchAndRender().finally(() => {
        this.loading = null;
      });
    }
    return this.loading;
  }

  async fetchAndRender() {
    this.main.replaceChildren(h('p', { class: 'loading', role: 'status' }, t('loading')));
    let view;
    try {
      view = await get('/api/v1/tickets/' + encodeURIComponent(this.id));
    } catch (e) {
      if (this.destroyed) return;
      this.main.replaceChildren(h('div', { class: 'empty-pane' },
        h('h2', { tabindex: '-1' }, t('ticket_unavailable')),
        h('p', { role: 'alert' }, errorText(e))));
      return;
    }
    if (this.destroyed) return;
    this.ticket = view.ticket;
    this.customer = view.customer;
    if (view.reply_channels) this.replyChannels = view.reply_channels;
    this.id = view.ticket.id; // "#1042" becomes the ticket's id
    this.render(view.messages || []);
    this.loadCustomer();
    this.sayViewing();
    if (this.timers.length === 0) {
      this.timers.push(setInterval(() => this.sayViewing(), PRESENCE_REFRESH));
      this.timers.push(setInterval(() => this.renderPresence(), 5000));
    }
  }

  // reload fetches the ticket again after a resync, keeping the draft.
  async reload() {
    if (this.loading) return this.loading;
    if (!this.ticket) return this.load();
    try {
      const view = await get('/api/v1/tickets/' + encodeURIComponent(this.id));
      if (this.destroyed) return;
      this.setTicket(view.ticket);
      this.customer = view.customer;
      if (view.reply_channels) this.replyChannels = view.reply_channels;
      for (const m of view.messages || []) this.addMessage(m, false);
      this.renderChannels();
      this.loadCustomer();
    } catch (e) {
      this.showError(errorText(e));
    }
  }

  // sidebarOpts are the customer sidebar's options (sidebar.js).
  sidebarOpts() {
    return { ordersHidden: this.ordersHidden(), orders: this.orders, linked: this.ticket && this.ticket.order_numbers,
      canEdit: this.app.me && this.app.me.role !== 'viewer' };
  }

  async loadCustomer() {
    try {
      const data = await get('/api/v1/customers/' + encodeURIComponent(this.ticket.customer_id));
      if (this.destroyed) return;
      this.customer = data.customer;
      this.tickets = data.tickets || [];
      this.orders = data.orders || [];
    } catch (e) {
      this.tickets = [];
    }
    renderCustomer(this.aside, this.customer, this.tickets, this.id, this.sidebarOpts());
    this.renderChannels();
  }

  destroy() {
    this.destroyed = true;
    if (this.observer) this.observer.disconnect();
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.idleTimer);
    if (this.ticket) this.app.live.send({ type: 'presence', ticket_id: this.ticket.id, state: 'left' });
  }

  sayViewing() {
    if (!this.ticket || this.destroyed) return;
    const typing = this.typingSince && Date.now() - this.lastTyping < TYPING_IDLE;
    this.app.live.send({ type: 'presence', ticket_id: this.ticket.id, state: typing ? 'typing' : 'viewing' });
  }

  focusHeading() {
    const el = this.main.querySelector('#ticket-h');
    if (el) el.focus();
  }

  // ---- rendering

  render(messages) {
    const tk = this.ticket;
    this.items = new Map();
    this.presenceText = null;
    this.heading = h('h2', { id: 'ticket-h', tabindex: '-1' });
    this.sub = h('p', { class: 'ticket-sub' });
    this.presenceEl = h('p', { class: 'presence', 'aria-live': 'polite' });
    this.errorEl = h('p', { class: 'pane-error', role: 'alert', hidden: true });
    this.status = this.select('t-status', t('status'), STATUSES.map((s) => [s, t('status_' + s)]), (v) => this.update({ status: v }));
    this.assignee = this.select('t-assignee', t('assignee'), [], (v) => this.update({ assignee_id: v }));
    // The assignee's satisfaction: on hover (title) and for screen readers.
    this.assigneeCSAT = h('span', { id: 't-assignee-csat', class: 'sr-only' });
    this.assignee.wrap.append(this.assigneeCSAT);
    this.assignee.sel.setAttribute('aria-describedby', 't-assignee-csat');
    this.priority = this.select('t-priority', t('priority'), PRIORITIES.map((p) => [p, t('priority_' + p)]), (v) => this.update({ priority: v }));
    this.team = this.select('t-team', t('team'), [['', t('no_team')], ...(this.app.teams || []).map((tm) => [tm.id, tm.name])], (v) => this.update({ team_id: v }));
    this.type = this.select('t-type', t('type'), TYPES.map((x) => [x, x ? t('type_' + x) : t('type_none')]), (v) => this.update({ type: v }));
    this.tagList = h('datalist', { id: 't-tags-list' });
    this.tags = h('input', { id: 't-tags', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: t('tags_placeholder'), list: 't-tags-list' });
    this.tags.addEventListener('input', () => this.suggestTags());
    this.tags.addEventListener('focus', () => this.suggestTags());
    this.tags.addEventListener('change', () => this.saveTags());
    this.tags.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        this.saveTags();
      }
    });
    this.merger = new TicketMerge(this);
    const head = h('header', { class: 'ticket-head' },
      h('div', { class: 'ticket-title-row' },
        h('a', { class: 'back', href: '/views/' + (this.app.inbox.view || 'open') }, t('back_to_list')),
        this.heading),
      this.sub,
      this.merger.notice,
      h('div', { class: 'controls' },
        this.status.wrap, this.assignee.wrap, this.team.wrap, this.priority.wrap, this.type.wrap,
        h('div', { class: 'control control-tags' }, h('label', { for: 't-tags' }, t('tags')), this.tags, this.tagList)),
      this.presenceEl,
      this.errorEl);

    this.list = h('ol', { class: 'timeline-list' });
    this.timeline = h('section', { class: 'timeline', 'aria-label': t('conversation'), tabindex: '-1' }, this.list);
    this.aside = h('aside', { class: 'customer', 'aria-labelledby': 'cust-h' }, h('h2', { id: 'cust-h' }, t('customer')));
    this.aside.addEventListener('svar:customer', (e) => {
      this.customer = e.detail;
      this.renderChannels();
    });
    const article = h('article', { class: 'ticket', 'aria-labelledby': 'ticket-h' },
      head, this.timeline, this.composer(), this.aside);
    this.main.replaceChildren(article);
    // Stay at the newest message while the pane settles (the sidebar,
    // presence and frames change its size), unless the agent scrolled up.
    this.stick = true;
    this.timeline.addEventListener('scroll', () => {
      this.stick = this.timeline.scrollHeight - this.timeline.scrollTop - this.timeline.clientHeight < 40;
    }, { passive: true });
    if (this.observer) this.observer.disconnect();
    if (window.ResizeObserver) {
      const ro = new ResizeObserver(() => {
        if (this.stick && this.timelineScrolls()) this.scrollToEnd();
      });
      ro.observe(this.timeline);
      ro.observe(this.list);
      this.observer = ro;
    }
    for (const m of messages) this.addMessage(m, false);
    this.setTicket(tk);
    this.renderAssignees();
    this.renderChannels();
    renderCustomer(this.aside, this.customer, this.tickets, this.id, this.sidebarOpts());
    this.scrollToEnd();
  }

  select(id, labelText, options, onChange) {
    const sel = h('select', { id }, options.map(([v, l]) => h('option', { value: v }, l)));
    sel.addEventListener('change', () => onChange(sel.value));
    const wrap = h('div', { class: 'control' }, h('label', { for: id }, labelText), sel);
    return { sel, wrap };
  }

  renderAssignees() {
    const sel = this.assignee.sel;
    const current = this.ticket.assignee_id || '';
    const opts = [h('option', { value: '' }, t('unassigned'))];
    const agents = Array.from(this.app.agents.values()).filter((a) => a.active || a.id === current);
    agents.sort((a, b) => (a.name || a.email).localeCompare(b.name || b.email));
    for (const a of agents) {
      opts.push(h('option', { value: a.id }, (a.name || a.email) + (a.id === this.app.me.id ? ' (' + t('you') + ')' : '')));
    }
    if (current && !this.app.agents.has(current)) opts.push(h('option', { value: current }, t('unknown_agent')));
    sel.replaceChildren(...opts);
    sel.value = current;
  }

  setTicket(tk) {
    this.ticket = tk;
    this.heading.replaceChildren(h('span', { class: 'ticket-num' }, '#' + tk.number), ' ', tk.subject || tk.preview || t('no_text'));
    const opened = parseTime(tk.created_at);
    this.sub.replaceChildren(
      h('span', null, tk.customer_name || (this.customer && this.customer.name) || t('unknown_customer')),
      ' · ', h('span', null, t('opened_on', { date: formatDate(opened) })),
      ' · ', h('span', { class: 'badge status-' + tk.status }, t('status_' + tk.status)));
    const sla = slaBadge(tk);
    if (sla) this.sub.append(' · ', sla);
    if (tk.csat) {
      this.sub.append(' · ', h('span', { class: 'badge csat', title: tk.csat.comment || '' },
        t('csat_badge', { score: tk.csat.score }) + (tk.csat.comment ? ' — “' + tk.csat.comment + '”' : '')));
    }
    if (document.activeElement !== this.status.sel) this.status.sel.value = tk.status;
    if (document.activeElement !== this.priority.sel) this.priority.sel.value = tk.priority || 'normal';
    if (document.activeElement !== this.assignee.sel) {
      if (!Array.from(this.assignee.sel.options).some((o) => o.value === (tk.assignee_id || ''))) this.renderAssignees();
      this.assignee.sel.value = tk.assignee_id || '';
    }
    const csat = tk.assignee_id ? csatText(this.app.agents.get(tk.assignee_id)) : '';
    this.assignee.sel.title = csat;
    this.assigneeCSAT.textContent = csat;
    if (document.activeElement !== this.team.sel) {
      if (tk.team_id && !Array.from(this.team.sel.options).some((o) => o.value === tk.team_id)) this.team.sel.append(h('option', { value: tk.team_id }, tk.team_id));
      this.team.sel.value = tk.team_id || '';
    }
    if (document.activeElement !== this.type.sel) this.type.sel.value = tk.type || '';
    if (document.activeElement !== this.tags) this.tags.value = (tk.tags || []).join(', ');
    if (this.merger) this.merger.update(tk);
  }

  // suggestTags offers tags in use on the tickets this console knows (the
  // lists it loaded), completing the tag being typed after the last comma.
  suggestTags() {
    const counts = new Map();
    for (const tk of this.app.inbox.all.values()) {
      for (const tag of tk.tags || []) counts.set(tag, (counts.get(tag) || 0) + 1);
    }
    const v = this.tags.value;
    const cut = v.lastIndexOf(',');
    const head = cut >= 0 ? v.slice(0, cut + 1) + ' ' : '';
    const have = new Set(v.split(',').map((x) => x.trim()).filter(Boolean));
    const tags = Array.from(counts.keys()).filter((x) => !have.has(x)).sort((a, b) => counts.get(b) - counts.get(a)).slice(0, 30);
    this.tagList.replaceChildren(...tags.map((x) => h('option', { value: head + x })));
  }

  // ---- changes

  async update(change) {
    this.hideError();
    try {
      const res = await patch('/api/v1/tickets/' + encodeURIComponent(this.ticket.id), change);
      this.mine.add(res.ticket.version);
      if (res.ticket.version >= this.ticket.version) this.setTicket(res.ticket);
      this.app.inbox.apply(res.ticket);
      if (change.status) announce(t('status_changed', { status: t('status_' + change.status) }));
      else if ('assignee_id' in change) announce(t('assignee_changed', { name: change.assignee_id ? this.app.agentName(change.assignee_id) : t('unassigned') }));
      else if (change.priority) announce(t('priority_changed', { priority: t('priority_' + change.priority) }));
      else if (change.tags) announce(t('tags_saved'));
      else if ('type' in change) announce(t('type_changed', { type: change.type ? t('type_' + change.type) : t('type_none') }));
    } catch (e) {
      this.showError(errorText(e));
      this.setTicket(this.ticket);
    }
  }

  saveTags() {
    const tags = Array.from(new Set(this.tags.value.split(',').map((s) => s.trim()).filter(Boolean)));
    const now = this.ticket.tags || [];
    if (tags.length === now.length && tags.every((x, i) => x === now[i])) return;
    this.update({ tags });
  }

  solve() {
    if (this.ticket && this.ticket.status !== 'solved') this.update({ status: 'solved' });
  }

  showError(text) {
    this.errorEl.textContent = text;
    this.errorEl.hidden = false;
  }

  hideError() {
    this.errorEl.hidden = true;
    this.errorEl.textContent = '';
  }

  // ---- live

  onEvent(ev) {
    if (!this.ticket) return;
    if (ev.type === 'customer.typing') {
      if (ev.customer_id === this.ticket.customer_id) this.customerTyping(ev.typing);
      return;
    }
    if (ev.ticket && ev.ticket.id === this.ticket.id && ev.ticket.version >= this.ticket.version) {
      const before = this.ticket;
      if (this.typingSince && !this.mine.has(ev.ticket.version)) {
        if (ev.ticket.status !== before.status) this.changes.push(t('change_status', { status: t('status_' + ev.ticket.status) }));
        if ((ev.ticket.assignee_id || '') !== (before.assignee_id || '')) {
          this.changes.push(t('change_assignee', { name: ev.ticket.assignee_id ? this.app.agentName(ev.ticket.assignee_id) : t('unassigned') }));
        }
      }
      this.setTicket(ev.ticket);
      if (!this.channelTouched) this.renderChannels();
    }
    const m = ev.message;
    if (m && m.ticket_id !== this.ticket.id && ev.type === 'message.updated' && this.items.has(m.id)) {
      // Merged or split onto another ticket: it left this timeline.
      this.items.get(m.id).remove();
      this.items.delete(m.id);
      if (this.merger && this.merger.splitting) this.merger.refresh();
    }
    if (m && m.ticket_id === this.ticket.id) {
      if (ev.type === 'message.created') {
        const isNew = !this.items.has(m.id);
        this.addMessage(m, true);
        if (isNew && !(m.author && m.author.kind === 'agent' && m.author.id === this.app.me.id)) {
          if (this.typingSince) {
            this.changes.push(m.direction === 'inbound'
              ? t('change_customer_wrote', { text: firstLine(m.text) })
              : t('change_agent_wrote', { name: (m.author && m.author.name) || t('unknown_agent') }));
          }
          if (m.direction === 'inbound') {
            this.customerTyping(false);
            announce(t('announce_new_message', { name: (m.author && m.author.name) || t('customer') }));
            this.app.inbox.markSeen(ev.ticket || this.ticket);
          }
          if (m.direction === 'inbound' && !this.aside.dataset.editing) renderCustomer(this.aside, this.customer, this.tickets, this.id, this.sidebarOpts());
        }
      } else if (ev.type === 'message.updated') {
        this.addMessage(m, false);
      }
    }
    if (ev.type === 'customer.updated' && ev.customer && this.customer && ev.customer.id === this.customer.id) {
      this.customer = ev.customer;
      if (!this.aside.dataset.editing) renderCustomer(this.aside, this.customer, this.tickets, this.id, this.sidebarOpts());
      this.renderChannels();
    }
  }

  // ordersHidden mirrors ticketing.LatestInboundUnverified: the customer's
  // orders are not shown while the latest inbound message is from a sender
  // who failed verification.
  ordersHidden() {
    let latest = null;
    for (const li of this.items.values()) {
      const m = li.message;
      if (!m || m.direction !== 'inbound' || m.auto || !m.author || m.author.kind !== 'customer') continue;
      if (!latest || (Date.parse(m.created_at) || 0) >= (Date.parse(latest.created_at) || 0)) latest = m;
    }
    return !!latest && latest.sender_verified === false;
  }

  addMessage(m, scroll) {
    const li = this.items.get(m.id);
    if (li) {
      if (deliveryRank(m) > deliveryRank(li.message)) {
        li.message = m;
        updateDelivery(li, m);
      }
      return;
    }
    const item = renderMessage(m, this.customer, this.ticket);
    item.message = m;
    this.items.set(m.id, item);
    // Keep the timeline in time order even when events arrive late.
    const at = Date.parse(m.created_at) || 0;
    let before = null;
    for (const other of this.list.children) {
      const oat = Date.parse(other.dataset.at) || 0;
      if (oat > at) {
        before = other;
        break;
      }
    }
    item.dataset.at = m.created_at || '';
    this.list.insertBefore(item, before);
    if (this.merger) this.merger.decorate(item);
    if (scroll && this.stick) this.scrollToEnd();
  }

  // timelineScrolls: on wide screens the timeline scrolls by itself; on
  // narrow ones the whole pane scrolls as one column.
  timelineScrolls() {
    return getComputedStyle(this.timeline).overflowY !== 'visible';
  }

  scrollToEnd() {
    if (this.timelineScrolls()) {
      this.timeline.scrollTop = this.timeline.scrollHeight;
    } else if (this.list.lastElementChild) {
      // Bring the newest message just above the reply box, which stays
      // at the bottom of the pane.
      const last = this.list.lastElementChild.getBoundingClientRect();
      const box = this.form.getBoundingClientRect();
      this.main.scrollTop += last.bottom - box.top + 16;
    }
  }

  // customerTyping shows that the chat customer is typing, until they
  // stop, send, or nothing is heard for a while.
  customerTyping(on) {
    if (!this.custTyping) return;
    clearTimeout(this.custTypingTimer);
    this.custTyping.hidden = !on;
    if (on) {
      const name = (this.customer && this.customer.name) || t('customer');
      this.custTyping.textContent = t('customer_typing', { name });
      this.custTypingTimer = setTimeout(() => { this.custTyping.hidden = true; }, CUSTOMER_TYPING_TTL);
    }
  }

  onPresence(f) {
    if (!this.ticket || f.ticket_id !== this.ticket.id || !f.agent || f.agent.id === this.app.me.id) return;
    if (f.state === 'left') this.present.delete(f.agent.id);
    else this.present.set(f.agent.id, { ...f, seen: Date.now() });
    this.renderPresence();
  }

  renderPresence() {
    if (!this.presenceEl) return;
    const now = Date.now();
    const parts = [];
    for (const [id, p] of this.present) {
      if (now - p.seen > PRESENCE_TTL) {
        this.present.delete(id);
        continue;
      }
      const name = p.agent.name || this.app.agentName(id);
      parts.push(h('span', { class: 'presence-item presence-' + p.state, dataset: { agent: id } },
        h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(name)),
        t(p.state === 'typing' ? 'presence_typing' : 'presence_viewing', { name })));
    }
    const text = parts.map((p) => p.textContent).join('|');
    if (text === this.presenceText) return;
    this.presenceText = text;
    this.presenceEl.replaceChildren(...parts);
  }

  // ---- composer

  composer() {
    this.reply = h('textarea', { id: 'reply', name: 'text', rows: '4', 'aria-describedby': 'reply-hint' });
    this.channel = h('select', { id: 'reply-channel' });
    this.sendBtn = h('button', { type: 'submit', class: 'primary' }, t('send'));
    this.noteBtn = h('button', { type: 'button', class: 'secondary', dataset: { action: 'note' } }, icon('note'), t('add_note'));
    this.composerError = h('p', { class: 'composer-error', role: 'alert', hidden: true });
    this.stale = h('div', { class: 'stale', role: 'alert', hidden: true });
    this.modeChip = h('span', { class: 'mode-chip', hidden: true }, icon('lock'), t('note_mode'));
    this.macroChip = h('span', { class: 'macro-chip', hidden: true });
    this.macroBtn = h('button', { type: 'button', class: 'secondary', 'aria-keyshortcuts': 'm' }, t('macros_button'));
    this.custTyping = h('p', { class: 'customer-typing', 'aria-live': 'polite', hidden: true });
    this.picker = new MacroPicker(this);
    this.macroBtn.addEventListener('click', () => this.openMacros(''));
    this.mentions = new Mentions(this.reply, () => Array.from(this.app.agents.values()), this.app.me.id);
    this.form = h('form', { class: 'composer', novalidate: true },
      this.custTyping,
      h('div', { class: 'composer-head' }, h('label', { for: 'reply' }, t('reply')), this.modeChip, this.macroChip),
      this.stale,
      this.composerError,
      this.picker.el,
      this.reply,
      this.mentions.list,
      h('div', { class: 'composer-bar' },
        h('div', { class: 'control control-inline' }, h('label', { for: 'reply-channel' }, t('send_via')), this.channel),
        h('span', { id: 'reply-hint', class: 'hint' }, t('reply_hint')),
        h('span', { class: 'spacer' }),
        this.macroBtn,
        this.noteBtn,
        this.sendBtn));
    this.files = new Files(this.form, (msg) => this.showComposerError(msg));
    this.form.querySelector('.composer-bar').insertBefore(this.files.button, this.noteBtn);
    this.form.insertBefore(this.files.list, this.form.querySelector('.composer-bar'));
    this.form.appendChild(this.files.input);
    this.files.render();
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (this.picker.open) return; // Enter in the macro search picks, never sends
      this.send(false);
    });
    this.noteBtn.addEventListener('click', () => this.send(true));
    this.channel.addEventListener('change', () => {
      this.channelTouched = true;
    });
    this.reply.addEventListener('input', () => {
      // "/" typed at the start of an empty reply opens the macro picker.
      if (this.reply.value === '/') {
        this.reply.value = '';
        this.openMacros('');
        return;
      }
      this.typed();
    });
    this.reply.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        this.send(this.noteMode);
      } else if (e.key === 'Escape') {
        e.preventDefault();
        this.setNoteMode(false);
        this.reply.blur();
        this.app.inbox.focusSelected();
      }
    });
    return this.form;
  }

  // renderChannels offers the channels this customer can be reached on
  // and this Svar can send by (the server's reply_channels: SMS or email
  // that is not set up is not offered); the default is where they last
  // wrote from, as the server would choose.
  renderChannels() {
    if (!this.channel || !this.ticket) return;
    const configured = this.replyChannels;
    const options = reachable(this.customer).filter((o) => !configured || configured.includes(o.channel));
    const optOuts = (this.customer && this.customer.opt_outs) || {};
    const prev = this.channel.value;
    const els = options.map((o) => h('option', { value: o.channel, disabled: Boolean(optOuts[o.channel]) },
      channelName(o.channel) + (o.to ? ' · ' + o.to : '') + (optOuts[o.channel] ? ' (' + t('opted_out') + ')' : '')));
    const usable = options.filter((o) => !optOuts[o.channel]).map((o) => o.channel);
    this.channel.replaceChildren(...els);
    let pick = '';
    if (this.channelTouched && usable.includes(prev)) pick = prev;
    for (const ch of [this.ticket.last_inbound_channel, this.customer && this.customer.last_inbound_channel, this.ticket.channel]) {
      if (!pick && ch && usable.includes(ch)) pick = ch;
    }
    if (!pick) pick = usable[0] || '';
    this.channel.value = pick;
    this.defaultChannel = pick;
    const none = usable.length === 0;
    this.channel.disabled = none;
    this.sendBtn.disabled = none;
    if (none) this.showComposerError(t('unreachable'));
    else if (this.composerError.textContent === t('unreachable')) this.composerError.hidden = true;
  }

  typed() {
    const now = Date.now();
    if (!this.reply.value.trim()) {
      this.typingSince = 0;
      this.changes = [];
      this.hideStale();
      this.app.live.send({ type: 'presence', ticket_id: this.ticket.id, state: 'viewing' });
      return;
    }
    if (!this.typingSince) {
      this.typingSince = now;
      this.changes = [];
    }
    if (now - this.lastTyping > TYPING_THROTTLE) {
      this.app.live.send({ type: 'presence', ticket_id: this.ticket.id, state: 'typing' });
      this.lastTyping = now;
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.lastTyping = 0;
      this.sayViewing();
    }, TYPING_IDLE);
  }

  openMacros(q) {
    if (!this.ticket) return;
    this.picker.show(q);
  }

  // useMacro puts a macro's rendered text in the reply box for the agent
  // to edit and send; the macro's actions follow the reply.
  useMacro(m, text) {
    this.macro = m;
    const cur = this.reply.value.trim();
    this.reply.value = cur ? cur + '\n\n' + text : text;
    this.macroChip.replaceChildren(t('macro_chip', { name: m.name }), ' ');
    const rm = h('button', { type: 'button', class: 'link-button', 'aria-label': t('macro_remove', { name: m.name }) }, '×');
    rm.addEventListener('click', () => this.clearMacro(true));
    this.macroChip.appendChild(rm);
    this.macroChip.hidden = false;
    this.typed();
    announce(t('macro_inserted', { name: m.name }));
  }

  clearMacro(focus) {
    this.macro = null;
    this.macroChip.hidden = true;
    this.macroChip.replaceChildren();
    if (focus) this.reply.focus();
  }

  setNoteMode(on) {
    this.noteMode = on;
    this.form.classList.toggle('note-mode', on);
    this.modeChip.hidden = !on;
  }

  focusReply(note) {
    if (!this.reply) return;
    this.setNoteMode(Boolean(note));
    this.reply.focus();
  }

  showComposerError(text) {
    this.composerError.textContent = text;
    this.composerError.hidden = false;
  }

  hideStale() {
    this.stale.hidden = true;
    this.stale.replaceChildren();
  }

  // showStale warns that the ticket changed while the agent was typing.
  showStale() {
    const sendAnyway = h('button', { type: 'button', class: 'primary' }, t('send_anyway'));
    const review = h('button', { type: 'button', class: 'secondary' }, t('keep_editing'));
    sendAnyway.addEventListener('click', () => {
      this.changes = [];
      this.hideStale();
      this.send(false, true);
    });
    review.addEventListener('click', () => {
      this.changes = [];
      this.hideStale();
      this.reply.focus();
    });
    this.stale.replaceChildren(
      h('p', { class: 'stale-title' }, icon('warn'), t('stale_title')),
      h('ul', null, this.changes.slice(-5).map((c) => h('li', null, c))),
      h('div', { class: 'stale-actions' }, sendAnyway, review));
    this.stale.hidden = false;
    sendAnyway.focus();
  }

  async send(note, confirmed) {
    this.composerError.hidden = true;
    const raw = this.reply.value;
    const text = raw.trim();
    const files = this.files.files.slice();
    if (!text && !files.length) {
      this.showComposerError(t('reply_empty'));
      this.reply.focus();
      return;
    }
    if (!note && !confirmed && this.changes.length) {
      this.showStale();
      return;
    }
    const body = { text, note: Boolean(note), client_id: this.clientID };
    if (!note && this.channelTouched && this.channel.value) body.channel = this.channel.value;
    if (this.macro) body.macro_id = this.macro.id;
    this.sendBtn.disabled = true;
    this.noteBtn.disabled = true;
    this.form.setAttribute('aria-busy', 'true');
    try {
      const res = await postMessage(this.ticket.id, body, files);
      if (this.destroyed) return;
      this.files.clear();
      this.clearMacro(false);
      this.addMessage(res.message, true);
      this.scrollToEnd();
      // Keep whatever the agent typed while the request was on its way.
      const now = this.reply.value;
      const rest = now.startsWith(raw) ? now.slice(raw.length).replace(/^\s+/, '') : now;
      this.reply.value = rest;
      this.clientID = uid();
      this.typingSince = rest ? Date.now() : 0;
      this.changes = [];
      this.hideStale();
      this.setNoteMode(false);
      this.lastTyping = 0;
      this.sayViewing();
      announce(note ? t('note_added') : t('reply_sent', { channel: channelName(res.message.channel) }));
      this.reply.focus();
    } catch (e) {
      this.showComposerError(errorText(e));
    } finally {
      this.form.removeAttribute('aria-busy');
      this.noteBtn.disabled = false;
      this.sendBtn.disabled = this.channel.disabled;
    }
  }
}

function firstLine(s) {
  const line = (s || '').split('\n').map((x) => x.trim()).find(Boolean) || '';
  return line.length > 80 ? line.slice(0, 79) + '…' : line;
}

function initials(name) {
  return (name || '?').split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('');
}
