// Groups, driven by nakama-js: create/update/delete with their errors, open
// and closed joins (join requests, -5 to admins, add = accept with -4),
// Nakama's permission rules (a member cannot kick, admins only act on
// members, promote/demote steps, the last superadmin cannot leave, a banned
// user cannot rejoin), max_count, member and user-group lists with state
// filters and cursors, group listing filters and cursors, group chat
// access (join, history, lost at once on kick/ban), account deletion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, sleep } from './harness.mjs';

const SUPER = 0, ADMIN = 1, MEMBER = 2, REQUEST = 3, BANNED = 4;
const GROUP = 3;

async function user(srv, name, { socket = false } = {}) {
  const client = srv.client();
  const session = await client.authenticateDevice(`dev-${crypto.randomUUID()}`, true,
    `${name}${crypto.randomBytes(3).toString('hex')}`);
  const u = { client, session, id: session.user_id, name: session.username, notifications: [], messages: [] };
  if (socket) {
    u.socket = client.createSocket(false, false);
    u.socket.onnotification = (n) => u.notifications.push(n);
    u.socket.onchannelmessage = (m) => u.messages.push(m);
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
    if (typeof e.json !== 'function') throw e;
    return { status: e.status, body: await e.json() };
  }
  assert.fail('expected an HTTP error');
}

/** GET with the caller's token (filters nakama-js does not expose). */
async function get(srv, u, pathAndQuery) {
  const r = await fetch(srv.url + pathAndQuery, { headers: { Authorization: `Bearer ${u.session.token}` } });
  return { status: r.status, body: await r.json() };
}

const members = async (u, gid, state) =>
  (await u.client.listGroupUsers(u.session, gid, state, 100)).group_users.map((x) => [x.user.id, x.state]);
const uniq = (p) => `${p}-${crypto.randomBytes(4).toString('hex')}`;

test('create, update, delete: shapes, defaults and errors', async () => {
  const srv = await startServer();
  try {
    const a = await user(srv, 'a');
    const b = await user(srv, 'b');
    const name = uniq('Knights');
    const g = await a.client.createGroup(a.session, { name, description: 'd', avatar_url: 'http://x/a.png', open: true });
    assert.match(g.id, /^[0-9a-f-]{36}$/);
    assert.equal(g.creator_id, a.id);
    assert.equal(g.name, name);
    assert.equal(g.lang_tag, 'en');
    assert.equal(g.open, true);
    assert.equal(g.edge_count, 1);
    assert.equal(g.max_count, 100);
    assert.deepEqual(g.metadata, {});
    assert.match(g.create_time, /Z$/);
    // defaults: closed
    const c = await a.client.createGroup(a.session, { name: uniq('closed'), max_count: 5, lang_tag: 'fr' });
    assert.equal(c.open, false);
    assert.equal(c.max_count, 5);
    assert.equal(c.lang_tag, 'fr');
    // errors
    let r = await restError(a.client.createGroup(a.session, { name: '' }));
    assert.deepEqual([r.status, r.body.code, r.body.message], [400, 3, 'Group name must be set.']);
    r = await restError(a.client.createGroup(a.session, { name }));
    assert.deepEqual([r.status, r.body.code, r.body.message], [409, 6, 'Group name is in use.']);
    r = await restError(a.client.createGroup(a.session, { name: uniq('n'), max_count: -1 }));
    assert.equal(r.body.message, 'Group max count must be >= 1 when set.');

    // update: non-members and members may not
    r = await restError(b.client.updateGroup(b.session, g.id, { name: 'x' }));
    assert.deepEqual([r.status, r.body.message], [404, "Group not found or you're not allowed to update."]);
    await b.client.joinGroup(b.session, g.id);
    r = await restError(b.client.updateGroup(b.session, g.id, { description: 'x' }));
    assert.equal(r.status, 404);
    r = await restError(a.client.updateGroup(a.session, g.id, { name: '' }));
    assert.deepEqual([r.status, r.body.message], [400, 'Group name cannot be empty.']);
    r = await restError(a.client.updateGroup(a.session, g.id, { lang_tag: '' }));
    assert.equal(r.body.message, 'Group language cannot be empty.');
    r = await restError(a.client.updateGroup(a.session, g.id, {}));
    assert.equal(r.body.message, 'Specify at least one field to update.');
    r = await restError(a.client.updateGroup(a.session, g.id, { name: c.name }));
    assert.deepEqual([r.status, r.body.message], [400, 'Group name is in use.']);
    const name2 = uniq('Renamed');
    assert.equal(await a.client.updateGroup(a.session, g.id, { name: name2, description: '', open: false, lang_tag: 'de' }), true);
    const [g2] = (await a.client.listUserGroups(a.session, a.id)).user_groups
      .filter((x) => x.group.id === g.id).map((x) => x.group);
    assert.equal(g2.name, name2);
    assert.equal(g2.description, undefined);
    assert.equal(g2.open, false);
    assert.equal(g2.lang_tag, 'de');
    assert.equal(g2.avatar_url, 'http://x/a.png');
    // an admin may update, not delete
    await a.client.promoteGroupUsers(a.session, g.id, [b.id]);
    assert.equal(await b.client.updateGroup(b.session, g.id, { description: 'by admin' }), true);
    r = await restError(b.client.deleteGroup(b.session, g.id));
    assert.deepEqual([r.status, r.body.message], [400, "Group not found or you're not allowed to delete."]);
    // ids
    r = await restError(a.client.deleteGroup(a.session, 'nope'));
    assert.deepEqual([r.status, r.body.message], [400, 'Group ID must be a valid ID.']);
    assert.equal(await a.client.deleteGroup(a.session, g.id), true);
    assert.deepEqual(await members(a, g.id), []);
    assert.deepEqual((await b.client.listUserGroups(b.session, b.id)).user_groups, []);
    r = await restError(b.client.joinGroup(b.session, g.id));
    assert.deepEqual([r.status, r.body.message], [404, 'Group not found.']);
  } finally {
    await srv.stop();
  }
});

