// Authoritative matches at the edges of the server's life: matches created
// by the matchmaker's matched hook, SIGTERM with shutdown_grace_sec
// (match_terminate runs, its broadcast reaches the players before the
// sockets close) and without it (no terminate call).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer } from './harness.mjs';
import { newUser, connect, closeAll, waitFor } from './rtutil.mjs';
import { writeModules, createMatch } from './amatch_util.mjs';

const MATCHED = `
local nk = require("nakama")
nk.register_matchmaker_matched(function(ctx, entries)
  return nk.match_create("arena", { label = "mm:" .. #entries })
end)
`;

const ofOp = (s, op) => s.events.matchdata.filter((d) => d.op_code === op);

test('register_matchmaker_matched returns a match created with nk.match_create', async () => {
  const dir = writeModules({ 'matched.lua': MATCHED });
  const srv = await startServer({ args: ['--runtime.path', dir, '--matchmaker.interval_sec', '1'] });
  const [a, b] = [await newUser(srv, 'ma'), await newUser(srv, 'mb')];
  const sa = await connect(srv, a, { protobuf: true });
  const sb = await connect(srv, b);
  try {
    const got = [];
    sa.onmatchmakermatched = (m) => got.push(m);
    sb.onmatchmakermatched = (m) => got.push(m);
    await sa.addMatchmaker('*', 2, 2);
    await sb.addMatchmaker('*', 2, 2);
    await waitFor(() => got.length === 2, 8000, 'both matched');
    assert.equal(got[0].match_id, got[1].match_id);
    assert.match(got[0].match_id, /\.nakama$/);
    assert.ok(!got[0].token);
    const ma = await sa.joinMatch(got[0].match_id);
    assert.equal(ma.authoritative, true);
    assert.equal(ma.label, 'mm:2');
    const mb = await sb.joinMatch(got[1].match_id);
    assert.equal(mb.size, 1);
  } finally {
    closeAll(sa, sb);
    await srv.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGTERM with shutdown_grace_sec: match_terminate reaches the players before the sockets close', async () => {
  const dir = writeModules();
  const srv = await startServer({ args: ['--runtime.path', dir, '--shutdown_grace_sec', '2'] });
  const a = await newUser(srv, 'ga');
  const sa = await connect(srv, a);
  try {
    const { match_id: id } = await createMatch(a, {});
    await sa.joinMatch(id);
    await waitFor(() => ofOp(sa, 100).length, 3000, 'joined');
    srv.child.kill('SIGTERM');
    await waitFor(() => ofOp(sa, 99).length, 5000, 'terminate broadcast');
    assert.equal(new TextDecoder().decode(ofOp(sa, 99)[0].data), '2');
    assert.equal(sa.events.disconnect.length, 0, 'still connected when terminate ran');
    // the match keeps its players until the grace is over, then the server stops
    await waitFor(() => sa.events.disconnect.length, 8000, 'closed after the grace');
    const r = await srv.exited;
    assert.equal(r.code, 0);
  } finally {
    closeAll(sa);
    await srv.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGTERM without a grace period: matches stop, match_terminate is not called', async () => {
  const dir = writeModules();
  const srv = await startServer({ args: ['--runtime.path', dir] });
  const a = await newUser(srv, 'gz');
  const sa = await connect(srv, a);
  try {
    const { match_id: id } = await createMatch(a, {});
    await sa.joinMatch(id);
    srv.child.kill('SIGTERM');
    await waitFor(() => sa.events.disconnect.length, 8000, 'closed');
    assert.equal(ofOp(sa, 99).length, 0);
    assert.equal((await srv.exited).code, 0);
  } finally {
    closeAll(sa);
    await srv.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
