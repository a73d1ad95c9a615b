// Leaderboards and tournaments from the Lua runtime (fixtures/leaderboard):
// boards defined by a module at load (idempotently), authoritative writes by
// the server while clients are refused, the nk listing and haystack
// functions, tournaments through nk (join, attempts, write, list, get), the
// reset and end hooks, argument errors and nk.cron_next / cron_prev.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './harness.mjs';
import { newUser, waitFor } from './rtutil.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const MODULES = path.join(here, 'fixtures', 'leaderboard');

let srv;
before(async () => {
  srv = await startServer({ args: ['--runtime.path', MODULES] });
});
after(async () => { await srv?.cleanup(); });

const rpc = async (u, id, obj) => (await u.client.rpc(u.session, id, obj)).payload;

async function failure(p) {
  try {
    await p;
  } catch (r) {
    const body = await r.json();
    return { status: r.status, code: body.code, message: body.message };
  }
  assert.fail('expected the call to fail');
}

test('boards from the module; the server writes where clients are refused', async () => {
  const u = await newUser(srv, 'auth');
  const f = await failure(u.client.writeLeaderboardRecord(u.session, 'auth', { score: 1 }));
  assert.deepEqual(f, { status: 403, code: 7,
    message: 'Leaderboard only allows authoritative score submissions.' });
  const rec = await rpc(u, 'lb_write', { id: 'auth', owner: u.userId, username: 'srv', score: 42,
    subscore: 1, metadata: { from: 'server' } });
  assert.equal(rec.score, 42);
  assert.equal(rec.rank, 1);
  assert.equal(rec.username, 'srv');
  assert.deepEqual(rec.metadata, { from: 'server' });
  assert.equal(typeof rec.create_time, 'number');
  assert.equal(rec.expiry_time, undefined);
  const again = await rpc(u, 'lb_write', { id: 'auth', owner: u.userId, score: 50,
    override: 'incr' });
  assert.equal(again.score, 92);
  const list = await u.client.listLeaderboardRecords(u.session, 'auth', [u.userId]);
  assert.equal(list.owner_records[0].score, 92);
  await rpc(u, 'lb_delete', { id: 'auth', owner: u.userId });
  const after = await u.client.listLeaderboardRecords(u.session, 'auth', [u.userId]);
  assert.equal(after.owner_records.length, 0);
  const boards = await rpc(u, 'lb_get', { ids: ['auth', 'best', 'nope'] });
  assert.equal(boards.length, 2);
  const auth = boards.find((b) => b.id === 'auth');
  assert.equal(auth.authoritative, true);
  assert.equal(auth.sort_order, '1');
  assert.equal(auth.operator, 'best');
  assert.deepEqual(auth.metadata, { kind: 'authoritative' });
  const best = boards.find((b) => b.id === 'best');
  assert.equal(best.authoritative, false, 'the second create left the board as it was');
  assert.equal(best.sort_order, '1');
});

test('nk listing and haystack: ranks, cursors, owner records', async () => {
  const users = [];
  for (let i = 1; i <= 6; i++) {
    const u = await newUser(srv, 'l' + i);
    await u.client.writeLeaderboardRecord(u.session, 'list', { score: i * 10 });
    users.push(u);
  }
  const me = users[0];
  const owners = await rpc(me, 'lb_list', { id: 'list', owners: [users[2].userId], limit: 0 });
  assert.deepEqual(owners.records, {}, 'limit 0: owner records only');
  assert.equal(owners.owners[0].rank, 4);
  const page = await rpc(me, 'lb_list', { id: 'list', limit: 4 });
  assert.deepEqual(page.records.map((r) => r.rank), [1, 2, 3, 4]);
  assert.ok(page.next);
  const next = await rpc(me, 'lb_list', { id: 'list', limit: 4, cursor: page.next });
  assert.deepEqual(next.records.map((r) => r.score), [20, 10]);
  const hay = await rpc(me, 'lb_haystack', { id: 'list', owner: users[2].userId, limit: 3 });
  assert.deepEqual(hay.records.map((r) => r.rank), [3, 4, 5]);
});

