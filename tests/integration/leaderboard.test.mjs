// Leaderboards and tournaments over REST with nakama-js: writes with each
// operator, authoritative refusal, listings with ranks and cursors, around-
// owner windows, a reset (old records kept, the new period ranked apart),
// tournaments (join, size, attempts, window, expiry) and the rank cache
// after a restart. Boards are definitions a runtime module makes in
// Nakama; here they are seeded into the migrated database before the server
// starts (the runtime's nk functions have their own test).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { startServer, createPgDatabase, BACKEND, TOMO_BIN, sleep } from './harness.mjs';
import { newUser, waitFor } from './rtutil.mjs';

const now = Math.floor(Date.now() / 1000);
const BOARDS = [
  // id, authoritative, sort_order, operator, reset, metadata
  ['best', 0, 1, 0, '', '{}'], ['set', 0, 1, 1, '', '{}'], ['incr', 0, 1, 2, '', '{}'],
  ['decr', 0, 1, 3, '', '{}'], ['asc', 0, 0, 0, '', '{}'],
  ['auth', 1, 1, 0, '', '{"kind":"authoritative"}'], ['list', 0, 1, 0, '', '{}'],
  ['resets', 0, 1, 2, '*/3 * * * * * *', '{}'],
];
const TOURNAMENTS = [
  // id, authoritative, operator, duration, title, description, category, start, end,
  // max_size, max_num_score, join_required, metadata
  ['t_open', 0, 0, 3600, 'Open', 'open one', 1, now, 0, 2147483647, 2, 0, '{"prize":1}'],
  ['t_join', 0, 2, 3600, 'Join', '', 2, now, 0, 2, 1000000, 1, '{}'],
  ['t_auth', 1, 0, 3600, '', '', 0, now, 0, 2147483647, 1000000, 0, '{}'],
  ['t_short', 0, 0, 2, 'Short', '', 3, now, 0, 2147483647, 1000000, 0, '{}'],
  ['t_future', 0, 0, 60, 'Future', '', 4, now + 86400, 0, 2147483647, 1000000, 0, '{}'],
];
const q = (v) => (typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`);
function seedSql() {
  const ms = Date.now();
  const rows = BOARDS.map(([id, a, s, o, r, m]) =>
    `INSERT INTO leaderboard (id, authoritative, sort_order, operator, reset_schedule, metadata,
      create_time) VALUES (${[id, a, s, o, r, m, ms].map(q).join(', ')});`);
  for (const [id, a, o, d, t, desc, c, st, en, mx, mns, jr, m] of TOURNAMENTS) {
    rows.push(`INSERT INTO leaderboard (id, authoritative, sort_order, operator, metadata,
      create_time, duration, title, description, category, start_time, end_time, max_size,
      max_num_score, join_required) VALUES (${[id, a, 1, o, m, ms, d, t, desc, c, st, en, mx, mns,
      jr].map(q).join(', ')});`);
  }
  return rows.join('\n');
}

/** A migrated, seeded database: { dataDir } (SQLite) or { dbUrl } (Postgres). */
function seededStore() {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tomo-lb-'));
  if (BACKEND === 'postgres') {
    const dbUrl = createPgDatabase();
    execFileSync(TOMO_BIN, ['migrate', 'up', '--database.address', dbUrl], { stdio: 'pipe' });
    execFileSync('psql', [dbUrl, '-v', 'ON_ERROR_STOP=1', '-qc', seedSql()], { stdio: 'pipe' });
    return { dataDir, dbUrl };
  }
  execFileSync(TOMO_BIN, ['migrate', 'up', '--data_dir', dataDir], { stdio: 'pipe' });
  execFileSync('python3', ['-c',
    'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()',
    path.join(dataDir, 'tomo.db'), seedSql()], { stdio: 'pipe' });
  return { dataDir };
}

let srv, store;
before(async () => {
  store = seededStore();
  srv = await startServer({ ...store, keepData: true });
});
after(async () => { await srv?.cleanup(); });

/** A rejected nakama-js call: { status, code, message }. */
async function failure(p) {
  try {
    await p;
  } catch (r) {
    const body = await r.json();
    return { status: r.status, code: body.code, message: body.message };
  }
  assert.fail('expected the call to fail');
}

async function rawWrite(u, id, body, method = 'POST', kind = 'leaderboard') {
  const r = await fetch(`${srv.url}/v2/${kind}/${id}`, {
    method,
    headers: { Authorization: `Bearer ${u.session.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, json: await r.json() };
}

