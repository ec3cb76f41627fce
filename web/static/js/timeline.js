// The timeline of a ticket: every message across channels, oldest first,
// with its channel and delivery status. Notes look different and say so.
// Email HTML is shown in a sandboxed frame without scripts.

import { channelName, formatTime, h, icon, parseTime, srOnly, t } from './dom.js';

function authorName(m, customer) {
  if (m.author && m.author.name) return m.author.name;
  if (m.author && m.author.kind === 'customer') return (customer && customer.name) || t('customer');
  if (m.author && m.author.kind === 'system') return t('system');
  return t('unknown_agent');
}

function sizeText(n) {
  if (!n) return '';
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return Math.round(n / 1024) + ' kB';
  return (n / 1024 / 1024).toFixed(1) + ' MB';
}

export function deliveryBadge(m) {
  if (m.direction !== 'outbound' || !m.delivery) return null;
  const st = m.delivery.status || 'queued';
  const via = m.delivery.channel && m.delivery.channel !== m.channel ? ' ' + t('delivery_via', { channel: channelName(m.delivery.channel) }) : '';
  const text = t('delivery_' + st) + via + (st === 'failed' && m.delivery.error ? ': ' + m.delivery.error : '');
  return h('span', { class: 'delivery delivery-' + st, dataset: { status: st } }, srOnly(t('delivery') + ': '), text);
}

// frameHeight guesses a frame height from the text, since a sandboxed
// frame without scripts cannot report its own.
function frameHeight(m) {
  const lines = (m.text || '').split('\n').length + Math.ceil((m.text || '').length / 90);
  return Math.max(120, Math.min(560, 40 + lines * 22));
}

function mailBody(m, customer) {
  const wrap = h('div', { class: 'msg-body' });
  const frameURL = '/messages/' + encodeURIComponent(m.id) + '/html';
  const frame = h('iframe', {
    class: 'mail-frame',
    sandbox: 'allow-popups allow-popups-to-escape-sandbox',
    src: frameURL,
    title: t('email_from', { name: authorName(m, customer) }),
    loading: 'lazy',
    referrerpolicy: 'no-referrer',
  });
  // CSSOM, not a style attribute: the CSP allows the former only.
  frame.style.height = frameHeight(m) + 'px';
  const text = h('div', { class: 'msg-text', hidden: true }, m.text || '');
  const toggle = h('button', { type: 'button', class: 'link-button' }, t('show_plain'));
  toggle.addEventListener('click', () => {
    const plain = frame.hidden;
    frame.hidden = !plain;
    text.hidden = plain;
    toggle.textContent = plain ? t('show_plain') : t('show_formatted');
  });
  const tools = h('div', { class: 'msg-tools' }, toggle);
  if ((m.html || '').includes('data-svar-src')) {
    const remote = h('button', { type: 'button', class: 'link-button' }, t('load_images'));
    remote.addEventListener('click', () => {
      frame.src = frameURL + '?images=remote';
      remote.remove();
    });
    tools.appendChild(remote);
  }
  wrap.append(frame, text, tools);
  return wrap;
}

// truncatedNote names what of a mail was not imported, and why.
function truncatedNote(tr) {
  const items = (tr.dropped || []).map((d) => {
    const name = d.filename || t('truncated_part', { part: d.part || '?' }) + (d.content_type ? ' (' + d.content_type + ')' : '');
    return h('li', null, h('span', { class: 'dropped-name' }, name), ': ', t('drop_' + d.reason),
      d.size ? h('span', { class: 'muted' }, ' (' + sizeText(d.size) + ')') : null);
  });
  if (tr.more) items.push(h('li', null, t('truncated_more', { n: tr.more })));
  return h('div', { class: 'truncated warn-box', role: 'note', 'aria-label': t('truncated_heading') },
    h('p', { class: 'warn-text' }, icon('warn'), t('truncated_heading')),
    h('ul', { class: 'dropped' }, items),
    h('p', { class: 'muted' }, t('truncated_see_original')));
}

// senderWarning says that the receiving server failed the sender's
// address: the mail may be forged.
function senderWarning(m) {
  const result = (m.meta && m.meta.sender_auth) || '';
  const viaForm = m.meta && m.meta.sender_via === 'reply-to';
  return h('div', { class: 'sender-unverified warn-box', role: 'note' },
    h('p', { class: 'warn-text' }, icon('warn'), t('sender_unverified')),
    h('p', null, viaForm ? t('sender_via_reply_to') : t('sender_unverified_detail', { result })));
}

