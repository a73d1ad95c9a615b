// Chat channels and notifications, driven by nakama-js: rooms, DMs, group
// refusal, message update/remove, presence events, history paging, limits,
// the DM request notification (live and listed), metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { WebSocketAdapterPb } from '@heroiclabs/nakama-js-protobuf';
import { startServer, sleep } from './harness.mjs';

const ROOM = 1, DM = 2, GROUP = 3;

/** A user with a session, a connected socket and event logs. */
async function user(srv, name, adapter) {
  const client = srv.client();
  const session = await client.authenticateDevice(`device-${name}-${crypto.randomUUID()}`, true, `${name}${Date.now() % 100000}`);
  const socket = client.createSocket(false, false, adapter);
  const u = { client, session, socket, name: session.username, id: session.user_id, messages: [], presences: [], notifications: [] };
  socket.onchannelmessage = (m) => u.messages.push(m);
  socket.onchannelpresence = (p) => u.presences.push(p);
  socket.onnotification = (n) => u.notifications.push(n);
  await socket.connect(session, false);
  return u;
}

/** Wait until pred(list) holds (polling), or fail naming what. */
async function until(what, pred, ms = 3000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = pred();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** The realtime error a socket call rejected with. */
async function rtError(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('expected an error envelope');
}

/** The REST error {status, body} a client call rejected with. */
async function restError(promise) {
  try {
    await promise;
  } catch (e) {
    return { status: e.status, body: await e.json() };
  }
  assert.fail('expected an HTTP error');
}

/** Run SQL against the server's database (test set-up only). */
function sql(srv, statement) {
  if (srv.dbUrl) execFileSync('psql', [srv.dbUrl, '-v', 'ON_ERROR_STOP=1', '-qc', statement]);
  else execFileSync('sqlite3', [path.join(srv.dataDir, 'tomo.db'), statement]);
}

function close(...users) {
  for (const u of users) u.socket.disconnect(false);
}

test('room: join reply, presence events, messages to all members, ack shape, history', async () => {
  const srv = await startServer();
  try {
    const a = await user(srv, 'alice');
    const b = await user(srv, 'bob');
    const ca = await a.socket.joinChat('lobby', ROOM, true, false);
    assert.equal(ca.id, '2...lobby');
    assert.equal(ca.room_name, 'lobby');
    assert.equal(ca.self.user_id, a.id);
    assert.equal(ca.self.username, a.name);
    assert.equal(ca.self.persistence, true);
    assert.equal(ca.presences, undefined);
    // the joiner sees its own join
    await until('alice own join', () => a.presences.find((p) => p.joins?.some((j) => j.user_id === a.id)));

    const cb = await b.socket.joinChat('lobby', ROOM, true, false);
    assert.equal(cb.id, ca.id);
    assert.deepEqual(cb.presences.map((p) => p.user_id), [a.id]);
    const ev = await until('bob join at alice', () => a.presences.find((p) => p.joins?.some((j) => j.user_id === b.id)));
    assert.equal(ev.channel_id, '2...lobby');
    assert.equal(ev.room_name, 'lobby');
    assert.equal(ev.joins[0].session_id, cb.self.session_id);

    const ack = await a.socket.writeChatMessage(ca.id, { text: 'hello' });
    assert.equal(ack.channel_id, ca.id);
    assert.match(ack.message_id, /^[0-9a-f-]{36}$/);
    assert.equal(ack.code, 0);
    assert.equal(ack.username, a.name);
    assert.equal(ack.persistent, true);
    assert.equal(ack.room_name, 'lobby');
    assert.match(ack.create_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    for (const u of [a, b]) {
      const m = await until(`message at ${u.name}`, () => u.messages.find((x) => x.message_id === ack.message_id));
      assert.deepEqual(m.content, { text: 'hello' });
      assert.equal(m.sender_id, a.id);
      assert.equal(m.username, a.name);
      assert.equal(m.code, 0);
      assert.equal(m.room_name, 'lobby');
    }

    const hist = await b.client.listChannelMessages(b.session, ca.id, 10, true);
    assert.equal(hist.messages.length, 1);
    const h = hist.messages[0];
    assert.equal(h.message_id, ack.message_id);
    assert.deepEqual(h.content, { text: 'hello' });
    assert.equal(h.persistent, true);
    assert.equal(h.sender_id, a.id);
    assert.equal(h.channel_id, '2...lobby');
    assert.equal(h.room_name, 'lobby');

    // leave: an empty ack, the others see the leave, sending is refused
    await b.socket.leaveChat(ca.id);
    await until('bob leave at alice', () => a.presences.find((p) => p.leaves?.some((l) => l.user_id === b.id)));
    const e = await rtError(b.socket.writeChatMessage(ca.id, { x: 1 }));
    assert.equal(e.code, 3);
    assert.equal(e.message, 'Must join channel before sending messages');
    // a closed socket leaves its channels
    const c = await user(srv, 'carol');
    const cc = await c.socket.joinChat('lobby', ROOM, true, false);
    c.socket.disconnect(false);
    const left = await until('carol leave at alice', () => a.presences.find((p) => p.leaves?.some((l) => l.session_id === cc.self.session_id)));
    assert.equal(left.channel_id, '2...lobby');
    close(a, b);
  } finally { await srv.cleanup(); }
});

test('room names with spaces and unicode; history over an encoded channel id', async () => {
  const srv = await startServer();
  try {
    const a = await user(srv, 'alice');
    const name = 'salle d’attente ☕';
    const ch = await a.socket.joinChat(name, ROOM, true, false);
    assert.equal(ch.id, `2...${name}`);
    await a.socket.writeChatMessage(ch.id, { n: 1 });
    const hist = await a.client.listChannelMessages(a.session, ch.id, 10, true);
    assert.equal(hist.messages.length, 1);
    assert.equal(hist.messages[0].room_name, name);
    close(a);
  } finally { await srv.cleanup(); }
});

test('update and remove: sender only, pushes with code 1 and 2, history follows', async () => {
  const srv = await startServer();
  try {
    const a = await user(srv, 'alice');
    const b = await user(srv, 'bob');
    const ch = await a.socket.joinChat('edits', ROOM, true, false);
    await b.socket.joinChat('edits', ROOM, true, false);
    const sent = await a.socket.writeChatMessage(ch.id, { v: 1 });

    const up = await a.socket.updateChatMessage(ch.id, sent.message_id, { v: 2 });
    assert.equal(up.code, 1);
    assert.equal(up.message_id, sent.message_id);
    const pushed = await until('update at bob', () => b.messages.find((m) => m.code === 1));
    assert.deepEqual(pushed.content, { v: 2 });
    assert.equal(pushed.message_id, sent.message_id);
    let hist = await a.client.listChannelMessages(a.session, ch.id, 10, true);
    assert.deepEqual(hist.messages.map((m) => m.content), [{ v: 2 }]);

    // not the sender: refused, nothing changes
    let e = await rtError(b.socket.updateChatMessage(ch.id, sent.message_id, { v: 666 }));
    assert.equal(e.code, 3);
    assert.equal(e.message, 'Could not find message to update in channel history');
    e = await rtError(b.socket.removeChatMessage(ch.id, sent.message_id));
    assert.equal(e.code, 3);
    assert.equal(e.message, 'Could not find message to remove in channel history');
    e = await rtError(a.socket.updateChatMessage(ch.id, 'not-a-uuid', { v: 3 }));
    assert.equal(e.message, 'Invalid message identifier');
    e = await rtError(a.socket.updateChatMessage(ch.id, sent.message_id, [1, 2]));
    assert.equal(e.message, 'Message content must be a valid JSON object');
    hist = await a.client.listChannelMessages(a.session, ch.id, 10, true);
    assert.deepEqual(hist.messages.map((m) => m.content), [{ v: 2 }]);

    const rm = await a.socket.removeChatMessage(ch.id, sent.message_id);
    assert.equal(rm.code, 2);
    const gone = await until('remove at bob', () => b.messages.find((m) => m.code === 2));
    assert.deepEqual(gone.content, {});
    hist = await a.client.listChannelMessages(a.session, ch.id, 10, true);
    assert.equal(hist.messages.length, 0);
    e = await rtError(a.socket.removeChatMessage(ch.id, sent.message_id));
    assert.equal(e.message, 'Could not find message to remove in channel history');
    close(a, b);
  } finally { await srv.cleanup(); }
});

test('persistence=false: delivered live, not stored; hidden presences not announced', async () => {
  const srv = await startServer();
  try {
    const a = await user(srv, 'alice');
    const b = await user(srv, 'bob');
    const c = await user(srv, 'carol');
    const ch = await a.socket.joinChat('ephemeral', ROOM, false, false);
    assert.equal(ch.self.persistence, undefined); // false is omitted on the wire
    await b.socket.joinChat('ephemeral', ROOM, true, false);
    const ack = await a.socket.writeChatMessage(ch.id, { t: 'gone soon' });
    assert.equal(ack.persistent, false);
    const m = await until('live message at bob', () => b.messages.find((x) => x.message_id === ack.message_id));
    assert.equal(m.persistent, false);
    const hist = await b.client.listChannelMessages(b.session, ch.id, 10, true);
    assert.equal(hist.messages.length, 0);

    // carol joins hidden: no join event, not in others' presence lists
    const before = a.presences.length;
    const cc = await c.socket.joinChat('ephemeral', ROOM, true, true);
    assert.equal(cc.presences.length, 2);
    const d = await user(srv, 'dave');
    const cd = await d.socket.joinChat('ephemeral', ROOM, true, false);
    assert.deepEqual(cd.presences.map((p) => p.user_id).sort(), [a.id, b.id].sort());
    await until('dave join at alice', () => a.presences.find((p) => p.joins?.some((j) => j.user_id === d.id)));
    assert.ok(!a.presences.slice(before).some((p) => p.joins?.some((j) => j.user_id === c.id)), 'hidden join announced');
    // a hidden member still receives messages
    const ack2 = await b.socket.writeChatMessage(ch.id, { t: 'hi all' });
    await until('message at hidden carol', () => c.messages.find((x) => x.message_id === ack2.message_id));
    close(a, b, c, d);
  } finally { await srv.cleanup(); }
});

test('history: paging forward and backward with cursors, cacheable cursor, errors', async () => {
  const srv = await startServer();
  try {
    const a = await user(srv, 'alice');
    const ch = await a.socket.joinChat('history', ROOM, true, false);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await a.socket.writeChatMessage(ch.id, { i })).message_id);
    const list = (limit, forward, cursor) => a.client.listChannelMessages(a.session, ch.id, limit, forward, cursor);
    const nums = (page) => page.messages.map((m) => m.content.i);

    // default limit is 1, oldest first
    const one = await a.client.listChannelMessages(a.session, ch.id);
    assert.deepEqual(nums(one), [0]);

    const p1 = await list(2, true);
    assert.deepEqual(nums(p1), [0, 1]);
    assert.ok(p1.next_cursor && !p1.prev_cursor && p1.cacheable_cursor);
    const p2 = await list(2, true, p1.next_cursor);
    assert.deepEqual(nums(p2), [2, 3]);
    assert.ok(p2.next_cursor && p2.prev_cursor);
    const p3 = await list(2, true, p2.next_cursor);
    assert.deepEqual(nums(p3), [4]);
    assert.equal(p3.next_cursor, undefined);
    const back = await list(2, true, p3.prev_cursor);
    assert.deepEqual(nums(back), [2, 3]);
    const back2 = await list(2, true, back.prev_cursor);
    assert.deepEqual(nums(back2), [0, 1]);

    const b1 = await list(2, false);
    assert.deepEqual(nums(b1), [4, 3]);
    const b2 = await list(2, false, b1.next_cursor);
    assert.deepEqual(nums(b2), [2, 1]);
    const b3 = await list(2, false, b2.next_cursor);
    assert.deepEqual(nums(b3), [0]);
    assert.equal(b3.next_cursor, undefined);

    // resume from the cacheable cursor: only what is newer
    const all = await list(100, true);
    assert.deepEqual(nums(all), [0, 1, 2, 3, 4]);
    const nothing = await list(100, true, all.cacheable_cursor);
    assert.equal(nothing.messages.length, 0);
    assert.equal(nothing.cacheable_cursor, all.cacheable_cursor);
    await a.socket.writeChatMessage(ch.id, { i: 5 });
    const newer = await list(100, true, all.cacheable_cursor);
    assert.deepEqual(nums(newer), [5]);

    let e = await restError(list(0, true));
    assert.equal(e.status, 400);
    assert.deepEqual(e.body, { code: 3, message: 'Invalid limit - limit must be between 1 and 100.' });
    e = await restError(list(101, true));
    assert.equal(e.status, 400);
    e = await restError(list(2, true, 'bm90IGEgY3Vyc29y'));
    assert.deepEqual(e.body, { code: 3, message: 'Cursor is invalid or expired.' });
    e = await restError(list(2, false, p1.next_cursor)); // a forward cursor used backward
    assert.deepEqual(e.body, { code: 3, message: 'Cursor is invalid or expired.' });
    e = await restError(a.client.listChannelMessages(a.session, '2...other', 2, true, p1.next_cursor));
    assert.deepEqual(e.body, { code: 3, message: 'Cursor is invalid or expired.' });
    for (const bad of ['lobby', '2..lobby', '5...x', '3.nope..', '4.a.b.']) {
      e = await restError(a.client.listChannelMessages(a.session, bad, 2, true));
      assert.equal(e.status, 400, bad);
      assert.deepEqual(e.body, { code: 3, message: 'Invalid channel ID.' }, bad);
    }
    e = await restError(a.client.listChannelMessages(a.session, `3.${crypto.randomUUID()}..`, 2, true));
    assert.deepEqual(e.body, { code: 3, message: 'Group not found.' });
    close(a);
  } finally { await srv.cleanup(); }
});

