// The Lua ctx of every execution mode (fixtures/ctx) has Nakama's key set:
// rpc over HTTP (a session, http_key) and the socket, before/after hooks of
// the API and of realtime envelopes, the matchmaker, a match's init, join
// attempt and loop, leaderboard reset, tournament end and reset, and the
// shutdown hook (posting its ctx to a listener here). client_ip and
// client_port are the socket's (or the first X-Forwarded-For entry).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './harness.mjs';
import { newUser, connect, waitFor, closeAll } from './rtutil.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const MODULES = path.join(here, 'fixtures', 'ctx');

const BASE = ['env', 'execution_mode', 'headers', 'node', 'query_params', 'version'];
const ADDR = ['client_ip', 'client_port'];
const USER = ['user_id', 'user_session_exp', 'username'];
const SOCKET = ['lang', 'session_id'];
const MATCH = ['env', 'execution_mode', 'match_id', 'match_node', 'node'];
const keys = (...sets) => sets.flat().sort().join(',');

let srv, shutdownBody, listener;
before(async () => {
  listener = http.createServer((req, res) => {
    let b = '';
    req.on('data', (d) => { b += d; });
    req.on('end', () => { shutdownBody = JSON.parse(b); res.end('ok'); });
  });
  await new Promise((r) => listener.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${listener.address().port}/shutdown`;
  // tracing off: its trace_id and span_id (README, tracing.test.mjs) are
  // the only keys a traced call adds
  srv = await startServer({ args: ['--runtime.path', MODULES, '--matchmaker.interval_sec', '1',
    '--runtime.env', `shutdown_url=${url}`, '--tracing.enabled', 'false'] });
});
after(async () => {
  await srv?.cleanup();
  listener?.close();
});

const rpc = async (u, id, obj) => (await u.client.rpc(u.session, id, obj)).payload;
const seen = (u, labels) => rpc(u, 'ctx_seen', labels);

test('rpc: HTTP with a session, with http_key, over the socket', async () => {
  const u = await newUser(srv, 'cx');
  const viaHttp = await rpc(u, 'ctx_keys', {});
  assert.deepEqual(viaHttp.keys, keys(BASE, ADDR, USER));
  assert.equal(viaHttp.mode, 'rpc');
  assert.equal(viaHttp.client_ip, '127.0.0.1');
  assert.match(viaHttp.client_port, /^\d+$/);

  const r = await fetch(`${srv.url}/v2/rpc/ctx_keys?http_key=defaulthttpkey&unwrap`,
    { method: 'POST', body: '', headers: { 'X-Forwarded-For': '203.0.113.7:4567, 10.0.0.1' } });
  const viaKey = await r.json();
  assert.deepEqual(viaKey.keys, keys(BASE, ADDR));
  assert.deepEqual([viaKey.client_ip, viaKey.client_port], ['203.0.113.7', '4567']);
  const r2 = await fetch(`${srv.url}/v2/rpc/ctx_keys?http_key=defaulthttpkey&unwrap`,
    { method: 'POST', body: '', headers: { 'X-Forwarded-For': '198.51.100.2' } });
  const noPort = await r2.json();
  assert.deepEqual(noPort.keys, keys(BASE, ['client_ip']));
  assert.equal(noPort.client_ip, '198.51.100.2');

  const s = await connect(srv, u);
  try {
    const res = await s.rpc('ctx_keys', '');
    const viaSocket = JSON.parse(res.payload);
    assert.deepEqual(viaSocket.keys, keys(BASE, ADDR, USER, SOCKET));
    assert.equal(viaSocket.client_ip, '127.0.0.1');
    assert.match(viaSocket.client_port, /^\d+$/);
  } finally {
    closeAll(s);
  }
});

// Raw HTTP/1.1, so that a header can be sent twice and in any case.
const rawPost = (port, target, lines) => new Promise((resolve, reject) => {
  const sock = net.connect(port, '127.0.0.1');
  let data = '';
  sock.on('data', (d) => { data += d; });
  sock.on('end', () => resolve(data.slice(data.indexOf('\r\n\r\n') + 4)));
  sock.on('error', reject);
  sock.end(`POST ${target} HTTP/1.1\r\nHost: x\r\n${lines.join('\r\n')}\r\n` +
    'Content-Length: 0\r\nConnection: close\r\n\r\n');
});

test('rpc over HTTP: ctx.headers canonical and grouped, query_params without http_key', async () => {
  const port = new URL(srv.url).port;
  const body = await rawPost(port, '/v2/rpc/ctx_http?http_key=defaulthttpkey&unwrap&a=1&a=2&b=',
    ['x-dup-header: one', 'X-DUP-HEADER: two', 'grpc-timeout: 5S', 'x-empty:']);
  const { headers, query } = JSON.parse(body);
  assert.deepEqual(headers['X-Dup-Header'], ['one', 'two']);
  assert.deepEqual(headers['X-Empty'], ['']);
  assert.deepEqual(headers.Host, ['x']);
  assert.equal(headers['Grpc-Timeout'], undefined);
  assert.equal(headers['x-dup-header'], undefined);
  assert.deepEqual(query, { unwrap: [''], a: ['1', '2'], b: [''] });
});

test('before/after hooks of the API and of realtime envelopes', async () => {
  const u = await newUser(srv, 'cx');
  await u.client.updateAccount(u.session, { display_name: 'ctx' });
  const s = await connect(srv, u);
  try {
    await s.updateStatus('here');
    await waitFor(async () => (await seen(u, ['rt_after'])).rt_after, 5000, 'rt after hook');
  } finally {
    closeAll(s);
  }
  const got = await seen(u, ['before', 'after', 'rt_before', 'rt_after']);
  assert.deepEqual([got.before.keys, got.before.mode], [keys(BASE, ADDR, USER), 'before']);
  assert.deepEqual([got.after.keys, got.after.mode], [keys(BASE, ADDR, USER), 'after']);
  assert.deepEqual([got.rt_before.keys, got.rt_before.mode],
    [keys(BASE, ADDR, USER, SOCKET), 'before']);
  assert.deepEqual([got.rt_after.keys, got.rt_after.mode],
    [keys(BASE, ADDR, USER, SOCKET), 'after']);
  assert.equal(got.rt_before.client_ip, '127.0.0.1');
});

test('matchmaker and an authoritative match: init, join attempt, loop', async () => {
  const a = await newUser(srv, 'cx');
  const b = await newUser(srv, 'cx');
  const sa = await connect(srv, a);
  const sb = await connect(srv, b);
  try {
    await sa.addMatchmaker('*', 2, 2);
    await sb.addMatchmaker('*', 2, 2);
    await waitFor(async () => (await seen(a, ['matchmaker'])).matchmaker, 8000, 'matched');
    const { id } = await rpc(a, 'ctx_match', {});
    await sa.joinMatch(id);
    await waitFor(async () => (await seen(a, ['match_loop'])).match_loop, 5000, 'loop');
  } finally {
    closeAll(sa, sb);
  }
  const got = await seen(a, ['matchmaker', 'match_init', 'match_join_attempt', 'match_loop']);
  assert.deepEqual([got.matchmaker.keys, got.matchmaker.mode], [keys(BASE), 'matchmaker']);
  assert.deepEqual([got.match_init.keys, got.match_init.mode], [keys(MATCH), 'match']);
  assert.deepEqual(got.match_loop.keys, keys(MATCH, ['match_label', 'match_tick_rate']));
  assert.deepEqual(got.match_join_attempt.keys,
    keys(MATCH, ['match_label', 'match_tick_rate'], ADDR, USER, ['session_id']));
  assert.equal(got.match_join_attempt.client_ip, '127.0.0.1');
  assert.match(got.match_join_attempt.client_port, /^\d+$/);
});

test('leaderboard reset, tournament end and reset', async () => {
  const u = await newUser(srv, 'cx');
  await u.client.writeLeaderboardRecord(u.session, 'ctx_resets', { score: 1 });
  await u.client.joinTournament(u.session, 'ctx_short');
  await u.client.writeTournamentRecord(u.session, 'ctx_short', { score: 1 }).catch(() => {});
  const labels = ['leaderboard_reset', 'tournament_end', 'tournament_reset'];
  await waitFor(async () => Object.keys(await seen(u, labels)).length === 3, 9000, 'hooks');
  const got = await seen(u, labels);
  for (const l of labels) assert.deepEqual([got[l].keys, got[l].mode], [keys(BASE), l]);
});

test('shutdown: the hook runs on SIGTERM with its ctx', async () => {
  await srv.stop('SIGTERM');
  await waitFor(() => shutdownBody, 5000, 'shutdown hook posted');
  assert.deepEqual([shutdownBody.keys, shutdownBody.mode], [keys(BASE), 'shutdown']);
});
