/* bench/sc_storage.c: the `storage` scenario: a write/read mix on the
 * storage REST API. --users devices each own --keys objects in collection
 * "bench" (written once before the window); then each connection picks a
 * random user of its worker and writes (PUT /v2/storage) with probability
 * --write-ratio, otherwise reads (POST /v2/storage) one of that user's keys.
 * Threads: run() on the main thread; the rest on worker loop threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_loop.h"
#include "nakama.h"
#include "scenarios.h"
#include "session_pool.h"

typedef struct user {
    char *token;
    char uid[64];
    char auth_hdr[2048];
} user;

typedef struct wstate {
    lg_sessions pool; /* the users' devices and tokens */
    user *u;
    lg_hloop loop; /* also carries the preload */
    int preload_next, preload_left;
    bool *is_write; /* per connection: the request in flight is a write */
} wstate;

static int bearer(user *u)
{
    if (!u->token || lg_jwt_uid(u->token, u->uid, sizeof(u->uid)) < 0)
        return -1;
    int n = snprintf(u->auth_hdr, sizeof(u->auth_hdr),
                     "Authorization: Bearer %s\r\nContent-Type: application/json\r\n", u->token);
    return n > 0 && n < (int)sizeof(u->auth_hdr) ? 0 : -1;
}

static int put_objects(lg_worker *w, lg_http *c, user *u, int key0, int nkeys, lg_http_cb cb)
{
    lg_buf b = {0};
    lg_buf_append(&b, "{\"objects\":[", 12);
    for (int k = 0; k < nkeys; k++) {
        char obj[256];
        int n =
            snprintf(obj, sizeof(obj),
                     "%s{\"collection\":\"bench\",\"key\":\"k%d\",\"value\":\"{\\\"a\\\":%llu}\","
                     "\"permission_read\":1,\"permission_write\":1}",
                     k ? "," : "", key0 + k, (unsigned long long)(lg_rand(w) % 1000000));
        lg_buf_append(&b, obj, (size_t)n);
    }
    lg_buf_append(&b, "]}", 2);
    int rc = lg_http_request(c, "PUT", "/v2/storage", u->auth_hdr, b.p, b.len, cb, w);
    lg_buf_free(&b);
    return rc;
}

static int read_object(lg_worker *w, lg_http *c, user *u, int key, lg_http_cb cb)
{
    char body[256];
    int n =
        snprintf(body, sizeof(body),
                 "{\"object_ids\":[{\"collection\":\"bench\",\"key\":\"k%d\",\"user_id\":\"%s\"}]}",
                 key, u->uid);
    return lg_http_request(c, "POST", "/v2/storage", u->auth_hdr, body, (size_t)n, cb, w);
}

/* --- preload ------------------------------------------------------------------- */

static void preload_next(lg_worker *w, lg_http *c);

static void preload_resp(lg_http *c, int status, const char *body, size_t n, void *arg)
{
    lg_worker *w = arg;
    wstate *s = w->sc;
    if (status == 200 && lg_has_key(body, n, "acks")) {
        lg_inc(w, LG_C_SETUP_OK, 1);
    } else {
        lg_inc(w, LG_C_SETUP_ERR, 1);
        if (lg_sum(w->ctx, LG_C_SETUP_ERR) <= 3)
            fprintf(stderr, "tomo-bench: storage preload failed: HTTP %d %.200s\n", status,
                    body ? body : "(connection closed)");
    }
    if (--s->preload_left == 0)
        lg_ready(w);
    else
        preload_next(w, c);
}

static void preload_next(lg_worker *w, lg_http *c)
{
    wstate *s = w->sc;
    while (s->preload_next < s->pool.n) {
        user *u = &s->u[s->preload_next++];
        if (u->uid[0] && put_objects(w, c, u, 0, w->ctx->o.keys, preload_resp) == 0)
            return;
        lg_inc(w, LG_C_SETUP_ERR, 1);
        if (--s->preload_left == 0) {
            lg_ready(w);
            return;
        }
    }
}

/* --- load ---------------------------------------------------------------------- */

static void on_resp(lg_http *c, int status, const char *body, size_t n, void *arg)
{
    lg_worker *w = arg;
    wstate *s = w->sc;
    bool wr = s->is_write[lg_hloop_index(&s->loop, c)];
    bool ok = status == 200 && lg_has_key(body, n, wr ? "acks" : "objects");
    if (!ok && !wr && status == 200)
        lg_inc(w, LG_C_PARSE_ERR, 1); /* empty read: counted apart, not an error */
    if (ok || (!wr && status == 200)) {
        lg_hloop_ok(&s->loop, c, wr ? LG_C_OK_WIN : LG_C_OK2_WIN, wr ? LG_H_LAT : LG_H_LAT2);
    } else {
        lg_inc(w, wr ? LG_C_ERR : LG_C_ERR2, 1);
        if (lg_sum(w->ctx, LG_C_ERR) + lg_sum(w->ctx, LG_C_ERR2) <= 3)
            fprintf(stderr, "tomo-bench: storage %s failed: HTTP %d %.200s\n",
                    wr ? "write" : "read", status, body ? body : "(connection closed)");
    }
    lg_hloop_next(&s->loop, c);
}

