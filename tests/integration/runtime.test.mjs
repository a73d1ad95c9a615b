// Lua runtime: module loading, RPC over REST (session, http_key, unwrap,
// GET payload) and the socket, error mapping, the sandbox, the instruction
// budget and memory bound, request and realtime hooks, start-up failures.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startServer, TOMO_BIN, uid } from './harness.mjs';
import { newUser, connect, closeAll, waitFor } from './rtutil.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const FIXTURES = path.join(here, 'fixtures', 'runtime');
const KEY = 'defaulthttpkey';

let srv;
before(async () => {
  srv = await startServer({
    args: ['--runtime.path', FIXTURES, '--runtime.env', 'region=eu,mode=test',
      '--runtime.lua_max_instructions', '20000000', '--runtime.lua_max_memory_mb', '32',
      '--runtime.lua_min_count', '2', '--runtime.lua_max_count', '4'],
  });
});
after(async () => { await srv?.cleanup(); });

const rpcUrl = (id, q = '') => `${srv.url}/v2/rpc/${id}?http_key=${KEY}${q}`;
async function post(id, body, q = '', headers = {}) {
  const r = await fetch(rpcUrl(id, q), { method: 'POST', body, headers });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, text, json, headers: r.headers };
}

test('rpc with a session: payload in and out, ctx fields as Nakama', async () => {
  const u = await newUser(srv, 'rpc');
  const r = await u.client.rpc(u.session, 'ctx', { hello: 'world' });
  const { ctx, payload } = r.payload;
  assert.deepEqual(JSON.parse(payload), { hello: 'world' });
  assert.equal(ctx.user_id, u.userId);
  assert.equal(ctx.username, u.username);
  assert.equal(ctx.execution_mode, 'rpc');
  assert.equal(ctx.node, 'nakama');
  assert.deepEqual(ctx.env, { region: 'eu', mode: 'test' });
  assert.equal(typeof ctx.user_session_exp, 'number');
  assert.equal(ctx.client_ip, '127.0.0.1');
  assert.ok(Array.isArray(ctx.headers.Authorization));
  // ids are case-blind; require between modules works
  const g = await u.client.rpc(u.session, 'GREET', {});
  assert.deepEqual(g.payload, { msg: 'hello tomo' });
});

test('rpc with http_key: no user in ctx, query params kept except http_key; GET payload', async () => {
  let r = await post('ctx', JSON.stringify('raw'), '&a=1&a=2');
  assert.equal(r.status, 200);
  const out = JSON.parse(r.json.payload);
  assert.equal(out.payload, 'raw');
  assert.equal(out.ctx.user_id, undefined);
  assert.equal(out.ctx.username, undefined);
  assert.deepEqual(out.ctx.query_params, { a: ['1', '2'] });
  // nakama-js rpcHttpKey: GET with ?payload=, which Nakama leaves in the query
  // parameters: the function's payload is empty
  const c = srv.client();
  const g = await c.rpcHttpKey(KEY, 'ctx', { via: 'get' });
  assert.equal(g.payload.payload, '');
  assert.deepEqual(g.payload.ctx.query_params, { payload: ['{"via":"get"}'] });
  assert.equal((await c.rpcHttpKey(KEY, 'echo', { via: 'get' })).payload, undefined);
  // a wrong key or no auth at all
  // (Nakama's RPC handler answers errors with an "error" too, and no WWW-Authenticate)
  const bad = await fetch(`${srv.url}/v2/rpc/echo?http_key=wrong`, { method: 'POST', body: '"x"' });
  assert.equal(bad.status, 401);
  assert.equal(bad.headers.get('www-authenticate'), null);
  assert.deepEqual(await bad.json(),
    { error: 'HTTP key invalid', message: 'HTTP key invalid', code: 16 });
  const none = await fetch(`${srv.url}/v2/rpc/echo`, { method: 'POST', body: '"x"' });
  assert.equal(none.status, 401);
  assert.deepEqual(await none.json(), { error: 'Auth token or HTTP key required',
    message: 'Auth token or HTTP key required', code: 16 });
  // a body that is not a JSON string: Nakama's fixed text
  r = await post('echo', '{"a":1}');
  assert.equal(r.status, 400);
  const m = 'json: cannot unmarshal object into Go value of type string';
  assert.deepEqual(r.json, { error: m, message: m, code: 3 });
});

