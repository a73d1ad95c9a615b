// Foundation: process start, health, metrics, HTTP robustness, config, CLI,
// graceful shutdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, rawExchange, TOMO_BIN, basicAuth, sleep, BACKEND } from './harness.mjs';

// Start-up time is a benchmark figure (docs/BENCHMARKS.md), not a timed
// assertion: on a loaded box a sanitizer build can need seconds.
test('serves /healthcheck once started', async () => {
  const srv = await startServer();
  try {
    const r = await fetch(`${srv.url}/healthcheck`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), {});
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    const root = await fetch(`${srv.url}/`);
    assert.equal(root.status, 200);
    assert.equal(await root.text(), '');
  } finally { await srv.cleanup(); }
});

test('readyz reports database and schema state', async () => {
  const srv = await startServer();
  try {
    const r = await fetch(`${srv.url}/readyz`);
    assert.equal(r.status, 200);
  } finally { await srv.cleanup(); }
});

test('gateway errors: unknown path 404, wrong verb 501, auth 401 with WWW-Authenticate', async () => {
  const srv = await startServer();
  try {
    let r = await fetch(`${srv.url}/v2/nope`);
    assert.equal(r.status, 404);
    assert.deepEqual(await r.json(), { code: 5, message: 'Not Found' });
    r = await fetch(`${srv.url}/v2/account`, { method: 'PATCH' });
    assert.equal(r.status, 501);
    assert.deepEqual(await r.json(), { code: 12, message: 'Method Not Allowed' });
    r = await fetch(`${srv.url}/v2/account`);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), 'Auth token required');
    assert.deepEqual(await r.json(), { code: 16, message: 'Auth token required' });
    r = await fetch(`${srv.url}/v2/account`, { headers: { Authorization: 'Bearer x.y.z' } });
    assert.equal(r.status, 401);
    assert.equal((await r.json()).message, 'Auth token invalid');
    r = await fetch(`${srv.url}/v2/account/authenticate/device`, { method: 'POST', body: '{}' });
    assert.equal(r.status, 401);
    assert.equal((await r.json()).message, 'Server key required');
    r = await fetch(`${srv.url}/v2/account/authenticate/device`, {
      method: 'POST', body: '{}', headers: { Authorization: basicAuth('wrong') },
    });
    assert.equal(r.status, 401);
    assert.equal((await r.json()).message, 'Server key invalid');
    // CORS preflight
    r = await fetch(`${srv.url}/v2/account`, { method: 'OPTIONS' });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('access-control-allow-headers'), /Authorization/);
    assert.match(r.headers.get('access-control-allow-methods'), /DELETE/);
  } finally { await srv.cleanup(); }
});

test('malformed and oversized requests get clear errors; others keep being served', async () => {
  const srv = await startServer({ args: ['--socket.max_request_size_bytes', '2048', '--socket.read_timeout_ms', '500'] });
  try {
    let r = await rawExchange(srv.port, 'NOT HTTP AT ALL\r\n\r\n');
    assert.match(r.text, /^HTTP\/1\.1 400 /);
    assert.ok(r.closed);
    r = await rawExchange(srv.port, `POST /v2/account/authenticate/device HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n`);
    assert.match(r.text, /^HTTP\/1\.1 413 /);
    assert.match(r.text, /too large/);
    r = await rawExchange(srv.port, 'GET /healthcheck HTTP/1.1\r\nX-' + 'a'.repeat(20000) + ': 1\r\n\r\n');
    assert.match(r.text, /^HTTP\/1\.1 431 /);
    // half a header, then silence: answered 408 and closed
    const t0 = Date.now();
    r = await rawExchange(srv.port, 'GET /healthcheck HTTP/1.1\r\nHost: lo', { timeoutMs: 5000 });
    assert.match(r.text, /^HTTP\/1\.1 408 /);
    assert.ok(r.closed);
    assert.ok(Date.now() - t0 < 4000);
    // invalid JSON body on a real route
    const h = await fetch(`${srv.url}/healthcheck`);
    assert.equal(h.status, 200);
  } finally { await srv.cleanup(); }
});

