/* tests/svc/test_leaderboard.c: svc/leaderboard.h and svc/tournament.h with
 * no transport: operators, authoritative refusal, listings with cursors and
 * ranks, around-owner windows, deletes, a reset, tournaments (join, window,
 * attempts, size), and the start-up rank fill, on SQLite and (with
 * TOMO_TEST_PG_ADMIN) Postgres; the list's text rendering against its
 * jansson tree. */
#define _GNU_SOURCE
#include "tt.h"

#include "testdb.h"

#include "svc/lb_int.h"
#include "svc/leaderboard.h"
#include "svc/tournament.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static tomo_svc svc;
static tomo_dbconn *db;

static const char *uid(int i)
{
    static char buf[64][37];
    snprintf(buf[i % 64], 37, "00000000-0000-4000-8000-%012d", i);
    return buf[i % 64];
}

static int write_as(const char *board, int i, int64_t s, int64_t ss, int override,
                    tomo_lb_record *out)
{
    tomo_caller c = tomo_caller_user(uid(i), "u");
    tomo_lb_write w = {.owner_id = uid(i), .username = "u", .score = s, .subscore = ss,
                       .override = override};
    tomo_err err;
    int rc = tomo_svc_leaderboard_record_write(&svc, db, &c, board, &w, out, &err);
    if (rc < 0)
        fprintf(stderr, "  write: %d %s\n", err.code, err.msg);
    return rc;
}

static void create(const char *id, int auth, int sort, int op, const char *cron)
{
    tomo_lb_create in = {.id = id, .authoritative = auth, .sort_order = sort, .op = op,
                         .reset_schedule = cron};
    int created = 0;
    tomo_err err;
    TT_OK(tomo_svc_leaderboard_create(&svc, db, &in, &created, &err));
    TT_EQ(created, 1);
    TT_OK(tomo_svc_leaderboard_create(&svc, db, &in, &created, &err));
    TT_EQ(created, 0);
}

