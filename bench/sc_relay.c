/* bench/sc_relay.c: the `relay` and `amatch` scenarios: --matches matches
 * of --players sockets each.
 * relay: player 0 of a match creates a relayed match, the others join with
 *   its id; every other member should receive each message.
 * amatch: player 0 creates an authoritative Lua match through the socket
 *   RPC `bench_match_create` (bench/modules/bench_match.lua: 10 ticks/s,
 *   every message of a tick's batch broadcast to every member, sender
 *   included), then every player joins it; every member should receive
 *   each message after the next tick, so the latency includes the wait for
 *   it (up to 1 / tick rate). The server's tick lateness is its
 *   match_tick_lateness_ms histogram (bench/amatch_run.sh reads it).
 * Then every player sends match_data_send at --rate Hz. The data carries
 * the send time (CLOCK_MONOTONIC ns), the sender and a sequence number.
 * Reports delivered messages/s, latency and loss (expected deliveries minus
 * received, after a drain). All players of a match live on one worker.
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
    int retries; /* joins answered "Match not found" (a cluster node that has not
                  * heard of the match yet: the join is sent again) */
} match;

typedef struct wstate {
    lg_sessions pool; /* players; match i has sockets i*k .. i*k+k-1 */
    int nmatch, k;
    bool auth; /* amatch */
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
        fprintf(stderr, "tomo-bench: %s setup: %s: %.*s\n", w->ctx->o.scenario, why,
                (int)(n > 300 ? 300 : n), p);
}

/* amatch: the creator's RPC answered {"match_id"}: every player joins. */
static void on_created(lg_rtc *c, match *m, json_t *rpc, const char *p, size_t n)
{
    lg_worker *w = c->set->w;
    wstate *s = w->sc;
    const char *pl = json_string_value(json_object_get(rpc, "payload"));
    json_t *j = pl ? json_loads(pl, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(j, "match_id"));
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
    json_decref(j);
}

/* Replies during setup (match_create or the create RPC, match_join) and
 * errors. */
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
    json_t *jr = json_object_get(j, "rpc");
    if (s->auth && jr && c->gidx % (uint64_t)s->k == 0 && !m->id[0]) {
        on_created(c, m, jr, p, n);
    } else if (s->auth && jm && !(c->flags & F_JOINED)) {
        c->flags |= F_JOINED;
        match_player_ready(w, m);
    } else if (jm && !(c->flags & F_JOINED)) {
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
    } else if (je && atomic_load(&w->ctx->phase) == LG_PH_SETUP && m->id[0] &&
               !(c->flags & F_JOINED) && strstr(p, "Match not found") && m->retries < 5000) {
        m->retries++;
        send_env(c, "{\"cid\":\"%u\",\"match_join\":{\"match_id\":\"%s\"}}", m->id);
    } else if (je) {
        if (atomic_load(&w->ctx->phase) == LG_PH_SETUP)
            setup_fail(w, "error envelope", p, n);
        else {
            lg_inc(w, LG_C_ERR, 1);
            if (lg_sum(w->ctx, LG_C_ERR) <= 3)
                fprintf(stderr, "tomo-bench: %s: %.*s\n", w->ctx->o.scenario,
                        (int)(n > 300 ? 300 : n), p);
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
    /* only the first 16 bytes matter (the send time): decode the first 24
     * characters, no allocation */
    uint8_t buf[32];
    size_t bn = 0;
    if (!d || dl < 24 || tomo_b64_decode_to(d, 24, buf, &bn) != 0 || bn < 16) {
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

/* One match_data_send from player i (paced by lg_pacer); every other
 * player of the match (amatch: every player) should receive it. */
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
    char b64[MAX_PAYLOAD * 4 / 3 + 8];
    tomo_b64_encode_to(s->raw, 16 + (size_t)w->ctx->o.payload, 0, b64);
    char env[MAX_PAYLOAD * 4 / 3 + 256];
    int n =
        snprintf(env, sizeof(env),
                 "{\"match_data_send\":{\"match_id\":\"%s\",\"op_code\":\"1\",\"data\":\"%s\"}}",
                 m->id, b64);
    return lg_rtc_send(c, env, (size_t)n) == 0 ? (s->auth ? s->k : s->k - 1) : -1;
}

static void on_phase(lg_worker *w, int phase)
{
    lg_ctx *ctx = w->ctx;
    wstate *s = w->sc;
    if (!s) {
        s = w->sc = lg_xcalloc(1, sizeof(*s));
        s->k = ctx->o.players;
        s->auth = !strcmp(ctx->o.scenario, "amatch");
        s->nmatch = lg_owned_count(ctx->o.matches, ctx->o.threads, w->id);
        s->m = lg_xcalloc((size_t)(s->nmatch ? s->nmatch : 1), sizeof(match));
        lg_sessions_init(&s->pool, w, ctx->o.scenario, s->nmatch * s->k);
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
            if (c->st == LG_RTC_OPEN && s->auth)
                send_env(c, "{\"cid\":\"%u\",\"rpc\":{\"id\":\"bench_match_create\"%s}}", "");
            else if (c->st == LG_RTC_OPEN)
                send_env(c, "{\"cid\":\"%u\",\"match_create\":{%s}}", "");
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
    int auth = !strcmp(o->scenario, "amatch");
    if (o->rate < 0)
        o->rate = auth ? 10 : 20;
    int players = o->matches * o->players;
    printf("## %s: %d %s matches x %d players, %.1f Hz each, payload %d+16 bytes, %d threads\n",
           o->scenario, o->matches, auth ? "authoritative Lua" : "relayed", o->players, o->rate,
           o->payload, o->threads);
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
    lg_table_init(&t, o->scenario, "value", NULL);
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

const lg_scenario lg_sc_relay = {
    "relay", "relayed match data between players (msgs/s, latency, loss)", run, on_phase};
const lg_scenario lg_sc_amatch = {
    "amatch", "authoritative Lua matches echoing each tick's batch (msgs/s, latency, loss)", run,
    on_phase};
