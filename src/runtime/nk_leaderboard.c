/* runtime/nk_leaderboard.c: nk.leaderboard_* and nk.tournament_* (Nakama
 * 3.15 Lua signatures) over svc/leaderboard.h and svc/tournament.h, the
 * reset and end hooks (register_leaderboard_reset, register_tournament_reset,
 * register_tournament_end) wired into the leaderboard scheduler, and
 * nk.cron_next / nk.cron_prev over core/cron.h.
 * Threads: the worker that borrowed the state; hooks on the scheduler
 *          thread (tomo_runtime_callback borrows a state there).
 *
 * Every function reads and checks its arguments first (a Lua error then
 * leaks nothing), runs the svc call with a connection it releases before
 * anything can raise, builds the result as JSON and pushes it. */
#define _GNU_SOURCE
#include "nk_leaderboard.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/common.h"
#include "../core/cron.h"
#include "../svc/leaderboard.h"
#include "../svc/tournament.h"
#include "nk.h"

/* ---- shapes (JSON, pushed as Lua tables) ---- */

static const char *op_name(int op)
{
    static const char *const names[] = {"best", "set", "increment", "decrement"};
    return op >= 0 && op <= 3 ? names[op] : "best";
}

static json_t *parse_md(const char *md)
{
    json_t *j = md ? json_loads(md, JSON_DECODE_ANY, NULL) : NULL;
    return j ? j : json_object();
}

static json_t *record_json(const tomo_lb_record *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "leaderboard_id", json_string(r->leaderboard_id));
    json_object_set_new(o, "owner_id", json_string(r->owner_id));
    if (r->username)
        json_object_set_new(o, "username", json_string(r->username));
    json_object_set_new(o, "score", json_integer(r->score));
    json_object_set_new(o, "subscore", json_integer(r->subscore));
    json_object_set_new(o, "num_score", json_integer(r->num_score));
    json_object_set_new(o, "max_num_score", json_integer(r->max_num_score));
    json_object_set_new(o, "metadata", parse_md(r->metadata));
    json_object_set_new(o, "create_time", json_integer(r->create_time / 1000));
    json_object_set_new(o, "update_time", json_integer(r->update_time / 1000));
    if (r->expiry_time)
        json_object_set_new(o, "expiry_time", json_integer(r->expiry_time));
    json_object_set_new(o, "rank", json_integer(r->rank));
    return o;
}

static json_t *records_json(const tomo_lb_record *r, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, record_json(&r[i]));
    return a;
}

/* strings: the reset hook's shape (prev/next reset as strings). */
static json_t *board_json(const tomo_lb_board *b, int64_t now, int strings)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(b->id));
    json_object_set_new(o, "authoritative", json_boolean(b->authoritative));
    json_object_set_new(o, "operator", json_string(op_name(b->op)));
    json_object_set_new(o, "sort_order", json_string(b->sort_order ? "1" : "0"));
    json_object_set_new(o, "metadata", parse_md(b->metadata));
    json_object_set_new(o, "create_time", json_integer(b->create_time / 1000));
    int64_t next = tomo_lb_board_expiry(b, now), prev = tomo_lb_board_prev_reset(b, now);
    if (next) {
        char *s = tomo_xasprintf("%lld", (long long)next);
        json_object_set_new(o, "next_reset", strings ? json_string(s) : json_integer(next));
        free(s);
    }
    if (prev) {
        /* Nakama keeps the previous reset under the key "" (through 3.40) */
        char *s = tomo_xasprintf("%lld", (long long)prev);
        json_object_set_new(o, strings ? "prev_reset" : "", strings ? json_string(s)
                                                                    : json_integer(prev));
        free(s);
    }
    return o;
}

