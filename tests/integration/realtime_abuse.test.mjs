// Realtime robustness: malformed and hostile input closes only the offending
// socket (as Nakama specifies) while other players keep playing; server
// pings and drops silent peers; single_socket; slow consumers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import { startServer, sleep } from './harness.mjs';
import { newUser, connect, waitFor, rawSocket, closeAll } from './rtutil.mjs';

let srv;
before(async () => {
  srv = await startServer({ args: ['--socket.max_message_size_bytes', '4096'] });
});
after(async () => { await srv?.cleanup(); });

const wsUrl = (u, fmt = 'json') => `ws://127.0.0.1:${srv.port}/ws?token=${u.session.token}&format=${fmt}`;
const closed = (ws, ms = 3000) => waitFor(() => ws.closed, ms, 'socket close');

/** Two players in a match; returns a function asserting they still play. */
async function bystanders() {
  const [a, b] = [await newUser(srv, 'a'), await newUser(srv, 'b')];
  const sa = await connect(srv, a);
  const sb = await connect(srv, b, { protobuf: true });
  const m = await sa.createMatch();
  await sb.joinMatch(m.match_id);
  let n = 0;
  const stillPlaying = async () => {
    n++;
    await sa.sendMatchState(m.match_id, 100 + n, 'still-here');
    await waitFor(() => sb.events.matchdata.some((d) => d.op_code === 100 + n), 3000, 'bystander match data');
  };
  return { sa, sb, m, stillPlaying, close: () => closeAll(sa, sb) };
}

test('hostile frames close only the offending socket', async () => {
  const others = await bystanders();
  try {
    const u = await newUser(srv);
    const cases = [
      {
        name: 'garbage text',
        fmt: 'json',
        send: (ws) => ws.send('this is not json'),
        code: 1007, error: null,
      },
      {
        name: 'unknown field in the envelope',
        fmt: 'json',
        send: (ws) => ws.send(JSON.stringify({ cid: '1', ping: {}, bogus: 1 })),
        code: 1007, error: null,
      },
      {
        name: 'binary frame on a JSON socket',
        fmt: 'json',
        send: (ws) => ws.send(Buffer.from([1, 2, 3])),
        code: 1003, error: null,
      },
      {
        name: 'text frame on a protobuf socket',
        fmt: 'protobuf',
        send: (ws) => ws.send('{"ping":{}}'),
        code: 1003, error: null,
      },
      {
        name: 'invalid protobuf',
        fmt: 'protobuf',
        send: (ws) => ws.send(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])),
        code: 1007, error: null,
      },
      {
        name: 'invalid UTF-8 in a text frame',
        fmt: 'json',
        // `ws` refuses to send invalid UTF-8 as text, so write the frame by hand
        send: (ws) => rawFrame(ws, 0x1, Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d])),
        code: 1007, error: null,
      },
      {
        name: 'oversized frame',
        fmt: 'json',
        send: (ws) => ws.send(JSON.stringify({ cid: '1', rpc: { id: 'x', payload: 'y'.repeat(8000) } })),
        code: 1009, error: null, reason: /too big/i,
      },
      {
        name: 'unknown envelope type (push-only)',
        fmt: 'json',
        send: (ws) => ws.send(JSON.stringify({ cid: '5', match_data: { match_id: 'x' } })),
        code: null, error: { cid: '5', code: 1, message: 'Unrecognized message.' },
      },
      {
        name: 'envelope with no message',
        fmt: 'json',
        send: (ws) => ws.send(JSON.stringify({ cid: '6' })),
        code: null, error: { cid: '6', code: 2, message: 'Missing message.' },
      },
    ];
    for (const c of cases) {
      const ws = await rawSocket(wsUrl(u, c.fmt));
      c.send(ws);
      const cl = await closed(ws);
      if (c.code) assert.equal(cl.code, c.code, `${c.name}: close code`);
      if (c.reason) assert.match(cl.reason, c.reason, `${c.name}: close reason`);
      if (c.error) {
        assert.equal(ws.msgs.length, 1, `${c.name}: one error envelope`);
        const e = JSON.parse(ws.msgs[0]);
        assert.deepEqual(e, { cid: c.error.cid, error: { code: c.error.code, message: c.error.message } }, c.name);
      } else {
        assert.equal(ws.msgs.length, 0, `${c.name}: no error envelope for a malformed frame`);
      }
      await others.stillPlaying();
    }
    // a fragmented message over the limit is refused too
    const ws = await rawSocket(wsUrl(u));
    rawFrame(ws, 0x1, Buffer.alloc(3000, 0x20), false);
    rawFrame(ws, 0x0, Buffer.alloc(3000, 0x20), true);
    assert.equal((await closed(ws)).code, 1009);
    await others.stillPlaying();
  } finally { others.close(); }
});

/** Write one masked client frame on a `ws` socket's TCP stream. */
function rawFrame(ws, opcode, payload, fin = true) {
  const mask = crypto.randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | len])
    : Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, len >> 8, len & 0xff]);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= mask[i % 4];
  ws._socket.write(Buffer.concat([head, mask, body]));
}

