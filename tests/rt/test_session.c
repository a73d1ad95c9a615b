/* tests/rt/test_session.c: the session registry (by id, per-user chains),
 * closing (presences and follows dropped, lookups stop finding it), the
 * dispatch table and error envelopes. Sessions have no socket here. */
#include "core/common.h"
#include "core/config.h"
#include "rt/envelope.h"
#include "rt/rt.h"
#include "rt/rt_int.h"
#include "tt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tomo_rt *rt;
static tomo_loop *loop;
static tomo_config cfg;

static tomo_rt_session *mk(const char *uid, const char *name)
{
    tomo_session_claims c;
    memset(&c, 0, sizeof(c));
    snprintf(c.user_id, sizeof(c.user_id), "%s", uid);
    snprintf(c.username, sizeof(c.username), "%s", name);
    return tomo_rt_session_new(rt, &c, TOMO_RT_FORMAT_JSON, NULL);
}

static void test_registry(void)
{
    const char *u1 = "11111111-1111-4111-8111-111111111111";
    const char *u2 = "22222222-2222-4222-8222-222222222222";
    tomo_rt_session *a = mk(u1, "alice"), *b = mk(u1, "alice"), *c = mk(u2, "bob");
    TT_EQ(tomo_rt_session_count(rt), 3);
    TT_STR_EQ(a->lang, "en");
    TT_TRUE(strcmp(a->id, b->id) != 0);
    TT_TRUE(tomo_rt_session_find(rt, a->id) == a);
    TT_TRUE(tomo_rt_session_find(rt, "nope") == NULL);
    /* newest first */
    TT_TRUE(tomo_rt_session_first_of_user(rt, u1) == b);
    TT_TRUE(tomo_rt_session_next_of_user(b) == a);
    TT_TRUE(tomo_rt_session_next_of_user(a) == NULL);
    TT_EQ(tomo_rt_user_online(rt, u1), 2);
    TT_EQ(tomo_rt_user_online(rt, u2), 1);

    /* presences and follows go away with the session */
    tomo_tracker *t = tomo_rt_tracker(rt);
    tomo_stream m = {TOMO_STREAM_MATCH_RELAYED, "m", NULL, NULL};
    tomo_tracker_track(t, b, &m, 0, 0, NULL);
    tomo_tracker_track(t, c, &m, 0, 0, NULL);
    tomo_rt_status_follow_self(b);
    TT_TRUE(b->_follows != NULL);
    tomo_rt_session_hold(b);
    tomo_rt_session_close(b, NULL, 1000, "bye");
    TT_TRUE(!tomo_rt_session_alive(b));
    TT_TRUE(b->_follows == NULL);
    TT_TRUE(b->_presences == NULL);
    TT_EQ(tomo_tracker_count(t, &m), 1);
    TT_TRUE(tomo_rt_session_find(rt, b->id) == NULL);
    TT_TRUE(tomo_rt_session_first_of_user(rt, u1) == a); /* the chain head moved */
    TT_EQ(tomo_rt_user_online(rt, u1), 1);
    tomo_rt_session_close(b, NULL, 1000, "again"); /* idempotent */
    tomo_rt_session_on_closed(b);                  /* the socket's reference */
    tomo_rt_session_release(b);                    /* ours: freed now */

    /* a middle-of-chain removal keeps the rest reachable */
    tomo_rt_session *d = mk(u1, "alice"), *e = mk(u1, "alice"); /* chain: e d a */
    tomo_rt_session_close(d, NULL, 1000, NULL);
    TT_TRUE(tomo_rt_session_first_of_user(rt, u1) == e);
    TT_TRUE(tomo_rt_session_next_of_user(e) == a);
    tomo_rt_session_on_closed(d);

    /* sending to a session without a socket reports it */
    json_t *env = json_pack("{s:{}}", "pong");
    TT_EQ(tomo_rt_send_to_user(rt, u1, env), 0);
    json_decref(env);

    tomo_rt_disconnect_user(rt, u1);
    TT_EQ(tomo_rt_user_online(rt, u1), 0);
    TT_EQ(tomo_rt_session_count(rt), 1);
    tomo_rt_session_on_closed(a);
    tomo_rt_session_on_closed(e);
    tomo_rt_session_close(c, NULL, 1000, NULL);
    tomo_rt_session_on_closed(c);
    TT_EQ(tomo_rt_session_count(rt), 0);
    TT_EQ(tomo_tracker_size(t), 0);
}

