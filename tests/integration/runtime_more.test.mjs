// More nk functions (fixtures/nkcall): users_get_random, groups_get_random,
// account_export_id, friends_of_friends_list, users_get_friend_status,
// jwt_generate, event, stream_user_kick, the channel_message_* calls and
// multi_update, each checked against what the client or the realtime layer sees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { newUser, connect, waitFor, nkcallSuite } from './rtutil.mjs';

const suite = nkcallSuite();
const { ok, fails } = suite;

test('users_get_random: Lua Users, never more than asked, bounds checked', async () => {
  await newUser(suite.srv, 'rnd');
  await newUser(suite.srv, 'rnd');
  const [users] = await ok('users_get_random', 2);
  assert.equal(users.length, 2);
  for (const u of users) {
    assert.match(u.user_id, /^[0-9a-f-]{36}$/);
    assert.notEqual(u.user_id, '00000000-0000-0000-0000-000000000000');
    assert.equal(typeof u.username, 'string');
    assert.equal(typeof u.create_time, 'number');
  }
  assert.notEqual(users[0].user_id, users[1].user_id);
  const [none] = await ok('users_get_random', 0);
  assert.deepEqual(none, {});
  await fails('users_get_random', /count must be 0-1000/, 1001);
});

test('groups_get_random: Lua Groups of groups the client created', async () => {
  const g = await suite.admin.client.createGroup(suite.admin.session, { name: 'rg' + Date.now(), open: true });
  const [groups] = await ok('groups_get_random', 1000);
  const mine = groups.find((x) => x.id === g.id);
  assert.ok(mine, 'the new group is among them');
  assert.equal(mine.name, g.name);
  assert.equal(mine.open, true);
  await fails('groups_get_random', /count must be 0-1000/, -1);
});

test('account_export_id: the export as JSON text', async () => {
  const u = await newUser(suite.srv, 'exp');
  await u.client.writeStorageObjects(u.session, [{ collection: 'c', key: 'k', value: { a: 1 } }]);
  const [text] = await ok('account_export_id', u.userId);
  const exp = JSON.parse(text);
  assert.equal(exp.account.user.id, u.userId);
  assert.ok(exp.objects.some((o) => o.collection === 'c' && o.key === 'k'));
  await fails('account_export_id', /error exporting account: Account not found/,
    '00000000-0000-0000-0000-00000000abcd');
});

test('friends_of_friends_list and users_get_friend_status', async () => {
  const a = await newUser(suite.srv, 'ff');
  const b = await newUser(suite.srv, 'ff');
  const c = await newUser(suite.srv, 'ff');
  await a.client.addFriends(a.session, [b.userId]);
  await b.client.addFriends(b.session, [a.userId, c.userId]);
  await c.client.addFriends(c.session, [b.userId]);
  const [fof, cursor] = await ok('friends_of_friends_list', a.userId);
  assert.deepEqual(fof.map((f) => [f.referrer, f.user.user_id]), [[b.userId, c.userId]]);
  assert.equal(cursor, undefined);
  const [status] = await ok('users_get_friend_status', a.userId, [b.userId, c.userId]);
  assert.equal(status.length, 1);
  assert.equal(status[0].user.user_id, b.userId);
  assert.equal(status[0].state, 0);
  assert.equal(typeof status[0].update_time, 'number');
  const [pending] = await ok('users_get_friend_status', c.userId, [a.userId]);
  assert.deepEqual(pending, {});
  await fails('users_get_friend_status', /invalid user id/, a.userId, ['nope']);
});

test('jwt_generate: HS256 and RS256 tokens verify', async () => {
  const claims = { sub: 'player', n: 7 };
  const [hs] = await ok('jwt_generate', 'HS256', 'secret-key', claims);
  const [h, p, sig] = hs.split('.');
  assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url')), { alg: 'HS256', typ: 'JWT' });
  assert.deepEqual(JSON.parse(Buffer.from(p, 'base64url')), claims);
  const want = crypto.createHmac('sha256', 'secret-key').update(`${h}.${p}`).digest('base64url');
  assert.equal(sig, want);

  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const [rs] = await ok('jwt_generate', 'RS256', privateKey, claims);
  const [rh, rp, rsig] = rs.split('.');
  assert.equal(JSON.parse(Buffer.from(rh, 'base64url')).alg, 'RS256');
  const v = crypto.createVerify('RSA-SHA256').update(`${rh}.${rp}`);
  assert.ok(v.verify(publicKey, Buffer.from(rsig, 'base64url')));
  await fails('jwt_generate', /could not parse private key/, 'RS256', 'not a key', claims);
  await fails('jwt_generate', /unsupported algo type/, 'ES256', 'k', claims);
});

