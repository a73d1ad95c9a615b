/* tests/svc/test_storage.c: svc/storage.h with no transport: the caller
 * rules (the system writes, reads, lists and deletes as any owner and skips
 * client permissions; a user cannot touch a server-write-only object or
 * another user's objects), owners that have no account (no orphan rows),
 * on SQLite and (TOMO_TEST_PG_ADMIN) Postgres. */
#define _GNU_SOURCE
#include "tt.h"

#include "testdb.h"

#include "core/codec_util.h"
#include "svc/storage.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define ALICE "11111111-1111-4111-8111-111111111111"
#define BOB "22222222-2222-4222-8222-222222222222"
#define GHOST "33333333-3333-4333-8333-333333333333"

static tomo_svc svc;
static tomo_dbconn *db;

static size_t count_rows(const char *where)
{
    char *sql = tomo_xasprintf("SELECT COUNT(*) FROM storage WHERE %s", where);
    tomo_dbres *r = NULL;
    TT_OK(tomo_db_exec(db, sql, NULL, 0, &r));
    size_t n = (size_t)tomo_dbres_int(r, 0, 0);
    tomo_dbres_free(r);
    free(sql);
    return n;
}

static tomo_storage_write_op wop(const char *collection, const char *key, const char *user_id,
                                 const char *value, int read, int write)
{
    tomo_storage_write_op o = {collection, key, user_id, value, NULL, read, write};
    return o;
}

static void test_system_writes_for_users(void)
{
    tomo_err err;
    json_t *out = NULL;
    tomo_caller alice = tomo_caller_user(ALICE, "alice");
    /* the system writes a server-only object owned by alice */
    tomo_storage_write_op w[2] = {wop("inv", "sword", ALICE, "{\"n\":1}", 1, 0),
                                  wop("cfg", "global", NULL, "{\"v\":1}", 2, 0)};
    TT_OK(tomo_svc_storage_write(&svc, db, &tomo_caller_system, w, 2, &out, &err));
    json_t *acks = json_object_get(out, "acks");
    TT_EQ(json_array_size(acks), 2);
    TT_STR_EQ(tomo_json_str(json_array_get(acks, 0), "user_id"), ALICE);
    TT_STR_EQ(tomo_json_str(json_array_get(acks, 1), "user_id"), TOMO_SYSTEM_USER_ID);
    json_decref(out);

    /* alice cannot overwrite or delete it (permission_write 0) ... */
    tomo_storage_write_op mine = wop("inv", "sword", NULL, "{\"n\":99}", 1, 1);
    TT_EQ(tomo_svc_storage_write(&svc, db, &alice, &mine, 1, &out, &err), TOMO_EINVAL);
    TT_EQ(err.code, TOMO_GRPC_INVALID_ARGUMENT);
    TT_STR_EQ(err.msg, "Storage write rejected - permission denied.");
    TT_TRUE(out == NULL);
    tomo_storage_id del = {"inv", "sword", NULL, NULL};
    TT_EQ(tomo_svc_storage_delete(&svc, db, &alice, &del, 1, &err), TOMO_EINVAL);
    TT_STR_EQ(err.msg,
              "Storage delete rejected - not found, version check failed, or permission denied.");
    /* ... but reads it (read 1, her own) */
    tomo_storage_id rid = {"inv", "sword", ALICE, NULL};
    TT_OK(tomo_svc_storage_read(&svc, db, &alice, &rid, 1, &out, &err));
    json_t *o = json_array_get(json_object_get(out, "objects"), 0);
    TT_STR_EQ(tomo_json_str(o, "value"), "{\"n\":1}");
    TT_TRUE(json_object_get(o, "permission_write") == NULL); /* 0: omitted */
    const char *v1 = tomo_json_str(o, "version");
    char *version = tomo_xstrdup(v1);
    json_decref(out);

    /* a user cannot write as somebody else */
    tomo_storage_write_op as_bob = wop("inv", "shield", BOB, "{}", 1, 1);
    TT_EQ(tomo_svc_storage_write(&svc, db, &alice, &as_bob, 1, &out, &err), TOMO_EPERM);
    TT_EQ(err.code, TOMO_GRPC_PERMISSION_DENIED);

    /* the system overwrites regardless, with and without a version */
    tomo_storage_write_op upd = wop("inv", "sword", ALICE, "{\"n\":2}", 1, 0);
    upd.version = version;
    TT_OK(tomo_svc_storage_write(&svc, db, &tomo_caller_system, &upd, 1, &out, &err));
    json_decref(out);
    upd.version = version; /* stale now */
    TT_EQ(tomo_svc_storage_write(&svc, db, &tomo_caller_system, &upd, 1, &out, &err),
          TOMO_EINVAL);
    TT_STR_EQ(err.msg, "Storage write rejected - version check failed.");
    upd.version = NULL;
    upd.value = "{\"n\":3}";
    TT_OK(tomo_svc_storage_write(&svc, db, &tomo_caller_system, &upd, 1, &out, &err));
    json_decref(out);
    free(version);

    /* bad owners */
    tomo_storage_write_op bad = wop("inv", "x", "not-a-uuid", "{}", 1, 1);
    TT_EQ(tomo_svc_storage_write(&svc, db, &tomo_caller_system, &bad, 1, &out, &err), TOMO_EINVAL);
    TT_STR_EQ(err.msg, "Invalid user ID - make sure user ID is a valid UUID.");
    bad = wop("inv", "x", ALICE, "{}", 3, 1);
    TT_EQ(tomo_svc_storage_write(&svc, db, &tomo_caller_system, &bad, 1, &out, &err), TOMO_EINVAL);
    TT_STR_EQ(err.msg, "Invalid Read permission supplied. It must be either 0, 1 or 2.");
    bad = wop("inv", "x", ALICE, "[1]", 1, 1);
    TT_EQ(tomo_svc_storage_write(&svc, db, &tomo_caller_system, &bad, 1, &out, &err), TOMO_EINVAL);
    TT_STR_EQ(err.msg, "Value must be a JSON object.");
}

