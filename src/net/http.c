/* net/http.c: connections, llhttp parsing, pipelining, limits, timeouts.
 *
 * Parsing pauses after every complete message (on_message_complete returns
 * HPE_PAUSED) so the handler runs outside llhttp and the unparsed rest of the
 * read stays in the connection's input buffer. Responses are queued in
 * request order; a response is written only when every earlier one is. */
#define _GNU_SOURCE
#include "http.h"

#include "../core/common.h"
#include "../core/log.h"

#include <ctype.h>
#include <errno.h>
#include <llhttp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct tomo_http_server {
    tomo_loop *loop;
    tomo_http_limits lim;
    tomo_http_handler handler;
    void *ud;
    char *name;
    uv_tcp_t **listeners;
    size_t nlisteners;
    tomo_tls *tls; /* borrowed; NULL = plain TCP */
    int reuseport; /* listen with SO_REUSEPORT (socket.loops > 1) */
    int port;
    int shutting_down;
    size_t nconns, inflight;
    struct conn *conns; /* doubly linked */
};

typedef struct conn {
    tomo_http_server *srv;
    tomo_sock *tcp;               /* TCP or TLS (net/sock.h) */
    uv_timer_t timer;
    llhttp_t parser;
    char *in;
    size_t in_len, in_cap;
    tomo_http_req *cur;             /* being parsed */
    tomo_http_req *head, *tail;     /* pipeline, in order */
    size_t npipeline;
    int hdr_state;                  /* 0 none, 1 in field, 2 in value */
    int err_status;                 /* our own limit error for a callback failure */
    const char *err_reason;
    int closing, closed, reading, upgraded, timer_closed, stop_reading, discard_input;
    int peer_eof;                   /* client half-closed: answer what it sent, then close */
    size_t writes_pending;
    uint64_t last_activity_ns, msg_start_ns, write_start_ns;
    size_t live_reqs;               /* reqs not yet freed (handed to handlers) */
    char client_ip[64];
    int client_port;
    /* A request lent to a worker that may write its answer itself
     * (tomo_http_lend / tomo_http_respond_worker; the rules are in http.h).
     * `direct` is the loop's alone; dstate and doff are shared with that
     * worker under dmu, which the worker also holds across its send() so
     * the loop cannot close the fd under it. */
    tomo_http_req *direct;
    pthread_mutex_t dmu;
    int dstate;                     /* D_* */
    int doff;                       /* the loop took the permission back */
    int fd;                         /* the socket (plain TCP only), for the worker's send() */
    struct conn *prev, *next;
} conn;

enum {
    D_NONE = 0,
    D_PENDING, /* lent: the worker may still write */
    D_WRITTEN, /* the worker wrote the whole answer: the loop takes the request back */
    D_REST     /* the worker wrote part (or none): the rest is posted to the loop */
};

typedef struct wreq {
    uv_write_t w;
    conn *c;
    char *data;
    int close_after;
} wreq;

static llhttp_settings_t g_settings;
static int g_settings_init;

static void conn_close(conn *c);
static void process(conn *c);
static void flush(conn *c);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void direct_revoke(struct conn *c);

const char *tomo_http_reason(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

static int map_method(int m, const char **name)
{
    *name = llhttp_method_name((llhttp_method_t)m);
    switch (m) {
    case HTTP_GET: return TOMO_HTTP_GET;
    case HTTP_HEAD: return TOMO_HTTP_HEAD;
    case HTTP_POST: return TOMO_HTTP_POST;
    case HTTP_PUT: return TOMO_HTTP_PUT;
    case HTTP_DELETE: return TOMO_HTTP_DELETE;
    case HTTP_OPTIONS: return TOMO_HTTP_OPTIONS;
    case HTTP_PATCH: return TOMO_HTTP_PATCH;
    default: return TOMO_HTTP_OTHER;
    }
}

static void req_free(tomo_http_req *r)
{
    if (!r)
        return;
    free(r->target);
    free(r->path);
    free(r->query);
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->body);
    free(r->_resp);
    free(r);
}

const char *tomo_http_header_get(const tomo_http_req *req, const char *lname)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (!strcmp(req->headers[i].name, lname))
            return req->headers[i].value;
    return NULL;
}

/* ---- llhttp callbacks ---- */

static int append_str(char **dst, const char *at, size_t n)
{
    size_t old = *dst ? strlen(*dst) : 0;
    *dst = tomo_xrealloc(*dst, old + n + 1);
    memcpy(*dst + old, at, n);
    (*dst)[old + n] = '\0';
    return 0;
}

