// Social identity providers through nakama-js 2.8.0, as Nakama answers
// them: its input checks in its order and words; Apple and Steam refused as
// unconfigured (400, code 9); Facebook Instant Games signed player info
// verified with social.facebook_instant_game.app_secret (authenticate, link,
// unlink); Facebook, Game Center and Google 501 once their input passes
// (only the vendor could verify them); unlink without credentials clears
// the link; the friend imports' checks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uid, rejectsWith as rejects } from './harness.mjs';
import { fbigSignedInfo } from './rtutil.mjs';

const SECRET = 'fbig-app-secret';
let srv;
let client;

before(async () => {
  srv = await startServer({ args: ['--social.facebook_instant_game.app_secret', SECRET] });
  client = srv.client();
});
after(async () => { if (srv) await srv.cleanup(); });

const signedInfo = (playerId, secret = SECRET, algorithm = 'HMAC-SHA256') =>
  fbigSignedInfo(playerId, secret, algorithm);

const NOT_IMPL = 'Not implemented';

test('authenticate: input checks, unconfigured providers, vendor-only providers', async () => {
  await rejects(client.authenticateApple('apple-token'), 400, 9, 'Apple authentication is not configured.');
  await rejects(client.authenticateSteam('steam-token'), 400, 9, 'Steam authentication is not configured.');
  await rejects(client.authenticateFacebook(''), 400, 3, 'Facebook access token is required.');
  await rejects(client.authenticateGoogle(''), 400, 3, 'Google access token is required.');
  await rejects(client.authenticateFacebookInstantGame(''), 400, 3,
    'Signed Player Info for a Facebook Instant Game is required.');
  // Game Center fields, in Nakama's order.
  await rejects(client.authenticateGameCenter('', 'p', 'https://k', 's', 'sig', '1'), 400, 3,
    'GameCenter bundle ID is required.');
  await rejects(client.authenticateGameCenter('b', '', 'https://k', 's', 'sig', '1'), 400, 3,
    'GameCenter player ID is required.');
  await rejects(client.authenticateGameCenter('b', 'p', '', 's', 'sig', '1'), 400, 3,
    'GameCenter public key URL is required.');
  await rejects(client.authenticateGameCenter('b', 'p', 'https://k', '', 'sig', '1'), 400, 3,
    'GameCenter salt is required.');
  await rejects(client.authenticateGameCenter('b', 'p', 'https://k', 's', '', '1'), 400, 3,
    'GameCenter signature is required.');
  await rejects(client.authenticateGameCenter('b', 'p', 'https://k', 's', 'sig', '0'), 400, 3,
    'GameCenter timestamp is required.');
  // The username is checked after the provider's input, before the vendor.
  await rejects(client.authenticateFacebook('', true, 'bad\tname'), 400, 3, 'Facebook access token is required.');
  await rejects(client.authenticateFacebook('fb-token', true, 'bad\tname'), 400, 3,
    'Username invalid, no spaces or control characters allowed.');
  await rejects(client.authenticateFacebook('fb-token'), 501, 12, NOT_IMPL);
  await rejects(client.authenticateGoogle('google-token'), 501, 12, NOT_IMPL);
  await rejects(client.authenticateGameCenter('b', 'p', 'https://k', 's', 'sig', '1'), 501, 12, NOT_IMPL);
});

test('Facebook Instant Games: signed player info logs in, creates once, checks the signature', async () => {
  const player = `fbig-${uid()}`;
  await rejects(client.authenticateFacebookInstantGame(signedInfo(player), false), 404, 5, 'User account not found.');
  const s1 = await client.authenticateFacebookInstantGame(signedInfo(player), true, `fbig${uid().slice(0, 8)}`);
  assert.equal(s1.created, true);
  const s2 = await client.authenticateFacebookInstantGame(signedInfo(player, SECRET, 'HS256'));
  assert.equal(s2.created, false);
  assert.equal(s2.user_id, s1.user_id);
  const acct = await client.getAccount(s1);
  assert.equal(acct.user.facebook_instant_game_id, player);
  const bad = 'Error extracting the Facebook Instant Game player ID or validating the signature';
  await rejects(client.authenticateFacebookInstantGame(signedInfo(player, 'wrong-secret')), 500, 15, bad);
  await rejects(client.authenticateFacebookInstantGame(signedInfo(player, SECRET, 'RSA')), 500, 15, bad);
  await rejects(client.authenticateFacebookInstantGame('no-dot-here'), 500, 15, bad);
  await rejects(client.authenticateFacebookInstantGame('a.b.c'), 500, 15, bad);
  await rejects(client.authenticateFacebookInstantGame(signedInfo(`fbig-${uid()}`), true, 'bad\tname'), 400, 3,
    'Username invalid, no spaces or control characters allowed.');
});

