/* api/account.c: the REST adapters of GET/PUT/DELETE /v2/account and
 * GET /v2/user over svc/account.h and svc/users.h. Threads: worker. */
#include "account.h"

#include "handlers.h"

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../svc/account.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void tomo_account_fill_online(tomo_server *srv, json_t *users)
{
    tomo_svc_users_fill_online(&srv->svc, users);
}

int tomo_api_account_get(tomo_api_ctx *ctx)
{
    tomo_dbconn *db;
    tomo_err err;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    tomo_caller me = tomo_api_caller(ctx);
    if (tomo_svc_account_get(&ctx->srv->svc, db, &me, NULL, &ctx->out, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    return 0;
}

/* PUT: wrapper fields, absent or null = unchanged, "" clears. */
int tomo_api_account_update(tomo_api_ctx *ctx)
{
    static const struct {
        const char *name;
        size_t off;
    } fields[] = {
        {"username", offsetof(tomo_account_update, username)},
        {"display_name", offsetof(tomo_account_update, display_name)},
        {"avatar_url", offsetof(tomo_account_update, avatar_url)},
        {"lang_tag", offsetof(tomo_account_update, lang_tag)},
        {"location", offsetof(tomo_account_update, location)},
        {"timezone", offsetof(tomo_account_update, timezone)},
    };
    const json_t *body;
    tomo_account_update u = {0};
    tomo_err err;
    if (tomo_api_body(ctx, &body) < 0)
        return -1;
    for (size_t i = 0; i < TOMO_ARRAY_LEN(fields); i++)
        if (tomo_api_field_str(ctx, body, fields[i].name, NULL,
                               (const char **)((char *)&u + fields[i].off)) < 0)
            return -1;
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    tomo_caller me = tomo_api_caller(ctx);
    if (tomo_svc_account_update(&ctx->srv->svc, db, &me, NULL, &u, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    return 0;
}

int tomo_api_account_delete(tomo_api_ctx *ctx)
{
    tomo_dbconn *db;
    tomo_err err;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    tomo_caller me = tomo_api_caller(ctx);
    if (tomo_svc_account_delete(&ctx->srv->svc, db, &me, NULL, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    return 0;
}

/* All values of a repeated query parameter (borrowed from ctx->query). */
static const char **query_all(tomo_api_ctx *ctx, const char *name, size_t *n)
{
    *n = tomo_api_query_count(ctx, name);
    const char **v = tomo_xcalloc(*n ? *n : 1, sizeof(*v));
    for (size_t i = 0; i < *n; i++)
        v[i] = tomo_api_query_at(ctx, name, i);
    return v;
}

int tomo_api_users_get(tomo_api_ctx *ctx)
{
    size_t ni, nu, nf;
    const char **ids = query_all(ctx, "ids", &ni);
    const char **names = query_all(ctx, "usernames", &nu);
    const char **fb = query_all(ctx, "facebook_ids", &nf);
    tomo_err err;
    int rc = 0;
    tomo_dbconn *db = NULL;
    /* Bad ids are refused before a connection is taken. */
    for (size_t i = 0; i < ni; i++)
        if (!tomo_uuid_valid(ids[i])) {
            rc = tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                "ID '%s' is not a valid system ID.", ids[i]);
            goto out;
        }
    if ((ni || nu || nf) && (rc = tomo_api_db(ctx, &db)) < 0)
        goto out;
    tomo_caller me = tomo_api_caller(ctx);
    if ((rc = tomo_svc_users_get(&ctx->srv->svc, db, &me, ids, ni, names, nu, fb, nf, &ctx->out,
                                 &err)) < 0)
        rc = tomo_api_svc_error(ctx, &err);
out:
    free(ids);
    free(names);
    free(fb);
    return rc;
}
