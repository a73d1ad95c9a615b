// Parties: create, join (open and by request), accept, list requests,
// promote, remove, leave, close, party data, presence events, leader
// hand-over, single_party, and party matchmaking; nakama-js over JSON and
// protobuf.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, sleep } from './harness.mjs';
import { newUser, connect, waitFor, closeAll, recordPushes } from './rtutil.mjs';

let srv;
before(async () => {
  srv = await startServer({ args: ['--matchmaker.interval_sec', '1', '--session.single_party', 'true'] });
});
after(async () => { await srv?.cleanup(); });

const kinds = ['party', 'partypresence', 'partyleader', 'partyjoinrequest', 'partyclose', 'partydata',
  'partymatchmakerticket', 'matchmakermatched'];

/** A connected user recording every party push in s.ev[kind]. */
async function member(name, protobuf) {
  const u = await newUser(srv, name);
  const s = recordPushes(await connect(srv, u, { protobuf }), kinds);
  s.user = u;
  return s;
}

const ids = (list) => (list || []).map((p) => p.user_id).sort();
const rejectsWith = (promise, message) => assert.rejects(promise, (e) => e.code === 3 && e.message === message, message);

for (const protobuf of [false, true]) {
  const fmt = protobuf ? 'protobuf' : 'json';

  test(`${fmt}: open party: join, data, promote, full, remove, leave hand-over, close`, async () => {
    const [a, b, c, d] = [await member('a', protobuf), await member('b', !protobuf), await member('c', protobuf),
      await member('d', protobuf)];
    try {
      const party = await a.createParty(true, 3);
      assert.match(party.party_id, /^[0-9a-f-]{36}\.nakama$/);
      assert.equal(party.open, true);
      assert.equal(party.max_size, 3);
      assert.equal(party.self.user_id, a.user.userId);
      assert.equal(party.leader.session_id, party.self.session_id);
      assert.deepEqual(ids(party.presences), [a.user.userId]);
      const pa = party.self;
      await waitFor(() => a.ev.partypresence.length, 3000, 'creator presence event');
      assert.deepEqual(ids(a.ev.partypresence[0].joins), [a.user.userId]);
      assert.equal(a.ev.party.length, 0, 'the creator gets no party push');

      await b.joinParty(party.party_id);
      await waitFor(() => b.ev.party.length, 3000, 'party to joiner');
      const pb = b.ev.party[0];
      assert.equal(pb.party_id, party.party_id);
      assert.equal(pb.self.user_id, b.user.userId);
      assert.equal(pb.leader.user_id, a.user.userId);
      assert.deepEqual(ids(pb.presences), ids([a.user, b.user].map((u) => ({ user_id: u.userId }))));
      await waitFor(() => a.ev.partypresence.length === 2 && b.ev.partypresence.length === 1, 3000, 'join events');
      assert.deepEqual(ids(a.ev.partypresence[1].joins), [b.user.userId]);
      const presB = pb.self;

      // party data goes to the others only
      await b.sendPartyData(party.party_id, 7, 'hello');
      await waitFor(() => a.ev.partydata.length, 3000, 'party data');
      const pd = a.ev.partydata[0];
      assert.equal(pd.op_code, 7);
      assert.equal(pd.presence.user_id, b.user.userId);
      assert.equal(Buffer.from(pd.data).toString(), 'hello');
      await sleep(50);
      assert.equal(b.ev.partydata.length, 0);

      // only the leader promotes; then b leads
      await rejectsWith(b.promotePartyMember(party.party_id, pa), 'Error promoting new party leader: party leader only');
      await a.promotePartyMember(party.party_id, presB);
      await waitFor(() => a.ev.partyleader.length && b.ev.partyleader.length, 3000, 'party_leader');
      assert.equal(a.ev.partyleader[0].presence.user_id, b.user.userId);

      await c.joinParty(party.party_id);
      await waitFor(() => c.ev.party.length, 3000, 'c joined');
      await rejectsWith(d.joinParty(party.party_id), 'Error joining party: party full');
      await rejectsWith(c.joinParty(party.party_id), 'Error joining party: party join request already member');

      // b removes c: c is told with party_close, the others see the leave
      await rejectsWith(b.removePartyMember(party.party_id, presB), 'Error removing party member or join request: party cannot remove self');
      await b.removePartyMember(party.party_id, c.ev.party[0].self);
      await waitFor(() => c.ev.partyclose.length, 3000, 'party_close to the removed member');
      await waitFor(() => a.ev.partypresence.some((e) => ids(e.leaves).includes(c.user.userId)), 3000, 'leave event');

      // the leader leaves: the oldest member (a) leads
      await b.leaveParty(party.party_id);
      await waitFor(() => a.ev.partyleader.length === 2, 3000, 'hand-over');
      assert.equal(a.ev.partyleader[1].presence.user_id, a.user.userId);

      await a.closeParty(party.party_id);
      await waitFor(() => a.ev.partyclose.length, 3000, 'party_close to all');
      await rejectsWith(d.joinParty(party.party_id), 'Error joining party: party not found');
    } finally { closeAll(a, b, c, d); }
  });

  test(`${fmt}: closed party: requests, list, accept, reject; leader disconnect hands over`, async () => {
    const [a, b, c] = [await member('a', protobuf), await member('b', protobuf), await member('c', !protobuf)];
    try {
      const party = await a.createParty(false, 2);
      assert.equal(party.open ?? false, false);
      await b.joinParty(party.party_id);
      await waitFor(() => a.ev.partyjoinrequest.length, 3000, 'join request to the leader');
      assert.deepEqual(ids(a.ev.partyjoinrequest[0].presences), [b.user.userId]);
      await rejectsWith(b.joinParty(party.party_id), 'Error joining party: party join request duplicate');
      await c.joinParty(party.party_id);
      const list = await a.listPartyJoinRequests(party.party_id);
      assert.equal(list.party_id, party.party_id);
      assert.deepEqual(list.presences.map((p) => p.user_id), [b.user.userId, c.user.userId]);
      await rejectsWith(b.listPartyJoinRequests(party.party_id), 'Error listing party join requests: party leader only');
      await rejectsWith(a.acceptPartyMember(party.party_id, party.self), 'Error accepting party join request: party join request not found');
      await a.acceptPartyMember(party.party_id, list.presences[0]);
      await waitFor(() => b.ev.party.length, 3000, 'accepted member gets the party');
      assert.deepEqual(ids(b.ev.party[0].presences), [a.user.userId, b.user.userId].sort());
      await rejectsWith(a.acceptPartyMember(party.party_id, list.presences[1]), 'Error accepting party join request: party full');
      await a.removePartyMember(party.party_id, list.presences[1]); // rejects the request silently
      const after2 = await a.listPartyJoinRequests(party.party_id);
      assert.equal((after2.presences || []).length, 0);
      await sleep(50);
      assert.equal(c.ev.partyclose.length, 0);
      a.disconnect(false);
      await waitFor(() => b.ev.partyleader.length, 3000, 'hand-over on disconnect');
      assert.equal(b.ev.partyleader[0].presence.user_id, b.user.userId);
      assert.ok(b.ev.partypresence.some((e) => ids(e.leaves).includes(a.user.userId)));
    } finally { closeAll(a, b, c); }
  });
}