static void test_operators(void)
{
    tomo_lb_record r;
    create("best", 0, TOMO_LB_DESC, TOMO_LB_OP_BEST, NULL);
    TT_OK(write_as("best", 1, 10, 5, 0, &r));
    TT_EQ(r.num_score, 1);
    tomo_lb_record_clear(&r);
    TT_OK(write_as("best", 1, 8, 9, 0, &r)); /* per field: (10, 9) */
    TT_EQ(r.score, 10);
    TT_EQ(r.subscore, 9);
    TT_EQ(r.num_score, 2);
    TT_EQ(r.rank, 1);
    TT_STR_EQ(r.username, "u");
    tomo_lb_record_clear(&r);
    TT_OK(write_as("best", 1, 3, 3, 0, &r)); /* no-op */
    TT_EQ(r.score, 10);
    TT_EQ(r.num_score, 2);
    TT_EQ(r.rank, 1);
    tomo_lb_record_clear(&r);
    /* override: set, incr, decr */
    TT_OK(write_as("best", 1, 4, 4, TOMO_LB_OVERRIDE_SET, &r));
    TT_EQ(r.score, 4);
    TT_EQ(r.num_score, 3);
    tomo_lb_record_clear(&r);
    TT_OK(write_as("best", 1, 4, 1, TOMO_LB_OVERRIDE_INCR, &r));
    TT_EQ(r.score, 8);
    TT_EQ(r.subscore, 5);
    tomo_lb_record_clear(&r);
    TT_OK(write_as("best", 1, 100, 2, TOMO_LB_OVERRIDE_DECR, &r));
    TT_EQ(r.score, 0);
    TT_EQ(r.subscore, 3);
    tomo_lb_record_clear(&r);

    create("asc", 0, TOMO_LB_ASC, TOMO_LB_OP_BEST, NULL);
    TT_OK(write_as("asc", 1, 10, 5, 0, &r));
    tomo_lb_record_clear(&r);
    TT_OK(write_as("asc", 1, 12, 2, 0, &r));
    TT_EQ(r.score, 10);
    TT_EQ(r.subscore, 2);
    tomo_lb_record_clear(&r);

    create("decr", 0, TOMO_LB_DESC, TOMO_LB_OP_DECR, NULL);
    TT_OK(write_as("decr", 2, 7, 7, 0, &r)); /* first decrement stores 0, 0 */
    TT_EQ(r.score, 0);
    TT_EQ(r.subscore, 0);
    tomo_lb_record_clear(&r);
    create("incr", 0, TOMO_LB_DESC, TOMO_LB_OP_INCR, NULL);
    TT_OK(write_as("incr", 2, 7, 1, 0, &r));
    tomo_lb_record_clear(&r);
    TT_OK(write_as("incr", 2, 7, 1, 0, &r));
    TT_EQ(r.score, 14);
    TT_EQ(r.num_score, 2);
    tomo_lb_record_clear(&r);
    TT_OK(write_as("incr", 2, 0, 0, 0, &r)); /* zero delta: no-op */
    TT_EQ(r.num_score, 2);
    tomo_lb_record_clear(&r);
    /* a negative result is refused */
    tomo_caller c = tomo_caller_user(uid(2), "u");
    tomo_lb_write w = {.owner_id = uid(2), .score = -20};
    tomo_err err;
    TT_TRUE(tomo_svc_leaderboard_record_write(&svc, db, &c, "incr", &w, &r, &err) < 0);
    TT_EQ(err.code, TOMO_GRPC_INTERNAL);
    TT_STR_EQ(err.msg, "Error writing score to leaderboard.");
    /* metadata: replaced when given, kept otherwise; must be an object */
    w = (tomo_lb_write){.owner_id = uid(2), .score = 1, .metadata = "{\"a\":1}"};
    TT_OK(tomo_svc_leaderboard_record_write(&svc, db, &c, "incr", &w, &r, &err));
    TT_STR_EQ(r.metadata, "{\"a\":1}");
    tomo_lb_record_clear(&r);
    w.metadata = NULL;
    TT_OK(tomo_svc_leaderboard_record_write(&svc, db, &c, "incr", &w, &r, &err));
    TT_STR_EQ(r.metadata, "{\"a\":1}");
    tomo_lb_record_clear(&r);
    w.metadata = "[1]";
    TT_TRUE(tomo_svc_leaderboard_record_write(&svc, db, &c, "incr", &w, &r, &err) < 0);
    TT_STR_EQ(err.msg, "Metadata value must be JSON, if provided.");
    TT_TRUE(tomo_svc_leaderboard_record_write(&svc, db, &c, "nope", &w, &r, &err) < 0);
    TT_EQ(err.code, TOMO_GRPC_INVALID_ARGUMENT);
    w.metadata = NULL;
    TT_TRUE(tomo_svc_leaderboard_record_write(&svc, db, &c, "nope", &w, &r, &err) < 0);
    TT_EQ(err.code, TOMO_GRPC_NOT_FOUND);
    TT_STR_EQ(err.msg, "Leaderboard not found.");
}

static void test_authoritative(void)
{
    tomo_lb_record r;
    tomo_err err;
    create("auth", 1, TOMO_LB_DESC, TOMO_LB_OP_BEST, NULL);
    TT_TRUE(write_as("auth", 3, 1, 1, 0, &r) < 0);
    tomo_caller c = tomo_caller_user(uid(3), "u");
    tomo_lb_write w = {.owner_id = uid(3), .score = 5};
    TT_EQ(tomo_svc_leaderboard_record_write(&svc, db, &c, "auth", &w, &r, &err), TOMO_EPERM);
    TT_EQ(err.code, TOMO_GRPC_PERMISSION_DENIED);
    TT_STR_EQ(err.msg, "Leaderboard only allows authoritative score submissions.");
    TT_OK(tomo_svc_leaderboard_record_write(&svc, db, &tomo_caller_system, "auth", &w, &r, &err));
    TT_EQ(r.score, 5);
    TT_TRUE(r.username == NULL);
    tomo_lb_record_clear(&r);
    TT_EQ(tomo_svc_leaderboard_record_delete(&svc, db, &c, "auth", uid(3), &err), TOMO_EPERM);
    TT_STR_EQ(err.msg, "Leaderboard only allows authoritative score deletions.");
    TT_OK(tomo_svc_leaderboard_record_delete(&svc, db, &tomo_caller_system, "auth", uid(3), &err));
}

