// gRPC API (nakama.api.Nakama on grpc.port) through @grpc/grpc-js with the
// repository's proto: authenticate (Basic server key), account, storage,
// friends and groups, RPC into a Lua module, error codes and messages,
// deadlines, the message size bound, compression refused, metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { startServer, SERVER_KEY, basicAuth, makeTestCA } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const PROTO_DIR = path.resolve(here, '../../src/codec/proto');
const def = protoLoader.loadSync(path.join(PROTO_DIR, 'tomo_api.proto'), {
  keepCase: true, longs: String, enums: Number, defaults: false, oneofs: true,
  includeDirs: [PROTO_DIR],
});
const api = grpc.loadPackageDefinition(def).nakama.api;

const LUA = `
local nk = require("nakama")
nk.register_rpc(function(ctx, payload) return payload end, "echo")
nk.register_rpc(function(ctx, payload) return ctx.user_id or "" end, "whoami")
nk.register_rpc(function(ctx, payload)
  local t = os.clock()
  while os.clock() - t < 1.5 do end
  return "late"
end, "slow")
nk.register_rpc(function(ctx, payload) error({"denied", 7}) end, "deny")
`;

let srv, client, luaDir;
before(async () => {
  luaDir = mkdtempSync(path.join(os.tmpdir(), 'tomo-grpc-lua-'));
  writeFileSync(path.join(luaDir, 'grpc.lua'), LUA);
  srv = await startServer({
    args: ['--runtime.path', luaDir, '--runtime.lua_max_instructions', '0'],
  });
  client = new api.Nakama(`127.0.0.1:${srv.grpcPort}`, grpc.credentials.createInsecure());
});
after(async () => {
  client?.close();
  await srv?.cleanup();
  if (luaDir) rmSync(luaDir, { recursive: true, force: true });
});

function md(auth) {
  const m = new grpc.Metadata();
  if (auth) m.set('authorization', auth);
  return m;
}
const basic = (key = SERVER_KEY) => md(basicAuth(key));
const bearer = (s) => md('Bearer ' + s.token);

function callOn(c, method, req, meta, opts = {}) {
  return new Promise((resolve, reject) => {
    c[method](req, meta || md(), opts, (err, res) => (err ? reject(err) : resolve(res)));
  });
}
const call = (method, req, meta, opts) => callOn(client, method, req, meta, opts);
async function fails(p, code, message) {
  try {
    await p;
  } catch (e) {
    assert.equal(e.code, code, `code ${e.code} (${e.details})`);
    if (message !== undefined) assert.equal(e.details, message);
    return e;
  }
  assert.fail('call succeeded');
}

let n = 0;
const uniq = (p) => `${p}-${process.pid}-${Date.now()}-${n++}`;
async function newSession(p = 'dev') {
  return call('AuthenticateDevice', { account: { id: uniq(p) + '-device-id' }, create: { value: true } }, basic());
}

test('authenticate device with the server key; wrong or missing key refused', async () => {
  const id = uniq('auth') + '-device';
  const s = await call('AuthenticateDevice', { account: { id }, create: { value: true }, username: uniq('u') }, basic());
  assert.equal(s.created, true);
  assert.ok(s.token && s.refresh_token);
  const again = await call('AuthenticateDevice', { account: { id } }, basic());
  assert.ok(!again.created);
  await fails(call('AuthenticateDevice', { account: { id } }, basic('wrongkey')), grpc.status.UNAUTHENTICATED,
    'Server key invalid');
  await fails(call('AuthenticateDevice', { account: { id } }, md()), grpc.status.UNAUTHENTICATED,
    'Server key required');
  // a session token is not a server key
  await fails(call('AuthenticateDevice', { account: { id } }, bearer(s)), grpc.status.UNAUTHENTICATED);
  // validation errors keep Nakama's code and message
  await fails(call('AuthenticateDevice', { account: { id: 'short' } }, basic()), grpc.status.INVALID_ARGUMENT);
  await fails(call('AuthenticateDevice', { account: { id: uniq('missing') + '-device' }, create: { value: false } }, basic()),
    grpc.status.NOT_FOUND, 'User account not found.');
  // the same account over REST
  const r = await fetch(`${srv.url}/v2/account/authenticate/device`, {
    method: 'POST', headers: { Authorization: basicAuth() }, body: JSON.stringify({ id }),
  });
  assert.equal(r.status, 200);
});

