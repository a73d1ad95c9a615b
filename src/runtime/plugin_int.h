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
    char *file; /* relative to runtime.path: "example.so" */
    char *name; /* declared name (or the file) */
    void *dl;
    int declared, refused, initializing;
    uint32_t major, minor;
    char err[512]; /* the first registration failure */
};

struct tomo_match_ctx;

struct tomo_ctx {
    tomo_runtime *rt;
    const tomo_runtime_call *call;   /* NULL in match calls */
    const struct tomo_match_ctx *mc; /* match calls only */
    const char *match_id;
    char exp[24], tick_rate[16];
};

/* Fill a ctx for one call (borrows both). */
void tomo_plugin_ctx_init(tomo_ctx *c, tomo_runtime *rt, const tomo_runtime_call *call);

/* plugin_svc.c: the json helpers and services of the host table. */
void tomo_plugin_host_fill_svc(tomo_host *h);
/* plugin_match.c: the match_* calls of the host table. */
void tomo_plugin_host_fill_match(tomo_host *h);

/* Set *error (when not NULL) to the formatted message (malloc'd, the
 * plugin frees it with host->free) and return code. */
int tomo_plugin_fail(char **error, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