static void test_listing(void)
{
    tomo_lb_record r;
    tomo_err err;
    create("list", 0, TOMO_LB_DESC, TOMO_LB_OP_BEST, NULL);
    /* 20 owners, scores 10..200; two ties at 100 broken by owner id desc */
    for (int i = 1; i <= 20; i++) {
        TT_OK(write_as("list", i, i == 11 ? 100 : i * 10, 0, 0, &r));
        tomo_lb_record_clear(&r);
    }
    tomo_lb_record_list l;
    tomo_lb_list req = {.limit = 7};
    TT_OK(tomo_svc_leaderboard_records_list(&svc, db, "list", &req, &l, &err));
    TT_EQ(l.n, 7);
    TT_EQ(l.records[0].score, 200);
    TT_EQ(l.records[0].rank, 1);
    TT_EQ(l.records[6].rank, 7);
    TT_EQ(l.rank_count, 20);
    TT_TRUE(l.next_cursor != NULL);
    TT_TRUE(l.prev_cursor == NULL);
    char *c1 = tomo_xstrdup(l.next_cursor);
    tomo_lb_record_list_clear(&l);
    req.cursor = c1;
    TT_OK(tomo_svc_leaderboard_records_list(&svc, db, "list", &req, &l, &err));
    TT_EQ(l.n, 7);
    TT_EQ(l.records[0].rank, 8);
    TT_EQ(l.records[0].score, 130);
    /* 100 twice: owner 11 > owner 10 */
    TT_EQ(l.records[2].score, 100);
    TT_STR_EQ(l.records[2].owner_id, uid(11));
    TT_STR_EQ(l.records[3].owner_id, uid(10));
    TT_EQ(l.records[3].rank, 11);
    char *back = tomo_xstrdup(l.prev_cursor), *c2 = tomo_xstrdup(l.next_cursor);
    tomo_lb_record_list_clear(&l);
    /* back again: the first page with its ranks */
    req.cursor = back;
    TT_OK(tomo_svc_leaderboard_records_list(&svc, db, "list", &req, &l, &err));
    TT_EQ(l.n, 7);
    TT_EQ(l.records[0].score, 200);
    TT_EQ(l.records[0].rank, 1);
    TT_EQ(l.records[6].rank, 7);
    TT_TRUE(l.prev_cursor == NULL);
    TT_TRUE(l.next_cursor != NULL);
    tomo_lb_record_list_clear(&l);
    /* last page */
    req.cursor = c2;
    TT_OK(tomo_svc_leaderboard_records_list(&svc, db, "list", &req, &l, &err));
    TT_EQ(l.n, 6);
    TT_EQ(l.records[5].rank, 20);
    TT_EQ(l.records[5].score, 10);
    TT_TRUE(l.next_cursor == NULL);
    tomo_lb_record_list_clear(&l);
    free(c1);
    free(back);
    free(c2);
    /* bad cursors */
    req.cursor = "bm9wZQ==";
    TT_TRUE(tomo_svc_leaderboard_records_list(&svc, db, "list", &req, &l, &err) < 0);
    TT_STR_EQ(err.msg, "Cursor is invalid or expired.");
    /* owner records only */
    const char *owners[] = {uid(11), uid(1), "00000000-0000-4000-8000-999999999999"};
    req = (tomo_lb_list){.owner_ids = owners, .n_owner = 3};
    TT_OK(tomo_svc_leaderboard_records_list(&svc, db, "list", &req, &l, &err));
    TT_EQ(l.n, 0);
    TT_EQ(l.n_owner, 2);
    TT_STR_EQ(l.owner_records[0].owner_id, uid(11));
    TT_EQ(l.owner_records[0].rank, 10);
    TT_EQ(l.owner_records[1].rank, 20);
    tomo_lb_record_list_clear(&l);
    const char *bad[] = {"x"};
    req = (tomo_lb_list){.owner_ids = bad, .n_owner = 1, .limit = 1};
    TT_TRUE(tomo_svc_leaderboard_records_list(&svc, db, "list", &req, &l, &err) < 0);
    TT_STR_EQ(err.msg, "One or more owner IDs are invalid.");

    /* around owner: limit 5 around rank 10 (owner 11's tie partner) */
    TT_OK(tomo_svc_leaderboard_records_around_owner(&svc, db, "list", uid(12), 5, NULL, 0, &l,
                                                    &err));
    TT_EQ(l.n, 5);
    TT_EQ(l.records[0].rank, 7);
    TT_EQ(l.records[2].rank, 9);
    TT_STR_EQ(l.records[2].owner_id, uid(12));
    TT_EQ(l.records[4].rank, 11);
    TT_TRUE(l.prev_cursor != NULL && l.next_cursor != NULL);
    tomo_lb_record_list_clear(&l);
    /* near the top: the window starts at rank 1 */
    TT_OK(tomo_svc_leaderboard_records_around_owner(&svc, db, "list", uid(19), 10, NULL, 0, &l,
                                                    &err));
    TT_EQ(l.n, 10);
    TT_EQ(l.records[0].rank, 1);
    TT_EQ(l.records[9].rank, 10);
    TT_TRUE(l.prev_cursor == NULL);
    tomo_lb_record_list_clear(&l);
    /* near the bottom: more above */
    TT_OK(tomo_svc_leaderboard_records_around_owner(&svc, db, "list", uid(1), 4, NULL, 0, &l,
                                                    &err));
    TT_EQ(l.n, 4);
    TT_EQ(l.records[0].rank, 17);
    TT_EQ(l.records[3].rank, 20);
    TT_TRUE(l.next_cursor == NULL);
    tomo_lb_record_list_clear(&l);
    TT_OK(tomo_svc_leaderboard_records_around_owner(&svc, db, "list", uid(40), 4, NULL, 0, &l,
                                                    &err));
    TT_EQ(l.n, 0);
    tomo_lb_record_list_clear(&l);
    TT_OK(tomo_svc_leaderboard_records_around_owner(&svc, db, "list", uid(5), 1, NULL, 0, &l,
                                                    &err));
    TT_EQ(l.n, 1);
    TT_EQ(l.records[0].rank, 16);
    tomo_lb_record_list_clear(&l);

    /* delete: out of the ranking */
    tomo_caller c = tomo_caller_user(uid(20), "u");
    TT_OK(tomo_svc_leaderboard_record_delete(&svc, db, &c, "list", uid(20), &err));
    TT_OK(write_as("list", 19, 1, 0, 0, &r));
    TT_EQ(r.rank, 1);
    tomo_lb_record_clear(&r);
}

