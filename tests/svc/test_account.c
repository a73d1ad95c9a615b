/* tests/svc/test_account.c: svc/account.h and svc/users.h with no
 * transport: get (with the online flag from the push seam), update (set,
 * clear, conflicts, caller rules), delete (every owned row, tokens revoked,
 * sockets closed through the seam) and user lookups, on SQLite and
 * (TOMO_TEST_PG_ADMIN) Postgres. */
#define _GNU_SOURCE
#include "tt.h"

#include "testdb.h"

#include "core/codec_util.h"
#include "svc/account.h"
#include "svc/revoke.h"
#include "svc/session.h"
#include "svc/users.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define ALICE "11111111-1111-4111-8111-111111111111"
#define BOB "22222222-2222-4222-8222-222222222222"

static tomo_svc svc;
static tomo_dbconn *db;
static char g_disconnected[37];

/* A fake realtime side: bob is online; disconnects are recorded. */
static int fake_online(void *ctx, const char *user_id)
{
    (void)ctx;
    return !strcmp(user_id, BOB) ? 2 : 0;
}

static void fake_disconnect(void *ctx, const char *user_id)
{
    (void)ctx;
    snprintf(g_disconnected, sizeof(g_disconnected), "%s", user_id);
}

static int64_t count(const char *sql)
{
    tomo_dbres *r = NULL;
    TT_OK(tomo_db_exec(db, sql, NULL, 0, &r));
    int64_t n = tomo_dbres_int(r, 0, 0);
    tomo_dbres_free(r);
    return n;
}

static void test_get_update(void)
{
    tomo_err err;
    json_t *out = NULL;
    tomo_caller alice = tomo_caller_user(ALICE, "alice");
    TT_OK(tomo_svc_account_get(&svc, db, &alice, NULL, &out, &err));
    json_t *user = json_object_get(out, "user");
    TT_STR_EQ(tomo_json_str(user, "username"), "alice");
    TT_TRUE(json_object_get(user, "online") == NULL);
    TT_STR_EQ(tomo_json_str(out, "wallet"), "{}");
    TT_STR_EQ(json_string_value(json_object_get(json_array_get(json_object_get(out, "devices"),
                                                               0), "id")),
              "alice-device-01");
    json_decref(out);
    /* the system reads anyone's, with the online flag */
    TT_OK(tomo_svc_account_get(&svc, db, &tomo_caller_system, BOB, &out, &err));
    TT_TRUE(json_is_true(json_object_get(json_object_get(out, "user"), "online")));
    json_decref(out);
    /* a user reads only its own; the system needs an id; unknown ids */
    TT_EQ(tomo_svc_account_get(&svc, db, &alice, BOB, &out, &err), TOMO_EPERM);
    TT_EQ(tomo_svc_account_get(&svc, db, &tomo_caller_system, NULL, &out, &err), TOMO_EINVAL);
    TT_EQ(tomo_svc_account_get(&svc, db, &tomo_caller_system,
                               "99999999-9999-4999-8999-999999999999", &out, &err),
          TOMO_ENOTFOUND);
    TT_STR_EQ(err.msg, "Account not found.");

    tomo_account_update u = {0};
    TT_EQ(tomo_svc_account_update(&svc, db, &alice, NULL, &u, &err), TOMO_EINVAL);
    TT_STR_EQ(err.msg, "No fields to update.");
    u.display_name = "Alice A.";
    u.location = "Paris";
    u.lang_tag = "fr";
    TT_OK(tomo_svc_account_update(&svc, db, &alice, NULL, &u, &err));
    TT_OK(tomo_svc_account_get(&svc, db, &alice, NULL, &out, &err));
    user = json_object_get(out, "user");
    TT_STR_EQ(tomo_json_str(user, "display_name"), "Alice A.");
    TT_STR_EQ(tomo_json_str(user, "location"), "Paris");
    json_decref(out);
    /* "" clears */
    tomo_account_update c = {.location = "", .lang_tag = ""};
    TT_OK(tomo_svc_account_update(&svc, db, &alice, NULL, &c, &err));
    TT_OK(tomo_svc_account_get(&svc, db, &alice, NULL, &out, &err));
    user = json_object_get(out, "user");
    TT_TRUE(json_object_get(user, "location") == NULL);
    TT_TRUE(json_object_get(user, "lang_tag") == NULL);
    TT_STR_EQ(tomo_json_str(user, "display_name"), "Alice A.");
    json_decref(out);
    /* usernames: taken, invalid */
    tomo_account_update n = {.username = "bob"};
    TT_EQ(tomo_svc_account_update(&svc, db, &alice, NULL, &n, &err), TOMO_ECONFLICT);
    TT_EQ(err.code, TOMO_GRPC_ALREADY_EXISTS);
    TT_STR_EQ(err.msg, "Username is already in use.");
    n.username = "";
    TT_EQ(tomo_svc_account_update(&svc, db, &alice, NULL, &n, &err), TOMO_EINVAL);
    n.username = "a\tb";
    TT_EQ(tomo_svc_account_update(&svc, db, &alice, NULL, &n, &err), TOMO_EINVAL);
    /* the system renames bob; alice cannot */
    n.username = "robert";
    TT_EQ(tomo_svc_account_update(&svc, db, &alice, BOB, &n, &err), TOMO_EPERM);
    TT_OK(tomo_svc_account_update(&svc, db, &tomo_caller_system, BOB, &n, &err));
}

