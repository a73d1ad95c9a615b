/* runtime/match_lua.c: Lua match handlers: the runtime's side of rt's
 * match-handler seam (rt/match_handler.h).
 * Owns: one mlua per authoritative match: its own Lua state (the sandbox
 *       and the nakama module like every state, but only the match module
 *       and what it requires are loaded, as Nakama's match VMs), the module
 *       table, the match state and the dispatcher table (registry refs).
 * Threads: a match's calls run on its match thread, one at a time; lookup
 *          (a fresh state) runs on whatever thread creates the match.
 *
 * The module must return a table with Nakama's seven callbacks; the return
 * shapes are checked as Nakama does (NAKAMA_RUNTIME §6) and a bad shape is
 * an error that stops the match. Each call gets the instruction budget of
 * an RPC (runtime.lua_max_instructions) and the state the memory bound. */
#define _GNU_SOURCE
#include "runtime_int.h"

#include "../core/common.h"
#include "../core/log.h"
#include "../rt/amatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CB_INIT, CB_JOIN_ATTEMPT, CB_JOIN, CB_LEAVE, CB_LOOP, CB_TERMINATE, CB_SIGNAL, CB_N };
static const char *const cb_names[CB_N] = {"match_init",  "match_join_attempt", "match_join",
                                           "match_leave", "match_loop",         "match_terminate",
                                           "match_signal"};

/* Field names the hot paths use: interned once per state and kept in the
 * registry, so that a tick pushes a reference (an array slot) instead of
 * interning the name again (a hash, a walk of a chain of strings, a
 * compare: cache misses in a state last touched a tick ago). */
enum { K_SENDER, K_OP, K_DATA, K_RELIABLE, K_RECV, K_USER, K_SESSION, K_UNAME, K_NODE, K_NKEYS };
static const char *const key_names[K_NKEYS] = {"sender",   "op_code",    "data",
                                               "reliable", "receive_time_ms", "user_id",
                                               "session_id", "username", "node"};

/* The identity strings of recent senders, kept alive by registry refs so a
 * message's presence gets the same strings without interning them again
 * (strings are values: the tables are still fresh for every message). */
#define ID_CACHE 16
typedef struct idstr {
    char session_id[37], user_id[37], username[129];
    int refs[3]; /* user_id, session_id, username; LUA_NOREF: unused slot */
} idstr;

typedef struct mlua {
    tomo_runtime *rt;
    lstate *ls;
    char module[128];
    int mod_ref, state_ref, disp_ref;
    int ctx_ref;     /* the ctx table, reused as Nakama does (not for join attempts) */
    int msgh_ref, tramp_ref; /* the two C functions of every call, made once */
    int keyref[K_NKEYS];     /* key_names, interned (set by l_load) */
    int node_ref;            /* node_name as a string */
    char node_name[64];
    idstr ids[ID_CACHE];
    unsigned ids_next; /* the slot to reuse next */
    int ctx_rate;    /* the tick rate and label it was built with */
    char *ctx_label;
    const tomo_match_ctx *cur; /* the call in progress */
    int broken;                /* the module did not load: err says why */
    char err[512];
} mlua;

typedef struct mcall {
    mlua *ml;
    int cb;
    const tomo_match_ctx *mc;
    json_t *params, *metadata;
    const tomo_match_presence *ps;
    size_t n;
    const tomo_match_message *msgs;
    const char *data;
    int grace;
    /* results */
    int tick_rate, accept;
    char *label, *reason, *result;
    size_t label_len, reason_len;
} mcall;

/* ---- the dispatcher table ---- */

static mlua *disp_ml(lua_State *L)
{
    mlua *ml = lua_touserdata(L, lua_upvalueindex(1));
    if (!ml->cur)
        luaL_error(L, "match stopped");
    return ml;
}

static void push_key(lua_State *L, const mlua *ml, int k)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, ml->keyref[k]);
}

/* t[key_names[k]] as lua_getfield would read it (metamethods too). */
static const char *field_str(lua_State *L, const mlua *ml, int t, int k)
{
    push_key(L, ml, k);
    lua_gettable(L, t);
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1); /* the table keeps the string alive */
    return s;
}

/* An array of presence tables at index i: a userdata-backed array (freed
 * by the GC) of borrowed strings. A table without an array part gives 0
 * presences (Nakama sends to nobody). */