/* Deterministic: the wall clock is pinned (tomo_clock_pin_ms) inside one
 * 2 s period, then moved past its end, so no write can land across a
 * boundary the test did not choose. */
static void test_reset(void)
{
    tomo_lb_record r;
    tomo_err err;
    int64_t t0 = (tomo_now_sec() / 2) * 2 - 4; /* a period start, just past */
    tomo_clock_pin_ms(t0 * 1000 + 500);
    create("secs", 0, TOMO_LB_DESC, TOMO_LB_OP_INCR, "*/2 * * * * * *");
    TT_OK(write_as("secs", 1, 5, 0, 0, &r));
    int64_t old = r.expiry_time;
    TT_EQ(old, t0 + 2);
    TT_EQ(r.rank, 1);
    tomo_lb_record_clear(&r);
    /* a new period: the old record is history, not ranked */
    tomo_clock_pin_ms(old * 1000 + 500);
    tomo_lbi_kick(&svc);
    tomo_lb_record_list l;
    tomo_lb_list req = {.limit = 10};
    TT_OK(tomo_svc_leaderboard_records_list(&svc, db, "secs", &req, &l, &err));
    TT_EQ(l.n, 0);
    tomo_lb_record_list_clear(&l);
    req.expiry = old;
    TT_OK(tomo_svc_leaderboard_records_list(&svc, db, "secs", &req, &l, &err));
    TT_EQ(l.n, 1);
    TT_EQ(l.records[0].score, 5);
    tomo_lb_record_list_clear(&l);
    TT_OK(write_as("secs", 1, 3, 0, 0, &r));
    TT_EQ(r.score, 3);
    TT_EQ(r.num_score, 1);
    TT_EQ(r.expiry_time, old + 2);
    TT_EQ(r.rank, 1);
    tomo_lb_record_clear(&r);
    tomo_clock_pin_ms(0);
}

