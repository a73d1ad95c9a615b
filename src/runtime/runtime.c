/* runtime/runtime.c: module loading, the state pool, the sandbox, the
 * instruction budget and memory bound, calls into Lua, development reload. */
#define _GNU_SOURCE
#include "runtime_int.h"

#include "../core/common.h"
#include "../core/log.h"
#include "../core/trace.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <luajit.h>
#include <lualib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define HOOK_EVERY 1000 /* instructions between budget checks */

static void err_set(tomo_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void err_set(tomo_err *e, int code, const char *fmt, ...)
{
    if (!e)
        return;
    va_list ap;
    va_start(ap, fmt);
    e->code = code;
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
}

/* ---- module sources ---- */

static int cmp_mod(const void *a, const void *b)
{
    return strcmp(((const module_src *)a)->name, ((const module_src *)b)->name);
}

static int ends_lua(const char *n)
{
    size_t l = strlen(n);
    return l > 4 && !strcasecmp(n + l - 4, ".lua");
}

typedef struct scan {
    module_src *mods;
    size_t n, cap;
    char *sig; /* path:mtime:size;... */
    size_t siglen;
    int read_src;
} scan;

static void sig_add(scan *s, const char *rel, const struct stat *st)
{
    char *add = tomo_xasprintf("%s:%lld.%09ld:%lld;", rel, (long long)st->st_mtim.tv_sec,
                               st->st_mtim.tv_nsec, (long long)st->st_size);
    size_t al = strlen(add);
    s->sig = tomo_xrealloc(s->sig, s->siglen + al + 1);
    memcpy(s->sig + s->siglen, add, al + 1);
    s->siglen += al;
    free(add);
}

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return TOMO_EIO;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 > cap) {
            cap = cap ? cap * 2 : 65536;
            buf = tomo_xrealloc(buf, cap);
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return TOMO_EIO;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int tomo_runtime_dir_names(const char *dir, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return TOMO_EIO;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        *out = tomo_xrealloc(*out, (*n + 1) * sizeof(**out));
        (*out)[(*n)++] = tomo_xstrdup(e->d_name);
    }
    closedir(d);
    if (*n > 1) /* qsort(NULL, 0) is undefined (UBSan) */
        qsort(*out, *n, sizeof(**out), cmp_name);
    return 0;
}

static int scan_dir(scan *s, const char *root, const char *rel, char *err, size_t errlen)
{
    char *dir = *rel ? tomo_xasprintf("%s/%s", root, rel) : tomo_xstrdup(root);
    /* Sorted directory walk so the signature is stable. */
    char **names = NULL;
    size_t nn = 0;
    if (tomo_runtime_dir_names(dir, &names, &nn) < 0) {
        snprintf(err, errlen, "cannot read runtime.path %s: %s", dir, strerror(errno));
        free(dir);
        return TOMO_EIO;
    }
    int rc = 0;
    for (size_t i = 0; i < nn; i++) {
        char *r = *rel ? tomo_xasprintf("%s/%s", rel, names[i]) : tomo_xstrdup(names[i]);
        char *full = tomo_xasprintf("%s/%s", root, r);
        struct stat st;
        if (rc == 0 && stat(full, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                rc = scan_dir(s, root, r, err, errlen);
            } else if (S_ISREG(st.st_mode) && ends_lua(names[i])) {
                sig_add(s, r, &st);
                if (s->read_src) {
                    module_src m = {0};
                    if (read_file(full, &m.src, &m.len) < 0) {
                        snprintf(err, errlen, "cannot read module %s: %s", r, strerror(errno));
                        rc = TOMO_EIO;
                    } else {
                        size_t rl = strlen(r);
                        m.name = tomo_xstrndup(r, rl - 4);
                        for (char *p = m.name; *p; p++)
                            if (*p == '/')
                                *p = '.';
                        m.chunkname = tomo_xasprintf("@%s", r);
                        if (s->n == s->cap) {
                            s->cap = s->cap ? s->cap * 2 : 16;
                            s->mods = tomo_xrealloc(s->mods, s->cap * sizeof(*s->mods));
                        }
                        s->mods[s->n++] = m;
                    }
                }
            }
        }
        free(full);
        free(r);
        free(names[i]);
    }
    free(names);
    free(dir);
    return rc;
}

static void prog_free(prog *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nmods; i++) {
        free(p->mods[i].name);
        free(p->mods[i].chunkname);
        free(p->mods[i].src);
    }
    free(p->mods);
    tomo_registry_free(&p->reg);
    free(p);
}

/* Read every module under path (NULL/"" = none). *sig gets the signature. */
static int prog_read(const char *path, prog **out, char **sig, char *err, size_t errlen)
{
    scan s = {.read_src = 1};
    int rc = 0;
    if (path && *path)
        rc = scan_dir(&s, path, "", err, errlen);
    prog *p = tomo_xcalloc(1, sizeof(*p));
    p->mods = s.mods;
    p->nmods = s.n;
    tomo_registry_init(&p->reg);
    if (rc < 0) {
        prog_free(p);
        free(s.sig);
        return rc;
    }
    if (p->nmods > 1)
        qsort(p->mods, p->nmods, sizeof(*p->mods), cmp_mod);
    *out = p;
    *sig = s.sig ? s.sig : tomo_xstrdup("");
    return 0;
}

static char *dir_signature(const char *path)
{
    scan s = {0};
    char err[256];
    if (path && *path && scan_dir(&s, path, "", err, sizeof(err)) < 0) {
        free(s.sig);
        return NULL;
    }
    return s.sig ? s.sig : tomo_xstrdup("");
}

/* ---- allocator, budget ---- */