test('write with each operator; best is per field; no-op writes change nothing', async () => {
  const u = await newUser(srv, 'ops');
  const c = u.client, s = u.session;
  let r = await c.writeLeaderboardRecord(s, 'best', { score: 10, subscore: 5, metadata: { a: 1 } });
  assert.equal(r.score, 10);
  assert.equal(r.subscore, 5);
  assert.equal(r.num_score, 1);
  assert.equal(r.rank, 1);
  assert.equal(r.owner_id, u.userId);
  assert.equal(r.username, u.username);
  assert.deepEqual(r.metadata, { a: 1 });
  assert.equal(r.max_num_score, 1000000);
  assert.equal(r.expiry_time, undefined);
  r = await c.writeLeaderboardRecord(s, 'best', { score: 8, subscore: 9 });
  assert.deepEqual([r.score, r.subscore, r.num_score], [10, 9, 2]);
  assert.deepEqual(r.metadata, { a: 1 }, 'metadata kept when none is sent');
  r = await c.writeLeaderboardRecord(s, 'best', { score: 1, subscore: 1, metadata: { b: 2 } });
  assert.deepEqual([r.score, r.subscore, r.num_score], [10, 9, 2], 'no-op');
  assert.deepEqual(r.metadata, { a: 1 }, 'a no-op touches nothing');

  r = await c.writeLeaderboardRecord(s, 'set', { score: 10, subscore: 5 });
  r = await c.writeLeaderboardRecord(s, 'set', { score: 3, subscore: 4 });
  assert.deepEqual([r.score, r.subscore, r.num_score], [3, 4, 2]);

  r = await c.writeLeaderboardRecord(s, 'incr', { score: 10, subscore: 1 });
  r = await c.writeLeaderboardRecord(s, 'incr', { score: 5, subscore: 1 });
  assert.deepEqual([r.score, r.subscore, r.num_score], [15, 2, 2]);

  r = await c.writeLeaderboardRecord(s, 'decr', { score: 10, subscore: 10 });
  assert.deepEqual([r.score, r.subscore], [0, 0], 'a first decrement stores 0');
  await c.writeLeaderboardRecord(s, 'incr', { score: 0, subscore: 0 });

  r = await c.writeLeaderboardRecord(s, 'asc', { score: 10, subscore: 5 });
  r = await c.writeLeaderboardRecord(s, 'asc', { score: 12, subscore: 2 });
  assert.deepEqual([r.score, r.subscore], [10, 2], 'asc best keeps the lower of each');

  // the operator override (nakama-js 2.8 drops it, so send it raw)
  let w = await rawWrite(u, 'best', { score: '2', subscore: '0', operator: 'SET' });
  assert.equal(w.status, 200);
  assert.equal(w.json.score, '2');
  w = await rawWrite(u, 'best', { score: 3, operator: 3 }); // INCREMENT
  assert.equal(w.json.score, '5');
  w = await rawWrite(u, 'best', { score: 1, operator: 'DECREMENT' });
  assert.equal(w.json.score, '4');
});

test('write errors: unknown board, bad metadata, no body, negative result', async () => {
  const u = await newUser(srv, 'err');
  let f = await failure(u.client.writeLeaderboardRecord(u.session, 'nope', { score: 1 }));
  assert.deepEqual(f, { status: 404, code: 5, message: 'Leaderboard not found.' });
  let w = await rawWrite(u, 'best', { score: 1, metadata: '[1,2]' });
  assert.equal(w.status, 400);
  assert.equal(w.json.message, 'Metadata value must be JSON, if provided.');
  const r = await fetch(`${srv.url}/v2/leaderboard/best`, {
    method: 'POST', headers: { Authorization: `Bearer ${u.session.token}` },
  });
  assert.equal(r.status, 400);
  assert.equal((await r.json()).message, 'Invalid input, record score value is required.');
  w = await rawWrite(u, 'incr', { score: -5 });
  assert.equal(w.status, 500);
  assert.equal(w.json.message, 'Error writing score to leaderboard.');
  const l = await failure(u.client.listLeaderboardRecords(u.session, 'best', [], 101));
  assert.equal(l.status, 400);
  assert.equal(l.message, 'Invalid limit - limit must be between 1 and 100.');
  const o = await failure(u.client.listLeaderboardRecords(u.session, 'best', ['nope'], 10));
  assert.equal(o.message, 'One or more owner IDs are invalid.');
  const cur = await failure(u.client.listLeaderboardRecords(u.session, 'best', [], 5, 'bm9wZQ'));
  assert.equal(cur.message, 'Cursor is invalid or expired.');
});

