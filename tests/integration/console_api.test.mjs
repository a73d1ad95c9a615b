// The console API on console.port (Nakama's /v2/console routes): login with
// console.username/password, tokens signed with console.signing_key, every
// call refused without a token and with an expired one, the login rate
// limit, and each call's happy path against users made through nakama-js.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, uid } from './harness.mjs';
import { signToken, newUser, connect, waitFor, refusedUpgrade, closeAll } from './rtutil.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

const SIGNING_KEY = 'defaultsigningkey';
let srv;
let token;

/** A console call: { status, body }. token: a string, null (no header), or a header value via auth. */
async function con(method, p, { body, tok = token, auth } = {}) {
  const headers = {};
  if (auth) headers.Authorization = auth;
  else if (tok) headers.Authorization = 'Bearer ' + tok;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`http://127.0.0.1:${srv.consolePort}/v2/console${p}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, body: json, headers: res.headers };
}

async function login(username = 'admin', password = 'password') {
  return con('POST', '/authenticate', { body: { username, password }, tok: null });
}

before(async () => {
  srv = await startServer({ args: ['--runtime.path', path.join(here, 'fixtures/console')] });
  const r = await login();
  assert.equal(r.status, 200, JSON.stringify(r.body));
  token = r.body.token;
});
after(async () => {
  if (srv) await srv.cleanup();
});

test('login: a token signed with console.signing_key carrying Nakama\'s claims; bad credentials refused', async () => {
  const [h, p] = token.split('.');
  assert.equal(JSON.parse(Buffer.from(h, 'base64url')).alg, 'HS256');
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  assert.equal(claims.usn, 'admin');
  assert.equal(claims.rol, 1);
  assert.ok(claims.exp > Date.now() / 1000 + 3600);
  // the same claims re-signed with the configured key give the same token
  assert.equal(signToken(claims, SIGNING_KEY), token);

  for (const [u, pw] of [['admin', 'wrong'], ['root', 'password'], ['admin', ''], ['', '']]) {
    const r = await login(u, pw);
    assert.equal(r.status, 401, `${u}/${pw}`);
    assert.deepEqual([r.body.code, r.body.message], [16, 'Invalid credentials.']);
  }
  const noBody = await con('POST', '/authenticate', { tok: null });
  assert.equal(noBody.status, 401);
  assert.match(srv.logs(), /console login refused/);
  assert.doesNotMatch(srv.logs(), /"wrong"|password=wrong/);
});

// One request per console route (path parameters filled in).
const U = '3b9a4c7e-1f2a-4b5c-8d9e-0a1b2c3d4e5f';
const ROUTES = [
  ['GET', '/status'], ['GET', '/config'], ['GET', '/runtime'], ['GET', '/api/endpoints'],
  ['POST', '/api/endpoints/rpc/console_echo'], ['GET', '/account'], ['GET', `/account/${U}`],
  ['POST', `/account/${U}`], ['DELETE', `/account/${U}`], ['POST', `/account/${U}/ban`],
  ['POST', `/account/${U}/unban`], ['GET', `/account/${U}/export`], ['GET', `/account/${U}/friend`],
  ['DELETE', `/account/${U}/friend/${U}`], ['GET', `/account/${U}/group`],
  ['DELETE', `/account/${U}/group/${U}`], ['GET', `/account/${U}/wallet`],
  ['POST', `/account/${U}/unlink/device`], ['POST', `/account/${U}/unlink/custom`],
  ['POST', `/account/${U}/unlink/email`], ['POST', `/account/${U}/unlink/steam`],
  ['GET', '/group'], ['GET', `/group/${U}`], ['DELETE', `/group/${U}`], ['GET', `/group/${U}/member`],
  ['GET', '/storage'], ['GET', '/storage/collections'], ['GET', `/storage/c/k/${U}`],
  ['PUT', `/storage/c/k/${U}`], ['DELETE', `/storage/c/k/${U}`], ['DELETE', `/storage/c/k/${U}/v1`],
  ['GET', '/match'], ['GET', '/leaderboard'], ['GET', '/leaderboard/console_lb'],
  ['DELETE', '/leaderboard/nope'], ['GET', '/leaderboard/console_lb/records'],
  ['DELETE', `/leaderboard/console_lb/owner/${U}`], ['GET', '/user'], ['POST', '/user'],
  ['GET', '/match/x/state'], ['GET', '/channel'],
];

test('every call is refused without a token, with an expired, forged or logged-out token', async () => {
  const now = Math.floor(Date.now() / 1000);
  const claims = { id: '00000000-0000-0000-0000-000000000000', usn: 'admin', rol: 1 };
  const expired = signToken({ ...claims, exp: now - 10 }, SIGNING_KEY);
  const forged = signToken({ ...claims, exp: now + 3600 }, 'not-the-key');
  const badBasic = 'Basic ' + Buffer.from('admin:nope').toString('base64');
  for (const [m, p] of ROUTES) {
    const none = await con(m, p, { tok: null, body: m === 'GET' ? undefined : {} });
    assert.equal(none.status, 401, `${m} ${p} without a token`);
    assert.deepEqual([none.body.code, none.body.message], [16, 'Console authentication required.'], `${m} ${p}`);
    // (a Basic attempt counts as a login attempt: only the first routes try one)
    const bad = [['expired', { tok: expired }], ['forged', { tok: forged }], ['garbage', { tok: 'x.y.z' }]];
    if (ROUTES.indexOf(ROUTES.find((r) => r[0] === m && r[1] === p)) < 5) bad.push(['basic', { auth: badBasic }]);
    for (const [what, opts] of bad) {
      const r = await con(m, p, { ...opts, body: m === 'GET' ? undefined : {} });
      assert.equal(r.status, 401, `${m} ${p} with a ${what} token`);
      assert.deepEqual([r.body.code, r.body.message], [16, 'Console authentication invalid.'], `${m} ${p} ${what}`);
    }
  }
  // a valid token and Basic auth with the admin's credentials both work
  assert.equal((await con('GET', '/status')).status, 200);
  const basic = 'Basic ' + Buffer.from('admin:password').toString('base64');
  assert.equal((await con('GET', '/status', { auth: basic })).status, 200);
  // logout revokes the token it names
  const other = (await login()).body.token;
  assert.equal((await con('GET', '/status', { tok: other })).status, 200);
  assert.equal((await con('POST', '/authenticate/logout', { tok: null, body: { token: other } })).status, 200);
  const after = await con('GET', '/status', { tok: other });
  assert.equal(after.status, 401);
  assert.equal(after.body.message, 'Console authentication invalid.');
});

test('login attempts are rate limited per client (rate_limit.auth_*)', async () => {
  const s = await startServer({ args: ['--rate_limit.auth_per_sec', '1', '--rate_limit.auth_burst', '3'] });
  try {
    const attempt = (pw) => fetch(`http://127.0.0.1:${s.consolePort}/v2/console/authenticate`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: pw }),
    });
    const codes = [];
    const all = await Promise.all(Array.from({ length: 8 }, () => attempt('guess')));
    for (const r of all) codes.push(r.status);
    assert.ok(codes.filter((c) => c === 429).length >= 4, `429s in ${codes}`);
    const limited = all.find((r) => r.status === 429);
    const body = await limited.json();
    assert.deepEqual([body.code, body.message], [8, 'Rate limit exceeded.']);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    // even the right password waits for the bucket
    assert.equal((await attempt('password')).status, 429);
    await waitFor(async () => (await attempt('password')).status === 200, 5000, 'the bucket to refill');
  } finally {
    await s.cleanup();
  }
});

