/* tests/svc/test_notification.c: the notification store on SQLite: persistent vs
 * live-only, listing order and the cacheable cursor, delete scoped to the
 * owner, input checks. */
#define _GNU_SOURCE
#include "core/codec_util.h"
#include "core/common.h"
#include "core/config.h"
#include "svc/notification.h"
#include "store/db.h"
#include "store/migrate.h"
#include "tt.h"
#include "testdb.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define U1 "0a000000-0000-4000-8000-000000000001"
#define U2 "0b000000-0000-4000-8000-000000000002"


static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Subjects of a list page joined with ','. */
static void subjects(json_t *page, char *out, size_t n)
{
    out[0] = '\0';
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(page, "notifications"), i, v)
    {
        if (*out)
            strncat(out, ",", n - strlen(out) - 1);
        strncat(out, str(v, "subject"), n - strlen(out) - 1);
    }
}

static void test_store_and_list_on(testdb *t)
{
    tomo_db *db = t->db;
    tomo_dbconn *c;
    TT_OK(tomo_db_acquire(db, &c));
    json_t *n = NULL;
    char got[128];

    /* nothing stored: an empty page with a cursor that starts at the top */
    json_t *empty;
    TT_OK(tomo_notify_list(c, U1, 10, NULL, &empty));
    TT_TRUE(json_object_get(empty, "notifications") == NULL);
    TT_TRUE(str(empty, "cacheable_cursor") != NULL);

    TT_OK(tomo_notify_store(c, U1, "a", "{\"k\":1}", 5, U2, 1, &n));
    TT_TRUE(tomo_uuid_valid(str(n, "id")));
    TT_STR_EQ(str(n, "content"), "{\"k\":1}");
    TT_EQ(json_integer_value(json_object_get(n, "code")), 5);
    TT_STR_EQ(str(n, "sender_id"), U2);
    TT_TRUE(json_is_true(json_object_get(n, "persistent")));
    TT_TRUE(str(n, "create_time") != NULL);
    json_decref(n);
    /* live-only: built, not stored; zero values are omitted */
    TT_OK(tomo_notify_store(c, U1, "live", NULL, 0, NULL, 0, &n));
    TT_TRUE(json_object_get(n, "persistent") == NULL);
    TT_TRUE(json_object_get(n, "code") == NULL);
    TT_TRUE(json_object_get(n, "sender_id") == NULL);
    TT_STR_EQ(str(n, "content"), "{}");
    json_decref(n);
    TT_OK(tomo_notify_store(c, U1, "b", NULL, -1, NULL, 1, NULL));
    TT_OK(tomo_notify_store(c, U1, "c", "{}", 7, "", 1, NULL));
    TT_OK(tomo_notify_store(c, U2, "other user", "{}", 1, NULL, 1, NULL));

    /* bad input */
    TT_EQ(tomo_notify_store(c, U1, "", "{}", 1, NULL, 1, NULL), TOMO_EINVAL);
    TT_EQ(tomo_notify_store(c, U1, "x", "[1]", 1, NULL, 1, NULL), TOMO_EINVAL);
    TT_EQ(tomo_notify_store(c, U1, "x", "{", 1, NULL, 1, NULL), TOMO_EINVAL);
    TT_EQ(tomo_notify_store(c, "nope", "x", "{}", 1, NULL, 1, NULL), TOMO_EINVAL);

    /* oldest first, paged by the cacheable cursor */
    json_t *p1, *p2, *p3;
    TT_OK(tomo_notify_list(c, U1, 2, NULL, &p1));
    subjects(p1, got, sizeof(got));
    TT_STR_EQ(got, "a,b");
    TT_OK(tomo_notify_list(c, U1, 2, str(p1, "cacheable_cursor"), &p2));
    subjects(p2, got, sizeof(got));
    TT_STR_EQ(got, "c");
    /* caught up: nothing new, the same cursor back */
    TT_OK(tomo_notify_list(c, U1, 2, str(p2, "cacheable_cursor"), &p3));
    TT_TRUE(json_object_get(p3, "notifications") == NULL);
    TT_STR_EQ(str(p3, "cacheable_cursor"), str(p2, "cacheable_cursor"));
    /* a later notification shows up behind the kept cursor */
    TT_OK(tomo_notify_store(c, U1, "d", "{}", 1, NULL, 1, NULL));
    json_t *p4;
    TT_OK(tomo_notify_list(c, U1, 100, str(p3, "cacheable_cursor"), &p4));
    subjects(p4, got, sizeof(got));
    TT_STR_EQ(got, "d");
    /* the empty-list cursor lists from the start */
    json_t *p5;
    TT_OK(tomo_notify_list(c, U1, 100, str(empty, "cacheable_cursor"), &p5));
    subjects(p5, got, sizeof(got));
    TT_STR_EQ(got, "a,b,c,d");
    json_t *first = json_array_get(json_object_get(p5, "notifications"), 0);
    TT_TRUE(json_is_true(json_object_get(first, "persistent")));
    TT_STR_EQ(str(first, "content"), "{\"k\":1}");
    json_t *second = json_array_get(json_object_get(p5, "notifications"), 1);
    TT_EQ(json_integer_value(json_object_get(second, "code")), -1);
    TT_TRUE(json_object_get(second, "sender_id") == NULL);

    json_t *bad = NULL;
    TT_EQ(tomo_notify_list(c, U1, 10, "garbage!", &bad), TOMO_EINVAL);
    TT_EQ(tomo_notify_list(c, U1, 10, "bjE6eDp5", &bad), TOMO_EINVAL); /* "n1:x:y" */
    TT_EQ(tomo_notify_list(c, U1, 0, NULL, &bad), TOMO_EINVAL);
    TT_EQ(tomo_notify_list(c, U1, 101, NULL, &bad), TOMO_EINVAL);
    TT_TRUE(bad == NULL);

    /* delete: only the owner's; unknown ids are ignored */
    json_t *theirs;
    TT_OK(tomo_notify_list(c, U2, 10, NULL, &theirs));
    const char *their_id =
        str(json_array_get(json_object_get(theirs, "notifications"), 0), "id");
    const char *ids[] = {str(first, "id"), str(second, "id"), their_id,
                         "0c000000-0000-4000-8000-000000000003"};
    TT_OK(tomo_notify_delete(c, U1, ids, 4));
    json_t *left, *still;
    TT_OK(tomo_notify_list(c, U1, 100, NULL, &left));
    subjects(left, got, sizeof(got));
    TT_STR_EQ(got, "c,d");
    TT_OK(tomo_notify_list(c, U2, 100, NULL, &still));
    subjects(still, got, sizeof(got));
    TT_STR_EQ(got, "other user");

    json_decref(empty), json_decref(p1), json_decref(p2), json_decref(p3), json_decref(p4);
    json_decref(p5), json_decref(theirs), json_decref(left), json_decref(still);
    tomo_db_release(c);
}