test('pipelined requests are answered in order on one connection', async () => {
  const srv = await startServer();
  try {
    const req = 'GET /readyz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /healthcheck HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    const r = await rawExchange(srv.port, req);
    const statuses = [...r.text.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '404', '200']);
  } finally { await srv.cleanup(); }
});

test('metrics on the prometheus port: process and HTTP series', async () => {
  const srv = await startServer();
  try {
    await fetch(`${srv.url}/healthcheck`);
    await fetch(`${srv.url}/v2/nope`);
    const r = await fetch(`http://127.0.0.1:${srv.metricsPort}/metrics`);
    assert.equal(r.status, 200);
    const text = await r.text();
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_open_fds',
      'process_start_time_seconds', 'database_pool_conns_open', 'database_pool_conns_idle']) {
      assert.match(text, new RegExp(`^${name}\\{node_name="nakama"\\} `, 'm'), name);
    }
    assert.match(text, /http_requests_total\{node_name="nakama",route="Healthcheck",status="200"\} \d+/);
    assert.match(text, /http_requests_total\{node_name="nakama",route="unknown",status="404"\} 1/);
    assert.match(text, /http_request_duration_ms_bucket\{node_name="nakama",route="Healthcheck",le="\+Inf"\} \d+/);
  } finally { await srv.cleanup(); }
});

test('SIGTERM: an in-flight request finishes and is answered, then exit 0', async () => {
  const srv = await startServer({ args: ['--shutdown_grace_sec', '5'] });
  // Email authentication hashes the password with bcrypt on a worker: a
  // request that is still running when the signal arrives.
  const inflight = fetch(`${srv.url}/v2/account/authenticate/email?create=true`, {
    method: 'POST',
    headers: { Authorization: basicAuth(), 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: `shutdown-${Date.now()}@example.com`, password: 'password123' }),
  });
  // Long enough for the request to reach the server on a loaded box, far
  // shorter than the bcrypt hash it starts.
  await sleep(50);
  srv.child.kill('SIGTERM');
  const r = await inflight;
  assert.equal(r.status, 200);
  const body = await r.json();
  assert.ok(body.token, 'session token in the answer');
  const { code } = await srv.exited;
  assert.equal(code, 0);
  assert.match(srv.logs(), /"msg":"shutting down"/);
  assert.match(srv.logs(), /"msg":"stopped"/);
  // the listener is gone: new connections are refused
  await assert.rejects(fetch(`${srv.url}/healthcheck`));
  await srv.cleanup();
});

test('config: unknown key and bad value are refused with the key named', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tomo-cfg-'));
  const f = path.join(dir, 'bad.yml');
  writeFileSync(f, 'socket:\n  port: lots\n');
  let r = spawnSync(TOMO_BIN, ['config', 'check', '--config', f]);
  assert.equal(r.status, 1);
  assert.match(r.stderr.toString(), /socket\.port: expected integer, got "lots"/);
  writeFileSync(f, 'sokcet:\n  port: 1\n');
  r = spawnSync(TOMO_BIN, ['--config', f]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr.toString(), /unknown config key "sokcet"/);
  r = spawnSync(TOMO_BIN, ['--socket.prot', '1']);
  assert.equal(r.status, 2);
  assert.match(r.stderr.toString(), /unknown option --socket\.prot/);
  r = spawnSync(TOMO_BIN, ['config', 'check'], { env: { ...process.env, TOMO_SESSION_TOKEN_EXPIRY_SEC: 'soon' } });
  assert.equal(r.status, 1);
  assert.match(r.stderr.toString(), /session\.token_expiry_sec.*TOMO_SESSION_TOKEN_EXPIRY_SEC/);
});

