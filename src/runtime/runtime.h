/* runtime/runtime.h: the server runtime: Lua modules (Nakama's `nakama`
 * module API) and C plugins (include/tomo/plugin.h, runtime/plugin.c), one
 * registry of what implements each RPC id and hook (runtime/registry.h):
 * the calls below dispatch to either kind the same way.
 * Owns: tomo_runtime: the loaded plugins, the module sources, a pool of Lua states
 *       (runtime.lua_min_count .. lua_max_count, each with every module
 *       loaded once), the registrations the modules made (RPCs, request and
 *       realtime hooks, singleton callbacks), the per-state memory bound and
 *       the per-call instruction budget, development reload
 *       (runtime.reload), the api_rpc_* metrics.
 * Borrows: the config, the service layer (svc/svc.h), and the realtime
 *       context and its loop (for nk functions that reach live sockets).
 * Threads: tomo_runtime_new/free on the main thread. Every call into Lua
 *       (tomo_runtime_rpc, tomo_runtime_before, tomo_runtime_after,
 *       tomo_runtime_callback) blocks: run it on a worker thread (never a
 *       loop thread). The tomo_runtime_has_* lookups take no Lua state and
 *       may run on any thread.
 *
 * Module states run with LuaJIT's JIT compiler off: Debian's LuaJIT does not
 * fire debug hooks inside compiled loops, and the hook is what stops a
 * runaway script (runtime.lua_max_instructions).
 *
 * Adding nk functions (other areas: social graph, leaderboards, matches):
 * write src/runtime/nk_<domain>.c with one open function
 *     void tomo_nk_<domain>_open(lua_State *L, int nk);
 * that registers its functions into the nk table at stack index `nk` with
 * tomo_nk_register (runtime/nk.h), and add the open function to the list in
 * runtime/nk_domains.c. Names still listed in nk_domains.c's unimplemented
 * table raise "<name> is not implemented in tomo yet" until a domain
 * registers them (domain open functions run after that table). A domain's
 * nk functions reach svc through tomo_nk_svc(L) and run on the worker that
 * borrowed the state, so they may block on the database. */
#ifndef TOMO_RUNTIME_RUNTIME_H
#define TOMO_RUNTIME_RUNTIME_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "../net/loop.h"
#include "../rt/rt.h"
#include "../svc/svc.h"

typedef struct tomo_runtime tomo_runtime;

/* Execution modes reported as ctx.execution_mode. */
enum {
    TOMO_RUNTIME_MODE_RUN_ONCE = 0,
    TOMO_RUNTIME_MODE_RPC,
    TOMO_RUNTIME_MODE_BEFORE,
    TOMO_RUNTIME_MODE_AFTER,
    TOMO_RUNTIME_MODE_MATCHMAKER,
    TOMO_RUNTIME_MODE_MATCH,
    TOMO_RUNTIME_MODE_TOURNAMENT_END,
    TOMO_RUNTIME_MODE_TOURNAMENT_RESET,
    TOMO_RUNTIME_MODE_LEADERBOARD_RESET,
    TOMO_RUNTIME_MODE_SHUTDOWN,
};

/* ctx.execution_mode's name of a TOMO_RUNTIME_MODE_* ("rpc"). */
const char *tomo_runtime_mode_name(int mode);

/* Hook kinds. Request hooks are keyed by the gRPC method name
 * ("AuthenticateDevice"), realtime hooks by the envelope field name in
 * CamelCase or snake_case ("ChannelJoin" / "channel_join"); both case-blind. */
enum { TOMO_HOOK_REQ_BEFORE = 0, TOMO_HOOK_REQ_AFTER, TOMO_HOOK_RT_BEFORE, TOMO_HOOK_RT_AFTER };

/* Singleton callbacks (registered by register_matchmaker_matched, ...). */
enum {
    TOMO_CB_MATCHMAKER_MATCHED = 0,
    TOMO_CB_TOURNAMENT_END,
    TOMO_CB_TOURNAMENT_RESET,
    TOMO_CB_LEADERBOARD_RESET,
    TOMO_CB_SHUTDOWN,
    TOMO_CB_COUNT
};

typedef struct tomo_runtime_deps {
    const tomo_config *cfg;
    tomo_svc *svc;    /* NULL (unit tests): data nk functions raise */
    /* The realtime context and the loop that owns it (rt/rt.h: loop thread
     * only, so nk functions post to loop). NULL (unit tests): the nk
     * functions that reach live sockets raise. */
    tomo_rt *rt;
    tomo_loop *loop;
} tomo_runtime_deps;

