/* rt/rt.c: realtime entry points: the /ws upgrade, socket callbacks, the
 * liveness scanner, core envelopes (ping, pong, rpc), shutdown, and the
 * services the API layer calls. */
#define _GNU_SOURCE
#include "rt.h"

#include "../codec/codec.h"
#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"
#include "../core/trace.h"
#include "../svc/session.h"
#include "envelope.h"
#include "modules.h"
#include "amatch.h"
#include "rt_int.h"

#include <ctype.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- socket callbacks ---- */

static void ws_activity(tomo_ws *ws, void *ud)
{
    (void)ws;
    tomo_rt_session *s = ud;
    s->_last_in_ms = (int64_t)uv_now(tomo_loop_uv(s->rt->loop));
}

static void close_malformed(tomo_rt_session *s, int code, const char *why)
{
    TOMO_LOGD(TOMO_RT, "closing socket on malformed input session=%s reason=%s", s->id, why);
    tomo_rt_session_close(s, NULL, code, why);
}

static void ws_message(tomo_ws *ws, int opcode, const uint8_t *data, size_t len, void *ud)
{
    (void)ws;
    tomo_rt_session *s = ud;
    if (!tomo_rt_session_alive(s))
        return;
    s->rt->bytes_in += len;
    int threshold = s->rt->cfg->socket.ping_backoff_threshold;
    if (threshold > 0 && ++s->_msgs_since_ping >= (uint32_t)threshold) {
        /* A chatty client proves it is alive: push the next ping back. */
        s->_msgs_since_ping = 0;
        s->_last_ping_ms = (int64_t)uv_now(tomo_loop_uv(s->rt->loop));
    }
    json_t *env = NULL;
    if (s->format == TOMO_RT_FORMAT_JSON) {
        if (opcode != TOMO_WS_TEXT) {
            close_malformed(s, TOMO_WS_CLOSE_UNSUPPORTED, "Binary frame on a JSON socket");
            return;
        }
        json_error_t jerr;
        json_t *raw = json_loadb((const char *)data, len, 0, &jerr);
        char err[256];
        if (!raw || tomo_codec_json_normalize(tomo_codec_envelope_desc(), raw, &env, err,
                                              sizeof(err)) < 0) {
            json_decref(raw);
            close_malformed(s, TOMO_WS_CLOSE_INVALID_DATA, "Malformed envelope");
            return;
        }
        json_decref(raw);
    } else {
        if (opcode != TOMO_WS_BINARY) {
            close_malformed(s, TOMO_WS_CLOSE_UNSUPPORTED, "Text frame on a protobuf socket");
            return;
        }
        if (tomo_codec_pb_to_json(tomo_codec_envelope_desc(), data, len, &env) < 0) {
            close_malformed(s, TOMO_WS_CLOSE_INVALID_DATA, "Malformed envelope");
            return;
        }
    }
    /* What other loops did before this envelope was sent applies first. */
    tomo_rt_session_hold(s);
    tomo_rt_route_pump(s->rt);
    if (tomo_rt_session_alive(s))
        tomo_rt_dispatch(s, env);
    tomo_rt_session_release(s);
    json_decref(env);
}

static void ws_closed(tomo_ws *ws, int code, void *ud)
{
    (void)ws;
    tomo_rt_session *s = ud;
    tomo_rt *rt = s->rt;
    TOMO_LOGD(TOMO_RT, "socket closed session=%s user=%s code=%d", s->id, s->user_id, code);
    tomo_metric_add(tomo_rt_m.ws_closed, NULL, 1);
    tomo_metric_add(tomo_rt_m.conns_active, NULL, -1);
    tomo_rt_session_on_closed(s);
    if (rt)
        tomo_tracker_flush(rt->tracker, rt);
}

static const tomo_ws_callbacks g_ws_cb = {ws_message, ws_activity, ws_closed};

/* ---- upgrade ---- */

static void respond_text(tomo_http_req *req, int status, const char *msg)
{
    char body[128];
    int n = snprintf(body, sizeof(body), "%s\n", msg);
    tomo_http_respond_raw(req, status,
                          "Content-Type: text/plain; charset=utf-8\r\n"
                          "X-Content-Type-Options: nosniff\r\n",
                          body, (size_t)n);
}

typedef struct upgrade_job {
    tomo_rt *rt;
    tomo_http_req *req;
    char *token;
    char *lang;
    int format, status;
    int ok;
    char client_ip[64], client_port[8];
    tomo_session_claims claims;
    tomo_trace trace; /* the upgrade's server span (traceparent of the request) */
} upgrade_job;

