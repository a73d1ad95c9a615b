/* bench/sc_auth.c: the `auth` scenario: device authentication over HTTP.
 * --mode existing authenticates a pool of devices first (creating them on
 * the first run) and then loops over them; --mode new uses a fresh device
 * id for every request, so each one creates an account.
 * Threads: run() on the main thread; the rest on worker loop threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "nakama.h"
#include "scenarios.h"

typedef struct wstate {
    uint64_t *idx; /* owned pool indices */
    char **tokens;
    int n;
    lg_http *conns;
    int nconn, active;
    uint64_t counter; /* requests issued by this worker */
    bool fresh;
} wstate;

static void issue(lg_worker *w, lg_http *c);

static void on_resp(lg_http *c, int status, const char *body, size_t n, void *arg)
{
    lg_worker *w = arg;
    wstate *s = w->sc;
    uint64_t now = lg_now_ns();
    size_t tl;
    bool ok = status == 200 && lg_scan_str(body, n, "token", &tl) && tl > 0;
    if (ok) {
        lg_inc(w, LG_C_RECV, 1);
        if (lg_in_win(w->ctx, now)) {
            lg_inc(w, LG_C_OK_WIN, 1);
            lg_hist_add(&w->h[LG_H_LAT], now - c->t_sent);
        }
    } else {
        lg_inc(w, LG_C_ERR, 1);
        if (lg_sum(w->ctx, LG_C_ERR) <= 3)
            fprintf(stderr, "tomo-bench: auth failed: HTTP %d %.200s\n", status,
                    body ? body : "(connection closed)");
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
    lg_ctx *ctx = w->ctx;
    char dev[200];
    uint64_t k = s->counter++;
    if (s->fresh) {
        char kind[64];
        snprintf(kind, sizeof(kind), "new-%s-%d", ctx->run_tag, w->id);
        lg_device_id(ctx, kind, k, dev, sizeof(dev));
    } else {
        lg_device_id(ctx, "auth", s->idx[k % (uint64_t)s->n], dev, sizeof(dev));
    }
    lg_inc(w, LG_C_SENT, 1);
    if (lg_auth_device(c, dev, on_resp, w) < 0) {
        lg_inc(w, LG_C_ERR, 1);
        if (--s->active == 0)
            lg_ready(w);
    }
}

static void pool_done(void *arg)
{
    lg_worker *w = arg;
    wstate *s = w->sc;
    for (int i = 0; i < s->n; i++) {
        free(s->tokens[i]);
        s->tokens[i] = NULL;
    }
    lg_ready(w);
}

static void on_phase(lg_worker *w, int phase)
{
    lg_ctx *ctx = w->ctx;
    wstate *s = w->sc;
    if (!s) {
        s = w->sc = lg_xcalloc(1, sizeof(*s));
        s->fresh = strcmp(ctx->o.mode, "new") == 0;
        s->n = lg_owned_count(ctx->o.pool, ctx->o.threads, w->id);
        s->idx = lg_xcalloc((size_t)s->n, sizeof(uint64_t));
        s->tokens = lg_xcalloc((size_t)s->n, sizeof(char *));
        for (int i = 0; i < s->n; i++)
            s->idx[i] = (uint64_t)i * (uint64_t)ctx->o.threads + (uint64_t)w->id;
        s->nconn = lg_owned_count(ctx->o.conns, ctx->o.threads, w->id);
    }
    switch (phase) {
    case LG_PH_AUTH:
        lg_authpool_run(w, "auth", s->idx, s->n, s->nconn, s->tokens, pool_done, w);
        break;
    case LG_PH_RUN:
        s->conns = lg_xcalloc((size_t)s->nconn, sizeof(lg_http));
        s->active = s->nconn;
        if (s->nconn == 0 || (!s->fresh && s->n == 0)) {
            lg_ready(w);
            break;
        }
        for (int i = 0; i < s->nconn; i++) {
            lg_http_init(&s->conns[i], w);
            issue(w, &s->conns[i]);
        }
        break;
    case LG_PH_STOP:
        if (s->conns)
            for (int i = 0; i < s->nconn; i++)
                lg_http_close(&s->conns[i], NULL);
        break;
    default: break;
    }
}

static int run(lg_ctx *ctx)
{
    lg_opts *o = &ctx->o;
    bool fresh = strcmp(o->mode, "new") == 0;
    printf("## auth: device authenticate, mode %s, %d connections, %d threads%s\n", o->mode,
           o->conns, o->threads, fresh ? "" : lg_fmt(", pool %d devices", o->pool));
    if (!fresh) {
        lg_phase_set(ctx, LG_PH_AUTH);
        if (lg_wait_ready(ctx, 110, "creating device pool", LG_C_AUTH_OK, (uint64_t)o->pool) < 0)
            return 1;
        if (lg_sum(ctx, LG_C_AUTH_OK) == 0) {
            fputs("tomo-bench: no device could authenticate\n", stderr);
            return 1;
        }
    }
    lg_mark a, b;
    lg_plan_window(ctx);
    lg_phase_set(ctx, LG_PH_RUN);
    lg_mark_take(ctx, &a);
    lg_sleep_until(ctx, ctx->t_win0, "warmup auth", LG_C_RECV);
    lg_mark_take(ctx, &a);
    lg_sleep_until(ctx, ctx->t_win1, "auth", LG_C_RECV);
    lg_mark_take(ctx, &b);
    lg_wait_ready(ctx, 10, "draining", LG_C_RECV, lg_sum(ctx, LG_C_SENT));
    lg_workers_stop(ctx);

    lg_hist h;
    lg_hist_merged(ctx, LG_H_LAT, &h);
    double win = lg_win_s(ctx);
    uint64_t ok = lg_sum(ctx, LG_C_RECV), err = lg_sum(ctx, LG_C_ERR) + lg_sum(ctx, LG_C_AUTH_ERR);
    lg_table t;
    lg_table_init(&t, "auth", "value", NULL);
    lg_table_row(&t, "requests in window", lg_fmt("%llu", (unsigned long long)h.count), NULL);
    lg_table_row(&t, "requests/s", lg_fmt("%.0f", (double)h.count / win), NULL);
    lg_table_row(&t, "latency p50 (us)", lg_us(lg_hist_quantile(&h, 0.50)), NULL);
    lg_table_row(&t, "latency p99 (us)", lg_us(lg_hist_quantile(&h, 0.99)), NULL);
    lg_table_row(&t, "latency max (us)", lg_us(h.max), NULL);
    lg_table_row(&t, "errors", lg_fmt("%llu", (unsigned long long)err), NULL);
    lg_table_marks(ctx, &t, &a, &b);
    lg_table_print(&t);
    lg_table_free(&t);
    return lg_verdict(ctx, ok, err);
}

const lg_scenario lg_sc_auth = {"auth", "device authenticate over HTTP (requests/s, p50/p99)", run,
                                on_phase};
