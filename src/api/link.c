/* api/link.c: link and unlink device, custom and email identifiers to the
 * caller's account: the REST adapter over svc/account.h (Nakama's
 * core_link.go / core_unlink.go rules live there). Threads: worker. */
#define _GNU_SOURCE
#include "handlers.h"

#include "../svc/account.h"

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

int tomo_api_link_device(tomo_api_ctx *ctx) { return one_field(ctx, 1, TOMO_UNLINK_DEVICE, "id"); }

int tomo_api_link_custom(tomo_api_ctx *ctx) { return one_field(ctx, 1, TOMO_UNLINK_CUSTOM, "id"); }

int tomo_api_link_email(tomo_api_ctx *ctx)
{
    const json_t *body;
    const char *email, *password;
    if (tomo_api_body(ctx, &body) < 0 || tomo_api_field_str(ctx, body, "email", "", &email) < 0 ||
        tomo_api_field_str(ctx, body, "password", "", &password) < 0)
        return -1;
    return link_op(ctx, 1, TOMO_UNLINK_EMAIL, email, password);
}

int tomo_api_unlink_device(tomo_api_ctx *ctx)
{
    return one_field(ctx, 0, TOMO_UNLINK_DEVICE, "id");
}

int tomo_api_unlink_custom(tomo_api_ctx *ctx)
{
    return one_field(ctx, 0, TOMO_UNLINK_CUSTOM, "id");
}

int tomo_api_unlink_email(tomo_api_ctx *ctx)
{
    return one_field(ctx, 0, TOMO_UNLINK_EMAIL, "email");
}