test('closed group: join request, -5 to admins, add accepts with -4; open join; full', async () => {
  const srv = await startServer();
  try {
    const a = await user(srv, 'owner', { socket: true });
    const m = await user(srv, 'mod', { socket: true });
    const b = await user(srv, 'joiner', { socket: true });
    const g = await a.client.createGroup(a.session, { name: uniq('closed'), open: false, max_count: 3 });
    await a.client.addGroupUsers(a.session, g.id, [m.id]);
    const added = await until('-4 at mod', () => m.notifications.find((n) => n.code === -4));
    assert.equal(added.subject, `You've been added to group ${g.name}`);
    assert.deepEqual(added.content, { group_id: g.id, name: g.name });
    assert.equal(added.sender_id, a.id);
    await a.client.promoteGroupUsers(a.session, g.id, [m.id]);

    assert.equal(await b.client.joinGroup(b.session, g.id), true);
    assert.deepEqual(await members(a, g.id), [[a.id, SUPER], [m.id, ADMIN], [b.id, REQUEST]]);
    for (const admin of [a, m]) {
      const n = await until(`-5 at ${admin.name}`, () => admin.notifications.find((x) => x.code === -5));
      assert.equal(n.subject, `User ${b.name} wants to join your group`);
      assert.deepEqual(n.content, { group_id: g.id, username: b.name });
      assert.equal(n.sender_id, b.id);
    }
    const listed = await a.client.listNotifications(a.session, 10);
    assert.deepEqual(listed.notifications.map((n) => n.code), [-5]);
    // a pending request is no membership: no chat
    const e = await b.socket.joinChat(g.id, GROUP, true, false).then(() => null, (x) => x);
    assert.ok(e && /Group not found/.test(e.message));
    // joining again is silently ok; a request does not count
    await b.client.joinGroup(b.session, g.id);
    assert.equal((await b.client.listUserGroups(b.session, b.id)).user_groups[0].group.edge_count, 2);
    assert.equal((await b.client.listUserGroups(b.session, b.id)).user_groups[0].state, REQUEST);
    // the admin accepts
    await m.client.addGroupUsers(m.session, g.id, [b.id]);
    assert.deepEqual(await members(a, g.id), [[a.id, SUPER], [m.id, ADMIN], [b.id, MEMBER]]);
    await until('-4 at joiner', () => b.notifications.find((n) => n.code === -4 && n.sender_id === m.id));
    // full at 3
    const c = await user(srv, 'late');
    let r = await restError(c.client.joinGroup(c.session, g.id));
    assert.deepEqual([r.status, r.body.message], [400, 'Group is full.']);
    r = await restError(a.client.addGroupUsers(a.session, g.id, [c.id]));
    assert.deepEqual([r.status, r.body.message], [400, 'Group is full.']);
    r = await restError(a.client.addGroupUsers(a.session, g.id, [crypto.randomUUID()]));
    assert.deepEqual([r.status, r.body.message], [400, 'One or more users not found.']);
    r = await restError(a.client.addGroupUsers(a.session, g.id, ['bad']));
    assert.deepEqual([r.status, r.body.message], [400, 'User ID must be a valid ID.']);

    // open: member at once
    const o = await a.client.createGroup(a.session, { name: uniq('open'), open: true });
    await c.client.joinGroup(c.session, o.id);
    assert.deepEqual(await members(c, o.id), [[a.id, SUPER], [c.id, MEMBER]]);
    for (const u of [a, m, b]) u.socket.disconnect(false);
  } finally {
    await srv.stop();
  }
});

