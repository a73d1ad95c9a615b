/* api/hooks.c: runtime request hooks around REST handlers. The request a
 * hook sees is the route's gRPC request message in protojson shape: the
 * JSON body (under "account" for Authenticate*, as Nakama's gateway maps
 * it) plus the path and query parameters. Worker threads. */
#define _GNU_SOURCE
#include "api.h"

#include "../core/common.h"
#include "../runtime/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tomo_api_runtime_call(tomo_api_ctx *ctx, int mode, tomo_runtime_call *c)
{
    memset(c, 0, sizeof(*c));
    c->mode = mode;
    if (ctx->authenticated) {
        c->user_id = ctx->session.user_id;
        c->username = ctx->session.username;
        c->vars = ctx->session.vars;
        c->session_exp = ctx->session.exp;
    }
    /* borrowed for the call: the ctx table is built from the request itself */
    if (ctx->http) {
        c->http_headers = ctx->http->headers;
        c->nhttp_headers = ctx->http->nheaders;
        tomo_http_client_addr(ctx->http, ctx->client_ip, ctx->client_port);
        if (ctx->client_ip[0])
            c->client_ip = ctx->client_ip;
        if (ctx->client_port[0])
            c->client_port = ctx->client_port;
    }
    c->query = ctx->query;
    c->query_skip = "http_key";
}

void tomo_api_runtime_call_clear(tomo_runtime_call *c)
{
    c->http_headers = NULL;
    c->nhttp_headers = 0;
    c->query = NULL;
}

int tomo_api_hooked(tomo_api_ctx *ctx, int after)
{
    tomo_runtime *rt = ctx->srv->runtime;
    if (!rt || !ctx->route || !ctx->route->name || !strcmp(ctx->route->name, "Rpc"))
        return 0;
    if (after)
        return tomo_runtime_has_hook(rt, TOMO_HOOK_REQ_AFTER, ctx->route->name);
    return tomo_runtime_has_hook(rt, TOMO_HOOK_REQ_BEFORE, ctx->route->name) ||
           tomo_runtime_has_hook(rt, TOMO_HOOK_REQ_AFTER, ctx->route->name);
}

int tomo_api_text_ok(tomo_api_ctx *ctx) { return !ctx->tree_out && !tomo_api_hooked(ctx, 1); }

void tomo_api_json_text(tomo_api_ctx *ctx, char *text, size_t len)
{
    free(ctx->raw_out);
    free(ctx->content_type);
    ctx->raw_out = text;
    ctx->raw_len = len;
    ctx->content_type = tomo_xstrdup("application/json");
}

static int is_auth(const tomo_api_ctx *ctx) { return !strncmp(ctx->route->name, "Authenticate", 12); }

/* Repeated query fields of the request messages. */
static int repeated(const char *k)
{
    return !strcmp(k, "ids") || !strcmp(k, "usernames") || !strcmp(k, "facebook_ids") ||
           !strcmp(k, "user_ids") || !strcmp(k, "owner_ids");
}

static json_t *build_request(tomo_api_ctx *ctx)
{
    json_t *req;
    if (is_auth(ctx)) {
        req = json_object();
        if (ctx->body)
            json_object_set(req, "account", ctx->body);
    } else {
        req = json_is_object(ctx->body) ? json_deep_copy(ctx->body) : json_object();
    }
    for (size_t i = 0; i < ctx->match.nparams; i++)
        json_object_set_new(req, ctx->match.names[i], json_string(ctx->match.values[i]));
    const char *k;
    json_t *v;
    json_object_foreach(ctx->query, k, v) {
        if (!strcmp(k, "http_key"))
            continue;
        if (repeated(k)) {
            json_object_set(req, k, v);
        } else if (!strcmp(k, "create") || !strcmp(k, "forward") || !strcmp(k, "cacheable_cursor")) {
            const char *s = json_string_value(json_array_get(v, 0));
            json_object_set_new(req, k, json_boolean(s && (!strcasecmp(s, "true") || !strcmp(s, "1"))));
        } else {
            json_object_set(req, k, json_array_get(v, 0));
        }
    }
    return req;
}