static json_t *tournament_json(const tomo_tournament_info *t, int with_start_active)
{
    const tomo_lb_board *b = &t->b;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(b->id));
    json_object_set_new(o, "title", json_string(b->title));
    json_object_set_new(o, "description", json_string(b->description));
    json_object_set_new(o, "category", json_integer(b->category));
    json_object_set_new(o, "sort_order", json_string(b->sort_order ? "1" : "0"));
    json_object_set_new(o, "size", json_integer(t->size));
    json_object_set_new(o, "max_size", json_integer(b->max_size));
    json_object_set_new(o, "max_num_score", json_integer(b->max_num_score));
    json_object_set_new(o, "duration", json_integer(b->duration));
    if (with_start_active)
        json_object_set_new(o, "start_active", json_integer(t->start_active));
    json_object_set_new(o, "end_active", json_integer(t->end_active));
    json_object_set_new(o, "can_enter", json_boolean(t->can_enter));
    if (t->next_reset)
        json_object_set_new(o, "next_reset", json_integer(t->next_reset));
    if (t->prev_reset)
        json_object_set_new(o, "prev_reset", json_integer(t->prev_reset));
    json_object_set_new(o, "metadata", parse_md(b->metadata));
    json_object_set_new(o, "create_time", json_integer(b->create_time / 1000));
    json_object_set_new(o, "start_time", json_integer(b->start_time));
    if (b->end_time)
        json_object_set_new(o, "end_time", json_integer(b->end_time));
    json_object_set_new(o, "operator", json_string(op_name(b->op)));
    json_object_set_new(o, "authoritative", json_boolean(b->authoritative));
    json_object_set_new(o, "join_required", json_boolean(b->join_required));
    return o;
}

/* ---- argument helpers ---- */

static tomo_svc *need_svc(lua_State *L, const char *fn)
{
    tomo_svc *svc = tomo_nk_svc(L);
    if (!svc || !svc->db || !svc->lb)
        tomo_nk_error(L, "%s: leaderboards are not available", fn);
    return svc;
}

static int check_sort(lua_State *L, int i)
{
    const char *s = tomo_nk_optstr(L, i, "desc", NULL);
    if (!strcasecmp(s, "asc") || !strcasecmp(s, "ascending"))
        return TOMO_LB_ASC;
    if (!strcasecmp(s, "desc") || !strcasecmp(s, "descending"))
        return TOMO_LB_DESC;
    luaL_argerror(L, i, "expects sort order to be 'asc' or 'desc'");
    return 0;
}

static int check_op(lua_State *L, int i)
{
    const char *s = tomo_nk_optstr(L, i, "best", NULL);
    if (!strcasecmp(s, "best"))
        return TOMO_LB_OP_BEST;
    if (!strcasecmp(s, "set"))
        return TOMO_LB_OP_SET;
    if (!strcasecmp(s, "incr") || !strcasecmp(s, "increment"))
        return TOMO_LB_OP_INCR;
    if (!strcasecmp(s, "decr") || !strcasecmp(s, "decrement"))
        return TOMO_LB_OP_DECR;
    luaL_argerror(L, i, "expects operator to be 'best', 'set', 'decr' or 'incr'");
    return 0;
}

/* Leaderboard write override: best, set, incr, decr (nil = none). */
static int check_override(lua_State *L, int i)
{
    if (lua_isnoneornil(L, i))
        return TOMO_LB_OVERRIDE_NONE;
    const char *s = tomo_nk_checkstr(L, i, 0, NULL);
    if (!*s)
        return TOMO_LB_OVERRIDE_NONE;
    if (!strcasecmp(s, "best"))
        return TOMO_LB_OVERRIDE_BEST;
    if (!strcasecmp(s, "set"))
        return TOMO_LB_OVERRIDE_SET;
    if (!strcasecmp(s, "incr") || !strcasecmp(s, "increment"))
        return TOMO_LB_OVERRIDE_INCR;
    if (!strcasecmp(s, "decr") || !strcasecmp(s, "decrement"))
        return TOMO_LB_OVERRIDE_DECR;
    luaL_argerror(L, i, "expects override to be 'best', 'set', 'decr' or 'incr'");
    return 0;
}

/* Tournament write override: the enum names in any case. */
static int check_t_override(lua_State *L, int i)
{
    static const char *const names[] = {"no_override", "best", "set", "increment", "decrement"};
    if (lua_isnoneornil(L, i))
        return TOMO_LB_OVERRIDE_NONE;
    const char *s = tomo_nk_checkstr(L, i, 0, NULL);
    for (int k = 0; k < 5; k++)
        if (!strcasecmp(s, names[k]))
            return k;
    luaL_argerror(L, i, "expects override to be a valid operator");
    return 0;
}

