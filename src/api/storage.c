/* api/storage.c: the storage objects API (Nakama semantics): write, read,
 * delete and list JSON objects keyed by (collection, key, owner).
 * Runs on worker threads (the handlers block on the database).
 *
 * Concurrency: a batch runs in one transaction (SQLite: BEGIN IMMEDIATE,
 * so batches are serialised), and each version condition is part of the
 * statement that writes (INSERT ... ON CONFLICT, UPDATE ... WHERE version),
 * never a separate read followed by a write, so two clients racing on the
 * same object cannot both win on either backend. Rows are written in
 * (collection, key) order so concurrent batches lock in the same order. */
#include "handlers.h"

#include "storage_util.h"

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"
#include "../core/metrics.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MSG_NAMES "Invalid collection or key value supplied. They must be set."
#define MSG_READ_PERM "Invalid Read permission supplied. It must be either 0, 1 or 2."
#define MSG_WRITE_PERM "Invalid Write permission supplied. It must be either 0 or 1."
#define MSG_NOT_OBJECT "Value must be a JSON object."
#define MSG_USER_ID "Invalid user ID - make sure user ID is a valid UUID."
#define MSG_LIMIT "Invalid limit - limit must be between 1 and 100."
#define MSG_CURSOR "Malformed cursor was used."
#define MSG_REJECT_VERSION "Storage write rejected - version check failed."
#define MSG_REJECT_PERM "Storage write rejected - permission denied."
#define MSG_REJECT_DELETE                                                                          \
    "Storage delete rejected - not found, version check failed, or permission denied."

/* ---- metrics ---- */

static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;
static tomo_metric *m_writes, *m_rejects, *m_deletes;

static void metrics_init(void)
{
    m_writes = tomo_metrics_counter("storage_writes_total", "Storage objects written", NULL);
    m_rejects = tomo_metrics_counter("storage_write_rejects_total",
                                     "Storage write batches rejected, by reason", "reason");
    m_deletes = tomo_metrics_counter("storage_deletes_total", "Storage objects deleted", NULL);
}

static void count_reject(const char *reason)
{
    tomo_metric_add(m_rejects, (const char *[]){reason}, 1);
}

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
                              json_array_size(a), TOMO_STORAGE_MAX_BATCH);
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

static int check_names(tomo_api_ctx *ctx, const char *collection, const char *key)
{
    if (!*collection || !*key)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, MSG_NAMES);
    if (strlen(collection) > TOMO_STORAGE_MAX_NAME_BYTES ||
        strlen(key) > TOMO_STORAGE_MAX_NAME_BYTES)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid collection or key value supplied. They must be at most %d "
                              "bytes long.",
                              TOMO_STORAGE_MAX_NAME_BYTES);
    return 0;
}

