// Authoritative match listing: GET /v2/match (nakama-js listMatches) and
// nk.match_list over labels set by match_init and match_label_update, with
// Nakama's query syntax (ranges, must / must-not, terms in arrays, quoted
// values, nested fields, wildcards, regexps, datetimes, boosts), exact
// labels, sizes, relayed matches, validation errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer } from './harness.mjs';
import { newUser, connect, closeAll, waitFor } from './rtutil.mjs';
import { writeModules, createMatch } from './amatch_util.mjs';

const LABELS = {
  L1: { mode: 'ranked', skill: 50, region: 'eu', tags: ['fast', 'pro'], meta: { map: 'dust', size: 4 }, name: 'Big Arena', open: true },
  L2: { mode: 'ranked', skill: 80, region: 'us', tags: ['slow'], meta: { map: 'ice', size: 8 }, name: 'Ice Palace', open: false },
  L3: { mode: 'casual', skill: 20, region: 'eu', tags: ['fast', 'fun'], meta: { map: 'dust', size: 2 }, name: 'Dust Bowl', open: true },
  L4: { mode: 'casual', skill: 100, region: 'asia', tags: [], meta: { map: 'lava', size: 16 }, name: 'Lava Pit', created: '2024-05-01T10:00:00Z' },
};

// query -> expected labels (a Set when the order is free, an array when the
// score order is the point)
const QUERIES = [
  ['+label.mode:ranked', new Set(['L1', 'L2'])],
  ['label.mode:ranked', new Set(['L1', 'L2'])],
  ['+label.skill:>=50', new Set(['L1', 'L2', 'L4'])],
  ['+label.skill:>50', new Set(['L2', 'L4'])],
  ['+label.skill:<=50', new Set(['L1', 'L3'])],
  ['+label.skill:<20', new Set([])],
  ['+label.skill:>=20 +label.skill:<=50', new Set(['L1', 'L3'])],
  ['+label.skill:50', new Set(['L1'])],
  ['+label.mode:ranked +label.skill:>=60', new Set(['L2'])],
  ['+label.mode:casual -label.region:eu', new Set(['L4'])],
  ['-label.mode:ranked', new Set(['L3', 'L4', 'L5'])],
  ['+label.mode:ranked -label.tags:slow', new Set(['L1'])],
  ['+label.tags:fast', new Set(['L1', 'L3'])],
  ['+label.tags:fast +label.tags:pro', new Set(['L1'])],
  ['label.tags:slow label.tags:fun', new Set(['L2', 'L3'])],
  ['+label.meta.map:dust', new Set(['L1', 'L3'])],
  ['+label.meta.size:>=8', new Set(['L2', 'L4'])],
  ['+label.name:"Big Arena"', new Set(['L1'])],
  ['+label.name:Big', new Set([])],
  ['+label.region:eu +label.open:T', new Set(['L1', 'L3'])],
  ['+label.open:true', new Set([])],
  ['+label.mode:rank*', new Set(['L1', 'L2'])],
  ['+label.region:/e./', new Set(['L1', 'L3'])],
  ['+label.created:>"2024-01-01T00:00:00Z"', new Set(['L4'])],
  ['+label.created:<"2024-01-01T00:00:00Z"', new Set([])],
  ['mode:ranked', new Set([])],
  ['ranked', new Set([])],
  ['*', new Set(['L1', 'L2', 'L3', 'L4', 'L5'])],
  ['', new Set(['L1', 'L2', 'L3', 'L4', 'L5'])],
  ['label.mode:ranked^5 label.region:eu', ['L1', 'L2', 'L3']],
  ['+label.region:eu label.mode:casual^2', ['L3', 'L1']],
  ['+label_string:lobby-1', new Set(['L5'])],
];

let srv, dir, u, ids;
const nameOf = (id) => Object.keys(ids).find((k) => ids[k] === id) || id;

before(async () => {
  dir = writeModules();
  srv = await startServer({ args: ['--runtime.path', dir] });
  u = await newUser(srv, 'lister');
  ids = {};
  // created oldest first: L5 is the newest
  for (const [k, l] of Object.entries(LABELS)) ids[k] = (await createMatch(u, { label: JSON.stringify(l) })).match_id;
  ids.L5 = (await createMatch(u, { label: 'lobby-1' })).match_id;
});
after(async () => {
  // a clean exit (sanitizer builds: no report at shutdown with live matches)
  const r = await srv?.stop();
  await srv?.cleanup();
  assert.equal(r?.code, 0, srv?.logs().slice(-3000));
  rmSync(dir, { recursive: true, force: true });
});

const rest = async (q) => (await u.client.listMatches(u.session, 100, true, undefined, undefined, undefined, q)).matches || [];
const lua = async (args) => {
  const p = (await u.client.rpc(u.session, 'list_matches', args)).payload;
  if (!Array.isArray(p.ids)) p.ids = []; // json_encode({}) of an empty table
  return p;
};