static int t_write(const char *id, int i, int64_t s, tomo_lb_record *r, tomo_err *err)
{
    tomo_caller c = tomo_caller_user(uid(i), "t");
    tomo_lb_write w = {.owner_id = uid(i), .username = "t", .score = s};
    return tomo_svc_tournament_record_write(&svc, db, &c, id, &w, r, err);
}

static void test_tournament(void)
{
    tomo_err err;
    tomo_lb_record r;
    int created;
    int64_t now = tomo_now_sec();
    tomo_lb_create in = {.id = "tj", .sort_order = TOMO_LB_DESC, .duration = 3600,
                         .max_size = 2, .max_num_score = 2, .join_required = 1,
                         .title = "T", .category = 3};
    TT_OK(tomo_svc_tournament_create(&svc, db, &in, &created, &err));
    TT_EQ(created, 1);
    TT_EQ(t_write("tj", 1, 5, &r, &err), TOMO_EINVAL);
    TT_STR_EQ(err.msg, "Must join tournament before attempting to write value.");
    tomo_caller c1 = tomo_caller_user(uid(1), "t");
    TT_OK(tomo_svc_tournament_join(&svc, db, &c1, "tj", uid(1), "t", &err));
    TT_OK(tomo_svc_tournament_join(&svc, db, &c1, "tj", uid(1), "t", &err)); /* no-op */
    TT_OK(tomo_svc_tournament_join(&svc, db, &c1, "tj", uid(2), "t", &err));
    TT_TRUE(tomo_svc_tournament_join(&svc, db, &c1, "tj", uid(3), "t", &err) < 0);
    TT_STR_EQ(err.msg, "Tournament cannot be joined as it has reached its max size.");
    TT_OK(t_write("tj", 1, 5, &r, &err));
    TT_EQ(r.num_score, 1);
    TT_EQ(r.rank, 1);
    tomo_lb_record_clear(&r);
    TT_OK(t_write("tj", 1, 7, &r, &err));
    TT_EQ(r.num_score, 2);
    tomo_lb_record_clear(&r);
    TT_OK(t_write("tj", 1, 9, &r, &err)); /* at the cap: unchanged */
    TT_EQ(r.score, 7);
    tomo_lb_record_clear(&r);
    TT_OK(tomo_svc_tournament_add_attempt(&svc, db, "tj", uid(1), 1, &err));
    TT_OK(t_write("tj", 1, 9, &r, &err));
    TT_EQ(r.score, 9);
    tomo_lb_record_clear(&r);

    /* not join_required: the cap is an error, size counts first writes */
    in = (tomo_lb_create){.id = "tw", .sort_order = TOMO_LB_DESC, .duration = 3600,
                          .max_size = 1, .max_num_score = 1, .op = TOMO_LB_OP_INCR};
    TT_OK(tomo_svc_tournament_create(&svc, db, &in, &created, &err));
    TT_OK(t_write("tw", 1, 5, &r, &err));
    tomo_lb_record_clear(&r);
    TT_TRUE(t_write("tw", 1, 5, &r, &err) < 0);
    TT_STR_EQ(err.msg, "Reached allowed max number of score attempts.");
    TT_TRUE(t_write("tw", 2, 5, &r, &err) < 0);
    TT_STR_EQ(err.msg, "Tournament has reached max size.");

    /* authoritative (runtime default), future start, ended */
    in = (tomo_lb_create){.id = "ta", .authoritative = 1, .sort_order = TOMO_LB_DESC,
                          .duration = 10, .start_time = now + 1000};
    TT_OK(tomo_svc_tournament_create(&svc, db, &in, &created, &err));
    TT_EQ(t_write("ta", 1, 5, &r, &err), TOMO_EPERM);
    TT_STR_EQ(err.msg, "Tournament only allows authoritative score submissions.");
    tomo_lb_write w = {.owner_id = uid(1), .score = 1};
    TT_TRUE(tomo_svc_tournament_record_write(&svc, db, &tomo_caller_system, "ta", &w, &r, &err) <
            0);
    TT_STR_EQ(err.msg, "Tournament is not active and cannot accept new scores.");
    in = (tomo_lb_create){.id = "tend", .sort_order = TOMO_LB_DESC, .duration = 10,
                          .start_time = now - 100, .end_time = now - 50};
    TT_OK(tomo_svc_tournament_create(&svc, db, &in, &created, &err));
    TT_TRUE(t_write("tend", 1, 5, &r, &err) < 0);
    TT_STR_EQ(err.msg, "Tournament not found or has ended.");
    tomo_lb_record_list l;
    tomo_lb_list req = {.limit = 10};
    TT_TRUE(tomo_svc_tournament_records_list(&svc, db, "tend", &req, &l, &err) < 0);
    TT_STR_EQ(err.msg, "Tournament has ended.");
    TT_TRUE(t_write("best", 1, 5, &r, &err) < 0);
    TT_STR_EQ(err.msg, "Tournament not found.");
    /* a plain board id cannot become a tournament */
    in = (tomo_lb_create){.id = "best", .duration = 10, .sort_order = 1};
    TT_TRUE(tomo_svc_tournament_create(&svc, db, &in, &created, &err) < 0);
    TT_STR_EQ(err.msg, "cannot create tournament as leaderboard is already in use");

    /* listing: tj (cat 3), tw, ta; tend hidden (ended) */
    tomo_tournament_filter f = {.category_start = 0, .category_end = 127, .start_time = -1,
                                .end_time = -1, .limit = 2};
    tomo_tournament_info *items;
    size_t n;
    char *cur;
    TT_OK(tomo_svc_tournament_list(&svc, db, &f, &items, &n, &cur, &err));
    TT_EQ(n, 2);
    TT_TRUE(cur != NULL);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(items[i].b.id, "tj")) {
            TT_EQ(items[i].size, 2);
            TT_EQ(items[i].can_enter, 0);
            TT_STR_EQ(items[i].b.title, "T");
        }
        tomo_tournament_info_clear(&items[i]);
    }
    free(items);
    f.cursor = cur;
    TT_OK(tomo_svc_tournament_list(&svc, db, &f, &items, &n, &cur, &err));
    free((char *)f.cursor);
    TT_EQ(n, 1);
    TT_TRUE(cur == NULL);
    TT_STR_EQ(items[0].b.id, "ta"); /* latest start */
    TT_EQ(items[0].can_enter, 0);
    tomo_tournament_info_clear(&items[0]);
    free(items);
    f = (tomo_tournament_filter){.category_start = 3, .category_end = 3, .start_time = -1,
                                 .end_time = -1, .limit = 10};
    TT_OK(tomo_svc_tournament_list(&svc, db, &f, &items, &n, &cur, &err));
    TT_EQ(n, 1);
    tomo_tournament_info_clear(&items[0]);
    free(items);
    f.category_end = 200;
    TT_TRUE(tomo_svc_tournament_list(&svc, db, &f, &items, &n, &cur, &err) < 0);
    TT_STR_EQ(err.msg, "Tournament category end must be >=0 and <128.");

    /* records */
    req = (tomo_lb_list){.limit = 10};
    TT_OK(tomo_svc_tournament_records_list(&svc, db, "tj", &req, &l, &err));
    TT_EQ(l.n, 2);
    TT_EQ(l.records[0].score, 9);
    TT_EQ(l.records[1].score, 0);
    TT_EQ(l.records[1].rank, 2);
    TT_EQ(l.rank_count, 2);
    tomo_lb_record_list_clear(&l);
    /* record delete frees a slot */
    tomo_caller c2 = tomo_caller_user(uid(2), "t");
    TT_OK(tomo_svc_tournament_record_delete(&svc, db, &c2, "tj", uid(2), &err));
    TT_OK(tomo_svc_tournament_join(&svc, db, &c1, "tj", uid(3), "t", &err));
    TT_OK(tomo_svc_tournament_delete(&svc, db, "tj", &err));
    TT_TRUE(t_write("tj", 1, 5, &r, &err) < 0);
    TT_EQ(err.code, TOMO_GRPC_NOT_FOUND);
}

