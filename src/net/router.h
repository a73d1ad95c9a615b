/* net/router.h: HTTP route table with {param} path segments.
 * Owns: compiled route patterns.
 * Threads: built at start-up, then read-only (safe from any thread). */
#ifndef TOMO_NET_ROUTER_H
#define TOMO_NET_ROUTER_H

#include <stddef.h>

#define TOMO_ROUTE_MAX_PARAMS 8

typedef struct tomo_router tomo_router;

typedef struct tomo_route_match {
    int id;         /* the id given to tomo_router_add */
    size_t nparams;
    const char *names[TOMO_ROUTE_MAX_PARAMS]; /* borrowed from the router */
    char *values[TOMO_ROUTE_MAX_PARAMS];      /* heap; tomo_route_match_clear */
} tomo_route_match;

tomo_router *tomo_router_new(void);
/* method: TOMO_HTTP_* (net/http.h). pattern: "/v2/storage/{collection}". */
void tomo_router_add(tomo_router *r, int method, const char *pattern, int id);
/* 0 and *out filled; TOMO_ENOTFOUND when no pattern matches the path;
 * TOMO_EPERM when a pattern matches but not for this method. */
int tomo_router_match(const tomo_router *r, int method, const char *path, tomo_route_match *out);
/* Value of a named parameter, or NULL. */
const char *tomo_route_param(const tomo_route_match *m, const char *name);
void tomo_route_match_clear(tomo_route_match *m);
void tomo_router_free(tomo_router *r);

#endif
