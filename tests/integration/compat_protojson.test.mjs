// REST responses render as Nakama's gateway (protojson) renders them: an
// empty repeated field is omitted, never `[]` (checked on raw responses;
// nakama-js turns a missing list into [] itself).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uid } from './harness.mjs';

let srv;
let client;

before(async () => {
  srv = await startServer();
  client = srv.client();
});
after(async () => { if (srv) await srv.cleanup(); });

async function get(session, path) {
  const r = await fetch(`${srv.url}${path}`, { headers: { Authorization: `Bearer ${session.token}` } });
  assert.equal(r.status, 200, path);
  return r.json();
}

test('empty lists are omitted from REST responses', async () => {
  const s = await client.authenticateDevice(`pj-${uid()}`, true);
  assert.deepEqual(await get(s, '/v2/friend'), {});
  assert.deepEqual(await get(s, '/v2/friend/friends'), {});
  assert.deepEqual(await get(s, `/v2/user/${s.user_id}/group`), {});
  assert.deepEqual(await get(s, '/v2/storage/nothing-here'), {});
  assert.deepEqual(await get(s, '/v2/user?ids=00000000-0000-0000-0000-000000000000'), {});
  assert.deepEqual(await get(s, '/v2/match'), {});
  const g = await client.createGroup(s, { name: `pj-${uid()}`, open: true });
  await client.deleteGroup(s, g.id);
  assert.deepEqual(await get(s, `/v2/group/${g.id}/user`), {});
  const n = await get(s, '/v2/notification?limit=10');
  assert.deepEqual(Object.keys(n), ['cacheable_cursor']);
  // nakama-js still hands the caller arrays.
  assert.deepEqual((await client.listFriends(s)).friends, []);
});

// protojson writes fields in field-number order; JSON.parse does not care,
// but a byte-for-byte comparison with Nakama's answer does.
test('paged lists put the items before the cursor (field order)', async () => {
  const s = await client.authenticateDevice(`pj-${uid()}`, true);
  const tag = uid().slice(0, 8);
  for (let i = 0; i < 2; i++)
    await client.createGroup(s, { name: `pjo-${tag}-${i}`, open: true, lang_tag: 'en' });
  const groups = await get(s, '/v2/group?limit=1');
  assert.deepEqual(Object.keys(groups), ['groups', 'cursor']);
  const mine = await get(s, `/v2/user/${s.user_id}/group?limit=1`);
  assert.deepEqual(Object.keys(mine), ['user_groups', 'cursor']);
  const other = await client.authenticateDevice(`pj-${uid()}`, true);
  await client.joinGroup(other, groups.groups[0].id);
  const users = await get(s, `/v2/group/${groups.groups[0].id}/user?limit=1`);
  assert.deepEqual(Object.keys(users), ['group_users', 'cursor']);
});
