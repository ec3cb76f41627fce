// Reports, for admins: a date range beside the period before it, charts
// drawn as inline SVG (no library), a table under every chart and a CSV
// download of every table. Figures come from GET /api/v1/reports/summary.

import { h, t } from './dom.js';
import { errorText, get } from './api.js';

const SVG = 'http://www.w3.org/2000/svg';

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) if (c != null) el.append(c);
  return el;
}

const day = (d) => d.toISOString().slice(0, 10);

function summaryURL(from, to, group, format) {
  const q = new URLSearchParams({ from, to, group_by: group });
  if (format) q.set('format', format);
  return '/api/v1/reports/summary?' + q;
}

const dur = (v) => {
  if (v == null) return '–';
  if (v < 60) return v + ' s';
  if (v < 3600) return Math.round(v / 60) + ' min';
  return (v / 3600).toFixed(1) + ' h';
};
const pct = (v) => (v == null ? '–' : Math.round(v * 100) + ' %');

// barChart draws created and solved per day; the table below it has the
// same numbers for screen readers and keyboards.
function barChart(id, rows) {
  const w = 640, ht = 180, pad = 24;
  const max = Math.max(1, ...rows.map((r) => Math.max(r.tickets_created, r.tickets_solved)));
  const bw = (w - pad) / Math.max(1, rows.length);
  const bars = [];
  rows.forEach((r, i) => {
    const x = pad + i * bw;
    const hc = ((ht - pad) * r.tickets_created) / max;
    const hs = ((ht - pad) * r.tickets_solved) / max;
    bars.push(s('rect', { class: 'bar-created', x: x + 1, y: ht - pad - hc, width: Math.max(1, bw / 2 - 1), height: hc },
      s('title', null, r.key + ': ' + t('report_created') + ' ' + r.tickets_created)));
    bars.push(s('rect', { class: 'bar-solved', x: x + bw / 2, y: ht - pad - hs, width: Math.max(1, bw / 2 - 1), height: hs },
      s('title', null, r.key + ': ' + t('report_solved') + ' ' + r.tickets_solved)));
  });
  const total = rows.reduce((a, r) => a + r.tickets_created, 0);
  return s('svg', { class: 'chart', viewBox: `0 0 ${w} ${ht}`, role: 'img', 'aria-labelledby': id + '-t ' + id + '-d' },
    s('title', { id: id + '-t' }, t('report_per_day')),
    s('desc', { id: id + '-d' }, t('report_per_day_desc', { n: total, days: rows.length })),
    s('line', { class: 'axis', x1: pad, y1: ht - pad, x2: w, y2: ht - pad }),
    s('text', { class: 'axis-label', x: 0, y: 12 }, String(max)),
    s('text', { class: 'axis-label', x: pad, y: ht - 6 }, rows.length ? rows[0].key : ''),
    s('text', { class: 'axis-label', x: w - 70, y: ht - 6 }, rows.length ? rows[rows.length - 1].key : ''),
    ...bars);
}

// hbars draws one horizontal bar per group (by channel, type, ...).
function hbars(id, title, rows) {
  const w = 640, rowH = 22;
  const max = Math.max(1, ...rows.map((r) => r.tickets_created));
  const ht = rowH * Math.max(1, rows.length);
  return s('svg', { class: 'chart', viewBox: `0 0 ${w} ${ht}`, role: 'img', 'aria-labelledby': id + '-t ' + id + '-d' },
    s('title', { id: id + '-t' }, title),
    s('desc', { id: id + '-d' }, rows.map((r) => (r.key || t('report_none')) + ': ' + r.tickets_created).join(', ')),
    ...rows.flatMap((r, i) => [
      s('text', { class: 'axis-label', x: 0, y: i * rowH + 15 }, r.key || t('report_none')),
      s('rect', { class: 'bar-created', x: 160, y: i * rowH + 4, width: Math.max(1, ((w - 200) * r.tickets_created) / max), height: rowH - 8 }),
      s('text', { class: 'axis-label', x: 165 + ((w - 200) * r.tickets_created) / max, y: i * rowH + 15 }, String(r.tickets_created)),
    ]));
}