test('account get and update with a bearer token', async () => {
  const s = await newSession('acct');
  const a = await call('GetAccount', {}, bearer(s));
  assert.ok(a.user.id);
  assert.equal(a.devices.length, 1);
  assert.ok(a.user.create_time && a.user.create_time.seconds);
  await call('UpdateAccount', { display_name: { value: 'Grpc Neo' }, location: { value: 'Zion' } }, bearer(s));
  const b = await call('GetAccount', {}, bearer(s));
  assert.equal(b.user.display_name, 'Grpc Neo');
  assert.equal(b.user.location, 'Zion');
  await fails(call('GetAccount', {}, md()), grpc.status.UNAUTHENTICATED, 'Auth token required');
  await fails(call('GetAccount', {}, md('Bearer nope')), grpc.status.UNAUTHENTICATED, 'Auth token invalid');
  // session refresh takes the server key too
  const r = await call('SessionRefresh', { token: s.refresh_token }, basic());
  assert.ok(r.token);
});

test('storage write, read, list and delete', async () => {
  const s = await newSession('stor');
  const acks = await call('WriteStorageObjects', {
    objects: [
      { collection: 'saves', key: 'a', value: '{"hp":10}', permission_read: { value: 2 }, permission_write: { value: 1 } },
      { collection: 'saves', key: 'b', value: '{"hp":20}' },
    ],
  }, bearer(s));
  assert.equal(acks.acks.length, 2);
  assert.ok(acks.acks[0].version);
  const me = (await call('GetAccount', {}, bearer(s))).user.id;
  const read = await call('ReadStorageObjects', { object_ids: [{ collection: 'saves', key: 'a', user_id: me }] }, bearer(s));
  assert.equal(read.objects.length, 1);
  assert.deepEqual(JSON.parse(read.objects[0].value), { hp: 10 });
  assert.equal(read.objects[0].permission_read, 2);
  const list = await call('ListStorageObjects', { collection: 'saves', user_id: me, limit: { value: 10 } }, bearer(s));
  assert.equal(list.objects.length, 2);
  // optimistic concurrency: a stale version is refused with Nakama's code
  await fails(call('WriteStorageObjects', { objects: [{ collection: 'saves', key: 'a', value: '{}', version: 'stale' }] },
    bearer(s)), grpc.status.INVALID_ARGUMENT);
  await call('DeleteStorageObjects', { object_ids: [{ collection: 'saves', key: 'a' }] }, bearer(s));
  const after = await call('ReadStorageObjects', { object_ids: [{ collection: 'saves', key: 'a', user_id: me }] }, bearer(s));
  assert.equal((after.objects || []).length, 0);
  await fails(call('WriteStorageObjects', { objects: [{ collection: 'saves', key: 'x', value: 'not json' }] }, bearer(s)),
    grpc.status.INVALID_ARGUMENT);
});

test('friends and groups', async () => {
  const a = await newSession('fa');
  const b = await newSession('fb');
  const bId = (await call('GetAccount', {}, bearer(b))).user.id;
  const aId = (await call('GetAccount', {}, bearer(a))).user.id;
  await call('AddFriends', { ids: [bId] }, bearer(a));
  const la = await call('ListFriends', {}, bearer(a));
  assert.equal(la.friends.length, 1);
  assert.equal(la.friends[0].user.id, bId);
  assert.equal(la.friends[0].state.value, 1); // invite sent
  await call('AddFriends', { ids: [aId] }, bearer(b));
  const lb = await call('ListFriends', { state: { value: 0 } }, bearer(b));
  assert.equal(lb.friends.length, 1);
  assert.ok(!lb.friends[0].state.value); // friends (0)

  const g = await call('CreateGroup', { name: uniq('guild'), description: 'grpc', open: true, max_count: 10 }, bearer(a));
  assert.ok(g.id);
  assert.equal(g.open.value, true);
  assert.equal(g.creator_id, aId);
  await call('JoinGroup', { group_id: g.id }, bearer(b));
  const users = await call('ListGroupUsers', { group_id: g.id }, bearer(a));
  assert.equal(users.group_users.length, 2);
  const mine = await call('ListUserGroups', { user_id: bId }, bearer(b));
  assert.equal(mine.user_groups[0].group.id, g.id);
  await call('UpdateGroup', { group_id: g.id, description: { value: 'renamed' } }, bearer(a));
  const found = await call('ListGroups', { name: g.name }, bearer(b));
  assert.equal(found.groups[0].description, 'renamed');
  // only a superadmin may delete
  await fails(call('DeleteGroup', { group_id: g.id }, bearer(b)), grpc.status.INVALID_ARGUMENT);
  await call('DeleteGroup', { group_id: g.id }, bearer(a));
});

