/* runtime/nk_stream.c: nk.stream_* and nk.session_disconnect. Realtime
 * state belongs to the loop thread, so each call is posted to the loop and
 * the worker waits for the answer (tomo_nk_loop_wait: 5 s, then the call
 * raises). */
#define _GNU_SOURCE
#include "runtime_int.h"

#include "../core/common.h"
#include "../rt/rt.h"
#include "../rt/session.h"
#include "../rt/tracker.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

enum { OP_JOIN, OP_UPDATE, OP_LEAVE, OP_GET, OP_LIST, OP_COUNT, OP_CLOSE, OP_SEND,
       OP_DISCONNECT };

typedef struct loopcall {
    tomo_rt *rt;
    tomo_loop *loop;
    const char *node; /* config name (presences) */
    int op;
    /* inputs (owned copies) */
    int mode;
    char subject[37], subcontext[37], label[256];
    char user_id[37], session_id[37];
    int hidden, persistence, include_hidden, include_visible, reliable, reason;
    char *status, *data;
    size_t data_len;
    char **targets; /* stream_send: session ids, NULL = everyone */
    size_t ntargets;
    /* outputs */
    int rc;
    char msg[128];
    json_t *out;
    long long count;
} loopcall;

static void lc_free(void *arg)
{
    loopcall *lc = arg;
    free(lc->status);
    free(lc->data);
    for (size_t i = 0; i < lc->ntargets; i++)
        free(lc->targets[i]);
    free(lc->targets);
    json_decref(lc->out);
    free(lc);
}

static tomo_rt_session *find_session(loopcall *lc)
{
    tomo_rt_session *s = tomo_rt_session_find(lc->rt, lc->session_id);
    if (!s || (lc->user_id[0] && strcmp(s->user_id, lc->user_id))) {
        lc->rc = TOMO_ENOTFOUND;
        snprintf(lc->msg, sizeof(lc->msg), "session not found");
        return NULL;
    }
    return s;
}

static json_t *presence_json(const tomo_presence *p, const char *node)
{
    json_t *o = json_object();
    json_object_set_new(o, "user_id", json_string(p->session->user_id));
    json_object_set_new(o, "session_id", json_string(p->session->id));
    json_object_set_new(o, "node", json_string(node));
    json_object_set_new(o, "hidden", json_boolean(p->hidden));
    json_object_set_new(o, "persistence", json_boolean(p->persistence));
    json_object_set_new(o, "username", json_string(p->session->username ? p->session->username : ""));
    json_object_set_new(o, "status", json_string(p->status ? p->status : ""));
    return o;
}

static int wanted(const loopcall *lc, const char *sid)
{
    if (!lc->targets)
        return 1;
    for (size_t i = 0; i < lc->ntargets; i++)
        if (!strcmp(lc->targets[i], sid))
            return 1;
    return 0;
}