static void *lalloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    lstate *ls = ud;
    if (nsize == 0) {
        free(ptr);
        ls->mem -= ptr ? osize : 0;
        return NULL;
    }
    size_t old = ptr ? osize : 0;
    if (nsize > old && ls->mem_limit && ls->mem + (nsize - old) > ls->mem_limit) {
        ls->mem_over = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    ls->mem = ls->mem - old + nsize;
    return p;
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lstate *ls = tomo_lstate_of(L);
    if (!ls->rt->max_instructions)
        return;
    ls->budget -= HOOK_EVERY;
    if (ls->budget > 0 && !ls->over)
        return;
    if (!ls->over) {
        /* from now on every instruction raises, so a pcall around the loop
         * cannot swallow the stop; the state is discarded after the call */
        ls->over = 1;
        ls->tainted = 1;
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    }
    luaL_error(L, "runtime function exceeded its instruction budget");
}

/* ---- require and the sandbox ---- */

static const module_src *find_mod(const prog *p, const char *name)
{
    size_t lo = 0, hi = p->nmods;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(p->mods[mid].name, name);
        if (c == 0)
            return &p->mods[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static char loading_sentinel;

/* require(name): package.loaded, then package.preload, then the scanned
 * modules; no filesystem search (as Nakama). */
static int l_require(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_settop(L, 1);
    lua_getglobal(L, "package");
    int pkg = lua_gettop(L);
    lua_getfield(L, pkg, "loaded");
    int loaded = lua_gettop(L);
    lua_getfield(L, loaded, name);
    if (lua_touserdata(L, -1) == &loading_sentinel)
        return luaL_error(L, "loop or previous error loading module: %s", name);
    if (lua_toboolean(L, -1))
        return 1;
    lua_pop(L, 1);
    lua_getfield(L, pkg, "preload");
    lua_getfield(L, -1, name);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        const module_src *m = find_mod(tomo_lstate_of(L)->prog, name);
        if (!m)
            return luaL_error(L, "module %s not found", name);
        if (luaL_loadbuffer(L, m->src, m->len, m->chunkname) != 0)
            return lua_error(L);
    }
    lua_pushlightuserdata(L, &loading_sentinel);
    lua_setfield(L, loaded, name);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (!lua_isnil(L, -1))
        lua_setfield(L, loaded, name);
    else
        lua_pop(L, 1);
    lua_getfield(L, loaded, name);
    if (lua_touserdata(L, -1) == &loading_sentinel) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
        lua_pushvalue(L, -1);
        lua_setfield(L, loaded, name);
    }
    return 1;
}

static int l_loadlib(lua_State *L) { return luaL_error(L, "loadlib is not supported"); }

