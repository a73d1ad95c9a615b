/* api/api.c: request dispatch, auth, errors, CORS, metrics. */
#define _GNU_SOURCE
#include "api.h"
#include "handlers.h"

#include "../codec/fields.h"
#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/ratelimit.h"
#include "../net/compress.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tomo_metric *m_requests, *m_latency, *m_rejected;

void tomo_api_init(tomo_server *srv)
{
    size_t n;
    const tomo_api_route *r = tomo_api_routes(&n);
    srv->router = tomo_router_new();
    for (size_t i = 0; i < n; i++)
        tomo_router_add(srv->router, r[i].method, r[i].path, (int)i);
    m_requests = tomo_metrics_counter("http_requests_total", "HTTP API requests by route and status",
                                      "route,status");
    m_latency = tomo_metrics_histogram("http_request_duration_ms",
                                       "HTTP API request latency in milliseconds", "route", NULL, 0);
    m_rejected = tomo_metrics_counter("http_requests_rejected_total",
                                      "HTTP requests refused because the worker queue was full",
                                      NULL);
    tomo_ratelimit_metrics_init();
    const tomo_config *cfg = srv->cfg;
    if (cfg->rate_limit.enabled) {
        char err[256];
        srv->ratelimit = tomo_ratelimit_new((size_t)cfg->rate_limit.max_keys);
        /* validated with the config */
        srv->trusted_proxies = tomo_ipset_parse(cfg->rate_limit.trusted_proxies.v,
                                                cfg->rate_limit.trusted_proxies.n, err,
                                                sizeof(err));
        TOMO_LOGI(TOMO_API,
                  "rate limits on auth=%d/s burst=%d default=%d/s burst=%d (per IP) user=%d/s "
                  "burst=%d socket=%d/s burst=%d (per user) trusted_proxies=%zu",
                  cfg->rate_limit.auth_per_sec, cfg->rate_limit.auth_burst,
                  cfg->rate_limit.default_per_sec, cfg->rate_limit.default_burst,
                  cfg->rate_limit.user_per_sec, cfg->rate_limit.user_burst,
                  cfg->rate_limit.socket_per_sec, cfg->rate_limit.socket_burst,
                  cfg->rate_limit.trusted_proxies.n);
    }
}

void tomo_api_free(tomo_server *srv)
{
    tomo_router_free(srv->router);
    srv->router = NULL;
    tomo_ratelimit_free(srv->ratelimit);
    srv->ratelimit = NULL;
    tomo_ipset_free(srv->trusted_proxies);
    srv->trusted_proxies = NULL;
}

/* ---- rate limits ---- */

static int64_t now_ms(void) { return (int64_t)(tomo_mono_ns() / 1000000); }

static int retry_sec(int64_t retry_ms) { return (int)((retry_ms + 999) / 1000); }

/* Per client IP, on the loop thread before anything else is done with the
 * request: 0 or TOMO_EAGAIN with the seconds to wait. */
static int limit_ip(tomo_server *srv, const tomo_http_req *req, const tomo_api_route *rt,
                    int *retry)
{
    const tomo_config *cfg = srv->cfg;
    int auth = !strncmp(rt->name, "Authenticate", 12) || !strcmp(rt->name, "SessionRefresh");
    char ip[64];
    tomo_ratelimit_client_ip(srv->trusted_proxies, req->client_ip,
                             srv->trusted_proxies ? tomo_http_header_get(req, "x-forwarded-for")
                                                  : NULL,
                             ip, sizeof(ip));
    int64_t wait = 0;
    int rc = auth ? tomo_ratelimit_take(srv->ratelimit, TOMO_RL_AUTH, ip, strlen(ip),
                                        cfg->rate_limit.auth_per_sec, cfg->rate_limit.auth_burst,
                                        now_ms(), &wait)
                  : tomo_ratelimit_take(srv->ratelimit, TOMO_RL_DEFAULT, ip, strlen(ip),
                                        cfg->rate_limit.default_per_sec,
                                        cfg->rate_limit.default_burst, now_ms(), &wait);
    if (rc < 0) {
        TOMO_LOGD(TOMO_API, "rate limited class=%s client=%s route=%s", auth ? "auth" : "default",
                  ip, rt->name);
        *retry = retry_sec(wait);
    }
    return rc;
}

