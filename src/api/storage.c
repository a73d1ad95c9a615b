/* api/storage.c: the REST adapters of the storage objects API: decode the
 * body or query into the typed svc call (svc/storage.h, where the rules and
 * queries live) and hand back its message. Threads: worker. */
#include "handlers.h"

#include "../core/common.h"
#include "../svc/storage.h"

#include <stdlib.h>
#include <string.h>

/* ---- request parsing ---- */

/* The array field of the body; NULL when absent/null/empty body. Enforces
 * the batch limit. */
static int body_array(tomo_api_ctx *ctx, const char *field, json_t **out)
{
    *out = NULL;
    if (!ctx->body)
        return 0;
    if (!json_is_object(ctx->body))
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid request body: expected a JSON object.");
    json_t *a = json_object_get(ctx->body, field);
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid request body: %s must be an array.", field);
    if (json_array_size(a) > TOMO_STORAGE_MAX_BATCH)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Too many storage objects in one request: %zu (the limit is %d).",
                              json_array_size(a), (int)TOMO_STORAGE_MAX_BATCH);
    for (size_t i = 0; i < json_array_size(a); i++)
        if (!json_is_object(json_array_get(a, i)))
            return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                  "Invalid request body: %s[%zu] must be an object.", field, i);
    *out = json_array_size(a) ? a : NULL;
    return 0;
}

/* A string field: "" when absent or null (proto3 default). */
static int field_str(tomo_api_ctx *ctx, const json_t *o, const char *name, const char **out)
{
    json_t *v = json_object_get(o, name);
    *out = "";
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid request body: %s must be a string.", name);
    *out = json_string_value(v);
    return 0;
}

/* An Int32Value wrapper: a JSON number or a decimal string, def when absent. */
static int field_int(tomo_api_ctx *ctx, const json_t *o, const char *name, int def, long long *out)
{
    json_t *v = json_object_get(o, name);
    *out = def;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        long long x = strtoll(s, &end, 10);
        if (*s && !*end) {
            *out = x;
            return 0;
        }
    }
    return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                          "Invalid request body: %s must be an integer.", name);
}

/* ---- adapters ---- */

int tomo_api_storage_write(tomo_api_ctx *ctx)
{
    json_t *arr;
    tomo_storage_write_op *ops = NULL;
    tomo_err err;
    int rc = body_array(ctx, "objects", &arr);
    if (rc < 0 || !arr)
        return rc;
    size_t n = json_array_size(arr);
    ops = tomo_xcalloc(n, sizeof(*ops));
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(arr, i);
        tomo_storage_write_op *o = &ops[i];
        long long rd, wr;
        if ((rc = field_str(ctx, j, "collection", &o->collection)) < 0 ||
            (rc = field_str(ctx, j, "key", &o->key)) < 0 ||
            (rc = field_str(ctx, j, "value", &o->value)) < 0 ||
            (rc = field_str(ctx, j, "version", &o->version)) < 0 ||
            (rc = field_int(ctx, j, "permission_read", 1, &rd)) < 0 ||
            (rc = field_int(ctx, j, "permission_write", 1, &wr)) < 0)
            goto out;
        o->permission_read = rd;
        o->permission_write = wr;
    }
    tomo_dbconn *db;
    if ((rc = tomo_api_db(ctx, &db)) < 0)
        goto out;
    tomo_caller me = tomo_api_caller(ctx);
    if ((rc = tomo_svc_storage_write(&ctx->srv->svc, db, &me, ops, n, &ctx->out, &err)) < 0)
        rc = tomo_api_svc_error(ctx, &err);
out:
    free(ops);
    return rc;
}

/* object_ids[] of read and delete; with_version for delete. */
static int body_ids(tomo_api_ctx *ctx, int with_version, tomo_storage_id **out, size_t *n)
{
    json_t *arr;
    *out = NULL;
    *n = 0;
    int rc = body_array(ctx, "object_ids", &arr);
    if (rc < 0 || !arr)
        return rc;
    size_t k = json_array_size(arr);
    tomo_storage_id *ids = tomo_xcalloc(k, sizeof(*ids));
    for (size_t i = 0; i < k; i++) {
        json_t *j = json_array_get(arr, i);
        if ((rc = field_str(ctx, j, "collection", &ids[i].collection)) < 0 ||
            (rc = field_str(ctx, j, "key", &ids[i].key)) < 0 ||
            (rc = field_str(ctx, j, with_version ? "version" : "user_id",
                            with_version ? &ids[i].version : &ids[i].user_id)) < 0) {
            free(ids);
            return rc;
        }
    }
    *out = ids;
    *n = k;
    return 0;
}

int tomo_api_storage_read(tomo_api_ctx *ctx)
{
    tomo_storage_id *ids;
    size_t n;
    tomo_err err;
    int rc = body_ids(ctx, 0, &ids, &n);
    if (rc < 0 || !n)
        return rc;
    tomo_dbconn *db;
    if ((rc = tomo_api_db(ctx, &db)) == 0) {
        tomo_caller me = tomo_api_caller(ctx);
        if ((rc = tomo_svc_storage_read(&ctx->srv->svc, db, &me, ids, n, &ctx->out, &err)) < 0)
            rc = tomo_api_svc_error(ctx, &err);
    }
    free(ids);
    return rc;
}

int tomo_api_storage_delete(tomo_api_ctx *ctx)
{
    tomo_storage_id *ids;
    size_t n;
    tomo_err err;
    int rc = body_ids(ctx, 1, &ids, &n);
    if (rc < 0 || !n)
        return rc;
    tomo_dbconn *db;
    if ((rc = tomo_api_db(ctx, &db)) == 0) {
        tomo_caller me = tomo_api_caller(ctx);
        if ((rc = tomo_svc_storage_delete(&ctx->srv->svc, db, &me, ids, n, &err)) < 0)
            rc = tomo_api_svc_error(ctx, &err);
    }
    free(ids);
    return rc;
}

int tomo_api_storage_list(tomo_api_ctx *ctx)
{
    int bad = 0;
    tomo_err err;
    const char *uid = tomo_api_param(ctx, "user_id");
    if (!uid)
        uid = tomo_api_query(ctx, "user_id");
    long long limit = tomo_api_query_int(ctx, "limit", 1, &bad);
    if (bad)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid limit - limit must be between 1 and 100.");
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    tomo_caller me = tomo_api_caller(ctx);
    if (tomo_svc_storage_list(&ctx->srv->svc, db, &me, tomo_api_param(ctx, "collection"), uid,
                              limit, tomo_api_query(ctx, "cursor"), &ctx->out, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    return 0;
}
