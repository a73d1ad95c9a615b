/* bench/sc_idle.c: the `idle` scenario: authenticate --sessions devices over
 * HTTP, then open one socket per device at --connect-rate, hold them all for
 * --hold seconds (through the server's ping periods: wslay answers the
 * control pings), and report connects/s, failures, sockets lost while
 * holding, and the server's RSS per session.
 * Threads: run() on the main thread; the rest on worker loop threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nakama.h"
#include "scenarios.h"
#include "session_pool.h"

typedef struct wstate {
    lg_sessions pool;
    uv_timer_t ping;
    bool ping_on;
} wstate;

/* Pongs answer the optional ping envelopes (--client-ping). */
static void on_text(lg_rtc *c, const char *p, size_t n)
{
    lg_worker *w = c->set->w;
    if (lg_has_key(p, n, "pong")) {
        lg_inc(w, LG_C_ACK_WIN, 1);
        lg_hist_add(&w->h[LG_H_LAT], lg_now_ns() - c->t_ping);
    } else if (lg_has_key(p, n, "error")) {
        lg_inc(w, LG_C_ERR, 1);
    }
}

static void on_ping(uv_timer_t *t)
{
    lg_worker *w = t->data;
    wstate *s = w->sc;
    char env[64];
    for (int i = 0; i < s->pool.set.n; i++) {
        lg_rtc *c = &s->pool.set.c[i];
        if (c->st != LG_RTC_OPEN)
            continue;
        int n = snprintf(env, sizeof(env), "{\"cid\":\"%u\",\"ping\":{}}", ++c->next_cid);
        c->t_ping = lg_now_ns();
        if (lg_rtc_send(c, env, (size_t)n) == 0)
            lg_inc(w, LG_C_SENT, 1);
    }
}

static void on_phase(lg_worker *w, int phase)
{
    lg_ctx *ctx = w->ctx;
    wstate *s = w->sc;
    if (!s) {
        s = w->sc = lg_xcalloc(1, sizeof(*s));
        lg_sessions_init(&s->pool, w, "idle",
                         lg_owned_count(ctx->o.sessions, ctx->o.threads, w->id));
        s->pool.on_text = on_text;
    }
    switch (phase) {
    case LG_PH_AUTH: lg_sessions_auth(&s->pool); break;
    case LG_PH_CONNECT: lg_sessions_connect(&s->pool); break;
    case LG_PH_RUN: /* hold */
        if (ctx->o.client_ping > 0) {
            uint64_t ms = (uint64_t)(ctx->o.client_ping * 1000);
            uv_timer_init(&w->loop, &s->ping);
            s->ping.data = w;
            uv_timer_start(&s->ping, on_ping, ms, ms);
            s->ping_on = true;
        }
        break;
    case LG_PH_STOP:
        if (s->ping_on)
            uv_timer_stop(&s->ping);
        lg_sessions_close(&s->pool);
        break;
    default: break;
    }
}

