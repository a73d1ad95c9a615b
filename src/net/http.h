/* net/http.h: HTTP/1.1 server on libuv with llhttp.
 * Owns: listening sockets, connections, request parsing, pipelined response
 *       ordering, limits (header size/count, body size) and timeouts (read,
 *       idle, write). Hands a connection over on a WebSocket upgrade.
 * Borrows: the loop (net/loop.h).
 * Threads: loop thread only. A handler may hand the request to a worker, but
 *          tomo_http_respond must be called back on the loop thread; the one
 *          exception is tomo_http_respond_worker for a request the loop lent
 *          with tomo_http_lend (below). */
#ifndef TOMO_NET_HTTP_H
#define TOMO_NET_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "loop.h"
#include "sock.h"

typedef struct tomo_http_server tomo_http_server;

typedef struct tomo_http_header {
    char *name; /* lower-cased */
    char *value;
} tomo_http_header;

enum { TOMO_HTTP_GET = 1, TOMO_HTTP_HEAD, TOMO_HTTP_POST, TOMO_HTTP_PUT, TOMO_HTTP_DELETE,
       TOMO_HTTP_OPTIONS, TOMO_HTTP_PATCH, TOMO_HTTP_OTHER };

typedef struct tomo_http_req {
    int method;
    const char *method_name;
    char *target;  /* raw request target */
    char *path;    /* path without query, still percent-encoded */
    char *query;   /* raw query string after '?', "" if none */
    tomo_http_header *headers;
    size_t nheaders;
    char *body;
    size_t body_len;
    int upgrade;   /* Upgrade header present (WebSocket) */
    char client_ip[64];
    int client_port; /* the peer's (0 if unknown) */
    uint64_t start_ns;
    void *user;    /* free for the handler's use */
    /* private */
    struct conn *_conn;
    struct tomo_http_req *_next;
    char *_resp;
    size_t _resp_len;
    int _done, _keep_alive, _close_after;
    int _direct_ok;     /* lent (tomo_http_lend) */
    uint64_t _sent_ns;  /* when its worker wrote the answer */
    size_t _header_bytes;
} tomo_http_req;

/* The client's address as Nakama reports it to the runtime: the first
 * X-Forwarded-For entry (split into ip and port when it has one), else the
 * peer's ip and port. "" when unknown. */
void tomo_http_client_addr(const tomo_http_req *req, char ip[64], char port[8]);

/* Called on the loop thread for each complete request. The handler must call
 * tomo_http_respond (now or later) or tomo_http_upgrade exactly once. */
typedef void (*tomo_http_handler)(tomo_http_req *req, void *ud);

typedef struct tomo_http_limits {
    size_t max_body_bytes, max_header_bytes, max_header_count;
    uint64_t read_timeout_ms, idle_timeout_ms, write_timeout_ms;
    size_t max_connections, max_pipeline;
} tomo_http_limits;

tomo_http_server *tomo_http_server_new(tomo_loop *loop, const tomo_http_limits *lim,
                                       tomo_http_handler h, void *ud, const char *name);
/* Serve TLS on this server's listeners (tls borrowed, outlives the server;
 * NULL: plain TCP). Call before listening. */
void tomo_http_server_set_tls(tomo_http_server *s, tomo_tls *tls);
/* Later listens set SO_REUSEPORT (several loops on one port). */
void tomo_http_server_set_reuseport(tomo_http_server *s, int on);
/* Bind and listen on host:port ("" = all interfaces). Can be called several
 * times for several ports. Returns 0 or TOMO_EIO with a message in err. */
int tomo_http_server_listen(tomo_http_server *s, const char *host, int port, char *err,
                            size_t errlen);
/* Port actually bound by the most recent listen (for port 0). */
int tomo_http_server_port(tomo_http_server *s);
/* Stop accepting; close idle keep-alive connections; busy ones close after
 * their last response. */
void tomo_http_server_shutdown(tomo_http_server *s);
/* Requests still being handled. */
size_t tomo_http_server_inflight(tomo_http_server *s);
size_t tomo_http_server_connections(tomo_http_server *s);
/* Close every connection now (end of grace period). */
void tomo_http_server_close_all(tomo_http_server *s);
void tomo_http_server_free(tomo_http_server *s);

/* Value of a header by lower-case name, or NULL. */
const char *tomo_http_header_get(const tomo_http_req *req, const char *lname);

/* Send the response. headers is a NULL-terminated list of complete header
 * lines without CRLF ("Content-Type: application/json"), may be NULL. body is
 * copied. Content-Length and Connection are added. After this call req is no
 * longer the handler's. */
void tomo_http_respond(tomo_http_req *req, int status, const char *const *headers,
                       const char *body, size_t len);
/* As above but extra_headers is a pre-built block ("A: b\r\nC: d\r\n"). */
void tomo_http_respond_raw(tomo_http_req *req, int status, const char *extra_headers,
                           const char *body, size_t len);

/* Answering from a worker without a second hand-off.
 *
 * A keep-alive HTTP/1.1 client that waits for each answer has one request
 * in flight, so the worker that ran it can write the (small) answer to the
 * socket itself and the loop need not be woken for it: the loop takes the
 * request back when it next hears from the connection (the client's next
 * request, the connection's timer tick, a close).
 *
 * tomo_http_lend (loop thread, before handing req to a worker): returns 1
 * when req may be answered with tomo_http_respond_worker: plain TCP (not
 * TLS), keep-alive, not HEAD or an upgrade, the pipeline's only request,
 * nothing queued for writing. From then until the request is back, the loop
 * writes nothing to that socket. If the handler answers on the loop after
 * all (a full queue), tomo_http_respond* ends the loan.
 *
 * tomo_http_respond_worker (the worker holding req): builds the answer and,
 * under the connection's lock, sends it with one non-blocking send(). The
 * loop takes the permission back under the same lock (a pipelined request
 * behind it, the client's EOF, an error answer, shutdown, close): the lock
 * is held across the send, so the loop never closes the fd under the
 * worker, and a worker that finds the permission gone returns 0 and the
 * caller answers on the loop as usual (tomo_http_respond*; a closed
 * connection drops it there). What one send() could not write is posted to
 * the loop, which writes the rest in order. Returns 1 when the HTTP layer
 * took the answer: req is no longer the caller's, who must not touch it
 * (the loop may free it at once). 0 for a request that was not lent. The
 * conn stays allocated while its lent request is out: conn_close keeps that
 * request counted until it comes back. */
int tomo_http_lend(tomo_http_req *req);
int tomo_http_respond_worker(tomo_http_req *req, int status, const char *extra_headers,
                             const char *body, size_t len);

/* Take the TCP connection out of HTTP for a WebSocket: writes response_head
 * (the 101 response) and gives the socket to the caller, who owns it from now
 * on (uv_read_start with its own callbacks, uv_close when done; the handle was
 * allocated with malloc and must be freed in the close callback). Bytes that
 * arrived after the request are returned in *leftover (heap, may be NULL).
 * Fails with TOMO_EINVAL if earlier pipelined requests are still pending; the
 * request is then answered 400. */
int tomo_http_upgrade(tomo_http_req *req, const char *response_head, tomo_sock **tcp_out,
                      char **leftover, size_t *leftover_len);

/* Reason phrase for a status code. */
const char *tomo_http_reason(int status);

#endif
