/* runtime/registry.c: the registry of RPCs, hooks and match modules. */
#define _GNU_SOURCE
#include "registry.h"

#include "../core/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tomo_registry_init(tomo_registry *r)
{
    for (int i = 0; i < TOMO_REG_T_COUNT; i++)
        tomo_hmap_init(&r->t[i]);
}

static void impl_free(int t, tomo_impl *e)
{
    if (!e)
        return;
    if (t == TOMO_REG_T_MATCH)
        free(e->fn);
    free(e->key);
    free(e->module);
    free(e);
}

void tomo_registry_free(tomo_registry *r)
{
    for (int t = 0; t < TOMO_REG_T_COUNT; t++) {
        const char *k;
        void *v;
        for (size_t i = 0; (i = tomo_hmap_next(&r->t[t], i, &k, &v)) != 0;)
            impl_free(t, v);
        tomo_hmap_free(&r->t[t]);
    }
}

int tomo_registry_check(const tomo_registry *other, int t, const char *key, const char *module,
                        const char *what, char *err, size_t errlen)
{
    const tomo_impl *e = tomo_registry_get(other, t, key);
    if (!e || !strcmp(e->module, module))
        return 0;
    snprintf(err, errlen, "%s is registered twice: by %s and %s", what, e->module, module);
    return TOMO_ECONFLICT;
}

int tomo_registry_add(tomo_registry *r, int t, const char *key, int kind, const char *module,
                      void *fn, void *ud, void *plugin, const char *what, char *err, size_t errlen)
{
    int rc = tomo_registry_check(r, t, key, module, what, err, errlen);
    if (rc < 0) {
        if (t == TOMO_REG_T_MATCH)
            free(fn);
        return rc;
    }
    tomo_impl *e = tomo_xcalloc(1, sizeof(*e));
    e->key = tomo_xstrdup(key);
    e->kind = kind;
    e->module = tomo_xstrdup(module);
    e->fn = fn;
    e->ud = ud;
    e->plugin = plugin;
    impl_free(t, tomo_hmap_put(&r->t[t], e->key, e));
    return 0;
}

const tomo_impl *tomo_registry_get(const tomo_registry *r, int t, const char *key)
{
    return tomo_hmap_get(&r->t[t], key);
}

size_t tomo_registry_count(const tomo_registry *r, int t) { return r->t[t].count; }