/* Canonical (lower-case) copy of a UUID, or -1 when s is not one. */
static int canon_uuid(const char *s, char out[37])
{
    if (!tomo_uuid_valid(s))
        return -1;
    for (int i = 0; i < 36; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[36] = '\0';
    return 0;
}

/* ---- results ---- */

#define OBJ_COLS "collection, key, user_id, value, version, read, write, create_time, update_time"

static json_t *object_json(const tomo_dbres *r, size_t row)
{
    json_t *o = json_object();
    tomo_json_set_str(o, "collection", tomo_dbres_text(r, row, 0));
    tomo_json_set_str(o, "key", tomo_dbres_text(r, row, 1));
    tomo_json_set_str(o, "user_id", tomo_dbres_text(r, row, 2));
    tomo_json_set_str(o, "value", tomo_dbres_text(r, row, 3));
    tomo_json_set_str(o, "version", tomo_dbres_text(r, row, 4));
    /* int32 fields: protojson leaves out zero values */
    if (tomo_dbres_int(r, row, 5))
        json_object_set_new(o, "permission_read", json_integer(tomo_dbres_int(r, row, 5)));
    if (tomo_dbres_int(r, row, 6))
        json_object_set_new(o, "permission_write", json_integer(tomo_dbres_int(r, row, 6)));
    tomo_json_set_time(o, "create_time", tomo_dbres_int(r, row, 7));
    tomo_json_set_time(o, "update_time", tomo_dbres_int(r, row, 8));
    return o;
}

/* Processing order for a batch: (collection, key), request order for ties so
 * repeated ids apply in the order sent. */
typedef struct op {
    const char *collection, *key, *version, *value;
    int read, write;
    size_t idx;
} op;

static int op_cmp(const void *a, const void *b)
{
    const op *x = *(op *const *)a, *y = *(op *const *)b;
    int c = strcmp(x->collection, y->collection);
    if (!c)
        c = strcmp(x->key, y->key);
    if (!c)
        c = x->idx < y->idx ? -1 : x->idx > y->idx;
    return c;
}

static op **sorted_ops(op *ops, size_t n)
{
    op **s = tomo_xmalloc(n * sizeof(*s));
    for (size_t i = 0; i < n; i++)
        s[i] = &ops[i];
    qsort(s, n, sizeof(*s), op_cmp);
    return s;
}

/* ---- write ---- */

/* Upsert unless the stored object is server-write-only. */
static const char SQL_UPSERT[] =
    "INSERT INTO storage (collection, key, user_id, value, version, read, write, create_time,"
    " update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"
    " ON CONFLICT (collection, key, user_id) DO UPDATE SET value = excluded.value,"
    " version = excluded.version, read = excluded.read, write = excluded.write,"
    " update_time = excluded.update_time WHERE storage.write > 0"
    " RETURNING create_time, update_time";
/* Version "*": create only. */
static const char SQL_CREATE[] =
    "INSERT INTO storage (collection, key, user_id, value, version, read, write, create_time,"
    " update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"
    " ON CONFLICT (collection, key, user_id) DO NOTHING RETURNING create_time, update_time";
/* Version "<hash>": update only that version. */
static const char SQL_UPDATE_IF[] =
    "UPDATE storage SET value = $4, version = $5, read = $6, write = $7, update_time = $8"
    " WHERE collection = $1 AND key = $2 AND user_id = $3 AND version = $9 AND write > 0"
    " RETURNING create_time, update_time";
/* Why a conditional update matched nothing: the version matched, so the
 * object is write-protected; otherwise the version check failed. */
static const char SQL_VERSION_MATCH[] =
    "SELECT write FROM storage WHERE collection = $1 AND key = $2 AND user_id = $3"
    " AND version = $4";

typedef struct ack {
    char version[33];
    int64_t create_time, update_time;
} ack;

enum { REJECT_VERSION = 1, REJECT_PERMISSION = 2 };

/* Write one object inside the batch transaction: 0, a negative store error,
 * or REJECT_* when the version or permission check refused it. */
static int write_one(tomo_dbconn *db, const char *owner, const op *o, int64_t now, ack *a)
{
    tomo_dbres *r = NULL;
    tomo_storage_version(o->value, strlen(o->value), a->version);
    tomo_dbval p[9] = {
        TOMO_DBTEXT(o->collection), TOMO_DBTEXT(o->key),     TOMO_DBTEXT(owner),
        TOMO_DBTEXT(o->value),      TOMO_DBTEXT(a->version), TOMO_DBINT(o->read),
        TOMO_DBINT(o->write),       TOMO_DBINT(now),         TOMO_DBTEXT(o->version)};
    const char *sql = !*o->version               ? SQL_UPSERT
                      : !strcmp(o->version, "*") ? SQL_CREATE
                                                 : SQL_UPDATE_IF;
    size_t np = sql == SQL_UPDATE_IF ? 9 : 8;
    int rc = tomo_db_exec(db, sql, p, np, &r);
    if (rc < 0)
        goto out;
    if (tomo_dbres_rows(r) == 1) {
        a->create_time = tomo_dbres_int(r, 0, 0);
        a->update_time = tomo_dbres_int(r, 0, 1);
        goto out;
    }
    if (sql == SQL_UPSERT) {
        rc = REJECT_PERMISSION;
    } else if (sql == SQL_CREATE) {
        rc = REJECT_VERSION;
    } else {
        tomo_dbres_free(r);
        r = NULL;
        tomo_dbval q[4] = {p[0], p[1], p[2], p[8]};
        rc = tomo_db_exec(db, SQL_VERSION_MATCH, q, 4, &r);
        if (rc == 0)
            rc = tomo_dbres_rows(r) ? REJECT_PERMISSION : REJECT_VERSION;
    }
out:
    tomo_dbres_free(r);
    return rc;
}

int tomo_api_storage_write(tomo_api_ctx *ctx)
{
    pthread_once(&metrics_once, metrics_init);
    json_t *arr;
    op *ops = NULL;
    op **order = NULL;
    ack *acks = NULL;
    int rc = body_array(ctx, "objects", &arr);
    if (rc < 0 || !arr)
        return rc;
    size_t n = json_array_size(arr);
    ops = tomo_xcalloc(n, sizeof(*ops));
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(arr, i);
        op *o = &ops[i];
        long long rd, wr;
        o->idx = i;
        if ((rc = field_str(ctx, j, "collection", &o->collection)) < 0 ||
            (rc = field_str(ctx, j, "key", &o->key)) < 0 ||
            (rc = field_str(ctx, j, "value", &o->value)) < 0 ||
            (rc = field_str(ctx, j, "version", &o->version)) < 0 ||
            (rc = field_int(ctx, j, "permission_read", 1, &rd)) < 0 ||
            (rc = field_int(ctx, j, "permission_write", 1, &wr)) < 0)
            goto out;
        if (!*o->value) {
            rc = tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, MSG_NAMES);
            goto out;
        }
        if ((rc = check_names(ctx, o->collection, o->key)) < 0)
            goto out;
        if (rd < 0 || rd > 2) {
            rc = tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, MSG_READ_PERM);
            goto out;
        }
        if (wr < 0 || wr > 1) {
            rc = tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, MSG_WRITE_PERM);
            goto out;
        }
        o->read = (int)rd;
        o->write = (int)wr;
        size_t vlen = strlen(o->value);
        if (vlen > TOMO_STORAGE_MAX_VALUE_BYTES) {
            rc = tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                "Value too large: %zu bytes (the limit is %d bytes).", vlen,
                                TOMO_STORAGE_MAX_VALUE_BYTES);
            goto out;
        }
        if (!tomo_storage_value_is_object(o->value, vlen)) {
            rc = tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, MSG_NOT_OBJECT);
            goto out;
        }
    }

    tomo_dbconn *db;
    if ((rc = tomo_api_db(ctx, &db)) < 0)
        goto out;
    if ((rc = tomo_db_begin(db)) < 0) {
        rc = tomo_api_db_error(ctx, rc, "storage write begin");
        goto out;
    }
    order = sorted_ops(ops, n);
    acks = tomo_xcalloc(n, sizeof(*acks));
    const char *owner = ctx->session.user_id;
    int64_t now = tomo_now_ms();
    for (size_t i = 0; i < n; i++) {
        const op *o = order[i];
        rc = write_one(db, owner, o, now, &acks[o->idx]);
        if (rc > 0) {
            int perm = rc == REJECT_PERMISSION;
            tomo_db_rollback(db);
            count_reject(perm ? "permission" : "version");
            TOMO_LOGD(TOMO_API, "storage write rejected user=%s collection=%s reason=%s", owner,
                      o->collection, perm ? "permission" : "version");
            rc = tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "%s",
                                perm ? MSG_REJECT_PERM : MSG_REJECT_VERSION);
            goto out;
        }
        if (rc < 0) {
            rc = tomo_api_db_error(ctx, rc, "storage write");
            tomo_db_rollback(db);
            goto out;
        }
    }
    if ((rc = tomo_db_commit(db)) < 0) {
        rc = tomo_api_db_error(ctx, rc, "storage write commit");
        goto out;
    }
    tomo_metric_add(m_writes, NULL, (double)n);

    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_object();
        tomo_json_set_str(a, "collection", ops[i].collection);
        tomo_json_set_str(a, "key", ops[i].key);
        tomo_json_set_str(a, "version", acks[i].version);
        tomo_json_set_str(a, "user_id", owner);
        tomo_json_set_time(a, "create_time", acks[i].create_time);
        tomo_json_set_time(a, "update_time", acks[i].update_time);
        json_array_append_new(list, a);
    }
    ctx->out = json_pack("{s:o}", "acks", list);
