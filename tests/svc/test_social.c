/* tests/svc/test_social.c: svc/friend.h and svc/group.h with no transport:
 * friend transitions and edge counts, notifications pushed through the seam
 * only after commit, list cursors, the system caller, group permissions,
 * join requests, bans, untracking, the group listing keyset and account
 * removal, on SQLite and (with TOMO_TEST_PG_ADMIN) Postgres. */
#define _GNU_SOURCE
#include "tt.h"

#include "testdb.h"

#include "svc/friend.h"
#include "svc/group.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static tomo_svc svc;
static tomo_dbconn *db;
static int pushed, left;
static char last_to[37], last_left[37];
static int last_code;

static void fake_to_user(void *ctx, const char *user_id, json_t *env)
{
    (void)ctx;
    pushed++;
    snprintf(last_to, sizeof(last_to), "%s", user_id);
    json_t *n = json_array_get(json_object_get(json_object_get(env, "notifications"),
                                               "notifications"),
                               0);
    last_code = (int)json_integer_value(json_object_get(n, "code"));
}

static void fake_leave(void *ctx, int mode, const char *subject, const char *user_id)
{
    (void)ctx, (void)subject;
    if (mode == 3)
        left++;
    snprintf(last_left, sizeof(last_left), "%s", user_id);
}

static const char *uid(int i)
{
    static char buf[32][37];
    snprintf(buf[i % 32], 37, "00000000-0000-4000-8000-%012d", i);
    return buf[i % 32];
}

static void mkuser(int i)
{
    char name[32];
    snprintf(name, sizeof(name), "user%d", i);
    const char *np = name;
    tomo_dbval p[] = {TOMO_DBTEXT(uid(i)), TOMO_DBTEXT(np)};
    TT_OK(tomo_db_exec(db,
                       "INSERT INTO users (id, username, create_time, update_time) VALUES ($1, $2, "
                       "1, 1)",
                       p, 2, NULL));
}

static int64_t edge_count(int i)
{
    tomo_dbres *r = NULL;
    tomo_dbval p[] = {TOMO_DBTEXT(uid(i))};
    TT_OK(tomo_db_exec(db, "SELECT edge_count FROM users WHERE id = $1", p, 1, &r));
    int64_t n = tomo_dbres_rows(r) ? tomo_dbres_int(r, 0, 0) : -1;
    tomo_dbres_free(r);
    return n;
}

static int friend_state(int a, int b)
{
    tomo_dbres *r = NULL;
    tomo_dbval p[] = {TOMO_DBTEXT(uid(a)), TOMO_DBTEXT(uid(b))};
    TT_OK(tomo_db_exec(db, "SELECT state FROM user_edge WHERE source_id = $1 AND destination_id = $2",
                       p, 2, &r));
    int s = tomo_dbres_rows(r) ? (int)tomo_dbres_int(r, 0, 0) : -1;
    tomo_dbres_free(r);
    return s;
}

typedef int (*fop)(tomo_svc *, tomo_dbconn *, const tomo_caller *, const char *, const char *,
                   const tomo_svc_friend_targets *, tomo_err *);

static int friend_do(fop op, int a, int b, tomo_err *err)
{
    tomo_caller c = tomo_caller_user(uid(a), NULL);
    const char *ids[] = {uid(b)};
    tomo_svc_friend_targets t = {ids, 1, NULL, 0};
    return op(&svc, db, &c, NULL, NULL, &t, err);
}

