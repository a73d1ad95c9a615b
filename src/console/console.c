/* console/console.c: the console port's HTTP dispatch: the web UI's files,
 * the /v2/console routes (token check, role check, worker or loop), Nakama's
 * error bodies, and the audit log line of every write (who, what, when:
 * the log line's own time). */
#define _GNU_SOURCE
#include "console_int.h"
#include "ui.h"

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"
#include "../core/ratelimit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

tomo_console *tomo_console_new(const tomo_console_deps *deps)
{
    tomo_console *c = tomo_xcalloc(1, sizeof(*c));
    c->d = *deps;
    c->router = tomo_router_new();
    size_t n;
    const tomo_console_route *r = tomo_console_routes(&n);
    for (size_t i = 0; i < n; i++)
        tomo_router_add(c->router, r[i].method, r[i].path, (int)i);
    c->login_limit = tomo_ratelimit_new(4096);
    uint8_t rnd[16];
    tomo_random_bytes(rnd, sizeof(rnd));
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(c->node_cookie + 2 * i, 3, "%02x", rnd[i]);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void tomo_console_free(tomo_console *c)
{
    if (!c)
        return;
    tomo_router_free(c->router);
    tomo_ratelimit_free(c->login_limit);
    tomo_console_auth_free(c);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* ---- helpers ---- */

const char *tomo_console_param(const tomo_console_ctx *ctx, const char *name)
{
    return tomo_route_param(&ctx->match, name);
}

const char *tomo_console_query(const tomo_console_ctx *ctx, const char *name)
{
    return json_string_value(json_array_get(json_object_get(ctx->query, name), 0));
}

const char *tomo_console_body_str(const tomo_console_ctx *ctx, const char *field)
{
    return json_string_value(json_object_get(ctx->body, field));
}

int tomo_console_error(tomo_console_ctx *ctx, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    free(ctx->err_msg);
    ctx->err_msg = msg ? msg : tomo_xstrdup("error");
    ctx->grpc_code = code;
    return TOMO_EINVAL;
}

int tomo_console_svc_error(tomo_console_ctx *ctx, const tomo_err *err)
{
    tomo_console_error(ctx, err->code, "%s", err->msg);
    return TOMO_EINVAL;
}

int tomo_console_db(tomo_console_ctx *ctx, tomo_dbconn **out)
{
    if (!ctx->db) {
        int rc = tomo_db_acquire(ctx->con->d.db, &ctx->db);
        if (rc < 0) {
            ctx->db = NULL;
            tomo_err err;
            tomo_err_db(&err, rc, "console: acquire connection");
            return tomo_console_svc_error(ctx, &err);
        }
    }
    *out = ctx->db;
    return 0;
}

void tomo_console_audit(tomo_console_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(ctx->audit);
    if (vasprintf(&ctx->audit, fmt, ap) < 0)
        ctx->audit = NULL;
    va_end(ap);
}

/* ---- dispatch ---- */

typedef struct job {
    tomo_console_ctx ctx;
    int status;
    char *body;
    size_t body_len;
    char headers[512];
} job;

static const char k_common[] = "Cache-Control: no-store\r\n"
                               "X-Frame-Options: deny\r\n"
                               "X-Content-Type-Options: nosniff\r\n";

static void finish(job *j)
{
    tomo_console_ctx *ctx = &j->ctx;
    const char *ctype = "application/json";
    if (ctx->err_msg) {
        j->status = tomo_grpc_to_http(ctx->grpc_code);
        json_t *e = json_pack("{s:i,s:s,s:[]}", "code", ctx->grpc_code, "message", ctx->err_msg,
                              "details");
        j->body = json_dumps(e, JSON_COMPACT);
        json_decref(e);
    } else if (ctx->raw_out) {
        j->status = 200;
        j->body = ctx->raw_out;
        j->body_len = ctx->raw_len;
        ctx->raw_out = NULL;
        ctype = ctx->content_type ? ctx->content_type : "application/octet-stream";
    } else {
        j->status = 200;
        j->body = ctx->out ? json_dumps(ctx->out, JSON_COMPACT) : tomo_xstrdup("{}");
    }
    if (!ctx->raw_out && !j->body_len)
        j->body_len = strlen(j->body);
    int off = snprintf(j->headers, sizeof(j->headers), "Content-Type: %s\r\n%s", ctype, k_common);
    if (ctx->retry_after_sec > 0)
        snprintf(j->headers + off, sizeof(j->headers) - (size_t)off, "Retry-After: %d\r\n",
                 ctx->retry_after_sec);
    /* the audit line: every write that passed the auth check, with its outcome */
    const tomo_console_route *rt = ctx->route;
    if (rt && rt->method != TOMO_HTTP_GET && *ctx->user && !(rt->flags & TOMO_CROUTE_NOAUTH)) {
        TOMO_LOGI(TOMO_CONSOLE, "audit user=%s role=%d action=%s target=%s client=%s result=%s",
                  ctx->user, ctx->role, rt->name, ctx->audit ? ctx->audit : "-", ctx->client_ip,
                  ctx->err_msg ? ctx->err_msg : "ok");
    }
}

static void ctx_clear(tomo_console_ctx *ctx)
{
    tomo_db_release(ctx->db);
    json_decref(ctx->body);
    json_decref(ctx->query);
    json_decref(ctx->out);
    free(ctx->raw_out);
    free(ctx->err_msg);
    free(ctx->audit);
    tomo_route_match_clear(&ctx->match);
}

static void run(job *j)
{
    tomo_console_ctx *ctx = &j->ctx;
    const tomo_console_route *rt = ctx->route;
    ctx->query = tomo_query_params(ctx->http->query);
    int rc = 0;
    if (!(rt->flags & TOMO_CROUTE_NOAUTH)) {
        rc = tomo_console_check_auth(ctx);
        /* Nakama: a role at or above the route's least privileged one, or admin */
        if (rc == 0 && !(ctx->role == TOMO_ROLE_ADMIN ||
                         (ctx->role != TOMO_ROLE_UNKNOWN && ctx->role <= rt->min_role)))
            rc = tomo_console_error(ctx, TOMO_GRPC_PERMISSION_DENIED,
                                    "You don't have the necessary permissions to complete the "
                                    "operation.");
    }
    if (rc == 0 && ctx->http->body_len) {
        json_error_t jerr;
        ctx->body = json_loadb(ctx->http->body, ctx->http->body_len, 0, &jerr);
        if (!json_is_object(ctx->body))
            rc = tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                    "Invalid JSON body: must be an object.");
    }
    if (rc == 0) {
        if (!rt->fn)
            rc = tomo_console_error(ctx, TOMO_GRPC_UNIMPLEMENTED, "Not implemented in tomo yet.");
        else
            rc = rt->fn(ctx);
        if (rc < 0 && !ctx->err_msg)
            tomo_console_error(ctx, TOMO_GRPC_INTERNAL, "Internal server error.");
    }
    tomo_db_release(ctx->db);
    ctx->db = NULL;
    finish(j);
}

static void work_cb(void *a) { run(a); }

static void send_job(job *j)
{
    tomo_http_respond_raw(j->ctx.http, j->status, j->headers, j->body, j->body_len);
    free(j->body);
    ctx_clear(&j->ctx);
    free(j);
}

static void done_cb(void *a) { send_job(a); }

static void respond_error(tomo_console *c, tomo_http_req *req, int code, const char *msg)
{
    job *j = tomo_xcalloc(1, sizeof(*j));
    j->ctx.con = c;
    j->ctx.http = req;
    tomo_console_error(&j->ctx, code, "%s", msg);
    finish(j);
    send_job(j);
}

/* The UI: a known file, else index.html (the page routes in the browser). */
static void serve_ui(tomo_http_req *req)
{
    const char *path = !strcmp(req->path, "/") ? "/index.html" : req->path;
    const tomo_console_asset *a = NULL;
    for (size_t i = 0; i < tomo_console_nassets; i++) {
        if (!strcmp(tomo_console_assets[i].path, path))
            a = &tomo_console_assets[i];
        if (!strcmp(tomo_console_assets[i].path, "/index.html") && !a && !strchr(path + 1, '.'))
            a = &tomo_console_assets[i];
    }
    if (!a) {
        tomo_http_respond_raw(req, 404, "Content-Type: text/plain\r\n", "not found\n", 10);
        return;
    }
    char hdr[512];
    snprintf(hdr, sizeof(hdr),
             "Content-Type: %s\r\nCache-Control: no-cache\r\nX-Frame-Options: deny\r\n"
             "X-Content-Type-Options: nosniff\r\nContent-Security-Policy: default-src 'self'; "
             "img-src 'self' data:; frame-ancestors 'none'\r\n",
             a->content_type);
    tomo_http_respond_raw(req, 200, hdr, req->method == TOMO_HTTP_HEAD ? NULL : (const char *)a->data,
                          req->method == TOMO_HTTP_HEAD ? 0 : a->len);
}

void tomo_console_handle_http(tomo_http_req *req, void *ud)
{
    tomo_console *c = ud;
    if (req->method == TOMO_HTTP_OPTIONS) {
        static const char hdrs[] =
            "Access-Control-Allow-Origin: *\r\n"
            "Access-Control-Allow-Headers: Authorization, Content-Type, User-Agent\r\n"
            "Access-Control-Allow-Methods: GET, HEAD, POST, PUT, DELETE, PATCH\r\n";
        tomo_http_respond_raw(req, 200, hdrs, NULL, 0);
        return;
    }
    if (strncmp(req->path, "/v2/", 4)) {
        if (req->method == TOMO_HTTP_GET || req->method == TOMO_HTTP_HEAD)
            serve_ui(req);
        else
            respond_error(c, req, TOMO_GRPC_NOT_FOUND, "Not Found");
        return;
    }
    tomo_route_match m;
    int rc = tomo_router_match(c->router, req->method, req->path, &m);
    if (rc == TOMO_ENOTFOUND) {
        respond_error(c, req, TOMO_GRPC_NOT_FOUND, "Not Found");
        return;
    }
    if (rc == TOMO_EPERM) {
        respond_error(c, req, TOMO_GRPC_UNIMPLEMENTED, "Method Not Allowed");
        return;
    }
    for (size_t i = 0; i < m.nparams; i++) {
        char *v = m.values[i];
        size_t o = tomo_pct_decode_to(v, strlen(v), 0, v);
        v[o] = '\0';
    }
    size_t n;
    const tomo_console_route *routes = tomo_console_routes(&n);
    job *j = tomo_xcalloc(1, sizeof(*j));
    j->ctx.con = c;
    j->ctx.http = req;
    j->ctx.route = &routes[m.id];
    j->ctx.match = m;
    tomo_ratelimit_client_ip(c->d.trusted_proxies, req->client_ip,
                             c->d.trusted_proxies ? tomo_http_header_get(req, "x-forwarded-for")
                                                  : NULL,
                             j->ctx.client_ip, sizeof(j->ctx.client_ip));
    if (j->ctx.route->flags & TOMO_CROUTE_LOOP) {
        run(j);
        send_job(j);
        return;
    }
    if (tomo_pool_submit(c->d.pool, work_cb, done_cb, j) < 0) {
        tomo_console_error(&j->ctx, TOMO_GRPC_UNAVAILABLE, "Server busy, try again.");
        finish(j);
        send_job(j);
    }
}
