/* tests/rt/test_tracker.c: tracker streams, presences, events; hmap. */
#include "core/common.h"
#include "core/hmap.h"
#include "rt/tracker.h"
#include "tt.h"

#include <stdio.h>
#include <stdlib.h>

static tomo_rt_session *mk(const char *sid, const char *uid, const char *name)
{
    tomo_rt_session *s = calloc(1, sizeof(*s));
    snprintf(s->id, sizeof(s->id), "%s", sid);
    snprintf(s->user_id, sizeof(s->user_id), "%s", uid);
    s->username = (char *)name;
    s->_refs = 1;
    return s;
}

typedef struct ev {
    int calls;
    char last_stream[128];
    size_t joins, leaves;
    char last_join_status[64];
} ev;

static void on_ev(tomo_rt *srv, const tomo_stream *st, json_t *joins, json_t *leaves, void *ud)
{
    (void)srv;
    ev *e = ud;
    e->calls++;
    snprintf(e->last_stream, sizeof(e->last_stream), "%d.%s.%s.%s", st->mode, st->subject,
             st->subcontext, st->label);
    e->joins += json_array_size(joins);
    e->leaves += json_array_size(leaves);
    const char *s = json_string_value(json_object_get(json_array_get(joins, 0), "status"));
    snprintf(e->last_join_status, sizeof(e->last_join_status), "%s", s ? s : "(none)");
}

static void test_hmap(void)
{
    tomo_hmap m;
    tomo_hmap_init(&m);
    char keys[2000][16];
    for (int i = 0; i < 2000; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        TT_TRUE(tomo_hmap_put(&m, keys[i], (void *)(long)(i + 1)) == NULL);
    }
    TT_EQ(m.count, 2000);
    for (int i = 0; i < 2000; i++)
        TT_EQ((long)tomo_hmap_get(&m, keys[i]), i + 1);
    for (int i = 0; i < 2000; i += 2)
        TT_EQ((long)tomo_hmap_del(&m, keys[i]), i + 1);
    TT_EQ(m.count, 1000);
    TT_TRUE(tomo_hmap_get(&m, "k0") == NULL);
    TT_EQ((long)tomo_hmap_get(&m, "k1999"), 2000);
    /* churn: tombstones must not make the table fill up */
    for (int r = 0; r < 50; r++)
        for (int i = 0; i < 2000; i += 2) {
            tomo_hmap_put(&m, keys[i], (void *)1);
            tomo_hmap_del(&m, keys[i]);
        }
    TT_EQ(m.count, 1000);
    TT_TRUE(m.cap <= 4096);
    size_t n = 0;
    for (size_t i = 0; (i = tomo_hmap_next(&m, i, NULL, NULL)) != 0;)
        n++;
    TT_EQ(n, 1000);
    TT_TRUE(tomo_hmap_get(&m, "nope") == NULL);
    tomo_hmap_free(&m);
}

static void test_track_untrack_events(void)
{
    tomo_tracker *t = tomo_tracker_new();
    ev e = {0};
    tomo_tracker_listen(t, TOMO_STREAM_MATCH_RELAYED, on_ev, &e);
    tomo_rt_session *a = mk("s-a", "u-a", "alice"), *b = mk("s-b", "u-b", "bob");
    tomo_stream m = {TOMO_STREAM_MATCH_RELAYED, "m1", NULL, NULL};
    TT_EQ(tomo_tracker_track(t, a, &m, 0, 0, NULL), 1);
    TT_EQ(tomo_tracker_track(t, a, &m, 0, 0, NULL), 0); /* already there: no change */
    TT_EQ(tomo_tracker_track(t, b, &m, 1, 0, NULL), 1);
    TT_EQ(tomo_tracker_count(t, &m), 2);
    TT_EQ(tomo_tracker_size(t), 2);
    TT_EQ(tomo_tracker_pending(t), 1); /* coalesced per stream */
    tomo_tracker_flush(t, NULL);
    TT_EQ(e.calls, 1);
    TT_EQ(e.joins, 2);
    TT_STR_EQ(e.last_stream, "5.m1..");
    TT_EQ(tomo_tracker_pending(t), 0);
    /* order: oldest first */
    tomo_presence *p = tomo_tracker_first(t, &m);
    TT_TRUE(p && p->session == a);
    TT_TRUE(tomo_presence_next(p) && tomo_presence_next(p)->session == b);
    json_t *l = tomo_tracker_list_json(t, &m, 0);
    TT_EQ(json_array_size(l), 2);
    TT_TRUE(json_is_true(json_object_get(json_array_get(l, 1), "persistence")));
    TT_TRUE(json_object_get(json_array_get(l, 0), "persistence") == NULL);
    TT_TRUE(json_object_get(json_array_get(l, 0), "status") == NULL);
    json_decref(l);
    TT_EQ(tomo_tracker_untrack(t, a, &m), 1);
    TT_EQ(tomo_tracker_untrack(t, a, &m), 0);
    tomo_tracker_flush(t, NULL);
    TT_EQ(e.leaves, 1);
    TT_EQ(tomo_tracker_count(t, &m), 1);
    TT_EQ(tomo_tracker_stream_count(t, TOMO_STREAM_MATCH_RELAYED), 1);
    TT_EQ(tomo_tracker_untrack(t, b, &m), 1);
    tomo_tracker_flush(t, NULL);
    /* empty streams disappear */
    TT_EQ(tomo_tracker_stream_count(t, TOMO_STREAM_MATCH_RELAYED), 0);
    TT_EQ(tomo_tracker_count(t, &m), 0);
    TT_TRUE(tomo_tracker_first(t, &m) == NULL);
    TT_EQ(tomo_tracker_size(t), 0);
    tomo_tracker_free(t);
    free(a);
    free(b);
}