test('status, config (secrets redacted), runtime and the API explorer', async () => {
  const u = await newUser(srv, 'stat');
  const sock = await connect(srv, u);
  try {
    const st = await waitFor(async () => {
      const r = await con('GET', '/status');
      return r.body.nodes[0].session_count >= 1 && r.body;
    }, 10000, 'the session in the status');
    const n = st.nodes[0];
    assert.equal(n.name, 'nakama');
    assert.equal(n.health, 0);
    assert.ok(n.presence_count >= 1);
    assert.ok(n.goroutine_count > 1);
    assert.ok(st.timestamp);
    assert.ok(st.server_version);
  } finally {
    closeAll(sock);
  }

  const c = await con('GET', '/config');
  assert.equal(c.status, 200);
  const cfg = JSON.parse(c.body.config);
  assert.equal(cfg.console.password, '<redacted>');
  assert.equal(cfg.console.signing_key, '<redacted>');
  assert.equal(cfg.session.encryption_key, '<redacted>');
  assert.equal(cfg.socket.server_key, '<redacted>');
  assert.equal(cfg.console.port, srv.consolePort);
  assert.ok(!c.body.config.includes('defaultsigningkey'));
  assert.ok(c.body.warnings.some((w) => w.field === 'console.signing_key'));
  assert.ok(c.body.server_version);

  const rt = await con('GET', '/runtime');
  assert.deepEqual(rt.body.lua_rpc_functions, ['console_echo', 'console_wallet', 'console_match_create']);
  assert.deepEqual(rt.body.lua_modules.map((m) => m.path), ['console.lua', 'console_match.lua']);
  assert.ok(rt.body.lua_modules[0].mod_time);
  const eps = await con('GET', '/api/endpoints');
  assert.deepEqual(eps.body.rpc_endpoints.map((e) => e.method), ['console_echo', 'console_wallet', 'console_match_create']);
  const call = await con('POST', '/api/endpoints/rpc/console_echo', { body: { body: 'hi', user_id: u.userId } });
  assert.deepEqual(call.body, { body: `echo:${u.userId}:hi`, error_message: '' });
  const asServer = await con('POST', '/api/endpoints/rpc/console_echo', { body: { body: 'x' } });
  assert.equal(asServer.body.body, 'echo:server:x');
  const missing = await con('POST', '/api/endpoints/rpc/nope', { body: { body: '' } });
  assert.equal(missing.status, 200);
  assert.equal(missing.body.error_message, 'RPC function not found');
});