test('authoritative boards refuse client writes and deletes', async () => {
  const u = await newUser(srv, 'auth');
  let f = await failure(u.client.writeLeaderboardRecord(u.session, 'auth', { score: 1 }));
  assert.deepEqual(f, { status: 403, code: 7,
    message: 'Leaderboard only allows authoritative score submissions.' });
  f = await failure(u.client.apiClient.deleteLeaderboardRecord(u.session.token, 'auth'));
  assert.equal(f.status, 403);
  assert.equal(f.message, 'Leaderboard only allows authoritative score deletions.');
  const list = await u.client.listLeaderboardRecords(u.session, 'auth', undefined, 10);
  assert.equal(list.records.length, 0);
});

let players; // 12 users on "list", scores 10, 20, ... 120
test('listing: ranks, cursors both ways, owner records, rank_count', async () => {
  players = [];
  for (let i = 1; i <= 12; i++) {
    const u = await newUser(srv, 'p' + i);
    await u.client.writeLeaderboardRecord(u.session, 'list', { score: i * 10 });
    players.push(u);
  }
  const me = players[0];
  const c = me.client, s = me.session;
  const p1 = await c.listLeaderboardRecords(s, 'list', undefined, 5);
  assert.deepEqual(p1.records.map((r) => r.rank), [1, 2, 3, 4, 5]);
  assert.deepEqual(p1.records.map((r) => r.score), [120, 110, 100, 90, 80]);
  assert.equal(p1.rank_count, 12);
  assert.ok(p1.next_cursor);
  assert.equal(p1.prev_cursor, undefined);
  const p2 = await c.listLeaderboardRecords(s, 'list', undefined, 5, p1.next_cursor);
  assert.deepEqual(p2.records.map((r) => r.rank), [6, 7, 8, 9, 10]);
  assert.deepEqual(p2.records.map((r) => r.score), [70, 60, 50, 40, 30]);
  assert.ok(p2.prev_cursor);
  const p3 = await c.listLeaderboardRecords(s, 'list', undefined, 5, p2.next_cursor);
  assert.deepEqual(p3.records.map((r) => r.rank), [11, 12]);
  assert.equal(p3.next_cursor, undefined);
  const back = await c.listLeaderboardRecords(s, 'list', undefined, 5, p2.prev_cursor);
  assert.deepEqual(back.records.map((r) => r.rank), [1, 2, 3, 4, 5]);
  assert.deepEqual(back.records.map((r) => r.score), [120, 110, 100, 90, 80]);
  assert.equal(back.prev_cursor, undefined);
  // default limit is 1
  const one = await c.listLeaderboardRecords(s, 'list');
  assert.equal(one.records.length, 1);
  // owner records with a page
  const owners = await c.listLeaderboardRecords(s, 'list',
    [players[0].userId, players[11].userId], 2);
  assert.equal(owners.records.length, 2);
  assert.deepEqual(owners.owner_records.map((r) => r.rank).sort((a, b) => a - b), [1, 12]);
});