static void test_store_and_list(void) { testdb_each("notify", test_store_and_list_on); }

/* ---- send: stored, then pushed through the seam ---- */

static char g_pushed_to[37];
static json_t *g_pushed;

static void fake_to_user(void *ctx, const char *user_id, json_t *env)
{
    (void)ctx;
    snprintf(g_pushed_to, sizeof(g_pushed_to), "%s", user_id);
    json_decref(g_pushed);
    g_pushed = json_deep_copy(env);
}

static void test_send_on(testdb *t)
{
    tomo_svc svc;
    memset(&svc, 0, sizeof(svc));
    svc.cfg = &t->cfg;
    svc.db = t->db;
    svc.push.to_user = fake_to_user;
    tomo_dbconn *c = NULL;
    TT_OK(tomo_db_acquire(t->db, &c));
    json_t *n = NULL;
    TT_OK(tomo_notify_send(&svc, c, U1, "hello", "{\"a\":1}", 9, NULL, 1, &n));
    TT_STR_EQ(g_pushed_to, U1);
    json_t *pushed = json_array_get(
        json_object_get(json_object_get(g_pushed, "notifications"), "notifications"), 0);
    TT_STR_EQ(json_string_value(json_object_get(pushed, "subject")), "hello");
    TT_STR_EQ(json_string_value(json_object_get(pushed, "id")),
              json_string_value(json_object_get(n, "id")));
    json_decref(n);
    json_t *page = NULL;
    TT_OK(tomo_notify_list(c, U1, 10, NULL, &page));
    TT_EQ(json_array_size(json_object_get(page, "notifications")), 1);
    json_decref(page);
    /* nothing is pushed when the store refuses it */
    g_pushed_to[0] = '\0';
    TT_EQ(tomo_notify_send(&svc, c, U1, "", "{}", 1, NULL, 1, NULL), TOMO_EINVAL);
    TT_STR_EQ(g_pushed_to, "");
    json_decref(g_pushed);
    g_pushed = NULL;
    tomo_db_release(c);
}

static void test_send(void) { testdb_each("notify_send", test_send_on); }

int main(void)
{
    TT_RUN(test_store_and_list);
    TT_RUN(test_send);
    return tt_finish();
}