/* Optional array of UUID strings: ids[] into a malloc'd block (37 each). */
static char (*opt_ids(lua_State *L, int i, size_t *n))[37]
{
    *n = 0;
    if (lua_isnoneornil(L, i))
        return NULL;
    luaL_checktype(L, i, LUA_TTABLE);
    size_t len = lua_objlen(L, i);
    if (len > 10000)
        luaL_argerror(L, i, "too many owner IDs");
    for (size_t k = 1; k <= len; k++) {
        lua_rawgeti(L, i, (int)k);
        const char *s = lua_tostring(L, -1);
        if (lua_type(L, -1) != LUA_TSTRING || !s || strlen(s) != 36)
            luaL_argerror(L, i, "expects each owner ID to be a valid identifier");
        lua_pop(L, 1);
    }
    char (*ids)[37] = tomo_xcalloc(len ? len : 1, 37);
    for (size_t k = 1; k <= len; k++) {
        lua_rawgeti(L, i, (int)k);
        memcpy(ids[k - 1], lua_tostring(L, -1), 36);
        lua_pop(L, 1);
    }
    *n = len;
    return ids;
}

/* ---- leaderboards ---- */

static int l_leaderboard_create(lua_State *L)
{
    tomo_svc *svc = need_svc(L, "leaderboard_create");
    tomo_lb_create in;
    memset(&in, 0, sizeof(in));
    in.id = tomo_nk_checkstr(L, 1, 1, NULL);
    in.authoritative = tomo_nk_optbool(L, 2, 0);
    in.sort_order = check_sort(L, 3);
    in.op = check_op(L, 4);
    in.reset_schedule = tomo_nk_optstr(L, 5, "", NULL);
    char *md = tomo_nk_opt_metadata(L, 6);
    in.metadata = md;
    tomo_dbconn *db = NULL;
    tomo_err err = {0};
    int created;
    int rc = tomo_db_acquire(svc->db, &db);
    if (rc == 0)
        rc = tomo_svc_leaderboard_create(svc, db, &in, &created, &err);
    else
        tomo_err_set(&err, TOMO_GRPC_UNAVAILABLE, "database unavailable");
    tomo_db_release(db);
    free(md);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error creating leaderboard", &err);
    return 0;
}

static int l_leaderboard_delete(lua_State *L)
{
    tomo_svc *svc = need_svc(L, "leaderboard_delete");
    const char *id = tomo_nk_checkstr(L, 1, 1, NULL);
    tomo_dbconn *db;
    db = tomo_nk_acquire(L, svc, "leaderboard_delete");
    tomo_err err = {0};
    int rc = tomo_svc_leaderboard_delete(svc, db, id, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error deleting leaderboard", &err);
    return 0;
}

/* leaderboard_list(category_start, category_end, limit=10, cursor?): the
 * plain boards by id; the cursor is the last id returned. */
static int l_leaderboard_list(lua_State *L)
{
    tomo_svc *svc = need_svc(L, "leaderboard_list");
    lua_Integer limit = tomo_nk_optint(L, 3, 10);
    if (limit < 1 || limit > 100)
        luaL_argerror(L, 3, "limit must be 1-100");
    const char *cursor = tomo_nk_optstr(L, 4, "", NULL);
    tomo_lb_board *all = NULL;
    size_t n = 0;
    int rc = tomo_svc_leaderboard_all(svc, NULL, 0, &all, &n);
    if (rc < 0)
        return tomo_nk_error(L, "error listing leaderboards: database unavailable");
    int64_t now = tomo_now_sec();
    json_t *arr = json_array();
    const char *last = NULL;
    size_t k = 0, i = 0;
    if (*cursor)
        while (i < n && strcmp(all[i].id, cursor) <= 0)
            i++;
    for (; i < n && k < (size_t)limit; i++, k++) {
        json_array_append_new(arr, board_json(&all[i], now, 0));
        last = all[i].id;
    }
    char *next = i < n && last ? tomo_xstrdup(last) : NULL;
    for (size_t j = 0; j < n; j++)
        tomo_lb_board_clear(&all[j]);
    free(all);
    tomo_nk_push_take(L, arr);
    tomo_nk_pushstr(L, next);
    free(next);
    return 2;
}

static int l_leaderboards_get_id(lua_State *L)
{
    tomo_svc *svc = need_svc(L, "leaderboards_get_id");
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t n = lua_objlen(L, 1);
    json_t *arr = json_array();
    int64_t now = tomo_now_sec();
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, (int)i);
        const char *id = lua_tostring(L, -1);
        tomo_lb_board b;
        if (id && tomo_svc_leaderboard_get(svc, NULL, id, &b) == 0) {
            json_array_append_new(arr, board_json(&b, now, 0));
            tomo_lb_board_clear(&b);
        }
        lua_pop(L, 1);
    }
    tomo_nk_push_take(L, arr);
    return 1;
}

