// The console: an inbox of views with live counts, a ticket pane, and the
// agent's settings, in one page that routes with the History API so that
// the live socket stays open while the agent works.

import { $, $$, announce, h, setStrings, t } from './dom.js';
import { del, errorText, get } from './api.js';
import { Live } from './live.js';
import { Inbox, VIEWS } from './inbox.js';
import { TicketPane } from './ticket.js';
import { installKeys } from './keys.js';
import { renderSettings } from './settings.js';
import { renderAgents } from './agents.js';
import { renderRouting, renderTeams } from './teams.js';
import { renderReports } from './reports.js';
import { renderServiceLevels, startCountdowns } from './sla.js';
import { renderMacros } from './macros.js';
import { installBulk } from './bulk.js';
import { installPanel, Notices } from './notices.js';
import { put } from './api.js';

const boot = JSON.parse(document.getElementById('boot').textContent);
setStrings(boot.strings, boot.lang);

const app = {
  me: boot.agent,
  agents: new Map(),
  live: null,
  inbox: null,
  pane: null,
  mode: 'inbox',
  main: $('#main'),
  navigate,
  openTicket: (id) => navigate('/tickets/' + encodeURIComponent(id)),
  agentName(id) {
    if (!id) return '';
    const a = app.agents.get(id);
    return a ? a.name || a.email : t('unknown_agent');
  },
  loadAgents,
};

async function loadAgents() {
  try {
    const data = await get('/api/v1/agents');
    app.agents = new Map(data.agents.map((a) => [a.id, a]));
    app.teams = (await get('/api/v1/teams')).teams || [];
  } catch (e) {
    // The list still works with "unknown agent" names.
  }
}

let titleText = '';

function setTitle(text) {
  titleText = text;
  const base = text ? text + ' · Svar' : 'Svar';
  const h1 = $('#page-h');
  if (h1) h1.textContent = base;
  const n = app.notices ? app.notices.unread : 0;
  document.title = n > 0 ? '(' + n + ') ' + base : base;
}

function closePane() {
  if (app.pane) {
    app.pane.destroy();
    app.pane = null;
  }
}

// route shows what the address names.
async function route(opts = {}) {
  const p = location.pathname;
  let m;
  if (p === '/' || (m = p.match(/^\/views\/([a-z]+)$/))) {
    const view = m ? m[1] : 'open';
    closePane();
    app.inbox.setView(VIEWS.includes(view) ? view : 'open');
    setMode('inbox');
    emptyPane();
    setTitle(t('view_' + app.inbox.view));
    if (opts.focusList) app.inbox.focusSelected();
    return;
  }
  if ((m = p.match(/^\/tickets\/([^/]+)$/))) {
    const id = decodeURIComponent(m[1]);
    app.inbox.setView(app.inbox.view || sessionStorage.getItem('svar.view') || 'open');
    setMode('ticket');
    if (app.pane && app.pane.id === id) return;
    closePane();
    app.pane = new TicketPane(app, id, app.main);
    app.inbox.markCurrent(id);
    if (app.notices) app.notices.opened(id);
    await app.pane.load();
    if (app.pane && app.pane.ticket) {
      setTitle('#' + app.pane.ticket.number + ' ' + (app.pane.ticket.subject || app.pane.ticket.preview || ''));
      app.inbox.markSeen(app.pane.ticket);
      if (opts.focus !== false) app.pane.focusHeading();
    }
    return;
  }
  closePane();
  setMode('page');
  if (p === '/settings') {
    setTitle(t('settings'));
    renderSettings(app, app.main);
  } else if (p === '/agents') {
    setTitle(t('agents'));
    renderAgents(app, app.main);
  } else if (p === '/teams') {
    setTitle(t('teams'));
    await renderTeams(app, app.main);
  } else if (p === '/routing') {
    setTitle(t('routing'));
    await renderRouting(app, app.main);
  } else if (p === '/reports') {
    setTitle(t('reports'));
    await renderReports(app, app.main);
  } else if (p === '/service-levels') {
    setTitle(t('service_levels'));
    await renderServiceLevels(app, app.main);
  } else if (p === '/macros') {
    setTitle(t('macros'));
    renderMacros(app, app.main);
  }
  const heading = $('h2', app.main);
  if (heading) heading.focus();
}

