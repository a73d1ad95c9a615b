// tests/integration/loops.test.mjs: several event loops (socket.loops) with
// members of one chat room, one relayed match, one status follow and one
// user's notifications on different loops: delivery, per-sender order and
// presence events cross loops. Deterministic: socket.loop_port_base makes
// loop k also accept on base + k, so each client picks its loop by port
// instead of relying on the kernel's SO_REUSEPORT hash.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@heroiclabs/nakama-js';
import { startServer, freePortRange, SERVER_KEY, uid } from './harness.mjs';
import { connect, waitFor, closeAll } from './rtutil.mjs';

const LOOPS = 2;
let srv, base;
before(async () => {
  base = await freePortRange(LOOPS);
  srv = await startServer({
    args: ['--socket.loops', String(LOOPS), '--socket.loop_port_base', String(base)],
  });
});
after(async () => { await srv?.cleanup(); });

/** A user whose HTTP calls and socket go to loop k. */
async function userOn(k, name, session) {
  const client = new Client(SERVER_KEY, '127.0.0.1', String(base + k), false, 7000, false);
  if (!session) {
    const username = name + uid().slice(0, 10);
    session = await client.authenticateDevice('dev-' + uid() + uid(), true, username);
  }
  return { client, session, userId: session.user_id, username: session.username };
}

async function socketOn(u, opts = {}) {
  const s = await connect(null, u, opts);
  s.messages = [];
  s.presences = [];
  s.onchannelmessage = (m) => s.messages.push(m);
  s.onchannelpresence = (p) => s.presences.push(p);
  return s;
}

test('loops: the server runs the loops asked for, each on its own port', async () => {
  for (let k = 0; k < LOOPS; k++) {
    const r = await fetch(`http://127.0.0.1:${base + k}/healthcheck`);
    assert.equal(r.status, 200);
  }
  assert.match(srv.logs(), new RegExp(`tomo started[^\\n]*"loops":"?${LOOPS}\\b`));
});

test('loops: chat room across loops: presence events, listings, delivery in order', async () => {
  const a = await userOn(0, 'la'), b = await userOn(1, 'lb');
  const sa = await socketOn(a), sb = await socketOn(b);
  try {
    const room = 'loops-' + uid().slice(0, 8);
    const ca = await sa.joinChat(room, 1, false, false);
    const cb = await sb.joinChat(room, 1, false, false);
    assert.equal(cb.id, ca.id);
    // b's join lists a, whose session is on the other loop
    assert.deepEqual((cb.presences || []).map((p) => p.user_id), [a.userId]);
    const joined = await waitFor(() => sa.presences.find((e) => e.joins?.some((p) => p.user_id === b.userId)),
      5000, 'a sees b join');
    assert.equal(joined.joins[0].session_id, cb.self.session_id);
    // 15 messages from a (chat.burst is 20), sent back to back: b gets every one, in order
    const sends = [];
    for (let i = 0; i < 15; i++) sends.push(sa.writeChatMessage(ca.id, { n: i }));
    await Promise.all(sends);
    await waitFor(() => sb.messages.length >= 15, 5000, "b gets 15 messages");
    assert.deepEqual(sb.messages.map((m) => m.content.n), [...Array(15).keys()]);
    assert.ok(sb.messages.every((m) => m.sender_id === a.userId && m.channel_id === ca.id));
    // and the other way
    await sb.writeChatMessage(cb.id, { from: 'b' });
    await waitFor(() => sa.messages.some((m) => m.content.from === 'b'), 5000, 'a gets b');
    // b leaves: a sees it
    await sb.leaveChat(cb.id);
    await waitFor(() => sa.presences.find((e) => e.leaves?.some((p) => p.user_id === b.userId)),
      5000, 'a sees b leave');
  } finally {
    closeAll(sa, sb);
  }
});