const COLS = [
  ['tickets_created', 'report_created', String], ['tickets_solved', 'report_solved', String],
  ['messages_in', 'report_messages_in', String], ['messages_out', 'report_messages_out', String],
  ['first_response_p50_s', 'report_frt_p50', dur], ['first_response_p90_s', 'report_frt_p90', dur],
  ['resolution_p50_s', 'report_res_p50', dur], ['sla_met_ratio', 'report_sla', pct],
  ['csat_score', 'report_csat', pct], ['csat_responses', 'report_csat_n', String],
  ['returning_customers', 'report_returning', String],
];

function table(caption, keyHead, rows, names) {
  return h('div', { class: 'table-scroll' }, h('table', { class: 'report' },
    h('caption', null, caption),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, keyHead), ...COLS.map(([, k]) => h('th', { scope: 'col' }, t(k))))),
    h('tbody', null, ...rows.map((r) => h('tr', null,
      h('th', { scope: 'row' }, (names && names(r.key)) || r.key || t('report_none')),
      ...COLS.map(([f, , fmt]) => h('td', null, fmt(r[f]))))))));
}

function csvLink(url, name) {
  return h('a', { class: 'csv', href: url, download: name }, t('report_csv'));
}

const AGES = ['under_1h', '1h_4h', '4h_24h', '1d_3d', '3d_7d', 'over_7d'];

function backlogURL(group, format) {
  const q = new URLSearchParams({ group_by: group });
  if (format) q.set('format', format);
  return '/api/v1/reports/backlog?' + q;
}

// renderBacklog shows the open and pending tickets by age as they are
// now: the chart is drawn by the server (SVG, in the agent's language),
// the table beside it holds the same numbers, and the CSV downloads them.
function renderBacklog(app, section) {
  const sel = h('select', { id: 'backlog-group' },
    ...['none', 'team', 'channel'].map((g) => h('option', { value: g }, t('backlog_group_' + g))));
  const chart = h('div', { class: 'backlog-svg' });
  const rest = h('div');
  const status = h('p', { class: 'form-status', role: 'status' });
  const teamName = (id) => {
    const tm = (app.teams || []).find((x) => x.id === id);
    return tm ? tm.name : id;
  };
  async function load() {
    const group = sel.value;
    status.textContent = t('backlog_loading');
    try {
      const [data, res] = await Promise.all([get(backlogURL(group)),
        fetch(backlogURL(group, 'svg'), { credentials: 'same-origin' })]);
      if (!res.ok) throw new Error(res.statusText);
      const doc = new DOMParser().parseFromString(await res.text(), 'image/svg+xml');
      const svg = doc.documentElement;
      chart.replaceChildren(svg.nodeName === 'svg' ? document.importNode(svg, true) : '');
      const name = (k) => (group === 'none' ? t('backlog_all') : !k ? t('report_none')
        : group === 'channel' ? t('channel_' + k) : teamName(k));
      rest.replaceChildren(
        h('div', { class: 'table-scroll' }, h('table', { class: 'report backlog' },
          h('caption', null, t('backlog_title')),
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('backlog_key')),
            ...AGES.map((a) => h('th', { scope: 'col' }, t('backlog_age_' + a))), h('th', { scope: 'col' }, t('backlog_total')))),
          h('tbody', null, ...data.rows.map((r) => h('tr', null, h('th', { scope: 'row' }, name(r.key)),
            ...r.counts.map((n) => h('td', null, String(n))), h('td', null, String(r.total))))))),
        csvLink(backlogURL(group, 'csv'), 'svar-backlog-' + group + '.csv'));
      status.textContent = '';
    } catch (err) {
      status.textContent = errorText(err);
    }
  }
  sel.addEventListener('change', load);
  section.replaceChildren(h('h3', { id: 'backlog-h' }, t('backlog_title')),
    h('div', { class: 'field' }, h('label', { for: 'backlog-group' }, t('backlog_group')), sel), status, chart, rest);
  return load();
}

