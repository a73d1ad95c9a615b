/* grpc/grpc.c: HTTP/2 (nghttp2) + gRPC framing + the adapter onto the API
 * handlers. See grpc.h for what it owns. */
#define _GNU_SOURCE
#include "grpc.h"

#include "../api/api.h"
#include "../codec/codec.h"
#include "../core/common.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/trace.h"
#include "../net/sock.h"

#include <ctype.h>
#include <stdarg.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the method table ------------------------------------------------------ */

#define MAX_ROWS 4

typedef tomo_api_binding grow; /* one REST row of a method (api/bind.c) */

typedef struct gmethod {
    const char *name; /* "AuthenticateDevice" */
    const char *full; /* "/nakama.api.Nakama/AuthenticateDevice" */
    const ProtobufCMessageDescriptor *in, *out;
    size_t nrows;
    grow rows[MAX_ROWS];
} gmethod;

typedef struct gconn gconn;
typedef struct gstream gstream;
typedef struct gjob gjob;

struct tomo_grpc {
    tomo_server *srv;
    struct tomo_tls *tls;
    gmethod *methods;
    size_t nmethods;
    uv_tcp_t *listener;
    int port;
    int shutting_down;
    gconn *conns;
    size_t inflight;
    size_t max_msg;
};

static tomo_metric *m_calls, *m_latency, *m_recv, *m_sent;

static int method_cmp(const void *a, const void *b)
{
    return strcmp(((const gmethod *)a)->full, ((const gmethod *)b)->full);
}

static const gmethod *method_find(const tomo_grpc *g, const char *path)
{
    gmethod key = {.full = path};
    return bsearch(&key, g->methods, g->nmethods, sizeof(gmethod), method_cmp);
}

static void methods_build(tomo_grpc *g)
{
    size_t n;
    const tomo_api_route *routes = tomo_api_routes(&n);
    g->methods = tomo_xcalloc(n, sizeof(gmethod));
    for (size_t i = 0; i < n; i++) {
        const tomo_api_route *rt = &routes[i];
        if (!rt->grpc_method)
            continue;
        gmethod *m = NULL;
        for (size_t j = 0; j < g->nmethods; j++)
            if (!strcmp(g->methods[j].full, rt->grpc_method))
                m = &g->methods[j];
        if (!m) {
            m = &g->methods[g->nmethods++];
            m->full = rt->grpc_method;
            const char *slash = strrchr(rt->grpc_method, '/');
            m->name = slash ? slash + 1 : rt->grpc_method;
            if (tomo_codec_api_method(m->name, &m->in, &m->out) < 0)
                TOMO_LOGW(TOMO_API, "grpc method without a descriptor method=%s", m->name);
        }
        if (m->nrows < MAX_ROWS)
            tomo_api_binding_init(&m->rows[m->nrows++], rt);
    }
    qsort(g->methods, g->nmethods, sizeof(gmethod), method_cmp);
}

/* ---- connections and streams ---------------------------------------------- */

struct gstream {
    gconn *c;
    gstream *prev, *next;
    int32_t id;
    char *path;
    char *ctype;
    char *encoding;
    tomo_http_header *hdrs;
    size_t nhdrs, caphdrs;
    uint8_t *buf;
    size_t len, cap;
    int too_big;
    uint64_t deadline_ns;
    uv_timer_t *timer;
    int answered;
    gjob *job;
    /* the response message (prefix included), sent by the data provider */
    uint8_t *resp;
    size_t resp_len, resp_off;
    int code;
    char *msg;
};

struct gconn {
    tomo_grpc *g;
    gconn *prev, *next;
    tomo_sock *sock;
    nghttp2_session *h2;
    gstream *streams;
    char client_ip[64];
    int closing;
};

struct gjob {
    tomo_grpc *g;
    gstream *s; /* NULL once the stream is gone or already answered */
    const gmethod *m;
    tomo_http_req req; /* synthetic: the metadata as headers, client address */
    uint8_t *msg;
    size_t msg_len;
    uint64_t deadline_ns;
    uint64_t start_ns;
    tomo_trace trace;
    int code;
    char *err;
    uint8_t *out;
    size_t out_len;
    void (*after_fn)(tomo_server *srv, void *arg);
    void *after_arg;
};

static void conn_close(gconn *c);
static void conn_flush(gconn *c);

static void on_timer_closed(uv_handle_t *h) { free(h); }

