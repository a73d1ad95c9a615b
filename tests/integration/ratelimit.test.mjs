// Built-in rate limits (rate_limit.*): 429 + Retry-After with Nakama's error
// body per client IP (auth and default classes), per user on authenticated
// routes, the X-Forwarded-For rule with trusted proxies, an error envelope on
// the socket, refusal metrics; off by default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, basicAuth, sleep } from './harness.mjs';

const on = (extra = []) => ['--rate_limit.enabled', 'true', ...extra];

async function auth(srv, headers = {}) {
  return fetch(`${srv.url}/v2/account/authenticate/device?create=true`, {
    method: 'POST',
    headers: { Authorization: basicAuth(), 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify({ id: `device-${crypto.randomUUID()}` }),
  });
}

/** Value of name{...label...} on /metrics (series also carry node_name). */
async function metric(srv, name, label) {
  const text = await (await fetch(`http://127.0.0.1:${srv.metricsPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + '{') && l.includes(label));
  return line ? Number(line.split(' ').pop()) : NaN;
}

test('off by default: a burst of logins is not limited', async () => {
  const srv = await startServer();
  try {
    const rs = await Promise.all(Array.from({ length: 30 }, () => auth(srv)));
    assert.deepEqual([...new Set(rs.map((r) => r.status))], [200]);
  } finally { await srv.cleanup(); }
});

test('auth class per IP: burst, then 429 with Retry-After and a Nakama error body; refill', async () => {
  const srv = await startServer({ args: on(['--rate_limit.auth_per_sec', '2', '--rate_limit.auth_burst', '3']) });
  try {
    // Sent together: one at a time, a slow box (each new account costs an
    // fsync) refills the bucket between them.
    const rs = await Promise.all(Array.from({ length: 5 }, () => auth(srv)));
    assert.deepEqual(rs.map((r) => r.status).sort(), [200, 200, 200, 429, 429]);
    const r = rs.find((x) => x.status === 429);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.match(r.headers.get('content-type'), /application\/json/);
    assert.deepEqual(await r.json(), { code: 8, message: 'Rate limit exceeded.' });
    // other classes are separate buckets; health is never limited
    assert.equal((await fetch(`${srv.url}/healthcheck`)).status, 200);
    assert.equal((await fetch(`${srv.url}/v2/account`)).status, 401);
    await sleep(600);
    assert.equal((await auth(srv)).status, 200);
    assert.equal(await metric(srv, 'rate_limit_refusals_total', 'class="auth"'), 2);
    // nakama-js sees the rejection as a 429 response
    await assert.rejects(
      (async () => { for (let i = 0; i < 5; i++) await srv.client().authenticateDevice(`d-${crypto.randomUUID()}`, true); })(),
      (e) => e.status === 429);
  } finally { await srv.cleanup(); }
});

test('default class per IP and per-user limit on authenticated routes', async () => {
  const srv = await startServer({
    args: on(['--rate_limit.default_per_sec', '1', '--rate_limit.default_burst', '4',
      '--rate_limit.user_per_sec', '1', '--rate_limit.user_burst', '2',
      '--rate_limit.trusted_proxies', '127.0.0.1']),
  });
  try {
    const client = srv.client();
    const session = await client.authenticateDevice(`d-${crypto.randomUUID()}`, true);
    const get = (ip) => fetch(`${srv.url}/v2/account`, {
      headers: { Authorization: `Bearer ${session.token}`, 'X-Forwarded-For': ip },
    });
    // per user: two requests, from two different client addresses, then 429
    assert.equal((await get('203.0.113.1')).status, 200);
    assert.equal((await get('203.0.113.2')).status, 200);
    const r = await get('203.0.113.3');
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    assert.equal((await r.json()).code, 8);
    // per IP (default class) through the trusted proxy: 4 then refused, other IPs unaffected
    const anon = (ip) => fetch(`${srv.url}/v2/account`, { headers: { 'X-Forwarded-For': ip } });
    const st = [];
    for (let i = 0; i < 5; i++) st.push((await anon('198.51.100.9')).status);
    assert.deepEqual(st, [401, 401, 401, 401, 429]);
    // a spoofed left-hand entry does not buy a fresh bucket
    assert.equal((await anon('1.1.1.1, 198.51.100.9')).status, 429);
    assert.equal((await anon('198.51.100.10')).status, 401);
    assert.equal(await metric(srv, 'rate_limit_refusals_total', 'class="user"'), 1);
    assert.equal(await metric(srv, 'rate_limit_refusals_total', 'class="default"'), 2);
  } finally { await srv.cleanup(); }
});

test('X-Forwarded-For is ignored from an untrusted peer', async () => {
  const srv = await startServer({ args: on(['--rate_limit.default_per_sec', '1', '--rate_limit.default_burst', '2']) });
  try {
    const anon = (ip) => fetch(`${srv.url}/v2/account`, { headers: { 'X-Forwarded-For': ip } });
    assert.deepEqual([(await anon('9.9.9.1')).status, (await anon('9.9.9.2')).status,
      (await anon('9.9.9.3')).status], [401, 401, 429]);
  } finally { await srv.cleanup(); }
});

test('socket envelopes per user: an error envelope, the socket stays open', async () => {
  const srv = await startServer({ args: on(['--rate_limit.socket_per_sec', '1', '--rate_limit.socket_burst', '3']) });
  try {
    const client = srv.client();
    const session = await client.authenticateDevice(`d-${crypto.randomUUID()}`, true);
    const socket = client.createSocket(false, false);
    await socket.connect(session, false);
    const results = [];
    for (let i = 0; i < 5; i++) {
      try { await socket.updateStatus(`s${i}`); results.push('ok'); }
      catch (e) { results.push(e); }
    }
    assert.deepEqual(results.slice(0, 3), ['ok', 'ok', 'ok']);
    for (const e of results.slice(3)) {
      assert.equal(e.code, 3);
      assert.match(e.message, /Rate limit exceeded/);
    }
    await sleep(1100);
    await socket.updateStatus('again'); // refilled, same socket
    assert.equal(await metric(srv, 'rate_limit_refusals_total', 'class="socket"'), 2);
    socket.disconnect(false);
  } finally { await srv.cleanup(); }
});

test('config: a bad trusted proxy entry is refused at start, naming it', async () => {
  await assert.rejects(startServer({ args: on(['--rate_limit.trusted_proxies', '10.0.0.0/99']) }),
    /rate_limit.trusted_proxies: "10.0.0.0\/99"/);
});
