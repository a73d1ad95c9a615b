// Accounts: link/unlink device, custom and email; account update and
// delete; GET /v2/user. Every Nakama error status on these routes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uid, sleep } from './harness.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv.cleanup(); });

async function failure(p) {
  try {
    await p;
  } catch (e) {
    if (typeof e.status !== 'number') throw e;
    return { status: e.status, body: await e.json() };
  }
  assert.fail('expected the call to fail');
}

const dev = () => `dev-${uid()}`;
const LAST = { code: 7, message: 'Cannot unlink last account identifier. Check profile exists and is not last link.' };

test('link and unlink device', async () => {
  const c = srv.client();
  const d1 = dev();
  const d2 = dev();
  const s = await c.authenticateDevice(d1);
  assert.equal(await c.linkDevice(s, { id: d2 }), true);
  assert.equal(await c.linkDevice(s, { id: d2 }), true, 'linking own device again is fine');
  const byD2 = await c.authenticateDevice(d2, false);
  assert.equal(byD2.user_id, s.user_id);
  let a = await c.getAccount(s);
  assert.deepEqual(a.devices.map((d) => d.id).sort(), [d1, d2].sort());
  // someone else's device
  const other = await c.authenticateDevice(dev());
  let f = await failure(c.linkDevice(other, { id: d1 }));
  assert.equal(f.status, 409);
  assert.deepEqual(f.body, { code: 6, message: 'Device ID already in use.' });
  f = await failure(c.linkDevice(s, { id: 'short' }));
  assert.deepEqual(f.body, { code: 3, message: 'Device ID invalid, must be 10-128 bytes.' });
  // unlink one; the last one is refused
  assert.equal(await c.unlinkDevice(s, { id: d1 }), true);
  f = await failure(c.unlinkDevice(s, { id: d2 }));
  assert.equal(f.status, 403);
  assert.deepEqual(f.body, LAST);
  f = await failure(c.unlinkDevice(s, { id: '' }));
  assert.deepEqual(f.body, { code: 3, message: 'A device ID must be supplied.' });
  // another user's device cannot be unlinked by me
  f = await failure(c.unlinkDevice(other, { id: d2 }));
  assert.equal(f.status, 403);
  a = await c.getAccount(s);
  assert.deepEqual(a.devices, [{ id: d2 }]);
  f = await failure(c.authenticateDevice(d1, false));
  assert.equal(f.status, 404);
});

test('link and unlink custom id', async () => {
  const c = srv.client();
  const s = await c.authenticateDevice(dev());
  const cid = `cust-${uid()}`;
  assert.equal(await c.linkCustom(s, { id: cid }), true);
  assert.equal((await c.getAccount(s)).custom_id, cid);
  assert.equal((await c.authenticateCustom(cid, false)).user_id, s.user_id);
  const other = await c.authenticateDevice(dev());
  let f = await failure(c.linkCustom(other, { id: cid }));
  assert.equal(f.status, 409);
  assert.deepEqual(f.body, { code: 6, message: 'Custom ID is already in use.' });
  f = await failure(c.linkCustom(other, { id: 'abc' }));
  assert.deepEqual(f.body, { code: 3, message: 'Invalid custom ID, must be 6-128 bytes.' });
  assert.equal(await c.unlinkCustom(s, { id: cid }), true);
  assert.equal('custom_id' in (await c.getAccount(s)), false);
  // a custom-only account cannot drop its custom id
  const only = await c.authenticateCustom(`cust-${uid()}`);
  f = await failure(c.unlinkCustom(only, { id: '' }));
  assert.deepEqual(f.body, LAST);
  // and unlinking a device from it is refused when no device is linked
  f = await failure(c.unlinkDevice(only, { id: dev() }));
  assert.equal(f.status, 403);
});

test('link and unlink email', async () => {
  const c = srv.client();
  const s = await c.authenticateDevice(dev());
  const email = `Link${uid()}@example.com`;
  assert.equal(await c.linkEmail(s, { email, password: 'password123' }), true);
  assert.equal((await c.getAccount(s)).email, email.toLowerCase());
  const byMail = await c.authenticateEmail(email, 'password123', false);
  assert.equal(byMail.user_id, s.user_id);
  const other = await c.authenticateDevice(dev());
  let f = await failure(c.linkEmail(other, { email: email.toLowerCase(), password: 'password123' }));
  assert.equal(f.status, 409);
  assert.deepEqual(f.body, { code: 6, message: 'Email is already in use.' });
  f = await failure(c.linkEmail(other, { email: `x${uid()}@example.com`, password: 'short' }));
  assert.deepEqual(f.body, { code: 3, message: 'Password must be at least 8 characters long.' });
  f = await failure(c.linkEmail(other, { email: '', password: 'password123' }));
  assert.deepEqual(f.body, { code: 3, message: 'Email address and password is required.' });
  assert.equal(await c.unlinkEmail(s, { email, password: '' }), true);
  f = await failure(c.authenticateEmail(email, 'password123', false));
  assert.equal(f.status, 404);
  const mailOnly = await c.authenticateEmail(`only${uid()}@example.com`, 'password123');
  f = await failure(c.unlinkEmail(mailOnly, {}));
  assert.deepEqual(f.body, LAST);
});

