/* runtime/plugin_svc.c: the plugin host's json helpers (over jansson) and
 * services: thin adapters that decode the plugin's JSON text, call the same
 * svc functions the nk functions call (as the system caller), and hand the
 * canonical protojson result back as text; the 1.2 stream calls go through
 * runtime/streams.h as nk.stream_* do. Worker or match threads. */
#define _GNU_SOURCE
#include "plugin_int.h"

#include "../core/common.h"
#include "../svc/account.h"
#include "../svc/chat.h"
#include "../svc/friend.h"
#include "../svc/group.h"
#include "../svc/leaderboard.h"
#include "../svc/notification.h"
#include "../svc/storage.h"
#include "../svc/users.h"
#include "../svc/wallet.h"
#include "streams.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPS 1000

/* ---- json helpers: tomo_json is a json_t ---- */

#define J(v) ((json_t *)(v))
#define T(v) ((tomo_json *)(v))

static tomo_json *j_parse(const char *text, size_t len)
{
    return text ? T(json_loadb(text, len, JSON_DECODE_ANY, NULL)) : NULL;
}
static char *j_dump(const tomo_json *v)
{
    return v ? json_dumps(J(v), JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}
static void j_free(tomo_json *v) { json_decref(J(v)); }
static int j_type(const tomo_json *v)
{
    if (!v)
        return TOMO_JSON_INVALID;
    switch (json_typeof(J(v))) {
    case JSON_OBJECT: return TOMO_JSON_OBJECT;
    case JSON_ARRAY: return TOMO_JSON_ARRAY;
    case JSON_STRING: return TOMO_JSON_STRING;
    case JSON_INTEGER: return TOMO_JSON_INTEGER;
    case JSON_REAL: return TOMO_JSON_REAL;
    case JSON_TRUE:
    case JSON_FALSE: return TOMO_JSON_BOOL;
    case JSON_NULL: return TOMO_JSON_NULL;
    }
    return TOMO_JSON_INVALID;
}
static tomo_json *j_get(const tomo_json *o, const char *k)
{
    return o && k ? T(json_object_get(J(o), k)) : NULL;
}
static tomo_json *j_at(const tomo_json *a, size_t i)
{
    return a ? T(json_array_get(J(a), i)) : NULL;
}
static size_t j_size(const tomo_json *v)
{
    if (json_is_object(J(v)))
        return json_object_size(J(v));
    if (json_is_array(J(v)))
        return json_array_size(J(v));
    return json_is_string(J(v)) ? json_string_length(J(v)) : 0;
}
static const char *j_string(const tomo_json *v) { return json_string_value(J(v)); }
static int64_t j_integer(const tomo_json *v) { return json_integer_value(J(v)); }
static double j_number(const tomo_json *v) { return json_number_value(J(v)); }
static int j_bool(const tomo_json *v) { return json_is_true(J(v)); }
static tomo_json *j_object(void) { return T(json_object()); }
static tomo_json *j_array(void) { return T(json_array()); }
static tomo_json *j_new_string(const char *s) { return s ? T(json_string(s)) : NULL; }
static tomo_json *j_new_integer(int64_t v) { return T(json_integer(v)); }
static tomo_json *j_new_real(double v) { return T(json_real(v)); }
static tomo_json *j_new_bool(int v) { return T(json_boolean(v)); }
static tomo_json *j_null(void) { return T(json_null()); }
static int j_set(tomo_json *o, const char *k, tomo_json *v)
{
    if (!o || !k || !v) {
        json_decref(J(v));
        return TOMO_CODE_INVALID_ARGUMENT;
    }
    return json_object_set_new(J(o), k, J(v)) ? TOMO_CODE_INVALID_ARGUMENT : 0;
}
static int j_append(tomo_json *a, tomo_json *v)
{
    if (!a || !v) {
        json_decref(J(v));
        return TOMO_CODE_INVALID_ARGUMENT;
    }
    return json_array_append_new(J(a), J(v)) ? TOMO_CODE_INVALID_ARGUMENT : 0;
}

/* ---- services ---- */

int tomo_plugin_fail(char **error, int code, const char *fmt, ...)
{
    if (error) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(error, fmt, ap) < 0)
            *error = NULL;
        va_end(ap);
    }
    return code;
}

static int fail_err(char **error, const tomo_err *err)
{
    int code = err->code >= 1 && err->code <= 16 ? err->code : TOMO_CODE_INTERNAL;
    return tomo_plugin_fail(error, code, "%s", err->msg);
}