function setMode(mode) {
  app.mode = mode;
  document.body.dataset.mode = mode;
  for (const a of $$('.views a')) {
    const current = mode !== 'page' && a.dataset.view === app.inbox.view;
    if (current) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function emptyPane() {
  app.main.replaceChildren(
    h('div', { class: 'empty-pane' },
      h('h2', { tabindex: '-1' }, t('no_ticket_open')),
      h('p', null, t('no_ticket_hint')),
      h('p', { class: 'muted' }, t('shortcuts_hint'))),
  );
}

// navigate moves to a console path without reloading the page.
function navigate(path, opts = {}) {
  if (path === location.pathname + location.search) {
    route(opts);
    return;
  }
  if (opts.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route(opts);
}

function interceptLinks() {
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest && e.target.closest('a[href]');
    if (!a || a.target || a.hasAttribute('download')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin) return;
    if (!/^\/($|views\/|tickets\/|settings$|agents$|teams$|routing$|macros$|service-levels$|reports$)/.test(url.pathname)) return;
    e.preventDefault();
    navigate(url.pathname + url.search);
  });
  window.addEventListener('popstate', () => route({ focus: false }));
}

function connStatus(state) {
  const el = $('#conn');
  if (!el) return;
  el.dataset.state = state;
  el.textContent = t('conn_' + state);
}

function setupChrome() {
  $('#signout').addEventListener('click', async () => {
    try {
      await del('/api/v1/session', undefined, { keep401: true });
    } catch (e) {
      // signed out already
    }
    location.assign('/login');
  });
  const search = $('#search');
  const q = $('#q');
  search.addEventListener('submit', (e) => {
    e.preventDefault();
    app.inbox.setQuery(q.value.trim());
    if (app.mode === 'page') navigate('/views/' + app.inbox.view);
  });
  let timer = 0;
  q.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => app.inbox.setQuery(q.value.trim()), 300);
  });
}

// setupAvailability lets the signed-in agent choose online, away or
// offline in the header.
function setupAvailability() {
  const sel = $('#avail');
  if (!sel) return;
  const me = app.agents.get(app.me.id);
  if (me && me.availability) sel.value = me.availability;
  sel.addEventListener('change', async () => {
    try {
      const res = await put('/api/v1/me/availability', { status: sel.value });
      sel.value = res.availability || sel.value;
      announce(t('availability_set', { status: t('avail_' + sel.value) }));
    } catch (e) {
      announce(errorText(e));
    }
  });
}

async function start() {
  app.inbox = new Inbox(app, {
    list: $('#list'),
    rows: $('#rows'),
    heading: $('#list-h'),
    more: $('#more'),
  });
  setupChrome();
  interceptLinks();
  installKeys(app);
  installBulk(app);
  app.notices = new Notices(() => {});
  app.notices.onChange = installPanel(app.notices, () => setTitle(titleText));
  app.live = new Live({
    onEvent(ev) {
      if (ev.type === 'ticket.removed') {
        app.inbox.remove(ev.ticket_id);
        return;
      }
      if (ev.type === 'notification') {
        app.notices.arrived(ev.notification);
        return;
      }
      if (ev.ticket) app.inbox.apply(ev.ticket);
      if (app.pane) app.pane.onEvent(ev);
      if (ev.type === 'ticket.created' && ev.ticket && app.mode === 'inbox') {
        announce(t('announce_new_ticket', { name: ev.ticket.customer_name || t('customer') }));
      }
    },
    onPresence(f) {
      if (app.pane) app.pane.onPresence(f);
    },
    onReload() {
      app.inbox.reload();
      if (app.pane) app.pane.reload();
    },
    onOpen() {
      if (app.pane) app.pane.sayViewing();
    },
    onStatus: connStatus,
  });
  await loadAgents();
  setupAvailability();
  startCountdowns();
  app.notices.load();
  app.live.start();
  await route({ focus: false });
}

start();

