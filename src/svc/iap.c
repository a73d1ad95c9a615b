/* svc/iap.c: purchase and subscription calls without a configured store
 * (see iap.h). */
#include "iap.h"

#include <stddef.h>

static const char *const store_names[] = {
    [TOMO_IAP_APPLE] = "Apple",
    [TOMO_IAP_GOOGLE] = "Google",
    [TOMO_IAP_HUAWEI] = "Huawei",
    [TOMO_IAP_FACEBOOK_INSTANT] = "Facebook Instant",
};

int tomo_svc_iap_validate(int store, int subscription, tomo_err *err)
{
    (void)subscription; /* both kinds need the same store credentials */
    if (store < 0 || store > TOMO_IAP_FACEBOOK_INSTANT)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Unknown store.");
    return tomo_err_set(err, TOMO_GRPC_FAILED_PRECONDITION, "%s IAP is not configured.",
                        store_names[store]);
}

int tomo_svc_iap_subscriptions_list(const tomo_caller *caller, int has_limit, long long limit,
                                    const char *cursor, json_t **out, tomo_err *err)
{
    (void)caller;
    *out = NULL;
    /* Nakama checks 1-100 and words it as 1-1000 (also in 3.40). */
    if (has_limit && (limit < 1 || limit > 100))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Invalid limit - limit must be between 1 and 1000.");
    /* No page was ever handed out, so no cursor can be one of ours. */
    if (cursor && *cursor)
        return tomo_err_set(err, TOMO_GRPC_UNKNOWN, "subscriptions list cursor invalid");
    *out = json_object();
    return 0;
}

int tomo_svc_iap_subscription_get(const tomo_caller *caller, const char *product_id, json_t **out,
                                  tomo_err *err)
{
    (void)caller;
    (void)product_id;
    *out = NULL;
    return tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "subscription not found");
}