static void test_times(void)
{
    tomo_lb_board t;
    memset(&t, 0, sizeof(t));
    int64_t sa, ea, exp;
    t.start_time = 1000;
    t.duration = 100;
    tomo_lbi_tournament_times(&t, 5000, &sa, &ea, &exp);
    TT_EQ(sa, 1000);
    TT_EQ(ea, 1100);
    TT_EQ(exp, 0);
    t.end_time = 1050;
    tomo_lbi_tournament_times(&t, 5000, &sa, &ea, &exp);
    TT_EQ(ea, 1050);
    TT_EQ(exp, 1050);
    /* daily at midnight, 1 h long, started long ago */
    memset(&t, 0, sizeof(t));
    TT_OK(tomo_cron_parse("0 0 * * *", &t.cron));
    t.has_cron = 1;
    t.duration = 3600;
    t.start_time = 86400 * 10;
    int64_t day = 86400 * 100;
    tomo_lbi_tournament_times(&t, day + 600, &sa, &ea, &exp);
    TT_EQ(sa, day);
    TT_EQ(ea, day + 3600);
    TT_EQ(exp, day + 86400);
    tomo_lbi_tournament_times(&t, day + 7200, &sa, &ea, &exp);
    TT_EQ(ea, day + 3600); /* over for today */
    /* a start in the middle of a period that is already over: the next one */
    t.start_time = day + 7200;
    tomo_lbi_tournament_times(&t, day + 7300, &sa, &ea, &exp);
    TT_EQ(sa, day + 86400);
    TT_EQ(exp, day + 2 * 86400);
    /* a start inside the active part */
    t.start_time = day + 60;
    tomo_lbi_tournament_times(&t, day + 100, &sa, &ea, &exp);
    TT_EQ(sa, day + 60);
    TT_EQ(ea, day + 3600);
}