/* single_socket: older sockets of the user are told why, then closed. */
static void kick_one(tomo_rt_session *s)
{
    char id[37], ts[32];
    tomo_uuid_v4(id);
    tomo_rfc3339(tomo_now_sec(), ts);
    json_t *n = json_pack("{s:s,s:s,s:s,s:i,s:s}", "id", id, "subject", "single_socket",
                          "content", "{}", "code", -7, "create_time", ts);
    json_t *env = json_pack("{s:{s:[o]}}", "notifications", "notifications", n);
    tomo_rt_session_close(s, env, TOMO_WS_CLOSE_NORMAL, "server-side session disconnect");
    json_decref(env);
}

/* Local sockets of the user, then those on other loops or nodes (ghosts on
 * the user's notifications stream; their close goes through the routing). */
static void kick_older(tomo_rt_session *keep)
{
    tomo_rt_session *s = tomo_rt_session_first_of_user(keep->rt, keep->user_id);
    while (s) {
        tomo_rt_session *next = tomo_rt_session_next_of_user(s);
        if (s != keep)
            kick_one(s);
        s = next;
    }
    tomo_stream notif = {TOMO_STREAM_NOTIFICATIONS, keep->user_id, NULL, NULL};
    for (tomo_presence *p = tomo_tracker_first(keep->rt->tracker, &notif); p;
         p = tomo_presence_next(p))
        if (p->session->_ghost)
            kick_one(p->session);
}

static void start_session(upgrade_job *j, tomo_sock *tcp, const char *leftover, size_t nleft)
{
    tomo_rt *rt = j->rt;
    const tomo_config *cfg = rt->cfg;
    tomo_rt_session *s = tomo_rt_session_new(rt, &j->claims, j->format, j->lang);
    memcpy(s->client_ip, j->client_ip, sizeof(s->client_ip));
    memcpy(s->client_port, j->client_port, sizeof(s->client_port));
    tomo_ws_config wc = {
        .max_message_bytes = (size_t)cfg->socket.max_message_size_bytes,
        .max_queued_writes = (size_t)cfg->socket.outgoing_queue_size,
        .close_wait_ms = cfg->socket.close_ack_wait_ms > 0 ? (uint64_t)cfg->socket.close_ack_wait_ms
                                                            : 2000,
    };
    tomo_metric_add(tomo_rt_m.ws_opened, NULL, 1);
    tomo_metric_add(tomo_rt_m.conns_active, NULL, 1);
    /* Notifications stream (hidden) marks the socket; status=true adds the
     * user's status presence with an empty status. */
    tomo_stream notif = {TOMO_STREAM_NOTIFICATIONS, s->user_id, NULL, NULL};
    tomo_tracker_track(rt->tracker, s, &notif, 0, 1, NULL);
    tomo_rt_status_follow_self(s);
    if (j->status) {
        tomo_stream st = {TOMO_STREAM_STATUS, s->user_id, NULL, NULL};
        tomo_tracker_track(rt->tracker, s, &st, 0, 0, "");
    }
    TOMO_LOGD(TOMO_RT, "socket opened session=%s user=%s format=%s", s->id, s->user_id,
              j->format ? "protobuf" : "json");
    tomo_ws *ws = tomo_ws_new(rt->ws, tcp, &wc, &g_ws_cb, s);
    tomo_rt_session_attach(s, ws);
    if (cfg->session.single_socket) {
        tomo_rt_route_pump(rt);
        kick_older(s);
    }
    tomo_tracker_flush(rt->tracker, rt);
    /* Envelopes sent right behind the handshake are handled only now that
     * the session can answer. */
    tomo_ws_start(ws, leftover, nleft);
}

static void upgrade_work(void *a)
{
    upgrade_job *j = a;
    tomo_trace_set_current(&j->trace);
    j->ok = tomo_svc_session_verify(j->rt->svc, j->token, &j->claims) == 0;
    tomo_trace_set_current(NULL);
}

static void upgrade_done(void *a)
{
    upgrade_job *j = a;
    tomo_http_req *req = j->req;
    tomo_rt *rt = (j->rt);
    tomo_trace_set_current(&j->trace);
    tomo_trace_end_server(&j->trace, "GET /ws", j->ok ? 0 : TOMO_GRPC_UNAUTHENTICATED, "ws");
    if (!j->ok) {
        respond_text(req, 401, "Missing or invalid token");
        goto out;
    }
    if (!rt || rt->stopping) {
        respond_text(req, 503, "Server shutting down");
        goto out;
    }
    char accept[29];
    tomo_ws_accept_key(tomo_http_header_get(req, "sec-websocket-key"), accept);
    char head[256];
    snprintf(head, sizeof(head),
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: %s\r\n\r\n",
             accept);
    tomo_sock *tcp = NULL;
    char *leftover = NULL;
    size_t nleft = 0;
    tomo_http_client_addr(req, j->client_ip, j->client_port);
    if (tomo_http_upgrade(req, head, &tcp, &leftover, &nleft) < 0)
        goto out; /* answered 400 by the HTTP layer, or the client left */
    start_session(j, tcp, leftover, nleft);
    free(leftover);
out:
    tomo_trace_set_current(NULL);
    tomo_session_claims_clear(&j->claims);
    free(j->token);
    free(j->lang);
    free(j);
}