static int acquire(const tomo_ctx *ctx, tomo_svc **svc, tomo_dbconn **c, char **error)
{
    *c = NULL;
    *svc = ctx ? ctx->rt->deps.svc : NULL;
    if (!*svc || !(*svc)->db)
        return tomo_plugin_fail(error, TOMO_CODE_UNAVAILABLE, "no database");
    if (tomo_db_acquire((*svc)->db, c) < 0)
        return tomo_plugin_fail(error, TOMO_CODE_UNAVAILABLE, "database unavailable");
    return 0;
}

/* *out = v's text (v released). */
static int give(json_t *v, char **out)
{
    if (out)
        *out = json_dumps(v ? v : json_object(), JSON_COMPACT);
    json_decref(v);
    return 0;
}

/* give, with key an empty array when the service returned nothing. */
static int give_list(json_t *v, const char *key, char **out)
{
    if (!v)
        v = json_object();
    if (!json_object_get(v, key))
        json_object_set_new(v, key, json_array());
    return give(v, out);
}

/* A JSON array argument of objects (at most MAX_OPS). */
static int parse_list(const char *text, const char *what, json_t **out, char **error)
{
    *out = text ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_array(*out)) {
        json_decref(*out);
        *out = NULL;
        return tomo_plugin_fail(error, TOMO_CODE_INVALID_ARGUMENT, "%s: expects a JSON array",
                                what);
    }
    if (json_array_size(*out) > MAX_OPS) {
        json_decref(*out);
        *out = NULL;
        return tomo_plugin_fail(error, TOMO_CODE_INVALID_ARGUMENT, "%s: too many objects", what);
    }
    size_t i;
    json_t *o;
    json_array_foreach (*out, i, o) {
        if (!json_is_object(o)) {
            json_decref(*out);
            *out = NULL;
            return tomo_plugin_fail(error, TOMO_CODE_INVALID_ARGUMENT,
                                    "%s: expects an array of objects", what);
        }
    }
    return 0;
}

static int read_ids(const char *text, const char *what, json_t **arr, tomo_storage_id **ids,
                    char **error)
{
    int rc = parse_list(text, what, arr, error);
    if (rc)
        return rc;
    size_t n = json_array_size(*arr);
    *ids = tomo_xcalloc(n ? n : 1, sizeof(**ids));
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(*arr, i);
        (*ids)[i].collection = tomo_json_str(o, "collection");
        (*ids)[i].key = tomo_json_str(o, "key");
        (*ids)[i].user_id = tomo_json_str(o, "user_id");
        (*ids)[i].version = tomo_json_str(o, "version");
        if (!(*ids)[i].collection || !*(*ids)[i].collection || !(*ids)[i].key || !*(*ids)[i].key) {
            free(*ids);
            *ids = NULL;
            json_decref(*arr);
            *arr = NULL;
            return tomo_plugin_fail(error, TOMO_CODE_INVALID_ARGUMENT,
                                    "%s: collection and key must be non-empty strings", what);
        }
    }
    return 0;
}

static int s_storage_read(const tomo_ctx *ctx, const char *text, char **out, char **error)
{
    json_t *arr;
    tomo_storage_id *ids;
    int rc = read_ids(text, "storage_read", &arr, &ids, error);
    if (rc)
        return rc;
    tomo_svc *svc;
    tomo_dbconn *c;
    json_t *res = NULL;
    if ((rc = acquire(ctx, &svc, &c, error)) == 0 && json_array_size(arr)) {
        tomo_err err = {0};
        if (tomo_svc_storage_read(svc, c, &tomo_caller_system, ids, json_array_size(arr), &res,
                                  &err) < 0)
            rc = fail_err(error, &err);
    }
    tomo_db_release(c);
    free(ids);
    json_decref(arr);
    return rc ? rc : give_list(res, "objects", out);
}

