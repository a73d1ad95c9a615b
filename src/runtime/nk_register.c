/* runtime/nk_register.c: nk.register_* (RPCs, hooks, singleton callbacks),
 * nk.run_once, nk.get_context. Registrations go into the state's own
 * tables; during a program's first (reference) load they are also recorded
 * in the program so lookups need no Lua state. */
#define _GNU_SOURCE
#include "runtime_int.h"

#include "../core/common.h"
#include "../core/log.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

size_t tomo_runtime_hook_key(int kind, const char *name, char *out, size_t outlen)
{
    if (!name || !*name || outlen < 4)
        return 0;
    size_t o = 0;
    out[o++] = (char)('0' + kind);
    out[o++] = ':';
    int rt = kind == TOMO_HOOK_RT_BEFORE || kind == TOMO_HOOK_RT_AFTER;
    for (const char *p = name; *p; p++) {
        if (rt && *p == '_')
            continue;
        if (o + 1 >= outlen)
            return 0;
        out[o++] = (char)tolower((unsigned char)*p);
    }
    out[o] = '\0';
    return o;
}

/* The file of the Lua function calling register_* ("lib/util.lua"). */
static void caller_module(lua_State *L, char *out, size_t outlen)
{
    lua_Debug ar;
    const char *src = NULL;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "S", &ar))
        src = ar.source;
    snprintf(out, outlen, "%s", src && src[0] == '@' ? src + 1 : "?");
}

/* During the reference load: record the registration in the program's
 * registry, refusing an id another module (Lua or plugin) already holds. */
static void record(lua_State *L, int t, const char *key, const char *what)
{
    lstate *ls = tomo_lstate_of(L);
    if (!ls->record)
        return;
    char mod[256], msg[640];
    caller_module(L, mod, sizeof(mod));
    if (tomo_registry_check(&ls->rt->plugin_reg, t, key, mod, what, msg, sizeof(msg)) < 0 ||
        tomo_registry_add(&ls->prog->reg, t, key, TOMO_IMPL_LUA, mod, NULL, NULL, NULL, what, msg,
                          sizeof(msg)) < 0)
        luaL_error(L, "%s", msg);
}

void tomo_runtime_hook_what(int kind, const char *name, char *out, size_t outlen)
{
    static const char *const kinds[] = {"before hook", "after hook", "realtime before hook",
                                        "realtime after hook"};
    snprintf(out, outlen, "%s \"%s\"", kind >= 0 && kind < 4 ? kinds[kind] : "hook", name);
}

static void store(lua_State *L, const char *reg, const char *key, int fn)
{
    lua_getfield(L, LUA_REGISTRYINDEX, reg);
    lua_pushvalue(L, fn);
    lua_setfield(L, -2, key);
    lua_pop(L, 1);
}

static int l_register_rpc(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    const char *id = tomo_nk_checkstr(L, 2, 1, NULL);
    char key[256];
    size_t n = strlen(id);
    if (n >= sizeof(key))
        return luaL_argerror(L, 2, "RPC id is too long");
    for (size_t i = 0; i <= n; i++)
        key[i] = (char)tolower((unsigned char)id[i]);
    char what[300];
    snprintf(what, sizeof(what), "RPC id \"%s\"", id);
    record(L, TOMO_REG_T_RPC, key, what);
    store(L, TOMO_REG_RPC, key, 1);
    return 0;
}

static int reg_hook(lua_State *L, int kind)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    const char *name = tomo_nk_checkstr(L, 2, 1, NULL);
    char key[256];
    if (!tomo_runtime_hook_key(kind, name, key, sizeof(key)))
        return luaL_argerror(L, 2, "hook name is too long");
    char what[300];
    tomo_runtime_hook_what(kind, name, what, sizeof(what));
    record(L, TOMO_REG_T_HOOK, key, what);
    store(L, TOMO_REG_HOOK, key, 1);
    return 0;
}

static int l_req_before(lua_State *L) { return reg_hook(L, TOMO_HOOK_REQ_BEFORE); }
static int l_req_after(lua_State *L) { return reg_hook(L, TOMO_HOOK_REQ_AFTER); }
static int l_rt_before(lua_State *L) { return reg_hook(L, TOMO_HOOK_RT_BEFORE); }
static int l_rt_after(lua_State *L) { return reg_hook(L, TOMO_HOOK_RT_AFTER); }

static int reg_cb(lua_State *L, int which)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_getfield(L, LUA_REGISTRYINDEX, TOMO_REG_CB);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, which + 1);
    lua_pop(L, 1);
    lstate *ls = tomo_lstate_of(L);
    if (ls->record)
        ls->prog->cbs[which] = 1;
    return 0;
}

static int l_matchmaker_matched(lua_State *L) { return reg_cb(L, TOMO_CB_MATCHMAKER_MATCHED); }
static int l_tournament_end(lua_State *L) { return reg_cb(L, TOMO_CB_TOURNAMENT_END); }
static int l_tournament_reset(lua_State *L) { return reg_cb(L, TOMO_CB_TOURNAMENT_RESET); }
static int l_leaderboard_reset(lua_State *L) { return reg_cb(L, TOMO_CB_LEADERBOARD_RESET); }
static int l_shutdown(lua_State *L) { return reg_cb(L, TOMO_CB_SHUTDOWN); }

/* run_once(fn): fn(ctx) now, for the first run_once call in the process. */
static int l_run_once(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lstate *ls = tomo_lstate_of(L);
    tomo_runtime *rt = ls->rt;
    pthread_mutex_lock(&rt->mu);
    int first = !rt->run_once_done;
    rt->run_once_done = 1;
    pthread_mutex_unlock(&rt->mu);
    if (!first)
        return 0;
    lua_pushvalue(L, 1);
    tomo_nk_push_context(L, NULL);
    if (lua_pcall(L, 1, 0, 0) != 0) {
        const char *m = lua_tostring(L, -1);
        return tomo_nk_error(L, "error in run_once function: %s", m ? m : "?");
    }
    return 0;
}

static int l_get_context(lua_State *L)
{
    tomo_nk_push_context(L, NULL);
    return 1;
}

void tomo_nk_register_open(lua_State *L, int nk)
{
    static const luaL_Reg fns[] = {
        {"register_rpc", l_register_rpc},
        {"register_req_before", l_req_before},
        {"register_req_after", l_req_after},
        {"register_rt_before", l_rt_before},
        {"register_rt_after", l_rt_after},
        {"register_matchmaker_matched", l_matchmaker_matched},
        {"register_tournament_end", l_tournament_end},
        {"register_tournament_reset", l_tournament_reset},
        {"register_leaderboard_reset", l_leaderboard_reset},
        {"register_shutdown", l_shutdown},
        {"run_once", l_run_once},
        {"get_context", l_get_context},
        {NULL, NULL},
    };
    tomo_nk_register(L, nk, fns);
}
