/* tests/svc/test_chat.c: channel ids, room names, message ids, and the
 * message history store (paging both ways, cursors, update/remove) on
 * SQLite. */
#define _GNU_SOURCE
#include "core/codec_util.h"
#include "core/common.h"
#include "core/config.h"
#include "svc/chat.h"
#include "store/db.h"
#include "store/migrate.h"
#include "tt.h"
#include "testdb.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define U1 "0a000000-0000-4000-8000-000000000001"
#define U2 "0b000000-0000-4000-8000-000000000002"

static void test_id_parse(void)
{
    static const struct {
        const char *id;
        int ok, mode;
        const char *subject, *subcontext, *label;
    } cases[] = {
        {"2...lobby", 1, 2, "", "", "lobby"},
        {"2...a.b.c", 1, 2, "", "", "a.b.c"},
        {"2...with space", 1, 2, "", "", "with space"},
        {"3." U1 "..", 1, 3, U1, "", ""},
        {"3.0A000000-0000-4000-8000-000000000001..", 1, 3, U1, "", ""},
        {"4." U1 "." U2 ".", 1, 4, U1, U2, ""},
        {"", 0, 0, NULL, NULL, NULL},
        {"2..lobby", 0, 0, NULL, NULL, NULL},
        {"2...", 0, 0, NULL, NULL, NULL},
        {"5...lobby", 0, 0, NULL, NULL, NULL},
        {"22...lobby", 0, 0, NULL, NULL, NULL},
        {"2.x..lobby", 0, 0, NULL, NULL, NULL},
        {"2..x.lobby", 0, 0, NULL, NULL, NULL},
        {"3.not-a-uuid..", 0, 0, NULL, NULL, NULL},
        {"3." U1 ".x.", 0, 0, NULL, NULL, NULL},
        {"4." U1 "." U2 ".x", 0, 0, NULL, NULL, NULL},
        {"4." U1 ".zz.", 0, 0, NULL, NULL, NULL},
        {"2...0123456789012345678901234567890123456789012345678901234567890123456789", 0, 0,
         NULL, NULL, NULL},
    };
    for (size_t i = 0; i < TOMO_ARRAY_LEN(cases); i++) {
        tomo_chat_channel c;
        int rc = tomo_chat_id_parse(cases[i].id, &c);
        if (!cases[i].ok) {
            if (rc != TOMO_EINVAL)
                TT_FAIL("parse \"%s\": accepted, want EINVAL", cases[i].id);
            continue;
        }
        TT_OK(rc);
        TT_EQ(c.mode, cases[i].mode);
        TT_STR_EQ(c.subject, cases[i].subject);
        TT_STR_EQ(c.subcontext, cases[i].subcontext);
        TT_STR_EQ(c.label, cases[i].label);
    }
    /* format round-trips the canonical form */
    tomo_chat_channel c;
    char buf[TOMO_CHAT_ID_MAX];
    TT_OK(tomo_chat_id_parse("4." U1 "." U2 ".", &c));
    tomo_chat_id_format(&c, buf);
    TT_STR_EQ(buf, "4." U1 "." U2 ".");
    /* a DM is the same channel whoever builds it */
    tomo_chat_dm_init(&c, U2, U1);
    tomo_chat_id_format(&c, buf);
    TT_STR_EQ(buf, "4." U1 "." U2 ".");
    tomo_chat_dm_init(&c, U1, U2);
    tomo_chat_id_format(&c, buf);
    TT_STR_EQ(buf, "4." U1 "." U2 ".");
}

static void test_room_names(void)
{
    tomo_chat_channel c;
    TT_TRUE(tomo_chat_room_init(&c, "lobby") == NULL);
    TT_STR_EQ(c.label, "lobby");
    TT_TRUE(tomo_chat_room_init(&c, "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80") == NULL);
    char max[65];
    memset(max, 'x', 64);
    max[64] = '\0';
    TT_TRUE(tomo_chat_room_init(&c, max) == NULL);
    char over[66];
    memset(over, 'x', 65);
    over[65] = '\0';
    TT_CONTAINS(tomo_chat_room_init(&c, over), "1-64 chars");
    TT_CONTAINS(tomo_chat_room_init(&c, ""), "1-64 chars");
    TT_CONTAINS(tomo_chat_room_init(&c, "a\tb"), "control chars");
    TT_CONTAINS(tomo_chat_room_init(&c, "a\x7f"), "control chars");
    TT_CONTAINS(tomo_chat_room_init(&c, "\xc0\x80"), "UTF-8");     /* overlong */
    TT_CONTAINS(tomo_chat_room_init(&c, "\xed\xa0\x80"), "UTF-8"); /* surrogate */
    TT_CONTAINS(tomo_chat_room_init(&c, "abc\xe2\x82"), "UTF-8");  /* truncated */
    TT_CONTAINS(tomo_chat_room_init(&c, "\xf4\x90\x80\x80"), "UTF-8"); /* > U+10FFFF */
}