typedef int (*list_fn)(tomo_svc *, tomo_dbconn *, const char *, const tomo_lb_list *,
                       tomo_lb_record_list *, tomo_err *);

/* (id, owner_ids?, limit=0, cursor?, expiry=0) -> records, owner_records,
 * next_cursor, prev_cursor[, rank_count] */
static int records_list(lua_State *L, list_fn fn, const char *name, int nret)
{
    tomo_svc *svc = need_svc(L, name);
    const char *id = tomo_nk_checkstr(L, 1, 1, NULL);
    lua_Integer limit = tomo_nk_optint(L, 3, 0);
    if (limit < 0 || limit > 10000)
        luaL_argerror(L, 3, "expects limit to be 0-10000");
    const char *cursor = tomo_nk_optstr(L, 4, "", NULL);
    lua_Integer expiry = tomo_nk_optint(L, 5, 0);
    size_t nids;
    char(*ids)[37] = opt_ids(L, 2, &nids);
    const char **ptrs = tomo_xcalloc(nids + 1, sizeof(*ptrs));
    for (size_t i = 0; i < nids; i++)
        ptrs[i] = ids[i];
    tomo_lb_list req = {ptrs, nids, (int)limit, cursor, expiry};
    tomo_dbconn *db = NULL;
    tomo_err err = {0};
    tomo_lb_record_list l;
    memset(&l, 0, sizeof(l));
    int rc = tomo_db_acquire(svc->db, &db);
    if (rc == 0)
        rc = fn(svc, db, id, &req, &l, &err);
    else
        tomo_err_set(&err, TOMO_GRPC_UNAVAILABLE, "database unavailable");
    tomo_db_release(db);
    free(ptrs);
    free(ids);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error listing leaderboard records", &err);
    json_t *recs = records_json(l.records, l.n), *owners = records_json(l.owner_records,
                                                                         l.n_owner);
    char *next = l.next_cursor ? tomo_xstrdup(l.next_cursor) : NULL;
    char *prev = l.prev_cursor ? tomo_xstrdup(l.prev_cursor) : NULL;
    int64_t count = l.rank_count;
    tomo_lb_record_list_clear(&l);
    tomo_nk_push_take(L, recs);
    tomo_nk_push_take(L, owners);
    tomo_nk_pushstr(L, next);
    tomo_nk_pushstr(L, prev);
    free(next);
    free(prev);
    if (nret == 5)
        lua_pushnumber(L, (lua_Number)count);
    return nret;
}

static int l_leaderboard_records_list(lua_State *L)
{
    return records_list(L, tomo_svc_leaderboard_records_list, "leaderboard_records_list", 4);
}

static int l_tournament_records_list(lua_State *L)
{
    return records_list(L, tomo_svc_tournament_records_list, "tournament_records_list", 5);
}

typedef int (*write_fn)(tomo_svc *, tomo_dbconn *, const tomo_caller *, const char *,
                        const tomo_lb_write *, tomo_lb_record *, tomo_err *);