static int run(lg_ctx *ctx)
{
    lg_opts *o = &ctx->o;
    if (o->source_ips == 0 && o->sessions > 25000)
        lg_log(ctx,
               "warning: %d sockets from one source address may exhaust local ports; "
               "consider --source-ips %d",
               o->sessions, o->sessions / 25000 + 1);
    printf("## idle: %d sessions, connect rate %s, hold %.0f s, %d threads, %d source addresses\n",
           o->sessions, o->connect_rate > 0 ? lg_fmt("%.0f/s", o->connect_rate) : "unpaced",
           o->hold, o->threads, ctx->nsrc ? ctx->nsrc : 1);
    uint64_t t0 = lg_now_ns();
    if (lg_sessions_auth_all(ctx, "authenticating devices", (uint64_t)o->sessions, 110) < 0)
        return 1;
    double auth_s = (double)(lg_now_ns() - t0) / 1e9;
    lg_mark m0, m1, m2;
    lg_sleep_ms(500); /* let the server settle after the HTTP burst */
    lg_mark_take(ctx, &m0);
    int timed_out = lg_sessions_connect_all(ctx, (uint64_t)o->sessions, 110);
    lg_mark_take(ctx, &m1);
    uint64_t ok = lg_sum(ctx, LG_C_WS_OK), failed = lg_sum(ctx, LG_C_WS_ERR);
    double conn_s = (double)(m1.t - m0.t) / 1e9;
    if (!timed_out && ok > 0) {
        lg_phase_set(ctx, LG_PH_RUN);
        uint64_t end = lg_now_ns() + (uint64_t)(o->hold * 1e9);
        while (lg_now_ns() < end) {
            uint64_t left = end - lg_now_ns();
            lg_sleep_ms(left > 5000000000ull ? 5000 : (unsigned)(left / 1000000) + 1);
            lg_log(ctx, "holding: %llu open, %llu lost, server RSS %ld KiB",
                   (unsigned long long)(lg_sum(ctx, LG_C_WS_OK) - lg_sum(ctx, LG_C_WS_LOST)),
                   (unsigned long long)lg_sum(ctx, LG_C_WS_LOST), lg_proc_rss_kb(o->server_pid));
        }
    }
    lg_mark_take(ctx, &m2);
    uint64_t lost = lg_sum(ctx, LG_C_WS_LOST);
    lg_workers_stop(ctx);

    lg_hist hc, hp;
    lg_hist_merged(ctx, LG_H_CONNECT, &hc);
    lg_hist_merged(ctx, LG_H_LAT, &hp);
    lg_table t;
    lg_table_init(&t, "idle", "value", NULL);
    lg_table_row(&t, "sessions requested", lg_fmt("%d", o->sessions), NULL);
    lg_table_row(&t, "device auth (s)", lg_fmt("%.2f", auth_s), NULL);
    lg_table_row(&t, "sockets connected", lg_fmt("%llu", (unsigned long long)ok), NULL);
    lg_table_row(&t, "connect failures", lg_fmt("%llu", (unsigned long long)failed), NULL);
    lg_table_row(&t, "connect phase (s)", lg_fmt("%.2f", conn_s), NULL);
    lg_table_row(&t, "connects/s", lg_fmt("%.0f", (double)ok / (conn_s > 0 ? conn_s : 1)), NULL);
    lg_table_row(&t, "connect+upgrade p50 (us)", lg_us(lg_hist_quantile(&hc, 0.5)), NULL);
    lg_table_row(&t, "connect+upgrade p99 (us)", lg_us(lg_hist_quantile(&hc, 0.99)), NULL);
    lg_table_row(&t, "connect+upgrade max (us)", lg_us(hc.max), NULL);
    lg_table_row(&t, "hold (s)", lg_fmt("%.0f", timed_out ? 0.0 : o->hold), NULL);
    lg_table_row(&t, "sockets lost while holding", lg_fmt("%llu", (unsigned long long)lost), NULL);
    if (o->client_ping > 0) {
        lg_table_row(&t, "ping envelopes / pongs",
                     lg_fmt("%llu / %llu", (unsigned long long)lg_sum(ctx, LG_C_SENT),
                            (unsigned long long)lg_sum(ctx, LG_C_ACK_WIN)),
                     NULL);
        lg_table_row(&t, "ping p99 (us)", lg_us(lg_hist_quantile(&hp, 0.99)), NULL);
    }
    if (o->server_pid > 0 && m0.srv_rss_kb >= 0 && m2.srv_rss_kb >= 0) {
        lg_table_row(&t, "server RSS before sockets (MiB)", lg_fmt("%.1f", m0.srv_rss_kb / 1024.0),
                     NULL);
        lg_table_row(&t, "server RSS after connect (MiB)", lg_fmt("%.1f", m1.srv_rss_kb / 1024.0),
                     NULL);
        lg_table_row(&t, "server RSS after hold (MiB)", lg_fmt("%.1f", m2.srv_rss_kb / 1024.0),
                     NULL);
        uint64_t held = ok > lost ? ok - lost : 0;
        if (ok > 0)
            lg_table_row(&t, "server RSS per session after connect (KiB)",
                         lg_fmt("%.2f", (double)(m1.srv_rss_kb - m0.srv_rss_kb) / (double)ok),
                         NULL);
        if (held > 0)
            lg_table_row(&t, "server RSS per session after hold (KiB)",
                         lg_fmt("%.2f", (double)(m2.srv_rss_kb - m0.srv_rss_kb) / (double)held),
                         NULL);
        double dc = (double)(m1.t - m0.t) / 1e9;
        lg_table_row(&t, "server CPU while connecting (% of one core)",
                     lg_fmt("%.0f", 100.0 * (m1.srv_cpu_s - m0.srv_cpu_s) / (dc > 0 ? dc : 1)),
                     NULL);
        double dh = (double)(m2.t - m1.t) / 1e9;
        if (dh > 0.5)
            lg_table_row(&t, "server CPU while holding (% of one core)",
                         lg_fmt("%.1f", 100.0 * (m2.srv_cpu_s - m1.srv_cpu_s) / dh), NULL);
    }
    lg_table_row(
        &t, "tomo-bench CPU while connecting (% of one core)",
        lg_fmt("%.0f", 100.0 * (m1.self_cpu_s - m0.self_cpu_s) / (conn_s > 0 ? conn_s : 1)), NULL);
    lg_table_print(&t);
    lg_table_free(&t);
    /* A device that failed to authenticate is also a failed connect. */
    uint64_t errs = failed + lost + lg_sum(ctx, LG_C_ERR);
    if (timed_out)
        errs += (uint64_t)o->sessions - ok - failed;
    return lg_verdict(ctx, ok > lost ? ok - lost : 0, errs);
}

const lg_scenario lg_sc_idle = {
    "idle", "N idle authenticated sockets (connects/s, RSS per session)", run, on_phase};