/* Per user, after the token is verified (a worker or the loop thread). */
static int limit_user(tomo_api_ctx *ctx)
{
    const tomo_config *cfg = ctx->srv->cfg;
    int64_t wait = 0;
    const char *uid = ctx->session.user_id;
    if (tomo_ratelimit_take(ctx->srv->ratelimit, TOMO_RL_USER, uid, strlen(uid),
                            cfg->rate_limit.user_per_sec, cfg->rate_limit.user_burst, now_ms(),
                            &wait) == 0)
        return 0;
    ctx->retry_after_sec = retry_sec(wait);
    return tomo_api_error(ctx, TOMO_GRPC_RESOURCE_EXHAUSTED, "Rate limit exceeded.");
}

/* ---- query strings ---- */

/* Path parameters arrive percent-encoded (clients encode ids such as a
 * room channel "2...my room"); '+' is literal in a path. A decoded value must
 * be UTF-8 without NUL (an encoded %00 would silently cut it, and Postgres
 * refuses invalid UTF-8): returns -1 for such a value, else 0. */
static int decode_path_params(tomo_route_match *m)
{
    for (size_t i = 0; i < m->nparams; i++) {
        char *v = m->values[i];
        if (!strchr(v, '%'))
            continue;
        size_t o = tomo_pct_decode_to(v, strlen(v), 0, v);
        /* NUL bytes or invalid UTF-8: the caller answers 400. */
        json_t *valid = memchr(v, '\0', o) ? NULL : json_stringn(v, o);
        if (!valid)
            return -1;
        json_decref(valid);
    }
    return 0;
}

const char *tomo_api_param(const tomo_api_ctx *ctx, const char *name)
{
    return tomo_route_param(&ctx->match, name);
}

const char *tomo_api_query_at(const tomo_api_ctx *ctx, const char *name, size_t i)
{
    return json_string_value(json_array_get(json_object_get(ctx->query, name), i));
}

const char *tomo_api_query(const tomo_api_ctx *ctx, const char *name)
{
    return tomo_api_query_at(ctx, name, 0);
}

size_t tomo_api_query_count(const tomo_api_ctx *ctx, const char *name)
{
    return json_array_size(json_object_get(ctx->query, name));
}

int tomo_api_query_bool(const tomo_api_ctx *ctx, const char *name, int def, int *bad)
{
    const char *v = tomo_api_query(ctx, name);
    if (!v || !*v)
        return def;
    if (!strcasecmp(v, "true") || !strcmp(v, "1"))
        return 1;
    if (!strcasecmp(v, "false") || !strcmp(v, "0"))
        return 0;
    if (bad)
        *bad = 1;
    return def;
}

long long tomo_api_query_int(const tomo_api_ctx *ctx, const char *name, long long def, int *bad)
{
    const char *v = tomo_api_query(ctx, name);
    if (!v || !*v)
        return def;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*end) {
        if (bad)
            *bad = 1;
        return def;
    }
    return x;
}

/* ---- request message fields (codec/fields.h) ---- */

int tomo_api_body(tomo_api_ctx *ctx, const json_t **out)
{
    *out = ctx->body;
    if (ctx->body && !json_is_object(ctx->body))
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid JSON body: expected an object.");
    return 0;
}

static int field_fail(tomo_api_ctx *ctx, int rc, const char *why)
{
    return rc < 0 ? tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "%s", why) : 0;
}

int tomo_api_field_str(tomo_api_ctx *ctx, const json_t *obj, const char *name, const char *def,
                       const char **out)
{
    char why[TOMO_FIELD_WHY_MAX];
    return field_fail(ctx, tomo_field_str(obj, name, def, out, why, sizeof(why)), why);
}

