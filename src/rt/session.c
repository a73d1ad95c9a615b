/* rt/session.c: realtime sessions, the registry and outgoing encoding. */
#define _GNU_SOURCE
#include "rt_int.h"
#include "online.h"

#include "../codec/codec.h"
#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"

#include <stdlib.h>
#include <string.h>

tomo_rt_metrics tomo_rt_m;

/* Envelopes sent per type (type names copied on first sight). */
typedef struct out_count {
    uint64_t n, reported;
    char name[];
} out_count;

static void count_out(tomo_rt *rt, const char *type, size_t n, size_t bytes)
{
    out_count *c = tomo_hmap_get(&rt->out_types, type);
    if (!c) {
        size_t l = strlen(type);
        c = tomo_xcalloc(1, sizeof(*c) + l + 1);
        memcpy(c->name, type, l + 1);
        tomo_hmap_put(&rt->out_types, c->name, c);
    }
    c->n += n;
    rt->bytes_out += bytes;
}

void tomo_rt_metrics_flush(tomo_rt *rt)
{
    tomo_rt_handlers_flush_metrics(rt);
    void *v;
    for (size_t i = 0; (i = tomo_hmap_next(&rt->out_types, i, NULL, &v)) != 0;) {
        out_count *c = v;
        if (c->n != c->reported) {
            tomo_metric_add(tomo_rt_m.msgs_out, (const char *[]){c->name},
                            (double)(c->n - c->reported));
            c->reported = c->n;
        }
    }
    if (rt->bytes_in != rt->bytes_in_reported) {
        tomo_metric_add(tomo_rt_m.bytes_in, NULL, (double)(rt->bytes_in - rt->bytes_in_reported));
        rt->bytes_in_reported = rt->bytes_in;
    }
    if (rt->bytes_out != rt->bytes_out_reported) {
        tomo_metric_add(tomo_rt_m.bytes_out, NULL,
                        (double)(rt->bytes_out - rt->bytes_out_reported));
        rt->bytes_out_reported = rt->bytes_out;
    }
}

void tomo_rt_metrics_reset(tomo_rt *rt)
{
    void *v;
    for (size_t i = 0; (i = tomo_hmap_next(&rt->out_types, i, NULL, &v)) != 0;)
        free(v);
    tomo_hmap_free(&rt->out_types);
    rt->bytes_in = rt->bytes_out = rt->bytes_in_reported = rt->bytes_out_reported = 0;
}

const char *tomo_rt_envelope_type(json_t *env)
{
    const char *k;
    json_t *v;
    json_object_foreach(env, k, v)
    {
        if (strcmp(k, "cid"))
            return k;
    }
    return NULL;
}

/* ---- registry ---- */

tomo_rt_session *tomo_rt_session_new(tomo_rt *rt, const tomo_session_claims *c, int format,
                                     const char *lang)
{
    tomo_rt_session *s = tomo_xcalloc(1, sizeof(*s));
    tomo_uuid_v1(s->id);
    memcpy(s->user_id, c->user_id, sizeof(s->user_id));
    s->username = tomo_xstrdup(c->username);
    s->lang = tomo_xstrdup(lang && *lang ? lang : "en");
    s->vars = c->vars ? json_incref(c->vars) : NULL;
    s->expiry = c->exp;
    s->format = (uint8_t)format;
    s->rt = rt;
    s->origin = rt->origin;
    s->_refs = 1; /* the socket's reference, dropped when it closes */
    s->_last_in_ms = s->_last_ping_ms = (int64_t)uv_now(tomo_loop_uv(rt->loop));
    tomo_hmap_put(&rt->sessions, s->id, s);
    tomo_rt_session *head = tomo_hmap_get(&rt->users, s->user_id);
    s->_user_next = head;
    if (head)
        head->_user_prev = s;
    tomo_hmap_put(&rt->users, s->user_id, s);
    s->_all_next = rt->all;
    if (rt->all)
        rt->all->_all_prev = s;
    rt->all = s;
    rt->nsessions++;
    tomo_rt_online_add(s->user_id);
    tomo_metric_add(tomo_rt_m.sessions_active, NULL, 1);
    return s;
}

void tomo_rt_session_attach(tomo_rt_session *s, tomo_ws *ws) { s->_ws = ws; }

