// The live connection to /api/v1/live: events, presence and resume. After
// a drop it reconnects with ?since=<last seq> so that no event is missed;
// when the server cannot replay them it says "resync" and the console
// reloads what it shows.

import { signIn } from './api.js';

const PING_MS = 20000;

export class Live {
  // handlers: onEvent(ev), onPresence(frame), onReload(), onStatus(state)
  // where state is "connecting", "live" or "offline".
  constructor(handlers) {
    this.h = handlers;
    this.seq = 0;
    this.ws = null;
    this.retry = 0;
    this.timer = 0;
    this.pinger = 0;
    this.stopped = false;
    this.connected = false;
    this.queue = [];
  }

  start() {
    this.connect();
    // A socket can stay "open" long after the network went away; when the
    // browser knows it is offline, say so at once and come back when it is
    // online again (with ?since=, so nothing is missed).
    window.addEventListener('offline', () => {
      const ws = this.ws;
      if (!ws) return;
      // Forget the socket now: its close handshake may never complete.
      this.ws = null;
      this.connected = false;
      clearInterval(this.pinger);
      ws.close(4000, 'offline');
      this.h.onStatus && this.h.onStatus('offline');
    });
    window.addEventListener('online', () => {
      this.retry = 0;
      this.reconnectSoon(0);
    });
  }

  connect() {
    if (this.stopped) return;
    this.h.onStatus && this.h.onStatus('connecting');
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const since = this.seq > 0 ? '?since=' + this.seq : '';
    const ws = new WebSocket(proto + '//' + location.host + '/api/v1/live' + since);
    this.ws = ws;
    const resumed = this.seq > 0;
    let opened = false;
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      opened = true;
      this.retry = 0;
      this.connected = true;
      this.h.onStatus && this.h.onStatus('live');
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.send({ type: 'ping' }), PING_MS);
      for (const f of this.queue.splice(0)) this.send(f);
      this.h.onOpen && this.h.onOpen();
    });
    ws.addEventListener('message', (e) => {
      if (this.ws !== ws) return;
      let f;
      try {
        f = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      this.frame(f, resumed);
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return; // a socket this console already gave up
      clearInterval(this.pinger);
      this.connected = false;
      this.ws = null;
      if (this.stopped) return;
      this.h.onStatus && this.h.onStatus('offline');
      if (!opened) {
        // The upgrade was refused: an ended session must not retry forever.
        this.checkSession();
      }
      this.reconnectSoon();
    });
  }

  frame(f, resumed) {
    switch (f.type) {
      case 'hello':
        // A fresh connection starts from what the server has now: load
        // the lists again. A resumed one gets the missed events replayed.
        if (!resumed || this.seq === 0) {
          this.seq = f.seq || 0;
          this.h.onReload && this.h.onReload();
        }
        break;
      case 'resync':
        this.seq = f.seq || 0;
        this.h.onReload && this.h.onReload();
        break;
      case 'presence':
        this.h.onPresence && this.h.onPresence(f);
        break;
      case 'pong':
        break;
      case 'error':
        // "unauthorized": this session was ended (the agent was signed out
        // or deactivated). After a password change this console holds a
        // new session and just reconnects; otherwise it goes to sign in.
        if (f.error && f.error.code === 'unauthorized') this.checkSession();
        break;
      default:
        if (f.seq && f.seq > this.seq) this.seq = f.seq;
        this.h.onEvent && this.h.onEvent(f);
    }
  }

  async checkSession() {
    try {
      const res = await fetch('/api/v1/session', { credentials: 'same-origin' });
      if (res.status === 401) {
        this.stopped = true;
        signIn();
      }
    } catch (e) {
      // offline: keep retrying
    }
  }

  reconnectSoon(delay) {
    clearTimeout(this.timer);
    if (delay === undefined) {
      // 0.5 s, 1 s, 2 s … up to 30 s, with jitter so a restarted node is
      // not hit by every console at once.
      delay = Math.min(30000, 500 * 2 ** this.retry) * (0.75 + Math.random() / 2);
      this.retry++;
    }
    this.timer = setTimeout(() => {
      if (!this.ws) this.connect();
    }, delay);
  }

  // send writes a frame, or queues a presence frame until the socket opens.
  send(f) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(f));
    } else if (f.type === 'presence') {
      this.queue = this.queue.filter((q) => q.ticket_id !== f.ticket_id);
      this.queue.push(f);
    }
  }
}