static int issue(lg_worker *w, lg_http *c)
{
    wstate *s = w->sc;
    user *u = NULL;
    for (int tries = 0; tries < 8 && !u; tries++) {
        user *x = &s->u[lg_rand(w) % (uint64_t)s->pool.n];
        if (x->uid[0])
            u = x;
    }
    int key = (int)(lg_rand(w) % (uint64_t)w->ctx->o.keys);
    bool wr = (double)(lg_rand(w) >> 11) / 9007199254740992.0 < w->ctx->o.write_ratio;
    s->is_write[lg_hloop_index(&s->loop, c)] = wr;
    int rc = -1;
    if (u)
        rc = wr ? put_objects(w, c, u, key, 1, on_resp) : read_object(w, c, u, key, on_resp);
    if (rc < 0) {
        lg_inc(w, wr ? LG_C_ERR : LG_C_ERR2, 1);
        return -1;
    }
    lg_inc(w, LG_C_SENT, 1);
    return 0;
}

static void pool_done(lg_sessions *p)
{
    wstate *s = p->w->sc;
    for (int i = 0; i < p->n; i++) {
        s->u[i].token = p->tokens[i];
        if (bearer(&s->u[i]) < 0)
            s->u[i].uid[0] = 0;
    }
    lg_ready(p->w);
}

static void on_phase(lg_worker *w, int phase)
{
    lg_ctx *ctx = w->ctx;
    wstate *s = w->sc;
    if (!s) {
        s = w->sc = lg_xcalloc(1, sizeof(*s));
        lg_sessions_init(&s->pool, w, "storage",
                         lg_owned_count(ctx->o.users, ctx->o.threads, w->id));
        s->pool.on_auth = pool_done;
        s->u = lg_xcalloc((size_t)(s->pool.n ? s->pool.n : 1), sizeof(user));
        int nconn = lg_owned_count(ctx->o.conns, ctx->o.threads, w->id);
        lg_hloop_init(&s->loop, w, nconn, issue);
        s->is_write = lg_xcalloc((size_t)(nconn ? nconn : 1), sizeof(bool));
    }
    switch (phase) {
    case LG_PH_AUTH: lg_sessions_auth(&s->pool); break;
    case LG_PH_SETUP:
        s->preload_left = s->pool.n;
        if (s->pool.n == 0 || s->loop.n == 0) {
            lg_ready(w);
            break;
        }
        for (int i = 0; i < s->loop.n && s->preload_next < s->pool.n; i++)
            preload_next(w, &s->loop.conns[i]);
        break;
    case LG_PH_RUN:
        if (s->pool.n == 0) {
            lg_ready(w);
            break;
        }
        lg_hloop_start(&s->loop);
        break;
    case LG_PH_STOP: lg_hloop_close(&s->loop); break;
    default: break;
    }
}

static void op_row(lg_table *t, const char *name, const lg_hist *h, double win, uint64_t err)
{
    lg_table_row(t, name, lg_fmt("%llu", (unsigned long long)h->count),
                 lg_fmt("%.0f", (double)h->count / win), lg_us(lg_hist_quantile(h, 0.5)),
                 lg_us(lg_hist_quantile(h, 0.99)), lg_us(h->max),
                 lg_fmt("%llu", (unsigned long long)err), NULL);
}

static int run(lg_ctx *ctx)
{
    lg_opts *o = &ctx->o;
    printf("## storage: write ratio %.2f, %d users x %d keys, %d connections, %d threads\n",
           o->write_ratio, o->users, o->keys, o->conns, o->threads);
    if (lg_sessions_auth_all(ctx, "authenticating users", (uint64_t)o->users, 60) < 0)
        return 1;
    lg_phase_set(ctx, LG_PH_SETUP);
    if (lg_wait_ready(ctx, 60, "writing initial objects", LG_C_SETUP_OK, (uint64_t)o->users) < 0)
        return 1;
    if (lg_sum(ctx, LG_C_SETUP_OK) == 0) {
        fputs("tomo-bench: no user could write storage objects\n", stderr);
        return 1;
    }
    lg_mark a, b;
    lg_hloop_run_all(ctx, "storage", &a, &b);

    lg_hist hw, hr, hall;
    lg_hist_merged(ctx, LG_H_LAT, &hw);
    lg_hist_merged(ctx, LG_H_LAT2, &hr);
    hall = hw;
    lg_hist_merge(&hall, &hr);
    double win = lg_win_s(ctx);
    uint64_t ew = lg_sum(ctx, LG_C_ERR), er = lg_sum(ctx, LG_C_ERR2);
    lg_table t;
    lg_table_init(&t, "storage op", "requests", "requests/s", "p50 (us)", "p99 (us)", "max (us)",
                  "errors", NULL);
    op_row(&t, "write (PUT /v2/storage)", &hw, win, ew);
    op_row(&t, "read (POST /v2/storage)", &hr, win, er);
    op_row(&t, "all", &hall, win, ew + er);
    lg_table_print(&t);
    lg_table_free(&t);
    lg_table_init(&t, "storage", "value", NULL);
    lg_table_row(&t, "reads that found no object",
                 lg_fmt("%llu", (unsigned long long)lg_sum(ctx, LG_C_PARSE_ERR)), NULL);
    lg_table_row(&t, "preload failures",
                 lg_fmt("%llu", (unsigned long long)lg_sum(ctx, LG_C_SETUP_ERR)), NULL);
    lg_table_marks(ctx, &t, &a, &b);
    lg_table_print(&t);
    lg_table_free(&t);
    return lg_verdict(ctx, lg_sum(ctx, LG_C_RECV),
                      ew + er + lg_sum(ctx, LG_C_AUTH_ERR) + lg_sum(ctx, LG_C_SETUP_ERR));
}

const lg_scenario lg_sc_storage = {
    "storage", "storage write/read mix over HTTP (per-op req/s, p50/p99)", run, on_phase};
