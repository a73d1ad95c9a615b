// The console's web UI driven in headless Chromium (Debian's chromium +
// puppeteer-core): log in (a wrong password first), view the status, search
// a user made through nakama-js, ban them (their next REST call is refused),
// edit a storage object and read the change through nakama-js. Screenshots
// of the pages go to TOMO_SCREENSHOT_DIR or build/console-screenshots (never
// committed). One browser, a handful of pages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { startServer, uid } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const SHOTS = process.env.TOMO_SCREENSHOT_DIR || path.resolve(here, '../../build/console-screenshots');
const skip = existsSync(CHROMIUM) ? false : `no ${CHROMIUM} (scripts/deps.sh --test installs chromium)`;

let srv;
let browser;
let page;

before(async () => {
  if (skip) return;
  mkdirSync(SHOTS, { recursive: true });
  srv = await startServer({ args: ['--runtime.path', path.join(here, 'fixtures/console_ui')] });
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.setDefaultTimeout(15000);
});
after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.cleanup();
});

const shot = (name) => page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
const text = (sel) => page.$eval(sel, (e) => e.textContent);
async function typeInto(sel, value) {
  await page.$eval(sel, (e) => { e.value = ''; });
  await page.type(sel, value);
}

test('the console UI: login, status, account search and ban, storage edit', { skip }, async () => {
  const client = srv.client();
  const name = 'uiuser' + uid().slice(0, 8);
  const victim = await client.authenticateDevice('ui-' + uid(), true, name);
  const owner = await client.authenticateDevice('ui-' + uid(), true, 'uiowner' + uid().slice(0, 8));
  const coll = 'uisaves';
  await client.writeStorageObjects(owner, [{ collection: coll, key: 'slot', value: { level: 1 } }]);

  // login: the wrong password is refused, then the right one
  await page.goto(`http://127.0.0.1:${srv.consolePort}/`);
  await page.waitForSelector('#login-username', { visible: true });
  await typeInto('#login-username', 'admin');
  await typeInto('#login-password', 'not-the-password');
  await page.click('#login-submit');
  await page.waitForFunction(() => document.querySelector('#login-error').textContent.length > 0);
  assert.equal(await text('#login-error'), 'Invalid credentials.');
  await shot('login-refused');
  await typeInto('#login-password', 'password');
  await page.click('#login-submit');

  // status
  await page.waitForSelector('#status-table td.sessions');
  assert.match(await text('#status-table'), /nakama/);
  await shot('status');

  // accounts: search the user, open it, ban it
  await page.click('a[data-page="accounts"]');
  await page.waitForSelector('#account-filter');
  await typeInto('#account-filter', name);
  await page.click('#account-search');
  await page.waitForSelector(`#accounts-table tr[data-id="${victim.user_id}"]`);
  assert.equal(await page.$$eval('#accounts-table tbody tr', (rows) => rows.length), 1);
  await shot('accounts');
  await page.click(`#accounts-table tr[data-id="${victim.user_id}"]`);
  await page.waitForSelector('#ban-button');
  assert.equal(await page.$eval('#edit-username', (e) => e.value), name);
  await shot('account');
  assert.equal((await client.getAccount(victim)).user.id, victim.user_id);
  await page.click('#ban-button');
  await page.waitForSelector('#banned-badge');
  await page.waitForSelector('#unban-button');
  await shot('account-banned');
  await assert.rejects(client.getAccount(victim), (e) => e.status === 401);

  // storage: find the object, edit it, read it back through nakama-js
  await page.click('a[data-page="storage"]');
  await page.waitForSelector('#storage-collection');
  await typeInto('#storage-collection', coll);
  await page.click('#storage-search');
  const row = `#storage-table tr[data-id="${coll}/slot/${owner.user_id}"]`;
  await page.waitForSelector(row);
  await shot('storage');
  await page.click(row);
  await page.waitForSelector('#storage-value');
  assert.deepEqual(JSON.parse(await page.$eval('#storage-value', (e) => e.value)), { level: 1 });
  await page.$eval('#storage-value', (e) => { e.value = '{"level": 7, "edited": "by the console"}'; });
  await page.click('#storage-save');
  await page.waitForFunction(() => document.querySelector('#flash').textContent === 'Object saved.');
  await page.waitForFunction(() => (document.querySelector('#storage-value') || {}).value?.includes('"edited"'));
  await shot('storage-object');
  const read = await client.readStorageObjects(owner, { object_ids: [{ collection: coll, key: 'slot', user_id: owner.user_id }] });
  assert.deepEqual(read.objects[0].value, { level: 7, edited: 'by the console' });

  // the other pages render
  for (const p of ['matches', 'leaderboards', 'runtime', 'config', 'groups']) {
    await page.click(`a[data-page="${p}"]`);
    await page.waitForSelector('main h2');
    await page.waitForFunction((want) => document.querySelector('main h2') && !document.querySelector('main p.error') && document.querySelector('a.active')?.dataset.page === want, {}, p);
  }
  await shot('config');

  // an authoritative match's state, reached from the matches page
  const m = await client.rpc(owner, 'ui_match_create', {});
  await page.click('a[data-page="matches"]');
  await page.waitForFunction((id) => [...document.querySelectorAll('#matches-table td')].some((td) => td.textContent === id), {}, m.payload.id);
  await page.evaluate((id) => { [...document.querySelectorAll('#matches-table td')].find((td) => td.textContent === id).click(); }, m.payload.id);
  await page.waitForSelector('#match-state');
  await page.waitForFunction(() => document.querySelector('#match-state').textContent.includes('"teal"'));
  await shot('match-state');
  test.diagnostic?.(`screenshots in ${SHOTS}`);
});