static int s_storage_write(const tomo_ctx *ctx, const char *text, char **out, char **error)
{
    json_t *arr;
    int rc = parse_list(text, "storage_write", &arr, error);
    if (rc)
        return rc;
    size_t n = json_array_size(arr);
    tomo_storage_write_op *ops = tomo_xcalloc(n ? n : 1, sizeof(*ops));
    char **vals = tomo_xcalloc(n ? n : 1, sizeof(*vals));
    for (size_t i = 0; i < n && !rc; i++) {
        json_t *o = json_array_get(arr, i), *v = json_object_get(o, "value");
        ops[i].collection = tomo_json_str(o, "collection");
        ops[i].key = tomo_json_str(o, "key");
        ops[i].user_id = tomo_json_str(o, "user_id");
        ops[i].version = tomo_json_str(o, "version");
        json_t *pr = json_object_get(o, "permission_read"),
               *pw = json_object_get(o, "permission_write");
        ops[i].permission_read = json_is_integer(pr) ? json_integer_value(pr) : 1;
        ops[i].permission_write = json_is_integer(pw) ? json_integer_value(pw) : 1;
        if (json_is_object(v))
            vals[i] = json_dumps(v, JSON_COMPACT);
        else if (json_is_string(v))
            vals[i] = tomo_xstrdup(json_string_value(v));
        ops[i].value = vals[i];
        if (!ops[i].collection || !*ops[i].collection || !ops[i].key || !*ops[i].key ||
            !ops[i].value)
            rc = tomo_plugin_fail(error, TOMO_CODE_INVALID_ARGUMENT,
                                  "storage_write: collection, key and value are required");
    }
    tomo_svc *svc = NULL;
    tomo_dbconn *c = NULL;
    json_t *res = NULL;
    if (!rc && (rc = acquire(ctx, &svc, &c, error)) == 0 && n) {
        tomo_err err = {0};
        if (tomo_svc_storage_write(svc, c, &tomo_caller_system, ops, n, &res, &err) < 0)
            rc = fail_err(error, &err);
    }
    tomo_db_release(c);
    for (size_t i = 0; i < n; i++)
        free(vals[i]);
    free(vals);
    free(ops);
    json_decref(arr);
    return rc ? rc : give_list(res, "acks", out);
}

static int s_storage_delete(const tomo_ctx *ctx, const char *text, char **error)
{
    json_t *arr;
    tomo_storage_id *ids;
    int rc = read_ids(text, "storage_delete", &arr, &ids, error);
    if (rc)
        return rc;
    tomo_svc *svc;
    tomo_dbconn *c;
    if ((rc = acquire(ctx, &svc, &c, error)) == 0 && json_array_size(arr)) {
        tomo_err err = {0};
        if (tomo_svc_storage_delete(svc, c, &tomo_caller_system, ids, json_array_size(arr), &err) <
            0)
            rc = fail_err(error, &err);
    }
    tomo_db_release(c);
    free(ids);
    json_decref(arr);
    return rc;
}

static int s_storage_list(const tomo_ctx *ctx, const char *collection, const char *user_id,
                          int limit, const char *cursor, char **out, char **error)
{
    tomo_svc *svc;
    tomo_dbconn *c;
    int rc = acquire(ctx, &svc, &c, error);
    json_t *res = NULL;
    if (rc == 0) {
        tomo_err err = {0};
        if (tomo_svc_storage_list(svc, c, &tomo_caller_system, collection, user_id, limit, cursor,
                                  &res, &err) < 0)
            rc = fail_err(error, &err);
    }
    tomo_db_release(c);
    return rc ? rc : give(res, out);
}

static int s_account_get(const tomo_ctx *ctx, const char *user_id, char **out, char **error)
{
    tomo_svc *svc;
    tomo_dbconn *c;
    int rc = acquire(ctx, &svc, &c, error);
    json_t *res = NULL;
    if (rc == 0) {
        tomo_err err = {0};
        if (tomo_svc_account_get(svc, c, &tomo_caller_system, user_id ? user_id : "", &res, &err) <
            0)
            rc = fail_err(error, &err);
    }
    tomo_db_release(c);
    return rc ? rc : give(res, out);
}

/* A JSON array of strings (NULL text = none): *v gets an array of the
 * borrowed strings (json *arr keeps them alive). */
static int str_list(const char *text, const char *what, json_t **arr, const char ***v, size_t *n,
                    char **error)
{
    *arr = NULL;
    *v = NULL;
    *n = 0;
    if (!text)
        return 0;
    *arr = json_loads(text, 0, NULL);
    if (!json_is_array(*arr))
        return tomo_plugin_fail(error, TOMO_CODE_INVALID_ARGUMENT,
                                "%s: expects a JSON array of strings", what);
    *n = json_array_size(*arr);
    *v = tomo_xcalloc(*n ? *n : 1, sizeof(**v));
    for (size_t i = 0; i < *n; i++)
        if (!((*v)[i] = json_string_value(json_array_get(*arr, i))))
            return tomo_plugin_fail(error, TOMO_CODE_INVALID_ARGUMENT,
                                    "%s: expects a JSON array of strings", what);
    return 0;
}