void tomo_rt_handle_upgrade(tomo_rt *rt, tomo_http_req *req)
{
    char *fmt = tomo_query_get(req->query, "format");
    int format = TOMO_RT_FORMAT_JSON;
    if (fmt && !strcmp(fmt, "protobuf"))
        format = TOMO_RT_FORMAT_PROTOBUF;
    else if (fmt && *fmt && strcmp(fmt, "json")) {
        free(fmt);
        respond_text(req, 400, "Invalid format parameter");
        return;
    }
    free(fmt);
    const char *why = NULL;
    if (tomo_ws_handshake_check(req, &why) < 0) {
        respond_text(req, 400, why);
        return;
    }
    char *token = NULL;
    const char *auth = tomo_http_header_get(req, "authorization");
    if (auth) {
        if (strncmp(auth, "Bearer ", 7)) {
            respond_text(req, 401, "Missing or invalid token");
            return;
        }
        token = tomo_xstrdup(auth + 7);
    } else {
        token = tomo_query_get(req->query, "token");
    }
    if (!token || !*token) {
        free(token);
        respond_text(req, 401, "Missing or invalid token");
        return;
    }
    upgrade_job *j = tomo_xcalloc(1, sizeof(*j));
    j->rt = rt;
    j->req = req;
    j->token = token;
    j->format = format;
    char *st = tomo_query_get(req->query, "status");
    j->status = st && (!strcasecmp(st, "true") || !strcmp(st, "1") || !strcasecmp(st, "t"));
    free(st);
    j->lang = tomo_query_get(req->query, "lang");
    tomo_trace_begin_server(&j->trace, tomo_http_header_get(req, "traceparent"),
                            tomo_http_header_get(req, "tracestate"));
    /* Token checks may consult the revocation store: never on the loop. */
    if (tomo_pool_submit(rt->pool, upgrade_work, upgrade_done, j) < 0) {
        free(j->token);
        free(j->lang);
        free(j);
        respond_text(req, 503, "Server busy, try again");
    }
}

void tomo_rt_handle_ws_port(tomo_http_req *req, void *ud)
{
    tomo_rt *rt = ud;
    if (!strcmp(req->path, "/ws")) {
        tomo_rt_handle_upgrade(rt, req);
        return;
    }
    if (!strcmp(req->path, "/healthcheck")) {
        tomo_http_respond_raw(req, 200, "Content-Type: application/json\r\n", "{}", 2);
        return;
    }
    static const char body[] = "{\"code\":5,\"message\":\"Not Found\"}";
    tomo_http_respond_raw(req, 404, "Content-Type: application/json\r\n", body, sizeof(body) - 1);
}

/* ---- liveness: one timer for every session ---- */

static void scan_tick(uv_timer_t *t)
{
    tomo_rt *rt = t->data;
    const tomo_config *cfg = rt->cfg;
    int64_t now = (int64_t)uv_now(tomo_loop_uv(rt->loop));
    /* Visit a quarter of the sessions (plus a few) per tick: a full pass
     * takes at most four ticks, and no tick does unbounded work. */
    size_t batch = rt->nsessions / 4 + 64;
    tomo_rt_session *s = rt->scan_pos ? rt->scan_pos : rt->all;
    while (s && batch--) {
        tomo_rt_session *next = s->_all_next;
        if (now - s->_last_in_ms >= cfg->socket.pong_wait_ms) {
            TOMO_LOGD(TOMO_RT, "no traffic within pong_wait_ms, closing session=%s", s->id);
            tomo_rt_session_close(s, NULL, TOMO_WS_CLOSE_GOING_AWAY, "Pong timeout");
        } else if (now - s->_last_ping_ms >= cfg->socket.ping_period_ms) {
            s->_last_ping_ms = now;
            s->_msgs_since_ping = 0;
            if (s->_ws)
                tomo_ws_ping(s->_ws);
        }
        if (s->_ws && now - s->_last_in_ms >= 1000)
            rt->trimmed += (size_t)tomo_ws_trim(s->_ws); /* idle: drop the parser's buffers */
        s = next;
    }
    rt->scan_pos = s;
    /* Freed parser buffers sit in the middle of the heap; hand whole free
     * pages back to the kernel now and then so idle RSS really shrinks. But
     * only while this loop is quiet (under 64 KiB/s in since the last
     * scan): under traffic a trim madvises every free page of every arena
     * (TLB shoot-downs on every core) and the match threads and workers
     * fault the pages straight back in (8% of the server's samples in the
     * authoritative-match benchmark at N = 250, docs/BENCHMARKS.md). */
    uint64_t in = rt->bytes_in >= rt->trim_bytes_in ? rt->bytes_in - rt->trim_bytes_in
                                                     : rt->bytes_in;
    int64_t dt = now - rt->trim_check_ms;
    int quiet = in * 1000 < (uint64_t)64 * 1024 * (uint64_t)(dt > 0 ? dt : 1);
    rt->trim_bytes_in = rt->bytes_in;
    rt->trim_check_ms = now;
    if (rt->trimmed >= 256 && quiet && now - rt->last_malloc_trim_ms >= 5000) {
        malloc_trim(0);
        rt->trimmed = 0;
        rt->last_malloc_trim_ms = now;
    }
    tomo_rt_presences_gauge(rt);
    tomo_rt_metrics_flush(rt);
    tomo_tracker_flush(rt->tracker, rt);
}

