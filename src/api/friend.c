/* api/friend.c: the friend routes (/v2/friend...), thin REST adapters over
 * svc/friend.h. Threads: worker. */
#include "handlers.h"

#include <stdlib.h>

#include "../core/common.h"
#include "../svc/friend.h"
#include "../svc/provider.h"

typedef int (*friend_op)(tomo_svc *, tomo_dbconn *, const tomo_caller *, const char *,
                         const char *, const tomo_svc_friend_targets *, tomo_err *);

static int run(tomo_api_ctx *ctx, friend_op op)
{
    size_t ni = tomo_api_query_count(ctx, "ids"), nu = tomo_api_query_count(ctx, "usernames");
    const char **ids = tomo_xcalloc(ni + 1, sizeof(*ids));
    const char **names = tomo_xcalloc(nu + 1, sizeof(*names));
    for (size_t i = 0; i < ni; i++)
        ids[i] = tomo_api_query_at(ctx, "ids", i);
    for (size_t i = 0; i < nu; i++)
        names[i] = tomo_api_query_at(ctx, "usernames", i);
    tomo_svc_friend_targets t = {ids, ni, names, nu};
    tomo_caller caller = tomo_api_caller(ctx);
    tomo_err err = {0};
    tomo_dbconn *db;
    int rc = tomo_api_db(ctx, &db);
    if (rc == 0 && (rc = op(&ctx->srv->svc, db, &caller, NULL, NULL, &t, &err)) < 0)
        rc = tomo_api_svc_error(ctx, &err);
    free(ids);
    free(names);
    return rc;
}

int tomo_api_friend_add(tomo_api_ctx *ctx)
{
    return run(ctx, tomo_svc_friend_add);
}

int tomo_api_friend_delete(tomo_api_ctx *ctx)
{
    return run(ctx, tomo_svc_friend_delete);
}

int tomo_api_friend_block(tomo_api_ctx *ctx)
{
    return run(ctx, tomo_svc_friend_block);
}

int tomo_api_friend_list(tomo_api_ctx *ctx)
{
    int bad = 0;
    long long limit = tomo_api_query_int(ctx, "limit", TOMO_FRIEND_LIST_DEFAULT, &bad);
    if (bad || limit < 1 || limit > TOMO_FRIEND_LIST_MAX)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid limit - limit must be between 1 and 1000.");
    long long state = tomo_api_query_int(ctx, "state", -1, &bad);
    if (bad || (tomo_api_query(ctx, "state") && (state < 0 || state > 3)))
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid state - state must be between 0 and 3.");
    tomo_caller caller = tomo_api_caller(ctx);
    tomo_err err = {0};
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    const char *cursor = tomo_api_query(ctx, "cursor");
    int rc;
    if (tomo_api_text_ok(ctx)) { /* the page's text straight from the rows */
        char *text;
        size_t len;
        rc = tomo_svc_friend_list_text(&ctx->srv->svc, db, &caller, NULL, (int)limit, (int)state,
                                       cursor, &text, &len, &err);
        if (rc == 0)
            tomo_api_json_text(ctx, text, len);
    } else {
        rc = tomo_svc_friend_list(&ctx->srv->svc, db, &caller, NULL, (int)limit, (int)state,
                                  cursor, &ctx->out, &err);
    }
    return rc < 0 ? tomo_api_svc_error(ctx, &err) : 0;
}

int tomo_api_friend_list_fof(tomo_api_ctx *ctx)
{
    int bad = 0;
    long long limit = tomo_api_query_int(ctx, "limit", TOMO_FRIEND_FOF_DEFAULT, &bad);
    if (bad || limit < 1 || limit > TOMO_FRIEND_FOF_MAX)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid limit - limit must be between 1 and 100.");
    tomo_caller caller = tomo_api_caller(ctx);
    tomo_err err = {0};
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    if (tomo_svc_friend_list_fof(&ctx->srv->svc, db, &caller, NULL, (int)limit,
                                 tomo_api_query(ctx, "cursor"), &ctx->out, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    return 0;
}

/* Facebook and Steam imports: Nakama's checks (svc/provider.h); the
 * friends themselves come only from the vendor, which tomo never calls. */
static int friend_import(tomo_api_ctx *ctx, int kind)
{
    const json_t *body;
    tomo_provider_account a;
    char id[TOMO_PROVIDER_ID_MAX];
    int bad = 0;
    tomo_err err;
    if (tomo_api_body(ctx, &body) < 0 || tomo_api_provider_account(ctx, body, kind, &a) < 0)
        return -1;
    (void)tomo_api_query_bool(ctx, "reset", 0, &bad);
    if (bad)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid value for query parameter reset: expected a boolean.");
    if (tomo_svc_provider_check(TOMO_PROVIDER_IMPORT, &a, &err) < 0 ||
        tomo_svc_provider_verify(ctx->srv->svc.cfg, TOMO_PROVIDER_IMPORT, &a, id, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    return 0;
}

int tomo_api_friend_import_facebook(tomo_api_ctx *ctx)
{
    return friend_import(ctx, TOMO_UNLINK_FACEBOOK);
}

int tomo_api_friend_import_steam(tomo_api_ctx *ctx) { return friend_import(ctx, TOMO_UNLINK_STEAM); }
