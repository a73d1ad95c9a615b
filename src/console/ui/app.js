// tomo console: a small single-page UI over the console API (/v2/console).
// No framework, no build step; served from the binary. Every value from the
// server is put in the page as text (never as HTML).
'use strict';

const state = { token: sessionStorage.getItem('tomo.console.token') || '' };

// ---- DOM helpers ----
function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids.flat()) {
    if (k === undefined || k === null || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}
const $ = (sel) => document.querySelector(sel);
const main = () => $('#main');
function show(...nodes) { main().replaceChildren(...nodes); }
function flash(msg, bad) {
  const f = $('#flash');
  f.textContent = msg;
  f.className = 'flash' + (bad ? ' bad' : '');
  clearTimeout(flash.t);
  flash.t = setTimeout(() => f.classList.add('hidden'), 4000);
}
const fmtTime = (t) => (t ? new Date(t).toLocaleString() : '');
const enc = encodeURIComponent;

// ---- API ----
class ApiError extends Error {
  constructor(status, body) { super(body && body.message ? body.message : `HTTP ${status}`); this.status = status; this.body = body; }
}
async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (state.token) opts.headers.Authorization = 'Bearer ' + state.token;
  if (body !== undefined) { opts.headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(body); }
  const res = await fetch('/v2/console' + path, opts);
  let data = null;
  const text = await res.text();
  try { data = text ? JSON.parse(text) : {}; } catch { data = { message: text }; }
  if (res.status === 401 && path !== '/authenticate') { logout(); throw new ApiError(401, data); }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}
const qs = (o) => { const p = Object.entries(o).filter(([, v]) => v !== undefined && v !== null && v !== ''); return p.length ? '?' + p.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&') : ''; };

// ---- login ----
function logout() {
  if (state.token) fetch('/v2/console/authenticate/logout', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token: state.token }) }).catch(() => {});
  state.token = '';
  sessionStorage.removeItem('tomo.console.token');
  $('#app').classList.add('hidden');
  $('#login').classList.remove('hidden');
}
function tokenUser() {
  try { return JSON.parse(atob(state.token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).usn; } catch { return ''; }
}
async function login(ev) {
  ev.preventDefault();
  $('#login-error').textContent = '';
  try {
    const r = await api('POST', '/authenticate', { username: $('#login-username').value, password: $('#login-password').value });
    state.token = r.token;
    sessionStorage.setItem('tomo.console.token', r.token);
    enter();
  } catch (e) {
    $('#login-error').textContent = e.status === 429 ? 'Too many attempts, wait a moment.' : (e.message || 'Login failed.');
  }
}
function enter() {
  $('#login').classList.add('hidden');
  $('#app').classList.remove('hidden');
  $('#whoami').textContent = tokenUser();
  if (!location.hash || location.hash === '#/') location.hash = '#/status';
  else route();
}

// ---- tables with paging ----
// cols: [[title, row => value]]; opts.onRow(row); load(cursor) -> {rows, next}
function pagedTable(id, cols, load, opts = {}) {
  const wrap = h('div', { id });
  const stack = [];  // cursors of earlier pages
  let cursor = '';
  async function render() {
    let page;
    try { page = await load(cursor); } catch (e) { wrap.replaceChildren(h('p', { class: 'error' }, e.message)); return; }
    const body = h('tbody', {}, page.rows.length ? page.rows.map((r) => h('tr', { class: opts.onRow ? 'clickable' : '', 'data-id': opts.rowId ? opts.rowId(r) : undefined, onclick: opts.onRow ? () => opts.onRow(r) : undefined },
      cols.map(([, f]) => h('td', {}, f(r))))) : [h('tr', {}, h('td', { colspan: cols.length }, 'Nothing found.'))]);
    const table = h('table', {}, h('thead', {}, h('tr', {}, cols.map(([t]) => h('th', {}, t)))), body);
    const prev = h('button', { class: 'secondary', disabled: !stack.length, onclick: () => { cursor = stack.pop(); render(); } }, 'Previous');
    const next = h('button', { class: 'secondary', id: id + '-next', disabled: !page.next, onclick: () => { stack.push(cursor); cursor = page.next; render(); } }, 'Next');
    wrap.replaceChildren(table, h('div', { class: 'pager' }, prev, next, page.total !== undefined ? h('span', {}, `${page.total} total`) : null));
  }
  wrap.reload = () => { stack.length = 0; cursor = ''; render(); };
  render();
  return wrap;
}
// A client-side paged table for lists the API returns whole.
function localTable(id, cols, rows, opts = {}) {
  const size = 20;
  return pagedTable(id, cols, async (c) => {
    const start = Number(c || 0);
    return { rows: rows.slice(start, start + size), next: start + size < rows.length ? String(start + size) : '', total: rows.length };
  }, opts);
}
function kv(obj) {
  return h('dl', { class: 'kv' }, Object.entries(obj).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v))]));
}

