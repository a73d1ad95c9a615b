/* runtime/nk_auth.c: authentication for Lua (Nakama 3.15 signatures):
 * nk.authenticate_custom / device / email (find or create the account:
 * user_id, username, created) over svc/auth.h, authenticate_token_generate
 * (a session token and its expiry) over svc/session.h, link_custom /
 * device / email and unlink_custom / device / email over svc/account.h.
 * The system is the caller. The identity providers that need their
 * vendor's servers stay unimplemented, as in REST. Errors are raised as
 * Nakama's "error authenticating: ...", "error linking: ...",
 * "error unlinking: ..." with svc's message (the rules and messages of the
 * REST API, one implementation).
 * Threads: the worker that borrowed the state. */
#include "nk.h"

#include <stdlib.h>
#include <string.h>

#include "../core/codec_util.h"
#include "../svc/account.h"
#include "../svc/auth.h"
#include "../svc/session.h"

/* Push the account an authenticate call found or created. */
static int push_account(lua_State *L, const tomo_auth_account *a)
{
    lua_pushstring(L, a->user_id);
    lua_pushstring(L, a->username);
    lua_pushboolean(L, a->created);
    return 3;
}

static int auth_id(lua_State *L, int kind, const char *fn)
{
    const char *id = tomo_nk_checkstr(L, 1, 0, NULL);
    const char *username = tomo_nk_optstr(L, 2, NULL, NULL);
    int create = tomo_nk_optbool(L, 3, 1);
    tomo_svc *svc = tomo_nk_need_svc(L, fn);
    tomo_dbconn *db = tomo_nk_acquire(L, svc, fn);
    tomo_err err = {0};
    tomo_auth_account a;
    int rc = tomo_svc_auth_id(svc, db, kind, id, username, create, &a, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error authenticating", &err);
    return push_account(L, &a);
}

static int l_authenticate_custom(lua_State *L)
{
    return auth_id(L, TOMO_UNLINK_CUSTOM, "authenticate_custom");
}

static int l_authenticate_device(lua_State *L)
{
    return auth_id(L, TOMO_UNLINK_DEVICE, "authenticate_device");
}

static int l_authenticate_email(lua_State *L)
{
    const char *email = tomo_nk_optstr(L, 1, "", NULL);
    const char *password = tomo_nk_checkstr(L, 2, 0, NULL);
    const char *username = tomo_nk_optstr(L, 3, NULL, NULL);
    int create = tomo_nk_optbool(L, 4, 1);
    tomo_svc *svc = tomo_nk_need_svc(L, "authenticate_email");
    tomo_dbconn *db = tomo_nk_acquire(L, svc, "authenticate_email");
    tomo_err err = {0};
    tomo_auth_account a;
    int rc = tomo_svc_auth_email(svc, db, email, password, username, create, &a, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error authenticating", &err);
    return push_account(L, &a);
}

/* The vars table at i (nil/none: NULL) as a JSON object of strings (new
 * reference); a non-string key or value raises. */
static json_t *opt_vars(lua_State *L, int i)
{
    if (lua_isnoneornil(L, i))
        return NULL;
    if (lua_type(L, i) != LUA_TTABLE)
        luaL_argerror(L, i, "expects vars to be a table");
    json_t *o = json_object();
    lua_pushnil(L);
    while (lua_next(L, i)) {
        const char *bad = lua_type(L, -2) != LUA_TSTRING   ? "vars keys must be strings"
                          : lua_type(L, -1) != LUA_TSTRING ? "vars values must be strings"
                                                           : NULL;
        if (bad) {
            json_decref(o);
            luaL_argerror(L, i, bad);
        }
        json_object_set_new(o, lua_tostring(L, -2), json_string(lua_tostring(L, -1)));
        lua_pop(L, 1);
    }
    return o;
}

static int l_authenticate_token_generate(lua_State *L)
{
    char id[37];
    tomo_nk_checkuuid(L, 1, id);
    const char *username = tomo_nk_checkstr(L, 2, 0, NULL);
    lua_Integer exp = tomo_nk_optint(L, 3, 0);
    char ubuf[11];
    if (!*username) {
        tomo_auth_random_username(ubuf);
        username = ubuf;
    }
    if (strlen(username) > 128)
        return luaL_argerror(L, 2, "expects username to be valid, must be 1-128 bytes");
    tomo_svc *svc = tomo_nk_need_svc(L, "authenticate_token_generate");
    json_t *vars = opt_vars(L, 4);
    int64_t out_exp = 0;
    char *token = tomo_svc_session_token(svc, id, username, vars, exp, &out_exp);
    json_decref(vars);
    if (!token)
        return tomo_nk_error(L, "error generating token");
    lua_pushstring(L, token);
    free(token);
    lua_pushnumber(L, (lua_Number)out_exp);
    return 2;
}

/* link_* / unlink_*(user_id, value[, password]) as the system. */
static int link_op(lua_State *L, int link, int kind, const char *fn)
{
    char id[37];
    tomo_nk_checkuuid(L, 1, id);
    const char *v, *password = NULL;
    if (link || kind == TOMO_UNLINK_DEVICE)
        v = tomo_nk_checkstr(L, 2, 0, NULL);
    else
        v = tomo_nk_optstr(L, 2, "", NULL);
    if (link && kind == TOMO_UNLINK_EMAIL)
        password = tomo_nk_checkstr(L, 3, 0, NULL);
    tomo_svc *svc = tomo_nk_need_svc(L, fn);
    tomo_dbconn *db = tomo_nk_acquire(L, svc, fn);
    tomo_err err = {0};
    int rc = link ? tomo_svc_account_link(svc, db, &tomo_caller_system, id, kind, v, password,
                                          &err)
                  : tomo_svc_account_unlink(svc, db, &tomo_caller_system, id, kind, v, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, link ? "error linking" : "error unlinking", &err);
    return 0;
}

static int l_link_custom(lua_State *L) { return link_op(L, 1, TOMO_UNLINK_CUSTOM, "link_custom"); }
static int l_link_device(lua_State *L) { return link_op(L, 1, TOMO_UNLINK_DEVICE, "link_device"); }
static int l_link_email(lua_State *L) { return link_op(L, 1, TOMO_UNLINK_EMAIL, "link_email"); }

static int l_unlink_custom(lua_State *L)
{
    return link_op(L, 0, TOMO_UNLINK_CUSTOM, "unlink_custom");
}

static int l_unlink_device(lua_State *L)
{
    return link_op(L, 0, TOMO_UNLINK_DEVICE, "unlink_device");
}

static int l_unlink_email(lua_State *L) { return link_op(L, 0, TOMO_UNLINK_EMAIL, "unlink_email"); }

void tomo_nk_auth_open(lua_State *L, int nk)
{
    static const luaL_Reg fns[] = {
        {"authenticate_custom", l_authenticate_custom},
        {"authenticate_device", l_authenticate_device},
        {"authenticate_email", l_authenticate_email},
        {"authenticate_token_generate", l_authenticate_token_generate},
        {"link_custom", l_link_custom},
        {"link_device", l_link_device},
        {"link_email", l_link_email},
        {"unlink_custom", l_unlink_custom},
        {"unlink_device", l_unlink_device},
        {"unlink_email", l_unlink_email},
        {NULL, NULL},
    };
    tomo_nk_register(L, nk, fns);
}