// originalLink offers the stored original of an inbound mail.
function originalLink(m) {
  return h('p', { class: 'msg-original' },
    h('a', { href: '/api/v1/messages/' + encodeURIComponent(m.id) + '/original', download: 'message-' + m.id + '.eml' },
      icon('email'), t('download_original')));
}

// threadReason says why an inbound message joined its ticket, from the
// message's thread_reason.
export function threadReason(m, ticket) {
  if (m.direction !== 'inbound' || !m.thread_reason) return null;
  const key = 'thread_' + m.thread_reason.replace(/-/g, '_');
  const text = t(key, { number: ticket && ticket.number ? '#' + ticket.number : '' });
  if (text === key) return null;
  return h('p', { class: 'thread-reason muted' }, srOnly(t('thread_reason') + ': '), text);
}

// renderMessage returns the <li> of one message.
export function renderMessage(m, customer, ticket) {
  const note = m.direction === 'note';
  const created = parseTime(m.created_at);
  const who = authorName(m, customer);
  const li = h('li', { class: 'msg msg-' + m.direction, id: 'm-' + m.id, dataset: { id: m.id } });
  const head = h('header', { class: 'msg-head' },
    h('span', { class: 'msg-author' }, who),
    note
      ? h('span', { class: 'msg-kind note-label' }, icon('note'), t('internal_note'))
      : h('span', { class: 'msg-kind' }, icon(m.channel || 'chat'),
        m.direction === 'inbound' ? t('via_channel', { channel: channelName(m.channel) }) : t('to_channel', { channel: channelName(m.channel) })),
    h('time', { datetime: created ? created.toISOString() : '' }, formatTime(created)),
    deliveryBadge(m),
    m.auto ? h('span', { class: 'badge' }, t('auto_reply')) : null);
  const body = [];
  if (m.sender_verified === false) body.push(senderWarning(m));
  if (m.subject && m.channel === 'email' && m.direction === 'inbound') {
    body.push(h('p', { class: 'msg-subject' }, srOnly(t('subject') + ': '), m.subject));
  }
  const reason = threadReason(m, ticket);
  if (reason) body.push(reason);
  if (m.html && m.channel === 'email' && !note) {
    body.push(mailBody(m, customer));
  } else {
    body.push(h('div', { class: 'msg-text' }, m.text || ''));
  }
  if (m.attachments && m.attachments.length) {
    body.push(h('ul', { class: 'attachments', 'aria-label': t('attachments') },
      m.attachments.map((a) => a.removed ? h('li', { class: 'attachment-removed muted' }, t('attachment_removed', { name: a.filename || t('attachment') })) : h('li', null,
        h('a', { href: '/api/v1/attachments/' + encodeURIComponent(a.key) + (m.ticket_id ? '?ticket=' + encodeURIComponent(m.ticket_id) : ''), download: a.filename || 'attachment' },
          a.filename || t('attachment')),
        a.size ? h('span', { class: 'muted' }, ' (' + sizeText(a.size) + ')') : null))));
  }
  if (m.truncated) body.push(truncatedNote(m.truncated));
  if (m.channel === 'email' && m.direction === 'inbound' && m.meta && m.meta.raw_key) body.push(originalLink(m));
  li.append(h('article', { 'aria-label': (note ? t('internal_note') + ', ' : '') + who + ', ' + formatTime(created) }, head, ...body));
  return li;
}

// deliveryRank orders delivery states: reports may arrive in any order
// (the "delivered" event can beat the answer to the send itself), and a
// message never goes back to an earlier state. failed and delivered are
// both final.
export function deliveryRank(m) {
  const st = m && m.delivery ? m.delivery.status : '';
  return { queued: 1, sent: 2, delivered: 3, failed: 3 }[st] || 0;
}

// updateDelivery swaps the delivery badge of a rendered message.
export function updateDelivery(li, m) {
  const old = li.querySelector('.delivery');
  const badge = deliveryBadge(m);
  if (old && badge) old.replaceWith(badge);
  else if (badge) li.querySelector('.msg-head').appendChild(badge);
}
