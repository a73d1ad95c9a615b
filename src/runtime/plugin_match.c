/* runtime/plugin_match.c: a plugin's authoritative match handler
 * (tomo_match_fns, include/tomo/plugin.h) behind rt's match-handler seam
 * (rt/match_handler.h), and the host's match_* calls over rt's dispatcher.
 * Every function runs on the match's own thread, inside a handler call. */
#define _GNU_SOURCE
#include "plugin_int.h"

#include "../core/common.h"
#include "../core/log.h"
#include "../rt/amatch.h"
#include "../rt/match_handler.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLOG "plugin"
#define MAX_PRESENCES 1024 /* per call */

/* What a plugin's match call sees: valid for that call only. */
struct tomo_match {
    tomo_ctx ctx;
    const tomo_match_ctx *mc;
};

typedef struct handler {
    tomo_runtime *rt;
    const tomo_impl *e; /* rt->plugin_reg entry: fn is the copied tomo_match_fns */
    char err[128];      /* the last failure (handler->error) */
} handler;

static const tomo_match_fns *fns_of(const handler *h) { return h->e->fn; }

static void match_init(tomo_match *m, const handler *h, const tomo_match_ctx *mc)
{
    tomo_plugin_ctx_init(&m->ctx, h->rt, NULL);
    m->ctx.match_id = mc->match_id;
    m->ctx.mc = mc;
    snprintf(m->ctx.tick_rate, sizeof(m->ctx.tick_rate), "%d", mc->tick_rate);
    if (mc->session_exp)
        snprintf(m->ctx.exp, sizeof(m->ctx.exp), "%lld", (long long)mc->session_exp);
    m->mc = mc;
}

static tomo_presence presence_of(const tomo_match_presence *p)
{
    tomo_presence o = {.size = sizeof(o),
                       .user_id = p->user_id,
                       .session_id = p->session_id,
                       .username = p->username,
                       .node = p->node,
                       .reason = p->reason};
    return o;
}

static tomo_match_presence presence_back(const tomo_presence *p)
{
    tomo_match_presence o = {.user_id = p->user_id,
                             .session_id = p->session_id,
                             .username = p->username,
                             .node = p->node};
    return o;
}

/* A plugin result as the seam's: 0 or a logged TOMO_EINVAL. */
static int result(handler *h, const char *what, int r)
{
    if (r == 0)
        return 0;
    snprintf(h->err, sizeof(h->err), "match handler %s failed with code %d", what, r);
    TOMO_LOGE(PLOG, "match handler failed plugin=%s module=%s fn=%s rc=%d", h->e->module, h->e->key,
              what, r);
    return TOMO_EINVAL;
}

