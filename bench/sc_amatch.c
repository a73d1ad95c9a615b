/* bench/sc_amatch.c: the `amatch` scenario: --matches authoritative Lua
 * matches of --players sockets each. Player 0 of a match creates it through
 * the socket RPC `bench_match_create` (bench/modules/bench_match.lua: the
 * module `bench_match` broadcasts every message of a tick's batch to every
 * member, sender included), then every player joins it and sends
 * match_data_send at --rate Hz. The data carries the send time, the sender
 * and a sequence number; every member should receive it as match_data
 * after the next tick. Reports delivered messages/s, latency (which
 * includes the wait for the tick: up to 1 / tick rate) and loss; the
 * server's tick lateness is its match_tick_lateness_ms histogram
 * (bench/amatch_run.sh reads it). All players of a match live on one
 * worker.
 * Threads: run() on the main thread; the rest on worker loop threads. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec_util.h"
#include "nakama.h"
#include "scenarios.h"
#include "session_pool.h"

#define F_JOINED 1
#define MAX_PAYLOAD 3100

typedef struct match {
    char id[128];
    int joined; /* players (creator included) that got their match reply */
    bool ready;
} match;

typedef struct wstate {
    lg_sessions pool; /* players; match i has sockets i*k .. i*k+k-1 */
    int nmatch, k;
    match *m;
    lg_pacer pacer;
    int ready_matches;
    uint8_t raw[MAX_PAYLOAD]; /* match data: ts, seq, sender, then 'x' padding */
} wstate;

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
        fprintf(stderr, "tomo-bench: amatch setup: %s: %.*s\n", why, (int)(n > 300 ? 300 : n), p);
}

