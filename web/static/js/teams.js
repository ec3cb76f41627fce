// Teams and routing, for admins. Teams: create, rename, auto-assign and
// visible-to-all, members (added and removed through each agent's
// team_ids). Routing: rules on channel, type, tier and words that give a
// new ticket its team, and the default team.

import { announce, h, t } from './dom.js';
import { errorText, get, patch, post, put } from './api.js';
import { confirmAction } from './confirm.js';

const agentLabel = (a) => a.name || a.email;

export async function renderTeams(app, main) {
  const list = h('div', { class: 'teams' });
  const st = h('p', { class: 'form-status', role: 'status' });
  const name = h('input', { id: 'team-name', type: 'text', autocomplete: 'off', required: true });
  const auto = h('input', { id: 'team-auto', type: 'checkbox' });
  const all = h('input', { id: 'team-all', type: 'checkbox' });
  const err = h('p', { class: 'error', id: 'team-err', role: 'alert' });
  const form = h('form', { class: 'card' },
    h('h3', null, t('create_team')),
    h('div', { class: 'field' }, h('label', { for: 'team-name' }, t('team_name')), name),
    h('div', { class: 'check' }, auto, h('label', { for: 'team-auto' }, t('auto_assign'))),
    h('div', { class: 'check' }, all, h('label', { for: 'team-all' }, t('visible_to_all'))),
    h('button', { type: 'submit', class: 'primary' }, t('create_team')), err);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      const res = await post('/api/v1/teams', { name: name.value.trim(), auto_assign: auto.checked, visible_to_all: all.checked });
      name.value = '';
      announce(t('team_created', { name: res.team.name }));
      st.textContent = t('team_created', { name: res.team.name });
      await load();
    } catch (e2) {
      err.textContent = errorText(e2);
    }
  });

  async function setMembership(agent, teamID, member, errEl) {
    const ids = new Set(agent.team_ids || []);
    if (member) ids.add(teamID);
    else ids.delete(teamID);
    try {
      await patch('/api/v1/agents/' + encodeURIComponent(agent.id), { team_ids: [...ids] });
      return true;
    } catch (e) {
      errEl.textContent = errorText(e);
      return false;
    }
  }

  function teamCard(tm, agents) {
    const id = tm.id;
    const rn = h('input', { id: 'tn-' + id, type: 'text', value: tm.name, autocomplete: 'off', class: 'team-rename' });
    const au = h('input', { id: 'ta-' + id, type: 'checkbox', checked: tm.auto_assign });
    const va = h('input', { id: 'tv-' + id, type: 'checkbox', checked: tm.visible_to_all });
    const e1 = h('p', { class: 'error', role: 'alert' });
    const save = h('button', { type: 'button', class: 'secondary' }, t('save'), h('span', { class: 'sr-only' }, ' ' + tm.name));
    save.addEventListener('click', async () => {
      e1.textContent = '';
      try {
        await patch('/api/v1/teams/' + encodeURIComponent(id), { name: rn.value.trim(), auto_assign: au.checked, visible_to_all: va.checked });
        announce(t('team_saved', { name: rn.value.trim() }));
        st.textContent = t('team_saved', { name: rn.value.trim() });
        await load();
      } catch (e) {
        e1.textContent = errorText(e);
      }
    });
    const members = agents.filter((a) => (a.team_ids || []).includes(id));
    const others = agents.filter((a) => a.active && !(a.team_ids || []).includes(id));
    const e2 = h('p', { class: 'error', role: 'alert' });
    const memberList = h('ul', { class: 'members', 'aria-label': t('members_of', { name: tm.name }) }, members.map((a) => {
      const rm = h('button', { type: 'button', class: 'danger small' }, t('remove'), h('span', { class: 'sr-only' }, ' ' + agentLabel(a)));
      rm.addEventListener('click', async () => {
        if (!await confirmAction(t('confirm_remove_member', { name: agentLabel(a), team: tm.name }), t('remove'))) return;
        if (await setMembership(a, id, false, e2)) {
          announce(t('member_removed', { name: agentLabel(a), team: tm.name }));
          await load();
        }
      });
      return h('li', null, h('span', null, agentLabel(a)), ' ', rm);
    }));
    const pick = h('select', { id: 'tadd-' + id }, h('option', { value: '' }, t('choose_agent')),
      others.map((a) => h('option', { value: a.id }, agentLabel(a))));
    const add = h('button', { type: 'button', class: 'secondary' }, t('add_member'), h('span', { class: 'sr-only' }, ' ' + tm.name));
    add.addEventListener('click', async () => {
      e2.textContent = '';
      const a = agents.find((x) => x.id === pick.value);
      if (!a) {
        e2.textContent = t('choose_agent_first');
        pick.focus();
        return;
      }
      if (await setMembership(a, id, true, e2)) {
        announce(t('member_added', { name: agentLabel(a), team: tm.name }));
        await load();
      }
    });
    return h('section', { class: 'card team', 'aria-labelledby': 'th-' + id, dataset: { team: id } },
      h('h3', { id: 'th-' + id }, tm.name),
      h('div', { class: 'field' }, h('label', { for: 'tn-' + id }, t('team_name')), rn),
      h('div', { class: 'check' }, au, h('label', { for: 'ta-' + id }, t('auto_assign'))),
      h('div', { class: 'check' }, va, h('label', { for: 'tv-' + id }, t('visible_to_all'))),
      save, e1,
      h('h4', null, t('members')),
      members.length ? memberList : h('p', { class: 'muted' }, t('no_members')),
      h('div', { class: 'field-row' },
        h('div', { class: 'field' }, h('label', { for: 'tadd-' + id }, t('add_member')), pick), add),
      e2);
  }

  async function load() {
    let teams, agents;
    try {
      [teams, agents] = await Promise.all([get('/api/v1/teams'), get('/api/v1/agents')]);
    } catch (e) {
      st.textContent = errorText(e);
      return;
    }
    agents = agents.agents;
    app.agents = new Map(agents.map((a) => [a.id, a]));
    app.teams = teams.teams;
    list.replaceChildren(...(teams.teams.length ? teams.teams.map((tm) => teamCard(tm, agents)) : [h('p', { class: 'muted' }, t('no_teams'))]));
  }

  main.replaceChildren(h('div', { class: 'page' }, h('h2', { tabindex: '-1' }, t('teams')),
    h('p', null, h('a', { href: '/routing' }, t('routing'))), form, st, list));
  await load();
}

