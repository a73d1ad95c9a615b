/* svc/storage.c: storage objects (see storage.h).
 *
 * Concurrency: a batch runs in one transaction (SQLite: BEGIN IMMEDIATE,
 * so batches are serialised), and each version condition is part of the
 * statement that writes (INSERT ... ON CONFLICT, UPDATE ... WHERE version),
 * never a separate read followed by a write, so two clients racing on the
 * same object cannot both win on either backend. Rows are written in
 * (collection, key) order so concurrent batches lock in the same order.
 * The owner's account row is share-locked (Postgres) for the batch, so an
 * account deletion (which deletes the users row first) either waits for the
 * batch and then deletes its rows, or commits first and the batch finds no
 * owner: no orphan rows either way. */
#define _GNU_SOURCE
#include "storage.h"

#include "account.h"
#include "wallet.h"

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"
#include "../core/metrics.h"

#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
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
#define MSG_WRITE_ERROR "Error writing storage objects."

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

/* ---- input checks ---- */

static int check_names(tomo_err *err, const char *collection, const char *key)
{
    if (!collection || !key || !*collection || !*key)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, MSG_NAMES);
    if (strlen(collection) > TOMO_STORAGE_MAX_NAME_BYTES ||
        strlen(key) > TOMO_STORAGE_MAX_NAME_BYTES)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Invalid collection or key value supplied. They must be at most %d "
                            "bytes long.",
                            TOMO_STORAGE_MAX_NAME_BYTES);
    return 0;
}

static int check_batch(tomo_err *err, size_t n)
{
    if (n > TOMO_STORAGE_MAX_BATCH)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Too many storage objects in one request: %zu (the limit is %d).", n,
                            TOMO_STORAGE_MAX_BATCH);
    return 0;
}

/* Canonical (lower-case) copy of a UUID, or -1 when s is not one. */
static int canon_uuid(const char *s, char out[37])
{
    if (!s || !tomo_uuid_valid(s))
        return -1;
    for (int i = 0; i < 36; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[36] = '\0';
    return 0;
}

/* The owner a write or delete acts on, from the caller's rules. */
static int write_owner(tomo_err *err, const tomo_caller *caller, const char *user_id,
                       char out[37])
{
    if (!tomo_caller_is_system(caller)) {
        if (user_id && *user_id && strcasecmp(user_id, caller->user_id))
            return tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED, MSG_REJECT_PERM);
        snprintf(out, 37, "%s", caller->user_id);
        return 0;
    }
    if (!user_id || !*user_id) {
        strcpy(out, TOMO_SYSTEM_USER_ID);
        return 0;
    }
    if (canon_uuid(user_id, out) < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, MSG_USER_ID);
    return 0;
}

/* 1 when the owner's account exists (the system user always does), with
 * its row share-locked on Postgres until the transaction ends; 0 when not;
 * < 0 on a store error. */
static int owner_exists(tomo_svc *svc, tomo_dbconn *db, const char *owner)
{
    if (!strcmp(owner, TOMO_SYSTEM_USER_ID))
        return 1;
    tomo_dbres *r = NULL;
    tomo_dbval p[1] = {TOMO_DBTEXT(owner)};
    int pg = svc->db && tomo_db_kind_of(svc->db) == TOMO_DB_POSTGRES;
    int rc = tomo_db_exec(db,
                          pg ? "SELECT id FROM users WHERE id = $1 FOR SHARE"
                             : "SELECT id FROM users WHERE id = $1",
                          p, 1, &r);
    if (rc == 0)
        rc = tomo_dbres_rows(r) > 0;
    tomo_dbres_free(r);
    return rc;
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

/* Processing order for a batch: (owner, collection, key), request order for
 * ties so repeated ids apply in the order sent. */
typedef struct op {
    const char *collection, *key, *version, *value;
    char owner[37];
    int read, write;
    size_t idx;
} op;

static int op_cmp(const void *a, const void *b)
{
    const op *x = *(op *const *)a, *y = *(op *const *)b;
    int c = strcmp(x->owner, y->owner);
    if (!c)
        c = strcmp(x->collection, y->collection);
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

/* Check each distinct owner of a sorted batch exists (and lock it). 0,
 * a store error, or 1 when one does not exist. */
static int owners_exist(tomo_svc *svc, tomo_dbconn *db, op **order, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i && !strcmp(order[i]->owner, order[i - 1]->owner))
            continue;
        int rc = owner_exists(svc, db, order[i]->owner);
        if (rc <= 0)
            return rc < 0 ? rc : 1;
    }
    return 0;
}

