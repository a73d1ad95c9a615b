// Storage objects API through nakama-js 2.8.0: write/read/list/delete,
// permissions between users, keyset paging under concurrent writes,
// optimistic concurrency, all-or-nothing batches, input validation, metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startServer, uid } from './harness.mjs';
import { waitFor } from './rtutil.mjs';

let srv;
let client;

before(async () => {
  srv = await startServer();
  client = srv.client();
});
after(async () => { if (srv) await srv.cleanup(); });

const md5 = (s) => createHash('md5').update(s).digest('hex');
const NIL = '00000000-0000-0000-0000-000000000000';

async function newUser() {
  return client.authenticateDevice(`storage-dev-${uid()}`, true);
}

/** Expect a nakama-js call to fail with this HTTP status and message. */
async function expectError(promise, status, message) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected HTTP ${status} "${message}", call succeeded`);
  assert.equal(err.status, status, `status for "${message}"`);
  const body = await err.json();
  assert.equal(body.message, message);
  assert.equal(body.code, status === 400 ? 3 : body.code);
}

/** Raw REST call with the session's bearer token. */
async function api(session, method, path, body) {
  const r = await fetch(`${srv.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${session.token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  });
  return { status: r.status, body: await r.json() };
}

const read = (session, ids) => client.readStorageObjects(session, { object_ids: ids });

