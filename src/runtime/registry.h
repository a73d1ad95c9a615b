/* runtime/registry.h: the runtime-neutral registry: what implements each
 * RPC id, each request/realtime hook and each match module, whichever kind
 * of code registered it (a Lua module or a C plugin). REST /v2/rpc, the
 * socket rpc envelope and the hook adapters reach both kinds through
 * tomo_runtime_rpc / _before / _after, which look up here and dispatch on
 * the kind.
 * Owns: the entries (keys, module names); never the plugin's fn/ud.
 * Threads: filled at start-up (plugins) or during a program's reference
 *          load (Lua, under the runtime's lock when published); read-only
 *          afterwards, so lookups need no lock of their own. */
#ifndef TOMO_RUNTIME_REGISTRY_H
#define TOMO_RUNTIME_REGISTRY_H

#include <stddef.h>

#include "../core/hmap.h"

enum { TOMO_IMPL_LUA = 0, TOMO_IMPL_PLUGIN };
enum { TOMO_REG_T_RPC = 0, TOMO_REG_T_HOOK, TOMO_REG_T_MATCH, TOMO_REG_T_COUNT };

typedef struct tomo_impl {
    char *key;    /* lower-cased id, hook key (tomo_runtime_hook_key), match module */
    int kind;     /* TOMO_IMPL_* */
    char *module; /* who registered it: "rpc.lua", "example.so" */
    /* plugins: the callback (tomo_rpc_fn / tomo_before_fn / tomo_after_fn,
     * or a copied tomo_match_fns) and its ud; plugin is the loader's record */
    void *fn, *ud;
    void *plugin;
} tomo_impl;

typedef struct tomo_registry {
    tomo_hmap t[TOMO_REG_T_COUNT];
} tomo_registry;

void tomo_registry_init(tomo_registry *r);
/* Free every entry (fn of a match entry is freed: it is a copy). */
void tomo_registry_free(tomo_registry *r);

/* Add key to table t for module (copied). A key held by another module
 * fails with TOMO_ECONFLICT and "<what> is registered twice: by <a> and <b>"
 * in err; the same module registering it again replaces the entry. fn is
 * taken (freed with the registry) for TOMO_REG_T_MATCH. */
int tomo_registry_add(tomo_registry *r, int t, const char *key, int kind, const char *module,
                      void *fn, void *ud, void *plugin, const char *what, char *err, size_t errlen);
/* The entry, or NULL. */
const tomo_impl *tomo_registry_get(const tomo_registry *r, int t, const char *key);
/* Entries in table t. */
size_t tomo_registry_count(const tomo_registry *r, int t);

/* Nakama's duplicate check across two registries (the plugins', a Lua
 * program's): 0, or TOMO_ECONFLICT with the message in err when key is held
 * in `other` by a module that is not `module`. */
int tomo_registry_check(const tomo_registry *other, int t, const char *key, const char *module,
                        const char *what, char *err, size_t errlen);

#endif
