// The console: an inbox of views with live counts, a ticket pane, and the
// agent's settings, in one page that routes with the History API so that
// the live socket stays open while the agent works.

import { $, $$, announce, debounce, h, setStrings, t } from './dom.js';
import { del, errorText, get, post } from './api.js';
import { renderSearch } from './search.js';
import { Live } from './live.js';
import { Inbox, VIEWS } from './inbox.js';
import { TicketPane } from './ticket.js';
import { installKeys } from './keys.js';
import { renderSettings } from './settings.js';
import { renderAgents } from './agents.js';
import { renderRouting, renderTeams } from './teams.js';
import { renderReports } from './reports.js';
import { renderServiceLevels, startCountdowns } from './sla.js';
import { renderRetention } from './retention.js';
import { renderMacros } from './macros.js';
import { installBulk } from './bulk.js';
import { drawFavicon, installPanel, Notices } from './notices.js';
import { put } from './api.js';
import { renderCustomerPage } from './customer.js';
import { renderWebhooks } from './webhooks.js';

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
  savedViews: new Map(), // saved view id → view
  loadViews,
  saveView,
  setTitle: (text) => setTitle(text),
};

// loadViews fetches the saved views and shows them, with their counts,
// after the built-in ones.
async function loadViews() {
  let data;
  try {
    data = await get('/api/v1/views');
  } catch (e) {
    return;
  }
  app.savedViews = new Map(data.views.map((v) => [v.id, v]));
  const ul = $('.views ul');
  for (const li of $$('li.saved', ul)) li.remove();
  for (const v of data.views) {
    ul.appendChild(h('li', { class: 'saved' },
      h('a', { href: '/views/' + encodeURIComponent(v.id), dataset: { view: v.id } },
        h('span', { class: 'view-name' }, v.name), ' ',
        h('span', { class: 'count' }, v.count === undefined ? '' : String(v.count)))));
  }
  setMode(app.mode);
}

async function saveView(filters) {
  const name = (window.prompt(t('view_name_prompt')) || '').trim();
  if (!name) return;
  try {
    const data = await post('/api/v1/views', { name, filters, shared: false });
    announce(t('view_saved', { name: data.view.name }));
    await loadViews();
    navigate('/views/' + encodeURIComponent(data.view.id));
  } catch (e) {
    announce(e.message || String(e));
  }
}

// showHit scrolls to and highlights the message a search result named
// (#m-<id>), if the open ticket has it.
function showHit() {
  const hash = location.hash;
  if (!hash.startsWith('#m-')) return false;
  const el = document.getElementById(decodeURIComponent(hash.slice(1)));
  if (!el) return false;
  for (const old of $$('.msg.hit')) old.classList.remove('hit');
  el.classList.add('hit');
  el.setAttribute('tabindex', '-1');
  el.setAttribute('aria-label', t('matching_message'));
  el.scrollIntoView({ block: 'center' });
  el.focus();
  return true;
}

async function loadAgents() {
  try {
    const data = await get('/api/v1/agents?include=csat');
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
  if (p === '/' || (m = p.match(/^\/views\/([A-Za-z0-9_-]+)$/))) {
    const view = m ? m[1] : 'open';
    closePane();
    app.inbox.setView(VIEWS.includes(view) || app.savedViews.has(view) ? view : 'open');
    setMode('inbox');
    emptyPane();
    setTitle(app.inbox.viewLabel());
    if (opts.focusList) app.inbox.focusSelected();
    return;
  }
  if ((m = p.match(/^\/tickets\/([^/]+)$/))) {
    const id = decodeURIComponent(m[1]);
    app.inbox.setView(app.inbox.view || sessionStorage.getItem('svar.view') || 'open');
    setMode('ticket');
    if (app.pane && app.pane.id === id) {
      showHit();
      return;
    }
    closePane();
    app.pane = new TicketPane(app, id, app.main);
    app.inbox.markCurrent(id);
    if (app.notices) app.notices.opened(id);
    await app.pane.load();
    if (app.pane && app.pane.ticket) {
      setTitle('#' + app.pane.ticket.number + ' ' + (app.pane.ticket.subject || app.pane.ticket.preview || ''));
      app.inbox.markSeen(app.pane.ticket);
      if (!showHit() && opts.focus !== false) app.pane.focusHeading();
    }
    return;
  }
  if (p === '/search') {
    closePane();
    setMode('page');
    const q = new URLSearchParams(location.search).get('q') || '';
    setTitle(t('search_results', { q }));
    $('#q').value = q;
    await renderSearch(app, app.main, q);
    return;
  }
  closePane();
  setMode('page');
  if ((m = p.match(/^\/customers\/([^/]+)$/))) {
    setTitle(t('customer'));
    await renderCustomerPage(app, app.main, decodeURIComponent(m[1]));
    return;
  }
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
  } else if (p === '/retention') {
    setTitle(t('retention'));
    await renderRetention(app, app.main);
  } else if (p === '/macros') {
    setTitle(t('macros'));
    renderMacros(app, app.main);
  } else if (p === '/webhooks') {
    setTitle(t('webhooks'));
    await renderWebhooks(app, app.main);
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
  if (path === location.pathname + location.search + location.hash) {
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
    if (!/^\/($|views\/|tickets\/|settings$|agents$|teams$|routing$|search$|macros$|service-levels$|reports$|retention$|webhooks$|customers\/)/.test(url.pathname)) return;
    e.preventDefault();
    navigate(url.pathname + url.search + url.hash);
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
  // Enter searches every message (the results page); typing filters the
  // list as it goes.
  search.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = q.value.trim();
    app.inbox.setQuery(text);
    navigate('/search?q=' + encodeURIComponent(text));
  });
  let timer = 0;
  q.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => app.inbox.setQuery(q.value.trim()), 300);
  });
}

const refreshViews = debounce(() => loadViews(), 1000);

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
  app.notices = new Notices(() => {}, (id) => app.openTicket(id));
  app.notices.onChange = installPanel(app.notices, () => {
    setTitle(titleText);
    drawFavicon(app.notices.unread);
  });
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
      if (ev.type === 'counts') {
        app.inbox.setCounts(ev.counts);
        if (app.savedViews.size) refreshViews();
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
  await Promise.all([loadAgents(), loadViews()]);
  setupAvailability();
  startCountdowns();
  app.notices.load();
  app.live.start();
  await route({ focus: false });
}

start();

