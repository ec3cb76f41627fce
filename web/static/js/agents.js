// Agents, for admins: invite with a one-time password, deactivate (which
// signs the agent out everywhere at once), reactivate, reset two-factor.

import { announce, h, t } from './dom.js';
import { errorText, get, patch, post } from './api.js';

export async function renderAgents(app, main) {
  const tbody = h('tbody');
  const st = h('p', { class: 'form-status', role: 'status' });
  const table = h('table', { class: 'agents' },
    h('caption', { class: 'sr-only' }, t('agents')),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, t('name')), h('th', { scope: 'col' }, t('email')), h('th', { scope: 'col' }, t('role')),
      h('th', { scope: 'col' }, t('agent_status')), h('th', { scope: 'col' }, t('two_factor')), h('th', { scope: 'col' }, t('actions')))),
    tbody);

  const name = h('input', { id: 'inv-name', type: 'text', autocomplete: 'off', required: true });
  const email = h('input', { id: 'inv-email', type: 'email', autocomplete: 'off', required: true });
  const role = h('select', { id: 'inv-role' }, h('option', { value: 'agent' }, t('role_agent')), h('option', { value: 'admin' }, t('role_admin')));
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

  async function act(agent, change, doneText) {
    try {
      await patch('/api/v1/agents/' + encodeURIComponent(agent.id), change);
      announce(doneText);
      st.textContent = doneText;
      await load();
    } catch (err) {
      st.textContent = errorText(err);
    }
  }

  async function load() {
    let agents;
    try {
      agents = (await get('/api/v1/agents')).agents;
    } catch (err) {
      st.textContent = errorText(err);
      return;
    }
    app.agents = new Map(agents.map((a) => [a.id, a]));
    tbody.replaceChildren(...agents.map((a) => {
      const self = a.id === app.me.id;
      const actions = [];
      if (!self) {
        const toggle = h('button', { type: 'button', class: a.active ? 'danger' : 'secondary' },
          a.active ? t('deactivate') : t('reactivate'), h('span', { class: 'sr-only' }, ' ' + (a.name || a.email)));
        toggle.addEventListener('click', () => act(a, { active: !a.active },
          t(a.active ? 'deactivated' : 'reactivated', { name: a.name || a.email })));
        actions.push(toggle);
      }
      if (a.totp_enabled && !self) {
        const reset = h('button', { type: 'button', class: 'secondary' }, t('reset_two_factor'), h('span', { class: 'sr-only' }, ' ' + (a.name || a.email)));
        reset.addEventListener('click', () => act(a, { reset_totp: true }, t('two_factor_reset', { name: a.name || a.email })));
        actions.push(reset);
      }
      return h('tr', { class: a.active ? '' : 'inactive' },
        h('td', null, a.name || ''), h('td', null, a.email), h('td', null, t('role_' + a.role)),
        h('td', null, a.active ? t('active') : t('inactive')),
        h('td', null, a.totp_enabled ? t('on') : t('off')),
        h('td', null, h('div', { class: 'actions' }, actions)));
    }));
  }

  main.replaceChildren(h('div', { class: 'page' }, h('h2', { tabindex: '-1' }, t('agents')), form, st, table));
  await load();
}