test('accounts: search, view, edit, unlink, export, friends and groups, delete', async () => {
  const client = srv.client();
  const name = 'acct' + uid().slice(0, 8);
  const dev1 = 'dev-' + uid(), dev2 = 'dev-' + uid();
  const custom = 'cust-' + uid();
  const s = await client.authenticateDevice(dev1, true, name);
  await client.linkDevice(s, { id: dev2 });
  await client.linkCustom(s, { id: custom });
  const email = `${name}@example.com`;
  await client.linkEmail(s, { email, password: 'password1234' });
  const friend = await newUser(srv, 'fr');
  await client.addFriends(s, [friend.userId]);
  const group = await client.createGroup(s, { name: 'cg-' + uid(), open: true });
  await client.writeStorageObjects(s, [{ collection: 'saves', key: 'slot1', value: { level: 3 } }]);

  // search by id, username, LIKE pattern, device, custom id and email
  for (const filter of [s.user_id, s.user_id.toUpperCase(), name, name.slice(0, 6) + '%', dev2, custom, email.toUpperCase()]) {
    const r = await con('GET', '/account?filter=' + encodeURIComponent(filter));
    assert.equal(r.status, 200);
    assert.ok(r.body.users.some((x) => x.id === s.user_id), `filter ${filter}`);
    assert.ok(r.body.total_count >= 1);
  }
  assert.deepEqual((await con('GET', '/account?filter=nobody-' + uid())).body.users, []);
  // paging: every account once, in pages of 1
  const seen = [];
  let cursor = '';
  for (let i = 0; i < 50; i++) {
    const r = await con('GET', `/account?limit=1&cursor=${encodeURIComponent(cursor)}`);
    seen.push(...r.body.users.map((x) => x.id));
    cursor = r.body.next_cursor;
    if (!cursor) break;
  }
  assert.equal(new Set(seen).size, seen.length);
  assert.ok(seen.includes(s.user_id) && seen.includes(friend.userId));
  assert.ok(!seen.includes('00000000-0000-0000-0000-000000000000'));
  assert.equal((await con('GET', '/account?cursor=%%%')).status, 400);

  const got = await con('GET', `/account/${s.user_id}`);
  assert.equal(got.status, 200);
  assert.equal(got.body.account.user.username, name);
  assert.equal(got.body.account.custom_id, custom);
  assert.equal(got.body.account.email, email);
  assert.deepEqual(got.body.account.devices.map((d) => d.id).sort(), [dev1, dev2].sort());
  assert.equal((await con('GET', `/account/${U}`)).status, 404);
  assert.equal((await con('GET', '/account/not-a-uuid')).status, 400);

  const upd = await con('POST', `/account/${s.user_id}`, { body: { display_name: 'Shown', metadata: '{"vip":true}', location: 'Paris' } });
  assert.equal(upd.status, 200, JSON.stringify(upd.body));
  const acc = await client.getAccount(s);
  assert.equal(acc.user.display_name, 'Shown');
  assert.equal(acc.user.location, 'Paris');
  assert.deepEqual(typeof acc.user.metadata === 'string' ? JSON.parse(acc.user.metadata) : acc.user.metadata, { vip: true });
  assert.equal((await con('POST', `/account/${s.user_id}`, { body: { metadata: '[1]' } })).status, 400);
  assert.equal((await con('POST', `/account/${s.user_id}`, { body: { wallet: '{}' } })).status, 501);
  assert.equal((await con('POST', `/account/${U}`, { body: { display_name: 'x' } })).status, 404);
  assert.match(srv.logs(), new RegExp(`"action":"UpdateAccount","target":"account/${s.user_id}"`));

  // unlink a device, the custom id and the email; the last way in stays
  assert.equal((await con('POST', `/account/${s.user_id}/unlink/device`, { body: { device_id: dev2 } })).status, 200);
  assert.equal((await con('POST', `/account/${s.user_id}/unlink/custom`)).status, 200);
  assert.equal((await con('POST', `/account/${s.user_id}/unlink/email`)).status, 200);
  const last = await con('POST', `/account/${s.user_id}/unlink/device`, { body: { device_id: dev1 } });
  assert.equal(last.status, 403);
  assert.equal(last.body.message, 'Cannot unlink last account identifier. Check profile exists and is not last link.');
  const after = (await con('GET', `/account/${s.user_id}`)).body.account;
  assert.deepEqual(after.devices.map((d) => d.id), [dev1]);
  assert.equal(after.custom_id, undefined);
  assert.equal(after.email, undefined);

  const fr = await con('GET', `/account/${s.user_id}/friend`);
  assert.deepEqual(fr.body.friends.map((f) => f.user.id), [friend.userId]);
  const gr = await con('GET', `/account/${s.user_id}/group`);
  assert.deepEqual(gr.body.user_groups.map((g) => g.group.id), [group.id]);
  assert.equal((await con('GET', `/group/${group.id}`)).body.name, group.name);
  assert.deepEqual((await con('GET', `/group/${group.id}/member`)).body.group_users.map((x) => x.user.id), [s.user_id]);
  assert.ok((await con('GET', '/group?filter=' + encodeURIComponent(group.name))).body.groups.some((g) => g.id === group.id));

  const x = await con('GET', `/account/${s.user_id}/export`);
  assert.equal(x.status, 200);
  assert.equal(x.body.account.user.id, s.user_id);
  assert.deepEqual(x.body.objects.map((o) => `${o.collection}/${o.key}`), ['saves/slot1']);
  assert.equal(x.body.friends.length, 1);
  assert.deepEqual(x.body.groups.map((g) => g.id), [group.id]);
  for (const k of ['messages', 'leaderboard_records', 'notifications', 'wallet_ledgers']) assert.ok(Array.isArray(x.body[k]), k);
  assert.deepEqual((await con('GET', `/account/${s.user_id}/wallet`)).body.items, []);

  assert.equal((await con('DELETE', `/account/${s.user_id}/friend/${friend.userId}`)).status, 200);
  assert.deepEqual((await con('GET', `/account/${s.user_id}/friend`)).body.friends || [], []);

  assert.equal((await con('DELETE', `/account/${friend.userId}`)).status, 200);
  assert.equal((await con('GET', `/account/${friend.userId}`)).status, 404);
  await assert.rejects(friend.client.getAccount(friend.session), (e) => e.status === 401);
});

