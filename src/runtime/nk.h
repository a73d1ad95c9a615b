/* runtime/nk.h: what an nk_<domain>.c file needs (see runtime/runtime.h for
 * the pattern): registration into the nk table, argument helpers with
 * Nakama's rules, Lua <-> JSON conversion (NAKAMA_RUNTIME rules: a table with
 * a sequence part is an array, anything else an object, integral numbers as
 * integers), raising errors, and the dependencies of the calling state.
 * Threads: the worker that borrowed the state. */
#ifndef TOMO_RUNTIME_NK_H
#define TOMO_RUNTIME_NK_H

#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>

#include "runtime.h"

/* Register fns (NULL-terminated) into the table at stack index nk. */
void tomo_nk_register(lua_State *L, int nk, const luaL_Reg *fns);

/* Domain open functions (runtime/nk_domains.c lists them). */
void tomo_nk_register_open(lua_State *L, int nk); /* register_*, run_once, get_context */
void tomo_nk_util_open(lua_State *L, int nk);     /* json, base64, hashes, uuid, time, logger */
void tomo_nk_http_open(lua_State *L, int nk);     /* http_request */
void tomo_nk_sql_open(lua_State *L, int nk);      /* sql_exec, sql_query */
void tomo_nk_stream_open(lua_State *L, int nk);   /* stream_*, session_disconnect */
void tomo_nk_notify_open(lua_State *L, int nk);   /* notification(s)_send */
void tomo_nk_chat_open(lua_State *L, int nk);     /* channel_id_build */
void tomo_nk_storage_open(lua_State *L, int nk);  /* storage_read/write/delete/list */
void tomo_nk_wallet_open(lua_State *L, int nk);   /* wallet(s)_update, wallet_ledger_list */
void tomo_nk_account_open(lua_State *L, int nk);  /* account(s)_*_id, users_get_*, users_(un)ban_id */
void tomo_nk_match_open(lua_State *L, int nk);
void tomo_nk_auth_open(lua_State *L, int nk);     /* authenticate_*, link_*, unlink_* */    /* match_create/get/list/signal */
/* The domain open functions in order, then the names not implemented. */
void tomo_nk_open_all(lua_State *L, int nk);

/* Dependencies of the state L runs on (any may be NULL in unit tests). */
const tomo_config *tomo_nk_cfg(lua_State *L);
tomo_svc *tomo_nk_svc(lua_State *L);
/* The realtime context (loop thread only: post to tomo_nk_loop) and its
 * loop; NULL when the runtime has no realtime layer (unit tests). */
tomo_rt *tomo_nk_rt(lua_State *L);
tomo_loop *tomo_nk_loop(lua_State *L);
tomo_runtime *tomo_nk_runtime(lua_State *L);
/* The call the state is serving (NULL during module load). */
const tomo_runtime_call *tomo_nk_call(lua_State *L);
/* Push the ctx table of a call (or of a run_once/system call for NULL). */
void tomo_nk_push_context(lua_State *L, const tomo_runtime_call *call);

/* Run fn(arg) on the server's loop thread (realtime state) and wait, at
 * most 5 s. Returns 1 when it ran; 0 when it did not in time: it still runs
 * later and then release(arg) (may be NULL) is called, so the caller must
 * not touch arg again. The loop must exist (tomo_nk_loop). */
int tomo_nk_loop_wait(lua_State *L, tomo_fn fn, void *arg, void (*release)(void *arg));
/* The same from any worker or match thread, on the given loop. */
int tomo_runtime_loop_wait(tomo_loop *loop, tomo_fn fn, void *arg, void (*release)(void *arg));

/* Raise "<msg>" (never returns). */
int tomo_nk_error(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Raise err's message as Nakama does for a backend failure:
 * "<prefix>: <message>" (prefix may be NULL). */
int tomo_nk_raise_err(lua_State *L, const char *prefix, const tomo_err *err);

/* Arguments. A required string coerces numbers and rejects "" when
 * nonempty is set; an optional string (nil/none -> def) rejects numbers. */
const char *tomo_nk_checkstr(lua_State *L, int i, int nonempty, size_t *len);
const char *tomo_nk_optstr(lua_State *L, int i, const char *def, size_t *len);
int tomo_nk_optbool(lua_State *L, int i, int def);
lua_Integer tomo_nk_optint(lua_State *L, int i, lua_Integer def);
/* A UUID string argument (lower-cased into out[37]); raises when invalid.
 * Optional variant: nil/none or "" leaves out = "" and returns 0. */
void tomo_nk_checkuuid(lua_State *L, int i, char out[37]);
int tomo_nk_optuuid(lua_State *L, int i, char out[37]);

/* Lua value at index i -> JSON (new reference; nil -> json null). Raises on
 * NaN/inf or nesting deeper than 64. */
json_t *tomo_nk_to_json(lua_State *L, int i);
/* Push a JSON value as Lua (NULL or null -> nil). */
void tomo_nk_push_json(lua_State *L, const json_t *v);
/* json_dumps with Nakama's escaping of < > & (malloc'd). */
char *tomo_nk_json_dump(const json_t *v);

/* ---- helpers of the svc-backed domains (runtime/nk_svc.c) ---- */

/* The service layer with a database, or raise "<fn>: the database is not
 * available". */
tomo_svc *tomo_nk_need_svc(lua_State *L, const char *fn);
/* A connection from svc's pool (release it before anything can raise), or
 * raise "<fn>: database unavailable". */
tomo_dbconn *tomo_nk_acquire(lua_State *L, tomo_svc *svc, const char *fn);
/* Push j (stolen) as a Lua value. */
void tomo_nk_push_take(lua_State *L, json_t *j);
/* The strings of the array table at i (nil/none: NULL, *n = 0) in a
 * userdata pushed on the stack top (the table stays at i, so the strings
 * stay alive); a non-table or a non-string element raises `what`. */
const char **tomo_nk_strs(lua_State *L, int i, size_t *n, const char *what);
/* A wallet changeset table at i (string keys, whole numbers) as a JSON
 * object (new reference); raises before allocating anything. */
json_t *tomo_nk_changeset(lua_State *L, int i);
/* Optional metadata table at i -> compact JSON object text (malloc'd), or
 * NULL for nil/none; an empty table is {}; anything else raises. */
char *tomo_nk_opt_metadata(lua_State *L, int i);
/* Unix seconds of an RFC 3339 UTC time (0 when NULL or malformed). */
long long tomo_nk_rfc3339_secs(const char *s);
/* A protojson message (borrowed, may be NULL) -> a Lua-shaped copy (new
 * reference): the strs keys present ("" when absent), metadata (JSON text)
 * a table, create_time/update_time unix seconds, the ints keys numbers
 * (protojson int64 strings parsed; 0 when absent). Lists NULL-terminated. */
json_t *tomo_nk_lua_shape(const json_t *msg, const char *const *strs, const char *const *ints);
/* A protojson User (borrowed, may be NULL) -> Nakama's Lua User (new
 * reference): user_id, every text field present, metadata a table, times
 * unix seconds, edge_count a number, online a bool. */
json_t *tomo_nk_lua_user(const json_t *u);

/* Push the string as a Lua string (n bytes). */
static inline void tomo_nk_pushstr(lua_State *L, const char *s)
{
    if (s)
        lua_pushstring(L, s);
    else
        lua_pushnil(L);
}

#endif
