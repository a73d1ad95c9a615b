// tests/integration/reliability.test.mjs: defects found by probing, pinned:
// half-closed clients still get their answers, Basic auth needs the "key:"
// form, path parameters that decode to invalid UTF-8 or contain NUL are a 400
// on both backends, a DM with oneself behaves as in Nakama 3.x, and
// tomo-bench survives a server that drops its sockets, and Postgres
// collation drift is reported at start-up and in /readyz.
import test from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { spawn, execFileSync } from 'node:child_process';
import { startServer, basicAuth, uid, sleep, TOMO_BIN, BACKEND } from './harness.mjs';
import { newUser, connect, closeAll } from './rtutil.mjs';

/* Send a request, then shutdown(SHUT_WR); collect until the server closes. */
function halfClosed(port, raw) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    sock.setTimeout(5000, () => { sock.destroy(); reject(new Error('no close: ' + data)); });
    sock.on('data', (d) => { data += d.toString('latin1'); });
    sock.on('end', () => { sock.destroy(); resolve(data); });
    sock.on('error', reject);
    sock.on('connect', () => { sock.end(raw); }); // end() = write + FIN
  });
}

test('a half-closed client gets its answer from a worker-handled route', async () => {
  const srv = await startServer();
  try {
    const body = JSON.stringify({ id: 'half-close-' + uid() });
    const raw = `POST /v2/account/authenticate/device?create=true HTTP/1.1\r\nHost: x\r\n` +
      `Authorization: ${basicAuth()}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\n\r\n${body}`;
    const text = await halfClosed(srv.port, raw);
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.match(text, /"token":"/);
    // two pipelined requests, then FIN: both answered in order
    const two = await halfClosed(srv.port, raw + 'GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal((two.match(/HTTP\/1\.1 200 /g) || []).length, 2);
    assert.ok(two.indexOf('"token"') < two.lastIndexOf('HTTP/1.1 200'));
  } finally { await srv.cleanup(); }
});

test('Basic auth without the colon is refused', async () => {
  const srv = await startServer();
  try {
    const post = (auth) => fetch(`${srv.url}/v2/account/authenticate/device?create=true`, {
      method: 'POST', body: JSON.stringify({ id: 'basic-' + uid() }), headers: { Authorization: auth },
    });
    let r = await post('Basic ' + Buffer.from('defaultkey').toString('base64'));
    assert.equal(r.status, 401);
    assert.deepEqual(await r.json(), { code: 16, message: 'Server key invalid' });
    r = await post('Basic ' + Buffer.from('defaultkey:anything').toString('base64'));
    assert.equal(r.status, 200); // the password part is not checked (as in Nakama)
    r = await post(basicAuth());
    assert.equal(r.status, 200);
  } finally { await srv.cleanup(); }
});

test('path parameters with invalid UTF-8 or NUL are a 400', async () => {
  const srv = await startServer();
  try {
    const u = await newUser(srv, 'pp');
    const auth = { Authorization: `Bearer ${u.session.token}` };
    const bad = ['%FF%FE', 'ab%00cd', '%C0%AF', '%ED%A0%80' /* surrogate */];
    for (const p of bad) {
      for (const path of [`/v2/storage/${p}`, `/v2/storage/${p}/${u.userId}`,
        `/v2/storage/c/${p}`, `/v2/channel/2...${p}`]) {
        const r = await fetch(srv.url + path, { headers: auth });
        assert.equal(r.status, 400, path);
        const b = await r.json();
        assert.equal(b.code, 3, path);
        assert.match(b.message, /path parameter/, path);
      }
    }
    // valid encoded UTF-8 still works
    const r = await fetch(`${srv.url}/v2/storage/caf%C3%A9`, { headers: auth });
    assert.equal(r.status, 200);
    // the server is fine afterwards
    assert.equal((await fetch(`${srv.url}/healthcheck`)).status, 200);
  } finally { await srv.cleanup(); }
});

test('a DM with oneself joins as in Nakama 3.x, without a DM request notification', async () => {
  const srv = await startServer();
  let s;
  try {
    const u = await newUser(srv, 'self');
    s = await connect(srv, u);
    const ch = await s.joinChat(u.userId, 2, true, false);
    assert.equal(ch.id, `4.${u.userId}.${u.userId}.`);
    const list = await u.client.listNotifications(u.session, 10);
    assert.equal((list.notifications || []).length, 0);
  } finally { closeAll(s); await srv.cleanup(); }
});

const BENCH = process.env.TOMO_BENCH_BIN || path.join(path.dirname(TOMO_BIN), 'bench', 'tomo-bench');

test('tomo-bench survives the server dying mid-run and counts the lost sockets',
  { skip: !existsSync(BENCH) && 'no tomo-bench build' }, async () => {
    const srv = await startServer({ logLevel: 'error' });
    try {
      const bench = spawn(BENCH, ['relay', '--http-port', String(srv.port), '--matches', '10',
        '--players', '4', '--rate', '50', '--warmup', '0', '--duration', '3'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      bench.stdout.on('data', (d) => { out += d; });
      bench.stderr.on('data', (d) => { out += d; });
      const done = new Promise((resolve) => bench.on('exit', (code, signal) => resolve({ code, signal })));
      // wait until the load runs (first progress line), then kill the server under it
      const end = Date.now() + 10000;
      while (Date.now() < end && !/deliveries: /.test(out) && bench.exitCode === null) await sleep(20);
      assert.equal(bench.exitCode, null, out);
      await srv.stop('SIGKILL');
      const r = await done;
      assert.equal(r.signal, null, out);
      assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${out}`);
      const lost = /sockets lost\s*\|\s*(\d+)/.exec(out);
      assert.ok(lost && Number(lost[1]) > 0, out);
    } finally { await srv.cleanup(); }
  });

test('readyz has no warnings on a healthy database', async () => {
  const srv = await startServer();
  try {
    const r = await fetch(`${srv.url}/readyz`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), {});
  } finally { await srv.cleanup(); }
});

test('Postgres collation drift: warned at start-up and in /readyz',
  { skip: BACKEND !== 'postgres' && 'Postgres only' }, async () => {
    const admin = process.env.TOMO_TEST_PG_ADMIN;
    const psql = (url, sql) => execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-Atqc', sql],
      { stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
    if (Number(psql(admin, 'SHOW server_version_num')) < 150000) return;
    const name = `tomo_coll_${process.pid}_${Date.now()}`;
    // an ICU database records a collation version; pretend it was built under another one
    psql(admin, `CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`);
    const url = new URL(admin);
    url.pathname = '/' + name;
    let srv;
    try {
      psql(admin, `UPDATE pg_database SET datcollversion = '0.9' WHERE datname = '${name}'`);
      srv = await startServer({ dbUrl: url.toString() });
      const line = srv.logs().split('\n').find((l) => l.startsWith('{') && l.includes('collation version mismatch'));
      assert.ok(line, srv.logs());
      const j = JSON.parse(line);
      assert.equal(j.level, 'warn');
      assert.equal(j.recorded, '0.9');
      assert.match(j.msg, new RegExp(`REINDEX DATABASE ${name};`));
      assert.match(j.msg, new RegExp(`ALTER DATABASE ${name} REFRESH COLLATION VERSION`));
      let r = await fetch(`${srv.url}/readyz`);
      assert.equal(r.status, 200); // the database works: ready, with the warning as detail
      const body = await r.json();
      assert.equal(body.warnings.length, 1);
      assert.match(body.warnings[0], /collation version mismatch.*recorded=0\.9/);
      // the operator's fix clears it
      psql(url.toString(), `ALTER DATABASE ${name} REFRESH COLLATION VERSION`);
      r = await fetch(`${srv.url}/readyz`);
      assert.deepEqual(await r.json(), {});
    } finally {
      if (srv) await srv.cleanup();
      psql(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });

test('reading 100 storage objects in one request works on both backends', async () => {
  const srv = await startServer();
  try {
    const u = await newUser(srv, 'rd');
    const objects = [];
    for (let i = 0; i < 100; i++) objects.push({ collection: 'many', key: `k${i}`, value: { i } });
    const acks = await u.client.writeStorageObjects(u.session, objects);
    assert.equal(acks.acks.length, 100);
    const ids = objects.map((o) => ({ collection: o.collection, key: o.key, user_id: u.userId }));
    const r = await u.client.readStorageObjects(u.session, { object_ids: ids });
    assert.equal(r.objects.length, 100);
    assert.deepEqual(new Set(r.objects.map((o) => o.value.i)).size, 100);
  } finally { await srv.cleanup(); }
});
