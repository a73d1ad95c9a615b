/* runtime/nk_account.c: accounts and users for Lua (Nakama 3.15
 * signatures): nk.account_get_id, accounts_get_id, account_update_id,
 * account_delete_id, users_ban_id, users_unban_id over svc/account.h,
 * account_export_id over svc/admin.h and nk.users_get_id,
 * users_get_username, users_get_random over svc/users.h. The system is the caller.
 * Threads: the worker that borrowed the state.
 *
 * Shapes: a User as nk.h's tomo_nk_lua_user; an Account is the User's
 * fields flattened at the top, plus user (the User), wallet (a table),
 * email, devices ({{id=...}}), custom_id, verify_time, disable_time (unix
 * seconds), each only when set. */
#include "nk.h"

#include <stdlib.h>
#include <string.h>

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../svc/account.h"
#include "../svc/admin.h"
#include "../svc/users.h"

/* A protojson Account (borrowed) -> Nakama's Lua Account (new reference). */
static json_t *lua_account(const json_t *a)
{
    json_t *user = tomo_nk_lua_user(json_object_get(a, "user"));
    json_t *o = json_deep_copy(user);
    json_object_set_new(o, "user", user);
    const char *w = tomo_json_str(a, "wallet");
    json_t *wallet = w ? json_loads(w, 0, NULL) : NULL;
    json_object_set_new(o, "wallet", json_is_object(wallet) ? wallet : json_object());
    if (wallet && !json_is_object(wallet))
        json_decref(wallet);
    static const char *const keep[] = {"email", "custom_id", "devices", NULL};
    for (const char *const *k = keep; *k; k++)
        if (json_object_get(a, *k))
            json_object_set(o, *k, json_object_get(a, *k));
    static const char *const times[] = {"verify_time", "disable_time", NULL};
    for (const char *const *k = times; *k; k++)
        if (tomo_json_str(a, *k))
            json_object_set_new(o, *k,
                                json_integer(tomo_nk_rfc3339_secs(tomo_json_str(a, *k))));
    return o;
}

/* One account by id: 0 and *out (protojson), or the svc error. */
static int get_one(tomo_svc *svc, tomo_dbconn *db, const char *id, json_t **out, tomo_err *err)
{
    return tomo_svc_account_get(svc, db, &tomo_caller_system, id, out, err);
}

static int l_account_get_id(lua_State *L)
{
    char id[37];
    tomo_nk_checkuuid(L, 1, id);
    tomo_svc *svc = tomo_nk_need_svc(L, "account_get_id");
    tomo_dbconn *db = tomo_nk_acquire(L, svc, "account_get_id");
    tomo_err err = {0};
    json_t *a = NULL;
    int rc = get_one(svc, db, id, &a, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error getting account", &err);
    tomo_nk_push_take(L, lua_account(a));
    json_decref(a);
    return 1;
}

static int l_accounts_get_id(lua_State *L)
{
    lua_settop(L, 1);
    if (lua_type(L, 1) != LUA_TTABLE)
        return luaL_argerror(L, 1, "expects a table of user ids");
    size_t n;
    const char **ids = tomo_nk_strs(L, 1, &n, "expects a table of user ids");
    for (size_t i = 0; i < n; i++)
        if (!tomo_uuid_valid(ids[i]))
            return luaL_argerror(L, 1, "expects a valid set of user IDs");
    tomo_svc *svc = tomo_nk_need_svc(L, "accounts_get_id");
    tomo_dbconn *db = tomo_nk_acquire(L, svc, "accounts_get_id");
    json_t *res = json_array();
    tomo_err err = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *a = NULL;
        rc = get_one(svc, db, ids[i], &a, &err);
        if (rc == 0)
            json_array_append_new(res, lua_account(a));
        else if (err.code == TOMO_GRPC_NOT_FOUND)
            rc = 0; /* unknown ids are left out, as Nakama does */
        json_decref(a);
    }
    tomo_db_release(db);
    if (rc < 0) {
        json_decref(res);
        return tomo_nk_raise_err(L, "failed to get accounts", &err);
    }
    tomo_nk_push_take(L, res);
    return 1;
}

