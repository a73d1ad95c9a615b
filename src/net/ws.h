/* net/ws.h: WebSocket connections (RFC 6455, server side) over libuv.
 * Owns: the handshake check and Sec-WebSocket-Accept computation, one
 *       tomo_ws per upgraded TCP socket (a wslay event context for input:
 *       reassembly, UTF-8 checks, control frames, the close handshake), the
 *       outgoing path (data frames are written straight from shared
 *       refcounted tomo_frame buffers, no per-recipient copy), and the bounded
 *       count of writes still queued in libuv (slow-consumer detection).
 *       tomo_ws_loop holds what the connections of one loop share (the
 *       read buffer, the closing list and its timer, the batch of
 *       connections to flush before the loop polls, byte counters): no
 *       process globals, so several loops can each have one.
 * Borrows: the loop (net/loop.h); the stream (net/sock.h) handed over by
 *          tomo_http_upgrade (owned from then on, freed when closed).
 * Threads: a tomo_ws and its tomo_ws_loop belong to one loop thread. Frames
 *          (tomo_frame) may be built, referenced and released on any thread
 *          (the count is atomic); their bytes never change after
 *          tomo_frame_new.
 *
 * Memory per idle connection: the struct below and the uv_tcp_t; wslay's
 * event context exists only while input is flowing (tomo_ws_trim). Input is
 * parsed from the loop's one read buffer and outgoing frames are usually
 * written synchronously (uv_try_write) without any allocation; only a write
 * the kernel cannot take at once is queued. */
#ifndef TOMO_NET_WS_H
#define TOMO_NET_WS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "http.h"
#include "loop.h"

enum { TOMO_WS_TEXT = 1, TOMO_WS_BINARY = 2 };

/* Close codes used by the server. */
enum {
    TOMO_WS_CLOSE_NORMAL = 1000,
    TOMO_WS_CLOSE_GOING_AWAY = 1001,
    TOMO_WS_CLOSE_PROTOCOL = 1002,
    TOMO_WS_CLOSE_UNSUPPORTED = 1003,
    TOMO_WS_CLOSE_INVALID_DATA = 1007,
    TOMO_WS_CLOSE_POLICY = 1008,
    TOMO_WS_CLOSE_TOO_BIG = 1009,
    TOMO_WS_CLOSE_INTERNAL = 1011,
};

/* A complete encoded WebSocket message (header + payload), shared by every
 * queue it is sent to. Refcounted (atomically: any thread), immutable after
 * tomo_frame_new. */
typedef struct tomo_frame {
    atomic_int refs;
    uint8_t opcode;
    size_t len;        /* header + payload */
    uint8_t data[];    /* server frame: unmasked header, then payload */
} tomo_frame;

/* Build a frame (FIN set, unmasked) for opcode TOMO_WS_TEXT/BINARY holding a
 * copy of payload[0..n). refs = 1. */
tomo_frame *tomo_frame_new(int opcode, const void *payload, size_t n);
/* The same with `extra` bytes (aligned for any object) after the frame in
 * its block, for the caller's bookkeeping (*extra_out; NULL when extra is
 * 0): one allocation, freed with the frame, so they live as long as it. */
tomo_frame *tomo_frame_new_extra(int opcode, const void *payload, size_t n, size_t extra,
                                 void **extra_out);
/* Payload part of a frame. */
const uint8_t *tomo_frame_payload(const tomo_frame *f, size_t *n);
tomo_frame *tomo_frame_ref(tomo_frame *f);
void tomo_frame_unref(tomo_frame *f);
/* Current reference count (tests, assertions). */
int tomo_frame_refs(const tomo_frame *f);

/* Validate a WebSocket upgrade request (GET, Upgrade: websocket, Connection
 * containing "upgrade", Sec-WebSocket-Key of 16 base64 bytes, version 13).
 * Returns 0, or TOMO_EINVAL with a static reason in *why. */
int tomo_ws_handshake_check(const tomo_http_req *req, const char **why);
/* Sec-WebSocket-Accept for a client key: base64(SHA1(key + GUID)). */
void tomo_ws_accept_key(const char *client_key, char out[29]);

typedef struct tomo_ws tomo_ws;
typedef struct tomo_ws_loop tomo_ws_loop;

