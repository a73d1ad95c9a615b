/* bench/http_client.h: HTTP/1.1 keep-alive client connection for tomo-bench.
 * Owns: lg_http, one TCP connection with at most one outstanding request,
 *       its llhttp response parser and the response body buffer.
 * Borrows: the worker's loop and shared read buffer (lg.h).
 * Threads: the owning worker's loop thread only. */
#ifndef LG_HTTP_CLIENT_H
#define LG_HTTP_CLIENT_H

#include <llhttp.h>

#include "lg.h"

typedef struct lg_http lg_http;

/* Called once per request. status is the HTTP status, or -1 when the
 * connection failed or closed before a complete response; body is borrowed
 * (valid during the call). The callback may issue the next request. */
typedef void (*lg_http_cb)(lg_http *c, int status, const char *body, size_t n, void *arg);

struct lg_http {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    llhttp_t parser;
    lg_worker *w;
    int state;       /* see http_client.c */
    bool want_close; /* server said Connection: close */
    bool closing_for_good;
    int status;
    lg_buf req; /* request bytes while in flight */
    lg_buf body;
    lg_http_cb cb;
    void *arg;
    uint64_t t_sent; /* lg_now_ns() when the request was issued */
    void (*on_closed)(lg_http *c);
    void *user;
};

/* Prepares c (no I/O yet); it connects lazily on the first request. */
void lg_http_init(lg_http *c, lg_worker *w);

/* Sends a request; `headers` is "" or complete header lines ("K: v\r\n...").
 * The body may be NULL. Returns 0, or -1 if a request is already in flight or
 * the connection is being shut down. */
int lg_http_request(lg_http *c, const char *method, const char *path, const char *headers,
                    const char *body, size_t n, lg_http_cb cb, void *arg);

/* Closes the connection for good; on_closed (may be NULL) runs from the libuv
 * close callback, after which c may be freed. A request in flight gets its
 * callback with status -1 first. */
void lg_http_close(lg_http *c, void (*on_closed)(lg_http *c));

#endif
