/* tests/runtime/test_plugin.c: the C plugin host: loading the example
 * plugin next to a Lua module, RPCs and hooks through the runtime's entry
 * points (error mapping included), the ABI checks (a plugin built against
 * the frozen 1.0 header loads, another major is refused naming both
 * versions), duplicate registrations across kinds, and the example's match
 * handler driven through rt's seam with a recording dispatcher. */
#define _GNU_SOURCE
#include "tt.h"

#include "core/common.h"
#include "core/config.h"
#include "rt/match_handler.h"
#include "runtime/plugin_int.h"
#include "runtime/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[256];

static void put(const char *name, const char *src)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", g_dir, name);
    FILE *f = fopen(p, "w");
    fputs(src, f);
    fclose(f);
}

static void link_so(const char *name, const char *from)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", g_dir, name);
    unlink(p);
    if (symlink(from, p) != 0)
        TT_FAIL("symlink %s", from);
}

static void clear(void)
{
    static const char *const names[] = {"example.so", "old.so",  "bad.so",
                                        "helper.lua", "dup.lua", "example_match.lua"};
    char p[512];
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
        snprintf(p, sizeof(p), "%s/%s", g_dir, names[i]);
        unlink(p);
    }
}

static tomo_runtime *start(tomo_config *cfg, char *err, size_t n)
{
    tomo_config_defaults(cfg);
    tomo_config_set(cfg, "runtime.path", g_dir, err, n);
    tomo_config_set(cfg, "runtime.lua_min_count", "1", err, n);
    tomo_config_set(cfg, "runtime.lua_max_count", "2", err, n);
    tomo_runtime_deps deps = {.cfg = cfg};
    tomo_runtime *rt = NULL;
    err[0] = '\0';
    if (tomo_runtime_new(&deps, &rt, err, n) < 0)
        return NULL;
    return rt;
}

static void test_rpc_and_hooks(void)
{
    clear();
    link_so("example.so", TOMO_TEST_EXAMPLE_SO);
    link_so("old.so", TOMO_TEST_OLD_SO);
    put("helper.lua",
        "require('nakama').register_rpc(function(c, p) return 'lua' end, 'lua_rpc')\n");
    tomo_config cfg;
    char err[512];
    tomo_runtime *rt = start(&cfg, err, sizeof(err));
    TT_TRUE(rt != NULL);
    if (!rt) {
        fprintf(stderr, "start: %s\n", err);
        tomo_config_free(&cfg);
        return;
    }
    TT_EQ(tomo_runtime_rpc_count(rt), 6); /* 4 example + old_abi + lua_rpc */
    TT_TRUE(tomo_runtime_has_rpc(rt, "Example_Echo"));
    TT_TRUE(tomo_runtime_has_rpc(rt, "lua_rpc"));
    tomo_runtime_call c = {.mode = TOMO_RUNTIME_MODE_RPC, .user_id = "u1", .username = "n"};
    char *out = NULL;
    size_t ol = 0;
    tomo_err e = {0};
    TT_OK(tomo_runtime_rpc(rt, &c, "example_echo", "hi", 2, &out, &ol, &e));
    TT_STR_EQ(out, "{\"payload\":\"hi\",\"user_id\":\"u1\"}");
    TT_EQ(ol, strlen(out ? out : ""));
    free(out);
    TT_TRUE(tomo_runtime_rpc(rt, &c, "example_fail", "", 0, &out, &ol, &e) < 0);
    TT_EQ(e.code, 3);
    TT_STR_EQ(e.msg, "example failure");
    TT_TRUE(out == NULL);
    /* a service without a database: UNAVAILABLE passes through */
    TT_TRUE(tomo_runtime_rpc(rt, &c, "example_store", "{}", 2, &out, &ol, &e) < 0);
    TT_EQ(e.code, 14);
    TT_OK(tomo_runtime_rpc(rt, &c, "old_abi", "", 0, &out, &ol, &e));
    TT_STR_EQ(out, "built=1.0 host=1.3");
    free(out);
    /* before hook: change, refuse, pass unchanged */
    TT_TRUE(tomo_runtime_has_hook(rt, TOMO_HOOK_REQ_BEFORE, "updateaccount"));
    TT_TRUE(!tomo_runtime_has_hook(rt, TOMO_HOOK_REQ_AFTER, "UpdateAccount"));
    json_t *in = json_pack("{s:s}", "display_name", "Ann"), *res = NULL;
    TT_OK(tomo_runtime_before(rt, TOMO_HOOK_REQ_BEFORE, "UpdateAccount", &c, in, &res, &e));
    TT_STR_EQ(json_string_value(json_object_get(res, "display_name")), "plugin:Ann");
    json_decref(res);
    json_decref(in);
    in = json_pack("{s:s}", "display_name", "forbidden");
    TT_TRUE(tomo_runtime_before(rt, TOMO_HOOK_REQ_BEFORE, "UpdateAccount", &c, in, &res, &e) < 0);
    TT_EQ(e.code, 3);
    TT_STR_EQ(e.msg, "display name not allowed");
    json_decref(in);
    in = json_pack("{s:s}", "location", "x");
    TT_OK(tomo_runtime_before(rt, TOMO_HOOK_REQ_BEFORE, "UpdateAccount", &c, in, &res, &e));
    TT_TRUE(res == in);
    json_decref(res);
    json_decref(in);
    tomo_runtime_free(rt);
    tomo_config_free(&cfg);
}