static char *json_text(json_t *v)
{
    return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

static int a_init(void *ud, const tomo_match_ctx *mc, json_t *params, void **state, int *tick_rate,
                  char *label, size_t label_len)
{
    handler *h = ud;
    tomo_match m;
    match_init(&m, h, mc);
    char *p = json_text(params);
    if (label_len)
        label[0] = '\0';
    int r = fns_of(h)->init(h->e->ud, &m, p ? p : "{}", state, tick_rate, label, label_len);
    free(p);
    return result(h, "init", r);
}

static int a_join_attempt(void *ud, const tomo_match_ctx *mc, void **state,
                          const tomo_match_presence *p, json_t *metadata, int *accept, char *reason,
                          size_t reason_len)
{
    handler *h = ud;
    tomo_match m;
    match_init(&m, h, mc);
    tomo_presence pr = presence_of(p);
    char *md = json_text(metadata);
    *accept = 0;
    int r = fns_of(h)->join_attempt(h->e->ud, &m, state, &pr, md ? md : "{}", accept, reason,
                                    reason_len);
    free(md);
    return result(h, "join_attempt", r);
}

typedef int (*presence_fn)(void *ud, tomo_match *m, void **state, const tomo_presence *const *ps,
                           size_t n);

static int presences_call(handler *h, const tomo_match_ctx *mc, void **state,
                          const tomo_match_presence *ps, size_t n, presence_fn fn, const char *what)
{
    tomo_match m;
    match_init(&m, h, mc);
    tomo_presence *v = tomo_xcalloc(n ? n : 1, sizeof(*v));
    const tomo_presence **pv = tomo_xcalloc(n ? n : 1, sizeof(*pv));
    for (size_t i = 0; i < n; i++) {
        v[i] = presence_of(&ps[i]);
        pv[i] = &v[i];
    }
    int r = fn(h->e->ud, &m, state, pv, n);
    free(pv);
    free(v);
    return result(h, what, r);
}

static int a_join(void *ud, const tomo_match_ctx *mc, void **state, const tomo_match_presence *ps,
                  size_t n)
{
    handler *h = ud;
    return presences_call(h, mc, state, ps, n, fns_of(h)->join, "join");
}

static int a_leave(void *ud, const tomo_match_ctx *mc, void **state, const tomo_match_presence *ps,
                   size_t n)
{
    handler *h = ud;
    return presences_call(h, mc, state, ps, n, fns_of(h)->leave, "leave");
}

static int a_loop(void *ud, const tomo_match_ctx *mc, void **state, const tomo_match_message *msgs,
                  size_t n)
{
    handler *h = ud;
    tomo_match m;
    match_init(&m, h, mc);
    tomo_presence *senders = tomo_xcalloc(n ? n : 1, sizeof(*senders));
    tomo_match_data *d = tomo_xcalloc(n ? n : 1, sizeof(*d));
    const tomo_match_data **dv = tomo_xcalloc(n ? n : 1, sizeof(*dv));
    for (size_t i = 0; i < n; i++) {
        senders[i] = presence_of(&msgs[i].sender);
        d[i].size = sizeof(d[i]);
        d[i].sender = &senders[i];
        d[i].op_code = msgs[i].op_code;
        d[i].data = msgs[i].data;
        d[i].len = msgs[i].len;
        d[i].reliable = msgs[i].reliable;
        d[i].receive_time_ms = msgs[i].receive_time_ms;
        dv[i] = &d[i];
    }
    int r = fns_of(h)->loop(h->e->ud, &m, state, dv, n);
    free(dv);
    free(d);
    free(senders);
    return result(h, "loop", r);
}

static int a_signal(void *ud, const tomo_match_ctx *mc, void **state, const char *data, char **res)
{
    handler *h = ud;
    *res = NULL;
    if (!fns_of(h)->signal)
        return 0;
    tomo_match m;
    match_init(&m, h, mc);
    int r = fns_of(h)->signal(h->e->ud, &m, state, data ? data : "", res);
    return result(h, "signal", r);
}

static int a_terminate(void *ud, const tomo_match_ctx *mc, void **state, int grace_seconds)
{
    handler *h = ud;
    if (!fns_of(h)->terminate)
        return 0;
    tomo_match m;
    match_init(&m, h, mc);
    return result(h, "terminate", fns_of(h)->terminate(h->e->ud, &m, state, grace_seconds));
}

static void a_release(void *ud) { free(ud); }
static const char *a_error(void *ud) { return ((handler *)ud)->err; }

int tomo_plugin_match_lookup(tomo_runtime *rt, const char *module, tomo_match_handler *out)
{
    const tomo_impl *e = tomo_registry_get(&rt->plugin_reg, TOMO_REG_T_MATCH, module);
    if (!e)
        return TOMO_ENOTFOUND;
    handler *h = tomo_xcalloc(1, sizeof(*h));
    h->rt = rt;
    h->e = e;
    memset(out, 0, sizeof(*out));
    out->ud = h;
    out->init = a_init;
    out->join_attempt = a_join_attempt;
    out->join = a_join;
    out->leave = a_leave;
    out->loop = a_loop;
    out->signal = a_signal;
    out->terminate = a_terminate;
    out->release = a_release;
    out->error = a_error;
    return 0;
}

/* ---- the host's match calls ---- */

/* Copy a plugin's presence list for the dispatcher (NULL = everyone; an
 * empty list stays a list: nobody). */
static int presences_back(const tomo_presence *const *ps, size_t n, tomo_match_presence **out)
{
    *out = NULL;
    if (!ps)
        return 0;
    if (n > MAX_PRESENCES)
        return TOMO_CODE_INVALID_ARGUMENT;
    *out = tomo_xcalloc(n ? n : 1, sizeof(**out));
    for (size_t i = 0; i < n; i++) {
        if (!ps[i]) {
            free(*out);
            *out = NULL;
            return TOMO_CODE_INVALID_ARGUMENT;
        }
        (*out)[i] = presence_back(ps[i]);
    }
    return 0;
}

static int code_of(int rc)
{
    if (rc == TOMO_ETOOBIG)
        return TOMO_CODE_RESOURCE_EXHAUSTED;
    return rc < 0 ? TOMO_CODE_FAILED_PRECONDITION : 0;
}

static int h_broadcast(tomo_match *m, int64_t op_code, const void *data, size_t len,
                       const tomo_presence *const *presences, size_t n, const tomo_presence *sender,
                       int reliable)
{
    if (!m || !m->mc || !m->mc->dispatcher || !m->mc->dispatcher->broadcast)
        return TOMO_CODE_FAILED_PRECONDITION;
    tomo_match_presence *to;
    int rc = presences_back(presences, n, &to);
    if (rc)
        return rc;
    tomo_match_presence from;
    if (sender)
        from = presence_back(sender);
    const tomo_match_dispatcher *d = m->mc->dispatcher;
    rc = d->broadcast(d->ctx, op_code, data, len, to, n, sender ? &from : NULL, reliable);
    free(to);
    return code_of(rc);
}

static int h_kick(tomo_match *m, const tomo_presence *const *presences, size_t n)
{
    if (!m || !m->mc || !m->mc->dispatcher || !m->mc->dispatcher->kick)
        return TOMO_CODE_FAILED_PRECONDITION;
    if (!presences || !n)
        return 0;
    tomo_match_presence *to;
    int rc = presences_back(presences, n, &to);
    if (rc)
        return rc;
    const tomo_match_dispatcher *d = m->mc->dispatcher;
    rc = d->kick(d->ctx, to, n);
    free(to);
    return code_of(rc);
}

static int h_label_update(tomo_match *m, const char *label)
{
    if (!m || !m->mc || !m->mc->dispatcher || !m->mc->dispatcher->label_update)
        return TOMO_CODE_FAILED_PRECONDITION;
    const tomo_match_dispatcher *d = m->mc->dispatcher;
    return code_of(d->label_update(d->ctx, label ? label : ""));
}

static const char *h_match_id(const tomo_match *m) { return m && m->mc ? m->mc->match_id : NULL; }
static int64_t h_match_tick(const tomo_match *m) { return m && m->mc ? m->mc->tick : 0; }
static const tomo_ctx *h_match_ctx(const tomo_match *m) { return m ? &m->ctx : NULL; }

static int h_match_create(const tomo_ctx *ctx, const char *module, const char *params,
                          char **match_id, char **error)
{
    tomo_rt *rtx = ctx ? ctx->rt->deps.rt : NULL;
    if (match_id)
        *match_id = NULL;
    if (!rtx)
        return tomo_plugin_fail(error, TOMO_CODE_UNAVAILABLE, "matches need the realtime layer");
    if (ctx->mc)
        return tomo_plugin_fail(error, TOMO_CODE_FAILED_PRECONDITION,
                                "match_create is not allowed from a match's own calls");
    if (!module || !*module)
        return tomo_plugin_fail(error, TOMO_CODE_INVALID_ARGUMENT, "expects a module name");
    json_t *p = NULL;
    if (params && *params) {
        p = json_loads(params, 0, NULL);
        if (!json_is_object(p)) {
            json_decref(p);
            return tomo_plugin_fail(error, TOMO_CODE_INVALID_ARGUMENT,
                                    "params must be a JSON object");
        }
    }
    char id[TOMO_MATCH_ID_MAX], err[512] = "";
    int rc = tomo_rt_amatch_create(rtx, module, p, id, err, sizeof(err));
    json_decref(p);
    if (rc == TOMO_ENOTFOUND)
        return tomo_plugin_fail(error, TOMO_CODE_NOT_FOUND, "error creating match: %s", err);
    if (rc < 0)
        return tomo_plugin_fail(error, TOMO_CODE_INTERNAL, "error creating match: %s", err);
    if (match_id)
        *match_id = tomo_xstrdup(id);
    return 0;
}

void tomo_plugin_host_fill_match(tomo_host *h)
{
    h->match_create = h_match_create;
    h->match_broadcast = h_broadcast;
    h->match_kick = h_kick;
    h->match_label_update = h_label_update;
    h->match_id = h_match_id;
    h->match_tick = h_match_tick;
    h->match_ctx = h_match_ctx;
}
