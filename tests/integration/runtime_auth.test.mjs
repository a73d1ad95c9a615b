// Authentication from the Lua runtime (fixtures/nkcall): nk.authenticate_*
// find or create the same accounts the REST API does (checked by logging in
// with nakama-js), authenticate_token_generate makes a session token the
// API accepts, link_* / unlink_* change how an account can log in; errors
// carry the REST API's messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Session } from '@heroiclabs/nakama-js';
import { uid } from './harness.mjs';
import { newUser, nkcallSuite } from './rtutil.mjs';

const suite = nkcallSuite();
const { ok, fails } = suite;

test('authenticate_device: creates, finds again, honours create=false', async () => {
  const dev = 'lua-dev-' + uid();
  const [id, name, created] = await ok('authenticate_device', dev, 'luadev' + uid().slice(0, 8));
  assert.equal(created, true);
  assert.ok(name.startsWith('luadev'));
  const again = await ok('authenticate_device', dev);
  assert.deepEqual(again, [id, name, false]);
  const s = await suite.srv.client().authenticateDevice(dev, false);
  assert.equal(s.user_id, id);
  await fails('authenticate_device', /error authenticating: User account not found/,
    'lua-dev-' + uid(), '', false);
  await fails('authenticate_device', /Device ID invalid, must be 10-128 bytes/, 'short');
  const [, generated] = await ok('authenticate_device', 'lua-dev-' + uid());
  assert.match(generated, /^[A-Za-z]{10}$/);
});

test('authenticate_custom and authenticate_email: same accounts as the API', async () => {
  const cid = 'lua-cus-' + uid();
  const [cuser, , ccreated] = await ok('authenticate_custom', cid);
  assert.equal(ccreated, true);
  assert.equal((await suite.srv.client().authenticateCustom(cid, false)).user_id, cuser);
  await fails('authenticate_custom', /Custom ID invalid, must be 6-128 bytes/, 'abc');

  const email = `Lua.${uid()}@Example.com`;
  const uname = 'luaem' + uid().slice(0, 8);
  const [euser, ename, ecreated] = await ok('authenticate_email', email, 'password-1', uname);
  assert.deepEqual([ename, ecreated], [uname, true]);
  const s = await suite.srv.client().authenticateEmail(email.toLowerCase(), 'password-1', false);
  assert.equal(s.user_id, euser);
  assert.deepEqual(await ok('authenticate_email', email, 'password-1'), [euser, uname, false]);
  // login by username (email ""), never creating
  assert.deepEqual(await ok('authenticate_email', '', 'password-1', uname), [euser, uname, false]);
  await fails('authenticate_email', /Invalid credentials/, email, 'wrong-password');
  await fails('authenticate_email', /Password must be at least 8 characters/, email, 'short');
  await fails('authenticate_email', /Username is required/, '', 'password-1');
});

test('authenticate_token_generate: the token works with the API, with exp and vars', async () => {
  const u = await newUser(suite.srv, 'tok');
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const [token, gotExp] = await ok('authenticate_token_generate', u.userId, u.username, exp,
    { tier: 'gold' });
  assert.equal(gotExp, exp);
  const s = Session.restore(token, '');
  assert.equal(s.user_id, u.userId);
  assert.equal(s.username, u.username);
  assert.deepEqual(s.vars, { tier: 'gold' });
  assert.equal(s.expires_at, exp);
  const acc = await u.client.getAccount(s);
  assert.equal(acc.user.id, u.userId);
  const [t2, exp2] = await ok('authenticate_token_generate', u.userId, u.username);
  assert.ok(exp2 > Date.now() / 1000);
  assert.equal(Session.restore(t2, '').user_id, u.userId);
  await fails('authenticate_token_generate', /UUID|user id/i, 'nope', 'x');
  await fails('authenticate_token_generate', /vars values must be strings/, u.userId, 'x', 0,
    { n: 1 });
});

test('link_* / unlink_*: the account logs in with what was linked, until unlinked', async () => {
  const u = await newUser(suite.srv, 'lnk');
  const other = await newUser(suite.srv, 'lnk');
  const dev = 'lua-link-' + uid();
  const cid = 'lua-cid-' + uid();
  const email = `link.${uid()}@example.com`;
  assert.deepEqual(await ok('link_device', u.userId, dev), {}, 'no results');
  await ok('link_custom', u.userId, cid);
  await ok('link_email', u.userId, email, 'password-2');
  const c = suite.srv.client();
  assert.equal((await c.authenticateDevice(dev, false)).user_id, u.userId);
  assert.equal((await c.authenticateCustom(cid, false)).user_id, u.userId);
  assert.equal((await c.authenticateEmail(email, 'password-2', false)).user_id, u.userId);
  await fails('link_device', /error linking: Device ID already in use/, other.userId, dev);
  await fails('link_custom', /Custom ID is already in use/, other.userId, cid);
  await fails('link_email', /Email is already in use/, other.userId, email, 'password-3');
  await fails('link_email', /Password must be at least 8/, other.userId, 'x' + email, 'short');

  await ok('unlink_device', u.userId, dev);
  await ok('unlink_custom', u.userId);
  await ok('unlink_email', u.userId, email);
  await assert.rejects(c.authenticateDevice(dev, false));
  await assert.rejects(c.authenticateCustom(cid, false));
  await assert.rejects(c.authenticateEmail(email, 'password-2', false));
  // the last way to log in stays
  const solo = await ok('authenticate_custom', 'lua-solo-' + uid());
  await fails('unlink_custom', /error unlinking: Cannot unlink last account identifier/,
    solo[0]);
});
