/* bench/session_pool.c: authenticated sockets and paced senders (see
 * session_pool.h).
 * Threads: as the header says. */
#include "session_pool.h"

#include <stdio.h>
#include <stdlib.h>

#include "nakama.h"

void lg_sessions_init(lg_sessions *p, lg_worker *w, const char *kind, int n)
{
    lg_ctx *ctx = w->ctx;
    p->w = w;
    p->kind = kind;
    p->n = n;
    p->idx = lg_xcalloc((size_t)(n ? n : 1), sizeof(uint64_t));
    p->tokens = lg_xcalloc((size_t)(n ? n : 1), sizeof(char *));
    for (int i = 0; i < n; i++)
        p->idx[i] = (uint64_t)i * (uint64_t)ctx->o.threads + (uint64_t)w->id;
}

static void auth_done(void *arg)
{
    lg_sessions *p = arg;
    if (p->on_auth)
        p->on_auth(p);
    else
        lg_ready(p->w);
}

void lg_sessions_auth(lg_sessions *p)
{
    lg_ctx *ctx = p->w->ctx;
    lg_authpool_run(p->w, p->kind, p->idx, p->n,
                    lg_owned_count(ctx->o.conns, ctx->o.threads, p->w->id), p->tokens, auth_done,
                    p);
}

void lg_sessions_free_tokens(lg_sessions *p)
{
    for (int i = 0; i < p->n; i++) {
        free(p->tokens[i]);
        p->tokens[i] = NULL;
    }
}

static void connected(lg_rtc_set *set) { lg_ready(set->w); }

void lg_sessions_connect(lg_sessions *p)
{
    lg_ctx *ctx = p->w->ctx;
    lg_rtcs_init(&p->set, p->w, p->n);
    for (int i = 0; i < p->n; i++) {
        p->set.c[i].gidx = p->idx[i];
        p->set.c[i].token = p->tokens[i];
        if (p->group_size > 0)
            p->set.c[i].group = i / p->group_size;
    }
    p->set.on_text = p->on_text;
    p->set.on_connected = connected;
    p->set.rate = ctx->o.connect_rate / ctx->o.threads;
    p->set.max_pending = ctx->o.max_pending;
    lg_rtcs_connect(&p->set);
}

void lg_sessions_close(lg_sessions *p)
{
    if (p->set.c)
        lg_rtcs_close(&p->set);
}

int lg_sessions_auth_all(lg_ctx *ctx, const char *what, uint64_t n, double timeout_s)
{
    lg_phase_set(ctx, LG_PH_AUTH);
    if (lg_wait_ready(ctx, timeout_s, what, LG_C_AUTH_OK, n) < 0)
        return -1;
    if (lg_sum(ctx, LG_C_AUTH_OK) == 0) {
        fputs("tomo-bench: no device could authenticate\n", stderr);
        return -1;
    }
    return 0;
}

int lg_sessions_connect_all(lg_ctx *ctx, uint64_t n, double timeout_s)
{
    lg_phase_set(ctx, LG_PH_CONNECT);
    return lg_wait_ready(ctx, timeout_s, "connecting sockets", LG_C_WS_OK, n);
}

int lg_sessions_open_all(lg_ctx *ctx, const char *what, uint64_t n)
{
    if (lg_sessions_auth_all(ctx, what, n, 60) < 0 || lg_sessions_connect_all(ctx, n, 60) < 0)
        return -1;
    return 0;
}

uint64_t lg_sessions_setup_all(lg_ctx *ctx, const char *what, uint64_t n, const char *fail)
{
    lg_phase_set(ctx, LG_PH_SETUP);
    /* A stuck setup does not block the run; it shows as setup failures. */
    lg_wait_ready(ctx, 20, what, LG_C_SETUP_OK, n);
    uint64_t ok = lg_sum(ctx, LG_C_SETUP_OK);
    if (ok == 0) {
        fprintf(stderr, "tomo-bench: %s\n", fail);
        lg_workers_stop(ctx);
    }
    return ok;
}

void lg_drain_deliveries(lg_ctx *ctx, double timeout_s)
{
    uint64_t end = lg_now_ns() + (uint64_t)(timeout_s * 1e9);
    while (lg_now_ns() < end && lg_sum(ctx, LG_C_RECV) < lg_sum(ctx, LG_C_EXPECT))
        lg_sleep_ms(20);
}

/* At time t, n*rate*t messages are due in total; they go out round robin,
 * which gives each sender its rate on average with evenly spread sends. */
static void on_tick(uv_timer_t *t)
{
    lg_pacer *p = t->data;
    lg_worker *w = p->w;
    lg_ctx *ctx = w->ctx;
    uint64_t now = lg_now_ns();
    if (now >= ctx->t_stop_send) {
        lg_pacer_stop(p);
        lg_ready(w);
        return;
    }
    if (now < ctx->t_run || p->n == 0)
        return;
    double total_rate = p->rate * (double)p->n;
    uint64_t due = (uint64_t)((double)(now - ctx->t_run) / 1e9 * total_rate);
    /* Bound one tick's burst: if the loop fell behind, skip rather than
     * flood (the achieved rate in the table shows it). */
    uint64_t max_burst = (uint64_t)(total_rate / 100) + 16;
    if (due > p->sent + max_burst)
        p->sent = due - max_burst;
    bool win = lg_in_win(ctx, now);
    for (int guard = 0; p->sent < due && guard < p->n * 4; guard++) {
        int i = (int)(p->rr++ % (uint64_t)p->n);
        p->sent++;
        int fanout = p->send(w, i);
        if (fanout < 0)
            continue;
        lg_inc(w, LG_C_SENT, 1);
        lg_inc(w, LG_C_EXPECT, (uint64_t)fanout);
        if (win)
            lg_inc(w, LG_C_SENT_WIN, 1);
    }
}

void lg_pacer_start(lg_pacer *p, lg_worker *w, int n, double rate, lg_pacer_send send)
{
    p->w = w;
    p->n = n;
    p->rate = rate;
    p->send = send;
    uv_timer_init(&w->loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, on_tick, 1, 1);
    p->on = true;
}

void lg_pacer_stop(lg_pacer *p)
{
    if (p->on)
        uv_timer_stop(&p->timer);
    p->on = false;
}
