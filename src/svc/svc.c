/* svc/svc.c: the service layer's error value and callers (see svc.h). */
#define _GNU_SOURCE
#include "svc.h"

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/jsonw.h"
#include "../core/log.h"

#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

const tomo_caller tomo_caller_system = {TOMO_CALLER_SYSTEM, "", ""};

tomo_caller tomo_caller_user(const char *user_id, const char *username)
{
    tomo_caller c;
    memset(&c, 0, sizeof(c));
    c.kind = TOMO_CALLER_USER;
    snprintf(c.user_id, sizeof(c.user_id), "%s", user_id ? user_id : "");
    snprintf(c.username, sizeof(c.username), "%s", username ? username : "");
    return c;
}

int tomo_err_from_grpc(int grpc_code)
{
    switch (grpc_code) {
    case TOMO_GRPC_OK: return 0;
    case TOMO_GRPC_NOT_FOUND: return TOMO_ENOTFOUND;
    case TOMO_GRPC_ALREADY_EXISTS: return TOMO_ECONFLICT;
    case TOMO_GRPC_PERMISSION_DENIED: return TOMO_EPERM;
    case TOMO_GRPC_UNAUTHENTICATED: return TOMO_EAUTH;
    case TOMO_GRPC_UNAVAILABLE: return TOMO_EUNAVAIL;
    case TOMO_GRPC_DEADLINE_EXCEEDED: return TOMO_ETIMEOUT;
    case TOMO_GRPC_RESOURCE_EXHAUSTED: return TOMO_ETOOBIG;
    case TOMO_GRPC_INTERNAL:
    case TOMO_GRPC_DATA_LOSS:
    case TOMO_GRPC_UNKNOWN: return TOMO_EIO;
    default: return TOMO_EINVAL;
    }
}

int tomo_grpc_from_err(int e)
{
    switch (e) {
    case 0: return TOMO_GRPC_OK;
    case TOMO_EINVAL: return TOMO_GRPC_INVALID_ARGUMENT;
    case TOMO_ENOTFOUND: return TOMO_GRPC_NOT_FOUND;
    case TOMO_ETOOBIG: return TOMO_GRPC_RESOURCE_EXHAUSTED;
    case TOMO_ECONFLICT: return TOMO_GRPC_ALREADY_EXISTS;
    case TOMO_EPERM: return TOMO_GRPC_PERMISSION_DENIED;
    case TOMO_EAUTH: return TOMO_GRPC_UNAUTHENTICATED;
    case TOMO_EAGAIN:
    case TOMO_EUNAVAIL:
    case TOMO_ETIMEOUT: return TOMO_GRPC_UNAVAILABLE;
    default: return TOMO_GRPC_INTERNAL;
    }
}

int tomo_grpc_to_http(int code)
{
    static const int map[] = {200, 408, 500, 400, 504, 404, 409, 403, 429,
                              400, 409, 400, 501, 500, 503, 500, 401};
    return code >= 0 && code <= 16 ? map[code] : 500;
}

int tomo_err_setv(tomo_err *err, int grpc_code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = grpc_code;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    }
    int rc = tomo_err_from_grpc(grpc_code);
    return rc < 0 ? rc : TOMO_EINVAL; /* an error is never success */
}

int tomo_err_set(tomo_err *err, int grpc_code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = tomo_err_setv(err, grpc_code, fmt, ap);
    va_end(ap);
    return rc;
}

int tomo_err_db_conn(tomo_err *err, tomo_dbconn *db, int rc, const char *what)
{
    switch (rc) {
    case TOMO_EUNAVAIL:
        TOMO_LOGW(TOMO_SVC, "database unavailable op=%s", what);
        tomo_err_set(err, TOMO_GRPC_UNAVAILABLE, "Database unavailable.");
        return TOMO_EUNAVAIL;
    case TOMO_ETIMEOUT:
        TOMO_LOGW(TOMO_SVC, "database timeout op=%s", what);
        tomo_err_set(err, TOMO_GRPC_UNAVAILABLE, "Database busy, try again.");
        return TOMO_ETIMEOUT;
    default:
        TOMO_LOGE(TOMO_SVC, "database error op=%s error=%s", what,
                  db ? tomo_db_errmsg(db) : tomo_strerror(rc));
        tomo_err_set(err, TOMO_GRPC_INTERNAL, "Internal server error.");
        return rc < 0 ? rc : TOMO_EDB;
    }
}

int tomo_err_db(tomo_err *err, int rc, const char *what)
{
    return tomo_err_db_conn(err, NULL, rc, what);
}

/* ---- protojson helpers ---- */

const char *tomo_json_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

void tomo_json_set_str(json_t *obj, const char *key, const char *v)
{
    if (v && *v)
        json_object_set_new(obj, key, json_string(v));
}

void tomo_json_set_i64(json_t *obj, const char *key, long long v)
{
    if (v) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%lld", v);
        json_object_set_new(obj, key, json_string(buf));
    }
}

void tomo_json_set_time(json_t *obj, const char *key, long long unix_ms)
{
    if (unix_ms) {
        char buf[32];
        tomo_rfc3339(unix_ms / 1000, buf);
        json_object_set_new(obj, key, json_string(buf));
    }
}

void tomo_jw_opt_str(tomo_jw *w, const char *key, const char *v)
{
    if (v && *v)
        tomo_jw_str(w, key, v);
}

void tomo_jw_opt_i64(tomo_jw *w, const char *key, long long v)
{
    if (v) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%lld", v);
        tomo_jw_str(w, key, buf);
    }
}

void tomo_jw_opt_time(tomo_jw *w, const char *key, long long unix_ms)
{
    if (unix_ms) {
        char buf[32];
        tomo_rfc3339(unix_ms / 1000, buf);
        tomo_jw_str(w, key, buf);
    }
}

json_t *tomo_jw_tree(tomo_jw *w)
{
    size_t len;
    char *text = tomo_jw_take(w, &len);
    json_t *o = json_loadb(text, len, 0, NULL);
    free(text);
    return o;
}

/* ---- random rows ---- */

int tomo_svc_random_rows(tomo_dbconn *db, const char *select, const char *id_col, int count,
                         json_t *(*row_json)(const tomo_dbres *r, size_t row, size_t c0),
                         json_t **out)
{
    char pivot[37];
    tomo_uuid_v4(pivot);
    *out = json_array();
    for (int pass = 0; pass < 2 && (int)json_array_size(*out) < count; pass++) {
        char *sql = tomo_xasprintf("%s AND %s %s $1 ORDER BY %s LIMIT $2", select, id_col,
                                   pass ? "<=" : ">", id_col);
        tomo_dbval p[2] = {{TOMO_DBV_TEXT, 0, pivot},
                           TOMO_DBINT(count - (int64_t)json_array_size(*out))};
        tomo_dbres *r = NULL;
        int rc = tomo_db_exec(db, sql, p, 2, &r);
        free(sql);
        if (rc < 0) {
            json_decref(*out);
            *out = NULL;
            return rc;
        }
        for (size_t i = 0; i < tomo_dbres_rows(r); i++)
            json_array_append_new(*out, row_json(r, i, 0));
        tomo_dbres_free(r);
    }
    return 0;
}