/* Reject precompiled bytecode (LuaJIT bytecode can break out of the VM). */
static int l_loadstring(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *name = luaL_optstring(L, 2, s);
    if (n && s[0] == 0x1b) {
        lua_pushnil(L);
        lua_pushstring(L, "precompiled chunks are not allowed");
        return 2;
    }
    if (luaL_loadbuffer(L, s, n, name) != 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    return 1;
}

static int l_load(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TSTRING)
        return l_loadstring(L);
    luaL_checktype(L, 1, LUA_TFUNCTION);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (;;) {
        lua_pushvalue(L, 1);
        lua_call(L, 0, 1);
        if (lua_isnil(L, -1) || (lua_isstring(L, -1) && lua_objlen(L, -1) == 0)) {
            lua_pop(L, 1);
            break;
        }
        if (!lua_isstring(L, -1))
            return luaL_error(L, "reader function must return a string");
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    lua_replace(L, 1);
    return l_loadstring(L);
}

/* bit32 (Lua 5.2's, which Nakama's Lua offers) over LuaJIT's bit library. */
static const char bit32_src[] =
    "local bit = ...\n"
    "local function u(x) x = x % 4294967296 return x end\n"
    "local function s(x) return bit.tobit(u(x)) end\n"
    "local b = {}\n"
    "function b.band(...) local r = -1 for i = 1, select('#', ...) do "
    "r = bit.band(r, s((select(i, ...)))) end return u(r) end\n"
    "function b.bor(...) local r = 0 for i = 1, select('#', ...) do "
    "r = bit.bor(r, s((select(i, ...)))) end return u(r) end\n"
    "function b.bxor(...) local r = 0 for i = 1, select('#', ...) do "
    "r = bit.bxor(r, s((select(i, ...)))) end return u(r) end\n"
    "function b.bnot(x) return u(bit.bnot(s(x))) end\n"
    "function b.btest(...) return b.band(...) ~= 0 end\n"
    "function b.lshift(x, n) if n >= 32 or n <= -32 then return 0 end "
    "if n < 0 then return b.rshift(x, -n) end return u(bit.lshift(s(x), n)) end\n"
    "function b.rshift(x, n) if n >= 32 or n <= -32 then return 0 end "
    "if n < 0 then return b.lshift(x, -n) end return u(bit.rshift(s(x), n)) end\n"
    "function b.arshift(x, n) if n >= 32 then n = 31 end "
    "if n < 0 then return b.lshift(x, -n) end return u(bit.arshift(s(x), n)) end\n"
    "function b.lrotate(x, n) return u(bit.rol(s(x), n % 32)) end\n"
    "function b.rrotate(x, n) return u(bit.ror(s(x), n % 32)) end\n"
    "function b.extract(x, f, w) w = w or 1 "
    "if f < 0 or w <= 0 or f + w > 32 then error('trying to access non-existent bits') end "
    "return u(bit.band(bit.rshift(s(x), f), w == 32 and -1 or bit.lshift(1, w) - 1)) end\n"
    "function b.replace(x, v, f, w) w = w or 1 "
    "if f < 0 or w <= 0 or f + w > 32 then error('trying to access non-existent bits') end "
    "local m = w == 32 and -1 or bit.lshift(1, w) - 1 "
    "return u(bit.bor(bit.band(s(x), bit.bnot(bit.lshift(m, f))), "
    "bit.lshift(bit.band(s(v), m), f))) end\n"
    "return b\n";

static void open_lib(lua_State *L, const char *name, lua_CFunction fn)
{
    lua_pushcfunction(L, fn);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

static void set_nil(lua_State *L, const char *table, const char *field)
{
    if (table) {
        lua_getglobal(L, table);
        if (lua_istable(L, -1)) {
            lua_pushnil(L);
            lua_setfield(L, -2, field);
        }
        lua_pop(L, 1);
    } else {
        lua_pushnil(L);
        lua_setglobal(L, field);
    }
}

static int sandbox(lua_State *L)
{
    open_lib(L, "", luaopen_base);
    open_lib(L, LUA_LOADLIBNAME, luaopen_package);
    open_lib(L, LUA_TABLIBNAME, luaopen_table);
    open_lib(L, LUA_STRLIBNAME, luaopen_string);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math);
    open_lib(L, LUA_OSLIBNAME, luaopen_os);
    open_lib(L, LUA_BITLIBNAME, luaopen_bit);
    /* os: only clock, date, time, difftime */
    lua_getglobal(L, "os");
    lua_newtable(L);
    static const char *const keep[] = {"clock", "date", "time", "difftime"};
    for (size_t i = 0; i < 4; i++) {
        lua_getfield(L, -2, keep[i]);
        lua_setfield(L, -2, keep[i]);
    }
    lua_setglobal(L, "os");
    lua_pop(L, 1);
    /* base: no file access, no coroutines (as Nakama), no bytecode */
    set_nil(L, NULL, "dofile");
    set_nil(L, NULL, "loadfile");
    set_nil(L, NULL, "coroutine");
    set_nil(L, NULL, "gcinfo");
    set_nil(L, "package", "loaded_lib");
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_pushnil(L);
    lua_setfield(L, -2, "coroutine");
    lua_pushnil(L);
    lua_setfield(L, -2, "io");
    lua_pushnil(L);
    lua_setfield(L, -2, "debug");
    lua_getglobal(L, "os");
    lua_setfield(L, -2, "os");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_loadlib);
    lua_setfield(L, -2, "loadlib");
    lua_pushstring(L, "");
    lua_setfield(L, -2, "path");
    lua_pushstring(L, "");
    lua_setfield(L, -2, "cpath");
    lua_newtable(L);
    lua_setfield(L, -2, "loaders");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_require);
    lua_setglobal(L, "require");
    lua_pushcfunction(L, l_loadstring);
    lua_setglobal(L, "loadstring");
    lua_pushcfunction(L, l_load);
    lua_setglobal(L, "load");
    /* bit32 */
    if (luaL_loadbuffer(L, bit32_src, sizeof(bit32_src) - 1, "=bit32") != 0)
        return lua_error(L);
    lua_getglobal(L, "bit");
    lua_call(L, 1, 1);
    lua_pushvalue(L, -1);
    lua_setglobal(L, "bit32");
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "bit32");
    lua_pop(L, 3);
    /* math.huge is DBL_MAX in Nakama's Lua */
    lua_getglobal(L, "math");
    lua_pushnumber(L, 1.7976931348623157e308);
    lua_setfield(L, -2, "huge");
    lua_pop(L, 1);
    /* registration tables */
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, TOMO_REG_RPC);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, TOMO_REG_HOOK);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, TOMO_REG_CB);
    /* the nakama module: package.loaded.nakama (not a global) */
    lua_newtable(L);
    int nk = lua_gettop(L);
    tomo_nk_open_all(L, nk);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_pushvalue(L, nk);
    lua_setfield(L, -2, "nakama");
    lua_pop(L, 3);
    return 0;
}

/* Message handler: keep the error value, put a traceback in the registry. */
static int msgh(lua_State *L)
{
    const char *m = lua_isstring(L, 1) ? lua_tostring(L, 1) : NULL;
    luaL_traceback(L, L, m, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "tomo.tb");
    return 1;
}

/* Run every module in name order unless an earlier one required it. */
static int l_boot(lua_State *L)
{
    lstate *ls = tomo_lstate_of(L);
    const prog *p = ls->prog;
    /* compile everything first: a syntax error anywhere stops start-up */
    for (size_t i = 0; i < p->nmods; i++) {
        if (luaL_loadbuffer(L, p->mods[i].src, p->mods[i].len, p->mods[i].chunkname) != 0)
            return lua_error(L);
        lua_pop(L, 1);
    }
    for (size_t i = 0; i < p->nmods; i++) {
        lua_pushcfunction(L, l_require);
        lua_pushstring(L, p->mods[i].name);
        lua_call(L, 1, 0);
    }
    return 0;
}

static void lstate_free(lstate *ls)
{
    if (!ls)
        return;
    if (ls->L)
        lua_close(ls->L);
    free(ls);
}

static int pcall_sandbox(lua_State *L) { return sandbox(L); }
static int pcall_nothing(lua_State *L) { (void)L; return 0; }


/* Build a state for prog p (a ref is taken on success); boot 0: the
 * sandbox only, no module run (match states). */