static void stream_free(gstream *s)
{
    if (s->job)
        s->job->s = NULL;
    if (s->timer) {
        uv_timer_stop(s->timer);
        uv_close((uv_handle_t *)s->timer, on_timer_closed);
    }
    gconn *c = s->c;
    if (s->prev)
        s->prev->next = s->next;
    else if (c->streams == s)
        c->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    for (size_t i = 0; i < s->nhdrs; i++) {
        free(s->hdrs[i].name);
        free(s->hdrs[i].value);
    }
    free(s->hdrs);
    free(s->path);
    free(s->ctype);
    free(s->encoding);
    free(s->buf);
    free(s->resp);
    free(s->msg);
    free(s);
}

/* A formatted message for answer_status (loop thread only; copied there). */
static const char *tmpf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *tmpf(const char *fmt, ...)
{
    static char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return buf;
}

/* grpc-message is percent-encoded: bytes outside 0x20..0x7e and '%'. */
static char *pct_encode(const char *m)
{
    size_t n = strlen(m);
    char *o = tomo_xmalloc(n * 3 + 1), *p = o;
    for (const unsigned char *u = (const unsigned char *)m; *u; u++) {
        if (*u < 0x20 || *u > 0x7e || *u == '%')
            p += sprintf(p, "%%%02X", *u);
        else
            *p++ = (char)*u;
    }
    *p = '\0';
    return o;
}

#define NV(n, v)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE             \
    }

static void observe(gstream *s, const gmethod *m, int code, size_t recv, size_t sent,
                    uint64_t start_ns)
{
    const char *name = m ? m->name : "unknown";
    char cs[8];
    snprintf(cs, sizeof(cs), "%d", code);
    tomo_metric_add(m_calls, (const char *[]){name, cs}, 1);
    tomo_metric_add(m_recv, (const char *[]){name}, (double)recv);
    tomo_metric_add(m_sent, (const char *[]){name}, (double)sent);
    if (start_ns)
        tomo_metric_observe(m_latency, (const char *[]){name},
                            (double)(tomo_mono_ns() - start_ns) / 1e6);
    (void)s;
}

/* Trailers-only response: the status in the response headers, END_STREAM. */
static void answer_status(gstream *s, int code, const char *msg)
{
    if (s->answered)
        return;
    s->answered = 1;
    char cs[8];
    snprintf(cs, sizeof(cs), "%d", code);
    char *em = pct_encode(msg ? msg : "");
    nghttp2_nv hdrs[] = {
        NV(":status", "200"),
        NV("content-type", "application/grpc"),
        NV("grpc-accept-encoding", "identity"),
        NV("grpc-status", cs),
        NV("grpc-message", em),
    };
    size_t n = code == 0 || !*em ? 4 : 5;
    nghttp2_submit_response(s->c->h2, s->id, hdrs, n, NULL);
    free(em);
}

static ssize_t resp_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)ud;
    gstream *s = src->ptr;
    size_t left = s->resp_len - s->resp_off;
    size_t n = left < length ? left : length;
    memcpy(buf, s->resp + s->resp_off, n);
    s->resp_off += n;
    if (s->resp_off == s->resp_len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        nghttp2_nv tr[] = {NV("grpc-status", "0")};
        nghttp2_submit_trailer(h2, id, tr, 1);
    }
    return (ssize_t)n;
}

/* A message response: headers, one length-prefixed DATA payload, trailers. */
static void answer_message(gstream *s, const uint8_t *msg, size_t len)
{
    if (s->answered)
        return;
    s->answered = 1;
    s->resp = tomo_xmalloc(len + 5);
    s->resp[0] = 0;
    s->resp[1] = (uint8_t)(len >> 24);
    s->resp[2] = (uint8_t)(len >> 16);
    s->resp[3] = (uint8_t)(len >> 8);
    s->resp[4] = (uint8_t)len;
    if (len)
        memcpy(s->resp + 5, msg, len);
    s->resp_len = len + 5;
    s->resp_off = 0;
    nghttp2_nv hdrs[] = {
        NV(":status", "200"),
        NV("content-type", "application/grpc"),
        NV("grpc-accept-encoding", "identity"),
    };
    nghttp2_data_provider dp = {.source.ptr = s, .read_callback = resp_read};
    nghttp2_submit_response(s->c->h2, s->id, hdrs, 3, &dp);
}

