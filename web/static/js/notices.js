// Notifications: the unread count in the tab title and on the favicon,
// announced to screen readers as they arrive, shown by the browser when
// the tab is hidden and the agent turned desktop notifications on, with
// an optional beep; opening a ticket marks its notifications read.
import { get, post } from './api.js';
import { $, announce, formatDate, h, parseTime, t } from './dom.js';

// Preferences kept in this browser (localStorage): desktop notifications
// (also needs the browser's permission) and the sound, both off unless
// the agent turns them on in Settings.
const DESKTOP_KEY = 'svar.notify.desktop';
const SOUND_KEY = 'svar.notify.sound';

function pref(key) {
  try {
    return localStorage.getItem(key) === 'on';
  } catch (e) {
    return false;
  }
}

export function setPref(key, on) {
  try {
    if (on) localStorage.setItem(key, 'on');
    else localStorage.removeItem(key);
  } catch (e) {
    // storage off: the choice lasts for this page
  }
}

export const prefs = {
  desktop: () => pref(DESKTOP_KEY) && 'Notification' in window && Notification.permission === 'granted',
  sound: () => pref(SOUND_KEY),
  setDesktop: (on) => setPref(DESKTOP_KEY, on),
  setSound: (on) => setPref(SOUND_KEY, on),
};

// beep plays a short, soft two-tone chime with WebAudio (no sound file).
let audio = null;
export function beep() {
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    const now = audio.currentTime;
    for (const [i, f] of [[0, 880], [1, 1320]]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = 'sine';
      osc.frequency.value = f;
      gain.gain.setValueAtTime(0.0001, now + i * 0.12);
      gain.gain.exponentialRampToValueAtTime(0.15, now + i * 0.12 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.12 + 0.18);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + i * 0.12);
      osc.stop(now + i * 0.12 + 0.2);
    }
  } catch (e) {
    // no audio here
  }
}

// desktop shows a browser notification for n while the tab is hidden;
// a click brings the console back to its ticket.
function desktop(n, open) {
  if (!document.hidden || !prefs.desktop()) return;
  try {
    const note = new Notification('Svar: ' + t('kind_' + n.kind), { body: n.text, tag: n.id });
    note.onclick = () => {
      window.focus();
      if (n.ticket_id && open) open(n.ticket_id);
      note.close();
    };
  } catch (e) {
    // some browsers allow notifications only from a service worker
  }
}

// Favicon: the unread count drawn over the icon on a canvas (an image
// the page's CSP allows: img-src data:), back to the plain icon at zero.
const FAVICON = '/static/favicon.svg';
let faviconImg = null;

export function drawFavicon(count) {
  const link = document.querySelector('link[rel="icon"]');
  if (!link) return;
  link.dataset.count = String(count);
  if (!count) {
    link.type = 'image/svg+xml';
    link.href = FAVICON;
    return;
  }
  const paint = () => {
    if (link.dataset.count !== String(count)) return; // a newer count is being drawn
    const c = document.createElement('canvas');
    c.width = 64;
    c.height = 64;
    const g = c.getContext('2d');
    if (faviconImg.complete && faviconImg.naturalWidth) g.drawImage(faviconImg, 0, 0, 64, 64);
    g.fillStyle = '#c62828';
    g.beginPath();
    g.arc(44, 20, 20, 0, 2 * Math.PI);
    g.fill();
    g.fillStyle = '#fff';
    g.font = 'bold ' + (count > 9 ? 22 : 28) + 'px sans-serif';
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    g.fillText(count > 99 ? '99+' : String(count), 44, 21);
    link.type = 'image/png';
    link.href = c.toDataURL('image/png');
  };
  if (!faviconImg) {
    faviconImg = new Image();
    faviconImg.addEventListener('load', paint, { once: true });
    faviconImg.addEventListener('error', paint, { once: true });
    faviconImg.src = FAVICON;
    return;
  }
  if (faviconImg.complete) paint();
  else faviconImg.addEventListener('load', paint, { once: true });
}

export class Notices {
  // open(ticketID) shows a ticket (a desktop notification's click).
  constructor(onChange, open) {
    this.items = [];
    this.unread = 0;
    this.onChange = onChange;
    this.open = open;
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
    desktop(n, this.open);
    if (prefs.sound()) beep();
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