test('rpc into the Lua runtime: session, http_key, unknown id, runtime errors', async () => {
  const s = await newSession('rpc');
  const me = (await call('GetAccount', {}, bearer(s))).user.id;
  const r = await call('RpcFunc', { id: 'echo', payload: '{"a":1}' }, bearer(s));
  assert.equal(r.id, 'echo');
  assert.equal(r.payload, '{"a":1}');
  const w = await call('RpcFunc', { id: 'whoami' }, bearer(s));
  assert.equal(w.payload, me);
  const k = await call('RpcFunc', { id: 'echo', payload: 'x', http_key: 'defaulthttpkey' }, md());
  assert.equal(k.payload, 'x');
  await fails(call('RpcFunc', { id: 'echo', http_key: 'bad' }, md()), grpc.status.UNAUTHENTICATED, 'HTTP key invalid');
  await fails(call('RpcFunc', { id: 'nope' }, bearer(s)), grpc.status.NOT_FOUND, 'RPC function not found');
  await fails(call('RpcFunc', { id: 'deny' }, bearer(s)), grpc.status.PERMISSION_DENIED, 'denied');
});

test('unimplemented and unknown methods', async () => {
  await fails(call('AuthenticateApple', { account: { token: 't' } }, basic()), grpc.status.FAILED_PRECONDITION,
    'Apple authentication is not configured.');
  await fails(call('AuthenticateGoogle', { account: { token: 't' } }, basic()), grpc.status.UNIMPLEMENTED);
  await fails(call('ValidatePurchaseApple', { receipt: 'r' }, bearer(await newSession('iap'))),
    grpc.status.FAILED_PRECONDITION, 'Apple IAP is not configured.');
  await fails(call('ListParties', {}, bearer(await newSession('party'))), grpc.status.UNIMPLEMENTED);
  const raw = await new Promise((resolve) => {
    client.makeUnaryRequest('/nakama.api.Nakama/NoSuchMethod', (x) => x, (x) => x, Buffer.alloc(0), md(), {},
      (err) => resolve(err));
  });
  assert.equal(raw.code, grpc.status.UNIMPLEMENTED);
  assert.match(raw.details, /unknown method NoSuchMethod/);
  const h = await call('Healthcheck', {}, md());
  assert.deepEqual(h, {});
  // the whole message is the body of Event's REST route
  assert.deepEqual(await call('Event', { name: 'grpc_event', properties: { a: '1' } }, bearer(await newSession('ev'))), {});
});

/* One unary call over a bare HTTP/2 client, so the server's own answer is
 * seen (grpc-js also enforces deadlines locally). */
function rawCall(method, frame, headers = {}) {
  return new Promise((resolve, reject) => {
    const sess = http2.connect(`http://127.0.0.1:${srv.grpcPort}`);
    sess.on('error', reject);
    const req = sess.request({
      ':method': 'POST', ':path': `/nakama.api.Nakama/${method}`, 'content-type': 'application/grpc', te: 'trailers',
      ...headers,
    });
    let hdrs = {};
    const chunks = [];
    req.on('response', (h) => { hdrs = { ...h }; });
    req.on('trailers', (t) => { hdrs = { ...hdrs, ...t }; });
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => { sess.close(); resolve({ headers: hdrs, body: Buffer.concat(chunks) }); });
    req.on('error', reject);
    req.end(frame);
  });
}
function frame(payload, compressed = 0) {
  const b = Buffer.alloc(5 + payload.length);
  b[0] = compressed;
  b.writeUInt32BE(payload.length, 1);
  payload.copy(b, 5);
  return b;
}
function encode(type, obj) {
  const root = grpc.loadPackageDefinition(def);
  const svc = root.nakama.api.Nakama.service;
  const m = Object.values(svc).find((x) => x.requestType.type.name === type);
  return m.requestSerialize(obj);
}

