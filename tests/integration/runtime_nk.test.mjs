// Lua runtime: one check per implemented nk function (a module calls it,
// the result is checked through nakama-js or the returned value).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './harness.mjs';
import { newUser, connect, closeAll, waitFor } from './rtutil.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.join(here, 'fixtures', 'runtime');
const KEY = 'defaulthttpkey';

let srv;
before(async () => { srv = await startServer({ args: ['--runtime.path', FIXTURES] }); });
after(async () => { await srv?.cleanup(); });

async function rpc(id, obj) {
  const r = await fetch(`${srv.url}/v2/rpc/${id}?http_key=${KEY}`, { method: 'POST', body: JSON.stringify(JSON.stringify(obj)) });
  const j = await r.json();
  assert.equal(r.status, 200, JSON.stringify(j));
  return j.payload ? JSON.parse(j.payload) : null;
}

test('utilities: encodings, hashes, AES, UUIDs, time, JSON, logger, bcrypt, cache, SQL, HTTP, channel ids, files', async () => {
  const r = await rpc('nk_utils', { url: srv.url });
  assert.equal(r.b64, Buffer.from('hello?').toString('base64'));
  assert.equal(r.b64_dec, 'hello?');
  assert.equal(r.b64_nopad, 'hi');
  assert.equal(r.b64url, 'aGVsbG8_');
  assert.equal(r.b64url_dec, 'hello?');
  assert.equal(r.b16, '01ff');
  assert.equal(r.b16_dec, 'hi');
  assert.equal(r.md5, crypto.createHash('md5').update('abc').digest('hex'));
  assert.equal(r.sha256, crypto.createHash('sha256').update('abc').digest('hex'));
  assert.equal(r.hmac, crypto.createHmac('sha256', 'key').update('data').digest('hex'));
  assert.equal(r.aes128, 'secret  '); // space padding to a multiple of 4 is kept
  assert.equal(r.aes256, 'secret!!');
  assert.equal(r.aes_len, 20);
  assert.match(r.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(r.uuid_rt, '6ba7b810-9dad-11d1-80b4-00c04fd430c8');
  assert.ok(Math.abs(r.time - Date.now()) < 60000);
  assert.equal(r.time_t, Date.UTC(2020, 0, 2, 3, 4, 5));
  assert.equal(r.json, '[1,2,{"a":"\\u003c\\u0026\\u003e"},{}]');
  assert.deepEqual(r.json_dec, { a: [1, null, 3] });
  assert.equal(r.logger, 'from lua');
  assert.match(srv.logs(), /"msg":"from lua"/);
  assert.equal(r.bcrypt, true);
  assert.equal(r.cache, 1);
  assert.equal(r.cache_gone, 'dflt');
  assert.deepEqual(r.sql, { one: 1, s: 'x' });
  assert.equal(typeof r.sql_exec, 'number');
  assert.equal(r.http.code, 200);
  assert.equal(r.http_err, true);
  assert.equal(r.channel_room, '2...lobby');
  assert.equal(r.channel_group, '3.6ba7b810-9dad-11d1-80b4-00c04fd430c8..');
  assert.equal(r.file, '--');
  assert.equal(r.get_context, 'run_once');
  assert.equal(r.json_bad, false);
});

test('notification_send / notifications_send: pushed live and stored when persistent', async () => {
  const u = await newUser(srv, 'nt');
  const s = await connect(srv, u);
  try {
    await rpc('nk_notify', { user_id: u.userId, persistent: true });
    await waitFor(() => s.events.notification.length >= 1, 3000, 'live notification');
    const n = s.events.notification[0];
    assert.equal(n.subject, 'one');
    assert.equal(n.code, 101);
    assert.deepEqual(n.content, { n: 1 });
    const r = await rpc('nk_notify_many', { user_id: u.userId });
    assert.equal(r.bad_code_raises, true);
    await waitFor(() => s.events.notification.length >= 3, 3000, 'batch');
    const list = await u.client.listNotifications(u.session, 10);
    const subjects = list.notifications.map((x) => x.subject).sort();
    assert.deepEqual(subjects, ['a', 'one']); // only the persistent ones are stored
  } finally { closeAll(s); }
});

test('stream_user_join/get/list/count/send/leave and session_disconnect from a socket rpc', async () => {
  const u = await newUser(srv, 'st');
  const s = await connect(srv, u);
  const data = [];
  s.onstreamdata = (d) => data.push(d);
  try {
    const r = JSON.parse((await s.rpc('nk_stream_join', '')).payload);
    assert.equal(r.joined, true);
    assert.equal(r.again, false);
    assert.equal(r.count, 1);
    assert.equal(r.list.length, 1);
    assert.equal(r.list[0].user_id, u.userId);
    assert.equal(r.list[0].status, 'here');
    assert.deepEqual(r.get, { hidden: false, persistence: true, username: u.username, status: 'here' });
    assert.equal(r.unknown_session_raises, true);
    await waitFor(() => data.length, 3000, 'stream data');
    assert.equal(data[0].data, 'to the stream');
    assert.equal(data[0].stream.mode, 12);
    assert.equal(data[0].stream.label, 'custom');
    const l = JSON.parse((await s.rpc('nk_stream_leave', '')).payload);
    assert.equal(l.count, 0);
    const ctx = JSON.parse((await s.rpc('ctx', '')).payload).ctx;
    await rpc('nk_disconnect', ctx.session_id);
    await waitFor(() => s.events.disconnect.length, 3000, 'disconnect');
  } finally { closeAll(s); }
});

test('storage_write/read/list/delete as the system, version conflicts raise', async () => {
  const u = await newUser(srv, 'sto');
  const r = await rpc('nk_storage', { user_id: u.userId });
  assert.equal(r.acks.length, 2);
  assert.equal(r.acks[0].user_id, u.userId);
  assert.equal(r.acks[1].user_id, '00000000-0000-0000-0000-000000000000');
  assert.ok(r.acks[0].version);
  assert.equal(r.read.length, 2);
  const save = r.read.find((o) => o.collection === 'saves');
  assert.deepEqual(save.value, { level: 3 });
  assert.equal(save.permission_read, 2);
  assert.equal(typeof save.create_time, 'number');
  assert.equal(r.list.length, 1);
  assert.equal(r.cursor_nil, true);
  assert.match(r.conflict, /failed to write storage objects/);
  assert.equal(r.after_delete, 0);
  // the user sees the object written by the module through the client
  const objs = await u.client.readStorageObjects(u.session, { object_ids: [{ collection: 'saves', key: 'slot1', user_id: u.userId }] });
  assert.deepEqual(objs.objects[0].value, { level: 3 });
});

test('wallet_update / wallets_update / wallet_ledger_list', async () => {
  const u = await newUser(srv, 'wal');
  const r = await rpc('nk_wallet', { user_id: u.userId });
  assert.deepEqual(r.updated, { coins: 10, gems: 2 });
  assert.deepEqual(r.previous, {});
  assert.equal(r.coins, 7);
  assert.match(r.negative, /wallet update rejected negative value at path 'coins'/);
  assert.match(r.unknown, /user not found/);
  assert.equal(r.many, 3);
  assert.equal(r.ledger1.length, 1);
  assert.deepEqual(r.ledger1[0].changeset, { coins: -3 });
  assert.equal(r.ledger2, 1);
  assert.equal(r.ledger_end, '');
  const acct = await u.client.getAccount(u.session);
  assert.deepEqual(JSON.parse(acct.wallet), { coins: 7, gems: 3 });
});
