/* runtime/nk_storage.c: nk.storage_read / write / delete / list over
 * svc/storage.h as the system caller (any owner, permissions not applied to
 * the runtime, as Nakama). Objects come back as Nakama's Lua shape: value
 * decoded to a table, times in unix seconds, the system owner as the nil
 * UUID. */
#define _GNU_SOURCE
#include "runtime_int.h"

#include "../core/common.h"
#include "../svc/storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NIL_UUID "00000000-0000-0000-0000-000000000000"
#define MAX_OPS 1000

/* Push one StorageObject (protojson) as Nakama's Lua table. */
static void push_object(lua_State *L, json_t *o)
{
    lua_createtable(L, 0, 9);
    const char *uid = json_string_value(json_object_get(o, "user_id"));
    tomo_nk_pushstr(L, json_string_value(json_object_get(o, "collection")));
    lua_setfield(L, -2, "collection");
    tomo_nk_pushstr(L, json_string_value(json_object_get(o, "key")));
    lua_setfield(L, -2, "key");
    lua_pushstring(L, uid && *uid ? uid : NIL_UUID);
    lua_setfield(L, -2, "user_id");
    tomo_nk_pushstr(L, json_string_value(json_object_get(o, "version")));
    lua_setfield(L, -2, "version");
    lua_pushnumber(L, (lua_Number)json_integer_value(json_object_get(o, "permission_read")));
    lua_setfield(L, -2, "permission_read");
    lua_pushnumber(L, (lua_Number)json_integer_value(json_object_get(o, "permission_write")));
    lua_setfield(L, -2, "permission_write");
    lua_pushnumber(L, (lua_Number)tomo_nk_rfc3339_secs(tomo_json_str(o, "create_time")));
    lua_setfield(L, -2, "create_time");
    lua_pushnumber(L, (lua_Number)tomo_nk_rfc3339_secs(tomo_json_str(o, "update_time")));
    lua_setfield(L, -2, "update_time");
    const char *v = json_string_value(json_object_get(o, "value"));
    json_t *val = v ? json_loads(v, JSON_DECODE_ANY, NULL) : NULL;
    if (val)
        tomo_nk_push_json(L, val);
    else
        lua_newtable(L);
    json_decref(val);
    lua_setfield(L, -2, "value");
}

static void push_objects(lua_State *L, json_t *arr)
{
    size_t n = json_array_size(arr);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        push_object(L, json_array_get(arr, i));
        lua_rawseti(L, -2, (int)i + 1);
    }
}

/* Strings of one batch, kept in a Lua table so a raise frees them. */
static const char *field_str(lua_State *L, int t, const char *k, int required, int argi)
{
    lua_getfield(L, t, k);
    const char *s = NULL;
    if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)
        s = lua_tostring(L, -1);
    else if (!lua_isnil(L, -1))
        luaL_argerror(L, argi, k);
    if (required && (!s || !*s)) {
        char m[96];
        snprintf(m, sizeof(m), "expects %s to be a non-empty string", k);
        luaL_argerror(L, argi, m);
    }
    /* keep the value referenced from the stack */
    return s;
}

static int acquire(lua_State *L, tomo_svc **svc, tomo_dbconn **c, const char *what)
{
    *svc = tomo_nk_need_svc(L, what);
    *c = tomo_nk_acquire(L, *svc, what);
    return 0;
}

static int l_storage_read(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t n = lua_objlen(L, 1);
    if (n > MAX_OPS)
        return luaL_argerror(L, 1, "too many objects");
    tomo_storage_id *ids = lua_newuserdata(L, (n ? n : 1) * sizeof(*ids));
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (int)i + 1);
        int t = lua_gettop(L);
        if (!lua_istable(L, t))
            return luaL_argerror(L, 1, "expects a table of object ids");
        memset(&ids[i], 0, sizeof(ids[i]));
        ids[i].collection = field_str(L, t, "collection", 1, 1);
        ids[i].key = field_str(L, t, "key", 1, 1);
        ids[i].user_id = field_str(L, t, "user_id", 0, 1);
        /* the strings stay alive on the stack until the call returns */
    }
    if (n == 0) {
        lua_newtable(L);
        return 1;
    }
    tomo_svc *svc;
    tomo_dbconn *c = NULL;
    acquire(L, &svc, &c, "failed to read storage objects");
    json_t *out = NULL;
    tomo_err err = {0};
    int rc = tomo_svc_storage_read(svc, c, &tomo_caller_system, ids, n, &out, &err);
    tomo_db_release(c);
    if (rc < 0)
        return tomo_nk_raise_err(L, "failed to read storage objects", &err);
    push_objects(L, json_object_get(out, "objects"));
    json_decref(out);
    return 1;
}