test('permissions: kick, ban, promote, demote, leave', async () => {
  const srv = await startServer();
  try {
    const s = await user(srv, 'super');
    const ad = await user(srv, 'admin');
    const m1 = await user(srv, 'm1');
    const m2 = await user(srv, 'm2');
    const out = await user(srv, 'out');
    const g = await s.client.createGroup(s.session, { name: uniq('perm'), open: true });
    for (const u of [ad, m1, m2]) await u.client.joinGroup(u.session, g.id);
    await s.client.promoteGroupUsers(s.session, g.id, [ad.id]);

    // a member and an outsider cannot kick, ban, promote, add
    for (const [u, op] of [[m1, 'kickGroupUsers'], [m1, 'banGroupUsers'], [m1, 'promoteGroupUsers'],
      [out, 'kickGroupUsers'], [out, 'addGroupUsers'], [m1, 'demoteGroupUsers']]) {
      const r = await restError(u.client[op](u.session, g.id, [m2.id]));
      assert.deepEqual([r.status, r.body.code, r.body.message], [404, 5, 'Group not found or permission denied.'], `${op}`);
    }
    // an admin cannot touch the superadmin or another admin
    await ad.client.kickGroupUsers(ad.session, g.id, [s.id]);
    await ad.client.demoteGroupUsers(ad.session, g.id, [s.id]);
    assert.deepEqual(await members(s, g.id), [[s.id, SUPER], [ad.id, ADMIN], [m1.id, MEMBER], [m2.id, MEMBER]]);
    // promote steps: admin can make admins, only the superadmin makes superadmins
    await ad.client.promoteGroupUsers(ad.session, g.id, [m1.id]);
    await ad.client.promoteGroupUsers(ad.session, g.id, [m1.id]);
    assert.deepEqual((await members(s, g.id, ADMIN)).map((x) => x[0]).sort(), [ad.id, m1.id].sort());
    await s.client.promoteGroupUsers(s.session, g.id, [m1.id]);
    assert.deepEqual((await members(s, g.id, SUPER)).map((x) => x[0]).sort(), [s.id, m1.id].sort());
    // demote: empty is refused; superadmin -> admin -> member, never a request
    let r = await restError(s.client.demoteGroupUsers(s.session, g.id, []));
    assert.deepEqual([r.status, r.body.message], [400, 'User IDs must be set.']);
    await s.client.demoteGroupUsers(s.session, g.id, [m1.id]);
    await s.client.demoteGroupUsers(s.session, g.id, [m1.id]);
    await s.client.demoteGroupUsers(s.session, g.id, [m1.id]);
    assert.deepEqual((await members(s, g.id, MEMBER)).map((x) => x[0]).sort(), [m1.id, m2.id].sort());
    // the last superadmin cannot leave; a member can
    r = await restError(s.client.leaveGroup(s.session, g.id));
    assert.deepEqual([r.status, r.body.message], [400, 'Cannot leave group when you are the last superadmin.']);
    await m1.client.leaveGroup(m1.session, g.id);
    assert.equal(await out.client.leaveGroup(out.session, g.id), true); // not a member: ok
    // the admin kicks a member; the count drops
    await ad.client.kickGroupUsers(ad.session, g.id, [m2.id]);
    assert.deepEqual(await members(s, g.id), [[s.id, SUPER], [ad.id, ADMIN]]);
    assert.equal((await s.client.listUserGroups(s.session, s.id)).user_groups[0].group.edge_count, 2);

    // ban: a banned user cannot rejoin and shows only with state 4
    await m2.client.joinGroup(m2.session, g.id);
    await ad.client.banGroupUsers(ad.session, g.id, [m2.id]);
    assert.deepEqual(await members(s, g.id), [[s.id, SUPER], [ad.id, ADMIN]]);
    assert.deepEqual(await members(s, g.id, BANNED), [[m2.id, BANNED]]);
    assert.equal(await m2.client.joinGroup(m2.session, g.id), true);
    assert.deepEqual(await members(s, g.id, BANNED), [[m2.id, BANNED]]);
    assert.deepEqual((await m2.client.listUserGroups(m2.session, m2.id)).user_groups, []);
    r = await restError(m2.client.addGroupUsers(m2.session, g.id, [m1.id]));
    assert.equal(r.status, 404);
    // add skips a banned user; kick unbans
    await s.client.addGroupUsers(s.session, g.id, [m2.id]);
    assert.deepEqual(await members(s, g.id, BANNED), [[m2.id, BANNED]]);
    await s.client.kickGroupUsers(s.session, g.id, [m2.id]);
    assert.deepEqual(await members(s, g.id, BANNED), []);
    await m2.client.joinGroup(m2.session, g.id);
    assert.deepEqual((await members(s, g.id, MEMBER)).map((x) => x[0]), [m2.id]);
    // a user with no edge cannot be pre-banned
    await s.client.banGroupUsers(s.session, g.id, [out.id]);
    assert.deepEqual(await members(s, g.id, BANNED), []);
    // a second superadmin lets the first leave
    await s.client.promoteGroupUsers(s.session, g.id, [ad.id]);
    await s.client.leaveGroup(s.session, g.id);
    assert.deepEqual(await members(ad, g.id), [[ad.id, SUPER], [m2.id, MEMBER]]);
  } finally {
    await srv.stop();
  }
});