test('write acks in request order; read returns value, version and permissions', async () => {
  const alice = await newUser();
  const acks = await client.writeStorageObjects(alice, [
    { collection: 'saves', key: 'slot2', value: { hp: 10, items: ['sword'] } },
    { collection: 'saves', key: 'slot1', value: { hp: 3 }, permission_read: 2, permission_write: 0 },
  ]);
  assert.equal(acks.acks.length, 2);
  assert.deepEqual(acks.acks.map((a) => a.key), ['slot2', 'slot1']);
  for (const a of acks.acks) {
    assert.equal(a.collection, 'saves');
    assert.equal(a.user_id, alice.user_id);
    assert.match(a.create_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(a.update_time, /^\d{4}-\d\d-\d\dT/);
  }
  // the version is the MD5 of the value text as sent
  assert.equal(acks.acks[0].version, md5(JSON.stringify({ hp: 10, items: ['sword'] })));

  const res = await read(alice, [
    { collection: 'saves', key: 'slot1', user_id: alice.user_id },
    { collection: 'saves', key: 'slot2', user_id: alice.user_id },
    { collection: 'saves', key: 'missing', user_id: alice.user_id },
  ]);
  assert.equal(res.objects.length, 2); // missing objects are simply absent
  const [o1, o2] = res.objects;
  assert.equal(o1.key, 'slot1');
  assert.deepEqual(o1.value, { hp: 3 });
  assert.equal(o1.permission_read, 2);
  assert.equal(o1.permission_write, 0);
  assert.equal(o1.user_id, alice.user_id);
  assert.equal(o1.version, acks.acks[1].version);
  assert.ok(o1.create_time && o1.update_time);
  assert.deepEqual(o2.value, { hp: 10, items: ['sword'] });
  assert.equal(o2.permission_read, 1); // defaults
  assert.equal(o2.permission_write, 1);

  // overwrite: new version, create_time kept
  const again = await client.writeStorageObjects(alice, [{ collection: 'saves', key: 'slot2', value: { hp: 11 } }]);
  assert.equal(again.acks[0].version, md5('{"hp":11}'));
  assert.equal(again.acks[0].create_time, acks.acks[0].create_time);

  // empty requests answer empty
  assert.deepEqual((await api(alice, 'PUT', '/v2/storage', {})).body, {});
  assert.deepEqual((await api(alice, 'POST', '/v2/storage', { object_ids: [] })).body, {});
});

test('values are stored verbatim (large numbers, unicode, whitespace)', async () => {
  const alice = await newUser();
  const value = '{ "id": 123456789012345678901234567890, "name": "caf\u00e9 \ud83c\udfae" }';
  const w = await api(alice, 'PUT', '/v2/storage', { objects: [{ collection: 'raw', key: 'k', value }] });
  assert.equal(w.status, 200);
  assert.equal(w.body.acks[0].version, md5(value));
  const r = await api(alice, 'POST', '/v2/storage', {
    object_ids: [{ collection: 'raw', key: 'k', user_id: alice.user_id }],
  });
  assert.equal(r.body.objects[0].value, value);
});

test('read visibility: public to all, owner-read to the owner only, server-only to nobody', async () => {
  const alice = await newUser();
  const bob = await newUser();
  await client.writeStorageObjects(alice, [
    { collection: 'vis', key: 'private', value: { a: 0 }, permission_read: 0 },
    { collection: 'vis', key: 'owner', value: { a: 1 }, permission_read: 1 },
    { collection: 'vis', key: 'public', value: { a: 2 }, permission_read: 2 },
  ]);
  const ids = ['private', 'owner', 'public'].map((key) => ({ collection: 'vis', key, user_id: alice.user_id }));
  assert.deepEqual((await read(alice, ids)).objects.map((o) => o.key), ['owner', 'public']);
  assert.deepEqual((await read(bob, ids)).objects.map((o) => o.key), ['public']);
  // no user_id means the system user, who owns nothing here
  assert.deepEqual((await read(alice, [{ collection: 'vis', key: 'public' }])).objects, []);
  // bob writing the same (collection, key) creates his own object, alice's is untouched
  await client.writeStorageObjects(bob, [{ collection: 'vis', key: 'public', value: { mine: true } }]);
  const both = await read(bob, [
    { collection: 'vis', key: 'public', user_id: alice.user_id },
    { collection: 'vis', key: 'public', user_id: bob.user_id },
  ]);
  assert.deepEqual(both.objects.map((o) => [o.user_id, o.value]), [
    [alice.user_id, { a: 2 }], [bob.user_id, { mine: true }],
  ]);
});

test('list: public of all owners, own objects, another user\'s public objects, cursors', async () => {
  const alice = await newUser();
  const bob = await newUser();
  const col = `list ${uid()} \u00e9`; // percent-encoded in the path by nakama-js
  await client.writeStorageObjects(alice, [
    { collection: col, key: 'a', value: {}, permission_read: 2 },
    { collection: col, key: 'b', value: {}, permission_read: 1 },
    { collection: col, key: 'c', value: {}, permission_read: 0 },
    { collection: col, key: 'd', value: {}, permission_read: 2 },
  ]);
  await client.writeStorageObjects(bob, [
    { collection: col, key: 'a', value: {}, permission_read: 2 },
    { collection: col, key: 'e', value: {}, permission_read: 1 },
  ]);
  const sortOwner = (u) => (u === alice.user_id ? 'A' : 'B');
  const all = async (session, userId, limit) => {
    const seen = [];
    let cursor;
    let pages = 0;
    do {
      const page = await client.listStorageObjects(session, col, userId, limit, cursor);
      pages++;
      for (const o of page.objects) seen.push(`${o.key}${sortOwner(o.user_id)}${o.permission_read}`);
      cursor = page.cursor;
      if (cursor) assert.match(cursor, /^[A-Za-z0-9_-]+$/); // unpadded base64url
    } while (cursor && pages < 50);
    return { seen, pages };
  };
  // public listing: read 2 only, ordered by key then owner
  const pub = await all(bob, undefined, 1);
  const aliceFirst = alice.user_id < bob.user_id;
  assert.deepEqual(pub.seen, [...(aliceFirst ? ['aA2', 'aB2'] : ['aB2', 'aA2']), 'dA2']);
  assert.equal(pub.pages, 3); // the last page carries no cursor
  // owner listing: read 1 before read 2, then by key; read 0 is never listed
  assert.deepEqual((await all(alice, alice.user_id, 2)).seen, ['bA1', 'aA2', 'dA2']);
  // another user's listing: their public objects only
  assert.deepEqual((await all(bob, alice.user_id, 10)).seen, ['aA2', 'dA2']);
  assert.deepEqual((await all(alice, bob.user_id, 10)).seen, ['aB2']);
  // default limit is 1
  const one = await api(alice, 'GET', `/v2/storage/${col}`);
  assert.equal(one.body.objects.length, 1);
  assert.ok(one.body.cursor);
  // the path form /v2/storage/{collection}/{user_id}
  const path = await api(alice, 'GET', `/v2/storage/${col}/${alice.user_id}?limit=10`);
  assert.deepEqual(path.body.objects.map((o) => o.key), ['b', 'a', 'd']);
  assert.equal(path.body.cursor, undefined);
  // an empty listing is {}
  assert.deepEqual((await api(alice, 'GET', `/v2/storage/nothing-${uid()}?limit=5`)).body, {});
});

test('paging stays exact while other clients write and delete', async () => {
  const alice = await newUser();
  const bob = await newUser();
  const col = `page-${uid()}`;
  const keys = Array.from({ length: 60 }, (_, i) => `k${String(i).padStart(3, '0')}`);
  for (let i = 0; i < keys.length; i += 20) {
    await client.writeStorageObjects(alice, keys.slice(i, i + 20).map((key) => ({
      collection: col, key, value: { i: key }, permission_read: 2,
    })));
  }
  // bob keeps inserting public objects that sort between alice's keys, and
  // rewriting/deleting his own, while alice pages with a small limit
  let stop = false;
  let writes = 0;
  const writer = (async () => {
    for (let n = 0; !stop; n++) {
      const key = `k${String(n % 60).padStart(3, '0')}x${n}`;
      await client.writeStorageObjects(bob, [{ collection: col, key, value: { n }, permission_read: 2 }]);
      if (n % 3 === 0) {
        await client.deleteStorageObjects(bob, { object_ids: [{ collection: col, key }] });
      }
      writes++;
    }
  })();
  const seen = [];
  let cursor;
  let pages = 0;
  try {
    do {
      // one of bob's writes between any two pages, however slow the box
      const before = writes;
      await waitFor(() => writes > before, 20000, "bob's next write");
      const page = await client.listStorageObjects(alice, col, undefined, 7, cursor);
      for (const o of page.objects) seen.push(`${o.key}/${o.user_id}`);
      cursor = page.cursor;
      pages++;
      await new Promise((r) => setTimeout(r, 5));
    } while (cursor && pages < 500);
  } finally {
    stop = true;
    await writer;
  }
  assert.ok(writes > 5, `the writer ran concurrently (${writes} writes)`);
  assert.equal(new Set(seen).size, seen.length, 'no object listed twice');
  const aliceSeen = seen.filter((s) => s.endsWith(alice.user_id)).map((s) => s.split('/')[0]);
  assert.deepEqual(aliceSeen, keys, 'every pre-existing object listed once, in order');
  // keys come back in order overall
  const ks = seen.map((s) => s.split('/')[0]);
  assert.deepEqual(ks, [...ks].sort());
});

test('optimistic concurrency: "*", stale and matching versions, write permission', async () => {
  const alice = await newUser();
  const col = `occ-${uid()}`;
  const created = await client.writeStorageObjects(alice, [{ collection: col, key: 'k', value: { v: 1 }, version: '*' }]);
  const v1 = created.acks[0].version;
  await expectError(client.writeStorageObjects(alice, [{ collection: col, key: 'k', value: { v: 2 }, version: '*' }]),
    400, 'Storage write rejected - version check failed.');
  await expectError(client.writeStorageObjects(alice, [{ collection: col, key: 'k', value: { v: 2 }, version: md5('nope') }]),
    400, 'Storage write rejected - version check failed.');
  await expectError(client.writeStorageObjects(alice, [{ collection: col, key: 'absent', value: { v: 2 }, version: v1 }]),
    400, 'Storage write rejected - version check failed.');
  // the rejected writes changed nothing
  let cur = await read(alice, [{ collection: col, key: 'k', user_id: alice.user_id }]);
  assert.deepEqual(cur.objects[0].value, { v: 1 });
  const updated = await client.writeStorageObjects(alice, [{
    collection: col, key: 'k', value: { v: 2 }, version: v1, permission_write: 0,
  }]);
  const v2 = updated.acks[0].version;
  assert.equal(v2, md5('{"v":2}'));
  // the old version is now stale
  await expectError(client.writeStorageObjects(alice, [{ collection: col, key: 'k', value: { v: 3 }, version: v1 }]),
    400, 'Storage write rejected - version check failed.');
  // write=0: the owner can no longer overwrite or delete it
  await expectError(client.writeStorageObjects(alice, [{ collection: col, key: 'k', value: { v: 3 } }]),
    400, 'Storage write rejected - permission denied.');
  await expectError(client.writeStorageObjects(alice, [{ collection: col, key: 'k', value: { v: 3 }, version: v2 }]),
    400, 'Storage write rejected - permission denied.');
  await expectError(client.deleteStorageObjects(alice, { object_ids: [{ collection: col, key: 'k' }] }),
    400, 'Storage delete rejected - not found, version check failed, or permission denied.');
  cur = await read(alice, [{ collection: col, key: 'k', user_id: alice.user_id }]);
  assert.deepEqual(cur.objects[0].value, { v: 2 });
});

test('concurrent conditional writes: exactly one winner', async () => {
  const alice = await newUser();
  const col = `race-${uid()}`;
  const settle = (ps) => Promise.allSettled(ps).then((rs) => rs.filter((r) => r.status === 'fulfilled').length);
  // 12 clients race to create the same object
  const creates = Array.from({ length: 12 }, (_, i) =>
    client.writeStorageObjects(alice, [{ collection: col, key: 'once', value: { i }, version: '*' }]));
  assert.equal(await settle(creates), 1);
  // 12 clients race to update from the same version
  const base = (await client.writeStorageObjects(alice, [{ collection: col, key: 'cas', value: { n: 0 } }])).acks[0].version;
  const updates = Array.from({ length: 12 }, (_, i) =>
    client.writeStorageObjects(alice, [{ collection: col, key: 'cas', value: { n: i + 1 }, version: base }]));
  assert.equal(await settle(updates), 1);
});

test('a failed batch writes nothing; a failed delete batch deletes nothing', async () => {
  const alice = await newUser();
  const col = `batch-${uid()}`;
  await client.writeStorageObjects(alice, [{ collection: col, key: 'existing', value: { v: 1 } }]);
  await expectError(client.writeStorageObjects(alice, [
    { collection: col, key: 'new1', value: { v: 1 } },
    { collection: col, key: 'existing', value: { v: 2 } },
    { collection: col, key: 'existing', value: { v: 3 }, version: '*' }, // fails
    { collection: col, key: 'new2', value: { v: 1 } },
  ]), 400, 'Storage write rejected - version check failed.');
  const after = await read(alice, ['new1', 'existing', 'new2'].map((key) => ({ collection: col, key, user_id: alice.user_id })));
  assert.deepEqual(after.objects.map((o) => [o.key, o.value]), [['existing', { v: 1 }]]);

  await client.writeStorageObjects(alice, [{ collection: col, key: 'other', value: {} }]);
  await expectError(client.deleteStorageObjects(alice, { object_ids: [
    { collection: col, key: 'existing' }, { collection: col, key: 'missing' },
  ] }), 400, 'Storage delete rejected - not found, version check failed, or permission denied.');
  await expectError(client.deleteStorageObjects(alice, { object_ids: [
    { collection: col, key: 'other' }, { collection: col, key: 'existing', version: md5('{}') },
  ] }), 400, 'Storage delete rejected - not found, version check failed, or permission denied.');
  const still = await read(alice, ['existing', 'other'].map((key) => ({ collection: col, key, user_id: alice.user_id })));
  assert.equal(still.objects.length, 2);
  // a matching version deletes; deleting someone else's object is not possible
  const bob = await newUser();
  await expectError(client.deleteStorageObjects(bob, { object_ids: [{ collection: col, key: 'other' }] }),
    400, 'Storage delete rejected - not found, version check failed, or permission denied.');
  assert.equal(await client.deleteStorageObjects(alice, { object_ids: [
    { collection: col, key: 'existing', version: md5('{"v":1}') }, { collection: col, key: 'other' },
  ] }), true);
  assert.equal((await read(alice, ['existing', 'other'].map((key) => ({ collection: col, key, user_id: alice.user_id })))).objects.length, 0);
});

test('invalid input: exact status and message', async () => {
  const alice = await newUser();
  const w = (o) => client.writeStorageObjects(alice, [{ collection: 'c', key: 'k', value: {}, ...o }]);
  const NAMES = 'Invalid collection or key value supplied. They must be set.';
  await expectError(w({ collection: '' }), 400, NAMES);
  await expectError(w({ key: '' }), 400, NAMES);
  let r = await api(alice, 'PUT', '/v2/storage', { objects: [{ collection: 'c', key: 'k' }] }); // no value
  assert.deepEqual([r.status, r.body], [400, { code: 3, message: NAMES }]);
  await expectError(w({ permission_read: 3 }), 400, 'Invalid Read permission supplied. It must be either 0, 1 or 2.');
  await expectError(w({ permission_read: -1 }), 400, 'Invalid Read permission supplied. It must be either 0, 1 or 2.');
  await expectError(w({ permission_write: 2 }), 400, 'Invalid Write permission supplied. It must be either 0 or 1.');
  await expectError(w({ value: [1, 2] }), 400, 'Value must be a JSON object.');
  await expectError(w({ value: 'text' }), 400, 'Value must be a JSON object.');
  await expectError(w({ value: 42 }), 400, 'Value must be a JSON object.');
  r = await api(alice, 'PUT', '/v2/storage', { objects: [{ collection: 'c', key: 'k', value: '{"a":1,}' }] });
  assert.deepEqual([r.status, r.body.message], [400, 'Value must be a JSON object.']);
  // size limits
  const big = { blob: 'x'.repeat(70000) };
  await expectError(w({ value: big }), 400,
    `Value too large: ${JSON.stringify(big).length} bytes (the limit is 65536 bytes).`);
  // exactly at the limit is fine
  const edge = { b: 'x'.repeat(65536 - 8) };
  assert.equal(JSON.stringify(edge).length, 65536);
  await client.writeStorageObjects(alice, [{ collection: 'edge', key: 'k', value: edge }]);
  await expectError(w({ key: 'k'.repeat(129) }), 400,
    'Invalid collection or key value supplied. They must be at most 128 bytes long.');
  const many = Array.from({ length: 101 }, (_, i) => ({ collection: 'c', key: `k${i}`, value: {} }));
  await expectError(client.writeStorageObjects(alice, many), 400,
    'Too many storage objects in one request: 101 (the limit is 100).');
  // nothing from the rejected requests was written
  assert.deepEqual((await read(alice, [{ collection: 'c', key: 'k', user_id: alice.user_id }])).objects, []);
  // read validation
  await expectError(read(alice, [{ collection: 'c', key: 'k', user_id: 'not-a-uuid' }]), 400,
    'Invalid user ID - make sure user ID is a valid UUID.');
  await expectError(read(alice, [{ collection: 'c', key: 'k', user_id: NIL }]), 400,
    'Invalid user ID - make sure user ID is a valid UUID.');
  await expectError(read(alice, [{ collection: '', key: 'k' }]), 400, NAMES);
  await expectError(client.deleteStorageObjects(alice, { object_ids: [{ collection: 'c', key: '' }] }), 400, NAMES);
  // list validation
  const LIMIT = 'Invalid limit - limit must be between 1 and 100.';
  await expectError(client.listStorageObjects(alice, 'c', undefined, 0), 400, LIMIT);
  await expectError(client.listStorageObjects(alice, 'c', undefined, 101), 400, LIMIT);
  await expectError(client.listStorageObjects(alice, 'c', 'nope', 10), 400,
    'Invalid user ID - make sure user ID is a valid UUID.');
  await expectError(client.listStorageObjects(alice, 'c', undefined, 10, 'garbage!'), 400, 'Malformed cursor was used.');
  await expectError(client.listStorageObjects(alice, 'c', undefined, 10, 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), 400,
    'Malformed cursor was used.');
  // a real cursor replayed against another collection or owner
  const col = `cur-${uid()}`;
  await client.writeStorageObjects(alice, [1, 2, 3].map((i) => ({ collection: col, key: `k${i}`, value: {}, permission_read: 2 })));
  const page = await client.listStorageObjects(alice, col, undefined, 1);
  assert.ok(page.cursor);
  await expectError(client.listStorageObjects(alice, 'elsewhere', undefined, 1, page.cursor), 400, 'Malformed cursor was used.');
  await expectError(client.listStorageObjects(alice, col, alice.user_id, 1, page.cursor), 400, 'Malformed cursor was used.');
  const next = await client.listStorageObjects(alice, col, undefined, 1, page.cursor);
  assert.equal(next.objects[0].key, 'k2');
  // malformed body shapes
  r = await api(alice, 'PUT', '/v2/storage', { objects: { collection: 'c' } });
  assert.deepEqual([r.status, r.body.code], [400, 3]);
  r = await api(alice, 'PUT', '/v2/storage', '{"objects":[');
  assert.deepEqual([r.status, r.body.code], [400, 3]);
  // no session
  const anon = await fetch(`${srv.url}/v2/storage/c`);
  assert.equal(anon.status, 401);
});

test('metrics: writes and rejects are counted', async () => {
  const alice = await newUser();
  const col = `m-${uid()}`;
  await client.writeStorageObjects(alice, [{ collection: col, key: 'a', value: {} }, { collection: col, key: 'b', value: {} }]);
  await expectError(client.writeStorageObjects(alice, [{ collection: col, key: 'a', value: {}, version: '*' }]),
    400, 'Storage write rejected - version check failed.');
  const text = await (await fetch(`http://127.0.0.1:${srv.metricsPort}/metrics`)).text();
  const value = (re) => Number((text.match(re) || [])[1]);
  assert.ok(value(/^storage_writes_total\{[^}]*\} (\d+)/m) >= 2, 'storage_writes_total');
  assert.ok(value(/^storage_write_rejects_total\{[^}]*reason="version"[^}]*\} (\d+)/m) >= 1, 'rejects by reason');
});