static void test_system_reads_and_lists_all(void)
{
    tomo_err err;
    json_t *out = NULL;
    tomo_caller bob = tomo_caller_user(BOB, "bob");
    tomo_storage_write_op w[3] = {wop("sec", "a", ALICE, "{}", 0, 1),
                                  wop("sec", "b", BOB, "{}", 0, 1),
                                  wop("sec", "c", BOB, "{}", 2, 1)};
    TT_OK(tomo_svc_storage_write(&svc, db, &tomo_caller_system, w, 3, &out, &err));
    json_decref(out);
    /* read 0 is hidden from its owner, not from the system */
    tomo_storage_id id = {"sec", "b", BOB, NULL};
    TT_OK(tomo_svc_storage_read(&svc, db, &bob, &id, 1, &out, &err));
    TT_TRUE(out == NULL);
    TT_OK(tomo_svc_storage_read(&svc, db, &tomo_caller_system, &id, 1, &out, &err));
    TT_EQ(json_array_size(json_object_get(out, "objects")), 1);
    json_decref(out);
    /* bob's listing of his own: only c; the system's: b and c */
    TT_OK(tomo_svc_storage_list(&svc, db, &bob, "sec", BOB, 10, NULL, &out, &err));
    TT_EQ(json_array_size(json_object_get(out, "objects")), 1);
    json_decref(out);
    TT_OK(tomo_svc_storage_list(&svc, db, &tomo_caller_system, "sec", BOB, 10, NULL, &out, &err));
    TT_EQ(json_array_size(json_object_get(out, "objects")), 2);
    json_decref(out);
    /* the system's listing of every owner, paged one by one: a, b, c */
    const char *want[] = {"a", "b", "c"};
    char *cursor = NULL;
    for (int i = 0; i < 3; i++) {
        TT_OK(tomo_svc_storage_list(&svc, db, &tomo_caller_system, "sec", NULL, 1, cursor, &out,
                                    &err));
        json_t *objs = json_object_get(out, "objects");
        TT_EQ(json_array_size(objs), 1);
        TT_STR_EQ(tomo_json_str(json_array_get(objs, 0), "key"), want[i]);
        free(cursor);
        const char *c = tomo_json_str(out, "cursor");
        cursor = c ? tomo_xstrdup(c) : NULL;
        json_decref(out);
    }
    TT_TRUE(cursor == NULL);
    /* a user's public listing sees only c; a system cursor is refused there */
    TT_OK(tomo_svc_storage_list(&svc, db, &bob, "sec", NULL, 10, NULL, &out, &err));
    TT_EQ(json_array_size(json_object_get(out, "objects")), 1);
    json_decref(out);
    TT_OK(tomo_svc_storage_list(&svc, db, &tomo_caller_system, "sec", NULL, 1, NULL, &out, &err));
    cursor = tomo_xstrdup(tomo_json_str(out, "cursor"));
    json_decref(out);
    TT_EQ(tomo_svc_storage_list(&svc, db, &bob, "sec", NULL, 1, cursor, &out, &err), TOMO_EINVAL);
    TT_STR_EQ(err.msg, "Malformed cursor was used.");
    free(cursor);
    TT_EQ(tomo_svc_storage_list(&svc, db, &bob, "sec", NULL, 0, NULL, &out, &err), TOMO_EINVAL);

    /* the system deletes anything; an absent object without a version is a
     * no-op for it, but not for a user */
    tomo_storage_id d[2] = {{"sec", "b", BOB, NULL}, {"sec", "nope", BOB, NULL}};
    TT_OK(tomo_svc_storage_delete(&svc, db, &tomo_caller_system, d, 2, &err));
    TT_EQ(count_rows("collection = 'sec' AND user_id = '" BOB "'"), 1);
    tomo_storage_id gone = {"sec", "nope", NULL, NULL};
    TT_EQ(tomo_svc_storage_delete(&svc, db, &bob, &gone, 1, &err), TOMO_EINVAL);
    tomo_storage_id cond = {"sec", "nope", BOB, "abc"};
    TT_EQ(tomo_svc_storage_delete(&svc, db, &tomo_caller_system, &cond, 1, &err), TOMO_EINVAL);
}

