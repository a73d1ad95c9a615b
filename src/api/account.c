/* api/account.c: GET/PUT/DELETE /v2/account and GET /v2/user.
 * Threads: worker. Deleting an account revokes its tokens and closes its
 * sockets from the loop thread (ctx->after_fn). */
#define _GNU_SOURCE
#include "account.h"

#include "auth.h"
#include "handlers.h"

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"
#include "../rt/rt.h"
#include "../svc/friend.h"
#include "../svc/group.h"
#include "../svc/revoke.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

json_t *tomo_account_user_json(const tomo_dbres *r, size_t row, size_t c)
{
    json_t *u = json_object();
    static const char *const names[] = {"id",           "username",    "display_name",
                                        "avatar_url",   "lang_tag",    "location",
                                        "timezone",     "metadata",    "facebook_id",
                                        "google_id",    "gamecenter_id", "steam_id"};
    for (size_t i = 0; i < TOMO_ARRAY_LEN(names); i++)
        tomo_json_set_str(u, names[i], tomo_dbres_text(r, row, c + i));
    long long edges = tomo_dbres_int(r, row, c + 12);
    if (edges)
        json_object_set_new(u, "edge_count", json_integer(edges));
    tomo_json_set_time(u, "create_time", tomo_dbres_int(r, row, c + 13));
    tomo_json_set_time(u, "update_time", tomo_dbres_int(r, row, c + 14));
    tomo_json_set_str(u, "facebook_instant_game_id", tomo_dbres_text(r, row, c + 15));
    tomo_json_set_str(u, "apple_id", tomo_dbres_text(r, row, c + 16));
    return u;
}

/* ---- online flags (the registry lives on the loop thread) ---- */

typedef struct online_q {
    tomo_server *srv;
    size_t n;
    char (*ids)[37];
    unsigned char *online;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, refs; /* refs: the asking worker and the loop task */
} online_q;

static void online_unref(online_q *q)
{
    pthread_mutex_lock(&q->mu);
    int last = --q->refs == 0;
    pthread_mutex_unlock(&q->mu);
    if (last) {
        pthread_mutex_destroy(&q->mu);
        pthread_cond_destroy(&q->cv);
        free(q->ids);
        free(q->online);
        free(q);
    }
}

static void online_on_loop(void *arg)
{
    online_q *q = arg;
    for (size_t i = 0; i < q->n; i++)
        q->online[i] = tomo_rt_user_online(q->srv, q->ids[i]) > 0;
    pthread_mutex_lock(&q->mu);
    q->done = 1;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    online_unref(q);
}

void tomo_account_fill_online(tomo_server *srv, json_t *users)
{
    size_t n = json_array_size(users);
    if (!n || !srv->loop || !srv->rt || srv->shutting_down)
        return;
    online_q *q = tomo_xcalloc(1, sizeof(*q));
    q->srv = srv;
    q->n = n;
    q->ids = tomo_xcalloc(n, sizeof(*q->ids));
    q->online = tomo_xcalloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        const char *id = tomo_json_str(json_array_get(users, i), "id");
        snprintf(q->ids[i], sizeof(q->ids[i]), "%s", id ? id : "");
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    q->refs = 2;
    tomo_loop_post(srv->loop, online_on_loop, q);
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += 1;
    pthread_mutex_lock(&q->mu);
    int rc = 0;
    while (!q->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&q->cv, &q->mu, &dl);
    int done = q->done;
    pthread_mutex_unlock(&q->mu);
    for (size_t i = 0; done && i < n; i++)
        if (q->online[i])
            json_object_set_new(json_array_get(users, i), "online", json_true());
    online_unref(q);
}

/* ---- GET /v2/account ---- */

