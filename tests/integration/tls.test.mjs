// Native TLS (socket.ssl_certificate / ssl_private_key) on the API port and
// the dedicated WebSocket port, against a throwaway CA: nakama-js with
// useSSL=true (REST and the socket, in a child node with NODE_EXTRA_CA_CERTS),
// TLS 1.2+ only, no plain text, certificate reload on SIGHUP without dropping
// open connections, a bad file at reload keeps the current certificate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { startServer, sleep, makeTestCA, TOMO_BIN } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'tomo-tls-'));
const f = (n) => path.join(dir, n);
const CA = makeTestCA(dir, ['first', 'second']);
copyFileSync(f('first.pem'), f('cert.pem'));
copyFileSync(f('first.key'), f('key.pem'));
const tlsArgs = ['--socket.ssl_certificate', f('cert.pem'), '--socket.ssl_private_key', f('key.pem')];

/** A TLS connection to port: resolves with the socket once verified. */
function connect(port, extra = {}) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: CA, servername: 'localhost', ...extra }, () => resolve(s));
    s.on('error', reject);
  });
}

/** One keep-alive GET on an open TLS socket. */
function get(sock, p) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d) => {
      buf += d;
      const m = /^HTTP\/1\.1 (\d+)[\s\S]*?\r\n\r\n/.exec(buf);
      const len = /content-length: (\d+)/i.exec(buf);
      if (m && len && buf.length >= m[0].length + Number(len[1])) {
        sock.off('data', onData);
        resolve(Number(m[1]));
      }
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.write(`GET ${p} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  });
}

/** nakama-js over TLS in a child node (NODE_EXTRA_CA_CERTS is read at start). */
async function nakamaJs(srv) {
  const script = `
    import WebSocket from 'ws';
    globalThis.WebSocket = WebSocket;
    const { Client } = await import('@heroiclabs/nakama-js');
    const out = {};
    const client = new Client('defaultkey', '127.0.0.1', '${srv.port}', true);
    const session = await client.authenticateDevice('tls-device-' + Date.now() + Math.random(), true);
    out.user = session.user_id;
    out.account = (await client.getAccount(session)).user.id;
    for (const [name, port] of [['api', '${srv.port}'], ['ws', '${srv.wsPort}']]) {
      const c = new Client('defaultkey', '127.0.0.1', port, true);
      const socket = c.createSocket(true, false);
      await socket.connect(session, false);
      const m = await socket.createMatch();
      out[name] = m.match_id ? 'match' : 'none';
      socket.disconnect(false);
    }
    console.log(JSON.stringify(out)); process.exit(0);
  `;
  // async: the parent keeps draining the server's output meanwhile
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: here, env: { ...process.env, NODE_EXTRA_CA_CERTS: f('ca.pem') }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '', err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
  const code = await new Promise((r) => child.on('exit', r));
  clearTimeout(timer);
  assert.equal(code, 0, err);
  return JSON.parse(out.trim().split('\n').pop());
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('TLS on both ports: nakama-js with useSSL, TLS 1.2+ only, no plain text; SIGHUP reload keeps open connections', async () => {
  const srv = await startServer({ args: tlsArgs, ca: CA });
  try {
    const out = await nakamaJs(srv);
    assert.equal(out.account, out.user);
    assert.deepEqual([out.api, out.ws], ['match', 'match']);
    // the server closed both TLS sockets after their close handshakes
    const active = async () => Number(/^socket_connections_active\{[^}]*\} (\d+)/m.exec(
      await (await fetch(`http://127.0.0.1:${srv.metricsPort}/metrics`)).text())?.[1]);
    for (let i = 0; i < 100 && await active() !== 0; i++) await sleep(20);
    assert.equal(await active(), 0);

    // protocol floor: TLS 1.1 is refused, 1.2 and 1.3 work
    await assert.rejects(connect(srv.port, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }));
    for (const v of ['TLSv1.2', 'TLSv1.3']) {
      const s = await connect(srv.port, { minVersion: v, maxVersion: v });
      assert.equal(s.getProtocol(), v);
      s.destroy();
    }
    // plain HTTP on a TLS port gets no HTTP answer
    await assert.rejects(fetch(`http://127.0.0.1:${srv.port}/healthcheck`));

    // an open keep-alive connection, then a reload to the second certificate
    const old = await connect(srv.port);
    assert.match(old.getPeerCertificate().subject.O, /tomo first/);
    assert.equal(await get(old, '/healthcheck'), 200);
    copyFileSync(f('second.pem'), f('cert.pem'));
    copyFileSync(f('second.key'), f('key.pem'));
    srv.child.kill('SIGHUP');
    for (let i = 0; i < 100 && !/TLS certificate reloaded/.test(srv.logs()); i++) await sleep(20);
    assert.match(srv.logs(), /TLS certificate reloaded.*tomo second/);
    const fresh = await connect(srv.port);
    assert.match(fresh.getPeerCertificate().subject.O, /tomo second/);
    fresh.destroy();
    // the connection from before the reload still works
    assert.equal(await get(old, '/healthcheck'), 200);
    old.destroy();
    assert.deepEqual(Object.values(await nakamaJs(srv)).slice(2), ['match', 'match']);

    // a broken file at reload: the current certificate stays
    writeFileSync(f('cert.pem'), 'not a certificate\n');
    srv.child.kill('SIGHUP');
    for (let i = 0; i < 100 && !/not reloaded/.test(srv.logs()); i++) await sleep(20);
    assert.match(srv.logs(), /TLS certificate not reloaded, keeping the current one/);
    const still = await connect(srv.port);
    assert.match(still.getPeerCertificate().subject.O, /tomo second/);
    assert.equal(await get(still, '/healthcheck'), 200);
    still.destroy();
    assert.equal(srv.child.exitCode, null);
  } finally {
    copyFileSync(f('first.pem'), f('cert.pem'));
    await srv.cleanup();
  }
});

test('TLS config errors: missing key, unreadable certificate, mismatched key', async () => {
  const run = (args) => spawnSync(TOMO_BIN, ['serve', '--data_dir', dir, '--socket.port', '0', ...args], { encoding: 'utf8', timeout: 10000 });
  let r = run(['--socket.ssl_certificate', f('first.pem')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /set both \(PEM files\) or neither/);
  r = run(['--socket.ssl_certificate', f('nope.pem'), '--socket.ssl_private_key', f('first.key')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot load certificate .*nope\.pem/);
  r = run(['--socket.ssl_certificate', f('first.pem'), '--socket.ssl_private_key', f('second.key')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot load private key .*key values mismatch/);
});
