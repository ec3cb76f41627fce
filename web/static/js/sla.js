// Service levels, for admins: business hours, SLA policies and the
// out-of-hours automatic reply; and the SLA badge with its countdown on
// ticket rows and the ticket view.

import { announce, h, t } from './dom.js';
import { api, del, errorText, get, post } from './api.js';

const put = (path, body) => api('PUT', path, body);

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

// nextDue is the earliest running due time of a ticket's clocks.
function nextDue(s) {
  if (!s || s.paused) return null;
  const ds = [s.first_response_due, s.next_response_due, s.resolution_due].filter(Boolean).map((d) => new Date(d));
  ds.sort((a, b) => a - b);
  return ds[0] || null;
}

function left(ms) {
  const m = Math.round(Math.abs(ms) / 60000);
  if (m < 60) return t('sla_minutes', { n: m });
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return t('sla_hours', { n: hrs, m: m % 60 });
  return t('sla_days', { n: Math.floor(hrs / 24) });
}

function badgeText(el) {
  const due = el.dataset.due ? new Date(el.dataset.due) : null;
  if (el.dataset.breached === '1') return t('sla_breached');
  if (el.dataset.paused === '1') return t('sla_paused');
  if (!due) return '';
  const ms = due - Date.now();
  return ms <= 0 ? t('sla_overdue', { time: left(ms) }) : t('sla_due_in', { time: left(ms) });
}

function badgeClass(el) {
  const due = el.dataset.due ? new Date(el.dataset.due) : null;
  const late = el.dataset.breached === '1' || (due && due <= Date.now());
  const soon = due && due - Date.now() < 30 * 60000;
  return 'badge sla' + (late ? ' sla-late' : soon ? ' sla-soon' : '');
}

// slaBadge is the SLA badge of a ticket, or null without clocks.
export function slaBadge(tk) {
  const s = tk && tk.sla;
  if (!s || !s.policy_id) return null;
  const due = nextDue(s);
  const breached = (s.breaches || []).length > 0;
  if (!due && !breached && !s.paused) return null;
  const el = h('span', { dataset: { due: due ? due.toISOString() : '', breached: breached ? '1' : '', paused: s.paused ? '1' : '' } });
  if (due) el.setAttribute('title', t('sla_due_at', { time: due.toLocaleString() }));
  el.className = badgeClass(el);
  el.textContent = badgeText(el);
  return el;
}

// The countdowns move on once every 20 seconds, on every badge shown.
let ticking = 0;
export function startCountdowns() {
  if (ticking) return;
  ticking = setInterval(() => {
    for (const el of document.querySelectorAll('.badge.sla')) {
      el.className = badgeClass(el);
      el.textContent = badgeText(el);
    }
  }, 20000);
}

function field(id, label, input, hint) {
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { class: 'hint' }, hint) : null);
}

function blocksText(list) {
  return (list || []).map((b) => b[0] + '-' + b[1]).join(', ');
}

function parseBlocks(s) {
  return s.split(',').map((x) => x.trim()).filter(Boolean).map((x) => x.split('-').map((y) => y.trim()));
}

function lines(s) {
  return s.split(/[\n,]/).map((x) => x.trim()).filter(Boolean);
}

