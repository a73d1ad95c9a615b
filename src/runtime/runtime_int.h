/* runtime/runtime_int.h: state shared by the runtime's files (private).
 * Owns: struct tomo_runtime, the program (one load of the module sources
 *       with the registrations it made) and the per-state record.
 * Threads: fields under tomo_runtime.mu unless marked. */
#ifndef TOMO_RUNTIME_RUNTIME_INT_H
#define TOMO_RUNTIME_RUNTIME_INT_H

#include <pthread.h>

#include "../core/metrics.h"
#include "nk.h"

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
    json_t *rpcs;  /* lower(id) -> true */
    json_t *hooks; /* "<kind>:<lower name>" -> true */
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