static void unregister(tomo_rt_session *s)
{
    tomo_rt *rt = (s->rt);
    tomo_hmap_del(&rt->sessions, s->id);
    if (s->_user_prev) {
        s->_user_prev->_user_next = s->_user_next;
    } else {
        if (s->_user_next)
            tomo_hmap_put(&rt->users, s->_user_next->user_id, s->_user_next);
        else
            tomo_hmap_del(&rt->users, s->user_id);
    }
    if (s->_user_next)
        s->_user_next->_user_prev = s->_user_prev;
    s->_user_prev = s->_user_next = NULL;
    if (rt->scan_pos == s)
        rt->scan_pos = s->_all_next;
    if (s->_all_prev)
        s->_all_prev->_all_next = s->_all_next;
    else if (rt->all == s)
        rt->all = s->_all_next;
    if (s->_all_next)
        s->_all_next->_all_prev = s->_all_prev;
    s->_all_prev = s->_all_next = NULL;
    rt->nsessions--;
    tomo_rt_online_remove(s->user_id);
    tomo_metric_add(tomo_rt_m.sessions_active, NULL, -1);
}

tomo_rt_session *tomo_rt_session_find(tomo_rt *rt, const char *session_id)
{
    return rt ? tomo_hmap_get(&rt->sessions, session_id) : NULL;
}

tomo_rt_session *tomo_rt_session_first_of_user(tomo_rt *rt, const char *user_id)
{
    return rt ? tomo_hmap_get(&rt->users, user_id) : NULL;
}

tomo_rt_session *tomo_rt_session_next_of_user(tomo_rt_session *s) { return s->_user_next; }

size_t tomo_rt_session_count(tomo_rt *rt)
{
    return rt ? rt->nsessions : 0;
}

size_t tomo_rt_session_count_process(void)
{
    double v = tomo_rt_m.sessions_active ? tomo_metric_value(tomo_rt_m.sessions_active, NULL) : 0;
    return v > 0 ? (size_t)v : 0;
}

int tomo_rt_session_alive(const tomo_rt_session *s)
{
    return !s->_closing && !s->_gone && !s->_ghost;
}

int tomo_rt_session_reachable(const tomo_rt_session *s)
{
    return s->_ghost ? !s->_gone : tomo_rt_session_alive(s);
}

void tomo_rt_session_hold(tomo_rt_session *s) { s->_refs++; }

static void session_free(tomo_rt_session *s)
{
    free(s->username);
    free(s->lang);
    json_decref(s->vars);
    free(s);
}

void tomo_rt_session_release(tomo_rt_session *s)
{
    if (--s->_refs == 0)
        session_free(s);
}

/* Leave everything now: registry, presences, follows. */
static void teardown(tomo_rt_session *s)
{
    tomo_rt *rt = (s->rt);
    s->_closing = 1;
    unregister(s);
    tomo_tracker_untrack_all(rt->tracker, s);
    tomo_rt_status_unfollow_all(s);
    tomo_rt_matchmaker_session_gone(s);
    tomo_rt_presences_gauge(rt);
}

void tomo_rt_session_close(tomo_rt_session *s, json_t *final_envelope, int ws_code,
                           const char *reason)
{
    if (s->_ghost) {
        if (!s->_gone && s->rt && s->rt->routing.close_session)
            s->rt->routing.close_session(s->rt->routing.ctx, s->rt, s, final_envelope, ws_code,
                                         reason);
        return;
    }
    if (s->_closing || s->_gone)
        return;
    if (final_envelope)
        tomo_rt_session_send(s, final_envelope);
    if (s->_closing || s->_gone)
        return; /* the send itself disconnected it */
    teardown(s);
    if (s->_ws)
        tomo_ws_close(s->_ws, ws_code, reason);
}

void tomo_rt_session_on_closed(tomo_rt_session *s)
{
    if (!s->_closing)
        teardown(s);
    s->_gone = 1;
    s->_ws = NULL;
    tomo_rt_session_release(s);
}

/* ---- outgoing ---- */

