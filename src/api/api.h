/* api/api.h: REST request handling shared by every API area.
 * Owns: route table assembly, the per-request context (tomo_api_ctx), auth
 *       checks (server key, session token, http key), JSON body and query
 *       parsing, Nakama's error bodies (from a svc tomo_err; the gRPC code ->
 *       HTTP status map is svc.h's tomo_grpc_to_http), CORS, per-route metrics.
 * Threads: tomo_api_handle_http runs on the loop thread; route handlers run
 *          on a worker thread (they may block on the database; the read
 *          pool's for TOMO_ROUTE_READ) unless the route is flagged
 *          TOMO_ROUTE_LOOP or TOMO_ROUTE_RAW. */
#ifndef TOMO_API_API_H
#define TOMO_API_API_H

#include <jansson.h>
#include <stdint.h>

#include "../core/trace.h"
#include "../svc/svc.h"
#include "server.h"

enum { TOMO_AUTH_NONE, TOMO_AUTH_BASIC, TOMO_AUTH_BEARER, TOMO_AUTH_RPC };
/* TOMO_ROUTE_RAWBODY: the handler reads ctx->raw_body itself (no JSON parse).
 * TOMO_ROUTE_READ: the handler only reads the database (a listing): it runs
 * on the read pool (tomo_server.rpool, about one worker per core), so it
 * never queues behind workers parked on a write's fsync, and reads do not
 * all run at once on the cores (16 listings time-sliced on 2 cores finish
 * together, late). A read route that writes after all (a Lua before-hook)
 * still works, it only holds a read worker while it does. */
enum {
    TOMO_ROUTE_WORKER = 0,
    TOMO_ROUTE_LOOP = 1,
    TOMO_ROUTE_RAW = 2,
    TOMO_ROUTE_RAWBODY = 4,
    TOMO_ROUTE_READ = 8,
};

typedef struct tomo_api_ctx tomo_api_ctx;
/* Returns 0 (response in ctx->out, NULL means "{}") or a negative value
 * after tomo_api_error has recorded the error. */
typedef int (*tomo_api_fn)(tomo_api_ctx *ctx);
/* RAW routes get the HTTP request on the loop thread (WebSocket upgrade). */
typedef void (*tomo_api_raw_fn)(tomo_server *srv, tomo_http_req *req);

typedef struct tomo_api_route {
    int method;         /* TOMO_HTTP_* */
    const char *path;   /* "/v2/storage/{collection}" */
    const char *name;   /* gRPC method name, used as the metrics label */
    int auth;           /* TOMO_AUTH_* */
    int flags;          /* TOMO_ROUTE_* */
    tomo_api_fn fn;     /* NULL = answered 501 Unimplemented */
    tomo_api_raw_fn raw;
    /* The same call over gRPC (port 7348): the full method name
     * ("/nakama.api.Nakama/AuthenticateDevice") and the request message's
     * full name ("nakama.api.AuthenticateDeviceRequest", or
     * "google.protobuf.Empty"); NULL for REST-only routes (/readyz, /ws).
     * A call with several REST bindings has one row per binding. */
    const char *grpc_method;
    const char *request;
    /* The gRPC-gateway body binding: "*" (the whole request message is the
     * JSON body), a field name (that field is the body: "account",
     * "record", "payload"), or NULL (no body). Request fields that are
     * neither path parameters nor the body are query parameters. */
    const char *grpc_body;
} tomo_api_route;

struct tomo_api_ctx {
    tomo_server *srv;
    tomo_http_req *http;          /* borrowed; method, headers, raw body */
    const tomo_api_route *route;
    tomo_route_match match;       /* path parameters */
    json_t *body;                 /* parsed JSON body or NULL when empty */
    const char *raw_body;         /* the body (inflated), for TOMO_ROUTE_RAWBODY */
    size_t raw_body_len;
    json_t *query;                /* object: name -> array of strings */
    /* authentication (Bearer routes, or RPC with a token) */
    int authenticated;
    tomo_session_claims session;
    const char *token;            /* the raw bearer token */
    int http_key_auth;            /* RPC called with runtime.http_key */
    char client_ip[64];           /* for the runtime ctx (api/hooks.c) */
    char client_port[8];
    /* result */
    json_t *out;                  /* response object (owned) */
    char *raw_out;                /* raw response body instead of JSON */
    size_t raw_len;
    char *content_type;
    int tree_out;                 /* the transport reads ctx->out itself (gRPC) */
    int grpc_code;
    char *err_msg;
    int http_status;              /* overrides the status mapped from grpc_code */
    int rpc_fn_error;             /* the error is the RPC function's own (see finish_ctx) */
    int retry_after_sec;          /* > 0: a Retry-After header (429) */
    tomo_dbconn *db;              /* acquired lazily by tomo_api_db */
    /* work scheduled by the handler to run on the loop thread after the
     * response is sent (e.g. push a notification to live sockets) */
    void (*after_fn)(tomo_server *srv, void *arg);
    void *after_arg;
    /* the request's server span (traceparent / tracestate of the request,
     * or a new trace); the current span while the handler runs */
    tomo_trace trace;
};

/* The full route table (all Nakama routes; unimplemented ones have fn NULL). */
const tomo_api_route *tomo_api_routes(size_t *n);
/* Build srv->router from the table. */
void tomo_api_init(tomo_server *srv);
/* Frees what tomo_api_init made (router, rate limiter). */
void tomo_api_free(tomo_server *srv);

/* HTTP entry point for the API port (loop thread). */
void tomo_api_handle_http(tomo_http_req *req, void *srv);

