/* runtime/nk_stream.c: nk.stream_* and nk.session_disconnect over
 * runtime/streams.h (realtime state belongs to the loop thread: each call is
 * posted to it and the worker waits, 5 s, then the call raises).
 * Threads: the worker that borrowed the state. */
#define _GNU_SOURCE
#include "runtime_int.h"
#include "streams.h"

#include "../core/common.h"

#include <stdlib.h>
#include <string.h>

typedef tomo_stream_call loopcall;
#define lc_free tomo_stream_call_free

static loopcall *lc_new(lua_State *L, int op)
{
    loopcall *lc = tomo_stream_call_new(tomo_nk_runtime(L), op);
    if (!lc)
        tomo_nk_error(L, "streams need the realtime layer (not available here)");
    return lc;
}

/* Run on the loop and wait. Returns, or raises (lc is then the loop job's
 * to free). */
static void lc_run(lua_State *L, loopcall *lc)
{
    if (!tomo_stream_call_run(tomo_nk_runtime(L), lc))
        tomo_nk_error(L, "realtime call timed out");
}

/* Parse the stream table at index i into lc. */
static void check_stream(lua_State *L, int i, loopcall *lc)
{
    if (lua_type(L, i) != LUA_TTABLE) {
        lc_free(lc);
        luaL_argerror(L, i, "expects a stream table");
    }
    lua_getfield(L, i, "mode");
    int has_mode = lua_type(L, -1) == LUA_TNUMBER;
    int mode = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (!has_mode) {
        lc_free(lc);
        luaL_argerror(L, i, "stream mode is required");
    }
    static const char *const f[] = {"subject", "subcontext", "label"};
    const char *v[3];
    for (int k = 0; k < 3; k++) {
        lua_getfield(L, i, f[k]); /* the table keeps the string alive */
        int t = lua_type(L, -1);
        v[k] = t == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        lua_pop(L, 1);
        if (k < 2 && t != LUA_TNIL && t != LUA_TSTRING) {
            lc_free(lc);
            luaL_argerror(L, i, "stream subject and subcontext must be UUIDs");
        }
    }
    const char *why = tomo_stream_call_stream(lc, mode, v[0], v[1], v[2]);
    if (why) {
        lc_free(lc);
        luaL_argerror(L, i, why);
    }
}

/* The user and session ids at u and u + 1 (or in a presence table). */
static void set_ids(lua_State *L, int arg, loopcall *lc, const char *u, const char *sid)
{
    const char *why = tomo_stream_call_ids(lc, u, sid);
    if (why) {
        lc_free(lc);
        luaL_argerror(L, arg + (strstr(why, "session") ? 1 : 0), why);
    }
}

static void check_ids(lua_State *L, loopcall *lc)
{
    set_ids(L, 1, lc, lua_tostring(L, 1), lua_tostring(L, 2));
}

static int finish(lua_State *L, loopcall *lc, int nret)
{
    if (lc->rc < 0 && lc->msg[0]) {
        char m[160];
        snprintf(m, sizeof(m), "%s", lc->msg);
        lc_free(lc);
        return tomo_nk_error(L, "%s", m);
    }
    (void)nret;
    return 0;
}

static int join_update(lua_State *L, int op)
{
    int hidden = tomo_nk_optbool(L, 4, 0), persistence = tomo_nk_optbool(L, 5, 1);
    const char *status = tomo_nk_optstr(L, 6, "", NULL);
    loopcall *lc = lc_new(L, op);
    check_ids(L, lc);
    check_stream(L, 3, lc);
    lc->hidden = hidden;
    lc->persistence = persistence;
    lc->status = tomo_xstrdup(status);
    lc_run(L, lc);
    finish(L, lc, 1);
    int rc = lc->rc;
    lc_free(lc);
    if (op == TOMO_SC_JOIN) {
        lua_pushboolean(L, rc == 1);
        return 1;
    }
    return 0;
}

static int l_stream_user_join(lua_State *L) { return join_update(L, TOMO_SC_JOIN); }
static int l_stream_user_update(lua_State *L) { return join_update(L, TOMO_SC_UPDATE); }

static int l_stream_user_leave(lua_State *L)
{
    loopcall *lc = lc_new(L, TOMO_SC_LEAVE);
    check_ids(L, lc);
    check_stream(L, 3, lc);
    lc_run(L, lc);
    finish(L, lc, 0);
    lc_free(lc);
    return 0;
}

/* stream_user_kick(presence, stream): one presence table {user_id,
 * session_id, node?} leaves the stream. */
