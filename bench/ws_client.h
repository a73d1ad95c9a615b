/* bench/ws_client.h: WebSocket client connection for tomo-bench.
 * Owns: lg_ws: its TCP handle, the HTTP/1.1 upgrade (request written here,
 *       the 101 response parsed with llhttp), the wslay client context and
 *       the outgoing byte queue.
 * Borrows: the worker's loop and shared read buffer (lg.h).
 * Threads: the owning worker's loop thread only. */
#ifndef LG_WS_CLIENT_H
#define LG_WS_CLIENT_H

#include <llhttp.h>
#include <wslay/wslay.h>

#include "lg.h"

typedef struct lg_ws lg_ws;

typedef struct lg_ws_ops {
    /* The upgrade succeeded (status 101). */
    void (*on_open)(lg_ws *ws);
    /* One complete text message; p is borrowed. */
    void (*on_text)(lg_ws *ws, const char *p, size_t n);
    /* The socket is closed and its handle released; ws may be freed here.
     * was_open tells whether on_open ran; http_status is the upgrade
     * response status when the upgrade failed (0 if none arrived). */
    void (*on_close)(lg_ws *ws, bool was_open, int http_status);
} lg_ws_ops;

struct lg_ws {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    lg_worker *w;
    const lg_ws_ops *ops;
    void *user;
    int state;
    int http_status;
    bool in_recv, need_send, writing, was_open;
    llhttp_t *parser; /* only during the upgrade */
    wslay_event_context_ptr ctx;
    const uint8_t *rp; /* bytes being fed to wslay_event_recv */
    size_t rn;
    lg_buf out, fly;  /* queued bytes / bytes in the uv_write */
    uint64_t t_start; /* lg_now_ns() at connect */
};

/* Connects to ctx->ws_addr (bound to the next source address if any) and
 * upgrades with GET <path>. Returns 0 (then on_close always follows, also
 * for a connect that fails), or <0 if no handle could be created (nothing
 * follows; ws may be reused or freed at once). */
int lg_ws_connect(lg_ws *ws, lg_worker *w, const char *path, const lg_ws_ops *ops, void *user);

/* Queues one text message and sends it as soon as possible. 0 or -1. */
int lg_ws_send_text(lg_ws *ws, const char *p, size_t n);

/* Closes at once (no close handshake); on_close follows. */
void lg_ws_close(lg_ws *ws);

/* Sends a close frame and closes once it is written (bounded by the server). */
void lg_ws_close_graceful(lg_ws *ws);

bool lg_ws_is_open(const lg_ws *ws);

#endif