test('rpc unwrap: raw body in and out, Content-Type copied', async () => {
  let r = await post('echo', 'not json at all', '&unwrap', { 'Content-Type': 'application/x-custom' });
  assert.equal(r.status, 200);
  assert.equal(r.text, 'not json at all');
  assert.equal(r.headers.get('content-type'), 'application/x-custom');
  r = await post('echo', '{"k":[1,2]}', '&unwrap');
  assert.equal(r.text, '{"k":[1,2]}');
});

test('rpc errors: unknown id, error codes, runtime errors, bad return', async () => {
  let r = await post('nosuch', '""');
  assert.equal(r.status, 404);
  assert.deepEqual(r.json,
    { error: 'RPC function not found', message: 'RPC function not found', code: 5 });
  // the function's own error: Nakama marshals the Go error value, {}
  r = await post('err_code', '""');
  assert.equal(r.status, 403);
  assert.deepEqual(r.json, { code: 7, error: {}, message: 'custom denied' });
  r = await post('err_msg', '""');
  assert.equal(r.status, 500);
  assert.equal(r.json.code, 13);
  assert.equal(r.json.message, 'plain failure');
  r = await post('runtime_err', '""');
  assert.equal(r.status, 500);
  assert.match(r.json.message, /attempt to index/);
  assert.match(srv.logs(), /runtime function error/);
  r = await post('bad_return', '""');
  assert.equal(r.status, 500);
  assert.match(r.json.message, /invalid data/);
  // not implemented nk functions raise an error naming them
  r = await post('unimplemented', '""');
  const u = JSON.parse(r.json.payload);
  assert.equal(u.ok, false);
  assert.match(u.err, /purchase_validate_huawei is not implemented/);
});

test('sandbox: no io, os.execute, loadlib, dofile, ffi, debug or bytecode; bit32 exists', async () => {
  const r = await post('sandbox', '""');
  assert.deepEqual(JSON.parse(r.json.payload), {
    io: true, os_execute: true, loadlib: true, dofile: true, ffi: true, debug: true,
    bytecode: true, bit32: true,
  });
});

test('a runaway script is stopped by the instruction budget, the server keeps serving', async () => {
  const t0 = Date.now();
  let r = await post('spin', '""');
  assert.equal(r.status, 500);
  assert.match(r.json.message, /instruction budget/);
  r = await post('spin_pcall', '""');
  assert.equal(r.status, 500);
  assert.match(r.json.message, /instruction budget/);
  assert.ok(Date.now() - t0 < 10000);
  r = await post('hog', '""');
  assert.equal(r.status, 500);
  assert.match(r.json.message, /memory limit/);
  r = await post('echo', 'alive', '&unwrap');
  assert.equal(r.text, 'alive');
});

test('socket rpc: payload, errors as code 6 / 7', async () => {
  const u = await newUser(srv, 'srpc');
  const s = await connect(srv, u);
  try {
    const r = await s.rpc('echo', 'over the socket');
    assert.equal(r.id, 'echo');
    assert.equal(r.payload, 'over the socket');
    const c = await s.rpc('ctx', '{}');
    const ctx = JSON.parse(c.payload).ctx;
    assert.equal(ctx.user_id, u.userId);
    assert.ok(ctx.session_id);
    assert.equal(ctx.lang, 'en');
    await assert.rejects(s.rpc('nosuch', ''), (e) => e.code === 6 && e.message === 'RPC function not found');
    await assert.rejects(s.rpc('err_code', ''), (e) => e.code === 7 && e.message === 'custom denied');
    await assert.rejects(s.rpc('spin', ''), (e) => e.code === 7 && /budget/.test(e.message));
  } finally { closeAll(s); }
});

