/* rt/hooks.c: socket RPCs and realtime before/after hooks through the
 * runtime seam (rt/hooks.h). Lua never runs on the loop: every call goes to
 * the worker pool and resumes here. */
#define _GNU_SOURCE
#include "hooks.h"

#include "../core/common.h"
#include "../core/log.h"
#include "envelope.h"
#include "modules.h"
#include "rt_int.h"

#include <stdlib.h>
#include <string.h>

static const tomo_rt_runtime no_runtime;

void tomo_rt_set_runtime(tomo_rt *rt, const tomo_rt_runtime *seam)
{
    rt->runtime = seam ? *seam : no_runtime;
}

const tomo_rt_runtime *tomo_rt_runtime_of(tomo_rt *rt)
{
    return rt ? &rt->home->runtime : &no_runtime; /* set on the home loop, used by all */
}

/* ---- rpc envelope ---- */

typedef struct rpc_job {
    char *id;
    int rc, code;
    char *out;
    size_t out_len;
    char msg[512];
} rpc_job;

static void rpc_work(tomo_rt_req *req, void *arg)
{
    rpc_job *j = arg;
    const tomo_rt_runtime *seam = tomo_rt_runtime_of(req->rt);
    json_t *p = json_object_get(req->body, "payload");
    const char *payload = json_string_value(p);
    j->rc = seam->rpc(seam->ctx, req->session, j->id, payload ? payload : "",
                      payload ? json_string_length(p) : 0, &j->out, &j->out_len, &j->code, j->msg,
                      sizeof(j->msg));
}

static void rpc_done(tomo_rt_req *req, void *arg)
{
    rpc_job *j = arg;
    if (j->rc < 0) {
        if (j->code == 5)
            tomo_rt_reply_error(req, TOMO_RT_ERR_RUNTIME_FUNCTION_NOT_FOUND, "%s", j->msg);
        else if (j->code == 3)
            tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "%s", j->msg);
        else /* the socket always reports a runtime exception (as Nakama) */
            tomo_rt_reply_error(req, TOMO_RT_ERR_RUNTIME_FUNCTION_EXCEPTION, "%s", j->msg);
    } else {
        json_t *r = json_object();
        json_object_set_new(r, "id", json_string(j->id));
        if (j->out_len) {
            json_t *s = json_stringn(j->out, j->out_len);
            json_object_set_new(r, "payload", s ? s : json_string(""));
        }
        tomo_rt_reply(req, "rpc", r);
    }
    free(j->out);
    free(j->id);
    free(j);
}

static int h_rpc(tomo_rt_req *req)
{
    const char *id = json_string_value(json_object_get(req->body, "id"));
    if (!id || !*id)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "RPC ID must be set");
    const tomo_rt_runtime *seam = tomo_rt_runtime_of(req->rt);
    if (!seam->rpc)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_RUNTIME_FUNCTION_NOT_FOUND,
                                   "RPC function not found");
    rpc_job *j = tomo_xcalloc(1, sizeof(*j));
    j->id = tomo_xstrdup(id);
    int rc = tomo_rt_async(req, rpc_work, rpc_done, j);
    if (rc != TOMO_RT_ASYNC) {
        free(j->id);
        free(j);
    }
    return rc;
}

void tomo_rt_hooks_init(tomo_rt *rt)
{
    (void)rt;
    tomo_rt_register(rt, "rpc", h_rpc); /* replaces the core "not found" handler */
}

/* ---- before hooks ---- */

typedef struct before_job {
    tomo_rt_handler fn;
    const char *type;
    json_t *out;
    int rc;
    char msg[512];
} before_job;

static void before_work(tomo_rt_req *req, void *arg)
{
    before_job *j = arg;
    const tomo_rt_runtime *seam = tomo_rt_runtime_of(req->rt);
    j->rc = seam->before(seam->ctx, req->session, j->type, req->env, &j->out, j->msg,
                         sizeof(j->msg));
}

static void before_done(tomo_rt_req *req, void *arg)
{
    before_job *j = arg;
    if (j->rc < 0) {
        tomo_rt_reply_error(req, TOMO_RT_ERR_RUNTIME_FUNCTION_EXCEPTION, "%s", j->msg);
    } else if (!j->out) {
        req->replied = 1;
        json_t *e = tomo_rt_error_envelope(req->cid, TOMO_RT_ERR_UNRECOGNIZED_PAYLOAD,
                                           "Requested resource was not found.");
        if (tomo_rt_session_alive(req->session))
            tomo_rt_session_close(req->session, e, TOMO_WS_CLOSE_POLICY,
                                  "Requested resource was not found.");
        json_decref(e);
    } else if (tomo_rt_session_alive(req->session)) {
        req->replied = 1;
        /* the hook's envelope keeps the original cid unless it set one */
        if (req->cid && !json_object_get(j->out, "cid"))
            json_object_set_new(j->out, "cid", json_string(req->cid));
        if (!json_object_get(j->out, j->type)) {
            tomo_rt_reply_error(req, TOMO_RT_ERR_RUNTIME_FUNCTION_EXCEPTION,
                                "Could not complete runtime Before function.");
        } else {
            tomo_rt_dispatch_handler(req->session, j->out, j->type, j->fn, 1);
        }
    }
    json_decref(j->out);
    free(j);
}

int tomo_rt_hooks_before(tomo_rt_session *s, json_t *env, const char *type, tomo_rt_handler fn)
{
    const tomo_rt_runtime *seam = tomo_rt_runtime_of(s->rt);
    if (!seam->has_hook || !seam->before || !strcmp(type, "rpc") ||
        !seam->has_hook(seam->ctx, 0, type))
        return 0;
    before_job *j = tomo_xcalloc(1, sizeof(*j));
    j->fn = fn;
    j->type = type;
    tomo_rt_req *r = tomo_rt_req_new(s, env, type);
    if (tomo_rt_async(r, before_work, before_done, j) != TOMO_RT_ASYNC) {
        free(j);
        tomo_rt_req_finish(r, 0);
    }
    return 1;
}

/* ---- after hooks ---- */

int tomo_rt_hooks_has_after(tomo_rt *rt, const char *type)
{
    const tomo_rt_runtime *seam = tomo_rt_runtime_of(rt);
    return seam->has_hook && seam->after && strcmp(type, "rpc") && seam->has_hook(seam->ctx, 1, type);
}

typedef struct after_job {
    tomo_rt *rt;
    tomo_rt_session *s;
    const char *type;
    json_t *out, *in;
} after_job;

static void after_work(void *arg)
{
    after_job *j = arg;
    const tomo_rt_runtime *seam = tomo_rt_runtime_of(j->rt);
    seam->after(seam->ctx, j->s, j->type, j->out, j->in);
}

static void after_done(void *arg)
{
    after_job *j = arg;
    tomo_rt_session_release(j->s);
    json_decref(j->out);
    json_decref(j->in);
    free(j);
}

void tomo_rt_hooks_after(tomo_rt_req *r)
{
    after_job *j = tomo_xcalloc(1, sizeof(*j));
    j->rt = r->rt;
    j->s = r->session;
    tomo_rt_session_hold(j->s);
    j->type = r->type;
    j->out = json_incref(r->reply_env);
    j->in = json_incref(r->env);
    if (tomo_pool_submit(r->rt->pool, after_work, after_done, j) < 0) {
        TOMO_LOGW(TOMO_RT, "after hook skipped, worker queue full type=%s", r->type);
        after_done(j);
    }
}
