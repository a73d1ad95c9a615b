/* api/server.h: the running server's shared context.
 * Owns: tomo_server, the wiring between config, loop, worker pool, store,
 *       HTTP servers and the realtime layer.
 * Threads: created on the main thread; fields are read-only after start-up
 *          except where a field says otherwise. */
#ifndef TOMO_API_SERVER_H
#define TOMO_API_SERVER_H

#include <stdatomic.h>
#include <stdint.h>

#include "../core/config.h"
#include "../net/http.h"
#include "../net/loop.h"
#include "../net/router.h"
#include "../store/db.h"
#include "../svc/session.h"

typedef struct tomo_server tomo_server;

struct tomo_server {
    tomo_config *cfg;
    tomo_loop *loop;
    tomo_pool *pool;
    /* The read pool: TOMO_ROUTE_READ listings (api.h); database.read_workers
     * threads, by default one per core on SQLite, two per core on Postgres
     * (serve.c). */
    tomo_pool *rpool;
    tomo_db *db;
    tomo_router *router;        /* API routes (ids index tomo_api_route_table) */
    tomo_http_server *api_http; /* socket.port: REST + /ws */
    tomo_http_server *ws_http;  /* socket.ws_port: /ws only */
    tomo_http_server *metrics_http;
    int64_t start_time_ms;
    atomic_int schema_current;   /* set at start-up and by the readiness check (worker) */
    atomic_int shutting_down;    /* set on the loop thread; any thread may read it */
    struct tomo_rt *rt;          /* the loop's realtime context (rt/rt.h), loop thread only */
    tomo_svc svc;                /* the service layer's dependencies (serve.c fills it) */
    /* rate_limit.*: NULL when rate_limit.enabled is false (core/ratelimit.h;
     * any thread). Made by tomo_api_init, freed by tomo_api_free. */
    struct tomo_ratelimit *ratelimit;
    struct tomo_ipset *trusted_proxies;
    struct tomo_runtime *runtime; /* Lua runtime (runtime/runtime.h) or NULL */
    struct tomo_cluster *cluster; /* cluster bus (cluster/cluster.h); NULL: one node */
};

#endif
