/* bench/sc_chat.c: the `chat` scenario: --members sockets join one room
 * (channel_join type 1, persistence false); each sends
 * channel_message_send at --rate Hz with content {"t":<send ns>,"s":<id>}.
 * The server acks each send and pushes channel_message to every member,
 * the sender included. Reports messages in/s (acks), deliveries out/s,
 * delivery latency, ack latency and loss.
 * Threads: run() on the main thread; the rest on worker loop threads. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nakama.h"
#include "scenarios.h"
#include "session_pool.h"

#define F_JOINED 1
#define ACK_RING 256 /* send times by cid, for the ack latency */

typedef struct member {
    uint64_t sent_at[ACK_RING];
} member;

typedef struct wstate {
    lg_sessions pool; /* the members */
    int joined;
    member *mem;
    char chan_id[256];
    lg_pacer pacer;
} wstate;

static void count_error(lg_worker *w, const char *p, size_t n)
{
    lg_inc(w, atomic_load(&w->ctx->phase) == LG_PH_SETUP ? LG_C_SETUP_ERR : LG_C_ERR, 1);
    if (lg_sum(w->ctx, LG_C_ERR) + lg_sum(w->ctx, LG_C_SETUP_ERR) <= 3)
        fprintf(stderr, "tomo-bench: chat: %.*s\n", (int)(n > 300 ? 300 : n), p);
}

static void delivered(lg_worker *w, uint64_t ts)
{
    uint64_t now = lg_now_ns();
    lg_inc(w, LG_C_RECV, 1);
    if (lg_in_win(w->ctx, now)) {
        lg_inc(w, LG_C_RECV_WIN, 1);
        lg_hist_add(&w->h[LG_H_LAT], now > ts ? now - ts : 0);
    }
}

/* Slow path: anything the scanners below did not recognise. */
static void on_json(lg_rtc *c, const char *p, size_t n)
{
    lg_worker *w = c->set->w;
    wstate *s = w->sc;
    json_t *j = json_loadb(p, n, 0, NULL);
    if (!j) {
        lg_inc(w, LG_C_PARSE_ERR, 1);
        return;
    }
    json_t *ch = json_object_get(j, "channel");
    json_t *msg = json_object_get(j, "channel_message");
    if (ch && !(c->flags & F_JOINED)) {
        const char *id = json_string_value(json_object_get(ch, "id"));
        c->flags |= F_JOINED;
        if (id && strlen(id) < sizeof(s->chan_id)) {
            strcpy(s->chan_id, id);
            lg_inc(w, LG_C_SETUP_OK, 1);
            if (++s->joined == s->pool.n)
                lg_ready(w);
        } else {
            count_error(w, p, n);
        }
    } else if (msg) {
        const char *content = json_string_value(json_object_get(msg, "content"));
        json_t *cj = content ? json_loads(content, 0, NULL) : NULL;
        json_t *t = cj ? json_object_get(cj, "t") : NULL;
        if (json_is_integer(t))
            delivered(w, (uint64_t)json_integer_value(t));
        else
            lg_inc(w, LG_C_PARSE_ERR, 1);
        json_decref(cj);
    } else if (json_object_get(j, "error")) {
        count_error(w, p, n);
    }
    json_decref(j);
}

static void on_text(lg_rtc *c, const char *p, size_t n)
{
    lg_worker *w = c->set->w;
    wstate *s = w->sc;
    if (lg_has_key(p, n, "channel_message_ack")) {
        size_t cl;
        const char *cid = lg_scan_str(p, n, "cid", &cl);
        uint64_t now = lg_now_ns();
        if (cid && lg_in_win(w->ctx, now)) {
            unsigned long k = strtoul(cid, NULL, 10);
            member *m = &s->mem[c - s->pool.set.c];
            lg_inc(w, LG_C_ACK_WIN, 1);
            lg_hist_add(&w->h[LG_H_LAT2], now - m->sent_at[k % ACK_RING]);
        }
        return;
    }
    if (lg_has_key(p, n, "channel_message")) {
        /* Fast path: the content string holds {\"t\":<ns>,...}. */
        const char *end = p + n;
        const char *q = memmem(p, n, "\\\"t\\\":", 6);
        if (q && q + 6 < end) {
            char *e;
            unsigned long long ts = strtoull(q + 6, &e, 10);
            if (e > q + 6 && e < end) {
                delivered(w, ts);
                return;
            }
        }
    }
    if (lg_has_key(p, n, "channel_presence_event"))
        return;
    on_json(c, p, n);
}

/* One channel_message_send from member i (paced by lg_pacer); every
 * member, the sender included, should receive it. */
static int send_message(lg_worker *w, int i)
{
    wstate *s = w->sc;
    lg_rtc *c = &s->pool.set.c[i];
    if (!(c->flags & F_JOINED) || c->st != LG_RTC_OPEN)
        return -1;
    uint32_t cid = ++c->next_cid;
    uint64_t ts = lg_now_ns();
    s->mem[i].sent_at[cid % ACK_RING] = ts;
    char env[512];
    int n = snprintf(env, sizeof(env),
                     "{\"cid\":\"%u\",\"channel_message_send\":{\"channel_id\":\"%s\","
                     "\"content\":\"{\\\"t\\\":%llu,\\\"s\\\":%llu}\"}}",
                     cid, s->chan_id, (unsigned long long)ts, (unsigned long long)c->gidx);
    return lg_rtc_send(c, env, (size_t)n) == 0 ? w->ctx->o.members : -1;
}