out:
    free(acks);
    free(order);
    free(ops);
    return rc;
}

/* ---- read ---- */

/* One term per requested id. The caller sees public objects and its own
 * owner-readable ones; a system-owned object (nil owner) is never the
 * caller's, so the same term covers the empty user_id case. */
static const char READ_TERM[] = "(collection = $%zu AND key = $%zu AND user_id = $%zu AND"
                                " (read = 2 OR (read = 1 AND user_id = $1)))";

typedef struct rid {
    const char *collection, *key;
    char user_id[37];
} rid;

int tomo_api_storage_read(tomo_api_ctx *ctx)
{
    json_t *arr;
    rid *ids = NULL;
    tomo_dbval *params = NULL;
    char *sql = NULL;
    size_t sqllen = 0;
    FILE *f = NULL;
    tomo_dbres *r = NULL;
    char *emitted = NULL;
    int rc = body_array(ctx, "object_ids", &arr);
    if (rc < 0 || !arr)
        return rc;
    size_t n = json_array_size(arr);
    ids = tomo_xcalloc(n, sizeof(*ids));
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(arr, i);
        const char *uid;
        if ((rc = field_str(ctx, j, "collection", &ids[i].collection)) < 0 ||
            (rc = field_str(ctx, j, "key", &ids[i].key)) < 0 ||
            (rc = field_str(ctx, j, "user_id", &uid)) < 0 ||
            (rc = check_names(ctx, ids[i].collection, ids[i].key)) < 0)
            goto out;
        if (!*uid) {
            strcpy(ids[i].user_id, TOMO_SYSTEM_USER_ID);
        } else if (canon_uuid(uid, ids[i].user_id) < 0 ||
                   !strcmp(ids[i].user_id, TOMO_SYSTEM_USER_ID)) {
            /* Nakama refuses the nil UUID spelled out; "" means the system user */
            rc = tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, MSG_USER_ID);
            goto out;
        }
    }

    params = tomo_xcalloc(1 + 3 * n, sizeof(*params));
    params[0] = TOMO_DBTEXT(ctx->session.user_id);
    f = open_memstream(&sql, &sqllen);
    fputs("SELECT " OBJ_COLS " FROM storage WHERE ", f);
    for (size_t i = 0; i < n; i++) {
        size_t b = 2 + 3 * i;
        if (i)
            fputs(" OR ", f);
        fprintf(f, READ_TERM, b, b + 1, b + 2);
        params[b - 1] = TOMO_DBTEXT(ids[i].collection);
        params[b] = TOMO_DBTEXT(ids[i].key);
        params[b + 1] = TOMO_DBTEXT(ids[i].user_id);
    }
    fclose(f);
    f = NULL;

    tomo_dbconn *db;
    if ((rc = tomo_api_db(ctx, &db)) < 0)
        goto out;
    if ((rc = tomo_db_exec(db, sql, params, 1 + 3 * n, &r)) < 0) {
        rc = tomo_api_db_error(ctx, rc, "storage read");
        goto out;
    }
    /* Answer in request order; an id asked for twice is answered once. */
    size_t rows = tomo_dbres_rows(r);
    emitted = tomo_xcalloc(rows ? rows : 1, 1);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        for (size_t row = 0; row < rows; row++) {
            if (emitted[row] || strcmp(tomo_dbres_text(r, row, 0), ids[i].collection) ||
                strcmp(tomo_dbres_text(r, row, 1), ids[i].key) ||
                strcmp(tomo_dbres_text(r, row, 2), ids[i].user_id))
                continue;
            emitted[row] = 1;
            json_array_append_new(list, object_json(r, row));
            break;
        }
    if (json_array_size(list))
        ctx->out = json_pack("{s:o}", "objects", list);
    else
        json_decref(list);
