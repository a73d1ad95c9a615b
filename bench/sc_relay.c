/* bench/sc_relay.c: the `relay` scenario: --matches relayed matches of
 * --players sockets each. Player 0 of a match creates it, the others join
 * with its id; then every player sends match_data_send at --rate Hz. The
 * data carries the send time (CLOCK_MONOTONIC ns), the sender and a
 * sequence number; every other member should receive it as match_data.
 * Reports delivered messages/s, latency and loss (expected deliveries minus
 * received, after a drain). All players of a match live on one worker.
 * Threads: run() on the main thread; the rest on worker loop threads. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nakama.h"
#include "rtclient.h"
#include "scenarios.h"

#define F_JOINED 1
#define MAX_PAYLOAD 3100

typedef struct match {
    char id[128];
    int joined; /* players (creator included) that got their match reply */
    bool ready;
} match;

typedef struct wstate {
    uint64_t *idx; /* global player indices owned here */
    char **tokens;
    int n, nmatch, k;
    match *m;
    int *mglobal; /* global match number of local match i */
    lg_rtc_set set;
    uv_timer_t tick;
    bool tick_on;
    uint64_t sent, rr;
    int ready_matches;
} wstate;

static void pool_done(void *arg) { lg_ready(arg); }
static void connected(lg_rtc_set *set) { lg_ready(set->w); }

static void send_env(lg_rtc *c, const char *fmt, const char *arg)
{
    char env[512];
    int n = snprintf(env, sizeof(env), fmt, ++c->next_cid, arg);
    if (n > 0 && n < (int)sizeof(env))
        lg_rtc_send(c, env, (size_t)n);
}

static void match_player_ready(lg_worker *w, match *m)
{
    wstate *s = w->sc;
    if (++m->joined == s->k && !m->ready) {
        m->ready = true;
        lg_inc(w, LG_C_SETUP_OK, 1);
        if (++s->ready_matches == s->nmatch)
            lg_ready(w);
    }
}

static void setup_fail(lg_worker *w, const char *why, const char *p, size_t n)
{
    lg_inc(w, LG_C_SETUP_ERR, 1);
    if (lg_sum(w->ctx, LG_C_SETUP_ERR) <= 3)
        fprintf(stderr, "tomo-bench: relay setup: %s: %.*s\n", why, (int)(n > 300 ? 300 : n), p);
}

/* Replies during setup (match_create / match_join) and errors. */
static void on_control(lg_rtc *c, const char *p, size_t n)
{
    lg_worker *w = c->set->w;
    wstate *s = w->sc;
    json_t *j = json_loadb(p, n, 0, NULL);
    if (!j) {
        lg_inc(w, LG_C_PARSE_ERR, 1);
        return;
    }
    match *m = &s->m[c->group];
    json_t *jm = json_object_get(j, "match");
    json_t *je = json_object_get(j, "error");
    if (jm && !(c->flags & F_JOINED)) {
        const char *id = json_string_value(json_object_get(jm, "match_id"));
        c->flags |= F_JOINED;
        if (c->gidx % (uint64_t)s->k == 0 && id && strlen(id) < sizeof(m->id)) {
            /* The creator: now the others may join. */
            strcpy(m->id, id);
            match_player_ready(w, m);
            for (int i = 1; i < s->k; i++) {
                lg_rtc *o = c + i;
                if (o->st == LG_RTC_OPEN)
                    send_env(o, "{\"cid\":\"%u\",\"match_join\":{\"match_id\":\"%s\"}}", m->id);
                else
                    setup_fail(w, "player socket not open", "", 0);
            }
        } else if (c->gidx % (uint64_t)s->k != 0) {
            match_player_ready(w, m);
        } else {
            setup_fail(w, "match reply without match_id", p, n);
        }
    } else if (je) {
        if (atomic_load(&w->ctx->phase) == LG_PH_SETUP)
            setup_fail(w, "error envelope", p, n);
        else {
            lg_inc(w, LG_C_ERR, 1);
            if (lg_sum(w->ctx, LG_C_ERR) <= 3)
                fprintf(stderr, "tomo-bench: relay: %.*s\n", (int)(n > 300 ? 300 : n), p);
        }
    }
    /* match_presence_event and other pushes: nothing to do. */
    json_decref(j);
}