static int lstate_make(tomo_runtime *rt, prog *p, int record, int boot, lstate **out, char *err,
                       size_t errlen)
{
    lstate *ls = tomo_xcalloc(1, sizeof(*ls));
    ls->rt = rt;
    ls->prog = p;
    ls->mem_limit = rt->max_memory;
    ls->record = record;
    ls->L = lua_newstate(lalloc, ls);
    if (!ls->L) {
        snprintf(err, errlen, "cannot create a Lua state");
        free(ls);
        return TOMO_EIO;
    }
    lua_State *L = ls->L;
    luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, HOOK_EVERY);
    int rc = 0;
    lua_pushcfunction(L, msgh);
    int h = lua_gettop(L);
    lua_pushcfunction(L, pcall_sandbox);
    if (lua_pcall(L, 0, 0, h) != 0) {
        snprintf(err, errlen, "runtime set-up failed: %s", lua_tostring(L, -1));
        rc = TOMO_EIO;
        goto out;
    }
    ls->budget = rt->max_instructions;
    lua_pushcfunction(L, boot ? l_boot : pcall_nothing);
    int r = lua_pcall(L, 0, 0, h);
    if (r != 0) {
        const char *m = lua_tostring(L, -1);
        if (r == LUA_ERRMEM || ls->mem_over)
            m = "not enough memory (runtime.lua_max_memory_bytes)";
        snprintf(err, errlen, "%s", m ? m : "error loading modules");
        rc = TOMO_EINVAL;
        goto out;
    }
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    ls->record = 0;
out:
    if (rc < 0) {
        lstate_free(ls);
        return rc;
    }
    pthread_mutex_lock(&rt->mu);
    p->refs++;
    pthread_mutex_unlock(&rt->mu);
    *out = ls;
    return 0;
}

static int lstate_new(tomo_runtime *rt, prog *p, int record, lstate **out, char *err, size_t errlen)
{
    return lstate_make(rt, p, record, 1, out, err, errlen);
}

/* Drop a state: its prog ref (freeing an old prog when it was the last). */
static void lstate_drop(tomo_runtime *rt, lstate *ls)
{
    prog *p = ls->prog;
    lstate_free(ls);
    pthread_mutex_lock(&rt->mu);
    int last = --p->refs == 0 && p != rt->cur;
    pthread_mutex_unlock(&rt->mu);
    if (last)
        prog_free(p);
}

/* ---- the pool ---- */

static int borrow(tomo_runtime *rt, lstate **out, tomo_err *err)
{
    lstate *stale = NULL;
    pthread_mutex_lock(&rt->mu);
    for (;;) {
        while (rt->idle && rt->idle->prog != rt->cur) {
            lstate *s = rt->idle;
            rt->idle = s->next;
            s->next = stale;
            stale = s;
            rt->total--;
        }
        if (rt->idle) {
            *out = rt->idle;
            rt->idle = rt->idle->next;
            pthread_mutex_unlock(&rt->mu);
            break;
        }
        if (rt->total < rt->max) {
            rt->total++;
            prog *p = rt->cur;
            p->refs++; /* keep it while building */
            pthread_mutex_unlock(&rt->mu);
            char msg[512];
            lstate *ls = NULL;
            int rc = lstate_new(rt, p, 0, &ls, msg, sizeof(msg));
            pthread_mutex_lock(&rt->mu);
            int last = --p->refs == 0 && p != rt->cur;
            if (rc < 0)
                rt->total--;
            pthread_cond_signal(&rt->cv);
            pthread_mutex_unlock(&rt->mu);
            if (last)
                prog_free(p);
            if (rc < 0) {
                TOMO_LOGE(TOMO_RUNTIME_LOG, "cannot create a Lua state error=%s", msg);
                err_set(err, TOMO_GRPC_INTERNAL, "Runtime unavailable.");
                while (stale) {
                    lstate *n = stale->next;
                    lstate_drop(rt, stale);
                    stale = n;
                }
                return rc;
            }
            *out = ls;
            break;
        }
        pthread_cond_wait(&rt->cv, &rt->mu);
    }
    while (stale) {
        lstate *n = stale->next;
        lstate_drop(rt, stale);
        stale = n;
    }
    (*out)->call = NULL;
    return 0;
}

static void give_back(tomo_runtime *rt, lstate *ls)
{
    lua_State *L = ls->L;
    lua_settop(L, 0);
    ls->call = NULL;
    pthread_mutex_lock(&rt->mu);
    if (ls->tainted || ls->prog != rt->cur) {
        rt->total--;
        pthread_cond_signal(&rt->cv);
        pthread_mutex_unlock(&rt->mu);
        lstate_drop(rt, ls);
        return;
    }
    ls->next = rt->idle;
    rt->idle = ls;
    pthread_cond_signal(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
}

/* ---- development reload ---- */

static void *watch_main(void *arg)
{
    tomo_runtime *rt = arg;
    const char *path = rt->path;
    pthread_mutex_lock(&rt->mu);
    while (!rt->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 300 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&rt->wcv, &rt->mu, &ts);
        if (rt->stop)
            break;
        pthread_mutex_unlock(&rt->mu);
        char *sig = dir_signature(path);
        int changed = sig && strcmp(sig, rt->sig) && (!rt->bad_sig || strcmp(sig, rt->bad_sig));
        if (!changed) {
            free(sig);
            pthread_mutex_lock(&rt->mu);
            continue;
        }
        char err[512];
        prog *p = NULL;
        char *rsig = NULL;
        lstate *ls = NULL;
        int rc = prog_read(path, &p, &rsig, err, sizeof(err));
        if (rc == 0)
            rc = lstate_new(rt, p, 1, &ls, err, sizeof(err));
        if (rc < 0) {
            TOMO_LOGE(TOMO_RUNTIME_LOG, "reload failed, keeping the previous modules error=%s", err);
            if (p)
                prog_free(p);
            free(rt->bad_sig);
            rt->bad_sig = rsig ? rsig : sig;
            if (rsig)
                free(sig);
            pthread_mutex_lock(&rt->mu);
            continue;
        }
        free(sig);
        pthread_mutex_lock(&rt->mu);
        prog *old = rt->cur;
        rt->cur = p;
        free(rt->sig);
        rt->sig = rsig;
        ls->next = rt->idle;
        rt->idle = ls;
        rt->total++;
        int free_old = old->refs == 0;
        pthread_mutex_unlock(&rt->mu);
        if (free_old)
            prog_free(old);
        TOMO_LOGI(TOMO_RUNTIME_LOG, "modules reloaded modules=%zu rpcs=%zu", p->nmods,
                  tomo_registry_count(&p->reg, TOMO_REG_T_RPC));
        pthread_mutex_lock(&rt->mu);
    }
    pthread_mutex_unlock(&rt->mu);
    return NULL;
}

