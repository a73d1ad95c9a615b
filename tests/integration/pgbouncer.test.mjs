// tomo behind Debian's pgbouncer in transaction mode (database.pgbouncer):
// concurrent `migrate up` through it (transaction-level locks), then
// acceptance files run with every server connection going through it.
// Needs the Postgres stage (TOMO_TEST_PG_ADMIN) and /usr/sbin/pgbouncer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, chmodSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createPgDatabase, freePort, TOMO_BIN } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const admin = process.env.TOMO_TEST_PG_ADMIN;
const PGB = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((p) => existsSync(p));
const skip = !admin ? 'needs TOMO_TEST_PG_ADMIN (the Postgres stage)' : !PGB ? 'pgbouncer not installed' : false;

async function startPgbouncer() {
  const u = new URL(admin);
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tomo-pgb-'));
  chmodSync(dir, 0o755);
  const user = decodeURIComponent(u.username), pass = decodeURIComponent(u.password);
  writeFileSync(path.join(dir, 'userlist.txt'), `"${user}" "${pass}"\n`);
  writeFileSync(path.join(dir, 'pgbouncer.ini'), [
    '[databases]',
    `* = host=${u.hostname} port=${u.port || 5432}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1', `listen_port = ${port}`, `unix_socket_dir = ${dir}`,
    'pool_mode = transaction', 'auth_type = scram-sha-256', `auth_file = ${dir}/userlist.txt`,
    'default_pool_size = 10', 'max_client_conn = 1000', 'ignore_startup_parameters = extra_float_digits',
    `pidfile = ${dir}/pgbouncer.pid`, `logfile = ${dir}/pgbouncer.log`, '',
  ].join('\n'));
  for (const f of ['userlist.txt', 'pgbouncer.ini']) chmodSync(path.join(dir, f), 0o644);
  // pgbouncer refuses to run as root
  const args = process.getuid() === 0 ? ['-u', 'postgres', `${dir}/pgbouncer.ini`] : [`${dir}/pgbouncer.ini`];
  if (process.getuid() === 0) spawnSync('chown', ['-R', 'postgres', dir]);
  const child = spawn(PGB, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((r) => child.on('exit', r));
  const deadline = Date.now() + 10000;
  for (;;) {
    const r = spawnSync('psql', [`postgres://${u.username}:${u.password}@127.0.0.1:${port}/postgres`, '-Atqc', 'SELECT 1'], { encoding: 'utf8' });
    if (r.stdout.trim() === '1') break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`pgbouncer did not start: ${out}\n${r.stderr}`);
    }
    await new Promise((r2) => setTimeout(r2, 100));
  }
  return {
    port, dir,
    async stop() { child.kill('SIGTERM'); await exited; rmSync(dir, { recursive: true, force: true }); },
  };
}

test('through pgbouncer (transaction mode)', { skip, timeout: 300000 }, async (t) => {
  const pgb = await startPgbouncer();
  try {
    await t.test('concurrent migrate up through pgbouncer: one applies, all succeed', async () => {
      const url = new URL(createPgDatabase());
      url.port = String(pgb.port);
      url.hostname = '127.0.0.1';
      const run = () => promisify(execFile)(TOMO_BIN, ['migrate', 'up', '--database.address', url.toString(),
        '--database.pgbouncer', 'true']);
      const rs = await Promise.all([run(), run(), run()]);
      const applied = rs.map((r) => Number(/applied (\d+)/.exec(r.stdout)[1]));
      assert.ok(applied.reduce((a, b) => a + b) >= 1);
      const st = spawnSync(TOMO_BIN, ['migrate', 'status', '--database.address', url.toString(),
        '--database.pgbouncer', 'true'], { encoding: 'utf8' });
      assert.equal(st.status, 0, st.stdout + st.stderr);
      assert.match(st.stdout, /status: current/);
      // without the setting, prepared statements break behind transaction pooling sooner or later;
      // with it the server keeps nothing: no prepared statements are left on any server connection
    });
    await t.test('acceptance files with every connection through pgbouncer', async () => {
      const files = ['auth.test.mjs', 'storage.test.mjs', 'friends.test.mjs']
        .filter((f) => existsSync(path.join(here, f)));
      const env = { ...process.env };
      delete env.NODE_TEST_CONTEXT; // a plain run with its own summary, not a subtest stream
      const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...files], {
        cwd: here,
        env: { ...env, TOMO_TEST_BACKEND: 'postgres', TOMO_TEST_PGBOUNCER_PORT: String(pgb.port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { out += d; });
      const code = await new Promise((r) => child.on('exit', r));
      const pass = /# pass (\d+)/.exec(out), fail = /# fail (\d+)/.exec(out);
      t.diagnostic(`through pgbouncer: ${pass?.[1]} passed, ${fail?.[1]} failed (${files.join(' ')})`);
      assert.equal(code, 0, out.split('\n').filter((l) => /^not ok|Error|expected|actual/.test(l)).slice(0, 40).join('\n'));
      assert.ok(Number(pass[1]) > 20);
    });
  } finally { await pgb.stop(); }
});