out:
    free(emitted);
    tomo_dbres_free(r);
    free(sql);
    free(params);
    free(ids);
    return rc;
}

/* ---- delete ---- */

static const char SQL_DELETE[] = "DELETE FROM storage WHERE collection = $1 AND key = $2"
                                 " AND user_id = $3 AND write > 0";
static const char SQL_DELETE_IF[] = "DELETE FROM storage WHERE collection = $1 AND key = $2"
                                    " AND user_id = $3 AND write > 0 AND version = $4";

int tomo_api_storage_delete(tomo_api_ctx *ctx)
{
    pthread_once(&metrics_once, metrics_init);
    json_t *arr;
    op *ops = NULL;
    op **order = NULL;
    tomo_dbres *r = NULL;
    int rc = body_array(ctx, "object_ids", &arr);
    if (rc < 0 || !arr)
        return rc;
    size_t n = json_array_size(arr);
    ops = tomo_xcalloc(n, sizeof(*ops));
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(arr, i);
        ops[i].idx = i;
        if ((rc = field_str(ctx, j, "collection", &ops[i].collection)) < 0 ||
            (rc = field_str(ctx, j, "key", &ops[i].key)) < 0 ||
            (rc = field_str(ctx, j, "version", &ops[i].version)) < 0 ||
            (rc = check_names(ctx, ops[i].collection, ops[i].key)) < 0)
            goto out;
    }

    tomo_dbconn *db;
    if ((rc = tomo_api_db(ctx, &db)) < 0)
        goto out;
    if ((rc = tomo_db_begin(db)) < 0) {
        rc = tomo_api_db_error(ctx, rc, "storage delete begin");
        goto out;
    }
    order = sorted_ops(ops, n);
    for (size_t i = 0; i < n; i++) {
        const op *o = order[i];
        tomo_dbval p[4] = {TOMO_DBTEXT(o->collection), TOMO_DBTEXT(o->key),
                           TOMO_DBTEXT(ctx->session.user_id), TOMO_DBTEXT(o->version)};
        int cond = *o->version != '\0';
        tomo_dbres_free(r);
        r = NULL;
        rc = tomo_db_exec(db, cond ? SQL_DELETE_IF : SQL_DELETE, p, cond ? 4 : 3, &r);
        if (rc < 0) {
            rc = tomo_api_db_error(ctx, rc, "storage delete");
            tomo_db_rollback(db);
            goto out;
        }
        if (tomo_dbres_changes(r) == 0) {
            tomo_db_rollback(db);
            rc = tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, MSG_REJECT_DELETE);
            goto out;
        }
    }
    if ((rc = tomo_db_commit(db)) < 0) {
        rc = tomo_api_db_error(ctx, rc, "storage delete commit");
        goto out;
    }
    tomo_metric_add(m_deletes, NULL, (double)n);
