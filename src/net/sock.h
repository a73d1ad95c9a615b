/* net/sock.h: a byte stream (a connection) under HTTP and WebSocket: plain TCP or TLS
 * behind one table of operations, so protocol code never touches uv_tcp_t.
 * Owns: tomo_sock (the TCP handle is embedded first, so a libuv callback's
 *       uv_handle_t / uv_stream_t pointer is the tomo_sock pointer and its
 *       ->data is the user's), the TLS session of a TLS stream.
 * Borrows: the loop; a tomo_tls (net/tls.h) for TLS streams.
 * Threads: loop thread only.
 *
 * The calls mirror libuv's (same callback types), so code written for
 * uv_stream_t moves over call for call:
 *   uv_read_start -> tomo_sock_read_start, uv_write -> tomo_sock_write,
 *   uv_try_write -> tomo_sock_try_write, uv_shutdown -> tomo_sock_shutdown,
 *   uv_close -> tomo_sock_close (whose callback frees the stream with free()). */
#ifndef TOMO_NET_STREAM_H
#define TOMO_NET_STREAM_H

#include <stddef.h>
#include <uv.h>

typedef struct tomo_sock tomo_sock;
typedef struct tomo_tls tomo_tls;

typedef struct tomo_sock_type {
    const char *name; /* "tcp", "tls" */
    int (*read_start)(tomo_sock *s, uv_alloc_cb alloc, uv_read_cb cb);
    int (*read_stop)(tomo_sock *s);
    int (*write)(tomo_sock *s, uv_write_t *req, const uv_buf_t *bufs, unsigned n, uv_write_cb cb);
    int (*try_write)(tomo_sock *s, const uv_buf_t *bufs, unsigned n);
    int (*shutdown)(tomo_sock *s, uv_shutdown_t *req, uv_shutdown_cb cb);
    void (*close)(tomo_sock *s, uv_close_cb cb);
} tomo_sock_type;

struct tomo_sock {
    uv_tcp_t tcp; /* first: (uv_handle_t *)stream == &stream->tcp */
    const tomo_sock_type *type;
    void *tls;    /* struct tls_conn (net/tls.c) for TLS streams */
};

/* A new, not yet accepted stream on loop: TLS when tls is not NULL (the
 * handshake runs on the first reads). Heap; freed by the close callback. */
tomo_sock *tomo_sock_new(uv_loop_t *loop, tomo_tls *tls);
/* Accept a pending connection of listener into s: 0 or a libuv error. */
int tomo_sock_accept(uv_stream_t *listener, tomo_sock *s);
/* Bind and listen on host:port ("" = all interfaces; IPv6 literals work):
 * new connections call cb with the listener, whose data is `data`. *out is
 * the listener (heap: uv_close it, free() it in the close callback),
 * *bound_port the port bound (for port 0). 0, or TOMO_EIO with the reason in
 * err. */
int tomo_sock_listen(uv_loop_t *loop, const char *host, int port, uv_connection_cb cb, void *data,
                     uv_tcp_t **out, int *bound_port, char *err, size_t errlen);
/* The same; reuseport sets SO_REUSEPORT first (several loops listening on
 * one port, socket.loops). */
int tomo_sock_listen_ex(uv_loop_t *loop, const char *host, int port, int reuseport,
                        uv_connection_cb cb, void *data, uv_tcp_t **out, int *bound_port,
                        char *err, size_t errlen);
/* The peer's address as text into buf ("" if unknown). */
void tomo_sock_peer_ip(tomo_sock *s, char *buf, size_t len);
/* The peer's port (0 if unknown). */
int tomo_sock_peer_port(tomo_sock *s);
/* User pointer (the handle's data field). */
static inline void tomo_sock_set_data(tomo_sock *s, void *p) { s->tcp.data = p; }
static inline void *tomo_sock_data(const tomo_sock *s) { return s->tcp.data; }
/* 1 for a TLS stream. */
static inline int tomo_sock_is_tls(const tomo_sock *s) { return s->tls != NULL; }

static inline int tomo_sock_read_start(tomo_sock *s, uv_alloc_cb a, uv_read_cb cb)
{
    return s->type->read_start(s, a, cb);
}
static inline int tomo_sock_read_stop(tomo_sock *s) { return s->type->read_stop(s); }
/* As uv_write: bufs are not copied for TCP (keep them until cb); a TLS stream
 * encrypts them before returning. */
static inline int tomo_sock_write(tomo_sock *s, uv_write_t *req, const uv_buf_t *bufs,
                                    unsigned n, uv_write_cb cb)
{
    return s->type->write(s, req, bufs, n, cb);
}
/* As uv_try_write: bytes written now, or UV_EAGAIN (always, for TLS). */
static inline int tomo_sock_try_write(tomo_sock *s, const uv_buf_t *bufs, unsigned n)
{
    return s->type->try_write(s, bufs, n);
}
/* TLS sends close_notify first. */
static inline int tomo_sock_shutdown(tomo_sock *s, uv_shutdown_t *req, uv_shutdown_cb cb)
{
    return s->type->shutdown(s, req, cb);
}
/* cb(handle) runs after the stream's own state is released; it frees the
 * stream (free(handle)). Safe to call once; see tomo_sock_is_closing. */
static inline void tomo_sock_close(tomo_sock *s, uv_close_cb cb) { s->type->close(s, cb); }
static inline int tomo_sock_is_closing(const tomo_sock *s)
{
    return uv_is_closing((const uv_handle_t *)&s->tcp);
}

extern const tomo_sock_type tomo_sock_tcp;
extern const tomo_sock_type tomo_sock_tls;

#endif