static void on_text(lg_rtc *c, const char *p, size_t n)
{
    lg_worker *w = c->set->w;
    if (!lg_has_key(p, n, "match_data")) {
        on_control(c, p, n);
        return;
    }
    uint64_t now = lg_now_ns();
    size_t dl;
    const char *d = lg_scan_str(p, n, "data", &dl);
    uint8_t buf[MAX_PAYLOAD];
    long bn = d ? lg_base64_decode(d, dl, buf, sizeof(buf)) : -1;
    if (bn < 16) {
        lg_inc(w, LG_C_PARSE_ERR, 1);
        return;
    }
    uint64_t ts;
    memcpy(&ts, buf, 8);
    lg_inc(w, LG_C_RECV, 1);
    if (lg_in_win(w->ctx, now)) {
        lg_inc(w, LG_C_RECV_WIN, 1);
        lg_hist_add(&w->h[LG_H_LAT], now > ts ? now - ts : 0);
    }
}

/* Paces all senders of this worker together: at time t, players*rate*t
 * messages are due in total; they go out round robin, which gives each
 * player its --rate on average with evenly spread sends. */
static void on_tick(uv_timer_t *t)
{
    lg_worker *w = t->data;
    wstate *s = w->sc;
    lg_ctx *ctx = w->ctx;
    uint64_t now = lg_now_ns();
    if (now >= ctx->t_stop_send) {
        uv_timer_stop(&s->tick);
        s->tick_on = false;
        lg_ready(w);
        return;
    }
    if (now < ctx->t_run)
        return;
    double total_rate = ctx->o.rate * (double)s->n;
    uint64_t due = (uint64_t)((double)(now - ctx->t_run) / 1e9 * total_rate);
    /* Bound one tick's burst: if the loop fell behind, skip rather than
     * flood (the achieved rate in the table shows it). */
    uint64_t max_burst = (uint64_t)(total_rate / 100) + 16;
    if (due > s->sent + max_burst)
        s->sent = due - max_burst;
    uint8_t raw[MAX_PAYLOAD];
    char b64[MAX_PAYLOAD * 4 / 3 + 8];
    char env[MAX_PAYLOAD * 4 / 3 + 256];
    size_t plen = 16 + (size_t)ctx->o.payload;
    memset(raw + 16, 'x', (size_t)ctx->o.payload);
    bool win = lg_in_win(ctx, now);
    for (int guard = 0; s->sent < due && guard < s->n * 4; guard++) {
        lg_rtc *c = &s->set.c[s->rr++ % (uint64_t)s->n];
        s->sent++;
        match *m = &s->m[c->group];
        if (!m->ready || c->st != LG_RTC_OPEN)
            continue;
        uint64_t ts = lg_now_ns();
        uint32_t seq = ++c->seq, sender = (uint32_t)c->gidx;
        memcpy(raw, &ts, 8);
        memcpy(raw + 8, &seq, 4);
        memcpy(raw + 12, &sender, 4);
        lg_base64_encode(raw, plen, b64);
        int n = snprintf(
            env, sizeof(env),
            "{\"match_data_send\":{\"match_id\":\"%s\",\"op_code\":\"1\",\"data\":\"%s\"}}", m->id,
            b64);
        if (lg_rtc_send(c, env, (size_t)n) == 0) {
            lg_inc(w, LG_C_SENT, 1);
            lg_inc(w, LG_C_EXPECT, (uint64_t)(s->k - 1));
            if (win)
                lg_inc(w, LG_C_SENT_WIN, 1);
        }
    }
}