static void on_phase(lg_worker *w, int phase)
{
    lg_ctx *ctx = w->ctx;
    wstate *s = w->sc;
    if (!s) {
        s = w->sc = lg_xcalloc(1, sizeof(*s));
        lg_sessions_init(&s->pool, w, "chat",
                         lg_owned_count(ctx->o.members, ctx->o.threads, w->id));
        s->pool.on_text = on_text;
        s->mem = lg_xcalloc((size_t)(s->pool.n ? s->pool.n : 1), sizeof(member));
    }
    switch (phase) {
    case LG_PH_AUTH: lg_sessions_auth(&s->pool); break;
    case LG_PH_CONNECT: lg_sessions_connect(&s->pool); break;
    case LG_PH_SETUP: {
        if (s->pool.n == 0) {
            lg_ready(w);
            break;
        }
        char env[256];
        for (int i = 0; i < s->pool.n; i++) {
            lg_rtc *c = &s->pool.set.c[i];
            int n = snprintf(env, sizeof(env),
                             "{\"cid\":\"%u\",\"channel_join\":{\"target\":\"%s\",\"type\":1,"
                             "\"persistence\":false}}",
                             ++c->next_cid, ctx->o.room);
            if (lg_rtc_send(c, env, (size_t)n) < 0)
                lg_inc(w, LG_C_SETUP_ERR, 1);
        }
        break;
    }
    case LG_PH_RUN: lg_pacer_start(&s->pacer, w, s->pool.n, ctx->o.rate, send_message); break;
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
        o->rate = 5;
    printf("## chat: 1 room (%s) x %d members, %.1f Hz each, %d threads\n", o->room, o->members,
           o->rate, o->threads);
    if (lg_sessions_open_all(ctx, "authenticating members", (uint64_t)o->members) < 0)
        return 1;
    uint64_t joined = lg_sessions_setup_all(ctx, "joining the room", (uint64_t)o->members,
                                            "no member could join the room");
    if (joined == 0)
        return 1;
    lg_sleep_ms(300); /* let the join presence events settle */
    lg_mark a, b;
    lg_run_window(ctx, "deliveries", LG_C_RECV, &a, &b);
    lg_drain_deliveries(ctx, 2);
    uint64_t lost_sockets = lg_sum(ctx, LG_C_WS_LOST);
    lg_workers_stop(ctx);

    lg_hist h, ha;
    lg_hist_merged(ctx, LG_H_LAT, &h);
    lg_hist_merged(ctx, LG_H_LAT2, &ha);
    double win = lg_win_s(ctx);
    uint64_t expect = lg_sum(ctx, LG_C_EXPECT), recv = lg_sum(ctx, LG_C_RECV);
    /* Members that never joined expect nothing: scale by joined/members. */
    if (joined < (uint64_t)o->members)
        expect = expect / (uint64_t)o->members * joined;
    lg_table t;
    lg_table_init(&t, "chat", "value", NULL);
    lg_table_row(&t, "members joined", lg_fmt("%llu of %d", (unsigned long long)joined, o->members),
                 NULL);
    lg_table_row(&t, "target messages in/s", lg_fmt("%.0f", o->rate * o->members), NULL);
    lg_table_row(&t, "messages in/s (sent)",
                 lg_fmt("%.0f", (double)lg_sum(ctx, LG_C_SENT_WIN) / win), NULL);
    lg_table_row(&t, "messages in/s (acked)",
                 lg_fmt("%.0f", (double)lg_sum(ctx, LG_C_ACK_WIN) / win), NULL);
    lg_table_row(&t, "deliveries out/s", lg_fmt("%.0f", (double)lg_sum(ctx, LG_C_RECV_WIN) / win),
                 NULL);
    lg_table_latency(&t, "delivery latency", &h);
    lg_table_row(&t, "ack latency p50 (us)", lg_us(lg_hist_quantile(&ha, 0.50)), NULL);
    lg_table_row(&t, "ack latency p99 (us)", lg_us(lg_hist_quantile(&ha, 0.99)), NULL);
    lg_table_row(&t, "deliveries expected / received",
                 lg_fmt("%llu / %llu", (unsigned long long)expect, (unsigned long long)recv), NULL);
    uint64_t loss = lg_table_loss(&t, expect, recv);
    lg_table_row(&t, "sockets lost", lg_fmt("%llu", (unsigned long long)lost_sockets), NULL);
    lg_table_marks(ctx, &t, &a, &b);
    lg_table_print(&t);
    lg_table_free(&t);
    uint64_t errs = loss + lg_sum(ctx, LG_C_ERR) + lg_sum(ctx, LG_C_PARSE_ERR) +
                    lg_sum(ctx, LG_C_SETUP_ERR) + lost_sockets;
    return lg_verdict(ctx, recv, errs);
}

const lg_scenario lg_sc_chat = {
    "chat", "one chat room, K members sending (msgs in/s, deliveries/s)", run, on_phase};