static int limit_fail(conn *c, int status, const char *reason)
{
    c->err_status = status;
    c->err_reason = reason;
    return -1;
}

static int cb_message_begin(llhttp_t *p)
{
    conn *c = p->data;
    c->cur = tomo_xcalloc(1, sizeof(tomo_http_req));
    c->cur->_conn = c;
    c->live_reqs++;
    /* same size, NUL-terminated (on_connection): no formatting per request */
    memcpy(c->cur->client_ip, c->client_ip, sizeof(c->cur->client_ip));
    c->cur->client_port = c->client_port;
    c->cur->start_ns = tomo_mono_ns();
    c->msg_start_ns = c->cur->start_ns;
    c->hdr_state = 0;
    return 0;
}

static int cb_url(llhttp_t *p, const char *at, size_t n)
{
    conn *c = p->data;
    c->cur->_header_bytes += n;
    if (c->cur->_header_bytes > c->srv->lim.max_header_bytes)
        return limit_fail(c, 431, "request line and headers too large");
    return append_str(&c->cur->target, at, n);
}

static int cb_header_field(llhttp_t *p, const char *at, size_t n)
{
    conn *c = p->data;
    tomo_http_req *r = c->cur;
    r->_header_bytes += n;
    if (r->_header_bytes > c->srv->lim.max_header_bytes)
        return limit_fail(c, 431, "request headers too large");
    if (c->hdr_state != 1) {
        if (r->nheaders >= c->srv->lim.max_header_count)
            return limit_fail(c, 431, "too many request headers");
        r->headers = tomo_xrealloc(r->headers, (r->nheaders + 1) * sizeof(tomo_http_header));
        r->headers[r->nheaders].name = NULL;
        r->headers[r->nheaders].value = NULL;
        r->nheaders++;
        c->hdr_state = 1;
    }
    return append_str(&r->headers[r->nheaders - 1].name, at, n);
}

static int cb_header_value(llhttp_t *p, const char *at, size_t n)
{
    conn *c = p->data;
    tomo_http_req *r = c->cur;
    r->_header_bytes += n;
    if (r->_header_bytes > c->srv->lim.max_header_bytes)
        return limit_fail(c, 431, "request headers too large");
    c->hdr_state = 2;
    return append_str(&r->headers[r->nheaders - 1].value, at, n);
}

static int cb_headers_complete(llhttp_t *p)
{
    conn *c = p->data;
    tomo_http_req *r = c->cur;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (!r->headers[i].value)
            r->headers[i].value = tomo_xstrdup("");
        for (char *q = r->headers[i].name; q && *q; q++)
            *q = (char)tolower((unsigned char)*q);
    }
    r->method = map_method(p->method, &r->method_name);
    if (!r->target)
        r->target = tomo_xstrdup("/");
    const char *t = r->target;
    /* absolute-form target: strip scheme://host */
    if (strncmp(t, "http://", 7) == 0 || strncmp(t, "https://", 8) == 0) {
        const char *s = strstr(t, "://") + 3;
        const char *slash = strchr(s, '/');
        t = slash ? slash : "/";
    }
    const char *q = strchr(t, '?');
    size_t plen = q ? (size_t)(q - t) : strlen(t);
    r->query = tomo_xstrdup(q ? q + 1 : "");
    /* The path stays percent-encoded: routing splits on literal '/', so an
     * encoded "%2F" inside a parameter must not become a separator. The API
     * layer decodes each path parameter after matching. */
    r->path = tomo_xstrndup(t, plen);
    r->_keep_alive = llhttp_should_keep_alive(p);
    r->upgrade = p->upgrade;
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->srv->lim.max_body_bytes)
        return limit_fail(c, 413, "request body too large");
    return 0;
}