static tomo_match_presence *check_presences(lua_State *L, const mlua *ml, int i, size_t *n)
{
    luaL_checktype(L, i, LUA_TTABLE);
    size_t k = lua_objlen(L, i);
    /* left on the stack: it lives until the C function returns */
    tomo_match_presence *ps = lua_newuserdata(L, (k ? k : 1) * sizeof(*ps));
    size_t m = 0;
    for (size_t j = 1; j <= k; j++) {
        lua_rawgeti(L, i, (int)j);
        if (lua_istable(L, -1)) {
            int t = lua_gettop(L);
            memset(&ps[m], 0, sizeof(ps[m]));
            ps[m].user_id = field_str(L, ml, t, K_USER);
            ps[m].session_id = field_str(L, ml, t, K_SESSION);
            ps[m].username = field_str(L, ml, t, K_UNAME);
            ps[m].node = field_str(L, ml, t, K_NODE);
            if (ps[m].session_id)
                m++;
        }
        lua_pop(L, 1);
    }
    *n = m;
    return ps;
}

static int broadcast(lua_State *L, int deferred)
{
    mlua *ml = disp_ml(L);
    lua_settop(L, 5);
    int64_t op = (int64_t)luaL_checknumber(L, 1);
    size_t len = 0;
    const char *data = lua_isnil(L, 2) ? NULL : luaL_checklstring(L, 2, &len);
    tomo_match_presence *ps = NULL;
    size_t n = 0;
    if (!lua_isnil(L, 3))
        ps = check_presences(L, ml, 3, &n);
    tomo_match_presence sender = {0};
    int has_sender = 0;
    if (!lua_isnil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        sender.user_id = field_str(L, ml, 4, K_USER);
        sender.session_id = field_str(L, ml, 4, K_SESSION);
        sender.username = field_str(L, ml, 4, K_UNAME);
        sender.node = field_str(L, ml, 4, K_NODE);
        has_sender = sender.user_id && sender.session_id;
    }
    int reliable = lua_isnil(L, 5) ? 1 : lua_toboolean(L, 5);
    const tomo_match_dispatcher *d = ml->cur->dispatcher;
    int rc = (deferred ? d->broadcast_deferred : d->broadcast)(
        d->ctx, op, (const uint8_t *)data, len, ps, n, has_sender ? &sender : NULL, reliable);
    if (rc == TOMO_ETOOBIG)
        return luaL_error(L, "error deferring message broadcast: too many deferred message "
                             "broadcasts per tick");
    if (rc < 0)
        return luaL_error(L, "match stopped");
    return 0;
}

static int l_broadcast(lua_State *L) { return broadcast(L, 0); }
static int l_broadcast_deferred(lua_State *L) { return broadcast(L, 1); }

static int l_kick(lua_State *L)
{
    mlua *ml = disp_ml(L);
    if (lua_isnoneornil(L, 1))
        return 0;
    lua_settop(L, 1);
    size_t n = 0;
    tomo_match_presence *ps = check_presences(L, ml, 1, &n);
    if (n && ml->cur->dispatcher->kick(ml->cur->dispatcher->ctx, ps, n) < 0)
        return luaL_error(L, "match stopped");
    return 0;
}

static int l_label_update(lua_State *L)
{
    mlua *ml = disp_ml(L);
    const char *label = luaL_optstring(L, 1, "");
    int rc = ml->cur->dispatcher->label_update(ml->cur->dispatcher->ctx, label);
    if (rc == TOMO_ETOOBIG)
        return luaL_error(L, "match label too long, must be 0-2048 bytes");
    if (rc < 0)
        return luaL_error(L, "match stopped");
    return 0;
}

/* ---- loading ---- */