/* ---- write ---- */

/* Upsert; a user caller cannot overwrite a server-write-only object. */
#define SQL_UPSERT_BASE                                                                            \
    "INSERT INTO storage (collection, key, user_id, value, version, read, write, create_time,"    \
    " update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"                                   \
    " ON CONFLICT (collection, key, user_id) DO UPDATE SET value = excluded.value,"                \
    " version = excluded.version, read = excluded.read, write = excluded.write,"                  \
    " update_time = excluded.update_time"
static const char SQL_UPSERT[] = SQL_UPSERT_BASE " WHERE storage.write > 0"
                                                 " RETURNING create_time, update_time";
static const char SQL_UPSERT_SYSTEM[] = SQL_UPSERT_BASE " RETURNING create_time, update_time";
/* Version "*": create only. */
static const char SQL_CREATE[] =
    "INSERT INTO storage (collection, key, user_id, value, version, read, write, create_time,"
    " update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"
    " ON CONFLICT (collection, key, user_id) DO NOTHING RETURNING create_time, update_time";
/* Version "<hash>": update only that version. */
#define SQL_UPDATE_IF_BASE                                                                         \
    "UPDATE storage SET value = $4, version = $5, read = $6, write = $7, update_time = $8"        \
    " WHERE collection = $1 AND key = $2 AND user_id = $3 AND version = $9"
static const char SQL_UPDATE_IF[] = SQL_UPDATE_IF_BASE " AND write > 0"
                                                       " RETURNING create_time, update_time";
static const char SQL_UPDATE_IF_SYSTEM[] = SQL_UPDATE_IF_BASE " RETURNING create_time, update_time";
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
static int write_one(tomo_dbconn *db, int system, const op *o, int64_t now, ack *a)
{
    tomo_dbres *r = NULL;
    tomo_storage_version(o->value, strlen(o->value), a->version);
    tomo_dbval p[9] = {
        TOMO_DBTEXT(o->collection), TOMO_DBTEXT(o->key),     {TOMO_DBV_TEXT, 0, o->owner},
        TOMO_DBTEXT(o->value),      TOMO_DBTEXT(a->version), TOMO_DBINT(o->read),
        TOMO_DBINT(o->write),       TOMO_DBINT(now),         TOMO_DBTEXT(o->version)};
    int cond = *o->version && strcmp(o->version, "*");
    const char *sql = !*o->version ? (system ? SQL_UPSERT_SYSTEM : SQL_UPSERT)
                      : !cond      ? SQL_CREATE
                                   : (system ? SQL_UPDATE_IF_SYSTEM : SQL_UPDATE_IF);
    int rc = tomo_db_exec(db, sql, p, cond ? 9 : 8, &r);
    if (rc < 0)
        goto out;
    if (tomo_dbres_rows(r) == 1) {
        a->create_time = tomo_dbres_int(r, 0, 0);
        a->update_time = tomo_dbres_int(r, 0, 1);
        goto out;
    }
    if (!*o->version) {
        rc = REJECT_PERMISSION;
    } else if (!cond || system) {
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

/* A write batch: its ops checked, in processing order, and their acks. */
typedef struct wbatch {
    op *ops;
    op **order;
    ack *acks;
    size_t n;
} wbatch;

static void wbatch_free(wbatch *b)
{
    free(b->acks);
    free(b->order);
    free(b->ops);
}

/* Check a batch before any transaction: 0 with b filled (free it), or
 * INVALID_ARGUMENT. */
static int write_prepare(const tomo_caller *caller, const tomo_storage_write_op *in, size_t n,
                         wbatch *b, tomo_err *err)
{
    int rc;
    memset(b, 0, sizeof(*b));
    if ((rc = check_batch(err, n)) < 0 || n == 0)
        return rc;
    b->n = n;
    b->ops = tomo_xcalloc(n, sizeof(*b->ops));
    for (size_t i = 0; i < n; i++) {
        const tomo_storage_write_op *w = &in[i];
        op *o = &b->ops[i];
        o->idx = i;
        o->collection = w->collection ? w->collection : "";
        o->key = w->key ? w->key : "";
        o->value = w->value ? w->value : "";
        o->version = w->version ? w->version : "";
        if (!*o->value)
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, MSG_NAMES);
        if ((rc = check_names(err, o->collection, o->key)) < 0)
            return rc;
        if (w->permission_read < 0 || w->permission_read > 2)
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, MSG_READ_PERM);
        if (w->permission_write < 0 || w->permission_write > 1)
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, MSG_WRITE_PERM);
        o->read = (int)w->permission_read;
        o->write = (int)w->permission_write;
        size_t vlen = strlen(o->value);
        if (vlen > TOMO_STORAGE_MAX_VALUE_BYTES)
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                                "Value too large: %zu bytes (the limit is %d bytes).", vlen,
                                TOMO_STORAGE_MAX_VALUE_BYTES);
        if (!tomo_storage_value_is_object(o->value, vlen))
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, MSG_NOT_OBJECT);
        if ((rc = write_owner(err, caller, w->user_id, o->owner)) < 0)
            return rc;
    }
    b->order = sorted_ops(b->ops, n);
    b->acks = tomo_xcalloc(n, sizeof(*b->acks));
    return 0;
}

