// Realtime details of Nakama's pipeline through nakama-js 2.8.0: a channel
// join reply lists the other visible presences on a first join, and the
// joiner too when its session had already joined (Nakama lists the stream
// and skips the joiner only for a new presence).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uid } from './harness.mjs';
import { newUser, connect } from './rtutil.mjs';

let srv;

before(async () => { srv = await startServer(); });
after(async () => { if (srv) await srv.cleanup(); });

test('channel join reply: others on a first join, the joiner too on a rejoin', async () => {
  const a = await newUser(srv, 'cja');
  const b = await newUser(srv, 'cjb');
  const sa = await connect(srv, a);
  const sb = await connect(srv, b);
  try {
    const room = `compat-${uid()}`;
    const first = await sa.joinChat(room, 1, true, false);
    assert.equal(first.presences, undefined);
    assert.equal(first.self.user_id, a.userId);
    const other = await sb.joinChat(room, 1, true, false);
    assert.deepEqual(other.presences.map((p) => p.user_id), [a.userId]);
    const again = await sa.joinChat(room, 1, true, false);
    assert.deepEqual(again.presences.map((p) => p.user_id).sort(), [a.userId, b.userId].sort());
    assert.equal(again.self.session_id, first.self.session_id);
    // A hidden member is never listed, not even to itself.
    const hiddenRoom = `compat-h-${uid()}`;
    await sb.joinChat(hiddenRoom, 1, true, true);
    const rejoin = await sb.joinChat(hiddenRoom, 1, true, true);
    assert.equal(rejoin.presences, undefined);
  } finally {
    sa.disconnect(false);
    sb.disconnect(false);
  }
});