static int l_load(lua_State *L)
{
    mlua *ml = lua_touserdata(L, 1);
    lua_settop(L, 0);
    for (int k = 0; k < K_NKEYS; k++) {
        lua_pushstring(L, key_names[k]);
        ml->keyref[k] = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_getglobal(L, "require");
    lua_pushstring(L, ml->module);
    lua_call(L, 1, 1);
    if (!lua_istable(L, 1))
        return luaL_error(L, "match module %s must return a table", ml->module);
    for (int i = 0; i < CB_N; i++) {
        lua_getfield(L, 1, cb_names[i]);
        if (!lua_isfunction(L, -1))
            return luaL_error(L, "%s not found or not a function", cb_names[i]);
        lua_pop(L, 1);
    }
    lua_pushvalue(L, 1);
    ml->mod_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    static const luaL_Reg fns[] = {
        {"broadcast_message", l_broadcast},
        {"broadcast_message_deferred", l_broadcast_deferred},
        {"match_kick", l_kick},
        {"match_label_update", l_label_update},
        {NULL, NULL},
    };
    lua_createtable(L, 0, 4);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushlightuserdata(L, ml);
        lua_pushcclosure(L, f->func, 1);
        lua_setfield(L, -2, f->name);
    }
    ml->disp_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* ---- calls ---- */

static void push_presence(lua_State *L, const tomo_match_presence *p, int with_reason)
{
    lua_createtable(L, 0, 5);
    tomo_nk_pushstr(L, p->user_id);
    lua_setfield(L, -2, "user_id");
    tomo_nk_pushstr(L, p->session_id);
    lua_setfield(L, -2, "session_id");
    tomo_nk_pushstr(L, p->username ? p->username : "");
    lua_setfield(L, -2, "username");
    tomo_nk_pushstr(L, p->node ? p->node : "");
    lua_setfield(L, -2, "node");
    if (with_reason) {
        lua_pushinteger(L, p->reason);
        lua_setfield(L, -2, "reason");
    }
}

/* Push the three identity strings of p (user_id, session_id, username) from
 * the cache, filling a slot on a miss (or pushing them plainly when a
 * value does not fit a slot). */
static void push_ids(lua_State *L, mlua *ml, const tomo_match_presence *p)
{
    const char *u = p->user_id, *sid = p->session_id, *un = p->username ? p->username : "";
    if (!u || !sid || strlen(u) > 36 || strlen(sid) > 36 || strlen(un) > 128) {
        tomo_nk_pushstr(L, u);
        tomo_nk_pushstr(L, sid);
        lua_pushstring(L, un);
        return;
    }
    idstr *e = NULL;
    for (int i = 0; i < ID_CACHE; i++) {
        idstr *c = &ml->ids[i];
        if (c->refs[2] != LUA_NOREF && !strcmp(c->session_id, sid) && !strcmp(c->user_id, u) &&
            !strcmp(c->username, un)) {
            e = c;
            break;
        }
    }
    if (!e) {
        e = &ml->ids[ml->ids_next++ % ID_CACHE];
        for (int j = 0; j < 3; j++) {
            luaL_unref(L, LUA_REGISTRYINDEX, e->refs[j]);
            e->refs[j] = LUA_NOREF; /* (a memory error below leaves the slot unused) */
        }
        const char *v[3] = {u, sid, un};
        for (int j = 0; j < 3; j++) {
            lua_pushstring(L, v[j]);
            e->refs[j] = luaL_ref(L, LUA_REGISTRYINDEX);
        }
        snprintf(e->session_id, sizeof(e->session_id), "%s", sid);
        snprintf(e->user_id, sizeof(e->user_id), "%s", u);
        snprintf(e->username, sizeof(e->username), "%s", un);
    }
    for (int j = 0; j < 3; j++)
        lua_rawgeti(L, LUA_REGISTRYINDEX, e->refs[j]);
}

/* The node's name as a string (a registry ref while it does not change). */
static void push_node(lua_State *L, mlua *ml, const char *node)
{
    if (!node)
        node = "";
    if (strlen(node) >= sizeof(ml->node_name)) {
        lua_pushstring(L, node);
        return;
    }
    if (ml->node_ref == LUA_NOREF || strcmp(ml->node_name, node)) {
        luaL_unref(L, LUA_REGISTRYINDEX, ml->node_ref);
        snprintf(ml->node_name, sizeof(ml->node_name), "%s", node);
        lua_pushstring(L, node);
        ml->node_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, ml->node_ref);
}

/* The batch of match_loop: one table per message {sender = {user_id,
 * session_id, username, node}, op_code, data (when not empty), reliable,
 * receive_time_ms}, fresh tables as Nakama builds them, fields in the
 * order they always were set. The hot path of a tick: names and identity
 * strings are pushed from references (push_key, push_ids) and set with
 * rawset (a new table has no metatable: what setfield would do). Leaves
 * the array on the top. */
static void push_messages(lua_State *L, mlua *ml, const tomo_match_message *msgs, size_t n)
{
    luaL_checkstack(L, 12, "match_loop messages");
    lua_createtable(L, (int)n, 0);
    int arr = lua_gettop(L);
    for (size_t i = 0; i < n; i++) {
        const tomo_match_message *m = &msgs[i];
        lua_createtable(L, 0, 5);
        push_key(L, ml, K_SENDER);
        lua_createtable(L, 0, 5); /* as push_presence: the same pairs() order */
        int pt = lua_gettop(L);
        push_ids(L, ml, &m->sender); /* pt+1 user_id, pt+2 session_id, pt+3 username */
        for (int j = 0; j < 3; j++) {
            static const int ks[3] = {K_USER, K_SESSION, K_UNAME};
            push_key(L, ml, ks[j]);
            lua_pushvalue(L, pt + 1 + j);
            lua_rawset(L, pt);
        }
        lua_settop(L, pt);
        push_key(L, ml, K_NODE);
        push_node(L, ml, m->sender.node);
        lua_rawset(L, pt);
        lua_rawset(L, -3); /* msg.sender */
        push_key(L, ml, K_OP);
        lua_pushnumber(L, (lua_Number)m->op_code);
        lua_rawset(L, -3);
        if (m->len) {
            push_key(L, ml, K_DATA);
            lua_pushlstring(L, (const char *)m->data, m->len);
            lua_rawset(L, -3);
        }
        push_key(L, ml, K_RELIABLE);
        lua_pushboolean(L, m->reliable);
        lua_rawset(L, -3);
        push_key(L, ml, K_RECV);
        lua_pushnumber(L, (lua_Number)m->receive_time_ms);
        lua_rawset(L, -3);
        lua_rawseti(L, arr, (int)i + 1);
    }
}

static void push_ctx(lua_State *L, mlua *ml, const tomo_match_ctx *mc)
{
    const tomo_runtime_call *call = tomo_nk_call(L);
    int shared = !call || !call->user_id;
    const char *label = mc->label ? mc->label : "";
    if (shared && ml->ctx_ref != LUA_NOREF && ml->ctx_rate == mc->tick_rate &&
        !strcmp(ml->ctx_label ? ml->ctx_label : "", label)) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, ml->ctx_ref);
        return;
    }
    tomo_nk_push_context(L, call);
    lua_pushstring(L, mc->match_id);
    lua_setfield(L, -2, "match_id");
    lua_pushstring(L, mc->node);
    lua_setfield(L, -2, "match_node");
    if (mc->tick_rate) {
        lua_pushstring(L, mc->label ? mc->label : "");
        lua_setfield(L, -2, "match_label");
        lua_pushinteger(L, mc->tick_rate);
        lua_setfield(L, -2, "match_tick_rate");
    }
    if (shared) {
        luaL_unref(L, LUA_REGISTRYINDEX, ml->ctx_ref);
        lua_pushvalue(L, -1);
        ml->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        ml->ctx_rate = mc->tick_rate;
        free(ml->ctx_label);
        ml->ctx_label = tomo_xstrdup(label);
    }
}