struct tomo_http_header;

/* Who is calling and how: becomes the ctx table. Every field is borrowed and
 * optional (NULL / 0 = absent from ctx). */
typedef struct tomo_runtime_call {
    int mode;                 /* TOMO_RUNTIME_MODE_* */
    const char *user_id, *username;
    json_t *vars;             /* object str -> str */
    int64_t session_exp;      /* unix seconds */
    const char *session_id, *lang;
    const char *client_ip, *client_port;
    /* HTTP calls: the request's headers as read (lower-cased names); ctx.headers
     * canonicalises them (Content-Type), groups repeats and leaves out
     * Grpc-Timeout, straight from this array with no copy per call. */
    const struct tomo_http_header *http_headers;
    size_t nhttp_headers;
    json_t *query;            /* object: name -> array of strings */
    const char *query_skip;   /* a query key ctx.query_params leaves out (http_key) */
} tomo_runtime_call;

/* Scan cfg->runtime.path for *.lua, compile and run them in the first state,
 * then fill the pool up to lua_min_count. With no path or no modules the
 * runtime is empty but valid (every RPC is "not found"). A module that fails
 * to compile or run fails start-up: returns TOMO_EINVAL with "file:line:
 * message" in err. */
int tomo_runtime_new(const tomo_runtime_deps *deps, tomo_runtime **out, char *err, size_t errlen);
/* Close every state (calls must have finished). NULL is a no-op. */
void tomo_runtime_free(tomo_runtime *rt);

/* Number of modules loaded and of RPCs registered (for the start-up log). */
size_t tomo_runtime_module_count(const tomo_runtime *rt);
size_t tomo_runtime_rpc_count(const tomo_runtime *rt);
/* The module directory in use (runtime.path or <data_dir>/modules). */
const char *tomo_runtime_path(const tomo_runtime *rt);

/* What is loaded (the console's RuntimeInfo): {lua_rpc_functions (ids),
 * lua_modules [{path (relative to the module directory), mod_time}], and
 * empty go_/js_ lists}. New reference; any thread. */
json_t *tomo_runtime_info(tomo_runtime *rt);

/* 1 if an RPC with that id (case-blind) is registered. */
int tomo_runtime_has_rpc(tomo_runtime *rt, const char *id);
/* Run an RPC: payload in (may be binary), *out (malloc'd, may be NULL for
 * an empty payload) and *out_len on success. On failure returns a negative
 * TOMO_E* and fills *err: code 5 "RPC function not found" for an unknown
 * id, the code the script raised, 13 for a runtime error (logged), 13
 * "Runtime function returned invalid data..." for a non-string result. */
int tomo_runtime_rpc(tomo_runtime *rt, const tomo_runtime_call *call, const char *id,
                     const char *payload, size_t len, char **out, size_t *out_len, tomo_err *err);

/* 1 if a hook of that kind is registered for name. */
int tomo_runtime_has_hook(tomo_runtime *rt, int kind, const char *name);
/* Run a before hook (REQ_BEFORE or RT_BEFORE) on `in` (borrowed, protojson
 * shape). Returns 0 with *out the replacement (new reference), or 0 with
 * *out NULL when the hook returned nil (the caller rejects the request), or
 * a negative value with *err filled (the hook raised). */
int tomo_runtime_before(tomo_runtime *rt, int kind, const char *name, const tomo_runtime_call *call,
                        json_t *in, json_t **out, tomo_err *err);
/* Run an after hook (REQ_AFTER or RT_AFTER): fn(ctx, out, in); either may
 * be NULL (passed as {}). Errors are logged only. */
void tomo_runtime_after(tomo_runtime *rt, int kind, const char *name, const tomo_runtime_call *call,
                        json_t *out, json_t *in);

/* Singleton callbacks, for the areas that own the events (matchmaker,
 * leaderboards and tournaments, shutdown). */
int tomo_runtime_has_callback(tomo_runtime *rt, int which);
/* Call the callback with ctx then the elements of args (a JSON array,
 * borrowed, converted to Lua values; NULL = none). *ret (may be NULL) gets
 * the last value returned, as JSON (NULL for nil). Returns 0, TOMO_ENOTFOUND
 * when nothing is registered, or a negative value with *err filled. */
int tomo_runtime_callback(tomo_runtime *rt, int which, const tomo_runtime_call *call, json_t *args,
                          json_t **ret, tomo_err *err);

#endif
