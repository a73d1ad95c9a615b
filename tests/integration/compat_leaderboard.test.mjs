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
