/* api/link.c: link and unlink device, custom and email identifiers to the
 * caller's account: the REST adapter over svc/account.h (Nakama's
 * core_link.go / core_unlink.go rules live there). Threads: worker. */
#define _GNU_SOURCE
#include "handlers.h"

#include "../svc/account.h"
#include "../svc/provider.h"

/* Body with one string field (id or email); 0 or an error recorded. */
static int body_str(tomo_api_ctx *ctx, const char *field, const char **out)
{
    const json_t *body;
    if (tomo_api_body(ctx, &body) < 0)
        return -1;
    return tomo_api_field_str(ctx, body, field, "", out);
}

/* Run the svc operation for the caller's own account. */
static int link_op(tomo_api_ctx *ctx, int link, int kind, const char *v, const char *password)
{
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    tomo_caller caller = tomo_api_caller(ctx);
    tomo_err err;
    int rc = link ? tomo_svc_account_link(&ctx->srv->svc, db, &caller, NULL, kind, v, password,
                                          &err)
                  : tomo_svc_account_unlink(&ctx->srv->svc, db, &caller, NULL, kind, v, &err);
    return rc < 0 ? tomo_api_svc_error(ctx, &err) : 0;
}

static int one_field(tomo_api_ctx *ctx, int link, int kind, const char *field)
{
    const char *v;
    if (body_str(ctx, field, &v) < 0)
        return -1;
    return link_op(ctx, link, kind, v, NULL);
}

/* Device or custom id (the route says which). */
int tomo_api_link_id(tomo_api_ctx *ctx) { return one_field(ctx, 1, tomo_api_route_kind(ctx), "id"); }

int tomo_api_link_email(tomo_api_ctx *ctx)
{
    const json_t *body;
    const char *email, *password;
    if (tomo_api_body(ctx, &body) < 0 || tomo_api_field_str(ctx, body, "email", "", &email) < 0 ||
        tomo_api_field_str(ctx, body, "password", "", &password) < 0)
        return -1;
    return link_op(ctx, 1, TOMO_UNLINK_EMAIL, email, password);
}

/* Device, custom id or email (the route says which; email needs no password). */
int tomo_api_unlink_id(tomo_api_ctx *ctx)
{
    int kind = tomo_api_route_kind(ctx);
    return one_field(ctx, 0, kind, kind == TOMO_UNLINK_EMAIL ? "email" : "id");
}

/* ---- social providers (svc/provider.h) ---- */

/* acct: the provider account message (the body, or its `account` field). */
static int social_op(tomo_api_ctx *ctx, int link, int kind, const json_t *acct)
{
    tomo_provider_account a;
    if (tomo_api_provider_account(ctx, acct, kind, &a) < 0)
        return -1;
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    tomo_caller caller = tomo_api_caller(ctx);
    tomo_err err;
    int rc = link ? tomo_svc_account_link_social(&ctx->srv->svc, db, &caller, NULL, &a, &err)
                  : tomo_svc_account_unlink_social(&ctx->srv->svc, db, &caller, NULL, &a, &err);
    return rc < 0 ? tomo_api_svc_error(ctx, &err) : 0;
}

/* The provider account is the body, but LinkSteamRequest {account, sync}
 * is the whole body (LinkFacebookRequest's `sync` is a query flag). */
static int social_route(tomo_api_ctx *ctx, int link)
{
    const json_t *body;
    int kind = tomo_api_route_kind(ctx), sync;
    if (tomo_api_body(ctx, &body) < 0)
        return -1;
    if (!link || kind != TOMO_UNLINK_STEAM)
        return social_op(ctx, link, kind, body);
    if (tomo_api_field_bool(ctx, body, "sync", 0, &sync) < 0)
        return -1;
    return social_op(ctx, 1, kind, body ? json_object_get(body, "account") : NULL);
}

int tomo_api_link_social(tomo_api_ctx *ctx) { return social_route(ctx, 1); }

int tomo_api_unlink_social(tomo_api_ctx *ctx) { return social_route(ctx, 0); }