// ---- pages ----
async function pageStatus() {
  const s = await api('GET', '/status');
  show(h('h2', {}, 'Status'),
    h('table', { id: 'status-table' }, h('thead', {}, h('tr', {}, ['Node', 'Health', 'Sessions', 'Presences', 'Matches', 'Threads'].map((t) => h('th', {}, t)))),
      h('tbody', {}, s.nodes.map((n) => h('tr', {}, h('td', {}, n.name), h('td', {}, n.health === 0 ? 'OK' : String(n.health)), h('td', { class: 'sessions' }, n.session_count), h('td', {}, n.presence_count), h('td', {}, n.match_count), h('td', {}, n.goroutine_count))))),
    h('p', {}, `Version ${s.server_version || ''}, up ${s.uptime_sec || 0} s, as of ${fmtTime(s.timestamp)}.`));
}

function userCells(u) { return [u.username, u.display_name || '', u.online ? h('span', { class: 'badge online' }, 'online') : '']; }

async function pageAccounts() {
  const filter = h('input', { id: 'account-filter', placeholder: 'user id, username (% wildcard), email, custom or device id' });
  let table;
  const search = h('button', { id: 'account-search', type: 'submit' }, 'Search');
  const form = h('form', { class: 'toolbar', onsubmit: (e) => { e.preventDefault(); table.reload(); } }, h('label', {}, 'Filter', filter), search);
  table = pagedTable('accounts-table', [['ID', (u) => u.id], ['Username', (u) => u.username], ['Display name', (u) => u.display_name || ''], ['Online', (u) => (u.online ? 'yes' : '')], ['Created', (u) => fmtTime(u.create_time)]],
    async (cursor) => { const r = await api('GET', '/account' + qs({ filter: filter.value, cursor })); return { rows: r.users || [], next: r.next_cursor, total: r.total_count }; },
    { onRow: (u) => { location.hash = '#/accounts/' + u.id; }, rowId: (u) => u.id });
  show(h('h2', {}, 'Accounts'), form, table);
}