static void on_deadline(uv_timer_t *t)
{
    gstream *s = t->data;
    if (s->answered)
        return;
    const gmethod *m = s->job ? s->job->m : NULL;
    uint64_t start = s->job ? s->job->start_ns : 0;
    TOMO_LOGD(TOMO_API, "grpc deadline exceeded method=%s", m ? m->name : "?");
    answer_status(s, TOMO_GRPC_DEADLINE_EXCEEDED, "context deadline exceeded");
    observe(s, m, TOMO_GRPC_DEADLINE_EXCEEDED, s->len, 0, start);
    if (s->job)
        s->job->s = NULL; /* its result is dropped */
    s->job = NULL;
    conn_flush(s->c);
}

int tomo_grpc_parse_timeout(const char *v, unsigned long long *ns)
{
    if (!v || !*v)
        return TOMO_EINVAL;
    unsigned long long x = 0;
    size_t i = 0;
    for (; isdigit((unsigned char)v[i]); i++) {
        if (i == 8)
            return TOMO_EINVAL; /* at most 8 digits */
        x = x * 10 + (unsigned long long)(v[i] - '0');
    }
    if (i == 0 || !v[i] || v[i + 1])
        return TOMO_EINVAL;
    unsigned long long mul;
    switch (v[i]) {
    case 'H': mul = 3600ULL * 1000000000ULL; break;
    case 'M': mul = 60ULL * 1000000000ULL; break;
    case 'S': mul = 1000000000ULL; break;
    case 'm': mul = 1000000ULL; break;
    case 'u': mul = 1000ULL; break;
    case 'n': mul = 1; break;
    default: return TOMO_EINVAL;
    }
    *ns = x * mul;
    return 0;
}

/* ---- the call: worker side --------------------------------------------------- */

/* A JSON value as query parameter text(s) appended to arr. */
static void job_fail(gjob *j, int code, char *msg)
{
    free(j->err);
    j->err = msg;
    j->code = code;
}

static void job_run(gjob *j)
{
    const gmethod *m = j->m;
    tomo_trace_set_current(&j->trace);
    if (j->deadline_ns && tomo_mono_ns() >= j->deadline_ns) {
        job_fail(j, TOMO_GRPC_DEADLINE_EXCEEDED, tomo_xstrdup("context deadline exceeded"));
        goto out;
    }
    if (!m->in || !m->out) {
        job_fail(j, TOMO_GRPC_UNIMPLEMENTED, tomo_xstrdup("Not implemented"));
        goto out;
    }
    json_t *in = NULL;
    if (tomo_codec_pb_to_json(m->in, j->msg, j->msg_len, &in) < 0) {
        job_fail(j, TOMO_GRPC_INTERNAL,
                 tomo_xasprintf("grpc: error unmarshalling request: malformed %s", m->in->name));
        goto out;
    }
    const grow *row = tomo_api_binding_pick(m->rows, m->nrows, in);
    tomo_api_ctx ctx = {0};
    ctx.srv = j->g->srv;
    ctx.http = &j->req;
    ctx.tree_out = 1; /* the response becomes protobuf from ctx.out */
    ctx.trace = j->trace;
    j->req.method = row->route->method;
    j->req.path = (char *)row->route->path;
    char *raw = NULL;
    tomo_api_bind_message(&ctx, row, in, &raw);
    json_decref(in);
    int rc = tomo_api_auth(&ctx);
    if (rc == 0)
        tomo_api_call(&ctx);
    ctx.raw_body = NULL;
    free(raw);
    if (ctx.err_msg) {
        j->code = ctx.grpc_code ? ctx.grpc_code : TOMO_GRPC_UNKNOWN;
        j->err = ctx.err_msg;
        ctx.err_msg = NULL;
    } else {
        json_t *res = ctx.out ? json_incref(ctx.out) : json_object();
        if (!strcmp(m->name, "RpcFunc") && json_is_object(res))
            json_object_set_new(res, "id", json_string(tomo_api_param(&ctx, "id")));
        char why[256];
        if (tomo_codec_json_to_pb_ex(m->out, res, TOMO_CODEC_IGNORE_UNKNOWN, &j->out, &j->out_len,
                                     why, sizeof(why)) < 0) {
            TOMO_LOGE(TOMO_API, "grpc response does not fit its message method=%s error=%s",
                      m->name, why);
            job_fail(j, TOMO_GRPC_INTERNAL, tomo_xstrdup("Internal server error."));
        }
        json_decref(res);
    }
    j->after_fn = ctx.after_fn;
    j->after_arg = ctx.after_arg;
    tomo_api_ctx_clear(&ctx);
out:
    tomo_trace_set_current(NULL);
}