test('join and send validation: room names, types, groups, content', async () => {
  const srv = await startServer();
  try {
    const a = await user(srv, 'alice');
    const cases = [
      [['', ROOM], 'Invalid channel target'],
      [['x'.repeat(65), ROOM], 'Channel name is required and must be 1-64 chars: Invalid channel target'],
      [['bad\u0001name', ROOM], 'Channel name must not contain control chars: Invalid channel target'],
      [['room', 7], 'Invalid channel type'],
      [['not-a-uuid', DM], 'Invalid user ID in direct message join: Invalid channel target'],
      [[crypto.randomUUID(), DM], 'User ID not found: Invalid channel target'],
      [['not-a-uuid', GROUP], 'Invalid group ID in group channel join: Invalid channel target'],
      [[crypto.randomUUID(), GROUP], 'Group not found: Invalid channel target'],
    ];
    for (const [[target, type], message] of cases) {
      const e = await rtError(a.socket.joinChat(target, type, true, false));
      assert.equal(e.code, 3, message);
      assert.equal(e.message, message);
    }
    // type 0 (unspecified) is a room, 64 characters is fine
    const ch = await a.socket.joinChat('y'.repeat(64), 0, true, false);
    assert.equal(ch.room_name, 'y'.repeat(64));
    let e = await rtError(a.socket.writeChatMessage('2...nowhere', { x: 1 }));
    assert.equal(e.message, 'Must join channel before sending messages');
    e = await rtError(a.socket.writeChatMessage('junk', { x: 1 }));
    assert.equal(e.message, 'Invalid channel identifier');
    e = await rtError(a.socket.writeChatMessage(ch.id, 'just a string'));
    assert.equal(e.message, 'Message content must be a valid JSON object');
    e = await rtError(a.socket.leaveChat('junk'));
    assert.equal(e.message, 'Invalid channel identifier');
    // the socket stays usable after errors
    const ack = await a.socket.writeChatMessage(ch.id, { ok: true });
    assert.equal(ack.code, 0);
    close(a);
  } finally { await srv.cleanup(); }
});