static void test_hidden_and_untrack_all(void)
{
    tomo_tracker *t = tomo_tracker_new();
    ev e = {0}, en = {0};
    tomo_tracker_listen(t, TOMO_STREAM_CHANNEL, on_ev, &e);
    tomo_tracker_listen(t, TOMO_STREAM_NOTIFICATIONS, on_ev, &en);
    tomo_rt_session *a = mk("s-a", "u-a", "alice");
    tomo_stream n = {TOMO_STREAM_NOTIFICATIONS, "u-a", NULL, NULL};
    tomo_stream r1 = {TOMO_STREAM_CHANNEL, NULL, NULL, "room.with.dots"};
    tomo_stream r2 = {TOMO_STREAM_CHANNEL, NULL, NULL, "other"};
    tomo_tracker_track(t, a, &n, 0, 1, NULL); /* hidden: never announced */
    tomo_tracker_track(t, a, &r1, 1, 0, NULL);
    tomo_tracker_track(t, a, &r2, 1, 0, NULL);
    tomo_tracker_flush(t, NULL);
    TT_EQ(en.calls, 0);
    TT_EQ(e.calls, 2);
    TT_STR_EQ(e.last_stream, "2...other");
    TT_TRUE(tomo_tracker_get(t, a, &r1) != NULL);
    json_t *l = tomo_tracker_list_json(t, &n, 0);
    TT_EQ(json_array_size(l), 0);
    json_decref(l);
    l = tomo_tracker_list_json(t, &n, 1);
    TT_EQ(json_array_size(l), 1);
    json_decref(l);
    TT_EQ(tomo_tracker_untrack_all(t, a), 3);
    TT_TRUE(a->_presences == NULL);
    tomo_tracker_flush(t, NULL);
    TT_EQ(e.leaves, 2);
    TT_EQ(en.calls, 0);
    TT_EQ(tomo_tracker_size(t), 0);
    tomo_tracker_free(t);
    free(a);
}

static void test_update_status(void)
{
    tomo_tracker *t = tomo_tracker_new();
    ev e = {0};
    tomo_tracker_listen(t, TOMO_STREAM_STATUS, on_ev, &e);
    tomo_rt_session *a = mk("s-a", "u-a", "alice");
    tomo_stream st = {TOMO_STREAM_STATUS, "u-a", NULL, NULL};
    TT_EQ(tomo_tracker_update(t, a, &st, 0, 0, NULL), 1); /* first update tracks */
    tomo_tracker_flush(t, NULL);
    TT_EQ(e.joins, 1);
    TT_STR_EQ(e.last_join_status, ""); /* status streams always carry a status */
    TT_EQ(tomo_tracker_update(t, a, &st, 0, 0, "away"), 0);
    tomo_tracker_flush(t, NULL);
    TT_EQ(e.joins, 2);
    TT_EQ(e.leaves, 1); /* the old presence leaves */
    TT_STR_EQ(e.last_join_status, "away");
    TT_STR_EQ(tomo_tracker_get(t, a, &st)->status, "away");
    tomo_tracker_free(t);
    free(a);
}

