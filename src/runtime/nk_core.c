/* runtime/nk_core.c: the helpers every nk domain file uses (runtime/nk.h):
 * argument checks, errors, Lua <-> JSON conversion, the ctx table. */
#define _GNU_SOURCE
#include "runtime_int.h"

#include "../core/common.h"
#include "../core/trace.h"
#include "../net/http.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

void tomo_nk_register(lua_State *L, int nk, const luaL_Reg *fns)
{
    for (; fns->name; fns++) {
        lua_pushcfunction(L, fns->func);
        lua_setfield(L, nk, fns->name);
    }
}

const tomo_config *tomo_nk_cfg(lua_State *L) { return tomo_lstate_of(L)->rt->deps.cfg; }
tomo_svc *tomo_nk_svc(lua_State *L) { return tomo_lstate_of(L)->rt->deps.svc; }
tomo_rt *tomo_nk_rt(lua_State *L) { return tomo_lstate_of(L)->rt->deps.rt; }
tomo_loop *tomo_nk_loop(lua_State *L) { return tomo_lstate_of(L)->rt->deps.loop; }
tomo_runtime *tomo_nk_runtime(lua_State *L) { return tomo_lstate_of(L)->rt; }
const tomo_runtime_call *tomo_nk_call(lua_State *L) { return tomo_lstate_of(L)->call; }

int tomo_nk_error(lua_State *L, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    lua_pushstring(L, buf);
    return lua_error(L);
}

int tomo_nk_raise_err(lua_State *L, const char *prefix, const tomo_err *err)
{
    if (prefix)
        return tomo_nk_error(L, "%s: %s", prefix, err->msg);
    return tomo_nk_error(L, "%s", err->msg);
}

const char *tomo_nk_checkstr(lua_State *L, int i, int nonempty, size_t *len)
{
    int t = lua_type(L, i);
    if (t != LUA_TSTRING && t != LUA_TNUMBER)
        luaL_argerror(L, i, "expects string");
    size_t n;
    const char *s = lua_tolstring(L, i, &n);
    if (nonempty && n == 0)
        luaL_argerror(L, i, "expects non-empty string");
    if (len)
        *len = n;
    return s;
}

const char *tomo_nk_optstr(lua_State *L, int i, const char *def, size_t *len)
{
    if (lua_isnoneornil(L, i)) {
        if (len)
            *len = def ? strlen(def) : 0;
        return def;
    }
    if (lua_type(L, i) != LUA_TSTRING)
        luaL_argerror(L, i, "expects string");
    return lua_tolstring(L, i, len);
}

int tomo_nk_optbool(lua_State *L, int i, int def)
{
    if (lua_isnoneornil(L, i))
        return def;
    if (lua_type(L, i) != LUA_TBOOLEAN)
        luaL_argerror(L, i, "expects boolean");
    return lua_toboolean(L, i);
}

lua_Integer tomo_nk_optint(lua_State *L, int i, lua_Integer def)
{
    if (lua_isnoneornil(L, i))
        return def;
    if (lua_type(L, i) != LUA_TNUMBER)
        luaL_argerror(L, i, "expects number");
    return (lua_Integer)lua_tonumber(L, i);
}

void tomo_nk_checkuuid(lua_State *L, int i, char out[37])
{
    const char *s = tomo_nk_checkstr(L, i, 1, NULL);
    uuid_t u;
    if (uuid_parse(s, u) != 0)
        luaL_argerror(L, i, "expects a valid UUID");
    uuid_unparse_lower(u, out);
}

int tomo_nk_optuuid(lua_State *L, int i, char out[37])
{
    out[0] = '\0';
    if (lua_isnoneornil(L, i))
        return 0;
    if (lua_type(L, i) != LUA_TSTRING)
        luaL_argerror(L, i, "expects string");
    const char *s = lua_tostring(L, i);
    if (!*s)
        return 0;
    uuid_t u;
    if (uuid_parse(s, u) != 0)
        luaL_argerror(L, i, "expects a valid UUID");
    uuid_unparse_lower(u, out);
    return 1;
}