int tomo_api_field_bool(tomo_api_ctx *ctx, const json_t *obj, const char *name, int def,
                        int *out)
{
    char why[TOMO_FIELD_WHY_MAX];
    return field_fail(ctx, tomo_field_bool(obj, name, def, out, why, sizeof(why)), why);
}

int tomo_api_field_int(tomo_api_ctx *ctx, const json_t *obj, const char *name, long long def,
                       long long min, long long max, long long *out)
{
    char why[TOMO_FIELD_WHY_MAX];
    return field_fail(ctx, tomo_field_int(obj, name, def, min, max, out, why, sizeof(why)), why);
}

int tomo_api_field_array(tomo_api_ctx *ctx, const json_t *obj, const char *name,
                         int want_objects, const json_t **out)
{
    char why[TOMO_FIELD_WHY_MAX];
    return field_fail(ctx, tomo_field_array(obj, name, want_objects, out, why, sizeof(why)), why);
}

int tomo_api_field_str_map(tomo_api_ctx *ctx, const json_t *obj, const char *name,
                           const json_t **out)
{
    char why[TOMO_FIELD_WHY_MAX];
    return field_fail(ctx, tomo_field_str_map(obj, name, out, why, sizeof(why)), why);
}

/* ---- errors ---- */

int tomo_api_error(tomo_api_ctx *ctx, int grpc_code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    free(ctx->err_msg);
    ctx->err_msg = msg ? msg : tomo_xstrdup("error");
    ctx->grpc_code = grpc_code;
    return TOMO_EINVAL;
}

int tomo_api_db_error(tomo_api_ctx *ctx, int rc, const char *what)
{
    const char *route = ctx->route ? ctx->route->name : "?";
    switch (rc) {
    case TOMO_EUNAVAIL:
        TOMO_LOGW(TOMO_API, "database unavailable route=%s op=%s", route, what);
        return tomo_api_error(ctx, TOMO_GRPC_UNAVAILABLE, "Database unavailable.");
    case TOMO_ETIMEOUT:
        TOMO_LOGW(TOMO_API, "database timeout route=%s op=%s", route, what);
        return tomo_api_error(ctx, TOMO_GRPC_UNAVAILABLE, "Database busy, try again.");
    default:
        TOMO_LOGE(TOMO_API, "database error route=%s op=%s error=%s", route, what,
                  ctx->db ? tomo_db_errmsg(ctx->db) : tomo_strerror(rc));
        return tomo_api_error(ctx, TOMO_GRPC_INTERNAL, "Internal server error.");
    }
}

int tomo_api_svc_error(tomo_api_ctx *ctx, const tomo_err *err)
{
    tomo_api_error(ctx, err->code, "%s", err->msg);
    return tomo_err_from_grpc(err->code) < 0 ? tomo_err_from_grpc(err->code) : TOMO_EINVAL;
}

tomo_caller tomo_api_caller(const tomo_api_ctx *ctx)
{
    return tomo_caller_user(ctx->session.user_id, ctx->session.username);
}

int tomo_api_db(tomo_api_ctx *ctx, tomo_dbconn **out)
{
    if (!ctx->db) {
        int rc = tomo_db_acquire(ctx->srv->db, &ctx->db);
        if (rc < 0) {
            ctx->db = NULL;
            return tomo_api_db_error(ctx, rc, "acquire connection");
        }
    }
    *out = ctx->db;
    return 0;
}

/* ---- auth ---- */

static int check_basic(tomo_api_ctx *ctx)
{
    const char *h = tomo_http_header_get(ctx->http, "authorization");
    if (!h || !*h)
        return tomo_api_error(ctx, TOMO_GRPC_UNAUTHENTICATED, "Server key required");
    if (strncasecmp(h, "Basic ", 6))
        return tomo_api_error(ctx, TOMO_GRPC_UNAUTHENTICATED, "Server key invalid");
    uint8_t *dec = NULL;
    size_t dl = 0;
    const char *b = h + 6;
    while (*b == ' ')
        b++;
    if (tomo_b64_decode(b, strlen(b), &dec, &dl) < 0)
        return tomo_api_error(ctx, TOMO_GRPC_UNAUTHENTICATED, "Server key invalid");
    /* Nakama requires the "key:" form (user:password with an empty password). */
    const char *colon = memchr(dec, ':', dl);
    const char *key = ctx->srv->cfg->socket.server_key;
    int ok = colon && tomo_ct_equal(dec, (size_t)(colon - (const char *)dec), key, strlen(key));
    free(dec);
    if (!ok)
        return tomo_api_error(ctx, TOMO_GRPC_UNAUTHENTICATED, "Server key invalid");
    return 0;
}

