/* runtime/nk_svc.c: what the svc-backed nk domains share (nk.h): the svc
 * and connection checks, array and metadata arguments, and the Lua shapes
 * of svc's protojson messages every domain returns (User).
 * Threads: the worker that borrowed the state. */
#define _GNU_SOURCE
#include "nk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/common.h"

tomo_svc *tomo_nk_need_svc(lua_State *L, const char *fn)
{
    tomo_svc *svc = tomo_nk_svc(L);
    if (!svc || !svc->db)
        tomo_nk_error(L, "%s: the database is not available", fn);
    return svc;
}

tomo_dbconn *tomo_nk_acquire(lua_State *L, tomo_svc *svc, const char *fn)
{
    tomo_dbconn *db = NULL;
    if (tomo_db_acquire(svc->db, &db) < 0)
        tomo_nk_error(L, "%s: database unavailable", fn);
    return db;
}

void tomo_nk_push_take(lua_State *L, json_t *j)
{
    tomo_nk_push_json(L, j);
    json_decref(j);
}

const char **tomo_nk_strs(lua_State *L, int i, size_t *n, const char *what)
{
    *n = 0;
    if (lua_isnoneornil(L, i))
        return NULL;
    if (lua_type(L, i) != LUA_TTABLE)
        luaL_argerror(L, i, what);
    size_t len = lua_objlen(L, i);
    const char **v = lua_newuserdata(L, (len ? len : 1) * sizeof(*v));
    for (size_t k = 0; k < len; k++) {
        lua_rawgeti(L, i, (int)k + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(L, i, what);
        v[k] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    *n = len;
    return v;
}

char *tomo_nk_opt_metadata(lua_State *L, int i)
{
    if (lua_isnoneornil(L, i))
        return NULL;
    if (lua_type(L, i) != LUA_TTABLE)
        luaL_argerror(L, i, "expects metadata to be a table");
    json_t *j = tomo_nk_to_json(L, i);
    if (json_is_array(j) && json_array_size(j) == 0) {
        json_decref(j);
        j = json_object();
    }
    char *s = json_is_object(j) ? tomo_nk_json_dump(j) : NULL;
    json_decref(j);
    if (!s)
        luaL_argerror(L, i, "expects metadata to be a table of key-value pairs");
    return s;
}

long long tomo_nk_rfc3339_secs(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                     &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm);
}

json_t *tomo_nk_lua_shape(const json_t *msg, const char *const *strs, const char *const *ints)
{
    json_t *o = json_deep_copy(msg ? msg : json_object());
    if (!o)
        o = json_object();
    for (; strs && *strs; strs++)
        if (!json_is_string(json_object_get(o, *strs)))
            json_object_set_new(o, *strs, json_string(""));
    const char *md = tomo_json_str(o, "metadata");
    json_t *mj = md ? json_loads(md, 0, NULL) : NULL;
    json_object_set_new(o, "metadata", json_is_object(mj) ? mj : json_object());
    if (mj && !json_is_object(mj))
        json_decref(mj);
    static const char *const times[] = {"create_time", "update_time", NULL};
    for (const char *const *k = times; *k; k++)
        json_object_set_new(o, *k, json_integer(tomo_nk_rfc3339_secs(tomo_json_str(o, *k))));
    for (; ints && *ints; ints++) {
        json_t *v = json_object_get(o, *ints);
        long long n = json_is_integer(v)  ? (long long)json_integer_value(v)
                      : json_is_string(v) ? strtoll(json_string_value(v), NULL, 10)
                                          : 0;
        json_object_set_new(o, *ints, json_integer(n));
    }
    return o;
}

json_t *tomo_nk_lua_user(const json_t *u)
{
    static const char *const strs[] = {"username", "display_name", "avatar_url", "lang_tag",
                                       "location", "timezone",     NULL};
    static const char *const ints[] = {"edge_count", NULL};
    json_t *o = tomo_nk_lua_shape(u, strs, ints);
    json_t *id = json_object_get(o, "id");
    json_object_set_new(o, "user_id", json_string(json_is_string(id) ? json_string_value(id)
                                                                     : ""));
    json_object_del(o, "id");
    if (!json_is_boolean(json_object_get(o, "online")))
        json_object_set_new(o, "online", json_false());
    return o;
}