/* ---- lifecycle ---- */

/* A plugin's match module may not share its name with a Lua module (the
 * name match_create takes would be ambiguous). */
static int match_names_unique(tomo_runtime *rt, const prog *p, char *err, size_t errlen)
{
    const char *k;
    void *v;
    for (size_t i = 0; (i = tomo_hmap_next(&rt->plugin_reg.t[TOMO_REG_T_MATCH], i, &k, &v));) {
        const module_src *m = find_mod(p, k);
        if (m) {
            snprintf(err, errlen, "match handler \"%s\" is registered twice: by %s and %s", k,
                     ((const tomo_impl *)v)->module, m->chunkname + 1);
            return TOMO_ECONFLICT;
        }
    }
    return 0;
}

int tomo_runtime_new(const tomo_runtime_deps *deps, tomo_runtime **out, char *err, size_t errlen)
{
    const tomo_config *cfg = deps->cfg;
    if (cfg->runtime.reload && cfg->production) {
        snprintf(err, errlen, "runtime.reload is a development setting: not allowed with --production");
        return TOMO_EINVAL;
    }
    tomo_runtime *rt = tomo_xcalloc(1, sizeof(*rt));
    rt->deps = *deps;
    if (cfg->runtime.path && *cfg->runtime.path) {
        rt->path = tomo_xstrdup(cfg->runtime.path);
    } else if (cfg->data_dir && *cfg->data_dir) {
        /* Nakama's default: <data_dir>/modules, created if missing */
        rt->path = tomo_xasprintf("%s/modules", cfg->data_dir);
        mkdir(rt->path, 0755);
    }
    pthread_mutex_init(&rt->mu, NULL);
    pthread_cond_init(&rt->cv, NULL);
    pthread_cond_init(&rt->wcv, NULL);
    pthread_mutex_init(&rt->cache_mu, NULL);
    rt->cache = json_object();
    rt->max = cfg->runtime.lua_max_count > 0 ? cfg->runtime.lua_max_count : 1;
    rt->min = cfg->runtime.lua_min_count < rt->max ? cfg->runtime.lua_min_count : rt->max;
    rt->max_instructions = cfg->runtime.lua_max_instructions;
    rt->max_memory = (size_t)cfg->runtime.lua_max_memory_mb * 1024 * 1024;
    rt->m_calls = tomo_metrics_counter("api_rpc_calls_total", "Runtime RPC calls by rpc id", "rpc_id");
    rt->m_latency = tomo_metrics_histogram("api_rpc_latency_ms",
                                           "Runtime RPC latency in milliseconds by rpc id",
                                           "rpc_id", NULL, 0);
    tomo_registry_init(&rt->plugin_reg);
    prog *p = NULL;
    lstate *first = NULL;
    /* plugins first: the Lua modules' registrations are checked against theirs */
    int rc = tomo_plugins_load(rt, err, errlen);
    if (rc < 0)
        goto fail;
    rc = prog_read(rt->path, &p, &rt->sig, err, errlen);
    if (rc < 0)
        goto fail;
    rc = match_names_unique(rt, p, err, errlen);
    if (rc < 0) {
        prog_free(p);
        goto fail;
    }
    rt->cur = p;
    rc = lstate_new(rt, p, 1, &first, err, errlen);
    if (rc < 0)
        goto fail;
    rt->idle = first;
    rt->total = 1;
    for (int i = 1; i < rt->min; i++) {
        lstate *ls = NULL;
        rc = lstate_new(rt, p, 0, &ls, err, errlen);
        if (rc < 0)
            goto fail;
        ls->next = rt->idle;
        rt->idle = ls;
        rt->total++;
    }
    if (cfg->runtime.reload) {
        if (pthread_create(&rt->watcher, NULL, watch_main, rt) == 0)
            rt->watching = 1;
    }
    *out = rt;
    return 0;
fail:
    tomo_runtime_free(rt);
    return rc;
}

void tomo_runtime_free(tomo_runtime *rt)
{
    if (!rt)
        return;
    if (rt->watching) {
        pthread_mutex_lock(&rt->mu);
        rt->stop = 1;
        pthread_cond_signal(&rt->wcv);
        pthread_mutex_unlock(&rt->mu);
        pthread_join(rt->watcher, NULL);
    }
    while (rt->idle) {
        lstate *n = rt->idle->next;
        lstate_free(rt->idle);
        rt->idle = n;
    }
    prog_free(rt->cur);
    tomo_plugins_free(rt);
    tomo_registry_free(&rt->plugin_reg);
    free(rt->sig);
    free(rt->bad_sig);
    free(rt->path);
    json_decref(rt->cache);
    pthread_mutex_destroy(&rt->mu);
    pthread_cond_destroy(&rt->cv);
    pthread_cond_destroy(&rt->wcv);
    pthread_mutex_destroy(&rt->cache_mu);
    free(rt);
}

size_t tomo_runtime_module_count(const tomo_runtime *rt) { return rt->cur->nmods + rt->nplugins; }
const char *tomo_runtime_path(const tomo_runtime *rt) { return rt->path ? rt->path : ""; }
size_t tomo_runtime_rpc_count(const tomo_runtime *rt)
{
    return tomo_registry_count(&rt->cur->reg, TOMO_REG_T_RPC) +
           tomo_registry_count(&rt->plugin_reg, TOMO_REG_T_RPC);
}

