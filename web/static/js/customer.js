// The customer page (/customers/{id}): who they are, every ticket of
// theirs the agent may see, and their messages across all those tickets,
// newest first, with a link to each message in its ticket. Older messages
// come a page at a time (GET /api/v1/customers/{id}/timeline).

import { announce, channelName, formatDate, formatTime, h, parseTime, replace, t } from './dom.js';
import { errorText, get } from './api.js';

function when(s) {
  const d = parseTime(s);
  return d ? formatTime(d) : '';
}

function who(m) {
  if (m.direction === 'note') return t('timeline_note_by', { name: (m.author && m.author.name) || t('agent') });
  if (m.direction === 'outbound') return (m.author && m.author.name) || t('agent');
  return (m.author && m.author.name) || t('customer');
}

export async function renderCustomerPage(app, main, id) {
  const heading = h('h2', { id: 'custpage-h', tabindex: '-1' }, t('customer'));
  const status = h('p', { class: 'form-status', role: 'status' });
  const tickets = h('ul', { class: 'past cust-tickets', 'aria-labelledby': 'custpage-tickets-h' });
  const list = h('ol', { class: 'cust-timeline', 'aria-labelledby': 'custpage-tl-h', 'aria-busy': 'true' });
  const more = h('button', { type: 'button', class: 'secondary more', hidden: true }, t('load_older'));
  const summary = h('p', { class: 'muted' });
  replace(main, h('section', { class: 'customer-page', 'aria-labelledby': 'custpage-h' },
    heading, summary,
    h('h3', { id: 'custpage-tickets-h' }, t('their_tickets')), tickets,
    h('h3', { id: 'custpage-tl-h' }, t('customer_timeline')), list, more, status));
  heading.focus();

  const byID = new Map();
  let cursor = '';
  function item(m) {
    const tk = byID.get(m.ticket_id);
    const label = tk ? '#' + tk.number + ' ' + (tk.subject || tk.preview || '') : t('ticket');
    return h('li', { class: 'cust-msg dir-' + m.direction, id: 'tl-' + m.id },
      h('p', { class: 'cust-msg-head' },
        h('span', { class: 'cust-msg-who' }, who(m)), ' · ',
        h('span', { class: 'muted' }, channelName(m.channel)), ' · ',
        h('time', { datetime: m.created_at }, when(m.created_at)), ' · ',
        h('a', { href: '/tickets/' + encodeURIComponent(m.ticket_id) + '#m-' + encodeURIComponent(m.id) }, label)),
      h('p', { class: 'cust-msg-text' }, (m.text || '').slice(0, 600) || t('no_text')));
  }
  async function page(first) {
    let data;
    list.setAttribute('aria-busy', 'true');
    try {
      data = await get('/api/v1/customers/' + encodeURIComponent(id) + '/timeline?limit=50' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    } catch (e) {
      list.removeAttribute('aria-busy');
      status.textContent = errorText(e);
      status.setAttribute('role', 'alert');
      return;
    }
    list.removeAttribute('aria-busy');
    if (first) {
      const c = data.customer || {};
      heading.textContent = t('customer_page_title', { name: c.name || t('unknown_customer') });
      app.setTitle(c.name || t('customer'));
      summary.textContent = t('customer_page_summary', { n: data.tickets.length });
      for (const tk of data.tickets) byID.set(tk.id, tk);
      replace(tickets, ...(data.tickets.length ? data.tickets.map((tk) => h('li', null,
        h('a', { href: '/tickets/' + encodeURIComponent(tk.id) }, '#' + tk.number + ' ' + (tk.subject || tk.preview || t('no_text'))),
        h('span', { class: 'muted' }, ' ', t('status_' + tk.status), ' · ', formatDate(parseTime(tk.created_at))))) : [h('li', { class: 'muted' }, t('no_past_tickets'))]));
      if (!data.messages.length) list.appendChild(h('li', { class: 'muted' }, t('timeline_empty')));
    }
    for (const m of data.messages) list.appendChild(item(m));
    cursor = data.next_cursor || '';
    more.hidden = !cursor;
    if (!first) announce(t('older_loaded', { n: data.messages.length }));
    return data.messages;
  }
  more.addEventListener('click', async () => {
    const got = await page(false);
    // Focus the first newly loaded message, so the keyboard goes on from there.
    if (got && got.length) {
      const el = document.getElementById('tl-' + got[0].id);
      if (el) {
        el.setAttribute('tabindex', '-1');
        el.focus();
      }
    }
  });
  await page(true);
}