async function pageAccount(id) {
  const r = await api('GET', '/account/' + enc(id));
  const a = r.account || {};
  const u = a.user || {};
  const banned = !!r.disable_time;
  const fields = ['username', 'display_name', 'avatar_url', 'lang_tag', 'location', 'timezone'];
  const inputs = Object.fromEntries(fields.map((f) => [f, h('input', { id: 'edit-' + f, value: u[f] || '' })]));
  const meta = h('textarea', { id: 'edit-metadata' }, u.metadata || '{}');
  const act = async (what, fn) => { try { await fn(); flash(what); route(); } catch (e) { flash(e.message, true); } };
  const save = h('button', { id: 'account-save', onclick: () => act('Account saved.', () => {
    const body = {};
    for (const f of fields) if ((inputs[f].value || '') !== (u[f] || '')) body[f] = inputs[f].value;
    if (meta.value !== (u.metadata || '{}')) body.metadata = meta.value;
    return api('POST', '/account/' + enc(id), body);
  }) }, 'Save');
  const ban = banned
    ? h('button', { id: 'unban-button', class: 'secondary', onclick: () => act('Account unbanned.', () => api('POST', `/account/${enc(id)}/unban`)) }, 'Unban')
    : h('button', { id: 'ban-button', class: 'danger', onclick: () => act('Account banned.', () => api('POST', `/account/${enc(id)}/ban`)) }, 'Ban');
  const del = h('button', { id: 'delete-button', class: 'danger', onclick: async () => {
    if (!confirm('Delete this account and everything it owns?')) return;
    try { await api('DELETE', '/account/' + enc(id)); flash('Account deleted.'); location.hash = '#/accounts'; } catch (e) { flash(e.message, true); }
  } }, 'Delete');
  const exp = h('button', { id: 'export-button', class: 'secondary', onclick: async () => {
    try {
      const x = await api('GET', `/account/${enc(id)}/export`);
      const link = h('a', { href: URL.createObjectURL(new Blob([JSON.stringify(x, null, 2)], { type: 'application/json' })), download: `${id}.json` });
      document.body.append(link); link.click(); link.remove();
    } catch (e) { flash(e.message, true); }
  } }, 'Export JSON');
  const devices = (a.devices || []).map((d) => h('li', {}, d.id, ' ', h('button', { class: 'secondary', onclick: () => act('Device unlinked.', () => api('POST', `/account/${enc(id)}/unlink/device`, { device_id: d.id })) }, 'Unlink')));
  const unlinkBtn = (kind, label, present) => present ? h('button', { class: 'secondary', onclick: () => act(label + ' unlinked.', () => api('POST', `/account/${enc(id)}/unlink/${kind}`)) }, 'Unlink ' + label) : null;
  const friends = h('div', { id: 'friends' }, 'Loading…');
  const groups = h('div', { id: 'groups' }, 'Loading…');
  const wallet = h('div', { id: 'wallet' });
  show(h('h2', {}, 'Account ', u.username || id, ' ', banned ? h('span', { class: 'badge banned', id: 'banned-badge' }, 'banned') : null, u.online ? h('span', { class: 'badge online' }, 'online') : null),
    h('div', { class: 'actions' }, ban, exp, del, unlinkBtn('custom', 'custom ID', a.custom_id), unlinkBtn('email', 'email', a.email)),
    h('div', { class: 'grid2' },
      h('div', { class: 'card' }, h('h3', {}, 'Details'), kv({ id: u.id, custom_id: a.custom_id, email: a.email, wallet: a.wallet, create_time: fmtTime(u.create_time), update_time: fmtTime(u.update_time), verify_time: fmtTime(a.verify_time), disable_time: fmtTime(r.disable_time) }),
        h('h3', {}, 'Devices'), devices.length ? h('ul', {}, devices) : h('p', {}, 'None.')),
      h('div', { class: 'card' }, h('h3', {}, 'Profile'), fields.map((f) => h('label', {}, f, inputs[f])), h('label', {}, 'metadata', meta), h('div', { class: 'actions' }, save))),
    h('div', { class: 'grid2' }, h('div', { class: 'card' }, h('h3', {}, 'Friends'), friends), h('div', { class: 'card' }, h('h3', {}, 'Groups'), groups)),
    h('div', { class: 'card' }, h('h3', {}, 'Wallet ledger'), wallet),
    h('div', { class: 'card' }, h('h3', {}, 'Storage'), h('p', {}, h('a', { href: '#/storage?user_id=' + enc(id) }, 'Objects owned by this user'))));
  const states = ['friend', 'invite sent', 'invite received', 'blocked'];
  api('GET', `/account/${enc(id)}/friend`).then((f) => friends.replaceChildren(localTable('friends-table', [['Username', (x) => x.user.username], ['State', (x) => states[x.state || 0]], ['', (x) => h('button', { class: 'secondary', onclick: (e) => { e.stopPropagation(); act('Friend removed.', () => api('DELETE', `/account/${enc(id)}/friend/${enc(x.user.id)}`)); } }, 'Remove')]],
    f.friends || [], { onRow: (x) => { location.hash = '#/accounts/' + x.user.id; } }))).catch((e) => friends.replaceChildren(e.message));
  const gstates = ['superadmin', 'admin', 'member', 'join request'];
  api('GET', `/account/${enc(id)}/group`).then((g) => groups.replaceChildren(localTable('groups-table', [['Group', (x) => x.group.name], ['State', (x) => gstates[x.state || 0]], ['', (x) => h('button', { class: 'secondary', onclick: () => act('Removed from group.', () => api('DELETE', `/account/${enc(id)}/group/${enc(x.group.id)}`)) }, 'Remove')]],
    g.user_groups || []))).catch((e) => groups.replaceChildren(e.message));
  wallet.replaceChildren(pagedTable('wallet-table', [['Changeset', (x) => x.changeset], ['Metadata', (x) => x.metadata], ['Time', (x) => fmtTime(x.create_time)]],
    async (cursor) => { const w = await api('GET', `/account/${enc(id)}/wallet` + qs({ cursor })); return { rows: w.items || [], next: w.next_cursor }; }));
}

