// C plugins (include/tomo/plugin.h): examples/plugin is built once with cc
// into a temp dir and loaded from runtime.path next to a Lua module; its
// RPC over nakama-js (REST and socket), its error mapping, its before hook,
// its storage service calls; a plugin built against the frozen ABI 1.0
// header loads; a plugin of another ABI major, a .so without the entry
// point and an RPC id registered by both a Lua module and a plugin fail
// start-up with a clear message.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, mkdirSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startServer, TOMO_BIN } from './harness.mjs';
import { newUser, connect, waitFor } from './rtutil.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../..');
const KEY = 'defaulthttpkey';
const CC = process.env.CC || 'cc';

let tmp, mods, srv;

function build(src, out, include) {
  const r = spawnSync(CC, ['-shared', '-fPIC', '-O1', '-Wall', '-Wextra', '-Werror', '-I', include,
    '-o', out, src], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${CC} ${src}: ${r.stderr}`);
}

function serveFails(dir) {
  return spawnSync(TOMO_BIN, ['serve', '--runtime.path', dir, '--data_dir', dir, '--socket.port', '0',
    '--socket.ws_port', '0', '--metrics.prometheus_port', '0'], { encoding: 'utf8', timeout: 10000 });
}

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'tomo-plugin-'));
  mods = path.join(tmp, 'modules');
  mkdirSync(mods);
  build(path.join(ROOT, 'examples/plugin/example.c'), path.join(tmp, 'example.so'),
    path.join(ROOT, 'include'));
  build(path.join(ROOT, 'tests/plugin/old_minor.c'), path.join(tmp, 'old_minor.so'),
    path.join(ROOT, 'tests/plugin/abi-1.0'));
  build(path.join(ROOT, 'tests/plugin/bad_major.c'), path.join(tmp, 'bad_major.so'),
    path.join(ROOT, 'include'));
  build(path.join(ROOT, 'tests/plugin/services.c'), path.join(mods, 'services.so'),
    path.join(ROOT, 'include'));
  copyFileSync(path.join(tmp, 'example.so'), path.join(mods, 'example.so'));
  mkdirSync(path.join(mods, 'compat'));
  copyFileSync(path.join(tmp, 'old_minor.so'), path.join(mods, 'compat', 'old_minor.so'));
  writeFileSync(path.join(mods, 'helper.lua'), `local nk = require("nakama")
nk.register_rpc(function(ctx, p) return "lua:" .. p end, "lua_ping")
-- Lua reaches the plugin's match module through the same registry
nk.register_rpc(function(ctx, p) return nk.match_create("example_match", {}) end, "lua_create")
nk.register_rpc(function(ctx, p) return nk.match_signal(p, "hi") end, "lua_signal")
nk.register_rpc(function(ctx, p) return ctx.session_id end, "lua_sid")
`);
  srv = await startServer({ args: ['--runtime.path', mods] });
});
after(async () => {
  await srv?.cleanup();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function post(id, body, q = '') {
  const r = await fetch(`${srv.url}/v2/rpc/${id}?http_key=${KEY}${q}`, { method: 'POST', body });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, text, json };
}

test('the plugin RPC over nakama-js (REST and socket) with the caller in ctx; Lua beside it', async () => {
  const u = await newUser(srv, 'plg');
  const r = await u.client.rpc(u.session, 'example_echo', { hello: 'plugin' });
  assert.deepEqual(JSON.parse(r.payload.payload), { hello: 'plugin' });
  assert.equal(r.payload.user_id, u.userId);
  // ids are case-blind, http_key has no user
  const k = await post('EXAMPLE_ECHO', JSON.stringify('raw'));
  assert.equal(k.status, 200);
  assert.deepEqual(JSON.parse(k.json.payload), { payload: 'raw', user_id: null });
  // the socket rpc envelope reaches the same function
  const sock = await connect(srv, u);
  const s = await sock.rpc('example_echo', '{"via":"socket"}');
  assert.deepEqual(JSON.parse(JSON.parse(s.payload).payload), { via: 'socket' });
  sock.disconnect(false);
  // the Lua module in the same runtime.path
  const l = await post('lua_ping', JSON.stringify('x'));
  assert.equal(l.json.payload, 'lua:x');
});

test('a plugin error gets Nakama\'s mapping, like a Lua error', async () => {
  const r = await post('example_fail', JSON.stringify(''));
  assert.equal(r.status, 400);
  assert.equal(r.json.code, 3);
  assert.equal(r.json.message, 'example failure');
  // a plugin error from a service call passes through (no session: 16 -> 401)
  const s = await post('example_store', JSON.stringify('{}'));
  assert.equal(s.status, 401);
  assert.equal(s.json.code, 16);
  const u = await newUser(srv, 'plgerr');
  await assert.rejects(u.client.rpc(u.session, 'example_fail', {}), (e) => e.status === 400);
  const missing = await post('example_nope', JSON.stringify(''));
  assert.equal(missing.status, 404);
  assert.equal(missing.json.code, 5);
});

test('the plugin before hook changes or refuses UpdateAccount', async () => {
  const u = await newUser(srv, 'plghook');
  await u.client.updateAccount(u.session, { display_name: 'Bob' });
  let acc = await u.client.getAccount(u.session);
  assert.equal(acc.user.display_name, 'plugin:Bob');
  const e = await u.client.updateAccount(u.session, { display_name: 'forbidden' }).then(
    () => assert.fail('the hook should refuse'), (x) => x);
  assert.equal(e.status, 400);
  const body = await e.json();
  assert.equal(body.code, 3);
  assert.equal(body.message, 'display name not allowed');
  acc = await u.client.getAccount(u.session);
  assert.equal(acc.user.display_name, 'plugin:Bob');
  // a request without display_name goes through unchanged
  await u.client.updateAccount(u.session, { location: 'Lyon' });
  acc = await u.client.getAccount(u.session);
  assert.equal(acc.user.location, 'Lyon');
  assert.equal(acc.user.display_name, 'plugin:Bob');
});

test('plugin services: storage write and read through svc, visible to the client', async () => {
  const u = await newUser(srv, 'plgsvc');
  const r = await u.client.rpc(u.session, 'example_store', { score: 7 });
  const objs = r.payload.objects;
  assert.equal(objs.length, 1);
  assert.equal(objs[0].collection, 'example');
  assert.equal(objs[0].user_id, u.userId);
  assert.deepEqual(JSON.parse(objs[0].value), { score: 7 });
  const read = await u.client.readStorageObjects(u.session,
    { object_ids: [{ collection: 'example', key: 'last', user_id: u.userId }] });
  assert.deepEqual(read.objects[0].value, { score: 7 });
  // bad input: the service's INVALID_ARGUMENT
  const bad = await u.client.rpc(u.session, 'example_store', []).catch((e) => e);
  assert.equal(bad.status, 400);
});

const text = (d) => new TextDecoder().decode(d.data);
const ofOp = (s, op) => s.events.matchdata.filter((d) => d.op_code === op);

test('the plugin match: created by the plugin, joined and played over nakama-js', async () => {
  const [a, b] = [await newUser(srv, 'pma'), await newUser(srv, 'pmb')];
  const sa = await connect(srv, a);
  const sb = await connect(srv, b, { protobuf: true });
  try {
    const r = await a.client.rpc(a.session, 'example_match_create', {});
    const id = r.payload.match_id;
    assert.match(id, /^[0-9a-f-]{36}\.nakama$/);
    // a refused join (the plugin's join_attempt reads the metadata)
    await assert.rejects(sb.joinMatch(id, undefined, { deny: 'yes' }),
      (e) => /denied by the example/.test(e.message ?? JSON.stringify(e)));
    // ABI 1.3: join_attempt's context (host->match_ctx) has the joining socket's address
    await assert.rejects(sb.joinMatch(id, undefined, { deny: 'addr' }),
      (e) => /denied from 127\.0\.0\.1:\d+/.test(e.message ?? JSON.stringify(e)));
    const ma = await sa.joinMatch(id);
    assert.equal(ma.authoritative, true);
    assert.equal(ma.label, '{"kind":"example"}');
    const mb = await sb.joinMatch(id);
    assert.equal(mb.size, 1);
    // the loop echoes to everyone with op_code + 1 and the sender
    await sa.sendMatchState(id, 4, 'ping');
    const [eb] = await waitFor(() => ofOp(sb, 5).length && ofOp(sb, 5), 5000, 'b gets the echo');
    assert.equal(text(eb), 'ping');
    assert.equal(eb.presence.user_id, a.userId);
    await waitFor(() => ofOp(sa, 5).length, 5000, 'a gets the echo');
    // listed as authoritative with the plugin's label
    const list = await a.client.listMatches(a.session, 10, true, '{"kind":"example"}');
    assert.ok(list.matches.some((m) => m.match_id === id));
    // Lua's nk.match_signal reaches the plugin's signal
    const sig = await fetch(`${srv.url}/v2/rpc/lua_signal?http_key=${KEY}&unwrap`,
      { method: 'POST', body: id });
    assert.match(await sig.text(), /^tick=\d+ players=2$/);
    // op 99 ends the match: the next join finds nothing
    await sb.sendMatchState(id, 99, '');
    const c = await newUser(srv, 'pmc');
    const sc = await connect(srv, c);
    await waitFor(async () => (await sc.joinMatch(id).then(() => false, () => true)), 5000,
      'the match ended');
    sc.disconnect(false);
    // Lua creates the plugin's match module too
    const lc = await fetch(`${srv.url}/v2/rpc/lua_create?http_key=${KEY}&unwrap`, { method: 'POST' });
    assert.match(await lc.text(), /^[0-9a-f-]{36}\.nakama$/);
  } finally {
    sa.disconnect(false);
    sb.disconnect(false);
  }
});

test('ABI 1.2 streams: join, send, count, list and leave from a plugin', async () => {
  const u = await newUser(srv, 'pst');
  const s = await connect(srv, u);
  const data = [];
  s.onstreamdata = (d) => data.push(d);
  try {
    const sid = (await s.rpc('lua_sid', '')).payload;
    const r = JSON.parse((await s.rpc('svc_stream', JSON.stringify({ user_id: u.userId,
      session_id: sid }))).payload);
    assert.equal(r.joined, 1);
    assert.equal(r.count, 1);
    assert.equal(r.list.length, 1);
    assert.equal(r.list[0].session_id, sid);
    assert.equal(r.list[0].status, 'busy');
    await waitFor(() => data.length, 5000, 'the stream data');
    assert.equal(data[0].data, 'hello');
    assert.equal(data[0].stream.mode, 13);
    assert.equal(data[0].stream.label, 'plugin-stream');
    const l = JSON.parse((await s.rpc('svc_stream_leave', JSON.stringify({ user_id: u.userId,
      session_id: sid }))).payload);
    assert.equal(l.count, 0);
    assert.equal(l.bad_code, 3);
    assert.match(l.bad, /stream mode must be 0\.\.15/);
  } finally {
    s.disconnect(false);
  }
});

test('ABI 1.2 friends, groups and chat from a plugin, seen by nakama-js', async () => {
  const [a, b] = [await newUser(srv, 'psa'), await newUser(srv, 'psb')];
  const room = 'plugin-room-' + Date.now();
  const r = await a.client.rpc(a.session, 'svc_social', { a: a.userId, b: b.userId, room });
  const out = r.payload;
  assert.deepEqual(out.friends.friends.map((f) => [f.user.id, f.state]), [[b.userId, 1]]);
  assert.equal(out.group.name, 'plugin-group-' + a.userId.slice(0, 8));
  assert.equal(out.group.open, true);
  assert.equal(out.group.max_count, 10);
  assert.deepEqual(out.users.group_users.map((g) => g.user.id).sort(), [a.userId, b.userId].sort());
  assert.equal(out.user_groups.user_groups[0].group.id, out.group.id);
  assert.equal(out.groups.groups[0].id, out.group.id);
  assert.equal(out.ack.room_name, room);
  assert.equal(out.ack.persistent, true);
  const fl = await b.client.listFriends(b.session);
  assert.deepEqual(fl.friends.map((f) => [f.user.id, f.state]), [[a.userId, 2]]);
  const ug = await b.client.listUserGroups(b.session, b.userId);
  assert.equal(ug.user_groups[0].group.id, out.group.id);
  const h = await a.client.listChannelMessages(a.session, out.ack.channel_id, 10, true);
  assert.deepEqual(h.messages.map((m) => m.content), [{ from: 'plugin' }]);
});

test('a plugin realtime before hook rewrites or refuses ChannelJoin', async () => {
  const u = await newUser(srv, 'prt');
  const s = await connect(srv, u);
  try {
    const ch = await s.joinChat('rename-me', 1, false, false);
    assert.equal(ch.room_name, 'renamed');
    await assert.rejects(s.joinChat('blocked', 1, false, false),
      (e) => /rooms named blocked are closed/.test(e.message ?? JSON.stringify(e)));
    // the socket stays usable after a refusal (an error, not a drop)
    const ok = await s.joinChat('open-room', 1, false, false);
    assert.equal(ok.room_name, 'open-room');
  } finally {
    s.disconnect(false);
  }
});

test('a plugin built against the ABI 1.0 header loads (from a subdirectory)', async () => {
  const r = await post('old_abi', JSON.stringify(''), '&unwrap');
  assert.equal(r.status, 200);
  assert.equal(r.text, 'built=1.0 host=1.3');
});

test('a plugin of another ABI major is refused at start-up, naming both versions', () => {
  const dir = path.join(tmp, 'major');
  mkdirSync(dir);
  copyFileSync(path.join(tmp, 'bad_major.so'), path.join(dir, 'bad_major.so'));
  const r = serveFails(dir);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /bad_major\.so is built for tomo plugin ABI 2\.0; this tomo implements ABI 1\.\d/);
});

test('an RPC id registered by a Lua module and a plugin fails start-up naming both', () => {
  const dir = path.join(tmp, 'dup');
  mkdirSync(dir);
  copyFileSync(path.join(tmp, 'example.so'), path.join(dir, 'example.so'));
  writeFileSync(path.join(dir, 'dup.lua'),
    'require("nakama").register_rpc(function() return "" end, "Example_Echo")\n');
  let r = serveFails(dir);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /RPC id "Example_Echo" is registered twice: by example\.so and dup\.lua/);
  // two Lua modules: the same rule
  rmSync(path.join(dir, 'example.so'));
  writeFileSync(path.join(dir, 'dup2.lua'),
    'require("nakama").register_rpc(function() return "" end, "example_echo")\n');
  r = serveFails(dir);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /RPC id "example_echo" is registered twice: by dup\.lua and dup2\.lua/);
  // two plugins: the same rule
  rmSync(path.join(dir, 'dup.lua'));
  rmSync(path.join(dir, 'dup2.lua'));
  copyFileSync(path.join(tmp, 'example.so'), path.join(dir, 'a.so'));
  copyFileSync(path.join(tmp, 'example.so'), path.join(dir, 'b.so'));
  r = serveFails(dir);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /RPC id "example_echo" is registered twice: by a\.so and b\.so/);
});

test('a .so without tomo_plugin_init, or not a shared object, fails start-up clearly', () => {
  const dir = path.join(tmp, 'nosym');
  mkdirSync(dir);
  writeFileSync(path.join(tmp, 'nosym.c'), 'int something(void) { return 1; }\n');
  build(path.join(tmp, 'nosym.c'), path.join(dir, 'nosym.so'), path.join(ROOT, 'include'));
  let r = serveFails(dir);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /plugin nosym\.so does not export tomo_plugin_init/);
  rmSync(path.join(dir, 'nosym.so'));
  writeFileSync(path.join(dir, 'junk.so'), 'not an ELF file');
  r = serveFails(dir);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /plugin junk\.so cannot be loaded/);
});