test('update account: fields, clearing, username rules', async () => {
  const c = srv.client();
  const s = await c.authenticateDevice(dev());
  const name = `n${uid()}`;
  assert.equal(await c.updateAccount(s, {
    username: name, display_name: 'Alice A', avatar_url: 'http://a/b.png', lang_tag: 'fr', location: 'Paris', timezone: 'CET',
  }), true);
  let a = await c.getAccount(s);
  assert.equal(a.user.username, name);
  assert.equal(a.user.display_name, 'Alice A');
  assert.equal(a.user.avatar_url, 'http://a/b.png');
  assert.equal(a.user.lang_tag, 'fr');
  assert.equal(a.user.location, 'Paris');
  assert.equal(a.user.timezone, 'CET');
  // absent = unchanged; "" clears
  await c.updateAccount(s, { display_name: '' });
  a = await c.getAccount(s);
  assert.equal('display_name' in a.user, false);
  assert.equal(a.user.location, 'Paris');
  // conflicts and bad names
  const other = await c.authenticateDevice(dev());
  let f = await failure(c.updateAccount(other, { username: name }));
  assert.equal(f.status, 409);
  assert.deepEqual(f.body, { code: 6, message: 'Username is already in use.' });
  f = await failure(c.updateAccount(other, { username: '' }));
  assert.deepEqual(f.body, { code: 3, message: 'Username invalid, must be 1-128 bytes.' });
  f = await failure(c.updateAccount(other, { username: 'bad\nname' }));
  assert.equal(f.status, 400);
  f = await failure(c.updateAccount(other, {}));
  assert.deepEqual(f.body, { code: 3, message: 'No fields to update.' });
  const r = await fetch(`${srv.url}/v2/account`, {
    method: 'PUT', headers: { Authorization: `Bearer ${other.token}` }, body: '{"display_name":',
  });
  assert.equal(r.status, 400);
  // the old username is free again
  await c.updateAccount(s, { username: `m${uid()}` });
  await c.updateAccount(other, { username: name });
});

test('get users by ids and usernames', async () => {
  const c = srv.client();
  const a = await c.authenticateDevice(dev(), true, `ua${uid()}`);
  const b = await c.authenticateDevice(dev(), true, `ub${uid()}`);
  const res = await c.getUsers(a, [a.user_id, '00000000-0000-4000-8000-000000000000'], [b.username, 'nobody-here']);
  const got = res.users.map((u) => u.id).sort();
  assert.deepEqual(got, [a.user_id, b.user_id].sort());
  const ub = res.users.find((u) => u.id === b.user_id);
  assert.equal(ub.username, b.username);
  assert.deepEqual(ub.metadata, {}, 'metadata JSON string, parsed by nakama-js');
  // the same user by id and username appears once
  const one = await c.getUsers(a, [a.user_id], [a.username]);
  assert.equal(one.users.length, 1);
  const none = await fetch(`${srv.url}/v2/user`, { headers: { Authorization: `Bearer ${a.token}` } });
  assert.deepEqual(await none.json(), {});
  const bad = await fetch(`${srv.url}/v2/user?ids=not-a-uuid`, { headers: { Authorization: `Bearer ${a.token}` } });
  assert.equal(bad.status, 400);
  assert.deepEqual(await bad.json(), { code: 3, message: "ID 'not-a-uuid' is not a valid system ID." });
});

test('delete account: data gone, tokens revoked, socket closed, id reusable', async () => {
  const c = srv.client();
  const d = dev();
  const s = await c.authenticateDevice(d, true, `del${uid()}`);
  await c.writeStorageObjects(s, [{ collection: 'c', key: 'k', value: { a: 1 }, permission_read: 2 }]);
  const before = await c.listStorageObjects(s, 'c', s.user_id);
  assert.equal(before.objects.length, 1);
  const sock = c.createSocket(false, false);
  let closed = false;
  sock.ondisconnect = () => { closed = true; };
  await sock.connect(s, false);
  assert.equal(await c.deleteAccount(s), true);
  for (let i = 0; i < 100 && !closed; i++) await sleep(20);
  assert.equal(closed, true, 'socket closed by the server');
  let f = await failure(c.getAccount(s));
  assert.equal(f.status, 401);
  f = await failure(c.sessionRefresh(s));
  assert.equal(f.status, 401);
  f = await failure(c.authenticateDevice(d, false));
  assert.equal(f.status, 404);
  // the device and username can be used by a new account
  const again = await c.authenticateDevice(d, true, s.username);
  assert.equal(again.created, true);
  assert.notEqual(again.user_id, s.user_id);
  const u = await c.getUsers(again, [s.user_id]);
  assert.equal((u.users || []).length, 0);
  const objs = await fetch(`${srv.url}/v2/storage/c?user_id=${s.user_id}`, { headers: { Authorization: `Bearer ${again.token}` } });
  assert.equal(objs.status, 200);
  assert.equal((await objs.json()).objects, undefined, 'storage rows deleted');
});

