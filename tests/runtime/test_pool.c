/* tests/runtime/test_pool.c: the Lua state pool (min/max, concurrent
 * borrowers, modules loaded once per state), the instruction budget
 * (a runaway loop is stopped, also inside pcall, and the state replaced),
 * the memory bound, error mapping, load errors naming file and line. */
#define _GNU_SOURCE
#include "tt.h"

#include "core/common.h"
#include "core/config.h"
#include "runtime/runtime.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[256];

static void write_mod(const char *name, const char *src)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", g_dir, name);
    FILE *f = fopen(p, "w");
    fputs(src, f);
    fclose(f);
}

static tomo_runtime *start(tomo_config *cfg, int min, int max, int budget, char *err, size_t n)
{
    tomo_config_defaults(cfg);
    char v[32];
    tomo_config_set(cfg, "runtime.path", g_dir, err, n);
    snprintf(v, sizeof(v), "%d", min);
    tomo_config_set(cfg, "runtime.lua_min_count", v, err, n);
    snprintf(v, sizeof(v), "%d", max);
    tomo_config_set(cfg, "runtime.lua_max_count", v, err, n);
    snprintf(v, sizeof(v), "%d", budget);
    tomo_config_set(cfg, "runtime.lua_max_instructions", v, err, n);
    tomo_config_set(cfg, "runtime.lua_max_memory_mb", "16", err, n);
    tomo_runtime_deps deps = {.cfg = cfg};
    tomo_runtime *rt = NULL;
    err[0] = '\0';
    if (tomo_runtime_new(&deps, &rt, err, n) < 0)
        return NULL;
    return rt;
}

static int call(tomo_runtime *rt, const char *id, const char *in, char **out, tomo_err *err)
{
    tomo_runtime_call c = {.mode = TOMO_RUNTIME_MODE_RPC};
    size_t ol = 0;
    *out = NULL;
    return tomo_runtime_rpc(rt, &c, id, in, strlen(in), out, &ol, err);
}

static const char main_lua[] =
    "local nk = require('nakama')\n"
    "local lib = require('lib.b')\n"
    "loads = (loads or 0) + 1\n"
    "local calls = 0\n"
    "nk.register_rpc(function(ctx, p) return p .. lib.suffix end, 'Echo')\n"
    "nk.register_rpc(function(ctx, p) calls = calls + 1 return tostring(calls) end, 'count')\n"
    "nk.register_rpc(function(ctx, p) return tostring(loads) end, 'loads')\n"
    "nk.register_rpc(function() while true do end end, 'spin')\n"
    "nk.register_rpc(function() while true do pcall(function() while true do end end) end end, "
    "'spin_pcall')\n"
    "nk.register_rpc(function() local t = {} for i = 1, 1e9 do t[i] = string.rep('y', 512) .. i end "
    "end, 'hog')\n"
    "nk.register_rpc(function() error({'denied', 7}) end, 'denied')\n"
    "nk.register_rpc(function() error('plain') end, 'plain')\n"
    "nk.register_rpc(function() local x = 0 for i = 1, 1000 do x = x + i end return tostring(x) "
    "end, 'sum')\n"
    "nk.register_rpc(function(ctx, p) return nk.json_encode(nk.json_decode(p)) end, 'json')\n";

typedef struct worker_arg {
    tomo_runtime *rt;
    int ok;
} worker_arg;

static void *worker(void *a)
{
    worker_arg *w = a;
    for (int i = 0; i < 200; i++) {
        char *out;
        tomo_err err;
        if (call(w->rt, "echo", "x", &out, &err) == 0 && out && !strcmp(out, "x!"))
            w->ok++;
        free(out);
    }
    return NULL;
}

