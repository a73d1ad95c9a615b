/* runtime/plugin_int.h: what the plugin host's files share (private).
 * Owns: struct tomo_plugin (one loaded .so) and struct tomo_ctx (one
 *       call's context as a plugin sees it).
 * Threads: tomo_plugin records are written during start-up only. */
#ifndef TOMO_RUNTIME_PLUGIN_INT_H
#define TOMO_RUNTIME_PLUGIN_INT_H

#include "../../include/tomo/plugin.h"
#include "runtime_int.h"

struct tomo_plugin {
    tomo_runtime *rt;
    char *file;  /* relative to runtime.path: "example.so" */
    char *name;  /* declared name (or the file) */
    void *dl;
    int declared, refused, initializing;
    uint32_t major, minor;
    char err[512]; /* the first registration failure */
};

struct tomo_ctx {
    tomo_runtime *rt;
    const tomo_runtime_call *call; /* may be NULL (match calls) */
    const char *match_id;
    char exp[24];
};

/* Fill a ctx for one call (borrows both). */
void tomo_plugin_ctx_init(tomo_ctx *c, tomo_runtime *rt, const tomo_runtime_call *call);

/* plugin_svc.c: the json helpers and services of the host table. */
void tomo_plugin_host_fill_svc(tomo_host *h);
/* plugin_match.c: the match_* calls of the host table. */
void tomo_plugin_host_fill_match(tomo_host *h);

struct tomo_match_handler;
/* The match handler a plugin registered for module (register_match), as
 * rt's seam (rt/match_handler.h); release frees it. 0 or TOMO_ENOTFOUND. */
int tomo_plugin_match_lookup(tomo_runtime *rt, const char *module, struct tomo_match_handler *out);

/* A host->alloc'd copy of s (NULL stays NULL). */
char *tomo_plugin_strdup(const char *s);

#endif
