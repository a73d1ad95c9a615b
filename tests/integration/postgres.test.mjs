// PostgreSQL backend: address forms, concurrent migrations, the schema check
// at start-up, connection failures (wrong password, nothing listening), an
// outage under traffic (the real server stopped and started again), statement
// timeouts, and the database metrics. Runs in the Postgres stage of
// scripts/test.sh, which exports the TOMO_TEST_PG_* variables used here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { startServer, createPgDatabase, freePort, TOMO_BIN, BACKEND, sleep, basicAuth, uid } from './harness.mjs';

const skip = BACKEND === 'postgres' ? false
  : 'needs a real PostgreSQL server: runs in the Postgres stage of scripts/test.sh (TOMO_TEST_BACKEND=postgres)';
const PG = {
  admin: process.env.TOMO_TEST_PG_ADMIN,
  bin: process.env.TOMO_TEST_PG_BIN,
  data: process.env.TOMO_TEST_PG_DATA,
  opts: process.env.TOMO_TEST_PG_OPTS,
  log: process.env.TOMO_TEST_PG_LOG,
};

function pgCtl(args) {
  const cmd = `${PG.bin}/pg_ctl`;
  const argv = ['-D', PG.data, ...args];
  if (process.getuid && process.getuid() === 0) {
    execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...argv], { stdio: 'pipe' });
  } else {
    execFileSync(cmd, argv, { stdio: 'pipe' });
  }
}
const stopPg = () => pgCtl(['-m', 'fast', '-w', 'stop']);
const startPg = () => pgCtl(['-l', PG.log, '-w', '-o', PG.opts, 'start']);
const pgRunning = () => spawnSync('psql', [PG.admin, '-qAtc', 'SELECT 1']).status === 0;

const psql = (url, sql) => execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql]).toString().trim();