/* Write a prepared batch inside the caller's transaction (the caller rolls
 * back on failure). */
static int write_run(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller, wbatch *b,
                     tomo_err *err)
{
    int system = tomo_caller_is_system(caller);
    int rc = owners_exist(svc, db, b->order, b->n);
    if (rc > 0) {
        TOMO_LOGW(TOMO_SVC, "storage write for a user without an account caller=%s",
                  system ? "system" : caller->user_id);
        return tomo_err_set(err, TOMO_GRPC_INTERNAL, MSG_WRITE_ERROR);
    }
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "storage write owner");
    int64_t now = tomo_now_ms();
    for (size_t i = 0; i < b->n; i++) {
        const op *o = b->order[i];
        rc = write_one(db, system, o, now, &b->acks[o->idx]);
        if (rc > 0) {
            int perm = rc == REJECT_PERMISSION;
            count_reject(perm ? "permission" : "version");
            TOMO_LOGD(TOMO_SVC, "storage write rejected user=%s collection=%s reason=%s",
                      o->owner, o->collection, perm ? "permission" : "version");
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "%s",
                                perm ? MSG_REJECT_PERM : MSG_REJECT_VERSION);
        }
        if (rc < 0)
            return tomo_err_db_conn(err, db, rc, "storage write");
    }
    return 0;
}

/* StorageObjectAcks of a written batch (counted as written). */
static json_t *write_acks(const wbatch *b)
{
    tomo_metric_add(m_writes, NULL, (double)b->n);
    json_t *list = json_array();
    for (size_t i = 0; i < b->n; i++) {
        json_t *a = json_object();
        tomo_json_set_str(a, "collection", b->ops[i].collection);
        tomo_json_set_str(a, "key", b->ops[i].key);
        tomo_json_set_str(a, "version", b->acks[i].version);
        tomo_json_set_str(a, "user_id", b->ops[i].owner);
        tomo_json_set_time(a, "create_time", b->acks[i].create_time);
        tomo_json_set_time(a, "update_time", b->acks[i].update_time);
        json_array_append_new(list, a);
    }
    return json_pack("{s:o}", "acks", list);
}

int tomo_svc_storage_write(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                           const tomo_storage_write_op *in, size_t n, json_t **out, tomo_err *err)
{
    pthread_once(&metrics_once, metrics_init);
    wbatch b;
    *out = NULL;
    int rc = write_prepare(caller, in, n, &b, err);
    if (rc < 0 || n == 0)
        goto out;
    if ((rc = tomo_db_begin(db)) < 0) {
        rc = tomo_err_db_conn(err, db, rc, "storage write begin");
        goto out;
    }
    if ((rc = write_run(svc, db, caller, &b, err)) < 0) {
        tomo_db_rollback(db);
        goto out;
    }
    if ((rc = tomo_db_commit(db)) < 0) {
        rc = tomo_err_db_conn(err, db, rc, "storage write commit");
        goto out;
    }
    *out = write_acks(&b);
out:
    wbatch_free(&b);
    return rc;
}

