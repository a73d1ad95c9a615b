// In-app purchases through nakama-js 2.8.0 as Nakama answers them with no
// store configured (tomo configures none): every validation is refused with
// FAILED_PRECONDITION "<Store> IAP is not configured." (HTTP 400, code 9),
// the subscription listing is empty (its limit and cursor checked) and a
// subscription lookup is not found.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uid, rejectsWith as rejects } from './harness.mjs';

let srv;
let client;
let session;

before(async () => {
  srv = await startServer();
  client = srv.client();
  session = await client.authenticateDevice(`iap-dev-${uid()}`, true);
});
after(async () => { if (srv) await srv.cleanup(); });

test('purchase and subscription validation: the store is not configured', async () => {
  await rejects(client.validatePurchaseApple(session, 'receipt'), 400, 9, 'Apple IAP is not configured.');
  // Nakama 3.15 checks the configuration before the input.
  await rejects(client.validatePurchaseApple(session, ''), 400, 9, 'Apple IAP is not configured.');
  await rejects(client.validatePurchaseGoogle(session, '{"json":"x"}'), 400, 9, 'Google IAP is not configured.');
  await rejects(client.validatePurchaseHuawei(session, 'p', 's'), 400, 9, 'Huawei IAP is not configured.');
  await rejects(client.validatePurchaseFacebookInstant(session, 'sr'), 400, 9,
    'Facebook Instant IAP is not configured.');
  await rejects(client.validateSubscriptionApple(session, 'r'), 400, 9, 'Apple IAP is not configured.');
  await rejects(client.validateSubscriptionGoogle(session, 'r'), 400, 9, 'Google IAP is not configured.');
});

test('subscriptions: an empty list, limit and cursor checks, lookup not found', async () => {
  assert.deepEqual(await client.listSubscriptions(session), {});
  assert.deepEqual(await client.listSubscriptions(session, undefined, 100), {});
  await rejects(client.listSubscriptions(session, undefined, 101), 400, 3,
    'Invalid limit - limit must be between 1 and 1000.');
  await rejects(client.listSubscriptions(session, undefined, 0), 400, 3,
    'Invalid limit - limit must be between 1 and 1000.');
  // A cursor Nakama cannot decode is a bare Go error: Unknown, HTTP 500.
  await rejects(client.listSubscriptions(session, 'bm90LWEtY3Vyc29y'), 500, 2,
    'subscriptions list cursor invalid');
  await rejects(client.getSubscription(session, 'gold.monthly'), 404, 5, 'subscription not found');
  // Bearer auth like every other call.
  const r = await fetch(`${srv.url}/v2/iap/subscription`, { method: 'POST', body: '{}' });
  assert.equal(r.status, 401);
});