static int cb_body(llhttp_t *p, const char *at, size_t n)
{
    conn *c = p->data;
    tomo_http_req *r = c->cur;
    if (r->body_len + n > c->srv->lim.max_body_bytes)
        return limit_fail(c, 413, "request body too large");
    r->body = tomo_xrealloc(r->body, r->body_len + n + 1);
    memcpy(r->body + r->body_len, at, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return 0;
}

static int cb_message_complete(llhttp_t *p)
{
    conn *c = p->data;
    tomo_http_req *r = c->cur;
    c->cur = NULL;
    c->msg_start_ns = 0;
    /* pipelined behind a lent request: its answer goes through the loop */
    direct_revoke(c);
    if (c->tail)
        c->tail->_next = r;
    else
        c->head = r;
    c->tail = r;
    c->npipeline++;
    c->srv->inflight++;
    return HPE_PAUSED;
}

static void init_settings(void)
{
    if (g_settings_init)
        return;
    llhttp_settings_init(&g_settings);
    g_settings.on_message_begin = cb_message_begin;
    g_settings.on_url = cb_url;
    g_settings.on_header_field = cb_header_field;
    g_settings.on_header_value = cb_header_value;
    g_settings.on_headers_complete = cb_headers_complete;
    g_settings.on_body = cb_body;
    g_settings.on_message_complete = cb_message_complete;
    g_settings_init = 1;
}

/* ---- connection lifecycle ---- */

static void maybe_free(conn *c)
{
    if (c->closed && c->timer_closed && c->live_reqs == 0 && c->writes_pending == 0) {
        pthread_mutex_destroy(&c->dmu);
        free(c->in);
        free(c);
    }
}

static void on_tcp_closed(uv_handle_t *h)
{
    conn *c = h->data;
    free(h);
    if (c) {
        c->closed = 1;
        c->tcp = NULL;
        maybe_free(c);
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    conn *c = h->data;
    c->timer_closed = 1;
    maybe_free(c);
}

static void unlink_conn(conn *c)
{
    tomo_http_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else if (s->conns == c)
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    s->nconns--;
}

/* ---- answers written by a worker (tomo_http_lend) ---- */

/* Loop thread: take back the lent request once its worker wrote the whole
 * answer (D_WRITTEN): it leaves the pipeline as a written response would.
 * The worker posts nothing in that case, so the loop looks here when it
 * next hears from the connection (a read, its timer, a close). Returns 1
 * when it took one. */
static int direct_collect(conn *c)
{
    tomo_http_req *r = c->direct;
    if (!r)
        return 0;
    pthread_mutex_lock(&c->dmu);
    int st = c->dstate;
    pthread_mutex_unlock(&c->dmu);
    if (st != D_WRITTEN)
        return 0;
    c->direct = NULL;
    c->dstate = D_NONE; /* the worker is done with the conn */
    /* lent only as the pipeline's only request; later ones queue behind it */
    c->head = r->_next;
    if (!c->head)
        c->tail = NULL;
    c->npipeline--;
    c->srv->inflight--;
    c->live_reqs--;
    c->last_activity_ns = r->_sent_ns;
    req_free(r);
    return 1;
}

/* Loop thread: the loop needs to act on the connection itself (a
 * pipelined request, EOF, an error answer, shutdown, close): a worker that
 * has not written yet answers through the loop instead (tomo_http_respond_worker
 * returns 0); one that has is collected now. */
static void direct_revoke(conn *c)
{
    if (!c->direct)
        return;
    pthread_mutex_lock(&c->dmu);
    c->doff = 1;
    pthread_mutex_unlock(&c->dmu);
    direct_collect(c);
}

static void conn_close(conn *c)
{
    if (c->closing)
        return;
    direct_revoke(c);
    c->closing = 1;
    unlink_conn(c);
    /* Requests still with handlers stay alive until they respond; requests
     * answered but unsent are dropped now. A request still lent to a worker
     * keeps its conn (and its count in live_reqs): that worker may lock dmu
     * until it answers through the loop, which drops it then. */
    tomo_http_req *r = c->head;
    while (r) {
        tomo_http_req *n = r->_next;
        c->srv->inflight--;
        if (r == c->direct) {
            r = n;
            continue;
        }
        c->live_reqs--;
        if (r->_done)
            req_free(r);
        else
            r->_conn = NULL; /* orphaned: tomo_http_respond frees it */
        r = n;
    }
    c->head = c->tail = NULL;
    if (c->cur) {
        c->live_reqs--;
        req_free(c->cur);
        c->cur = NULL;
    }
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    if (c->tcp && !tomo_sock_is_closing(c->tcp))
        tomo_sock_close(c->tcp, on_tcp_closed);
}

/* After the client's EOF: once every complete request it sent is answered and
 * written, close. Partial input left in the buffer can never complete. */
static void eof_check(conn *c)
{
    if (c->peer_eof && !c->closing && !c->upgraded && c->npipeline == 0 &&
        c->writes_pending == 0)
        conn_close(c);
}

static void on_write(uv_write_t *w, int status)
{
    wreq *wr = (wreq *)w;
    conn *c = wr->c;
    free(wr->data);
    c->writes_pending--;
    int close_after = wr->close_after;
    free(wr);
    if (c->closing) {
        maybe_free(c);
        return;
    }
    if (status < 0 || close_after) {
        conn_close(c);
        return;
    }
    if (c->writes_pending == 0)
        c->write_start_ns = 0;
    /* Room in the pipeline again: continue with buffered input. */
    if (!c->upgraded && c->in_len && c->npipeline < c->srv->lim.max_pipeline)
        process(c);
    eof_check(c);
}

static void write_buf(conn *c, char *data, size_t len, int close_after)
{
    wreq *wr = tomo_xcalloc(1, sizeof(*wr));
    wr->c = c;
    wr->data = data;
    wr->close_after = close_after;
    uv_buf_t b = uv_buf_init(data, (unsigned)len);
    c->writes_pending++;
    if (!c->write_start_ns)
        c->write_start_ns = tomo_mono_ns();
    int rc = tomo_sock_write(c->tcp, &wr->w, &b, 1, on_write);
    if (rc < 0) {
        free(data);
        free(wr);
        c->writes_pending--;
        conn_close(c);
    }
}

static void flush(conn *c)
{
    while (!c->closing && c->head && c->head->_done) {
        tomo_http_req *r = c->head;
        c->head = r->_next;
        if (!c->head)
            c->tail = NULL;
        c->npipeline--;
        c->srv->inflight--;
        int close_after = r->_close_after || !r->_keep_alive || c->srv->shutting_down;
        char *data = r->_resp;
        size_t len = r->_resp_len;
        r->_resp = NULL;
        c->live_reqs--;
        req_free(r);
        write_buf(c, data, len, close_after);
        if (close_after) {
            /* Nothing after a closing response is answered. */
            c->discard_input = 1;
            tomo_sock_read_stop(c->tcp);
            c->reading = 0;
            c->stop_reading = 1;
            break;
        }
    }
    c->last_activity_ns = tomo_mono_ns();
    if (!c->closing && !c->reading && !c->upgraded && !c->stop_reading && !c->peer_eof &&
        c->npipeline < c->srv->lim.max_pipeline && !c->srv->shutting_down) {
        /* resume after backpressure */
        if (tomo_sock_read_start(c->tcp, alloc_cb, on_read) == 0)
            c->reading = 1;
    }
}

static char *build_response(int status, const char *extra, const char *const *headers,
                            const char *body, size_t len, int keep_alive, size_t *out_len)
{
    size_t hl = 0;
    for (const char *const *h = headers; h && *h; h++)
        hl += strlen(*h) + 2;
    size_t extra_len = extra ? strlen(extra) : 0;
    size_t cap = 128 + hl + extra_len + len;
    char *buf = tomo_xmalloc(cap);
    int n = snprintf(buf, cap, "HTTP/1.1 %d %s\r\n", status, tomo_http_reason(status));
    size_t o = (size_t)n;
    for (const char *const *h = headers; h && *h; h++) {
        size_t l = strlen(*h);
        memcpy(buf + o, *h, l);
        o += l;
        buf[o++] = '\r';
        buf[o++] = '\n';
    }
    if (extra_len) {
        memcpy(buf + o, extra, extra_len);
        o += extra_len;
    }
    n = snprintf(buf + o, cap - o, "Content-Length: %zu\r\n%s\r\n", len,
                 keep_alive ? "" : "Connection: close\r\n");
    o += (size_t)n;
    if (len) {
        memcpy(buf + o, body, len);
        o += len;
    }
    *out_len = o;
    return buf;
}

static void respond_common(tomo_http_req *req, int status, const char *extra,
                           const char *const *headers, const char *body, size_t len)
{
    conn *c = req->_conn;
    if (!c) {
        /* The connection went away while a handler ran: drop the answer. */
        req_free(req);
        return;
    }
    if (req->_done)
        return;
    if (req == c->direct) {
        /* lent, but answered through the loop after all */
        c->direct = NULL;
        c->dstate = D_NONE;
        if (c->closing) {
            c->live_reqs--;
            req_free(req);
            maybe_free(c);
            return;
        }
    }
    int ka = req->_keep_alive && !req->_close_after && !c->srv->shutting_down;
    if (req->method == TOMO_HTTP_HEAD) {
        req->_resp = build_response(status, extra, headers, NULL, 0, ka, &req->_resp_len);
        /* HEAD: advertise the length of the body we would have sent */
        char *cl = strstr(req->_resp, "Content-Length: 0\r\n");
        if (cl && len) {
            char *fixed = tomo_xasprintf("%.*sContent-Length: %zu\r\n%s", (int)(cl - req->_resp),
                                         req->_resp, len, cl + strlen("Content-Length: 0\r\n"));
            free(req->_resp);
            req->_resp = fixed;
            req->_resp_len = strlen(fixed);
        }
    } else {
        req->_resp = build_response(status, extra, headers, body, len, ka, &req->_resp_len);
    }
    if (!ka || c->upgraded == 2)
        req->_close_after = 1; /* a refused upgrade cannot go back to HTTP */
    req->_done = 1;
    flush(c);
}

void tomo_http_respond(tomo_http_req *req, int status, const char *const *headers,
                       const char *body, size_t len)
{
    respond_common(req, status, NULL, headers, body, len);
}

void tomo_http_respond_raw(tomo_http_req *req, int status, const char *extra_headers,
                           const char *body, size_t len)
{
    respond_common(req, status, extra_headers, NULL, body, len);
}

int tomo_http_lend(tomo_http_req *req)
{
    conn *c = req->_conn;
    req->_direct_ok = 0;
    /* Only the pipeline's only request on a plain TCP keep-alive connection
     * with nothing queued for writing, that the loop keeps reading behind
     * (so the client's next request finds the answer written): then the
     * loop does not write to this socket until the request is back. */
    if (!c || c->closing || c->upgraded || c->peer_eof || c->stop_reading || !c->reading ||
        c->fd < 0 || c->direct || c->head != req || req->_next || c->writes_pending ||
        c->npipeline >= c->srv->lim.max_pipeline || c->srv->shutting_down ||
        !req->_keep_alive || req->_close_after || req->upgrade || req->method == TOMO_HTTP_HEAD)
        return 0;
    c->direct = req;
    pthread_mutex_lock(&c->dmu);
    c->dstate = D_PENDING;
    c->doff = 0;
    pthread_mutex_unlock(&c->dmu);
    req->_direct_ok = 1;
    return 1;
}

/* Loop thread: what a worker could not send at once (a full socket buffer,
 * or an error the loop's own write will meet and close on). */
static void direct_rest(void *arg)
{
    tomo_http_req *req = arg;
    conn *c = req->_conn;
    c->direct = NULL;
    c->dstate = D_NONE;
    if (c->closing) {
        c->live_reqs--;
        req_free(req);
        maybe_free(c);
        return;
    }
    req->_done = 1;
    flush(c);
}

int tomo_http_respond_worker(tomo_http_req *req, int status, const char *extra_headers,
                             const char *body, size_t len)
{
    if (!req->_direct_ok)
        return 0;
    conn *c = req->_conn; /* kept valid by the lent request (conn_close) */
    size_t rl;
    char *resp = build_response(status, extra_headers, NULL, body, len, 1, &rl);
    pthread_mutex_lock(&c->dmu);
    if (c->doff) {
        pthread_mutex_unlock(&c->dmu);
        free(resp);
        return 0;
    }
    ssize_t w;
    do
        w = send(c->fd, resp, rl, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (w < 0 && errno == EINTR);
    if (w == (ssize_t)rl) {
        req->_sent_ns = tomo_mono_ns();
        c->dstate = D_WRITTEN;
        /* from here the loop may free req and c at any time */
        pthread_mutex_unlock(&c->dmu);
        free(resp);
        return 1;
    }
    size_t done = w > 0 ? (size_t)w : 0;
    memmove(resp, resp + done, rl - done);
    req->_resp = resp;
    req->_resp_len = rl - done;
    c->dstate = D_REST;
    tomo_loop *loop = c->srv->loop;
    pthread_mutex_unlock(&c->dmu);
    tomo_loop_post(loop, direct_rest, req);
    return 1;
}

/* Answer a protocol error (not tied to a parsed request) and close. The
 * answer queues behind earlier pipelined requests so they still get theirs. */
static void fail_conn(conn *c, int status, const char *reason)
{
    char body[256];
    int grpc = status == 413 ? 8 : status == 408 ? 1 : status == 431 ? 8 : 3;
    int n = snprintf(body, sizeof(body), "{\"code\":%d,\"message\":\"%s\"}", grpc, reason);
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    TOMO_LOGD(TOMO_NET, "http protocol error server=%s status=%d reason=%s client=%s",
              c->srv->name, status, reason, c->client_ip);
    direct_revoke(c);
    if (c->cur) {
        c->live_reqs--;
        req_free(c->cur);
        c->cur = NULL;
    }
    c->msg_start_ns = 0;
    c->discard_input = 1;
    if (c->reading)
        tomo_sock_read_stop(c->tcp);
    c->reading = 0;
    c->stop_reading = 1;
    tomo_http_req *r = tomo_xcalloc(1, sizeof(*r));
    r->_conn = c;
    r->_done = 1;
    r->_close_after = 1;
    r->_resp = build_response(status, NULL, hdrs, body, (size_t)n, 0, &r->_resp_len);
    c->live_reqs++;
    if (c->tail)
        c->tail->_next = r;
    else
        c->head = r;
    c->tail = r;
    c->npipeline++;
    c->srv->inflight++;
    flush(c);
}

static void dispatch(conn *c, tomo_http_req *r) { c->srv->handler(r, c->srv->ud); }

static void process(conn *c)
{
    size_t off = 0;
    while (off < c->in_len && !c->closing && !c->upgraded && !c->discard_input) {
        if (c->npipeline >= c->srv->lim.max_pipeline) {
            /* Backpressure: stop reading until responses drain. */
            if (c->reading) {
                tomo_sock_read_stop(c->tcp);
                c->reading = 0;
            }
            break;
        }
        const char *data = c->in + off;
        size_t len = c->in_len - off;
        llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
        if (err == HPE_OK) {
            off = c->in_len;
            break;
        }
        if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
            const char *pos = llhttp_get_error_pos(&c->parser);
            size_t used = pos ? (size_t)(pos - data) : len;
            off += used;
            tomo_http_req *r = c->tail;
            if (err == HPE_PAUSED_UPGRADE || (r && r->upgrade)) {
                /* Stop parsing: the rest of the bytes belong to the new protocol. */
                memmove(c->in, c->in + off, c->in_len - off);
                c->in_len -= off;
                off = 0;
                tomo_sock_read_stop(c->tcp);
                c->reading = 0;
                c->upgraded = 2; /* pending: handler decides */
                dispatch(c, r);
                return;
            }
            llhttp_resume(&c->parser);
            dispatch(c, r);
            continue;
        }
        /* Parse error or one of our limits. */
        int status = c->err_status ? c->err_status : 400;
        const char *reason = c->err_reason ? c->err_reason : llhttp_get_error_reason(&c->parser);
        if (err == HPE_INVALID_VERSION)
            status = 505;
        char why[160];
        snprintf(why, sizeof(why), "%s", reason ? reason : "malformed request");
        for (char *q = why; *q; q++)
            if (*q == '"' || *q == '\\' || (unsigned char)*q < 0x20)
                *q = ' ';
        fail_conn(c, status, why);
        return;
    }
    if (c->discard_input) {
        c->in_len = 0;
        return;
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn *c = h->data;
    size_t want = 16384;
    if (c->in_cap - c->in_len < want) {
        c->in_cap = c->in_len + want;
        c->in = tomo_xrealloc(c->in, c->in_cap);
    }
    buf->base = c->in + c->in_len;
    buf->len = c->in_cap - c->in_len;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    conn *c = s->data;
    if (n == UV_EOF && !c->discard_input) {
        /* A half-close (shutdown(SHUT_WR)) still wants the answers to the
         * requests it sent: keep the socket until they are written. */
        c->peer_eof = 1;
        uv_read_stop(s);
        c->reading = 0;
        c->stop_reading = 1;
        direct_revoke(c);
        eof_check(c);
        return;
    }
    if (n < 0) {
        conn_close(c);
        return;
    }
    if (n == 0)
        return;
    if (c->discard_input)
        return;
    /* a client that waited for its answer before sending more: the lent
     * request was written by its worker, take it back before parsing */
    direct_collect(c);
    c->in_len += (size_t)n;
    c->last_activity_ns = tomo_mono_ns();
    process(c);
    /* Shrink a large idle input buffer. */
    if (c->in_len == 0 && c->in_cap > 65536) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
}

static void on_timer(uv_timer_t *t)
{
    conn *c = t->data;
    if (c->closing || c->upgraded)
        return;
    /* an answer a worker wrote on a connection that has been quiet since */
    direct_collect(c);
    uint64_t now = tomo_mono_ns();
    const tomo_http_limits *l = &c->srv->lim;
    if (c->write_start_ns && now - c->write_start_ns > l->write_timeout_ms * 1000000ull) {
        TOMO_LOGD(TOMO_NET, "http write timeout client=%s", c->client_ip);
        conn_close(c);
        return;
    }
    if (c->msg_start_ns && now - c->msg_start_ns > l->read_timeout_ms * 1000000ull) {
        fail_conn(c, 408, "request not received in time");
        return;
    }
    if (!c->msg_start_ns && c->npipeline == 0 && c->in_len == 0 &&
        now - c->last_activity_ns > l->idle_timeout_ms * 1000000ull) {
        conn_close(c);
        return;
    }
    /* A partial request line (no on_message_begin yet for a stray byte) also
     * counts as a request in progress. */
    if (!c->msg_start_ns && c->in_len && c->npipeline == 0 &&
        now - c->last_activity_ns > l->read_timeout_ms * 1000000ull) {
        fail_conn(c, 408, "request not received in time");
        return;
    }
}

static void on_connection(uv_stream_t *ls, int status)
{
    tomo_http_server *s = ls->data;
    if (status < 0)
        return;
    tomo_sock *tcp = tomo_sock_new(tomo_loop_uv(s->loop), s->tls);
    if (tomo_sock_accept(ls, tcp) != 0) {
        tomo_sock_close(tcp, on_tcp_closed);
        return;
    }
    if (s->shutting_down || s->nconns >= s->lim.max_connections) {
        tomo_sock_close(tcp, on_tcp_closed);
        return;
    }
    uv_tcp_nodelay(&tcp->tcp, 1);
    conn *c = tomo_xcalloc(1, sizeof(*c));
    c->srv = s;
    c->tcp = tcp;
    pthread_mutex_init(&c->dmu, NULL);
    c->fd = -1;
    uv_os_fd_t fd;
    if (!tomo_sock_is_tls(tcp) && uv_fileno((uv_handle_t *)&tcp->tcp, &fd) == 0)
        c->fd = fd;
    tomo_sock_set_data(tcp, c);
    llhttp_init(&c->parser, HTTP_REQUEST, &g_settings);
    c->parser.data = c;
    tomo_sock_peer_ip(tcp, c->client_ip, sizeof(c->client_ip));
    c->client_port = tomo_sock_peer_port(tcp);
    c->last_activity_ns = tomo_mono_ns();
    uv_timer_init(tomo_loop_uv(s->loop), &c->timer);
    c->timer.data = c;
    uint64_t tick = s->lim.read_timeout_ms < 1000 ? s->lim.read_timeout_ms / 2 + 1 : 500;
    uv_timer_start(&c->timer, on_timer, tick, tick);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (tomo_sock_read_start(tcp, alloc_cb, on_read) == 0)
        c->reading = 1;
}

void tomo_http_server_set_tls(tomo_http_server *s, tomo_tls *tls) { s->tls = tls; }

tomo_http_server *tomo_http_server_new(tomo_loop *loop, const tomo_http_limits *lim,
                                       tomo_http_handler h, void *ud, const char *name)
{
    init_settings();
    tomo_http_server *s = tomo_xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->lim = *lim;
    if (!s->lim.max_pipeline)
        s->lim.max_pipeline = 32;
    if (!s->lim.max_connections)
        s->lim.max_connections = 1000000;
    s->handler = h;
    s->ud = ud;
    s->name = tomo_xstrdup(name ? name : "http");
    return s;
}

int tomo_http_server_listen(tomo_http_server *s, const char *host, int port, char *err,
                            size_t errlen)
{
    uv_tcp_t *t;
    int rc = tomo_sock_listen_ex(tomo_loop_uv(s->loop), host, port, s->reuseport, on_connection, s,
                                 &t, &s->port, err, errlen);
    if (rc < 0)
        return rc;
    s->listeners = tomo_xrealloc(s->listeners, (s->nlisteners + 1) * sizeof(uv_tcp_t *));
    s->listeners[s->nlisteners++] = t;
    return 0;
}

int tomo_http_server_port(tomo_http_server *s) { return s->port; }
void tomo_http_server_set_reuseport(tomo_http_server *s, int on) { s->reuseport = on ? 1 : 0; }
size_t tomo_http_server_inflight(tomo_http_server *s) { return s->inflight; }
size_t tomo_http_server_connections(tomo_http_server *s) { return s->nconns; }

static void on_listener_closed(uv_handle_t *h) { free(h); }

void tomo_http_server_shutdown(tomo_http_server *s)
{
    if (s->shutting_down)
        return;
    s->shutting_down = 1;
    for (size_t i = 0; i < s->nlisteners; i++)
        uv_close((uv_handle_t *)s->listeners[i], on_listener_closed);
    s->nlisteners = 0;
    conn *c = s->conns;
    while (c) {
        conn *n = c->next;
        direct_revoke(c); /* answers from now on say Connection: close */
        if (c->npipeline == 0 && !c->msg_start_ns)
            conn_close(c);
        else if (c->reading) {
            tomo_sock_read_stop(c->tcp);
            c->reading = 0;
        }
        c = n;
    }
}

void tomo_http_server_close_all(tomo_http_server *s)
{
    while (s->conns)
        conn_close(s->conns);
}

void tomo_http_server_free(tomo_http_server *s)
{
    if (!s)
        return;
    tomo_http_server_shutdown(s);
    tomo_http_server_close_all(s);
    free(s->listeners);
    free(s->name);
    free(s);
}

static void detached_write_done(uv_write_t *w, int status)
{
    (void)status;
    wreq *wr = (wreq *)w;
    free(wr->data);
    free(wr);
}

int tomo_http_upgrade(tomo_http_req *req, const char *response_head, tomo_sock **tcp_out,
                      char **leftover, size_t *leftover_len)
{
    conn *c = req->_conn;
    *tcp_out = NULL;
    *leftover = NULL;
    *leftover_len = 0;
    if (!c || c->head != req || req->_next) {
        if (c)
            c->upgraded = 0;
        tomo_http_respond(req, 400, NULL, "{\"code\":3,\"message\":\"bad upgrade\"}", 35);
        return TOMO_EINVAL;
    }
    /* Write the 101 head synchronously through a try_write when possible so
     * it precedes any frame the new owner sends. */
    size_t hl = strlen(response_head);
    tomo_sock *tcp = c->tcp;
    uv_buf_t b = uv_buf_init((char *)response_head, (unsigned)hl);
    int w = tomo_sock_try_write(tcp, &b, 1);
    if (w < 0)
        w = 0;
    if ((size_t)w < hl) {
        /* Queue the rest; libuv keeps write order for the stream. */
        wreq *wr = tomo_xcalloc(1, sizeof(*wr));
        wr->data = tomo_xstrndup(response_head + w, hl - (size_t)w);
        uv_buf_t b2 = uv_buf_init(wr->data, (unsigned)(hl - (size_t)w));
        wr->c = NULL;
        /* Detached write: freed in a callback that does not touch the conn. */
        if (tomo_sock_write(tcp, &wr->w, &b2, 1, detached_write_done) < 0) {
            free(wr->data);
            free(wr);
        }
    }
    if (c->in_len) {
        *leftover = tomo_xstrndup(c->in, c->in_len);
        *leftover_len = c->in_len;
    }
    c->in_len = 0;
    /* Detach: the conn forgets the socket and goes away. */
    c->head = c->tail = NULL;
    c->npipeline--;
    c->srv->inflight--;
    c->live_reqs--;
    req_free(req);
    c->tcp = NULL;
    tomo_sock_set_data(tcp, NULL);
    c->upgraded = 1;
    c->closed = 1;
    c->closing = 1;
    unlink_conn(c);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    *tcp_out = tcp;
    return 0;
}


/* snprintf(dst, cap, "%s", src) without the formatter: called for every
 * runtime call over HTTP */
static void copy_trunc(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void tomo_http_client_addr(const tomo_http_req *req, char ip[64], char port[8])
{
    ip[0] = port[0] = '\0';
    const char *xff = tomo_http_header_get((tomo_http_req *)req, "x-forwarded-for");
    if (!xff || !*xff) {
        copy_trunc(ip, 64, req->client_ip, strnlen(req->client_ip, sizeof(req->client_ip)));
        if (req->client_port > 0 && req->client_port <= 65535) {
            char d[8];
            size_t k = sizeof(d);
            unsigned v = (unsigned)req->client_port;
            do {
                d[--k] = (char)('0' + v % 10);
                v /= 10;
            } while (v);
            copy_trunc(port, 8, d + k, sizeof(d) - k);
        }
        return;
    }
    /* the first entry, trimmed */
    size_t n = strcspn(xff, ",");
    while (n && (*xff == ' ' || *xff == '\t')) {
        xff++;
        n--;
    }
    while (n && (xff[n - 1] == ' ' || xff[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= 64)
        return;
    char a[64];
    memcpy(a, xff, n);
    a[n] = '\0';
    /* host:port, [v6]:port, or a bare address (v6 has several colons) */
    char *colon = strrchr(a, ':');
    if (a[0] == '[') {
        char *end = strchr(a, ']');
        if (!end)
            return;
        *end = '\0';
        copy_trunc(ip, 64, a + 1, strlen(a + 1));
        if (end[1] == ':')
            copy_trunc(port, 8, end + 2, strlen(end + 2));
    } else if (colon && colon == strchr(a, ':')) {
        *colon = '\0';
        copy_trunc(ip, 64, a, strlen(a));
        copy_trunc(port, 8, colon + 1, strlen(colon + 1));
    } else {
        copy_trunc(ip, 64, a, strlen(a));
    }
}