/* ---- read ---- */

/* One term per requested id. A user sees public objects and its own
 * owner-readable ones; a system-owned object (nil owner) is never a user's,
 * so the same term covers the empty user_id case. The system sees all. */
static const char READ_TERM[] = "(collection = $%zu AND key = $%zu AND user_id = $%zu AND"
                                " (read = 2 OR (read = 1 AND user_id = $1)))";
static const char READ_TERM_SYSTEM[] = "(collection = $%zu AND key = $%zu AND user_id = $%zu)";

typedef struct rid {
    const char *collection, *key;
    char user_id[37];
} rid;

int tomo_svc_storage_read(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                          const tomo_storage_id *in, size_t n, json_t **out, tomo_err *err)
{
    (void)svc;
    rid *ids = NULL;
    tomo_dbval *params = NULL;
    char *sql = NULL;
    size_t sqllen = 0;
    FILE *f = NULL;
    tomo_dbres *r = NULL;
    char *emitted = NULL;
    int rc, system = tomo_caller_is_system(caller);
    *out = NULL;
    if ((rc = check_batch(err, n)) < 0 || n == 0)
        return rc;
    ids = tomo_xcalloc(n, sizeof(*ids));
    for (size_t i = 0; i < n; i++) {
        const char *uid = in[i].user_id ? in[i].user_id : "";
        ids[i].collection = in[i].collection ? in[i].collection : "";
        ids[i].key = in[i].key ? in[i].key : "";
        if ((rc = check_names(err, ids[i].collection, ids[i].key)) < 0)
            goto out;
        if (!*uid) {
            strcpy(ids[i].user_id, TOMO_SYSTEM_USER_ID);
        } else if (canon_uuid(uid, ids[i].user_id) < 0 ||
                   !strcmp(ids[i].user_id, TOMO_SYSTEM_USER_ID)) {
            /* Nakama refuses the nil UUID spelled out; "" means the system user */
            rc = tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, MSG_USER_ID);
            goto out;
        }
    }

    /* Users: $1 is the caller, then three parameters per id. */
    size_t first = system ? 1 : 2, np = first - 1 + 3 * n;
    params = tomo_xcalloc(np, sizeof(*params));
    if (!system)
        params[0] = TOMO_DBTEXT(caller->user_id);
    f = open_memstream(&sql, &sqllen);
    fputs("SELECT " OBJ_COLS " FROM storage WHERE ", f);
    for (size_t i = 0; i < n; i++) {
        size_t b = first + 3 * i;
        if (i)
            fputs(" OR ", f);
        fprintf(f, system ? READ_TERM_SYSTEM : READ_TERM, b, b + 1, b + 2);
        params[b - 1] = TOMO_DBTEXT(ids[i].collection);
        params[b] = TOMO_DBTEXT(ids[i].key);
        params[b + 1] = TOMO_DBTEXT(ids[i].user_id);
    }
    fclose(f);
    f = NULL;

    if ((rc = tomo_db_exec(db, sql, params, np, &r)) < 0) {
        rc = tomo_err_db_conn(err, db, rc, "storage read");
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
        *out = json_pack("{s:o}", "objects", list);
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
static const char SQL_DELETE_SYSTEM[] = "DELETE FROM storage WHERE collection = $1 AND key = $2"
                                        " AND user_id = $3";
static const char SQL_DELETE_IF_SYSTEM[] = "DELETE FROM storage WHERE collection = $1 AND"
                                           " key = $2 AND user_id = $3 AND version = $4";

/* Check a delete batch before any transaction: 0 with *ops (free it), or
 * INVALID_ARGUMENT. */
static int delete_prepare(const tomo_caller *caller, const tomo_storage_id *in, size_t n,
                          op **ops, tomo_err *err)
{
    int rc;
    *ops = NULL;
    if ((rc = check_batch(err, n)) < 0 || n == 0)
        return rc;
    *ops = tomo_xcalloc(n, sizeof(**ops));
    for (size_t i = 0; i < n; i++) {
        op *o = &(*ops)[i];
        o->idx = i;
        o->collection = in[i].collection ? in[i].collection : "";
        o->key = in[i].key ? in[i].key : "";
        o->version = in[i].version ? in[i].version : "";
        if ((rc = check_names(err, o->collection, o->key)) < 0 ||
            (rc = write_owner(err, caller, in[i].user_id, o->owner)) < 0)
            return rc;
    }
    return 0;
}

/* Delete a prepared batch inside the caller's transaction (the caller rolls
 * back on failure). */
static int delete_run(tomo_dbconn *db, int system, op *ops, size_t n, tomo_err *err)
{
    op **order = sorted_ops(ops, n);
    tomo_dbres *r = NULL;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const op *o = order[i];
        tomo_dbval p[4] = {TOMO_DBTEXT(o->collection), TOMO_DBTEXT(o->key),
                           {TOMO_DBV_TEXT, 0, o->owner}, TOMO_DBTEXT(o->version)};
        int cond = *o->version != '\0';
        const char *sql = system ? (cond ? SQL_DELETE_IF_SYSTEM : SQL_DELETE_SYSTEM)
                                 : (cond ? SQL_DELETE_IF : SQL_DELETE);
        tomo_dbres_free(r);
        r = NULL;
        if ((rc = tomo_db_exec(db, sql, p, cond ? 4 : 3, &r)) < 0) {
            rc = tomo_err_db_conn(err, db, rc, "storage delete");
            break;
        }
        /* Nakama: an unconditional system delete of nothing is a no-op. */
        if (tomo_dbres_changes(r) == 0 && !(system && !cond)) {
            rc = tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, MSG_REJECT_DELETE);
            break;
        }
    }
    tomo_dbres_free(r);
    free(order);
    return rc;
}