int tomo_api_account_get(tomo_api_ctx *ctx)
{
    tomo_dbconn *db;
    tomo_dbres *r = NULL, *d = NULL;
    int rc;
    if ((rc = tomo_api_db(ctx, &db)) < 0)
        return rc;
    tomo_dbval p[1] = {TOMO_DBTEXT(ctx->session.user_id)};
    rc = tomo_db_exec(db,
                      "SELECT " TOMO_ACCOUNT_USER_COLS
                      ", wallet, email, custom_id, verify_time, disable_time "
                      "FROM users WHERE id = $1",
                      p, 1, &r);
    if (rc == 0)
        rc = tomo_db_exec(db, "SELECT id FROM user_device WHERE user_id = $1 ORDER BY id", p, 1,
                          &d);
    if (rc < 0) {
        rc = tomo_api_db_error(ctx, rc, "get account");
        goto out;
    }
    if (!tomo_dbres_rows(r)) {
        rc = tomo_api_error(ctx, TOMO_GRPC_NOT_FOUND, "Account not found.");
        goto out;
    }
    const size_t k = TOMO_ACCOUNT_USER_NCOLS;
    json_t *a = json_object();
    json_t *user = tomo_account_user_json(r, 0, 0);
    json_t *one = json_pack("[O]", user);
    tomo_account_fill_online(ctx->srv, one);
    json_decref(one);
    json_object_set_new(a, "user", user);
    const char *wallet = tomo_dbres_text(r, 0, k);
    json_object_set_new(a, "wallet", json_string(wallet && *wallet ? wallet : "{}"));
    tomo_json_set_str(a, "email", tomo_dbres_text(r, 0, k + 1));
    if (tomo_dbres_rows(d)) {
        json_t *devs = json_array();
        for (size_t i = 0; i < tomo_dbres_rows(d); i++)
            json_array_append_new(devs, json_pack("{s:s}", "id", tomo_dbres_text(d, i, 0)));
        json_object_set_new(a, "devices", devs);
    }
    tomo_json_set_str(a, "custom_id", tomo_dbres_text(r, 0, k + 2));
    tomo_json_set_time(a, "verify_time", tomo_dbres_int(r, 0, k + 3));
    tomo_json_set_time(a, "disable_time", tomo_dbres_int(r, 0, k + 4));
    ctx->out = a;
    rc = 0;
out:
    tomo_dbres_free(r);
    tomo_dbres_free(d);
    return rc;
}

/* ---- PUT /v2/account ---- */

int tomo_api_account_update(tomo_api_ctx *ctx)
{
    static const struct {
        const char *snake, *camel;
    } fields[] = {{"display_name", "displayName"}, {"avatar_url", "avatarUrl"},
                  {"lang_tag", "langTag"},         {"location", NULL},
                  {"timezone", NULL}};
    const json_t *body;
    const char *username = NULL;
    if (tomo_auth_body(ctx, &body) < 0)
        return -1;
    tomo_dbval p[8];
    size_t n = 0;
    char sql[512];
    int off = snprintf(sql, sizeof(sql), "UPDATE users SET update_time = $2");
    p[n++] = TOMO_DBTEXT(ctx->session.user_id);
    p[n++] = TOMO_DBINT(tomo_now_ms());
    const json_t *u = tomo_auth_field(body, "username", NULL);
    if (u && !json_is_null(u)) {
        if (!json_is_string(u))
            return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                  "Invalid value for field username: expected a string.");
        username = json_string_value(u);
        if (!*username || strlen(username) > 128)
            return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                  "Username invalid, must be 1-128 bytes.");
        if (tomo_auth_username_invalid(username))
            return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                  "Username invalid, no spaces or control characters allowed.");
        p[n++] = TOMO_DBTEXT(username);
        off += snprintf(sql + off, sizeof(sql) - (size_t)off, ", username = $%zu", n);
    }
    for (size_t i = 0; i < TOMO_ARRAY_LEN(fields); i++) {
        const json_t *v = tomo_auth_field(body, fields[i].snake, fields[i].camel);
        if (!v || json_is_null(v))
            continue;
        if (!json_is_string(v))
            return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                  "Invalid value for field %s: expected a string.",
                                  fields[i].snake);
        const char *s = json_string_value(v);
        /* An empty value clears the field (lang_tag is NOT NULL: ""). */
        if (!*s && strcmp(fields[i].snake, "lang_tag")) {
            off += snprintf(sql + off, sizeof(sql) - (size_t)off, ", %s = NULL", fields[i].snake);
            continue;
        }
        p[n++] = TOMO_DBTEXT(s);
        off += snprintf(sql + off, sizeof(sql) - (size_t)off, ", %s = $%zu", fields[i].snake, n);
    }
    if (n == 2 && !strchr(sql, ','))
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "No fields to update.");
    snprintf(sql + off, sizeof(sql) - (size_t)off, " WHERE id = $1");
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    int rc = tomo_db_exec(db, sql, p, n, NULL);
    if (rc == TOMO_ECONFLICT)
        return tomo_api_error(ctx, TOMO_GRPC_ALREADY_EXISTS, "Username is already in use.");
    if (rc < 0)
        return tomo_api_db_error(ctx, rc, "update account");
    return 0;
}

/* ---- DELETE /v2/account ---- */

static void disconnect_after(tomo_server *srv, void *arg)
{
    tomo_rt_disconnect_user(srv, arg);
    free(arg);
}

