// tests/integration/loops.test.mjs: several event loops (socket.loops) with
// members of one chat room, one relayed match, one status follow and one
// user's notifications on different loops: delivery, per-sender order and
// presence events cross loops. Parties, the matchmaker and authoritative
// matches live on loop 0 (their single owner): members on loops 1 and 2
// reach them through the forwarding, and Lua's nk.stream_* reach sessions
// on any loop. Deterministic: socket.loop_port_base makes
// loop k also accept on base + k, so each client picks its loop by port
// instead of relying on the kernel's SO_REUSEPORT hash.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@heroiclabs/nakama-js';
import { rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { startServer, freePortRange, SERVER_KEY, uid, sleep } from './harness.mjs';
import { connect, waitFor, closeAll, recordPushes } from './rtutil.mjs';
import { writeModules, createMatch } from './amatch_util.mjs';

// nk.stream_* on the caller's session, wherever its socket is
const STREAMS = `
local nk = require("nakama")
local function st(p) return { mode = 123 % 16, subject = p.subject, label = "loops" } end
nk.register_rpc(function(ctx, payload)
  local p = nk.json_decode(payload)
  nk.stream_user_join(ctx.user_id, ctx.session_id, st(p), false, false, p.status or "")
  return nk.json_encode({ count = nk.stream_count(st(p)), session_id = ctx.session_id })
end, "stream_join")
nk.register_rpc(function(ctx, payload)
  local p = nk.json_decode(payload)
  local got = nk.stream_user_get(ctx.user_id, ctx.session_id, st(p))
  nk.stream_user_leave(ctx.user_id, ctx.session_id, st(p))
  return nk.json_encode({ had = got ~= nil, count = nk.stream_count(st(p)) })
end, "stream_leave")
nk.register_rpc(function(ctx, payload)
  local p = nk.json_decode(payload)
  local ids = {}
  for _, u in ipairs(nk.stream_user_list(st(p))) do ids[#ids + 1] = u.session_id end
  nk.stream_send(st(p), p.data)
  return nk.json_encode({ ids = ids })
end, "stream_send")
nk.register_rpc(function(ctx, payload)
  local p = nk.json_decode(payload)
  nk.session_disconnect(p.session_id)
  return "{}"
end, "kick_session")
`;

const LOOPS = 3;
let srv, base, dir;
before(async () => {
  base = await freePortRange(LOOPS);
  dir = writeModules({ 'streams.lua': STREAMS });
  srv = await startServer({
    args: ['--socket.loops', String(LOOPS), '--socket.loop_port_base', String(base),
      '--runtime.path', dir, '--matchmaker.interval_sec', '1'],
  });
});
after(async () => {
  const r = await srv?.stop();
  await srv?.cleanup();
  rmSync(dir, { recursive: true, force: true });
  assert.equal(r?.code, 0, srv?.logs().slice(-3000));
});

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
    // a protobuf member on loop 2 (the JSON frame crossed: its loop parses it)
    const c = await userOn(2, 'lc');
    const sc = await socketOn(c, { protobuf: true });
    try {
      await sc.joinChat(room, 1, false, false);
      await waitFor(() => sb.presences.find((e) => e.joins?.some((p) => p.user_id === c.userId)),
        5000, 'b sees c join');
      await sa.writeChatMessage(ca.id, { n: 99 });
      await waitFor(() => sc.messages.length >= 1, 5000, 'c gets a message');
      assert.equal(sc.messages[0].content.n, 99);
      assert.equal(sc.messages[0].sender_id, a.userId);
      assert.equal(sc.messages[0].channel_id, ca.id);
      await waitFor(() => sb.messages.length >= 16, 5000, 'b gets it too');
    } finally {
      closeAll(sc);
    }
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
  // c (loop 2) speaks protobuf: only the JSON frame crosses loops, so its
  // loop builds the protobuf envelope from that text
  const a = await userOn(0, 'ma'), b = await userOn(1, 'mb'), c = await userOn(2, 'mc');
  const sa = await socketOn(a), sb = await socketOn(b), sc = await socketOn(c, { protobuf: true });
  try {
    const m = await sa.createMatch();
    const mb = await sb.joinMatch(m.match_id);
    assert.equal(mb.match_id, m.match_id);
    assert.deepEqual(mb.presences.map((p) => p.user_id), [a.userId]);
    await waitFor(() => sa.events.matchpresence.find((e) => e.joins?.some((p) => p.user_id === b.userId)),
      5000, 'a sees b join the match');
    const mc = await sc.joinMatch(m.match_id);
    assert.deepEqual(mc.presences.map((p) => p.user_id).sort(), [a.userId, b.userId].sort());
    await waitFor(() => sb.events.matchpresence.find((e) => e.joins?.some((p) => p.user_id === c.userId)),
      5000, 'b sees c join the match');
    // the listing is process-wide: from any loop, size 3
    for (let k = 0; k < LOOPS; k++) {
      const u = await userOn(k, 'lst');
      const list = await u.client.listMatches(u.session, 100);
      const row = (list.matches || []).find((x) => x.match_id === m.match_id);
      assert.equal(row?.size, 3, `listing from loop ${k}`);
    }
    for (let i = 0; i < 50; i++) sa.sendMatchState(m.match_id, 7, JSON.stringify({ i }));
    await waitFor(() => sb.events.matchdata.length >= 50, 5000, 'b gets 50 match data');
    await waitFor(() => sc.events.matchdata.length >= 50, 5000, 'c (protobuf) gets 50 match data');
    for (const s of [sb, sc]) {
      const seq = s.events.matchdata.map((d) => JSON.parse(new TextDecoder().decode(d.data)).i);
      assert.deepEqual(seq, [...Array(50).keys()]);
      assert.equal(s.events.matchdata[0].match_id, m.match_id);
      assert.equal(s.events.matchdata[0].presence.user_id, a.userId);
      assert.equal(s.events.matchdata[0].presence.session_id, m.self.session_id);
      assert.equal(s.events.matchdata[0].presence.username, a.username);
      assert.equal(Number(s.events.matchdata[0].op_code), 7);
    }
    await sc.leaveMatch(m.match_id);
    // b to a only, by presence
    await sb.sendMatchState(m.match_id, 8, 'hi', [{ user_id: a.userId, session_id: m.self.session_id }]);
    await waitFor(() => sa.events.matchdata.some((d) => d.op_code === 8), 5000, 'a gets b');
    await sb.leaveMatch(m.match_id);
    await waitFor(() => sa.events.matchpresence.find((e) => e.leaves?.some((p) => p.user_id === b.userId)),
      5000, 'a sees b leave the match');
  } finally {
    closeAll(sa, sb, sc);
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

const PARTY_KINDS = ['party', 'partypresence', 'partyleader', 'partyjoinrequest', 'partyclose', 'partydata',
  'matchmakermatched', 'streamdata', 'streampresence'];

/** A user with HTTP and socket on loop k, recording party, matchmaker and stream pushes in s.ev. */
async function memberOn(k, name) {
  const u = await userOn(k, name);
  const s = recordPushes(await socketOn(u), PARTY_KINDS);
  s.user = u;
  return s;
}

const has = (list, uid) => list?.some((p) => p.user_id === uid);

test('loops: a party whose leader and members sit on loops 1, 2 and 0', async () => {
  const a = await memberOn(1, 'pa'), b = await memberOn(2, 'pb'), c = await memberOn(0, 'pc');
  try {
    const p = await a.createParty(true, 3);
    assert.equal(p.leader.user_id, a.user.userId);
    await b.joinParty(p.party_id);
    await c.joinParty(p.party_id);
    // joiners get the party with every member; everyone sees the joins once
    const pb = await waitFor(() => b.ev.party[0], 5000, 'b gets the party');
    assert.equal(pb.party_id, p.party_id);
    assert.ok(has(pb.presences, a.user.userId) && has(pb.presences, b.user.userId));
    const joinsSeen = (s) => s.ev.partypresence.flatMap((e) => e.joins || []).map((x) => x.user_id);
    await waitFor(() => [a, b, c].every((s) => joinsSeen(s).includes(c.user.userId)), 5000, 'c join seen');
    for (const s of [a, b, c]) {
      const j = joinsSeen(s);
      assert.equal(j.filter((x) => x === c.user.userId).length, 1, 'one join event for c per member');
    }
    // party data from loop 2 reaches loops 1 and 0, not the sender
    await b.sendPartyData(p.party_id, 5, 'from-b');
    await waitFor(() => a.ev.partydata.length && c.ev.partydata.length, 5000, 'party data');
    assert.equal(a.ev.partydata[0].presence.user_id, b.user.userId);
    assert.equal(new TextDecoder().decode(c.ev.partydata[0].data), 'from-b');
    assert.equal(b.ev.partydata.length, 0);
    // the leader (loop 1) promotes b (loop 2): everyone is told
    const bself = pb.self;
    await a.promotePartyMember(p.party_id, bself);
    await waitFor(() => [a, b, c].every((s) => s.ev.partyleader.some((l) => l.presence.user_id === b.user.userId)),
      5000, 'leader change seen everywhere');
    // the new leader removes c (loop 0): c is told, a and b see the leave
    const cself = (await waitFor(() => c.ev.party[0], 5000, 'c gets the party')).self;
    await b.removePartyMember(p.party_id, cself);
    await waitFor(() => c.ev.partyclose.length, 5000, 'c removed');
    await waitFor(() => a.ev.partypresence.some((e) => has(e.leaves, c.user.userId)), 5000, 'a sees c leave');
    // the leader's socket closes: the oldest member (a, loop 1) leads
    b.disconnect(false);
    await waitFor(() => a.ev.partyleader.some((l) => l.presence.user_id === a.user.userId), 5000,
      'a leads after b left');
    // a closed party: a request from loop 0 reaches the leader on loop 1; accepted
    const q = await a.createParty(false, 2);
    await c.joinParty(q.party_id);
    const rq = await waitFor(() => a.ev.partyjoinrequest[0], 5000, 'a hears of the request');
    assert.ok(has(rq.presences, c.user.userId));
    const listed = await a.listPartyJoinRequests(q.party_id);
    assert.ok(has(listed.presences, c.user.userId));
    await a.acceptPartyMember(q.party_id, rq.presences[0]);
    await waitFor(() => c.ev.party.some((x) => x.party_id === q.party_id), 5000, 'c in the closed party');
    await a.closeParty(q.party_id);
    await waitFor(() => c.ev.partyclose.some((x) => x.party_id === q.party_id), 5000, 'close reaches c');
  } finally {
    closeAll(a, b, c);
  }
});

test('loops: matchmaker tickets from loops 1 and 2 are matched; a closed socket takes its ticket along', async () => {
  const mode = 'lp' + uid().slice(0, 8);
  const q = `+properties.mode:${mode}`;
  const gone = await memberOn(1, 'mg');
  await gone.addMatchmaker(q, 2, 2, { mode });
  gone.disconnect(false);
  await sleep(300);
  const x = await memberOn(1, 'mx'), y = await memberOn(2, 'my');
  try {
    const tx = await x.addMatchmaker(q, 2, 2, { mode });
    const ty = await y.addMatchmaker(q, 2, 2, { mode });
    await waitFor(() => x.ev.matchmakermatched.length && y.ev.matchmakermatched.length, 5000, 'both matched');
    const mx = x.ev.matchmakermatched[0], my = y.ev.matchmakermatched[0];
    assert.equal(mx.ticket, tx.ticket);
    assert.equal(my.ticket, ty.ticket);
    const users = mx.users.map((u) => u.presence.user_id).sort();
    assert.deepEqual(users, [x.user.userId, y.user.userId].sort(), 'the closed socket\'s ticket is gone');
    // the token joins both (token joins run on loop 0) to one relayed match
    const jx = await x.joinMatch(undefined, mx.token);
    const jy = await y.joinMatch(undefined, my.token);
    assert.equal(jx.match_id, jy.match_id);
    await y.sendMatchState(jy.match_id, 3, 'hello');
    await waitFor(() => x.events.matchdata.some((d) => d.op_code === 3), 5000, 'x gets y\'s data');
    // a removed ticket never matches
    const z = await memberOn(2, 'mz');
    const tz = await z.addMatchmaker(q, 2, 2, { mode });
    await z.removeMatchmaker(tz.ticket);
    const w = await memberOn(1, 'mw');
    await w.addMatchmaker(q, 2, 2, { mode });
    await sleep(2300);
    assert.equal(z.ev.matchmakermatched.length + w.ev.matchmakermatched.length, 0);
    closeAll(z, w);
  } finally {
    closeAll(x, y);
  }
});

test('loops: an authoritative match (on loop 0) with players on loops 1 and 2', async () => {
  const a = await memberOn(1, 'aa'), b = await memberOn(2, 'ab');
  try {
    const { match_id: id } = await createMatch(a.user, { label: '{"m":"loops"}', rate: 20 });
    const ma = await a.joinMatch(id, undefined, { password: 'secret' });
    assert.equal(ma.authoritative, true);
    assert.equal(ma.label, '{"m":"loops"}');
    const mb = await b.joinMatch(id);
    assert.deepEqual(mb.presences.map((p) => p.user_id), [a.user.userId]);
    // match_join broadcast to the joiner only (op 100); a sees b join
    await waitFor(() => b.events.matchdata.some((d) => d.op_code === 100), 5000, 'b hears its join');
    await waitFor(() => a.events.matchpresence.some((e) => has(e.joins, b.user.userId)), 5000, 'a sees b');
    // a refusal from the match answers the joiner on its own loop
    const c = await memberOn(2, 'ac');
    await assert.rejects(c.joinMatch(id, undefined, { password: 'wrong' }), (e) => e.message === 'wrong password');
    c.disconnect(false);
    // data from loop 2 through the match to everyone else (op 3 -> 4) and back to the sender (1 -> 2)
    for (let i = 0; i < 20; i++) b.sendMatchState(id, 3, String(i));
    await waitFor(() => a.events.matchdata.filter((d) => d.op_code === 4).length >= 20, 5000, 'a gets 20');
    const seq = a.events.matchdata.filter((d) => d.op_code === 4).map((d) => new TextDecoder().decode(d.data));
    assert.deepEqual(seq, [...Array(20).keys()].map(String));
    await a.sendMatchState(id, 1, 'echo');
    await waitFor(() => a.events.matchdata.some((d) => d.op_code === 2), 5000, 'a gets its echo');
    // the listing from any loop sees the match with its two players
    for (let k = 0; k < LOOPS; k++) {
      const u = await userOn(k, 'al');
      const list = await u.client.listMatches(u.session, 10, true);
      assert.equal(list.matches?.find((m) => m.match_id === id)?.size, 2, `listing from loop ${k}`);
    }
    // b leaves: the match hears of it (op 101 to a); a is kicked (op 7): it leaves the stream
    await b.leaveMatch(id);
    await waitFor(() => a.events.matchdata.some((d) => d.op_code === 101), 5000, 'match saw b leave');
    await a.sendMatchState(id, 7, '');
    await sleep(300);
    const before = a.events.matchdata.length;
    await a.sendMatchState(id, 1, 'after-kick');
    await sleep(500);
    assert.equal(a.events.matchdata.length, before, 'a kicked player sends nothing more to the match');
  } finally {
    closeAll(a, b);
  }
});

test('loops: nk.stream_* (run on loop 0) on sessions of loops 1 and 2', async () => {
  const a = await memberOn(1, 'sa'), b = await memberOn(2, 'sb');
  try {
    const subject = randomUUID();
    const call = async (s, id, body) => JSON.parse((await s.rpc(id, JSON.stringify(body))).payload);
    assert.equal((await call(a, 'stream_join', { subject })).count, 1);
    const jb = await call(b, 'stream_join', { subject });
    assert.equal(jb.count, 2);
    await waitFor(() => a.ev.streampresence.some((e) => has(e.joins, b.user.userId)), 5000, 'a sees b join');
    const sent = await call(a, 'stream_send', { subject, data: 'to-all' });
    assert.equal(sent.ids.length, 2);
    await waitFor(() => a.ev.streamdata.length && b.ev.streamdata.length, 5000, 'stream data on both loops');
    assert.equal(b.ev.streamdata[0].data, 'to-all');
    const left = await call(b, 'stream_leave', { subject });
    assert.deepEqual(left, { had: true, count: 1 });
    await waitFor(() => a.ev.streampresence.some((e) => has(e.leaves, b.user.userId)), 5000, 'a sees b leave');
    // nk.session_disconnect on a session of loop 2
    await call(a, 'kick_session', { session_id: jb.session_id });
    await waitFor(() => b.events.disconnect.length, 5000, 'b disconnected from loop 0');
  } finally {
    closeAll(a, b);
  }
});