int tomo_svc_storage_delete(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                            const tomo_storage_id *in, size_t n, tomo_err *err)
{
    (void)svc;
    pthread_once(&metrics_once, metrics_init);
    op *ops = NULL;
    int rc = delete_prepare(caller, in, n, &ops, err);
    if (rc < 0 || n == 0)
        goto out;
    if ((rc = tomo_db_begin(db)) < 0) {
        rc = tomo_err_db_conn(err, db, rc, "storage delete begin");
        goto out;
    }
    if ((rc = delete_run(db, tomo_caller_is_system(caller), ops, n, err)) < 0) {
        tomo_db_rollback(db);
        goto out;
    }
    if ((rc = tomo_db_commit(db)) < 0) {
        rc = tomo_err_db_conn(err, db, rc, "storage delete commit");
        goto out;
    }
    tomo_metric_add(m_deletes, NULL, (double)n);
out:
    free(ops);
    return rc;
}

/* ---- multi update ---- */

int tomo_svc_multi_update(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                          const tomo_multi_update *m, json_t **acks, json_t **wallets,
                          tomo_err *err)
{
    pthread_once(&metrics_once, metrics_init);
    *acks = *wallets = NULL;
    if (!tomo_caller_is_system(caller))
        return tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED, "Multi updates are server-side only.");
    wbatch b;
    op *dels = NULL;
    json_t *results = json_array();
    int rc = write_prepare(caller, m->writes, m->nwrites, &b, err);
    if (rc < 0 || (rc = delete_prepare(caller, m->deletes, m->ndeletes, &dels, err)) < 0)
        goto out;
    if (!m->naccounts && !m->nwrites && !m->ndeletes && !m->nwallets)
        goto out;
    if ((rc = tomo_db_begin(db)) < 0) {
        rc = tomo_err_db_conn(err, db, rc, "multi update begin");
        goto out;
    }
    /* Nakama's order: accounts, storage writes, deletes, wallets. */
    for (size_t i = 0; i < m->naccounts && rc == 0; i++)
        rc = tomo_svc_account_update(svc, db, caller, m->accounts[i].user_id, m->accounts[i].update,
                                     err);
    if (rc == 0 && m->nwrites)
        rc = write_run(svc, db, caller, &b, err);
    if (rc == 0 && m->ndeletes)
        rc = delete_run(db, 1, dels, m->ndeletes, err);
    for (size_t i = 0; i < m->nwallets && rc == 0; i++) {
        json_t *upd = NULL, *prev = NULL;
        rc = tomo_svc_wallet_update_tx(svc, db, &m->wallets[i], m->update_ledger, &upd, &prev,
                                       err);
        if (rc == 0)
            json_array_append_new(results, json_pack("{s:s,s:o,s:o}", "user_id",
                                                     m->wallets[i].user_id, "updated", upd,
                                                     "previous", prev));
    }
    if (rc < 0) {
        tomo_db_rollback(db);
        goto out;
    }
    if ((rc = tomo_db_commit(db)) < 0) {
        rc = tomo_err_db_conn(err, db, rc, "multi update commit");
        goto out;
    }
    if (m->nwrites)
        *acks = write_acks(&b);
    if (m->ndeletes)
        tomo_metric_add(m_deletes, NULL, (double)m->ndeletes);
    *wallets = json_incref(results);
