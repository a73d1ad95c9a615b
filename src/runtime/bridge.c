/* runtime/bridge.c: the runtime's side of rt's seam (rt/hooks.h): socket
 * RPCs and realtime hooks with the session's context. Worker threads. */
#define _GNU_SOURCE
#include "bridge.h"
#include "runtime_int.h"

#include "../core/common.h"
#include "../core/log.h"
#include "../rt/hooks.h"
#include "../rt/matchmaker.h"

#include <stdio.h>
#include <string.h>

static void session_call(tomo_runtime_call *c, tomo_rt_session *s, int mode)
{
    memset(c, 0, sizeof(*c));
    c->mode = mode;
    c->user_id = s->user_id;
    c->username = s->username;
    c->vars = s->vars;
    c->session_exp = s->expiry;
    c->session_id = s->id;
    c->lang = s->lang;
    c->client_ip = s->client_ip;
    c->client_port = s->client_port;
}

static int b_rpc(void *ctx, tomo_rt_session *s, const char *id, const char *payload, size_t len,
                 char **out, size_t *out_len, int *code, char *msg, size_t msglen)
{
    tomo_runtime_call c;
    session_call(&c, s, TOMO_RUNTIME_MODE_RPC);
    tomo_err err = {0};
    int rc = tomo_runtime_rpc(ctx, &c, id, payload, len, out, out_len, &err);
    if (rc < 0) {
        *code = err.code;
        snprintf(msg, msglen, "%s", err.msg);
    }
    return rc;
}

static int b_has_hook(void *ctx, int after, const char *type)
{
    return tomo_runtime_has_hook(ctx, after ? TOMO_HOOK_RT_AFTER : TOMO_HOOK_RT_BEFORE, type);
}

static int b_before(void *ctx, tomo_rt_session *s, const char *type, json_t *env, json_t **out,
                    char *msg, size_t msglen)
{
    tomo_runtime_call c;
    session_call(&c, s, TOMO_RUNTIME_MODE_BEFORE);
    tomo_err err = {0};
    int rc = tomo_runtime_before(ctx, TOMO_HOOK_RT_BEFORE, type, &c, env, out, &err);
    if (rc < 0)
        snprintf(msg, msglen, "%s", err.msg);
    return rc;
}

static void b_after(void *ctx, tomo_rt_session *s, const char *type, json_t *out_env,
                    json_t *in_env)
{
    tomo_runtime_call c;
    session_call(&c, s, TOMO_RUNTIME_MODE_AFTER);
    tomo_runtime_after(ctx, TOMO_HOOK_RT_AFTER, type, &c, out_env, in_env);
}

/* register_matchmaker_matched: entries as Nakama gives them (properties
 * merged); a non-empty string result is the match to send the users to. */
static int b_matched(void *ud, const json_t *entries, char **match_id)
{
    tomo_runtime *rt = ud;
    json_t *arr = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e) {
        json_t *x = json_object();
        json_t *pr = json_deep_copy(json_object_get(e, "presence"));
        if (!pr)
            pr = json_object();
        if (!json_object_get(pr, "node") && rt)
            json_object_set_new(pr, "node", json_string(""));
        json_object_set_new(x, "presence", pr);
        json_t *props = json_object();
        json_object_update(props, json_object_get(e, "string_properties"));
        json_object_update(props, json_object_get(e, "numeric_properties"));
        json_object_set_new(x, "properties", props);
        json_t *party = json_object_get(e, "party_id");
        if (json_is_string(party) && json_string_length(party))
            json_object_set(x, "party_id", party);
        json_array_append_new(arr, x);
    }
    json_t *args = json_array();
    json_array_append_new(args, arr);
    tomo_runtime_call c = {.mode = TOMO_RUNTIME_MODE_MATCHMAKER};
    json_t *ret = NULL;
    tomo_err err = {0};
    int rc = tomo_runtime_callback(rt, TOMO_CB_MATCHMAKER_MATCHED, &c, args, &ret, &err);
    json_decref(args);
    if (rc == TOMO_EINVAL)
        TOMO_LOGW("runtime", "matchmaker_matched hook failed error=%s", err.msg);
    if (rc == 0 && json_is_string(ret) && json_string_length(ret))
        *match_id = tomo_xstrdup(json_string_value(ret));
    else if (rc == 0 && ret && !json_is_string(ret))
        TOMO_LOGW("runtime", "matchmaker_matched hook returned a non-string value, using a "
                             "relayed match");
    json_decref(ret);
    return rc < 0 ? -1 : 0;
}

void tomo_runtime_bridge_install(tomo_runtime *rt, tomo_rt *rtc)
{
    if (tomo_runtime_has_callback(rt, TOMO_CB_MATCHMAKER_MATCHED))
        tomo_rt_matchmaker_set_hook(rtc, b_matched, rt);
    tomo_rt_runtime seam = {
        .ctx = rt, .rpc = b_rpc, .has_hook = b_has_hook, .before = b_before, .after = b_after};
    tomo_rt_set_runtime(rtc, &seam);
    tomo_runtime_match_install(rt, rtc);
}
