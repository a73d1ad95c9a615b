/* bench/sc_storage.c: the `storage` scenario: a write/read mix on the
 * storage REST API. --users devices each own --keys objects in collection
 * "bench" (written once before the window); then each connection picks a
 * random user of its worker and writes (PUT /v2/storage) with probability
 * --write-ratio, otherwise reads (POST /v2/storage) one of that user's keys.
 * Threads: run() on the main thread; the rest on worker loop threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "nakama.h"
#include "scenarios.h"

typedef struct user {
    char *token;
    char uid[64];
    char auth_hdr[2048];
} user;

typedef struct wstate {
    uint64_t *idx;
    char **tokens;
    user *u;
    int n;
    lg_http *conns;
    int nconn, active, preload_next, preload_left;
    bool *is_write;
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
    while (s->preload_next < s->n) {
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

static void issue(lg_worker *w, lg_http *c);

static void on_resp(lg_http *c, int status, const char *body, size_t n, void *arg)
{
    lg_worker *w = arg;
    wstate *s = w->sc;
    uint64_t now = lg_now_ns();
    int ci = (int)(c - s->conns);
    bool wr = s->is_write[ci];
    bool ok = status == 200 && lg_has_key(body, n, wr ? "acks" : "objects");
    if (!ok && !wr && status == 200)
        lg_inc(w, LG_C_PARSE_ERR, 1); /* empty read: counted apart, not an error */
    if (ok || (!wr && status == 200)) {
        lg_inc(w, LG_C_RECV, 1);
        if (lg_in_win(w->ctx, now)) {
            lg_inc(w, wr ? LG_C_OK_WIN : LG_C_OK2_WIN, 1);
            lg_hist_add(&w->h[wr ? LG_H_LAT : LG_H_LAT2], now - c->t_sent);
        }
    } else {
        lg_inc(w, wr ? LG_C_ERR : LG_C_ERR2, 1);
        if (lg_sum(w->ctx, LG_C_ERR) + lg_sum(w->ctx, LG_C_ERR2) <= 3)
            fprintf(stderr, "tomo-bench: storage %s failed: HTTP %d %.200s\n",
                    wr ? "write" : "read", status, body ? body : "(connection closed)");
    }
    if (now < w->ctx->t_stop_send && atomic_load(&w->ctx->phase) == LG_PH_RUN) {
        issue(w, c);
        return;
    }
    if (--s->active == 0)
        lg_ready(w);
}

static void issue(lg_worker *w, lg_http *c)
{
    wstate *s = w->sc;
    int ci = (int)(c - s->conns);
    user *u = NULL;
    for (int tries = 0; tries < 8 && !u; tries++) {
        user *x = &s->u[lg_rand(w) % (uint64_t)s->n];
        if (x->uid[0])
            u = x;
    }
    int key = (int)(lg_rand(w) % (uint64_t)w->ctx->o.keys);
    bool wr = (double)(lg_rand(w) >> 11) / 9007199254740992.0 < w->ctx->o.write_ratio;
    s->is_write[ci] = wr;
    int rc = -1;
    if (u)
        rc = wr ? put_objects(w, c, u, key, 1, on_resp) : read_object(w, c, u, key, on_resp);
    if (rc < 0) {
        lg_inc(w, wr ? LG_C_ERR : LG_C_ERR2, 1);
        if (--s->active == 0)
            lg_ready(w);
        return;
    }
    lg_inc(w, LG_C_SENT, 1);
}

static void pool_done(void *arg)
{
    lg_worker *w = arg;
    wstate *s = w->sc;
    for (int i = 0; i < s->n; i++) {
        s->u[i].token = s->tokens[i];
        if (bearer(&s->u[i]) < 0)
            s->u[i].uid[0] = 0;
    }
    lg_ready(w);
}

static void on_phase(lg_worker *w, int phase)
{
    lg_ctx *ctx = w->ctx;
    wstate *s = w->sc;
    if (!s) {
        s = w->sc = lg_xcalloc(1, sizeof(*s));
        s->n = lg_owned_count(ctx->o.users, ctx->o.threads, w->id);
        s->idx = lg_xcalloc((size_t)s->n, sizeof(uint64_t));
        s->tokens = lg_xcalloc((size_t)s->n, sizeof(char *));
        s->u = lg_xcalloc((size_t)s->n, sizeof(user));
        for (int i = 0; i < s->n; i++)
            s->idx[i] = (uint64_t)i * (uint64_t)ctx->o.threads + (uint64_t)w->id;
        s->nconn = lg_owned_count(ctx->o.conns, ctx->o.threads, w->id);
        s->conns = lg_xcalloc((size_t)(s->nconn ? s->nconn : 1), sizeof(lg_http));
        s->is_write = lg_xcalloc((size_t)(s->nconn ? s->nconn : 1), sizeof(bool));
        for (int i = 0; i < s->nconn; i++)
            lg_http_init(&s->conns[i], w);
    }
    switch (phase) {
    case LG_PH_AUTH:
        lg_authpool_run(w, "storage", s->idx, s->n, s->nconn, s->tokens, pool_done, w);
        break;
    case LG_PH_SETUP:
        s->preload_left = s->n;
        if (s->n == 0 || s->nconn == 0) {
            lg_ready(w);
            break;
        }
        for (int i = 0; i < s->nconn && s->preload_next < s->n; i++)
            preload_next(w, &s->conns[i]);
        break;
    case LG_PH_RUN:
        s->active = s->nconn;
        if (s->nconn == 0 || s->n == 0) {
            lg_ready(w);
            break;
        }
        for (int i = 0; i < s->nconn; i++)
            issue(w, &s->conns[i]);
        break;
    case LG_PH_STOP:
        for (int i = 0; i < s->nconn; i++)
            lg_http_close(&s->conns[i], NULL);
        break;
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
    lg_phase_set(ctx, LG_PH_AUTH);
    if (lg_wait_ready(ctx, 60, "authenticating users", LG_C_AUTH_OK, (uint64_t)o->users) < 0)
        return 1;
    lg_phase_set(ctx, LG_PH_SETUP);
    if (lg_wait_ready(ctx, 60, "writing initial objects", LG_C_SETUP_OK, (uint64_t)o->users) < 0)
        return 1;
    if (lg_sum(ctx, LG_C_SETUP_OK) == 0) {
        fputs("tomo-bench: no user could write storage objects\n", stderr);
        return 1;
    }
    lg_mark a, b;
    lg_plan_window(ctx);
    lg_phase_set(ctx, LG_PH_RUN);
    lg_sleep_until(ctx, ctx->t_win0, "warmup storage", LG_C_RECV);
    lg_mark_take(ctx, &a);
    lg_sleep_until(ctx, ctx->t_win1, "storage", LG_C_RECV);
    lg_mark_take(ctx, &b);
    lg_wait_ready(ctx, 10, "draining", LG_C_RECV, lg_sum(ctx, LG_C_SENT));
    lg_workers_stop(ctx);

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