/* Ids and usernames given as two JSON arrays of strings (either text may
 * be NULL); free with id_lists_free whatever the result. */
typedef struct id_lists {
    json_t *ja, *na;
    const char **ids, **names;
    size_t ni, nn;
} id_lists;

static int id_lists_parse(id_lists *l, const char *ids_text, const char *ids_what,
                          const char *names_text, const char *names_what, char **error)
{
    memset(l, 0, sizeof(*l));
    int rc = str_list(ids_text, ids_what, &l->ja, &l->ids, &l->ni, error);
    if (!rc)
        rc = str_list(names_text, names_what, &l->na, &l->names, &l->nn, error);
    return rc;
}

static void id_lists_free(id_lists *l)
{
    free(l->ids);
    free(l->names);
    json_decref(l->ja);
    json_decref(l->na);
}

static int s_users_get(const tomo_ctx *ctx, const char *ids_text, const char *names_text,
                       char **out, char **error)
{
    id_lists l;
    int rc = id_lists_parse(&l, ids_text, "users_get ids", names_text, "users_get usernames",
                            error);
    tomo_svc *svc = NULL;
    tomo_dbconn *c = NULL;
    json_t *res = NULL;
    if (!rc && (rc = acquire(ctx, &svc, &c, error)) == 0) {
        tomo_err err = {0};
        if (tomo_svc_users_get(svc, c, &tomo_caller_system, l.ids, l.ni, l.names, l.nn, NULL, 0,
                               &res, &err) < 0)
            rc = fail_err(error, &err);
    }
    tomo_db_release(c);
    id_lists_free(&l);
    return rc ? rc : give_list(res, "users", out);
}

static int s_notification_send(const tomo_ctx *ctx, const char *user_id, const char *subject,
                               const char *content, int code, const char *sender_id, int persistent,
                               char **error)
{
    if (code <= 0)
        return tomo_plugin_fail(error, TOMO_CODE_INVALID_ARGUMENT,
                                "expects code to be above 0 (codes <= 0 are reserved)");
    tomo_svc *svc;
    tomo_dbconn *c;
    int rc = acquire(ctx, &svc, &c, error);
    if (rc == 0) {
        int r = tomo_notify_send(svc, c, user_id, subject, content ? content : "{}", code,
                                 sender_id && *sender_id ? sender_id : NULL, persistent, NULL);
        if (r == TOMO_EINVAL)
            rc = tomo_plugin_fail(error, TOMO_CODE_INVALID_ARGUMENT,
                                  "failed to send notification: invalid notification");
        else if (r < 0)
            rc = tomo_plugin_fail(error, TOMO_CODE_INTERNAL, "failed to send notification: %s",
                                  tomo_db_errmsg(c));
    }
    tomo_db_release(c);
    return rc;
}

static int s_wallet_update(const tomo_ctx *ctx, const char *user_id, const char *changeset,
                           const char *metadata, int update_ledger, char **out, char **error)
{
    json_t *cs = changeset ? json_loads(changeset, 0, NULL) : NULL;
    if (!json_is_object(cs)) {
        json_decref(cs);
        return tomo_plugin_fail(error, TOMO_CODE_INVALID_ARGUMENT,
                                "wallet_update: expects a changeset object");
    }
    tomo_svc *svc;
    tomo_dbconn *c;
    int rc = acquire(ctx, &svc, &c, error);
    json_t *upd = NULL, *prev = NULL;
    if (rc == 0) {
        tomo_err err = {0};
        if (tomo_svc_wallet_update(svc, c, &tomo_caller_system, user_id ? user_id : "", cs,
                                   metadata, update_ledger, &upd, &prev, &err) < 0)
            rc = fail_err(error, &err);
    }
    tomo_db_release(c);
    json_decref(cs);
    if (rc) {
        json_decref(upd);
        json_decref(prev);
        return rc;
    }
    json_t *res = json_object();
    json_object_set_new(res, "updated", upd ? upd : json_object());
    json_object_set_new(res, "previous", prev ? prev : json_object());
    return give(res, out);
}