for (const [q, want] of QUERIES) {
  test(`query ${JSON.stringify(q)}`, async () => {
    const got = (await rest(q)).map((m) => nameOf(m.match_id));
    const viaLua = (await lua({ limit: 100, authoritative: true, query: q })).ids.map(nameOf);
    if (want instanceof Set) {
      assert.deepEqual(new Set(got), want, 'REST');
      assert.equal(got.length, want.size, 'REST: no duplicates');
      assert.deepEqual(new Set(viaLua), want, 'nk.match_list');
    } else {
      assert.deepEqual(got, want, 'REST order by score');
      assert.deepEqual(viaLua, want, 'nk.match_list order');
    }
  });
}

test('listing shape, no filter (newest first), limit, exact label', async () => {
  const all = await rest(undefined);
  assert.deepEqual(all.map((m) => nameOf(m.match_id)), ['L5', 'L4', 'L3', 'L2', 'L1']);
  assert.deepEqual(all[0], { match_id: ids.L5, authoritative: true, label: 'lobby-1', tick_rate: 10,
    handler_name: 'arena' });
  const two = await u.client.listMatches(u.session, 2, true);
  assert.equal(two.matches.length, 2);
  const byLabel = await u.client.listMatches(u.session, 10, true, 'lobby-1');
  assert.deepEqual(byLabel.matches.map((m) => m.match_id), [ids.L5]);
  const byJsonLabel = await u.client.listMatches(u.session, 10, undefined, JSON.stringify(LABELS.L2));
  assert.deepEqual(byJsonLabel.matches.map((m) => m.match_id), [ids.L2]);
  // nk.match_list: default limit 1, the match table
  const one = await lua({});
  assert.equal(one.n, 1);
  assert.deepEqual(one.first, { match_id: ids.L5, authoritative: true, label: 'lobby-1', size: 0, tick_rate: 10,
    handler_name: 'arena' });
  assert.deepEqual((await lua({ limit: 10, label: 'lobby-1' })).ids, [ids.L5]);
});

test('sizes, relayed matches, label updates visible at once, validation', async () => {
  const [a, b] = [await newUser(srv, 'pa'), await newUser(srv, 'pb')];
  const sa = await connect(srv, a);
  const sb = await connect(srv, b, { protobuf: true });
  try {
    await sa.joinMatch(ids.L1);
    await sb.joinMatch(ids.L1);
    await waitFor(async () => (await rest('+label.mode:ranked')).find((m) => m.match_id === ids.L1)?.size === 2,
      3000, 'size 2');
    const sized = await u.client.listMatches(u.session, 10, true, undefined, 1, 5);
    assert.deepEqual(sized.matches.map((m) => m.match_id), [ids.L1]);
    const empty = await u.client.listMatches(u.session, 10, true, undefined, 0, 0);
    assert.equal(empty.matches.length, 4);
    assert.deepEqual((await lua({ limit: 10, min_size: 2, max_size: 2 })).ids, [ids.L1]);

    // a relayed match: appended when authoritative is unset, alone when false
    const r = await sa.createMatch();
    const unset = await u.client.listMatches(u.session, 100);
    assert.equal(unset.matches.length, 6);
    assert.equal(unset.matches[5].match_id, r.match_id);
    assert.deepEqual((await u.client.listMatches(u.session, 100, false)).matches.map((m) => m.match_id), [r.match_id]);
    assert.equal((await u.client.listMatches(u.session, 100, true)).matches.length, 5);
    assert.equal((await lua({ limit: 100 })).n, 6);
    assert.equal((await lua({ limit: 100, authoritative: false })).ids[0], r.match_id);

    // the match updates its label: the next listing sees it
    await sa.sendMatchState(ids.L1, 5, JSON.stringify({ mode: 'ranked', skill: 10 }));
    await waitFor(() => sa.events.matchdata.some((d) => d.op_code === 6), 3000, 'label ack');
    assert.deepEqual((await rest('+label.skill:<=10')).map((m) => m.match_id), [ids.L1]);
    assert.deepEqual(new Set((await rest('+label.skill:>=50')).map((m) => nameOf(m.match_id))), new Set(['L2', 'L4']));

    // validation (Nakama's messages)
    const get = (qs) => fetch(`${srv.url}/v2/match?${qs}`, { headers: { Authorization: `Bearer ${u.session.token}` } });
    let res = await get('authoritative=false&label=x');
    assert.equal(res.status, 400);
    assert.equal((await res.json()).message, 'Label filtering is not supported for non-authoritative matches.');
    res = await get('authoritative=false&query=x');
    assert.equal((await res.json()).message, 'Query filtering is not supported for non-authoritative matches.');
    res = await get('query=' + encodeURIComponent('label.name:"unterminated'));
    assert.equal(res.status, 500);
    assert.equal((await res.json()).message, 'Error listing matches.');
    assert.match((await lua({ query: 'label.name:"unterminated' })).error, /failed to list matches/);
  } finally { closeAll(sa, sb); }
});