test('around owner: the window, ranks from the cache, cursors', async () => {
  const me = players[5]; // score 60, rank 7
  const c = me.client, s = me.session;
  let r = await c.listLeaderboardRecordsAroundOwner(s, 'list', me.userId, 5);
  assert.deepEqual(r.records.map((x) => x.rank), [5, 6, 7, 8, 9]);
  assert.equal(r.records[2].owner_id, me.userId);
  assert.ok(r.next_cursor && r.prev_cursor);
  const below = await c.listLeaderboardRecordsAroundOwner(s, 'list', me.userId, 5, undefined,
    r.next_cursor);
  assert.deepEqual(below.records.map((x) => x.rank), [10, 11, 12]);
  // the default limit is 1: only the owner
  r = await c.listLeaderboardRecordsAroundOwner(s, 'list', me.userId);
  assert.deepEqual(r.records.map((x) => x.rank), [7]);
  // near the top the window starts at rank 1
  r = await c.listLeaderboardRecordsAroundOwner(s, 'list', players[11].userId, 4);
  assert.deepEqual(r.records.map((x) => x.rank), [1, 2, 3, 4]);
  // someone without a record
  const x = await newUser(srv, 'none');
  r = await c.listLeaderboardRecordsAroundOwner(s, 'list', x.userId, 5);
  assert.equal(r.records.length, 0);
  const f = await failure(c.listLeaderboardRecordsAroundOwner(s, 'list', 'bad', 5));
  assert.equal(f.message, 'Invalid owner ID provided.');
  // a better score moves the rank at once
  r = await rawWrite(me, 'list', { score: 1000 });
  assert.equal(r.json.rank, '1');
  // nakama-js 2.8 has the call only on its generated API client
  await me.client.apiClient.deleteLeaderboardRecord(me.session.token, 'list');
  const top = await c.listLeaderboardRecords(s, 'list', undefined, 1);
  assert.equal(top.records[0].score, 120);
  assert.equal(top.rank_count, 11);
});

test('reset: a new period at each tick, old records kept, ranked apart', async () => {
  const u = await newUser(srv, 'reset');
  const c = u.client, s = u.session;
  const first = await c.writeLeaderboardRecord(s, 'resets', { score: 5 });
  assert.ok(first.expiry_time, 'a scheduled board has an expiry');
  const expiry = Math.floor(Date.parse(first.expiry_time) / 1000);
  while (Date.now() / 1000 < expiry + 0.2) await sleep(100);
  const now = await c.listLeaderboardRecords(s, 'resets', undefined, 10);
  assert.equal(now.records.length, 0, 'the new period starts empty');
  const old = await c.listLeaderboardRecords(s, 'resets', undefined, 10, undefined, expiry);
  assert.equal(old.records.length, 1, 'history stays readable with expiry');
  assert.equal(old.records[0].score, 5);
  const again = await c.writeLeaderboardRecord(s, 'resets', { score: 3 });
  assert.deepEqual([again.score, again.num_score, again.rank], [3, 1, 1], 'incr starts over');
  assert.ok(Date.parse(again.expiry_time) > Date.parse(first.expiry_time));
});