test('event: accepted with string properties, bad input raises', async () => {
  assert.deepEqual(await ok('event', 'level_up', { level: '3' }, 1700000000, true), {});
  await fails('event', /properties values must be strings/, 'x', { level: 3 });
  await fails('event', /timestamp must be numeric UTC seconds/, 'x', {}, 0);
});

test('stream_user_kick: the presence leaves the stream', async () => {
  const u = await newUser(suite.srv, 'kick');
  const s = await connect(suite.srv, u);
  try {
    const who = JSON.parse((await s.rpc('whoami', '{}')).payload);
    const stream = { mode: 12, label: 'kick-test' };
    assert.deepEqual(await ok('stream_user_join', u.userId, who.session_id, stream), [true]);
    let [list] = await ok('stream_user_list', stream);
    assert.equal(list.length, 1);
    await ok('stream_user_kick', { user_id: u.userId, session_id: who.session_id }, stream);
    [list] = await ok('stream_user_list', stream);
    assert.deepEqual(list, {});
    await fails('stream_user_kick', /valid user_id, session_id/, { user_id: u.userId }, stream);
  } finally {
    s.disconnect(false);
  }
});

test('channel_message_send / update / remove / channel_messages_list', async () => {
  const u = await newUser(suite.srv, 'chat');
  const s = await connect(suite.srv, u);
  const got = [];
  s.onchannelmessage = (m) => got.push(m);
  try {
    const room = 'lua-room-' + Date.now();
    const ch = await s.joinChat(room, 1, true, false);
    const [ack] = await ok('channel_message_send', ch.id, { text: 'hi' }, '', 'system', true);
    assert.equal(ack.channelId, ch.id);
    assert.match(ack.messageId, /^[0-9a-f-]{36}$/);
    assert.equal(ack.code, 0);
    assert.equal(ack.username, 'system');
    assert.equal(ack.persistent, true);
    assert.equal(typeof ack.createTime, 'number');
    await waitFor(() => got.length === 1, 5000, 'the pushed message');
    assert.equal(got[0].message_id, ack.messageId);
    assert.deepEqual(got[0].content, { text: 'hi' });
    assert.equal(got[0].sender_id, '00000000-0000-0000-0000-000000000000');

    const [upd] = await ok('channel_message_update', ch.id, ack.messageId, { text: 'edited' },
      '', 'system', true);
    assert.equal(upd.code, 1);
    await waitFor(() => got.length === 2, 5000, 'the update');
    const hist = await u.client.listChannelMessages(u.session, ch.id, 10, true);
    assert.equal(hist.messages.length, 1);
    assert.deepEqual(hist.messages[0].content, { text: 'edited' });
    const [msgs, next, prev] = await ok('channel_messages_list', ch.id, 10, true);
    assert.equal(msgs.length, 1);
    assert.equal(msgs[0].messageId, ack.messageId);
    assert.equal(msgs[0].roomName, room);
    assert.equal(msgs[0].senderId, '00000000-0000-0000-0000-000000000000');
    assert.deepEqual(JSON.parse(msgs[0].content), { text: 'edited' });
    assert.equal(next, undefined);
    assert.equal(prev, undefined);

    // a message only pushed (not kept) never shows in the history
    await ok('channel_message_send', ch.id, { n: 1 });
    await waitFor(() => got.length === 3, 5000, 'the unkept message');
    assert.equal(got[2].persistent, false);

    const [rm] = await ok('channel_message_remove', ch.id, ack.messageId, '', 'system', true);
    assert.equal(rm.code, 2);
    const [after] = await ok('channel_messages_list', ch.id);
    assert.deepEqual(after, {});
    await fails('channel_message_update', /channel message not found/, ch.id, ack.messageId,
      { a: 1 }, '', '', true);
    await fails('channel_message_send', /Invalid channel identifier/, 'nope', {});
    await fails('channel_message_update', /Invalid message identifier/, ch.id, 'x', {});
  } finally {
    s.disconnect(false);
  }
});

