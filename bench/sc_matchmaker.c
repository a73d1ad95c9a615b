/* bench/sc_matchmaker.c: the `matchmaker` scenario: --sessions sockets,
 * each with one matchmaker ticket at a time (min = max = --players, a query
 * on one of 8 modes and 6 regions with a skill window); a socket that gets
 * matchmaker_matched adds its next ticket at once. Reports matched tickets
 * per second over the window and, per interval, the delay of each
 * matchmaker_matched after the first one of that interval (the server's
 * interval start is not visible to clients; the first delivery follows it
 * by one match's work). Start the server with a short
 * --matchmaker.interval_sec (1).
 * Threads: run() on the main thread; the rest on worker loop threads. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nakama.h"
#include "scenarios.h"
#include "session_pool.h"

/* A gap this long between deliveries starts a new interval. */
#define BURST_GAP_NS 250000000ULL

static const char *modes[] = {"duel", "squad", "pairs", "raid", "trio", "ffa", "eight", "team"};
static const char *regions[] = {"eu", "us-east", "us-west", "asia", "sa", "oce"};

typedef struct wstate {
    lg_sessions pool;
    uint64_t last_recv, burst_start;
    uint64_t bursts;
    uint64_t seed;
} wstate;

static uint32_t rnd(wstate *s)
{
    s->seed ^= s->seed << 13;
    s->seed ^= s->seed >> 7;
    s->seed ^= s->seed << 17;
    return (uint32_t)(s->seed >> 11);
}

static void add_ticket(lg_worker *w, lg_rtc *c)
{
    wstate *s = w->sc;
    int k = w->ctx->o.players;
    /* Sockets pair up by mode and region: a socket's pool is its index
     * modulo 48, so every pool fills evenly. */
    int pool = (int)(c->gidx % 48);
    const char *mode = modes[pool % 8], *region = regions[pool / 8];
    int skill = (int)(rnd(s) % 101);
    char env[512];
    int n = snprintf(env, sizeof(env),
                     "{\"cid\":\"%u\",\"matchmaker_add\":{\"min_count\":%d,\"max_count\":%d,"
                     "\"query\":\"+properties.mode:%s +properties.region:%s\","
                     "\"string_properties\":{\"mode\":\"%s\",\"region\":\"%s\"},"
                     "\"numeric_properties\":{\"skill\":%d}}}",
                     ++c->next_cid, k, k, mode, region, mode, region, skill);
    if (lg_rtc_send(c, env, (size_t)n) == 0)
        lg_inc(w, LG_C_SENT, 1);
}

static void on_text(lg_rtc *c, const char *p, size_t n)
{
    lg_worker *w = c->set->w;
    wstate *s = w->sc;
    if (lg_has_key(p, n, "matchmaker_matched")) {
        uint64_t now = lg_now_ns();
        if (!s->last_recv || now - s->last_recv > BURST_GAP_NS) {
            s->burst_start = now;
            s->bursts++;
        }
        s->last_recv = now;
        lg_inc(w, LG_C_RECV, 1);
        if (lg_in_win(w->ctx, now)) {
            lg_inc(w, LG_C_RECV_WIN, 1);
            lg_hist_add(&w->h[LG_H_LAT], now - s->burst_start);
        }
        if (atomic_load(&w->ctx->phase) == LG_PH_RUN)
            add_ticket(w, c);
        return;
    }
    if (lg_has_key(p, n, "error")) {
        lg_inc(w, LG_C_ERR, 1);
        if (lg_sum(w->ctx, LG_C_ERR) <= 3)
            fprintf(stderr, "tomo-bench: matchmaker: %.*s\n", (int)(n > 300 ? 300 : n), p);
        return;
    }
    if (lg_has_key(p, n, "matchmaker_ticket") && lg_in_win(w->ctx, lg_now_ns()))
        lg_inc(w, LG_C_ACK_WIN, 1);
}

static void on_phase(lg_worker *w, int phase)
{
    lg_ctx *ctx = w->ctx;
    wstate *s = w->sc;
    if (!s) {
        s = w->sc = lg_xcalloc(1, sizeof(*s));
        s->seed = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(w->id + 1);
        lg_sessions_init(&s->pool, w, "mm", lg_owned_count(ctx->o.sessions, ctx->o.threads, w->id));
        s->pool.on_text = on_text;
    }
    switch (phase) {
    case LG_PH_AUTH: lg_sessions_auth(&s->pool); break;
    case LG_PH_CONNECT: lg_sessions_connect(&s->pool); break;
    case LG_PH_RUN:
        for (int i = 0; i < s->pool.set.n; i++)
            if (s->pool.set.c[i].st == LG_RTC_OPEN)
                add_ticket(w, &s->pool.set.c[i]);
        break;
    case LG_PH_STOP: lg_sessions_close(&s->pool); break;
    default: break;
    }
}

static int run(lg_ctx *ctx)
{
    lg_opts *o = &ctx->o;
    if (o->players < 2)
        o->players = 2;
    printf("## matchmaker: %d sessions, one ticket each (count %d, 48 mode/region pools), "
           "re-added when matched, %d threads\n",
           o->sessions, o->players, o->threads);
    if (lg_sessions_open_all(ctx, "authenticating players", (uint64_t)o->sessions) < 0)
        return 1;
    lg_mark a, b;
    lg_run_window(ctx, "matched", LG_C_RECV, &a, &b);
    uint64_t lost_sockets = lg_sum(ctx, LG_C_WS_LOST);
    lg_workers_stop(ctx);

    lg_hist h;
    lg_hist_merged(ctx, LG_H_LAT, &h);
    double win = lg_win_s(ctx);
    uint64_t recv = lg_sum(ctx, LG_C_RECV);
    uint64_t bursts = 0;
    for (int i = 0; i < ctx->o.threads; i++) {
        wstate *s = ctx->w[i].sc;
        if (s && s->bursts > bursts)
            bursts = s->bursts;
    }
    lg_table t;
    lg_table_init(&t, "matchmaker", "value", NULL);
    lg_table_row(&t, "sockets",
                 lg_fmt("%llu of %d", (unsigned long long)lg_sum(ctx, LG_C_WS_OK), o->sessions),
                 NULL);
    lg_table_row(&t, "tickets added (run)",
                 lg_fmt("%llu", (unsigned long long)lg_sum(ctx, LG_C_SENT)), NULL);
    lg_table_row(&t, "matched tickets/s", lg_fmt("%.0f", (double)lg_sum(ctx, LG_C_RECV_WIN) / win),
                 NULL);
    lg_table_row(&t, "matchmaker_matched received", lg_fmt("%llu", (unsigned long long)recv), NULL);
    lg_table_row(&t, "intervals seen", lg_fmt("%llu", (unsigned long long)bursts), NULL);
    lg_table_latency(&t, "delay after the interval's first delivery", &h);
    lg_table_row(&t, "sockets lost", lg_fmt("%llu", (unsigned long long)lost_sockets), NULL);
    lg_table_marks(ctx, &t, &a, &b);
    lg_table_print(&t);
    lg_table_free(&t);
    uint64_t errs = lg_sum(ctx, LG_C_ERR) + lg_sum(ctx, LG_C_PARSE_ERR) + lost_sockets;
    return lg_verdict(ctx, recv, errs);
}

const lg_scenario lg_sc_matchmaker = {
    "matchmaker", "matchmaker tickets through sockets (matched tickets/s, delivery delay)", run,
    on_phase};