/* (id, owner_id, username?, score=0, subscore=0, metadata?, override?) */
static int record_write(lua_State *L, int tournament)
{
    const char *name = tournament ? "tournament_record_write" : "leaderboard_record_write";
    tomo_svc *svc = need_svc(L, name);
    const char *id = tomo_nk_checkstr(L, 1, 1, NULL);
    char owner[37];
    tomo_nk_checkuuid(L, 2, owner);
    tomo_lb_write w;
    memset(&w, 0, sizeof(w));
    w.owner_id = owner;
    w.username = tomo_nk_optstr(L, 3, "", NULL);
    w.score = tomo_nk_optint(L, 4, 0);
    w.subscore = tomo_nk_optint(L, 5, 0);
    w.override = tournament ? check_t_override(L, 7) : check_override(L, 7);
    char *md = tomo_nk_opt_metadata(L, 6);
    w.metadata = md;
    tomo_dbconn *db = NULL;
    tomo_err err = {0};
    tomo_lb_record r;
    memset(&r, 0, sizeof(r));
    int rc = tomo_db_acquire(svc->db, &db);
    if (rc == 0)
        rc = (tournament ? (write_fn)tomo_svc_tournament_record_write
                         : (write_fn)tomo_svc_leaderboard_record_write)(
            svc, db, &tomo_caller_system, id, &w, &r, &err);
    else
        tomo_err_set(&err, TOMO_GRPC_UNAVAILABLE, "database unavailable");
    tomo_db_release(db);
    free(md);
    if (rc < 0)
        return tomo_nk_raise_err(L, tournament ? "error writing tournament record"
                                               : "error writing leaderboard record",
                                 &err);
    json_t *j = record_json(&r);
    tomo_lb_record_clear(&r);
    tomo_nk_push_take(L, j);
    return 1;
}

static int l_leaderboard_record_write(lua_State *L)
{
    return record_write(L, 0);
}

static int l_tournament_record_write(lua_State *L)
{
    return record_write(L, 1);
}

typedef int (*around_fn)(tomo_svc *, tomo_dbconn *, const char *, const char *, int, const char *,
                         int64_t, tomo_lb_record_list *, tomo_err *);

/* (id, owner_id, limit=10, cursor?, expiry=0) -> records, next, prev */
static int haystack(lua_State *L, around_fn fn, const char *name)
{
    tomo_svc *svc = need_svc(L, name);
    const char *id = tomo_nk_checkstr(L, 1, 1, NULL);
    char owner[37];
    tomo_nk_checkuuid(L, 2, owner);
    lua_Integer limit = tomo_nk_optint(L, 3, 10);
    if (limit < 1 || limit > 100)
        luaL_argerror(L, 3, "expects limit to be 1-100");
    const char *cursor = tomo_nk_optstr(L, 4, "", NULL);
    lua_Integer expiry = tomo_nk_optint(L, 5, 0);
    tomo_dbconn *db = NULL;
    tomo_err err = {0};
    tomo_lb_record_list l;
    memset(&l, 0, sizeof(l));
    int rc = tomo_db_acquire(svc->db, &db);
    if (rc == 0)
        rc = fn(svc, db, id, owner, (int)limit, cursor, expiry, &l, &err);
    else
        tomo_err_set(&err, TOMO_GRPC_UNAVAILABLE, "database unavailable");
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error listing records", &err);
    json_t *recs = records_json(l.records, l.n);
    char *next = l.next_cursor ? tomo_xstrdup(l.next_cursor) : NULL;
    char *prev = l.prev_cursor ? tomo_xstrdup(l.prev_cursor) : NULL;
    tomo_lb_record_list_clear(&l);
    tomo_nk_push_take(L, recs);
    tomo_nk_pushstr(L, next);
    tomo_nk_pushstr(L, prev);
    free(next);
    free(prev);
    return 3;
}

static int l_leaderboard_records_haystack(lua_State *L)
{
    return haystack(L, tomo_svc_leaderboard_records_around_owner, "leaderboard_records_haystack");
}

static int l_tournament_records_haystack(lua_State *L)
{
    return haystack(L, tomo_svc_tournament_records_around_owner, "tournament_records_haystack");
}

typedef int (*delete_fn)(tomo_svc *, tomo_dbconn *, const tomo_caller *, const char *,
                         const char *, tomo_err *);

