/* runtime/runtime_int.h: state shared by the runtime's files (private).
 * Owns: struct tomo_runtime, the program (one load of the module sources
 *       with the registrations it made) and the per-state record.
 * Threads: fields under tomo_runtime.mu unless marked. */
#ifndef TOMO_RUNTIME_RUNTIME_INT_H
#define TOMO_RUNTIME_RUNTIME_INT_H

#include <pthread.h>

#include "../core/metrics.h"
#include "nk.h"
#include "registry.h"

#define TOMO_RUNTIME_LOG "runtime"

typedef struct module_src {
    char *name;      /* "lib.util" */
    char *chunkname; /* "@lib/util.lua" */
    char *src;
    size_t len;
} module_src;

/* One version of the modules and what its first load registered. Shared by
 * the states built from it (refs under rt->mu); read-only once published. */
typedef struct prog {
    module_src *mods;
    size_t nmods;
    tomo_registry reg; /* what its modules registered (TOMO_IMPL_LUA) */
    int cbs[TOMO_CB_COUNT];
    int refs;
} prog;

/* One Lua state. Its allocator's ud, so any lua_State of it finds it. */
typedef struct lstate {
    lua_State *L;
    tomo_runtime *rt;
    prog *prog;
    size_t mem, mem_limit; /* bytes */
    int mem_over;          /* an allocation was refused */
    int64_t budget;        /* instructions left in this call */
    int over;              /* the budget ran out in this call */
    int tainted;           /* do not reuse (budget or memory exhausted) */
    int record;            /* reference load: registrations go to prog too */
    const tomo_runtime_call *call;
    struct lstate *next;
} lstate;

struct tomo_runtime {
    tomo_runtime_deps deps;
    char *path; /* runtime.path, default <data_dir>/modules */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    prog *cur;
    lstate *idle;
    int total, min, max;
    int64_t max_instructions;
    size_t max_memory;
    /* development reload */
    pthread_t watcher;
    int watching, stop;
    pthread_cond_t wcv;
    char *sig, *bad_sig;
    /* process-wide */
    int run_once_done;
    pthread_mutex_t cache_mu;
    json_t *cache; /* localcache: key -> value */
    tomo_metric *m_calls, *m_latency;
    /* C plugins (runtime/plugin.c): loaded once at start-up, never
     * reloaded; read-only afterwards */
    tomo_registry plugin_reg;
    struct tomo_plugin **plugins;
    size_t nplugins;
};

static inline lstate *tomo_lstate_of(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

/* Registry keys of the per-state registration tables. */
#define TOMO_REG_RPC "tomo.rpc"
#define TOMO_REG_HOOK "tomo.hook"
#define TOMO_REG_CB "tomo.cb"

/* nk_register.c: the key of a hook ("0:authenticatedevice"), lower-cased,
 * with realtime names taken without '_' so "ChannelJoin" matches
 * "channel_join". Returns the length written (0 if too long). */
size_t tomo_runtime_hook_key(int kind, const char *name, char *out, size_t outlen);
/* How errors name a hook: "before hook \"AuthenticateDevice\"". */
void tomo_runtime_hook_what(int kind, const char *name, char *out, size_t outlen);

/* The entries of dir not starting with '.', sorted (malloc'd strings in a
 * malloc'd array). TOMO_EIO (errno set) when dir cannot be read. */
int tomo_runtime_dir_names(const char *dir, char ***out, size_t *n);

/* ---- C plugins (runtime/plugin.c) ---- */

/* dlopen every *.so under rt->path (sorted), check its ABI, run its init;
 * registrations go to rt->plugin_reg. A plugin that cannot load fails
 * start-up with the reason in err. */
int tomo_plugins_load(tomo_runtime *rt, char *err, size_t errlen);
/* Forget the plugins (they stay mapped: no dlclose). */
void tomo_plugins_free(tomo_runtime *rt);
/* Calls into a plugin's registered function (e from rt->plugin_reg), with
 * the contracts of tomo_runtime_rpc / _before / _after. Worker threads. */
int tomo_plugin_rpc(tomo_runtime *rt, const tomo_impl *e, const tomo_runtime_call *call,
                    const char *payload, size_t len, char **out, size_t *out_len, tomo_err *err);
int tomo_plugin_before(tomo_runtime *rt, const tomo_impl *e, const tomo_runtime_call *call,
                       json_t *in, json_t **out, tomo_err *err);
void tomo_plugin_after(tomo_runtime *rt, const tomo_impl *e, const tomo_runtime_call *call,
                       json_t *out, json_t *in);
struct tomo_match_handler;
/* A fresh instance of the match handler a plugin registered for module
 * (register_match) behind rt's seam (rt/match_handler.h); release frees
 * it. 0 or TOMO_ENOTFOUND (runtime/plugin_match.c). */
int tomo_plugin_match_lookup(tomo_runtime *rt, const char *module, struct tomo_match_handler *out);

/* runtime.c, for match states (runtime/match_lua.c): a fresh sandboxed
 * state of the current modules that has run none of them (TOMO_ENOTFOUND
 * when no module has that name); its release; the message handler every
 * pcall uses; an error at the top of the stack turned into *err (Nakama's
 * mapping, logged). */
int tomo_runtime_match_state(tomo_runtime *rt, const char *module, lstate **out, char *err,
                             size_t errlen);
void tomo_runtime_match_state_free(lstate *ls);
int tomo_runtime_msgh(lua_State *L);
void tomo_runtime_failure(lstate *ls, int r, const char *src, const char *what, tomo_err *err);

/* match_lua.c: the runtime's match-handler registry (rt/match_handler.h). */
struct tomo_rt;
void tomo_runtime_match_install(tomo_runtime *rt, struct tomo_rt *rtx);

#endif