static void flush_check(uv_check_t *c)
{
    tomo_rt *rt = c->data;
    if (tomo_tracker_pending(rt->tracker))
        tomo_tracker_flush(rt->tracker, rt);
    if (rt->routing.flush)
        rt->routing.flush(rt->routing.ctx, rt);
}

/* Before the loop waits for I/O: what timers and the previous iteration's
 * close callbacks (which run after the check phase) held back must not
 * wait for the next wake-up. */
static void flush_prepare(uv_prepare_t *p)
{
    tomo_rt *rt = p->data;
    if (rt->routing.flush)
        rt->routing.flush(rt->routing.ctx, rt);
}

/* ---- core envelopes ---- */

static int h_ping(tomo_rt_req *req) { return tomo_rt_reply(req, "pong", NULL); }

static int h_pong(tomo_rt_req *req)
{
    req->replied = 1; /* keepalive answer: nothing to send */
    return 0;
}

static int h_rpc(tomo_rt_req *req)
{
    const char *id = json_string_value(json_object_get(req->body, "id"));
    if (!id || !*id)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "RPC ID must be set");
    return tomo_rt_reply_error(req, TOMO_RT_ERR_RUNTIME_FUNCTION_NOT_FOUND,
                               "RPC function not found");
}

void tomo_rt_core_init(tomo_rt *rt)
{
    tomo_rt_register(rt, "ping", h_ping);
    tomo_rt_register(rt, "pong", h_pong);
    tomo_rt_register(rt, "rpc", h_rpc);
}

/* ---- lifecycle ---- */

static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_register_once(void)
{
    tomo_rt_m.conns_active =
        tomo_metrics_gauge("socket_connections_active", "Open WebSocket connections", NULL);
    tomo_rt_m.sessions_active =
        tomo_metrics_gauge("active_sessions_count", "Live realtime sessions", NULL);
    tomo_rt_m.msgs_in = tomo_metrics_counter("realtime_messages_in_total",
                                             "Realtime envelopes received by type", "type");
    tomo_rt_m.msgs_out = tomo_metrics_counter("realtime_messages_out_total",
                                              "Realtime envelopes sent by type", "type");
    tomo_rt_m.bytes_in =
        tomo_metrics_counter("realtime_bytes_in_total", "Realtime message bytes received", NULL);
    tomo_rt_m.bytes_out =
        tomo_metrics_counter("realtime_bytes_out_total", "Realtime message bytes sent", NULL);
    tomo_rt_m.slow_consumers = tomo_metrics_counter(
        "realtime_slow_consumer_disconnects_total",
        "Sessions disconnected because their outgoing queue was full", NULL);
    tomo_rt_m.ws_opened = tomo_metrics_counter("socket_ws_opened", "WebSockets opened", NULL);
    tomo_rt_m.ws_closed = tomo_metrics_counter("socket_ws_closed", "WebSockets closed", NULL);
    tomo_rt_m.presences = tomo_metrics_gauge("presences", "Tracked presences", NULL);
    tomo_metric_set(tomo_rt_m.conns_active, NULL, 0);
    tomo_metric_set(tomo_rt_m.sessions_active, NULL, 0);
}

void tomo_rt_metrics_register(void) { pthread_once(&metrics_once, metrics_register_once); }

/* Local presence changes go to the routing (rt/route.h), to replicate. */
static void observe_local(void *ud, int op, const tomo_rt_session *s, const tomo_stream *st,
                          int persistence, int hidden, const char *status)
{
    tomo_rt *rt = ud;
    if (s->_ghost) {
        if (rt->routing.ghost_presence)
            rt->routing.ghost_presence(rt->routing.ctx, rt, op, s, st, persistence, hidden,
                                       status);
    } else if (rt->routing.presence) {
        rt->routing.presence(rt->routing.ctx, rt, op, s, st, persistence, hidden, status);
    }
}

/* A remote session is gone (its ghost's last presence left): its tickets. */
static void ghost_gone(void *ud, const char *session_id)
{
    tomo_rt_matchmaker_session_id_gone(ud, session_id);
}