out:
    json_decref(results);
    wbatch_free(&b);
    free(dels);
    return rc;
}

/* ---- list ----
 * Keyset paging: each query continues strictly after the cursor's sort key,
 * with a row-value comparison that both backends turn into an index range
 * (EXPLAIN: storage_list_public_idx for PUBLIC and ALL, storage_list_user_idx
 * for OWN, USER and OWNER). One row more than the limit is fetched to learn
 * whether a next page exists. */

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
/* The system's listings: every read value. */
static const char SQL_LIST_ALL[] = "SELECT " OBJ_COLS " FROM storage WHERE collection = $1"
                                   " ORDER BY read, key, user_id LIMIT $2";
static const char SQL_LIST_ALL_AFTER[] =
    "SELECT " OBJ_COLS " FROM storage WHERE collection = $1"
    " AND (read, key, user_id) > ($3, $4, $5) ORDER BY read, key, user_id LIMIT $2";
static const char SQL_LIST_OWNER[] =
    "SELECT " OBJ_COLS " FROM storage WHERE collection = $1 AND user_id = $3"
    " ORDER BY read, key LIMIT $2";
static const char SQL_LIST_OWNER_AFTER[] = "SELECT " OBJ_COLS " FROM storage WHERE"
                                           " collection = $1 AND user_id = $3"
                                           " AND (read, key) > ($4, $5) ORDER BY read, key"
                                           " LIMIT $2";