static void job_free(gjob *j)
{
    for (size_t i = 0; i < j->req.nheaders; i++) {
        free(j->req.headers[i].name);
        free(j->req.headers[i].value);
    }
    free(j->req.headers);
    free(j->msg);
    free(j->err);
    free(j->out);
    free(j);
}

static void job_done(gjob *j)
{
    tomo_grpc *g = j->g;
    g->inflight--;
    gstream *s = j->s;
    if (s) {
        s->job = NULL;
        if (j->err) {
            if (j->code == TOMO_GRPC_INTERNAL || j->code == TOMO_GRPC_UNKNOWN)
                TOMO_LOGD(TOMO_API, "grpc call failed method=%s code=%d", j->m->name, j->code);
            answer_status(s, j->code, j->err);
            observe(s, j->m, j->code, j->msg_len, 0, j->start_ns);
        } else {
            answer_message(s, j->out, j->out_len);
            observe(s, j->m, 0, j->msg_len, j->out_len + 5, j->start_ns);
        }
        tomo_trace_end_server(&j->trace, j->m->full, j->err ? j->code : 0, "grpc");
        conn_flush(s->c);
    }
    if (j->after_fn)
        j->after_fn(g->srv, j->after_arg);
    job_free(j);
}

static void work_cb(void *arg) { job_run(arg); }
static void done_cb(void *arg) { job_done(arg); }

/* ---- the call: loop side ------------------------------------------------------ */

static void stream_dispatch(gstream *s)
{
    tomo_grpc *g = s->c->g;
    if (s->answered)
        return;
    if (!s->ctype || strncmp(s->ctype, "application/grpc", 16) ||
        (s->ctype[16] && s->ctype[16] != '+' && s->ctype[16] != ';')) {
        s->answered = 1;
        nghttp2_nv hdrs[] = {NV(":status", "415"), NV("content-type", "text/plain")};
        nghttp2_submit_response(s->c->h2, s->id, hdrs, 2, NULL);
        return;
    }
    const gmethod *m = s->path ? method_find(g, s->path) : NULL;
    if (!m) {
        const char *p = s->path ? s->path : "";
        const char *slash = strrchr(p, '/');
        if (!strncmp(p, "/nakama.api.Nakama/", 19))
            answer_status(s, TOMO_GRPC_UNIMPLEMENTED,
                          tmpf("unknown method %s for service nakama.api.Nakama",
                                          slash ? slash + 1 : p));
        else {
            const char *svc = *p == '/' ? p + 1 : p;
            int svclen = slash && slash > svc ? (int)(slash - svc) : (int)strlen(svc);
            answer_status(s, TOMO_GRPC_UNIMPLEMENTED, tmpf("unknown service %.*s", svclen, svc));
        }
        observe(s, NULL, TOMO_GRPC_UNIMPLEMENTED, s->len, 0, 0);
        return;
    }
    if (s->len < 5) {
        answer_status(s, TOMO_GRPC_INTERNAL, "grpc: request has no message");
        observe(s, m, TOMO_GRPC_INTERNAL, s->len, 0, 0);
        return;
    }
    size_t declared = ((size_t)s->buf[1] << 24) | ((size_t)s->buf[2] << 16) |
                      ((size_t)s->buf[3] << 8) | s->buf[4];
    if (declared != s->len - 5) {
        answer_status(s, TOMO_GRPC_INTERNAL,
                      declared > s->len - 5 ? "grpc: truncated message"
                                            : "grpc: more than one message in a unary call");
        observe(s, m, TOMO_GRPC_INTERNAL, s->len, 0, 0);
        return;
    }
    if (s->buf[0] & 1) {
        if (!s->encoding || !*s->encoding || !strcmp(s->encoding, "identity"))
            answer_status(s, TOMO_GRPC_INTERNAL,
                          "grpc: compressed flag set with identity or empty encoding");
        else
            answer_status(s, TOMO_GRPC_UNIMPLEMENTED,
                          tmpf("grpc: Decompressor is not installed for grpc-encoding "
                                          "\"%s\"",
                                          s->encoding));
        observe(s, m, s->encoding ? TOMO_GRPC_UNIMPLEMENTED : TOMO_GRPC_INTERNAL, s->len, 0, 0);
        return;
    }
    gjob *j = tomo_xcalloc(1, sizeof(*j));
    j->g = g;
    j->s = s;
    j->m = m;
    j->start_ns = tomo_mono_ns();
    j->deadline_ns = s->deadline_ns;
    j->msg_len = declared;
    j->msg = tomo_xmalloc(declared ? declared : 1);
    memcpy(j->msg, s->buf + 5, declared);
    j->req.headers = s->hdrs;
    j->req.nheaders = s->nhdrs;
    s->hdrs = NULL;
    s->nhdrs = s->caphdrs = 0;
    j->req.method_name = "POST";
    j->req.target = (char *)m->full;
    j->req.query = (char *)"";
    j->req.start_ns = j->start_ns;
    snprintf(j->req.client_ip, sizeof(j->req.client_ip), "%s", s->c->client_ip);
    tomo_trace_begin_server(&j->trace, tomo_http_header_get(&j->req, "traceparent"),
                            tomo_http_header_get(&j->req, "tracestate"));
    s->job = j;
    g->inflight++;
    if (m->rows[0].route->flags & TOMO_ROUTE_LOOP) {
        job_run(j);
        job_done(j);
        return;
    }
    tomo_pool *pool = m->rows[0].route->flags & TOMO_ROUTE_READ ? g->srv->rpool : g->srv->pool;
    if (tomo_pool_submit(pool, work_cb, done_cb, j) < 0) {
        job_fail(j, TOMO_GRPC_UNAVAILABLE, tomo_xstrdup("Server busy, try again."));
        job_done(j);
    }
}

