// Request tracing: W3C traceparent/tracestate accepted on REST, gRPC
// metadata and the WebSocket upgrade (or a new trace), trace_id/span_id in
// the request's log lines and the runtime ctx, nk.http_request forwarding,
// OTLP/HTTP JSON export to a small collector on loopback (server spans with
// their parents, child spans for statements and runtime calls), and spans
// dropped and counted when the collector is gone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { startServer, freePort, basicAuth } from './harness.mjs';
import { waitFor } from './rtutil.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const PROTO_DIR = path.resolve(here, '../../src/codec/proto');
const api = grpc.loadPackageDefinition(protoLoader.loadSync(path.join(PROTO_DIR, 'tomo_api.proto'), {
  keepCase: true, longs: String, enums: Number, defaults: false, includeDirs: [PROTO_DIR],
})).nakama.api;

const hex = (n) => [...Array(n)].map(() => Math.floor(Math.random() * 16).toString(16)).join('');
const TP = () => {
  const t = hex(32), p = hex(16);
  return { trace: t, parent: p, header: `00-${t}-${p}-01` };
};

// The collector: OTLP JSON batches on /v1/traces; /echo records headers.
const spans = [];
const echoed = [];
let collector, collectorPort;

const LUA = `
local nk = require("nakama")
nk.register_rpc(function(ctx, payload)
  nk.logger_info("traced rpc " .. payload)
  local code, _, body = nk.http_request(payload, "get", {}, "")
  return nk.json_encode({ trace_id = ctx.trace_id, span_id = ctx.span_id, code = code })
end, "traced")
`;

let srv, luaDir;
before(async () => {
  collectorPort = await freePort();
  collector = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const doc = JSON.parse(body);
        for (const rs of doc.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      } else {
        echoed.push(req.headers);
        res.end('ok');
      }
    });
  });
  await new Promise((r) => collector.listen(collectorPort, '127.0.0.1', r));
  luaDir = mkdtempSync(path.join(os.tmpdir(), 'tomo-trace-lua-'));
  writeFileSync(path.join(luaDir, 'traced.lua'), LUA);
  srv = await startServer({
    args: ['--runtime.path', luaDir, '--tracing.otlp_endpoint', `http://127.0.0.1:${collectorPort}/v1/traces`,
      '--tracing.flush_interval_ms', '50'],
  });
});
after(async () => {
  await srv?.cleanup();
  collector?.close();
  if (luaDir) rmSync(luaDir, { recursive: true, force: true });
});

async function auth(id, headers = {}) {
  const r = await fetch(`${srv.url}/v2/account/authenticate/device?create=true`, {
    method: 'POST', headers: { Authorization: basicAuth(), ...headers }, body: JSON.stringify({ id }),
  });
  assert.equal(r.status, 200);
  return r.json();
}
const logLines = () => srv.logs().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));

test('REST: traceparent continued, server span with its parent, statement spans under it', async () => {
  const tp = TP();
  await auth(`trace-rest-${process.pid}-${Date.now()}`, { traceparent: tp.header, tracestate: 'vendor=1' });
  const server = await waitFor(() => spans.find((s) => s.traceId === tp.trace && s.kind === 2));
  assert.equal(server.name, 'POST /v2/account/authenticate/device');
  assert.equal(server.parentSpanId, tp.parent);
  assert.match(server.spanId, /^[0-9a-f]{16}$/);
  assert.notEqual(server.spanId, tp.parent);
  assert.equal(server.status.code, 1);
  const db = await waitFor(() => spans.filter((s) => s.traceId === tp.trace && s.name.startsWith('db ')));
  assert.ok(db.length > 0);
  for (const s of db) assert.equal(s.parentSpanId, server.spanId);
});

test('REST without traceparent: a new trace; errors mark the span', async () => {
  const before = spans.length;
  const r = await fetch(`${srv.url}/v2/account`, { headers: { Authorization: 'Bearer nope' } });
  assert.equal(r.status, 401);
  const s = await waitFor(() => spans.slice(before).find((x) => x.name === 'GET /v2/account'));
  assert.match(s.traceId, /^[0-9a-f]{32}$/);
  assert.equal(s.parentSpanId, undefined);
  assert.equal(s.status.code, 2);
});