int tomo_svc_storage_list(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                          const char *collection, const char *owner_in, int64_t limit,
                          const char *cursor, json_t **out, tomo_err *err)
{
    (void)svc;
    tomo_storage_cursor cur = {0};
    tomo_dbres *r = NULL;
    char owner[37] = "";
    int rc = 0, system = tomo_caller_is_system(caller);
    *out = NULL;
    if (!collection)
        collection = "";
    if (limit < 1 || limit > 100)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, MSG_LIMIT);
    if (owner_in && *owner_in && canon_uuid(owner_in, owner) < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, MSG_USER_ID);

    int mode;
    if (system)
        mode = !*owner ? TOMO_STORAGE_LIST_ALL : TOMO_STORAGE_LIST_OWNER;
    else
        mode = !*owner                          ? TOMO_STORAGE_LIST_PUBLIC
               : !strcmp(owner, caller->user_id) ? TOMO_STORAGE_LIST_OWN
                                                 : TOMO_STORAGE_LIST_USER;
    int after = cursor && *cursor;
    if (after && tomo_storage_cursor_decode(cursor, mode, collection, owner, &cur) < 0) {
        TOMO_LOGD(TOMO_SVC, "storage list malformed cursor user=%s",
                  system ? "system" : caller->user_id);
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, MSG_CURSOR);
    }
    static const char *const sql[5][2] = {
        {SQL_LIST_PUBLIC, SQL_LIST_PUBLIC_AFTER}, {SQL_LIST_OWN, SQL_LIST_OWN_AFTER},
        {SQL_LIST_USER, SQL_LIST_USER_AFTER},     {SQL_LIST_ALL, SQL_LIST_ALL_AFTER},
        {SQL_LIST_OWNER, SQL_LIST_OWNER_AFTER},
    };
    tomo_dbval p[6] = {TOMO_DBTEXT(collection), TOMO_DBINT(limit + 1)};
    size_t np = 2;
    switch (mode) {
    case TOMO_STORAGE_LIST_PUBLIC:
        if (after) {
            p[np++] = TOMO_DBTEXT(cur.key);
            p[np++] = TOMO_DBTEXT(cur.user_id);
        }
        break;
    case TOMO_STORAGE_LIST_ALL:
        if (after) {
            p[np++] = TOMO_DBINT(cur.read);
            p[np++] = TOMO_DBTEXT(cur.key);
            p[np++] = TOMO_DBTEXT(cur.user_id);
        }
        break;
    default:
        p[np++] = (tomo_dbval){TOMO_DBV_TEXT, 0, owner};
        if (after && (mode == TOMO_STORAGE_LIST_OWN || mode == TOMO_STORAGE_LIST_OWNER))
            p[np++] = TOMO_DBINT(cur.read);
        if (after)
            p[np++] = TOMO_DBTEXT(cur.key);
        break;
    }
    if ((rc = tomo_db_exec(db, sql[mode - 1][after], p, np, &r)) < 0) {
        rc = tomo_err_db_conn(err, db, rc, "storage list");
        goto out;
    }
    size_t rows = tomo_dbres_rows(r);
    size_t shown = rows > (size_t)limit ? (size_t)limit : rows;
    json_t *o = json_object();
    if (shown) {
        json_t *list = json_array();
        for (size_t i = 0; i < shown; i++)
            json_array_append_new(list, object_json(r, i));
        json_object_set_new(o, "objects", list);
    }
    if (rows > shown) {
        size_t last = shown - 1;
        char *next =
            tomo_storage_cursor_encode(mode, collection, owner, (int)tomo_dbres_int(r, last, 5),
                                       tomo_dbres_text(r, last, 1), tomo_dbres_text(r, last, 2));
        if (!next) {
            TOMO_LOGE(TOMO_SVC, "storage list cannot encode cursor user_id=%s",
                      tomo_dbres_text(r, last, 2));
            json_decref(o);
            rc = tomo_err_set(err, TOMO_GRPC_INTERNAL, "Error listing storage objects.");
            goto out;
        }
        json_object_set_new(o, "cursor", json_string(next));
        free(next);
    }
    *out = o;
out:
    tomo_dbres_free(r);
    tomo_storage_cursor_clear(&cur);
    return rc;
}

/* ---- the console's browser ---- */

