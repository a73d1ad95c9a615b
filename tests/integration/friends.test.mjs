// Friends, driven by nakama-js: invite and accept (by id and username) with
// the -2/-3 notifications pushed over a socket and listed, edge counts,
// delete (cancel, reject, unfriend, unblock), block, validation errors, list
// paging with state filters and cursors, friends of friends, and account
// deletion cleaning up the other side.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, sleep } from './harness.mjs';

const MUTUAL = 0, SENT = 1, RECEIVED = 2, BLOCKED = 3;

async function user(srv, name, { socket = false } = {}) {
  const client = srv.client();
  const session = await client.authenticateDevice(`dev-${crypto.randomUUID()}`, true,
    `${name}${crypto.randomBytes(3).toString('hex')}`);
  const u = { client, session, id: session.user_id, name: session.username, notifications: [] };
  if (socket) {
    u.socket = client.createSocket(false, false);
    u.socket.onnotification = (n) => u.notifications.push(n);
    await u.socket.connect(session, false);
  }
  return u;
}

async function until(what, pred, ms = 3000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = pred();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function restError(promise) {
  try {
    await promise;
  } catch (e) {
    return { status: e.status, body: await e.json() };
  }
  assert.fail('expected an HTTP error');
}

const states = async (u, state) =>
  (await u.client.listFriends(u.session, state)).friends.map((f) => [f.user.id, f.state]);
const edgeCount = async (u) => (await u.client.getAccount(u.session)).user.edge_count ?? 0;

test('invite, accept, notifications live and listed, edge counts', async () => {
  const srv = await startServer();
  try {
    const a = await user(srv, 'alice', { socket: true });
    const b = await user(srv, 'bob', { socket: true });

    assert.equal(await a.client.addFriends(a.session, [b.id]), true);
    assert.deepEqual(await states(a), [[b.id, SENT]]);
    assert.deepEqual(await states(b), [[a.id, RECEIVED]]);
    assert.equal(await edgeCount(a), 1);
    assert.equal(await edgeCount(b), 1);
    const req = await until('friend request at bob', () => b.notifications.find((n) => n.code === -2));
    assert.equal(req.subject, `${a.name} wants to add you as a friend`);
    assert.deepEqual(req.content, { username: a.name });
    assert.equal(req.sender_id, a.id);
    assert.equal(req.persistent, true);

    // adding again changes nothing and sends nothing
    await a.client.addFriends(a.session, [b.id]);
    // accept by username
    await b.client.addFriends(b.session, undefined, [a.name]);
    assert.deepEqual(await states(a), [[b.id, MUTUAL]]);
    assert.deepEqual(await states(b), [[a.id, MUTUAL]]);
    assert.equal(await edgeCount(a), 1);
    const acc = await until('accept at alice', () => a.notifications.find((n) => n.code === -3));
    assert.equal(acc.subject, `${b.name} accepted your friend request`);
    assert.deepEqual(acc.content, { username: b.name });
    assert.equal(acc.sender_id, b.id);
    await sleep(100);
    assert.equal(b.notifications.filter((n) => n.code === -2).length, 1);

    const listed = await b.client.listNotifications(b.session, 10);
    assert.deepEqual(listed.notifications.map((n) => n.code), [-2]);
    assert.equal(listed.notifications[0].id, req.id);
    const listedA = await a.client.listNotifications(a.session, 10);
    assert.deepEqual(listedA.notifications.map((n) => n.code), [-3]);

    // list item shape: user fields, online, no edge_count
    const f = (await a.client.listFriends(a.session)).friends[0];
    assert.equal(f.user.username, b.name);
    assert.equal(f.user.online, true);
    assert.ok(!f.user.edge_count);
    a.socket.disconnect(false);
    b.socket.disconnect(false);
    await sleep(100);
    const g = (await a.client.listFriends(a.session)).friends[0];
    assert.ok(!g.user.online);
  } finally {
    await srv.stop();
  }
});

test('delete: cancel, reject, unfriend; block and unblock', async () => {
  const srv = await startServer();
  try {
    const a = await user(srv, 'a');
    const b = await user(srv, 'b');
    const c = await user(srv, 'c');

    // cancel an invite
    await a.client.addFriends(a.session, [b.id]);
    await a.client.deleteFriends(a.session, [b.id]);
    assert.deepEqual(await states(a), []);
    assert.deepEqual(await states(b), []);
    assert.equal(await edgeCount(a), 0);
    assert.equal(await edgeCount(b), 0);
    // reject an invite
    await a.client.addFriends(a.session, [b.id]);
    await b.client.deleteFriends(b.session, [a.id]);
    assert.deepEqual(await states(a), []);
    // unfriend
    await a.client.addFriends(a.session, [b.id]);
    await b.client.addFriends(b.session, [a.id]);
    await a.client.deleteFriends(a.session, undefined, [b.name]);
    assert.deepEqual(await states(b), []);
    // deleting nobody, or unknown usernames, is a no-op
    assert.equal(await a.client.deleteFriends(a.session, [], []), true);
    assert.equal(await a.client.deleteFriends(a.session, undefined, ['nobody-at-all']), true);

    // block a friend: own edge becomes 3, theirs goes
    await a.client.addFriends(a.session, [c.id]);
    await c.client.addFriends(c.session, [a.id]);
    await a.client.blockFriends(a.session, [c.id]);
    assert.deepEqual(await states(a), [[c.id, BLOCKED]]);
    assert.deepEqual(await states(c), []);
    assert.equal(await edgeCount(a), 1);
    assert.equal(await edgeCount(c), 0);
    // the blocked user's add silently does nothing; the blocker's too
    await c.client.addFriends(c.session, [a.id]);
    assert.deepEqual(await states(c), []);
    await a.client.addFriends(a.session, [c.id]);
    assert.deepEqual(await states(a), [[c.id, BLOCKED]]);
    // a DM with the blocker is refused
    const cs = c.client.createSocket(false, false);
    await cs.connect(c.session, false);
    const e = await cs.joinChat(a.id, 2, false, false).then(() => null, (x) => x);
    assert.ok(e && e.message, 'DM join refused');
    cs.disconnect(false);
    // block someone with no edge
    await b.client.blockFriends(b.session, [a.id]);
    assert.deepEqual(await states(b), [[a.id, BLOCKED]]);
    assert.deepEqual(await states(a, BLOCKED), [[c.id, BLOCKED]]);
    // unblock = delete
    await a.client.deleteFriends(a.session, [c.id]);
    assert.deepEqual(await states(a), []);
    assert.equal(await edgeCount(a), 0);
    // b's block of a stays when a deletes b
    await a.client.deleteFriends(a.session, [b.id]);
    assert.deepEqual(await states(b), [[a.id, BLOCKED]]);
  } finally {
    await srv.stop();
  }
});

test('validation errors of add, delete and block', async () => {
  const srv = await startServer();
  try {
    const a = await user(srv, 'a');
    const ops = [
      ['addFriends', 'Cannot add self as friend.'],
      ['deleteFriends', 'Cannot delete self.'],
      ['blockFriends', 'Cannot block self.'],
    ];
    for (const [op, self] of ops) {
      let r = await restError(a.client[op](a.session, [a.id]));
      assert.deepEqual([r.status, r.body.code, r.body.message], [400, 3, self]);
      r = await restError(a.client[op](a.session, undefined, [a.name]));
      assert.equal(r.body.message, self);
      r = await restError(a.client[op](a.session, ['not-a-uuid']));
      assert.equal(r.body.message, "Invalid user ID 'not-a-uuid'.");
      r = await restError(a.client[op](a.session, ['00000000-0000-0000-0000-000000000000']));
      assert.equal(r.body.message, "Invalid user ID '00000000-0000-0000-0000-000000000000'.");
      r = await restError(a.client[op](a.session, undefined, ['']));
      assert.equal(r.body.message, 'Username must not be empty.');
      assert.equal(await a.client[op](a.session, [], []), true);
      if (op !== 'deleteFriends') {
        r = await restError(a.client[op](a.session, undefined, ['no-such-user-x']));
        assert.deepEqual([r.status, r.body.message], [400, 'No valid ID or username was provided.']);
      }
      // a well-formed id of a missing user is ignored
      assert.equal(await a.client[op](a.session, [crypto.randomUUID()]), true);
    }
    assert.deepEqual(await states(a), []);
    let r = await restError(a.client.listFriends(a.session, 4));
    assert.deepEqual([r.status, r.body.message], [400, 'Invalid state - state must be between 0 and 3.']);
    r = await restError(a.client.listFriends(a.session, undefined, 1001));
    assert.equal(r.body.message, 'Invalid limit - limit must be between 1 and 1000.');
    r = await restError(a.client.listFriends(a.session, undefined, 0));
    assert.equal(r.body.message, 'Invalid limit - limit must be between 1 and 1000.');
    r = await restError(a.client.listFriends(a.session, undefined, 10, 'bogus'));
    assert.deepEqual([r.status, r.body.message], [400, 'Cursor is invalid.']);
  } finally {
    await srv.stop();
  }
});

test('list: order by state then invite time, limit and cursor, state filter', async () => {
  const srv = await startServer();
  try {
    const a = await user(srv, 'a');
    const others = [];
    for (let i = 0; i < 7; i++) others.push(await user(srv, `u${i}`));
    // a invites 0..3 (state 1), 4..6 invite a (state 2); 5 and 6 are accepted (state 0)
    for (let i = 0; i < 4; i++) await a.client.addFriends(a.session, [others[i].id]);
    for (let i = 4; i < 7; i++) await others[i].client.addFriends(others[i].session, [a.id]);
    await a.client.addFriends(a.session, [others[6].id, others[5].id]);
    const all = await states(a);
    assert.deepEqual(all, [
      [others[5].id, MUTUAL], [others[6].id, MUTUAL],
      [others[0].id, SENT], [others[1].id, SENT], [others[2].id, SENT], [others[3].id, SENT],
      [others[4].id, RECEIVED],
    ]);
    // page through everything, 3 at a time
    const seen = [];
    let cursor;
    for (let page = 0; page < 5; page++) {
      const r = await a.client.listFriends(a.session, undefined, 3, cursor);
      seen.push(...r.friends.map((f) => [f.user.id, f.state]));
      cursor = r.cursor;
      if (!cursor) break;
    }
    assert.deepEqual(seen, all);
    // page within a state filter; a cursor from another state is refused
    const p1 = await a.client.listFriends(a.session, SENT, 2);
    assert.deepEqual(p1.friends.map((f) => f.user.id), [others[0].id, others[1].id]);
    assert.ok(p1.cursor);
    const p2 = await a.client.listFriends(a.session, SENT, 2, p1.cursor);
    assert.deepEqual(p2.friends.map((f) => f.user.id), [others[2].id, others[3].id]);
    assert.ok(!p2.cursor);
    const r = await restError(a.client.listFriends(a.session, MUTUAL, 2, p1.cursor));
    assert.equal(r.body.message, 'Cursor is invalid.');
    assert.deepEqual(await states(a, RECEIVED), [[others[4].id, RECEIVED]]);
  } finally {
    await srv.stop();
  }
});

test('friends of friends, and account deletion fixes the other side', async () => {
  const srv = await startServer();
  try {
    const a = await user(srv, 'a');
    const b = await user(srv, 'b');
    const c = await user(srv, 'c');
    const d = await user(srv, 'd');
    const befriend = async (x, y) => {
      await x.client.addFriends(x.session, [y.id]);
      await y.client.addFriends(y.session, [x.id]);
    };
    await befriend(a, b);
    await befriend(b, c);
    await befriend(b, d);
    await befriend(a, d);
    // c is a friend of b and not a's friend; d is a's friend already
    const fof = await a.client.listFriendsOfFriends(a.session, 10);
    assert.deepEqual(fof.friends_of_friends.map((x) => [x.referrer, x.user.id]), [[b.id, c.id]]);
    assert.equal(fof.friends_of_friends[0].user.username, c.name);
    // paging
    const e = await user(srv, 'e');
    await befriend(d, e);
    const all = (await a.client.listFriendsOfFriends(a.session, 10)).friends_of_friends
      .map((x) => x.user.id).sort();
    assert.deepEqual(all, [c.id, e.id].sort());
    const p1 = await a.client.listFriendsOfFriends(a.session, 1);
    assert.equal(p1.friends_of_friends.length, 1);
    assert.ok(p1.cursor);
    const p2 = await a.client.listFriendsOfFriends(a.session, 1, p1.cursor);
    assert.equal(p2.friends_of_friends.length, 1);
    assert.deepEqual([p1.friends_of_friends[0].user.id, p2.friends_of_friends[0].user.id].sort(), all);
    const bad = await restError(a.client.listFriendsOfFriends(a.session, 101));
    assert.equal(bad.body.message, 'Invalid limit - limit must be between 1 and 100.');

    // b deletes its account: a, c, d lose b and their counts drop
    assert.equal(await edgeCount(a), 2);
    await b.client.addFriends(b.session, [e.id]); // a pending invite too
    await b.client.deleteAccount(b.session);
    assert.deepEqual((await states(a)).map((x) => x[0]), [d.id]);
    assert.equal(await edgeCount(a), 1);
    assert.equal(await edgeCount(c), 0);
    assert.equal(await edgeCount(e), 1);
    assert.deepEqual(await states(e), [[d.id, MUTUAL]]);
  } finally {
    await srv.stop();
  }
});

test('concurrent adds from both sides end mutual, with no errors', async () => {
  const srv = await startServer();
  try {
    const hub = await user(srv, 'hub');
    const others = await Promise.all([...Array(12)].map((_, i) => user(srv, `c${i}`)));
    await Promise.all(others.flatMap((o) => [
      hub.client.addFriends(hub.session, [o.id]),
      o.client.addFriends(o.session, [hub.id]),
    ]));
    const all = await states(hub);
    assert.equal(all.length, others.length);
    assert.ok(all.every(([, s]) => s === MUTUAL), JSON.stringify(all));
    assert.equal(await edgeCount(hub), others.length);
    for (const o of others) assert.equal(await edgeCount(o), 1);
  } finally {
    await srv.stop();
  }
});
