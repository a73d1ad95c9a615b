/* runtime/nk_match.c: nk.match_create, match_get, match_list, match_signal
 * over rt's authoritative matches (rt/amatch.h). Authoritative state is
 * read directly (thread-safe registry); relayed matches live in the loop's
 * tracker, so what needs them is posted to the loop and waited for
 * (bounded: 5 s, then the call raises). */
#define _GNU_SOURCE
#include "runtime_int.h"

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../rt/amatch.h"
#include "../rt/tracker.h"

#include <stdlib.h>
#include <string.h>

static tomo_rt *rt_of(lua_State *L)
{
    tomo_rt *rt = tomo_nk_rt(L);
    if (!rt || !tomo_nk_loop(L))
        tomo_nk_error(L, "matches need the realtime layer (not available here)");
    return rt;
}

static int l_match_create(lua_State *L)
{
    const char *module = tomo_nk_checkstr(L, 1, 1, NULL);
    json_t *params = NULL;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        params = tomo_nk_to_json(L, 2);
    }
    tomo_rt *rt = rt_of(L);
    char id[TOMO_MATCH_ID_MAX], err[512];
    int rc = tomo_rt_amatch_create(rt, module, params, id, err, sizeof(err));
    json_decref(params);
    if (rc < 0)
        return tomo_nk_error(L, "error creating match: %s", err);
    lua_pushstring(L, id);
    return 1;
}

/* ---- what needs the loop ---- */

enum { LC_LIST, LC_RELAYED_SIZE };

typedef struct loopcall {
    int op, rc;
    tomo_rt *rt;
    tomo_match_query q; /* label and query point to the copies below */
    char *label, *query;
    char uuid[37];
    json_t *out;
    size_t size;
} loopcall;

static void lc_free(void *arg)
{
    loopcall *lc = arg;
    json_decref(lc->out);
    free(lc->label);
    free(lc->query);
    free(lc);
}

static void on_loop(void *arg)
{
    loopcall *lc = arg;
    if (lc->op == LC_LIST) {
        lc->rc = tomo_rt_match_list_all(lc->rt, &lc->q, lc->out);
    } else {
        tomo_stream st = {TOMO_STREAM_MATCH_RELAYED, lc->uuid, NULL, NULL};
        lc->size = tomo_tracker_count(tomo_rt_tracker(lc->rt), &st);
    }
}

static loopcall *lc_new(tomo_rt *rt, int op)
{
    loopcall *lc = tomo_xcalloc(1, sizeof(*lc));
    lc->rt = rt;
    lc->op = op;
    lc->out = json_array();
    return lc;
}

/* On the loop and wait; raises on timeout. */
static void lc_run(lua_State *L, loopcall *lc)
{
    if (!tomo_nk_loop_wait(L, on_loop, lc, lc_free))
        tomo_nk_error(L, "realtime call timed out");
}

static int l_match_get(lua_State *L)
{
    const char *id = tomo_nk_checkstr(L, 1, 0, NULL);
    tomo_rt *rt = rt_of(L);
    const char *dot = strchr(id, '.');
    char uuid[37];
    if (!dot || dot - id != 36)
        return tomo_nk_error(L, "failed to get match: match id invalid");
    memcpy(uuid, id, 36);
    uuid[36] = '\0';
    if (!tomo_uuid_valid(uuid))
        return tomo_nk_error(L, "failed to get match: match id invalid");
    for (int i = 0; i < 36; i++)
        if (uuid[i] >= 'A' && uuid[i] <= 'F')
            uuid[i] = (char)(uuid[i] + 32);
    if (dot[1]) {
        json_t *m = tomo_rt_amatch_get(rt, id);
        tomo_nk_push_json(L, m);
        json_decref(m);
        return 1;
    }
    loopcall *lc = lc_new(rt, LC_RELAYED_SIZE);
    memcpy(lc->uuid, uuid, sizeof(uuid));
    lc_run(L, lc);
    size_t size = lc->size;
    lc_free(lc);
    if (!size) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, 0, 3);
    lua_pushfstring(L, "%s.", uuid);
    lua_setfield(L, -2, "match_id");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "authoritative");
    lua_pushinteger(L, (lua_Integer)size);
    lua_setfield(L, -2, "size");
    return 1;
}

static int opt_size(lua_State *L, int i)
{
    if (lua_isnoneornil(L, i))
        return -1;
    lua_Integer v = luaL_checkinteger(L, i);
    return v < 0 ? 0 : v > 1 << 30 ? 1 << 30 : (int)v;
}

static int l_match_list(lua_State *L)
{
    lua_Integer limit = tomo_nk_optint(L, 1, 1);
    tomo_match_query q = {.limit = limit < 1 ? 1 : limit > 10000 ? 10000 : (int)limit,
                          .authoritative = lua_isnoneornil(L, 2) ? -1 : lua_toboolean(L, 2)};
    q.label = tomo_nk_optstr(L, 3, NULL, NULL);
    q.min_size = opt_size(L, 4);
    q.max_size = opt_size(L, 5);
    q.query = tomo_nk_optstr(L, 6, NULL, NULL);
    tomo_rt *rt = rt_of(L);
    json_t *out;
    int rc;
    if (q.authoritative == 1 || q.label || q.query) {
        out = json_array();
        rc = tomo_rt_amatch_list(rt, &q, out);
    } else {
        loopcall *lc = lc_new(rt, LC_LIST);
        lc->q = q; /* owned copies: a timed-out call's job still runs later */
        lc->q.label = lc->label = q.label ? tomo_xstrdup(q.label) : NULL;
        lc->q.query = lc->query = q.query ? tomo_xstrdup(q.query) : NULL;
        lc_run(L, lc);
        rc = lc->rc;
        out = json_incref(lc->out);
        lc_free(lc);
    }
    if (rc < 0) {
        json_decref(out);
        return tomo_nk_error(L, "failed to list matches: invalid query");
    }
    lua_createtable(L, (int)json_array_size(out), 0);
    size_t i;
    json_t *m;
    json_array_foreach(out, i, m)
    {
        tomo_nk_push_json(L, m);
        lua_rawseti(L, -2, (int)i + 1);
    }
    json_decref(out);
    return 1;
}

static int l_match_signal(lua_State *L)
{
    const char *id = tomo_nk_checkstr(L, 1, 1, NULL);
    const char *data = tomo_nk_optstr(L, 2, "", NULL);
    char *result = NULL;
    int rc = tomo_rt_amatch_signal(rt_of(L), id, data, &result);
    if (rc == TOMO_ENOTFOUND)
        return tomo_nk_error(L, "failed to signal match: match not found");
    if (rc < 0)
        return tomo_nk_error(L, "failed to signal match: match busy");
    lua_pushstring(L, result);
    free(result);
    return 1;
}

void tomo_nk_match_open(lua_State *L, int nk)
{
    static const luaL_Reg fns[] = {
        {"match_create", l_match_create},
        {"match_get", l_match_get},
        {"match_list", l_match_list},
        {"match_signal", l_match_signal},
        {NULL, NULL},
    };
    tomo_nk_register(L, nk, fns);
}
