// Friends and groups from the Lua runtime (fixtures/social): what a module
// does through nk.friends_* and nk.group*_* is what clients see through
// nakama-js, Nakama's Lua shapes (user_id, times as unix seconds, metadata
// tables), the system acting for a user or as superadmin, and errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './harness.mjs';
import { newUser } from './rtutil.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const MODULES = path.join(here, 'fixtures', 'social');

let srv;
before(async () => {
  srv = await startServer({ args: ['--runtime.path', MODULES] });
});
after(async () => { await srv?.cleanup(); });

const rpc = async (u, id, obj) => (await u.client.rpc(u.session, id, obj)).payload;

test('friends_add / list / block / delete from Lua show through the client', async () => {
  const a = await newUser(srv, 'fa');
  const b = await newUser(srv, 'fb');
  const c = await newUser(srv, 'fc');
  await rpc(a, 'friends_add', { user_id: a.userId, username: a.username, ids: [b.userId],
    usernames: [c.username] });
  const la = await a.client.listFriends(a.session);
  assert.deepEqual(la.friends.map((f) => f.user.id).sort(), [b.userId, c.userId].sort());
  assert.ok(la.friends.every((f) => f.state === 1), 'invites sent');
  const lb = await b.client.listFriends(b.session);
  assert.equal(lb.friends[0].user.id, a.userId);
  assert.equal(lb.friends[0].state, 2);
  // b accepts from Lua: mutual
  await rpc(b, 'friends_add', { user_id: b.userId, ids: [a.userId] });
  const mine = await rpc(a, 'friends_list', { user_id: a.userId, state: 0 });
  assert.equal(mine.friends.length, 1);
  const f = mine.friends[0];
  assert.equal(f.state, 0);
  assert.equal(f.user.user_id, b.userId);
  assert.equal(f.user.username, b.username);
  assert.equal(typeof f.user.create_time, 'number');
  assert.equal(typeof f.update_time, 'number');
  assert.ok(f.update_time > 1.6e9 && f.update_time < 1e10, 'seconds');
  assert.deepEqual(f.user.metadata, {});
  assert.equal(f.user.online, false);
  const page = await rpc(a, 'friends_list', { user_id: a.userId, limit: 1 });
  assert.equal(page.friends.length, 1);
  assert.ok(page.cursor);
  const rest = await rpc(a, 'friends_list', { user_id: a.userId, limit: 1, cursor: page.cursor });
  assert.equal(rest.friends.length, 1);
  assert.notEqual(rest.friends[0].user.user_id, page.friends[0].user.user_id);
  await rpc(a, 'friends_block', { user_id: a.userId, ids: [c.userId] });
  const blocked = await a.client.listFriends(a.session, 3);
  assert.deepEqual(blocked.friends.map((x) => x.user.id), [c.userId]);
  await rpc(a, 'friends_delete', { user_id: a.userId, ids: [b.userId, c.userId] });
  const none = await a.client.listFriends(a.session);
  assert.equal((none.friends || []).length, 0);
  const self = await rpc(a, 'try', { fn: 'friends_add_self', user_id: a.userId,
    username: a.username });
  assert.equal(self.ok, false);
  assert.match(self.err, /Cannot add self as friend/);
  const lim = await rpc(a, 'try', { fn: 'friends_list_limit', user_id: a.userId });
  assert.equal(lim.ok, false);
  assert.match(lim.err, /limit/);
});

test('groups from Lua: create, get, update, list, members, delete', async () => {
  const owner = await newUser(srv, 'go');
  const m = await newUser(srv, 'gm');
  const j = await newUser(srv, 'gj');
  const name = 'lua-group-' + owner.username;
  const g = await rpc(owner, 'group_create', { user_id: owner.userId, name, lang: 'fr',
    description: 'from lua', open: true, metadata: { tier: 2 }, max_count: 10 });
  assert.equal(g.name, name);
  assert.equal(g.creator_id, owner.userId);
  assert.equal(g.lang_tag, 'fr');
  assert.equal(g.open, true);
  assert.equal(g.max_count, 10);
  assert.equal(g.edge_count, 1);
  assert.deepEqual(g.metadata, { tier: 2 });
  assert.equal(typeof g.create_time, 'number');
  const listed = await m.client.listGroups(m.session, name);
  assert.equal(listed.groups.length, 1);
  assert.equal(listed.groups[0].id, g.id);
  assert.equal(listed.groups[0].description, 'from lua');
  const dup = await rpc(owner, 'try', { fn: 'group_create_dup', user_id: owner.userId, name });
  assert.equal(dup.ok, false);
  assert.match(dup.err, /name is in use|already exists|in use/i);

  const got = await rpc(owner, 'groups_get_id', { ids: [g.id] });
  assert.equal(got.length, 1);
  assert.equal(got[0].id, g.id);
  const up = await rpc(owner, 'group_update', { group_id: g.id, description: 'changed',
    metadata: { tier: 3 } });
  assert.equal(up.description, 'changed');
  assert.equal(up.name, name, 'an empty name leaves it');
  assert.deepEqual(up.metadata, { tier: 3 });

  // the system adds m; j joins (open group) from Lua
  await rpc(owner, 'group_users', { op: 'add', group_id: g.id, user_ids: [m.userId] });
  await rpc(owner, 'group_join', { group_id: g.id, user_id: j.userId, username: j.username });
  const users = await owner.client.listGroupUsers(owner.session, g.id);
  assert.equal(users.group_users.length, 3);
  await rpc(owner, 'group_users', { op: 'promote', group_id: g.id, user_ids: [m.userId],
    caller_id: owner.userId });
  const lu = await rpc(owner, 'group_users_list', { group_id: g.id });
  const byId = Object.fromEntries(lu.users.map((x) => [x.user.user_id, x.state]));
  assert.deepEqual(byId, { [owner.userId]: 0, [m.userId]: 1, [j.userId]: 2 });
  await rpc(owner, 'group_users', { op: 'kick', group_id: g.id, user_ids: [j.userId] });
  const ug = await rpc(m, 'user_groups_list', { user_id: m.userId });
  assert.equal(ug.groups.length, 1);
  assert.equal(ug.groups[0].group.id, g.id);
  assert.equal(ug.groups[0].state, 1);
  assert.equal(ug.groups[0].group.edge_count, 2);
  const jg = await j.client.listUserGroups(j.session, j.userId);
  assert.equal((jg.user_groups || []).length, 0, 'kicked');
  await rpc(owner, 'group_join', { group_id: g.id, user_id: m.userId, username: m.username,
    leave: true });
  const after1 = await rpc(owner, 'group_users_list', { group_id: g.id });
  assert.deepEqual(after1.users.map((x) => x.user.user_id), [owner.userId]);

  const gl = await rpc(owner, 'groups_list', { name, limit: 10 });
  assert.equal(gl.groups.length, 1);
  assert.equal(gl.groups[0].id, g.id);

  const bad = await rpc(owner, 'try', { fn: 'group_delete_bad' });
  assert.equal(bad.ok, false);
  await rpc(owner, 'group_delete', { group_id: g.id });
  const gone = await m.client.listGroups(m.session, name);
  assert.equal((gone.groups || []).length, 0);
  assert.deepEqual(await rpc(owner, 'groups_get_id', { ids: [g.id] }), {});
});
