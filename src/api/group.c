/* api/group.c: the group routes (/v2/group..., GET /v2/user/{id}/group),
 * thin REST adapters over svc/group.h. Threads: worker. */
#include "handlers.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "../svc/group.h"

static int svc_fail(tomo_api_ctx *ctx, const tomo_err *err)
{
    return tomo_api_svc_error(ctx, err);
}

int tomo_api_group_create(tomo_api_ctx *ctx)
{
    const json_t *b;
    tomo_svc_group_new in = {0};
    if (tomo_api_body(ctx, &b) < 0 ||
        tomo_api_field_str(ctx, b, "name", "", &in.name) < 0 ||
        tomo_api_field_str(ctx, b, "description", "", &in.description) < 0 ||
        tomo_api_field_str(ctx, b, "lang_tag", "", &in.lang_tag) < 0 ||
        tomo_api_field_str(ctx, b, "avatar_url", "", &in.avatar_url) < 0 ||
        tomo_api_field_bool(ctx, b, "open", 0, &in.open) < 0)
        return -1;
    long long max_count;
    if (tomo_api_field_int(ctx, b, "max_count", 0, INT32_MIN, INT32_MAX, &max_count) < 0)
        return -1;
    in.max_count = (int)max_count;
    tomo_caller caller = tomo_api_caller(ctx);
    tomo_err err = {0};
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    if (tomo_svc_group_create(&ctx->srv->svc, db, &caller, NULL, &in, &ctx->out, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

int tomo_api_group_update(tomo_api_ctx *ctx)
{
    const json_t *b;
    tomo_svc_group_change in = {0};
    in.open = -1;
    if (tomo_api_body(ctx, &b) < 0 || tomo_api_field_str(ctx, b, "name", NULL, &in.name) < 0 ||
        tomo_api_field_str(ctx, b, "description", NULL, &in.description) < 0 ||
        tomo_api_field_str(ctx, b, "lang_tag", NULL, &in.lang_tag) < 0 ||
        tomo_api_field_str(ctx, b, "avatar_url", NULL, &in.avatar_url) < 0 ||
        tomo_api_field_bool(ctx, b, "open", -1, &in.open) < 0)
        return -1;
    tomo_caller caller = tomo_api_caller(ctx);
    tomo_err err = {0};
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    if (tomo_svc_group_update(&ctx->srv->svc, db, &caller, tomo_api_param(ctx, "group_id"), &in,
                              &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

int tomo_api_group_delete(tomo_api_ctx *ctx)
{
    tomo_caller caller = tomo_api_caller(ctx);
    tomo_err err = {0};
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    if (tomo_svc_group_delete(&ctx->srv->svc, db, &caller, tomo_api_param(ctx, "group_id"),
                              &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

int tomo_api_group_join(tomo_api_ctx *ctx)
{
    tomo_caller caller = tomo_api_caller(ctx);
    tomo_err err = {0};
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    if (tomo_svc_group_join(&ctx->srv->svc, db, &caller, tomo_api_param(ctx, "group_id"), NULL,
                            NULL, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

int tomo_api_group_leave(tomo_api_ctx *ctx)
{
    tomo_caller caller = tomo_api_caller(ctx);
    tomo_err err = {0};
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    if (tomo_svc_group_leave(&ctx->srv->svc, db, &caller, tomo_api_param(ctx, "group_id"), NULL,
                             &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int users_change(tomo_api_ctx *ctx, int op)
{
    size_t n = tomo_api_query_count(ctx, "user_ids");
    const char **ids = tomo_xcalloc(n + 1, sizeof(*ids));
    for (size_t i = 0; i < n; i++)
        ids[i] = tomo_api_query_at(ctx, "user_ids", i);
    tomo_caller caller = tomo_api_caller(ctx);
    tomo_err err = {0};
    tomo_dbconn *db;
    int rc = tomo_api_db(ctx, &db);
    if (rc == 0 && (rc = tomo_svc_group_users_change(&ctx->srv->svc, db, &caller, op,
                                                     tomo_api_param(ctx, "group_id"), ids, n,
                                                     &err)) < 0)
        rc = svc_fail(ctx, &err);
    free(ids);
    return rc;
}

int tomo_api_group_add(tomo_api_ctx *ctx) { return users_change(ctx, TOMO_GROUP_OP_ADD); }
int tomo_api_group_kick(tomo_api_ctx *ctx) { return users_change(ctx, TOMO_GROUP_OP_KICK); }
int tomo_api_group_ban(tomo_api_ctx *ctx) { return users_change(ctx, TOMO_GROUP_OP_BAN); }
int tomo_api_group_promote(tomo_api_ctx *ctx) { return users_change(ctx, TOMO_GROUP_OP_PROMOTE); }
int tomo_api_group_demote(tomo_api_ctx *ctx) { return users_change(ctx, TOMO_GROUP_OP_DEMOTE); }

/* limit and state query parameters of the member lists. */
static int list_query(tomo_api_ctx *ctx, int *limit, int *state)
{
    int bad = 0;
    long long l = tomo_api_query_int(ctx, "limit", TOMO_GROUP_USERS_DEFAULT, &bad);
    if (bad || l < 1 || l > TOMO_GROUP_LIST_MAX)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid limit - limit must be between 1 and 100.");
    long long s = tomo_api_query_int(ctx, "state", -1, &bad);
    if (bad || (tomo_api_query(ctx, "state") && (s < 0 || s > 4)))
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid state - state must be between 0 and 4.");
    *limit = (int)l;
    *state = (int)s;
    return 0;
}

int tomo_api_group_users_list(tomo_api_ctx *ctx)
{
    int limit, state;
    if (list_query(ctx, &limit, &state) < 0)
        return -1;
    tomo_caller caller = tomo_api_caller(ctx);
    tomo_err err = {0};
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    const char *gid = tomo_api_param(ctx, "group_id"), *cursor = tomo_api_query(ctx, "cursor");
    int rc;
    if (tomo_api_text_ok(ctx)) { /* the page's text straight from the rows */
        char *text;
        size_t len;
        rc = tomo_svc_group_users_list_text(&ctx->srv->svc, db, &caller, gid, limit, state,
                                            cursor, &text, &len, &err);
        if (rc == 0)
            tomo_api_json_text(ctx, text, len);
    } else {
        rc = tomo_svc_group_users_list(&ctx->srv->svc, db, &caller, gid, limit, state, cursor,
                                       &ctx->out, &err);
    }
    return rc < 0 ? svc_fail(ctx, &err) : 0;
}

int tomo_api_user_groups_list(tomo_api_ctx *ctx)
{
    int limit, state;
    const char *uid = tomo_api_param(ctx, "user_id");
    if (!uid || !*uid)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "User ID must be set.");
    if (list_query(ctx, &limit, &state) < 0)
        return -1;
    tomo_caller caller = tomo_api_caller(ctx);
    tomo_err err = {0};
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    if (tomo_svc_group_user_groups(&ctx->srv->svc, db, &caller, uid, limit, state,
                                   tomo_api_query(ctx, "cursor"), &ctx->out, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

int tomo_api_group_list(tomo_api_ctx *ctx)
{
    int bad = 0;
    long long limit = tomo_api_query_int(ctx, "limit", TOMO_GROUP_LIST_DEFAULT, &bad);
    if (bad || limit < 1 || limit > TOMO_GROUP_LIST_MAX)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid limit - limit must be between 1 and 100.");
    tomo_svc_group_filter f = {0};
    f.name = tomo_api_query(ctx, "name");
    if (f.name && !*f.name)
        f.name = NULL;
    f.lang_tag = tomo_api_query(ctx, "lang_tag");
    if (f.lang_tag && !*f.lang_tag)
        f.lang_tag = NULL;
    long long members = tomo_api_query_int(ctx, "members", -1, &bad);
    if (bad)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid members value.");
    f.members = members < 0 ? -1 : (int)members;
    f.open = tomo_api_query(ctx, "open") ? tomo_api_query_bool(ctx, "open", 0, &bad) : -1;
    if (bad)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid open value.");
    tomo_caller caller = tomo_api_caller(ctx);
    tomo_err err = {0};
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    if (tomo_svc_group_list(&ctx->srv->svc, db, &caller, &f, (int)limit,
                            tomo_api_query(ctx, "cursor"), &ctx->out, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}