/* ---- Lua -> JSON ---- */

/* Copy s with invalid UTF-8 sequences replaced by U+FFFD (as Go does). */
static json_t *utf8_string(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    char *o = tomo_xmalloc(n * 3 + 1);
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = len && i + len <= n;
        for (size_t m = 1; ok && m < len; m++)
            ok = ((unsigned char)s[i + m] >> 6) == 2;
        if (ok && len > 1) {
            json_t *t = json_stringn(s + i, len);
            ok = t != NULL;
            json_decref(t);
        }
        if (ok) {
            memcpy(o + k, s + i, len);
            k += len;
            i += len;
        } else {
            memcpy(o + k, "\xef\xbf\xbd", 3);
            k += 3;
            i++;
        }
    }
    j = json_stringn(o, k);
    free(o);
    return j ? j : json_string("");
}

static json_t *conv(lua_State *L, int i, int depth, char *err, size_t errlen)
{
    if (i < 0)
        i = lua_gettop(L) + i + 1;
    switch (lua_type(L, i)) {
    case LUA_TNIL:
    case LUA_TNONE:
        return json_null();
    case LUA_TBOOLEAN:
        return json_boolean(lua_toboolean(L, i));
    case LUA_TNUMBER: {
        double d = lua_tonumber(L, i);
        if (isnan(d) || isinf(d)) {
            snprintf(err, errlen, "cannot encode %s", isnan(d) ? "NaN" : "Inf");
            return NULL;
        }
        if (d == floor(d) && fabs(d) < 9.2e18)
            return json_integer((json_int_t)d);
        return json_real(d);
    }
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, i, &n);
        return utf8_string(s, n);
    }
    case LUA_TTABLE: {
        if (depth > 64) {
            snprintf(err, errlen, "table nesting is too deep (or it refers to itself)");
            return NULL;
        }
        if (!lua_checkstack(L, 4)) {
            snprintf(err, errlen, "stack overflow");
            return NULL;
        }
        size_t n = lua_objlen(L, i);
        if (n > 0) {
            json_t *a = json_array();
            for (size_t k = 1; k <= n; k++) {
                lua_rawgeti(L, i, (int)k);
                json_t *v = conv(L, -1, depth + 1, err, errlen);
                lua_pop(L, 1);
                if (!v) {
                    json_decref(a);
                    return NULL;
                }
                json_array_append_new(a, v);
            }
            return a;
        }
        json_t *o = json_object();
        lua_pushnil(L);
        while (lua_next(L, i)) {
            char kb[64];
            const char *key = NULL;
            switch (lua_type(L, -2)) {
            case LUA_TSTRING: key = lua_tostring(L, -2); break;
            case LUA_TNUMBER: {
                double d = lua_tonumber(L, -2);
                if (d == floor(d) && fabs(d) < 9.2e18)
                    snprintf(kb, sizeof(kb), "%lld", (long long)d);
                else
                    snprintf(kb, sizeof(kb), "%.14g", d);
                key = kb;
                break;
            }
            case LUA_TBOOLEAN: key = lua_toboolean(L, -2) ? "true" : "false"; break;
            default:
                snprintf(kb, sizeof(kb), "%s: %p", luaL_typename(L, -2), lua_topointer(L, -2));
                key = kb;
                break;
            }
            json_t *v = conv(L, -1, depth + 1, err, errlen);
            if (!v) {
                lua_pop(L, 2);
                json_decref(o);
                return NULL;
            }
            json_object_set_new(o, key, v);
            lua_pop(L, 1);
        }
        return o;
    }
    default: {
        char b[64];
        snprintf(b, sizeof(b), "%s: %p", luaL_typename(L, i), lua_topointer(L, i));
        return json_string(b);
    }
    }
}