test('ban: the next REST call, socket connect and login are refused; unban lets the user back in', async () => {
  const client = srv.client();
  const dev = 'ban-' + uid();
  const s = await client.authenticateDevice(dev, true);
  const u = { client, session: s, userId: s.user_id };
  const sock = await connect(srv, u);
  let closed = false;
  sock.ondisconnect = () => { closed = true; };
  const r = await con('POST', `/account/${s.user_id}/ban`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, {});
  assert.ok((await con('GET', `/account/${s.user_id}`)).body.disable_time);
  await assert.rejects(client.getAccount(s), (e) => e.status === 401);
  await waitFor(() => closed, 10000, 'the banned user\'s socket to close');
  const up = await refusedUpgrade(`ws://127.0.0.1:${srv.port}/ws?token=${s.token}`);
  assert.equal(up.status, 401);
  let refused;
  try { await client.authenticateDevice(dev, false); } catch (e) { refused = e; }
  assert.equal(refused && refused.status, 403);
  assert.equal((await refused.json()).message, 'User account banned.');
  await assert.rejects(client.sessionRefresh(s), (e) => e.status === 401 || e.status === 403);
  assert.match(srv.logs(), new RegExp(`"action":"BanAccount","target":"account/${s.user_id}"`));

  assert.equal((await con('POST', `/account/${s.user_id}/unban`)).status, 200);
  assert.equal((await con('GET', `/account/${s.user_id}`)).body.disable_time, null);
  const again = await client.authenticateDevice(dev, false);
  assert.equal((await client.getAccount(again)).user.id, s.user_id);
  assert.equal((await con('POST', `/account/${U}/ban`)).status, 404);
});

test('storage: list and search, view, edit (read back through nakama-js), delete', async () => {
  const u = await newUser(srv, 'st');
  const coll = 'cs' + uid().slice(0, 6);
  await u.client.writeStorageObjects(u.session, [
    { collection: coll, key: 'a1', value: { n: 1 }, permission_read: 1, permission_write: 1 },
    { collection: coll, key: 'a2', value: { n: 2 } },
    { collection: coll, key: 'b1', value: { n: 3 } },
  ]);
  const all = await con('GET', `/storage?collection=${coll}`);
  assert.equal(all.status, 200);
  assert.deepEqual(all.body.objects.map((o) => o.key), ['a1', 'a2', 'b1']);
  assert.equal(all.body.total_count, 3);
  assert.deepEqual((await con('GET', `/storage?collection=${coll}&key=a%25`)).body.objects.map((o) => o.key), ['a1', 'a2']);
  assert.deepEqual((await con('GET', `/storage?collection=${coll}&key=b1`)).body.objects.map((o) => o.key), ['b1']);
  assert.equal((await con('GET', `/storage?user_id=${u.userId}`)).body.objects.length, 3);
  // pages of 2 cover everything once
  const p1 = await con('GET', `/storage?collection=${coll}&limit=2`);
  assert.equal(p1.body.objects.length, 2);
  const p2 = await con('GET', `/storage?collection=${coll}&limit=2&cursor=${p1.body.next_cursor}`);
  assert.deepEqual(p2.body.objects.map((o) => o.key), ['b1']);
  assert.equal(p2.body.next_cursor, '');
  assert.equal((await con('GET', '/storage?cursor=bad')).status, 400);
  assert.equal((await con('GET', '/storage?user_id=nope')).status, 400);
  assert.ok((await con('GET', '/storage/collections')).body.collections.includes(coll));

  const one = await con('GET', `/storage/${coll}/a1/${u.userId}`);
  assert.equal(one.status, 200);
  assert.deepEqual(JSON.parse(one.body.value), { n: 1 });
  assert.equal((await con('GET', `/storage/${coll}/zz/${u.userId}`)).status, 404);

  const w = await con('PUT', `/storage/${coll}/a1/${u.userId}`, { body: { value: '{"n":42}', version: one.body.version, permission_read: 2, permission_write: 1 } });
  assert.equal(w.status, 200, JSON.stringify(w.body));
  assert.equal(w.body.key, 'a1');
  assert.notEqual(w.body.version, one.body.version);
  const read = await u.client.readStorageObjects(u.session, { object_ids: [{ collection: coll, key: 'a1', user_id: u.userId }] });
  assert.deepEqual(read.objects[0].value, { n: 42 });
  assert.equal(read.objects[0].permission_read, 2);
  const stale = await con('PUT', `/storage/${coll}/a1/${u.userId}`, { body: { value: '{}', version: one.body.version } });
  assert.equal(stale.status, 400);
  assert.equal(stale.body.message, 'Storage write rejected - version check failed.');
  assert.equal((await con('PUT', `/storage/${coll}/a1/${u.userId}`, { body: { value: '[1]' } })).status, 400);
  assert.equal((await con('PUT', `/storage/${coll}/a1/${u.userId}`, { body: { value: '{}', permission_read: 7 } })).status, 400);

  assert.equal((await con('DELETE', `/storage/${coll}/a2/${u.userId}`)).status, 200);
  assert.equal((await con('DELETE', `/storage/${coll}/b1/${u.userId}/${'0'.repeat(32)}`)).status, 400);
  const left = await u.client.listStorageObjects(u.session, coll, u.userId, 10);
  assert.deepEqual(left.objects.map((o) => o.key).sort(), ['a1', 'b1']);
  assert.match(srv.logs(), new RegExp(`"action":"DeleteStorageObject","target":"storage/${coll}/a2/${u.userId}","client":"127.0.0.1","result":"ok"`));
});