static void set_state(lua_State *L, mlua *ml, int i)
{
    luaL_unref(L, LUA_REGISTRYINDEX, ml->state_ref);
    ml->state_ref = LUA_NOREF;
    if (!lua_isnil(L, i)) {
        lua_pushvalue(L, i);
        ml->state_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
}

static int tramp(lua_State *L)
{
    mcall *c = lua_touserdata(L, 1);
    mlua *ml = c->ml;
    const tomo_match_ctx *mc = c->mc;
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ml->mod_ref);
    lua_getfield(L, 1, cb_names[c->cb]);
    lua_remove(L, 1);
    push_ctx(L, ml, mc);
    int nargs = 1;
    if (c->cb == CB_INIT) {
        tomo_nk_push_json(L, c->params);
        nargs++;
    } else {
        lua_rawgeti(L, LUA_REGISTRYINDEX, ml->disp_ref);
        lua_pushnumber(L, (lua_Number)mc->tick);
        lua_rawgeti(L, LUA_REGISTRYINDEX, ml->state_ref);
        nargs += 3;
        switch (c->cb) {
        case CB_JOIN_ATTEMPT:
            push_presence(L, c->ps, 0);
            if (c->metadata)
                tomo_nk_push_json(L, c->metadata);
            if (!c->metadata || lua_isnil(L, -1)) {
                lua_settop(L, nargs + 2);
                lua_newtable(L);
                lua_replace(L, nargs + 2);
            }
            nargs += 2;
            break;
        case CB_JOIN:
        case CB_LEAVE:
            lua_createtable(L, (int)c->n, 0);
            for (size_t i = 0; i < c->n; i++) {
                push_presence(L, &c->ps[i], 1);
                lua_rawseti(L, -2, (int)i + 1);
            }
            nargs++;
            break;
        case CB_LOOP:
            push_messages(L, ml, c->msgs, c->n);
            nargs++;
            break;
        case CB_TERMINATE:
            lua_pushinteger(L, c->grace);
            nargs++;
            break;
        case CB_SIGNAL:
            lua_pushstring(L, c->data ? c->data : "");
            nargs++;
            break;
        }
    }
    lua_call(L, nargs, LUA_MULTRET);
    int nr = lua_gettop(L);
    switch (c->cb) {
    case CB_INIT: {
        if (nr != 3)
            return luaL_error(L, "match_init returned unexpected number of values: %d, expects 3",
                              nr);
        if (lua_isnil(L, 1))
            return luaL_error(L, "Match initial state must not be nil");
        if (lua_type(L, 2) != LUA_TNUMBER)
            return luaL_error(L, "match_init returned invalid tick rate");
        double rate = lua_tonumber(L, 2);
        if (rate < 1 || rate >= 61)
            return luaL_error(L, "match_init returned invalid tick rate, must be between 1 and 60");
        if (lua_type(L, 3) != LUA_TSTRING)
            return luaL_error(L, "match_init returned invalid label, must be a string");
        size_t ll;
        const char *label = lua_tolstring(L, 3, &ll);
        if (ll > TOMO_MATCH_LABEL_MAX)
            return luaL_error(L, "match label too long, must be 0-2048 bytes");
        c->tick_rate = (int)rate;
        snprintf(c->label, c->label_len, "%s", label);
        set_state(L, ml, 1);
        break;
    }
    case CB_JOIN_ATTEMPT:
        if (nr < 2 || nr > 3)
            return luaL_error(L, "match_join_attempt returned unexpected number of values");
        if (!lua_isnil(L, 1) && lua_type(L, 2) != LUA_TBOOLEAN)
            return luaL_error(L, "match_join_attempt returned a non-boolean allow value");
        if (nr == 3 && lua_type(L, 3) != LUA_TSTRING)
            return luaL_error(L, "match_join_attempt returned a non-string rejection reason");
        c->accept = lua_toboolean(L, 2);
        if (nr == 3)
            snprintf(c->reason, c->reason_len, "%s", lua_tostring(L, 3));
        set_state(L, ml, 1);
        break;
    case CB_SIGNAL:
        if (nr < 2 || (!lua_isnil(L, nr) && lua_type(L, nr) != LUA_TSTRING))
            return luaL_error(L, "match_signal returned invalid result, expects a string or nil");
        if (lua_type(L, nr) == LUA_TSTRING) {
            size_t rl;
            const char *r = lua_tolstring(L, nr, &rl);
            c->result = tomo_xmalloc(rl + 1);
            memcpy(c->result, r, rl + 1);
        }
        set_state(L, ml, 1);
        break;
    default:
        if (nr == 0)
            lua_pushnil(L);
        set_state(L, ml, 1);
        break;
    }
    return 0;
}