static int l_stream_user_kick(lua_State *L)
{
    loopcall *lc = lc_new(L, TOMO_SC_LEAVE);
    if (lua_type(L, 1) != LUA_TTABLE) {
        lc_free(lc);
        return luaL_argerror(L, 1, "expects a valid presence");
    }
    lua_getfield(L, 1, "user_id");
    lua_getfield(L, 1, "session_id");
    lua_getfield(L, 1, "node");
    int bad_node = !lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING;
    const char *u = lua_type(L, -3) == LUA_TSTRING ? lua_tostring(L, -3) : NULL;
    const char *sid = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (bad_node) {
        lc_free(lc);
        return luaL_argerror(L, 1, "expects node to be string");
    }
    if (tomo_stream_call_ids(lc, u, sid)) {
        lc_free(lc);
        return luaL_argerror(L, 1, "expects each presence to have a valid user_id, session_id, "
                                   "and node");
    }
    lua_pop(L, 3);
    check_stream(L, 2, lc);
    lc_run(L, lc);
    finish(L, lc, 0);
    lc_free(lc);
    return 0;
}

static int l_stream_user_get(lua_State *L)
{
    loopcall *lc = lc_new(L, TOMO_SC_GET);
    check_ids(L, lc);
    check_stream(L, 3, lc);
    lc_run(L, lc);
    finish(L, lc, 1);
    if (lc->out)
        tomo_nk_push_json(L, lc->out);
    else
        lua_pushnil(L);
    lc_free(lc);
    return 1;
}

static int l_stream_user_list(lua_State *L)
{
    loopcall *lc = lc_new(L, TOMO_SC_LIST);
    check_stream(L, 1, lc);
    lc->include_hidden = tomo_nk_optbool(L, 2, 1);
    lc->include_visible = tomo_nk_optbool(L, 3, 1);
    lc_run(L, lc);
    tomo_nk_push_json(L, lc->out);
    if (!lc->out || !json_array_size(lc->out)) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    lc_free(lc);
    return 1;
}

static int l_stream_count(lua_State *L)
{
    loopcall *lc = lc_new(L, TOMO_SC_COUNT);
    check_stream(L, 1, lc);
    lc_run(L, lc);
    lua_pushnumber(L, (lua_Number)lc->count);
    lc_free(lc);
    return 1;
}

static int l_stream_close(lua_State *L)
{
    loopcall *lc = lc_new(L, TOMO_SC_CLOSE);
    check_stream(L, 1, lc);
    lc_run(L, lc);
    lc_free(lc);
    return 0;
}

static int l_stream_send(lua_State *L)
{
    size_t n;
    const char *data = tomo_nk_checkstr(L, 2, 0, &n);
    int reliable = tomo_nk_optbool(L, 4, 1);
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    loopcall *lc = lc_new(L, TOMO_SC_SEND);
    check_stream(L, 1, lc);
    lc->data = tomo_xmalloc(n + 1);
    memcpy(lc->data, data, n + 1);
    lc->data_len = n;
    lc->reliable = reliable;
    if (lua_istable(L, 3) && lua_objlen(L, 3) > 0) {
        size_t k = lua_objlen(L, 3);
        lc->targets = tomo_xcalloc(k, sizeof(char *));
        for (size_t i = 0; i < k; i++) {
            lua_rawgeti(L, 3, (int)i + 1);
            if (lua_istable(L, -1)) {
                lua_getfield(L, -1, "session_id");
                if (lua_type(L, -1) == LUA_TSTRING)
                    lc->targets[lc->ntargets++] = tomo_xstrdup(lua_tostring(L, -1));
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
    }
    lc_run(L, lc);
    lc_free(lc);
    return 0;
}

static int l_session_disconnect(lua_State *L)
{
    const char *sid = tomo_nk_checkstr(L, 1, 1, NULL);
    loopcall *lc = lc_new(L, TOMO_SC_DISCONNECT);
    if (tomo_stream_call_ids(lc, "00000000-0000-0000-0000-000000000000", sid)) {
        lc_free(lc);
        return luaL_argerror(L, 1, "expects a valid session id");
    }
    lc->user_id[0] = '\0';
    lc->reason = (int)tomo_nk_optint(L, 2, 0);
    lc_run(L, lc);
    lc_free(lc);
    return 0;
}

void tomo_nk_stream_open(lua_State *L, int nk)
{
    static const luaL_Reg fns[] = {
        {"stream_user_join", l_stream_user_join},
        {"stream_user_update", l_stream_user_update},
        {"stream_user_leave", l_stream_user_leave},
        {"stream_user_kick", l_stream_user_kick},
        {"stream_user_get", l_stream_user_get},
        {"stream_user_list", l_stream_user_list},
        {"stream_count", l_stream_count},
        {"stream_close", l_stream_close},
        {"stream_send", l_stream_send},
        {"session_disconnect", l_session_disconnect},
        {NULL, NULL},
    };
    tomo_nk_register(L, nk, fns);
}
