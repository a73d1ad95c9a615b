/* runtime/nk_sql.c: nk.sql_exec / nk.sql_query on the server's database
 * (placeholders $1..$N on both backends). Results come back as text from
 * the store: cells that are plain integers become numbers, NULL is nil,
 * everything else a string. */
#define _GNU_SOURCE
#include "runtime_int.h"

#include "../core/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS 64

typedef struct sqlargs {
    tomo_dbval v[MAX_PARAMS];
    char num[MAX_PARAMS][32];
    size_t n;
} sqlargs;

static void check_params(lua_State *L, sqlargs *a)
{
    a->n = 0;
    if (lua_isnoneornil(L, 2))
        return;
    luaL_checktype(L, 2, LUA_TTABLE);
    size_t n = lua_objlen(L, 2);
    if (n > MAX_PARAMS)
        luaL_argerror(L, 2, "too many parameters");
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (int)i + 1);
        switch (lua_type(L, -1)) {
        case LUA_TNIL: a->v[i] = TOMO_DBNULL; break;
        case LUA_TBOOLEAN: a->v[i] = TOMO_DBINT(lua_toboolean(L, -1)); break;
        case LUA_TNUMBER: {
            double d = lua_tonumber(L, -1);
            if (d == floor(d) && fabs(d) < 9.2e18) {
                a->v[i] = TOMO_DBINT((int64_t)d);
            } else {
                snprintf(a->num[i], sizeof(a->num[i]), "%.17g", d);
                a->v[i] = TOMO_DBTEXT(a->num[i]);
            }
            break;
        }
        case LUA_TSTRING: a->v[i] = TOMO_DBTEXT(lua_tostring(L, -1)); break;
        default: luaL_argerror(L, 2, "parameters must be nil, booleans, numbers or strings");
        }
        /* strings stay referenced by the params table for the call */
        lua_pop(L, 1);
    }
    a->n = n;
}

static int run(lua_State *L, int query)
{
    const char *sql = tomo_nk_checkstr(L, 1, 1, NULL);
    sqlargs a;
    check_params(L, &a);
    tomo_svc *svc = tomo_nk_svc(L);
    if (!svc || !svc->db)
        return tomo_nk_error(L, "%s: no database", query ? "sql_query" : "sql_exec");
    tomo_dbconn *c = NULL;
    int rc = tomo_db_acquire(svc->db, &c);
    if (rc < 0)
        return tomo_nk_error(L, "%s failed: database unavailable", query ? "sql_query" : "sql_exec");
    tomo_dbres *res = NULL;
    rc = tomo_db_exec(c, sql, a.v, a.n, &res);
    if (rc < 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", tomo_db_errmsg(c));
        tomo_db_release(c);
        tomo_dbres_free(res);
        return tomo_nk_error(L, "%s failed: %s", query ? "sql_query" : "sql_exec", msg);
    }
    tomo_db_release(c);
    if (!query) {
        lua_pushnumber(L, res ? (lua_Number)tomo_dbres_changes(res) : 0);
        tomo_dbres_free(res);
        return 1;
    }
    /* copy into Lua; on a Lua error (memory) the result would leak, so keep
     * it referenced by a userdata with a __gc? Rows are small: copy first. */
    size_t rows = res ? tomo_dbres_rows(res) : 0, cols = res ? tomo_dbres_cols(res) : 0;
    if (!lua_checkstack(L, 4)) {
        tomo_dbres_free(res);
        return tomo_nk_error(L, "sql_query failed: stack");
    }
    lua_createtable(L, (int)rows, 0);
    for (size_t r = 0; r < rows; r++) {
        lua_createtable(L, 0, (int)cols);
        for (size_t k = 0; k < cols; k++) {
            const char *v = tomo_dbres_text(res, r, k);
            if (!v)
                continue;
            const char *p = v + (*v == '-');
            size_t dl = strspn(p, "0123456789");
            if (*p && !p[dl] && dl < 16)
                lua_pushnumber(L, (lua_Number)strtoll(v, NULL, 10));
            else
                lua_pushstring(L, v);
            lua_setfield(L, -2, tomo_dbres_colname(res, k));
        }
        lua_rawseti(L, -2, (int)r + 1);
    }
    tomo_dbres_free(res);
    return 1;
}

static int l_sql_exec(lua_State *L) { return run(L, 0); }
static int l_sql_query(lua_State *L) { return run(L, 1); }

void tomo_nk_sql_open(lua_State *L, int nk)
{
    static const luaL_Reg fns[] = {{"sql_exec", l_sql_exec}, {"sql_query", l_sql_query}, {NULL, NULL}};
    tomo_nk_register(L, nk, fns);
}