static void test_owner_without_account(void)
{
    tomo_err err;
    json_t *out = NULL;
    /* a validly signed token of a user whose account is gone */
    tomo_caller ghost = tomo_caller_user(GHOST, "ghost");
    tomo_storage_write_op w = wop("inv", "orphan", NULL, "{}", 1, 1);
    TT_EQ(tomo_svc_storage_write(&svc, db, &ghost, &w, 1, &out, &err) < 0, 1);
    TT_EQ(err.code, TOMO_GRPC_INTERNAL);
    TT_STR_EQ(err.msg, "Error writing storage objects.");
    TT_TRUE(out == NULL);
    /* the system cannot create one either; a batch with one is all refused */
    tomo_storage_write_op ws[2] = {wop("inv", "ok", ALICE, "{}", 1, 1),
                                   wop("inv", "orphan", GHOST, "{}", 1, 1)};
    TT_EQ(tomo_svc_storage_write(&svc, db, &tomo_caller_system, ws, 2, &out, &err) < 0, 1);
    TT_EQ(err.code, TOMO_GRPC_INTERNAL);
    TT_EQ(count_rows("user_id = '" GHOST "'"), 0);
    TT_EQ(count_rows("key = 'ok'"), 0);
}

static void suite(testdb *t)
{
    svc.cfg = &t->cfg;
    svc.db = t->db;
    TT_OK(tomo_db_acquire(t->db, &db));
    TT_OK(tomo_db_exec(db,
                       "INSERT INTO users (id, username, create_time, update_time) VALUES "
                       "('" ALICE "', 'alice', 1, 1), ('" BOB "', 'bob', 1, 1)",
                       NULL, 0, NULL));
    TT_RUN(test_system_writes_for_users);
    TT_RUN(test_system_reads_and_lists_all);
    TT_RUN(test_owner_without_account);
    tomo_db_release(db);
    db = NULL;
}

int main(void)
{
    testdb_each("svc_storage", suite);
    return tt_finish();
}