static void test_untrack_mode_keep(void)
{
    tomo_tracker *t = tomo_tracker_new();
    tomo_rt_session *a = mk("s-a", "u-a", "alice");
    tomo_stream m1 = {TOMO_STREAM_MATCH_RELAYED, "m1", NULL, NULL};
    tomo_stream m2 = {TOMO_STREAM_MATCH_RELAYED, "m2", NULL, NULL};
    tomo_stream c = {TOMO_STREAM_CHANNEL, NULL, NULL, "r"};
    tomo_tracker_track(t, a, &m1, 0, 0, NULL);
    tomo_tracker_track(t, a, &m2, 0, 0, NULL);
    tomo_tracker_track(t, a, &c, 0, 0, NULL);
    TT_EQ(tomo_tracker_untrack_mode(t, a, TOMO_STREAM_MATCH_RELAYED, &m2), 1);
    TT_TRUE(tomo_tracker_get(t, a, &m1) == NULL);
    TT_TRUE(tomo_tracker_get(t, a, &m2) != NULL);
    TT_TRUE(tomo_tracker_get(t, a, &c) != NULL);
    TT_EQ(tomo_tracker_track(t, a, &(tomo_stream){99, NULL, NULL, NULL}, 0, 0, NULL),
          TOMO_EINVAL);
    /* keys longer than the stack buffer take the heap path */
    char longlabel[400];
    memset(longlabel, 'L', sizeof(longlabel) - 1);
    longlabel[sizeof(longlabel) - 1] = '\0';
    tomo_stream lg = {TOMO_STREAM_CHANNEL, NULL, NULL, longlabel};
    TT_EQ(tomo_tracker_track(t, a, &lg, 0, 0, NULL), 1);
    TT_EQ(tomo_tracker_count(t, &lg), 1);
    TT_TRUE(tomo_tracker_get(t, a, &lg) != NULL);
    TT_EQ(tomo_tracker_untrack(t, a, &lg), 1);
    TT_EQ(tomo_tracker_count(t, &lg), 0);
    char *k = tomo_stream_key(&(tomo_stream){4, "a", "b", NULL});
    TT_STR_EQ(k, "4.a.b.");
    free(k);
    tomo_tracker_untrack_all(t, a);
    tomo_tracker_flush(t, NULL); /* default listeners: no sessions, nothing sent */
    tomo_tracker_free(t);
    free(a);
}

static void test_many_presences(void)
{
    /* 10k sessions on 100 streams: counts stay exact through churn. */
    tomo_tracker *t = tomo_tracker_new();
    enum { N = 10000 };
    static tomo_rt_session *s[N];
    char sub[16];
    for (int i = 0; i < N; i++) {
        char sid[37];
        snprintf(sid, sizeof(sid), "s%d", i);
        s[i] = mk(sid, sid, "x");
        snprintf(sub, sizeof(sub), "m%d", i % 100);
        tomo_stream st = {TOMO_STREAM_MATCH_RELAYED, sub, NULL, NULL};
        tomo_tracker_track(t, s[i], &st, 0, 0, NULL);
    }
    tomo_tracker_flush(t, NULL);
    TT_EQ(tomo_tracker_stream_count(t, TOMO_STREAM_MATCH_RELAYED), 100);
    TT_EQ(tomo_tracker_count(t, &(tomo_stream){5, "m7", NULL, NULL}), 100);
    for (int i = 0; i < N; i += 2)
        tomo_tracker_untrack_all(t, s[i]);
    tomo_tracker_flush(t, NULL);
    TT_EQ(tomo_tracker_size(t), N / 2);
    TT_EQ(tomo_tracker_count(t, &(tomo_stream){5, "m7", NULL, NULL}), 100); /* odd ids stay */
    TT_EQ(tomo_tracker_count(t, &(tomo_stream){5, "m8", NULL, NULL}), 0);
    TT_EQ(tomo_tracker_stream_count(t, TOMO_STREAM_MATCH_RELAYED), 50);
    for (int i = 0; i < N; i++) {
        tomo_tracker_untrack_all(t, s[i]);
        free(s[i]);
    }
    tomo_tracker_flush(t, NULL);
    TT_EQ(tomo_tracker_size(t), 0);
    tomo_tracker_free(t);
}

typedef struct obs {
    int tracks, updates, untracks;
} obs;

static void on_obs(void *ud, int op, const tomo_rt_session *s, const tomo_stream *st,
                   int persistence, int hidden, const char *status)
{
    (void)s, (void)st, (void)persistence, (void)hidden, (void)status;
    obs *o = ud;
    if (op == TOMO_TRACKER_TRACK)
        o->tracks++;
    else if (op == TOMO_TRACKER_UPDATE)
        o->updates++;
    else
        o->untracks++;
}

