/* tests/fuzz/fuzz_net.h: a real tomo HTTP server (net/http.c, net/router.c,
 * net/ws.c) on a loopback port, driven from the fuzzer's own thread: each
 * input is written on a fresh TCP connection that is then half-closed, and
 * the loop runs until the server has answered and closed it.
 * Threads: the fuzzer's thread only (it runs the libuv loop itself). */
#ifndef TOMO_FUZZ_NET_H
#define TOMO_FUZZ_NET_H

#include <stddef.h>
#include <stdint.h>

/* Start the server once (idempotent). */
void fuzz_net_init(void);
/* Send prefix then data on a new connection, half-close, read everything the
 * server answers until it closes (bounded by 2 s), and let the server free
 * the connection. */
void fuzz_net_exchange(const char *prefix, size_t plen, const uint8_t *data, size_t len);

#endif