async function hoursSection() {
  const st = h('p', { class: 'form-status', role: 'status' });
  const now = h('p', { class: 'muted' });
  const tz = h('input', { type: 'text', autocomplete: 'off' });
  const days = Object.fromEntries(DAYS.map((d) => [d, h('input', { type: 'text', autocomplete: 'off', placeholder: '08:00-17:00' })]));
  const holidays = h('input', { type: 'checkbox', id: 'bh-holidays' });
  const closed = h('textarea', { rows: '3' });
  const open = h('textarea', { rows: '2' });
  // Whose hours: the shop's, or a team's own (a team without them keeps
  // the shop's).
  const whose = h('select', null, h('option', { value: '' }, t('hours_of_shop')));
  try {
    for (const tm of (await get('/api/v1/teams')).teams || []) whose.append(h('option', { value: tm.id }, tm.name));
  } catch (err) {
    // Teams are optional here: the shop's hours still work.
  }
  const teamHint = h('p', { class: 'hint', hidden: true }, t('team_hours_hint'));
  const q = () => (whose.value ? '?team_id=' + encodeURIComponent(whose.value) : '');
  const form = h('form', { class: 'card', 'aria-labelledby': 'bh-h' },
    h('h3', { id: 'bh-h' }, t('business_hours')), now,
    whose.options.length > 1 ? field('bh-whose', t('hours_for'), whose) : null, teamHint,
    field('bh-tz', t('timezone'), tz),
    h('fieldset', null, h('legend', null, t('open_hours_per_day')),
      h('div', { class: 'field-row' }, DAYS.map((d) => field('bh-' + d, t('day_' + d), days[d])))),
    h('p', { class: 'hint' }, t('open_hours_hint')),
    h('div', { class: 'field check' }, holidays, h('label', { for: 'bh-holidays' }, t('swedish_holidays'))),
    field('bh-closed', t('closed_dates'), closed, t('dates_hint')),
    field('bh-open', t('open_dates'), open, t('dates_hint')),
    h('button', { type: 'submit', class: 'primary' }, t('save_business_hours')), st);

  async function status() {
    try {
      const s = await get('/api/v1/settings/business-hours/status' + q());
      now.textContent = s.open ? t('open_now') : t('closed_now', { time: s.next_open ? new Date(s.next_open).toLocaleString() : '—' });
    } catch (err) {
      now.textContent = '';
    }
  }
  function fill(v) {
    tz.value = v.timezone || 'Europe/Stockholm';
    for (const d of DAYS) days[d].value = blocksText((v.week || {})[d]);
    holidays.checked = v.holidays === 'SE';
    closed.value = (v.closed_dates || []).join('\n');
    open.value = (v.open_dates || []).join('\n');
  }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const week = {};
    for (const d of DAYS) week[d] = parseBlocks(days[d].value);
    try {
      fill(await put('/api/v1/settings/business-hours' + q(), {
        timezone: tz.value.trim(), week, holidays: holidays.checked ? 'SE' : '', closed_dates: lines(closed.value), open_dates: lines(open.value),
      }));
      st.textContent = t('saved');
      announce(t('saved'));
      status();
    } catch (err) {
      st.textContent = errorText(err);
    }
  });
  let loads = 0;
  async function load() {
    st.textContent = '';
    delete form.dataset.hoursOf;
    teamHint.hidden = !whose.value;
    const want = whose.value;
    const n = ++loads;
    try {
      const v = await get('/api/v1/settings/business-hours' + q());
      if (n !== loads) return; // picked again meanwhile: the later answer fills
      fill(v);
      form.dataset.hoursOf = want || 'shop';
    } catch (err) {
      st.textContent = errorText(err);
    }
    status();
  }
  whose.addEventListener('change', load);
  await load();
  return form;
}

// dur shows a Go duration without its zero tail: 1h0m0s → 1h.
function dur(d) {
  return d ? d.replace(/(\D)0s$/, '$1').replace(/(\D)0m$/, '$1') : '—';
}

function list(s) {
  return s.split(',').map((x) => x.trim()).filter(Boolean);
}