test('party validation errors', async () => {
  const [a, b] = [await member('a'), await member('b')];
  try {
    await assert.rejects(a.createParty(true, 300), (e) => e.code === 3 && e.message === 'Invalid party max size, must be 1-256');
    await rejectsWith(a.joinParty('nope'), 'Invalid party ID');
    await rejectsWith(a.joinParty('0000.nakama'), 'Invalid party ID');
    const party = await a.createParty(true, 4);
    await rejectsWith(a.joinParty(party.party_id.replace('.nakama', '.other')), 'Error joining party: party not found');
    await rejectsWith(a.promotePartyMember(party.party_id, { user_id: a.user.userId }), 'Invalid presence');
    await b.joinParty(party.party_id);
    await rejectsWith(b.closeParty(party.party_id), 'Error closing party: party leader only');
    await rejectsWith(a.promotePartyMember(party.party_id, { user_id: a.user.userId, session_id: party.self.session_id, username: 'x' }),
      'Error promoting new party leader: party member not found');
    await rejectsWith(b.addMatchmakerParty(party.party_id, '*', 2, 4), 'Error adding party to matchmaker: party leader only');
    await rejectsWith(a.addMatchmakerParty(party.party_id, '*', 1, 4), 'Invalid minimum count, must be >= 2');
    await rejectsWith(a.removeMatchmakerParty(party.party_id, ''), 'Invalid matchmaker ticket');
    await rejectsWith(a.removeMatchmakerParty(party.party_id, crypto.randomUUID()), 'Error closing party: matchmaker ticket not found');
    // leaving a party one is not in is acked
    await a.leaveParty(`${crypto.randomUUID()}.nakama`);
  } finally { closeAll(a, b); }
});

