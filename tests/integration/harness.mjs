// tests/integration/harness.mjs: starts a real tomo process on free ports with
// a temporary data dir (SQLite) or a fresh database (Postgres, when
// TOMO_TEST_PG_ADMIN is set), and hands tests a nakama-js client for it.
//
// Environment:
//   TOMO_BIN            path of the tomo binary (default: ../../build/tomo)
//   TOMO_TEST_BACKEND   "sqlite" (default) or "postgres"
//   TOMO_TEST_PG_ADMIN  postgres://user@127.0.0.1:PORT/postgres, used to create
//                       one database per server started
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { Client, Session } from '@heroiclabs/nakama-js';

// nakama-js expects browser globals.
if (!globalThis.WebSocket) globalThis.WebSocket = WebSocket;

export { Client, Session };
const here = path.dirname(fileURLToPath(import.meta.url));
export const TOMO_BIN = process.env.TOMO_BIN || path.resolve(here, '../../build/tomo');
export const BACKEND = process.env.TOMO_TEST_BACKEND || 'sqlite';
export const SERVER_KEY = 'defaultkey';

// Ports for servers under test come from 20000-32767, below Linux's
// ephemeral range (32768-60999): a port bind(0) hands out is also what
// outgoing client sockets use, and a test that opens many connections can
// take one between the pick and the server's bind (seen as "address already
// in use" for the metrics listener, which binds 0.0.0.0). Each pick is
// checked on 0.0.0.0 and never handed out twice by one process.
const handedOut = new Set();
function tryListen(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '0.0.0.0', () => srv.close(() => resolve(true)));
  });
}

export async function freePort() {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 12768);
    if (handedOut.has(port)) continue;
    if (await tryListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free port in 20000-32767');
}

/** n consecutive free ports (socket.loop_port_base); returns the first. */
export async function freePortRange(n) {
  for (let i = 0; i < 200; i++) {
    const base = 20000 + Math.floor(Math.random() * (12768 - n));
    let ok = true;
    for (let k = 0; k < n && ok; k++) ok = !handedOut.has(base + k) && await tryListen(base + k);
    if (!ok) continue;
    for (let k = 0; k < n; k++) handedOut.add(base + k);
    return base;
  }
  throw new Error('no free port range in 20000-32767');
}

// TOMO_TEST_LOOPS=N: every server runs N event loops (socket.loops; CI runs
// the realtime files with 3). A test's own --socket.loops comes later and wins.
export const TEST_LOOPS = process.env.TOMO_TEST_LOOPS || '';

let dbCounter = 0;
export function createPgDatabase() {
  const admin = process.env.TOMO_TEST_PG_ADMIN;
  if (!admin) throw new Error('TOMO_TEST_BACKEND=postgres needs TOMO_TEST_PG_ADMIN');
  const name = `tomo_t${process.pid}_${Date.now()}_${dbCounter++}`;
  execFileSync('psql', [admin, '-v', 'ON_ERROR_STOP=1', '-qc', `CREATE DATABASE ${name}`]);
  const url = new URL(admin);
  url.pathname = '/' + name;
  return url.toString();
}

/**
 * Start a tomo server. opts.args: extra CLI args; opts.env: extra env;
 * opts.migrate: run `tomo migrate up` first (default: true for postgres);
 * opts.dataDir / opts.dbUrl: reuse a previous server's data (a restart; pair
 * with opts.keepData on the first server so cleanup() leaves it).
 * Returns { port, wsPort, metricsPort, grpcPort, url, client(), stop(), kill(), logs(), dataDir, dbUrl }.
 */
