// The search results page: every message, subject, customer name, email,
// phone and number that matches, best first, each with a snippet whose
// matched words are marked. Opening a result lands on the matching message.

import { announce, h, replace, t } from './dom.js';
import { errorText, get } from './api.js';

const ENTITIES = { '&lt;': '<', '&gt;': '>', '&amp;': '&', '&#34;': '"', '&#39;': "'", '&quot;': '"' };

function unescape(s) {
  return s.replace(/&(lt|gt|amp|quot|#34|#39);/g, (e) => ENTITIES[e]);
}

// snippetNodes turns the server's snippet (escaped text with <mark>) into
// DOM nodes without parsing HTML.
export function snippetNodes(snippet) {
  const out = [];
  const parts = (snippet || '').split(/(<mark>|<\/mark>)/);
  let marked = false;
  for (const p of parts) {
    if (p === '<mark>') marked = true;
    else if (p === '</mark>') marked = false;
    else if (p) out.push(marked ? h('mark', null, unescape(p)) : document.createTextNode(unescape(p)));
  }
  return out;
}

export async function renderSearch(app, main, q) {
  const heading = h('h2', { tabindex: '-1' }, q ? t('search_results', { q }) : t('search_empty'));
  const list = h('ol', { class: 'results', 'aria-busy': 'true' });
  replace(main, h('section', { class: 'search-page', 'aria-labelledby': 'search-h' }, heading, list));
  heading.id = 'search-h';
  heading.focus();
  if (!q) {
    list.removeAttribute('aria-busy');
    return;
  }
  let data;
  try {
    data = await get('/api/v1/search?limit=50&q=' + encodeURIComponent(q));
  } catch (e) {
    list.removeAttribute('aria-busy');
    replace(list, h('li', { class: 'empty error', role: 'alert' }, errorText(e)));
    return;
  }
  list.removeAttribute('aria-busy');
  if (!data.results.length) {
    replace(list, h('li', { class: 'empty' }, t('search_none', { q })));
    announce(t('search_none', { q }));
    return;
  }
  replace(list, ...data.results.map((r) => {
    const tk = r.ticket;
    let href = '/tickets/' + encodeURIComponent(tk.id);
    if (r.message) href += '#m-' + encodeURIComponent(r.message.id);
    return h('li', { class: 'result' },
      h('a', { class: 'result-link', href },
        h('span', { class: 'result-title' }, '#' + tk.number + ' ' + (tk.subject || tk.preview || '')),
        h('span', { class: 'result-customer muted' }, tk.customer_name || t('unknown_customer')),
        h('span', { class: 'result-status badge status-' + tk.status }, t('status_' + tk.status))),
      h('p', { class: 'snippet' }, ...snippetNodes(r.snippet)));
  }));
  announce(t('search_found', { n: data.results.length }));
}