out:
    tomo_dbres_free(r);
    free(order);
    free(ops);
    return rc;
}

/* ---- list ----
 * Keyset paging: each query continues strictly after the cursor's sort key,
 * with a row-value comparison that both backends turn into an index range
 * (EXPLAIN: storage_list_public_idx for PUBLIC, storage_list_user_idx for OWN
 * and USER). One row more than the limit is fetched to learn whether a next
 * page exists. */

/* Parameters: $1 collection, $2 limit + 1, then per listing the owner and
 * the cursor position, numbered without gaps (Postgres must infer a type for
 * every parameter it is given). */
static const char SQL_LIST_PUBLIC[] =
    "SELECT " OBJ_COLS " FROM storage WHERE collection = $1 AND read = 2"
    " ORDER BY read, key, user_id LIMIT $2";
static const char SQL_LIST_PUBLIC_AFTER[] =
    "SELECT " OBJ_COLS " FROM storage WHERE collection = $1 AND read = 2"
    " AND (key, user_id) > ($3, $4) ORDER BY read, key, user_id LIMIT $2";
static const char SQL_LIST_OWN[] =
    "SELECT " OBJ_COLS " FROM storage WHERE collection = $1 AND user_id = $3 AND read >= 1"
    " ORDER BY read, key LIMIT $2";
/* No separate read >= 1 here: the cursor's read is 1 or 2 (checked when
 * decoding), so the row-value range already excludes read 0, and SQLite only
 * uses the index range when it is the sole constraint on read. */
static const char SQL_LIST_OWN_AFTER[] =
    "SELECT " OBJ_COLS " FROM storage WHERE collection = $1 AND user_id = $3"
    " AND (read, key) > ($4, $5) ORDER BY read, key LIMIT $2";
