// tests/integration/rtutil.mjs: helpers for the realtime acceptance tests:
// authenticated users, nakama-js sockets (JSON or protobuf), raw `ws`
// sockets, and waiting for pushed envelopes.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { before, after } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { WebSocketAdapterPb } from '@heroiclabs/nakama-js-protobuf';
import { startServer, uid } from './harness.mjs';

export { WebSocket };

const b64u = (b) => Buffer.from(b).toString('base64url');

/** An HS256 JWT signed with `key` (the server's default session key). */
export function signToken(claims, key = 'defaultencryptionkey') {
  const h = b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const p = b64u(JSON.stringify(claims));
  const s = crypto.createHmac('sha256', key).update(`${h}.${p}`).digest('base64url');
  return `${h}.${p}.${s}`;
}

/**
 * Facebook Instant Games signed player info as the platform makes it:
 * base64url(HMAC-SHA256(payload, secret)).base64url(payload).
 */
export function fbigSignedInfo(playerId, secret, algorithm = 'HMAC-SHA256') {
  const payload = b64u(JSON.stringify({
    algorithm, issued_at: Math.floor(Date.now() / 1000), player_id: playerId, request_payload: '',
  }));
  const sig = crypto.createHmac('sha256', secret).update(payload).digest('base64url');
  return `${sig}.${payload}`;
}

/** A real user: device authentication through the server. */
export async function newUser(srv, name) {
  const client = srv.client();
  const username = (name || 'u') + uid().slice(0, 10);
  const session = await client.authenticateDevice('dev-' + uid() + uid(), true, username);
  return { client, session, userId: session.user_id, username: session.username };
}

/**
 * A connected nakama-js socket for user u. opts.protobuf selects the
 * protobuf adapter; opts.status = createStatus. The socket records every
 * push in `events` by kind.
 */
export async function connect(srv, u, opts = {}) {
  const adapter = opts.protobuf ? new WebSocketAdapterPb() : undefined;
  const socket = u.client.createSocket(false, false, adapter);
  const events = { matchdata: [], matchpresence: [], statuspresence: [], notification: [], disconnect: [] };
  socket.onmatchdata = (m) => events.matchdata.push(m);
  socket.onmatchpresence = (m) => events.matchpresence.push(m);
  socket.onstatuspresence = (m) => events.statuspresence.push(m);
  socket.onnotification = (n) => events.notification.push(n);
  socket.ondisconnect = (e) => events.disconnect.push(e);
  await socket.connect(u.session, !!opts.status, 5000);
  socket.events = events;
  return socket;
}

/** Record socket s's pushes of the given kinds ('party', 'streamdata', ...) in s.ev[kind]. */
export function recordPushes(s, kinds) {
  s.ev = {};
  for (const k of kinds) {
    s.ev[k] = [];
    s['on' + k] = (m) => s.ev[k].push(m);
  }
  return s;
}

/** Wait until fn() returns a truthy value (polling), or fail after ms. */
export async function waitFor(fn, ms = 3000, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    // An async fn returns a promise, which is always truthy: await it, so the
    // wait is on the value the promise resolves to.
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A raw `ws` socket; resolves once open. Records messages and the close. */
export function rawSocket(url, opts = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    ws.msgs = [];
    ws.closed = null;
    ws.on('message', (d, isBinary) => ws.msgs.push(isBinary ? d : d.toString()));
    ws.on('close', (code, reason) => { ws.closed = { code, reason: reason.toString() }; });
    ws.on('open', () => resolve(ws));
    ws.on('unexpected-response', (req, res) => reject(Object.assign(new Error('http ' + res.statusCode), { status: res.statusCode, res })));
    ws.on('error', (e) => { if (ws.readyState !== WebSocket.OPEN) reject(e); });
  });
}

/** Resolve with the HTTP status (and body text) of a refused upgrade. */
export function refusedUpgrade(url, opts = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    ws.on('open', () => { ws.close(); reject(new Error('upgrade unexpectedly accepted')); });
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    ws.on('error', () => {});
  });
}

export function closeAll(...sockets) {
  for (const s of sockets) {
    try { s.disconnect ? s.disconnect(false) : s.terminate(); } catch { /* gone */ }
  }
}

/**
 * nk functions called through the "call" RPC of fixtures/nkcall as user u:
 * call(fn, ...args) gives {ok, res | err}; ok(...) asserts success and gives
 * the results (an array of the return values); fails(fn, re, ...args)
 * asserts the call raised an error matching re.
 */
export function nkCaller(u) {
  const call = async (fn, ...args) =>
    (await u.client.rpc(u.session, 'call', { fn, args, n: args.length })).payload;
  const ok = async (fn, ...args) => {
    const r = await call(fn, ...args);
    assert.equal(r.ok, true, `${fn}: ${r.err}`);
    return r.res;
  };
  const fails = async (fn, re, ...args) => {
    const r = await call(fn, ...args);
    assert.equal(r.ok, false, `${fn} should fail`);
    assert.match(r.err, re);
  };
  return { call, ok, fails };
}

const NKCALL_MODULES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures',
  'nkcall');

/**
 * The set-up of the nkcall test files: before the file's tests, a server
 * with fixtures/nkcall (plus args) and an admin user whose nkCaller is
 * suite.call / ok / fails; stopped after them. suite.srv and suite.admin
 * are set once the set-up ran.
 */
export function nkcallSuite(args = []) {
  const suite = {};
  before(async () => {
    suite.srv = await startServer({ args: ['--runtime.path', NKCALL_MODULES, ...args] });
    suite.admin = await newUser(suite.srv, 'adm');
    suite.caller = nkCaller(suite.admin);
  });
  after(async () => { await suite.srv?.cleanup(); });
  suite.call = (...a) => suite.caller.call(...a);
  suite.ok = (...a) => suite.caller.ok(...a);
  suite.fails = (...a) => suite.caller.fails(...a);
  return suite;
}