static int s_lb_write(const tomo_ctx *ctx, const char *id, const char *owner_id,
                      const char *username, int64_t score, int64_t subscore, const char *metadata,
                      const char *op, char **out, char **error)
{
    static const char *const ops[] = {"", "best", "set", "incr", "decr"};
    int ov = -1;
    for (int i = 0; i < 5; i++)
        if (!strcmp(op ? op : "", ops[i]))
            ov = i;
    if (ov < 0)
        return tomo_plugin_fail(error, TOMO_CODE_INVALID_ARGUMENT,
                                "expects operator to be 'best', 'set', 'decr' or 'incr'");
    if (!id || !*id || !owner_id || !*owner_id)
        return tomo_plugin_fail(error, TOMO_CODE_INVALID_ARGUMENT,
                                "expects a leaderboard id and an owner id");
    tomo_lb_write w = {.owner_id = owner_id,
                       .username = username,
                       .score = score,
                       .subscore = subscore,
                       .metadata = metadata,
                       .override = ov};
    tomo_svc *svc;
    tomo_dbconn *c;
    int rc = acquire(ctx, &svc, &c, error);
    tomo_lb_record r;
    memset(&r, 0, sizeof(r));
    json_t *res = NULL;
    if (rc == 0) {
        tomo_err err = {0};
        if (tomo_svc_leaderboard_record_write(svc, c, &tomo_caller_system, id, &w, &r, &err) < 0)
            rc = fail_err(error, &err);
        else
            res = tomo_lb_record_json(&r);
    }
    tomo_db_release(c);
    tomo_lb_record_clear(&r);
    return rc ? rc : give(res, out);
}

/* ---- ABI 1.2: streams (runtime/streams.h, as nk.stream_*) ---- */

/* A stream call of op on the stream text; 0 and *out, or an error. */
static int stream_call(const tomo_ctx *ctx, int op, const char *stream, tomo_stream_call **out,
                       char **error)
{
    *out = NULL;
    tomo_stream_call *c = tomo_stream_call_new(ctx ? ctx->rt : NULL, op);
    if (!c)
        return tomo_plugin_fail(error, TOMO_CODE_UNAVAILABLE,
                                "streams need the realtime layer (not available here)");
    json_t *st = stream ? json_loads(stream, 0, NULL) : NULL;
    const char *why = tomo_stream_call_stream_json(c, st);
    json_decref(st);
    if (why) {
        tomo_stream_call_free(c);
        return tomo_plugin_fail(error, TOMO_CODE_INVALID_ARGUMENT, "%s", why);
    }
    *out = c;
    return 0;
}

/* Run c; 0, or an error (c is released either way unless keep is set and
 * the call ran without an error). */
static int stream_run(const tomo_ctx *ctx, tomo_stream_call *c, int keep, char **error)
{
    if (!tomo_stream_call_run(ctx->rt, c)) /* c is the loop's now */
        return tomo_plugin_fail(error, TOMO_CODE_DEADLINE_EXCEEDED, "realtime call timed out");
    if (c->rc < 0 && c->msg[0]) {
        int code = c->rc == TOMO_ENOTFOUND ? TOMO_CODE_NOT_FOUND : TOMO_CODE_INTERNAL;
        tomo_plugin_fail(error, code, "%s", c->msg);
        tomo_stream_call_free(c);
        return code;
    }
    if (!keep)
        tomo_stream_call_free(c);
    return 0;
}

/* stream_call for one session's presence (join, leave). */
static int presence_call(const tomo_ctx *ctx, int op, const char *user_id, const char *session_id,
                         const char *stream, tomo_stream_call **out, char **error)
{
    int rc = stream_call(ctx, op, stream, out, error);
    if (rc)
        return rc;
    const char *why = tomo_stream_call_ids(*out, user_id, session_id);
    if (why) {
        tomo_stream_call_free(*out);
        *out = NULL;
        return tomo_plugin_fail(error, TOMO_CODE_INVALID_ARGUMENT, "%s", why);
    }
    return 0;
}

static int s_stream_user_join(const tomo_ctx *ctx, const char *user_id, const char *session_id,
                              const char *stream, int hidden, int persistence,
                              const char *status, int *joined, char **error)
{
    tomo_stream_call *c;
    int rc = presence_call(ctx, TOMO_SC_JOIN, user_id, session_id, stream, &c, error);
    if (rc)
        return rc;
    c->hidden = hidden;
    c->persistence = persistence;
    c->status = tomo_xstrdup(status ? status : "");
    if ((rc = stream_run(ctx, c, 1, error)))
        return rc;
    if (joined)
        *joined = c->rc == 1;
    tomo_stream_call_free(c);
    return 0;
}

