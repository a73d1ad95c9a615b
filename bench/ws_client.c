/* bench/ws_client.c: WebSocket client over libuv + wslay (see ws_client.h).
 * The upgrade request is written by hand and its response parsed with
 * llhttp; after the 101, bytes go through a wslay client context.
 * Threads: the owning worker's loop thread only. */
#include "ws_client.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/codec_util.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum { WS_CONNECTING, WS_UPGRADING, WS_OPEN, WS_CLOSING };

#define OUT_CAP (8u << 20) /* queued bytes before wslay is told to wait */

static llhttp_settings_t up_settings;
static uv_once_t up_once = UV_ONCE_INIT;

static void do_send(lg_ws *ws);

static void on_close_cb(uv_handle_t *h)
{
    lg_ws *ws = h->data;
    if (ws->ctx) {
        wslay_event_context_free(ws->ctx);
        ws->ctx = NULL;
    }
    free(ws->parser);
    ws->parser = NULL;
    lg_buf_free(&ws->out);
    lg_buf_free(&ws->fly);
    if (ws->ops->on_close)
        ws->ops->on_close(ws, ws->was_open, ws->http_status);
}

void lg_ws_close(lg_ws *ws)
{
    if (ws->state == WS_CLOSING)
        return;
    ws->state = WS_CLOSING;
    uv_close((uv_handle_t *)&ws->tcp, on_close_cb);
}

bool lg_ws_is_open(const lg_ws *ws) { return ws->state == WS_OPEN; }

static void on_write(uv_write_t *req, int status);

static void flush(lg_ws *ws)
{
    if (ws->writing || ws->out.len == 0 || ws->state == WS_CLOSING)
        return;
    uv_buf_t b = uv_buf_init(ws->out.p, (unsigned)ws->out.len);
    int n = uv_try_write((uv_stream_t *)&ws->tcp, &b, 1);
    if (n == (int)ws->out.len) {
        ws->out.len = 0;
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        lg_ws_close(ws);
        return;
    }
    size_t off = n > 0 ? (size_t)n : 0;
    lg_buf_reset(&ws->fly);
    lg_buf_append(&ws->fly, ws->out.p + off, ws->out.len - off);
    ws->out.len = 0;
    uv_buf_t fb = uv_buf_init(ws->fly.p, (unsigned)ws->fly.len);
    ws->wreq.data = ws;
    if (uv_write(&ws->wreq, (uv_stream_t *)&ws->tcp, &fb, 1, on_write) < 0) {
        lg_ws_close(ws);
        return;
    }
    ws->writing = true;
}

static void on_write(uv_write_t *req, int status)
{
    lg_ws *ws = req->data;
    ws->writing = false;
    ws->fly.len = 0;
    if (ws->state == WS_CLOSING)
        return;
    if (status < 0) {
        lg_ws_close(ws);
        return;
    }
    if (ws->state == WS_OPEN && wslay_event_want_write(ws->ctx))
        do_send(ws);
    else
        flush(ws);
}

static void check_done(lg_ws *ws)
{
    /* Both directions finished (close handshake done, or fatal error). */
    if (ws->state == WS_OPEN && !wslay_event_want_read(ws->ctx) &&
        !wslay_event_want_write(ws->ctx) && !ws->writing && ws->out.len == 0)
        lg_ws_close(ws);
}

static void do_send(lg_ws *ws)
{
    if (ws->state != WS_OPEN)
        return;
    if (ws->in_recv) {
        ws->need_send = true; /* wslay_event_send must not run inside its own callbacks */
        return;
    }
    if (wslay_event_send(ws->ctx) < 0) {
        lg_ws_close(ws);
        return;
    }
    flush(ws);
    check_done(ws);
}

/* --- wslay callbacks ---------------------------------------------------------- */

static ssize_t cb_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    lg_ws *ws = user;
    if (ws->rn == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < ws->rn ? len : ws->rn;
    memcpy(buf, ws->rp, n);
    ws->rp += n;
    ws->rn -= n;
    return (ssize_t)n;
}

static ssize_t cb_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    (void)flags;
    lg_ws *ws = user;
    if (ws->out.len >= OUT_CAP || ws->state != WS_OPEN) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    lg_buf_append(&ws->out, data, len);
    return (ssize_t)len;
}

static int cb_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
    (void)ctx;
    lg_ws *ws = user;
    while (len > 0) {
        uint64_t r = lg_rand(ws->w);
        size_t n = len < 8 ? len : 8;
        memcpy(buf, &r, n);
        buf += n;
        len -= n;
    }
    return 0;
}

static void cb_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user)
{
    (void)ctx;
    lg_ws *ws = user;
    if (ws->state != WS_OPEN)
        return;
    if ((arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME) && ws->ops->on_text)
        ws->ops->on_text(ws, (const char *)arg->msg, arg->msg_length);
}

static const struct wslay_event_callbacks wcb = {
    .recv_callback = cb_recv,
    .send_callback = cb_send,
    .genmask_callback = cb_genmask,
    .on_msg_recv_callback = cb_msg,
};

