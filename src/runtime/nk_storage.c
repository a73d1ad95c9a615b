/* runtime/nk_storage.c: nk.storage_read / write / delete / list and
 * multi_update (accounts, storage and wallets in one transaction) over
 * svc/storage.h as the system caller (any owner, permissions not applied to
 * the runtime, as Nakama). Objects come back as Nakama's Lua shape: value
 * decoded to a table, times in unix seconds, the system owner as the nil
 * UUID. */
#define _GNU_SOURCE
#include "runtime_int.h"

#include "../core/common.h"
#include "../svc/account.h"
#include "../svc/storage.h"
#include "../svc/wallet.h"

#include <uuid/uuid.h>

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

/* Keep the value on the stack top alive in the anchor table (popping it):
 * Lua never moves a string, so its text stays valid while anchored. */
static void anchor_top(lua_State *L, int anchor)
{
    lua_rawseti(L, anchor, (int)lua_objlen(L, anchor) + 1);
}

/* The table on the stack top (popped) as JSON object text (an array-like
 * or empty table: {}), anchored. */
static const char *anchor_object_text(lua_State *L, int anchor)
{
    json_t *v = tomo_nk_to_json(L, -1);
    lua_pop(L, 1);
    char *txt = json_is_object(v) ? tomo_nk_json_dump(v) : tomo_xstrdup("{}");
    json_decref(v);
    lua_pushstring(L, txt);
    free(txt);
    const char *s = lua_tostring(L, -1);
    anchor_top(L, anchor);
    return s;
}

/* A string field of the table at t (numbers coerced), anchored; NULL when
 * nil. A non-string raises, as does an empty or missing required one. */
static const char *field_str(lua_State *L, int t, int anchor, const char *k, int required,
                             int argi)
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
    anchor_top(L, anchor);
    return s;
}

/* The array of tables at arg (nil/none: none when optional) as a batch of
 * n items of size bytes in a userdata anchored with its strings in a table
 * left on the stack (one slot per batch, whatever its size); each element
 * table is handed to fill(L, t, anchor, item, arg). */
typedef void (*item_fill)(lua_State *L, int t, int anchor, void *item, int arg);
static void *batch(lua_State *L, int arg, int optional, size_t size, item_fill fill, size_t *n,
                   const char *what)
{
    *n = 0;
    if (optional && lua_isnoneornil(L, arg))
        return NULL;
    luaL_checktype(L, arg, LUA_TTABLE);
    size_t len = lua_objlen(L, arg);
    if (len > MAX_OPS)
        luaL_argerror(L, arg, "too many objects");
    lua_newtable(L);
    int anchor = lua_gettop(L);
    char *items = lua_newuserdata(L, (len ? len : 1) * size);
    memset(items, 0, (len ? len : 1) * size);
    anchor_top(L, anchor);
    for (size_t i = 0; i < len; i++) {
        lua_rawgeti(L, arg, (int)i + 1);
        if (!lua_istable(L, -1))
            luaL_argerror(L, arg, what);
        fill(L, lua_gettop(L), anchor, items + i * size, arg);
        lua_pop(L, 1);
    }
    *n = len; /* the anchor table stays on the stack until the call returns */
    return items;
}

static void fill_id(lua_State *L, int t, int anchor, void *item, int arg)
{
    tomo_storage_id *id = item;
    id->collection = field_str(L, t, anchor, "collection", 1, arg);
    id->key = field_str(L, t, anchor, "key", 1, arg);
    id->user_id = field_str(L, t, anchor, "user_id", 0, arg);
    id->version = field_str(L, t, anchor, "version", 0, arg);
}

static void fill_write(lua_State *L, int t, int anchor, void *item, int arg)
{
    tomo_storage_write_op *op = item;
    op->collection = field_str(L, t, anchor, "collection", 1, arg);
    op->key = field_str(L, t, anchor, "key", 1, arg);
    op->user_id = field_str(L, t, anchor, "user_id", 0, arg);
    op->version = field_str(L, t, anchor, "version", 0, arg);
    lua_getfield(L, t, "value");
    if (!lua_istable(L, -1))
        luaL_argerror(L, arg, "expects value to be a table");
    op->value = anchor_object_text(L, anchor);
    lua_getfield(L, t, "permission_read");
    op->permission_read = lua_isnumber(L, -1) ? lua_tointeger(L, -1) : 1;
    lua_getfield(L, t, "permission_write");
    op->permission_write = lua_isnumber(L, -1) ? lua_tointeger(L, -1) : 1;
    lua_pop(L, 2);
}