static void test_users(void)
{
    tomo_err err;
    json_t *out = NULL;
    tomo_caller alice = tomo_caller_user(ALICE, "alice");
    const char *ids[] = {BOB, "99999999-9999-4999-8999-999999999999"};
    const char *names[] = {"robert", "alice", "nobody"};
    TT_OK(tomo_svc_users_get(&svc, db, &alice, ids, 2, names, 3, NULL, 0, &out, &err));
    json_t *users = json_object_get(out, "users");
    TT_EQ(json_array_size(users), 2); /* bob once (by id and by name), then alice */
    TT_STR_EQ(tomo_json_str(json_array_get(users, 0), "id"), BOB);
    TT_TRUE(json_is_true(json_object_get(json_array_get(users, 0), "online")));
    TT_STR_EQ(tomo_json_str(json_array_get(users, 1), "username"), "alice");
    json_decref(out);
    TT_OK(tomo_svc_users_get(&svc, db, &alice, NULL, 0, NULL, 0, NULL, 0, &out, &err));
    TT_TRUE(out == NULL);
    const char *bad[] = {"nope"};
    TT_EQ(tomo_svc_users_get(&svc, db, &alice, bad, 1, NULL, 0, NULL, 0, &out, &err), TOMO_EINVAL);
    TT_STR_EQ(err.msg, "ID 'nope' is not a valid system ID.");
}

static void test_delete(void)
{
    tomo_err err;
    tomo_caller alice = tomo_caller_user(ALICE, "alice");
    tomo_session_pair s;
    TT_OK(tomo_svc_session_start(&svc, db, ALICE, "alice", 0, NULL, &s, &err));
    TT_OK(tomo_db_exec(db,
                       "INSERT INTO storage (collection, key, user_id, value, version, read, "
                       "write, create_time, update_time) VALUES ('c', 'k', '" ALICE
                       "', '{}', 'v', 1, 1, 1, 1)",
                       NULL, 0, NULL));
    TT_OK(tomo_db_exec(db,
                       "INSERT INTO notification (id, user_id, subject, content, code, sender_id, "
                       "create_time) VALUES ('n1', '" ALICE "', 's', '{}', 1, '', 1)",
                       NULL, 0, NULL));
    TT_EQ(tomo_svc_account_delete(&svc, db, &alice, BOB, &err), TOMO_EPERM);
    g_disconnected[0] = '\0';
    TT_OK(tomo_svc_account_delete(&svc, db, &alice, NULL, &err));
    TT_STR_EQ(g_disconnected, ALICE);
    TT_EQ(count("SELECT COUNT(*) FROM users WHERE id = '" ALICE "'"), 0);
    TT_EQ(count("SELECT COUNT(*) FROM user_device WHERE user_id = '" ALICE "'"), 0);
    TT_EQ(count("SELECT COUNT(*) FROM storage WHERE user_id = '" ALICE "'"), 0);
    TT_EQ(count("SELECT COUNT(*) FROM notification WHERE user_id = '" ALICE "'"), 0);
    tomo_session_claims c;
    TT_EQ(tomo_svc_session_verify(&svc, s.token, &c), TOMO_EAUTH);
    tomo_session_pair_clear(&s);
    /* bob is untouched; the system deletes him too */
    TT_EQ(count("SELECT COUNT(*) FROM users WHERE id = '" BOB "'"), 1);
    TT_OK(tomo_svc_account_delete(&svc, db, &tomo_caller_system, BOB, &err));
    TT_STR_EQ(g_disconnected, BOB);
    TT_EQ(count("SELECT COUNT(*) FROM users"), 0);
}

static void suite(testdb *t)
{
    memset(&svc, 0, sizeof(svc));
    svc.cfg = &t->cfg;
    svc.db = t->db;
    svc.push.user_online = fake_online;
    svc.push.disconnect_user = fake_disconnect;
    tomo_revoke_reset();
    TT_OK(tomo_revoke_load(&svc));
    TT_OK(tomo_db_acquire(t->db, &db));
    TT_OK(tomo_db_exec(db,
                       "INSERT INTO users (id, username, create_time, update_time) VALUES "
                       "('" ALICE "', 'alice', 1, 1), ('" BOB "', 'bob', 1, 1)",
                       NULL, 0, NULL));
    TT_OK(tomo_db_exec(db,
                       "INSERT INTO user_device (id, user_id) VALUES ('alice-device-01', '" ALICE
                       "')",
                       NULL, 0, NULL));
    TT_RUN(test_get_update);
    TT_RUN(test_users);
    TT_RUN(test_delete);
    tomo_db_release(db);
    db = NULL;
    tomo_revoke_reset();
}

int main(void)
{
    testdb_each("svc_account", suite);
    return tt_finish();
}
