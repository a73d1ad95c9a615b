// Matchmaker: matchmaker_add / _remove, matchmaker_matched with a token that
// joins a relayed match, query matching (both ways with rev_precision),
// count_multiple, validation errors, and tickets gone on removal or
// disconnect; nakama-js over JSON and protobuf. Intervals are 1 s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, sleep } from './harness.mjs';
import { newUser, connect, waitFor, closeAll } from './rtutil.mjs';

let srv, rev;
before(async () => {
  [srv, rev] = await Promise.all([
    startServer({ args: ['--matchmaker.interval_sec', '1'] }),
    startServer({ args: ['--matchmaker.interval_sec', '1', '--matchmaker.rev_precision', 'true'] }),
  ]);
});
after(async () => { await Promise.all([srv?.cleanup(), rev?.cleanup()]); });

/** A connected user whose matchmaker_matched pushes are recorded. */
async function player(server, name, opts = {}) {
  const u = await newUser(server, name);
  const s = await connect(server, u, opts);
  s.matched = [];
  s.onmatchmakermatched = (m) => s.matched.push(m);
  s.user = u;
  return s;
}

const uniq = () => 'm' + Math.random().toString(36).slice(2, 10);

for (const protobuf of [false, true]) {
  const fmt = protobuf ? 'protobuf' : 'json';
  test(`${fmt}: two matching tickets are matched; the token joins both to one relayed match`, async () => {
    const mode = uniq();
    const [a, b, c] = [await player(srv, 'a', { protobuf }), await player(srv, 'b', { protobuf: !protobuf }),
      await player(srv, 'c', { protobuf })];
    try {
      const q = `+properties.mode:${mode} +properties.skill:>=10`;
      const ta = await a.addMatchmaker(q, 2, 2, { mode }, { skill: 12 });
      assert.match(ta.ticket, /^[0-9a-f-]{36}$/);
      // c's mode differs (and its query wants its own): it must stay unmatched
      const tc = await c.addMatchmaker(`+properties.mode:${mode}x`, 2, 2, { mode: 'other' }, { skill: 50 });
      const tb = await b.addMatchmaker(`+properties.mode:${mode}`, 2, 2, { mode, region: 'eu' }, { skill: 10 });
      await waitFor(() => a.matched.length && b.matched.length, 4000, 'matchmaker_matched');
      const [ma, mb] = [a.matched[0], b.matched[0]];
      assert.equal(ma.ticket, ta.ticket);
      assert.equal(mb.ticket, tb.ticket);
      assert.ok(ma.token && ma.token === mb.token, 'one token for the match');
      assert.equal(ma.match_id, undefined);
      assert.equal(ma.users.length, 2);
      assert.deepEqual(ma.users.map((x) => x.presence.user_id).sort(), [a.user.userId, b.user.userId].sort());
      assert.equal(ma.self.presence.user_id, a.user.userId);
      assert.equal(mb.self.presence.username, b.user.username);
      const ub = ma.users.find((x) => x.presence.user_id === b.user.userId);
      assert.equal(ub.string_properties.region, 'eu');
      assert.equal(ub.numeric_properties.skill, 10);
      // The token joins a relayed match; the second joiner sees the first.
      const ja = await a.joinMatch(undefined, ma.token);
      assert.match(ja.match_id, /^[0-9a-f-]{36}\.$/);
      const jb = await b.joinMatch(undefined, mb.token);
      assert.equal(jb.match_id, ja.match_id);
      assert.deepEqual(jb.presences.map((p) => p.user_id), [a.user.userId]);
      assert.equal(c.matched.length, 0);
      // a matched ticket is gone: removing it is an error
      await assert.rejects(a.removeMatchmaker(ta.ticket), (e) => e.code === 3 && e.message === 'Matchmaker ticket not found');
      await c.removeMatchmaker(tc.ticket);
    } finally { closeAll(a, b, c); }
  });
}