tomo_rt *tomo_rt_new(const tomo_rt_deps *deps)
{
    tomo_rt *rt = tomo_xcalloc(1, sizeof(*rt));
    rt->cfg = deps->cfg;
    rt->loop = deps->loop;
    rt->pool = deps->pool;
    rt->db = deps->db;
    rt->svc = deps->svc;
    rt->ratelimit = deps->ratelimit;
    rt->tracker = tomo_tracker_new();
    tomo_tracker_set_owner(rt->tracker, rt);
    tomo_tracker_observe(rt->tracker, observe_local, rt);
    tomo_tracker_on_ghost_gone(rt->tracker, ghost_gone, rt);
    rt->home = rt;
    rt->ws = tomo_ws_loop_new(rt->loop);
    tomo_hmap_init(&rt->sessions);
    tomo_hmap_init(&rt->users);
    tomo_hmap_init(&rt->followers);
    tomo_hmap_init(&rt->handlers);
    tomo_hmap_init(&rt->out_types);
    tomo_hmap_init(&rt->chat_sessions);
    tomo_rt_metrics_register();

    tomo_rt_modules_init(rt);

    uv_loop_t *uv = tomo_loop_uv(rt->loop);
    int period = rt->cfg->socket.ping_period_ms, wait = rt->cfg->socket.pong_wait_ms;
    int tick = (period < wait ? period : wait) / 8;
    if (tick < 20)
        tick = 20;
    if (tick > 500)
        tick = 500;
    uv_timer_init(uv, &rt->scan_timer);
    rt->scan_timer.data = rt;
    uv_timer_start(&rt->scan_timer, scan_tick, (uint64_t)tick, (uint64_t)tick);
    uv_unref((uv_handle_t *)&rt->scan_timer);
    uv_check_init(uv, &rt->flush_check);
    rt->flush_check.data = rt;
    uv_check_start(&rt->flush_check, flush_check);
    uv_unref((uv_handle_t *)&rt->flush_check);
    uv_prepare_init(uv, &rt->flush_prepare);
    rt->flush_prepare.data = rt;
    uv_prepare_start(&rt->flush_prepare, flush_prepare);
    uv_unref((uv_handle_t *)&rt->flush_prepare);
    return rt;
}

void tomo_rt_shutdown(tomo_rt *rt)
{
    if (!rt)
        return;
    rt->stopping = 1;
    while (rt->all)
        tomo_rt_session_close(rt->all, NULL, TOMO_WS_CLOSE_GOING_AWAY, "Server shutting down");
    tomo_tracker_flush(rt->tracker, rt);
    if (rt->routing.flush)
        rt->routing.flush(rt->routing.ctx, rt);
}

static void on_handle_closed(uv_handle_t *h) { (void)h; }

void tomo_rt_close_all(tomo_rt *rt)
{
    if (!rt)
        return;
    rt->stopping = 1;
    while (rt->all) {
        tomo_rt_session *s = rt->all;
        tomo_rt_session_close(s, NULL, TOMO_WS_CLOSE_GOING_AWAY, "Server shutting down");
        if (s->_ws)
            tomo_ws_abort(s->_ws);
    }
    tomo_ws_loop_abort_closing(rt->ws);
    tomo_tracker_flush(rt->tracker, rt);
    if (rt->routing.flush)
        rt->routing.flush(rt->routing.ctx, rt);
    tomo_rt_metrics_flush(rt);
    if (!uv_is_closing((uv_handle_t *)&rt->scan_timer)) {
        uv_timer_stop(&rt->scan_timer);
        uv_close((uv_handle_t *)&rt->scan_timer, on_handle_closed);
        uv_check_stop(&rt->flush_check);
        uv_close((uv_handle_t *)&rt->flush_check, on_handle_closed);
        uv_prepare_stop(&rt->flush_prepare);
        uv_close((uv_handle_t *)&rt->flush_prepare, on_handle_closed);
    }
    tomo_rt_matchmaker_close(rt);
    tomo_rt_amatch_stop_all(rt);
    tomo_ws_loop_close(rt->ws);
}

void tomo_rt_free(tomo_rt *rt)
{
    if (!rt)
        return;
    tomo_rt_amatch_free(rt);
    tomo_rt_status_free(rt);
    tomo_rt_party_free(rt);
    tomo_rt_matchmaker_free(rt);
    tomo_tracker_free(rt->tracker);
    tomo_ws_loop_free(rt->ws);
    tomo_hmap_free(&rt->sessions);
    tomo_hmap_free(&rt->users);
    tomo_hmap_free(&rt->followers);
    tomo_rt_channel_free(rt);
    tomo_rt_handlers_reset(rt);
    tomo_rt_metrics_reset(rt);
    free(rt);
}