test('tournaments: list, join, max size, attempts, authoritative, window', async () => {
  const [a, b, c3] = [await newUser(srv, 'ta'), await newUser(srv, 'tb'), await newUser(srv, 'tc')];
  const list = await a.client.listTournaments(a.session, 0, 127, undefined, undefined, 10);
  const ids = list.tournaments.map((t) => t.id);
  assert.deepEqual(ids.slice().sort(), ['t_auth', 't_future', 't_join', 't_open', 't_short']);
  const open = list.tournaments.find((t) => t.id === 't_open');
  assert.equal(open.title, 'Open');
  assert.equal(open.description, 'open one');
  assert.equal(open.category, 1);
  assert.equal(open.duration, 3600);
  assert.equal(open.max_num_score, 2);
  assert.equal(open.can_enter, true);
  assert.deepEqual(open.metadata, { prize: 1 });
  const fut = list.tournaments.find((t) => t.id === 't_future');
  assert.ok(!fut.can_enter, 'not started: cannot enter');
  const cat = await a.client.listTournaments(a.session, 2, 2, undefined, undefined, 10);
  assert.deepEqual(cat.tournaments.map((t) => t.id), ['t_join']);
  const page = await a.client.listTournaments(a.session, 0, 127, undefined, undefined, 2);
  assert.equal(page.tournaments.length, 2);
  assert.ok(page.cursor);
  const rest = await a.client.listTournaments(a.session, 0, 127, undefined, undefined, 10,
    page.cursor);
  assert.equal(rest.tournaments.length, 3);

  // join required, max size 2
  let f = await failure(a.client.writeTournamentRecord(a.session, 't_join', { score: 1 }));
  assert.deepEqual(f, { status: 400, code: 9,
    message: 'Must join tournament before attempting to write value.' });
  await a.client.joinTournament(a.session, 't_join');
  await a.client.joinTournament(a.session, 't_join'); // again: no-op
  await b.client.joinTournament(b.session, 't_join');
  f = await failure(c3.client.joinTournament(c3.session, 't_join'));
  assert.equal(f.message, 'Tournament cannot be joined as it has reached its max size.');
  let r = await a.client.writeTournamentRecord(a.session, 't_join', { score: 4 });
  assert.deepEqual([r.score, r.num_score, r.rank], [4, 1, 1]);
  r = await a.client.writeTournamentRecord(a.session, 't_join', { score: 4 });
  assert.equal(r.score, 8);
  const joined = await a.client.listTournamentRecords(a.session, 't_join', undefined, 10);
  assert.deepEqual(joined.records.map((x) => [x.score, x.rank]), [[8, 1], [0, 2]]);
  const sized = (await a.client.listTournaments(a.session, 2, 2)).tournaments[0];
  assert.equal(sized.size, 2);
  assert.equal(sized.max_size, 2);
  assert.ok(!sized.can_enter, 'full: cannot enter');

  // max_num_score 2 (not join-required: the third attempt is refused)
  await a.client.writeTournamentRecord(a.session, 't_open', { score: 1 });
  await a.client.writeTournamentRecord(a.session, 't_open', { score: 2 });
  f = await failure(a.client.writeTournamentRecord(a.session, 't_open', { score: 3 }));
  assert.equal(f.message, 'Reached allowed max number of score attempts.');
  r = (await a.client.listTournamentRecords(a.session, 't_open', [a.userId])).owner_records[0];
  assert.deepEqual([r.score, r.num_score, r.max_num_score], [2, 2, 2]);
  const around = await a.client.listTournamentRecordsAroundOwner(a.session, 't_open', a.userId);
  assert.equal(around.records[0].owner_id, a.userId);

  // authoritative (the Lua default): only the runtime writes
  f = await failure(a.client.writeTournamentRecord(a.session, 't_auth', { score: 1 }));
  assert.deepEqual(f, { status: 403, code: 7,
    message: 'Tournament only allows authoritative score submissions.' });
  // not started yet
  f = await failure(a.client.writeTournamentRecord(a.session, 't_future', { score: 1 }));
  assert.equal(f.message, 'Tournament is not active and cannot accept new scores.');
  // deleting one's record frees a place (DELETE /v2/tournament/{id}, Nakama 3.16+)
  await b.client.deleteTournamentRecord(b.session, 't_join');
  await c3.client.joinTournament(c3.session, 't_join');
  f = await failure(a.client.joinTournament(a.session, 'nope'));
  assert.deepEqual(f, { status: 404, code: 5, message: 'Tournament not found.' });
  f = await failure(a.client.writeTournamentRecord(a.session, 'best', { score: 1 }));
  assert.equal(f.status, 404, 'a plain board is not a tournament');

});

test('tournament expiry: after the active window, writes and joins are refused', async () => {
  const u = await newUser(srv, 'short');
  // t_short lasts 2 s from server start
  await waitFor(async () => {
    const t = (await u.client.listTournaments(u.session, 3, 3)).tournaments[0];
    return t && t.end_active <= Date.now() / 1000 - 0.5;
  }, 5000, 't_short to end');
  const f = await failure(u.client.writeTournamentRecord(u.session, 't_short', { score: 1 }));
  assert.equal(f.message, 'Tournament is not active and cannot accept new scores.');
});

test('a restart fills the rank cache from the database', async () => {
  const me = players[3]; // score 40
  await srv.stop();
  srv = await startServer({ ...store, migrate: false });
  await waitFor(async () => {
    const r = await srv.client().listLeaderboardRecordsAroundOwner(me.session, 'list', me.userId);
    return r.records.length === 1 && r.records[0].rank === 8;
  }, 5000, 'rank from the refilled cache');
});