json_t *tomo_runtime_info(tomo_runtime *rt)
{
    json_t *rpcs = json_array(), *mods = json_array(), *crpcs = json_array(), *cmods = json_array();
    const char *id;
    void *v;
    /* C plugins stand where Nakama lists Go: loaded once at start-up */
    json_t *seen = json_object();
    for (int t = 0; t < TOMO_REG_T_COUNT; t++)
        for (size_t i = 0; (i = tomo_hmap_next(&rt->plugin_reg.t[t], i, &id, &v)) != 0;) {
            const tomo_impl *e = v;
            if (t == TOMO_REG_T_RPC)
                json_array_append_new(crpcs, json_string(id));
            if (e->module && !json_object_get(seen, e->module)) {
                json_object_set_new(seen, e->module, json_true());
                json_array_append_new(cmods, json_pack("{s:s}", "path", e->module));
            }
        }
    json_decref(seen);
    pthread_mutex_lock(&rt->mu);
    for (size_t i = 0; (i = tomo_hmap_next(&rt->cur->reg.t[TOMO_REG_T_RPC], i, &id, &v)) != 0;)
        json_array_append_new(rpcs, json_string(id));
    for (size_t i = 0; i < rt->cur->nmods; i++) {
        const char *chunk = rt->cur->mods[i].chunkname;
        const char *rel = chunk[0] == '@' ? chunk + 1 : chunk;
        json_t *m = json_pack("{s:s}", "path", rel);
        char *full = tomo_xasprintf("%s/%s", tomo_runtime_path(rt), rel);
        struct stat st;
        if (stat(full, &st) == 0)
            tomo_json_set_time(m, "mod_time", (long long)st.st_mtime * 1000);
        free(full);
        json_array_append_new(mods, m);
    }
    pthread_mutex_unlock(&rt->mu);
    return json_pack("{s:o,s:o,s:[],s:o,s:o,s:[]}", "lua_rpc_functions", rpcs, "go_rpc_functions",
                     crpcs, "js_rpc_functions", "go_modules", cmods, "lua_modules", mods,
                     "js_modules");
}

/* ---- lookups ---- */

