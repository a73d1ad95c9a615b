/* bench/sc_http.c: the `http` scenario: plain GET requests on keep-alive
 * connections (default path /healthcheck), the floor of the HTTP stack
 * without database or JSON work; with --body, POSTs that body instead (an
 * RPC: --path '/v2/rpc/echo?http_key=defaulthttpkey' --body '"{}"').
 * Threads: run() on the main thread; the rest on worker loop threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "scenarios.h"

typedef struct wstate {
    lg_http *conns;
    int nconn, active;
} wstate;

static void issue(lg_worker *w, lg_http *c);

static void on_resp(lg_http *c, int status, const char *body, size_t n, void *arg)
{
    (void)n;
    lg_worker *w = arg;
    wstate *s = w->sc;
    uint64_t now = lg_now_ns();
    if (status == 200) {
        lg_inc(w, LG_C_RECV, 1);
        if (lg_in_win(w->ctx, now)) {
            lg_inc(w, LG_C_OK_WIN, 1);
            lg_hist_add(&w->h[LG_H_LAT], now - c->t_sent);
        }
    } else {
        lg_inc(w, LG_C_ERR, 1);
        if (lg_sum(w->ctx, LG_C_ERR) <= 3)
            fprintf(stderr, "tomo-bench: %s %s: HTTP %d %.200s\n", w->ctx->o.body ? "POST" : "GET",
                    w->ctx->o.path, status, body ? body : "(connection closed)");
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
    lg_inc(w, LG_C_SENT, 1);
    const char *b = w->ctx->o.body;
    int rc = b ? lg_http_request(c, "POST", w->ctx->o.path, "Content-Type: application/json\r\n", b,
                                 strlen(b), on_resp, w)
               : lg_http_request(c, "GET", w->ctx->o.path, "", NULL, 0, on_resp, w);
    if (rc < 0) {
        lg_inc(w, LG_C_ERR, 1);
        if (--s->active == 0)
            lg_ready(w);
    }
}

static void on_phase(lg_worker *w, int phase)
{
    lg_ctx *ctx = w->ctx;
    wstate *s = w->sc;
    if (!s) {
        s = w->sc = lg_xcalloc(1, sizeof(*s));
        s->nconn = lg_owned_count(ctx->o.conns, ctx->o.threads, w->id);
        s->conns = lg_xcalloc((size_t)(s->nconn ? s->nconn : 1), sizeof(lg_http));
        for (int i = 0; i < s->nconn; i++)
            lg_http_init(&s->conns[i], w);
    }
    switch (phase) {
    case LG_PH_RUN:
        s->active = s->nconn;
        if (s->nconn == 0)
            lg_ready(w);
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

static int run(lg_ctx *ctx)
{
    lg_opts *o = &ctx->o;
    printf("## http: %s %s, %d connections, %d threads\n", o->body ? "POST" : "GET", o->path,
           o->conns, o->threads);
    lg_mark a, b;
    lg_plan_window(ctx);
    lg_phase_set(ctx, LG_PH_RUN);
    lg_sleep_until(ctx, ctx->t_win0, "warmup requests", LG_C_RECV);
    lg_mark_take(ctx, &a);
    lg_sleep_until(ctx, ctx->t_win1, "requests", LG_C_RECV);
    lg_mark_take(ctx, &b);
    lg_wait_ready(ctx, 10, "draining", LG_C_RECV, lg_sum(ctx, LG_C_SENT));
    lg_workers_stop(ctx);

    lg_hist h;
    lg_hist_merged(ctx, LG_H_LAT, &h);
    double win = lg_win_s(ctx);
    lg_table t;
    lg_table_init(&t, "http", "value", NULL);
    lg_table_row(&t, "requests in window", lg_fmt("%llu", (unsigned long long)h.count), NULL);
    lg_table_row(&t, "requests/s", lg_fmt("%.0f", (double)h.count / win), NULL);
    lg_table_row(&t, "latency p50 (us)", lg_us(lg_hist_quantile(&h, 0.50)), NULL);
    lg_table_row(&t, "latency p99 (us)", lg_us(lg_hist_quantile(&h, 0.99)), NULL);
    lg_table_row(&t, "latency max (us)", lg_us(h.max), NULL);
    lg_table_row(&t, "errors", lg_fmt("%llu", (unsigned long long)lg_sum(ctx, LG_C_ERR)), NULL);
    lg_table_marks(ctx, &t, &a, &b);
    lg_table_print(&t);
    lg_table_free(&t);
    return lg_verdict(ctx, lg_sum(ctx, LG_C_RECV), lg_sum(ctx, LG_C_ERR));
}

const lg_scenario lg_sc_http = {"http", "plain GET on keep-alive connections (requests/s, p50/p99)",
                                run, on_phase};