static int run(mlua *ml, mcall *c, void **state, const tomo_runtime_call *call)
{
    if (ml->broken)
        return TOMO_EINVAL;
    lstate *ls = ml->ls;
    lua_State *L = ls->L;
    ls->call = call;
    ls->budget = ml->rt->max_instructions;
    ls->over = 0;
    ls->mem_over = 0;
    ml->cur = c->mc;
    lua_settop(L, 0);
    /* (lua_pushcfunction would make a new closure object per call) */
    if (ml->msgh_ref == LUA_NOREF) {
        lua_pushcfunction(L, tomo_runtime_msgh);
        ml->msgh_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_pushcfunction(L, tramp);
        ml->tramp_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, ml->msgh_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ml->tramp_ref);
    lua_pushlightuserdata(L, c);
    int r = lua_pcall(L, 1, 0, 1);
    ml->cur = NULL;
    ls->call = NULL;
    if (r != 0) {
        tomo_err e = {0};
        char what[160];
        snprintf(what, sizeof(what), "%s.%s", ml->module, cb_names[c->cb]);
        tomo_runtime_failure(ls, r, NULL, what, &e);
        snprintf(ml->err, sizeof(ml->err), "%s", e.msg);
        lua_settop(L, 0);
        free(c->result);
        c->result = NULL;
        return TOMO_EINVAL;
    }
    lua_settop(L, 0);
    *state = ml->state_ref == LUA_NOREF || ml->state_ref == LUA_REFNIL ? NULL : ml;
    return 0;
}