test('config check: redacts secrets, warns on defaults, --production fails on them', () => {
  let r = spawnSync(TOMO_BIN, ['config', 'check', '--socket.server_key', 'sup3rs3cr3t', '--database.address', 'postgres://u:hunter2@db:5432/x']);
  assert.equal(r.status, 0);
  const out = r.stdout.toString();
  assert.ok(!out.includes('sup3rs3cr3t'));
  assert.ok(!out.includes('hunter2'));
  assert.match(out, /server_key: "<redacted>"/);
  // A password given as a URL parameter is redacted too.
  const q = spawnSync(TOMO_BIN, ['config', 'check', '--database.address', 'postgres://u@h/db?password=hunter2']);
  assert.equal(q.status, 0);
  assert.ok(!q.stdout.toString().includes('hunter2'));
  assert.match(q.stdout.toString(), /postgres:\/\/u@h\/db\?password=<redacted>/);
  assert.match(r.stderr.toString(), /warning: session\.encryption_key is set to its insecure default/);
  r = spawnSync(TOMO_BIN, ['config', 'check', '--production']);
  assert.equal(r.status, 1);
  assert.match(r.stderr.toString(), /error: socket\.server_key/);
  // precedence: flag beats env beats file
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tomo-cfg-'));
  const f = path.join(dir, 'c.yml');
  writeFileSync(f, 'session:\n  token_expiry_sec: 100\n  refresh_token_expiry_sec: 200\nname: fromfile\n');
  r = spawnSync(TOMO_BIN, ['config', 'check', '--config', f, '--session.token_expiry_sec', '300'],
    { env: { ...process.env, TOMO_SESSION_TOKEN_EXPIRY_SEC: '150', TOMO_SESSION_REFRESH_TOKEN_EXPIRY_SEC: '250' } });
  const o2 = r.stdout.toString();
  assert.match(o2, /token_expiry_sec: 300/);
  assert.match(o2, /refresh_token_expiry_sec: 250/);
  assert.match(o2, /name: "fromfile"/);
});

