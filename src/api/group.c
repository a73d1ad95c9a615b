/* api/group.c: the group routes (/v2/group..., GET /v2/user/{id}/group),
 * thin REST adapters over svc/group.h. Threads: worker. */
#include "handlers.h"

#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "../svc/group.h"
#include "auth.h"

static int svc_fail(tomo_api_ctx *ctx, const tomo_err *err)
{
    return tomo_api_svc_error(ctx, err);
}

/* A string field: absent/null -> NULL (when nullable) or "". */
static int body_str(tomo_api_ctx *ctx, const json_t *b, const char *snake, const char *camel,
                    int nullable, const char **out)
{
    const json_t *v = b ? tomo_auth_field(b, snake, camel) : NULL;
    if (!v || json_is_null(v)) {
        *out = nullable ? NULL : "";
        return 0;
    }
    if (!json_is_string(v))
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid value for field %s: expected a string.", snake);
    *out = json_string_value(v);
    return 0;
}

/* A bool field (bare wrapper or plain): absent -> def. */
static int body_bool(tomo_api_ctx *ctx, const json_t *b, const char *name, int def, int *out)
{
    const json_t *v = b ? json_object_get(b, name) : NULL;
    *out = def;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_string(v) && (!strcmp(json_string_value(v), "true") ||
                              !strcmp(json_string_value(v), "false"))) {
        *out = !strcmp(json_string_value(v), "true");
        return 0;
    }
    return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                          "Invalid value for field %s: expected a boolean.", name);
}

int tomo_api_group_create(tomo_api_ctx *ctx)
{
    const json_t *b;
    tomo_svc_group_new in = {0};
    if (tomo_auth_body(ctx, &b) < 0 ||
        body_str(ctx, b, "name", NULL, 0, &in.name) < 0 ||
        body_str(ctx, b, "description", NULL, 0, &in.description) < 0 ||
        body_str(ctx, b, "lang_tag", "langTag", 0, &in.lang_tag) < 0 ||
        body_str(ctx, b, "avatar_url", "avatarUrl", 0, &in.avatar_url) < 0 ||
        body_bool(ctx, b, "open", 0, &in.open) < 0)
        return -1;
    const json_t *mc = b ? tomo_auth_field(b, "max_count", "maxCount") : NULL;
    if (mc && !json_is_null(mc)) {
        if (json_is_integer(mc))
            in.max_count = (int)json_integer_value(mc);
        else if (json_is_string(mc) && *json_string_value(mc))
            in.max_count = atoi(json_string_value(mc));
        else
            return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                  "Invalid value for field max_count: expected a number.");
    }
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
    if (tomo_auth_body(ctx, &b) < 0 || body_str(ctx, b, "name", NULL, 1, &in.name) < 0 ||
        body_str(ctx, b, "description", NULL, 1, &in.description) < 0 ||
        body_str(ctx, b, "lang_tag", "langTag", 1, &in.lang_tag) < 0 ||
        body_str(ctx, b, "avatar_url", "avatarUrl", 1, &in.avatar_url) < 0 ||
        body_bool(ctx, b, "open", -1, &in.open) < 0)
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
    if (tomo_svc_group_users_list(&ctx->srv->svc, db, &caller, tomo_api_param(ctx, "group_id"),
                                  limit, state, tomo_api_query(ctx, "cursor"), &ctx->out,
                                  &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
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