/* The transport-independent half of a request, for the REST dispatcher and
 * the gRPC adapter (src/grpc) alike; worker thread unless the route says.
 * ctx needs srv, route, http (headers: authorization; may be a synthetic
 * request), query (an object, possibly empty), match, body / raw_body.
 * tomo_api_auth: the route's auth check and the per-user rate limit.
 * tomo_api_call: hooks and the handler (501 when it has none); releases the
 * request's database connection. Both return 0 or a negative value after
 * recording the error (ctx->grpc_code, ctx->err_msg). */
int tomo_api_auth(tomo_api_ctx *ctx);
int tomo_api_call(tomo_api_ctx *ctx);
/* api/bind.c: calling a method with a request message (JSON, proto field
 * names), as gRPC does and the console's API explorer: a binding is one
 * REST row of the method with its path parameter names (heap, freed by
 * tomo_api_binding_clear); pick chooses the row whose path parameters the
 * message fills best; bind sets ctx->route, match, query and body (or
 * raw_body, then *raw is a heap copy the caller frees after the call). */
typedef struct tomo_api_binding {
    const tomo_api_route *route;
    size_t nparams;
    char *params[TOMO_ROUTE_MAX_PARAMS];
} tomo_api_binding;
void tomo_api_binding_init(tomo_api_binding *b, const tomo_api_route *route);
void tomo_api_binding_clear(tomo_api_binding *b);
const tomo_api_binding *tomo_api_binding_pick(const tomo_api_binding *rows, size_t n,
                                              const json_t *in);
void tomo_api_bind_message(tomo_api_ctx *ctx, const tomo_api_binding *b, json_t *in, char **raw);
/* Free what a ctx owns (body, query, out, error, session, match, db). */
void tomo_api_ctx_clear(tomo_api_ctx *ctx);

/* Path parameter / first query value / all query values (NULL/0 if absent). */
const char *tomo_api_param(const tomo_api_ctx *ctx, const char *name);
const char *tomo_api_query(const tomo_api_ctx *ctx, const char *name);
size_t tomo_api_query_count(const tomo_api_ctx *ctx, const char *name);
const char *tomo_api_query_at(const tomo_api_ctx *ctx, const char *name, size_t i);
/* Query booleans/ints with defaults; *bad set to 1 on an unparsable value. */
int tomo_api_query_bool(const tomo_api_ctx *ctx, const char *name, int def, int *bad);
long long tomo_api_query_int(const tomo_api_ctx *ctx, const char *name, long long def, int *bad);

/* The request body as an object (NULL when there is none); a body that is
 * not an object is an error (code 3). */
int tomo_api_body(tomo_api_ctx *ctx, const json_t **out);
/* Fields of a request message (codec/fields.h: proto or lowerCamelCase
 * name, absent or null = def): a wrong type records codec's reason as the
 * request's error (code 3) and returns a negative value. obj may be NULL. */
int tomo_api_field_str(tomo_api_ctx *ctx, const json_t *obj, const char *name, const char *def,
                       const char **out);
int tomo_api_field_bool(tomo_api_ctx *ctx, const json_t *obj, const char *name, int def,
                        int *out);
int tomo_api_field_int(tomo_api_ctx *ctx, const json_t *obj, const char *name, long long def,
                       long long min, long long max, long long *out);
int tomo_api_field_array(tomo_api_ctx *ctx, const json_t *obj, const char *name,
                         int want_objects, const json_t **out);
int tomo_api_field_str_map(tomo_api_ctx *ctx, const json_t *obj, const char *name,
                           const json_t **out);

/* Record an error; returns TOMO_EINVAL so handlers can `return tomo_api_error(...)`. */
int tomo_api_error(tomo_api_ctx *ctx, int grpc_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Map a store error (TOMO_EUNAVAIL, ETIMEOUT, EDB, ...) to an API error with a
 * log line naming the cause; returns a negative value. */
int tomo_api_db_error(tomo_api_ctx *ctx, int rc, const char *what);
/* Acquire the request's database connection (released after the handler).
 * On failure the error is recorded (503 Unavailable) and a negative value
 * returned. */
int tomo_api_db(tomo_api_ctx *ctx, tomo_dbconn **out);

/* Record a service-layer error (code and message as svc set them); returns
 * a negative value. */
int tomo_api_svc_error(tomo_api_ctx *ctx, const tomo_err *err);
/* The request's caller: the authenticated user. */
tomo_caller tomo_api_caller(const tomo_api_ctx *ctx);

/* JSON helpers (tomo_json_str, tomo_json_set_*): svc/svc.h. */

/* api/hooks.c: runtime request hooks (register_req_before/after) around a
 * route's handler, and the ctx the runtime sees for an HTTP request. */
struct tomo_runtime_call;
int tomo_api_hooked(tomo_api_ctx *ctx, int after);
/* Before hook (may replace or reject the request), handler, after hook. */
int tomo_api_hook_run(tomo_api_ctx *ctx);
/* 1 when the handler may answer with JSON text it renders itself
 * (tomo_api_json_text) instead of a tree in ctx->out: a REST call that no
 * after hook reads the response of. */
int tomo_api_text_ok(tomo_api_ctx *ctx);
/* Answer with that text (heap, taken; len its length), sent as
 * application/json exactly like a ctx->out tree that prints to it. */
void tomo_api_json_text(tomo_api_ctx *ctx, char *text, size_t len);
/* Fill *c from the request (user, headers, query without http_key, client
 * address); everything is borrowed from ctx (no copies: the call runs while
 * ctx lives), tomo_api_runtime_call_clear forgets it. */
void tomo_api_runtime_call(tomo_api_ctx *ctx, int mode, struct tomo_runtime_call *c);
void tomo_api_runtime_call_clear(struct tomo_runtime_call *c);

#endif