static int record_delete(lua_State *L, delete_fn fn, const char *name)
{
    tomo_svc *svc = need_svc(L, name);
    const char *id = tomo_nk_checkstr(L, 1, 1, NULL);
    char owner[37];
    tomo_nk_checkuuid(L, 2, owner);
    tomo_dbconn *db;
    db = tomo_nk_acquire(L, svc, name);
    tomo_err err = {0};
    int rc = fn(svc, db, &tomo_caller_system, id, owner, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error deleting record", &err);
    return 0;
}

static int l_leaderboard_record_delete(lua_State *L)
{
    return record_delete(L, tomo_svc_leaderboard_record_delete, "leaderboard_record_delete");
}

static int l_tournament_record_delete(lua_State *L)
{
    return record_delete(L, tomo_svc_tournament_record_delete, "tournament_record_delete");
}

/* ---- tournaments ---- */

static int l_tournament_create(lua_State *L)
{
    tomo_svc *svc = need_svc(L, "tournament_create");
    tomo_lb_create in;
    memset(&in, 0, sizeof(in));
    in.id = tomo_nk_checkstr(L, 1, 1, NULL);
    in.authoritative = tomo_nk_optbool(L, 2, 1);
    in.sort_order = check_sort(L, 3);
    in.op = check_op(L, 4);
    in.duration = tomo_nk_optint(L, 5, 0);
    if (in.duration <= 0)
        luaL_argerror(L, 5, "duration must be > 0");
    in.reset_schedule = tomo_nk_optstr(L, 6, "", NULL);
    in.title = tomo_nk_optstr(L, 8, "", NULL);
    in.description = tomo_nk_optstr(L, 9, "", NULL);
    in.category = (int)tomo_nk_optint(L, 10, 0);
    if (in.category < 0 || in.category >= 128)
        luaL_argerror(L, 10, "category must be 0-127");
    in.start_time = tomo_nk_optint(L, 11, 0);
    if (in.start_time < 0)
        luaL_argerror(L, 11, "start time must be >= 0");
    in.end_time = tomo_nk_optint(L, 12, 0);
    if (in.end_time != 0 && in.end_time <= in.start_time)
        luaL_argerror(L, 12, "end time must be > start time");
    in.max_size = (int)tomo_nk_optint(L, 13, 0);
    if (in.max_size < 0)
        luaL_argerror(L, 13, "max size must be >= 0");
    in.max_num_score = (int)tomo_nk_optint(L, 14, 0);
    if (in.max_num_score < 0)
        luaL_argerror(L, 14, "max num score must be >= 0");
    in.join_required = tomo_nk_optbool(L, 15, 0);
    char *md = tomo_nk_opt_metadata(L, 7);
    in.metadata = md;
    tomo_dbconn *db = NULL;
    tomo_err err = {0};
    int created;
    int rc = tomo_db_acquire(svc->db, &db);
    if (rc == 0)
        rc = tomo_svc_tournament_create(svc, db, &in, &created, &err);
    else
        tomo_err_set(&err, TOMO_GRPC_UNAVAILABLE, "database unavailable");
    tomo_db_release(db);
    free(md);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error creating tournament", &err);
    return 0;
}

static int l_tournament_delete(lua_State *L)
{
    tomo_svc *svc = need_svc(L, "tournament_delete");
    const char *id = tomo_nk_checkstr(L, 1, 1, NULL);
    tomo_dbconn *db;
    db = tomo_nk_acquire(L, svc, "tournament_delete");
    tomo_err err = {0};
    int rc = tomo_svc_tournament_delete(svc, db, id, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error deleting tournament", &err);
    return 0;
}

static int l_tournament_add_attempt(lua_State *L)
{
    tomo_svc *svc = need_svc(L, "tournament_add_attempt");
    const char *id = tomo_nk_checkstr(L, 1, 1, NULL);
    char owner[37];
    tomo_nk_checkuuid(L, 2, owner);
    lua_Integer count = tomo_nk_optint(L, 3, 0);
    if (count == 0)
        luaL_argerror(L, 3, "expects an attempt count other than 0");
    tomo_dbconn *db;
    db = tomo_nk_acquire(L, svc, "tournament_add_attempt");
    tomo_err err = {0};
    int rc = tomo_svc_tournament_add_attempt(svc, db, id, owner, (int)count, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error adding tournament attempts", &err);
    return 0;
}

static int l_tournament_join(lua_State *L)
{
    tomo_svc *svc = need_svc(L, "tournament_join");
    const char *id = tomo_nk_checkstr(L, 1, 1, NULL);
    char owner[37];
    tomo_nk_checkuuid(L, 2, owner);
    const char *username = tomo_nk_checkstr(L, 3, 1, NULL);
    tomo_dbconn *db;
    db = tomo_nk_acquire(L, svc, "tournament_join");
    tomo_err err = {0};
    int rc = tomo_svc_tournament_join(svc, db, &tomo_caller_system, id, owner, username, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error joining tournament", &err);
    return 0;
}

/* (category_start=0, category_end=0, start_time?, end_time?, limit=10,
 * cursor?) -> tournaments, cursor */
static int l_tournament_list(lua_State *L)
{
    tomo_svc *svc = need_svc(L, "tournament_list");
    tomo_tournament_filter f;
    memset(&f, 0, sizeof(f));
    f.category_start = (int)tomo_nk_optint(L, 1, 0);
    f.category_end = (int)tomo_nk_optint(L, 2, 0);
    if (f.category_start < 0 || f.category_start >= 128)
        luaL_argerror(L, 1, "category start must be 0-127");
    if (f.category_end < 0 || f.category_end >= 128)
        luaL_argerror(L, 2, "category end must be 0-127");
    if (f.category_end < f.category_start)
        luaL_argerror(L, 2, "category end must be >= category start");
    int has_start = !lua_isnoneornil(L, 3), has_end = !lua_isnoneornil(L, 4);
    if (has_start && !has_end)
        luaL_argerror(L, 4, "expects end time when a start time is given");
    f.start_time = has_start ? tomo_nk_optint(L, 3, 0) : -1;
    f.end_time = has_end ? tomo_nk_optint(L, 4, 0) : -1;
    f.limit = (int)tomo_nk_optint(L, 5, 10);
    if (f.limit < 1 || f.limit > 100)
        luaL_argerror(L, 5, "limit must be 1-100");
    f.cursor = tomo_nk_optstr(L, 6, "", NULL);
    tomo_dbconn *db = NULL;
    tomo_err err = {0};
    tomo_tournament_info *items = NULL;
    size_t n = 0;
    char *cursor = NULL;
    int rc = tomo_db_acquire(svc->db, &db);
    if (rc == 0)
        rc = tomo_svc_tournament_list(svc, db, &f, &items, &n, &cursor, &err);
    else
        tomo_err_set(&err, TOMO_GRPC_UNAVAILABLE, "database unavailable");
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "error listing tournaments", &err);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, tournament_json(&items[i], 1));
        tomo_tournament_info_clear(&items[i]);
    }
    free(items);
    tomo_nk_push_take(L, arr);
    tomo_nk_pushstr(L, cursor);
    free(cursor);
    return 2;
}

static int l_tournaments_get_id(lua_State *L)
{
    tomo_svc *svc = need_svc(L, "tournaments_get_id");
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t n = lua_objlen(L, 1);
    tomo_dbconn *db;
    db = tomo_nk_acquire(L, svc, "tournaments_get_id");
    json_t *arr = json_array();
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, (int)i);
        const char *id = lua_tostring(L, -1);
        tomo_tournament_info t;
        if (id && tomo_svc_tournament_get(svc, db, id, &t) == 0) {
            json_array_append_new(arr, tournament_json(&t, 1));
            tomo_tournament_info_clear(&t);
        }
        lua_pop(L, 1);
    }
    tomo_db_release(db);
    tomo_nk_push_take(L, arr);
    return 1;
}