static void on_loop(void *arg)
{
    loopcall *lc = arg;
    tomo_tracker *t = tomo_rt_tracker(lc->rt);
    tomo_stream st = {lc->mode, lc->subject, lc->subcontext, lc->label};
    tomo_rt_session *s;
    if (!t) {
        lc->rc = TOMO_EUNAVAIL;
        snprintf(lc->msg, sizeof(lc->msg), "realtime layer unavailable");
        goto out;
    }
    switch (lc->op) {
    case OP_JOIN:
    case OP_UPDATE:
        if (!(s = find_session(lc)))
            break;
        lc->rc = lc->op == OP_JOIN ? tomo_tracker_track(t, s, &st, lc->persistence, lc->hidden,
                                                        lc->status)
                                   : tomo_tracker_update(t, s, &st, lc->persistence, lc->hidden,
                                                         lc->status);
        break;
    case OP_LEAVE:
        if ((s = find_session(lc)))
            lc->rc = tomo_tracker_untrack(t, s, &st);
        break;
    case OP_GET: {
        if (!(s = find_session(lc)))
            break;
        tomo_presence *p = tomo_tracker_get(t, s, &st);
        if (p) {
            lc->out = json_object();
            json_object_set_new(lc->out, "hidden", json_boolean(p->hidden));
            json_object_set_new(lc->out, "persistence", json_boolean(p->persistence));
            json_object_set_new(lc->out, "username",
                                json_string(p->session->username ? p->session->username : ""));
            json_object_set_new(lc->out, "status", json_string(p->status ? p->status : ""));
        }
        break;
    }
    case OP_LIST:
        lc->out = json_array();
        for (tomo_presence *p = tomo_tracker_first(t, &st); p; p = tomo_presence_next(p))
            if ((p->hidden && lc->include_hidden) || (!p->hidden && lc->include_visible))
                json_array_append_new(lc->out, presence_json(p, lc->node));
        break;
    case OP_COUNT: lc->count = (long long)tomo_tracker_count(t, &st); break;
    case OP_CLOSE: {
        /* collect first: untracking while iterating is not allowed */
        size_t n = tomo_tracker_count(t, &st), k = 0;
        tomo_rt_session **ss = tomo_xcalloc(n ? n : 1, sizeof(*ss));
        for (tomo_presence *p = tomo_tracker_first(t, &st); p && k < n; p = tomo_presence_next(p)) {
            ss[k] = p->session;
            tomo_rt_session_hold(ss[k++]);
        }
        for (size_t i = 0; i < k; i++) {
            tomo_tracker_untrack(t, ss[i], &st);
            tomo_rt_session_release(ss[i]);
        }
        free(ss);
        break;
    }
    case OP_SEND: {
        json_t *sj = json_object();
        json_object_set_new(sj, "mode", json_integer(lc->mode));
        if (lc->subject[0])
            json_object_set_new(sj, "subject", json_string(lc->subject));
        if (lc->subcontext[0])
            json_object_set_new(sj, "subcontext", json_string(lc->subcontext));
        if (lc->label[0])
            json_object_set_new(sj, "label", json_string(lc->label));
        json_t *sd = json_object();
        json_object_set_new(sd, "stream", sj);
        json_t *d = json_stringn(lc->data, lc->data_len);
        json_object_set_new(sd, "data", d ? d : json_string(""));
        if (lc->reliable)
            json_object_set_new(sd, "reliable", json_true());
        json_t *env = json_pack("{s:o}", "stream_data", sd);
        size_t n = tomo_tracker_count(t, &st), k = 0;
        tomo_rt_session **ss = tomo_xcalloc(n ? n : 1, sizeof(*ss));
        for (tomo_presence *p = tomo_tracker_first(t, &st); p && k < n; p = tomo_presence_next(p))
            if (wanted(lc, p->session->id)) {
                ss[k] = p->session;
                tomo_rt_session_hold(ss[k++]);
            }
        for (size_t i = 0; i < k; i++) {
            tomo_rt_session_send(ss[i], env);
            tomo_rt_session_release(ss[i]);
        }
        free(ss);
        json_decref(env);
        break;
    }
    case OP_DISCONNECT:
        s = tomo_rt_session_find(lc->rt, lc->session_id);
        if (s)
            tomo_rt_session_close(s, NULL, TOMO_WS_CLOSE_NORMAL, "");
        break;
    }
out:;
}

static loopcall *lc_new(lua_State *L, int op)
{
    tomo_rt *rtc = tomo_nk_rt(L);
    tomo_loop *loop = tomo_nk_loop(L);
    if (!rtc || !loop)
        tomo_nk_error(L, "streams need the realtime layer (not available here)");
    loopcall *lc = tomo_xcalloc(1, sizeof(*lc));
    lc->rt = rtc;
    lc->loop = loop;
    const tomo_config *cfg = tomo_nk_cfg(L);
    lc->node = cfg ? cfg->name : "";
    lc->op = op;
    return lc;
}

/* Run on the loop and wait. Returns, or raises (lc is then the loop job's
 * to free). */