/* The WebSocket state of one loop (loop thread). Its handles do not keep
 * the loop alive. Close it (tomo_ws_loop_close: releases the handles) only
 * after every connection on it was aborted and closed; tomo_ws_loop_free
 * closes if needed and frees once the handles' close callbacks ran (run the
 * loop once more), so it may be called right after close. */
tomo_ws_loop *tomo_ws_loop_new(tomo_loop *loop);
tomo_loop *tomo_ws_loop_loop(const tomo_ws_loop *wl);
void tomo_ws_loop_close(tomo_ws_loop *wl);
void tomo_ws_loop_free(tomo_ws_loop *wl);
/* Abort every connection of this loop still waiting for its close
 * handshake. */
void tomo_ws_loop_abort_closing(tomo_ws_loop *wl);

typedef struct tomo_ws_callbacks {
    /* A complete data message (TOMO_WS_TEXT with valid UTF-8, or
     * TOMO_WS_BINARY). data is valid during the call only. */
    void (*on_message)(tomo_ws *ws, int opcode, const uint8_t *data, size_t len, void *ud);
    /* Any inbound frame (data or control, pongs included): liveness. */
    void (*on_activity)(tomo_ws *ws, void *ud);
    /* The socket is closed and ws is about to be freed. Called exactly once,
     * from the libuv close callback, never from inside another callback of
     * this ws. code is the close code received or sent (0 if none). */
    void (*on_closed)(tomo_ws *ws, int code, void *ud);
} tomo_ws_callbacks;

typedef struct tomo_ws_config {
    size_t max_message_bytes;   /* larger messages close with 1009 */
    size_t max_queued_writes;   /* more writes pending in libuv = slow consumer */
    uint64_t close_wait_ms;     /* after sending close, wait this long for the peer */
} tomo_ws_config;

/* Take over tcp (a TCP or TLS stream, from tomo_http_upgrade; a socket of
 * wl's loop). cfg is copied; cb must outlive the connection. Nothing is read
 * until tomo_ws_start. */
tomo_ws *tomo_ws_new(tomo_ws_loop *wl, tomo_sock *tcp, const tomo_ws_config *cfg,
                     const tomo_ws_callbacks *cb, void *ud);
/* Start reading, first parsing leftover (bytes that arrived with the
 * handshake; may be NULL): call once the owner is ready for callbacks. */
void tomo_ws_start(tomo_ws *ws, const char *leftover, size_t leftover_len);

/* Queue a data frame. Takes a new reference on f (the caller keeps its own).
 * Returns 0; TOMO_EAGAIN when max_queued_writes writes are already pending
 * (the caller decides: usually a slow-consumer disconnect); TOMO_EIO when the
 * socket is closing. */
int tomo_ws_send(tomo_ws *ws, tomo_frame *f);
/* Send a ping control frame. */
void tomo_ws_ping(tomo_ws *ws);
/* Start the close handshake: send close(code, reason) after what is already
 * queued, stop reading, and close the socket once the peer answers or after
 * close_wait_ms. reason is truncated to 123 bytes. Idempotent. */
void tomo_ws_close(tomo_ws *ws, int code, const char *reason);
/* Close the socket now without a close frame (dead peer). Idempotent. */
void tomo_ws_abort(tomo_ws *ws);
/* 1 once tomo_ws_close/abort ran or the peer went away. */
int tomo_ws_closing(const tomo_ws *ws);
/* Drop the input parser's buffers (wslay's context, ~8 KB) while the
 * connection sits between messages; they are rebuilt when bytes arrive.
 * Call for connections idle for a while (the liveness scan does).
 * Returns 1 if buffers were freed. */
int tomo_ws_trim(tomo_ws *ws);
/* Writes pending in libuv (queue depth in messages). */
size_t tomo_ws_queued(const tomo_ws *ws);
/* Peer address "ip" (for logs; a thread-local buffer, valid until the
 * next call on this thread). */
const char *tomo_ws_peer(const tomo_ws *ws);

/* Byte totals of one loop's connections, for metrics (its loop thread). */
typedef struct tomo_ws_stats {
    uint64_t bytes_in, bytes_out;
} tomo_ws_stats;
void tomo_ws_loop_stats(const tomo_ws_loop *wl, tomo_ws_stats *out);

#endif