static void lower_into(const char *s, char *out, size_t outlen)
{
    size_t i = 0;
    for (; s[i] && i + 1 < outlen; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
}

int tomo_runtime_has_rpc(tomo_runtime *rt, const char *id)
{
    char key[256];
    if (strlen(id) >= sizeof(key))
        return 0;
    lower_into(id, key, sizeof(key));
    if (tomo_registry_get(&rt->plugin_reg, TOMO_REG_T_RPC, key))
        return 1;
    pthread_mutex_lock(&rt->mu);
    int has = tomo_registry_get(&rt->cur->reg, TOMO_REG_T_RPC, key) != NULL;
    pthread_mutex_unlock(&rt->mu);
    return has;
}

int tomo_runtime_has_hook(tomo_runtime *rt, int kind, const char *name)
{
    char key[256];
    if (!tomo_runtime_hook_key(kind, name, key, sizeof(key)))
        return 0;
    if (tomo_registry_get(&rt->plugin_reg, TOMO_REG_T_HOOK, key))
        return 1;
    pthread_mutex_lock(&rt->mu);
    int has = tomo_registry_get(&rt->cur->reg, TOMO_REG_T_HOOK, key) != NULL;
    pthread_mutex_unlock(&rt->mu);
    return has;
}

int tomo_runtime_has_callback(tomo_runtime *rt, int which)
{
    if (which < 0 || which >= TOMO_CB_COUNT)
        return 0;
    pthread_mutex_lock(&rt->mu);
    int has = rt->cur->cbs[which];
    pthread_mutex_unlock(&rt->mu);
    return has;
}

/* ---- calls ---- */

/* "file.lua:12: msg" -> "msg" when file is the function's own file. */
static const char *strip_position(const char *msg, const char *src)
{
    if (!src || src[0] != '@')
        return msg;
    size_t sl = strlen(src + 1);
    if (strncmp(msg, src + 1, sl) || msg[sl] != ':')
        return msg;
    const char *p = msg + sl + 1;
    if (!isdigit((unsigned char)*p))
        return msg;
    while (isdigit((unsigned char)*p))
        p++;
    if (p[0] == ':' && p[1] == ' ')
        return p + 2;
    return msg;
}

/* Turn the error at the top of the stack into *err (Nakama's mapping).
 * Allocates nothing in the state (it may be out of memory). */
static void lua_failure(lstate *ls, int r, const char *src, const char *what, tomo_err *err)
{
    lua_State *L = ls->L;
    if (ls->over) {
        TOMO_LOGW(TOMO_RUNTIME_LOG, "runtime function stopped: instruction budget exhausted fn=%s "
                  "budget=%lld", what, (long long)ls->rt->max_instructions);
        err_set(err, TOMO_GRPC_INTERNAL, "Runtime function exceeded its instruction budget.");
        return;
    }
    if (r == LUA_ERRMEM || ls->mem_over) {
        ls->tainted = 1;
        TOMO_LOGW(TOMO_RUNTIME_LOG, "runtime function stopped: memory limit reached fn=%s", what);
        err_set(err, TOMO_GRPC_INTERNAL, "Runtime function exceeded its memory limit.");
        return;
    }
    int t = lua_gettop(L);
    char buf[64];
    if (lua_istable(L, t)) {
        lua_rawgeti(L, t, 1);
        lua_rawgeti(L, t, 2);
        const char *m = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int code = lua_type(L, -1) == LUA_TNUMBER ? (int)lua_tointeger(L, -1) : 0;
        if (!m) {
            snprintf(buf, sizeof(buf), "table: %p", lua_topointer(L, t));
            m = buf;
        }
        if (code >= 1 && code <= 16) {
            err_set(err, code, "%s", m);
        } else {
            TOMO_LOGE(TOMO_RUNTIME_LOG, "runtime function error fn=%s error=%s", what, m);
            err_set(err, TOMO_GRPC_INTERNAL, "%s", m);
        }
        return;
    }
    const char *m = lua_type(L, t) == LUA_TSTRING ? lua_tostring(L, t) : NULL;
    if (!m) {
        snprintf(buf, sizeof(buf), "%s: %p", luaL_typename(L, t), lua_topointer(L, t));
        m = buf;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, "tomo.tb");
    const char *tb = lua_tostring(L, -1);
    TOMO_LOGE(TOMO_RUNTIME_LOG, "runtime function error fn=%s error=%s", what, tb ? tb : m);
    err_set(err, TOMO_GRPC_INTERNAL, "%s", strip_position(m, src));
}

enum { WANT_NONE, WANT_STRING, WANT_JSON };

/* One call into Lua, run by the trampoline inside a protected call so that
 * every push (which may hit the memory bound) is protected too. */
typedef struct callspec {
    const char *reg, *key; /* registry table and key, or reg NULL: callback cb */
    int cb;
    const tomo_runtime_call *call;
    const char *payload; /* WANT_STRING (rpc): the payload argument */
    size_t len;
    json_t *jargs[2];    /* hooks: request / response tables (NULL = {}) */
    int njargs;
    json_t *args;        /* callbacks: array of extra arguments */
    int want;
    /* results */
    int found, bad_result;
    char *out;
    size_t out_len;
    json_t *jout;
    char src[256];
} callspec;

static int trampoline(lua_State *L)
{
    callspec *cs = lua_touserdata(L, 1);
    lua_settop(L, 0);
    if (cs->reg) {
        lua_getfield(L, LUA_REGISTRYINDEX, cs->reg);
        lua_getfield(L, -1, cs->key);
    } else {
        lua_getfield(L, LUA_REGISTRYINDEX, TOMO_REG_CB);
        lua_rawgeti(L, -1, cs->cb + 1);
    }
    lua_remove(L, -2);
    if (!lua_isfunction(L, -1))
        return 0;
    cs->found = 1;
    lua_Debug ar;
    lua_pushvalue(L, -1);
    if (lua_getinfo(L, ">S", &ar)) {
        /* kept for error messages (strip_position); a copy, not snprintf */
        const char *src = ar.source ? ar.source : "";
        size_t n = strnlen(src, sizeof(cs->src) - 1);
        memcpy(cs->src, src, n);
        cs->src[n] = '\0';
    }
    tomo_nk_push_context(L, cs->call);
    int nargs = 1;
    if (cs->want == WANT_STRING) {
        lua_pushlstring(L, cs->payload ? cs->payload : "", cs->payload ? cs->len : 0);
        nargs++;
    }
    for (int i = 0; i < cs->njargs; i++, nargs++) {
        if (cs->jargs[i])
            tomo_nk_push_json(L, cs->jargs[i]);
        else
            lua_newtable(L);
    }
    size_t n = json_array_size(cs->args);
    luaL_checkstack(L, (int)n + 4, "callback arguments");
    for (size_t i = 0; i < n; i++, nargs++)
        tomo_nk_push_json(L, json_array_get(cs->args, i));
    lua_call(L, nargs, LUA_MULTRET);
    if (lua_gettop(L) == 0)
        return 0;
    /* the last value returned wins (as Nakama) */
    if (cs->want == WANT_STRING) {
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t sl;
            const char *s = lua_tolstring(L, -1, &sl);
            cs->out = tomo_xmalloc(sl + 1);
            memcpy(cs->out, s, sl);
            cs->out[sl] = '\0';
            cs->out_len = sl;
        } else if (!lua_isnil(L, -1)) {
            cs->bad_result = 1;
        }
    } else if (cs->want == WANT_JSON && !lua_isnil(L, -1)) {
        if (!lua_istable(L, -1) && cs->reg) {
            cs->bad_result = 1;
            return 0;
        }
        cs->jout = tomo_nk_to_json(L, -1);
    }
    return 0;
}

/* Borrow a state, run cs, give the state back. */
static int run_call(tomo_runtime *rt, callspec *cs, tomo_err *err)
{
    lstate *ls;
    int rc = borrow(rt, &ls, err);
    if (rc < 0)
        return rc;
    lua_State *L = ls->L;
    /* a child span of the request's for the runtime call (log lines and
     * nk.http_request inside it carry it) */
    tomo_trace *parent = tomo_trace_current(), span;
    tomo_trace_begin_child(&span, parent);
    if (span.active)
        tomo_trace_set_current(&span);
    ls->call = cs->call;
    ls->budget = rt->max_instructions;
    ls->over = 0;
    ls->mem_over = 0;
    lua_settop(L, 0);
    lua_pushcfunction(L, msgh);
    lua_pushcfunction(L, trampoline);
    lua_pushlightuserdata(L, cs);
    int r = lua_pcall(L, 1, 0, 1);
    if (r != 0) {
        lua_failure(ls, r, cs->src, cs->key ? cs->key : "callback", err);
        free(cs->out);
        cs->out = NULL;
        json_decref(cs->jout);
        cs->jout = NULL;
        rc = TOMO_EINVAL;
    } else if (!cs->found) {
        rc = TOMO_ENOTFOUND;
    }
    give_back(rt, ls);
    if (span.active) {
        char name[300];
        snprintf(name, sizeof(name), "runtime %s", cs->key ? cs->key : "callback");
        tomo_trace_end(&span, TOMO_SPAN_INTERNAL, name, rc < 0 ? (err && err->code ? err->code : 2) : 0,
                       "runtime");
        tomo_trace_set_current(parent);
    }
    return rc;
}