/* Replies during setup (the create RPC, match_join) and errors. */
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
    json_t *jr = json_object_get(j, "rpc");
    json_t *jm = json_object_get(j, "match");
    json_t *je = json_object_get(j, "error");
    if (jr && c->gidx % (uint64_t)s->k == 0 && !m->id[0]) {
        /* The creator got the id: now every player joins. */
        json_t *pl = json_loads(json_string_value(json_object_get(jr, "payload")) ?: "", 0, NULL);
        const char *id = json_string_value(json_object_get(pl, "match_id"));
        if (id && strlen(id) < sizeof(m->id)) {
            strcpy(m->id, id);
            for (int i = 0; i < s->k; i++) {
                lg_rtc *o = c + i;
                if (o->st == LG_RTC_OPEN)
                    send_env(o, "{\"cid\":\"%u\",\"match_join\":{\"match_id\":\"%s\"}}", m->id);
                else
                    setup_fail(w, "player socket not open", "", 0);
            }
        } else {
            setup_fail(w, "create rpc without match_id", p, n);
        }
        json_decref(pl);
    } else if (jm && !(c->flags & F_JOINED)) {
        c->flags |= F_JOINED;
        match_player_ready(w, m);
    } else if (je) {
        if (atomic_load(&w->ctx->phase) == LG_PH_SETUP)
            setup_fail(w, "error envelope", p, n);
        else {
            lg_inc(w, LG_C_ERR, 1);
            if (lg_sum(w->ctx, LG_C_ERR) <= 3)
                fprintf(stderr, "tomo-bench: amatch: %.*s\n", (int)(n > 300 ? 300 : n), p);
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
    uint8_t *buf = NULL;
    size_t bn = 0;
    if (!d || tomo_b64_decode(d, dl, &buf, &bn) != 0 || bn < 16) {
        free(buf);
        lg_inc(w, LG_C_PARSE_ERR, 1);
        return;
    }
    uint64_t ts;
    memcpy(&ts, buf, 8);
    free(buf);
    lg_inc(w, LG_C_RECV, 1);
    if (lg_in_win(w->ctx, now)) {
        lg_inc(w, LG_C_RECV_WIN, 1);
        lg_hist_add(&w->h[LG_H_LAT], now > ts ? now - ts : 0);
    }
}

/* One match_data_send from player i (paced by lg_pacer); every player of
 * the match, the sender too, should receive it. */
static int send_data(lg_worker *w, int i)
{
    wstate *s = w->sc;
    lg_rtc *c = &s->pool.set.c[i];
    match *m = &s->m[c->group];
    if (!m->ready || c->st != LG_RTC_OPEN)
        return -1;
    uint64_t ts = lg_now_ns();
    uint32_t seq = ++c->seq, sender = (uint32_t)c->gidx;
    memcpy(s->raw, &ts, 8);
    memcpy(s->raw + 8, &seq, 4);
    memcpy(s->raw + 12, &sender, 4);
    char *b64 = tomo_b64_encode(s->raw, 16 + (size_t)w->ctx->o.payload, 0);
    char env[MAX_PAYLOAD * 4 / 3 + 256];
    int n =
        snprintf(env, sizeof(env),
                 "{\"match_data_send\":{\"match_id\":\"%s\",\"op_code\":\"1\",\"data\":\"%s\"}}",
                 m->id, b64);
    free(b64);
    return lg_rtc_send(c, env, (size_t)n) == 0 ? s->k : -1;
}

static void on_phase(lg_worker *w, int phase)
{
    lg_ctx *ctx = w->ctx;
    wstate *s = w->sc;
    if (!s) {
        s = w->sc = lg_xcalloc(1, sizeof(*s));
        s->k = ctx->o.players;
        s->nmatch = lg_owned_count(ctx->o.matches, ctx->o.threads, w->id);
        s->m = lg_xcalloc((size_t)(s->nmatch ? s->nmatch : 1), sizeof(match));
        lg_sessions_init(&s->pool, w, "amatch", s->nmatch * s->k);
        /* All players of a match on this worker: global match gm has
         * players gm*k .. gm*k+k-1. */
        for (int mi = 0; mi < s->nmatch; mi++) {
            uint64_t gm = (uint64_t)mi * (uint64_t)ctx->o.threads + (uint64_t)w->id;
            for (int j = 0; j < s->k; j++)
                s->pool.idx[mi * s->k + j] = gm * (uint64_t)s->k + (uint64_t)j;
        }
        s->pool.group_size = s->k;
        s->pool.on_text = on_text;
    }
    switch (phase) {
    case LG_PH_AUTH: lg_sessions_auth(&s->pool); break;
    case LG_PH_CONNECT: lg_sessions_connect(&s->pool); break;
    case LG_PH_SETUP:
        if (s->nmatch == 0) {
            lg_ready(w);
            break;
        }
        for (int mi = 0; mi < s->nmatch; mi++) {
            lg_rtc *c = &s->pool.set.c[mi * s->k];
            if (c->st == LG_RTC_OPEN)
                send_env(c, "{\"cid\":\"%u\",\"rpc\":{\"id\":\"bench_match_create\"%s}}", "");
            else
                setup_fail(w, "creator socket not open", "", 0);
        }
        break;
    case LG_PH_RUN:
        memset(s->raw + 16, 'x', (size_t)ctx->o.payload);
        lg_pacer_start(&s->pacer, w, s->pool.n, ctx->o.rate, send_data);
        break;
    case LG_PH_STOP:
        lg_pacer_stop(&s->pacer);
        lg_sessions_close(&s->pool);
        break;
    default: break;
    }
}

static int run(lg_ctx *ctx)
{
    lg_opts *o = &ctx->o;
    if (o->rate < 0)
        o->rate = 10;
    int players = o->matches * o->players;
    printf("## amatch: %d Lua matches x %d players, %.1f Hz each, payload %d+16 bytes, %d threads\n",
           o->matches, o->players, o->rate, o->payload, o->threads);
    if (lg_sessions_open_all(ctx, "authenticating players", (uint64_t)players) < 0)
        return 1;
    uint64_t ready = lg_sessions_setup_all(ctx, "creating and joining matches",
                                           (uint64_t)o->matches, "no match became ready");
    if (ready == 0)
        return 1;
    lg_mark a, b;
    lg_run_window(ctx, "deliveries", LG_C_RECV, &a, &b);
    /* Drain: wait (at most 2 s) for deliveries still in flight. */
    lg_drain_deliveries(ctx, 2);
    uint64_t lost_sockets = lg_sum(ctx, LG_C_WS_LOST);
    lg_workers_stop(ctx);

    lg_hist h, hc;
    lg_hist_merged(ctx, LG_H_LAT, &h);
    lg_hist_merged(ctx, LG_H_CONNECT, &hc);
    double win = lg_win_s(ctx);
    uint64_t sent = lg_sum(ctx, LG_C_SENT), expect = lg_sum(ctx, LG_C_EXPECT);
    uint64_t recv = lg_sum(ctx, LG_C_RECV);
    lg_table t;
    lg_table_init(&t, "amatch", "value", NULL);
    lg_table_row(&t, "matches ready", lg_fmt("%llu of %d", (unsigned long long)ready, o->matches),
                 NULL);
    lg_table_row(&t, "sockets",
                 lg_fmt("%llu of %d", (unsigned long long)lg_sum(ctx, LG_C_WS_OK), players), NULL);
    lg_table_row(&t, "target sends/s", lg_fmt("%.0f", o->rate * players), NULL);
    lg_table_row(&t, "achieved sends/s", lg_fmt("%.0f", (double)lg_sum(ctx, LG_C_SENT_WIN) / win),
                 NULL);
    lg_table_row(&t, "delivered msgs/s", lg_fmt("%.0f", (double)lg_sum(ctx, LG_C_RECV_WIN) / win),
                 NULL);
    lg_table_latency(&t, "latency", &h);
    lg_table_row(&t, "messages sent (run)", lg_fmt("%llu", (unsigned long long)sent), NULL);
    lg_table_row(&t, "deliveries expected", lg_fmt("%llu", (unsigned long long)expect), NULL);
    lg_table_row(&t, "deliveries received", lg_fmt("%llu", (unsigned long long)recv), NULL);
    uint64_t loss = lg_table_loss(&t, expect, recv);
    lg_table_row(&t, "sockets lost", lg_fmt("%llu", (unsigned long long)lost_sockets), NULL);
    lg_table_row(&t, "connect+upgrade p99 (us)", lg_us(lg_hist_quantile(&hc, 0.99)), NULL);
    lg_table_marks(ctx, &t, &a, &b);
    lg_table_print(&t);
    lg_table_free(&t);
    uint64_t errs = loss + lg_sum(ctx, LG_C_ERR) + lg_sum(ctx, LG_C_PARSE_ERR) +
                    lg_sum(ctx, LG_C_SETUP_ERR) + lost_sockets;
    return lg_verdict(ctx, recv, errs);
}

const lg_scenario lg_sc_amatch = {
    "amatch", "authoritative Lua matches echoing each tick's batch (msgs/s, latency, loss)", run,
    on_phase};
