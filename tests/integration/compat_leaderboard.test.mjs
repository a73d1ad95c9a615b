// Leaderboards and tournaments through nakama-js 2.8.0 where Nakama's
// behaviour is easy to miss (nakama-js 2.8 has no deleteLeaderboardRecord:
// its apiClient's is used): a tournament's record is deleted only through
// the tournament call (3.16+; the leaderboard call answers 404 for it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, uid, rejectsWith } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
let srv;
let client;

before(async () => {
  srv = await startServer({ args: ['--runtime.path', path.join(here, 'fixtures/compat')] });
  client = srv.client();
});
after(async () => { if (srv) await srv.cleanup(); });

test('a tournament record is deleted by deleteTournamentRecord, not deleteLeaderboardRecord', async () => {
  const s = await client.authenticateDevice(`compat-lb-${uid()}`, true);
  await client.writeTournamentRecord(s, 'compat_t', { score: '7' });
  await rejectsWith(client.apiClient.deleteLeaderboardRecord(s.token, 'compat_t'), 404, 5, 'Leaderboard not found.');
  let list = await client.listTournamentRecords(s, 'compat_t');
  assert.equal(list.records.length, 1);
  await client.deleteTournamentRecord(s, 'compat_t');
  list = await client.listTournamentRecords(s, 'compat_t');
  assert.equal((list.records || []).length, 0);
  // A plain board's own record: deleted, and deleting again is fine.
  await client.writeLeaderboardRecord(s, 'compat_lb', { score: '3' });
  assert.deepEqual(await client.apiClient.deleteLeaderboardRecord(s.token, 'compat_lb'), {});
  assert.deepEqual(await client.apiClient.deleteLeaderboardRecord(s.token, 'compat_lb'), {});
  assert.equal(((await client.listLeaderboardRecords(s, 'compat_lb')).records || []).length, 0);
});

test('tournament write refusals are FAILED_PRECONDITION (code 9, HTTP 400), join refusals code 3', async () => {
  const a = await client.authenticateDevice(`compat-tw-${uid()}`, true);
  const b = await client.authenticateDevice(`compat-tw-${uid()}`, true);
  await rejectsWith(client.writeTournamentRecord(a, 'compat_tj', { score: '1' }), 400, 9,
    'Must join tournament before attempting to write value.');
  await client.joinTournament(a, 'compat_tj');
  assert.equal((await client.writeTournamentRecord(a, 'compat_tj', { score: '1' })).num_score, 1);
  // Join-required: an attempt past max_num_score changes nothing and answers the record (3.15).
  const same = await client.writeTournamentRecord(a, 'compat_tj', { score: '2' });
  assert.deepEqual([same.score, same.num_score], [1, 1]);
  await rejectsWith(client.joinTournament(b, 'compat_tj'), 400, 3,
    'Tournament cannot be joined as it has reached its max size.');
  await client.writeTournamentRecord(a, 'compat_tm', { score: '1' });
  await rejectsWith(client.writeTournamentRecord(a, 'compat_tm', { score: '2' }), 400, 9,
    'Reached allowed max number of score attempts.');
  await rejectsWith(client.writeTournamentRecord(b, 'compat_tm', { score: '1' }), 400, 9,
    'Tournament has reached max size.');
  await rejectsWith(client.writeTournamentRecord(a, 'compat_tf', { score: '1' }), 400, 9,
    'Tournament is not active and cannot accept new scores.');
  await rejectsWith(client.writeTournamentRecord(a, 'compat_none', { score: '1' }), 404, 5,
    'Tournament not found.');
});