/* The start-up fill: a restart ranks what the database holds. */
static void test_refill(void)
{
    tomo_lb_record r;
    tomo_svc_leaderboard_stop(&svc);
    TT_OK(tomo_svc_leaderboard_start(&svc));
    for (int i = 0; i < 200 && tomo_svc_leaderboard_filling(&svc); i++)
        usleep(10000);
    TT_TRUE(!tomo_svc_leaderboard_filling(&svc));
    /* no-op write: rank from the refilled set (owner 20 was deleted) */
    TT_OK(write_as("list", 10, 100, 0, 0, &r));
    TT_EQ(r.rank, 10);
    tomo_lb_record_clear(&r);
}

/* Account deletion: every record of the owner goes, and its ranks. */
static void test_owner_delete(void)
{
    tomo_err err;
    tomo_lb_record_list l;
    tomo_lb_list req = {.limit = 100};
    TT_OK(tomo_svc_leaderboard_records_list(&svc, db, "list", &req, &l, &err));
    int64_t before = l.rank_count;
    size_t n = l.n;
    tomo_lb_record_list_clear(&l);
    TT_OK(tomo_svc_leaderboard_owner_delete(&svc, db, uid(10)));
    tomo_svc_leaderboard_owner_forget(&svc, uid(10));
    TT_OK(tomo_svc_leaderboard_records_list(&svc, db, "list", &req, &l, &err));
    TT_EQ(l.rank_count, before - 1);
    TT_EQ(l.n, n - 1);
    tomo_lb_record_list_clear(&l);
}

static void suite(testdb *t)
{
    svc.cfg = &t->cfg;
    svc.db = t->db;
    TT_OK(tomo_db_acquire(t->db, &db));
    TT_OK(tomo_svc_leaderboard_start(&svc));
    TT_RUN(test_operators);
    TT_RUN(test_authoritative);
    TT_RUN(test_listing);
    TT_RUN(test_reset);
    TT_RUN(test_tournament);
    TT_RUN(test_times);
    TT_RUN(test_refill);
    TT_RUN(test_owner_delete);
    tomo_svc_leaderboard_stop(&svc);
    tomo_db_release(db);
    db = NULL;
}