static int l_account_update_id(lua_State *L)
{
    char id[37];
    tomo_nk_checkuuid(L, 1, id);
    tomo_account_update u = {0};
    u.username = tomo_nk_optstr(L, 3, NULL, NULL);
    u.display_name = tomo_nk_optstr(L, 4, NULL, NULL);
    u.timezone = tomo_nk_optstr(L, 5, NULL, NULL);
    u.location = tomo_nk_optstr(L, 6, NULL, NULL);
    u.lang_tag = tomo_nk_optstr(L, 7, NULL, NULL);
    u.avatar_url = tomo_nk_optstr(L, 8, NULL, NULL);
    tomo_svc *svc = tomo_nk_need_svc(L, "account_update_id");
    char *md = tomo_nk_opt_metadata(L, 2);
    u.metadata = md;
    tomo_dbconn *db = NULL;
    tomo_err err = {0};
    int rc = tomo_db_acquire(svc->db, &db);
    if (rc == 0)
        rc = tomo_svc_account_update(svc, db, &tomo_caller_system, id, &u, &err);
    else
        tomo_err_set(&err, TOMO_GRPC_UNAVAILABLE, "database unavailable");
    tomo_db_release(db);
    free(md);
    /* Nothing given is not an error for the runtime (Nakama: a no-op). */
    if (rc < 0 && !(err.code == TOMO_GRPC_INVALID_ARGUMENT &&
                    !strcmp(err.msg, "No fields to update.")))
        return tomo_nk_raise_err(L, "error while trying to update user", &err);
    return 0;
}