test('DM: request notification -1 live and listed, chat between the two, privacy, blocking', async () => {
  const srv = await startServer();
  try {
    const a = await user(srv, 'alice');
    const b = await user(srv, 'bob');
    const c = await user(srv, 'carol');
    const dm = await a.socket.joinChat(b.id, DM, true, false);
    const [one, two] = [a.id, b.id].sort();
    assert.equal(dm.id, `4.${one}.${two}.`);
    assert.equal(dm.user_id_one, one);
    assert.equal(dm.user_id_two, two);

    // bob is online but not in the DM: a live notification, also stored
    const n = await until('DM request at bob', () => b.notifications.find((x) => x.code === -1));
    assert.equal(n.subject, `${a.name} wants to chat`);
    assert.deepEqual(n.content, { username: a.name });
    assert.equal(n.sender_id, a.id);
    assert.equal(n.persistent, true);
    const listed = await b.client.listNotifications(b.session, 10);
    assert.equal(listed.notifications.length, 1);
    assert.equal(listed.notifications[0].id, n.id);
    assert.equal(listed.notifications[0].code, -1);
    assert.deepEqual(listed.notifications[0].content, { username: a.name });
    assert.ok(listed.cacheable_cursor);
    assert.equal((await a.client.listNotifications(a.session, 10)).notifications.length, 0);

    // joining again does not ask again; bob joins, then no request either way
    await a.socket.joinChat(b.id, DM, true, false);
    const bd = await b.socket.joinChat(a.id, DM, true, false);
    assert.equal(bd.id, dm.id);
    assert.deepEqual(bd.presences.map((p) => p.user_id), [a.id]);
    const ack = await b.socket.writeChatMessage(dm.id, { text: 'hi alice' });
    assert.equal(ack.user_id_one, one);
    assert.equal(ack.user_id_two, two);
    const got = await until('DM at alice', () => a.messages.find((m) => m.message_id === ack.message_id));
    assert.equal(got.user_id_one, one);
    await sleep(100);
    assert.equal(a.notifications.length, 0);
    assert.equal(b.notifications.length, 1);

    // history: the two users only
    assert.equal((await a.client.listChannelMessages(a.session, dm.id, 10, true)).messages.length, 1);
    const e = await restError(c.client.listChannelMessages(c.session, dm.id, 10, true));
    assert.equal(e.status, 400);
    assert.deepEqual(e.body, { code: 3, message: 'Channel not found.' });

    // a user who blocked the caller cannot be DMed (the friends API is not
    // there yet, so the block edge is written directly)
    sql(srv, `INSERT INTO user_edge (source_id, destination_id, state, position, update_time) VALUES ('${b.id}', '${c.id}', 3, 1, 1)`);
    const blocked = await rtError(c.socket.joinChat(b.id, DM, true, false));
    assert.equal(blocked.code, 3);
    assert.equal(blocked.message, 'User ID not found: Invalid channel target');
    // ...but the blocker may still DM the other way
    await b.socket.joinChat(c.id, DM, true, false);
    close(a, b, c);
  } finally { await srv.cleanup(); }
});

