/* bench/http_client.c: keep-alive HTTP/1.1 client connection (see
 * http_client.h). Responses are parsed with llhttp; the socket reconnects
 * lazily after the server closes it.
 * Threads: the owning worker's loop thread only. */
#include "http_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_IDLE, ST_CONNECTING, ST_READY, ST_CLOSING };

typedef struct wchunk {
    uv_write_t req;
    char data[];
} wchunk;

static llhttp_settings_t settings;
static uv_once_t settings_once = UV_ONCE_INIT;

static void start_connect(lg_http *c);

static void deliver(lg_http *c, int status, const char *body, size_t n)
{
    lg_http_cb cb = c->cb;
    c->cb = NULL;
    if (cb)
        cb(c, status, body, n, c->arg);
}

static void on_close(uv_handle_t *h)
{
    lg_http *c = h->data;
    c->state = ST_IDLE;
    if (c->closing_for_good) {
        lg_buf_free(&c->req);
        lg_buf_free(&c->body);
        if (c->on_closed)
            c->on_closed(c);
        return;
    }
    if (c->cb) /* a request was issued while the old socket was closing */
        start_connect(c);
}

static void close_sock(lg_http *c)
{
    if (c->state == ST_IDLE || c->state == ST_CLOSING)
        return;
    c->state = ST_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

/* Transport failure: the request in flight (if any) fails with -1. The state
 * is CLOSING before the user sees the failure, so a retry issued from the
 * callback waits for the close and reconnects. */
static void fail(lg_http *c)
{
    close_sock(c);
    deliver(c, -1, NULL, 0);
}

static void on_write(uv_write_t *req, int status)
{
    wchunk *wc = (wchunk *)req;
    lg_http *c = req->data;
    free(wc);
    if (status < 0 && status != UV_ECANCELED && c->state == ST_READY)
        fail(c);
}

static void send_req(lg_http *c)
{
    uv_buf_t b = uv_buf_init(c->req.p, (unsigned)c->req.len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)c->req.len)
        return;
    if (n < 0 && n != UV_EAGAIN) {
        fail(c);
        return;
    }
    size_t off = n > 0 ? (size_t)n : 0;
    size_t rest = c->req.len - off;
    /* The remainder gets its own copy: the response may arrive (and the next
     * request be built into c->req) before this write completes. */
    wchunk *wc = lg_xmalloc(sizeof(*wc) + rest);
    memcpy(wc->data, c->req.p + off, rest);
    wc->req.data = c;
    uv_buf_t rb = uv_buf_init(wc->data, (unsigned)rest);
    if (uv_write(&wc->req, (uv_stream_t *)&c->tcp, &rb, 1, on_write) < 0) {
        free(wc);
        fail(c);
    }
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
    (void)sz;
    lg_http *c = h->data;
    *buf = uv_buf_init(c->w->rbuf, sizeof(c->w->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    lg_http *c = s->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        fail(c);
        return;
    }
    llhttp_errno_t e = llhttp_execute(&c->parser, buf->base, (size_t)nread);
    if (e != HPE_OK && c->state == ST_READY)
        fail(c);
}

static int p_begin(llhttp_t *p)
{
    lg_http *c = p->data;
    lg_buf_reset(&c->body);
    c->status = 0;
    return 0;
}

static int p_headers(llhttp_t *p)
{
    lg_http *c = p->data;
    c->status = p->status_code;
    return 0;
}

static int p_body(llhttp_t *p, const char *at, size_t n)
{
    lg_http *c = p->data;
    lg_buf_append(&c->body, at, n);
    return 0;
}

static int p_complete(llhttp_t *p)
{
    lg_http *c = p->data;
    if (!llhttp_should_keep_alive(p))
        close_sock(c); /* before the callback, so a new request reconnects */
    /* Terminate the body for callers that parse it as a string. */
    lg_buf_append(&c->body, "", 1);
    c->body.len--;
    deliver(c, c->status, c->body.p, c->body.len);
    return 0;
}

static void init_settings(void)
{
    llhttp_settings_init(&settings);
    settings.on_message_begin = p_begin;
    settings.on_headers_complete = p_headers;
    settings.on_body = p_body;
    settings.on_message_complete = p_complete;
}

static void on_connect(uv_connect_t *req, int status)
{
    lg_http *c = req->data;
    if (c->state != ST_CONNECTING)
        return; /* closed meanwhile */
    if (status < 0) {
        fail(c);
        return;
    }
    c->state = ST_READY;
    llhttp_init(&c->parser, HTTP_RESPONSE, &settings);
    c->parser.data = c;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        fail(c);
        return;
    }
    if (c->cb)
        send_req(c);
}

static void start_connect(lg_http *c)
{
    uv_tcp_init(&c->w->loop, &c->tcp);
    c->tcp.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    c->state = ST_CONNECTING;
    c->creq.data = c;
    if (lg_bind_src(c->w, &c->tcp) < 0 ||
        uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&c->w->ctx->http_addr,
                       on_connect) < 0)
        fail(c);
}

void lg_http_init(lg_http *c, lg_worker *w)
{
    uv_once(&settings_once, init_settings);
    memset(c, 0, sizeof(*c));
    c->w = w;
    c->state = ST_IDLE;
}

int lg_http_request(lg_http *c, const char *method, const char *path, const char *headers,
                    const char *body, size_t n, lg_http_cb cb, void *arg)
{
    if (c->cb || c->closing_for_good)
        return -1;
    char head[4096];
    int hn =
        snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %zu\r\n\r\n",
                 method, path, c->w->ctx->host_hdr, headers, n);
    if (hn < 0 || hn >= (int)sizeof(head))
        return -1;
    lg_buf_reset(&c->req);
    lg_buf_append(&c->req, head, (size_t)hn);
    if (n)
        lg_buf_append(&c->req, body, n);
    c->cb = cb;
    c->arg = arg;
    c->t_sent = lg_now_ns();
    switch (c->state) {
    case ST_IDLE: start_connect(c); break;
    case ST_READY: send_req(c); break;
    default: /* CONNECTING or CLOSING: sent once connected */ break;
    }
    return 0;
}

void lg_http_close(lg_http *c, void (*on_closed)(lg_http *c))
{
    c->closing_for_good = true;
    c->on_closed = on_closed;
    int st = c->state;
    close_sock(c);
    deliver(c, -1, NULL, 0);
    if (st == ST_IDLE) {
        lg_buf_free(&c->req);
        lg_buf_free(&c->body);
        if (on_closed)
            on_closed(c);
        return;
    }
}