static int l_account_delete_id(lua_State *L)
{
    char id[37];
    tomo_nk_checkuuid(L, 1, id);
    (void)tomo_nk_optbool(L, 2, 0); /* recorded: tomo keeps no deletion record */
    tomo_svc *svc = tomo_nk_need_svc(L, "account_delete_id");
    tomo_dbconn *db = tomo_nk_acquire(L, svc, "account_delete_id");
    tomo_err err = {0};
    int rc = tomo_svc_account_delete(svc, db, &tomo_caller_system, id, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error while trying to delete account", &err);
    return 0;
}

/* users_ban_id / users_unban_id: every id of the table, in order. */
static int ban_all(lua_State *L, int ban)
{
    const char *fn = ban ? "users_ban_id" : "users_unban_id";
    lua_settop(L, 1);
    if (lua_type(L, 1) != LUA_TTABLE)
        return luaL_argerror(L, 1, "expects a table of user ids");
    size_t n;
    const char **ids = tomo_nk_strs(L, 1, &n, "expects a table of user ids");
    for (size_t i = 0; i < n; i++)
        if (!tomo_uuid_valid(ids[i]))
            return luaL_argerror(L, 1, "expects a valid set of user IDs");
    if (!n)
        return 0;
    tomo_svc *svc = tomo_nk_need_svc(L, fn);
    tomo_dbconn *db = tomo_nk_acquire(L, svc, fn);
    tomo_err err = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = ban ? tomo_svc_account_ban(svc, db, &tomo_caller_system, ids[i], &err)
                 : tomo_svc_account_unban(svc, db, &tomo_caller_system, ids[i], &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, ban ? "failed to ban users" : "failed to unban users", &err);
    return 0;
}

static int l_users_ban_id(lua_State *L) { return ban_all(L, 1); }
static int l_users_unban_id(lua_State *L) { return ban_all(L, 0); }

/* Push the array of protojson Users as Lua Users, then release owner; 1. */
static int push_users(lua_State *L, const json_t *users, json_t *owner)
{
    json_t *res = json_array();
    size_t k;
    json_t *u;
    json_array_foreach(users, k, u)
        json_array_append_new(res, tomo_nk_lua_user(u));
    json_decref(owner);
    tomo_nk_push_take(L, res);
    return 1;
}

/* users_get_id / users_get_username: Users as an array table. */
static int users_get(lua_State *L, const char *fn, const char **ids, size_t nids,
                     const char **names, size_t nnames, const char **fb, size_t nfb)
{
    if (!nids && !nnames && !nfb) {
        lua_newtable(L);
        return 1;
    }
    tomo_svc *svc = tomo_nk_need_svc(L, fn);
    tomo_dbconn *db = tomo_nk_acquire(L, svc, fn);
    tomo_err err = {0};
    json_t *out = NULL;
    int rc = tomo_svc_users_get(svc, db, &tomo_caller_system, ids, nids, names, nnames, fb, nfb,
                                &out, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "failed to get users", &err);
    return push_users(L, json_object_get(out, "users"), out);
}

static int l_users_get_id(lua_State *L)
{
    lua_settop(L, 2);
    size_t nids, nfb;
    const char **ids = tomo_nk_strs(L, 1, &nids, "expects a table of user ids");
    const char **fb = tomo_nk_strs(L, 2, &nfb, "expects a table of facebook ids");
    for (size_t i = 0; i < nids; i++)
        if (!tomo_uuid_valid(ids[i]))
            return luaL_argerror(L, 1, "expects a valid set of user IDs");
    return users_get(L, "users_get_id", ids, nids, NULL, 0, fb, nfb);
}

static int l_users_get_username(lua_State *L)
{
    lua_settop(L, 1);
    if (lua_type(L, 1) != LUA_TTABLE)
        return luaL_argerror(L, 1, "expects a table of usernames");
    size_t n;
    const char **names = tomo_nk_strs(L, 1, &n, "expects a table of usernames");
    return users_get(L, "users_get_username", NULL, 0, names, n, NULL, 0);
}

static int l_users_get_random(lua_State *L)
{
    lua_Integer count = tomo_nk_optint(L, 1, 0);
    if (count < 0 || count > 1000)
        return luaL_argerror(L, 1, "count must be 0-1000");
    tomo_svc *svc = tomo_nk_need_svc(L, "users_get_random");
    tomo_dbconn *db = tomo_nk_acquire(L, svc, "users_get_random");
    tomo_err err = {0};
    json_t *out = NULL;
    int rc = tomo_svc_users_random(svc, db, (int)count, &out, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "failed to get users", &err);
    return push_users(L, out, out);
}

/* The console's export (svc/admin.h) as its protojson text. */
static int l_account_export_id(lua_State *L)
{
    char id[37];
    tomo_nk_checkuuid(L, 1, id);
    tomo_svc *svc = tomo_nk_need_svc(L, "account_export_id");
    tomo_dbconn *db = tomo_nk_acquire(L, svc, "account_export_id");
    tomo_err err = {0};
    json_t *out = NULL;
    int rc = tomo_svc_admin_account_export(svc, db, &tomo_caller_system, id, &out, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error exporting account", &err);
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    if (!text)
        return tomo_nk_error(L, "error encoding account export");
    lua_pushstring(L, text);
    free(text);
    return 1;
}

void tomo_nk_account_open(lua_State *L, int nk)
{
    static const luaL_Reg fns[] = {
        {"account_get_id", l_account_get_id},
        {"accounts_get_id", l_accounts_get_id},
        {"account_update_id", l_account_update_id},
        {"account_delete_id", l_account_delete_id},
        {"users_get_id", l_users_get_id},
        {"users_get_username", l_users_get_username},
        {"users_ban_id", l_users_ban_id},
        {"users_unban_id", l_users_unban_id},
        {"users_get_random", l_users_get_random},
        {"account_export_id", l_account_export_id},
        {NULL, NULL},
    };
    tomo_nk_register(L, nk, fns);
}
