// Clustering over NATS (docs/CLUSTER.md): a nats-server on loopback in a
// temporary directory and three tomo nodes sharing one database (Postgres
// when TOMO_TEST_BACKEND=postgres; else one SQLite file in WAL mode, which
// three processes on one host can share: fine for a test, not a deployment).
// Users on different nodes chat and follow status; a node killed with
// SIGKILL leaves everywhere; the bus stopped and restarted heals. Nodes b
// and c run two event loops each (socket.loops 2; b's loop k also accepts
// on bBase + k, so a test can pin a client to a loop).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@heroiclabs/nakama-js';
import { startServer, freePort, freePortRange, BACKEND, createPgDatabase, sleep, SERVER_KEY } from './harness.mjs';
import { newUser, connect, waitFor, recordPushes, closeAll } from './rtutil.mjs';
import { writeModules, createMatch } from './amatch_util.mjs';

const natsDir = mkdtempSync(path.join(os.tmpdir(), 'tomo-nats-'));
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tomo-cluster-'));
let natsPort;
let bBase;
let nats = null;
const nodes = {};
const FAST = ['--cluster.heartbeat_ms', '200', '--cluster.dead_after_ms', '1500', '--matchmaker.interval_sec', '1'];
const modDir = writeModules(); // the "arena" match module and RPCs around nk.match_*

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
  const args = ['--name', name, '--cluster.nats_url', `nats://127.0.0.1:${natsPort}`, ...FAST,
    '--runtime.path', modDir, ...extra];
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
  bBase = await freePortRange(2);
  nodes.b = await startNode('node-b', ['--socket.loops', '2', '--socket.loop_port_base', String(bBase)]);
  nodes.c = await startNode('node-c', ['--socket.loops', '2']);
});