int tomo_runtime_rpc(tomo_runtime *rt, const tomo_runtime_call *call, const char *id,
                     const char *payload, size_t len, char **out, size_t *out_len, tomo_err *err)
{
    *out = NULL;
    *out_len = 0;
    char key[256];
    if (!id || !*id) {
        err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "RPC ID must be set");
        return TOMO_EINVAL;
    }
    if (strlen(id) >= sizeof(key) || !tomo_runtime_has_rpc(rt, id)) {
        err_set(err, TOMO_GRPC_NOT_FOUND, "RPC function not found");
        return TOMO_ENOTFOUND;
    }
    lower_into(id, key, sizeof(key));
    uint64_t t0 = tomo_mono_ns();
    const tomo_impl *pe = tomo_registry_get(&rt->plugin_reg, TOMO_REG_T_RPC, key);
    callspec cs = {.reg = TOMO_REG_RPC, .key = key, .call = call, .payload = payload, .len = len,
                   .want = WANT_STRING};
    int rc;
    if (pe) {
        rc = tomo_plugin_rpc(rt, pe, call, payload, len, out, out_len, err);
    } else if ((rc = run_call(rt, &cs, err)) == TOMO_ENOTFOUND) {
        err_set(err, TOMO_GRPC_NOT_FOUND, "RPC function not found");
    } else if (rc == 0 && cs.bad_result) {
        err_set(err, TOMO_GRPC_INTERNAL,
                "Runtime function returned invalid data - only allowed one return value of type "
                "String/Byte.");
        rc = TOMO_EINVAL;
    } else if (rc == 0) {
        *out = cs.out;
        *out_len = cs.out_len;
    }
    tomo_metric_add(rt->m_calls, (const char *[]){key}, 1);
    tomo_metric_observe(rt->m_latency, (const char *[]){key}, (double)(tomo_mono_ns() - t0) / 1e6);
    return rc;
}

int tomo_runtime_before(tomo_runtime *rt, int kind, const char *name, const tomo_runtime_call *call,
                        json_t *in, json_t **out, tomo_err *err)
{
    *out = NULL;
    char key[256];
    if (!tomo_runtime_hook_key(kind, name, key, sizeof(key))) {
        *out = json_incref(in);
        return 0;
    }
    const tomo_impl *pe = tomo_registry_get(&rt->plugin_reg, TOMO_REG_T_HOOK, key);
    if (pe)
        return tomo_plugin_before(rt, pe, call, in, out, err);
    callspec cs = {.reg = TOMO_REG_HOOK, .key = key, .call = call, .jargs = {in}, .njargs = 1,
                   .want = WANT_JSON};
    int rc = run_call(rt, &cs, err);
    if (rc == TOMO_ENOTFOUND) {
        *out = json_incref(in);
        return 0;
    }
    if (rc == 0 && cs.bad_result) {
        err_set(err, TOMO_GRPC_INTERNAL, "Could not complete runtime Before function.");
        return TOMO_EINVAL;
    }
    if (rc == 0)
        *out = cs.jout;
    return rc;
}

void tomo_runtime_after(tomo_runtime *rt, int kind, const char *name, const tomo_runtime_call *call,
                        json_t *outv, json_t *in)
{
    char key[256];
    tomo_err err;
    if (!tomo_runtime_hook_key(kind, name, key, sizeof(key)))
        return;
    const tomo_impl *pe = tomo_registry_get(&rt->plugin_reg, TOMO_REG_T_HOOK, key);
    if (pe) {
        tomo_plugin_after(rt, pe, call, outv, in);
        return;
    }
    callspec cs = {.reg = TOMO_REG_HOOK, .key = key, .call = call, .jargs = {outv, in},
                   .njargs = 2, .want = WANT_NONE};
    if (run_call(rt, &cs, &err) == TOMO_EINVAL)
        TOMO_LOGW(TOMO_RUNTIME_LOG, "after hook failed hook=%s error=%s", key, err.msg);
}

int tomo_runtime_callback(tomo_runtime *rt, int which, const tomo_runtime_call *call, json_t *args,
                          json_t **ret, tomo_err *err)
{
    if (ret)
        *ret = NULL;
    if (!tomo_runtime_has_callback(rt, which))
        return TOMO_ENOTFOUND;
    callspec cs = {.cb = which, .call = call, .args = args, .want = ret ? WANT_JSON : WANT_NONE};
    int rc = run_call(rt, &cs, err);
    if (rc == 0 && ret)
        *ret = cs.jout;
    else
        json_decref(cs.jout);
    return rc;
}

/* ---- match states (runtime/match_lua.c) ---- */

int tomo_runtime_match_state(tomo_runtime *rt, const char *module, lstate **out, char *err,
                             size_t errlen)
{
    pthread_mutex_lock(&rt->mu);
    prog *p = rt->cur;
    p->refs++; /* keep it while building */
    pthread_mutex_unlock(&rt->mu);
    int rc = find_mod(p, module) ? lstate_make(rt, p, 0, 0, out, err, errlen) : TOMO_ENOTFOUND;
    pthread_mutex_lock(&rt->mu);
    int last = --p->refs == 0 && p != rt->cur;
    pthread_mutex_unlock(&rt->mu);
    if (last)
        prog_free(p);
    return rc;
}

void tomo_runtime_match_state_free(lstate *ls) { lstate_drop(ls->rt, ls); }

int tomo_runtime_msgh(lua_State *L) { return msgh(L); }

void tomo_runtime_failure(lstate *ls, int r, const char *src, const char *what, tomo_err *err)
{
    lua_failure(ls, r, src, what, err);
}