static int check_bearer(tomo_api_ctx *ctx, int required)
{
    const char *h = tomo_http_header_get(ctx->http, "authorization");
    if (!h || !*h) {
        if (!required)
            return 1;
        return tomo_api_error(ctx, TOMO_GRPC_UNAUTHENTICATED, "Auth token required");
    }
    if (strncasecmp(h, "Bearer ", 7))
        return tomo_api_error(ctx, TOMO_GRPC_UNAUTHENTICATED, "Auth token invalid");
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    if (tomo_svc_session_verify(&ctx->srv->svc, tok, &ctx->session) < 0)
        return tomo_api_error(ctx, TOMO_GRPC_UNAUTHENTICATED, "Auth token invalid");
    ctx->token = tok;
    ctx->authenticated = 1;
    return 0;
}

static int check_rpc(tomo_api_ctx *ctx)
{
    const char *key = tomo_api_query(ctx, "http_key");
    if (key) {
        const char *want = ctx->srv->cfg->runtime.http_key;
        if (!tomo_ct_equal(key, strlen(key), want, strlen(want)))
            return tomo_api_error(ctx, TOMO_GRPC_UNAUTHENTICATED, "HTTP key invalid");
        ctx->http_key_auth = 1;
        return 0;
    }
    /* Nakama also takes the http key as Basic auth ("key:") */
    const char *h = tomo_http_header_get(ctx->http, "authorization");
    if (h && !strncasecmp(h, "Basic ", 6)) {
        uint8_t *dec = NULL;
        size_t dl = 0;
        const char *b = h + 6;
        while (*b == ' ')
            b++;
        int ok = 0;
        if (tomo_b64_decode(b, strlen(b), &dec, &dl) == 0) {
            const char *colon = memchr(dec, ':', dl);
            size_t ul = colon ? (size_t)(colon - (const char *)dec) : dl;
            const char *want = ctx->srv->cfg->runtime.http_key;
            ok = tomo_ct_equal(dec, ul, want, strlen(want));
        }
        free(dec);
        if (!ok)
            return tomo_api_error(ctx, TOMO_GRPC_UNAUTHENTICATED, "HTTP key invalid");
        ctx->http_key_auth = 1;
        return 0;
    }
    int rc = check_bearer(ctx, 0);
    if (rc == 1)
        return tomo_api_error(ctx, TOMO_GRPC_UNAUTHENTICATED, "Auth token or HTTP key required");
    return rc;
}

/* ---- dispatch ---- */

typedef struct job {
    tomo_api_ctx ctx;
    tomo_http_req *req;
    int status;
    char *body;
    size_t body_len;
    char *headers;
    tomo_loop *loop; /* where the answer goes back to (the submitting loop) */
    int lent;        /* tomo_http_lend said the worker may write the answer */
    int accounted;   /* metrics and the server span already recorded */
} job;