/* ---- cron ---- */

static int cron_step(lua_State *L, int prev)
{
    const char *expr = tomo_nk_checkstr(L, 1, 1, NULL);
    lua_Integer ts = tomo_nk_optint(L, 2, 0);
    if (ts == 0)
        luaL_argerror(L, 2, "expects timestamp in seconds");
    tomo_cron c;
    if (tomo_cron_parse(expr, &c) < 0)
        luaL_argerror(L, 1, "expects a valid cron string");
    int64_t t = prev ? tomo_cron_prev(&c, ts - 1) : tomo_cron_next(&c, ts);
    lua_pushnumber(L, (lua_Number)(t < 0 ? 0 : t));
    return 1;
}

static int l_cron_next(lua_State *L)
{
    return cron_step(L, 0);
}

static int l_cron_prev(lua_State *L)
{
    return cron_step(L, 1);
}

void tomo_nk_leaderboard_open(lua_State *L, int nk)
{
    static const luaL_Reg fns[] = {
        {"leaderboard_create", l_leaderboard_create},
        {"leaderboard_delete", l_leaderboard_delete},
        {"leaderboard_list", l_leaderboard_list},
        {"leaderboards_get_id", l_leaderboards_get_id},
        {"leaderboard_records_list", l_leaderboard_records_list},
        {"leaderboard_record_write", l_leaderboard_record_write},
        {"leaderboard_records_haystack", l_leaderboard_records_haystack},
        {"leaderboard_record_delete", l_leaderboard_record_delete},
        {"tournament_create", l_tournament_create},
        {"tournament_delete", l_tournament_delete},
        {"tournament_add_attempt", l_tournament_add_attempt},
        {"tournament_join", l_tournament_join},
        {"tournament_list", l_tournament_list},
        {"tournaments_get_id", l_tournaments_get_id},
        {"tournament_records_list", l_tournament_records_list},
        {"tournament_record_write", l_tournament_record_write},
        {"tournament_records_haystack", l_tournament_records_haystack},
        {"tournament_record_delete", l_tournament_record_delete},
        {"cron_next", l_cron_next},
        {"cron_prev", l_cron_prev},
        {NULL, NULL},
    };
    tomo_nk_register(L, nk, fns);
}