async function pageStorage(params) {
  const f = { collection: h('input', { id: 'storage-collection', value: params.get('collection') || '' }), key: h('input', { id: 'storage-key', value: params.get('key') || '', placeholder: 'exact, or prefix%' }), user_id: h('input', { id: 'storage-user', value: params.get('user_id') || '' }) };
  const cols = await api('GET', '/storage/collections').catch(() => ({ collections: [] }));
  const list = h('datalist', { id: 'collections' }, (cols.collections || []).map((c) => h('option', { value: c })));
  f.collection.setAttribute('list', 'collections');
  let table;
  const form = h('form', { class: 'toolbar', onsubmit: (e) => { e.preventDefault(); table.reload(); } },
    h('label', {}, 'Collection', f.collection), h('label', {}, 'Key', f.key), h('label', {}, 'Owner', f.user_id), h('button', { id: 'storage-search', type: 'submit' }, 'Search'), list);
  table = pagedTable('storage-table', [['Collection', (o) => o.collection], ['Key', (o) => o.key], ['Owner', (o) => o.user_id], ['Version', (o) => o.version], ['Updated', (o) => fmtTime(o.update_time)]],
    async (cursor) => { const r = await api('GET', '/storage' + qs({ collection: f.collection.value, key: f.key.value, user_id: f.user_id.value, cursor })); return { rows: r.objects || [], next: r.next_cursor, total: r.total_count }; },
    { onRow: (o) => { location.hash = `#/storage/${enc(o.collection)}/${enc(o.key)}/${enc(o.user_id)}`; }, rowId: (o) => `${o.collection}/${o.key}/${o.user_id}` });
  show(h('h2', {}, 'Storage'), form, table);
}

async function pageStorageObject(c, k, u) {
  const path = `/storage/${enc(c)}/${enc(k)}/${enc(u)}`;
  const o = await api('GET', path);
  const value = h('textarea', { id: 'storage-value' }, JSON.stringify(JSON.parse(o.value || '{}'), null, 2));
  const pr = h('select', { id: 'storage-read' }, [0, 1, 2].map((v) => h('option', { value: v, selected: (o.permission_read || 0) === v }, ['0 no read', '1 owner read', '2 public read'][v])));
  const pw = h('select', { id: 'storage-write' }, [0, 1].map((v) => h('option', { value: v, selected: (o.permission_write || 0) === v }, ['0 no write', '1 owner write'][v])));
  const save = h('button', { id: 'storage-save', onclick: async () => {
    let v;
    try { v = JSON.stringify(JSON.parse(value.value)); } catch { flash('The value is not valid JSON.', true); return; }
    try { await api('PUT', path, { value: v, version: o.version, permission_read: Number(pr.value), permission_write: Number(pw.value) }); flash('Object saved.'); route(); } catch (e) { flash(e.message, true); }
  } }, 'Save');
  const del = h('button', { id: 'storage-delete', class: 'danger', onclick: async () => {
    if (!confirm('Delete this object?')) return;
    try { await api('DELETE', path); flash('Object deleted.'); location.hash = '#/storage?collection=' + enc(c); } catch (e) { flash(e.message, true); }
  } }, 'Delete');
  show(h('h2', {}, `Storage ${c} / ${k}`), h('div', { class: 'card' }, kv({ collection: c, key: k, owner: u, version: o.version, create_time: fmtTime(o.create_time), update_time: fmtTime(o.update_time) }),
    h('div', { class: 'toolbar' }, h('label', {}, 'Read', pr), h('label', {}, 'Write', pw)), h('label', {}, 'Value', value), h('div', { class: 'actions' }, save, del)));
}

