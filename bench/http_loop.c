/* bench/http_loop.c: closed-loop HTTP load (see http_loop.h).
 * Threads: the owning worker's loop thread; lg_hloop_run_all on the main
 *          thread. */
#include "http_loop.h"

void lg_hloop_init(lg_hloop *l, lg_worker *w, int n, lg_hloop_issue issue)
{
    l->w = w;
    l->n = n;
    l->issue = issue;
    l->conns = lg_xcalloc((size_t)(n ? n : 1), sizeof(lg_http));
    for (int i = 0; i < n; i++)
        lg_http_init(&l->conns[i], w);
}

static void stopped(lg_hloop *l)
{
    if (--l->active == 0)
        lg_ready(l->w);
}

void lg_hloop_start(lg_hloop *l)
{
    l->active = l->n;
    if (l->n == 0)
        lg_ready(l->w);
    for (int i = 0; i < l->n; i++)
        if (l->issue(l->w, &l->conns[i]) < 0)
            stopped(l);
}

void lg_hloop_next(lg_hloop *l, lg_http *c)
{
    lg_ctx *ctx = l->w->ctx;
    if (lg_now_ns() < ctx->t_stop_send && atomic_load(&ctx->phase) == LG_PH_RUN &&
        l->issue(l->w, c) == 0)
        return;
    stopped(l);
}

void lg_hloop_ok(lg_hloop *l, lg_http *c, int ok_win, int h)
{
    lg_worker *w = l->w;
    uint64_t now = lg_now_ns();
    lg_inc(w, LG_C_RECV, 1);
    if (lg_in_win(w->ctx, now)) {
        lg_inc(w, ok_win, 1);
        lg_hist_add(&w->h[h], now - c->t_sent);
    }
}

void lg_hloop_close(lg_hloop *l)
{
    for (int i = 0; i < l->n; i++)
        lg_http_close(&l->conns[i], NULL);
}

void lg_hloop_run_all(lg_ctx *ctx, const char *what, lg_mark *a, lg_mark *b)
{
    lg_run_window(ctx, what, LG_C_RECV, a, b);
    lg_wait_ready(ctx, 10, "draining", LG_C_RECV, lg_sum(ctx, LG_C_SENT));
    lg_workers_stop(ctx);
}