/* Put the hook's request back where the handler reads it. */
static void apply_request(tomo_api_ctx *ctx, json_t *req)
{
    if (!strcmp(ctx->route->name, "GetAccount") || !strcmp(ctx->route->name, "DeleteAccount"))
        return;
    json_t *q = ctx->query;
    const char *k;
    json_t *v;
    void *tmp;
    /* query parameters the request names */
    json_object_foreach_safe(req, tmp, k, v) {
        if (is_auth(ctx) && !strcmp(k, "account"))
            continue;
        int is_query = json_object_get(q, k) != NULL || !strcmp(k, "username") ||
                       !strcmp(k, "create") || repeated(k) || !strcmp(k, "limit") ||
                       !strcmp(k, "cursor");
        if (!is_query || (json_is_object(v) && !is_auth(ctx)))
            continue;
        if (!json_object_get(q, k) && ctx->body && json_object_get(ctx->body, k))
            continue; /* a body field */
        json_t *arr = json_array();
        if (json_is_array(v)) {
            size_t i;
            json_t *x;
            json_array_foreach(v, i, x) json_array_append_new(arr, json_is_string(x) ? json_incref(x)
                                                                  : json_string(""));
        } else if (json_is_string(v)) {
            json_array_append(arr, v);
        } else if (json_is_boolean(v)) {
            json_array_append_new(arr, json_string(json_is_true(v) ? "true" : "false"));
        } else if (json_is_integer(v)) {
            char b[32];
            snprintf(b, sizeof(b), "%lld", (long long)json_integer_value(v));
            json_array_append_new(arr, json_string(b));
        }
        json_object_set_new(q, k, arr);
        if (!is_auth(ctx))
            json_object_del(req, k);
    }
    json_t *body;
    if (is_auth(ctx)) {
        body = json_incref(json_object_get(req, "account"));
    } else {
        body = json_deep_copy(req);
        for (size_t i = 0; i < ctx->match.nparams; i++)
            json_object_del(body, ctx->match.names[i]);
        if (!ctx->body && !json_object_size(body)) {
            json_decref(body);
            body = NULL;
        }
    }
    json_decref(ctx->body);
    ctx->body = body;
}

int tomo_api_hook_run(tomo_api_ctx *ctx)
{
    tomo_runtime *rt = ctx->srv->runtime;
    const char *name = ctx->route->name;
    tomo_runtime_call c;
    tomo_api_runtime_call(ctx, TOMO_RUNTIME_MODE_BEFORE, &c);
    json_t *req = build_request(ctx);
    int rc = 0;
    if (tomo_runtime_has_hook(rt, TOMO_HOOK_REQ_BEFORE, name)) {
        json_t *out = NULL;
        tomo_err err = {0};
        rc = tomo_runtime_before(rt, TOMO_HOOK_REQ_BEFORE, name, &c, req, &out, &err);
        if (rc < 0) {
            rc = tomo_api_error(ctx, err.code ? err.code : TOMO_GRPC_INTERNAL, "%s", err.msg);
            goto out;
        }
        if (!out) {
            rc = tomo_api_error(ctx, TOMO_GRPC_NOT_FOUND, "Requested resource was not found.");
            goto out;
        }
        json_decref(req);
        req = out;
        json_t *copy = json_deep_copy(req);
        apply_request(ctx, copy);
        json_decref(copy);
    }
    rc = ctx->route->fn(ctx);
    if (rc == 0 && tomo_runtime_has_hook(rt, TOMO_HOOK_REQ_AFTER, name)) {
        c.mode = TOMO_RUNTIME_MODE_AFTER;
        tomo_runtime_after(rt, TOMO_HOOK_REQ_AFTER, name, &c, ctx->out, req);
    }
out:
    json_decref(req);
    tomo_api_runtime_call_clear(&c);
    return rc;
}