test('server pings; a peer that never answers is dropped', async () => {
  const s2 = await startServer({
    args: ['--socket.ping_period_ms', '300', '--socket.pong_wait_ms', '900', '--socket.close_ack_wait_ms', '300'],
  });
  try {
    const u = await newUser(s2);
    // a `ws` client answers pings: it stays connected well past pong_wait
    const good = await rawSocket(`ws://127.0.0.1:${s2.port}/ws?token=${u.session.token}`);
    let pings = 0;
    good.on('ping', () => { pings++; });
    // a raw TCP client completes the handshake, then never reads or answers
    const key = crypto.randomBytes(16).toString('base64');
    const sock = net.connect(s2.port, '127.0.0.1');
    let head = '';
    let sockClosed = false;
    sock.on('data', (d) => { head += d.toString('latin1'); });
    sock.on('close', () => { sockClosed = true; });
    sock.on('error', () => {});
    sock.write(`GET /ws?token=${u.session.token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await waitFor(() => head.includes('101 Switching Protocols'), 3000, '101');
    const expect = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    assert.ok(head.includes(`Sec-WebSocket-Accept: ${expect}`), 'accept key');
    const t0 = Date.now();
    await waitFor(() => sockClosed, 5000, 'silent peer dropped');
    const took = Date.now() - t0;
    assert.ok(took >= 800, `dropped after pong_wait, took ${took} ms`);
    assert.ok(head.includes('\x89\x00'), 'the server pinged the silent peer');
    assert.ok(pings >= 2, `the answering client got pings (${pings})`);
    assert.equal(good.closed, null, 'the answering client is still connected');
    good.send(JSON.stringify({ cid: '1', ping: {} }));
    await waitFor(() => good.msgs.length, 2000, 'pong');
    good.close();
  } finally { await s2.cleanup(); }
});

test('single_socket: a new socket closes the older one after notification -7; single_match', async () => {
  const s2 = await startServer({ args: ['--session.single_socket', 'true', '--session.single_match', 'true'] });
  try {
    const u = await newUser(s2);
    const first = await connect(s2, u);
    const second = await connect(s2, u, { protobuf: true });
    const n = await waitFor(() => first.events.notification[0], 3000, 'notification -7');
    assert.equal(n.code, -7);
    assert.equal(n.subject, 'single_socket');
    assert.deepEqual(n.content, {});
    await waitFor(() => first.events.disconnect.length, 3000, 'older socket closed');
    const pong = await second.send({ ping: {} });
    assert.ok(pong.pong, 'the new socket works');
    assert.equal(second.events.notification.length, 0);
    // single_match: joining a second match leaves the first
    const w = await newUser(s2, 'w');
    const sw = await connect(s2, w);
    const m1 = await sw.createMatch();
    await second.joinMatch(m1.match_id);
    await waitFor(() => sw.events.matchpresence.some((e) => e.joins?.some((p) => p.user_id === u.userId)), 3000, 'join m1');
    await second.createMatch();
    await waitFor(() => sw.events.matchpresence.some((e) => e.leaves?.some((p) => p.user_id === u.userId)), 3000, 'left m1');
    closeAll(second, sw);
  } finally { await s2.cleanup(); }
});

test('slow consumer: a client that stops reading is disconnected, others unaffected', async () => {
  const s2 = await startServer({ args: ['--socket.outgoing_queue_size', '4', '--socket.max_message_size_bytes', '65536'] });
  try {
    const [a, b] = [await newUser(s2, 'a'), await newUser(s2, 'b')];
    const sa = await connect(s2, a);
    const m = await sa.createMatch();
    // b: raw TCP, handshake, join, then never read again
    const key = crypto.randomBytes(16).toString('base64');
    const sock = net.connect(s2.port, '127.0.0.1');
    let head = '';
    let sockClosed = false;
    sock.on('data', (d) => { head += d.toString('latin1'); });
    sock.on('close', () => { sockClosed = true; });
    sock.on('error', () => {});
    sock.write(`GET /ws?token=${b.session.token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await waitFor(() => head.includes('101 Switching Protocols'), 3000, '101');
    const join = Buffer.from(JSON.stringify({ cid: '1', match_join: { match_id: m.match_id } }));
    const mask = Buffer.from([1, 2, 3, 4]);
    const body = Buffer.from(join);
    for (let i = 0; i < body.length; i++) body[i] ^= mask[i % 4];
    sock.write(Buffer.concat([Buffer.from([0x81, 0x80 | body.length]), mask, body]));
    await waitFor(() => sa.events.matchpresence.some((e) => e.joins?.some((p) => p.user_id === b.userId)), 3000, 'b joined');
    sock.pause(); // stop reading: kernel buffers fill, then the server's queue
    const c = await newUser(s2, 'c');
    const sc = await connect(s2, c);
    await sc.joinMatch(m.match_id);
    const chunk = 'z'.repeat(40000);
    let sent = 0;
    while (!sa.events.matchpresence.some((e) => e.leaves?.some((p) => p.user_id === b.userId)) && sent < 2000) {
      await sa.sendMatchState(m.match_id, 1, chunk);
      sent++;
      if (sent % 20 === 0) await sleep(5);
    }
    assert.ok(sent < 2000, 'the slow consumer was disconnected');
    await waitFor(() => sc.events.matchdata.length === sent, 30000, 'the fast consumer got everything');
    const text = await (await fetch(`http://127.0.0.1:${s2.metricsPort}/metrics`)).text();
    assert.match(text, /^realtime_slow_consumer_disconnects_total\{[^}]*\} [1-9]/m);
    sock.destroy();
    closeAll(sa, sc);
  } finally { await s2.cleanup(); }
});

test('an idle socket drops its parser buffers and keeps working; a message split across the idle time survives', async () => {
  const u = await newUser(srv);
  const ws = await rawSocket(wsUrl(u));
  ws.send(JSON.stringify({ cid: '1', ping: {} }));
  await waitFor(() => ws.msgs.length === 1, 2000, 'first pong');
  // first fragment, then silence longer than the 1 s idle trim
  const msg = Buffer.from(JSON.stringify({ cid: '2', ping: {} }));
  rawFrame(ws, 0x1, msg.subarray(0, 5), false);
  await sleep(2500);
  rawFrame(ws, 0x0, msg.subarray(5), true);
  await waitFor(() => ws.msgs.length === 2, 2000, 'pong for the fragmented ping');
  assert.deepEqual(JSON.parse(ws.msgs[1]), { cid: '2', pong: {} });
  await sleep(2500); // idle again: buffers dropped between messages
  ws.send(JSON.stringify({ cid: '3', ping: {} }));
  await waitFor(() => ws.msgs.length === 3, 2000, 'pong after idle');
  assert.deepEqual(JSON.parse(ws.msgs[2]), { cid: '3', pong: {} });
  // a ping control frame from the client is answered after idling too
  let ponged = false;
  ws.on('pong', () => { ponged = true; });
  ws.ping();
  await waitFor(() => ponged, 2000, 'pong control frame');
  ws.close();
  await closed(ws);
});

test('random frames on protobuf and JSON sockets never take the server down', async () => {
  const others = await bystanders();
  try {
    const u = await newUser(srv);
    let seed = 12345;
    const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
    // protobuf: random bytes, and mutations of a valid match_data_send envelope
    const valid = Buffer.from([0x7a, 0x05, 0x0a, 0x03, 0x61, 0x62, 0x63]); // match_data_send{match_id:"abc"}
    for (let round = 0; round < 30; round++) {
      const ws = await rawSocket(wsUrl(u, 'protobuf'));
      for (let i = 0; i < 10 && !ws.closed; i++) {
        const len = rnd() % 64;
        const b = Buffer.alloc(len);
        for (let j = 0; j < len; j++) b[j] = rnd() & 0xff;
        if (i % 3 === 0) b.set(valid.subarray(0, Math.min(valid.length, len)));
        try { ws.send(b); } catch { break; }
      }
      await sleep(20);
      ws.terminate();
    }
    // JSON: random printable text and truncated envelopes
    const samples = ['{"ping":', '{"match_join":{"match_id":1}}', '{"cid":1,"ping":{}}', '[]', '{"status_update":{"status":5}}',
      '{"match_data_send":{"match_id":"x.","op_code":"abc"}}', '{"rpc":{"id":"' + 'a'.repeat(100) + '"}}', 'null', '""'];
    for (const t of samples) {
      const ws = await rawSocket(wsUrl(u));
      ws.send(t);
      await waitFor(() => ws.closed || ws.msgs.length, 3000, `answer or close for ${t}`);
      ws.terminate();
    }
    await others.stillPlaying();
    const r = await fetch(`${srv.url}/healthcheck`);
    assert.equal(r.status, 200);
  } finally { others.close(); }
});

test('an envelope sent in the same packet as the handshake is answered', async () => {
  const u = await newUser(srv);
  const key = crypto.randomBytes(16).toString('base64');
  const body = Buffer.from(JSON.stringify({ cid: '42', ping: {} }));
  const mask = Buffer.from([9, 8, 7, 6]);
  const masked = Buffer.from(body);
  for (let i = 0; i < masked.length; i++) masked[i] ^= mask[i % 4];
  const frame = Buffer.concat([Buffer.from([0x81, 0x80 | masked.length]), mask, masked]);
  const sock = net.connect(srv.port, '127.0.0.1');
  let data = Buffer.alloc(0);
  sock.on('data', (d) => { data = Buffer.concat([data, d]); });
  sock.on('error', () => {});
  sock.write(Buffer.concat([Buffer.from(
    `GET /ws?token=${u.session.token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`), frame]));
  await waitFor(() => data.includes('"pong"'), 3000, 'pong after a pipelined envelope');
  const text = data.toString('latin1');
  assert.match(text, /^HTTP\/1\.1 101 /);
  assert.ok(text.includes('{"cid":"42","pong":{}}'));
  sock.destroy();
});
