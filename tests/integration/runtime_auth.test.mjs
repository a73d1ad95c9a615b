// Authentication from the Lua runtime (fixtures/nkcall): nk.authenticate_*
// find or create the same accounts the REST API does (checked by logging in
// with nakama-js), authenticate_token_generate makes a session token the
// API accepts, link_* / unlink_* change how an account can log in; errors
// carry the REST API's messages. The social providers answer as REST does:
// Facebook Instant Games verified, Apple and Steam not configured, the
// vendor-only ones not implemented.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Session } from '@heroiclabs/nakama-js';
import { uid } from './harness.mjs';
import { newUser, nkcallSuite, fbigSignedInfo } from './rtutil.mjs';

const FBIG_SECRET = 'lua-fbig-secret';
const suite = nkcallSuite(['--social.facebook_instant_game.app_secret', FBIG_SECRET]);
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

test('social providers: Facebook Instant Games works; the others refuse as REST does', async () => {
  const player = 'lua-fbig-' + uid();
  const info = fbigSignedInfo(player, FBIG_SECRET);
  const [id, , created] = await ok('authenticate_facebook_instant_game', info);
  assert.equal(created, true);
  assert.deepEqual(await ok('authenticate_facebook_instant_game', info, null, false),
    [id, (await ok('account_get_id', id))[0].username, false]);
  const s = await suite.srv.client().authenticateFacebookInstantGame(info, false);
  assert.equal(s.user_id, id);
  await fails('authenticate_facebook_instant_game',
    /error authenticating: Error extracting the Facebook Instant Game player ID/,
    fbigSignedInfo(player, 'wrong-secret'));
  await fails('authenticate_facebook_instant_game', /expects signed player info/, '');

  // link to another account, then unlink (with and without the credentials)
  const u = await newUser(suite.srv, 'soc');
  const p2 = 'lua-fbig-' + uid();
  await ok('link_facebook_instant_game', u.userId, fbigSignedInfo(p2, FBIG_SECRET));
  const [acct] = await ok('account_get_id', u.userId);
  assert.equal(acct.user.facebook_instant_game_id, p2);
  await fails('link_facebook_instant_game', /error linking: Facebook Instant Game ID is already in use/,
    id, fbigSignedInfo(p2, FBIG_SECRET));
  await ok('unlink_facebook_instant_game', u.userId, fbigSignedInfo(p2, FBIG_SECRET));
  assert.equal((await ok('account_get_id', u.userId))[0].user.facebook_instant_game_id, undefined);
  await ok('link_facebook_instant_game', u.userId, fbigSignedInfo(p2, FBIG_SECRET));
  await ok('unlink_facebook_instant_game', u.userId);
  assert.equal((await ok('account_get_id', u.userId))[0].user.facebook_instant_game_id, undefined);

  // unconfigured and vendor-only providers
  await fails('authenticate_apple', /^Apple authentication is not configured$/, 'tok');
  await fails('authenticate_steam', /^Steam authentication is not configured$/, 'tok');
  await fails('authenticate_google', /error authenticating: Not implemented/, 'tok');
  await fails('authenticate_facebook', /error authenticating: Not implemented/, 'tok', false);
  await fails('authenticate_google', /expects ID token string/, '');
  await fails('authenticate_game_center', /error authenticating: Not implemented/,
    'player', 'bundle', 1700000000, 'salt', 'sig', 'https://example.com/key');
  await fails('authenticate_game_center', /expects timestamp value/,
    'player', 'bundle', 0, 'salt', 'sig', 'https://example.com/key');
  await fails('link_apple', /error linking: Apple authentication is not configured/, u.userId, 'tok');
  await fails('link_google', /error linking: Not implemented/, u.userId, 'tok');
  await fails('link_steam', /expects username string/, u.userId, '', 'tok');
  await fails('link_gamecenter', /expects bundle ID string/, u.userId, 'player', '');
  await fails('link_facebook', /expects token string/, u.userId, 'name', '');
  await fails('unlink_google', /error unlinking: Not implemented/, u.userId, 'tok');
  await fails('unlink_gamecenter', /expects bundle ID string/, u.userId, 'player');
});