static int s_stream_user_leave(const tomo_ctx *ctx, const char *user_id, const char *session_id,
                               const char *stream, char **error)
{
    tomo_stream_call *c;
    int rc = presence_call(ctx, TOMO_SC_LEAVE, user_id, session_id, stream, &c, error);
    return rc ? rc : stream_run(ctx, c, 0, error);
}

static int s_stream_user_list(const tomo_ctx *ctx, const char *stream, int include_hidden,
                              int include_not_hidden, char **out, char **error)
{
    tomo_stream_call *c;
    int rc = stream_call(ctx, TOMO_SC_LIST, stream, &c, error);
    if (rc)
        return rc;
    c->include_hidden = include_hidden;
    c->include_visible = include_not_hidden;
    if ((rc = stream_run(ctx, c, 1, error)))
        return rc;
    json_t *list = c->out ? json_incref(c->out) : json_array();
    tomo_stream_call_free(c);
    return give(list, out);
}

static int s_stream_count(const tomo_ctx *ctx, const char *stream, int64_t *count, char **error)
{
    tomo_stream_call *c;
    int rc = stream_call(ctx, TOMO_SC_COUNT, stream, &c, error);
    if (rc)
        return rc;
    if ((rc = stream_run(ctx, c, 1, error)))
        return rc;
    if (count)
        *count = c->count;
    tomo_stream_call_free(c);
    return 0;
}

static int s_stream_send(const tomo_ctx *ctx, const char *stream, const char *data, size_t len,
                         const char *session_ids, int reliable, char **error)
{
    json_t *ids = NULL;
    const char **v = NULL;
    size_t n = 0;
    int rc = str_list(session_ids, "stream_send session_ids", &ids, &v, &n, error);
    tomo_stream_call *c = NULL;
    if (!rc)
        rc = stream_call(ctx, TOMO_SC_SEND, stream, &c, error);
    if (!rc) {
        c->data = tomo_xmalloc(len + 1);
        if (len)
            memcpy(c->data, data, len);
        c->data[len] = '\0';
        c->data_len = len;
        c->reliable = reliable;
        if (session_ids) {
            c->targets = tomo_xcalloc(n ? n : 1, sizeof(char *));
            for (size_t i = 0; i < n; i++)
                c->targets[c->ntargets++] = tomo_xstrdup(v[i]);
        }
    }
    free(v);
    json_decref(ids);
    return rc ? rc : stream_run(ctx, c, 0, error);
}

static int s_stream_close(const tomo_ctx *ctx, const char *stream, char **error)
{
    tomo_stream_call *c;
    int rc = stream_call(ctx, TOMO_SC_CLOSE, stream, &c, error);
    return rc ? rc : stream_run(ctx, c, 0, error);
}

/* ---- ABI 1.2: friends and groups (svc/friend.h, svc/group.h) ---- */

/* The svc lists of one id's edges (friends, a group's users, a user's
 * groups) share a signature. */
typedef int (*edge_list_fn)(tomo_svc *, tomo_dbconn *, const tomo_caller *, const char *, int,
                            int, const char *, json_t **, tomo_err *);

static int edge_list(edge_list_fn fn, const char *key, const tomo_ctx *ctx, const char *id,
                     int limit, int state, const char *cursor, char **out, char **error)
{
    tomo_svc *svc;
    tomo_dbconn *c;
    int rc = acquire(ctx, &svc, &c, error);
    json_t *res = NULL;
    if (rc == 0) {
        tomo_err err = {0};
        if (fn(svc, c, &tomo_caller_system, id ? id : "", limit, state,
               cursor && *cursor ? cursor : NULL, &res, &err) < 0)
            rc = fail_err(error, &err);
    }
    tomo_db_release(c);
    return rc ? rc : give_list(res, key, out);
}

static int s_friends_list(const tomo_ctx *ctx, const char *user_id, int limit, int state,
                          const char *cursor, char **out, char **error)
{
    return edge_list(tomo_svc_friend_list, "friends", ctx, user_id, limit, state, cursor, out,
                     error);
}

typedef int (*friend_op)(tomo_svc *, tomo_dbconn *, const tomo_caller *, const char *,
                         const char *, const tomo_svc_friend_targets *, tomo_err *);