static void feed_wslay(lg_ws *ws, const char *p, size_t n)
{
    ws->rp = (const uint8_t *)p;
    ws->rn = n;
    ws->in_recv = true;
    int rc = wslay_event_recv(ws->ctx);
    ws->in_recv = false;
    ws->rn = 0;
    if (ws->state != WS_OPEN)
        return;
    if (rc < 0) {
        lg_ws_close(ws);
        return;
    }
    /* Pongs for server pings, the close reply, and messages queued by
     * on_text go out now. */
    if (ws->need_send || wslay_event_want_write(ws->ctx)) {
        ws->need_send = false;
        do_send(ws);
    } else {
        check_done(ws);
    }
}

/* --- upgrade ---------------------------------------------------------------- */

static int up_headers(llhttp_t *p)
{
    lg_ws *ws = p->data;
    ws->http_status = p->status_code;
    if (p->status_code != 101)
        return -1;
    return 2; /* no body; llhttp_execute returns HPE_PAUSED_UPGRADE */
}

static void init_up_settings(void)
{
    llhttp_settings_init(&up_settings);
    up_settings.on_headers_complete = up_headers;
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
    (void)sz;
    lg_ws *ws = h->data;
    *buf = uv_buf_init(ws->w->rbuf, sizeof(ws->w->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    lg_ws *ws = s->data;
    if (nread == 0 || ws->state == WS_CLOSING)
        return;
    if (nread < 0) {
        lg_ws_close(ws);
        return;
    }
    if (ws->state == WS_OPEN) {
        feed_wslay(ws, buf->base, (size_t)nread);
        return;
    }
    /* WS_UPGRADING */
    llhttp_errno_t e = llhttp_execute(ws->parser, buf->base, (size_t)nread);
    if (e == HPE_OK)
        return; /* headers incomplete */
    if (e != HPE_PAUSED_UPGRADE || ws->http_status != 101) {
        lg_ws_close(ws);
        return;
    }
    const char *end = llhttp_get_error_pos(ws->parser);
    size_t used = end ? (size_t)(end - buf->base) : (size_t)nread;
    free(ws->parser);
    ws->parser = NULL;
    if (wslay_event_context_client_init(&ws->ctx, &wcb, ws) != 0) {
        lg_ws_close(ws);
        return;
    }
    wslay_event_config_set_max_recv_msg_length(ws->ctx, 1u << 20);
    ws->state = WS_OPEN;
    ws->was_open = true;
    if (ws->ops->on_open)
        ws->ops->on_open(ws);
    if (ws->state == WS_OPEN && used < (size_t)nread)
        feed_wslay(ws, buf->base + used, (size_t)nread - used);
}

static void on_connect(uv_connect_t *req, int status)
{
    lg_ws *ws = req->data;
    if (ws->state != WS_CONNECTING)
        return;
    if (status < 0) {
        lg_ws_close(ws);
        return;
    }
    ws->state = WS_UPGRADING;
    ws->parser = lg_xmalloc(sizeof(*ws->parser));
    llhttp_init(ws->parser, HTTP_RESPONSE, &up_settings);
    ws->parser->data = ws;
    if (uv_read_start((uv_stream_t *)&ws->tcp, on_alloc, on_read) < 0) {
        lg_ws_close(ws);
        return;
    }
    flush(ws); /* the upgrade request queued in lg_ws_connect */
}

int lg_ws_connect(lg_ws *ws, lg_worker *w, const char *path, const lg_ws_ops *ops, void *user)
{
    uv_once(&up_once, init_up_settings);
    memset(ws, 0, sizeof(*ws));
    ws->w = w;
    ws->ops = ops;
    ws->user = user;
    ws->t_start = lg_now_ns();
    int rc = uv_tcp_init_ex(&w->loop, &ws->tcp, AF_INET);
    if (rc < 0)
        return rc;
    ws->tcp.data = ws;
    ws->state = WS_CONNECTING;
    uv_tcp_nodelay(&ws->tcp, 1);
    rc = lg_bind_src(w, &ws->tcp);
    if (rc == 0) {
        ws->creq.data = ws;
        const struct sockaddr_in *to = &w->ctx->ws_addr;
        if (w->ctx->nws)
            to = &w->ctx->ws_addrs[atomic_fetch_add(&w->ctx->ws_next, 1) % (unsigned)w->ctx->nws];
        rc = uv_tcp_connect(&ws->creq, &ws->tcp, (const struct sockaddr *)to, on_connect);
    }
    if (rc < 0) {
        /* Reported through on_close like any other failed connect. */
        lg_ws_close(ws);
        return 0;
    }
    uint8_t key[16];
    cb_genmask(NULL, key, sizeof(key), ws);
    char *key64 = tomo_b64_encode(key, sizeof(key), 0);
    char head[2048];
    int n = snprintf(head, sizeof(head),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     path, w->ctx->ws_host_hdr, key64);
    free(key64);
    if (n > 0 && n < (int)sizeof(head))
        lg_buf_append(&ws->out, head, (size_t)n);
    return 0;
}

int lg_ws_send_text(lg_ws *ws, const char *p, size_t n)
{
    if (ws->state != WS_OPEN)
        return -1;
    struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)p, n};
    if (wslay_event_queue_msg(ws->ctx, &m) != 0)
        return -1;
    do_send(ws);
    return 0;
}

void lg_ws_close_graceful(lg_ws *ws)
{
    if (ws->state != WS_OPEN) {
        lg_ws_close(ws);
        return;
    }
    wslay_event_queue_close(ws->ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
    do_send(ws);
}