static void test_pool(void)
{
    tomo_config cfg;
    char err[512];
    tomo_runtime *rt = start(&cfg, 1, 3, 1000000, err, sizeof(err));
    TT_TRUE(rt != NULL);
    if (!rt) {
        fprintf(stderr, "%s\n", err);
        tomo_config_free(&cfg);
        return;
    }
    TT_EQ(tomo_runtime_module_count(rt), 2);
    TT_TRUE(tomo_runtime_has_rpc(rt, "ECHO"));
    TT_TRUE(!tomo_runtime_has_rpc(rt, "nope"));
    char *out;
    tomo_err e;
    /* the module ran once in this state */
    TT_OK(call(rt, "loads", "", &out, &e));
    TT_STR_EQ(out, "1");
    free(out);
    /* 4 threads over at most 3 states */
    pthread_t th[4];
    worker_arg wa[4];
    for (int i = 0; i < 4; i++) {
        wa[i] = (worker_arg){rt, 0};
        pthread_create(&th[i], NULL, worker, &wa[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        TT_EQ(wa[i].ok, 200);
    }
    /* unknown id */
    TT_EQ(call(rt, "nope", "", &out, &e), TOMO_ENOTFOUND);
    TT_EQ(e.code, TOMO_GRPC_NOT_FOUND);
    TT_STR_EQ(e.msg, "RPC function not found");
    /* error mapping */
    TT_TRUE(call(rt, "denied", "", &out, &e) < 0);
    TT_EQ(e.code, 7);
    TT_STR_EQ(e.msg, "denied");
    TT_TRUE(call(rt, "plain", "", &out, &e) < 0);
    TT_EQ(e.code, 13);
    TT_STR_EQ(e.msg, "plain");
    TT_OK(call(rt, "json", "{\"b\":[1,2.5,\"<\"],\"a\":{}}", &out, &e));
    TT_STR_EQ(out, "{\"a\":{},\"b\":[1,2.5,\"\\u003c\"]}");
    free(out);
    tomo_runtime_free(rt);
    tomo_config_free(&cfg);
}

static void test_budget(void)
{
    tomo_config cfg;
    char err[512];
    tomo_runtime *rt = start(&cfg, 1, 1, 2000000, err, sizeof(err));
    TT_TRUE(rt != NULL);
    if (!rt) {
        tomo_config_free(&cfg);
        return;
    }
    char *out;
    tomo_err e;
    TT_OK(call(rt, "count", "", &out, &e));
    TT_STR_EQ(out, "1");
    free(out);
    uint64_t t0 = tomo_mono_ns();
    TT_TRUE(call(rt, "spin", "", &out, &e) < 0);
    TT_EQ(e.code, 13);
    TT_TRUE(strstr(e.msg, "instruction budget") != NULL);
    TT_TRUE(call(rt, "spin_pcall", "", &out, &e) < 0);
    TT_TRUE(strstr(e.msg, "instruction budget") != NULL);
    TT_TRUE(tomo_mono_ns() - t0 < 5000000000ull);
    /* the stopped state was replaced: module state starts over */
    TT_OK(call(rt, "count", "", &out, &e));
    TT_STR_EQ(out, "1");
    free(out);
    /* a normal call fits in the budget */
    TT_OK(call(rt, "sum", "", &out, &e));
    TT_STR_EQ(out, "500500");
    free(out);
    /* the memory bound */
    TT_TRUE(call(rt, "hog", "", &out, &e) < 0);
    TT_TRUE(strstr(e.msg, "memory limit") != NULL);
    TT_OK(call(rt, "echo", "still", &out, &e));
    TT_STR_EQ(out, "still!");
    free(out);
    tomo_runtime_free(rt);
    tomo_config_free(&cfg);
}

static void test_load_errors(void)
{
    tomo_config cfg;
    char err[512];
    write_mod("zz.lua", "local x = = 1\n");
    tomo_runtime *rt = start(&cfg, 1, 1, 0, err, sizeof(err));
    TT_TRUE(rt == NULL);
    TT_TRUE(strstr(err, "zz.lua:1:") != NULL);
    tomo_config_free(&cfg);
    write_mod("zz.lua", "local t = nil\nreturn t.x\n");
    rt = start(&cfg, 1, 1, 0, err, sizeof(err));
    TT_TRUE(rt == NULL);
    TT_TRUE(strstr(err, "zz.lua:2:") != NULL);
    tomo_config_free(&cfg);
    write_mod("zz.lua", "require('missing')\n");
    rt = start(&cfg, 1, 1, 0, err, sizeof(err));
    TT_TRUE(rt == NULL);
    TT_TRUE(strstr(err, "module missing not found") != NULL);
    tomo_config_free(&cfg);
    char p[512];
    snprintf(p, sizeof(p), "%s/zz.lua", g_dir);
    unlink(p);
}

int main(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/tomo-test-runtime-XXXXXX");
    if (!mkdtemp(g_dir))
        return 1;
    char lib[300];
    snprintf(lib, sizeof(lib), "%s/lib", g_dir);
    mkdir(lib, 0700);
    write_mod("a.lua", main_lua);
    write_mod("lib/b.lua", "return {suffix = '!'}\n");
    /* the echo rpc appends the suffix */
    TT_RUN(test_pool);
    TT_RUN(test_budget);
    TT_RUN(test_load_errors);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
    if (system(cmd) != 0)
        return 1;
    return tt_finish();
}