json_t *tomo_nk_to_json(lua_State *L, int i)
{
    char err[256];
    json_t *j = conv(L, i, 0, err, sizeof(err));
    if (!j)
        tomo_nk_error(L, "%s", err);
    return j;
}

void tomo_nk_push_json(lua_State *L, const json_t *v)
{
    luaL_checkstack(L, 4, "json nesting");
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT: {
        lua_createtable(L, 0, (int)json_object_size(v));
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            if (json_is_null(x))
                continue;
            tomo_nk_push_json(L, x);
            lua_setfield(L, -2, k);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        lua_createtable(L, (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            json_t *x = json_array_get(v, i);
            if (json_is_null(x))
                continue;
            tomo_nk_push_json(L, x);
            lua_rawseti(L, -2, (int)i + 1);
        }
        break;
    }
    case JSON_STRING: lua_pushlstring(L, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: lua_pushnumber(L, (lua_Number)json_integer_value(v)); break;
    case JSON_REAL: lua_pushnumber(L, json_real_value(v)); break;
    case JSON_TRUE: lua_pushboolean(L, 1); break;
    case JSON_FALSE: lua_pushboolean(L, 0); break;
    default: lua_pushnil(L); break;
    }
}

char *tomo_nk_json_dump(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!s)
        return tomo_xstrdup("null");
    size_t extra = 0;
    for (char *p = s; *p; p++)
        if (*p == '<' || *p == '>' || *p == '&')
            extra += 5;
    if (!extra)
        return s;
    char *o = tomo_xmalloc(strlen(s) + extra + 1), *q = o;
    for (char *p = s; *p; p++) {
        if (*p == '<' || *p == '>' || *p == '&') {
            q += sprintf(q, "\\u%04x", (unsigned)*p);
        } else {
            *q++ = *p;
        }
    }
    *q = '\0';
    free(s);
    return o;
}

/* ---- ctx ---- */

static void push_multimap(lua_State *L, json_t *m, const char *skip)
{
    lua_createtable(L, 0, (int)json_object_size(m));
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v) {
        if (skip && !strcmp(k, skip))
            continue;
        tomo_nk_push_json(L, v);
        lua_setfield(L, -2, k);
    }
}

/* ctx.headers as Nakama's gateway gives them: Canonical-Case names, each an
 * array of the values in the order they came, Grpc-Timeout left out. Built
 * from the request's own header array (no tree in between). */
static void push_headers(lua_State *L, const tomo_http_header *h, size_t n)
{
    lua_createtable(L, 0, (int)n);
    int t = lua_gettop(L);
    char name[256];
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(h[i].name);
        /* a long name goes in a userdata the collector frees (a push can
         * raise the memory bound's error, so no malloc here) */
        char *nm = len < sizeof(name) ? name : lua_newuserdata(L, len + 1);
        int up = 1;
        for (size_t j = 0; j < len; j++) {
            unsigned char ch = (unsigned char)h[i].name[j];
            nm[j] = (char)(up ? toupper(ch) : tolower(ch));
            up = ch == '-';
        }
        nm[len] = '\0';
        if (strcmp(nm, "Grpc-Timeout")) {
            lua_pushlstring(L, nm, len);
            lua_pushvalue(L, -1);
            lua_rawget(L, t);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                lua_createtable(L, 1, 0);
                lua_pushvalue(L, -2);
                lua_pushvalue(L, -2);
                lua_rawset(L, t); /* headers[name] = {} */
            }
            lua_pushstring(L, h[i].value ? h[i].value : "");
            lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
        }
        lua_settop(L, t);
    }
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    if (v && *v) {
        lua_pushstring(L, v);
        lua_setfield(L, -2, k);
    }
}

const char *tomo_runtime_mode_name(int mode)
{
    static const char *const modes[] = {"run_once",        "rpc",
                                        "before",          "after",
                                        "matchmaker",      "match",
                                        "tournament_end",  "tournament_reset",
                                        "leaderboard_reset", "shutdown"};
    return mode >= 0 && mode <= TOMO_RUNTIME_MODE_SHUTDOWN ? modes[mode] : "rpc";
}

