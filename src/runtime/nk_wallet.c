/* runtime/nk_wallet.c: nk.wallet_update / nk.wallets_update /
 * nk.wallet_ledger_list over svc/wallet.h (the system caller). */
#define _GNU_SOURCE
#include "runtime_int.h"

#include "../core/common.h"
#include "../svc/wallet.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

json_t *tomo_nk_changeset(lua_State *L, int i)
{
    if (lua_type(L, i) != LUA_TTABLE)
        luaL_argerror(L, i, "expects changeset to be a table");
    lua_pushnil(L);
    while (lua_next(L, i)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_argerror(L, i, "expects changeset keys to be strings");
        double d = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || d != floor(d))
            luaL_argerror(L, i, "expects changeset values to be whole numbers");
        lua_pop(L, 1);
    }
    json_t *j = tomo_nk_to_json(L, i);
    if (!json_is_object(j)) { /* an empty table */
        json_decref(j);
        j = json_object();
    }
    return j;
}

static int do_update(lua_State *L, const char *uid, int ics, int imeta, int ledger, int push_uid)
{
    json_t *cs = tomo_nk_changeset(L, ics);
    char *meta = NULL;
    if (!lua_isnoneornil(L, imeta)) {
        if (!lua_istable(L, imeta)) {
            json_decref(cs);
            return luaL_argerror(L, imeta, "expects metadata to be a table");
        }
        json_t *m = tomo_nk_to_json(L, imeta);
        meta = json_is_object(m) ? tomo_nk_json_dump(m) : tomo_xstrdup("{}");
        json_decref(m);
    }
    tomo_svc *svc = tomo_nk_svc(L);
    tomo_dbconn *c = NULL;
    json_t *upd = NULL, *prev = NULL;
    tomo_err err = {0};
    int rc;
    if (!svc || !svc->db || tomo_db_acquire(svc->db, &c) < 0) {
        rc = -1;
        snprintf(err.msg, sizeof(err.msg), "database unavailable");
    } else {
        rc = tomo_svc_wallet_update(svc, c, &tomo_caller_system, uid, cs, meta, ledger, &upd,
                                    &prev, &err);
    }
    tomo_db_release(c);
    json_decref(cs);
    free(meta);
    if (rc < 0)
        return tomo_nk_raise_err(L, "failed to update user wallet", &err);
    if (push_uid) {
        lua_createtable(L, 0, 3);
        lua_pushstring(L, uid);
        lua_setfield(L, -2, "user_id");
    }
    tomo_nk_push_json(L, upd);
    if (push_uid)
        lua_setfield(L, -2, "updated");
    tomo_nk_push_json(L, prev);
    if (push_uid)
        lua_setfield(L, -2, "previous");
    json_decref(upd);
    json_decref(prev);
    return push_uid ? 1 : 2;
}

static int l_wallet_update(lua_State *L)
{
    char uid[37];
    tomo_nk_checkuuid(L, 1, uid);
    int ledger = tomo_nk_optbool(L, 4, 0);
    return do_update(L, uid, 2, 3, ledger, 0);
}

static int l_wallets_update(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int ledger = tomo_nk_optbool(L, 2, 0);
    size_t n = lua_objlen(L, 1);
    lua_createtable(L, (int)n, 0);
    int res = lua_gettop(L);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (int)i + 1);
        int t = lua_gettop(L);
        if (!lua_istable(L, t))
            return luaL_argerror(L, 1, "expects a table of wallet updates");
        lua_getfield(L, t, "user_id");
        lua_getfield(L, t, "changeset");
        lua_getfield(L, t, "metadata");
        char uid[37];
        tomo_nk_checkuuid(L, t + 1, uid);
        do_update(L, uid, t + 2, t + 3, ledger, 1);
        lua_rawseti(L, res, (int)i + 1);
        lua_settop(L, res);
    }
    return 1;
}

static int l_wallet_ledger_list(lua_State *L)
{
    char uid[37];
    tomo_nk_checkuuid(L, 1, uid);
    lua_Integer limit = tomo_nk_optint(L, 2, 100);
    if (limit < 0 || limit > 100)
        return luaL_argerror(L, 2, "expects limit to be 0-100");
    if (limit == 0)
        limit = 100;
    const char *cursor = tomo_nk_optstr(L, 3, "", NULL);
    tomo_svc *svc = tomo_nk_svc(L);
    tomo_dbconn *c = NULL;
    json_t *items = NULL;
    char *next = NULL;
    tomo_err err = {0};
    int rc;
    if (!svc || !svc->db || tomo_db_acquire(svc->db, &c) < 0) {
        rc = -1;
        snprintf(err.msg, sizeof(err.msg), "database unavailable");
    } else {
        rc = tomo_svc_wallet_ledger_list(svc, c, &tomo_caller_system, uid, (int)limit, cursor,
                                         &items, &next, &err);
    }
    tomo_db_release(c);
    if (rc < 0)
        return tomo_nk_raise_err(L, "failed to retrieve user wallet ledger", &err);
    tomo_nk_push_json(L, items);
    if (!json_array_size(items)) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    json_decref(items);
    lua_pushstring(L, next ? next : "");
    free(next);
    return 2;
}

void tomo_nk_wallet_open(lua_State *L, int nk)
{
    static const luaL_Reg fns[] = {
        {"wallet_update", l_wallet_update},
        {"wallets_update", l_wallets_update},
        {"wallet_ledger_list", l_wallet_ledger_list},
        {NULL, NULL},
    };
    tomo_nk_register(L, nk, fns);
}