test('loops: relayed match across loops: join by id, presences, match data in order', async () => {
  const a = await userOn(0, 'ma'), b = await userOn(1, 'mb');
  const sa = await socketOn(a), sb = await socketOn(b);
  try {
    const m = await sa.createMatch();
    const mb = await sb.joinMatch(m.match_id);
    assert.equal(mb.match_id, m.match_id);
    assert.deepEqual(mb.presences.map((p) => p.user_id), [a.userId]);
    await waitFor(() => sa.events.matchpresence.find((e) => e.joins?.some((p) => p.user_id === b.userId)),
      5000, 'a sees b join the match');
    // the listing is process-wide: from either loop, size 2
    for (let k = 0; k < LOOPS; k++) {
      const u = await userOn(k, 'lst');
      const list = await u.client.listMatches(u.session, 100);
      const row = (list.matches || []).find((x) => x.match_id === m.match_id);
      assert.equal(row?.size, 2, `listing from loop ${k}`);
    }
    for (let i = 0; i < 50; i++) sa.sendMatchState(m.match_id, 7, JSON.stringify({ i }));
    await waitFor(() => sb.events.matchdata.length >= 50, 5000, 'b gets 50 match data');
    const seq = sb.events.matchdata.map((d) => JSON.parse(new TextDecoder().decode(d.data)).i);
    assert.deepEqual(seq, [...Array(50).keys()]);
    assert.equal(sb.events.matchdata[0].presence.user_id, a.userId);
    assert.equal(sb.events.matchdata[0].op_code, 7);
    // b to a only, by presence
    await sb.sendMatchState(m.match_id, 8, 'hi', [{ user_id: a.userId, session_id: m.self.session_id }]);
    await waitFor(() => sa.events.matchdata.some((d) => d.op_code === 8), 5000, 'a gets b');
    await sb.leaveMatch(m.match_id);
    await waitFor(() => sa.events.matchpresence.find((e) => e.leaves?.some((p) => p.user_id === b.userId)),
      5000, 'a sees b leave the match');
  } finally {
    closeAll(sa, sb);
  }
});

test('loops: status follow and a user with sockets on two loops', async () => {
  const a = await userOn(0, 'sa'), c = await userOn(1, 'sc');
  const a2 = await userOn(1, '', a.session); // a again, HTTP and socket on loop 1
  const sa = await socketOn(a, { status: true });
  const sa2 = await socketOn(a2);
  const sc = await socketOn(c);
  try {
    // c (loop 1) follows a (loop 0): a's status presence is listed
    const st = await sc.followUsers([a.userId]);
    assert.equal(st.presences?.length, 1);
    await sa.updateStatus('away');
    const ev = await waitFor(() => sc.events.statuspresence.find((e) => e.joins?.some((p) => p.status === 'away')),
      5000, 'status event across loops');
    assert.equal(ev.joins[0].user_id, a.userId);
    // c's friend request notifies both of a's sockets, one per loop
    await c.client.addFriends(c.session, [a.userId]);
    await waitFor(() => sa.events.notification.length && sa2.events.notification.length, 5000,
      'both sockets notified');
    assert.equal(sa.events.notification[0].id, sa2.events.notification[0].id);
  } finally {
    closeAll(sa, sa2, sc);
  }
});

test('loops: single_socket closes the older socket on another loop', async () => {
  const b2 = await freePortRange(LOOPS);
  const s2 = await startServer({
    args: ['--socket.loops', String(LOOPS), '--socket.loop_port_base', String(b2),
      '--session.single_socket', 'true'],
  });
  try {
    const c0 = new Client(SERVER_KEY, '127.0.0.1', String(b2), false, 7000, false);
    const session = await c0.authenticateDevice('dev-' + uid() + uid(), true, 'ss' + uid().slice(0, 8));
    const c1 = new Client(SERVER_KEY, '127.0.0.1', String(b2 + 1), false, 7000, false);
    const old = await connect(null, { client: c0, session });
    const fresh = await connect(null, { client: c1, session });
    await waitFor(() => old.events.disconnect.length, 5000, 'older socket closed');
    assert.ok(old.events.notification.some((n) => n.code === -7 && n.subject === 'single_socket'));
    assert.equal(fresh.events.disconnect.length, 0);
    // a clean shutdown of every loop with a socket still open
    const r = await s2.stop();
    assert.equal(r.code, 0, s2.logs().slice(-2000));
  } finally {
    await s2.cleanup();
  }
});
