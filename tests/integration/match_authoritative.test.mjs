// Authoritative matches with Lua match handlers: create via RPC, join with
// metadata, refusal, data through the match loop, broadcasts, leave, kick,
// signal, label update, a failing callback, match_get; JSON and protobuf
// sockets. Listing queries: match_authoritative_list.test.mjs; shutdown
// grace: match_authoritative_grace.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer } from './harness.mjs';
import { newUser, connect, closeAll, waitFor } from './rtutil.mjs';
import { writeModules, createMatch } from './amatch_util.mjs';

const text = (d) => new TextDecoder().decode(d.data);
const ofOp = (s, op) => s.events.matchdata.filter((d) => d.op_code === op);

let srv, dir;
before(async () => {
  dir = writeModules({
    'broken.lua': 'local M = {} function M.match_init() end return M\n',
    'badinit.lua': `local M = {}
      function M.match_init(ctx, p) error("init exploded") end
      for _, n in ipairs({"match_join_attempt","match_join","match_leave","match_loop","match_terminate","match_signal"}) do M[n] = function(...) return ... end end
      return M\n`,
  });
  srv = await startServer({ args: ['--runtime.path', dir] });
});
after(async () => {
  // a clean exit (sanitizer builds: no report at shutdown with live matches)
  const r = await srv?.stop();
  await srv?.cleanup();
  assert.equal(r?.code, 0, srv?.logs().slice(-3000));
  rmSync(dir, { recursive: true, force: true });
});

test('match_create errors: unknown module, missing callbacks, init failure', async () => {
  const u = await newUser(srv, 'cr');
  assert.equal((await createMatch(u, {}, 'nosuch')).error, 'error creating match: not found');
  assert.match((await createMatch(u, {}, 'broken')).error,
    /^error creating match: .*match_join_attempt not found or not a function/);
  assert.match((await createMatch(u, {}, 'badinit')).error, /^error creating match: .*init exploded/);
  const { match_id } = await createMatch(u, { rate: 5 });
  assert.match(match_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\.nakama$/);
});

for (const protobuf of [false, true]) {
  const fmt = protobuf ? 'protobuf' : 'json';

  test(`${fmt}: create via RPC, join with metadata, data through the match loop, leave`, async () => {
    const [a, b] = [await newUser(srv, 'a'), await newUser(srv, 'b')];
    const sa = await connect(srv, a, { protobuf });
    const sb = await connect(srv, b, { protobuf: !protobuf });
    try {
      const { match_id: id } = await createMatch(a, { label: '{"mode":"duel"}', rate: 20 });
      const ma = await sa.joinMatch(id, undefined, { password: 'secret' });
      assert.equal(ma.match_id, id);
      assert.equal(ma.authoritative, true);
      assert.equal(ma.label, '{"mode":"duel"}');
      assert.equal(ma.self.user_id, a.userId);
      assert.ok(!ma.presences?.length);
      // match_join ran on the match thread with the match context
      const [j] = await waitFor(() => ofOp(sa, 100).length && ofOp(sa, 100), 3000, 'join broadcast');
      const jd = JSON.parse(text(j));
      assert.deepEqual(jd, { user_id: a.userId, node: 'nakama', reason: 1, match_id: id,
        label: '{"mode":"duel"}', rate: 20, mode: 'match' });
      assert.ok(!j.presence, 'no sender');

      const mb = await sb.joinMatch(id);
      assert.equal(mb.size, 1);
      assert.deepEqual(mb.presences.map((p) => p.user_id), [a.userId]);
      await waitFor(() => sa.events.matchpresence.some((e) => e.match_id === id &&
        e.joins?.some((p) => p.user_id === b.userId)), 3000, 'a sees b join');
      // a join broadcast targeted at the joiner only
      await waitFor(() => ofOp(sb, 100).length, 3000, 'b join broadcast');
      assert.equal(ofOp(sa, 100).length, 1);

      // echo to the sender only, with the sender as presence
      await sa.sendMatchState(id, 1, 'hello');
      const [e] = await waitFor(() => ofOp(sa, 2).length && ofOp(sa, 2), 3000, 'echo');
      assert.equal(e.match_id, id);
      assert.equal(text(e), 'hello');
      assert.equal(e.presence.user_id, a.userId);
      assert.equal(e.presence.session_id, ma.self.session_id);
      assert.equal(e.reliable, true);
      // to everyone, including the sender
      await sb.sendMatchState(id, 3, 'all');
      await waitFor(() => ofOp(sa, 4).length && ofOp(sb, 4).length, 3000, 'broadcast to all');
      assert.equal(ofOp(sa, 4)[0].presence.user_id, b.userId);
      assert.equal(ofOp(sb, 2).length, 0);
      // deferred after the immediate one; {} targets nobody
      await sa.sendMatchState(id, 17, 'nobody');
      await sa.sendMatchState(id, 13, 'later');
      await waitFor(() => ofOp(sb, 14).length, 3000, 'deferred');
      const ops = sb.events.matchdata.map((d) => d.op_code);
      assert.ok(ops.indexOf(15) < ops.indexOf(14), 'deferred goes out after the callback');
      assert.equal(ofOp(sa, 18).length + ofOp(sb, 18).length, 0);

      // a non-member's data is ignored (c never joined)
      const c = await newUser(srv, 'c');
      const sc = await connect(srv, c, { protobuf });
      await sc.sendMatchState(id, 3, 'intruder');
      // a rejoin answers with the match as is (no new join attempt)
      const again = await sa.joinMatch(id);
      assert.equal(again.size, 2);
      assert.equal(ofOp(sa, 100).length, 1);

      // leave: the match's leave callback and a presence event
      await sb.leaveMatch(id);
      await waitFor(() => ofOp(sa, 101).length, 3000, 'leave callback');
      assert.equal(text(ofOp(sa, 101)[0]), b.userId);
      await waitFor(() => sa.events.matchpresence.some((ev) => ev.leaves?.some((p) => p.user_id === b.userId)),
        3000, 'leave event');
      assert.ok(!sa.events.matchdata.some((d) => text(d) === 'intruder'));
      // the match ends when loop returns nil: members are untracked
      await sa.sendMatchState(id, 11, '');
      await waitFor(async () => !(await a.client.rpc(a.session, 'get_match', { id })).payload.found,
        3000, 'match gone');
      await assert.rejects(sb.joinMatch(id), (err) => err.code === 4 && err.message === 'Match not found');
      closeAll(sc);
    } finally { closeAll(sa, sb); }
  });

  test(`${fmt}: join refusals with a reason, without one, unknown and foreign-node ids`, async () => {
    const a = await newUser(srv, 'r');
    const sa = await connect(srv, a, { protobuf });
    try {
      const { match_id: id } = await createMatch(a, {});
      await assert.rejects(sa.joinMatch(id, undefined, { password: 'nope' }),
        (e) => e.code === 5 && e.message === 'wrong password');
      await assert.rejects(sa.joinMatch(id, undefined, { silent: '1' }),
        (e) => e.code === 5 && e.message === 'Match join rejected');
      await assert.rejects(sa.joinMatch('00000000-0000-4000-8000-000000000000.nakama'),
        (e) => e.code === 4 && e.message === 'Match not found');
      await assert.rejects(sa.joinMatch(id.replace('.nakama', '.other')),
        (e) => e.code === 4 && e.message === 'Match not found');
      // a nil state from join_attempt refuses and stops the match
      await assert.rejects(sa.joinMatch(id, undefined, { stop: '1' }), (e) => e.code === 5);
      await assert.rejects(sa.joinMatch(id), (e) => e.code === 4);
      // the socket is fine
      assert.ok((await sa.send({ ping: {} })).pong);
    } finally { closeAll(sa); }
  });
}