test('single_party: creating or joining a party leaves the others', async () => {
  const [a, b] = [await member('a'), await member('b')];
  try {
    const p1 = await a.createParty(true, 4);
    await b.joinParty(p1.party_id);
    await waitFor(() => b.ev.party.length, 3000, 'b in p1');
    const p2 = await b.createParty(true, 4);
    await waitFor(() => a.ev.partypresence.some((e) => ids(e.leaves).includes(b.user.userId)), 3000, 'b left p1');
    await a.joinParty(p2.party_id);
    await waitFor(() => a.ev.party.length, 3000, 'a in p2');
    // a left p1 (it was alone): p1 is gone
    await rejectsWith(b.joinParty(p1.party_id), 'Error joining party: party not found');
  } finally { closeAll(a, b); }
});

test('party matchmaking: whole parties matched together; membership changes cancel tickets', async () => {
  const mode = 'pm' + Math.random().toString(36).slice(2, 8);
  const [a, b, c, d, e] = [await member('a'), await member('b', true), await member('c', true), await member('d'),
    await member('e')];
  try {
    const p1 = await a.createParty(true, 4);
    await b.joinParty(p1.party_id);
    const p2 = await c.createParty(true, 4);
    await d.joinParty(p2.party_id);
    await waitFor(() => b.ev.party.length && d.ev.party.length, 3000, 'parties formed');
    await sleep(50);

    // A ticket that a membership change cancels.
    const t0 = await a.addMatchmakerParty(p1.party_id, `+properties.mode:none`, 2, 8, { mode: 'none' });
    await waitFor(() => b.ev.partymatchmakerticket.length, 3000, 'ticket pushed to members');
    assert.equal(b.ev.partymatchmakerticket[0].ticket, t0.ticket);
    await e.joinParty(p1.party_id);
    await waitFor(() => e.ev.party.length, 3000, 'e joined');
    await sleep(50);
    await rejectsWith(a.removeMatchmakerParty(p1.party_id, t0.ticket), 'Error closing party: matchmaker ticket not found');
    await e.leaveParty(p1.party_id);
    await waitFor(() => a.ev.partypresence.some((x) => ids(x.leaves).includes(e.user.userId)), 3000, 'e left');

    // A removable ticket.
    const t1 = await a.addMatchmakerParty(p1.party_id, `+properties.mode:${mode}x`, 2, 8);
    await a.removeMatchmakerParty(p1.party_id, t1.ticket);

    const q = `+properties.mode:${mode}`;
    const ta = await a.addMatchmakerParty(p1.party_id, q, 4, 4, { mode }, { level: 1 });
    assert.equal(ta.party_id, p1.party_id);
    // a party ticket counts as the member's own: a solo remove of it is refused
    await assert.rejects(b.removeMatchmaker(ta.ticket), (x) => x.code === 3 && x.message === 'Matchmaker ticket not found');
    const tc = await c.addMatchmakerParty(p2.party_id, q, 4, 4, { mode }, { level: 2 });
    const all = [a, b, c, d];
    await waitFor(() => all.every((s) => s.ev.matchmakermatched.length), 5000, 'party match');
    for (const s of all) {
      const m = s.ev.matchmakermatched[0];
      assert.equal(m.users.length, 4);
      assert.equal(m.ticket, [a, b].includes(s) ? ta.ticket : tc.ticket);
      assert.equal(m.self.presence.user_id, s.user.userId);
      assert.equal(m.self.party_id, [a, b].includes(s) ? p1.party_id : p2.party_id);
      assert.ok(m.token);
    }
    assert.equal(new Set(all.map((s) => s.ev.matchmakermatched[0].token)).size, 1);
    assert.equal(e.ev.matchmakermatched.length, 0);
  } finally { closeAll(a, b, c, d, e); }
});
