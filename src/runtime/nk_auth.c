/* runtime/nk_auth.c: authentication for Lua (Nakama 3.15 signatures):
 * nk.authenticate_custom / device / email (find or create the account:
 * user_id, username, created) over svc/auth.h, authenticate_token_generate
 * (a session token and its expiry) over svc/session.h, link_custom /
 * device / email and unlink_custom / device / email over svc/account.h.
 * The social providers (authenticate_apple / facebook /
 * facebook_instant_game / game_center / google / steam, link_* and
 * unlink_* of the same) go through svc/auth.h tomo_svc_auth_social and
 * svc/account.h *_social exactly as REST does: Facebook Instant Games is
 * verified locally, Apple and Steam raise Nakama's "<X> authentication is
 * not configured", Facebook, Game Center and Google "... Not implemented"
 * once their input passes (only the vendor could verify them).
 * The system is the caller. Errors are raised as Nakama's "error
 * authenticating: ...", "error linking: ...", "error unlinking: ..." with
 * svc's message (the rules and messages of the REST API, one
 * implementation); missing arguments as Nakama's Lua argument errors.
 * Threads: the worker that borrowed the state. */
#include "nk.h"

#include <stdlib.h>
#include <string.h>

#include "../core/codec_util.h"
#include "../svc/account.h"
#include "../svc/auth.h"
#include "../svc/provider.h"
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


/* ---- social providers (svc/provider.h) ---- */

/* A string argument, required (authenticate, link) or optional (unlink);
 * "" (or none) raises msg when nonempty is set. */
static const char *provider_str(lua_State *L, int i, int required, int nonempty, const char *msg)
{
    const char *s = required ? tomo_nk_checkstr(L, i, 0, NULL) : tomo_nk_optstr(L, i, "", NULL);
    if (nonempty && !*s)
        luaL_argerror(L, i, msg);
    return s;
}

/* The presentation of a provider from argument i on: one token (msg is
 * Nakama's complaint when it is empty) or Game Center's six fields.
 * required 0 (unlink): everything may be left out; a Game Center player id
 * given then needs the rest. Returns the index after it. */
static int provider_args(lua_State *L, int i, int kind, int required, const char *msg,
                         tomo_provider_account *a)
{
    memset(a, 0, sizeof(*a));
    a->kind = kind;
    a->present = 1;
    if (kind != TOMO_UNLINK_GAMECENTER) {
        a->token = provider_str(L, i, required, required, msg);
        return i + 1;
    }
    a->player_id = provider_str(L, i, required, required, "expects player ID string");
    int rest = required || *a->player_id;
    a->bundle_id = provider_str(L, i + 1, required, rest, "expects bundle ID string");
    a->timestamp_seconds = required ? (long long)luaL_checknumber(L, i + 2)
                                    : (long long)tomo_nk_optint(L, i + 2, 0);
    if (rest && a->timestamp_seconds == 0)
        luaL_argerror(L, i + 2, "expects timestamp value");
    a->salt = provider_str(L, i + 3, required, rest, "expects salt string");
    a->signature = provider_str(L, i + 4, required, rest, "expects signature string");
    a->public_key_url = provider_str(L, i + 5, required, rest, "expects public key URL string");
    return i + 6;
}

/* authenticate_<provider>(presentation..., [import_friends,] username?,
 * create=true). A provider tomo has no settings for is refused before
 * anything else, with Nakama's unprefixed message. */
