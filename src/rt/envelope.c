/* rt/envelope.c: the dispatch table, replies and pool hand-off. */
#define _GNU_SOURCE
#include "envelope.h"

#include "../core/common.h"
#include "../core/log.h"
#include "../core/ratelimit.h"
#include "rt_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef struct handler_entry {
    const char *type;
    tomo_rt_handler fn;
    uint64_t count, reported; /* envelopes received; pushed to metrics in batches */
} handler_entry;

void tomo_rt_register(tomo_rt *rt, const char *type, tomo_rt_handler fn)
{
    handler_entry *e = tomo_hmap_get(&rt->handlers, type);
    if (!e) {
        e = tomo_xcalloc(1, sizeof(*e));
        e->type = type;
        tomo_hmap_put(&rt->handlers, e->type, e);
    }
    e->fn = fn;
}

static handler_entry *entry_of(tomo_rt *rt, const char *type)
{
    return tomo_hmap_get(&rt->handlers, type);
}

tomo_rt_handler tomo_rt_handler_of(tomo_rt *rt, const char *type)
{
    handler_entry *e = entry_of(rt, type);
    return e ? e->fn : NULL;
}

void tomo_rt_handlers_flush_metrics(tomo_rt *rt)
{
    void *v;
    for (size_t i = 0; (i = tomo_hmap_next(&rt->handlers, i, NULL, &v)) != 0;) {
        handler_entry *e = v;
        if (e->count != e->reported) {
            tomo_metric_add(tomo_rt_m.msgs_in, (const char *[]){e->type},
                            (double)(e->count - e->reported));
            e->reported = e->count;
        }
    }
}

void tomo_rt_handlers_reset(tomo_rt *rt)
{
    void *v;
    for (size_t i = 0; (i = tomo_hmap_next(&rt->handlers, i, NULL, &v)) != 0;)
        free(v);
    tomo_hmap_free(&rt->handlers);
}

/* ---- replies ---- */

json_t *tomo_rt_error_envelope(const char *cid, int code, const char *message)
{
    json_t *err = json_object();
    if (code)
        json_object_set_new(err, "code", json_integer(code));
    if (message && *message)
        json_object_set_new(err, "message", json_string(message));
    json_t *env = json_object();
    if (cid && *cid)
        json_object_set_new(env, "cid", json_string(cid));
    json_object_set_new(env, "error", err);
    return env;
}

int tomo_rt_reply(tomo_rt_req *req, const char *type, json_t *payload)
{
    req->replied = 1;
    json_t *env = json_object();
    if (req->cid)
        json_object_set_new(env, "cid", json_string(req->cid));
    if (type)
        json_object_set_new(env, type, payload ? payload : json_object());
    else
        json_decref(payload);
    if (req->after_hook && !req->reply_env)
        req->reply_env = json_incref(env);
    if (tomo_rt_session_reachable(req->session))
        tomo_rt_session_send(req->session, env);
    json_decref(env);
    return 0;
}

int tomo_rt_reply_error(tomo_rt_req *req, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    req->replied = 1;
    json_t *env = tomo_rt_error_envelope(req->cid, code, msg);
    if (tomo_rt_session_reachable(req->session))
        tomo_rt_session_send(req->session, env);
    json_decref(env);
    return TOMO_EINVAL;
}

/* ---- requests ---- */

tomo_rt_req *tomo_rt_req_new(tomo_rt_session *s, json_t *env, const char *type)
{
    tomo_rt_req *r = tomo_xcalloc(1, sizeof(*r));
    r->rt = s->rt;
    r->session = s;
    tomo_rt_session_hold(s);
    const char *cid = json_string_value(json_object_get(env, "cid"));
    r->cid = cid && *cid ? tomo_xstrdup(cid) : NULL;
    r->type = type;
    r->env = json_incref(env);
    r->body = json_object_get(env, type);
    return r;
}

static void req_free(tomo_rt_req *r)
{
    free(r->cid);
    json_decref(r->reply_env);
    json_decref(r->env);
    tomo_rt_session_release(r->session);
    free(r);
}

static void after_handler(tomo_rt_req *r, int rc)
{
    if (rc < 0 && !r->replied)
        tomo_rt_reply_error(r, TOMO_RT_ERR_RUNTIME_EXCEPTION, "Internal error");
    if (r->after_hook && r->reply_env && rc >= 0)
        tomo_rt_hooks_after(r);
    tomo_rt *rt = r->rt;
    req_free(r);
    /* Replies first, then the presence events they caused. */
    if (rt)
        tomo_tracker_flush(rt->tracker, rt);
}