static int l_storage_write(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t n = lua_objlen(L, 1);
    if (n > MAX_OPS)
        return luaL_argerror(L, 1, "too many objects");
    tomo_storage_write_op *ops = lua_newuserdata(L, (n ? n : 1) * sizeof(*ops));
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (int)i + 1);
        int t = lua_gettop(L);
        if (!lua_istable(L, t))
            return luaL_argerror(L, 1, "expects a table of objects");
        memset(&ops[i], 0, sizeof(ops[i]));
        ops[i].collection = field_str(L, t, "collection", 1, 1);
        ops[i].key = field_str(L, t, "key", 1, 1);
        ops[i].user_id = field_str(L, t, "user_id", 0, 1);
        ops[i].version = field_str(L, t, "version", 0, 1);
        lua_getfield(L, t, "value");
        if (!lua_istable(L, -1))
            return luaL_argerror(L, 1, "expects value to be a table");
        json_t *v = tomo_nk_to_json(L, -1);
        char *txt = json_is_object(v) ? tomo_nk_json_dump(v) : tomo_xstrdup("{}");
        json_decref(v);
        lua_pushstring(L, txt); /* owned by Lua from here */
        free(txt);
        ops[i].value = lua_tostring(L, -1);
        lua_getfield(L, t, "permission_read");
        ops[i].permission_read = lua_isnumber(L, -1) ? lua_tointeger(L, -1) : 1;
        lua_getfield(L, t, "permission_write");
        ops[i].permission_write = lua_isnumber(L, -1) ? lua_tointeger(L, -1) : 1;
    }
    if (n == 0) {
        lua_newtable(L);
        return 1;
    }
    tomo_svc *svc;
    tomo_dbconn *c = NULL;
    acquire(L, &svc, &c, "failed to write storage objects");
    json_t *out = NULL;
    tomo_err err = {0};
    int rc = tomo_svc_storage_write(svc, c, &tomo_caller_system, ops, n, &out, &err);
    tomo_db_release(c);
    if (rc < 0)
        return tomo_nk_raise_err(L, "failed to write storage objects", &err);
    json_t *acks = json_object_get(out, "acks");
    size_t na = json_array_size(acks);
    lua_createtable(L, (int)na, 0);
    for (size_t i = 0; i < na; i++) {
        json_t *a = json_array_get(acks, i);
        lua_createtable(L, 0, 4);
        tomo_nk_pushstr(L, json_string_value(json_object_get(a, "collection")));
        lua_setfield(L, -2, "collection");
        tomo_nk_pushstr(L, json_string_value(json_object_get(a, "key")));
        lua_setfield(L, -2, "key");
        const char *uid = json_string_value(json_object_get(a, "user_id"));
        lua_pushstring(L, uid && *uid ? uid : NIL_UUID);
        lua_setfield(L, -2, "user_id");
        tomo_nk_pushstr(L, json_string_value(json_object_get(a, "version")));
        lua_setfield(L, -2, "version");
        lua_rawseti(L, -2, (int)i + 1);
    }
    json_decref(out);
    return 1;
}

static int l_storage_delete(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t n = lua_objlen(L, 1);
    if (n > MAX_OPS)
        return luaL_argerror(L, 1, "too many objects");
    tomo_storage_id *ids = lua_newuserdata(L, (n ? n : 1) * sizeof(*ids));
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (int)i + 1);
        int t = lua_gettop(L);
        if (!lua_istable(L, t))
            return luaL_argerror(L, 1, "expects a table of object ids");
        memset(&ids[i], 0, sizeof(ids[i]));
        ids[i].collection = field_str(L, t, "collection", 1, 1);
        ids[i].key = field_str(L, t, "key", 1, 1);
        ids[i].user_id = field_str(L, t, "user_id", 0, 1);
        ids[i].version = field_str(L, t, "version", 0, 1);
    }
    if (n == 0)
        return 0;
    tomo_svc *svc;
    tomo_dbconn *c = NULL;
    acquire(L, &svc, &c, "failed to remove storage");
    tomo_err err = {0};
    int rc = tomo_svc_storage_delete(svc, c, &tomo_caller_system, ids, n, &err);
    tomo_db_release(c);
    if (rc < 0)
        return tomo_nk_raise_err(L, "failed to remove storage", &err);
    return 0;
}

static int l_storage_list(lua_State *L)
{
    char owner[37];
    tomo_nk_optuuid(L, 1, owner);
    const char *collection = tomo_nk_optstr(L, 2, "", NULL);
    if (lua_type(L, 3) != LUA_TNUMBER)
        return luaL_argerror(L, 3, "expects limit to be a number");
    lua_Integer limit = lua_tointeger(L, 3);
    if (limit < 0)
        return luaL_argerror(L, 3, "expects limit to be 0 or more");
    const char *cursor = tomo_nk_optstr(L, 4, "", NULL);
    if (limit == 0) {
        lua_newtable(L);
        lua_pushnil(L);
        return 2;
    }
    if (limit > 100)
        limit = 100;
    tomo_svc *svc;
    tomo_dbconn *c = NULL;
    acquire(L, &svc, &c, "failed to list storage objects");
    json_t *out = NULL;
    tomo_err err = {0};
    int rc = tomo_svc_storage_list(svc, c, &tomo_caller_system, collection,
                                   owner[0] ? owner : NULL, limit, cursor, &out, &err);
    tomo_db_release(c);
    if (rc < 0)
        return tomo_nk_raise_err(L, "failed to list storage objects", &err);
    push_objects(L, json_object_get(out, "objects"));
    const char *cur = json_string_value(json_object_get(out, "cursor"));
    if (cur && *cur)
        lua_pushstring(L, cur);
    else
        lua_pushnil(L);
    json_decref(out);
    return 2;
}

void tomo_nk_storage_open(lua_State *L, int nk)
{
    static const luaL_Reg fns[] = {
        {"storage_read", l_storage_read},
        {"storage_write", l_storage_write},
        {"storage_delete", l_storage_delete},
        {"storage_list", l_storage_list},
        {NULL, NULL},
    };
    tomo_nk_register(L, nk, fns);
}