test('lists: group users and user groups paging, state filters, errors', async () => {
  const srv = await startServer();
  try {
    const s = await user(srv, 's');
    const g = await s.client.createGroup(s.session, { name: uniq('big'), open: true });
    const us = [];
    for (let i = 0; i < 5; i++) {
      const u = await user(srv, `u${i}`);
      await u.client.joinGroup(u.session, g.id);
      us.push(u);
    }
    const all = await members(s, g.id);
    assert.deepEqual(all, [[s.id, SUPER], ...us.map((u) => [u.id, MEMBER])]);
    const seen = [];
    let cursor;
    for (let i = 0; i < 5; i++) {
      const r = await s.client.listGroupUsers(s.session, g.id, undefined, 2, cursor);
      seen.push(...r.group_users.map((x) => [x.user.id, x.state]));
      cursor = r.cursor;
      if (!cursor) break;
    }
    assert.deepEqual(seen, all);
    const p = await s.client.listGroupUsers(s.session, g.id, MEMBER, 3);
    assert.equal(p.group_users.length, 3);
    const p2 = await s.client.listGroupUsers(s.session, g.id, MEMBER, 3, p.cursor);
    assert.deepEqual(p2.group_users.map((x) => x.user.id), us.slice(3).map((u) => u.id));
    let r = await restError(s.client.listGroupUsers(s.session, g.id, SUPER, 3, p.cursor));
    assert.deepEqual([r.status, r.body.message], [400, 'Cursor is invalid.']);
    r = await restError(s.client.listGroupUsers(s.session, g.id, 5));
    assert.equal(r.body.message, 'Invalid state - state must be between 0 and 4.');
    r = await restError(s.client.listGroupUsers(s.session, g.id, undefined, 101));
    assert.equal(r.body.message, 'Invalid limit - limit must be between 1 and 100.');
    // group users carry edge_count (friends) and online
    await us[0].client.addFriends(us[0].session, [s.id]);
    const withCount = (await s.client.listGroupUsers(s.session, g.id, MEMBER, 1)).group_users[0];
    assert.equal(withCount.user.edge_count, 1);

    // a user's groups, paged
    const gs = [g];
    for (let i = 0; i < 3; i++) gs.push(await s.client.createGroup(s.session, { name: uniq(`g${i}`) }));
    // nakama-js 2.8's listUserGroups sends its `state` argument as the limit
    // and `limit` as the state
    const ug1 = await s.client.listUserGroups(s.session, s.id, 2, SUPER);
    assert.equal(ug1.user_groups.length, 2);
    const ug2 = await s.client.listUserGroups(s.session, s.id, 2, SUPER, ug1.cursor);
    assert.deepEqual([...ug1.user_groups, ...ug2.user_groups].map((x) => x.group.id), gs.map((x) => x.id));
    assert.ok(!ug2.cursor);
    const other = await us[1].client.listUserGroups(us[1].session, s.id);
    assert.equal(other.user_groups.length, 4); // anyone may list
    r = await restError(s.client.listUserGroups(s.session, 'bad'));
    assert.deepEqual([r.status, r.body.message], [400, 'Group ID must be a valid ID.']);
  } finally {
    await srv.stop();
  }
});

