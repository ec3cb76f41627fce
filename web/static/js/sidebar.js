// The customer sidebar: who this is across channels, what the shop says
// about them (tier, VIP, orders) and their other tickets.

import { formatDate, h, icon, parseTime, srOnly, t } from './dom.js';
import { editCustomerForm } from './customeredit.js';

const TRUE = new Set(['true', 'yes', '1', 'ja', 'vip']);

function label(key) {
  const known = 'attr_' + key.toLowerCase();
  const tr = t(known);
  if (tr !== known) return tr;
  const s = key.replace(/[_-]+/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// attrText shows a typed attribute: booleans as yes/no, numbers and
// strings as they are.
function attrText(v) {
  if (v === true) return t('yes');
  if (v === false) return t('no');
  return String(v);
}

function identityIcon(kind) {
  return icon(kind === 'phone' ? 'phone' : kind === 'email' ? 'email' : kind === 'external' ? 'external' : 'chat');
}

// renderShopOrders lists the shop's latest orders (GET /api/v1/customers
// gives them newest first), marking those this ticket is about.
function renderShopOrders(orders, linked) {
  return h('ul', { class: 'orders' }, orders.slice(0, 10).map((o) => h('li', null,
    h('span', { class: 'order-id' }, '#' + o.number),
    linked.has(o.number) ? h('span', { class: 'badge' }, t('order_this_ticket')) : null,
    o.status ? h('span', { class: 'badge' }, o.status) : null,
    o.total != null ? h('span', null, String(o.total) + (o.currency ? ' ' + o.currency : '')) : null,
    o.return_status ? h('span', { class: 'muted' }, t('order_return', { status: o.return_status })) : null,
    parseTime(o.placed_at) ? h('span', { class: 'muted' }, formatDate(parseTime(o.placed_at))) : null,
    o.tracking_url ? h('a', { href: o.tracking_url, rel: 'noopener noreferrer', target: '_blank' },
      t('order_track', { carrier: o.carrier || '' }).trim(), srOnly(' #' + o.number)) : null,
    o.admin_url ? h('a', { href: o.admin_url, rel: 'noopener noreferrer', target: '_blank' }, t('order_in_shop'), srOnly(' #' + o.number)) : null)));
}

// renderCustomer fills aside with the customer and their tickets;
// opts.orders are the shop's orders, opts.linked the order numbers of the
// current ticket, opts.ordersHidden hides orders from an unverified chat,
// opts.canEdit offers the edit form. A saved edit re-renders the sidebar
// and tells the pane with a 'svar:customer' event (detail: the customer).
// While the form is open aside.dataset.editing is set: a live update must
// not throw the agent's typing away.
export function renderCustomer(aside, c, tickets, currentID, opts = {}) {
  delete aside.dataset.editing;
  const shopOrders = opts.orders || [];
  const linked = opts.linked;
  const attrs = (c && c.attributes) || {};
  const badges = [];
  for (const [k, v] of Object.entries(attrs)) {
    if (k.toLowerCase() === 'vip' && TRUE.has(String(v).toLowerCase())) badges.push(h('span', { class: 'badge vip' }, t('vip')));
    if (k.toLowerCase() === 'tier' && v && !(c && c.tier)) badges.push(h('span', { class: 'badge tier' }, String(v)));
  }
  if (c && c.tier) badges.push(h('span', { class: 'badge tier' }, c.tier === 'vip' ? t('vip') : c.tier));
  const parts = [
    h('h2', { id: 'cust-h' }, t('customer')),
    h('p', { class: 'cust-name' }, (c && c.name) || t('unknown_customer'), ' ', badges),
  ];
  if (c && c.id) {
    const actions = h('p', { class: 'cust-actions' },
      h('a', { href: '/customers/' + encodeURIComponent(c.id) }, t('customer_timeline'), srOnly(': ' + (c.name || t('unknown_customer')))));
    if (opts.canEdit) {
      const edit = h('button', { type: 'button', class: 'secondary small' }, t('edit_customer'));
      edit.addEventListener('click', () => {
        const back = () => {
          renderCustomer(aside, c, tickets, currentID, opts);
          const again = [...aside.querySelectorAll('button')].find((b) => b.textContent === t('edit_customer'));
          if (again) again.focus();
        };
        aside.dataset.editing = 'true';
        aside.replaceChildren(h('h2', { id: 'cust-h' }, t('customer')), editCustomerForm(c, (saved) => {
          aside.dispatchEvent(new CustomEvent('svar:customer', { detail: saved }));
          renderCustomer(aside, saved, tickets, currentID, opts);
          const h2 = aside.querySelector('#cust-h');
          if (h2) {
            h2.setAttribute('tabindex', '-1');
            h2.focus();
          }
        }, back));
      });
      actions.append(' ', edit);
    }
    parts.push(actions);
  }
  const returning = (tickets || []).length > 1;
  if (returning) parts.push(h('p', { class: 'muted' }, t('returning_customer', { n: tickets.length })));

  parts.push(h('h3', null, t('contact')));
  const ids = (c && c.identities) || [];
  parts.push(ids.length
    ? h('ul', { class: 'idents' }, ids.map((id) => h('li', null,
      identityIcon(id.kind),
      srOnly(t('identity_' + id.kind) + ': '),
      h('span', { class: 'ident-value' }, id.kind === 'chat' ? t('chat_visitor') : id.value),
      id.verified ? h('span', { class: 'verified', title: t('verified') }, icon('check'), srOnly(' ' + t('verified'))) : null)))
    : h('p', { class: 'muted' }, t('none')));
  const optOuts = (c && c.opt_outs) || {};
  for (const [ch, reason] of Object.entries(optOuts)) {
    parts.push(h('p', { class: 'warn-text' }, icon('warn'), t('opted_out_of', { channel: t('channel_' + ch) }), reason ? ' (' + reason + ')' : ''));
  }

  const details = Object.entries(attrs).filter(([k]) => !['vip', 'tier'].includes(k.toLowerCase()));
  if (details.length) {
    parts.push(h('h3', null, t('details')));
    parts.push(h('dl', { class: 'attrs' }, details.sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [h('dt', null, label(k)), h('dd', null, attrText(v))])));
  }

  const orders = opts.ordersHidden ? [] : shopOrders;
  if (opts.ordersHidden) {
    parts.push(h('h3', null, t('orders')));
    parts.push(h('p', { class: 'warn-text orders-hidden' }, icon('warn'), t('orders_hidden_unverified')));
  } else if (orders.length) {
    parts.push(h('h3', null, t('orders')));
    parts.push(renderShopOrders(orders, new Set(linked || [])));
  }
  const pushed = (c && c.orders) || [];
  if (!opts.ordersHidden && pushed.length && !orders.length) {
    parts.push(h('h3', null, t('orders')));
    parts.push(h('ul', { class: 'orders' }, pushed.slice(0, 10).map((o) => h('li', null,
      h('span', { class: 'order-id' }, '#' + o.id),
      o.total ? h('span', null, o.total) : null,
      o.status ? h('span', { class: 'badge' }, o.status) : null,
      parseTime(o.created_at) ? h('span', { class: 'muted' }, formatDate(parseTime(o.created_at))) : null))));
  }

  const others = (tickets || []).filter((tk) => tk.id !== currentID);
  parts.push(h('h3', null, t('past_tickets')));
  parts.push(others.length
    ? h('ul', { class: 'past' }, others.slice(0, 20).map((tk) => h('li', null,
      h('a', { href: '/tickets/' + encodeURIComponent(tk.id) }, '#' + tk.number + ' ' + (tk.subject || tk.preview || t('no_text'))),
      h('span', { class: 'muted' }, ' ', t('status_' + tk.status), ' · ', formatDate(parseTime(tk.created_at)),
        tk.csat ? ' · ' + t('csat_badge', { score: tk.csat.score }) : ''))))
    : h('p', { class: 'muted' }, t('no_past_tickets')));
  aside.replaceChildren(...parts);
}
