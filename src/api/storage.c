/* api/storage.c: the REST adapters of the storage objects API: decode the
 * body or query into the typed svc call (svc/storage.h, where the rules and
 * queries live) and hand back its message. Threads: worker. */
#include "handlers.h"

#include "../core/common.h"
#include "../svc/storage.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- request parsing ---- */

/* A repeated message field of the body; NULL when absent or empty (or no
 * body). Enforces the batch limit. */
static int body_array(tomo_api_ctx *ctx, const char *field, const json_t **out)
{
    const json_t *b;
    if (tomo_api_body(ctx, &b) < 0 || tomo_api_field_array(ctx, b, field, 1, out) < 0)
        return TOMO_EINVAL;
    if (*out && json_array_size(*out) > TOMO_STORAGE_MAX_BATCH)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Too many storage objects in one request: %zu (the limit is %d).",
                              json_array_size(*out), (int)TOMO_STORAGE_MAX_BATCH);
    return 0;
}

/* ---- adapters ---- */

int tomo_api_storage_write(tomo_api_ctx *ctx)
{
    const json_t *arr;
    tomo_storage_write_op *ops = NULL;
    tomo_err err;
    int rc = body_array(ctx, "objects", &arr);
    if (rc < 0 || !arr)
        return rc;
    size_t n = json_array_size(arr);
    ops = tomo_xcalloc(n, sizeof(*ops));
    for (size_t i = 0; i < n; i++) {
        const json_t *j = json_array_get(arr, i);
        tomo_storage_write_op *o = &ops[i];
        long long rd, wr;
        if ((rc = tomo_api_field_str(ctx, j, "collection", "", &o->collection)) < 0 ||
            (rc = tomo_api_field_str(ctx, j, "key", "", &o->key)) < 0 ||
            (rc = tomo_api_field_str(ctx, j, "value", "", &o->value)) < 0 ||
            (rc = tomo_api_field_str(ctx, j, "version", "", &o->version)) < 0 ||
            (rc = tomo_api_field_int(ctx, j, "permission_read", 1, INT32_MIN, INT32_MAX,
                                     &rd)) < 0 ||
            (rc = tomo_api_field_int(ctx, j, "permission_write", 1, INT32_MIN, INT32_MAX,
                                     &wr)) < 0)
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
    const json_t *arr;
    *out = NULL;
    *n = 0;
    int rc = body_array(ctx, "object_ids", &arr);
    if (rc < 0 || !arr)
        return rc;
    size_t k = json_array_size(arr);
    tomo_storage_id *ids = tomo_xcalloc(k, sizeof(*ids));
    for (size_t i = 0; i < k; i++) {
        const json_t *j = json_array_get(arr, i);
        if ((rc = tomo_api_field_str(ctx, j, "collection", "", &ids[i].collection)) < 0 ||
            (rc = tomo_api_field_str(ctx, j, "key", "", &ids[i].key)) < 0 ||
            (rc = tomo_api_field_str(ctx, j, with_version ? "version" : "user_id", "",
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