typedef struct job {
    tomo_rt_req *req;
    void (*work)(tomo_rt_req *req, void *arg);
    void (*done)(tomo_rt_req *req, void *arg);
    void *arg;
} job;

static void job_work(void *a)
{
    job *j = a;
    j->work(j->req, j->arg);
}

static void job_done(void *a)
{
    job *j = a;
    j->done(j->req, j->arg);
    after_handler(j->req, 0);
    free(j);
}

int tomo_rt_async(tomo_rt_req *req, void (*work)(tomo_rt_req *req, void *arg),
                  void (*done)(tomo_rt_req *req, void *arg), void *arg)
{
    job *j = tomo_xmalloc(sizeof(*j));
    j->req = req;
    j->work = work;
    j->done = done;
    j->arg = arg;
    if (tomo_pool_submit(req->rt->pool, job_work, job_done, j) < 0) {
        free(j);
        tomo_rt_reply_error(req, TOMO_RT_ERR_RUNTIME_EXCEPTION, "Server busy, try again.");
        return TOMO_EAGAIN;
    }
    return TOMO_RT_ASYNC;
}

/* ---- dispatch ---- */

void tomo_rt_dispatch(tomo_rt_session *s, json_t *env)
{
    const char *type = tomo_rt_envelope_type(env);
    const char *cid = json_string_value(json_object_get(env, "cid"));
    if (!type) {
        tomo_metric_add(tomo_rt_m.msgs_in, (const char *[]){"none"}, 1);
        json_t *e = tomo_rt_error_envelope(cid, TOMO_RT_ERR_MISSING_PAYLOAD, "Missing message.");
        tomo_rt_session_close(s, e, TOMO_WS_CLOSE_POLICY, "Missing message.");
        json_decref(e);
        return;
    }
    handler_entry *h = entry_of(s->rt, type);
    if (!h || !h->fn) {
        tomo_metric_add(tomo_rt_m.msgs_in, (const char *[]){"unrecognized"}, 1);
        json_t *e =
            tomo_rt_error_envelope(cid, TOMO_RT_ERR_UNRECOGNIZED_PAYLOAD, "Unrecognized message.");
        tomo_rt_session_close(s, e, TOMO_WS_CLOSE_POLICY, "Unrecognized message.");
        json_decref(e);
        return;
    }
    h->count++;
    const tomo_config *cfg = s->rt->cfg;
    int64_t wait = 0;
    if (s->rt->ratelimit && strcmp(h->type, "ping") && strcmp(h->type, "pong") &&
        tomo_ratelimit_take(s->rt->ratelimit, TOMO_RL_SOCKET, s->user_id, strlen(s->user_id),
                            cfg->rate_limit.socket_per_sec, cfg->rate_limit.socket_burst,
                            (int64_t)(tomo_mono_ns() / 1000000), &wait) < 0) {
        tomo_rt_req *r = tomo_rt_req_new(s, env, h->type);
        tomo_rt_reply_error(r, TOMO_RT_ERR_BAD_INPUT,
                            "Rate limit exceeded: retry in %lld ms (rate_limit.socket_per_sec)",
                            (long long)wait);
        after_handler(r, 0);
        return;
    }
    tomo_rt_dispatch_handler(s, env, h->type, h->fn, 0);
}

void tomo_rt_dispatch_handler(tomo_rt_session *s, json_t *env, const char *type,
                              tomo_rt_handler fn, int hooked)
{
    if (!hooked && tomo_rt_hooks_before(s, env, type, fn))
        return;
    tomo_rt *rt = s->rt;
    if (!s->_ghost && rt->routing.forward) {
        /* Parties, the matchmaker, authoritative joins: where they live
         * (rate limit and before hook ran here, on the session's loop). */
        uint32_t owner = tomo_rt_owner_of(rt, type, json_object_get(env, type));
        if (owner != rt->origin) {
            rt->routing.forward(rt->routing.ctx, rt, owner, s, env, type);
            return;
        }
    }
    tomo_rt_req *r = tomo_rt_req_new(s, env, type);
    r->after_hook = tomo_rt_hooks_has_after(s->rt, type);
    int rc = fn(r);
    if (rc == TOMO_RT_ASYNC)
        return;
    if (rc == TOMO_EAGAIN && r->replied)
        rc = 0; /* tomo_rt_async already told the client */
    after_handler(r, rc);
}

void tomo_rt_req_finish(tomo_rt_req *r, int rc) { after_handler(r, rc); }