/* ---- nghttp2 callbacks ------------------------------------------------------- */

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
    gconn *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    gstream *s = tomo_xcalloc(1, sizeof(*s));
    s->c = c;
    s->id = f->hd.stream_id;
    s->next = c->streams;
    if (c->streams)
        c->streams->prev = s;
    c->streams = s;
    nghttp2_session_set_stream_user_data(h2, s->id, s);
    return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *ud)
{
    (void)flags;
    (void)ud;
    gstream *s = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    if (!s || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    const char *n = (const char *)name;
    if (namelen == 5 && !memcmp(n, ":path", 5)) {
        free(s->path);
        s->path = tomo_xstrndup((const char *)value, valuelen);
        return 0;
    }
    if (namelen && n[0] == ':')
        return 0;
    if (namelen == 12 && !memcmp(n, "content-type", 12)) {
        free(s->ctype);
        s->ctype = tomo_xstrndup((const char *)value, valuelen);
    } else if (namelen == 13 && !memcmp(n, "grpc-encoding", 13)) {
        free(s->encoding);
        s->encoding = tomo_xstrndup((const char *)value, valuelen);
    } else if (namelen == 12 && !memcmp(n, "grpc-timeout", 12)) {
        char tv[32];
        unsigned long long ns;
        snprintf(tv, sizeof(tv), "%.*s", (int)valuelen, (const char *)value);
        if (tomo_grpc_parse_timeout(tv, &ns) == 0)
            s->deadline_ns = tomo_mono_ns() + (ns ? ns : 1);
        return 0;
    }
    if (s->nhdrs == s->caphdrs) {
        s->caphdrs = s->caphdrs ? s->caphdrs * 2 : 8;
        s->hdrs = tomo_xrealloc(s->hdrs, s->caphdrs * sizeof(*s->hdrs));
    }
    s->hdrs[s->nhdrs].name = tomo_xstrndup(n, namelen);
    s->hdrs[s->nhdrs].value = tomo_xstrndup((const char *)value, valuelen);
    s->nhdrs++;
    return 0;
}

static void start_deadline(gstream *s)
{
    if (!s->deadline_ns || s->timer)
        return;
    uint64_t now = tomo_mono_ns();
    uint64_t ms = s->deadline_ns > now ? (s->deadline_ns - now + 999999) / 1000000 : 0;
    s->timer = tomo_xmalloc(sizeof(*s->timer));
    uv_timer_init(s->c->sock->tcp.loop, s->timer);
    s->timer->data = s;
    uv_timer_start(s->timer, on_deadline, ms, 0);
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud)
{
    (void)flags;
    gconn *c = ud;
    gstream *s = nghttp2_session_get_stream_user_data(h2, id);
    if (!s || s->too_big || s->answered)
        return 0;
    size_t max = c->g->max_msg;
    if (s->len + len > max + 5) {
        s->too_big = 1;
        size_t declared = s->len >= 5 ? ((size_t)s->buf[1] << 24) | ((size_t)s->buf[2] << 16) |
                                            ((size_t)s->buf[3] << 8) | s->buf[4]
                                      : s->len + len;
        const gmethod *m = s->path ? method_find(c->g, s->path) : NULL;
        answer_status(s, TOMO_GRPC_RESOURCE_EXHAUSTED,
                      tmpf("grpc: received message larger than max (%zu vs. %zu)",
                                      declared, max));
        observe(s, m, TOMO_GRPC_RESOURCE_EXHAUSTED, s->len + len, 0, 0);
        free(s->buf);
        s->buf = NULL;
        s->len = s->cap = 0;
        return 0;
    }
    if (s->len + len > s->cap) {
        s->cap = s->cap ? s->cap : 256;
        while (s->cap < s->len + len)
            s->cap *= 2;
        s->buf = tomo_xrealloc(s->buf, s->cap);
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    /* an oversize message is refused as soon as its prefix says so */
    if (s->len >= 5 && s->len - len < 5) {
        size_t declared = ((size_t)s->buf[1] << 24) | ((size_t)s->buf[2] << 16) |
                          ((size_t)s->buf[3] << 8) | s->buf[4];
        if (declared > max) {
            s->too_big = 1;
            const gmethod *m = s->path ? method_find(c->g, s->path) : NULL;
            answer_status(s, TOMO_GRPC_RESOURCE_EXHAUSTED,
                          tmpf("grpc: received message larger than max (%zu vs. %zu)",
                                          declared, max));
            observe(s, m, TOMO_GRPC_RESOURCE_EXHAUSTED, s->len, 0, 0);
        }
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
    (void)ud;
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
        return 0;
    gstream *s = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    if (!s)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
        start_deadline(s);
    if ((f->hd.flags & NGHTTP2_FLAG_END_STREAM) && !s->too_big)
        stream_dispatch(s);
    return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t err, void *ud)
{
    (void)err;
    (void)ud;
    gstream *s = nghttp2_session_get_stream_user_data(h2, id);
    if (s) {
        nghttp2_session_set_stream_user_data(h2, id, NULL);
        stream_free(s);
    }
    return 0;
}

/* ---- socket I/O -------------------------------------------------------------- */

typedef struct wreq {
    uv_write_t w;
    uv_buf_t b;
} wreq;

static void on_write(uv_write_t *w, int status)
{
    (void)status;
    wreq *r = (wreq *)w;
    free(r->b.base);
    free(r);
}

static void on_sock_closed(uv_handle_t *h) { free(h); }

static void conn_close(gconn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    while (c->streams)
        stream_free(c->streams);
    nghttp2_session_del(c->h2);
    c->h2 = NULL;
    tomo_sock_set_data(c->sock, NULL);
    tomo_sock_close(c->sock, on_sock_closed);
    tomo_grpc *g = c->g;
    if (c->prev)
        c->prev->next = c->next;
    else if (g->conns == c)
        g->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

static void conn_flush(gconn *c)
{
    if (c->closing)
        return;
    char *out = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(c->h2, &data);
        if (n < 0) {
            free(out);
            conn_close(c);
            return;
        }
        if (n == 0)
            break;
        if (len + (size_t)n > cap) {
            cap = cap ? cap : 4096;
            while (cap < len + (size_t)n)
                cap *= 2;
            out = tomo_xrealloc(out, cap);
        }
        memcpy(out + len, data, (size_t)n);
        len += (size_t)n;
    }
    if (len) {
        wreq *r = tomo_xmalloc(sizeof(*r));
        r->b = uv_buf_init(out, (unsigned)len);
        if (tomo_sock_write(c->sock, &r->w, &r->b, 1, on_write) < 0) {
            free(out);
            free(r);
            conn_close(c);
            return;
        }
    }
    if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2))
        conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    (void)h;
    (void)sz;
    b->base = tomo_xmalloc(16384);
    b->len = 16384;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    gconn *c = tomo_sock_data((tomo_sock *)st);
    if (!c) {
        free(b->base);
        return;
    }
    if (n < 0) {
        free(b->base);
        conn_close(c);
        return;
    }
    if (n > 0) {
        ssize_t r = nghttp2_session_mem_recv(c->h2, (const uint8_t *)b->base, (size_t)n);
        free(b->base);
        if (r < 0) {
            TOMO_LOGD(TOMO_API, "grpc connection error client=%s error=%s", c->client_ip,
                      nghttp2_strerror((int)r));
            conn_close(c);
            return;
        }
        conn_flush(c);
        return;
    }
    free(b->base);
}

static void on_connection(uv_stream_t *ls, int status)
{
    tomo_grpc *g = ls->data;
    if (status < 0 || !g)
        return;
    tomo_sock *sock = tomo_sock_new(ls->loop, g->tls);
    if (tomo_sock_accept(ls, sock) != 0) {
        tomo_sock_close(sock, on_sock_closed);
        return;
    }
    uv_tcp_nodelay(&sock->tcp, 1); /* replies are whole frames: no Nagle delay */
    gconn *c = tomo_xcalloc(1, sizeof(*c));
    c->g = g;
    c->sock = sock;
    tomo_sock_peer_ip(sock, c->client_ip, sizeof(c->client_ip));
    tomo_sock_set_data(sock, c);
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_server_new(&c->h2, cb, c);
    nghttp2_session_callbacks_del(cb);
    const tomo_config *cfg = g->srv->cfg;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, (uint32_t)cfg->grpc.max_concurrent_streams},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)cfg->socket.max_header_bytes},
    };
    nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2);
    c->next = g->conns;
    if (g->conns)
        g->conns->prev = c;
    g->conns = c;
    if (g->shutting_down)
        nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
    if (tomo_sock_read_start(sock, on_alloc, on_read) < 0) {
        conn_close(c);
        return;
    }
    /* Over TLS nothing can be written before the handshake is done: the
     * server's SETTINGS go out with the first flush after the client's
     * preface, which only arrives once it is. */
    if (!g->tls)
        conn_flush(c);
}

