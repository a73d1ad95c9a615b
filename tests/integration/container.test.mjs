// Against the compose stack scripts/container-test.sh starts (skipped
// otherwise): nakama-js through the published ports of the container image,
// with the stack's generated server key. TOMO_CONTAINER_API_PORT,
// TOMO_CONTAINER_WS_PORT, TOMO_CONTAINER_METRICS_PORT, TOMO_CONTAINER_SERVER_KEY.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { Client } from './harness.mjs';

const env = process.env;
const skip = !env.TOMO_CONTAINER_API_PORT && 'runs from scripts/container-test.sh';
const key = env.TOMO_CONTAINER_SERVER_KEY;
const client = (port = env.TOMO_CONTAINER_API_PORT) => new Client(key, '127.0.0.1', port, false);

test('container: health, readiness, the default key is refused', { skip }, async () => {
  const base = `http://127.0.0.1:${env.TOMO_CONTAINER_API_PORT}`;
  assert.equal((await fetch(`${base}/healthcheck`)).status, 200);
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  await assert.rejects(new Client('defaultkey', '127.0.0.1', env.TOMO_CONTAINER_API_PORT, false)
    .authenticateDevice(`d-${crypto.randomUUID()}`, true), (e) => e.status === 401);
});

test('container: accounts, storage, realtime through the published ports (Postgres behind)', { skip }, async () => {
  const c = client();
  const s = await c.authenticateDevice(`d-${crypto.randomUUID()}`, true, `u${Date.now() % 1e6}`);
  const acct = await c.getAccount(s);
  assert.equal(acct.user.id, s.user_id);
  const w = await c.writeStorageObjects(s, [{ collection: 'saves', key: 'slot1', value: { hp: 10 } }]);
  assert.equal(w.acks.length, 1);
  const r = await c.readStorageObjects(s, { object_ids: [{ collection: 'saves', key: 'slot1', user_id: s.user_id }] });
  assert.deepEqual(r.objects[0].value, { hp: 10 });
  for (const port of [env.TOMO_CONTAINER_API_PORT, env.TOMO_CONTAINER_WS_PORT]) {
    const sock = client(port).createSocket(false, false);
    await sock.connect(s, false);
    const m = await sock.createMatch();
    assert.ok(m.match_id);
    const ch = await sock.joinChat('lobby', 1, true, false);
    const ack = await sock.writeChatMessage(ch.id, { hello: 'container' });
    assert.ok(ack.message_id);
    sock.disconnect(false);
  }
});

test('container: metrics on the host loopback', { skip }, async () => {
  const text = await (await fetch(`http://127.0.0.1:${env.TOMO_CONTAINER_METRICS_PORT}/metrics`)).text();
  assert.match(text, /^database_pool_conns_open\{/m);
  assert.match(text, /^http_requests_total\{/m);
});