test('tournaments through nk: join, attempts, authoritative write, list, get', async () => {
  const a = await newUser(srv, 'ta');
  await rpc(a, 't_join', { id: 't_join', owner: a.userId, username: a.username });
  let r = await rpc(a, 't_write', { id: 't_join', owner: a.userId, score: 3 });
  assert.equal(r.score, 3);
  r = await rpc(a, 't_write', { id: 't_join', owner: a.userId, score: 3 });
  assert.equal(r.score, 6, 'the tournament operator is incr');
  await a.client.writeTournamentRecord(a.session, 't_open', { score: 1 });
  await a.client.writeTournamentRecord(a.session, 't_open', { score: 2 });
  const f = await failure(a.client.writeTournamentRecord(a.session, 't_open', { score: 3 }));
  assert.equal(f.message, 'Reached allowed max number of score attempts.');
  await rpc(a, 't_attempt', { id: 't_open', owner: a.userId, count: 1 });
  const w = await a.client.writeTournamentRecord(a.session, 't_open', { score: 3 });
  assert.deepEqual([w.score, w.num_score, w.max_num_score], [3, 3, 3]);
  const auth = await failure(a.client.writeTournamentRecord(a.session, 't_auth', { score: 1 }));
  assert.equal(auth.status, 403, 'tournaments are authoritative by default in Lua');
  const srvRec = await rpc(a, 't_write', { id: 't_auth', owner: a.userId, score: 9,
    override: 'SET' });
  assert.equal(srvRec.rank, 1);
  const hay = await rpc(a, 't_haystack', { id: 't_auth', owner: a.userId, limit: 5 });
  assert.equal(hay.records[0].score, 9);
  const lua = await rpc(a, 't_list', { cs: 0, ce: 127, limit: 10 });
  const ids = lua.tournaments.map((t) => t.id).sort();
  assert.deepEqual(ids, ['t_auth', 't_future', 't_join', 't_open', 't_short']);
  const t = lua.tournaments.find((x) => x.id === 't_join');
  assert.equal(t.join_required, true);
  assert.equal(t.size, 1);
  assert.equal(t.max_size, 2);
  assert.equal(t.sort_order, '1');
  assert.equal(t.operator, 'increment');
  assert.equal(t.title, 'Join');
  assert.equal(typeof t.start_active, 'number');
  const open = lua.tournaments.find((x) => x.id === 't_open');
  assert.deepEqual(open.metadata, { prize: 1 });
  assert.equal(open.category, 1);
  const got = await rpc(a, 't_get', { ids: ['t_open', 'best'] });
  assert.equal(got.length, 1);
  assert.equal(got[0].id, 't_open');
  // the client view of the same tournament
  const rest = await a.client.listTournaments(a.session, 1, 1);
  assert.equal(rest.tournaments[0].title, 'Open');
  assert.equal(rest.tournaments[0].authoritative, undefined);
});

test('the reset hook runs at each tick of a scheduled board', async () => {
  const u = await newUser(srv, 'reset');
  const first = await u.client.writeLeaderboardRecord(u.session, 'resets', { score: 5 });
  const expiry = Math.floor(Date.parse(first.expiry_time) / 1000);
  await waitFor(async () => {
    const hooks = await rpc(u, 'hooks', {});
    return Array.isArray(hooks) && hooks.some((h) => h.id === 'resets' && h.at === expiry &&
      h.kind === `leaderboard_reset:${expiry}`);
  }, 6000, 'leaderboard reset hook for the period just ended');
});

test('the tournament end hook runs when the active window closes', async () => {
  const u = await newUser(srv, 'end');
  // rtutil's waitFor polls synchronous conditions: poll the RPC by hand.
  const deadline = Date.now() + 8000;
  let fired = false;
  while (!fired && Date.now() < deadline) {
    const hooks = await rpc(u, 'hooks', {});
    fired = Array.isArray(hooks) && hooks.some((h) => h.id === 't_short' && h.kind === 'tournament_end');
    if (!fired) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(fired, 'tournament end hook');
  const f = await failure(u.client.writeTournamentRecord(u.session, 't_short', { score: 1 }));
  assert.equal(f.message, 'Tournament is not active and cannot accept new scores.');
});

test('runtime argument errors and the cron helpers', async () => {
  const u = await newUser(srv, 'lua');
  const e = await rpc(u, 'errors', {});
  assert.match(e.sort, /sort order/);
  assert.match(e.cron, /CRON/);
  assert.match(e.duration, /duration/);
  assert.match(e.taken, /cannot create tournament as leaderboard is already in use/);
  const cr = await rpc(u, 'cron', { expr: '0 0 * * *', ts: 1704067200 + 3600 });
  assert.equal(cr.next, 1704067200 + 86400);
  assert.equal(cr.prev, 1704067200);
});