after(async () => {
  for (const n of Object.values(nodes)) await n.stop('SIGKILL').catch(() => {});
  if (nats) await stopNats();
  rmSync(natsDir, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(modDir, { recursive: true, force: true });
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

/** A socket of user u on node srv (u's own client may belong to another node). */
const connectOn = (srv, u, opts) => connect(srv, { ...u, client: srv.client() }, opts);

/** A user on a node with a connected socket that records channel events. */
async function userOn(srv, name, opts = {}) {
  const u = await newUser(srv, name);
  u.socket = await connect(srv, u, opts);
  u.socket.events.channelmessage = [];
  u.socket.events.channelpresence = [];
  u.socket.onchannelmessage = (m) => u.socket.events.channelmessage.push(m);
  u.socket.onchannelpresence = (p) => u.socket.events.channelpresence.push(p);
  return u;
}

// A presence reaches other nodes after the bus hop: a member that joined
// on another node just before is in the join reply or, if its replica
// arrives after the join, in a presence event. Either is correct.
async function seesMember(reply, events, userId, what) {
  if ((reply.presences || []).some((p) => p.user_id === userId)) return;
  await waitFor(() => joinedIds(events).includes(userId), 5000, what);
}

const joinedIds = (evs) => evs.flatMap((e) => (e.joins || []).map((p) => p.user_id));
const leftIds = (evs) => evs.flatMap((e) => (e.leaves || []).map((p) => p.user_id));

test('users on three nodes chat in one room: presences and messages everywhere', async () => {
  const ua = await userOn(nodes.a, 'ca');
  const ub = await userOn(nodes.b, 'cb', { protobuf: true });
  const uc = await userOn(nodes.c, 'cc');
  try {
    const room = 'cluster-room';
    const ja = await ua.socket.joinChat(room, 1, false, false);
    const jb = await ub.socket.joinChat(room, 1, false, false);
    assert.equal(jb.id, ja.id);
    // members of other nodes are listed (join reply or event)
    await seesMember(jb, ub.socket.events.channelpresence, ua.userId, 'b sees a');
    await waitFor(() => joinedIds(ua.socket.events.channelpresence).includes(ub.userId), 5000, 'a sees b join');
    const jc = await uc.socket.joinChat(room, 1, false, false);
    await seesMember(jc, uc.socket.events.channelpresence, ua.userId, 'c sees a');
    await seesMember(jc, uc.socket.events.channelpresence, ub.userId, 'c sees b');
    await waitFor(() => joinedIds(ub.socket.events.channelpresence).includes(uc.userId), 5000, 'b sees c join');
    await waitFor(() => joinedIds(ua.socket.events.channelpresence).includes(uc.userId), 5000, 'a sees c join');

    const sent = await ua.socket.writeChatMessage(ja.id, { text: 'hello from a' });
    await waitFor(() => ub.socket.events.channelmessage.length && uc.socket.events.channelmessage.length, 5000, 'b and c get the message');
    for (const u of [ub, uc]) {
      const m = u.socket.events.channelmessage[0];
      assert.equal(m.message_id, sent.message_id);
      assert.equal(m.sender_id, ua.userId);
      assert.deepEqual(m.content, { text: 'hello from a' });
    }
    await uc.socket.writeChatMessage(jc.id, { text: 'from c' });
    await waitFor(() => ua.socket.events.channelmessage.length && ub.socket.events.channelmessage.length === 2, 5000, 'a and b get c message');

    // a leave is seen on the other nodes
    await ub.socket.leaveChat(jb.id);
    await waitFor(() => leftIds(ua.socket.events.channelpresence).includes(ub.userId), 5000, 'a sees b leave');
    await waitFor(() => leftIds(uc.socket.events.channelpresence).includes(ub.userId), 5000, 'c sees b leave');
  } finally {
    for (const u of [ua, ub, uc]) u.socket.disconnect(false);
  }
});

test('status follows across nodes; a notification reaches a user on another node', async () => {
  const ua = await userOn(nodes.a, 'sa', { status: true });
  const ub = await userOn(nodes.b, 'sb');
  try {
    const f = await ub.socket.followUsers([ua.userId]);
    // a online on another node: in the reply, or an event once its replica arrives
    await seesMember(f, ub.socket.events.statuspresence, ua.userId, 'b sees a online');
    await ua.socket.updateStatus('playing');
    await waitFor(() => ub.socket.events.statuspresence.some((e) => (e.joins || []).some((p) => p.user_id === ua.userId && p.status === 'playing')), 5000, 'b gets a status');
    // a friend request from a (REST on node a) is pushed to b's socket on node b
    await ua.client.addFriends(ua.session, [ub.userId]);
    await waitFor(() => ub.socket.events.notification.length, 5000, 'b notified');
    ua.socket.disconnect(false);
    await waitFor(() => ub.socket.events.statuspresence.some((e) => (e.leaves || []).some((p) => p.user_id === ua.userId)), 5000, 'b sees a go offline');
  } finally {
    ub.socket.disconnect(false);
  }
});

test('a relayed match with players on two nodes: joins, data to all and to one, leave, listing', async () => {
  const ua = await userOn(nodes.a, 'ma');
  const ub = await userOn(nodes.b, 'mb', { protobuf: true });
  const uc = await userOn(nodes.b, 'mc');
  try {
    const m = await ua.socket.createMatch();
    // the match exists on node b once a's presence got there
    await waitFor(async () => (await ub.client.listMatches(ub.session, 100)).matches?.some((x) => x.match_id === m.match_id), 5000, 'match listed on b');
    const jb = await ub.socket.joinMatch(m.match_id);
    assert.deepEqual(jb.presences.map((p) => p.user_id), [ua.userId]);
    await waitFor(() => ua.socket.events.matchpresence.some((e) => e.joins?.some((p) => p.user_id === ub.userId)), 5000, 'a sees b join');
    const jc = await uc.socket.joinMatch(m.match_id);
    assert.equal(jc.size, 2);
    await waitFor(() => ua.socket.events.matchpresence.some((e) => e.joins?.some((p) => p.user_id === uc.userId)), 5000, 'a sees c join');
    // listed from any node with its cluster-wide size
    await waitFor(async () => (await ua.client.listMatches(ua.session, 100)).matches?.find((x) => x.match_id === m.match_id)?.size === 3, 5000, 'size 3 listed on a');

    await ua.socket.sendMatchState(m.match_id, 7, 'to all');
    await waitFor(() => ub.socket.events.matchdata.length && uc.socket.events.matchdata.length, 5000, 'b and c get data');
    const d = ub.socket.events.matchdata[0];
    assert.equal(d.op_code, 7);
    assert.equal(new TextDecoder().decode(d.data), 'to all');
    assert.equal(d.presence.user_id, ua.userId);
    await ub.socket.sendMatchState(m.match_id, 8, 'b to a', [m.self]);
    await waitFor(() => ua.socket.events.matchdata.length, 5000, 'a gets targeted data');
    assert.equal(ua.socket.events.matchdata[0].op_code, 8);
    await sleep(100);
    assert.equal(uc.socket.events.matchdata.length, 1, 'c was not a target');
    await ua.socket.sendMatchState(m.match_id, 9, 'a to c', [jc.self]);
    await waitFor(() => uc.socket.events.matchdata.length === 2, 5000, 'c gets targeted data from another node');
    assert.equal(ub.socket.events.matchdata.length, 1, 'b was not a target');

    await ub.socket.leaveMatch(m.match_id);
    await waitFor(() => ua.socket.events.matchpresence.some((e) => e.leaves?.some((p) => p.user_id === ub.userId)), 5000, 'a sees b leave');
  } finally {
    for (const u of [ua, ub, uc]) u.socket.disconnect(false);
  }
});

test('a burst of match data from one socket crosses to another node in order, batched on the bus', async () => {
  const ua = await userOn(nodes.a, 'ba');
  const ub = await userOn(nodes.b, 'bb');
  try {
    const m = await ua.socket.createMatch();
    await waitFor(async () => (await ub.client.listMatches(ub.session, 100)).matches?.some((x) => x.match_id === m.match_id), 5000, 'match listed on b');
    await ub.socket.joinMatch(m.match_id);
    await waitFor(() => ua.socket.events.matchpresence.some((e) => e.joins?.some((p) => p.user_id === ub.userId)), 5000, 'a sees b join');
    const batches0 = await metric(nodes.a, 'cluster_batches_sent_total');
    const N = 300;
    // one synchronous burst: node a reads many of these in one loop iteration
    for (let i = 0; i < N; i++) ua.socket.sendMatchState(m.match_id, 1, String(i));
    await waitFor(() => ub.socket.events.matchdata.length >= N, 10000, `b gets all ${N}`);
    const got = ub.socket.events.matchdata.map((d) => Number(new TextDecoder().decode(d.data)));
    assert.deepEqual(got, Array.from({ length: N }, (_, i) => i), 'in the order sent, none lost or doubled');
    assert.ok(await metric(nodes.a, 'cluster_batches_sent_total') > batches0, 'several frames went out as one bus message');
  } finally {
    for (const u of [ua, ub]) u.socket.disconnect(false);
  }
});

/** A user whose HTTP calls and socket go to loop k of node b. */
async function userOnBLoop(k, name) {
  const client = new Client(SERVER_KEY, '127.0.0.1', String(bBase + k), false, 7000, false);
  const u = await newUser({ client: () => client }, name);
  u.socket = await connect(null, u);
  u.socket.events.channelmessage = [];
  u.socket.events.channelpresence = [];
  u.socket.onchannelmessage = (m) => u.socket.events.channelmessage.push(m);
  u.socket.onchannelpresence = (p) => u.socket.events.channelpresence.push(p);
  return u;
}

test('a node with two loops: members on each loop and on another node chat, get match data and notifications', async () => {
  assert.match(nodes.b.logs(), /tomo started[^\n]*"loops":"?2\b/);
  const ua = await userOn(nodes.a, 'la');
  const u0 = await userOnBLoop(0, 'l0');
  const u1 = await userOnBLoop(1, 'l1');
  try {
    const room = 'loops-room';
    const ja = await ua.socket.joinChat(room, 1, false, false);
    const j1 = await u1.socket.joinChat(room, 1, false, false);
    await seesMember(j1, u1.socket.events.channelpresence, ua.userId, 'b loop 1 sees a');
    const j0 = await u0.socket.joinChat(room, 1, false, false);
    // the member on the other loop of the same node is listed at once
    assert.ok((j0.presences || []).some((p) => p.user_id === u1.userId), 'loop 0 lists loop 1');
    await seesMember(j0, u0.socket.events.channelpresence, ua.userId, 'b loop 0 sees a');
    await waitFor(() => joinedIds(ua.socket.events.channelpresence).includes(u0.userId) &&
      joinedIds(ua.socket.events.channelpresence).includes(u1.userId), 5000, 'a sees both loops join');

    // a message from another node reaches both loops; one from a loop reaches the other loop and a
    await ua.socket.writeChatMessage(ja.id, { text: 'from a' });
    await waitFor(() => u0.socket.events.channelmessage.length && u1.socket.events.channelmessage.length, 5000, 'both loops get it');
    await u1.socket.writeChatMessage(j1.id, { text: 'from loop 1' });
    await waitFor(() => ua.socket.events.channelmessage.length === 2 && u0.socket.events.channelmessage.length === 2, 5000, 'a and loop 0 get it');
    assert.deepEqual(ua.socket.events.channelmessage[1].content, { text: 'from loop 1' });
    assert.equal(u1.socket.events.channelmessage.length, 2, 'the sender gets its own message once');

    // relayed match: data targeted at a session on loop 1 from another node
    const m = await ua.socket.createMatch();
    await waitFor(async () => (await u1.client.listMatches(u1.session, 100)).matches?.some((x) => x.match_id === m.match_id), 5000, 'match listed on b');
    const m1 = await u1.socket.joinMatch(m.match_id);
    const m0 = await u0.socket.joinMatch(m.match_id);
    assert.equal(m0.size, 2);
    await waitFor(() => ua.socket.events.matchpresence.some((e) => e.joins?.some((p) => p.user_id === u0.userId)) &&
      ua.socket.events.matchpresence.some((e) => e.joins?.some((p) => p.user_id === u1.userId)), 5000, 'a sees both join');
    await ua.socket.sendMatchState(m.match_id, 3, 'to loop 1', [m1.self]);
    await waitFor(() => u1.socket.events.matchdata.length, 5000, 'loop 1 gets targeted data');
    await ua.socket.sendMatchState(m.match_id, 4, 'to all');
    await waitFor(() => u0.socket.events.matchdata.length && u1.socket.events.matchdata.length === 2, 5000, 'both loops get data');
    assert.equal(u0.socket.events.matchdata[0].op_code, 4, 'loop 0 was not a target of the first');

    // a notification (REST on node a) to the user on loop 1
    await ua.client.addFriends(ua.session, [u1.userId]);
    await waitFor(() => u1.socket.events.notification.length, 5000, 'loop 1 notified');

    // a party of node b with its leader on loop 1 and a member on loop 0 (the owner is b's loop 0,
    // reached through the cluster routing wrapped around the loop router)
    const partyOf0 = [];
    u0.socket.onparty = (pt) => partyOf0.push(pt);
    const pt = await u1.socket.createParty(true, 3);
    await u0.socket.joinParty(pt.party_id);
    const got = await waitFor(() => partyOf0[0], 5000, 'loop 0 gets the party');
    assert.equal(got.party_id, pt.party_id);
    assert.ok(got.presences.some((x) => x.user_id === u1.userId), 'the leader on loop 1 is listed');

    // a socket closing on loop 0 leaves on node a
    u0.socket.disconnect(false);
    await waitFor(() => leftIds(ua.socket.events.channelpresence).includes(u0.userId), 5000, 'a sees loop 0 leave');
  } finally {
    for (const u of [ua, u0, u1]) u.socket.disconnect(false);
  }
});

test('authoritative matches are listed on every node: label, size, node query, nk.match_get, end', async () => {
  const ua = await userOn(nodes.a, 'aa');
  // b's loop 0 (the home of its match registry)
  const ub = await newUser({ client: () => new Client(SERVER_KEY, '127.0.0.1', String(bBase), false, 7000, false) }, 'ab');
  try {
    const { match_id: id } = await createMatch(ua, { label: JSON.stringify({ mode: 'clustered', skill: 5 }), rate: 5 });
    assert.match(id, /\.node-a$/);
    const listB = async (q) => ((await ub.client.listMatches(ub.session, 100, true, undefined, undefined, undefined, q)).matches || []);
    const onB = await waitFor(async () => (await listB('+label.mode:clustered')).find((m) => m.match_id === id), 5000, 'listed on b');
    assert.equal(onB.authoritative, true);
    assert.equal(onB.handler_name, 'arena');
    assert.equal(onB.tick_rate, 5);
    assert.equal(onB.size ?? 0, 0);
    assert.ok((await listB('+node:"node-a"')).some((m) => m.match_id === id), 'node field of another node');
    assert.ok(!(await listB('+node:"node-b"')).some((m) => m.match_id === id));
    // a player joins on a: the size follows; a label update follows
    await ua.socket.joinMatch(id);
    await waitFor(async () => (await listB('+label.mode:clustered')).find((m) => m.match_id === id)?.size === 1, 5000, 'size 1 on b');
    await ua.socket.sendMatchState(id, 5, JSON.stringify({ mode: 'relabelled' }));
    await waitFor(async () => (await listB('+label.mode:relabelled')).some((m) => m.match_id === id), 5000, 'new label on b');
    // nk.match_get and nk.match_list on another node
    const got = (await ub.client.rpc(ub.session, 'get_match', { id })).payload;
    assert.equal(got.found, true);
    assert.equal(got.match.match_id, id);
    const viaLua = (await ub.client.rpc(ub.session, 'list_matches', { limit: 100, authoritative: true, query: '+label.mode:relabelled' })).payload;
    assert.ok((viaLua.ids || []).includes(id), 'nk.match_list on b lists it');
    // the match ends: gone from b's listing
    const sig = (await ua.client.rpc(ua.session, 'signal_match', { id, data: 'stop' })).payload;
    assert.equal(sig.result, 'bye');
    await waitFor(async () => !(await listB('')).some((m) => m.match_id === id), 5000, 'gone from b');
    assert.equal((await ub.client.rpc(ub.session, 'get_match', { id })).payload.found, false);
  } finally {
    ua.socket.disconnect(false);
  }
});

const mdText = (d) => new TextDecoder().decode(d.data);
const mdOf = (s, op) => s.events.matchdata.filter((d) => d.op_code === op).map(mdText);

test('an authoritative match on node a played from nodes a, b (loop 1) and c: join attempts, data, leave, disconnect', async () => {
  const ua = await userOn(nodes.a, 'pa');
  // b's loop 1: its forwards leave from a loop that is not b's home
  const ub = await newUser({ client: () => new Client(SERVER_KEY, '127.0.0.1', String(bBase + 1), false, 7000, false) }, 'pb');
  ub.socket = await connect(nodes.b, ub);
  const uc = await userOn(nodes.c, 'pc');
  try {
    const { match_id: id } = await createMatch(ua, { label: 'played', rate: 10 });
    assert.match(id, /\.node-a$/);
    await ua.socket.joinMatch(id);
    // the listing on b knows it first (MATCH frame); then b's player joins through a
    await waitFor(async () => ((await ub.client.listMatches(ub.session, 100, true, undefined, undefined, undefined, '+node:node-a')).matches || []).some((m) => m.match_id === id), 5000, 'listed on b with an unquoted node query');
    // the join attempt runs on a, with b's metadata; its refusal reaches b
    await assert.rejects(ub.socket.joinMatch(id, undefined, { password: 'nope' }), (e) => {
      assert.equal(e.code, 5); // MATCH_JOIN_REJECTED
      assert.equal(e.message, 'wrong password');
      return true;
    });
    const mb = await ub.socket.joinMatch(id, undefined, { password: 'secret' });
    assert.equal(mb.match_id, id);
    assert.equal(mb.authoritative, true);
    assert.equal(mb.label, 'played');
    assert.ok(mb.presences.some((p) => p.user_id === ua.userId), 'b\'s join reply lists a\'s player');
    assert.equal(mb.self.user_id, ub.userId);
    // match_join ran on a: its targeted broadcast reaches b's socket
    const hello = JSON.parse(await waitFor(() => mdOf(ub.socket, 100)[0], 5000, 'b gets the join broadcast'));
    assert.equal(hello.user_id, ub.userId);
    assert.equal(hello.match_id, id);
    await waitFor(() => ua.socket.events.matchpresence.some((e) => (e.joins || []).some((p) => p.user_id === ub.userId)), 5000, 'a sees b join');
    const mc = await uc.socket.joinMatch(id);
    assert.equal(mc.match_id, id);
    await waitFor(() => ub.socket.events.matchpresence.some((e) => (e.joins || []).some((p) => p.user_id === uc.userId)), 5000, 'b sees c join');
    // data from remote players reaches the match's input queue on a; its broadcasts every player
    await ub.socket.sendMatchState(id, 3, 'from b');
    for (const u of [ua, ub, uc]) await waitFor(() => mdOf(u.socket, 4).includes('from b'), 5000, `${u.username} gets b's data`);
    const fromB = ua.socket.events.matchdata.find((d) => d.op_code === 4 && mdText(d) === 'from b');
    assert.equal(fromB.presence.user_id, ub.userId, 'the sender is b\'s player');
    await uc.socket.sendMatchState(id, 3, 'from c');
    for (const u of [ua, ub, uc]) await waitFor(() => mdOf(u.socket, 4).includes('from c'), 5000, `${u.username} gets c's data`);
    // the match answers the sender only (op 1 -> 2, to the sender)
    await ub.socket.sendMatchState(id, 1, 'echo');
    await waitFor(() => mdOf(ub.socket, 2).includes('echo'), 5000, 'b gets its echo');
    assert.ok(!mdOf(ua.socket, 2).includes('echo'));
    // a leave on b and a disconnect on c reach the match (match_leave broadcasts op 101)
    await ub.socket.leaveMatch(id);
    await waitFor(() => mdOf(ua.socket, 101).includes(ub.userId), 5000, 'the match hears b leave');
    uc.socket.disconnect(false);
    await waitFor(() => mdOf(ua.socket, 101).includes(uc.userId), 5000, 'the match hears c disconnect');
    const listed = await waitFor(async () => ((await ua.client.listMatches(ua.session, 100, true)).matches || []).find((m) => m.match_id === id && m.size === 1), 5000, 'size 1');
    assert.ok(listed);
    // a match id naming a node that is not there: not found, on any node
    await assert.rejects(ub.socket.joinMatch(id.replace(/node-a$/, 'node-zz')), (e) => e.code === 4);
    await ua.client.rpc(ua.session, 'signal_match', { id, data: 'stop' });
  } finally {
    for (const u of [ua, ub, uc]) u.socket.disconnect(false);
  }
});

const PARTY_KINDS = ['party', 'partypresence', 'partyleader', 'partyjoinrequest', 'partyclose', 'partydata', 'matchmakermatched'];
const has = (list, uid) => list?.some((p) => p.user_id === uid);

/** A user on a node whose socket records party pushes in s.ev (s.user: the user). */
async function partyMemberOn(srv, name, port) {
  const u = port
    ? await newUser({ client: () => new Client(SERVER_KEY, '127.0.0.1', String(port), false, 7000, false) }, name)
    : await newUser(srv, name);
  const s = recordPushes(await connect(srv, u), PARTY_KINDS);
  s.user = u;
  return s;
}

test('a party of node a with members on b (loop 1) and c: join, data, promote, remove, leader hand-over, join requests', async () => {
  const a = await partyMemberOn(nodes.a, 'qa'), b = await partyMemberOn(nodes.b, 'qb', bBase + 1), c = await partyMemberOn(nodes.c, 'qc');
  try {
    const p = await a.createParty(true, 3);
    assert.match(p.party_id, /\.node-a$/);
    await b.joinParty(p.party_id);
    await c.joinParty(p.party_id);
    const pb = await waitFor(() => b.ev.party[0], 5000, 'b gets the party');
    assert.equal(pb.party_id, p.party_id);
    assert.equal(pb.leader.user_id, a.user.userId);
    assert.ok(has(pb.presences, a.user.userId) && has(pb.presences, b.user.userId));
    const joinsSeen = (s) => s.ev.partypresence.flatMap((e) => e.joins || []).map((x) => x.user_id);
    await waitFor(() => [a, b, c].every((s) => joinsSeen(s).includes(c.user.userId)), 5000, 'c join seen');
    for (const s of [a, b, c]) assert.equal(joinsSeen(s).filter((x) => x === c.user.userId).length, 1, 'one join event for c per member');
    // party data from b reaches a and c, not the sender
    await b.sendPartyData(p.party_id, 5, 'from-b');
    await waitFor(() => a.ev.partydata.length && c.ev.partydata.length, 5000, 'party data');
    assert.equal(a.ev.partydata[0].presence.user_id, b.user.userId);
    assert.equal(new TextDecoder().decode(c.ev.partydata[0].data), 'from-b');
    assert.equal(b.ev.partydata.length, 0);
    // the leader (a) promotes b: everyone is told; the new leader on b removes c
    await a.promotePartyMember(p.party_id, pb.self);
    await waitFor(() => [a, b, c].every((s) => s.ev.partyleader.some((l) => l.presence.user_id === b.user.userId)), 5000, 'leader change seen everywhere');
    const cself = (await waitFor(() => c.ev.party[0], 5000, 'c gets the party')).self;
    await b.removePartyMember(p.party_id, cself);
    await waitFor(() => c.ev.partyclose.length, 5000, 'c removed');
    await waitFor(() => a.ev.partypresence.some((e) => has(e.leaves, c.user.userId)), 5000, 'a sees c leave');
    // the leader's socket on b closes: the party on a hands the lead to a
    b.disconnect(false);
    await waitFor(() => a.ev.partyleader.some((l) => l.presence.user_id === a.user.userId), 5000, 'a leads after b left');
    // a closed party of a: c (another node) asks, the leader lists and accepts
    const q = await a.createParty(false, 2);
    await c.joinParty(q.party_id);
    const rq = await waitFor(() => a.ev.partyjoinrequest[0], 5000, 'a hears of the request');
    assert.ok(has(rq.presences, c.user.userId));
    assert.ok(has((await a.listPartyJoinRequests(q.party_id)).presences, c.user.userId));
    await a.acceptPartyMember(q.party_id, rq.presences[0]);
    await waitFor(() => c.ev.party.some((x) => x.party_id === q.party_id), 5000, 'c in the closed party');
    // c leaves on its own node: a sees it
    await c.leaveParty(q.party_id);
    await waitFor(() => a.ev.partypresence.some((e) => has(e.leaves, c.user.userId) && e.party_id === q.party_id), 5000, 'a sees c leave q');
    // a party id naming no live node: an error, not a hang
    await assert.rejects(c.joinParty(q.party_id.replace(/node-a$/, 'node-zz')));
    await a.closeParty(q.party_id);
  } finally {
    closeAll(a, b, c);
  }
});

test('one matchmaker for the cluster (the oldest node, a): tickets from three nodes match together; remove and closed sockets', async () => {
  const mode = 'cl' + Date.now();
  const q = `+properties.mode:${mode}`;
  // a ticket of a socket that closes on c: it reaches a's matchmaker, and leaves with the socket
  const gone = await partyMemberOn(nodes.c, 'mg');
  await gone.addMatchmaker(q, 3, 3, { mode });
  await waitFor(async () => (await metric(nodes.a, 'matchmaker_tickets')) === 1, 5000, 'the ticket is held on a');
  assert.equal(await metric(nodes.c, 'matchmaker_tickets'), 0, 'not on c');
  gone.disconnect(false);
  await waitFor(async () => (await metric(nodes.a, 'matchmaker_tickets')) === 0, 5000, 'gone with its socket');
  // matchmaker_remove from b reaches a
  const r = await partyMemberOn(nodes.b, 'mr');
  const tr = await r.addMatchmaker(q, 3, 3, { mode });
  await r.removeMatchmaker(tr.ticket);
  assert.equal(await metric(nodes.a, 'matchmaker_tickets'), 0, 'removed on a');
  r.disconnect(false);
  const x = await partyMemberOn(nodes.b, 'mx', bBase + 1), y = await partyMemberOn(nodes.c, 'my'), w = await partyMemberOn(nodes.a, 'mw');
  try {
    const tx = await x.addMatchmaker(q, 3, 3, { mode });
    const ty = await y.addMatchmaker(q, 3, 3, { mode });
    const tw = await w.addMatchmaker(q, 3, 3, { mode });
    await waitFor(() => [x, y, w].every((s) => s.ev.matchmakermatched.length), 8000, 'all three matched');
    const [mx, my, mw] = [x, y, w].map((s) => s.ev.matchmakermatched[0]);
    assert.equal(mx.ticket, tx.ticket);
    assert.equal(my.ticket, ty.ticket);
    assert.equal(mw.ticket, tw.ticket);
    assert.deepEqual(mx.users.map((u) => u.presence.user_id).sort(), [x, y, w].map((s) => s.user.userId).sort());
    assert.equal(mx.self.presence.user_id, x.user.userId);
    // the token names a relayed match: each joins it on its own node; data flows across nodes
    const jx = await x.joinMatch(undefined, mx.token);
    const jy = await y.joinMatch(undefined, my.token);
    const jw = await w.joinMatch(undefined, mw.token);
    assert.equal(jx.match_id, jy.match_id);
    assert.equal(jw.match_id, jx.match_id);
    await waitFor(() => x.events.matchpresence.some((e) => (e.joins || []).some((p) => p.user_id === w.user.userId)), 5000, 'x sees w join');
    await w.sendMatchState(jw.match_id, 3, 'hi');
    await waitFor(() => x.events.matchdata.length && y.events.matchdata.length, 5000, 'x and y get w\'s data');
  } finally {
    closeAll(x, y, w);
  }
});

test('the matchmaker node dies: the tickets it held, and an add it never answered, go to the next one under the ids their clients hold', async () => {
  // a cluster of its own (another subject prefix on the same bus): d is its
  // matchmaker node (the oldest), then e (two loops), then f
  const own = ['--cluster.subject_prefix', 'tomo-mmfail'];
  const eBase = await freePortRange(2);
  const d = await startNode('node-d', own);
  const e = await startNode('node-e', [...own, '--socket.loops', '2', '--socket.loop_port_base', String(eBase)]);
  const f = await startNode('node-f', own);
  const users = [];
  try {
    await waitFor(async () => (await peers(f)).join() === 'node-d,node-e', 10000, 'f sees d and e');
    await waitFor(async () => (await peers(e)).join() === 'node-d,node-f', 10000, 'e sees d and f');
    const mode = 'mf' + Date.now();
    const q = `+properties.mode:${mode}`;
    const e0 = await partyMemberOn(e, 'mfe0', eBase), e1 = await partyMemberOn(e, 'mfe1', eBase + 1);
    const f0 = await partyMemberOn(f, 'mff0'), kept = await partyMemberOn(f, 'mffr'), late = await partyMemberOn(f, 'mffl');
    users.push(e0, e1, f0, kept, late);
    const t0 = await e0.addMatchmaker(q, 4, 4, { mode });
    const t1 = await e1.addMatchmaker(q, 4, 4, { mode });
    const tf = await f0.addMatchmaker(q, 4, 4, { mode });
    const tk = await kept.addMatchmaker(`+properties.mode:other${mode}`, 2, 2, { mode: 'other' + mode });
    await waitFor(async () => (await metric(d, 'matchmaker_tickets')) === 4, 5000, 'd holds the four tickets');
    // d hangs: an add sent now gets no answer, then d is declared dead
    d.child.kill('SIGSTOP');
    const waiting = late.addMatchmaker(q, 4, 4, { mode });
    await waitFor(async () => (await peers(f)).join() === 'node-e', 10000, 'f reports d gone');
    await waitFor(async () => (await peers(e)).join() === 'node-f', 10000, 'e reports d gone');
    // e is the matchmaker node now: the tickets of its own sessions (loop 0
    // and loop 1) and of f's come back to it, and e answers the waiting add
    const tl = await waiting;
    assert.match(tl.ticket, /^[0-9a-f-]{36}$/);
    await waitFor(() => [e0, e1, f0, late].every((u) => u.ev.matchmakermatched.length), 8000, 'all four matched');
    assert.deepEqual([e0, e1, f0, late].map((u) => u.ev.matchmakermatched[0].ticket),
      [t0.ticket, t1.ticket, tf.ticket, tl.ticket], 'each gets the ticket id it holds');
    const m = e0.ev.matchmakermatched[0];
    assert.deepEqual(m.users.map((u) => u.presence.user_id).sort(), [e0, e1, f0, late].map((u) => u.user.userId).sort());
    // the other ticket waits on e, and is removed by the id its client holds
    await waitFor(async () => (await metric(e, 'matchmaker_tickets')) === 1, 5000, 'one ticket left on e');
    assert.equal(await metric(f, 'matchmaker_tickets'), 0, 'none on f');
    await kept.removeMatchmaker(tk.ticket);
    await waitFor(async () => (await metric(e, 'matchmaker_tickets')) === 0, 5000, 'removed on e by its old id');
  } finally {
    closeAll(...users);
    for (const n of [d, e, f]) await n.stop('SIGKILL').catch(() => {});
  }
});

test('a party of node b (members on b and c) is matched on the matchmaker node (a) with a solo ticket of a; remove, leave and close cancel its tickets there', async () => {
  const mode = 'pm' + Date.now();
  const q = `+properties.mode:${mode}`;
  const l = await partyMemberOn(nodes.b, 'pl'), m = await partyMemberOn(nodes.c, 'pm'), w = await partyMemberOn(nodes.a, 'pw');
  for (const s of [l, m]) { s.ev.partymatchmakerticket = []; s.onpartymatchmakerticket = (x) => s.ev.partymatchmakerticket.push(x); }
  const tickets = (srv) => metric(srv, 'matchmaker_tickets');
  try {
    const p = await l.createParty(true, 3);
    assert.match(p.party_id, /\.node-b$/);
    await m.joinParty(p.party_id);
    await waitFor(() => m.ev.party[0], 5000, 'm gets the party');
    // the ticket is held on a (the oldest node), the member on c is told of it
    const t1 = await l.addMatchmakerParty(p.party_id, q, 3, 3, { mode });
    assert.equal(t1.party_id, p.party_id);
    await waitFor(async () => (await tickets(nodes.a)) === 1, 5000, 'the party ticket is held on a');
    assert.equal(await tickets(nodes.b), 0, 'not on b');
    const mt = await waitFor(() => m.ev.partymatchmakerticket[0], 5000, 'm told of the ticket');
    assert.equal(mt.ticket, t1.ticket);
    // a member leaves on its own node: the ticket goes on a
    await m.leaveParty(p.party_id);
    await waitFor(async () => (await tickets(nodes.a)) === 0, 5000, 'cancelled on a by the leave');
    await m.joinParty(p.party_id);
    await waitFor(() => l.ev.partypresence.filter((e) => has(e.joins, m.user.userId)).length === 2, 5000, 'm back');
    // party_matchmaker_remove from b reaches a; an unknown ticket is an error
    const t2 = await l.addMatchmakerParty(p.party_id, q, 3, 3, { mode });
    await l.removeMatchmakerParty(p.party_id, t2.ticket);
    assert.equal(await tickets(nodes.a), 0, 'removed on a');
    await assert.rejects(l.removeMatchmakerParty(p.party_id, t2.ticket), (e) => /ticket not found/.test(e.message));
    // bad input still answers from b
    await assert.rejects(l.addMatchmakerParty(p.party_id, q, 1, 3, { mode }), (e) => /minimum count/.test(e.message));
    // matched on a with a solo ticket of a: everyone told, wherever they are
    const t3 = await l.addMatchmakerParty(p.party_id, q, 3, 3, { mode });
    const tw = await w.addMatchmaker(q, 3, 3, { mode });
    await waitFor(() => [l, m, w].every((s) => s.ev.matchmakermatched.length), 8000, 'all three matched');
    const [ml, mm, mw] = [l, m, w].map((s) => s.ev.matchmakermatched[0]);
    assert.equal(ml.ticket, t3.ticket);
    assert.equal(mm.ticket, t3.ticket);
    assert.equal(mw.ticket, tw.ticket);
    assert.deepEqual(ml.users.map((u) => u.presence.user_id).sort(), [l, m, w].map((s) => s.user.userId).sort());
    assert.equal(ml.users.filter((u) => u.party_id === p.party_id).length, 2, 'the party\'s two members');
    assert.equal(mm.self.presence.user_id, m.user.userId);
    assert.equal(ml.token, mw.token);
    // the party closes: its new ticket goes on a
    await l.addMatchmakerParty(p.party_id, q, 3, 3, { mode });
    await waitFor(async () => (await tickets(nodes.a)) === 1, 5000, 'a new ticket on a');
    await l.closeParty(p.party_id);
    await waitFor(async () => (await tickets(nodes.a)) === 0, 5000, 'cancelled on a by the close');
  } finally {
    closeAll(l, m, w);
  }
});

test('logout on one node revokes the token on every node; account deletion closes sockets everywhere', async () => {
  const u = await newUser(nodes.a, 'lo');
  const sb = await connectOn(nodes.b, u);
  const sc = await connectOn(nodes.c, u);
  // the online flag is cluster-wide: a friend on node a sees u online
  const fr = await newUser(nodes.a, 'fr');
  await fr.client.addFriends(fr.session, [u.userId]);
  await u.client.addFriends(u.session, [fr.userId]);
  await waitFor(async () => {
    const l = await fr.client.listFriends(fr.session);
    return (l.friends || []).some((x) => x.user.id === u.userId && x.user.online === true);
  }, 5000, 'u online (sockets on b and c) as seen from a');
  sb.disconnect(false);
  sc.disconnect(false);
  await waitFor(async () => {
    const l = await fr.client.listFriends(fr.session);
    return (l.friends || []).some((x) => x.user.id === u.userId && !x.user.online);
  }, 5000, 'u offline everywhere');

  // the token works on b, then a logout on a makes b refuse it
  const onB = nodes.b.client();
  assert.equal((await onB.getAccount(u.session)).user.id, u.userId);
  await u.client.sessionLogout(u.session, u.session.token, u.session.refresh_token);
  await waitFor(async () => {
    try { await onB.getAccount(u.session); return false; } catch (e) { return e.status === 401; }
  }, 5000, 'node b refuses the logged-out token');

  const v = await newUser(nodes.c, 'del');
  const vb = await connectOn(nodes.b, v);
  await v.client.deleteAccount(v.session);
  await waitFor(() => vb.events.disconnect.length, 5000, 'socket on b closed by a delete on c');
});

test('single_socket on the node a user connects to closes the user\'s socket on another node', async () => {
  const d = await startNode('node-d', ['--session.single_socket', 'true']);
  try {
    await waitFor(async () => (await peers(d)).length === 3, 10000, 'd joins');
    const u = await newUser(nodes.a, 'ss');
    const sa = await connect(nodes.a, u);
    let kicked = null;
    sa.onnotification = (n) => { kicked = n; };
    // d must know u's socket on a before the new one arrives
    await waitFor(async () => {
      const l = await (await newUser(d, 'probe')).client.getUsers((await newUser(d, 'p2')).session, [u.userId]);
      return l.users?.[0]?.online === true;
    }, 5000, 'd sees u online');
    const sd = await connectOn(d, u);
    await waitFor(() => sa.events.disconnect.length, 5000, 'the socket on a is closed');
    assert.equal(kicked?.subject, 'single_socket');
    assert.equal(kicked?.code, -7);
    sd.disconnect(false);
  } finally {
    await d.stop();
    await waitFor(async () => (await peers(nodes.a)).length === 2, 10000, 'd said bye');
  }
});

// ---- failures (keep these last: they change the cluster) ----

test('a node killed with SIGKILL leaves everywhere; the others keep serving', async () => {
  const ua = await userOn(nodes.a, 'ka');
  const uc = await userOn(nodes.c, 'kc');
  const ch = await ua.socket.joinChat('kill-room', 1, false, false);
  await uc.socket.joinChat('kill-room', 1, false, false);
  await waitFor(() => joinedIds(ua.socket.events.channelpresence).includes(uc.userId), 5000, 'a sees c join');
  // and c's player is in an authoritative match of a
  const { match_id: mid } = await createMatch(ua, { label: 'kill', rate: 10 });
  await ua.socket.joinMatch(mid);
  await uc.socket.joinMatch(mid);
  await waitFor(() => ua.socket.events.matchpresence.some((e) => (e.joins || []).some((p) => p.user_id === uc.userId)), 5000, 'a sees c in the match');
  await nodes.c.stop('SIGKILL');
  delete nodes.c;
  await waitFor(async () => (await peers(nodes.a)).join() === 'node-b', 10000, 'a reports c gone');
  await waitFor(async () => (await peers(nodes.b)).join() === 'node-a', 10000, 'b reports c gone');
  assert.equal(await metric(nodes.a, 'cluster_nodes'), 2);
  assert.match(nodes.a.logs(), /node left.*node-c.*no heartbeat/);
  // its presences left, with presence events
  await waitFor(() => leftIds(ua.socket.events.channelpresence).includes(uc.userId), 5000, 'a told c left the room');
  const again = await ua.socket.joinChat('kill-room', 1, false, false);
  // a re-join lists the joiner itself (Nakama), never the dead node's user
  assert.ok(!(again.presences || []).some((p) => p.user_id === uc.userId), 'no ghost of the dead node');
  assert.equal(again.id, ch.id);
  // the match on a hears c's player leave (match_leave: op 101)
  await waitFor(() => ua.socket.events.matchdata.some((d) => d.op_code === 101 && new TextDecoder().decode(d.data) === uc.userId), 5000, 'the match hears c died');
  assert.ok(ua.socket.events.matchpresence.some((e) => (e.leaves || []).some((p) => p.user_id === uc.userId)), 'a told c left the match');
  ua.socket.disconnect(false);
  const u = await newUser(nodes.b, 'after');
  assert.ok(u.session.token);
});

test('the bus stopped: nodes serve node-local; restarted: the cluster heals', async () => {
  const ua = await userOn(nodes.a, 'ha');
  const ub = await userOn(nodes.b, 'hb');
  await ua.socket.joinChat('heal-room', 1, false, false);
  const jb = await ub.socket.joinChat('heal-room', 1, false, false);
  await seesMember(jb, ub.socket.events.channelpresence, ua.userId, 'b sees a');
  await waitFor(() => joinedIds(ua.socket.events.channelpresence).includes(ub.userId), 5000, 'a sees b');
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
  // a node started while the bus is down serves node-local and joins later
  nodes.e = await startNode('node-e');
  assert.equal((await readyz(nodes.e)).body.cluster.bus, 'disconnected');
  assert.match(nodes.e.logs(), /cluster bus unreachable at start-up, serving node-local/);
  const joinsOfA = () => joinedIds(ub.socket.events.channelpresence).filter((id) => id === ua.userId).length;
  const joinsOfA0 = joinsOfA();
  await startNats();
  await waitFor(async () => (await readyz(nodes.a)).body.cluster.bus === 'connected', 15000, 'a reconnects');
  await waitFor(async () => (await peers(nodes.a)).join() === 'node-b,node-e', 15000, 'a sees b and e');
  await waitFor(async () => (await peers(nodes.b)).join() === 'node-a,node-e', 15000, 'b sees a and e');
  await waitFor(async () => (await peers(nodes.e)).join() === 'node-a,node-b', 15000, 'e sees a and b');
  assert.match(nodes.a.logs(), /cluster bus disconnected, serving node-local/);
  assert.match(nodes.a.logs(), /cluster bus connected/);
  // presences: b left a's view during the outage and is back after it
  assert.ok(leftIds(ua.socket.events.channelpresence).includes(ub.userId), 'a was told b left');
  await waitFor(() => joinedIds(ua.socket.events.channelpresence).filter((id) => id === ub.userId).length >= 2, 10000, 'a told b is back');
  ua.socket.events.channelmessage.length = 0;
  const again = await ub.socket.joinChat('heal-room', 1, false, false);
  // b hears of a again too (a's snapshot may reach b after b's reached a)
  if (!(again.presences || []).some((p) => p.user_id === ua.userId)) {
    await waitFor(() => joinsOfA() > joinsOfA0, 10000, 'b told a is back');
  }
  await ub.socket.writeChatMessage(again.id, { text: 'healed' });
  await waitFor(() => ua.socket.events.channelmessage.length, 5000, 'messages flow again');
  ua.socket.disconnect(false);
  ub.socket.disconnect(false);
});