test('link and unlink: Facebook Instant Games for real, the others as Nakama checks them', async () => {
  const a = await client.authenticateDevice(`social-a-${uid()}`, true);
  const b = await client.authenticateDevice(`social-b-${uid()}`, true);
  const player = `fbig-${uid()}`;
  assert.equal(await client.linkFacebookInstantGame(a, { signed_player_info: signedInfo(player) }), true);
  assert.equal((await client.getAccount(a)).user.facebook_instant_game_id, player);
  // Linking again is fine; another account cannot take it.
  assert.equal(await client.linkFacebookInstantGame(a, { signed_player_info: signedInfo(player) }), true);
  await rejects(client.linkFacebookInstantGame(b, { signed_player_info: signedInfo(player) }), 409, 6,
    'Facebook Instant Game ID is already in use.');
  await rejects(client.linkFacebookInstantGame(b, { signed_player_info: signedInfo(player, 'nope') }), 401, 16,
    'Could not authenticate Facebook Instant Game profile.');
  await rejects(client.linkFacebookInstantGame(b, { signed_player_info: '' }), 400, 3,
    'Signed Player Info for a Facebook Instant Game is required.');
  // The linked player logs in to a's account.
  const s = await client.authenticateFacebookInstantGame(signedInfo(player), false);
  assert.equal(s.user_id, a.user_id);
  // Unlink with another player's info matches nothing: Nakama's last-link refusal.
  await rejects(client.unlinkFacebookInstantGame(a, { signed_player_info: signedInfo(`other-${uid()}`) }), 403, 7,
    'Cannot unlink last account identifier. Check profile exists and is not last link.');
  assert.equal(await client.unlinkFacebookInstantGame(a, { signed_player_info: signedInfo(player) }), true);
  assert.equal((await client.getAccount(a)).user.facebook_instant_game_id, undefined);

  await rejects(client.linkApple(a, { token: 't' }), 400, 9, 'Apple authentication is not configured.');
  await rejects(client.linkSteam(a, { account: { token: '' } }), 400, 3, 'Steam access token is required.');
  await rejects(client.linkSteam(a, { account: { token: 't' }, sync: true }), 400, 9,
    'Steam authentication is not configured.');
  await rejects(client.linkFacebook(a, { token: '' }), 400, 3, 'Facebook access token is required.');
  await rejects(client.linkFacebook(a, { token: 'fb' }), 501, 12, NOT_IMPL);
  await rejects(client.linkGoogle(a, { token: '' }), 400, 3, 'Google access token is required.');
  await rejects(client.linkGameCenter(a, {}), 400, 3, 'GameCenter bundle ID is required.');
  // Unlink without credentials clears whatever is linked (nothing here).
  for (const fn of ['unlinkApple', 'unlinkFacebook', 'unlinkGoogle', 'unlinkSteam', 'unlinkGameCenter']) {
    assert.equal(await client[fn](a, {}), true, fn);
  }
  await rejects(client.unlinkGoogle(a, { token: 'google-token' }), 501, 12, NOT_IMPL);
  // An account whose only identifier is the provider cannot drop it.
  const only = await client.authenticateFacebookInstantGame(signedInfo(`solo-${uid()}`), true);
  await rejects(client.unlinkFacebookInstantGame(only, {}), 403, 7,
    'Cannot unlink last account identifier. Check profile exists and is not last link.');
});

test('friend imports: Nakama\'s checks', async () => {
  const a = await client.authenticateDevice(`social-imp-${uid()}`, true);
  await rejects(client.importFacebookFriends(a, { token: '' }), 400, 3, 'Facebook token is required.');
  await rejects(client.importFacebookFriends(a, { token: 'fb' }), 501, 12, NOT_IMPL);
  await rejects(client.importSteamFriends(a, { token: '' }, false), 400, 9, 'Steam authentication is not configured.');
});