static int h_init(void *ud, const tomo_match_ctx *mc, json_t *params, void **state,
                  int *tick_rate, char *label, size_t label_len)
{
    tomo_runtime_call call = {.mode = TOMO_RUNTIME_MODE_MATCH};
    mcall c = {.ml = ud, .cb = CB_INIT, .mc = mc, .params = params, .label = label,
               .label_len = label_len};
    int rc = run(ud, &c, state, &call);
    *tick_rate = c.tick_rate;
    return rc;
}

static int h_join_attempt(void *ud, const tomo_match_ctx *mc, void **state,
                          const tomo_match_presence *p, json_t *metadata, int *accept,
                          char *reason, size_t reason_len)
{
    tomo_runtime_call call = {.mode = TOMO_RUNTIME_MODE_MATCH,
                              .user_id = p->user_id,
                              .username = p->username,
                              .vars = mc->vars,
                              .session_exp = mc->session_exp,
                              .session_id = p->session_id,
                              .client_ip = mc->client_ip,
                              .client_port = mc->client_port};
    mcall c = {.ml = ud, .cb = CB_JOIN_ATTEMPT, .mc = mc, .ps = p, .n = 1,
               .metadata = metadata, .reason = reason, .reason_len = reason_len};
    int rc = run(ud, &c, state, &call);
    *accept = c.accept;
    return rc;
}

static int h_presences(void *ud, int cb, const tomo_match_ctx *mc, void **state,
                       const tomo_match_presence *ps, size_t n)
{
    tomo_runtime_call call = {.mode = TOMO_RUNTIME_MODE_MATCH};
    mcall c = {.ml = ud, .cb = cb, .mc = mc, .ps = ps, .n = n};
    return run(ud, &c, state, &call);
}

static int h_join(void *ud, const tomo_match_ctx *mc, void **state, const tomo_match_presence *ps,
                  size_t n)
{
    return h_presences(ud, CB_JOIN, mc, state, ps, n);
}

static int h_leave(void *ud, const tomo_match_ctx *mc, void **state,
                   const tomo_match_presence *ps, size_t n)
{
    return h_presences(ud, CB_LEAVE, mc, state, ps, n);
}

static int h_loop(void *ud, const tomo_match_ctx *mc, void **state,
                  const tomo_match_message *msgs, size_t n)
{
    tomo_runtime_call call = {.mode = TOMO_RUNTIME_MODE_MATCH};
    mcall c = {.ml = ud, .cb = CB_LOOP, .mc = mc, .msgs = msgs, .n = n};
    return run(ud, &c, state, &call);
}

static int h_signal(void *ud, const tomo_match_ctx *mc, void **state, const char *data,
                    char **result)
{
    tomo_runtime_call call = {.mode = TOMO_RUNTIME_MODE_MATCH};
    mcall c = {.ml = ud, .cb = CB_SIGNAL, .mc = mc, .data = data};
    int rc = run(ud, &c, state, &call);
    *result = c.result;
    return rc;
}

static int h_terminate(void *ud, const tomo_match_ctx *mc, void **state, int grace_seconds)
{
    tomo_runtime_call call = {.mode = TOMO_RUNTIME_MODE_MATCH};
    mcall c = {.ml = ud, .cb = CB_TERMINATE, .mc = mc, .grace = grace_seconds};
    return run(ud, &c, state, &call);
}

