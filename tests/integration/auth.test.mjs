// Authentication and sessions: device, custom and email authenticate with
// every Nakama error status, session JWT claims, refresh, logout,
// single_session, and revocations that survive a restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer, basicAuth, uid, sleep, Session } from './harness.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv.cleanup(); });

/** Await a nakama-js call expected to fail; returns {status, body}. */
async function failure(p) {
  try {
    await p;
  } catch (e) {
    if (typeof e.status !== 'number') throw e;
    return { status: e.status, body: await e.json() };
  }
  assert.fail('expected the call to fail');
}

function claims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

async function post(path, body, auth = basicAuth()) {
  const r = await fetch(`${srv.url}${path}`, {
    method: 'POST', headers: { Authorization: auth }, body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

const dev = () => `dev-${uid()}`;

test('device: creates once, then logs in to the same account', async () => {
  const c = srv.client();
  const id = dev();
  const s1 = await c.authenticateDevice(id, true, undefined, { lvl: '3' });
  assert.equal(s1.created, true);
  assert.match(s1.username, /^[A-Za-z]{10}$/);
  const cl = claims(s1.token);
  assert.deepEqual(Object.keys(cl), ['tid', 'uid', 'usn', 'vrs', 'exp', 'iat']);
  assert.deepEqual(cl.vrs, { lvl: '3' });
  assert.match(cl.tid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(cl.exp - cl.iat, 60);
  const rc = claims(s1.refresh_token);
  assert.equal(rc.tid, cl.tid);
  assert.equal(rc.exp - rc.iat, 3600);
  const s2 = await c.authenticateDevice(id, true, 'ignoredname');
  assert.equal(s2.created, false);
  assert.equal(s2.user_id, s1.user_id);
  assert.equal(s2.username, s1.username);
  assert.equal(claims(s2.token).vrs, undefined, 'no vars: claim omitted');
  // raw wire: created omitted when false
  const raw = await post('/v2/account/authenticate/device', { id });
  assert.equal(raw.status, 200);
  assert.equal('created' in raw.body, false);
  assert.ok(raw.body.token && raw.body.refresh_token);
});

test('device: validation, create=false, username taken', async () => {
  const c = srv.client();
  let f = await failure(c.authenticateDevice('short'));
  assert.equal(f.status, 400);
  assert.deepEqual(f.body, { code: 3, message: 'Device ID invalid, must be 10-128 bytes.' });
  f = await failure(c.authenticateDevice('x'.repeat(129)));
  assert.equal(f.status, 400);
  f = await failure(c.authenticateDevice('has space 123'));
  assert.equal(f.body.message, 'Device ID invalid, no spaces or control characters allowed.');
  f = await failure(c.authenticateDevice(''));
  assert.deepEqual(f.body, { code: 3, message: 'Device ID is required.' });
  f = await failure(c.authenticateDevice(dev(), false));
  assert.equal(f.status, 404);
  assert.deepEqual(f.body, { code: 5, message: 'User account not found.' });
  const name = `u${uid()}`;
  await c.authenticateDevice(dev(), true, name);
  f = await failure(c.authenticateDevice(dev(), true, name));
  assert.equal(f.status, 409);
  assert.deepEqual(f.body, { code: 6, message: 'Username is already in use.' });
  f = await failure(c.authenticateDevice(dev(), true, 'bad\tname'));
  assert.equal(f.status, 400);
  assert.equal(f.body.message, 'Username invalid, no spaces or control characters allowed.');
  f = await failure(c.authenticateDevice(dev(), true, 'n'.repeat(129)));
  assert.equal(f.body.message, 'Username invalid, must be 1-128 bytes.');
});

test('bad bodies and keys are refused', async () => {
  let r = await post('/v2/account/authenticate/device', '{"id":');
  assert.equal(r.status, 400);
  assert.equal(r.body.code, 3);
  r = await post('/v2/account/authenticate/device', '[1,2]');
  assert.equal(r.status, 400);
  r = await post('/v2/account/authenticate/device', { id: 12345678901 });
  assert.equal(r.status, 400);
  r = await post('/v2/account/authenticate/device', { id: dev(), vars: { a: 1 } });
  assert.equal(r.status, 400);
  r = await post('/v2/account/authenticate/device', { id: dev() }, basicAuth('wrongkey'));
  assert.equal(r.status, 401);
  assert.deepEqual(r.body, { code: 16, message: 'Server key invalid' });
  r = await post('/v2/account/authenticate/device?create=maybe', { id: dev() });
  assert.equal(r.status, 400);
});

test('custom: create, login, validation', async () => {
  const c = srv.client();
  const id = `cust-${uid()}`;
  const name = `c${uid()}`;
  const s1 = await c.authenticateCustom(id, true, name);
  assert.equal(s1.created, true);
  assert.equal(s1.username, name);
  const s2 = await c.authenticateCustom(id, false);
  assert.equal(s2.created, false);
  assert.equal(s2.user_id, s1.user_id);
  let f = await failure(c.authenticateCustom('abc'));
  assert.deepEqual(f.body, { code: 3, message: 'Custom ID invalid, must be 6-128 bytes.' });
  f = await failure(c.authenticateCustom('abc def ghi'));
  assert.deepEqual(f.body, { code: 3, message: 'Custom ID invalid, no spaces or control characters allowed.' });
  f = await failure(c.authenticateCustom(`cust-${uid()}`, false));
  assert.equal(f.status, 404);
  f = await failure(c.authenticateCustom(`cust-${uid()}`, true, name));
  assert.equal(f.status, 409);
});

test('email: create lower-cased, password check, username login', async () => {
  const c = srv.client();
  const local = `Mail${uid()}`;
  const email = `${local}@Example.COM`;
  const name = `e${uid()}`;
  const s1 = await c.authenticateEmail(email, 'correct-horse', true, name);
  assert.equal(s1.created, true);
  const acct = await c.getAccount(s1);
  assert.equal(acct.email, email.toLowerCase());
  const s2 = await c.authenticateEmail(email.toLowerCase(), 'correct-horse', false);
  assert.equal(s2.user_id, s1.user_id);
  assert.equal(s2.created, false);
  let f = await failure(c.authenticateEmail(email, 'wrong-password'));
  assert.equal(f.status, 401);
  assert.deepEqual(f.body, { code: 16, message: 'Invalid credentials.' });
  // username + password login (empty email); never creates
  const s3 = await c.authenticateEmail('', 'correct-horse', false, name);
  assert.equal(s3.user_id, s1.user_id);
  f = await failure(c.authenticateEmail('', 'correct-horse', true, name + 'x'));
  assert.equal(f.status, 404);
  f = await failure(c.authenticateEmail('', 'wrong-horse', true, name));
  assert.equal(f.status, 401);
  f = await failure(c.authenticateEmail('', 'correct-horse'));
  assert.deepEqual(f.body, { code: 3, message: 'Username is required when email address is not supplied.' });
  f = await failure(c.authenticateEmail(`x${uid()}@example.com`, 'short'));
  assert.deepEqual(f.body, { code: 3, message: 'Password must be at least 8 characters long.' });
  f = await failure(c.authenticateEmail('a@b.c', 'password123'));
  assert.deepEqual(f.body, { code: 3, message: 'Invalid email address, must be 10-255 bytes.' });
  f = await failure(c.authenticateEmail('not-an-email-address', 'password123'));
  assert.deepEqual(f.body, { code: 3, message: 'Invalid email address format.' });
  f = await failure(c.authenticateEmail(`new${uid()}@example.com`, 'password123', false));
  assert.equal(f.status, 404);
  f = await failure(c.authenticateEmail(`new${uid()}@example.com`, 'password123', true, name));
  assert.equal(f.status, 409);
});

test('GET /v2/account returns the account in protojson', async () => {
  const c = srv.client();
  const id = dev();
  const s = await c.authenticateDevice(id);
  const a = await c.getAccount(s);
  assert.equal(a.user.id, s.user_id);
  assert.equal(a.user.username, s.username);
  assert.equal(a.user.lang_tag, 'en');
  assert.equal(a.user.metadata, '{}');
  assert.match(a.user.create_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(a.wallet, '{}');
  assert.deepEqual(a.devices, [{ id }]);
  for (const k of ['email', 'custom_id', 'verify_time', 'disable_time']) assert.equal(k in a, false, k);
  for (const k of ['display_name', 'online', 'edge_count']) assert.equal(k in a.user, false, k);
  let r = await fetch(`${srv.url}/v2/account`);
  assert.equal(r.status, 401);
  r = await fetch(`${srv.url}/v2/account`, { headers: { Authorization: `Bearer ${s.refresh_token}` } });
  assert.equal(r.status, 401, 'a refresh token is not a session token');
});

test('session refresh: same tid, vars rules, bad tokens', async () => {
  const c = srv.client();
  const s = await c.authenticateDevice(dev(), true, undefined, { a: '1' });
  const tid = claims(s.token).tid;
  const raw = await post('/v2/account/session/refresh', { token: s.refresh_token, vars: {} });
  assert.equal(raw.status, 200);
  assert.equal('created' in raw.body, false);
  const c1 = claims(raw.body.token);
  assert.equal(c1.tid, tid);
  assert.deepEqual(c1.vrs, { a: '1' }, 'empty vars keep the refresh token vars');
  assert.equal(claims(raw.body.refresh_token).tid, tid);
  const s2 = await c.sessionRefresh(s, { b: '2' });
  assert.deepEqual(claims(s2.token).vrs, { b: '2' });
  await c.getAccount(s2);
  let r = await post('/v2/account/session/refresh', { token: s.token });
  assert.equal(r.status, 401, 'a session token is not a refresh token');
  assert.deepEqual(r.body, { code: 16, message: 'Refresh token invalid or expired.' });
  r = await post('/v2/account/session/refresh', { token: 'a.b.c' });
  assert.equal(r.status, 401);
  r = await post('/v2/account/session/refresh', {});
  assert.deepEqual(r.body, { code: 3, message: 'Refresh token is required.' });
});

test('refresh token expiry is honoured', async () => {
  const s2 = await startServer({ args: ['--session.token_expiry_sec', '1', '--session.refresh_token_expiry_sec', '2'] });
  try {
    const c = s2.client();
    const s = await c.authenticateDevice(dev());
    await sleep(3100);
    const r = await fetch(`${s2.url}/v2/account`, { headers: { Authorization: `Bearer ${s.token}` } });
    assert.equal(r.status, 401);
    const f = await failure(c.sessionRefresh(s));
    assert.equal(f.status, 401);
  } finally { await s2.cleanup(); }
});

test('logout: named tokens, foreign tokens, logout-all', async () => {
  const c = srv.client();
  const id = dev();
  const a = await c.authenticateDevice(id);
  const b = await c.authenticateDevice(id);
  const other = await c.authenticateDevice(dev());
  // tokens of another user are refused
  let f = await failure(c.sessionLogout(a, other.token, ''));
  assert.deepEqual(f.body, { code: 3, message: 'Session token invalid.' });
  f = await failure(c.sessionLogout(a, '', other.refresh_token));
  assert.deepEqual(f.body, { code: 3, message: 'Refresh token invalid.' });
  f = await failure(c.sessionLogout(a, 'garbage', ''));
  assert.equal(f.status, 400);
  // logout of a's pair leaves b working
  assert.equal(await c.sessionLogout(a, a.token, a.refresh_token), true);
  f = await failure(c.getAccount(a));
  assert.equal(f.status, 401);
  assert.deepEqual(f.body, { code: 16, message: 'Auth token invalid' });
  f = await failure(c.sessionRefresh(a));
  assert.equal(f.status, 401);
  await c.getAccount(b);
  // neither token: all of the user's tokens go, a fresh login still works
  const r = await fetch(`${srv.url}/v2/session/logout`, {
    method: 'POST', headers: { Authorization: `Bearer ${b.token}` }, body: '{}',
  });
  assert.equal(r.status, 200);
  f = await failure(c.getAccount(b));
  assert.equal(f.status, 401);
  f = await failure(c.sessionRefresh(b));
  assert.equal(f.status, 401);
  const fresh = await c.authenticateDevice(id);
  await c.getAccount(fresh);
  await c.getAccount(other);
});

test('single_session: a new login revokes older tokens, the new one works at once', async () => {
  const s2 = await startServer({ args: ['--session.single_session', 'true'] });
  try {
    const c = s2.client();
    const id = dev();
    const first = await c.authenticateDevice(id);
    await c.getAccount(first);
    const second = await c.authenticateDevice(id);
    await c.getAccount(second);
    let f = await failure(c.getAccount(first));
    assert.equal(f.status, 401);
    f = await failure(c.sessionRefresh(first));
    assert.equal(f.status, 401);
    const third = await c.authenticateDevice(id);
    await c.getAccount(third);
    f = await failure(c.getAccount(second));
    assert.equal(f.status, 401);
  } finally { await s2.cleanup(); }
});

test('a restart keeps sessions valid and revocations revoked', async () => {
  const s1 = await startServer({ keepData: true });
  let s2;
  try {
    const c = s1.client();
    const keep = await c.authenticateDevice(dev());
    const gone = await c.authenticateDevice(dev());
    const all = await c.authenticateDevice(dev());
    await c.sessionLogout(gone, gone.token, gone.refresh_token);
    const r = await fetch(`${s1.url}/v2/session/logout`, {
      method: 'POST', headers: { Authorization: `Bearer ${all.token}` }, body: '{}',
    });
    assert.equal(r.status, 200);
    await s1.stop();
    s2 = await startServer({ dataDir: s1.dataDir, dbUrl: s1.dbUrl });
    const c2 = s2.client();
    const acct = await c2.getAccount(keep);
    assert.equal(acct.user.id, keep.user_id);
    const refreshed = await c2.sessionRefresh(new Session(keep.token, keep.refresh_token, false));
    await c2.getAccount(refreshed);
    for (const s of [gone, all]) {
      let f = await failure(c2.getAccount(s));
      assert.equal(f.status, 401);
      f = await failure(c2.sessionRefresh(s));
      assert.equal(f.status, 401);
    }
  } finally {
    if (s2) await s2.cleanup();
    await s1.cleanup();
    rmSync(s1.dataDir, { recursive: true, force: true });
  }
});

test('providers only their vendor can verify answer Unimplemented (the rest: compat_social)', async () => {
  for (const p of ['facebook', 'google']) {
    const r = await post(`/v2/account/authenticate/${p}`, { token: 'x' });
    assert.equal(r.status, 501, p);
    assert.equal(r.body.code, 12);
  }
});