async function policiesSection() {
  const st = h('p', { class: 'form-status', role: 'status' });
  const tbody = h('tbody');
  const table = h('table', { class: 'policies' },
    h('caption', null, t('sla_policies')),
    h('thead', null, h('tr', null, [t('position'), t('name'), t('sla_match'), t('first_response'), t('next_response'),
      t('resolution'), t('business_hours'), t('actions')].map((c) => h('th', { scope: 'col' }, c)))),
    tbody);
  const inputs = {
    name: h('input', { type: 'text', required: true, autocomplete: 'off' }),
    priority: h('input', { type: 'text', autocomplete: 'off', placeholder: 'high, urgent' }),
    channel: h('input', { type: 'text', autocomplete: 'off', placeholder: 'chat, email, sms' }),
    tier: h('input', { type: 'text', autocomplete: 'off', placeholder: 'vip' }),
    first_response: h('input', { type: 'text', autocomplete: 'off', placeholder: '15m' }),
    next_response: h('input', { type: 'text', autocomplete: 'off', placeholder: '1h' }),
    resolution: h('input', { type: 'text', autocomplete: 'off', placeholder: '24h' }),
    position: h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'off' }),
  };
  const bh = h('input', { type: 'checkbox', id: 'pol-bh', checked: true });
  const form = h('form', { class: 'card', 'aria-labelledby': 'pol-h' },
    h('h3', { id: 'pol-h' }, t('add_sla_policy')),
    h('div', { class: 'field-row' },
      field('pol-name', t('name'), inputs.name), field('pol-position', t('position'), inputs.position)),
    h('div', { class: 'field-row' },
      field('pol-priority', t('match_priority'), inputs.priority), field('pol-channel', t('match_channel'), inputs.channel),
      field('pol-tier', t('match_tier'), inputs.tier)),
    h('div', { class: 'field-row' },
      field('pol-first', t('first_response'), inputs.first_response), field('pol-next', t('next_response'), inputs.next_response),
      field('pol-resolution', t('resolution'), inputs.resolution)),
    h('p', { class: 'hint' }, t('targets_hint')),
    h('div', { class: 'field check' }, bh, h('label', { for: 'pol-bh' }, t('count_business_hours'))),
    h('button', { type: 'submit', class: 'primary' }, t('add_sla_policy')), st);

  async function load() {
    let ps;
    try {
      ps = (await get('/api/v1/sla-policies')).policies;
    } catch (err) {
      st.textContent = errorText(err);
      return;
    }
    tbody.replaceChildren(...ps.map((p) => {
      const m = p.match || {};
      const match = ['priority', 'type', 'channel', 'tier', 'team_id'].filter((k) => (m[k] || []).length)
        .map((k) => k + ': ' + m[k].join(', ')).join('; ') || t('sla_all_tickets');
      const rm = h('button', { type: 'button', class: 'danger' }, t('delete'), h('span', { class: 'sr-only' }, ' ' + p.name));
      rm.addEventListener('click', async () => {
        try {
          await del('/api/v1/sla-policies/' + encodeURIComponent(p.id));
          announce(t('deleted_policy', { name: p.name }));
          await load();
        } catch (err) {
          st.textContent = errorText(err);
        }
      });
      return h('tr', null, h('td', null, String(p.position)), h('td', null, p.name), h('td', null, match),
        h('td', null, dur(p.first_response)), h('td', null, dur(p.next_response)), h('td', null, dur(p.resolution)),
        h('td', null, p.business_hours ? t('on') : t('off')), h('td', null, rm));
    }));
  }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { name: inputs.name.value, business_hours: bh.checked,
      match: { priority: list(inputs.priority.value), channel: list(inputs.channel.value), tier: list(inputs.tier.value) } };
    for (const k of ['first_response', 'next_response', 'resolution']) if (inputs[k].value.trim()) body[k] = inputs[k].value.trim();
    if (inputs.position.value !== '') body.position = Number(inputs.position.value);
    try {
      const res = await post('/api/v1/sla-policies', body);
      st.textContent = t('added_policy', { name: res.policy.name });
      announce(st.textContent);
      for (const i of Object.values(inputs)) i.value = '';
      await load();
    } catch (err) {
      st.textContent = errorText(err);
    }
  });
  await load();
  return h('div', null, form, table);
}

async function autoReplySection() {
  const st = h('p', { class: 'form-status', role: 'status' });
  const on = h('input', { type: 'checkbox', id: 'ar-on' });
  const en = h('textarea', { rows: '3' });
  const sv = h('textarea', { rows: '3' });
  const form = h('form', { class: 'card', 'aria-labelledby': 'ar-h' },
    h('h3', { id: 'ar-h' }, t('auto_reply')),
    h('p', { class: 'hint' }, t('auto_reply_hint')),
    h('div', { class: 'field check' }, on, h('label', { for: 'ar-on' }, t('auto_reply_enabled'))),
    field('ar-en', t('auto_reply_text_en'), en), field('ar-sv', t('auto_reply_text_sv'), sv),
    h('button', { type: 'submit', class: 'primary' }, t('save_auto_reply')), st);
  function fill(v) {
    on.checked = !!v.enabled;
    en.value = (v.text || {}).en || '';
    sv.value = (v.text || {}).sv || '';
  }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      fill(await put('/api/v1/settings/auto-reply', { enabled: on.checked, text: { en: en.value, sv: sv.value } }));
      st.textContent = t('saved');
      announce(t('saved'));
    } catch (err) {
      st.textContent = errorText(err);
    }
  });
  try {
    fill(await get('/api/v1/settings/auto-reply'));
  } catch (err) {
    st.textContent = errorText(err);
  }
  return form;
}

export async function renderServiceLevels(app, main) {
  const page = h('div', { class: 'page' }, h('h2', { tabindex: '-1' }, t('service_levels')));
  main.replaceChildren(page);
  page.append(await hoursSection(), await policiesSection(), await autoReplySection());
}