static __thread tomo_rt *t_rt;

void tomo_rt_bind_thread(tomo_rt *rt) { t_rt = rt; }

tomo_rt *tomo_rt_of_thread(tomo_rt *fallback) { return t_rt ? t_rt : fallback; }

struct tomo_tracker *tomo_rt_tracker(tomo_rt *rt)
{
    return rt ? rt->tracker : NULL;
}

/* ---- services for the API layer ---- */

/* ---- routing (rt/route.h) ---- */

void tomo_rt_set_routing(tomo_rt *rt, const tomo_rt_routing *routing, uint32_t origin)
{
    if (routing)
        rt->routing = *routing;
    else
        memset(&rt->routing, 0, sizeof(rt->routing));
    rt->origin = origin;
}

uint32_t tomo_rt_origin(const tomo_rt *rt) { return rt->origin; }

void tomo_rt_set_home(tomo_rt *rt, tomo_rt *home) { rt->home = home ? home : rt; }

/* The node an id field names ("uuid.node": an authoritative match or a
 * party) into buf, or "" (relayed, malformed, or this node's). */
static void remote_node_of(tomo_rt *rt, json_t *body, const char *field, char *buf, size_t cap)
{
    buf[0] = '\0';
    const char *id = json_string_value(json_object_get(body, field));
    const char *dot = id ? strchr(id, '.') : NULL;
    if (!dot || !dot[1] || strlen(dot + 1) >= cap || !strcmp(dot + 1, rt->cfg->name))
        return;
    snprintf(buf, cap, "%s", dot + 1);
}

uint32_t tomo_rt_owner_of(tomo_rt *rt, const char *type, json_t *body)
{
    if (!rt->routing.forward)
        return rt->origin;
    int party = !strncmp(type, "party_", 6) && strcmp(type, "party_create");
    if (rt->routing.node_origin &&
        (party || !strcmp(type, "match_join") || !strcmp(type, "match_data_send"))) {
        /* Another node's match or party: its join attempt, input queue or
         * members are there. A node not (or no longer) live: handled here
         * ("Match not found", "Party not found"). */
        char node[64];
        remote_node_of(rt, body, party ? "party_id" : "match_id", node, sizeof(node));
        uint32_t o = *node ? rt->routing.node_origin(rt->routing.ctx, node) : 0;
        if (o)
            return o;
    }
    if (!strncmp(type, "matchmaker_", 11) && rt->routing.matchmaker_origin) {
        /* solo tickets: one matchmaker for the cluster (docs/CLUSTER.md) */
        uint32_t o = rt->routing.matchmaker_origin(rt->routing.ctx);
        if (o)
            return o;
    }
    if (rt->home == rt)
        return rt->origin;
    if (!strncmp(type, "party_", 6) || !strncmp(type, "matchmaker_", 11))
        return rt->home->origin;
    if (!strcmp(type, "match_join")) {
        /* Authoritative matches join on their owner (the join attempt, then
         * the presence, then the reply, in that order); so do token joins
         * (the token names either kind). Relayed ones join anywhere. */
        const char *id = json_string_value(json_object_get(body, "match_id"));
        const char *dot = id ? strchr(id, '.') : NULL;
        if (json_object_get(body, "token") || (dot && dot[1]))
            return rt->home->origin;
    }
    return rt->origin;
}

void tomo_rt_route_forwarded(tomo_rt *rt, const char *session_id, json_t *env, const char *type,
                             const tomo_rt_session_meta *meta)
{
    tomo_rt_session *g = tomo_tracker_ghost(rt->tracker, session_id);
    tomo_rt_handler fn = tomo_rt_handler_of(rt, type);
    if (!g || !fn)
        return; /* the session closed meanwhile */
    if (!g->vars && meta->vars)
        g->vars = json_deep_copy(meta->vars);
    g->expiry = meta->expiry;
    memcpy(g->client_ip, meta->client_ip, sizeof(g->client_ip));
    memcpy(g->client_port, meta->client_port, sizeof(g->client_port));
    tomo_rt_dispatch_handler(g, env, type, fn, 1);
}

int tomo_rt_route_apply(tomo_rt *rt, int op, const char *session_id, const tomo_stream *st,
                        int persistence, int hidden, const char *status)
{
    tomo_rt_session *s = tomo_rt_session_find(rt, session_id);
    if (!s)
        return TOMO_ENOTFOUND;
    if (op == TOMO_TRACKER_UNTRACK)
        tomo_tracker_untrack(rt->tracker, s, st);
    else if (op == TOMO_TRACKER_UPDATE)
        tomo_tracker_update(rt->tracker, s, st, persistence, hidden, status);
    else
        tomo_tracker_track(rt->tracker, s, st, persistence, hidden, status);
    return 0;
}

