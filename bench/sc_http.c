/* bench/sc_http.c: the `http` scenario: plain GET requests on keep-alive
 * connections (default path /healthcheck), the floor of the HTTP stack
 * without database or JSON work; with --body, POSTs that body instead (an
 * RPC: --path '/v2/rpc/echo?http_key=defaulthttpkey' --body '"{}"').
 * Threads: run() on the main thread; the rest on worker loop threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_loop.h"
#include "scenarios.h"

typedef struct wstate {
    lg_hloop loop;
} wstate;

static void on_resp(lg_http *c, int status, const char *body, size_t n, void *arg)
{
    (void)n;
    lg_worker *w = arg;
    wstate *s = w->sc;
    if (status == 200) {
        lg_hloop_ok(&s->loop, c, LG_C_OK_WIN, LG_H_LAT);
    } else {
        lg_inc(w, LG_C_ERR, 1);
        if (lg_sum(w->ctx, LG_C_ERR) <= 3)
            fprintf(stderr, "tomo-bench: %s %s: HTTP %d %.200s\n", w->ctx->o.body ? "POST" : "GET",
                    w->ctx->o.path, status, body ? body : "(connection closed)");
    }
    lg_hloop_next(&s->loop, c);
}

static int issue(lg_worker *w, lg_http *c)
{
    lg_inc(w, LG_C_SENT, 1);
    const char *b = w->ctx->o.body;
    int rc = b ? lg_http_request(c, "POST", w->ctx->o.path, "Content-Type: application/json\r\n", b,
                                 strlen(b), on_resp, w)
               : lg_http_request(c, "GET", w->ctx->o.path, "", NULL, 0, on_resp, w);
    if (rc < 0)
        lg_inc(w, LG_C_ERR, 1);
    return rc;
}

static void on_phase(lg_worker *w, int phase)
{
    lg_ctx *ctx = w->ctx;
    wstate *s = w->sc;
    if (!s) {
        s = w->sc = lg_xcalloc(1, sizeof(*s));
        lg_hloop_init(&s->loop, w, lg_owned_count(ctx->o.conns, ctx->o.threads, w->id), issue);
    }
    switch (phase) {
    case LG_PH_RUN: lg_hloop_start(&s->loop); break;
    case LG_PH_STOP: lg_hloop_close(&s->loop); break;
    default: break;
    }
}

static int run(lg_ctx *ctx)
{
    lg_opts *o = &ctx->o;
    printf("## http: %s %s, %d connections, %d threads\n", o->body ? "POST" : "GET", o->path,
           o->conns, o->threads);
    lg_mark a, b;
    lg_hloop_run_all(ctx, "requests", &a, &b);

    lg_hist h;
    lg_hist_merged(ctx, LG_H_LAT, &h);
    double win = lg_win_s(ctx);
    lg_table t;
    lg_table_init(&t, "http", "value", NULL);
    lg_table_requests(&t, &h, win);
    lg_table_row(&t, "errors", lg_fmt("%llu", (unsigned long long)lg_sum(ctx, LG_C_ERR)), NULL);
    lg_table_marks(ctx, &t, &a, &b);
    lg_table_print(&t);
    lg_table_free(&t);
    return lg_verdict(ctx, lg_sum(ctx, LG_C_RECV), lg_sum(ctx, LG_C_ERR));
}

const lg_scenario lg_sc_http = {"http", "plain GET on keep-alive connections (requests/s, p50/p99)",
                                run, on_phase};