static tomo_frame *encode(json_t *env, int format)
{
    if (format == TOMO_RT_FORMAT_PROTOBUF) {
        uint8_t *buf = NULL;
        size_t len = 0;
        char err[256];
        if (tomo_codec_json_to_pb(tomo_codec_envelope_desc(), env, &buf, &len, err, sizeof(err)) <
            0) {
            TOMO_LOGE(TOMO_RT, "cannot encode envelope as protobuf error=%s", err);
            return NULL;
        }
        tomo_frame *f = tomo_frame_new(TOMO_WS_BINARY, buf, len);
        free(buf);
        return f;
    }
    char *txt = json_dumps(env, JSON_COMPACT);
    if (!txt) {
        TOMO_LOGE(TOMO_RT, "cannot encode envelope as JSON");
        return NULL;
    }
    tomo_frame *f = tomo_frame_new(TOMO_WS_TEXT, txt, strlen(txt));
    free(txt);
    return f;
}

void tomo_rt_out_init(tomo_rt_out *o, json_t *envelope)
{
    memset(o, 0, sizeof(*o));
    o->env = envelope;
}

void tomo_rt_out_init_json(tomo_rt_out *o, const char *type, const char *json, size_t len,
                           json_t *(*build)(void *arg), void *arg)
{
    memset(o, 0, sizeof(*o));
    o->type = type;
    o->build = build;
    o->build_arg = arg;
    o->frame[TOMO_RT_FORMAT_JSON] = tomo_frame_new(TOMO_WS_TEXT, json, len);
}

static int send_frame(tomo_rt_session *s, tomo_frame *f)
{
    if (!tomo_rt_session_alive(s) || !s->_ws)
        return TOMO_EIO;
    int rc = tomo_ws_send(s->_ws, f);
    if (rc == TOMO_EAGAIN) {
        tomo_metric_add(tomo_rt_m.slow_consumers, NULL, 1);
        TOMO_LOGW(TOMO_RT, "slow consumer disconnected session=%s user=%s queued=%zu", s->id,
                  s->user_id, tomo_ws_queued(s->_ws));
        tomo_rt_session_close(s, NULL, TOMO_WS_CLOSE_POLICY, "Outgoing queue full");
    }
    return rc;
}

tomo_frame *tomo_rt_out_frame(tomo_rt_out *o, int format)
{
    int fmt = format == TOMO_RT_FORMAT_PROTOBUF;
    if (!o->frame[fmt]) {
        if (o->bad & (1 << fmt))
            return NULL;
        if (!o->env && o->build)
            o->env = o->build(o->build_arg);
        o->frame[fmt] = o->env ? encode(o->env, fmt) : NULL;
        if (!o->frame[fmt])
            o->bad |= 1 << fmt;
    }
    return o->frame[fmt];
}

int tomo_rt_out_send(tomo_rt_out *o, tomo_rt_session *s)
{
    if (!tomo_rt_session_alive(s))
        return TOMO_EIO;
    int fmt = s->format == TOMO_RT_FORMAT_PROTOBUF;
    if (!tomo_rt_out_frame(o, fmt))
        return TOMO_EINVAL;
    int rc = send_frame(s, o->frame[fmt]);
    if (rc == 0) {
        o->rt = s->rt;
        o->sent++;
        o->bytes += o->frame[fmt]->len;
    }
    return rc;
}

void tomo_rt_out_clear(tomo_rt_out *o)
{
    if (o->sent) {
        const char *type = o->type ? o->type : o->env ? tomo_rt_envelope_type(o->env) : NULL;
        count_out(o->rt, type ? type : "ack", o->sent, o->bytes);
    }
    tomo_frame_unref(o->frame[0]);
    tomo_frame_unref(o->frame[1]);
    json_decref(o->env);
    o->env = NULL;
    o->frame[0] = o->frame[1] = NULL;
}

int tomo_rt_session_send(tomo_rt_session *s, json_t *envelope)
{
    if (s->_ghost) {
        if (s->_gone || !s->rt || !s->rt->routing.to_sessions)
            return TOMO_EIO;
        const char *id = s->id;
        s->rt->routing.to_sessions(s->rt->routing.ctx, s->rt, s->origin, &id, 1, envelope, NULL);
        return 0;
    }
    tomo_rt_out o;
    tomo_rt_out_init(&o, json_incref(envelope));
    int rc = tomo_rt_out_send(&o, s);
    tomo_rt_out_clear(&o);
    return rc;
}

json_t *tomo_rt_session_presence_json(const tomo_rt_session *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "user_id", json_string(s->user_id));
    json_object_set_new(o, "session_id", json_string(s->id));
    if (s->username && *s->username)
        json_object_set_new(o, "username", json_string(s->username));
    return o;
}