/* Remote presences: ghosts count and list, queue events flagged remote, are
 * skipped by broadcasts and not reported to the observer. */
static void test_remote_presences(void)
{
    tomo_tracker *t = tomo_tracker_new();
    ev e = {0};
    obs o = {0};
    tomo_tracker_listen(t, TOMO_STREAM_CHANNEL, on_ev, &e);
    tomo_tracker_observe(t, on_obs, &o);
    tomo_rt_session *a = mk("s-a", "u-a", "alice");
    tomo_stream room = {TOMO_STREAM_CHANNEL, "room", NULL, NULL};
    TT_EQ(tomo_tracker_track(t, a, &room, 0, 0, NULL), 1);
    TT_EQ(o.tracks, 1);
    TT_EQ(tomo_tracker_track_remote(t, 2, "s-b", "u-b", "bob", &room, 1, 0, NULL), 1);
    TT_EQ(tomo_tracker_track_remote(t, 2, "s-b", "u-b", "bob", &room, 0, 0, NULL), 0);
    TT_EQ(tomo_tracker_track_remote(t, 3, "s-c", "u-c", "carol", &room, 0, 1, NULL), 1);
    TT_EQ(tomo_tracker_track_remote(t, 3, "s-c", "u-c", "carol", &(tomo_stream){99, NULL, NULL, NULL}, 0, 0, NULL),
          TOMO_EINVAL);
    TT_EQ(o.tracks, 1);
    TT_EQ(tomo_tracker_count(t, &room), 3);
    TT_EQ(tomo_tracker_remote_count(t, &room), 2);
    TT_EQ(tomo_tracker_size(t), 3);
    TT_EQ(tomo_tracker_local_size(t), 1);
    uint32_t orig[4];
    TT_EQ(tomo_tracker_origins(t, &room, orig, 4), 2);
    TT_EQ(orig[0], 2);
    TT_EQ(orig[1], 3);
    tomo_rt_session *g = tomo_tracker_ghost(t, "s-b");
    TT_TRUE(g && g->_ghost && g->origin == 2 && !tomo_rt_session_alive(g));
    TT_STR_EQ(g->username, "bob");
    json_t *l = tomo_tracker_list_json(t, &room, 0);
    TT_EQ(json_array_size(l), 2); /* carol is hidden */
    json_decref(l);
    tomo_tracker_flush(t, NULL);
    TT_EQ(e.joins, 3); /* alice; bob joined then updated: leave + join; carol hidden */
    TT_EQ(e.leaves, 1);
    /* a broadcast reaches no ghost */
    TT_EQ(tomo_tracker_broadcast(t, &room, json_object(), a), 0);
    TT_EQ(tomo_tracker_untrack_remote(t, "s-b", &room), 1);
    TT_TRUE(tomo_tracker_ghost(t, "s-b") == NULL);
    TT_EQ(tomo_tracker_untrack_remote(t, "s-b", &room), 0);
    tomo_stream st = {TOMO_STREAM_STATUS, "u-c", NULL, NULL};
    TT_EQ(tomo_tracker_track_remote(t, 3, "s-c", "u-c", "carol", &st, 0, 0, "hi"), 1);
    TT_EQ(tomo_tracker_untrack_origin(t, 3), 2);
    TT_TRUE(tomo_tracker_ghost(t, "s-c") == NULL);
    TT_EQ(tomo_tracker_count(t, &room), 1);
    TT_EQ(tomo_tracker_remote_count(t, &room), 0);
    /* a ghost held across its last untrack lives until released */
    TT_EQ(tomo_tracker_track_remote(t, 4, "s-d", "u-d", "dave", &room, 0, 0, NULL), 1);
    g = tomo_tracker_ghost(t, "s-d");
    g->_refs++;
    TT_EQ(tomo_tracker_untrack_remote_session(t, "s-d"), 1);
    TT_TRUE(g->_gone);
    TT_STR_EQ(g->user_id, "u-d");
    free(g->username);
    free(g);
    tomo_tracker_untrack_all(t, a);
    TT_EQ(o.untracks, 1);
    tomo_tracker_flush(t, NULL);
    tomo_tracker_free(t);
    free(a);
}

int main(void)
{
    TT_RUN(test_hmap);
    TT_RUN(test_track_untrack_events);
    TT_RUN(test_hidden_and_untrack_all);
    TT_RUN(test_update_status);
    TT_RUN(test_untrack_mode_keep);
    TT_RUN(test_many_presences);
    TT_RUN(test_remote_presences);
    return tt_finish();
}