static void test_time_ordered_ids(void)
{
    char prev[37] = "", cur[37];
    for (int i = 0; i < 5000; i++) {
        tomo_uuid_v7(cur);
        if (!tomo_uuid_valid(cur) || strcmp(cur, prev) <= 0) {
            TT_FAIL("id %d \"%s\" not a valid increasing uuid after \"%s\"", i, cur, prev);
            break;
        }
        memcpy(prev, cur, 37);
    }
    TT_EQ(cur[14], '7');
    TT_TRUE(tomo_chat_content_ok("{\"a\":1}"));
    TT_TRUE(tomo_chat_content_ok(" {} "));
    TT_TRUE(!tomo_chat_content_ok("[1]"));
    TT_TRUE(!tomo_chat_content_ok("\"x\""));
    TT_TRUE(!tomo_chat_content_ok("{"));
    TT_TRUE(!tomo_chat_content_ok(""));
}


/* The message_id values of a page, joined with ','. */
static void page_ids(json_t *page, char ids[][37], char *out, size_t n)
{
    out[0] = '\0';
    json_t *m;
    size_t i;
    json_array_foreach(json_object_get(page, "messages"), i, m)
    {
        const char *id = json_string_value(json_object_get(m, "message_id"));
        for (int k = 0; k < 8; k++)
            if (!strcmp(ids[k], id)) {
                char d[4];
                snprintf(d, sizeof(d), "%s%d", *out ? "," : "", k);
                strncat(out, d, n - strlen(out) - 1);
            }
    }
}

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void test_history_on(testdb *tdb)
{
    tomo_db *db = tdb->db;
    tomo_dbconn *c;
    TT_OK(tomo_db_acquire(db, &c));
    tomo_chat_channel room, other;
    TT_TRUE(tomo_chat_room_init(&room, "lobby") == NULL);
    TT_TRUE(tomo_chat_room_init(&other, "elsewhere") == NULL);
    char ids[8][37];
    /* m0..m4 in the lobby, two sharing a millisecond; one message elsewhere */
    int64_t t[] = {1000, 2000, 2000, 3000, 4000};
    for (int i = 0; i < 5; i++) {
        tomo_uuid_v7(ids[i]);
        char content[32];
        snprintf(content, sizeof(content), "{\"n\":%d}", i);
        TT_OK(tomo_chat_message_insert(c, &room, ids[i], 0, U1, "alice", content, t[i]));
    }
    tomo_uuid_v7(ids[5]);
    TT_OK(tomo_chat_message_insert(c, &other, ids[5], 0, U1, "alice", "{}", 1500));
    ids[6][0] = ids[7][0] = '\0';

    char got[64];
    json_t *p1, *p2, *p3, *p4;
    /* forward: 0,1 | 2,3 | 4 */
    TT_OK(tomo_chat_history_list(c, &room, "2...lobby", 2, 1, NULL, &p1));
    page_ids(p1, ids, got, sizeof(got));
    TT_STR_EQ(got, "0,1");
    TT_TRUE(str(p1, "next_cursor") && !str(p1, "prev_cursor") && str(p1, "cacheable_cursor"));
    json_t *m0 = json_array_get(json_object_get(p1, "messages"), 0);
    TT_STR_EQ(str(m0, "channel_id"), "2...lobby");
    TT_STR_EQ(str(m0, "room_name"), "lobby");
    TT_STR_EQ(str(m0, "content"), "{\"n\":0}");
    TT_STR_EQ(str(m0, "username"), "alice");
    TT_STR_EQ(str(m0, "sender_id"), U1);
    TT_STR_EQ(str(m0, "create_time"), "1970-01-01T00:00:01Z");
    TT_TRUE(json_is_true(json_object_get(m0, "persistent")));
    TT_EQ(json_integer_value(json_object_get(m0, "code")), 0);
    TT_TRUE(json_object_get(m0, "code") != NULL);

    TT_OK(tomo_chat_history_list(c, &room, "2...lobby", 2, 1, str(p1, "next_cursor"), &p2));
    page_ids(p2, ids, got, sizeof(got));
    TT_STR_EQ(got, "2,3");
    TT_TRUE(str(p2, "next_cursor") && str(p2, "prev_cursor"));
    TT_OK(tomo_chat_history_list(c, &room, "2...lobby", 2, 1, str(p2, "next_cursor"), &p3));
    page_ids(p3, ids, got, sizeof(got));
    TT_STR_EQ(got, "4");
    TT_TRUE(!str(p3, "next_cursor") && str(p3, "prev_cursor"));
    /* back from the last page, then back again */
    TT_OK(tomo_chat_history_list(c, &room, "2...lobby", 2, 1, str(p3, "prev_cursor"), &p4));
    page_ids(p4, ids, got, sizeof(got));
    TT_STR_EQ(got, "2,3");
    json_t *p5;
    TT_OK(tomo_chat_history_list(c, &room, "2...lobby", 2, 1, str(p4, "prev_cursor"), &p5));
    page_ids(p5, ids, got, sizeof(got));
    TT_STR_EQ(got, "0,1");
    /* and forward again from there */
    json_t *p6;
    TT_OK(tomo_chat_history_list(c, &room, "2...lobby", 2, 1, str(p5, "next_cursor"), &p6));
    page_ids(p6, ids, got, sizeof(got));
    TT_STR_EQ(got, "2,3");

    /* backward: newest first 4,3 | 2,1 | 0 */
    json_t *b1, *b2, *b3;
    TT_OK(tomo_chat_history_list(c, &room, "2...lobby", 2, 0, NULL, &b1));
    page_ids(b1, ids, got, sizeof(got));
    TT_STR_EQ(got, "4,3");
    TT_OK(tomo_chat_history_list(c, &room, "2...lobby", 2, 0, str(b1, "next_cursor"), &b2));
    page_ids(b2, ids, got, sizeof(got));
    TT_STR_EQ(got, "2,1");
    TT_OK(tomo_chat_history_list(c, &room, "2...lobby", 2, 0, str(b2, "next_cursor"), &b3));
    page_ids(b3, ids, got, sizeof(got));
    TT_STR_EQ(got, "0");
    TT_TRUE(!str(b3, "next_cursor"));

    /* cursors are bound to their channel and direction; garbage is refused */
    json_t *bad = NULL;
    TT_EQ(tomo_chat_history_list(c, &room, "2...lobby", 2, 0, str(p1, "next_cursor"), &bad),
          TOMO_EINVAL);
    TT_EQ(tomo_chat_history_list(c, &other, "2...elsewhere", 2, 1, str(p1, "next_cursor"), &bad),
          TOMO_EINVAL);
    TT_EQ(tomo_chat_history_list(c, &room, "2...lobby", 2, 1, "not-a-cursor", &bad), TOMO_EINVAL);
    TT_EQ(tomo_chat_history_list(c, &room, "2...lobby", 0, 1, NULL, &bad), TOMO_EINVAL);
    TT_EQ(tomo_chat_history_list(c, &room, "2...lobby", 101, 1, NULL, &bad), TOMO_EINVAL);
    TT_TRUE(bad == NULL);

    /* the cacheable cursor of the full listing yields only newer messages */
    json_t *all, *newer, *none;
    TT_OK(tomo_chat_history_list(c, &room, "2...lobby", 100, 1, NULL, &all));
    page_ids(all, ids, got, sizeof(got));
    TT_STR_EQ(got, "0,1,2,3,4");
    TT_OK(tomo_chat_history_list(c, &room, "2...lobby", 100, 1, str(all, "cacheable_cursor"),
                                 &none));
    TT_TRUE(json_object_get(none, "messages") == NULL);
    TT_STR_EQ(str(none, "cacheable_cursor"), str(all, "cacheable_cursor"));
    tomo_uuid_v7(ids[6]);
    TT_OK(tomo_chat_message_insert(c, &room, ids[6], 0, U2, "bob", "{}", 5000));
    TT_OK(tomo_chat_history_list(c, &room, "2...lobby", 100, 1, str(all, "cacheable_cursor"),
                                 &newer));
    page_ids(newer, ids, got, sizeof(got));
    TT_STR_EQ(got, "6");

    /* update/remove: only the sender, only in the message's channel */
    int64_t created = 0;
    TT_EQ(tomo_chat_message_update(c, &room, ids[0], U2, "bob", "{\"x\":1}", 9000, &created),
          TOMO_ENOTFOUND);
    TT_EQ(tomo_chat_message_update(c, &other, ids[0], U1, "alice", "{\"x\":1}", 9000, &created),
          TOMO_ENOTFOUND);
    TT_OK(tomo_chat_message_update(c, &room, ids[0], U1, "alice", "{\"x\":1}", 9000, &created));
    TT_EQ(created, 1000);
    TT_EQ(tomo_chat_message_remove(c, &room, ids[1], U2, &created), TOMO_ENOTFOUND);
    TT_OK(tomo_chat_message_remove(c, &room, ids[1], U1, &created));
    TT_EQ(created, 2000);
    TT_EQ(tomo_chat_message_remove(c, &room, ids[1], U1, &created), TOMO_ENOTFOUND);
    json_t *after;
    TT_OK(tomo_chat_history_list(c, &room, "2...lobby", 100, 1, NULL, &after));
    page_ids(after, ids, got, sizeof(got));
    TT_STR_EQ(got, "0,2,3,4,6");
    json_t *first = json_array_get(json_object_get(after, "messages"), 0);
    TT_STR_EQ(str(first, "content"), "{\"x\":1}");
    TT_STR_EQ(str(first, "update_time"), "1970-01-01T00:00:09Z");
    TT_STR_EQ(str(first, "create_time"), "1970-01-01T00:00:01Z");

    json_decref(p1), json_decref(p2), json_decref(p3), json_decref(p4), json_decref(p5);
    json_decref(p6), json_decref(b1), json_decref(b2), json_decref(b3), json_decref(all);
    json_decref(none), json_decref(newer), json_decref(after);
    tomo_db_release(c);
}

static void test_history(void) { testdb_each("chat", test_history_on); }

int main(void)
{
    TT_RUN(test_id_parse);
    TT_RUN(test_room_names);
    TT_RUN(test_time_ordered_ids);
    TT_RUN(test_history);
    return tt_finish();
}