test('multi_update: accounts, storage and wallets in one transaction, all or nothing', async () => {
  const u = await newUser(suite.srv, 'mu');
  const key = 'k' + Date.now();
  const [acks, wallets] = await ok('multi_update',
    [{ user_id: u.userId, display_name: 'Multi', metadata: { lvl: 3 } }],
    [{ collection: 'multi', key, user_id: u.userId, value: { a: 1 }, permission_read: 2 }],
    [{ user_id: u.userId, changeset: { coins: 10 }, metadata: { why: 'quest' } }], true);
  assert.equal(acks.length, 1);
  assert.deepEqual([acks[0].collection, acks[0].key, acks[0].user_id],
    ['multi', key, u.userId]);
  assert.match(acks[0].version, /^[0-9a-f]{32}$/);
  assert.deepEqual(wallets, [{ user_id: u.userId, updated: { coins: 10 }, previous: {} }]);
  const acct = await u.client.getAccount(u.session);
  assert.equal(acct.user.display_name, 'Multi');
  assert.deepEqual(JSON.parse(acct.user.metadata), { lvl: 3 });
  assert.deepEqual(JSON.parse(acct.wallet), { coins: 10 });
  const objs = await u.client.readStorageObjects(u.session,
    { object_ids: [{ collection: 'multi', key, user_id: u.userId }] });
  assert.deepEqual(objs.objects[0].value, { a: 1 });
  const [ledger] = await ok('wallet_ledger_list', u.userId);
  assert.deepEqual(ledger[0].changeset, { coins: 10 });
  assert.deepEqual(ledger[0].metadata, { why: 'quest' });

  // a negative wallet rolls everything back
  await fails('multi_update',
    /^error running multi update: wallet update rejected negative value at path 'coins'$/,
    [{ user_id: u.userId, display_name: 'Rolled back' }],
    [{ collection: 'multi', key: key + 'x', user_id: u.userId, value: { b: 2 } }],
    [{ user_id: u.userId, changeset: { coins: -11 } }]);
  // so does a failed version check, after the account update ran
  await fails('multi_update', /Storage write rejected - version check failed/,
    [{ user_id: u.userId, display_name: 'Rolled back' }],
    [{ collection: 'multi', key, user_id: u.userId, value: { a: 2 }, version: '*' }]);
  const after = await u.client.getAccount(u.session);
  assert.equal(after.user.display_name, 'Multi');
  assert.deepEqual(JSON.parse(after.wallet), { coins: 10 });
  const none = await u.client.readStorageObjects(u.session,
    { object_ids: [{ collection: 'multi', key: key + 'x', user_id: u.userId }] });
  assert.deepEqual(none.objects, []);

  // the 3.27 layout: storage deletes third, then wallets and the ledger flag
  // (acks nil: the encoded results hold the wallets alone, not as an array)
  const res2 = await ok('multi_update', null, null,
    [{ collection: 'multi', key, user_id: u.userId }],
    [{ user_id: u.userId, changeset: { coins: -4 } }], false);
  assert.equal(Array.isArray(res2), false);
  assert.equal(Object.keys(res2).length, 1);
  const wallets2 = Object.values(res2)[0];
  assert.deepEqual(wallets2, [{ user_id: u.userId, updated: { coins: 6 }, previous: { coins: 10 } }]);
  const gone = await u.client.readStorageObjects(u.session,
    { object_ids: [{ collection: 'multi', key, user_id: u.userId }] });
  assert.deepEqual(gone.objects, []);

  // nothing to do; bad input
  assert.deepEqual(await ok('multi_update'), {});
  await fails('multi_update', /expects user_id to be a valid ID/, [{ user_id: 'nope' }]);
  await fails('multi_update', /error running multi update: No fields to update/,
    [{ user_id: u.userId }]);
  await fails('multi_update', /expects changeset to be supplied/, null, null,
    [{ user_id: u.userId }]);
});
