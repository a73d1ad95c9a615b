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