async function metricsText(srv) {
  const r = await fetch(`http://127.0.0.1:${srv.metricsPort}/metrics`);
  assert.equal(r.status, 200);
  return r.text();
}
function metric(text, name, labels = '') {
  const sel = labels ? `node_name="nakama",${labels}` : 'node_name="nakama"';
  const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = text.match(new RegExp(`^${esc(name)}\\{${esc(sel)}\\} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : undefined;
}

async function timedFetch(url, init = {}) {
  const t0 = Date.now();
  try {
    const r = await fetch(url, { ...init, signal: AbortSignal.timeout(8000) });
    const body = await r.text();
    return { status: r.status, body, ms: Date.now() - t0 };
  } catch (e) {
    return { status: 0, body: String(e), ms: Date.now() - t0 };
  }
}

// Device authentication: a route that reads (and on first use writes) the database.
const deviceAuth = (srv, id) => timedFetch(`${srv.url}/v2/account/authenticate/device?create=true`, {
  method: 'POST', headers: { Authorization: basicAuth(), 'Content-Type': 'application/json' },
  body: JSON.stringify({ id }),
});

// An address in Nakama's short form (no scheme) for the same server.
function shortForm(url) {
  const u = new URL(url);
  return `${u.username}${u.password ? ':' + u.password : ''}@${u.host}${u.pathname}`;
}

test('address forms: Nakama short form works, and names database "nakama" when none is given', { skip }, async () => {
  const url = createPgDatabase();
  const short = shortForm(url);
  assert.ok(!short.includes('://'));
  const srv = await startServer({ dbUrl: short });
  try {
    const r = await fetch(`${srv.url}/readyz`);
    assert.equal(r.status, 200);
    assert.match(srv.logs(), /"backend":"postgres"/);
  } finally { await srv.cleanup(); }
  // no database in the address: Nakama's default "nakama", which does not exist here
  const noDb = short.replace(/\/[^/]*$/, '');
  const r = spawnSync(TOMO_BIN, ['migrate', 'status', '--database.address', noDb]);
  assert.equal(r.status, 1);
  const text = r.stdout.toString() + r.stderr.toString();
  assert.match(text, /database "nakama" does not exist/);
  const pw = new URL(url).password;
  assert.ok(pw && !text.includes(pw), 'password must not be printed');
  assert.match(text, /<redacted>/);
});

test('two `tomo migrate up` at once on a fresh database: both exit 0, schema applied once', { skip }, async () => {
  const url = createPgDatabase();
  const run = () => new Promise((resolve) => {
    const p = spawn(TOMO_BIN, ['migrate', 'up', '--database.address', url]);
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('exit', (code) => resolve({ code, out }));
  });
  const results = await Promise.all([run(), run(), run()]);
  for (const r of results) assert.equal(r.code, 0, r.out);
  const applied = results.map((r) => Number(r.out.match(/applied (\d+) migration/)[1]));
  const latest = Number(results[0].out.match(/schema version (\d+) of (\d+)/)[2]);
  assert.equal(applied.reduce((a, b) => a + b, 0), latest, `applied ${applied}`);
  assert.equal(Number(psql(url, 'SELECT COUNT(*) FROM tomo_migrations')), latest);
  assert.equal(Number(psql(url, 'SELECT COUNT(DISTINCT version) FROM tomo_migrations')), latest);
  for (const t of ['users', 'user_device', 'storage', 'notification', 'message', 'session_revocation']) {
    assert.equal(psql(url, `SELECT to_regclass('public.${t}') IS NOT NULL`), 't', t);
  }
  const st = spawnSync(TOMO_BIN, ['migrate', 'status', '--database.address', url]);
  assert.equal(st.status, 0);
  assert.match(st.stdout.toString(), /backend: postgres/);
  assert.match(st.stdout.toString(), /status: current/);
});

test('serve refuses a schema that is behind and names `tomo migrate up`', { skip }, async () => {
  const url = createPgDatabase();
  const port = await freePort();
  const r = spawnSync(TOMO_BIN, ['serve', '--database.address', url, '--socket.port', String(port),
    '--socket.ws_port', '0', '--metrics.prometheus_port', '0', '--console.port', '0'], { timeout: 15000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr.toString(), /schema is behind \(version 0 of \d+\): run `tomo migrate up`/);
  // nothing was created behind the operator's back
  assert.equal(psql(url, "SELECT to_regclass('public.users') IS NULL"), 't');
});

for (const [name, mkAddr, cause] of [
  ['wrong password', (u) => { u.password = 'not-the-password'; return u; }, /password authentication failed/],
  ['nothing listening on the port', async (u) => { u.port = String(await freePort()); return u; }, /Connection refused/],
]) {
  test(`database unreachable (${name}): 503 code 14 on database routes, healthcheck 200, cause logged, password redacted`, { skip }, async () => {
    const u = await mkAddr(new URL(createPgDatabase()));
    const secret = u.password;
    const srv = await startServer({ dbUrl: u.toString(), migrate: false });
    try {
      assert.equal((await fetch(`${srv.url}/healthcheck`)).status, 200);
      for (let i = 0; i < 3; i++) {
        const r = await timedFetch(`${srv.url}/readyz`);
        assert.equal(r.status, 503);
        assert.deepEqual(JSON.parse(r.body), { code: 14, message: 'Database unavailable.' });
        assert.ok(r.ms < 4000, `answered in ${r.ms} ms`);
      }
      // through the official client, on an API route that needs the database
      const e = await srv.client().authenticateDevice(`device-${uid()}`, true).then(() => null, (x) => x);
      assert.ok(e, 'authenticateDevice must fail');
      assert.equal(e.status, 503);
      assert.deepEqual(await e.json(), { code: 14, message: 'Database unavailable.' });
      assert.equal((await fetch(`${srv.url}/healthcheck`)).status, 200);
      const logs = srv.logs();
      assert.match(logs, /database unreachable at start-up, serving as unready/);
      assert.match(logs, /"msg":"database connect failed"/);
      assert.match(logs, cause);
      assert.match(logs, /"target":"postgres:\/\/tomo:<redacted>@127\.0\.0\.1:/);
      assert.ok(!logs.includes(secret), 'password must not appear in logs');
    } finally { await srv.cleanup(); }
  });
}

test('Postgres down at start-up: serves unready, becomes ready when Postgres comes up', { skip, timeout: 60000 }, async () => {
  const url = createPgDatabase();
  execFileSync(TOMO_BIN, ['migrate', 'up', '--database.address', url], { stdio: 'pipe' });
  stopPg();
  let srv;
  try {
    srv = await startServer({ dbUrl: url, migrate: false });
    assert.equal((await fetch(`${srv.url}/healthcheck`)).status, 200);
    const r = await timedFetch(`${srv.url}/readyz`);
    assert.equal(r.status, 503);
    assert.equal(JSON.parse(r.body).code, 14);
    assert.match(srv.logs(), /database unreachable at start-up, serving as unready/);
    startPg();
    const t0 = Date.now();
    let status = 0;
    while (Date.now() - t0 < 5000 && status !== 200) {
      status = (await timedFetch(`${srv.url}/readyz`)).status;
      if (status !== 200) await sleep(50);
    }
    assert.equal(status, 200, 'ready within 5 s of Postgres starting');
    assert.equal(srv.child.exitCode, null);
  } finally {
    if (!pgRunning()) startPg();
    if (srv) await srv.cleanup();
  }
});

test('outage under traffic: fast 503s while Postgres is stopped, recovery without a restart', { skip, timeout: 90000 }, async () => {
  const srv = await startServer();
  let stopped = false;
  try {
    assert.equal((await fetch(`${srv.url}/readyz`)).status, 200);
    // steady traffic on a database route from 8 clients
    let phase = 'before';
    const seen = { before: [], outage: [], after: [] };
    let running = true;
    const devices = Array.from({ length: 4 }, () => `device-${uid()}`);
    let n = 0;
    const clients = Array.from({ length: 8 }, async (_, k) => {
      while (running) {
        const p = phase;
        const r = k % 2 ? await timedFetch(`${srv.url}/readyz`) : await deviceAuth(srv, devices[n++ % devices.length]);
        if (p === phase && seen[p]) seen[p].push(r);
        await sleep(10);
      }
    });
    await sleep(300);
    phase = 'stopping';
    stopPg();
    stopped = true;
    phase = 'outage';
    await sleep(2500);
    const health = await timedFetch(`${srv.url}/healthcheck`);
    phase = 'starting';
    startPg();
    stopped = false;
    const t0 = Date.now();
    let recoveredMs = -1;
    while (Date.now() - t0 < 10000) {
      const r = await timedFetch(`${srv.url}/readyz`);
      if (r.status === 200) { recoveredMs = Date.now() - t0; break; }
      await sleep(50);
    }
    phase = 'after';
    await sleep(500);
    running = false;
    await Promise.all(clients);

    assert.ok(seen.before.length > 10 && seen.before.every((r) => r.status === 200), 'all good before');
    assert.equal(health.status, 200, 'healthcheck keeps working');
    assert.ok(health.ms < 500);
    assert.ok(seen.outage.length > 50, `outage requests: ${seen.outage.length}`);
    for (const r of seen.outage) {
      assert.equal(r.status, 503, r.body);
      assert.equal(JSON.parse(r.body).code, 14);
    }
    const slowest = Math.max(...seen.outage.map((r) => r.ms));
    assert.ok(slowest < 1000, `slowest outage answer ${slowest} ms`);
    assert.ok(recoveredMs >= 0 && recoveredMs < 5000, `recovered after ${recoveredMs} ms`);
    assert.ok(seen.after.length > 10 && seen.after.every((r) => r.status === 200),
      `after: ${seen.after.map((r) => r.status)}`);
    assert.equal(srv.child.exitCode, null, 'same process throughout');

    const text = await metricsText(srv);
    assert.ok(metric(text, 'database_query_errors_total', 'kind="unavailable"') > 0);
    assert.ok(metric(text, 'database_pool_conns_open') >= 1);
    const logs = srv.logs();
    assert.match(logs, /"msg":"database connect failed".*"outage":"new"/);
    assert.match(logs, /"msg":"database reachable again"/);
    // the breaker keeps connection attempts (and their log lines) to about one a second
    const attempts = (logs.match(/"msg":"database connect failed"/g) || []).length;
    assert.ok(attempts <= 8, `connect attempts logged during a 2.5 s outage: ${attempts}`);
  } finally {
    if (stopped || !pgRunning()) { try { startPg(); } catch { /* already running */ } }
    await srv.cleanup();
  }
});

test('statement timeout: a locked table answers 503 after query_timeout_ms, counted as timeout', { skip }, async () => {
  const srv = await startServer({ args: ['--database.query_timeout_ms', '300'] });
  const locker = spawn('psql', [srv.dbUrl, '-v', 'ON_ERROR_STOP=1', '-qAt'], { stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    let out = '';
    locker.stdout.on('data', (d) => { out += d; });
    locker.stdin.write("BEGIN;\nLOCK TABLE tomo_migrations IN ACCESS EXCLUSIVE MODE;\nSELECT 'locked';\n");
    for (let i = 0; i < 100 && !out.includes('locked'); i++) await sleep(50);
    assert.match(out, /locked/);
    const r = await timedFetch(`${srv.url}/readyz`);
    assert.equal(r.status, 503);
    assert.equal(JSON.parse(r.body).code, 14);
    assert.ok(r.ms >= 250 && r.ms < 2000, `answered in ${r.ms} ms`);
    const text = await metricsText(srv);
    assert.ok(metric(text, 'database_query_errors_total', 'kind="timeout"') >= 1);
    locker.stdin.end('COMMIT;\n');
    await new Promise((res) => locker.on('exit', res));
    assert.equal((await fetch(`${srv.url}/readyz`)).status, 200);
  } finally {
    locker.kill();
    await srv.cleanup();
  }
});

test('metrics: pool gauges, query latency histogram and error counters by kind', { skip }, async () => {
  const srv = await startServer();
  try {
    await Promise.all(Array.from({ length: 6 }, () => fetch(`${srv.url}/readyz`)));
    for (let i = 0; i < 5; i++) assert.equal((await fetch(`${srv.url}/readyz`)).status, 200);
    const text = await metricsText(srv);
    const open = metric(text, 'database_pool_conns_open');
    const idle = metric(text, 'database_pool_conns_idle');
    assert.ok(open >= 1 && open <= 100, `open ${open}`);
    assert.equal(idle, open, 'nothing in flight: every open connection is idle');
    assert.equal(metric(text, 'database_pool_conns_in_use'), 0);
    // the server's real connections, as Postgres sees them
    const backends = Number(psql(PG.admin, `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = '${new URL(srv.dbUrl).pathname.slice(1)}' AND application_name = 'tomo'`));
    assert.equal(backends, open);
    const count = metric(text, 'database_query_latency_ms_count');
    assert.ok(count >= 20, `queries observed: ${count}`);
    assert.ok(metric(text, 'database_query_latency_ms_sum') > 0);
    assert.match(text, /^database_query_latency_ms_bucket\{node_name="nakama",le="\+Inf"\} \d+$/m);
    for (const kind of ['unavailable', 'timeout', 'conflict', 'other']) {
      assert.equal(metric(text, 'database_query_errors_total', `kind="${kind}"`), 0, kind);
    }
    // a unique violation: a second account asking for a username in use
    const name = `taken${uid()}`.slice(0, 20);
    assert.equal((await srv.client().authenticateDevice(`device-${uid()}`, true, name)).created, true);
    const e = await srv.client().authenticateCustom(`custom-${uid()}`, true, name).then(() => null, (x) => x);
    assert.ok(e, 'second account with the same username must fail');
    assert.equal(e.status, 409);
    const after = await metricsText(srv);
    assert.ok(metric(after, 'database_query_errors_total', 'kind="conflict"') >= 1);
    assert.equal(metric(after, 'database_query_errors_total', 'kind="other"'), 0);
  } finally { await srv.cleanup(); }
});

test('concurrency under read committed: one account per device id, one winner per storage version', { skip }, async () => {
  const srv = await startServer();
  try {
    const id = `device-${uid()}`;
    const sessions = await Promise.all(Array.from({ length: 20 }, () => srv.client().authenticateDevice(id, true)));
    assert.equal(new Set(sessions.map((s) => s.user_id)).size, 1, 'one account');
    assert.equal(sessions.filter((s) => s.created).length, 1, 'created exactly once');
    const client = srv.client();
    const session = sessions[0];
    const [ack] = (await client.writeStorageObjects(session, [{ collection: 'c', key: 'k', value: { n: 0 } }])).acks;
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      client.writeStorageObjects(session, [{ collection: 'c', key: 'k', value: { n: i + 1 }, version: ack.version }])
        .then((r) => ({ ok: true, version: r.acks[0].version, n: i + 1 }), (e) => ({ ok: false, status: e.status }))));
    const winners = results.filter((r) => r.ok);
    assert.equal(winners.length, 1, JSON.stringify(results));
    for (const r of results.filter((x) => !x.ok)) assert.ok(r.status >= 400 && r.status < 500, String(r.status));
    const read = await client.readStorageObjects(session, { object_ids: [{ collection: 'c', key: 'k', user_id: session.user_id }] });
    assert.equal(read.objects[0].version, winners[0].version);
    assert.deepEqual(read.objects[0].value, { n: winners[0].n });
  } finally { await srv.cleanup(); }
});