static void lc_run(lua_State *L, loopcall *lc)
{
    if (!tomo_nk_loop_wait(L, on_loop, lc, lc_free))
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
    if (lua_type(L, -1) != LUA_TNUMBER) {
        lc_free(lc);
        luaL_argerror(L, i, "stream mode is required");
    }
    lc->mode = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (lc->mode < 0 || lc->mode >= TOMO_STREAM_MODE_MAX) {
        lc_free(lc);
        luaL_argerror(L, i, "stream mode must be 0..15 (tomo's tracker keeps 16 modes)");
    }
    static const char *const f[] = {"subject", "subcontext"};
    char *dst[] = {lc->subject, lc->subcontext};
    for (int k = 0; k < 2; k++) {
        lua_getfield(L, i, f[k]);
        if (!lua_isnil(L, -1)) {
            uuid_t u;
            if (lua_type(L, -1) != LUA_TSTRING || uuid_parse(lua_tostring(L, -1), u) != 0) {
                lc_free(lc);
                luaL_argerror(L, i, "stream subject and subcontext must be UUIDs");
            }
            uuid_unparse_lower(u, dst[k]);
        }
        lua_pop(L, 1);
    }
    lua_getfield(L, i, "label");
    if (lua_type(L, -1) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        if (n >= sizeof(lc->label)) {
            lc_free(lc);
            luaL_argerror(L, i, "stream label is too long");
        }
        memcpy(lc->label, s, n + 1);
    }
    lua_pop(L, 1);
}

static void check_ids(lua_State *L, loopcall *lc)
{
    const char *u = lua_tostring(L, 1), *s = lua_tostring(L, 2);
    uuid_t x;
    if (!u || uuid_parse(u, x) != 0) {
        lc_free(lc);
        luaL_argerror(L, 1, "expects a valid user id");
    }
    uuid_unparse_lower(x, lc->user_id);
    if (!s || uuid_parse(s, x) != 0) {
        lc_free(lc);
        luaL_argerror(L, 2, "expects a valid session id");
    }
    uuid_unparse_lower(x, lc->session_id);
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
    if (op == OP_JOIN) {
        lua_pushboolean(L, rc == 1);
        return 1;
    }
    return 0;
}

static int l_stream_user_join(lua_State *L) { return join_update(L, OP_JOIN); }
static int l_stream_user_update(lua_State *L) { return join_update(L, OP_UPDATE); }

static int l_stream_user_leave(lua_State *L)
{
    loopcall *lc = lc_new(L, OP_LEAVE);
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
    loopcall *lc = lc_new(L, OP_LEAVE);
    if (lua_type(L, 1) != LUA_TTABLE) {
        lc_free(lc);
        return luaL_argerror(L, 1, "expects a valid presence");
    }
    static const char *const f[] = {"user_id", "session_id"};
    char *dst[] = {lc->user_id, lc->session_id};
    for (int k = 0; k < 2; k++) {
        lua_getfield(L, 1, f[k]);
        uuid_t u;
        if (lua_type(L, -1) != LUA_TSTRING || uuid_parse(lua_tostring(L, -1), u) != 0) {
            lc_free(lc);
            return luaL_argerror(L, 1, "expects each presence to have a valid user_id, "
                                       "session_id, and node");
        }
        uuid_unparse_lower(u, dst[k]);
        lua_pop(L, 1);
    }
    lua_getfield(L, 1, "node");
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING) {
        lc_free(lc);
        return luaL_argerror(L, 1, "expects node to be string");
    }
    lua_pop(L, 1);
    check_stream(L, 2, lc);
    lc_run(L, lc);
    finish(L, lc, 0);
    lc_free(lc);
    return 0;
}

static int l_stream_user_get(lua_State *L)
{
    loopcall *lc = lc_new(L, OP_GET);
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
    loopcall *lc = lc_new(L, OP_LIST);
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
    loopcall *lc = lc_new(L, OP_COUNT);
    check_stream(L, 1, lc);
    lc_run(L, lc);
    lua_pushnumber(L, (lua_Number)lc->count);
    lc_free(lc);
    return 1;
}

static int l_stream_close(lua_State *L)
{
    loopcall *lc = lc_new(L, OP_CLOSE);
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
    loopcall *lc = lc_new(L, OP_SEND);
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
    uuid_t u;
    if (uuid_parse(sid, u) != 0)
        return luaL_argerror(L, 1, "expects a valid session id");
    loopcall *lc = lc_new(L, OP_DISCONNECT);
    uuid_unparse_lower(u, lc->session_id);
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
