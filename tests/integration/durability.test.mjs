// tests/integration/durability.test.mjs: crash durability. Concurrent
// clients write storage objects and create accounts; the server is killed
// with SIGKILL in the middle of the load, restarted on the same data (SQLite
// file or Postgres database), and every write that was acknowledged before
// the kill must be there, with the version the client was given. Runs on
// the backend the suite is run with (TOMO_TEST_BACKEND).
import test from 'node:test';
import assert from 'node:assert/strict';
import { startServer, basicAuth, uid, sleep } from './harness.mjs';

const CLIENTS = 8;

async function post(url, path, body, auth) {
  const r = await fetch(url + path, {
    method: path.startsWith('/v2/storage') && body.objects ? 'PUT' : 'POST',
    headers: { Authorization: auth, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

test('every write acknowledged before a SIGKILL survives the restart', async (t) => {
  const srv = await startServer({ keepData: true, logLevel: 'warn' });
  let srv2;
  try {
    const url = srv.url;
    // one session per writer, created before the load
    const sessions = [];
    for (let i = 0; i < CLIENTS; i++) {
      const r = await post(url, '/v2/account/authenticate/device?create=true',
        { id: `dur-writer-${i}-${uid()}` }, basicAuth());
      assert.equal(r.status, 200);
      const uidOf = JSON.parse(Buffer.from(r.body.token.split('.')[1], 'base64url')).uid;
      sessions.push({ token: r.body.token, userId: uidOf });
    }
    const ackedObjects = []; // { userId, key, version, value }
    const ackedAccounts = []; // { device, userId }
    let stop = false;
    let failures = 0;
    const statuses = []; // non-200 answers before the kill: must be none
    const writer = async (i) => {
      const s = sessions[i];
      for (let n = 0; !stop; n++) {
        const key = `k${i}-${n}`;
        const value = { i, n, pad: 'x'.repeat(n % 50) };
        try {
          const r = await post(url, '/v2/storage', {
            objects: [{ collection: 'durable', key, value: JSON.stringify(value), permission_read: 2, permission_write: 1 }],
          }, `Bearer ${s.token}`);
          if (r.status === 200) ackedObjects.push({ userId: s.userId, key, version: r.body.acks[0].version, value });
          else { failures++; if (!stop) statuses.push(r.status); }
        } catch { failures++; if (stop) break; }
      }
    };
    const creator = async (i) => {
      for (let n = 0; !stop; n++) {
        const device = `dur-new-${i}-${n}-${uid()}`;
        try {
          const r = await post(url, '/v2/account/authenticate/device?create=true', { id: device }, basicAuth());
          if (r.status === 200) {
            const u = JSON.parse(Buffer.from(r.body.token.split('.')[1], 'base64url')).uid;
            ackedAccounts.push({ device, userId: u });
          } else failures++;
        } catch { failures++; if (stop) break; }
      }
    };
    const load = [];
    for (let i = 0; i < CLIENTS; i++) load.push(writer(i));
    for (let i = 0; i < CLIENTS / 2; i++) load.push(creator(i));
    // run until enough writes are acknowledged (a loaded box is slow), then kill
    const until = Date.now() + 8000;
    while (Date.now() < until && ackedObjects.length + ackedAccounts.length < 200) await sleep(50);
    const before = ackedObjects.length + ackedAccounts.length;
    const killed = await srv.stop('SIGKILL'); // mid-load: requests are in flight
    stop = true;
    await Promise.all(load);
    assert.equal(killed.signal, 'SIGKILL');
    assert.deepEqual(statuses, []);
    assert.ok(before > 20, `load too light to mean anything: ${before} acknowledged, ${failures} failed`);

    srv2 = await startServer({ dataDir: srv.dataDir, dbUrl: srv.dbUrl, logLevel: 'warn' });
    // every acknowledged object is there with its version and value
    for (let b = 0; b < ackedObjects.length; b += 100) {
      const batch = ackedObjects.slice(b, b + 100);
      const r = await post(srv2.url, '/v2/storage', {
        object_ids: batch.map((o) => ({ collection: 'durable', key: o.key, user_id: o.userId })),
      }, `Bearer ${sessions[0].token}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const got = new Map((r.body.objects || []).map((o) => [`${o.user_id}/${o.key}`, o]));
      for (const o of batch) {
        const g = got.get(`${o.userId}/${o.key}`);
        assert.ok(g, `acknowledged write lost: ${o.userId}/${o.key}`);
        assert.equal(g.version, o.version);
        assert.deepEqual(JSON.parse(g.value), o.value);
      }
    }
    // every acknowledged account exists, with the same id
    for (const a of ackedAccounts) {
      const r = await post(srv2.url, '/v2/account/authenticate/device?create=false', { id: a.device }, basicAuth());
      assert.equal(r.status, 200, `acknowledged account lost: ${a.device}`);
      const u = JSON.parse(Buffer.from(r.body.token.split('.')[1], 'base64url')).uid;
      assert.equal(u, a.userId);
    }
    t.diagnostic(`durability: ${ackedObjects.length} objects and ${ackedAccounts.length} accounts ` +
      `acknowledged before SIGKILL, all present after restart (${failures} requests failed by the kill)`);
  } finally {
    if (srv2) await srv2.cleanup();
    else await srv.cleanup();
  }
});

// The batched write path with conflicts mixed in: concurrent clients of one
// user send batches that must succeed, batches that must fail (an object
// with version '*' that already exists: the whole batch is refused), and
// read-modify-write increments of one shared counter under a version check
// (one winner per version). Group commit puts several clients' batches in
// one commit, so a refused member must roll back alone and every client must
// get its own exact answer. Checked on the live server and again after a
// SIGKILL and restart.
test('batched writes with version conflicts and failing batches: exact per-client results', async (t) => {
  const srv = await startServer({ keepData: true, logLevel: 'warn' });
  let srv2;
  try {
    const device = `dur-mix-${uid()}`;
    const sessions = [];
    for (let i = 0; i < CLIENTS; i++) {
      const r = await post(srv.url, '/v2/account/authenticate/device?create=true', { id: device }, basicAuth());
      assert.equal(r.status, 200);
      sessions.push(`Bearer ${r.body.token}`);
    }
    const userId = JSON.parse(Buffer.from(sessions[0].split(' ')[1].split('.')[1], 'base64url')).uid;
    const obj = (key, value, version) => ({ collection: 'mix', key, value: JSON.stringify(value), permission_read: 1, permission_write: 1, ...(version ? { version } : {}) });
    let r = await post(srv.url, '/v2/storage', { objects: [obj('fixed', { f: 1 }), obj('counter', { n: 0 })] }, sessions[0]);
    assert.equal(r.status, 200);
    const ROUNDS = 24;
    const present = []; // keys that must exist, with their acknowledged version
    const absent = []; // keys of refused batches: must not exist
    const claims = []; // counter values won by an increment
    let conflicts = 0;
    const client = async (i) => {
      for (let n = 0; n < ROUNDS; n++) {
        const kind = (n + i) % 3;
        if (kind === 0) {
          const key = `a-${i}-${n}`;
          const w = await post(srv.url, '/v2/storage', { objects: [obj(key, { i, n })] }, sessions[i]);
          assert.equal(w.status, 200, JSON.stringify(w.body));
          present.push({ key, version: w.body.acks[0].version, value: { i, n } });
        } else if (kind === 1) {
          const key = `f-${i}-${n}`;
          const w = await post(srv.url, '/v2/storage', { objects: [obj(key, { i, n }), obj('fixed', { f: 2 }, '*')] }, sessions[i]);
          assert.equal(w.status, 400, JSON.stringify(w.body));
          assert.equal(w.body.message, 'Storage write rejected - version check failed.');
          absent.push(key);
        } else {
          const g = await post(srv.url, '/v2/storage', { object_ids: [{ collection: 'mix', key: 'counter', user_id: userId }] }, sessions[i]);
          assert.equal(g.status, 200);
          const cur = g.body.objects[0];
          const next = JSON.parse(cur.value).n + 1;
          const key = `c-${i}-${n}`;
          const w = await post(srv.url, '/v2/storage', { objects: [obj(key, { next }), obj('counter', { n: next }, cur.version)] }, sessions[i]);
          if (w.status === 200) {
            claims.push(next);
            present.push({ key, version: w.body.acks[0].version, value: { next } });
          } else {
            assert.equal(w.status, 400, JSON.stringify(w.body));
            assert.equal(w.body.message, 'Storage write rejected - version check failed.');
            conflicts++;
            absent.push(key);
          }
        }
      }
    };
    await Promise.all(sessions.map((_, i) => client(i)));
    // one winner per counter value: the claims are exactly 1..wins
    claims.sort((a, b) => a - b);
    assert.deepEqual(claims, claims.map((_, k) => k + 1));
    const check = async (url) => {
      const keys = [...present.map((p) => p.key), ...absent, 'fixed', 'counter'];
      const got = new Map();
      for (let b = 0; b < keys.length; b += 100) {
        const q = await post(url, '/v2/storage', { object_ids: keys.slice(b, b + 100).map((key) => ({ collection: 'mix', key, user_id: userId })) }, sessions[0]);
        assert.equal(q.status, 200, JSON.stringify(q.body));
        for (const o of q.body.objects || []) got.set(o.key, o);
      }
      for (const p of present) {
        const g = got.get(p.key);
        assert.ok(g, `acknowledged write missing: ${p.key}`);
        assert.equal(g.version, p.version);
        assert.deepEqual(JSON.parse(g.value), p.value);
      }
      for (const k of absent) assert.ok(!got.has(k), `a refused batch left ${k} behind`);
      assert.deepEqual(JSON.parse(got.get('fixed').value), { f: 1 });
      assert.deepEqual(JSON.parse(got.get('counter').value), { n: claims.length });
    };
    await check(srv.url);
    // both backends batch: how many commits the clients' writes shared
    // (tests/store's group-commit tests assert batches of more than one)
    const m = await (await fetch(`http://127.0.0.1:${srv.metricsPort}/metrics`)).text();
    const val = (name) => Number((m.match(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm')) || [])[1]);
    const batching = `, ${val('database_group_commit_writes_total')} writes in ${val('database_group_commits_total')} commits`;
    assert.equal((await srv.stop('SIGKILL')).signal, 'SIGKILL');
    srv2 = await startServer({ dataDir: srv.dataDir, dbUrl: srv.dbUrl, logLevel: 'warn' });
    await check(srv2.url);
    t.diagnostic(`mixed batches: ${present.length} acknowledged, ${absent.length} refused ` +
      `(${conflicts} counter conflicts, ${claims.length} increments won)${batching}`);
  } finally {
    if (srv2) await srv2.cleanup();
    else await srv.cleanup();
  }
});