static void test_friends(void)
{
    tomo_err err;
    for (int i = 1; i <= 5; i++)
        mkuser(i);
    pushed = 0;
    TT_OK(friend_do(tomo_svc_friend_add, 1, 2, &err));
    TT_EQ(friend_state(1, 2), 1);
    TT_EQ(friend_state(2, 1), 2);
    TT_EQ(pushed, 1);
    TT_STR_EQ(last_to, uid(2));
    TT_EQ(last_code, -2);
    TT_EQ(edge_count(1), 1);
    TT_EQ(edge_count(2), 1);
    TT_OK(friend_do(tomo_svc_friend_add, 2, 1, &err));
    TT_EQ(friend_state(1, 2), 0);
    TT_EQ(friend_state(2, 1), 0);
    TT_EQ(last_code, -3);
    TT_STR_EQ(last_to, uid(1));
    TT_EQ(pushed, 2);
    /* the system caller acts for a named user, by username */
    const char *names[] = {"user3"};
    tomo_svc_friend_targets t = {NULL, 0, names, 1};
    TT_OK(tomo_svc_friend_add(&svc, db, &tomo_caller_system, uid(1), "user1", &t, &err));
    TT_EQ(friend_state(1, 3), 1);
    /* self and bad ids */
    TT_TRUE(friend_do(tomo_svc_friend_add, 1, 1, &err) < 0);
    TT_EQ(err.code, TOMO_GRPC_INVALID_ARGUMENT);
    TT_STR_EQ(err.msg, "Cannot add self as friend.");
    tomo_caller c = tomo_caller_user(uid(1), "user1");
    const char *bad[] = {"nope"};
    tomo_svc_friend_targets tb = {bad, 1, NULL, 0};
    TT_TRUE(tomo_svc_friend_block(&svc, db, &c, NULL, NULL, &tb, &err) < 0);
    TT_STR_EQ(err.msg, "Invalid user ID 'nope'.");
    /* block: B's edge goes, counts follow */
    TT_OK(friend_do(tomo_svc_friend_block, 2, 1, &err));
    TT_EQ(friend_state(2, 1), 3);
    TT_EQ(friend_state(1, 2), -1);
    TT_EQ(edge_count(1), 1); /* the invite to 3 */
    TT_EQ(edge_count(2), 1);
    pushed = 0;
    TT_OK(friend_do(tomo_svc_friend_add, 1, 2, &err)); /* blocked: nothing */
    TT_EQ(friend_state(1, 2), -1);
    TT_EQ(pushed, 0);
    TT_OK(friend_do(tomo_svc_friend_delete, 2, 1, &err)); /* unblock */
    TT_EQ(friend_state(2, 1), -1);
    TT_EQ(edge_count(2), 0);

    /* list with a cursor */
    TT_OK(friend_do(tomo_svc_friend_add, 1, 4, &err));
    TT_OK(friend_do(tomo_svc_friend_add, 1, 5, &err));
    json_t *page = NULL;
    TT_OK(tomo_svc_friend_list(&svc, db, &c, NULL, 2, -1, NULL, &page, &err));
    TT_EQ(json_array_size(json_object_get(page, "friends")), 2);
    const char *cur = json_string_value(json_object_get(page, "cursor"));
    TT_TRUE(cur != NULL);
    json_t *page2 = NULL;
    TT_OK(tomo_svc_friend_list(&svc, db, &c, NULL, 2, -1, cur, &page2, &err));
    TT_EQ(json_array_size(json_object_get(page2, "friends")), 1);
    TT_TRUE(json_object_get(page2, "cursor") == NULL);
    json_decref(page2);
    TT_TRUE(tomo_svc_friend_list(&svc, db, &c, NULL, 2, 0, cur, &page2, &err) < 0 ||
            page2 == NULL);
    json_decref(page);
    json_decref(page2);

    /* account removal fixes the other sides */
    TT_OK(tomo_db_begin(db));
    TT_OK(tomo_svc_friend_remove_user(db, uid(1)));
    TT_OK(tomo_db_commit(db));
    TT_EQ(edge_count(3), 0);
    TT_EQ(edge_count(4), 0);
    TT_EQ(friend_state(4, 1), -1);
}

static int gstate(const char *gid, int u)
{
    tomo_dbres *r = NULL;
    tomo_dbval p[] = {TOMO_DBTEXT(gid), TOMO_DBTEXT(uid(u))};
    TT_OK(tomo_db_exec(db, "SELECT state FROM group_edge WHERE group_id = $1 AND user_id = $2", p, 2,
                       &r));
    int s = tomo_dbres_rows(r) ? (int)tomo_dbres_int(r, 0, 0) : -1;
    tomo_dbres_free(r);
    return s;
}