/* The list's text, and the tree made from it. */
static void test_list_text(void)
{
    tomo_lb_record recs[3];
    memset(recs, 0, sizeof(recs));
    recs[0] = (tomo_lb_record){.leaderboard_id = "b",
                               .owner_id = "00000000-0000-4000-8000-000000000001",
                               .username = strdup("q\"u\\o\x01t\xc3\xa9"),
                               .score = -5,
                               .subscore = 7,
                               .num_score = 2,
                               .max_num_score = 9,
                               .metadata = strdup("{\"a\":1}"),
                               .create_time = 1700000000123,
                               .update_time = 1700000001000,
                               .expiry_time = 1800000000,
                               .rank = 1};
    recs[1] = (tomo_lb_record){.leaderboard_id = "b",
                               .owner_id = "00000000-0000-4000-8000-000000000002",
                               .username = strdup(""),
                               .metadata = strdup(""),
                               .rank = 2};
    recs[2] = (tomo_lb_record){.leaderboard_id = "b",
                               .owner_id = "00000000-0000-4000-8000-000000000003",
                               .username = strdup("bad \xff utf-8"),
                               .metadata = strdup("{}"),
                               .score = 1LL << 40};
    tomo_lb_record_list lists[3] = {
        {recs, 3, recs + 1, 1, strdup("next"), strdup("prev"), 3},
        {recs, 1, NULL, 0, NULL, NULL, 0},
        {NULL, 0, NULL, 0, NULL, NULL, 0},
    };
    /* As tomo printed these lists when they were jansson trees (json_dumps,
     * JSON_COMPACT): escapes, omitted zeros, a non-UTF-8 string left out. */
    static const char *const want[3] = {
        "{\"records\":[{\"leaderboard_id\":\"b\",\"owner_id\":\"00000000-0000-4000"
        "-8000-000000000001\",\"username\":\"q\\\"u\\\\o\\u0001t\xc3""\xa9""\",\"s"
        "core\":\"-5\",\"subscore\":\"7\",\"num_score\":2,\"metadata\":\"{\\\"a\\\":"
        "1}\",\"create_time\":\"2023-11-14T22:13:20Z\",\"update_time\":\"2023-11-1"
        "4T22:13:21Z\",\"expiry_time\":\"2027-01-15T08:00:00Z\",\"rank\":\"1\",\"m"
        "ax_num_score\":9},{\"leaderboard_id\":\"b\",\"owner_id\":\"00000000-0000-"
        "4000-8000-000000000002\",\"username\":\"\",\"rank\":\"2\"},{\"leaderboard"
        "_id\":\"b\",\"owner_id\":\"00000000-0000-4000-8000-000000000003\",\"score"
        "\":\"1099511627776\",\"metadata\":\"{}\"}],\"owner_records\":[{\"leaderbo"
        "ard_id\":\"b\",\"owner_id\":\"00000000-0000-4000-8000-000000000002\",\"us"
        "ername\":\"\",\"rank\":\"2\"}],\"next_cursor\":\"next\",\"prev_cursor\":\"p"
        "rev\",\"rank_count\":\"3\"}",
        "{\"records\":[{\"leaderboard_id\":\"b\",\"owner_id\":\"00000000-0000-4000"
        "-8000-000000000001\",\"username\":\"q\\\"u\\\\o\\u0001t\xc3""\xa9""\",\"s"
        "core\":\"-5\",\"subscore\":\"7\",\"num_score\":2,\"metadata\":\"{\\\"a\\\":"
        "1}\",\"create_time\":\"2023-11-14T22:13:20Z\",\"update_time\":\"2023-11-1"
        "4T22:13:21Z\",\"expiry_time\":\"2027-01-15T08:00:00Z\",\"rank\":\"1\",\"m"
        "ax_num_score\":9}]}",
        "{}"};
    for (int i = 0; i < 3; i++) {
        size_t len = 0;
        char *got = tomo_lb_record_list_text(&lists[i], &len);
        TT_STR_EQ(got, want[i]);
        TT_EQ(len, strlen(want[i]));
        free(got);
        json_t *tree = tomo_lb_record_list_json(&lists[i]);
        char *dump = json_dumps(tree, JSON_COMPACT);
        TT_STR_EQ(dump, want[i]);
        free(dump);
        json_decref(tree);
    }
    free(lists[0].next_cursor);
    free(lists[0].prev_cursor);
    for (int i = 0; i < 3; i++)
        tomo_lb_record_clear(&recs[i]);
}

int main(void)
{
    TT_RUN(test_list_text);
    testdb_each("lb", suite);
    return tt_finish();
}