static int auth_social(lua_State *L, int kind, int import_arg, const char *msg, const char *fn)
{
    tomo_provider_account probe = {.kind = kind};
    tomo_err err = {0};
    if (tomo_svc_provider_check(TOMO_PROVIDER_AUTHENTICATE, &probe, &err) < 0 &&
        err.code == TOMO_GRPC_FAILED_PRECONDITION) {
        size_t n = strlen(err.msg);
        if (n && err.msg[n - 1] == '.')
            err.msg[n - 1] = '\0';
        return tomo_nk_raise_err(L, NULL, &err);
    }
    tomo_provider_account a;
    int i = provider_args(L, 1, kind, 1, msg, &a);
    if (import_arg)
        (void)tomo_nk_optbool(L, i++, 1); /* the friends stay with the vendor */
    const char *username = tomo_nk_optstr(L, i, NULL, NULL);
    int create = tomo_nk_optbool(L, i + 1, 1);
    tomo_svc *svc = tomo_nk_need_svc(L, fn);
    tomo_dbconn *db = tomo_nk_acquire(L, svc, fn);
    tomo_auth_account acct;
    int rc = tomo_svc_auth_social(svc, db, &a, username, create, &acct, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error authenticating", &err);
    return push_account(L, &acct);
}

static int l_authenticate_apple(lua_State *L)
{
    return auth_social(L, TOMO_UNLINK_APPLE, 0, "expects token string", "authenticate_apple");
}

static int l_authenticate_facebook(lua_State *L)
{
    return auth_social(L, TOMO_UNLINK_FACEBOOK, 1, "expects access token string",
                       "authenticate_facebook");
}

static int l_authenticate_facebook_instant_game(lua_State *L)
{
    return auth_social(L, TOMO_UNLINK_FACEBOOK_INSTANT_GAME, 0, "expects signed player info",
                       "authenticate_facebook_instant_game");
}

static int l_authenticate_game_center(lua_State *L)
{
    return auth_social(L, TOMO_UNLINK_GAMECENTER, 0, NULL, "authenticate_game_center");
}

static int l_authenticate_google(lua_State *L)
{
    return auth_social(L, TOMO_UNLINK_GOOGLE, 0, "expects ID token string",
                       "authenticate_google");
}

static int l_authenticate_steam(lua_State *L)
{
    return auth_social(L, TOMO_UNLINK_STEAM, 1, "expects access token string",
                       "authenticate_steam");
}

/* link_<provider>(user_id, [username,] presentation..., [import_friends])
 * and unlink_<provider>(user_id, presentation?) as the system. */
static int link_social(lua_State *L, int link, int kind, int username_arg, const char *fn)
{
    char id[37];
    tomo_nk_checkuuid(L, 1, id);
    int i = 2;
    if (username_arg)
        provider_str(L, i++, 1, 1, "expects username string");
    const char *msg = kind == TOMO_UNLINK_FACEBOOK_INSTANT_GAME ? "expects signed player info string"
                                                                : "expects token string";
    tomo_provider_account a;
    i = provider_args(L, i, kind, link, msg, &a);
    if (username_arg)
        (void)tomo_nk_optbool(L, i, 1); /* import_friends: the vendor's */
    tomo_svc *svc = tomo_nk_need_svc(L, fn);
    tomo_dbconn *db = tomo_nk_acquire(L, svc, fn);
    tomo_err err = {0};
    int rc = link ? tomo_svc_account_link_social(svc, db, &tomo_caller_system, id, &a, &err)
                  : tomo_svc_account_unlink_social(svc, db, &tomo_caller_system, id, &a, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, link ? "error linking" : "error unlinking", &err);
    return 0;
}

#define SOCIAL_LINKS(X)                                                                            \
    X(apple, TOMO_UNLINK_APPLE, 0)                                                                 \
    X(facebook, TOMO_UNLINK_FACEBOOK, 1)                                                           \
    X(facebook_instant_game, TOMO_UNLINK_FACEBOOK_INSTANT_GAME, 0)                                 \
    X(gamecenter, TOMO_UNLINK_GAMECENTER, 0)                                                       \
    X(google, TOMO_UNLINK_GOOGLE, 0)                                                               \
    X(steam, TOMO_UNLINK_STEAM, 1)

#define LINK_FNS(name, kind, username)                                                             \
    static int l_link_##name(lua_State *L) { return link_social(L, 1, kind, username, "link_" #name); } \
    static int l_unlink_##name(lua_State *L) { return link_social(L, 0, kind, 0, "unlink_" #name); }
SOCIAL_LINKS(LINK_FNS)
#undef LINK_FNS
#define LINK_REGS(name, kind, username) {"link_" #name, l_link_##name}, {"unlink_" #name, l_unlink_##name},

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
        {"authenticate_apple", l_authenticate_apple},
        {"authenticate_facebook", l_authenticate_facebook},
        {"authenticate_facebook_instant_game", l_authenticate_facebook_instant_game},
        {"authenticate_game_center", l_authenticate_game_center},
        {"authenticate_google", l_authenticate_google},
        {"authenticate_steam", l_authenticate_steam},
        SOCIAL_LINKS(LINK_REGS){NULL, NULL},
    };
    tomo_nk_register(L, nk, fns);
}
