// Agents, for admins: invite with a one-time password, deactivate (which
// signs the agent out everywhere at once), reactivate, reset two-factor.

import { announce, h, t } from './dom.js';
import { errorText, get, patch, post } from './api.js';
import { confirmAction } from './confirm.js';

// csatText is an agent's satisfaction figure (GET /api/v1/agents?include=csat),
// or '' when the list came without it.
export function csatText(a) {
  if (!a || !a.csat) return '';
  const v = a.csat.responses ? t('agent_csat_value', { score: Math.round((a.csat.score || 0) * 100), n: a.csat.responses }) : t('agent_csat_none');
  return t('agent_csat') + ': ' + v;
}

export async function renderAgents(app, main) {
  const tbody = h('tbody');
  const st = h('p', { class: 'form-status', role: 'status' });
  const table = h('table', { class: 'agents' },
    h('caption', { class: 'sr-only' }, t('agents')),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, t('name')), h('th', { scope: 'col' }, t('email')), h('th', { scope: 'col' }, t('role')),
      h('th', { scope: 'col' }, t('teams')), h('th', { scope: 'col' }, t('capacity')), h('th', { scope: 'col' }, t('agent_status')), h('th', { scope: 'col' }, t('agent_csat')), h('th', { scope: 'col' }, t('two_factor')), h('th', { scope: 'col' }, t('actions')))),
    tbody);

  const name = h('input', { id: 'inv-name', type: 'text', autocomplete: 'off', required: true });
  const email = h('input', { id: 'inv-email', type: 'email', autocomplete: 'off', required: true });
  const role = h('select', { id: 'inv-role' }, h('option', { value: 'agent' }, t('role_agent')), h('option', { value: 'admin' }, t('role_admin')), h('option', { value: 'viewer' }, t('role_viewer')));
  const lang = h('select', { id: 'inv-lang' }, h('option', { value: 'en' }, 'English'), h('option', { value: 'sv' }, 'Svenska'));
  const result = h('div', { class: 'invite-result', role: 'status' });
  const form = h('form', { class: 'card invite' },
    h('h3', null, t('invite_agent')),
    h('div', { class: 'field-row' },
      h('div', { class: 'field' }, h('label', { for: 'inv-name' }, t('name')), name),
      h('div', { class: 'field' }, h('label', { for: 'inv-email' }, t('email')), email),
      h('div', { class: 'field' }, h('label', { for: 'inv-role' }, t('role')), role),
      h('div', { class: 'field' }, h('label', { for: 'inv-lang' }, t('language')), lang)),
    h('button', { type: 'submit', class: 'primary' }, t('invite')),
    result);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const res = await post('/api/v1/agents', { name: name.value, email: email.value, role: role.value, language: lang.value });
      result.replaceChildren(
        h('p', null, t('invited', { name: res.agent.name })),
        h('p', null, t('one_time_password'), ' ', h('code', { class: 'secret' }, res.password)),
        h('p', { class: 'hint' }, t('one_time_password_hint')));
      name.value = '';
      email.value = '';
      await load();
    } catch (err) {
      result.replaceChildren(h('p', { class: 'error' }, errorText(err)));
    }
  });

  // act sends a change; a failure (such as demoting the last admin) is
  // shown next to the control in errEl, or in the page status.
  async function act(agent, change, doneText, errEl) {
    if (errEl) errEl.textContent = '';
    try {
      await patch('/api/v1/agents/' + encodeURIComponent(agent.id), change);
      announce(doneText);
      st.textContent = doneText;
      await load();
      return true;
    } catch (err) {
      (errEl || st).textContent = errorText(err);
      return false;
    }
  }

  let teams = [];

  async function load() {
    let agents;
    try {
      agents = (await get('/api/v1/agents?include=csat')).agents;
    } catch (err) {
      st.textContent = errorText(err);
      return;
    }
    app.agents = new Map(agents.map((a) => [a.id, a]));
    try {
      teams = (await get('/api/v1/teams')).teams;
    } catch (err) {
      teams = [];
    }
    tbody.replaceChildren(...agents.map((a) => {
      const self = a.id === app.me.id;
      const actions = [];
      const who = a.name || a.email;
      const rowErr = h('p', { class: 'error', role: 'alert', id: 'ag-err-' + a.id });
      let roleCell = t('role_' + a.role);
      if (!self) {
        const rs = h('select', { id: 'ag-role-' + a.id, 'aria-label': t('role_of', { name: who }), 'aria-describedby': 'ag-err-' + a.id },
          ['admin', 'agent', 'viewer'].map((r) => h('option', { value: r, selected: r === a.role }, t('role_' + r))));
        rs.addEventListener('change', async () => {
          const to = rs.value;
          if (a.role === 'admin' && to !== 'admin' && !await confirmAction(t('confirm_demote', { name: who, role: t('role_' + to) }), t('change_role'))) {
            rs.value = a.role;
            return;
          }
          if (!await act(a, { role: to }, t('role_changed', { name: who, role: t('role_' + to) }), rowErr)) rs.value = a.role;
        });
        roleCell = rs;
      }
      const teamBoxes = teams.map((tm) => {
        const id = 'ag-team-' + a.id + '-' + tm.id;
        const box = h('input', { type: 'checkbox', id, checked: (a.team_ids || []).includes(tm.id) });
        box.addEventListener('change', async () => {
          const ids = new Set(a.team_ids || []);
          if (box.checked) ids.add(tm.id);
          else {
            if (!await confirmAction(t('confirm_remove_member', { name: who, team: tm.name }), t('remove'))) {
              box.checked = true;
              return;
            }
            ids.delete(tm.id);
          }
          act(a, { team_ids: [...ids] }, t('teams_saved', { name: who }), rowErr);
        });
        return h('div', { class: 'check' }, box, h('label', { for: id }, tm.name));
      });
      const teamCell = teams.length
        ? h('fieldset', { class: 'team-boxes' }, h('legend', { class: 'sr-only' }, t('teams_of', { name: who })), teamBoxes)
        : h('span', { class: 'muted' }, t('no_teams'));
      const cap = h('input', { type: 'number', min: '0', max: '1000', id: 'ag-cap-' + a.id, value: String(a.capacity ?? 10), class: 'capacity', 'aria-label': t('capacity_of', { name: who }), 'aria-describedby': 'ag-err-' + a.id });
      cap.addEventListener('change', () => {
        const n = Number(cap.value);
        act(a, { capacity: Number.isFinite(n) ? Math.trunc(n) : -1 }, t('capacity_saved', { name: who, n: cap.value }), rowErr);
      });
      if (!self) {
        const toggle = h('button', { type: 'button', class: a.active ? 'danger' : 'secondary' },
          a.active ? t('deactivate') : t('reactivate'), h('span', { class: 'sr-only' }, ' ' + (a.name || a.email)));
        toggle.addEventListener('click', async () => {
          if (a.active && !await confirmAction(t('confirm_deactivate', { name: a.name || a.email }), t('deactivate'))) return;
          act(a, { active: !a.active }, t(a.active ? 'deactivated' : 'reactivated', { name: a.name || a.email }), rowErr);
        });
        actions.push(toggle);
      }
      if (a.totp_enabled && !self) {
        const reset = h('button', { type: 'button', class: 'secondary' }, t('reset_two_factor'), h('span', { class: 'sr-only' }, ' ' + (a.name || a.email)));
        reset.addEventListener('click', () => act(a, { reset_totp: true }, t('two_factor_reset', { name: a.name || a.email })));
        actions.push(reset);
      }
      return h('tr', { class: a.active ? '' : 'inactive' },
        h('td', null, a.name || ''), h('td', null, a.email), h('td', null, roleCell), h('td', null, teamCell), h('td', null, cap),
        h('td', null, a.active ? t('active') : t('inactive')),
        h('td', { class: 'agent-csat' }, a.csat && a.csat.responses ? t('agent_csat_value', { score: Math.round((a.csat.score || 0) * 100), n: a.csat.responses }) : t('agent_csat_none')),
        h('td', null, a.totp_enabled ? t('on') : t('off')),
        h('td', null, h('div', { class: 'actions' }, actions), rowErr));
    }));
  }

  main.replaceChildren(h('div', { class: 'page' }, h('h2', { tabindex: '-1' }, t('agents')), h('p', null, h('a', { href: '/teams' }, t('teams')), ' · ', h('a', { href: '/routing' }, t('routing'))), form, st, table));
  await load();
}