test('request hooks: before changes and rejects, after runs', async () => {
  const c = srv.client();
  const id = 'dev-' + uid() + uid();
  const session = await c.authenticateDevice(id, true, 'ignored');
  assert.equal(session.username, 'hooked' + id.slice(-8));
  await assert.rejects(c.authenticateDevice('reject-' + uid() + uid(), true), (e) => e.status === 404);
  await assert.rejects(c.authenticateDevice('raise-' + uid() + uid(), true), (e) => e.status === 400);
  await c.getAccount(session);
  const r = await post('cache_get', JSON.stringify('after_get_account'));
  assert.equal(JSON.parse(r.json.payload).after, session.user_id);
});

test('realtime hooks: before changes, errors and rejects; after runs', async () => {
  const u = await newUser(srv, 'rth');
  const s = await connect(srv, u);
  try {
    const ch = await s.joinChat('lobby', 1, false, false);
    assert.equal(ch.room_name, 'lobby_hooked');
    const r = await waitFor(async () => {
      const x = await post('cache_get', JSON.stringify('rt_after_' + u.userId));
      const v = JSON.parse(x.json.payload).after;
      return v !== 'none' ? v : null;
    }, 3000, 'after hook');
    assert.equal(await r, 'lobby_hooked');
    await assert.rejects(s.joinChat('boom', 1, false, false), (e) => e.code === 7 && /join refused by hook/.test(e.message));
    // still connected after a hook error
    assert.equal((await s.rpc('echo', 'x')).payload, 'x');
    await assert.rejects(s.joinChat('forbidden', 1, false, false), (e) => e.code === 1);
    await waitFor(() => s.events.disconnect.length, 3000, 'socket closed');
  } finally { closeAll(s); }
});

test('metrics: api_rpc_calls_total and api_rpc_latency_ms by rpc id', async () => {
  await post('echo', 'm', '&unwrap');
  const m = await (await fetch(`http://127.0.0.1:${srv.metricsPort}/metrics`)).text();
  assert.match(m, /api_rpc_calls_total\{[^}]*rpc_id="echo"[^}]*\} \d+/);
  assert.match(m, /api_rpc_latency_ms_bucket\{[^}]*rpc_id="echo"/);
});

test('start-up fails on a module error, naming file and line', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tomo-lua-'));
  try {
    writeFileSync(path.join(dir, 'ok.lua'), 'local x = 1\n');
    writeFileSync(path.join(dir, 'broken.lua'), 'local nk = require("nakama")\nlocal x = = 2\n');
    let r = spawnSync(TOMO_BIN, ['serve', '--runtime.path', dir, '--data_dir', dir, '--socket.port', '0',
      '--socket.ws_port', '0', '--metrics.prometheus_port', '0'], { encoding: 'utf8', timeout: 10000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /broken\.lua:2:/);
    writeFileSync(path.join(dir, 'broken.lua'), 'error("at load")\n');
    r = spawnSync(TOMO_BIN, ['serve', '--runtime.path', dir, '--data_dir', dir, '--socket.port', '0',
      '--socket.ws_port', '0', '--metrics.prometheus_port', '0'], { encoding: 'utf8', timeout: 10000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /broken\.lua:1: at load/);
    // reload is refused in production
    r = spawnSync(TOMO_BIN, ['serve', '--production', '--runtime.reload', 'true', '--runtime.path', dir],
      { encoding: 'utf8', timeout: 10000 });
    assert.notEqual(r.status, 0);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('development reload: new code is picked up, a broken edit keeps the old code', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tomo-lua-'));
  const mod = path.join(dir, 'm.lua');
  writeFileSync(mod, 'require("nakama").register_rpc(function() return "v1" end, "ver")\n');
  const s2 = await startServer({ args: ['--runtime.path', dir, '--runtime.reload', 'true'] });
  const ver = async () => (await (await fetch(`${s2.url}/v2/rpc/ver?http_key=${KEY}&unwrap`, { method: 'POST' })).text());
  try {
    assert.equal(await ver(), 'v1');
    writeFileSync(mod, 'require("nakama").register_rpc(function() return "v2" end, "ver")\n');
    await waitFor(async () => (await ver()) === 'v2', 5000, 'reload');
    for (let i = 0; i < 50 && (await ver()) !== 'v2'; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await ver(), 'v2');
    writeFileSync(mod, 'this is not lua\n');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await ver(), 'v2');
    assert.match(s2.logs(), /reload failed/);
  } finally {
    await s2.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