const CHANNELS = ['', 'email', 'chat', 'sms'];
const TYPES = ['', 'question', 'order', 'delivery', 'return', 'complaint'];

export async function renderRouting(app, main) {
  const st = h('p', { class: 'form-status', role: 'status' });
  const err = h('p', { class: 'error', role: 'alert', id: 'routing-err' });
  const rows = h('div', { class: 'rules' });
  let teams = [];
  let data = { rules: [], default_team_id: '' };
  try {
    [teams, data] = await Promise.all([get('/api/v1/teams').then((r) => r.teams), get('/api/v1/routing')]);
  } catch (e) {
    main.replaceChildren(h('div', { class: 'page' }, h('h2', { tabindex: '-1' }, t('routing')), h('p', { class: 'error' }, errorText(e))));
    return;
  }
  const teamOptions = (cur, none) => [h('option', { value: '' }, none), teams.map((tm) => h('option', { value: tm.id, selected: tm.id === cur }, tm.name))];
  let n = 0;
  function rule(r) {
    const i = n++;
    const ch = h('select', { id: 'rc-' + i }, CHANNELS.map((c) => h('option', { value: c, selected: c === (r.channel || '') }, c ? t('channel_' + c) : t('any'))));
    const ty = h('select', { id: 'rt-' + i }, [...new Set([...TYPES, r.type || ''])].map((c) => h('option', { value: c, selected: c === (r.type || '') }, c ? t('type_' + c) : t('any'))));
    const ti = h('input', { id: 'rr-' + i, type: 'text', value: r.tier || '', autocomplete: 'off' });
    const wo = h('input', { id: 'rw-' + i, type: 'text', value: (r.words || []).join(', '), autocomplete: 'off' });
    const tm = h('select', { id: 'rm-' + i }, teamOptions(r.team_id || '', t('choose_team')));
    const rm = h('button', { type: 'button', class: 'danger small' }, t('remove_rule'));
    const el = h('fieldset', { class: 'card rule' }, h('legend', null, t('rule_n', { n: i + 1 })),
      h('div', { class: 'field-row' },
        h('div', { class: 'field' }, h('label', { for: 'rc-' + i }, t('channel')), ch),
        h('div', { class: 'field' }, h('label', { for: 'rt-' + i }, t('type')), ty),
        h('div', { class: 'field' }, h('label', { for: 'rr-' + i }, t('tier')), ti),
        h('div', { class: 'field' }, h('label', { for: 'rw-' + i }, t('rule_words')), wo),
        h('div', { class: 'field' }, h('label', { for: 'rm-' + i }, t('team')), tm)),
      rm);
    el.read = () => ({ channel: ch.value, type: ty.value, tier: ti.value.trim(),
      words: wo.value.split(',').map((w) => w.trim()).filter(Boolean), team_id: tm.value });
    rm.addEventListener('click', () => {
      el.remove();
      announce(t('rule_removed'));
    });
    return el;
  }
  rows.append(...(data.rules || []).map(rule));
  const addBtn = h('button', { type: 'button', class: 'secondary' }, t('add_rule'));
  addBtn.addEventListener('click', () => {
    const el = rule({});
    rows.append(el);
    el.querySelector('select').focus();
  });
  const def = h('select', { id: 'routing-default' }, teamOptions(data.default_team_id || '', t('no_team')));
  const form = h('form', { class: 'routing' }, rows, addBtn,
    h('div', { class: 'field' }, h('label', { for: 'routing-default' }, t('default_team')), def),
    h('button', { type: 'submit', class: 'primary' }, t('save_routing')), err);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      await put('/api/v1/routing', { rules: [...rows.children].map((el) => el.read()), default_team_id: def.value });
      st.textContent = t('routing_saved');
      announce(t('routing_saved'));
    } catch (e2) {
      err.textContent = errorText(e2);
    }
  });
  main.replaceChildren(h('div', { class: 'page' }, h('h2', { tabindex: '-1' }, t('routing')),
    h('p', { class: 'hint' }, t('routing_hint')), form, st));
}
