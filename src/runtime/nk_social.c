/* runtime/nk_social.c: the social graph for Lua (Nakama 3.15 signatures):
 * nk.friends_list/add/delete/block over svc/friend.h and nk.group_create,
 * group_update, group_delete, group_user_join/leave, group_users_add/ban/
 * kick/promote/demote, group_users_list, user_groups_list, groups_list and
 * groups_get_id, groups_get_random over svc/group.h; friends_of_friends_list
 * users_get_friend_status and friend_metadata_update (3.26) over
 * svc/friend.h.
 * Threads: the worker that borrowed the state.
 *
 * The system is the caller except where Nakama's signature names a user to
 * act as (the friends functions' user_id, group_users_*'s caller_id). svc
 * returns protojson shapes; they are turned into Nakama's Lua shapes here
 * (User.user_id, times as unix seconds, metadata as a table, zero values
 * present). Arguments are checked before a connection is taken, and the
 * connection is released before anything can raise. */
#define _GNU_SOURCE
#include "nk_social.h"

#include "nk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../svc/friend.h"
#include "../svc/group.h"
#include "../svc/social.h"
#include "../svc/users.h"

/* ---- shapes ---- */

/* A protojson Group (borrowed) -> Nakama's Lua Group (new reference). */
static json_t *lua_group(const json_t *g)
{
    static const char *const strs[] = {"id",         "creator_id", "name", "description",
                                       "avatar_url", "lang_tag",   NULL};
    static const char *const ints[] = {"edge_count", "max_count", NULL};
    json_t *o = tomo_nk_lua_shape(g, strs, ints);
    if (!json_is_boolean(json_object_get(o, "open")))
        json_object_set_new(o, "open", json_false());
    return o;
}

/* Push a JSON array of protojson Groups (stolen) as Lua Groups; 1. */
static int push_groups(lua_State *L, json_t *groups)
{
    json_t *res = json_array();
    size_t k;
    json_t *g;
    json_array_foreach(groups, k, g)
        json_array_append_new(res, lua_group(g));
    json_decref(groups);
    tomo_nk_push_take(L, res);
    return 1;
}

static long long state_of(const json_t *e)
{
    json_t *s = json_object_get(e, "state");
    if (json_is_object(s))
        s = json_object_get(s, "value");
    return json_is_integer(s) ? (long long)json_integer_value(s) : 0;
}

/* A protojson Friend (borrowed) -> Nakama's Lua Friend {user, state,
 * update_time} (new reference). */
static json_t *lua_friend(const json_t *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "user", tomo_nk_lua_user(json_object_get(f, "user")));
    json_object_set_new(o, "state", json_integer(state_of(f)));
    json_object_set_new(o, "update_time",
                        json_integer(tomo_nk_rfc3339_secs(tomo_json_str(f, "update_time"))));
    /* Nakama 3.26+: the edge's metadata as a table, {} when never set */
    const char *md = tomo_json_str(f, "metadata");
    json_t *mt = md ? json_loads(md, 0, NULL) : NULL;
    json_object_set_new(o, "metadata", json_is_object(mt) ? mt : json_object());
    if (mt && !json_is_object(mt))
        json_decref(mt);
    return o;
}

static void push_cursor(lua_State *L, const json_t *list)
{
    const char *c = tomo_json_str(list, "cursor");
    if (c && *c)
        lua_pushstring(L, c);
    else
        lua_pushnil(L);
}

/* A listing's two results: res (taken) and out's cursor (out freed). */
static int push_page(lua_State *L, json_t *res, json_t *out)
{
    tomo_nk_push_take(L, res);
    push_cursor(L, out);
    json_decref(out);
    return 2;
}

/* ---- arguments ---- */

static int opt_state(lua_State *L, int i, int max)
{
    if (lua_isnoneornil(L, i))
        return -1;
    if (lua_type(L, i) != LUA_TNUMBER)
        luaL_argerror(L, i, "expects state to be a number");
    lua_Integer s = lua_tointeger(L, i);
    if (s < 0 || s > max)
        luaL_argerror(L, i, "expects state to be a valid state");
    return (int)s;
}

static int check_limit(lua_State *L, int i, int def, int max)
{
    lua_Integer l = tomo_nk_optint(L, i, def);
    if (l < 1 || l > max)
        luaL_argerror(L, i, "expects limit to be 1-100");
    return (int)l;
}