static void append_hdr(char **h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append_hdr(char **h, const char *fmt, ...)
{
    /* one formatting pass into a stack line, then the line appended in
     * place (every response of a worker route builds its headers here) */
    char buf[512], *line = buf;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    if ((size_t)n >= sizeof(buf)) {
        line = tomo_xmalloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(line, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    size_t have = *h ? strlen(*h) : 0;
    *h = tomo_xrealloc(*h, have + (size_t)n + 3);
    memcpy(*h + have, line, (size_t)n);
    memcpy(*h + have + n, "\r\n", 3);
    if (line != buf)
        free(line);
}

static void common_headers(tomo_server *srv, char **h, const char *ctype)
{
    append_hdr(h, "Content-Type: %s", ctype);
    append_hdr(h, "Cache-Control: no-store, no-cache, must-revalidate");
    append_hdr(h, "Access-Control-Allow-Origin: *");
    const tomo_strlist *rh = &srv->cfg->socket.response_headers;
    for (size_t i = 0; i < rh->n; i++) {
        const char *eq = strchr(rh->v[i], '=');
        if (!eq)
            continue;
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)(eq - rh->v[i]), rh->v[i]);
        if (!strcasecmp(name, "Content-Type") || !strcasecmp(name, "Cache-Control") ||
            !strcasecmp(name, "Access-Control-Allow-Origin") ||
            !strcasecmp(name, "Content-Length") || !strcasecmp(name, "Connection"))
            continue;
        append_hdr(h, "%s: %s", name, eq + 1);
    }
}

/* Compress large bodies for clients that accept gzip (Nakama's gateway
 * compresses responses too). Runs where the handler ran: a worker. */
static void maybe_gzip(job *j)
{
    if (!j->req || j->body_len < TOMO_HTTP_GZIP_MIN_BYTES ||
        !tomo_http_accepts_gzip(tomo_http_header_get(j->req, "accept-encoding")))
        return;
    char *z = NULL;
    size_t zl = 0;
    if (tomo_http_gzip(j->body, j->body_len, &z, &zl) < 0)
        return;
    free(j->body);
    j->body = z;
    j->body_len = zl;
    append_hdr(&j->headers, "Content-Encoding: gzip");
    append_hdr(&j->headers, "Vary: Accept-Encoding");
}

/* protojson (Nakama's gateway) never renders an empty repeated field: drop
 * every [] a handler left in its response ({"friends":[]} is {}). Only
 * repeated fields are arrays in the API's messages, so nothing else is
 * touched. depth bounds the recursion (responses are server-built). */
static void drop_empty_arrays(json_t *v, int depth)
{
    if (depth > 32)
        return;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) drop_empty_arrays(e, depth + 1);
        return;
    }
    if (!json_is_object(v))
        return;
    const char *k;
    json_t *e;
    void *tmp;
    json_object_foreach_safe(v, tmp, k, e)
    {
        if (json_is_array(e) && json_array_size(e) == 0)
            json_object_del(v, k);
        else
            drop_empty_arrays(e, depth + 1);
    }
}

static void finish_ctx(job *j)
{
    tomo_api_ctx *ctx = &j->ctx;
    tomo_server *srv = ctx->srv;
    if (ctx->err_msg) {
        j->status = ctx->http_status ? ctx->http_status : tomo_grpc_to_http(ctx->grpc_code);
        /* Nakama answers /v2/rpc from its own handler, not the gateway: its
         * errors carry an "error" too, the message again or, for the
         * function's own error, the Go error value marshalled ({}); and its
         * 401s have no WWW-Authenticate. */
        int rpc = ctx->route && ctx->route->auth == TOMO_AUTH_RPC;
        json_t *e;
        if (!rpc)
            e = json_pack("{s:i,s:s}", "code", ctx->grpc_code, "message", ctx->err_msg);
        else if (ctx->rpc_fn_error)
            e = json_pack("{s:i,s:{},s:s}", "code", ctx->grpc_code, "error", "message",
                          ctx->err_msg);
        else
            e = json_pack("{s:s,s:s,s:i}", "error", ctx->err_msg, "message", ctx->err_msg, "code",
                          ctx->grpc_code);
        j->body = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(e);
        common_headers(srv, &j->headers, "application/json");
        if (ctx->grpc_code == TOMO_GRPC_UNAUTHENTICATED && !rpc)
            append_hdr(&j->headers, "WWW-Authenticate: %s", ctx->err_msg);
        if (ctx->retry_after_sec > 0)
            append_hdr(&j->headers, "Retry-After: %d", ctx->retry_after_sec);
    } else if (ctx->raw_out) {
        j->status = 200;
        j->body = ctx->raw_out;
        j->body_len = ctx->raw_len;
        ctx->raw_out = NULL;
        common_headers(srv, &j->headers, ctx->content_type ? ctx->content_type : "text/plain");
        maybe_gzip(j);
        return;
    } else {
        j->status = 200;
        drop_empty_arrays(ctx->out, 0);
        j->body = ctx->out ? json_dumps(ctx->out, JSON_COMPACT) : tomo_xstrdup("{}");
        common_headers(srv, &j->headers, "application/json");
    }
    j->body_len = strlen(j->body);
    maybe_gzip(j);
}