export async function renderReports(app, main) {
  const now = new Date();
  const params = new URLSearchParams(location.search);
  const to = params.get('to') || day(now);
  const from = params.get('from') || day(new Date(now.getTime() - 29 * 86400000));
  const fromIn = h('input', { id: 'rep-from', type: 'date', value: from, required: true });
  const toIn = h('input', { id: 'rep-to', type: 'date', value: to, required: true });
  const status = h('p', { class: 'form-status', role: 'status' });
  const body = h('div', { class: 'report-body' });
  const backlog = h('section', { class: 'backlog', 'aria-labelledby': 'backlog-h' });
  const form = h('form', { class: 'card report-range' },
    h('div', { class: 'field-row' },
      h('div', { class: 'field' }, h('label', { for: 'rep-from' }, t('report_from')), fromIn),
      h('div', { class: 'field' }, h('label', { for: 'rep-to' }, t('report_to')), toIn)),
    h('button', { type: 'submit', class: 'primary' }, t('report_show')), status);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    history.replaceState(null, '', '/reports?' + new URLSearchParams({ from: fromIn.value, to: toIn.value }));
    load(fromIn.value, toIn.value);
  });
  main.replaceChildren(h('section', { class: 'page reports', 'aria-labelledby': 'reports-h' },
    h('h2', { id: 'reports-h', tabindex: '-1' }, t('reports')), backlog, form, body));
  renderBacklog(app, backlog);

  const agentName = (id) => (id && app.agents.get(id) ? app.agents.get(id).name || app.agents.get(id).email : null);

  async function load(f, tt) {
    status.textContent = t('report_loading');
    const a = new Date(f + 'T00:00:00'), b = new Date(tt + 'T00:00:00');
    const days = Math.round((b - a) / 86400000) + 1;
    const pf = day(new Date(a.getTime() - days * 86400000)), pt = day(new Date(a.getTime() - 86400000));
    try {
      const [cur, prev, byDay, byCh, byType, byTeam, byAgent] = await Promise.all([
        get(summaryURL(f, tt, 'none')), get(summaryURL(pf, pt, 'none')), get(summaryURL(f, tt, 'day')),
        get(summaryURL(f, tt, 'channel')), get(summaryURL(f, tt, 'type')), get(summaryURL(f, tt, 'team')),
        get(summaryURL(f, tt, 'agent'))]);
      const c = cur.rows[0] || {}, p = prev.rows[0] || {};
      const rate = (r) => (r.tickets_solved ? r.csat_responses / r.tickets_solved : null);
      const share = (r) => (r.tickets_created ? r.returning_customers / r.tickets_created : null);
      const kpis = [
        ['report_created', c.tickets_created, p.tickets_created, String], ['report_solved', c.tickets_solved, p.tickets_solved, String],
        ['report_frt_p50', c.first_response_p50_s, p.first_response_p50_s, dur], ['report_frt_p90', c.first_response_p90_s, p.first_response_p90_s, dur],
        ['report_res_p50', c.resolution_p50_s, p.resolution_p50_s, dur], ['report_sla', c.sla_met_ratio, p.sla_met_ratio, pct],
        ['report_csat', c.csat_score, p.csat_score, pct], ['report_csat_rate', rate(c), rate(p), pct],
        ['report_returning_share', share(c), share(p), pct],
      ];
      const groups = [
        ['channel', t('report_by_channel'), byCh.rows, null], ['type', t('report_by_type'), byType.rows, null],
        ['team', t('report_by_team'), byTeam.rows, null], ['agent', t('report_by_agent'), byAgent.rows, agentName],
      ];
      body.replaceChildren(
        h('div', { class: 'table-scroll' }, h('table', { class: 'report kpis' },
          h('caption', null, t('report_overview', { from: f, to: tt, pfrom: pf, pto: pt })),
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('report_metric')),
            h('th', { scope: 'col' }, t('report_this_period')), h('th', { scope: 'col' }, t('report_previous_period')))),
          h('tbody', null, ...kpis.map(([k, v, pv, fmt]) => h('tr', null, h('th', { scope: 'row' }, t(k)),
            h('td', null, v == null ? '–' : fmt(v)), h('td', null, pv == null ? '–' : fmt(pv))))))),
        csvLink(summaryURL(f, tt, 'none', 'csv'), 'svar-report.csv'),
        h('h3', null, t('report_per_day')), barChart('chart-day', byDay.rows),
        h('p', { class: 'legend' }, h('span', { class: 'key-created' }, t('report_created')), ' ', h('span', { class: 'key-solved' }, t('report_solved'))),
        table(t('report_per_day'), t('report_day'), byDay.rows), csvLink(summaryURL(f, tt, 'day', 'csv'), 'svar-report-day.csv'),
        ...groups.flatMap(([g, title, rows, names]) => [
          h('h3', null, title), hbars('chart-' + g, title, rows),
          table(title, t('report_group_' + g), rows, names), csvLink(summaryURL(f, tt, g, 'csv'), 'svar-report-' + g + '.csv')]));
      status.textContent = '';
    } catch (err) {
      status.textContent = errorText(err);
    }
  }
  await load(from, to);
}