static const char SQL_LIST_USER[] =
    "SELECT " OBJ_COLS " FROM storage WHERE collection = $1 AND user_id = $3 AND read = 2"
    " ORDER BY key LIMIT $2";
static const char SQL_LIST_USER_AFTER[] =
    "SELECT " OBJ_COLS " FROM storage WHERE collection = $1 AND user_id = $3 AND read = 2"
    " AND key > $4 ORDER BY key LIMIT $2";

int tomo_api_storage_list(tomo_api_ctx *ctx)
{
    tomo_storage_cursor cur = {0};
    tomo_dbres *r = NULL;
    char owner_buf[37] = "";
    const char *owner = owner_buf;
    int rc = 0, bad = 0;
    const char *collection = tomo_api_param(ctx, "collection");
    const char *uid = tomo_api_param(ctx, "user_id");
    if (!uid)
        uid = tomo_api_query(ctx, "user_id");
    const char *cursor = tomo_api_query(ctx, "cursor");
    long long limit = tomo_api_query_int(ctx, "limit", 1, &bad);
    if (!collection)
        collection = "";
    if (bad || limit < 1 || limit > 100)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, MSG_LIMIT);
    if (uid && *uid && canon_uuid(uid, owner_buf) < 0)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, MSG_USER_ID);

    int mode = !*owner                                ? TOMO_STORAGE_LIST_PUBLIC
               : !strcmp(owner, ctx->session.user_id) ? TOMO_STORAGE_LIST_OWN
                                                      : TOMO_STORAGE_LIST_USER;
    int after = cursor && *cursor;
    if (after && tomo_storage_cursor_decode(cursor, mode, collection, owner, &cur) < 0) {
        TOMO_LOGD(TOMO_API, "storage list malformed cursor user=%s", ctx->session.user_id);
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, MSG_CURSOR);
    }
    static const char *const sql[3][2] = {
        {SQL_LIST_PUBLIC, SQL_LIST_PUBLIC_AFTER},
        {SQL_LIST_OWN, SQL_LIST_OWN_AFTER},
        {SQL_LIST_USER, SQL_LIST_USER_AFTER},
    };
    tomo_dbval p[5] = {TOMO_DBTEXT(collection), TOMO_DBINT(limit + 1)};
    size_t np = 2;
    if (mode == TOMO_STORAGE_LIST_PUBLIC) {
        if (after) {
            p[np++] = TOMO_DBTEXT(cur.key);
            p[np++] = TOMO_DBTEXT(cur.user_id);
        }
    } else {
        p[np++] = TOMO_DBTEXT(owner);
        if (after && mode == TOMO_STORAGE_LIST_OWN)
            p[np++] = TOMO_DBINT(cur.read);
        if (after)
            p[np++] = TOMO_DBTEXT(cur.key);
    }
    tomo_dbconn *db;
    if ((rc = tomo_api_db(ctx, &db)) < 0)
        goto out;
    if ((rc = tomo_db_exec(db, sql[mode - 1][after], p, np, &r)) < 0) {
        rc = tomo_api_db_error(ctx, rc, "storage list");
        goto out;
    }
    size_t rows = tomo_dbres_rows(r);
    size_t shown = rows > (size_t)limit ? (size_t)limit : rows;
    ctx->out = json_object();
    if (shown) {
        json_t *list = json_array();
        for (size_t i = 0; i < shown; i++)
            json_array_append_new(list, object_json(r, i));
        json_object_set_new(ctx->out, "objects", list);
    }
    if (rows > shown) {
        size_t last = shown - 1;
        char *next =
            tomo_storage_cursor_encode(mode, collection, owner, (int)tomo_dbres_int(r, last, 5),
                                       tomo_dbres_text(r, last, 1), tomo_dbres_text(r, last, 2));
        if (!next) {
            TOMO_LOGE(TOMO_API, "storage list cannot encode cursor user_id=%s",
                      tomo_dbres_text(r, last, 2));
            rc = tomo_api_error(ctx, TOMO_GRPC_INTERNAL, "Error listing storage objects.");
            goto out;
        }
        json_object_set_new(ctx->out, "cursor", json_string(next));
        free(next);
    }
out:
    tomo_dbres_free(r);
    tomo_storage_cursor_clear(&cur);
    return rc;
}