/* Push StorageObjectAcks' acks as Nakama's Lua acks. */
static void push_acks(lua_State *L, json_t *out)
{
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
}

static int acquire(lua_State *L, tomo_svc **svc, tomo_dbconn **c, const char *what)
{
    *svc = tomo_nk_need_svc(L, what);
    *c = tomo_nk_acquire(L, *svc, what);
    return 0;
}

static int l_storage_read(lua_State *L)
{
    size_t n;
    tomo_storage_id *ids = batch(L, 1, 0, sizeof(*ids), fill_id, &n, "expects a table of object ids");
    if (n == 0) {
        lua_newtable(L);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        ids[i].version = NULL; /* a read takes no version */
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
    size_t n;
    tomo_storage_write_op *ops = batch(L, 1, 0, sizeof(*ops), fill_write, &n,
                                       "expects a table of objects");
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
    push_acks(L, out);
    json_decref(out);
    return 1;
}

static int l_storage_delete(lua_State *L)
{
    size_t n;
    tomo_storage_id *ids = batch(L, 1, 0, sizeof(*ids), fill_id, &n, "expects a table of object ids");
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


/* ---- multi_update ---- */

/* A user_id field that must be a UUID (into out). */
static void field_uuid(lua_State *L, int t, int arg, char out[37])
{
    lua_getfield(L, t, "user_id");
    uuid_t u;
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_argerror(L, arg, "expects user_id to be string");
    if (uuid_parse(lua_tostring(L, -1), u) != 0)
        luaL_argerror(L, arg, "expects user_id to be a valid ID");
    uuid_unparse_lower(u, out);
    lua_pop(L, 1);
}

/* An optional metadata table field as JSON object text, anchored. */
static const char *field_metadata(lua_State *L, int t, int anchor, int arg)
{
    lua_getfield(L, t, "metadata");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (!lua_istable(L, -1))
        luaL_argerror(L, arg, "expects metadata to be table");
    return anchor_object_text(L, anchor);
}

typedef struct multi_account {
    tomo_multi_account m;
    tomo_account_update u;
    char id[37];
} multi_account;

static void fill_account(lua_State *L, int t, int anchor, void *item, int arg)
{
    multi_account *a = item;
    field_uuid(L, t, arg, a->id);
    a->m.user_id = a->id;
    a->m.update = &a->u;
    a->u.username = field_str(L, t, anchor, "username", 0, arg);
    if (a->u.username && !*a->u.username)
        a->u.username = NULL; /* Nakama: "" leaves the username */
    a->u.display_name = field_str(L, t, anchor, "display_name", 0, arg);
    a->u.timezone = field_str(L, t, anchor, "timezone", 0, arg);
    a->u.location = field_str(L, t, anchor, "location", 0, arg);
    a->u.lang_tag = field_str(L, t, anchor, "lang_tag", 0, arg);
    a->u.avatar_url = field_str(L, t, anchor, "avatar_url", 0, arg);
    a->u.metadata = field_metadata(L, t, anchor, arg);
}

typedef struct multi_wallet {
    tomo_wallet_change c;
    char id[37];
    int slot; /* the changeset table's place in the anchor table */
} multi_wallet;

static void fill_wallet(lua_State *L, int t, int anchor, void *item, int arg)
{
    multi_wallet *w = item;
    field_uuid(L, t, arg, w->id);
    w->c.user_id = w->id;
    lua_getfield(L, t, "changeset");
    if (!lua_istable(L, -1))
        luaL_argerror(L, arg, "expects changeset to be supplied");
    json_decref(tomo_nk_changeset(L, lua_gettop(L))); /* checked now, converted later */
    w->slot = (int)lua_objlen(L, anchor) + 1;
    anchor_top(L, anchor);
    w->c.metadata = field_metadata(L, t, anchor, arg);
}

/* Arg 3 of a 3.27+ call (storage deletes) rather than 3.15's wallets: its
 * first element names a collection and no changeset. */
static int deletes_at(lua_State *L, int i)
{
    if (!lua_istable(L, i) || lua_objlen(L, i) == 0)
        return 0;
    lua_rawgeti(L, i, 1);
    int t = lua_gettop(L), yes = 0;
    if (lua_istable(L, t)) {
        lua_getfield(L, t, "collection");
        lua_getfield(L, t, "changeset");
        yes = !lua_isnil(L, -2) && lua_isnil(L, -1);
    }
    lua_settop(L, t - 1);
    return yes;
}

/* nk.multi_update(accounts?, writes?, wallets?, update_ledger=false) (3.15)
 * or (accounts?, writes?, deletes?, wallets?, update_ledger=false) (3.27+):
 * one transaction. Returns acks or nil, wallet results or nil. */
static int l_multi_update(lua_State *L)
{
    int v327 = lua_gettop(L) >= 5 || lua_type(L, 4) == LUA_TTABLE || deletes_at(L, 3);
    int iw = v327 ? 4 : 3;
    int ledger = tomo_nk_optbool(L, iw + 1, 0);
    lua_settop(L, 5); /* the batches' anchors go above the arguments */
    tomo_multi_update m = {0};
    size_t na, nw;
    multi_account *accts = batch(L, 1, 1, sizeof(*accts), fill_account, &na,
                                 "expects a valid set of account update data");
    m.writes = batch(L, 2, 1, sizeof(tomo_storage_write_op), fill_write, &m.nwrites,
                     "expects a valid set of storage data");
    if (v327)
        m.deletes = batch(L, 3, 1, sizeof(tomo_storage_id), fill_id, &m.ndeletes,
                          "expects a valid set of storage deletes");
    multi_wallet *wal = batch(L, iw, 1, sizeof(*wal), fill_wallet, &nw,
                              "expects a valid set of updates");
    int wanchor = lua_gettop(L);
    /* Nothing raises from here on. */
    tomo_multi_account *ma = lua_newuserdata(L, (na ? na : 1) * sizeof(*ma));
    for (size_t i = 0; i < na; i++)
        ma[i] = accts[i].m;
    tomo_wallet_change *wc = lua_newuserdata(L, (nw ? nw : 1) * sizeof(*wc));
    for (size_t i = 0; i < nw; i++) {
        wc[i] = wal[i].c;
        lua_rawgeti(L, wanchor, wal[i].slot);
        wc[i].changeset = tomo_nk_to_json(L, -1);
        if (!json_is_object(wc[i].changeset)) { /* an empty table */
            json_decref(wc[i].changeset);
            wc[i].changeset = json_object();
        }
        lua_pop(L, 1);
    }
    m.accounts = ma;
    m.naccounts = na;
    m.wallets = wc;
    m.nwallets = nw;
    m.update_ledger = ledger;
    tomo_svc *svc = tomo_nk_svc(L);
    tomo_dbconn *c = NULL;
    json_t *acks = NULL, *results = NULL;
    tomo_err err = {0};
    int rc;
    if (!svc || !svc->db || tomo_db_acquire(svc->db, &c) < 0)
        rc = tomo_err_set(&err, TOMO_GRPC_UNAVAILABLE, "database unavailable");
    else
        rc = tomo_svc_multi_update(svc, c, &tomo_caller_system, &m, &acks, &results, &err);
    tomo_db_release(c);
    for (size_t i = 0; i < nw; i++)
        json_decref(wc[i].changeset);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error running multi update", &err);
    if (acks)
        push_acks(L, acks);
    else
        lua_pushnil(L);
    if (json_array_size(results))
        tomo_nk_push_json(L, results);
    else
        lua_pushnil(L);
    json_decref(acks);
    json_decref(results);
    return 2;
}

void tomo_nk_storage_open(lua_State *L, int nk)
{
    static const luaL_Reg fns[] = {
        {"storage_read", l_storage_read},
        {"storage_write", l_storage_write},
        {"storage_delete", l_storage_delete},
        {"storage_list", l_storage_list},
        {"multi_update", l_multi_update},
        {NULL, NULL},
    };
    tomo_nk_register(L, nk, fns);
}