int tomo_api_account_delete(tomo_api_ctx *ctx)
{
    /* Tables holding a user's own rows; chat messages they sent stay in
     * their channels' history, as in Nakama. */
    /* The users row goes first: it locks the account, so a concurrent
     * storage write (which share-locks it) either finished before and its
     * rows are deleted below, or finds no owner afterwards. */
    static const char *const sqls[] = {
        "DELETE FROM users WHERE id = $1",
        "DELETE FROM user_device WHERE user_id = $1",
        "DELETE FROM storage WHERE user_id = $1",
        "DELETE FROM notification WHERE user_id = $1",
    };
    const char *me = ctx->session.user_id;
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    tomo_dbval p[1] = {TOMO_DBTEXT(me)};
    int rc = tomo_db_begin(db);
    /* Friends first: the other sides' edge counts drop with the edges. */
    if (rc == 0)
        rc = tomo_svc_friend_remove_user(db, me);
    if (rc == 0)
        rc = tomo_svc_group_remove_user(db, me);
    for (size_t i = 0; rc == 0 && i < TOMO_ARRAY_LEN(sqls); i++)
        rc = tomo_db_exec(db, sqls[i], p, 1, NULL);
    /* Inside the transaction: the account never disappears while its
     * tokens stay valid. */
    if (rc == 0)
        rc = tomo_revoke_user(&ctx->srv->svc, db, me);
    if (rc == 0)
        rc = tomo_db_commit(db);
    if (rc < 0) {
        tomo_db_rollback(db);
        return tomo_api_db_error(ctx, rc, "delete account");
    }
    TOMO_LOGI(TOMO_API, "account deleted user=%s", me);
    ctx->after_fn = disconnect_after;
    ctx->after_arg = tomo_xstrdup(me);
    return 0;
}

/* ---- GET /v2/user ---- */

/* Look users up by one column, in batches that fit a statement's parameter
 * limit; add each unseen user to out (seen: id -> true). */
static int users_by(tomo_dbconn *db, tomo_api_ctx *ctx, const char *col, const char *name,
                    json_t *seen, json_t *out)
{
    size_t total = tomo_api_query_count(ctx, name);
    for (size_t base = 0; base < total; base += 100) {
        size_t n = total - base < 100 ? total - base : 100;
        tomo_dbval p[100];
        size_t cap = sizeof(TOMO_ACCOUNT_USER_COLS) + 64 + n * 8;
        char *sql = tomo_xmalloc(cap);
        int off = snprintf(sql, cap, "SELECT " TOMO_ACCOUNT_USER_COLS " FROM users WHERE %s IN (",
                           col);
        for (size_t i = 0; i < n; i++) {
            p[i] = TOMO_DBTEXT(tomo_api_query_at(ctx, name, base + i));
            off += snprintf(sql + off, cap - (size_t)off, "%s$%zu", i ? "," : "", i + 1);
        }
        snprintf(sql + off, cap - (size_t)off, ")");
        tomo_dbres *r = NULL;
        int rc = tomo_db_exec(db, sql, p, n, &r);
        free(sql);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < tomo_dbres_rows(r); i++) {
            const char *id = tomo_dbres_text(r, i, 0);
            if (json_object_get(seen, id))
                continue;
            json_object_set_new(seen, id, json_true());
            json_array_append_new(out, tomo_account_user_json(r, i, 0));
        }
        tomo_dbres_free(r);
    }
    return 0;
}

int tomo_api_users_get(tomo_api_ctx *ctx)
{
    size_t nids = tomo_api_query_count(ctx, "ids");
    for (size_t i = 0; i < nids; i++) {
        const char *id = tomo_api_query_at(ctx, "ids", i);
        if (!tomo_uuid_valid(id))
            return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                  "ID '%s' is not a valid system ID.", id);
    }
    if (!nids && !tomo_api_query_count(ctx, "usernames") &&
        !tomo_api_query_count(ctx, "facebook_ids"))
        return 0;
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    json_t *seen = json_object(), *users = json_array();
    int rc = users_by(db, ctx, "id", "ids", seen, users);
    if (rc == 0)
        rc = users_by(db, ctx, "username", "usernames", seen, users);
    if (rc == 0)
        rc = users_by(db, ctx, "facebook_id", "facebook_ids", seen, users);
    json_decref(seen);
    if (rc < 0) {
        json_decref(users);
        return tomo_api_db_error(ctx, rc, "get users");
    }
    tomo_account_fill_online(ctx->srv, users);
    ctx->out = json_object();
    if (json_array_size(users))
        json_object_set_new(ctx->out, "users", users);
    else
        json_decref(users);
    return 0;
}