static void on_phase(lg_worker *w, int phase)
{
    lg_ctx *ctx = w->ctx;
    wstate *s = w->sc;
    if (!s) {
        s = w->sc = lg_xcalloc(1, sizeof(*s));
        s->k = ctx->o.players;
        s->nmatch = lg_owned_count(ctx->o.matches, ctx->o.threads, w->id);
        s->n = s->nmatch * s->k;
        s->m = lg_xcalloc((size_t)(s->nmatch ? s->nmatch : 1), sizeof(match));
        s->idx = lg_xcalloc((size_t)(s->n ? s->n : 1), sizeof(uint64_t));
        s->tokens = lg_xcalloc((size_t)(s->n ? s->n : 1), sizeof(char *));
        for (int mi = 0; mi < s->nmatch; mi++) {
            uint64_t gm = (uint64_t)mi * (uint64_t)ctx->o.threads + (uint64_t)w->id;
            for (int j = 0; j < s->k; j++)
                s->idx[mi * s->k + j] = gm * (uint64_t)s->k + (uint64_t)j;
        }
    }
    switch (phase) {
    case LG_PH_AUTH:
        lg_authpool_run(w, "relay", s->idx, s->n,
                        lg_owned_count(ctx->o.conns, ctx->o.threads, w->id), s->tokens, pool_done,
                        w);
        break;
    case LG_PH_CONNECT:
        lg_rtcs_init(&s->set, w, s->n);
        for (int i = 0; i < s->n; i++) {
            s->set.c[i].gidx = s->idx[i];
            s->set.c[i].token = s->tokens[i];
            s->set.c[i].group = i / s->k;
        }
        s->set.on_text = on_text;
        s->set.on_connected = connected;
        s->set.rate = ctx->o.connect_rate / ctx->o.threads;
        s->set.max_pending = ctx->o.max_pending;
        lg_rtcs_connect(&s->set);
        break;
    case LG_PH_SETUP:
        if (s->nmatch == 0) {
            lg_ready(w);
            break;
        }
        for (int mi = 0; mi < s->nmatch; mi++) {
            lg_rtc *c = &s->set.c[mi * s->k];
            if (c->st == LG_RTC_OPEN)
                send_env(c, "{\"cid\":\"%u\",\"match_create\":{%s}}", "");
            else
                setup_fail(w, "creator socket not open", "", 0);
        }
        break;
    case LG_PH_RUN:
        uv_timer_init(&w->loop, &s->tick);
        s->tick.data = w;
        uv_timer_start(&s->tick, on_tick, 1, 1);
        s->tick_on = true;
        break;
    case LG_PH_STOP:
        if (s->tick_on)
            uv_timer_stop(&s->tick);
        if (s->set.c)
            lg_rtcs_close(&s->set);
        break;
    default: break;
    }
}