static int seen;
static int h_custom(tomo_rt_req *req)
{
    seen++;
    TT_STR_EQ(req->type, "party_create");
    TT_STR_EQ(req->cid, "7");
    TT_TRUE(json_is_true(json_object_get(req->body, "open")));
    return tomo_rt_reply(req, NULL, NULL);
}

static void test_dispatch_table(void)
{
    /* core modules registered by tomo_rt_new */
    TT_TRUE(tomo_rt_handler_of(rt, "ping") != NULL);
    TT_TRUE(tomo_rt_handler_of(rt, "match_join") != NULL);
    TT_TRUE(tomo_rt_handler_of(rt, "status_follow") != NULL);
    TT_TRUE(tomo_rt_handler_of(rt, "match_data") == NULL); /* push-only */
    /* a feature registers its own type without touching the table code */
    tomo_rt_register(rt, "party_create", h_custom);
    TT_TRUE(tomo_rt_handler_of(rt, "party_create") == h_custom);
    tomo_rt_session *s = mk("33333333-3333-4333-8333-333333333333", "carol");
    json_t *env = json_pack("{s:s,s:{s:b}}", "cid", "7", "party_create", "open", 1);
    tomo_rt_dispatch(s, env);
    json_decref(env);
    TT_EQ(seen, 1);
    TT_TRUE(tomo_rt_session_alive(s));
    /* an unknown type closes the session */
    env = json_pack("{s:s,s:{}}", "cid", "8", "match_data");
    tomo_rt_dispatch(s, env);
    json_decref(env);
    TT_TRUE(!tomo_rt_session_alive(s));
    tomo_rt_session_on_closed(s);
    /* an envelope with no message closes it too */
    s = mk("33333333-3333-4333-8333-333333333333", "carol");
    env = json_pack("{s:s}", "cid", "9");
    tomo_rt_dispatch(s, env);
    json_decref(env);
    TT_TRUE(!tomo_rt_session_alive(s));
    tomo_rt_session_on_closed(s);

    json_t *e = tomo_rt_error_envelope("5", TOMO_RT_ERR_BAD_INPUT, "Invalid match ID");
    char *txt = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
    TT_STR_EQ(txt, "{\"cid\":\"5\",\"error\":{\"code\":3,\"message\":\"Invalid match ID\"}}");
    free(txt);
    json_decref(e);
    e = tomo_rt_error_envelope(NULL, TOMO_RT_ERR_RUNTIME_EXCEPTION, "x");
    txt = json_dumps(e, JSON_COMPACT);
    TT_STR_EQ(txt, "{\"error\":{\"message\":\"x\"}}"); /* code 0 omitted, no cid */
    free(txt);
    json_decref(e);
}

int main(void)
{
    tomo_config_defaults(&cfg);
    loop = tomo_loop_new();
    tomo_rt_deps deps = {&cfg, loop, NULL, NULL, NULL, NULL};
    rt = tomo_rt_new(&deps);
    TT_RUN(test_registry);
    TT_RUN(test_dispatch_table);
    tomo_rt_close_all(rt);
    uv_run(tomo_loop_uv(loop), UV_RUN_NOWAIT);
    tomo_rt_free(rt);
    tomo_loop_close(loop);
    uv_run(tomo_loop_uv(loop), UV_RUN_DEFAULT);
    tomo_loop_free(loop);
    tomo_config_free(&cfg);
    return tt_finish();
}