test('group listing: name prefix, lang, members, open, cursor', async () => {
  const srv = await startServer();
  try {
    const s = await user(srv, 's');
    const tag = crypto.randomBytes(3).toString('hex');
    const mk = (name, extra = {}) => s.client.createGroup(s.session, { name: `${name}${tag}`, ...extra });
    const alpha = await mk('Alpha', { open: true, lang_tag: 'fr' });
    const alpine = await mk('alpine', { open: false, lang_tag: 'fr' });
    const beta = await mk('Beta', { open: true });
    const j = await user(srv, 'j');
    await j.client.joinGroup(j.session, beta.id);

    // name: case-insensitive, trailing % is a prefix, leading % stripped
    let r = await s.client.listGroups(s.session, `al%`, undefined, 10);
    assert.deepEqual(r.groups.map((g) => g.id), [alpha.id, alpine.id]);
    r = await s.client.listGroups(s.session, `%alpha${tag}`, undefined, 10);
    assert.deepEqual(r.groups.map((g) => g.id), [alpha.id]);
    r = await s.client.listGroups(s.session, `alp`, undefined, 10);
    assert.deepEqual(r.groups, []);
    // paging by name
    const p1 = await s.client.listGroups(s.session, 'al%', undefined, 1);
    assert.deepEqual(p1.groups.map((g) => g.id), [alpha.id]);
    assert.ok(p1.cursor);
    const p2 = await s.client.listGroups(s.session, 'al%', p1.cursor, 1);
    assert.deepEqual(p2.groups.map((g) => g.id), [alpine.id]);
    assert.ok(!p2.cursor);
    // default limit is 1
    r = await s.client.listGroups(s.session);
    assert.equal(r.groups.length, 1);
    assert.ok(r.cursor);

    // other filters (not exposed by nakama-js 2.8): raw REST
    let q = await get(srv, s, `/v2/group?lang_tag=fr&limit=10`);
    assert.deepEqual(q.body.groups.map((g) => g.id).sort(), [alpha.id, alpine.id].sort());
    q = await get(srv, s, `/v2/group?open=true&lang_tag=fr&limit=10`);
    assert.deepEqual(q.body.groups.map((g) => g.id), [alpha.id]);
    q = await get(srv, s, `/v2/group?open=false&limit=10`);
    assert.deepEqual(q.body.groups.map((g) => g.id), [alpine.id]);
    q = await get(srv, s, `/v2/group?members=1&limit=10`);
    assert.deepEqual(q.body.groups.map((g) => g.id).sort(), [alpha.id, alpine.id].sort());
    q = await get(srv, s, `/v2/group?members=2&open=true&limit=10`);
    assert.deepEqual(q.body.groups.map((g) => g.id), [beta.id, alpha.id]); // edge_count DESC
    // page through members filter one by one
    const ids = [];
    let cursor = '';
    for (let i = 0; i < 5; i++) {
      q = await get(srv, s, `/v2/group?members=5&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      ids.push(...q.body.groups.map((g) => g.id));
      if (!q.body.cursor) break;
      cursor = q.body.cursor;
    }
    assert.deepEqual(ids.sort(), [alpha.id, alpine.id, beta.id].sort());
    q = await get(srv, s, `/v2/group?name=al%25&lang_tag=fr`);
    assert.deepEqual([q.status, q.body.message], [400, 'name filter cannot be combined with any other filter']);
    q = await get(srv, s, `/v2/group?cursor=bogus`);
    assert.deepEqual([q.status, q.body.message], [400, 'Malformed cursor was used.']);
    q = await get(srv, s, `/v2/group?limit=101`);
    assert.equal(q.status, 400);
  } finally {
    await srv.stop();
  }
});

test('group chat: members join and read history; kick and ban cut access at once', async () => {
  const srv = await startServer();
  try {
    const s = await user(srv, 's', { socket: true });
    const k = await user(srv, 'k', { socket: true });
    const bn = await user(srv, 'b', { socket: true });
    const out = await user(srv, 'o', { socket: true });
    const g = await s.client.createGroup(s.session, { name: uniq('chat'), open: true });
    await k.client.joinGroup(k.session, g.id);
    await bn.client.joinGroup(bn.session, g.id);
    const ch = await s.socket.joinChat(g.id, GROUP, true, false);
    assert.equal(ch.id, `3.${g.id}..`);
    assert.equal(ch.group_id, g.id);
    await k.socket.joinChat(g.id, GROUP, true, false);
    await bn.socket.joinChat(g.id, GROUP, true, false);
    const ack = await s.socket.writeChatMessage(ch.id, { text: 'hi' });
    await until('message at k', () => k.messages.find((m) => m.message_id === ack.message_id));
    const hist = await k.client.listChannelMessages(k.session, ch.id, 10, true);
    assert.ok(hist.messages.some((m) => m.message_id === ack.message_id));
    // an outsider can neither join nor read
    const e = await out.socket.joinChat(g.id, GROUP, true, false).then(() => null, (x) => x);
    assert.equal(e.message, 'Group not found: Invalid channel target');
    let r = await restError(out.client.listChannelMessages(out.session, ch.id, 10, true));
    assert.deepEqual([r.status, r.body.message], [400, 'Group not found.']);

    // kick k, ban bn: both lose the stream and the history at once
    await s.client.kickGroupUsers(s.session, g.id, [k.id]);
    await s.client.banGroupUsers(s.session, g.id, [bn.id]);
    // membership messages on the channel: kick 6, ban 8, sender = the affected user
    const km = await until('kick message', () => s.messages.find((m) => m.code === 6));
    assert.equal(km.sender_id, k.id);
    assert.equal(km.username, k.name);
    assert.equal(km.group_id, g.id);
    assert.deepEqual(km.content, {});
    const bm = await until('ban message', () => s.messages.find((m) => m.code === 8));
    assert.equal(bm.sender_id, bn.id);
    await sleep(100);
    const ack2 = await s.socket.writeChatMessage(ch.id, { text: 'after' });
    await sleep(200);
    assert.ok(!k.messages.some((m) => m.message_id === ack2.message_id));
    assert.ok(!bn.messages.some((m) => m.message_id === ack2.message_id));
    for (const u of [k, bn]) {
      const se = await u.socket.writeChatMessage(ch.id, { text: 'x' }).then(() => null, (x) => x);
      assert.ok(se, 'send refused after removal');
      r = await restError(u.client.listChannelMessages(u.session, ch.id, 10, true));
      assert.equal(r.body.message, 'Group not found.');
      const je = await u.socket.joinChat(g.id, GROUP, true, false).then(() => null, (x) => x);
      assert.ok(je);
    }
    // leaving also leaves the stream
    const l = await user(srv, 'l', { socket: true });
    await l.client.joinGroup(l.session, g.id);
    await l.socket.joinChat(g.id, GROUP, true, false);
    const jm = await until('join message', () => s.messages.find((m) => m.code === 3 && m.sender_id === l.id));
    assert.equal(jm.username, l.name);
    await s.client.promoteGroupUsers(s.session, g.id, [l.id]);
    await until('promote message', () => s.messages.find((m) => m.code === 7 && m.sender_id === l.id));
    await s.client.demoteGroupUsers(s.session, g.id, [l.id]);
    await until('demote message', () => s.messages.find((m) => m.code === 9 && m.sender_id === l.id));
    await l.client.leaveGroup(l.session, g.id);
    await until('leave message', () => s.messages.find((m) => m.code === 5 && m.sender_id === l.id));
    const h2 = await s.client.listChannelMessages(s.session, ch.id, 100, true);
    assert.deepEqual(h2.messages.filter((m) => m.code >= 3).map((m) => m.code), [3, 3, 6, 8, 3, 7, 9, 5]);
    await sleep(100);
    const ack3 = await s.socket.writeChatMessage(ch.id, { text: 'bye' });
    await sleep(200);
    assert.ok(!l.messages.some((m) => m.message_id === ack3.message_id));
    for (const u of [s, k, bn, out, l]) u.socket.disconnect(false);
  } finally {
    await srv.stop();
  }
});

test('account deletion: sole-owned groups go, memberships go with counts fixed', async () => {
  const srv = await startServer();
  try {
    const a = await user(srv, 'a');
    const b = await user(srv, 'b');
    const c = await user(srv, 'c');
    const owned = await a.client.createGroup(a.session, { name: uniq('owned'), open: true });
    await b.client.joinGroup(b.session, owned.id);
    const shared = await a.client.createGroup(a.session, { name: uniq('shared'), open: true });
    await b.client.joinGroup(b.session, shared.id);
    await a.client.promoteGroupUsers(a.session, shared.id, [b.id]);
    await a.client.promoteGroupUsers(a.session, shared.id, [b.id]);
    const other = await c.client.createGroup(c.session, { name: uniq('other'), open: true });
    await a.client.joinGroup(a.session, other.id);

    await a.client.deleteAccount(a.session);
    const bg = (await b.client.listUserGroups(b.session, b.id)).user_groups.map((x) => x.group.id);
    assert.deepEqual(bg, [shared.id]);
    assert.deepEqual(await members(b, shared.id), [[b.id, SUPER]]);
    assert.deepEqual(await members(c, other.id), [[c.id, SUPER]]);
    assert.equal((await c.client.listUserGroups(c.session, c.id)).user_groups[0].group.edge_count, 1);
    const r = await restError(b.client.joinGroup(b.session, owned.id));
    assert.equal(r.status, 404);
  } finally {
    await srv.stop();
  }
});