test('notifications: offline requests listed later, cacheable cursor, delete own only, validation', async () => {
  const srv = await startServer();
  try {
    const a = await user(srv, 'alice');
    const b = await user(srv, 'bob');
    const c = await user(srv, 'carol');
    b.socket.disconnect(false);
    await a.socket.joinChat(b.id, DM, true, false);
    await c.socket.joinChat(b.id, DM, true, false);
    const page1 = await b.client.listNotifications(b.session, 1);
    assert.equal(page1.notifications.length, 1);
    assert.equal(page1.notifications[0].sender_id, a.id);
    const page2 = await b.client.listNotifications(b.session, 1, page1.cacheable_cursor);
    assert.equal(page2.notifications[0].sender_id, c.id);
    const page3 = await b.client.listNotifications(b.session, 1, page2.cacheable_cursor);
    assert.equal(page3.notifications.length, 0);
    assert.equal(page3.cacheable_cursor, page2.cacheable_cursor);
    // a new one arrives: the kept cursor returns just that
    const d = await user(srv, 'dave');
    await d.socket.joinChat(b.id, DM, true, false);
    const page4 = await b.client.listNotifications(b.session, 100, page2.cacheable_cursor);
    assert.deepEqual(page4.notifications.map((x) => x.sender_id), [d.id]);

    // delete: another user's delete does nothing; the owner's works
    const mine = (await b.client.listNotifications(b.session, 100)).notifications;
    assert.equal(mine.length, 3);
    await a.client.deleteNotifications(a.session, [mine[0].id]);
    assert.equal((await b.client.listNotifications(b.session, 100)).notifications.length, 3);
    await b.client.deleteNotifications(b.session, [mine[0].id, mine[1].id]);
    const left = (await b.client.listNotifications(b.session, 100)).notifications;
    assert.deepEqual(left.map((x) => x.id), [mine[2].id]);

    let e = await restError(b.client.listNotifications(b.session, 0));
    assert.deepEqual(e.body, { code: 3, message: 'Invalid limit - limit must be between 1 and 100.' });
    e = await restError(b.client.listNotifications(b.session, 101));
    assert.equal(e.status, 400);
    e = await restError(b.client.listNotifications(b.session, 10, 'garbage'));
    assert.deepEqual(e.body, { code: 3, message: 'Malformed cursor was used.' });
    // nothing stored: an empty list still hands out a cursor
    const empty = await a.client.listNotifications(a.session, 10);
    assert.equal(empty.notifications.length, 0);
    assert.ok(empty.cacheable_cursor);
    close(a, c, d);
  } finally { await srv.cleanup(); }
});