void tomo_api_ctx_clear(tomo_api_ctx *ctx)
{
    tomo_db_release(ctx->db);
    ctx->db = NULL;
    json_decref(ctx->body);
    json_decref(ctx->query);
    json_decref(ctx->out);
    free(ctx->raw_out);
    free(ctx->content_type);
    free(ctx->err_msg);
    tomo_session_claims_clear(&ctx->session);
    tomo_route_match_clear(&ctx->match);
}

int tomo_api_auth(tomo_api_ctx *ctx)
{
    const tomo_api_route *rt = ctx->route;
    int rc = 0;
    switch (rt->auth) {
    case TOMO_AUTH_BASIC: rc = check_basic(ctx); break;
    case TOMO_AUTH_BEARER: rc = check_bearer(ctx, 1); break;
    case TOMO_AUTH_RPC: rc = check_rpc(ctx); break;
    default: break;
    }
    if (rc == 0 && ctx->authenticated && ctx->srv->ratelimit)
        rc = limit_user(ctx);
    return rc;
}

int tomo_api_call(tomo_api_ctx *ctx)
{
    const tomo_api_route *rt = ctx->route;
    int rc;
    if (!rt->fn)
        rc = tomo_api_error(ctx, TOMO_GRPC_UNIMPLEMENTED, "Not implemented");
    else if (ctx->srv->runtime && tomo_api_hooked(ctx, 0))
        rc = tomo_api_hook_run(ctx);
    else
        rc = rt->fn(ctx);
    if (rc < 0 && !ctx->err_msg)
        tomo_api_error(ctx, TOMO_GRPC_INTERNAL, "Internal server error.");
    tomo_db_release(ctx->db);
    ctx->db = NULL;
    return rc;
}

static void run_handler(job *j)
{
    tomo_api_ctx *ctx = &j->ctx;
    const tomo_api_route *rt = ctx->route;
    tomo_trace_set_current(&ctx->trace);
    ctx->query = tomo_query_params(j->req->query);
    int rc = tomo_api_auth(ctx);
    const char *body = j->req->body;
    size_t body_len = j->req->body_len;
    char *inflated = NULL;
    const char *ce = tomo_http_header_get(j->req, "content-encoding");
    if (rc == 0 && body_len && ce && *ce && strcasecmp(ce, "identity")) {
        if (strcasecmp(ce, "gzip") && strcasecmp(ce, "deflate") && strcasecmp(ce, "x-gzip")) {
            rc = tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                "Unsupported Content-Encoding \"%s\": use gzip or deflate", ce);
        } else {
            size_t max = (size_t)ctx->srv->cfg->socket.max_request_size_bytes;
            int zr = tomo_http_inflate(body, body_len, max, &inflated, &body_len);
            if (zr == TOMO_ETOOBIG) {
                rc = tomo_api_error(ctx, TOMO_GRPC_RESOURCE_EXHAUSTED,
                                    "Decompressed request body exceeds %zu bytes", max);
                ctx->http_status = 413; /* as for an uncompressed body over the limit */
            }
            else if (zr < 0)
                rc = tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                    "Request body is not valid %s data", ce);
            body = inflated;
        }
    }
    ctx->raw_body = body;
    ctx->raw_body_len = body_len;
    if (rc == 0 && body_len && rt->fn && !(rt->flags & TOMO_ROUTE_RAWBODY)) {
        json_error_t jerr;
        ctx->body = json_loadb(body, body_len, JSON_DECODE_ANY, &jerr);
        if (!ctx->body)
            rc = tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid JSON body: %s (at byte %d)",
                                jerr.text, jerr.position);
    }
    if (rc == 0)
        tomo_api_call(ctx);
    ctx->raw_body = NULL;
    ctx->raw_body_len = 0;
    free(inflated);
    tomo_db_release(ctx->db);
    ctx->db = NULL;
    finish_ctx(j);
    tomo_trace_set_current(NULL);
}