test('online is set for users with a live socket', async () => {
  const c = srv.client();
  const a = await c.authenticateDevice(dev());
  const b = await c.authenticateDevice(dev());
  const sock = c.createSocket(false, false);
  await sock.connect(b, false);
  try {
    const res = await c.getUsers(a, [a.user_id, b.user_id]);
    const byId = Object.fromEntries(res.users.map((u) => [u.id, u]));
    assert.equal(byId[b.user_id].online, true);
    assert.equal(byId[a.user_id].online, undefined, 'online omitted when false');
    assert.equal((await c.getAccount(b)).user.online, true);
    assert.equal((await c.getAccount(a)).user.online, undefined);
  } finally { sock.disconnect(false); }
  for (let i = 0; i < 50; i++) {
    const res = await c.getUsers(a, [b.user_id]);
    if (!res.users[0].online) return;
    await sleep(20);
  }
  assert.fail('still online after the socket closed');
});

test('malformed JSON bodies are 400 on every account and session route', async () => {
  const c = srv.client();
  const s = await c.authenticateDevice(dev());
  const basic = 'Basic ' + Buffer.from('defaultkey:').toString('base64');
  const routes = [
    ['POST', '/v2/account/authenticate/custom', basic], ['POST', '/v2/account/authenticate/email', basic],
    ['POST', '/v2/account/session/refresh', basic], ['POST', '/v2/session/logout', `Bearer ${s.token}`],
    ['POST', '/v2/account/link/device', `Bearer ${s.token}`], ['POST', '/v2/account/link/custom', `Bearer ${s.token}`],
    ['POST', '/v2/account/link/email', `Bearer ${s.token}`], ['POST', '/v2/account/unlink/device', `Bearer ${s.token}`],
    ['POST', '/v2/account/unlink/custom', `Bearer ${s.token}`], ['POST', '/v2/account/unlink/email', `Bearer ${s.token}`],
    ['PUT', '/v2/account', `Bearer ${s.token}`],
  ];
  for (const [method, path, auth] of routes) {
    for (const body of ['{"id":', '"just a string"', '{"id": 5, "email": 5, "token": 5, "username": 5}']) {
      const r = await fetch(`${srv.url}${path}`, { method, headers: { Authorization: auth }, body });
      assert.equal(r.status, 400, `${method} ${path} ${body}`);
      assert.equal((await r.json()).code, 3);
    }
  }
  await c.getAccount(s); // nothing above changed or revoked anything
});

test('get users in batches larger than one statement', async () => {
  const c = srv.client();
  const s = await c.authenticateDevice(dev());
  const ids = [s.user_id];
  for (let i = 0; i < 149; i++) ids.push(crypto.randomUUID());
  ids.push(s.user_id);
  const names = Array.from({ length: 120 }, (_, i) => `nobody-${i}-${uid()}`);
  names.push(s.username);
  const url = `${srv.url}/v2/user?` + ids.map((i) => `ids=${i}`).join('&') + '&' + names.map((n) => `usernames=${n}`).join('&');
  const r = await fetch(url, { headers: { Authorization: `Bearer ${s.token}` } });
  assert.equal(r.status, 200);
  const body = await r.json();
  assert.equal(body.users.length, 1);
  assert.equal(body.users[0].id, s.user_id);
});

test('emitEvent: accepted with {} and counted; needs a session; shape checked', async () => {
  const c = srv.client();
  const s = await c.authenticateDevice(dev(), true);
  assert.equal(await c.emitEvent(s, { name: 'level_up', properties: { level: '3' } }), true);
  assert.equal(await c.emitEvent(s, { name: 'bare' }), true);
  const post = (body, auth = `Bearer ${s.token}`) => fetch(`${srv.url}/v2/event`, {
    method: 'POST', headers: { Authorization: auth }, body,
  });
  let r = await post(JSON.stringify({ name: 'x', timestamp: '2026-12-01T00:00:00Z', external: false }));
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), {});
  r = await post(JSON.stringify({ name: 'x', properties: { n: 1 } }));
  assert.equal(r.status, 400);
  assert.equal((await r.json()).code, 3);
  r = await post('{not json');
  assert.equal(r.status, 400);
  r = await post(JSON.stringify({ name: 'x' }), '');
  assert.equal(r.status, 401);
  const m = await (await fetch(`http://127.0.0.1:${srv.metricsPort}/metrics`)).text();
  assert.match(m, /api_events_received_total\{[^}]*\} 3\b/);
});
