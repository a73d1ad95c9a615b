// Accounts and users from the Lua runtime (fixtures/account): nk.account_*
// and nk.users_get_* return Nakama's Lua shapes (user_id, times as unix
// seconds, metadata and wallet tables, the User flattened into the Account),
// updates and deletes show through nakama-js, and bad input raises.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './harness.mjs';
import { newUser } from './rtutil.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const MODULES = path.join(here, 'fixtures', 'account');

let srv;
before(async () => {
  srv = await startServer({ args: ['--runtime.path', MODULES] });
});
after(async () => { await srv?.cleanup(); });

const rpc = async (u, id, obj) => (await u.client.rpc(u.session, id, obj)).payload;

test('account_get_id and accounts_get_id: the Account shape', async () => {
  const a = await newUser(srv, 'ac');
  const b = await newUser(srv, 'ac');
  const acc = await rpc(a, 'account_get_id', { user_id: a.userId });
  assert.equal(acc.user_id, a.userId);
  assert.equal(acc.username, a.username);
  assert.equal(acc.user.user_id, a.userId);
  assert.equal(acc.user.username, a.username);
  assert.equal(typeof acc.create_time, 'number');
  assert.ok(acc.user.create_time > 1.6e9 && acc.user.create_time < 1e10, 'seconds');
  assert.deepEqual(acc.metadata, {});
  assert.deepEqual(acc.wallet, {});
  assert.equal(acc.devices.length, 1);
  assert.ok(acc.devices[0].id.startsWith('dev-'));
  const many = await rpc(a, 'accounts_get_id',
    { ids: [a.userId, b.userId, '00000000-0000-0000-0000-00000000abcd'] });
  assert.deepEqual(many.map((x) => x.user_id).sort(), [a.userId, b.userId].sort());
  const missing = await rpc(a, 'try',
    { fn: 'account_get_id', user_id: '00000000-0000-0000-0000-00000000abcd' });
  assert.equal(missing.ok, false);
  assert.match(missing.err, /error getting account: Account not found/);
  const bad = await rpc(a, 'try', { fn: 'account_get_bad' });
  assert.equal(bad.ok, false);
  assert.match(bad.err, /UUID/);
});

test('account_update_id: fields and metadata show through the client; "" clears', async () => {
  const a = await newUser(srv, 'au');
  const b = await newUser(srv, 'au');
  await rpc(a, 'account_update_id', { user_id: a.userId, metadata: { level: 3, tag: 'x' },
    display_name: 'Dee', location: 'Here', lang_tag: 'fr' });
  let acc = await a.client.getAccount(a.session);
  assert.equal(acc.user.display_name, 'Dee');
  assert.equal(acc.user.location, 'Here');
  assert.equal(acc.user.lang_tag, 'fr');
  assert.deepEqual(JSON.parse(acc.user.metadata), { level: 3, tag: 'x' });
  const lua = await rpc(a, 'account_get_id', { user_id: a.userId });
  assert.deepEqual(lua.metadata, { level: 3, tag: 'x' });
  await rpc(a, 'account_update_id', { user_id: a.userId, location: '' });
  acc = await a.client.getAccount(a.session);
  assert.equal(acc.user.location, undefined);
  assert.equal(acc.user.display_name, 'Dee', 'nil leaves a field unchanged');
  // nothing given is a no-op, not an error
  await rpc(a, 'account_update_id', { user_id: a.userId });
  const taken = await rpc(a, 'try', { fn: 'update_taken', user_id: a.userId,
    username: b.username });
  assert.equal(taken.ok, false);
  assert.match(taken.err, /Username is already in use/);
});

test('users_get_id / users_get_username: User shape, unknown ones left out', async () => {
  const a = await newUser(srv, 'ug');
  const b = await newUser(srv, 'ug');
  const byId = await rpc(a, 'users_get_id',
    { ids: [a.userId, '00000000-0000-0000-0000-00000000abcd'] });
  assert.equal(byId.length, 1);
  assert.equal(byId[0].user_id, a.userId);
  assert.equal(byId[0].username, a.username);
  assert.equal(typeof byId[0].edge_count, 'number');
  assert.equal(byId[0].online, false);
  const byName = await rpc(a, 'users_get_username', { usernames: [a.username, b.username] });
  assert.deepEqual(byName.map((u) => u.user_id).sort(), [a.userId, b.userId].sort());
  const bad = await rpc(a, 'try', { fn: 'users_get_bad' });
  assert.equal(bad.ok, false);
});

test('users_ban_id / users_unban_id: a banned user is refused, unbanned may log in again', async () => {
  const a = await newUser(srv, 'bn');
  const v = await newUser(srv, 'bn');
  const device = 'dev-ban-' + a.userId;
  await a.client.linkDevice(a.session, { id: device });
  await rpc(v, 'users_ban_id', { ids: [a.userId] });
  await assert.rejects(a.client.getAccount(a.session), 'the old token is revoked');
  await assert.rejects(a.client.authenticateDevice(device, false), 'banned');
  const acc = await rpc(v, 'account_get_id', { user_id: a.userId });
  assert.equal(typeof acc.disable_time, 'number');
  await rpc(v, 'users_unban_id', { ids: [a.userId] });
  const s = await a.client.authenticateDevice(device, false);
  assert.equal(s.user_id, a.userId);
});

test('account_delete_id: the account is gone for clients and the runtime', async () => {
  const a = await newUser(srv, 'ad');
  const v = await newUser(srv, 'ad');
  await rpc(v, 'account_delete_id', { user_id: a.userId });
  const users = await rpc(v, 'users_get_id', { ids: [a.userId] });
  assert.equal(Object.keys(users).length, 0, 'an empty table (json_encode: {})');
  await assert.rejects(a.client.getAccount(a.session));
});