async function pageGroups() {
  const filter = h('input', { id: 'group-filter', placeholder: 'name (% wildcard)' });
  let table;
  const form = h('form', { class: 'toolbar', onsubmit: (e) => { e.preventDefault(); table.reload(); } }, h('label', {}, 'Name', filter), h('button', { type: 'submit' }, 'Search'));
  table = pagedTable('groups-list', [['Name', (g) => g.name], ['Members', (g) => `${g.edge_count || 0}/${g.max_count || 0}`], ['Open', (g) => (g.open ? 'yes' : 'no')], ['ID', (g) => g.id]],
    async (cursor) => { const r = await api('GET', '/group' + qs({ filter: filter.value, cursor })); return { rows: r.groups || [], next: r.cursor }; },
    { onRow: (g) => { location.hash = '#/groups/' + g.id; } });
  show(h('h2', {}, 'Groups'), form, table);
}

async function pageGroup(id) {
  const g = await api('GET', '/group/' + enc(id));
  const m = await api('GET', `/group/${enc(id)}/member`);
  const gstates = ['superadmin', 'admin', 'member', 'join request'];
  show(h('h2', {}, 'Group ', g.name), h('div', { class: 'card' }, kv(g)),
    h('div', { class: 'card' }, h('h3', {}, 'Members'), localTable('members-table', [['Username', (x) => x.user.username], ['State', (x) => gstates[x.state || 0]]], m.group_users || [], { onRow: (x) => { location.hash = '#/accounts/' + x.user.id; } })));
}

async function pageMatches() {
  const r = await api('GET', '/match');
  show(h('h2', {}, 'Matches'), localTable('matches-table', [['Match ID', (m) => m.api_match.match_id], ['Authoritative', (m) => (m.api_match.authoritative ? 'yes' : 'no')], ['Label', (m) => m.api_match.label || ''], ['Size', (m) => m.api_match.size || 0], ['Node', (m) => m.node]], r.matches || [],
    { onRow: (m) => { if (m.api_match.authoritative) location.hash = '#/matches/' + enc(m.api_match.match_id); } }));
}

// An authoritative match's state: its presences, tick and the handler's state.
async function pageMatch(id) {
  const r = await api('GET', `/match/${enc(id)}/state`);
  let st = r.state || '';
  try { st = JSON.stringify(JSON.parse(st), null, 2); } catch { /* not JSON: shown as it is */ }
  show(h('h2', {}, 'Match ', id), h('div', { class: 'card' }, kv({ tick: r.tick || '0', presences: (r.presences || []).length })),
    h('div', { class: 'card' }, h('h3', {}, 'Presences'), localTable('match-presences', [['Username', (p) => p.username], ['User ID', (p) => p.user_id], ['Session', (p) => p.session_id], ['Node', (p) => p.node]], r.presences || [])),
    h('div', { class: 'card' }, h('h3', {}, 'State'), h('pre', { id: 'match-state' }, st)));
}

async function pageLeaderboards() {
  const r = await api('GET', '/leaderboard');
  show(h('h2', {}, 'Leaderboards'), localTable('leaderboards-table', [['ID', (b) => b.id], ['Tournament', (b) => (b.tournament ? 'yes' : 'no')], ['Sort', (b) => (b.sort_order === 0 ? 'asc' : 'desc')], ['Operator', (b) => ['best', 'set', 'incr', 'decr'][b.operator] || b.operator], ['Reset', (b) => b.reset_schedule], ['Authoritative', (b) => (b.authoritative ? 'yes' : 'no')]],
    r.leaderboards || [], { onRow: (b) => { location.hash = '#/leaderboards/' + enc(b.id); } }));
}

