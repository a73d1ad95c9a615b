/* api/bind.c: a request message (JSON with proto field names) bound to one
 * of its method's REST rows the way gRPC-gateway maps them: path
 * parameters from the message's fields, the body per the row's grpc_body
 * ("*" = every other field, a field name = that field), the rest as query
 * values. The gRPC adapter and the console's API explorer both call API
 * methods this way (api.h). Threads: any. */
#define _GNU_SOURCE
#include "api.h"

#include "../core/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tomo_api_binding_init(tomo_api_binding *b, const tomo_api_route *route)
{
    b->route = route;
    b->nparams = 0;
    for (const char *p = route->path; (p = strchr(p, '{')) != NULL;) {
        const char *e = strchr(p, '}');
        if (!e || b->nparams == TOMO_ROUTE_MAX_PARAMS)
            break;
        b->params[b->nparams++] = tomo_xstrndup(p + 1, (size_t)(e - p - 1));
        p = e;
    }
}

void tomo_api_binding_clear(tomo_api_binding *b)
{
    for (size_t i = 0; i < b->nparams; i++)
        free(b->params[i]);
    b->nparams = 0;
}

const tomo_api_binding *tomo_api_binding_pick(const tomo_api_binding *rows, size_t n,
                                              const json_t *in)
{
    const tomo_api_binding *best = &rows[0];
    long best_score = -1;
    for (size_t i = 0; i < n; i++) {
        const tomo_api_binding *r = &rows[i];
        size_t have = 0;
        for (size_t k = 0; k < r->nparams; k++) {
            json_t *v = json_object_get(in, r->params[k]);
            if (v && (!json_is_string(v) || *json_string_value(v)))
                have++;
        }
        if (have < r->nparams)
            continue;
        long score = (long)have * 2 + (r->route->grpc_body ? 1 : 0);
        if (score > best_score) {
            best_score = score;
            best = r;
        }
    }
    return best;
}

/* A field as query values (repeated fields give several). */
static void query_values(json_t *arr, json_t *v)
{
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_STRING: json_array_append(arr, v); break;
    case JSON_TRUE: json_array_append_new(arr, json_string("true")); break;
    case JSON_FALSE: json_array_append_new(arr, json_string("false")); break;
    case JSON_INTEGER:
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
        json_array_append_new(arr, json_string(buf));
        break;
    case JSON_REAL:
        snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
        json_array_append_new(arr, json_string(buf));
        break;
    case JSON_ARRAY: {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) query_values(arr, e);
        break;
    }
    case JSON_OBJECT: {
        char *d = json_dumps(v, JSON_COMPACT);
        json_array_append_new(arr, json_string(d ? d : "{}"));
        free(d);
        break;
    }
    default: break;
    }
}

static const char *param_text(json_t *v, char *buf, size_t len)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return "";
}

static int has_param(const tomo_api_binding *b, const char *k)
{
    for (size_t i = 0; i < b->nparams; i++)
        if (!strcmp(b->params[i], k))
            return 1;
    return 0;
}

void tomo_api_bind_message(tomo_api_ctx *ctx, const tomo_api_binding *b, json_t *in, char **raw)
{
    const tomo_api_route *rt = b->route;
    const char *bodyf = rt->grpc_body;
    *raw = NULL;
    ctx->route = rt;
    if (!ctx->query)
        ctx->query = json_object();
    ctx->match.id = 0;
    for (size_t k = 0; k < b->nparams; k++) {
        char nb[32];
        ctx->match.names[k] = b->params[k];
        ctx->match.values[k] =
            tomo_xstrdup(param_text(json_object_get(in, b->params[k]), nb, sizeof(nb)));
        ctx->match.nparams++;
    }
    json_t *body = bodyf && !strcmp(bodyf, "*") ? json_object() : NULL;
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v)
    {
        if (has_param(b, k))
            continue;
        if (body && json_is_object(body) && !strcmp(bodyf, "*")) {
            json_object_set(body, k, v);
        } else if (bodyf && !strcmp(bodyf, k)) {
            json_decref(body);
            body = json_incref(v);
        } else {
            json_t *arr = json_array();
            query_values(arr, v);
            json_object_set_new(ctx->query, k, arr);
        }
    }
    if (rt->flags & TOMO_ROUTE_RAWBODY) {
        if (body) {
            *raw = json_dumps(body, JSON_ENCODE_ANY | JSON_COMPACT);
            ctx->raw_body = *raw;
            ctx->raw_body_len = *raw ? strlen(*raw) : 0;
        }
        json_decref(body);
    } else {
        ctx->body = body;
    }
}