static int run(lg_ctx *ctx)
{
    lg_opts *o = &ctx->o;
    if (o->rate < 0)
        o->rate = 20;
    int players = o->matches * o->players;
    printf("## relay: %d matches x %d players, %.1f Hz each, payload %d+16 bytes, %d threads\n",
           o->matches, o->players, o->rate, o->payload, o->threads);
    lg_phase_set(ctx, LG_PH_AUTH);
    if (lg_wait_ready(ctx, 60, "authenticating players", LG_C_AUTH_OK, (uint64_t)players) < 0)
        return 1;
    if (lg_sum(ctx, LG_C_AUTH_OK) == 0) {
        fputs("tomo-bench: no device could authenticate\n", stderr);
        return 1;
    }
    lg_phase_set(ctx, LG_PH_CONNECT);
    if (lg_wait_ready(ctx, 60, "connecting sockets", LG_C_WS_OK, (uint64_t)players) < 0)
        return 1;
    lg_phase_set(ctx, LG_PH_SETUP);
    /* A stuck match does not block the run; it shows as setup failures. */
    lg_wait_ready(ctx, 20, "creating and joining matches", LG_C_SETUP_OK, (uint64_t)o->matches);
    uint64_t ready = lg_sum(ctx, LG_C_SETUP_OK);
    if (ready == 0) {
        fputs("tomo-bench: no match became ready\n", stderr);
        lg_workers_stop(ctx);
        return 1;
    }
    lg_mark a, b;
    lg_plan_window(ctx);
    lg_phase_set(ctx, LG_PH_RUN);
    lg_sleep_until(ctx, ctx->t_win0, "warmup deliveries", LG_C_RECV);
    lg_mark_take(ctx, &a);
    lg_sleep_until(ctx, ctx->t_win1, "deliveries", LG_C_RECV);
    lg_mark_take(ctx, &b);
    /* Drain: wait (at most 2 s) for deliveries still in flight. */
    uint64_t drain_end = lg_now_ns() + 2000000000ull;
    while (lg_now_ns() < drain_end && lg_sum(ctx, LG_C_RECV) < lg_sum(ctx, LG_C_EXPECT))
        lg_sleep_ms(20);
    uint64_t lost_sockets = lg_sum(ctx, LG_C_WS_LOST);
    lg_workers_stop(ctx);

    lg_hist h, hc;
    lg_hist_merged(ctx, LG_H_LAT, &h);
    lg_hist_merged(ctx, LG_H_CONNECT, &hc);
    double win = lg_win_s(ctx);
    uint64_t sent = lg_sum(ctx, LG_C_SENT), expect = lg_sum(ctx, LG_C_EXPECT);
    uint64_t recv = lg_sum(ctx, LG_C_RECV);
    uint64_t loss = expect > recv ? expect - recv : 0;
    lg_table t;
    lg_table_init(&t, "relay", "value", NULL);
    lg_table_row(&t, "matches ready", lg_fmt("%llu of %d", (unsigned long long)ready, o->matches),
                 NULL);
    lg_table_row(&t, "sockets",
                 lg_fmt("%llu of %d", (unsigned long long)lg_sum(ctx, LG_C_WS_OK), players), NULL);
    lg_table_row(&t, "target sends/s", lg_fmt("%.0f", o->rate * players), NULL);
    lg_table_row(&t, "achieved sends/s", lg_fmt("%.0f", (double)lg_sum(ctx, LG_C_SENT_WIN) / win),
                 NULL);
    lg_table_row(&t, "delivered msgs/s", lg_fmt("%.0f", (double)lg_sum(ctx, LG_C_RECV_WIN) / win),
                 NULL);
    lg_table_row(&t, "latency p50 (us)", lg_us(lg_hist_quantile(&h, 0.50)), NULL);
    lg_table_row(&t, "latency p99 (us)", lg_us(lg_hist_quantile(&h, 0.99)), NULL);
    lg_table_row(&t, "latency max (us)", lg_us(h.max), NULL);
    lg_table_row(&t, "messages sent (run)", lg_fmt("%llu", (unsigned long long)sent), NULL);
    lg_table_row(&t, "deliveries expected", lg_fmt("%llu", (unsigned long long)expect), NULL);
    lg_table_row(&t, "deliveries received", lg_fmt("%llu", (unsigned long long)recv), NULL);
    lg_table_row(&t, "loss",
                 lg_fmt("%llu (%.4f%%)", (unsigned long long)loss,
                        expect ? 100.0 * (double)loss / (double)expect : 0.0),
                 NULL);
    lg_table_row(&t, "sockets lost", lg_fmt("%llu", (unsigned long long)lost_sockets), NULL);
    lg_table_row(&t, "connect+upgrade p99 (us)", lg_us(lg_hist_quantile(&hc, 0.99)), NULL);
    lg_table_marks(ctx, &t, &a, &b);
    lg_table_print(&t);
    lg_table_free(&t);
    uint64_t errs = loss + lg_sum(ctx, LG_C_ERR) + lg_sum(ctx, LG_C_PARSE_ERR) +
                    lg_sum(ctx, LG_C_SETUP_ERR) + lost_sockets;
    return lg_verdict(ctx, recv, errs);
}

const lg_scenario lg_sc_relay = {
    "relay", "relayed match data between players (msgs/s, latency, loss)", run, on_phase};