test('matches and leaderboards', async () => {
  const u = await newUser(srv, 'm');
  const sock = await connect(srv, u);
  try {
    const m = await sock.createMatch();
    const list = await con('GET', '/match');
    const found = list.body.matches.find((x) => x.api_match.match_id === m.match_id);
    assert.ok(found, JSON.stringify(list.body));
    assert.equal(found.node, 'nakama');
    assert.equal(found.api_match.authoritative, false);
  } finally {
    closeAll(sock);
  }
  await u.client.writeLeaderboardRecord(u.session, 'console_lb', { score: 77 });
  const boards = await con('GET', '/leaderboard');
  const b = boards.body.leaderboards.find((x) => x.id === 'console_lb');
  assert.ok(b);
  assert.deepEqual([b.sort_order, b.operator, b.tournament, b.authoritative], [1, 0, false, false]);
  assert.equal((await con('GET', '/leaderboard/console_lb')).body.id, 'console_lb');
  assert.equal((await con('GET', '/leaderboard/nope')).status, 404);
  const recs = await con('GET', '/leaderboard/console_lb/records');
  assert.deepEqual(recs.body.records.map((r) => [r.owner_id, r.score]), [[u.userId, '77']]);
  assert.equal((await con('DELETE', `/leaderboard/console_lb/owner/${u.userId}`)).status, 200);
  assert.equal((await con('GET', '/leaderboard/console_lb/records')).body.records, undefined);
});

test('match state: an authoritative match\'s presences, tick and Lua state as JSON; relayed and unknown ids', async () => {
  const u = await newUser(srv, 'ms');
  const rpc = await u.client.rpc(u.session, 'console_match_create', {});
  const matchId = rpc.payload.match_id;
  const sock = await connect(srv, u);
  try {
    await sock.joinMatch(matchId);
    let st;
    await waitFor(async () => {
      st = await con('GET', `/match/${matchId}/state`);
      return st.status === 200 && JSON.parse(st.body.state).joined === 1 && Number(st.body.tick) > 0;
    }, 10000, 'the match state to show the join and ticks');
    assert.deepEqual(st.body.presences.map((p) => [p.user_id, p.username]), [[u.userId, u.session.username]]);
    const state = JSON.parse(st.body.state);
    assert.equal(state.name, 'console');
    assert.ok(state.ticks >= 0);
    // relayed matches have no state; bad and unknown ids
    const relayed = await sock.createMatch();
    const r = await con('GET', `/match/${relayed.match_id}/state`);
    assert.deepEqual([r.status, r.body.state ?? ''], [200, '']);
    const bad = await con('GET', '/match/x/state');
    assert.deepEqual([bad.status, bad.body.code, bad.body.message], [400, 3, 'Invalid match ID.']);
    const gone = await con('GET', `/match/${U}.nakama/state`);
    assert.deepEqual([gone.status, gone.body.message], [400, 'Match not found, or match handler already stopped.']);
  } finally {
    closeAll(sock);
  }
});

