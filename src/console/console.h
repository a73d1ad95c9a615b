/* console/console.h: the operator console on console.port (7351): Nakama's
 * console API (/v2/console/...) and the web UI that drives it.
 * Owns: tomo_console (its router, the console token key, the login limiter
 *       and the logged-out token list), the console routes.
 * Borrows: everything in tomo_console_deps (serve.c owns them).
 * Threads: tomo_console_new/free on the main thread; the HTTP handler runs on
 *          the loop thread; route handlers run on a worker (database work)
 *          or on the loop (realtime counts), as each route says. */
#ifndef TOMO_CONSOLE_CONSOLE_H
#define TOMO_CONSOLE_CONSOLE_H

#include <stdint.h>

#include "../core/config.h"
#include "../net/http.h"
#include "../net/loop.h"
#include "../store/db.h"
#include "../svc/svc.h"

struct tomo_rt;
struct tomo_runtime;
struct tomo_ipset;
struct tomo_server;

typedef struct tomo_console tomo_console;

typedef struct tomo_console_deps {
    const tomo_config *cfg;
    tomo_loop *loop;
    tomo_pool *pool;
    tomo_db *db;
    tomo_svc *svc;
    struct tomo_rt *rt;           /* realtime counts and match listing (loop thread) */
    struct tomo_runtime *runtime; /* RPC listing and the API explorer; may be NULL */
    const struct tomo_ipset *trusted_proxies; /* X-Forwarded-For (rate_limit.*), may be NULL */
    int64_t start_time_ms;
    struct tomo_server *api; /* the API's routes, for the API explorer; may be NULL */
} tomo_console_deps;

tomo_console *tomo_console_new(const tomo_console_deps *deps);
void tomo_console_free(tomo_console *c);
/* HTTP entry point of the console port (loop thread); ud is the console. */
void tomo_console_handle_http(tomo_http_req *req, void *ud);

#endif