static void test_refusals(void)
{
    tomo_config cfg;
    char err[512];
    clear();
    link_so("bad.so", TOMO_TEST_BAD_SO);
    TT_TRUE(start(&cfg, err, sizeof(err)) == NULL);
    TT_TRUE(strstr(err, "bad.so is built for tomo plugin ABI 2.0; this tomo implements ABI 1.") !=
            NULL);
    tomo_config_free(&cfg);
    /* a Lua module named like a plugin's match module */
    clear();
    link_so("example.so", TOMO_TEST_EXAMPLE_SO);
    put("example_match.lua", "return {}\n");
    TT_TRUE(start(&cfg, err, sizeof(err)) == NULL);
    TT_TRUE(strstr(err, "match handler \"example_match\" is registered twice: by example.so and "
                        "example_match.lua") != NULL);
    tomo_config_free(&cfg);
    clear();
    link_so("example.so", TOMO_TEST_EXAMPLE_SO);
    put("dup.lua", "require('nakama').register_req_before(function(c, r) return r end, "
                   "'UpdateAccount')\n");
    TT_TRUE(start(&cfg, err, sizeof(err)) == NULL);
    TT_TRUE(strstr(err, "before hook \"UpdateAccount\" is registered twice: by example.so and "
                        "dup.lua") != NULL);
    tomo_config_free(&cfg);
    clear();
}

/* ---- the example match through rt's seam ---- */

typedef struct rec {
    int broadcasts;
    int64_t op;
    char data[64];
    char sender[40];
    int everyone;
} rec;

static int d_broadcast(void *ctx, int64_t op_code, const uint8_t *data, size_t len,
                       const tomo_match_presence *presences, size_t n,
                       const tomo_match_presence *sender, int reliable)
{
    (void)reliable;
    rec *r = ctx;
    r->broadcasts++;
    r->op = op_code;
    snprintf(r->data, sizeof(r->data), "%.*s", (int)len, (const char *)data);
    snprintf(r->sender, sizeof(r->sender), "%s", sender ? sender->user_id : "");
    r->everyone = presences == NULL && n == 0;
    return 0;
}

static void test_match(void)
{
    clear();
    link_so("example.so", TOMO_TEST_EXAMPLE_SO);
    tomo_config cfg;
    char err[512];
    tomo_runtime *rt = start(&cfg, err, sizeof(err));
    TT_TRUE(rt != NULL);
    if (!rt) {
        tomo_config_free(&cfg);
        return;
    }
    tomo_match_handler h;
    TT_EQ(tomo_plugin_match_lookup(rt, "nope", &h), TOMO_ENOTFOUND);
    TT_OK(tomo_plugin_match_lookup(rt, "example_match", &h));
    rec r = {0};
    tomo_match_dispatcher d = {.ctx = &r, .broadcast = d_broadcast};
    tomo_match_ctx mc = {.match_id = "m1.nakama", .node = "nakama", .dispatcher = &d};
    void *state = NULL;
    int tick_rate = 0;
    char label[64];
    TT_OK(h.init(h.ud, &mc, NULL, &state, &tick_rate, label, sizeof(label)));
    TT_EQ(tick_rate, 10);
    TT_STR_EQ(label, "{\"kind\":\"example\"}");
    TT_TRUE(state != NULL);
    tomo_match_presence p = {
        .user_id = "u1", .session_id = "s1", .username = "one", .node = "nakama", .reason = 1};
    int accept = 1;
    char reason[64] = "";
    json_t *md = json_pack("{s:s}", "deny", "yes");
    TT_OK(h.join_attempt(h.ud, &mc, &state, &p, md, &accept, reason, sizeof(reason)));
    TT_EQ(accept, 0);
    TT_STR_EQ(reason, "denied by the example");
    json_decref(md);
    TT_OK(h.join_attempt(h.ud, &mc, &state, &p, NULL, &accept, reason, sizeof(reason)));
    TT_EQ(accept, 1);
    TT_OK(h.join(h.ud, &mc, &state, &p, 1));
    mc.tick = 3;
    tomo_match_message m = {
        .sender = p, .op_code = 4, .data = (const uint8_t *)"ping", .len = 4, .reliable = 1};
    TT_OK(h.loop(h.ud, &mc, &state, &m, 1));
    TT_EQ(r.broadcasts, 1);
    TT_EQ(r.op, 5);
    TT_STR_EQ(r.data, "ping");
    TT_STR_EQ(r.sender, "u1");
    TT_TRUE(r.everyone);
    char *res = NULL;
    TT_OK(h.signal(h.ud, &mc, &state, "x", &res));
    TT_STR_EQ(res, "tick=3 players=1");
    free(res);
    TT_OK(h.leave(h.ud, &mc, &state, &p, 1));
    TT_OK(h.loop(h.ud, &mc, &state, NULL, 0));
    TT_TRUE(state == NULL); /* the last player left: the match ends */
    h.release(h.ud);
    tomo_runtime_free(rt);
    tomo_config_free(&cfg);
    clear();
}

int main(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/tomo-plugin-test-%d", (int)getpid());
    mkdir(g_dir, 0755);
    TT_RUN(test_rpc_and_hooks);
    TT_RUN(test_refusals);
    TT_RUN(test_match);
    rmdir(g_dir);
    return tt_finish();
}