test('validation: counts, count_multiple, query, max_tickets', async () => {
  const a = await player(srv, 'v');
  try {
    const add = (body) => a.send({ matchmaker_add: { query: '*', ...body } });
    const bad = async (body, code, message) => {
      await assert.rejects(add(body), (e) => (e.code ?? 0) === code && e.message === message, JSON.stringify(body));
    };
    await bad({ min_count: 1, max_count: 2 }, 3, 'Invalid minimum count, must be >= 2');
    await bad({ min_count: 3, max_count: 2 }, 3, 'Invalid maximum count, must be >= minimum count');
    await bad({ min_count: 2, max_count: 4, count_multiple: 0 }, 3, 'Invalid count multiple, must be >= 1');
    await bad({ min_count: 2, max_count: 6, count_multiple: 3 }, 3, 'Invalid count multiple for minimum count, must divide');
    await bad({ min_count: 2, max_count: 5, count_multiple: 2 }, 3, 'Invalid count multiple for maximum count, must divide');
    await bad({ min_count: 2, max_count: 2, query: 'properties.x:"open' }, 0, 'Error adding to matchmaker');
    await assert.rejects(a.removeMatchmaker(''), (e) => e.code === 3 && e.message === 'Invalid matchmaker ticket');
    // max_tickets (3) per session
    const q = `+properties.mode:${uniq()}`;
    const ts = [];
    for (let i = 0; i < 3; i++) ts.push((await a.addMatchmaker(q, 2, 2, {}, {})).ticket);
    await assert.rejects(a.addMatchmaker(q, 2, 2, {}, {}), (e) => (e.code ?? 0) === 0 && e.message === "Error adding to matchmaker");
    await a.removeMatchmaker(ts[0]);
    ts.push((await a.addMatchmaker(q, 2, 2, {}, {})).ticket);
    await assert.rejects(a.removeMatchmaker(ts[0]), (e) => e.code === 3 && e.message === 'Matchmaker ticket not found');
  } finally { closeAll(a); }
});

test('count_multiple trims the match; removed and disconnected tickets never match; one-way queries', async () => {
  const m1 = uniq(), m2 = uniq(), m3 = uniq();
  // count_multiple 2 with three 2..4 tickets: one match of two, one left over
  const cm = [await player(srv, 'c1'), await player(srv, 'c2'), await player(srv, 'c3')];
  // removal and disconnect
  const [r1, r2, d1, d2] = [await player(srv, 'r1'), await player(srv, 'r2'), await player(srv, 'd1'), await player(srv, 'd2')];
  // one side's query only: matched by default, not with rev_precision
  const [o1, o2] = [await player(srv, 'o1'), await player(srv, 'o2')];
  const [p1, p2] = [await player(rev, 'p1'), await player(rev, 'p2')];
  try {
    for (const s of cm) {
      await s.send({ matchmaker_add: { query: `+properties.mode:${m1}`, min_count: 2, max_count: 4,
        count_multiple: 2, string_properties: { mode: m1 } } });
    }
    const tr = await r1.addMatchmaker(`+properties.mode:${m2}`, 2, 2, { mode: m2 }, {});
    await r1.removeMatchmaker(tr.ticket);
    await r2.addMatchmaker(`+properties.mode:${m2}`, 2, 2, { mode: m2 }, {});
    await d1.addMatchmaker(`+properties.mode:${m3}`, 2, 2, { mode: m3 }, {});
    d1.disconnect(false);
    await sleep(100);
    await d2.addMatchmaker(`+properties.mode:${m3}`, 2, 2, { mode: m3 }, {});
    const oneWay = async (x, y, mode) => {
      await x.addMatchmaker(`+properties.mode:${mode}`, 2, 2, { mode, region: 'eu' }, {});
      await y.addMatchmaker(`+properties.region:us`, 2, 2, { mode, region: 'eu' }, {});
    };
    const om = uniq();
    await oneWay(o1, o2, om);
    await oneWay(p1, p2, om);
    await waitFor(() => cm.filter((s) => s.matched.length).length === 2 && o1.matched.length && o2.matched.length,
      4000, 'matches');
    await sleep(2300); // two more intervals: nothing else may match
    const got = cm.filter((s) => s.matched.length);
    assert.equal(got.length, 2);
    assert.equal(got[0].matched[0].users.length, 2);
    assert.equal(got[0].matched[0].token, got[1].matched[0].token);
    assert.equal(cm.reduce((n, s) => n + s.matched.length, 0), 2);
    assert.equal(r1.matched.length + r2.matched.length, 0);
    assert.equal(d2.matched.length, 0);
    assert.equal(p1.matched.length + p2.matched.length, 0);
  } finally { closeAll(...cm, r1, r2, d1, d2, o1, o2, p1, p2); }
});

test('with rev_precision, tickets whose queries match each other are matched', async () => {
  const mode = uniq();
  const [a, b] = [await player(rev, 'a', { protobuf: true }), await player(rev, 'b')];
  try {
    await a.addMatchmaker(`+properties.mode:${mode} +properties.level:>=3`, 2, 2, { mode }, { level: 5 });
    await b.addMatchmaker(`+properties.mode:${mode} +properties.level:<=5`, 2, 2, { mode }, { level: 3 });
    await waitFor(() => a.matched.length && b.matched.length, 4000, 'matchmaker_matched');
    assert.equal(a.matched[0].token, b.matched[0].token);
  } finally { closeAll(a, b); }
});

test('metrics: matchmaker gauges are exported', async () => {
  const res = await fetch(`http://127.0.0.1:${srv.metricsPort}/metrics`);
  const text = await res.text();
  assert.match(text, /^matchmaker_tickets/m);
  assert.match(text, /^matchmaker_active_tickets/m);
});