tomo_rt_session *tomo_rt_route_reach(tomo_rt *rt, const char *session_id)
{
    tomo_rt_session *s = tomo_rt_session_find(rt, session_id);
    return s ? s : tomo_tracker_ghost(rt->tracker, session_id);
}

size_t tomo_rt_route_out(tomo_rt *rt, tomo_rt_out *o, tomo_rt_session *const *ss, size_t n)
{
    size_t sent = 0, ng = 0;
    for (size_t i = 0; i < n; i++) {
        if (ss[i]->_ghost)
            ng++;
        else if (tomo_rt_out_send(o, ss[i]) == 0)
            sent++;
    }
    if (!ng)
        return sent;
    /* Members on other loops or nodes: one hand-off per origin, the JSON
     * frame shared. */
    tomo_rt_session *gstack[64];
    tomo_rt_session **g = ng <= 64 ? gstack : tomo_xmalloc(ng * sizeof(*g));
    ng = 0;
    for (size_t i = 0; i < n; i++)
        if (ss[i]->_ghost && !ss[i]->_gone)
            g[ng++] = ss[i];
    /* The JSON frame, when there is one, is all the hand-off needs (the
     * tree is built on the far side only for a protobuf recipient). */
    tomo_frame *jf = o->frame[TOMO_RT_FORMAT_JSON];
    if (!jf && !o->env && o->build)
        o->env = o->build(o->build_arg);
    if ((o->env || jf) && ng)
        tomo_rt_route_ghosts(rt, g, ng, o->env, jf);
    if (g != gstack)
        free(g);
    return sent;
}

void tomo_rt_route_pump(tomo_rt *rt)
{
    if (rt && rt->routing.pump)
        rt->routing.pump(rt->routing.ctx, rt);
}

void tomo_rt_route_flush(tomo_rt *rt)
{
    tomo_tracker_flush(rt->tracker, rt);
    tomo_rt_presences_gauge(rt);
}

tomo_rt_session *tomo_rt_route_session(tomo_rt *rt, const char *session_id)
{
    return tomo_rt_session_find(rt, session_id);
}

static int out_from(tomo_rt_out *o, json_t *env, tomo_frame *json_frame, char *type,
                    size_t cap);

size_t tomo_rt_route_stream_local(tomo_rt *rt, const tomo_stream *st, json_t *env,
                                  tomo_frame *json_frame, const char *skip_session_id)
{
    const tomo_rt_session *skip =
        skip_session_id ? tomo_rt_session_find(rt, skip_session_id) : NULL;
    tomo_rt_out o;
    char type[64];
    if (out_from(&o, env, json_frame, type, sizeof(type)) < 0)
        return 0;
    size_t n = tomo_tracker_broadcast_out(rt->tracker, st, &o, skip);
    tomo_rt_out_clear(&o);
    return n;
}

size_t tomo_rt_route_stream(tomo_rt *rt, const tomo_stream *st, json_t *env,
                            const tomo_rt_session *skip)
{
    tomo_rt_out o;
    tomo_rt_out_init(&o, json_incref(env));
    size_t n = tomo_tracker_broadcast_out(rt->tracker, st, &o, skip);
    if (rt->routing.to_stream && tomo_tracker_remote_count(rt->tracker, st))
        /* the JSON frame this loop's members got (or one made now) is
         * shared with the other loops: encoded once for the process */
        rt->routing.to_stream(rt->routing.ctx, rt, st, env,
                              tomo_rt_out_frame(&o, TOMO_RT_FORMAT_JSON), skip ? skip->id : NULL);
    tomo_rt_out_clear(&o);
    return n;
}

void tomo_rt_route_ghosts(tomo_rt *rt, tomo_rt_session *const *g, size_t n, json_t *env,
                          tomo_frame *json_frame)
{
    if (!n || !rt->routing.to_sessions)
        return;
    const char *stackv[64];
    uint8_t donev[64] = {0};
    const char **ids = n <= 64 ? stackv : tomo_xmalloc(n * sizeof(*ids));
    uint8_t *done = n <= 64 ? donev : tomo_xcalloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        size_t k = 0;
        for (size_t j = i; j < n; j++)
            if (!done[j] && g[j]->origin == g[i]->origin) {
                done[j] = 1;
                ids[k++] = g[j]->id;
            }
        rt->routing.to_sessions(rt->routing.ctx, rt, g[i]->origin, ids, k, env, json_frame);
    }
    if (done != donev)
        free(done);
    if (ids != stackv)
        free(ids);
}

/* The tree of a JSON frame's text (tomo_rt_out's lazy build: only a
 * protobuf recipient needs it). */
static json_t *frame_tree(void *arg)
{
    size_t len;
    const uint8_t *p = tomo_frame_payload(arg, &len);
    json_t *env = json_loadb((const char *)p, len, 0, NULL);
    if (!json_is_object(env)) {
        json_decref(env);
        return NULL;
    }
    return env;
}

