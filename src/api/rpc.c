/* api/rpc.c: GET/POST /v2/rpc/{id}, the REST adapter of the Lua runtime.
 * POST bodies are a JSON string literal holding the payload, or with
 * ?unwrap the raw payload (and the raw result comes back with the request's
 * Content-Type). GET runs with an empty payload. Errors have Nakama's RPC
 * handler form (api.c finish_ctx). Worker thread. */
#define _GNU_SOURCE
#include "handlers.h"

#include "../core/common.h"
#include "../runtime/runtime.h"

#include <stdlib.h>
#include <string.h>

int tomo_api_rpc(tomo_api_ctx *ctx)
{
    tomo_runtime *rt = ctx->srv->runtime;
    const char *id = tomo_api_param(ctx, "id");
    if (!id || !*id)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "RPC ID must be set");
    if (!rt || !tomo_runtime_has_rpc(rt, id))
        return tomo_api_error(ctx, TOMO_GRPC_NOT_FOUND, "RPC function not found");
    int unwrap = tomo_api_query(ctx, "unwrap") != NULL;
    const char *payload = "";
    size_t plen = 0;
    json_t *decoded = NULL;
    /* GET runs with an empty payload, as Nakama's (3.15 to 3.40): nakama-js
     * rpcHttpKey's ?payload= reaches the function only in ctx.query_params. */
    int get = ctx->http && ctx->http->method == TOMO_HTTP_GET;
    if (!get && ctx->raw_body_len) {
        if (unwrap) {
            payload = ctx->raw_body;
            plen = ctx->raw_body_len;
        } else {
            json_error_t e;
            decoded = json_loadb(ctx->raw_body, ctx->raw_body_len, JSON_DECODE_ANY, &e);
            if (!json_is_string(decoded)) {
                json_decref(decoded);
                /* Nakama's fixed text, whatever the body was */
                return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                      "json: cannot unmarshal object into Go value of type "
                                      "string");
            }
            payload = json_string_value(decoded);
            plen = json_string_length(decoded);
        }
    }
    tomo_runtime_call c;
    tomo_api_runtime_call(ctx, TOMO_RUNTIME_MODE_RPC, &c);
    char *out = NULL;
    size_t out_len = 0;
    tomo_err err = {0};
    int rc = tomo_runtime_rpc(rt, &c, id, payload, plen, &out, &out_len, &err);
    tomo_api_runtime_call_clear(&c);
    json_decref(decoded);
    if (rc < 0) {
        ctx->rpc_fn_error = 1;
        return tomo_api_error(ctx, err.code ? err.code : TOMO_GRPC_INTERNAL, "%s", err.msg);
    }
    if (unwrap) {
        const char *ct = ctx->http ? tomo_http_header_get(ctx->http, "content-type") : NULL;
        ctx->content_type = tomo_xstrdup(ct && *ct ? ct : "text/plain");
        ctx->raw_out = out ? out : tomo_xstrdup("");
        ctx->raw_len = out_len;
        return 0;
    }
    ctx->out = json_object();
    {
        json_t *s = json_stringn(out ? out : "", out_len);
        if (!s) {
            free(out);
            return tomo_api_error(ctx, TOMO_GRPC_INTERNAL,
                                  "Runtime function returned a payload that is not valid UTF-8 "
                                  "(use ?unwrap for binary data)");
        }
        json_object_set_new(ctx->out, "payload", s);
    }
    free(out);
    return 0;
}