/* ---- server ---------------------------------------------------------------- */

tomo_grpc *tomo_grpc_new(tomo_server *srv, struct tomo_tls *tls)
{
    tomo_grpc *g = tomo_xcalloc(1, sizeof(*g));
    g->srv = srv;
    g->tls = tls;
    g->max_msg = (size_t)srv->cfg->socket.max_request_size_bytes;
    methods_build(g);
    m_calls = tomo_metrics_counter("grpc_requests_total", "gRPC API calls by method and status code",
                                   "method,code");
    m_latency = tomo_metrics_histogram("grpc_request_duration_ms",
                                       "gRPC API call latency in milliseconds", "method", NULL, 0);
    m_recv = tomo_metrics_counter("grpc_received_bytes_total",
                                  "gRPC request message bytes by method", "method");
    m_sent = tomo_metrics_counter("grpc_sent_bytes_total", "gRPC response message bytes by method",
                                  "method");
    return g;
}

int tomo_grpc_listen(tomo_grpc *g, const char *host, int port, char *err, size_t errlen)
{
    return tomo_sock_listen(tomo_loop_uv(g->srv->loop), host, port, on_connection, g, &g->listener,
                            &g->port, err, errlen);
}

int tomo_grpc_port(const tomo_grpc *g) { return g ? g->port : 0; }

size_t tomo_grpc_inflight(const tomo_grpc *g) { return g ? g->inflight : 0; }

void tomo_grpc_shutdown(tomo_grpc *g)
{
    if (!g || g->shutting_down)
        return;
    g->shutting_down = 1;
    if (g->listener) {
        g->listener->data = NULL;
        uv_close((uv_handle_t *)g->listener, on_sock_closed);
        g->listener = NULL;
    }
    for (gconn *c = g->conns, *next; c; c = next) {
        next = c->next;
        nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(c->h2), NGHTTP2_NO_ERROR,
                              NULL, 0);
        conn_flush(c);
    }
}

void tomo_grpc_close_all(tomo_grpc *g)
{
    if (!g)
        return;
    tomo_grpc_shutdown(g);
    while (g->conns)
        conn_close(g->conns);
}

void tomo_grpc_free(tomo_grpc *g)
{
    if (!g)
        return;
    while (g->conns)
        conn_close(g->conns);
    for (size_t i = 0; i < g->nmethods; i++)
        for (size_t r = 0; r < g->methods[i].nrows; r++)
            tomo_api_binding_clear(&g->methods[i].rows[r]);
    free(g->methods);
    free(g);
}