test('calls tomo does not implement yet answer 501; unknown paths 404', async () => {
  for (const [m, p] of [['POST', '/runtime/hotfix']]) {
    const r = await con(m, p);
    assert.equal(r.status, 501, `${m} ${p}`);
    assert.equal(r.body.code, 12);
  }
  assert.equal((await con('GET', '/nothing/here')).status, 404);
  // the UI is served from the same port
  const page = await fetch(`http://127.0.0.1:${srv.consolePort}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /text\/html/);
  assert.match(await page.text(), /tomo console/);
  const js = await fetch(`http://127.0.0.1:${srv.consolePort}/app.js`);
  assert.match(js.headers.get('content-type'), /javascript/);
});

test('a read-only console user (console.readonly_*): reads pass, writes and developer routes are refused', async () => {
  const ro = await startServer({ args: ['--console.readonly_username', 'viewer', '--console.readonly_password', 'viewer-pw-123'] });
  try {
    const call = async (method, p, tok, body) => {
      const res = await fetch(`http://127.0.0.1:${ro.consolePort}/v2/console${p}`, {
        method,
        headers: { Authorization: tok, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    };
    const res = await fetch(`http://127.0.0.1:${ro.consolePort}/v2/console/authenticate`, {
      method: 'POST', body: JSON.stringify({ username: 'viewer', password: 'viewer-pw-123' }),
    });
    assert.equal(res.status, 200);
    const { token: t } = await res.json();
    assert.equal(JSON.parse(Buffer.from(t.split('.')[1], 'base64url')).rol, 4);
    const bearer = `Bearer ${t}`;
    const basic = 'Basic ' + Buffer.from('viewer:viewer-pw-123').toString('base64');
    const user = await ro.client().authenticateDevice(`ro-${uid()}`, true);
    for (const auth of [bearer, basic]) {
      assert.equal((await call('GET', '/status', auth)).status, 200);
      assert.equal((await call('GET', `/account/${user.user_id}`, auth)).status, 200);
      for (const [m, p] of [['POST', `/account/${user.user_id}/ban`], ['GET', '/config']]) {
        const r = await call(m, p, auth, m === 'POST' ? {} : undefined);
        assert.equal(r.status, 403, `${m} ${p}`);
        assert.equal(r.body.code, 7);
        assert.match(r.body.message, /necessary permissions/);
      }
    }
    // the user was not banned, and a wrong read-only password is refused
    await ro.client().getAccount(user);
    const bad = await fetch(`http://127.0.0.1:${ro.consolePort}/v2/console/authenticate`, {
      method: 'POST', body: JSON.stringify({ username: 'viewer', password: 'nope' }),
    });
    assert.equal(bad.status, 401);
  } finally { await ro.cleanup(); }
});

test('console users in the database: add (Nakama\'s rules), list, log in by username or email with their role, delete revokes', async () => {
  const add = (body, tok) => con('POST', '/user', { body, tok });
  const good = { username: 'Dev.One', email: 'Dev.One@Example.com', password: 'Secret123', role: 2 };
  for (const [body, msg] of [
    [{ ...good, username: '' }, 'Username is required'],
    [{ ...good, username: 'ab' }, /^Username must be 3-20 long/],
    [{ ...good, username: '_abc' }, /^Username must be 3-20 long/],
    [{ ...good, username: 'admin' }, 'Username cannot be the console configured username'],
    [{ ...good, email: '' }, 'Email is required'],
    [{ ...good, email: 'not an email' }, 'Not a valid email address'],
    [{ ...good, password: '' }, 'Password is required'],
    [{ ...good, password: 'secret123' }, /^Password must be at least 8 characters long and contain 1 number and 1 upper case/],
    [{ ...good, password: 'Secret' }, /^Password must be at least 8/],
  ]) {
    const r = await add(body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.code, 3);
    if (msg instanceof RegExp) assert.match(r.body.message, msg); else assert.equal(r.body.message, msg);
  }
  assert.equal((await add(good)).status, 200);
  assert.equal((await add({ ...good, role: 'USER_ROLE_READONLY', username: 'viewer2', email: 'viewer2@example.com' })).status, 200);
  const dup = await add({ ...good, email: 'other@example.com' });
  assert.deepEqual([dup.status, dup.body.code, dup.body.message], [400, 9, 'Username or Email already exists']);
  const dupMail = await add({ ...good, username: 'devtwo' });
  assert.equal(dupMail.body.code, 9);

  const list = await con('GET', '/user');
  assert.equal(list.status, 200);
  const mine = list.body.users.filter((u) => ['dev.one', 'viewer2'].includes(u.username));
  assert.deepEqual(mine, [
    { username: 'dev.one', email: 'dev.one@example.com', role: 2 },
    { username: 'viewer2', email: 'viewer2@example.com', role: 4 },
  ]);
  assert.doesNotMatch(JSON.stringify(list.body), /Secret123|\$2b\$/);

  // log in by username (any case) or email; the token carries the role
  for (const name of ['dev.one', 'DEV.ONE', 'dev.one@example.com']) {
    const r = await login(name, 'Secret123');
    assert.equal(r.status, 200, name);
    const claims = JSON.parse(Buffer.from(r.body.token.split('.')[1], 'base64url'));
    assert.deepEqual([claims.usn, claims.ema, claims.rol], ['dev.one', 'dev.one@example.com', 2]);
    assert.notEqual(claims.id, '00000000-0000-0000-0000-000000000000');
  }
  const wrong = await login('dev.one', 'Secret124');
  assert.deepEqual([wrong.status, wrong.body.code, wrong.body.message], [401, 16, 'Invalid credentials.']);
  assert.doesNotMatch(srv.logs(), /Secret12[34]/);
  const dev = (await login('dev.one', 'Secret123')).body.token;
  const viewer = (await login('viewer2', 'Secret123')).body.token;
  // a developer reads the config but may not manage console users; read-only may not write
  assert.equal((await con('GET', '/config', { tok: dev })).status, 200);
  assert.equal((await con('GET', '/user', { tok: dev })).status, 403);
  assert.equal((await add({ ...good, username: 'sneaky', email: 'sneaky@example.com' }, dev)).status, 403);
  assert.equal((await con('GET', '/status', { tok: viewer })).status, 200);
  assert.equal((await con('GET', '/config', { tok: viewer })).status, 403);

  // delete: unknown user refused; a deleted user's tokens and password stop working
  const none = await con('DELETE', '/user?username=nobody');
  assert.deepEqual([none.status, none.body.code, none.body.message], [400, 3, 'User not found']);
  assert.equal((await con('DELETE', '/user?username=dev.one')).status, 200);
  const gone = await con('GET', '/config', { tok: dev });
  assert.deepEqual([gone.status, gone.body.message], [401, 'Console authentication invalid.']);
  assert.equal((await login('dev.one', 'Secret123')).status, 401);
  assert.equal((await con('GET', '/status', { tok: viewer })).status, 200);
  assert.equal((await con('DELETE', '/user?username=viewer2')).status, 200);
});

test('groups: update, export with every member, add users (as members or join requests), promote and demote', async () => {
  const owner = await newUser(srv, 'go');
  const a = await newUser(srv, 'ga');
  const b = await newUser(srv, 'gb');
  const g = await owner.client.createGroup(owner.session, { name: `cg-${uid()}`, open: false, max_count: 10 });
  assert.equal((await con('POST', `/group/not-a-uuid`, { body: { name: 'x' } })).body.message, 'Requires a valid group ID.');
  const up = await con('POST', `/group/${g.id}`, { body: { description: 'from the console', open: true, max_count: 20 } });
  assert.equal(up.status, 200, JSON.stringify(up.body));
  let got = (await con('GET', `/group/${g.id}`)).body;
  assert.deepEqual([got.description, got.open, got.max_count, got.name], ['from the console', true, 20, g.name]);
  // add a as a member; b as a join request to the (again) closed group
  assert.equal((await con('POST', `/group/${g.id}`, { body: { open: false } })).status, 200);
  assert.equal((await con('POST', `/group/${g.id}/add`, { body: { ids: a.userId } })).status, 200);
  assert.equal((await con('POST', `/group/${g.id}/add`, { body: { ids: b.userId, join_request: true } })).status, 200);
  const bad = await con('POST', `/group/${g.id}/add`, { body: { ids: 'nope' } });
  assert.deepEqual([bad.status, bad.body.code], [400, 3]);
  const states = async () => Object.fromEntries((await owner.client.listGroupUsers(owner.session, g.id)).group_users.map((x) => [x.user.id, x.state]));
  assert.deepEqual(await states(), { [owner.userId]: 0, [a.userId]: 2, [b.userId]: 3 });
  assert.equal((await con('POST', `/group/${g.id}/account/${a.userId}/promote`)).status, 200);
  assert.equal((await states())[a.userId], 1);
  assert.equal((await con('POST', `/group/${g.id}/account/${a.userId}/demote`)).status, 200);
  assert.equal((await states())[a.userId], 2);
  const ex = await con('GET', `/group/${g.id}/export`);
  assert.equal(ex.status, 200);
  assert.equal(ex.body.group.id, g.id);
  assert.deepEqual(ex.body.members.map((m) => m.user.id).sort(), [owner.userId, a.userId, b.userId].sort());
  assert.equal((await con('GET', `/group/${U}/export`)).status, 404);
});

test('wallet ledger items delete one by one; purchases and subscriptions list empty', async () => {
  const u = await newUser(srv, 'wl');
  await u.client.rpc(u.session, 'console_wallet', {});
  await u.client.rpc(u.session, 'console_wallet', {});
  const items = (await con('GET', `/account/${u.userId}/wallet`)).body.items;
  assert.equal(items.length, 2);
  assert.equal((await con('DELETE', `/account/${u.userId}/wallet/${items[0].id}`)).status, 200);
  const left = (await con('GET', `/account/${u.userId}/wallet`)).body.items;
  assert.deepEqual(left.map((i) => i.id), [items[1].id]);
  // the wallet itself keeps both changes
  assert.equal(JSON.parse((await u.client.getAccount(u.session)).wallet).coins, 10);
  assert.equal((await con('DELETE', `/account/${u.userId}/wallet/nope`)).body.code, 3);
  assert.deepEqual((await con('GET', `/purchase?user_id=${u.userId}`)).body.validated_purchases, []);
  assert.deepEqual((await con('GET', '/subscription')).body.validated_subscriptions, []);
});

test('delete all storage, then all accounts (their sessions end; the system user stays)', async () => {
  const s = await startServer();
  try {
    const t = (await (await fetch(`http://127.0.0.1:${s.consolePort}/v2/console/authenticate`, {
      method: 'POST', body: JSON.stringify({ username: 'admin', password: 'password' }),
    })).json()).token;
    const call = async (method, p) => {
      const res = await fetch(`http://127.0.0.1:${s.consolePort}/v2/console${p}`, { method, headers: { Authorization: `Bearer ${t}` } });
      return { status: res.status, body: await res.json() };
    };
    const users = [];
    for (let i = 0; i < 3; i++) users.push(await newUser(s, 'da'));
    for (const u of users) {
      await u.client.writeStorageObjects(u.session, [{ collection: 'c', key: 'k', value: { i: 1 } }]);
    }
    assert.equal((await call('DELETE', '/storage')).status, 200);
    for (const u of users) {
      const r = await u.client.readStorageObjects(u.session, { object_ids: [{ collection: 'c', key: 'k', user_id: u.userId }] });
      assert.deepEqual(r.objects, []);
    }
    assert.equal((await call('DELETE', '/account')).status, 200);
    assert.equal((await call('GET', '/account')).body.users.length, 0);
    for (const u of users) await assert.rejects(u.client.getAccount(u.session), (e) => e.status === 401 || e.status === 404);
    // delete all data: accounts, groups, chat history go; the server goes on serving
    const v = await newUser(s, 'after');
    await v.client.createGroup(v.session, { name: `da-${uid()}`, open: true });
    assert.equal((await call('GET', '/group')).body.groups.length, 1);
    assert.equal((await call('DELETE', '/all')).status, 200);
    assert.deepEqual((await call('GET', '/group')).body.groups ?? [], []);
    assert.equal((await call('GET', '/account')).body.users.length, 0);
    await assert.rejects(v.client.getAccount(v.session), (e) => e.status === 401 || e.status === 404);
    await newUser(s, 'again');
  } finally { await s.cleanup(); }
});

test('channel messages: list a room\'s history newest first, delete by id and by time', async () => {
  const u = await newUser(srv, 'ch');
  const sock = await connect(srv, u);
  const room = `console-room-${uid().slice(0, 8)}`;
  try {
    const ch = await sock.joinChat(room, 1, true, false);
    const acks = [];
    for (let i = 0; i < 3; i++) acks.push(await sock.writeChatMessage(ch.id, { n: i }));
    const list = await con('GET', `/channel?type=2&label=${room}`);
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.deepEqual(list.body.messages.map((m) => JSON.parse(m.content).n), [2, 1, 0]);
    assert.equal(list.body.messages[0].channel_id, ch.id);
    const byName = await con('GET', `/channel?type=ROOM&label=${room}`);
    assert.equal(byName.body.messages.length, 3);
    for (const [q, msg] of [['type=2&label=', 'Invalid label size.'], ['type=3&group_id=x', 'Invalid group ID format.'],
      ['type=4&user_id_one=x&user_id_two=y', 'Invalid user ID format.'], ['type=9', 'Invalid chat type.']]) {
      assert.equal((await con('GET', `/channel?${q}`)).body.message, msg, q);
    }
    const del = await con('DELETE', `/message?ids=${acks[0].message_id}`);
    assert.deepEqual([del.status, del.body.total], [200, '1']);
    assert.deepEqual((await con('GET', `/channel?type=2&label=${room}`)).body.messages.map((m) => JSON.parse(m.content).n), [2, 1]);
    assert.equal((await con('DELETE', '/message?ids=nope')).body.message, 'Requires a valid message ID.');
    const future = new Date(Date.now() + 60000).toISOString();
    const all = await con('DELETE', `/message?before=${future}`);
    assert.ok(Number(all.body.total) >= 2);
    assert.equal((await con('GET', `/channel?type=2&label=${room}`)).body.messages, undefined);
  } finally {
    closeAll(sock);
  }
});

test('API explorer: built-in methods listed with body templates and called as a user through the API\'s own handlers', async () => {
  const u = await newUser(srv, 'ax');
  const eps = (await con('GET', '/api/endpoints')).body.endpoints;
  const names = eps.map((e) => e.method);
  assert.ok(names.includes('GetAccount') && names.includes('UpdateAccount') && names.includes('AuthenticateDevice'));
  assert.ok(!names.includes('Healthcheck') && !names.includes('RpcFunc'));
  assert.deepEqual([...names].sort(), names);
  assert.equal(new Set(names).size, names.length);
  assert.equal(eps.find((e) => e.method === 'GetAccount').body_template, '');
  assert.ok('display_name' in JSON.parse(eps.find((e) => e.method === 'UpdateAccount').body_template));

  const call = (method, body, user_id) => con('POST', `/api/endpoints/${method}`, { body: { method, body, user_id } });
  const acc = await call('GetAccount', '', u.userId);
  assert.equal(acc.status, 200, JSON.stringify(acc.body));
  assert.equal(JSON.parse(acc.body.body).user.id, u.userId);
  assert.equal(acc.body.error_message, '');
  assert.equal((await call('UpdateAccount', JSON.stringify({ display_name: 'From Explorer' }), u.userId)).body.error_message, '');
  assert.equal((await u.client.getAccount(u.session)).user.display_name, 'From Explorer');
  // path parameters come from the message (gRPC-gateway's binding)
  await u.client.writeStorageObjects(u.session, [{ collection: 'ax', key: 'k1', value: { a: 1 } }]);
  const listed = await call('ListStorageObjects', JSON.stringify({ collection: 'ax', user_id: u.userId, limit: 10 }), u.userId);
  assert.deepEqual(JSON.parse(listed.body.body).objects.map((o) => o.key), ['k1']);
  // a route that renders its JSON text itself (leaderboard records) still answers through the explorer
  await u.client.writeLeaderboardRecord(u.session, 'console_lb', { score: 5 });
  const recs = await call('ListLeaderboardRecords', JSON.stringify({ leaderboard_id: 'console_lb' }), u.userId);
  assert.ok(JSON.parse(recs.body.body).records.some((r) => r.owner_id === u.userId), recs.body.body);
  // authenticate needs no user; errors of the API come back as Go renders a gRPC status
  const auth = await call('AuthenticateDevice', JSON.stringify({ account: { id: `ax-${uid()}` }, create: true }));
  assert.ok(JSON.parse(auth.body.body).token);
  const nf = await call('GetUsers', JSON.stringify({ ids: ['nope'] }), u.userId);
  assert.equal(nf.status, 200);
  assert.match(nf.body.error_message, /^rpc error: code = InvalidArgument desc = /);
  for (const [m, body, user, msg] of [
    ['GetAccount', '', '', 'Built-in RPC functions require a user_id.'],
    ['GetAccount', '', 'x', 'Invalid user uuid.'],
    ['GetAccount', '', U, 'User id not found.'],
    ['GetAccount', '{"a":1}', u.userId, "Api method doesn't accept a request body."],
    ['UpdateAccount', '{not json', u.userId, 'Error parsing method request body.'],
    ['NoSuchMethod', '', u.userId, "API method doesn't exist: NoSuchMethod"],
  ]) {
    const r = await call(m, body, user);
    assert.equal(r.body.message, msg, `${m} ${user}`);
  }
});
