// Notifications: the unread count in the tab title, announced to screen
// readers as they arrive; opening a ticket marks its notifications read.
import { get, post } from './api.js';
import { $, announce, formatDate, h, parseTime, t } from './dom.js';

export class Notices {
  constructor(onChange) {
    this.items = [];
    this.unread = 0;
    this.onChange = onChange;
  }

  async load() {
    try {
      const data = await get('/api/v1/me/notifications');
      this.items = data.notifications || [];
      this.unread = data.unread || 0;
      this.onChange();
    } catch (e) {
      // The console works without them.
    }
  }

  arrived(n) {
    if (!n || this.items.some((o) => o.id === n.id)) return;
    this.items.unshift(n);
    this.unread++;
    announce(t('announce_notification', { text: n.text }));
    this.onChange();
  }

  async opened(ticketID) {
    const ids = this.items.filter((n) => !n.read && n.ticket_id === ticketID).map((n) => n.id);
    if (!ids.length) return;
    await this.markRead(ids);
  }

  // markRead marks ids read (all when empty).
  async markRead(ids) {
    try {
      const data = await post('/api/v1/me/notifications/read', { ids });
      this.items = data.notifications || [];
      this.unread = data.unread || 0;
      this.onChange();
    } catch (e) {
      // Stays unread; the next load shows it again.
    }
  }
}

// installPanel wires the header's notifications button, its unread badge
// and the panel listing them (kind, ticket link, text, time).
export function installPanel(notices, onChange) {
  const btn = $('#notif-btn');
  const badge = $('#notif-badge');
  const panel = $('#notif-panel');
  const list = $('#notif-list');
  if (!btn) return onChange;
  const render = () => {
    badge.hidden = notices.unread === 0;
    badge.textContent = notices.unread > 0 ? String(notices.unread) : '';
    badge.setAttribute('aria-label', t('notifications_unread', { n: notices.unread }));
    list.replaceChildren(...(notices.items.length ? notices.items.map((n) => h('li', { class: n.read ? 'read' : 'unread' },
      h('span', { class: 'badge kind' }, t('kind_' + n.kind)), ' ',
      n.ticket_id ? h('a', { href: '/tickets/' + encodeURIComponent(n.ticket_id) }, n.text) : h('span', null, n.text), ' ',
      parseTime(n.at) ? h('time', { class: 'muted', datetime: n.at }, formatDate(parseTime(n.at))) : null,
      n.read ? null : h('span', { class: 'sr-only' }, ' (' + t('notifications_unread', { n: 1 }) + ')')))
      : [h('li', { class: 'muted' }, t('no_notifications'))]));
  };
  const close = () => {
    panel.hidden = true;
    btn.setAttribute('aria-expanded', 'false');
  };
  btn.addEventListener('click', () => {
    const open = panel.hidden;
    panel.hidden = !open;
    btn.setAttribute('aria-expanded', String(open));
    if (open) render();
  });
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      close();
      btn.focus();
    }
  });
  panel.addEventListener('click', (e) => {
    if (e.target.closest('a')) close();
  });
  $('#notif-read').addEventListener('click', () => notices.markRead([]));
  return () => {
    render();
    onChange();
  };
}
