/* net/router.c: linear scan over split patterns; the table is ~100 routes
 * and most are rejected on the first differing literal segment. */
#include "router.h"

#include "../core/common.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SEGS 12

typedef struct route {
    int method, id;
    size_t nsegs;
    char *segs[MAX_SEGS];
    int is_param[MAX_SEGS];
} route;

struct tomo_router {
    route *routes;
    size_t n;
};

tomo_router *tomo_router_new(void) { return tomo_xcalloc(1, sizeof(tomo_router)); }

void tomo_router_add(tomo_router *r, int method, const char *pattern, int id)
{
    r->routes = tomo_xrealloc(r->routes, (r->n + 1) * sizeof(route));
    route *rt = &r->routes[r->n++];
    memset(rt, 0, sizeof(*rt));
    rt->method = method;
    rt->id = id;
    const char *p = pattern;
    while (*p == '/')
        p++;
    while (*p && rt->nsegs < MAX_SEGS) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 2 && p[0] == '{' && p[n - 1] == '}') {
            rt->segs[rt->nsegs] = tomo_xstrndup(p + 1, n - 2);
            rt->is_param[rt->nsegs] = 1;
        } else {
            rt->segs[rt->nsegs] = tomo_xstrndup(p, n);
        }
        rt->nsegs++;
        p += n;
        while (*p == '/')
            p++;
    }
}

int tomo_router_match(const tomo_router *r, int method, const char *path, tomo_route_match *out)
{
    const char *segs[MAX_SEGS + 1];
    size_t lens[MAX_SEGS + 1];
    size_t nsegs = 0;
    const char *p = path;
    while (*p == '/')
        p++;
    while (*p) {
        if (nsegs > MAX_SEGS)
            return TOMO_ENOTFOUND;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        segs[nsegs] = p;
        lens[nsegs] = n;
        nsegs++;
        p += n;
        if (*p == '/') {
            p++;
            if (!*p) /* trailing slash: an empty last segment */
                break;
        }
    }
    int path_found = 0;
    for (size_t i = 0; i < r->n; i++) {
        const route *rt = &r->routes[i];
        if (rt->nsegs != nsegs)
            continue;
        size_t j = 0;
        for (; j < nsegs; j++) {
            if (rt->is_param[j]) {
                if (lens[j] == 0)
                    break;
                continue;
            }
            if (strlen(rt->segs[j]) != lens[j] || memcmp(rt->segs[j], segs[j], lens[j]))
                break;
        }
        if (j != nsegs)
            continue;
        path_found = 1;
        if (rt->method != method)
            continue;
        memset(out, 0, sizeof(*out));
        out->id = rt->id;
        for (j = 0; j < nsegs; j++)
            if (rt->is_param[j] && out->nparams < TOMO_ROUTE_MAX_PARAMS) {
                out->names[out->nparams] = rt->segs[j];
                out->values[out->nparams] = tomo_xstrndup(segs[j], lens[j]);
                out->nparams++;
            }
        return 0;
    }
    return path_found ? TOMO_EPERM : TOMO_ENOTFOUND;
}

const char *tomo_route_param(const tomo_route_match *m, const char *name)
{
    for (size_t i = 0; i < m->nparams; i++)
        if (!strcmp(m->names[i], name))
            return m->values[i];
    return NULL;
}

void tomo_route_match_clear(tomo_route_match *m)
{
    for (size_t i = 0; i < m->nparams; i++)
        free(m->values[i]);
    m->nparams = 0;
}

void tomo_router_free(tomo_router *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        for (size_t j = 0; j < r->routes[i].nsegs; j++)
            free(r->routes[i].segs[j]);
    free(r->routes);
    free(r);
}
