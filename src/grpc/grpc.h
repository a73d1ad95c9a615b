/* grpc/grpc.h: the gRPC API (service nakama.api.Nakama) on grpc.port (7348).
 * Owns: the HTTP/2 listener and connections (nghttp2 over net/sock.h, TCP or
 *       TLS), gRPC framing (5-byte length prefix; identity encoding only),
 *       per-call deadlines (grpc-timeout), message size bounds
 *       (socket.max_request_size_bytes), the per-method metrics, and the
 *       method table built from the API route table (api/routes.c).
 * Borrows: the server (tomo_server) and its loop, pool and router; the TLS
 *          context (may be NULL).
 * Threads: loop thread, except each call's work, which runs on a worker (or
 *          on the loop for TOMO_ROUTE_LOOP routes), exactly as the REST
 *          route does.
 *
 * A call is a thin adapter: protobuf request -> canonical JSON (codec) ->
 * the same handler (and svc call) as the REST route, with the request's
 * fields split as gRPC-gateway does (path parameters, the body binding,
 * the rest as query parameters) -> the handler's JSON -> protobuf of the
 * method's response message. Errors carry the handler's gRPC code and
 * message as grpc-status / grpc-message. */
#ifndef TOMO_GRPC_GRPC_H
#define TOMO_GRPC_GRPC_H

#include <stddef.h>

#include "../api/server.h"

typedef struct tomo_grpc tomo_grpc;
struct tomo_tls;

/* A server for srv on srv->loop; tls (borrowed, may be NULL) serves TLS
 * with ALPN h2. Registers the grpc_* metrics. */
tomo_grpc *tomo_grpc_new(tomo_server *srv, struct tomo_tls *tls);
/* Bind and listen on host:port. 0 or TOMO_EIO with a reason in err. */
int tomo_grpc_listen(tomo_grpc *g, const char *host, int port, char *err, size_t errlen);
int tomo_grpc_port(const tomo_grpc *g);
/* Stop accepting; open connections get GOAWAY and finish their calls. */
void tomo_grpc_shutdown(tomo_grpc *g);
/* Calls still being handled. */
size_t tomo_grpc_inflight(const tomo_grpc *g);
/* Close every connection now. */
void tomo_grpc_close_all(tomo_grpc *g);
/* After the loop stopped (handles closed). NULL is fine. */
void tomo_grpc_free(tomo_grpc *g);

/* For tests: parse a grpc-timeout value ("100m", "5S", "1H") into
 * nanoseconds. 0 or TOMO_EINVAL. */
int tomo_grpc_parse_timeout(const char *v, unsigned long long *ns);

#endif
