/* bench/sc_leaderboard.c: the `leaderboard` scenario: one operation on one
 * board (--board, default "bench") over HTTP. --users devices each write a
 * record once before the window (so each has a rank), then every
 * connection loops on --lb-op:
 *   write   POST /v2/leaderboard/{board} {"score": random}
 *   around  GET  /v2/leaderboard/{board}/owner/{user}?limit=10
 *   top     GET  /v2/leaderboard/{board}?limit=100
 * The board must exist (bench/lb_run.sh seeds one with a million records).
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
    lg_sessions pool;
    user *u;
    lg_hloop loop;
    int preload_next, preload_left;
} wstate;

enum { OP_WRITE, OP_AROUND, OP_TOP };

static int op_of(const char *s)
{
    return !strcmp(s, "around") ? OP_AROUND : !strcmp(s, "top") ? OP_TOP : OP_WRITE;
}

static int bearer(user *u)
{
    if (!u->token || lg_jwt_uid(u->token, u->uid, sizeof(u->uid)) < 0)
        return -1;
    int n = snprintf(u->auth_hdr, sizeof(u->auth_hdr),
                     "Authorization: Bearer %s\r\nContent-Type: application/json\r\n", u->token);
    return n > 0 && n < (int)sizeof(u->auth_hdr) ? 0 : -1;
}

static int do_write(lg_worker *w, lg_http *c, user *u, lg_http_cb cb)
{
    char path[256], body[64];
    snprintf(path, sizeof(path), "/v2/leaderboard/%s", w->ctx->o.board);
    int n = snprintf(body, sizeof(body), "{\"score\":%llu}",
                     (unsigned long long)(lg_rand(w) % 1000000));
    return lg_http_request(c, "POST", path, u->auth_hdr, body, (size_t)n, cb, w);
}

static int do_read(lg_worker *w, lg_http *c, user *u, int op, lg_http_cb cb)
{
    char path[256];
    if (op == OP_AROUND)
        snprintf(path, sizeof(path), "/v2/leaderboard/%s/owner/%s?limit=10", w->ctx->o.board,
                 u->uid);
    else
        snprintf(path, sizeof(path), "/v2/leaderboard/%s?limit=100", w->ctx->o.board);
    return lg_http_request(c, "GET", path, u->auth_hdr, NULL, 0, cb, w);
}

/* --- preload: every user writes once ------------------------------------------- */

static void preload_next(lg_worker *w, lg_http *c);

static void preload_resp(lg_http *c, int status, const char *body, size_t n, void *arg)
{
    lg_worker *w = arg;
    wstate *s = w->sc;
    if (status == 200 && lg_has_key(body, n, "rank")) {
        lg_inc(w, LG_C_SETUP_OK, 1);
    } else {
        lg_inc(w, LG_C_SETUP_ERR, 1);
        if (lg_sum(w->ctx, LG_C_SETUP_ERR) <= 3)
            fprintf(stderr, "tomo-bench: leaderboard preload failed: HTTP %d %.200s\n", status,
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
        if (u->uid[0] && do_write(w, c, u, preload_resp) == 0)
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
    int op = op_of(w->ctx->o.lb_op);
    bool ok = status == 200 && lg_has_key(body, n, op == OP_WRITE ? "rank" : "records");
    if (ok) {
        lg_hloop_ok(&s->loop, c, LG_C_OK_WIN, LG_H_LAT);
    } else {
        lg_inc(w, LG_C_ERR, 1);
        if (lg_sum(w->ctx, LG_C_ERR) <= 3)
            fprintf(stderr, "tomo-bench: leaderboard %s failed: HTTP %d %.200s\n",
                    w->ctx->o.lb_op, status, body ? body : "(connection closed)");
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
    int op = op_of(w->ctx->o.lb_op), rc = -1;
    if (u)
        rc = op == OP_WRITE ? do_write(w, c, u, on_resp) : do_read(w, c, u, op, on_resp);
    if (rc < 0) {
        lg_inc(w, LG_C_ERR, 1);
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
        lg_sessions_init(&s->pool, w, "leaderboard",
                         lg_owned_count(ctx->o.users, ctx->o.threads, w->id));
        s->pool.on_auth = pool_done;
        s->u = lg_xcalloc((size_t)(s->pool.n ? s->pool.n : 1), sizeof(user));
        lg_hloop_init(&s->loop, w, lg_owned_count(ctx->o.conns, ctx->o.threads, w->id), issue);
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

static int run(lg_ctx *ctx)
{
    lg_opts *o = &ctx->o;
    static const char *const what[] = {"write (POST /v2/leaderboard/{id})",
                                       "around owner (GET .../owner/{user}?limit=10)",
                                       "top 100 (GET /v2/leaderboard/{id}?limit=100)"};
    int op = op_of(o->lb_op);
    printf("## leaderboard: %s on board %s, %d users, %d connections, %d threads\n", o->lb_op,
           o->board, o->users, o->conns, o->threads);
    if (lg_sessions_auth_all(ctx, "authenticating users", (uint64_t)o->users, 60) < 0)
        return 1;
    lg_phase_set(ctx, LG_PH_SETUP);
    if (lg_wait_ready(ctx, 120, "writing a record per user", LG_C_SETUP_OK, (uint64_t)o->users) <
        0)
        return 1;
    if (lg_sum(ctx, LG_C_SETUP_OK) == 0) {
        fputs("tomo-bench: no user could write a leaderboard record\n", stderr);
        return 1;
    }
    lg_mark a, b;
    lg_hloop_run_all(ctx, "leaderboard", &a, &b);
    lg_hist h;
    lg_hist_merged(ctx, LG_H_LAT, &h);
    double win = lg_win_s(ctx);
    uint64_t err = lg_sum(ctx, LG_C_ERR);
    lg_table t;
    lg_table_init(&t, "leaderboard op", "requests", "requests/s", "p50 (us)", "p99 (us)",
                  "max (us)", "errors", NULL);
    lg_table_row(&t, what[op], lg_fmt("%llu", (unsigned long long)h.count),
                 lg_fmt("%.0f", (double)h.count / win), lg_us(lg_hist_quantile(&h, 0.5)),
                 lg_us(lg_hist_quantile(&h, 0.99)), lg_us(h.max),
                 lg_fmt("%llu", (unsigned long long)err), NULL);
    lg_table_print(&t);
    lg_table_free(&t);
    lg_table_init(&t, "leaderboard", "value", NULL);
    lg_table_row(&t, "preload failures",
                 lg_fmt("%llu", (unsigned long long)lg_sum(ctx, LG_C_SETUP_ERR)), NULL);
    lg_table_marks(ctx, &t, &a, &b);
    lg_table_print(&t);
    lg_table_free(&t);
    return lg_verdict(ctx, lg_sum(ctx, LG_C_RECV),
                      err + lg_sum(ctx, LG_C_AUTH_ERR) + lg_sum(ctx, LG_C_SETUP_ERR));
}

const lg_scenario lg_sc_leaderboard = {
    "leaderboard", "one leaderboard operation over HTTP: write, around, top (req/s, p50/p99)",
    run, on_phase};
