// nk functions added for Nakama compatibility after 3.15 (fixtures/nkcall):
// friend_metadata_update (Nakama 3.26). The metadata belongs to one
// direction of a friendship, shows in nk.friends_list and
// users_get_friend_status as a table ({} when never set) and in the REST
// friend list as Friend.metadata (JSON text), which is left out while it is
// {} so an unannotated graph keeps Nakama 3.15's exact Friend shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newUser, nkcallSuite } from './rtutil.mjs';

const suite = nkcallSuite();
const { ok, fails } = suite;

// The REST page as sent (nakama-js 2.8.0's listFriends keeps only user and state).
async function restFriends(u) {
  const r = await fetch(`${suite.srv.url}/v2/friend`,
    { headers: { authorization: `Bearer ${u.session.token}` } });
  assert.equal(r.status, 200);
  return r.json();
}

test('friend_metadata_update: one direction, seen by nk.friends_list and the REST list', async () => {
  const a = await newUser(suite.srv, 'fm');
  const b = await newUser(suite.srv, 'fm');
  const c = await newUser(suite.srv, 'fm');
  await a.client.addFriends(a.session, [b.userId]);
  await b.client.addFriends(b.session, [a.userId]);

  // before: {} in Lua, no metadata member over REST
  const [before] = await ok('friends_list', a.userId);
  assert.deepEqual(before[0].metadata, {});
  const restBefore = await restFriends(a);
  assert.equal('metadata' in restBefore.friends[0], false);

  assert.deepEqual(await ok('friend_metadata_update', a.userId, b.userId, { note: 'ally', lvl: 3 }), {});
  const [mine] = await ok('friends_list', a.userId);
  assert.equal(mine[0].user.user_id, b.userId);
  assert.deepEqual(mine[0].metadata, { note: 'ally', lvl: 3 });
  assert.equal(mine[0].state, 0);
  // the other direction is untouched
  const [theirs] = await ok('friends_list', b.userId);
  assert.deepEqual(theirs[0].metadata, {});
  const [status] = await ok('users_get_friend_status', a.userId, [b.userId]);
  assert.deepEqual(status[0].metadata, { note: 'ally', lvl: 3 });
  // REST: Friend.metadata as JSON text (Nakama 3.26's field)
  const rest = await restFriends(a);
  assert.deepEqual(JSON.parse(rest.friends[0].metadata), { note: 'ally', lvl: 3 });
  const restB = await restFriends(b);
  assert.equal('metadata' in restB.friends[0], false);

  // replaced, not merged; an empty table clears it
  await ok('friend_metadata_update', a.userId, b.userId, { only: true });
  assert.deepEqual((await ok('friends_list', a.userId))[0][0].metadata, { only: true });
  await ok('friend_metadata_update', a.userId, b.userId, {});
  assert.deepEqual((await ok('friends_list', a.userId))[0][0].metadata, {});

  // no edge: nothing happens and no error (Nakama updates zero rows)
  await ok('friend_metadata_update', a.userId, c.userId, { x: 1 });
  const [cList] = await ok('friends_list', c.userId);
  assert.deepEqual(cList, {});

  // argument errors, as Nakama's
  await fails('friend_metadata_update', /expects user ID to be a valid identifier/, 'nope', b.userId, {});
  await fails('friend_metadata_update', /expects user ID to be a valid identifier/, a.userId, 'nope', {});
  await fails('friend_metadata_update', /table expected/, a.userId, b.userId, 'x');
});