void tomo_nk_push_context(lua_State *L, const tomo_runtime_call *c)
{
    const tomo_config *cfg = tomo_nk_cfg(L);
    lua_createtable(L, 0, 16);
    /* env: built once per state */
    lua_getfield(L, LUA_REGISTRYINDEX, "tomo.env");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        for (size_t i = 0; i < cfg->runtime.env.n; i++) {
            const char *e = cfg->runtime.env.v[i];
            const char *eq = strchr(e, '=');
            if (!eq)
                continue;
            lua_pushlstring(L, e, (size_t)(eq - e));
            lua_pushstring(L, eq + 1);
            lua_rawset(L, -3);
        }
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, "tomo.env");
    }
    lua_setfield(L, -2, "env");
    int mode = c ? c->mode : TOMO_RUNTIME_MODE_RUN_ONCE;
    lua_pushstring(L, tomo_runtime_mode_name(mode));
    lua_setfield(L, -2, "execution_mode");
    lua_pushstring(L, cfg->name);
    lua_setfield(L, -2, "node");
    if (mode != TOMO_RUNTIME_MODE_MATCH) {
        lua_pushstring(L, TOMO_VERSION);
        lua_setfield(L, -2, "version");
        if (c && c->nhttp_headers)
            push_headers(L, c->http_headers, c->nhttp_headers);
        else
            lua_newtable(L);
        lua_setfield(L, -2, "headers");
        if (c && c->query)
            push_multimap(L, c->query, c->query_skip);
        else
            lua_newtable(L);
        lua_setfield(L, -2, "query_params");
    }
    if (!c)
        return;
    if (c->user_id && *c->user_id) {
        set_str(L, "user_id", c->user_id);
        set_str(L, "username", c->username);
        if (c->vars && json_object_size(c->vars)) {
            tomo_nk_push_json(L, c->vars);
            lua_setfield(L, -2, "vars");
        }
        if (c->session_exp) {
            lua_pushnumber(L, (lua_Number)c->session_exp);
            lua_setfield(L, -2, "user_session_exp");
        }
    }
    set_str(L, "session_id", c->session_id);
    set_str(L, "lang", c->lang);
    set_str(L, "client_ip", c->client_ip);
    set_str(L, "client_port", c->client_port);
    /* tomo: the request's trace (W3C ids), when tracing is on */
    const tomo_trace *t = tomo_trace_current();
    if (t) {
        set_str(L, "trace_id", t->trace_id);
        set_str(L, "span_id", t->span_id);
    }
}

/* ---- running something on the loop thread ---- */

typedef struct loopwait {
    atomic_int refs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, abandoned;
    tomo_fn fn;
    void *arg;
    void (*release)(void *arg);
} loopwait;

static void lw_unref(loopwait *w)
{
    if (atomic_fetch_sub(&w->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

static void lw_on_loop(void *a)
{
    loopwait *w = a;
    w->fn(w->arg);
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    int abandoned = w->abandoned;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (abandoned && w->release)
        w->release(w->arg);
    lw_unref(w);
}

int tomo_nk_loop_wait(lua_State *L, tomo_fn fn, void *arg, void (*release)(void *arg))
{
    return tomo_runtime_loop_wait(tomo_nk_loop(L), fn, arg, release);
}

int tomo_runtime_loop_wait(tomo_loop *loop, tomo_fn fn, void *arg, void (*release)(void *arg))
{
    loopwait *w = tomo_xcalloc(1, sizeof(*w));
    atomic_init(&w->refs, 2);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->fn = fn;
    w->arg = arg;
    w->release = release;
    tomo_loop_post(loop, lw_on_loop, w);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    while (!w->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&w->cv, &w->mu, &dl);
    int done = w->done;
    if (!done)
        w->abandoned = 1;
    pthread_mutex_unlock(&w->mu);
    lw_unref(w);
    return done;
}