/* What send_job does not read, freed where the handler ran: the loop
 * thread serves every connection, so the request's trees (query, body,
 * response), its session and path parameters are not its work. */
static void release_on_worker(tomo_api_ctx *ctx)
{
    json_decref(ctx->body);
    json_decref(ctx->query);
    json_decref(ctx->out);
    ctx->body = ctx->query = ctx->out = NULL;
    free(ctx->raw_out);
    free(ctx->content_type);
    ctx->raw_out = NULL;
    ctx->content_type = NULL;
    tomo_session_claims_clear(&ctx->session);
    tomo_route_match_clear(&ctx->match);
}

static void account(job *j);
static void send_job(job *j);
static void done_cb(void *arg) { send_job(arg); }

static void job_free(job *j)
{
    free(j->headers);
    free(j->body);
    tomo_api_ctx_clear(&j->ctx);
    free(j);
}

static void work_cb(void *arg)
{
    job *j = arg;
    run_handler(j);
    release_on_worker(&j->ctx);
    /* A lent request is answered from here (net/http.h): the loop is not
     * woken for it. after_fn must run on the loop, after the answer. */
    if (j->lent && !j->ctx.after_fn) {
        account(j); /* reads req: before it goes back */
        j->accounted = 1;
        if (tomo_http_respond_worker(j->req, j->status, j->headers, j->body, j->body_len)) {
            job_free(j);
            return;
        }
    }
    tomo_loop_post(j->loop, done_cb, j);
}

/* The request's metrics and its server span (any thread). */
static void account(job *j)
{
    tomo_http_req *req = j->req;
    const char *route = j->ctx.route ? j->ctx.route->name : "unknown";
    char st[8];
    if (j->status >= 100 && j->status <= 999) { /* the metric label, without snprintf */
        st[0] = (char)('0' + j->status / 100);
        st[1] = (char)('0' + j->status / 10 % 10);
        st[2] = (char)('0' + j->status % 10);
        st[3] = '\0';
    } else {
        snprintf(st, sizeof(st), "%d", j->status);
    }
    tomo_metric_add(m_requests, (const char *[]){route, st}, 1);
    tomo_metric_observe(m_latency, (const char *[]){route},
                        (double)(tomo_mono_ns() - req->start_ns) / 1e6);
    if (j->ctx.trace.active) {
        char name[160];
        snprintf(name, sizeof(name), "%s %s", req->method_name ? req->method_name : "?",
                 j->ctx.route ? j->ctx.route->path : "?");
        tomo_trace_end_server(&j->ctx.trace, name, j->ctx.err_msg ? j->ctx.grpc_code : 0, "http");
    }
}

static void send_job(job *j)
{
    if (!j->accounted)
        account(j);
    tomo_http_respond_raw(j->req, j->status, j->headers, j->body, j->body_len);
    if (j->ctx.after_fn)
        j->ctx.after_fn(j->ctx.srv, j->ctx.after_arg);
    job_free(j);
}

static void respond_simple(tomo_server *srv, tomo_http_req *req, int status, int code,
                           const char *msg, const char *route)
{
    job *j = tomo_xcalloc(1, sizeof(*j));
    j->req = req;
    j->ctx.srv = srv;
    tomo_api_error(&j->ctx, code, "%s", msg);
    finish_ctx(j);
    j->status = status;
    static const tomo_api_route unknown = {0, "", "unknown", 0, 0, NULL, NULL, NULL, NULL, NULL};
    static const tomo_api_route notallowed = {0, "",   "method_not_allowed", 0, 0,
                                              NULL, NULL, NULL, NULL, NULL};
    j->ctx.route = route && !strcmp(route, "unknown") ? &unknown : &notallowed;
    send_job(j);
}

