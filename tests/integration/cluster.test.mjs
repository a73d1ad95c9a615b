// Clustering over NATS (docs/CLUSTER.md): a nats-server on loopback in a
// temporary directory and three tomo nodes sharing one database (Postgres
// when TOMO_TEST_BACKEND=postgres; else one SQLite file in WAL mode, which
// three processes on one host can share: fine for a test, not a deployment).
// Users on different nodes chat and follow status; a node killed with
// SIGKILL leaves everywhere; the bus stopped and restarted heals.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startServer, freePort, BACKEND, createPgDatabase, sleep } from './harness.mjs';
import { newUser, connect, waitFor } from './rtutil.mjs';

const natsDir = mkdtempSync(path.join(os.tmpdir(), 'tomo-nats-'));
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tomo-cluster-'));
let natsPort;
let nats = null;
const nodes = {};
const FAST = ['--cluster.heartbeat_ms', '200', '--cluster.dead_after_ms', '1500'];

async function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

async function startNats() {
  nats = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(natsPort)], {
    cwd: natsDir, stdio: ['ignore', 'ignore', 'pipe'],
  });
  nats.exited = new Promise((r) => nats.on('exit', r));
  await waitFor(() => portOpen(natsPort), 10000, 'nats-server listening');
}

async function stopNats() {
  nats.kill('SIGTERM');
  await nats.exited;
  nats = null;
}

let dbUrl = null;
async function startNode(name, extra = []) {
  const args = ['--name', name, '--cluster.nats_url', `nats://127.0.0.1:${natsPort}`, ...FAST, ...extra];
  return startServer({ args, dataDir, dbUrl, keepData: true, migrate: BACKEND === 'postgres' });
}

async function readyz(srv) {
  const r = await fetch(`${srv.url}/readyz`);
  return { status: r.status, body: await r.json() };
}

/** The names of the other live nodes a node's /readyz reports. */
async function peers(srv) {
  const { body } = await readyz(srv);
  return (body.cluster?.nodes || []).slice().sort();
}

async function metric(srv, name) {
  const text = await (await fetch(`http://127.0.0.1:${srv.metricsPort}/`)).text();
  const m = text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm'));
  return m ? Number(m[1]) : NaN;
}

before(async () => {
  natsPort = await freePort();
  if (BACKEND === 'postgres') dbUrl = createPgDatabase();
  await startNats();
  nodes.a = await startNode('node-a');
  nodes.b = await startNode('node-b');
  nodes.c = await startNode('node-c');
});

after(async () => {
  for (const n of Object.values(nodes)) await n.stop('SIGKILL').catch(() => {});
  if (nats) await stopNats();
  rmSync(natsDir, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

test('three nodes see each other; /readyz and metrics say so', async () => {
  await waitFor(async () => (await peers(nodes.a)).join() === 'node-b,node-c', 10000, 'a sees b and c');
  await waitFor(async () => (await peers(nodes.b)).join() === 'node-a,node-c', 10000, 'b sees a and c');
  await waitFor(async () => (await peers(nodes.c)).join() === 'node-a,node-b', 10000, 'c sees a and b');
  const r = await readyz(nodes.a);
  assert.equal(r.status, 200);
  assert.equal(r.body.cluster.node, 'node-a');
  assert.equal(r.body.cluster.bus, 'connected');
  assert.equal(await metric(nodes.a, 'cluster_nodes'), 3);
  assert.equal(await metric(nodes.a, 'cluster_bus_connected'), 1);
  assert.ok(await metric(nodes.a, 'cluster_messages_received_total') > 0);
});

test('a second node with a taken name is refused with a clear error', async () => {
  await assert.rejects(startNode('node-b'), /another live node is already named node-b/);
  // the real node-b is unaffected
  assert.equal((await readyz(nodes.b)).status, 200);
  assert.deepEqual(await peers(nodes.a), ['node-b', 'node-c']);
});

// ---- failures (keep these last: they change the cluster) ----

test('a node killed with SIGKILL leaves everywhere; the others keep serving', async () => {
  await nodes.c.stop('SIGKILL');
  delete nodes.c;
  await waitFor(async () => (await peers(nodes.a)).join() === 'node-b', 10000, 'a reports c gone');
  await waitFor(async () => (await peers(nodes.b)).join() === 'node-a', 10000, 'b reports c gone');
  assert.equal(await metric(nodes.a, 'cluster_nodes'), 2);
  assert.match(nodes.a.logs(), /node left.*node-c.*no heartbeat/);
  const u = await newUser(nodes.b, 'after');
  assert.ok(u.session.token);
});

test('the bus stopped: nodes serve node-local; restarted: the cluster heals', async () => {
  await stopNats();
  await waitFor(async () => (await readyz(nodes.a)).body.cluster.bus === 'disconnected', 10000, 'a sees the outage');
  const r = await readyz(nodes.a);
  assert.equal(r.status, 200, 'a bus outage keeps the node ready (node-local)');
  assert.equal(await metric(nodes.a, 'cluster_bus_connected'), 0);
  // the others fall silent: after cluster.dead_after_ms they count as gone
  await waitFor(async () => (await peers(nodes.a)).length === 0, 10000, 'a alone during the outage');
  const u = await newUser(nodes.a, 'outage');
  const s = await connect(nodes.a, u);
  s.disconnect(false);
  await startNats();
  await waitFor(async () => (await readyz(nodes.a)).body.cluster.bus === 'connected', 15000, 'a reconnects');
  await waitFor(async () => (await peers(nodes.a)).join() === 'node-b', 15000, 'a sees b again');
  await waitFor(async () => (await peers(nodes.b)).join() === 'node-a', 15000, 'b sees a again');
  assert.match(nodes.a.logs(), /cluster bus disconnected, serving node-local/);
  assert.match(nodes.a.logs(), /cluster bus connected/);
});