static int friends_change(friend_op op, const tomo_ctx *ctx, const char *user_id,
                          const char *username, const char *ids_text, const char *names_text,
                          char **error)
{
    id_lists l;
    int rc = id_lists_parse(&l, ids_text, "friend ids", names_text, "friend usernames", error);
    tomo_svc *svc = NULL;
    tomo_dbconn *c = NULL;
    if (!rc && (rc = acquire(ctx, &svc, &c, error)) == 0) {
        tomo_svc_friend_targets t = {l.ids, l.ni, l.names, l.nn};
        tomo_err err = {0};
        if (op(svc, c, &tomo_caller_system, user_id ? user_id : "", username, &t, &err) < 0)
            rc = fail_err(error, &err);
    }
    tomo_db_release(c);
    id_lists_free(&l);
    return rc;
}

static int s_friends_add(const tomo_ctx *ctx, const char *user_id, const char *username,
                         const char *ids, const char *usernames, char **error)
{
    return friends_change(tomo_svc_friend_add, ctx, user_id, username, ids, usernames, error);
}

static int s_friends_delete(const tomo_ctx *ctx, const char *user_id, const char *username,
                            const char *ids, const char *usernames, char **error)
{
    return friends_change(tomo_svc_friend_delete, ctx, user_id, username, ids, usernames, error);
}

static int s_friends_block(const tomo_ctx *ctx, const char *user_id, const char *username,
                           const char *ids, const char *usernames, char **error)
{
    return friends_change(tomo_svc_friend_block, ctx, user_id, username, ids, usernames, error);
}

static int s_group_create(const tomo_ctx *ctx, const char *creator_id, const char *group,
                          char **out, char **error)
{
    json_t *g = group ? json_loads(group, 0, NULL) : NULL;
    json_t *md = json_object_get(g, "metadata");
    json_t *mc = json_object_get(g, "max_count");
    if (!json_is_object(g) || (md && !json_is_object(md)) || (mc && !json_is_integer(mc))) {
        json_decref(g);
        return tomo_plugin_fail(error, TOMO_CODE_INVALID_ARGUMENT,
                                "group_create: expects a group object (metadata an object, "
                                "max_count an integer)");
    }
    char *mdtext = md ? json_dumps(md, JSON_COMPACT) : NULL;
    tomo_svc_group_new in = {.name = tomo_json_str(g, "name"),
                             .description = tomo_json_str(g, "description"),
                             .lang_tag = tomo_json_str(g, "lang_tag"),
                             .avatar_url = tomo_json_str(g, "avatar_url"),
                             .metadata = mdtext,
                             .open = json_is_true(json_object_get(g, "open")),
                             .max_count = mc ? (int)json_integer_value(mc) : 0};
    tomo_svc *svc;
    tomo_dbconn *c;
    int rc = acquire(ctx, &svc, &c, error);
    json_t *res = NULL;
    if (rc == 0) {
        tomo_err err = {0};
        if (tomo_svc_group_create(svc, c, &tomo_caller_system, creator_id, &in, &res, &err) < 0)
            rc = fail_err(error, &err);
    }
    tomo_db_release(c);
    free(mdtext);
    json_decref(g);
    return rc ? rc : give(res, out);
}

static int s_group_delete(const tomo_ctx *ctx, const char *group_id, char **error)
{
    tomo_svc *svc;
    tomo_dbconn *c;
    int rc = acquire(ctx, &svc, &c, error);
    if (rc == 0) {
        tomo_err err = {0};
        if (tomo_svc_group_delete(svc, c, &tomo_caller_system, group_id ? group_id : "", &err) <
            0)
            rc = fail_err(error, &err);
    }
    tomo_db_release(c);
    return rc;
}

static int s_group_users_change(const tomo_ctx *ctx, const char *group_id, const char *op,
                                const char *user_ids, char **error)
{
    static const char *const ops[] = {"add", "kick", "ban", "promote", "demote"};
    static const int codes[] = {TOMO_GROUP_OP_ADD, TOMO_GROUP_OP_KICK, TOMO_GROUP_OP_BAN,
                                TOMO_GROUP_OP_PROMOTE, TOMO_GROUP_OP_DEMOTE};
    int ov = -1;
    for (int i = 0; i < 5; i++)
        if (op && !strcmp(op, ops[i]))
            ov = codes[i];
    if (ov < 0)
        return tomo_plugin_fail(error, TOMO_CODE_INVALID_ARGUMENT,
                                "group_users_change: op must be add, kick, ban, promote or "
                                "demote");
    json_t *ja = NULL;
    const char **ids = NULL;
    size_t n = 0;
    int rc = str_list(user_ids ? user_ids : "[]", "group user ids", &ja, &ids, &n, error);
    tomo_svc *svc = NULL;
    tomo_dbconn *c = NULL;
    if (!rc && n && (rc = acquire(ctx, &svc, &c, error)) == 0) {
        tomo_err err = {0};
        if (tomo_svc_group_users_change(svc, c, &tomo_caller_system, ov, group_id ? group_id : "",
                                        ids, n, &err) < 0)
            rc = fail_err(error, &err);
    }
    tomo_db_release(c);
    free(ids);
    json_decref(ja);
    return rc;
}

