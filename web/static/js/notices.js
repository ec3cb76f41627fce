// Notifications: the unread count in the tab title, announced to screen
// readers as they arrive; opening a ticket marks its notifications read.
import { get, post } from './api.js';
import { announce, t } from './dom.js';

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