test('runtime: ctx carries the ids, log lines carry them, nk.http_request forwards traceparent', async () => {
  const tp = TP();
  const session = await auth(`trace-rpc-${process.pid}-${Date.now()}`);
  const url = `http://127.0.0.1:${collectorPort}/echo`;
  const r = await fetch(`${srv.url}/v2/rpc/traced`, {
    method: 'POST', headers: { Authorization: `Bearer ${session.token}`, traceparent: tp.header, tracestate: 'k=v' },
    body: JSON.stringify(url),
  });
  assert.equal(r.status, 200);
  const out = JSON.parse((await r.json()).payload);
  assert.equal(out.trace_id, tp.trace);
  assert.equal(out.code, 200);
  // the callee is a child in the same trace, tracestate passed on
  const h = echoed.at(-1);
  const [v, t, p] = h.traceparent.split('-');
  assert.equal(v, '00');
  assert.equal(t, tp.trace);
  assert.notEqual(p, tp.parent);
  assert.equal(h.tracestate, 'k=v');
  const line = await waitFor(() => logLines().find((l) => l.msg === `traced rpc ${url}`));
  assert.equal(line.trace_id, tp.trace);
  assert.equal(line.span_id, out.span_id);
  // spans: server <- runtime <- http client
  const server = await waitFor(() => spans.find((s) => s.traceId === tp.trace && s.kind === 2));
  const rt = await waitFor(() => spans.find((s) => s.traceId === tp.trace && s.name === 'runtime traced'));
  assert.equal(rt.parentSpanId, server.spanId);
  assert.equal(rt.spanId, out.span_id);
  const client = await waitFor(() => spans.find((s) => s.traceId === tp.trace && s.kind === 3 && s.name === 'GET'));
  assert.equal(client.parentSpanId, rt.spanId);
  assert.equal(client.spanId, p);
});

test('gRPC metadata and the WebSocket upgrade carry the trace too', async () => {
  const tp = TP();
  const client = new api.Nakama(`127.0.0.1:${srv.grpcPort}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set('authorization', basicAuth());
  md.set('traceparent', tp.header);
  const session = await new Promise((resolve, reject) => client.AuthenticateDevice(
    { account: { id: `trace-grpc-${process.pid}-${Date.now()}` }, create: { value: true } }, md,
    (e, r) => (e ? reject(e) : resolve(r))));
  client.close();
  const g = await waitFor(() => spans.find((s) => s.traceId === tp.trace && s.kind === 2));
  assert.equal(g.name, '/nakama.api.Nakama/AuthenticateDevice');
  assert.equal(g.parentSpanId, tp.parent);

  const tw = TP();
  const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/ws?token=${session.token}`, { headers: { traceparent: tw.header } });
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  ws.close();
  const w = await waitFor(() => spans.find((s) => s.traceId === tw.trace));
  assert.equal(w.name, 'GET /ws');
  assert.equal(w.parentSpanId, tw.parent);
});

test('an invalid traceparent starts a new trace', async () => {
  const before = spans.length;
  await auth(`trace-bad-${process.pid}-${Date.now()}`, { traceparent: '00-00000000000000000000000000000000-0000000000000000-01' });
  const s = await waitFor(() => spans.slice(before).find((x) => x.kind === 2));
  assert.notEqual(s.traceId, '00000000000000000000000000000000');
  assert.equal(s.parentSpanId, undefined);
});

test('a collector that is gone: requests go on, spans are dropped and counted', async () => {
  const dead = await freePort();
  const s2 = await startServer({
    args: ['--tracing.otlp_endpoint', `http://127.0.0.1:${dead}/v1/traces`, '--tracing.queue_size', '4',
      '--tracing.batch_size', '2', '--tracing.flush_interval_ms', '20', '--tracing.export_timeout_ms', '200'],
  });
  try {
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${s2.url}/healthcheck`);
      assert.equal(r.status, 200);
    }
    await waitFor(async () => {
      const m = await (await fetch(`http://127.0.0.1:${s2.metricsPort}/metrics`)).text();
      return /tracing_spans_dropped_total\{[^}]*\} [1-9]/.test(m) && /tracing_export_errors_total\{?[^\n]* [1-9]/.test(m);
    });
  } finally {
    await s2.cleanup();
  }
});

test('tracing.enabled=false: no ids in log lines', async () => {
  const s3 = await startServer({ args: ['--tracing.enabled', 'false', '--logger.level', 'debug'] });
  try {
    await fetch(`${s3.url}/v2/account`, { headers: { Authorization: 'Bearer x' } });
    const lines = s3.logs().split('\n').filter((l) => l.startsWith('{'));
    assert.ok(lines.length > 0);
    assert.ok(lines.every((l) => !l.includes('"trace_id"')));
  } finally {
    await s3.cleanup();
  }
});