/* ---- hooks ---- */

static void run_hook(tomo_runtime *rt, int which, int mode, json_t *args)
{
    tomo_runtime_call call = {.mode = mode};
    tomo_err err = {0};
    if (tomo_runtime_has_callback(rt, which))
        tomo_runtime_callback(rt, which, &call, args, NULL, &err);
    json_decref(args);
}

static void hook_leaderboard_reset(void *ctx, const tomo_lb_board *b, int64_t reset)
{
    /* the board as it was just before the reset */
    run_hook(ctx, TOMO_CB_LEADERBOARD_RESET, TOMO_RUNTIME_MODE_LEADERBOARD_RESET,
             json_pack("[oI]", board_json(b, reset - 1, 1), (json_int_t)reset));
}

static json_t *hook_tournament(const tomo_lb_board *t, int64_t at, int with_start_active)
{
    tomo_tournament_info info;
    memset(&info, 0, sizeof(info));
    info.b = *t;
    tomo_svc_tournament_times(t, at, &info.start_active, &info.end_active, &info.next_reset);
    info.can_enter = 0;
    return tournament_json(&info, with_start_active);
}

static void hook_tournament_end(void *ctx, const tomo_lb_board *t, int64_t end_active,
                                int64_t reset)
{
    run_hook(ctx, TOMO_CB_TOURNAMENT_END, TOMO_RUNTIME_MODE_TOURNAMENT_END,
             json_pack("[oII]", hook_tournament(t, end_active - 1, 1), (json_int_t)end_active,
                       (json_int_t)reset));
}

static void hook_tournament_reset(void *ctx, const tomo_lb_board *t, int64_t end_active,
                                  int64_t reset)
{
    run_hook(ctx, TOMO_CB_TOURNAMENT_RESET, TOMO_RUNTIME_MODE_TOURNAMENT_RESET,
             json_pack("[oII]", hook_tournament(t, reset - 1, 0), (json_int_t)end_active,
                       (json_int_t)reset));
}

void tomo_nk_leaderboard_install_hooks(tomo_runtime *rt, tomo_svc *svc)
{
    if (!svc || !svc->lb)
        return;
    tomo_lb_hooks h = {0};
    if (rt) {
        h.ctx = rt;
        h.leaderboard_reset = hook_leaderboard_reset;
        h.tournament_reset = hook_tournament_reset;
        h.tournament_end = hook_tournament_end;
    }
    tomo_svc_leaderboard_set_hooks(svc, &h);
}
