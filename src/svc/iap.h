/* svc/iap.h: in-app purchases and subscriptions (Nakama's ValidatePurchase*,
 * ValidateSubscription*, ListSubscriptions, GetSubscription).
 * tomo reaches no app store and has no store credentials to configure, so
 * every validation answers what Nakama answers with an unconfigured store:
 * FAILED_PRECONDITION "<Store> IAP is not configured." (Nakama 3.15 checks
 * the configuration before the input). Nothing is ever validated, so no
 * purchase or subscription is recorded: the listing is empty and a lookup
 * is not found, after Nakama's input checks.
 * Owns: nothing (no table). Threads: any (no database, no blocking). */
#ifndef TOMO_SVC_IAP_H
#define TOMO_SVC_IAP_H

#include <jansson.h>

#include "svc.h"

/* Stores, as Nakama's StoreProvider enum numbers them. */
enum {
    TOMO_IAP_APPLE = 0,
    TOMO_IAP_GOOGLE = 1,
    TOMO_IAP_HUAWEI = 2,
    TOMO_IAP_FACEBOOK_INSTANT = 3,
};

/* Validate a purchase (receipt or purchase token) or, with subscription
 * set, a subscription with a store (TOMO_IAP_*). Always fails here: the
 * store is not configured. Returns a negative value after filling *err. */
int tomo_svc_iap_validate(int store, int subscription, tomo_err *err);

/* The caller's validated subscriptions, newest first: limit 1-100 when
 * has_limit (else Nakama's default 100), cursor from a previous page ("" or NULL = first).
 * *out receives a SubscriptionList (new reference; `{}` when empty). A
 * limit out of range is INVALID_ARGUMENT; a cursor this server did not
 * issue is Nakama's bare error (UNKNOWN "subscriptions list cursor
 * invalid"). */
int tomo_svc_iap_subscriptions_list(const tomo_caller *caller, int has_limit, long long limit,
                                    const char *cursor, json_t **out, tomo_err *err);

/* The caller's subscription to product_id: NOT_FOUND "subscription not
 * found" when there is none (here: always). */
int tomo_svc_iap_subscription_get(const tomo_caller *caller, const char *product_id, json_t **out,
                                  tomo_err *err);

#endif
