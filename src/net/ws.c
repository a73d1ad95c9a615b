/* net/ws.c: WebSocket connections over libuv; wslay parses input, data
 * frames go out straight from shared tomo_frame buffers. */
#define _GNU_SOURCE
#include "ws.h"

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"

#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

struct tomo_ws {
    tomo_ws_loop *wl;
    tomo_sock *tcp; /* TCP or TLS (net/sock.h) */
    wslay_event_context_ptr ctx;
    const tomo_ws_callbacks *cb;
    void *ud;
    uint32_t max_msg;
    uint32_t max_queued;
    uint32_t queued;        /* writes pending in libuv */
    uint32_t msg_len;       /* bytes of the message being received */
    uint64_t close_deadline_ms;
    uint64_t close_wait_ms;
    uint16_t close_code;
    uint8_t closing;        /* close queued or abort requested */
    uint8_t closed;         /* uv_close called */
    uint8_t in_recv;        /* inside wslay_event_recv */
    uint8_t need_flush;     /* wslay has frames queued while in_recv */
    uint8_t peer_closed;    /* close frame received */
    uint8_t finishing;      /* uv_shutdown in progress */
    /* Frame boundaries of the input, tracked so that an idle connection can
     * drop wslay's context (about 8 KB of buffers) and rebuild it on demand. */
    uint8_t fh_have;        /* header bytes collected */
    uint8_t msg_open;       /* a fragmented data message is in progress */
    uint8_t fh[14];
    uint64_t fpay_left;     /* payload bytes left in the current frame */
    tomo_ws *close_prev, *close_next; /* closing list */
    /* Frames queued this loop iteration, written together (prepare_cb). */
    tomo_frame **pend;
    uint32_t npend, pend_cap;
    uint8_t dirty;
    tomo_ws *dirty_next;
};

/* Per-loop state: every connection of one loop shares it, and nothing here
 * is touched from another thread. */
struct tomo_ws_loop {
    tomo_loop *loop;
    /* Input cursor over the bytes being parsed (recv_cb reads from here). */
    const uint8_t *in;
    size_t in_len;
    tomo_ws_stats stats;
    /* Sockets waiting for the peer's close frame; one timer enforces
     * deadlines. */
    tomo_ws *closing;
    uv_timer_t close_timer;
    /* Connections with frames queued this loop iteration (prepare_cb). */
    tomo_ws *dirty;
    uv_prepare_t prepare;
    int handles_open;
    int handles_pending; /* uv_close callbacks still to come */
    int free_requested;  /* tomo_ws_loop_free ran before they came */
    /* One read buffer: input is parsed synchronously in on_read, so no
     * connection keeps a buffer of its own. */
    char rbuf[65536];
};

static void finish(tomo_ws *ws);

/* ---- frames ---- */

tomo_frame *tomo_frame_new(int opcode, const void *payload, size_t n)
{
    return tomo_frame_new_extra(opcode, payload, n, 0, NULL);
}