export async function startServer(opts = {}) {
  const port = await freePort();
  const wsPort = await freePort();
  const metricsPort = await freePort();
  const consolePort = await freePort();
  const grpcPort = await freePort();
  const dataDir = opts.dataDir || mkdtempSync(path.join(os.tmpdir(), 'tomo-it-'));
  const dbArgs = [];
  let dbUrl = opts.dbUrl || null;
  if (BACKEND === 'postgres' && !dbUrl) dbUrl = createPgDatabase();
  // TOMO_TEST_PGBOUNCER_PORT: reach Postgres through a pgBouncer (transaction
  // mode) on that loopback port, with database.pgbouncer on (pgbouncer.test.mjs).
  const via = process.env.TOMO_TEST_PGBOUNCER_PORT;
  if (dbUrl && via) {
    const u = new URL(dbUrl);
    u.hostname = '127.0.0.1';
    u.port = via;
    dbUrl = u.toString();
    dbArgs.push('--database.pgbouncer', 'true');
  }
  if (dbUrl) dbArgs.push('--database.address', dbUrl);
  const baseArgs = [
    '--socket.port', String(port),
    '--socket.ws_port', String(wsPort),
    '--metrics.prometheus_port', String(metricsPort),
    '--console.port', String(consolePort),
    '--grpc.port', String(grpcPort),
    '--data_dir', dataDir,
    '--logger.level', opts.logLevel || 'info',
    ...(TEST_LOOPS ? ['--socket.loops', TEST_LOOPS] : []),
    ...dbArgs,
  ];
  if (dbUrl && opts.migrate !== false) {
    execFileSync(TOMO_BIN, ['migrate', 'up', ...dbArgs], { stdio: 'pipe' });
  }
  const args = [...baseArgs, ...(opts.args || [])];
  let out = '';
  const child = spawn(TOMO_BIN, ['serve', ...args], {
    env: { ...process.env, ...(opts.env || {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 15000;
  let ready = false;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      // opts.ca: the server speaks TLS (socket.ssl_*); check it with that CA
      const status = opts.ca
        ? await new Promise((resolve, reject) => {
          https.get({ host: '127.0.0.1', port, path: '/healthcheck', ca: opts.ca, servername: 'localhost' },
            (res) => { res.resume(); resolve(res.statusCode); }).on('error', reject);
        })
        : (await fetch(`http://127.0.0.1:${port}/healthcheck`)).status;
      if (status === 200) { ready = true; break; }
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 25));
  }
  if (!ready) {
    child.kill('SIGKILL');
    throw new Error(`tomo did not become healthy:\n${out}`);
  }
  const srv = {
    port, wsPort, metricsPort, consolePort, grpcPort, dataDir, dbUrl, child, exited, args,
    url: `http://127.0.0.1:${port}`,
    logs: () => out,
    client: (key = SERVER_KEY, autoRefresh = false) =>
      new Client(key, '127.0.0.1', String(port), false, 7000, autoRefresh),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const r = await exited;
      return r;
    },
    async cleanup() {
      await srv.stop();
      if (!opts.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return srv;
}

/** fetch() against the server with Basic auth for the server key. */
export function basicAuth(key = SERVER_KEY) {
  return 'Basic ' + Buffer.from(`${key}:`).toString('base64');
}

/** Raw TCP exchange: send bytes, collect everything until close or timeout. */
export function rawExchange(port, chunks, { timeoutMs = 3000, delayMs = 0 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let done = false;
    const finish = (closed) => { if (!done) { done = true; sock.destroy(); resolve({ text: data.toString('latin1'), closed }); } };
    sock.on('data', (d) => { data = Buffer.concat([data, d]); });
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
    sock.setTimeout(timeoutMs, () => finish(false));
    sock.on('connect', async () => {
      for (const c of [].concat(chunks)) {
        sock.write(c);
        if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      }
    });
  });
}

/** A throwaway CA in dir (ca.pem, ca.key) and, for each name, <name>.pem /
 * <name>.key: a certificate it signed for localhost and 127.0.0.1 (subject
 * O "tomo <name>"). Returns the CA certificate (PEM). */
export function makeTestCA(dir, names) {
  const f = (n) => path.join(dir, n);
  const ossl = (...a) => execFileSync('openssl', a, { stdio: 'pipe' });
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'),
    '-days', '2', '-subj', '/CN=tomo test CA');
  writeFileSync(f('ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  for (const name of names) {
    ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`),
      '-subj', `/CN=localhost/O=tomo ${name}`);
    ossl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'),
      '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '2', '-extfile', f('ext'));
  }
  return readFileSync(f('ca.pem'));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const uid = () => Math.random().toString(36).slice(2) + Date.now().toString(36);

/**
 * Expect a nakama-js call to reject with this HTTP status and exactly this
 * gateway error body {code, message}.
 */
export async function rejectsWith(promise, status, code, message) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  if (!err) throw new Error(`expected HTTP ${status} "${message}", call succeeded`);
  if (err.status !== status) {
    const body = typeof err.text === 'function' ? await err.text() : String(err);
    throw new Error(`expected HTTP ${status} "${message}", got ${err.status}: ${body}`);
  }
  const body = await err.json();
  if (body.code !== code || body.message !== message || Object.keys(body).length !== 2) {
    throw new Error(`expected {code:${code}, message:"${message}"}, got ${JSON.stringify(body)}`);
  }
}