test('limits: message size and per-session rate, with errors naming the limit; metrics', async () => {
  const srv = await startServer({
    args: ['--chat.max_message_bytes', '64', '--chat.messages_per_sec', '1', '--chat.burst', '3'],
  });
  try {
    const a = await user(srv, 'alice');
    const b = await user(srv, 'bob');
    const ch = await a.socket.joinChat('limits', ROOM, true, false);
    await b.socket.joinChat('limits', ROOM, true, false);
    let e = await rtError(a.socket.writeChatMessage(ch.id, { text: 'x'.repeat(80) }));
    assert.equal(e.code, 3);
    assert.match(e.message, /chat\.max_message_bytes is 64 bytes/);
    // the oversized message was not counted, stored or delivered
    assert.equal((await a.client.listChannelMessages(a.session, ch.id, 10, true)).messages.length, 0);

    for (let i = 0; i < 3; i++) await a.socket.writeChatMessage(ch.id, { i });
    e = await rtError(a.socket.writeChatMessage(ch.id, { i: 3 }));
    assert.equal(e.code, 3);
    assert.match(e.message, /chat\.messages_per_sec is 1 \(chat\.burst 3\)/);
    // another session has its own bucket
    await b.socket.writeChatMessage(ch.id, { from: 'bob' });
    // tokens come back at the configured rate
    await sleep(1100);
    await a.socket.writeChatMessage(ch.id, { i: 4 });
    const hist = await a.client.listChannelMessages(a.session, ch.id, 100, true);
    assert.equal(hist.messages.length, 5);

    const c = await user(srv, 'carol');
    c.socket.disconnect(false);
    await a.socket.joinChat(c.id, DM, true, false);
    const text = await (await fetch(`http://127.0.0.1:${srv.metricsPort}/metrics`)).text();
    const value = (re) => Number((text.match(re) || [])[1]);
    assert.equal(value(/^chat_messages_sent_total\{[^}]*persistent="true"[^}]*\} (\S+)$/m), 5);
    assert.ok(value(/^notifications_sent_total(?:\{[^}]*\})? (\S+)$/m) >= 1);
    close(a, b);
  } finally { await srv.cleanup(); }
});