tomo_frame *tomo_frame_new_extra(int opcode, const void *payload, size_t n, size_t extra,
                                 void **extra_out)
{
    size_t hl = n < 126 ? 2 : n <= 0xffff ? 4 : 10;
    size_t a = _Alignof(max_align_t), off = (sizeof(tomo_frame) + hl + n + a - 1) / a * a;
    tomo_frame *f = tomo_xmalloc(extra ? off + extra : sizeof(*f) + hl + n);
    if (extra_out)
        *extra_out = extra ? (char *)f + off : NULL;
    atomic_init(&f->refs, 1);
    f->opcode = (uint8_t)opcode;
    f->len = hl + n;
    f->data[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (hl == 2) {
        f->data[1] = (uint8_t)n;
    } else if (hl == 4) {
        f->data[1] = 126;
        f->data[2] = (uint8_t)(n >> 8);
        f->data[3] = (uint8_t)n;
    } else {
        f->data[1] = 127;
        for (int i = 0; i < 8; i++)
            f->data[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    }
    if (n)
        memcpy(f->data + hl, payload, n);
    return f;
}

const uint8_t *tomo_frame_payload(const tomo_frame *f, size_t *n)
{
    size_t hl = (f->data[1] & 0x7f) < 126 ? 2 : (f->data[1] & 0x7f) == 126 ? 4 : 10;
    *n = f->len - hl;
    return f->data + hl;
}

/* Frames may be built on one thread (a match thread, another loop) and
 * written on another: the count is atomic. Taking a reference needs no
 * ordering (the taker already holds one); the last release must see every
 * other thread's reads done (acq_rel) before freeing. */
tomo_frame *tomo_frame_ref(tomo_frame *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void tomo_frame_unref(tomo_frame *f)
{
    if (f && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1)
        free(f);
}

int tomo_frame_refs(const tomo_frame *f)
{
    return atomic_load_explicit(&((tomo_frame *)f)->refs, memory_order_relaxed);
}

/* ---- handshake ---- */

static int header_has_token(const char *v, const char *tok)
{
    size_t tl = strlen(tok);
    while (v && *v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *e = v;
        while (*e && *e != ',')
            e++;
        const char *te = e;
        while (te > v && (te[-1] == ' ' || te[-1] == '\t'))
            te--;
        if ((size_t)(te - v) == tl && !strncasecmp(v, tok, tl))
            return 1;
        v = e;
    }
    return 0;
}

int tomo_ws_handshake_check(const tomo_http_req *req, const char **why)
{
    if (req->method != TOMO_HTTP_GET) {
        *why = "WebSocket upgrade requires GET";
        return TOMO_EINVAL;
    }
    if (!header_has_token(tomo_http_header_get(req, "upgrade"), "websocket")) {
        *why = "Missing Upgrade: websocket header";
        return TOMO_EINVAL;
    }
    if (!header_has_token(tomo_http_header_get(req, "connection"), "upgrade")) {
        *why = "Missing Connection: Upgrade header";
        return TOMO_EINVAL;
    }
    const char *ver = tomo_http_header_get(req, "sec-websocket-version");
    if (!ver || strcmp(ver, "13")) {
        *why = "Unsupported Sec-WebSocket-Version (13 required)";
        return TOMO_EINVAL;
    }
    const char *key = tomo_http_header_get(req, "sec-websocket-key");
    uint8_t *dec = NULL;
    size_t dl = 0;
    if (!key || strlen(key) != 24 || tomo_b64_decode(key, 24, &dec, &dl) < 0 || dl != 16) {
        free(dec);
        *why = "Missing or invalid Sec-WebSocket-Key";
        return TOMO_EINVAL;
    }
    free(dec);
    return 0;
}

void tomo_ws_accept_key(const char *client_key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha1(), NULL);
    EVP_DigestUpdate(c, client_key, strlen(client_key));
    EVP_DigestUpdate(c, guid, sizeof(guid) - 1);
    EVP_DigestFinal_ex(c, md, &mdlen);
    EVP_MD_CTX_free(c);
    char *b = tomo_b64_encode(md, mdlen, 0);
    memcpy(out, b, 28);
    out[28] = '\0';
    free(b);
}

/* ---- output ---- */

typedef struct wreq {
    uv_write_t w;
    tomo_ws *ws;
    uint32_t nframes;       /* frames referenced below (0: bytes copied) */
    uint32_t nmsgs;         /* messages this write carries (queue accounting) */
    tomo_frame *frames[];   /* then the copied bytes, if any */
} wreq;

static void on_write(uv_write_t *w, int status)
{
    wreq *r = (wreq *)w;
    tomo_ws *ws = r->ws;
    for (uint32_t i = 0; i < r->nframes; i++)
        tomo_frame_unref(r->frames[i]);
    ws->queued -= r->nmsgs;
    free(r);
    if (status < 0 && !ws->closed) {
        TOMO_LOGD(TOMO_NET, "ws write failed error=%s", uv_strerror(status));
        tomo_ws_abort(ws);
    }
}

/* Write bufs[0..n) now as far as the kernel takes them, and queue the rest
 * in libuv. frames[i] (or NULL: copy) backs bufs[i]; every frame passed here
 * carries one reference owned by this function. Returns 0 or TOMO_EIO. */
static int write_bufs(tomo_ws *ws, uv_buf_t *bufs, tomo_frame **frames, size_t n)
{
    size_t total = 0, done = 0;
    for (size_t i = 0; i < n; i++)
        total += bufs[i].len;
    ws->wl->stats.bytes_out += total;
    if (ws->queued == 0) {
        int w = tomo_sock_try_write(ws->tcp, bufs, (unsigned)n);
        if (w < 0 && w != UV_EAGAIN)
            goto fail;
        if (w > 0)
            done = (size_t)w;
    }
    /* Skip what went out; drop those frames' references. */
    size_t first = 0;
    while (first < n && done >= bufs[first].len) {
        done -= bufs[first].len;
        if (frames[first])
            tomo_frame_unref(frames[first]);
        first++;
    }
    if (first == n)
        return 0;
    bufs[first].base += done;
    bufs[first].len -= done;
    size_t rest = n - first, copy_bytes = 0, nfr = 0;
    for (size_t i = first; i < n; i++) {
        if (frames[i])
            nfr++;
        else
            copy_bytes += bufs[i].len;
    }
    /* One request holds the remaining frames' references and a copy of any
     * bytes without a frame (control frames from wslay). */
    size_t sz = sizeof(wreq) + nfr * sizeof(tomo_frame *) + copy_bytes;
    wreq *r = tomo_xmalloc(sz);
    r->ws = ws;
    r->nframes = (uint32_t)nfr;
    r->nmsgs = (uint32_t)rest;
    uint8_t *cp = (uint8_t *)(r->frames + nfr);
    size_t k = 0;
    for (size_t i = first; i < n; i++) {
        if (frames[i]) {
            r->frames[k++] = frames[i];
        } else {
            memcpy(cp, bufs[i].base, bufs[i].len);
            bufs[i].base = (char *)cp;
            cp += bufs[i].len;
        }
    }
    if (tomo_sock_write(ws->tcp, &r->w, bufs + first, (unsigned)rest, on_write) < 0) {
        for (uint32_t i = 0; i < r->nframes; i++)
            tomo_frame_unref(r->frames[i]);
        free(r);
        tomo_ws_abort(ws);
        return TOMO_EIO;
    }
    ws->queued += (uint32_t)rest;
    return 0;
fail:
    for (size_t i = 0; i < n; i++)
        if (frames[i])
            tomo_frame_unref(frames[i]);
    tomo_ws_abort(ws);
    return TOMO_EIO;
}

/* ---- batching: frames queued during one loop iteration go out together
 * (one writev per connection) right before the loop polls again ---- */

static void flush_pending(tomo_ws *ws)
{
    size_t n = ws->npend;
    if (!n)
        return;
    ws->npend = 0;
    if (ws->closed) {
        for (size_t i = 0; i < n; i++)
            tomo_frame_unref(ws->pend[i]);
        return;
    }
    uv_buf_t stackb[64];
    uv_buf_t *bufs = n <= 64 ? stackb : tomo_xmalloc(n * sizeof(*bufs));
    for (size_t i = 0; i < n; i++)
        bufs[i] = uv_buf_init((char *)ws->pend[i]->data, (unsigned)ws->pend[i]->len);
    /* Stay well under IOV_MAX per writev (outgoing_queue_size may be large). */
    for (size_t off = 0; off < n; off += 512) {
        size_t cnt = n - off < 512 ? n - off : 512;
        if (ws->closed) {
            for (size_t i = off; i < n; i++)
                tomo_frame_unref(ws->pend[i]);
            break;
        }
        write_bufs(ws, bufs + off, ws->pend + off, cnt);
    }
    if (bufs != stackb)
        free(bufs);
}

static void dirty_del(tomo_ws *ws)
{
    if (!ws->dirty)
        return;
    for (tomo_ws **pp = &ws->wl->dirty; *pp; pp = &(*pp)->dirty_next)
        if (*pp == ws) {
            *pp = ws->dirty_next;
            break;
        }
    ws->dirty = 0;
    ws->dirty_next = NULL;
}

static void prepare_cb(uv_prepare_t *p)
{
    tomo_ws_loop *wl = p->data;
    while (wl->dirty) {
        tomo_ws *ws = wl->dirty;
        wl->dirty = ws->dirty_next;
        ws->dirty = 0;
        ws->dirty_next = NULL;
        flush_pending(ws);
    }
}

/* Bytes without a frame (wslay's control frames): after pending frames. */
static int write_bytes(tomo_ws *ws, const uint8_t *p, size_t n)
{
    flush_pending(ws);
    if (ws->closed)
        return TOMO_EIO;
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    tomo_frame *none = NULL;
    return write_bufs(ws, &b, &none, 1);
}

int tomo_ws_send(tomo_ws *ws, tomo_frame *f)
{
    if (ws->closing || ws->closed)
        return TOMO_EIO;
    if (ws->queued >= ws->max_queued)
        return TOMO_EAGAIN; /* the kernel has not taken the last max_queued */
    if (ws->npend == ws->pend_cap) {
        if (ws->pend_cap >= ws->max_queued) {
            flush_pending(ws); /* a burst: write now rather than grow */
            if (ws->closed)
                return TOMO_EIO;
        } else {
            uint32_t nc = ws->pend_cap ? ws->pend_cap * 2 : 4;
            if (nc > ws->max_queued)
                nc = ws->max_queued;
            ws->pend = tomo_xrealloc(ws->pend, nc * sizeof(*ws->pend));
            ws->pend_cap = nc;
        }
    }
    ws->pend[ws->npend++] = tomo_frame_ref(f);
    if (!ws->dirty) {
        ws->dirty = 1;
        ws->dirty_next = ws->wl->dirty;
        ws->wl->dirty = ws;
    }
    return 0;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *ud)
{
    (void)flags;
    tomo_ws *ws = ud;
    if (ws->closed || write_bytes(ws, data, len) < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static void close_timer_cb(uv_timer_t *t);

/* Enter the closing state: wait at most close_wait_ms for the peer. */
static void closing_add(tomo_ws *ws)
{
    tomo_ws_loop *wl = ws->wl;
    ws->closing = 1;
    ws->close_deadline_ms = (uint64_t)tomo_now_ms() + ws->close_wait_ms;
    ws->close_next = wl->closing;
    ws->close_prev = NULL;
    if (wl->closing)
        wl->closing->close_prev = ws;
    wl->closing = ws;
    if (wl->handles_open && !uv_is_active((uv_handle_t *)&wl->close_timer))
        uv_timer_start(&wl->close_timer, close_timer_cb, 100, 100);
}

static void closing_del(tomo_ws *ws)
{
    if (ws->close_prev)
        ws->close_prev->close_next = ws->close_next;
    else if (ws->wl->closing == ws)
        ws->wl->closing = ws->close_next;
    if (ws->close_next)
        ws->close_next->close_prev = ws->close_prev;
    ws->close_prev = ws->close_next = NULL;
}

static void close_timer_cb(uv_timer_t *t)
{
    tomo_ws_loop *wl = t->data;
    uint64_t now = (uint64_t)tomo_now_ms();
    tomo_ws *ws = wl->closing;
    while (ws) {
        tomo_ws *next = ws->close_next;
        if (now >= ws->close_deadline_ms)
            tomo_ws_abort(ws);
        ws = next;
    }
    if (!wl->closing)
        uv_timer_stop(&wl->close_timer);
}

/* Send what wslay has queued (pongs, close frames); then, if the close
 * handshake is over, finish the connection. */
static void flush(tomo_ws *ws)
{
    if (ws->closed)
        return;
    if (ws->in_recv) {
        ws->need_flush = 1;
        return;
    }
    ws->need_flush = 0;
    if (!ws->ctx)
        return;
    if (wslay_event_want_write(ws->ctx) && wslay_event_send(ws->ctx) < 0) {
        tomo_ws_abort(ws);
        return;
    }
    /* Close the TCP side only after the peer's close frame: closing while it
     * is still sending would reset the connection and could destroy our close
     * frame before the peer reads it. Silent peers hit the close deadline. */
    if (ws->closing && ws->peer_closed && !wslay_event_want_write(ws->ctx))
        finish(ws);
}

/* ---- wslay context: built on demand, dropped while idle ---- */

static const struct wslay_event_callbacks g_wslay_cb;

static void ctx_make(tomo_ws *ws)
{
    if (ws->ctx)
        return;
    if (wslay_event_context_server_init(&ws->ctx, &g_wslay_cb, ws) != 0)
        abort(); /* out of memory */
    /* wslay checks its limit before frame_start_cb runs and closes without
     * a reason; keep it as a backstop above ours (wslay allocates a frame's
     * claimed length up front, so it stays bounded) so that frame_start_cb
     * refuses first and says why. */
    uint64_t backstop = (uint64_t)ws->max_msg * 4;
    if (backstop < (1u << 20))
        backstop = 1u << 20;
    wslay_event_config_set_max_recv_msg_length(ws->ctx, backstop);
}

/* Follow frame headers over the bytes handed to wslay. */
static void track(tomo_ws *ws, const uint8_t *p, size_t n)
{
    while (n) {
        if (ws->fpay_left) {
            size_t take = n < ws->fpay_left ? n : (size_t)ws->fpay_left;
            ws->fpay_left -= take;
            p += take;
            n -= take;
            continue;
        }
        ws->fh[ws->fh_have++] = *p++;
        n--;
        if (ws->fh_have < 2)
            continue;
        uint8_t l7 = ws->fh[1] & 0x7f;
        size_t need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + ((ws->fh[1] & 0x80) ? 4 : 0);
        if (ws->fh_have < need)
            continue;
        uint64_t len = l7;
        if (l7 == 126)
            len = (uint64_t)ws->fh[2] << 8 | ws->fh[3];
        else if (l7 == 127)
            for (int i = 0; i < 8; i++)
                len = len << 8 | ws->fh[2 + i];
        if ((ws->fh[0] & 0x0f) < 0x8)
            ws->msg_open = !(ws->fh[0] & 0x80);
        ws->fpay_left = len;
        ws->fh_have = 0;
    }
}

int tomo_ws_trim(tomo_ws *ws)
{
    if (!ws->ctx || ws->closing || ws->closed || ws->in_recv || ws->fh_have || ws->fpay_left ||
        ws->msg_open || wslay_event_want_write(ws->ctx))
        return 0;
    wslay_event_context_free(ws->ctx);
    ws->ctx = NULL;
    if (!ws->npend) {
        free(ws->pend);
        ws->pend = NULL;
        ws->pend_cap = 0;
    }
    return 1;
}

/* ---- input ---- */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    (void)flags;
    tomo_ws_loop *wl = ((tomo_ws *)ud)->wl;
    if (!wl->in_len) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < wl->in_len ? len : wl->in_len;
    memcpy(buf, wl->in, n);
    wl->in += n;
    wl->in_len -= n;
    return (ssize_t)n;
}

static void frame_start_cb(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_start_arg *arg, void *ud)
{
    tomo_ws *ws = ud;
    if (ws->cb->on_activity && !ws->closing)
        ws->cb->on_activity(ws, ws->ud);
    if (arg->opcode >= 0x8)
        return; /* control frames are small and never part of a message */
    if (arg->opcode != 0)
        ws->msg_len = 0;
    if ((uint64_t)ws->msg_len + arg->payload_length > ws->max_msg) {
        /* Refuse before wslay buffers it, with a reason the client can read. */
        if (!ws->closing) {
            char reason[96];
            int rl = snprintf(reason, sizeof(reason), "Message too big: limit is %u bytes",
                              ws->max_msg);
            ws->closing = 1;
            ws->close_code = TOMO_WS_CLOSE_TOO_BIG;
            wslay_event_queue_close(ctx, TOMO_WS_CLOSE_TOO_BIG, (const uint8_t *)reason,
                                    (size_t)rl);
            closing_add(ws);
        }
        /* Stop parsing; the rest is drained unread until the peer closes. */
        wslay_event_shutdown_read(ctx);
        ws->msg_len = ws->max_msg + 1;
        return;
    }
    ws->msg_len += (uint32_t)arg->payload_length;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *ud)
{
    (void)ctx;
    tomo_ws *ws = ud;
    if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        ws->peer_closed = 1;
        if (!ws->close_code)
            ws->close_code = arg->status_code ? arg->status_code : 1005;
        if (!ws->closing) {
            /* wslay queued the echo; the handshake ends once it is written. */
            ws->closing = 1;
            closing_add(ws);
        }
        return;
    }
    if (ws->closing || ws->closed)
        return;
    if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME)
        ws->cb->on_message(ws, arg->opcode == WSLAY_TEXT_FRAME ? TOMO_WS_TEXT : TOMO_WS_BINARY,
                           arg->msg, arg->msg_length, ws->ud);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    tomo_ws_loop *wl = ((tomo_ws *)h->data)->wl;
    *buf = uv_buf_init(wl->rbuf, sizeof(wl->rbuf));
}

static void feed(tomo_ws *ws, const uint8_t *p, size_t n)
{
    tomo_ws_loop *wl = ws->wl;
    wl->stats.bytes_in += n;
    if (ws->ctx && !wslay_event_get_read_enabled(ws->ctx))
        return; /* after a fatal input error: drain until the peer goes */
    ctx_make(ws);
    track(ws, p, n);
    wl->in = p;
    wl->in_len = n;
    ws->in_recv = 1;
    int rc = wslay_event_recv(ws->ctx);
    ws->in_recv = 0;
    wl->in = NULL;
    wl->in_len = 0;
    if (rc < 0) {
        tomo_ws_abort(ws);
        return;
    }
    if (!wslay_event_get_read_enabled(ws->ctx) && !ws->closing) {
        /* wslay refused the input (protocol error, invalid UTF-8) and queued
         * its own close frame. */
        ws->closing = 1;
        closing_add(ws);
    }
    flush(ws);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    tomo_ws *ws = s->data;
    if (n < 0) {
        tomo_ws_abort(ws);
        return;
    }
    if (n == 0 || ws->closed)
        return;
    feed(ws, (const uint8_t *)buf->base, (size_t)n);
}

/* ---- lifecycle ---- */

static void on_tcp_closed(uv_handle_t *h)
{
    tomo_ws *ws = h->data;
    closing_del(ws);
    dirty_del(ws);
    for (uint32_t i = 0; i < ws->npend; i++)
        tomo_frame_unref(ws->pend[i]);
    free(ws->pend);
    if (!ws->wl->closing && ws->wl->handles_open)
        uv_timer_stop(&ws->wl->close_timer);
    ws->cb->on_closed(ws, ws->close_code, ws->ud);
    if (ws->ctx)
        wslay_event_context_free(ws->ctx);
    free(ws->tcp);
    free(ws);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    tomo_ws *ws = req->data;
    free(req);
    if (!ws->closed) {
        ws->closed = 1;
        tomo_sock_close(ws->tcp, on_tcp_closed);
    }
}

/* Graceful end: let queued writes reach the kernel, then close. */
static void finish(tomo_ws *ws)
{
    if (ws->closed || ws->finishing)
        return;
    ws->finishing = 1;
    flush_pending(ws);
    if (ws->closed)
        return;
    tomo_sock_read_stop(ws->tcp);
    uv_shutdown_t *req = tomo_xmalloc(sizeof(*req));
    req->data = ws;
    if (tomo_sock_shutdown(ws->tcp, req, on_shutdown) < 0) {
        free(req);
        ws->closed = 1;
        tomo_sock_close(ws->tcp, on_tcp_closed);
    }
}

void tomo_ws_abort(tomo_ws *ws)
{
    if (ws->closed)
        return;
    ws->closing = 1;
    ws->closed = 1;
    if (!ws->close_code)
        ws->close_code = 1006;
    tomo_sock_close(ws->tcp, on_tcp_closed);
}

void tomo_ws_close(tomo_ws *ws, int code, const char *reason)
{
    if (ws->closing || ws->closed)
        return;
    ws->closing = 1;
    ws->close_code = (uint16_t)code;
    size_t rl = reason ? strlen(reason) : 0;
    if (rl > 123)
        rl = 123;
    ctx_make(ws);
    if (wslay_event_queue_close(ws->ctx, (uint16_t)code, (const uint8_t *)reason, rl) < 0) {
        tomo_ws_abort(ws);
        return;
    }
    closing_add(ws);
    flush(ws);
}

void tomo_ws_ping(tomo_ws *ws)
{
    if (ws->closing || ws->closed)
        return;
    /* Written directly: no need to build a wslay context for an idle peer. */
    static const uint8_t ping[2] = {0x89, 0x00};
    write_bytes(ws, ping, sizeof(ping));
}

int tomo_ws_closing(const tomo_ws *ws) { return ws->closing || ws->closed; }
size_t tomo_ws_queued(const tomo_ws *ws) { return ws->queued; }

const char *tomo_ws_peer(const tomo_ws *ws)
{
    static __thread char buf[64]; /* one per loop thread */
    buf[0] = '\0';
    if (ws->tcp)
        tomo_sock_peer_ip(ws->tcp, buf, sizeof(buf));
    return buf;
}

void tomo_ws_loop_stats(const tomo_ws_loop *wl, tomo_ws_stats *out) { *out = wl->stats; }

static const struct wslay_event_callbacks g_wslay_cb = {
    recv_cb, send_cb, NULL, frame_start_cb, NULL, NULL, msg_cb,
};

tomo_ws *tomo_ws_new(tomo_ws_loop *wl, tomo_sock *tcp, const tomo_ws_config *cfg,
                     const tomo_ws_callbacks *cb, void *ud)
{
    tomo_ws *ws = tomo_xcalloc(1, sizeof(*ws));
    ws->wl = wl;
    ws->tcp = tcp;
    ws->cb = cb;
    ws->ud = ud;
    ws->max_msg = cfg->max_message_bytes > 0x7fffffff ? 0x7fffffff
                                                      : (uint32_t)cfg->max_message_bytes;
    ws->max_queued = cfg->max_queued_writes ? (uint32_t)cfg->max_queued_writes : 64;
    ws->close_wait_ms = cfg->close_wait_ms ? cfg->close_wait_ms : 2000;
    tomo_sock_set_data(tcp, ws);
    return ws;
}

void tomo_ws_start(tomo_ws *ws, const char *leftover, size_t leftover_len)
{
    if (tomo_sock_read_start(ws->tcp, alloc_cb, on_read) < 0) {
        tomo_ws_abort(ws);
        return;
    }
    if (leftover && leftover_len)
        feed(ws, (const uint8_t *)leftover, leftover_len);
}

/* ---- per-loop context ---- */

tomo_ws_loop *tomo_ws_loop_new(tomo_loop *loop)
{
    tomo_ws_loop *wl = tomo_xcalloc(1, sizeof(*wl));
    wl->loop = loop;
    uv_timer_init(tomo_loop_uv(loop), &wl->close_timer);
    wl->close_timer.data = wl;
    uv_unref((uv_handle_t *)&wl->close_timer);
    uv_prepare_init(tomo_loop_uv(loop), &wl->prepare);
    wl->prepare.data = wl;
    uv_prepare_start(&wl->prepare, prepare_cb);
    uv_unref((uv_handle_t *)&wl->prepare);
    wl->handles_open = 1;
    return wl;
}

tomo_loop *tomo_ws_loop_loop(const tomo_ws_loop *wl) { return wl->loop; }

void tomo_ws_loop_abort_closing(tomo_ws_loop *wl)
{
    for (tomo_ws *ws = wl->closing; ws; ws = ws->close_next)
        tomo_ws_abort(ws);
}

static void handle_closed(uv_handle_t *h)
{
    tomo_ws_loop *wl = h->data;
    if (--wl->handles_pending == 0 && wl->free_requested)
        free(wl);
}

void tomo_ws_loop_close(tomo_ws_loop *wl)
{
    if (!wl || !wl->handles_open)
        return;
    wl->handles_open = 0;
    uv_prepare_stop(&wl->prepare);
    uv_timer_stop(&wl->close_timer);
    wl->handles_pending = 2;
    uv_close((uv_handle_t *)&wl->prepare, handle_closed);
    uv_close((uv_handle_t *)&wl->close_timer, handle_closed);
}

void tomo_ws_loop_free(tomo_ws_loop *wl)
{
    if (!wl)
        return;
    tomo_ws_loop_close(wl);
    if (wl->handles_pending)
        wl->free_requested = 1; /* freed by the last close callback */
    else
        free(wl);
}