test('deadlines: the server answers DEADLINE_EXCEEDED when grpc-timeout passes', async () => {
  const s = await newSession('slow');
  const r = await rawCall('RpcFunc', frame(encode('Rpc', { id: 'slow' })), {
    authorization: 'Bearer ' + s.token, 'grpc-timeout': '200m',
  });
  assert.equal(r.headers['grpc-status'], '4');
  // and grpc-js sees the same code
  await fails(call('RpcFunc', { id: 'slow' }, bearer(s), { deadline: Date.now() + 200 }), grpc.status.DEADLINE_EXCEEDED);
  // a generous deadline lets the call finish
  const ok = await rawCall('RpcFunc', frame(encode('Rpc', { id: 'echo', payload: 'p' })), {
    authorization: 'Bearer ' + s.token, 'grpc-timeout': '30S',
  });
  assert.equal(ok.headers['grpc-status'], '0');
});

test('oversize messages and compression are refused with the right codes', async () => {
  const s = await newSession('big');
  const big = 'x'.repeat(300 * 1024);
  const e = await fails(call('WriteStorageObjects', { objects: [{ collection: 'c', key: 'k', value: `{"v":"${big}"}` }] },
    bearer(s)), grpc.status.RESOURCE_EXHAUSTED);
  assert.match(e.details, /received message larger than max/);
  const z = await rawCall('Healthcheck', frame(Buffer.from([1, 2, 3]), 1), { 'grpc-encoding': 'gzip' });
  assert.equal(z.headers['grpc-status'], '12');
  const bad = await rawCall('GetAccount', Buffer.from([0, 0, 0]), { authorization: 'Bearer ' + s.token });
  assert.equal(bad.headers['grpc-status'], '13');
  // the connection still serves calls
  assert.ok((await call('GetAccount', {}, bearer(s))).user.id);
});

test('per-method metrics', async () => {
  await newSession('metrics');
  const text = await (await fetch(`http://127.0.0.1:${srv.metricsPort}/metrics`)).text();
  assert.match(text, /grpc_requests_total\{[^}]*method="AuthenticateDevice"[^}]*code="0"[^}]*\} [1-9]/);
  assert.match(text, /grpc_requests_total\{[^}]*method="GetAccount"[^}]*code="16"/);
  assert.match(text, /grpc_request_duration_ms_count\{[^}]*method="AuthenticateDevice"/);
});

test('TLS: the gRPC port serves the API port\'s certificate (ALPN h2); plain text and an unknown CA are refused', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tomo-grpc-tls-'));
  const ca = makeTestCA(dir, ['server']);
  const tlsSrv = await startServer({
    args: ['--socket.ssl_certificate', path.join(dir, 'server.pem'),
      '--socket.ssl_private_key', path.join(dir, 'server.key')],
    ca,
  });
  const at = `localhost:${tlsSrv.grpcPort}`;
  const secure = new api.Nakama(at, grpc.credentials.createSsl(ca));
  const plain = new api.Nakama(`127.0.0.1:${tlsSrv.grpcPort}`, grpc.credentials.createInsecure());
  const otherCa = makeTestCA(mkdtempSync(path.join(dir, 'other-')), []);
  const stranger = new api.Nakama(at, grpc.credentials.createSsl(otherCa));
  const soon = () => ({ deadline: Date.now() + 5000 });
  try {
    const s = await callOn(secure, 'AuthenticateDevice',
      { account: { id: uniq('tls') + '-device-id' }, create: { value: true } }, basic(), soon());
    assert.ok(s.token);
    const acct = await callOn(secure, 'GetAccount', {}, bearer(s), soon());
    assert.ok(acct.user.id);
    await fails(callOn(secure, 'GetAccount', {}, md(), soon()), grpc.status.UNAUTHENTICATED,
      'Auth token required');
    await fails(callOn(plain, 'Healthcheck', {}, md(), soon()), grpc.status.UNAVAILABLE);
    await fails(callOn(stranger, 'Healthcheck', {}, md(), soon()), grpc.status.UNAVAILABLE);
  } finally {
    secure.close();
    plain.close();
    stranger.close();
    await tlsSrv.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