test('protobuf sockets chat with JSON sockets', async () => {
  const srv = await startServer();
  try {
    const a = await user(srv, 'alice', new WebSocketAdapterPb());
    const b = await user(srv, 'bob');
    const ca = await a.socket.joinChat('mixed', ROOM, true, false);
    assert.equal(ca.id, '2...mixed');
    assert.equal(ca.self.persistence, true);
    await b.socket.joinChat('mixed', ROOM, true, false);
    await until('bob join at alice (pb)', () => a.presences.find((p) => p.joins?.some((j) => j.user_id === b.id)));
    const ack = await a.socket.writeChatMessage(ca.id, { via: 'protobuf' });
    assert.equal(ack.code, 0);
    assert.equal(ack.persistent, true);
    const atB = await until('pb message at bob', () => b.messages.find((m) => m.message_id === ack.message_id));
    assert.deepEqual(atB.content, { via: 'protobuf' });
    const back = await b.socket.writeChatMessage(ca.id, { via: 'json' });
    const atA = await until('json message at alice (pb)', () => a.messages.find((m) => m.message_id === back.message_id));
    assert.deepEqual(atA.content, { via: 'json' });
    assert.equal(atA.username, b.name);
    const e = await rtError(a.socket.joinChat('x'.repeat(65), ROOM, true, false));
    assert.equal(e.code, 3);
    close(a, b);
  } finally { await srv.cleanup(); }
});

test('a session\'s writes are delivered in the order sent, even when not awaited', async () => {
  const srv = await startServer();
  try {
    const a = await user(srv, 'alice');
    const b = await user(srv, 'bob');
    const ch = await a.socket.joinChat('burst', ROOM, true, false);
    await b.socket.joinChat('burst', ROOM, true, false);
    const eph = await a.socket.joinChat('burst-ephemeral', ROOM, false, false);
    await b.socket.joinChat('burst-ephemeral', ROOM, true, false);
    // persisted writes interleaved with live-only ones, all in flight at once
    const sends = [];
    for (let i = 0; i < 15; i++) {
      sends.push(a.socket.writeChatMessage(i % 3 === 2 ? eph.id : ch.id, { i }));
    }
    const acks = await Promise.all(sends);
    assert.equal(new Set(acks.map((x) => x.message_id)).size, 15);
    await until('all 15 at bob', () => b.messages.length >= 15);
    assert.deepEqual(b.messages.map((m) => m.content.i), [...Array(15).keys()]);
    const hist = await a.client.listChannelMessages(a.session, ch.id, 100, true);
    assert.deepEqual(hist.messages.map((m) => m.content.i), [...Array(15).keys()].filter((i) => i % 3 !== 2));
    close(a, b);
  } finally { await srv.cleanup(); }
});