async function pageLeaderboard(id) {
  const b = await api('GET', '/leaderboard/' + enc(id));
  const table = pagedTable('records-table', [['Rank', (x) => x.rank], ['Owner', (x) => x.username || x.owner_id], ['Score', (x) => x.score || '0'], ['Subscore', (x) => x.subscore || '0'], ['Updated', (x) => fmtTime(x.update_time)],
    ['', (x) => h('button', { class: 'secondary', onclick: async (e) => { e.stopPropagation(); try { await api('DELETE', `/leaderboard/${enc(id)}/owner/${enc(x.owner_id)}`); flash('Record deleted.'); table.reload(); } catch (err) { flash(err.message, true); } } }, 'Delete')]],
    async (cursor) => { const r = await api('GET', `/leaderboard/${enc(id)}/records` + qs({ cursor })); return { rows: r.records || [], next: r.next_cursor }; });
  show(h('h2', {}, 'Leaderboard ', id), h('div', { class: 'card' }, kv(b)), h('div', { class: 'card' }, h('h3', {}, 'Records'), table));
}

async function pageRuntime() {
  const r = await api('GET', '/runtime');
  const rpcs = r.lua_rpc_functions || [];
  const method = h('select', { id: 'rpc-method' }, rpcs.map((id) => h('option', { value: id }, id)));
  const user = h('input', { id: 'rpc-user', placeholder: 'user id (optional)' });
  const payload = h('textarea', { id: 'rpc-body' }, '');
  const result = h('pre', { id: 'rpc-result' });
  const call = h('button', { id: 'rpc-call', disabled: !rpcs.length, onclick: async () => {
    try { const x = await api('POST', '/api/endpoints/rpc/' + enc(method.value), { body: payload.value, user_id: user.value }); result.textContent = x.error_message ? 'Error: ' + x.error_message : x.body; } catch (e) { result.textContent = 'Error: ' + e.message; }
  } }, 'Call');
  show(h('h2', {}, 'Runtime'), h('div', { class: 'grid2' },
    h('div', { class: 'card' }, h('h3', {}, 'Lua modules'), localTable('modules-table', [['Path', (m) => m.path], ['Modified', (m) => fmtTime(m.mod_time)]], r.lua_modules || [])),
    h('div', { class: 'card' }, h('h3', {}, 'RPC functions'), rpcs.length ? h('ul', {}, rpcs.map((id) => h('li', {}, id))) : h('p', {}, 'None registered.'))),
    h('div', { class: 'card' }, h('h3', {}, 'API explorer'), h('div', { class: 'toolbar' }, h('label', {}, 'RPC', method), h('label', {}, 'As user', user)), h('label', {}, 'Payload', payload), h('div', { class: 'actions' }, call), result));
}

async function pageConfig() {
  const r = await api('GET', '/config');
  show(h('h2', {}, 'Configuration'), r.warnings && r.warnings.length ? h('div', { class: 'card' }, h('h3', {}, 'Warnings'), h('ul', {}, r.warnings.map((w) => h('li', {}, `${w.field}: ${w.message}`)))) : null,
    h('pre', { id: 'config-json' }, JSON.stringify(JSON.parse(r.config), null, 2)));
}

// ---- routing ----
async function route() {
  if (!state.token) return logout();
  const [path, query] = (location.hash.slice(1) || '/status').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query || '');
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === parts[0]);
  main().replaceChildren(h('p', {}, 'Loading…'));
  try {
    switch (parts[0]) {
      case 'accounts': return parts[1] ? await pageAccount(parts[1]) : await pageAccounts();
      case 'storage': return parts.length === 4 ? await pageStorageObject(parts[1], parts[2], parts[3]) : await pageStorage(params);
      case 'groups': return parts[1] ? await pageGroup(parts[1]) : await pageGroups();
      case 'matches': return parts[1] ? await pageMatch(parts[1]) : await pageMatches();
      case 'leaderboards': return parts[1] ? await pageLeaderboard(parts[1]) : await pageLeaderboards();
      case 'runtime': return await pageRuntime();
      case 'config': return await pageConfig();
      default: return await pageStatus();
    }
  } catch (e) {
    show(h('p', { class: 'error' }, e.message));
  }
}

window.addEventListener('hashchange', route);
document.addEventListener('DOMContentLoaded', () => {
  $('#login-form').addEventListener('submit', login);
  $('#logout').addEventListener('click', logout);
  if (state.token) enter(); else logout();
});