static int s_group_users_list(const tomo_ctx *ctx, const char *group_id, int limit, int state,
                              const char *cursor, char **out, char **error)
{
    return edge_list(tomo_svc_group_users_list, "group_users", ctx, group_id, limit, state,
                     cursor, out, error);
}

static int s_user_groups_list(const tomo_ctx *ctx, const char *user_id, int limit, int state,
                              const char *cursor, char **out, char **error)
{
    return edge_list(tomo_svc_group_user_groups, "user_groups", ctx, user_id, limit, state,
                     cursor, out, error);
}

static int s_groups_get(const tomo_ctx *ctx, const char *ids_text, char **out, char **error)
{
    json_t *ja = NULL;
    const char **ids = NULL;
    size_t n = 0;
    int rc = str_list(ids_text ? ids_text : "[]", "groups_get ids", &ja, &ids, &n, error);
    tomo_svc *svc = NULL;
    tomo_dbconn *c = NULL;
    json_t *arr = NULL;
    if (!rc && (rc = acquire(ctx, &svc, &c, error)) == 0) {
        tomo_err err = {0};
        if (tomo_svc_group_get(c, ids, n, &arr, &err) < 0)
            rc = fail_err(error, &err);
    }
    tomo_db_release(c);
    free(ids);
    json_decref(ja);
    if (rc)
        return rc;
    json_t *res = json_object();
    json_object_set_new(res, "groups", arr ? arr : json_array());
    return give(res, out);
}

static int s_channel_message_send(const tomo_ctx *ctx, const char *channel_id,
                                  const char *content, const char *sender_id,
                                  const char *username, int persist, char **out, char **error)
{
    tomo_svc *svc;
    tomo_dbconn *c;
    int rc = acquire(ctx, &svc, &c, error);
    json_t *ack = NULL;
    if (rc == 0) {
        tomo_err err = {0};
        if (tomo_svc_chat_write(svc, c, TOMO_CHAT_CODE_CHAT, channel_id, NULL, content,
                                sender_id, username, persist, &ack, &err) < 0)
            rc = fail_err(error, &err);
    }
    tomo_db_release(c);
    return rc ? rc : give(ack, out);
}

void tomo_plugin_host_fill_svc(tomo_host *h)
{
    h->json_parse = j_parse;
    h->json_dump = j_dump;
    h->json_free = j_free;
    h->json_type = j_type;
    h->json_get = j_get;
    h->json_at = j_at;
    h->json_size = j_size;
    h->json_string = j_string;
    h->json_integer = j_integer;
    h->json_number = j_number;
    h->json_bool = j_bool;
    h->json_object = j_object;
    h->json_array = j_array;
    h->json_new_string = j_new_string;
    h->json_new_integer = j_new_integer;
    h->json_new_real = j_new_real;
    h->json_new_bool = j_new_bool;
    h->json_null = j_null;
    h->json_set = j_set;
    h->json_append = j_append;
    h->storage_read = s_storage_read;
    h->storage_write = s_storage_write;
    h->storage_delete = s_storage_delete;
    h->storage_list = s_storage_list;
    h->account_get = s_account_get;
    h->users_get = s_users_get;
    h->notification_send = s_notification_send;
    h->wallet_update = s_wallet_update;
    h->leaderboard_record_write = s_lb_write;
    /* 1.2 */
    h->stream_user_join = s_stream_user_join;
    h->stream_user_leave = s_stream_user_leave;
    h->stream_user_list = s_stream_user_list;
    h->stream_count = s_stream_count;
    h->stream_send = s_stream_send;
    h->stream_close = s_stream_close;
    h->friends_list = s_friends_list;
    h->friends_add = s_friends_add;
    h->friends_delete = s_friends_delete;
    h->friends_block = s_friends_block;
    h->group_create = s_group_create;
    h->group_delete = s_group_delete;
    h->group_users_change = s_group_users_change;
    h->group_users_list = s_group_users_list;
    h->user_groups_list = s_user_groups_list;
    h->groups_get = s_groups_get;
    h->channel_message_send = s_channel_message_send;
}