test('serve --production refuses default keys', () => {
  const r = spawnSync(TOMO_BIN, ['serve', '--production', '--socket.port', '0'], { timeout: 10000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr.toString(), /refusing to start: .* default value/);
});

test('keys generate prints five fresh 32-byte keys as YAML and env lines', () => {
  const a = execFileSync(TOMO_BIN, ['keys', 'generate']).toString();
  const b = execFileSync(TOMO_BIN, ['keys', 'generate']).toString();
  for (const name of ['TOMO_SOCKET_SERVER_KEY', 'TOMO_SESSION_ENCRYPTION_KEY', 'TOMO_SESSION_REFRESH_ENCRYPTION_KEY',
    'TOMO_RUNTIME_HTTP_KEY', 'TOMO_CONSOLE_SIGNING_KEY']) {
    assert.match(a, new RegExp(`^${name}=[0-9a-f]{64}$`, 'm'));
  }
  assert.match(a, /^ {2}server_key: "[0-9a-f]{64}"$/m);
  assert.notEqual(a, b);
});

test('version, --help on each command, unknown command', () => {
  assert.match(execFileSync(TOMO_BIN, ['version']).toString(), /^tomo \d+\.\d+\.\d+/);
  for (const cmd of [[], ['serve'], ['migrate'], ['config'], ['keys'], ['healthcheck'], ['version']]) {
    const r = spawnSync(TOMO_BIN, [...cmd, '--help']);
    assert.equal(r.status, 0, cmd.join(' '));
    assert.match(r.stdout.toString(), /Usage: tomo/);
  }
  const r = spawnSync(TOMO_BIN, ['frobnicate']);
  assert.equal(r.status, 2);
  assert.match(r.stderr.toString(), /unknown command "frobnicate"/);
});

test('healthcheck subcommand exits 0 against a live server and 1 otherwise', async () => {
  const srv = await startServer();
  try {
    let r = spawnSync(TOMO_BIN, ['healthcheck', '--socket.port', String(srv.port)]);
    assert.equal(r.status, 0);
    await srv.stop();
    r = spawnSync(TOMO_BIN, ['healthcheck', '--socket.port', String(srv.port)]);
    assert.equal(r.status, 1);
    // The message names the configured host (it used to be read after the
    // config was freed).
    r = spawnSync(TOMO_BIN, ['healthcheck', '--socket.address', '127.0.0.1', '--socket.port', String(srv.port)]);
    assert.equal(r.status, 1);
    assert.match(r.stderr.toString(), new RegExp(`unhealthy: no 200 from 127\\.0\\.0\\.1:${srv.port}/healthcheck`));
  } finally { await srv.cleanup(); }
});

test('migrate up is idempotent and migrate status reports current', { skip: BACKEND === 'postgres' ? false : false }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tomo-mig-'));
  const args = ['--data_dir', dir];
  let r = spawnSync(TOMO_BIN, ['migrate', 'status', ...args]);
  assert.equal(r.status, 1);
  assert.match(r.stdout.toString(), /status: behind/);
  r = spawnSync(TOMO_BIN, ['migrate', 'up', ...args]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.match(r.stdout.toString(), /applied [1-9]\d* migration/);
  r = spawnSync(TOMO_BIN, ['migrate', 'up', ...args]);
  assert.match(r.stdout.toString(), /applied 0 migration/);
  r = spawnSync(TOMO_BIN, ['migrate', 'status', ...args]);
  assert.equal(r.status, 0);
  assert.match(r.stdout.toString(), /status: current/);
});

test('serve in production mode does not auto-migrate SQLite and names the fix', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tomo-mig-'));
  const keys = ['--socket.server_key', 'k1', '--session.encryption_key', 'k2', '--session.refresh_encryption_key', 'k3',
    '--runtime.http_key', 'k4', '--console.signing_key', 'k5', '--console.password', 'k6'];
  const r = spawnSync(TOMO_BIN, ['serve', '--production', '--data_dir', dir, '--socket.port', '0', '--socket.ws_port', '0',
    '--metrics.prometheus_port', '0', ...keys], { timeout: 10000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr.toString(), /run `tomo migrate up`/);
});

test('gzip: compressed request bodies are accepted, bombs refused, large responses compressed', async () => {
  const { gzipSync, deflateSync } = await import('node:zlib');
  const srv = await startServer();
  try {
    const post = (body, enc) => fetch(`${srv.url}/v2/account/authenticate/device?create=true`, {
      method: 'POST',
      headers: { Authorization: basicAuth(), 'Content-Type': 'application/json', 'Content-Encoding': enc },
      body,
    });
    let r = await post(gzipSync(JSON.stringify({ id: `gzip-device-${Date.now()}` })), 'gzip');
    assert.equal(r.status, 200);
    const { token } = await r.json();
    assert.ok(token);
    r = await post(deflateSync(JSON.stringify({ id: `deflate-device-${Date.now()}` })), 'deflate');
    assert.equal(r.status, 200);
    r = await post(Buffer.from('definitely not gzip'), 'gzip');
    assert.equal(r.status, 400);
    assert.match((await r.json()).message, /not valid gzip data/);
    r = await post(Buffer.from('{}'), 'br');
    assert.equal(r.status, 400);
    assert.match((await r.json()).message, /Unsupported Content-Encoding "br"/);
    // 4 MB of spaces compress to a few KB: inflating past the request limit is refused
    r = await post(gzipSync(Buffer.alloc(4 << 20, 0x20)), 'gzip');
    assert.equal(r.status, 413);
    assert.match((await r.json()).message, /exceeds 262144 bytes/);

    // a large response is gzip-encoded for a client that accepts it
    const auth = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    const objects = Array.from({ length: 20 }, (_, i) => ({
      collection: 'gz', key: `k${i}`, value: JSON.stringify({ pad: 'x'.repeat(200), i }), permission_read: 1,
    }));
    r = await fetch(`${srv.url}/v2/storage`, { method: 'PUT', headers: auth, body: JSON.stringify({ objects }) });
    assert.equal(r.status, 200);
    r = await fetch(`${srv.url}/v2/storage/gz?limit=20&user_id=${JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).uid}`,
      { headers: { ...auth, 'Accept-Encoding': 'gzip' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-encoding'), 'gzip');
    assert.equal((await r.json()).objects.length, 20); // fetch decodes it
    // small responses stay plain
    r = await fetch(`${srv.url}/healthcheck`, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(r.headers.get('content-encoding'), null);
  } finally { await srv.cleanup(); }
});