static void h_release(void *ud)
{
    mlua *ml = ud;
    if (ml->ls)
        tomo_runtime_match_state_free(ml->ls);
    free(ml->ctx_label);
    free(ml);
}

static const char *h_error(void *ud) { return ((mlua *)ud)->err; }

/* The state as JSON text (protected: a state holding a function raises). */
static int state_dump(lua_State *L)
{
    mlua *ml = lua_touserdata(L, 1);
    char **out = lua_touserdata(L, 2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ml->state_ref);
    json_t *j = tomo_nk_to_json(L, -1);
    *out = tomo_nk_json_dump(j);
    json_decref(j);
    return 0;
}

/* The console's view of the state (Nakama renders a Lua match's state as
 * JSON); one that cannot be encoded reads as "". */
static int h_state(void *ud, const tomo_match_ctx *mc, void **state, char **out)
{
    (void)mc;
    (void)state;
    mlua *ml = ud;
    *out = NULL;
    if (ml->broken || ml->state_ref == LUA_NOREF || ml->state_ref == LUA_REFNIL)
        return 0;
    lua_State *L = ml->ls->L;
    lua_settop(L, 0);
    lua_pushcfunction(L, state_dump);
    lua_pushlightuserdata(L, ml);
    lua_pushlightuserdata(L, out);
    if (lua_pcall(L, 2, 0, 0) != 0) {
        free(*out);
        *out = NULL;
    }
    lua_settop(L, 0);
    return 0;
}

static int h_lookup(void *ctx, const char *module, tomo_match_handler *out)
{
    tomo_runtime *rt = ctx;
    /* one registry for both kinds: a plugin's match module first (start-up
     * refused a name that is both a plugin's and a Lua module's) */
    int prc = tomo_plugin_match_lookup(rt, module, out);
    if (prc != TOMO_ENOTFOUND)
        return prc;
    if (strlen(module) >= sizeof(((mlua *)0)->module))
        return TOMO_ENOTFOUND;
    lstate *ls = NULL;
    char err[512];
    int rc = tomo_runtime_match_state(rt, module, &ls, err, sizeof(err));
    if (rc == TOMO_ENOTFOUND)
        return rc;
    if (rc < 0) {
        TOMO_LOGE(TOMO_RUNTIME_LOG, "cannot create a match state module=%s error=%s", module, err);
        return rc;
    }
    mlua *ml = tomo_xcalloc(1, sizeof(*ml));
    ml->rt = rt;
    ml->ls = ls;
    ml->mod_ref = ml->state_ref = ml->disp_ref = ml->ctx_ref = LUA_NOREF;
    ml->msgh_ref = ml->tramp_ref = ml->node_ref = LUA_NOREF;
    for (int k = 0; k < K_NKEYS; k++)
        ml->keyref[k] = LUA_NOREF;
    for (int i = 0; i < ID_CACHE; i++)
        ml->ids[i].refs[0] = ml->ids[i].refs[1] = ml->ids[i].refs[2] = LUA_NOREF;
    snprintf(ml->module, sizeof(ml->module), "%s", module);
    lua_State *L = ls->L;
    ls->budget = rt->max_instructions;
    ls->over = 0;
    lua_settop(L, 0);
    lua_pushcfunction(L, tomo_runtime_msgh);
    lua_pushcfunction(L, l_load);
    lua_pushlightuserdata(L, ml);
    int r = lua_pcall(L, 1, 0, 1);
    if (r != 0) {
        tomo_err e = {0};
        tomo_runtime_failure(ls, r, NULL, module, &e);
        snprintf(ml->err, sizeof(ml->err), "%s", e.msg);
        ml->broken = 1;
    }
    lua_settop(L, 0);
    *out = (tomo_match_handler){.ud = ml,
                                .init = h_init,
                                .join_attempt = h_join_attempt,
                                .join = h_join,
                                .leave = h_leave,
                                .loop = h_loop,
                                .signal = h_signal,
                                .terminate = h_terminate,
                                .release = h_release,
                                .error = h_error,
                                .state = h_state};
    return 0;
}

void tomo_runtime_match_install(tomo_runtime *rt, struct tomo_rt *rtx)
{
    tomo_match_handler_registry reg = {.ctx = rt, .lookup = h_lookup};
    tomo_rt_set_match_handlers(rtx, &reg);
}
