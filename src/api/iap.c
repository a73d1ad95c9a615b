/* api/iap.c: /v2/iap/..., the REST face of svc/iap.h (purchase and
 * subscription validation, the subscription listing and lookup). The body
 * fields are read for their types only: svc answers before it would use
 * them. Threads: worker. */
#include "handlers.h"

#include "../svc/iap.h"

#include <stdint.h>

/* Read the request's string fields (a wrong type is the gateway's 400),
 * then let svc answer for the store. */
static int validate(tomo_api_ctx *ctx, int store, int subscription, const char *const *fields)
{
    const json_t *body;
    const char *v;
    int persist;
    if (tomo_api_body(ctx, &body) < 0 || tomo_api_field_bool(ctx, body, "persist", 1, &persist) < 0)
        return -1;
    for (; *fields; fields++)
        if (tomo_api_field_str(ctx, body, *fields, "", &v) < 0)
            return -1;
    tomo_err err;
    tomo_svc_iap_validate(store, subscription, &err);
    return tomo_api_svc_error(ctx, &err);
}

int tomo_api_iap_purchase_apple(tomo_api_ctx *ctx)
{
    static const char *const f[] = {"receipt", NULL};
    return validate(ctx, TOMO_IAP_APPLE, 0, f);
}

int tomo_api_iap_purchase_google(tomo_api_ctx *ctx)
{
    static const char *const f[] = {"purchase", NULL};
    return validate(ctx, TOMO_IAP_GOOGLE, 0, f);
}

int tomo_api_iap_purchase_huawei(tomo_api_ctx *ctx)
{
    static const char *const f[] = {"purchase", "signature", NULL};
    return validate(ctx, TOMO_IAP_HUAWEI, 0, f);
}

int tomo_api_iap_purchase_facebook_instant(tomo_api_ctx *ctx)
{
    static const char *const f[] = {"signed_request", NULL};
    return validate(ctx, TOMO_IAP_FACEBOOK_INSTANT, 0, f);
}

int tomo_api_iap_subscription_apple(tomo_api_ctx *ctx)
{
    static const char *const f[] = {"receipt", NULL};
    return validate(ctx, TOMO_IAP_APPLE, 1, f);
}

int tomo_api_iap_subscription_google(tomo_api_ctx *ctx)
{
    static const char *const f[] = {"receipt", NULL};
    return validate(ctx, TOMO_IAP_GOOGLE, 1, f);
}

int tomo_api_iap_subscriptions_list(tomo_api_ctx *ctx)
{
    const json_t *body;
    const char *cursor;
    long long limit;
    if (tomo_api_body(ctx, &body) < 0 || tomo_api_field_str(ctx, body, "cursor", "", &cursor) < 0 ||
        tomo_api_field_int(ctx, body, "limit", -1, INT32_MIN, INT32_MAX, &limit) < 0)
        return -1;
    int has_limit = body && json_object_get(body, "limit") &&
                    !json_is_null(json_object_get(body, "limit"));
    tomo_caller caller = tomo_api_caller(ctx);
    tomo_err err;
    if (tomo_svc_iap_subscriptions_list(&caller, has_limit, limit, cursor, &ctx->out, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    return 0;
}

int tomo_api_iap_subscription_get(tomo_api_ctx *ctx)
{
    tomo_caller caller = tomo_api_caller(ctx);
    tomo_err err;
    if (tomo_svc_iap_subscription_get(&caller, tomo_api_param(ctx, "product_id"), &ctx->out, &err) <
        0)
        return tomo_api_svc_error(ctx, &err);
    return 0;
}