test('signal, match_get, kick, a failing callback disconnects its players only', async () => {
  const [a, b, c] = [await newUser(srv, 'sa'), await newUser(srv, 'sb'), await newUser(srv, 'sc')];
  const sa = await connect(srv, a);
  const sb = await connect(srv, b, { protobuf: true });
  const sc = await connect(srv, c);
  try {
    const { match_id: id } = await createMatch(a, { label: 'plain' });
    const { match_id: other } = await createMatch(a, {});
    await sa.joinMatch(id);
    await sb.joinMatch(id);
    await sc.joinMatch(other);
    const sig = async (mid, data) => (await a.client.rpc(a.session, 'signal_match', { id: mid, data })).payload;
    assert.deepEqual(await sig(id, 'hi'), { result: 'got:hi:2' });
    assert.deepEqual(await sig(id, 'nil'), { result: '' });
    assert.deepEqual(await sig('00000000-0000-4000-8000-000000000000.nakama', 'x'),
      { error: 'failed to signal match: match not found' });
    const g = (await a.client.rpc(a.session, 'get_match', { id })).payload;
    assert.deepEqual(g.match, { match_id: id, authoritative: true, label: 'plain', size: 2, tick_rate: 10,
      handler_name: 'arena' });
    const bad = (await a.client.rpc(a.session, 'get_match', { id: 'nope' })).payload;
    assert.equal(bad.error, 'failed to get match: match id invalid');

    // label update through the loop, visible to match_get at once
    await sa.sendMatchState(id, 5, 'renamed');
    await waitFor(() => ofOp(sa, 6).length, 3000, 'label ack');
    assert.equal((await a.client.rpc(a.session, 'get_match', { id })).payload.match.label, 'renamed');

    // kick b: b leaves (presence event at a, leave callback)
    await sb.sendMatchState(id, 7, '');
    await waitFor(() => ofOp(sa, 101).some((d) => text(d) === b.userId), 3000, 'kick leave');
    await waitFor(async () => (await a.client.rpc(a.session, 'get_match', { id })).payload.match.size === 1,
      3000, 'size after kick');

    // a failing loop stops that match and disconnects its players
    await sa.sendMatchState(id, 9, '');
    await waitFor(() => sa.events.disconnect.length, 5000, 'a disconnected');
    assert.equal((await a.client.rpc(a.session, 'get_match', { id })).payload.found, false);
    // the other match and the server are fine
    assert.deepEqual(await sig(other, 'still'), { result: 'got:still:1' });
    assert.ok((await sc.send({ ping: {} })).pong);
    assert.equal(sc.events.disconnect.length, 0);
    // a failing signal stops the match too
    assert.deepEqual(await sig(other, 'fail'), { error: 'failed to signal match: match busy' });
    await waitFor(() => sc.events.disconnect.length, 5000, 'c disconnected');
    // a nil state from match_signal: the result, then the match stops
    const { match_id: third } = await createMatch(a, {});
    assert.deepEqual(await sig(third, 'stop'), { result: 'bye' });
    await waitFor(async () => !(await a.client.rpc(a.session, 'get_match', { id: third })).payload.found,
      3000, 'third gone');
    const m = await fetch(`http://127.0.0.1:${srv.metricsPort}/metrics`).then((r) => r.text());
    assert.match(m, /^authoritative_match_count(\{[^}]*\})? \d+/m);
  } finally { closeAll(sa, sb, sc); }
});