/* The envelope type of a JSON frame, from its first key (the codec and
 * the match_data formatter put it first; a reply's "cid" would come
 * first: -1, as for anything unexpected). */
static int frame_type(tomo_frame *f, char *buf, size_t cap)
{
    size_t len, k = 0;
    const char *p = (const char *)tomo_frame_payload(f, &len);
    if (len < 4 || p[0] != '{' || p[1] != '"')
        return -1;
    for (size_t i = 2; i < len && k + 1 < cap; i++) {
        if (p[i] == '"') {
            buf[k] = '\0';
            return k && strcmp(buf, "cid") ? 0 : -1;
        }
        if (p[i] == '\\')
            return -1;
        buf[k++] = p[i];
    }
    return -1;
}

/* o for a delivery of env, or of json_frame alone (env NULL: the tree
 * parsed from its text only if a protobuf recipient needs it). type (cap
 * bytes) holds the envelope type for o's metrics: it must live until
 * tomo_rt_out_clear. -1: nothing to send. */
static int out_from(tomo_rt_out *o, json_t *env, tomo_frame *json_frame, char *type, size_t cap)
{
    if (!env && json_frame && frame_type(json_frame, type, cap) == 0) {
        memset(o, 0, sizeof(*o));
        o->type = type;
        o->build = frame_tree;
        o->build_arg = json_frame;
    } else {
        json_t *tree = env ? json_incref(env) : json_frame ? frame_tree(json_frame) : NULL;
        if (!tree)
            return -1;
        tomo_rt_out_init(o, tree);
    }
    if (json_frame)
        o->frame[TOMO_RT_FORMAT_JSON] = tomo_frame_ref(json_frame);
    return 0;
}

size_t tomo_rt_route_sessions_local(tomo_rt *rt, const char *const *ids, size_t n, json_t *env,
                                    tomo_frame *json_frame)
{
    tomo_rt_out o;
    char type[64];
    if (out_from(&o, env, json_frame, type, sizeof(type)) < 0)
        return 0;
    size_t sent = 0;
    for (size_t i = 0; i < n; i++) {
        tomo_rt_session *s = tomo_rt_session_find(rt, ids[i]);
        if (s && tomo_rt_out_send(&o, s) == 0)
            sent++;
    }
    tomo_rt_out_clear(&o);
    return sent;
}

/* ---- services for the layers above ---- */

int tomo_rt_send_to_user_local(tomo_rt *rt, const char *user_id, struct json_t *envelope)
{
    if (!rt)
        return 0;
    tomo_rt_out o;
    tomo_rt_out_init(&o, json_incref(envelope));
    int n = 0;
    tomo_rt_session *s = tomo_rt_session_first_of_user(rt, user_id);
    while (s) {
        tomo_rt_session *next = tomo_rt_session_next_of_user(s);
        tomo_rt_session_hold(s);
        if (tomo_rt_out_send(&o, s) == 0)
            n++;
        tomo_rt_session_release(s);
        s = next;
    }
    tomo_rt_out_clear(&o);
    return n;
}

int tomo_rt_send_to_user(tomo_rt *rt, const char *user_id, struct json_t *envelope)
{
    int n = tomo_rt_send_to_user_local(rt, user_id, envelope);
    if (rt && rt->routing.to_user)
        rt->routing.to_user(rt->routing.ctx, rt, user_id, envelope);
    return n;
}

void tomo_rt_disconnect_user_local(tomo_rt *rt, const char *user_id)
{
    if (!rt)
        return;
    tomo_rt_session *s;
    while ((s = tomo_rt_session_first_of_user(rt, user_id)))
        tomo_rt_session_close(s, NULL, TOMO_WS_CLOSE_NORMAL, "server-side session disconnect");
    tomo_tracker_flush(rt->tracker, rt);
}

void tomo_rt_disconnect_user(tomo_rt *rt, const char *user_id)
{
    tomo_rt_disconnect_user_local(rt, user_id);
    if (rt && rt->routing.disconnect_user)
        rt->routing.disconnect_user(rt->routing.ctx, rt, user_id);
}

void tomo_rt_user_stream_leave_local(tomo_rt *rt, const tomo_stream *st, const char *user_id)
{
    for (tomo_rt_session *s = tomo_rt_session_first_of_user(rt, user_id); s;
         s = tomo_rt_session_next_of_user(s))
        tomo_tracker_untrack(rt->tracker, s, st);
    tomo_tracker_flush(rt->tracker, rt);
}

int tomo_rt_user_online(tomo_rt *rt, const char *user_id)
{
    int n = 0;
    for (tomo_rt_session *s = tomo_rt_session_first_of_user(rt, user_id); s;
         s = tomo_rt_session_next_of_user(s))
        n++;
    return n;
}