static void system_caller(tomo_caller *c)
{
    memset(c, 0, sizeof(*c));
    c->kind = TOMO_CALLER_SYSTEM;
}

/* ---- friends ---- */

static int l_friends_list(lua_State *L)
{
    char uid[37];
    tomo_nk_checkuuid(L, 1, uid);
    int limit = check_limit(L, 2, 100, 100);
    int state = opt_state(L, 3, 3);
    const char *cursor = tomo_nk_optstr(L, 4, "", NULL);
    tomo_svc *svc = tomo_nk_need_svc(L, "friends_list");
    tomo_dbconn *db = tomo_nk_acquire(L, svc, "friends_list");
    tomo_caller caller;
    system_caller(&caller);
    tomo_err err = {0};
    json_t *out = NULL;
    int rc = tomo_svc_friend_list(svc, db, &caller, uid, limit, state, *cursor ? cursor : NULL,
                                  &out, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error listing friends", &err);
    json_t *friends = json_object_get(out, "friends"), *res = json_array();
    size_t k;
    json_t *f;
    json_array_foreach(friends, k, f)
        json_array_append_new(res, lua_friend(f));
    return push_page(L, res, out);
}

typedef int (*friend_op)(tomo_svc *, tomo_dbconn *, const tomo_caller *, const char *,
                         const char *, const tomo_svc_friend_targets *, tomo_err *);

static int friends_change(lua_State *L, friend_op op, const char *fn, const char *prefix)
{
    char uid[37];
    lua_settop(L, 4); /* strs_of pushes above the arguments */
    tomo_nk_checkuuid(L, 1, uid);
    const char *username = tomo_nk_optstr(L, 2, "", NULL);
    tomo_svc_friend_targets t;
    memset(&t, 0, sizeof(t));
    t.ids = tomo_nk_strs(L, 3, &t.n_ids, "expects user ids to be a table of strings");
    t.usernames = tomo_nk_strs(L, 4, &t.n_usernames, "expects usernames to be a table of strings");
    if (!t.n_ids && !t.n_usernames)
        return 0; /* Nakama returns without doing anything */
    tomo_svc *svc = tomo_nk_need_svc(L, fn);
    tomo_dbconn *db = tomo_nk_acquire(L, svc, fn);
    tomo_caller caller;
    system_caller(&caller);
    tomo_err err = {0};
    int rc = op(svc, db, &caller, uid, *username ? username : NULL, &t, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, prefix, &err);
    return 0;
}

static int l_friends_add(lua_State *L)
{
    return friends_change(L, tomo_svc_friend_add, "friends_add", "error adding friends");
}

static int l_friends_delete(lua_State *L)
{
    return friends_change(L, tomo_svc_friend_delete, "friends_delete", "error deleting friends");
}

static int l_friends_block(lua_State *L)
{
    return friends_change(L, tomo_svc_friend_block, "friends_block", "error blocking friends");
}

/* ---- groups ---- */

/* group_create(user_id, name, creator_id?, lang_tag, description, avatar_url,
 * open, metadata, max_count): user_id becomes the superadmin and creator. */
static int l_group_create(lua_State *L)
{
    char uid[37], creator[37];
    tomo_nk_checkuuid(L, 1, uid);
    tomo_svc_group_new in;
    memset(&in, 0, sizeof(in));
    in.name = tomo_nk_checkstr(L, 2, 1, NULL);
    if (tomo_nk_optuuid(L, 3, creator) && strcmp(creator, uid) != 0)
        return luaL_argerror(L, 3, "a creator other than user_id is not supported in tomo");
    in.lang_tag = tomo_nk_optstr(L, 4, "", NULL);
    in.description = tomo_nk_optstr(L, 5, "", NULL);
    in.avatar_url = tomo_nk_optstr(L, 6, "", NULL);
    in.open = tomo_nk_optbool(L, 7, 0);
    lua_Integer mc = tomo_nk_optint(L, 9, 100);
    if (mc < 1)
        return luaL_argerror(L, 9, "expects max_count to be >= 1");
    if (mc > 1000000)
        return luaL_argerror(L, 9, "expects max_count to be at most 1000000");
    in.max_count = (int)mc;
    char *md = tomo_nk_opt_metadata(L, 8); /* last check: nothing raises after it */
    in.metadata = md;
    tomo_svc *svc = tomo_nk_svc(L);
    tomo_dbconn *db = NULL;
    if (!svc || !svc->db || tomo_db_acquire(svc->db, &db) < 0) {
        free(md);
        return tomo_nk_error(L, "group_create: database unavailable");
    }
    tomo_caller caller;
    system_caller(&caller);
    tomo_err err = {0};
    json_t *out = NULL;
    int rc = tomo_svc_group_create(svc, db, &caller, uid, &in, &out, &err);
    tomo_db_release(db);
    free(md);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error creating group", &err);
    tomo_nk_push_take(L, lua_group(out));
    json_decref(out);
    return 1;
}

/* group_update(group_id, user_id?, name, creator_id, lang_tag, description,
 * avatar_url, open?, metadata?, max_count): "", 0 or nil = unchanged. */
static int l_group_update(lua_State *L)
{
    char gid[37], uid[37], creator[37];
    tomo_nk_checkuuid(L, 1, gid);
    tomo_nk_optuuid(L, 2, uid);
    tomo_svc_group_change in;
    memset(&in, 0, sizeof(in));
    in.open = -1;
    const char *s = tomo_nk_optstr(L, 3, "", NULL);
    in.name = *s ? s : NULL;
    if (tomo_nk_optuuid(L, 4, creator))
        return luaL_argerror(L, 4, "changing the creator is not supported in tomo");
    s = tomo_nk_optstr(L, 5, "", NULL);
    in.lang_tag = *s ? s : NULL;
    s = tomo_nk_optstr(L, 6, "", NULL);
    in.description = *s ? s : NULL;
    s = tomo_nk_optstr(L, 7, "", NULL);
    in.avatar_url = *s ? s : NULL;
    if (!lua_isnoneornil(L, 8))
        in.open = tomo_nk_optbool(L, 8, 0);
    lua_Integer mc = tomo_nk_optint(L, 10, 0);
    if (mc < 0 || mc > 1000000)
        return luaL_argerror(L, 10, "expects max_count to be 0-1000000");
    in.max_count = (int)mc;
    char *md = tomo_nk_opt_metadata(L, 9); /* last check */
    in.metadata = md;
    tomo_svc *svc = tomo_nk_svc(L);
    tomo_dbconn *db = NULL;
    if (!svc || !svc->db || tomo_db_acquire(svc->db, &db) < 0) {
        free(md);
        return tomo_nk_error(L, "group_update: database unavailable");
    }
    tomo_caller caller;
    system_caller(&caller);
    tomo_err err = {0};
    int rc = tomo_svc_group_update(svc, db, &caller, gid, &in, &err);
    tomo_db_release(db);
    free(md);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error updating group", &err);
    return 0;
}

static int l_group_delete(lua_State *L)
{
    char gid[37];
    tomo_nk_checkuuid(L, 1, gid);
    tomo_svc *svc = tomo_nk_need_svc(L, "group_delete");
    tomo_dbconn *db = tomo_nk_acquire(L, svc, "group_delete");
    tomo_caller caller;
    system_caller(&caller);
    tomo_err err = {0};
    int rc = tomo_svc_group_delete(svc, db, &caller, gid, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error deleting group", &err);
    return 0;
}

static int join_leave(lua_State *L, int join)
{
    const char *fn = join ? "group_user_join" : "group_user_leave";
    char gid[37], uid[37];
    tomo_nk_checkuuid(L, 1, gid);
    tomo_nk_checkuuid(L, 2, uid);
    const char *username = tomo_nk_checkstr(L, 3, 1, NULL);
    tomo_svc *svc = tomo_nk_need_svc(L, fn);
    tomo_dbconn *db = tomo_nk_acquire(L, svc, fn);
    tomo_caller caller;
    system_caller(&caller);
    tomo_err err = {0};
    int rc = join ? tomo_svc_group_join(svc, db, &caller, gid, uid, username, &err)
                  : tomo_svc_group_leave(svc, db, &caller, gid, uid, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, join ? "error joining group" : "error leaving group", &err);
    return 0;
}

static int l_group_user_join(lua_State *L) { return join_leave(L, 1); }
static int l_group_user_leave(lua_State *L) { return join_leave(L, 0); }

/* group_users_<op>(group_id, user_ids, caller_id?). */
static int users_change(lua_State *L, int op, const char *fn, const char *prefix)
{
    char gid[37], cid[37];
    lua_settop(L, 3); /* strs_of pushes above the arguments */
    tomo_nk_checkuuid(L, 1, gid);
    if (lua_type(L, 2) != LUA_TTABLE)
        return luaL_argerror(L, 2, "expects user_ids to be a table");
    tomo_caller caller;
    system_caller(&caller);
    if (tomo_nk_optuuid(L, 3, cid)) {
        caller.kind = TOMO_CALLER_USER;
        memcpy(caller.user_id, cid, sizeof(caller.user_id));
    }
    size_t n;
    const char **ids = tomo_nk_strs(L, 2, &n, "expects user_ids to be a table of strings");
    for (size_t k = 0; k < n; k++) {
        if (!tomo_uuid_valid(ids[k]))
            return luaL_argerror(L, 2, "expects each user id to be a valid UUID");
        if (!strcmp(ids[k], "00000000-0000-0000-0000-000000000000"))
            return luaL_argerror(L, 2, "cannot add the root user");
    }
    if (!n)
        return 0;
    tomo_svc *svc = tomo_nk_need_svc(L, fn);
    tomo_dbconn *db = tomo_nk_acquire(L, svc, fn);
    tomo_err err = {0};
    int rc = tomo_svc_group_users_change(svc, db, &caller, op, gid, ids, n, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, prefix, &err);
    return 0;
}

static int l_group_users_add(lua_State *L)
{
    return users_change(L, TOMO_GROUP_OP_ADD, "group_users_add", "error adding users to group");
}
static int l_group_users_ban(lua_State *L)
{
    return users_change(L, TOMO_GROUP_OP_BAN, "group_users_ban", "error banning users");
}
static int l_group_users_kick(lua_State *L)
{
    return users_change(L, TOMO_GROUP_OP_KICK, "group_users_kick", "error kicking users");
}
static int l_group_users_promote(lua_State *L)
{
    return users_change(L, TOMO_GROUP_OP_PROMOTE, "group_users_promote",
                        "error promoting users");
}
static int l_group_users_demote(lua_State *L)
{
    return users_change(L, TOMO_GROUP_OP_DEMOTE, "group_users_demote", "error demoting users");
}

static int l_group_users_list(lua_State *L)
{
    char gid[37];
    tomo_nk_checkuuid(L, 1, gid);
    int limit = check_limit(L, 2, 100, 100);
    int state = opt_state(L, 3, 4);
    const char *cursor = tomo_nk_optstr(L, 4, "", NULL);
    tomo_svc *svc = tomo_nk_need_svc(L, "group_users_list");
    tomo_dbconn *db = tomo_nk_acquire(L, svc, "group_users_list");
    tomo_caller caller;
    system_caller(&caller);
    tomo_err err = {0};
    json_t *out = NULL;
    int rc = tomo_svc_group_users_list(svc, db, &caller, gid, limit, state,
                                       *cursor ? cursor : NULL, &out, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error listing users in group", &err);
    json_t *list = json_object_get(out, "group_users"), *res = json_array();
    size_t k;
    json_t *e;
    json_array_foreach(list, k, e)
    {
        json_t *o = json_object();
        json_object_set_new(o, "user", tomo_nk_lua_user(json_object_get(e, "user")));
        json_object_set_new(o, "state", json_integer(state_of(e)));
        json_array_append_new(res, o);
    }
    return push_page(L, res, out);
}

static int l_user_groups_list(lua_State *L)
{
    char uid[37];
    tomo_nk_checkuuid(L, 1, uid);
    int limit = check_limit(L, 2, 100, 100);
    int state = opt_state(L, 3, 4);
    const char *cursor = tomo_nk_optstr(L, 4, "", NULL);
    tomo_svc *svc = tomo_nk_need_svc(L, "user_groups_list");
    tomo_dbconn *db = tomo_nk_acquire(L, svc, "user_groups_list");
    tomo_caller caller;
    system_caller(&caller);
    tomo_err err = {0};
    json_t *out = NULL;
    int rc = tomo_svc_group_user_groups(svc, db, &caller, uid, limit, state,
                                        *cursor ? cursor : NULL, &out, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error listing groups for user", &err);
    json_t *res = json_array();
    size_t k;
    json_t *e;
    json_array_foreach(json_object_get(out, "user_groups"), k, e)
    {
        json_t *o = json_object();
        json_object_set_new(o, "group", lua_group(json_object_get(e, "group")));
        json_object_set_new(o, "state", json_integer(state_of(e)));
        json_array_append_new(res, o);
    }
    return push_page(L, res, out);
}

/* groups_list(name?, lang_tag?, open?, edge_count=-1, limit=100, cursor?). */
static int l_groups_list(lua_State *L)
{
    tomo_svc_group_filter f;
    memset(&f, 0, sizeof(f));
    const char *name = tomo_nk_optstr(L, 1, "", NULL);
    const char *lang = tomo_nk_optstr(L, 2, "", NULL);
    f.name = *name ? name : NULL;
    f.lang_tag = *lang ? lang : NULL;
    f.open = lua_isnoneornil(L, 3) ? -1 : tomo_nk_optbool(L, 3, 0);
    lua_Integer members = tomo_nk_optint(L, 4, -1);
    if (members > 1000000)
        return luaL_argerror(L, 4, "expects edge_count to be at most 1000000");
    f.members = members < 0 ? -1 : (int)members;
    int limit = check_limit(L, 5, 100, 100);
    const char *cursor = tomo_nk_optstr(L, 6, "", NULL);
    tomo_svc *svc = tomo_nk_need_svc(L, "groups_list");
    tomo_dbconn *db = tomo_nk_acquire(L, svc, "groups_list");
    tomo_caller caller;
    system_caller(&caller);
    tomo_err err = {0};
    json_t *out = NULL;
    int rc = tomo_svc_group_list(svc, db, &caller, &f, limit, *cursor ? cursor : NULL, &out,
                                 &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error listing groups", &err);
    json_t *res = json_array();
    size_t k;
    json_t *g;
    json_array_foreach(json_object_get(out, "groups"), k, g)
        json_array_append_new(res, lua_group(g));
    return push_page(L, res, out);
}

static int l_groups_get_id(lua_State *L)
{
    lua_settop(L, 1);
    if (lua_type(L, 1) != LUA_TTABLE)
        return luaL_argerror(L, 1, "expects a table of group ids");
    size_t n;
    const char **ids = tomo_nk_strs(L, 1, &n, "expects a table of group ids");
    if (!n) {
        lua_newtable(L);
        return 1;
    }
    tomo_svc *svc = tomo_nk_need_svc(L, "groups_get_id");
    tomo_dbconn *db = tomo_nk_acquire(L, svc, "groups_get_id");
    tomo_err err = {0};
    json_t *out = NULL;
    int rc = tomo_svc_group_get(db, ids, n, &out, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "failed to get groups", &err);
    return push_groups(L, out);
}

static int l_friends_of_friends_list(lua_State *L)
{
    char uid[37];
    tomo_nk_checkuuid(L, 1, uid);
    int limit = check_limit(L, 2, 100, TOMO_FRIEND_FOF_MAX);
    const char *cursor = tomo_nk_optstr(L, 3, "", NULL);
    tomo_svc *svc = tomo_nk_need_svc(L, "friends_of_friends_list");
    tomo_dbconn *db = tomo_nk_acquire(L, svc, "friends_of_friends_list");
    tomo_caller caller;
    system_caller(&caller);
    tomo_err err = {0};
    json_t *out = NULL;
    int rc = tomo_svc_friend_list_fof(svc, db, &caller, uid, limit, cursor, &out, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error while trying to list friends of friends for a user",
                                 &err);
    json_t *res = json_array();
    size_t k;
    json_t *f;
    json_array_foreach(json_object_get(out, "friends_of_friends"), k, f)
    {
        json_t *o = json_object();
        const char *ref = tomo_json_str(f, "referrer");
        json_object_set_new(o, "referrer", json_string(ref ? ref : ""));
        json_object_set_new(o, "user", tomo_nk_lua_user(json_object_get(f, "user")));
        json_array_append_new(res, o);
    }
    return push_page(L, res, out);
}

static int l_users_get_friend_status(lua_State *L)
{
    char uid[37];
    tomo_nk_checkuuid(L, 1, uid);
    if (lua_type(L, 2) != LUA_TTABLE)
        return luaL_argerror(L, 2, "invalid user ids list");
    size_t n;
    const char **ids = tomo_nk_strs(L, 2, &n, "each user id must be a string");
    for (size_t i = 0; i < n; i++)
        if (!tomo_uuid_valid(ids[i]))
            return luaL_argerror(L, 2, "invalid user id");
    tomo_svc *svc = tomo_nk_need_svc(L, "users_get_friend_status");
    tomo_dbconn *db = tomo_nk_acquire(L, svc, "users_get_friend_status");
    tomo_caller caller;
    system_caller(&caller);
    tomo_err err = {0};
    json_t *out = NULL;
    int rc = tomo_svc_friend_status(svc, db, &caller, uid, ids, n, &out, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "failed to get users friend status", &err);
    json_t *res = json_array();
    size_t k;
    json_t *f;
    json_array_foreach(out, k, f)
    {
        json_array_append_new(res, lua_friend(f));
    }
    json_decref(out);
    tomo_nk_push_take(L, res);
    return 1;
}

/* nk.friend_metadata_update(user_id, friend_user_id, metadata) (Nakama
 * 3.26): the metadata of user_id's edge to the friend; nothing when there is
 * no edge. */
static int l_friend_metadata_update(lua_State *L)
{
    char uid[37], fid[37];
    if (lua_type(L, 1) != LUA_TSTRING || tomo_social_uuid_lower(lua_tostring(L, 1), uid) < 0)
        return luaL_argerror(L, 1, "expects user ID to be a valid identifier");
    if (lua_type(L, 2) != LUA_TSTRING || tomo_social_uuid_lower(lua_tostring(L, 2), fid) < 0)
        return luaL_argerror(L, 2, "expects user ID to be a valid identifier");
    luaL_checktype(L, 3, LUA_TTABLE);
    tomo_svc *svc = tomo_nk_need_svc(L, "friend_metadata_update");
    char *md = tomo_nk_opt_metadata(L, 3); /* last check: nothing raises after it */
    tomo_dbconn *db = NULL;
    if (tomo_db_acquire(svc->db, &db) < 0) {
        free(md);
        return tomo_nk_error(L, "friend_metadata_update: database unavailable");
    }
    tomo_err err = {0};
    int rc = tomo_svc_friend_metadata_update(db, uid, fid, md, &err);
    tomo_db_release(db);
    free(md);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error updating friends metadata", &err);
    return 0;
}

static int l_groups_get_random(lua_State *L)
{
    lua_Integer count = tomo_nk_optint(L, 1, 0);
    if (count < 0 || count > 1000)
        return luaL_argerror(L, 1, "count must be 0-1000");
    tomo_svc *svc = tomo_nk_need_svc(L, "groups_get_random");
    tomo_dbconn *db = tomo_nk_acquire(L, svc, "groups_get_random");
    tomo_err err = {0};
    json_t *out = NULL;
    int rc = tomo_svc_group_random(db, (int)count, &out, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "failed to get groups", &err);
    return push_groups(L, out);
}

void tomo_nk_social_open(lua_State *L, int nk)
{
    static const luaL_Reg fns[] = {
        {"friends_list", l_friends_list},
        {"friends_add", l_friends_add},
        {"friends_delete", l_friends_delete},
        {"friends_block", l_friends_block},
        {"group_create", l_group_create},
        {"group_update", l_group_update},
        {"group_delete", l_group_delete},
        {"group_user_join", l_group_user_join},
        {"group_user_leave", l_group_user_leave},
        {"group_users_add", l_group_users_add},
        {"group_users_ban", l_group_users_ban},
        {"group_users_kick", l_group_users_kick},
        {"group_users_promote", l_group_users_promote},
        {"group_users_demote", l_group_users_demote},
        {"group_users_list", l_group_users_list},
        {"user_groups_list", l_user_groups_list},
        {"groups_list", l_groups_list},
        {"groups_get_id", l_groups_get_id},
        {"groups_get_random", l_groups_get_random},
        {"friends_of_friends_list", l_friends_of_friends_list},
        {"users_get_friend_status", l_users_get_friend_status},
        {"friend_metadata_update", l_friend_metadata_update},
        {NULL, NULL},
    };
    tomo_nk_register(L, nk, fns);
}