void tomo_api_handle_http(tomo_http_req *req, void *ud)
{
    tomo_server *srv = ud;
    if (req->method == TOMO_HTTP_OPTIONS) {
        /* CORS preflight: any origin, Nakama's headers and methods. */
        static const char hdrs[] =
            "Access-Control-Allow-Origin: *\r\n"
            "Access-Control-Allow-Headers: Authorization, Content-Type, User-Agent\r\n"
            "Access-Control-Allow-Methods: GET, HEAD, POST, PUT, DELETE\r\n";
        tomo_http_respond_raw(req, 200, hdrs, NULL, 0);
        return;
    }
    if (req->method == TOMO_HTTP_GET && !strcmp(req->path, "/")) {
        tomo_http_respond_raw(req, 200, NULL, NULL, 0);
        return;
    }
    int method = req->method == TOMO_HTTP_HEAD ? TOMO_HTTP_GET : req->method;
    tomo_route_match m;
    int rc = tomo_router_match(srv->router, method, req->path, &m);
    if (rc == TOMO_ENOTFOUND) {
        respond_simple(srv, req, 404, TOMO_GRPC_NOT_FOUND, "Not Found", "unknown");
        return;
    }
    if (rc == TOMO_EPERM) {
        respond_simple(srv, req, 501, TOMO_GRPC_UNIMPLEMENTED, "Method Not Allowed",
                       "method_not_allowed");
        return;
    }
    size_t n;
    const tomo_api_route *routes = tomo_api_routes(&n);
    const tomo_api_route *rt = &routes[m.id];
    int retry = 0;
    if (srv->ratelimit && rt->fn != tomo_api_healthcheck && rt->fn != tomo_api_readyz &&
        limit_ip(srv, req, rt, &retry) < 0) {
        tomo_route_match_clear(&m);
        job *j = tomo_xcalloc(1, sizeof(*j));
        j->req = req;
        j->ctx.srv = srv;
        j->ctx.route = rt;
        j->ctx.retry_after_sec = retry;
        tomo_api_error(&j->ctx, TOMO_GRPC_RESOURCE_EXHAUSTED, "Rate limit exceeded.");
        finish_ctx(j);
        send_job(j);
        return;
    }
    if (rt->flags & TOMO_ROUTE_RAW) {
        tomo_route_match_clear(&m);
        rt->raw(srv, req);
        return;
    }
    job *j = tomo_xcalloc(1, sizeof(*j));
    j->req = req;
    j->ctx.srv = srv;
    j->ctx.http = req;
    j->ctx.route = rt;
    tomo_trace_begin_server(&j->ctx.trace, tomo_http_header_get(req, "traceparent"),
                            tomo_http_header_get(req, "tracestate"));
    int bad_param = decode_path_params(&m);
    j->ctx.match = m;
    if (bad_param < 0) {
        tomo_api_error(&j->ctx, TOMO_GRPC_INVALID_ARGUMENT,
                       "Invalid path parameter: must be UTF-8 without NUL characters.");
        finish_ctx(j);
        send_job(j);
        return;
    }
    if ((rt->flags & TOMO_ROUTE_LOOP) || !rt->fn) {
        run_handler(j);
        send_job(j);
        return;
    }
    tomo_loop *cur = tomo_loop_current();
    j->loop = cur ? cur : srv->loop;
    j->lent = tomo_http_lend(req);
    /* work_cb posts the answer back itself (or writes it: lent) */
    if (tomo_pool_submit(rt->flags & TOMO_ROUTE_READ ? srv->rpool : srv->pool, work_cb, NULL,
                         j) < 0) {
        tomo_metric_add(m_rejected, NULL, 1);
        tomo_api_error(&j->ctx, TOMO_GRPC_UNAVAILABLE, "Server busy, try again.");
        finish_ctx(j);
        send_job(j);
    }
}