static int change(int as, int op, const char *gid, int target, tomo_err *err)
{
    tomo_caller c = tomo_caller_user(uid(as), NULL);
    const char *ids[] = {uid(target)};
    return tomo_svc_group_users_change(&svc, db, &c, op, gid, ids, 1, err);
}

static void test_groups(void)
{
    tomo_err err;
    for (int i = 10; i <= 14; i++)
        mkuser(i);
    tomo_caller owner = tomo_caller_user(uid(10), "user10");
    tomo_svc_group_new in = {.name = "Closed", .open = 0, .max_count = 3};
    json_t *g = NULL;
    TT_OK(tomo_svc_group_create(&svc, db, &owner, NULL, &in, &g, &err));
    char gid[37];
    snprintf(gid, sizeof(gid), "%s", json_string_value(json_object_get(g, "id")));
    TT_TRUE(json_is_false(json_object_get(g, "open")));
    TT_EQ(json_integer_value(json_object_get(g, "edge_count")), 1);
    json_decref(g);
    g = NULL;
    TT_TRUE(tomo_svc_group_create(&svc, db, &owner, NULL, &in, &g, &err) < 0);
    TT_EQ(err.code, TOMO_GRPC_ALREADY_EXISTS);

    /* closed: a join request notifies the superadmin */
    tomo_caller u11 = tomo_caller_user(uid(11), "user11");
    pushed = 0;
    TT_OK(tomo_svc_group_join(&svc, db, &u11, gid, NULL, NULL, &err));
    TT_EQ(gstate(gid, 11), TOMO_GROUP_JOIN_REQUEST);
    TT_EQ(pushed, 1);
    TT_EQ(last_code, -5);
    TT_EQ(tomo_svc_group_member_check(db, gid, uid(11)), TOMO_ENOTFOUND);
    /* a requester cannot accept others */
    TT_TRUE(change(11, TOMO_GROUP_OP_ADD, gid, 12, &err) < 0);
    TT_EQ(err.code, TOMO_GRPC_NOT_FOUND);
    TT_OK(change(10, TOMO_GROUP_OP_ADD, gid, 11, &err));
    TT_EQ(gstate(gid, 11), TOMO_GROUP_MEMBER);
    TT_EQ(last_code, -4);
    TT_OK(tomo_svc_group_member_check(db, gid, uid(11)));
    /* a member cannot kick */
    TT_TRUE(change(11, TOMO_GROUP_OP_KICK, gid, 10, &err) < 0);
    TT_STR_EQ(err.msg, "Group not found or permission denied.");
    /* the system caller adds (full at 3) */
    const char *two[] = {uid(12), uid(13)};
    TT_TRUE(tomo_svc_group_users_change(&svc, db, &tomo_caller_system, TOMO_GROUP_OP_ADD, gid, two,
                                        2, &err) < 0);
    TT_STR_EQ(err.msg, "Group is full.");
    TT_EQ(gstate(gid, 12), -1); /* rolled back */
    TT_OK(tomo_svc_group_users_change(&svc, db, &tomo_caller_system, TOMO_GROUP_OP_ADD, gid, two, 1,
                                      &err));
    /* ban: untracked, cannot rejoin */
    left = 0;
    TT_OK(change(10, TOMO_GROUP_OP_BAN, gid, 12, &err));
    TT_EQ(gstate(gid, 12), TOMO_GROUP_BANNED);
    TT_EQ(left, 1);
    TT_STR_EQ(last_left, uid(12));
    tomo_caller u12 = tomo_caller_user(uid(12), "user12");
    TT_OK(tomo_svc_group_join(&svc, db, &u12, gid, NULL, NULL, &err));
    TT_EQ(gstate(gid, 12), TOMO_GROUP_BANNED);
    /* promote/demote steps and the last superadmin */
    TT_OK(change(10, TOMO_GROUP_OP_PROMOTE, gid, 11, &err));
    TT_EQ(gstate(gid, 11), TOMO_GROUP_ADMIN);
    TT_OK(change(11, TOMO_GROUP_OP_PROMOTE, gid, 11, &err)); /* self: skipped */
    TT_EQ(gstate(gid, 11), TOMO_GROUP_ADMIN);
    TT_OK(change(11, TOMO_GROUP_OP_DEMOTE, gid, 10, &err));
    TT_EQ(gstate(gid, 10), TOMO_GROUP_SUPERADMIN);
    TT_TRUE(tomo_svc_group_leave(&svc, db, &owner, gid, NULL, &err) < 0);
    TT_STR_EQ(err.msg, "Cannot leave group when you are the last superadmin.");

    /* lists */
    json_t *out = NULL;
    TT_OK(tomo_svc_group_users_list(&svc, db, &owner, gid, 1, -1, NULL, &out, &err));
    TT_EQ(json_array_size(json_object_get(out, "group_users")), 1);
    const char *cur = json_string_value(json_object_get(out, "cursor"));
    json_t *out2 = NULL;
    TT_OK(tomo_svc_group_users_list(&svc, db, &owner, gid, 10, -1, cur, &out2, &err));
    TT_EQ(json_array_size(json_object_get(out2, "group_users")), 1); /* admin; ban hidden */
    json_decref(out);
    json_decref(out2);
    TT_OK(tomo_svc_group_users_list(&svc, db, &owner, gid, 10, 4, NULL, &out, &err));
    TT_EQ(json_array_size(json_object_get(out, "group_users")), 1);
    json_decref(out);

    /* group listing: keyset over edge_count DESC with members */
    tomo_svc_group_new o1 = {.name = "Open one", .open = 1};
    tomo_svc_group_new o2 = {.name = "open two", .open = 1};
    TT_OK(tomo_svc_group_create(&svc, db, &owner, NULL, &o1, &g, &err));
    json_decref(g);
    TT_OK(tomo_svc_group_create(&svc, db, &owner, NULL, &o2, &g, &err));
    json_decref(g);
    tomo_svc_group_filter f = {.name = "%OPEN%", .members = -1, .open = -1};
    TT_OK(tomo_svc_group_list(&svc, db, &owner, &f, 1, NULL, &out, &err));
    TT_EQ(json_array_size(json_object_get(out, "groups")), 1);
    cur = json_string_value(json_object_get(out, "cursor"));
    TT_OK(tomo_svc_group_list(&svc, db, &owner, &f, 5, cur, &out2, &err));
    TT_EQ(json_array_size(json_object_get(out2, "groups")), 1);
    TT_STR_EQ(json_string_value(json_object_get(json_array_get(json_object_get(out2, "groups"), 0),
                                                "name")),
              "open two");
    json_decref(out2);
    out2 = NULL;
    /* a cursor of another filter is refused */
    tomo_svc_group_filter fm = {.members = 10, .open = -1};
    TT_TRUE(tomo_svc_group_list(&svc, db, &owner, &fm, 5, cur, &out2, &err) < 0 || !out2);
    json_decref(out);
    json_decref(out2);
    out2 = NULL;

    /* account removal: the sole owner's groups go */
    TT_OK(tomo_db_begin(db));
    TT_OK(tomo_svc_group_remove_user(db, uid(10)));
    TT_OK(tomo_db_commit(db));
    TT_EQ(gstate(gid, 11), -1);
    TT_OK(tomo_svc_group_user_groups(&svc, db, &u11, NULL, 10, -1, NULL, &out, &err));
    TT_EQ(json_array_size(json_object_get(out, "user_groups")), 0);
    json_decref(out);
}

static void suite(testdb *t)
{
    memset(&svc, 0, sizeof(svc));
    svc.cfg = &t->cfg;
    svc.db = t->db;
    svc.push.to_user = fake_to_user;
    svc.push.stream_user_leave = fake_leave;
    TT_OK(tomo_db_acquire(t->db, &db));
    TT_RUN(test_friends);
    TT_RUN(test_groups);
    tomo_db_release(db);
    db = NULL;
}

int main(void)
{
    testdb_each("social", suite);
    return tt_finish();
}