int tomo_svc_storage_search(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                            const char *collection, const char *key, const char *user_id,
                            int64_t limit, const char *cursor, json_t **out, tomo_err *err)
{
    (void)svc;
    *out = NULL;
    if (!tomo_caller_is_system(caller))
        return tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED, "Only the system may search storage.");
    if (limit < 1 || limit > 1000)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid limit - must be 1-1000.");
    char owner[37] = "";
    if (user_id && *user_id && canon_uuid(user_id, owner) < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, MSG_USER_ID);
    /* cursor: base64url of the JSON array [collection, key, user_id] */
    json_t *cur = NULL;
    if (cursor && *cursor) {
        uint8_t *raw = NULL;
        size_t rl = 0;
        if (tomo_b64_decode(cursor, strlen(cursor), &raw, &rl) == 0)
            cur = json_loadb((const char *)raw, rl, 0, NULL);
        free(raw);
        if (!json_is_array(cur) || json_array_size(cur) != 3 ||
            !json_is_string(json_array_get(cur, 0)) || !json_is_string(json_array_get(cur, 1)) ||
            !json_is_string(json_array_get(cur, 2))) {
            json_decref(cur);
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, MSG_CURSOR);
        }
    }
    char where[512] = " WHERE 1 = 1";
    int off = (int)strlen(where);
    tomo_dbval p[8];
    size_t n = 0;
    if (collection && *collection) {
        p[n++] = TOMO_DBTEXT(collection);
        off += snprintf(where + off, sizeof(where) - (size_t)off, " AND collection = $%zu", n);
    }
    char *prefix = NULL;
    if (key && *key) {
        size_t kl = strlen(key);
        if (key[kl - 1] == '%') {
            /* a prefix: LIKE with the prefix's own wildcards escaped */
            prefix = tomo_xmalloc(kl * 2 + 2);
            size_t o = 0;
            for (size_t i = 0; i + 1 < kl; i++) {
                if (key[i] == '%' || key[i] == '_' || key[i] == '\\')
                    prefix[o++] = '\\';
                prefix[o++] = key[i];
            }
            prefix[o++] = '%';
            prefix[o] = '\0';
            p[n++] = TOMO_DBTEXT(prefix);
            off += snprintf(where + off, sizeof(where) - (size_t)off,
                            " AND key LIKE $%zu ESCAPE '\\'", n);
        } else {
            p[n++] = TOMO_DBTEXT(key);
            off += snprintf(where + off, sizeof(where) - (size_t)off, " AND key = $%zu", n);
        }
    }
    if (*owner) {
        p[n++] = (tomo_dbval){TOMO_DBV_TEXT, 0, owner};
        off += snprintf(where + off, sizeof(where) - (size_t)off, " AND user_id = $%zu", n);
    }
    size_t nfilter = n;
    char sql[1024];
    tomo_dbres *r = NULL, *c = NULL;
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM storage%s", where);
    int rc = tomo_db_exec(db, sql, p, nfilter, &c);
    if (cur) {
        for (size_t i = 0; i < 3; i++)
            p[n++] = TOMO_DBTEXT(json_string_value(json_array_get(cur, i)));
        off += snprintf(where + off, sizeof(where) - (size_t)off,
                        " AND (collection, key, user_id) > ($%zu, $%zu, $%zu)", n - 2, n - 1, n);
    }
    p[n++] = TOMO_DBINT(limit + 1);
    snprintf(sql, sizeof(sql),
             "SELECT " OBJ_COLS " FROM storage%s ORDER BY collection, key, user_id LIMIT $%zu",
             where, n);
    if (rc == 0)
        rc = tomo_db_exec(db, sql, p, n, &r);
    if (rc < 0) {
        rc = tomo_err_db_conn(err, db, rc, "storage search");
        goto out;
    }
    size_t rows = tomo_dbres_rows(r);
    size_t shown = rows > (size_t)limit ? (size_t)limit : rows;
    json_t *o = json_object(), *list = json_array();
    for (size_t i = 0; i < shown; i++)
        json_array_append_new(list, object_json(r, i));
    json_object_set_new(o, "objects", list);
    json_object_set_new(o, "total_count", json_integer(tomo_dbres_int(c, 0, 0)));
    char *next = NULL;
    if (rows > shown) {
        size_t last = shown - 1;
        json_t *k = json_pack("[sss]", tomo_dbres_text(r, last, 0), tomo_dbres_text(r, last, 1),
                              tomo_dbres_text(r, last, 2));
        char *txt = json_dumps(k, JSON_COMPACT);
        next = tomo_b64_encode(txt, strlen(txt), 1);
        free(txt);
        json_decref(k);
    }
    json_object_set_new(o, "next_cursor", json_string(next ? next : ""));
    free(next);
    *out = o;
out:
    tomo_dbres_free(r);
    tomo_dbres_free(c);
    free(prefix);
    json_decref(cur);
    return rc;
}

int tomo_svc_storage_collections(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                 json_t **out, tomo_err *err)
{
    (void)svc;
    *out = NULL;
    if (!tomo_caller_is_system(caller))
        return tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED, "Only the system may list collections.");
    tomo_dbres *r = NULL;
    int rc = tomo_db_exec(db, "SELECT DISTINCT collection FROM storage ORDER BY collection", NULL,
                          0, &r);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "storage collections");
    json_t *list = json_array();
    for (size_t i = 0; i < tomo_dbres_rows(r); i++)
        json_array_append_new(list, json_string(tomo_dbres_text(r, i, 0)));
    tomo_dbres_free(r);
    *out = json_pack("{s:o}", "collections", list);
    return 0;
}
