/* tests/api/test_storage.c: storage API helpers (cursor codec, value check,
 * version hash) and the handlers' semantics against a real SQLite store. The
 * handlers are called directly with a hand-built context (the session is set,
 * as the Bearer check would); the acceptance tests cover the HTTP path. */
#define _GNU_SOURCE
#include "api/handlers.h"
#include "svc/storage_util.h"
#include "core/codec_util.h"
#include "core/common.h"
#include "core/config.h"
#include "store/db.h"
#include "store/migrate.h"
#include "tt.h"
#include "testdb.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALICE "11111111-1111-4111-8111-111111111111"
#define BOB "22222222-2222-4222-8222-222222222222"

/* ---- cursor ---- */

static void test_cursor_roundtrip(void)
{
    char *c = tomo_storage_cursor_encode(TOMO_STORAGE_LIST_OWN, "saves", ALICE, 1, "slot/3", ALICE);
    TT_TRUE(c != NULL);
    TT_TRUE(strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
            strlen(c)); /* unpadded base64url */
    tomo_storage_cursor cur;
    TT_OK(tomo_storage_cursor_decode(c, TOMO_STORAGE_LIST_OWN, "saves", ALICE, &cur));
    TT_EQ(cur.read, 1);
    TT_STR_EQ(cur.key, "slot/3");
    TT_STR_EQ(cur.user_id, ALICE);
    tomo_storage_cursor_clear(&cur);
    tomo_storage_cursor_clear(&cur); /* twice is fine */

    /* another listing: other collection, owner or mode */
    TT_EQ(tomo_storage_cursor_decode(c, TOMO_STORAGE_LIST_OWN, "other", ALICE, &cur), TOMO_EINVAL);
    TT_EQ(tomo_storage_cursor_decode(c, TOMO_STORAGE_LIST_OWN, "saves", BOB, &cur), TOMO_EINVAL);
    TT_EQ(tomo_storage_cursor_decode(c, TOMO_STORAGE_LIST_USER, "saves", ALICE, &cur), TOMO_EINVAL);
    free(c);

    /* public listings only ever produce read 2 positions */
    c = tomo_storage_cursor_encode(TOMO_STORAGE_LIST_PUBLIC, "saves", NULL, 2, "k", BOB);
    TT_OK(tomo_storage_cursor_decode(c, TOMO_STORAGE_LIST_PUBLIC, "saves", "", &cur));
    TT_STR_EQ(cur.user_id, BOB);
    tomo_storage_cursor_clear(&cur);
    free(c);
    c = tomo_storage_cursor_encode(TOMO_STORAGE_LIST_PUBLIC, "saves", NULL, 1, "k", BOB);
    TT_EQ(tomo_storage_cursor_decode(c, TOMO_STORAGE_LIST_PUBLIC, "saves", NULL, &cur),
          TOMO_EINVAL);
    free(c);
    /* a forged read-0 position would widen an owner listing to server-only rows */
    c = tomo_storage_cursor_encode(TOMO_STORAGE_LIST_OWN, "saves", ALICE, 0, "k", ALICE);
    TT_EQ(tomo_storage_cursor_decode(c, TOMO_STORAGE_LIST_OWN, "saves", ALICE, &cur), TOMO_EINVAL);
    free(c);
    /* upper-case owner ids come back canonical */
    c = tomo_storage_cursor_encode(TOMO_STORAGE_LIST_PUBLIC, "s", NULL, 2, "k",
                                   "ABCDEF01-2345-4789-8BCD-EF0123456789");
    TT_OK(tomo_storage_cursor_decode(c, TOMO_STORAGE_LIST_PUBLIC, "s", NULL, &cur));
    TT_STR_EQ(cur.user_id, "abcdef01-2345-4789-8bcd-ef0123456789");
    tomo_storage_cursor_clear(&cur);
    free(c);
    /* a row whose owner is not a UUID cannot be encoded */
    TT_TRUE(tomo_storage_cursor_encode(TOMO_STORAGE_LIST_PUBLIC, "s", NULL, 2, "k", "nope") ==
            NULL);
}

static void test_cursor_malformed(void)
{
    static const char *bad[] = {
        "",
        "!!!!",
        "AAAA",
        "abc",
        "AQI", /* too short */
        "not base64 at all",
        "%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%",
    };
    tomo_storage_cursor cur;
    for (size_t i = 0; i < TOMO_ARRAY_LEN(bad); i++)
        TT_EQ(tomo_storage_cursor_decode(bad[i], TOMO_STORAGE_LIST_PUBLIC, "c", NULL, &cur),
              TOMO_EINVAL);
    TT_EQ(tomo_storage_cursor_decode(NULL, TOMO_STORAGE_LIST_PUBLIC, "c", NULL, &cur), TOMO_EINVAL);

    /* a valid cursor with a different format byte, or a NUL in the key */
    char *c = tomo_storage_cursor_encode(TOMO_STORAGE_LIST_PUBLIC, "c", NULL, 2, "key", ALICE);
    uint8_t *raw;
    size_t n;
    TT_OK(tomo_b64_decode(c, strlen(c), &raw, &n));
    raw[0] = 9;
    char *c2 = tomo_b64_encode(raw, n, 1);
    TT_EQ(tomo_storage_cursor_decode(c2, TOMO_STORAGE_LIST_PUBLIC, "c", NULL, &cur), TOMO_EINVAL);
    free(c2);
    raw[0] = 1;
    raw[n - 2] = '\0';
    c2 = tomo_b64_encode(raw, n, 1);
    TT_EQ(tomo_storage_cursor_decode(c2, TOMO_STORAGE_LIST_PUBLIC, "c", NULL, &cur), TOMO_EINVAL);
    free(c2);
    /* truncated: key dropped entirely */
    c2 = tomo_b64_encode(raw, 26, 1);
    TT_EQ(tomo_storage_cursor_decode(c2, TOMO_STORAGE_LIST_PUBLIC, "c", NULL, &cur), TOMO_EINVAL);
    free(c2);
    free(raw);
    free(c);
}

/* ---- value check ---- */

static void test_value_is_object(void)
{
    static const struct {
        const char *s;
        int ok;
    } cases[] = {
        {"{}", 1},
        {"  {\"a\":1}\n", 1},
        {"{\"a\":[1,2,{\"b\":null}],\"c\":\"x\\u00e9\\n\",\"d\":true,\"e\":false}", 1},
        {"{\"big\":123456789012345678901234567890,\"f\":-0.5e-10,\"g\":1E+3}", 1},
        {"{\"dup\":1,\"dup\":2}", 1},
        {"{\"s\":\"caf\xc3\xa9\"}", 1},
        {"", 0},
        {"   ", 0},
        {"[]", 0},
        {"\"{}\"", 0},
        {"1", 0},
        {"null", 0},
        {"{", 0},
        {"{}}", 0},
        {"{} {}", 0},
        {"{\"a\"}", 0},
        {"{\"a\":}", 0},
        {"{a:1}", 0},
        {"{\"a\":1,}", 0},
        {"{\"a\":[1,]}", 0},
        {"{\"a\":01}", 0},
        {"{\"a\":1.}", 0},
        {"{\"a\":.5}", 0},
        {"{\"a\":-}", 0},
        {"{\"a\":1e}", 0},
        {"{\"a\":tru}", 0},
        {"{\"a\":\"\\x\"}", 0},
        {"{\"a\":\"\\u12g4\"}", 0},
        {"{\"a\":\"tab\there\"}", 0},
        {"{\"a\":\"unterminated}", 0},
        {"{\"a\":NaN}", 0},
        {"{'a':1}", 0},
    };
    for (size_t i = 0; i < TOMO_ARRAY_LEN(cases); i++) {
        int got = tomo_storage_value_is_object(cases[i].s, strlen(cases[i].s));
        if (got != cases[i].ok)
            TT_FAIL("value_is_object(%s) = %d, want %d", cases[i].s, got, cases[i].ok);
        tt_checks++;
    }
    /* embedded NUL after a complete object is trailing garbage */
    TT_EQ(tomo_storage_value_is_object("{}\0", 3), 0);
    /* nesting: 500 levels fine, 600 refused (stack bound) */
    char deep[1300];
    size_t o = 0;
    deep[o++] = '{';
    deep[o++] = '"';
    deep[o++] = 'a';
    deep[o++] = '"';
    deep[o++] = ':';
    for (int i = 0; i < 498; i++)
        deep[o++] = '[';
    for (int i = 0; i < 498; i++)
        deep[o++] = ']';
    deep[o++] = '}';
    TT_EQ(tomo_storage_value_is_object(deep, o), 1);
    o = 0;
    deep[o++] = '{';
    deep[o++] = '"';
    deep[o++] = 'a';
    deep[o++] = '"';
    deep[o++] = ':';
    for (int i = 0; i < 600; i++)
        deep[o++] = '[';
    for (int i = 0; i < 600; i++)
        deep[o++] = ']';
    deep[o++] = '}';
    TT_EQ(tomo_storage_value_is_object(deep, o), 0);
}

static void test_version(void)
{
    char v[33];
    tomo_storage_version("{}", 2, v);
    TT_STR_EQ(v, "99914b932bd37a50b983c5e7c90ae93b");
    tomo_storage_version("", 0, v);
    TT_STR_EQ(v, "d41d8cd98f00b204e9800998ecf8427e");
}

/* ---- handlers on SQLite ---- */

static tomo_server srv;

typedef struct call {
    int rc;
    int code;
    char *msg;
    json_t *out;
} call;

static void call_clear(call *c)
{
    free(c->msg);
    json_decref(c->out);
    memset(c, 0, sizeof(*c));
}

/* Run a handler as `user` with a JSON body (or NULL), path params
 * "name=value" pairs (up to two) and a query object (JSON text or NULL). */
static call run(tomo_api_fn fn, const char *user, const char *body, const char *p1, const char *p2,
                const char *query)
{
    tomo_api_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.srv = &srv;
    snprintf(ctx.session.user_id, sizeof(ctx.session.user_id), "%s", user);
    json_error_t e;
    ctx.body = body ? json_loads(body, JSON_DECODE_ANY, &e) : NULL;
    if (body && !ctx.body)
        TT_FAIL("bad test body %s: %s", body, e.text);
    ctx.query = query ? json_loads(query, 0, &e) : json_object();
    const char *ps[2] = {p1, p2};
    static const char *names[2] = {"collection", "user_id"};
    for (int i = 0; i < 2; i++)
        if (ps[i]) {
            ctx.match.names[ctx.match.nparams] = names[i];
            ctx.match.values[ctx.match.nparams] = tomo_xstrdup(ps[i]);
            ctx.match.nparams++;
        }
    call c = {0};
    c.rc = fn(&ctx);
    c.code = ctx.grpc_code;
    c.msg = ctx.err_msg;
    c.out = ctx.out;
    if (c.rc == 0 && !c.out)
        c.out = json_object();
    tomo_db_release(ctx.db);
    json_decref(ctx.body);
    json_decref(ctx.query);
    tomo_route_match_clear(&ctx.match);
    return c;
}

#define EXPECT_ERR(c, want_msg)                                                                    \
    do {                                                                                           \
        TT_TRUE((c).rc < 0);                                                                       \
        TT_EQ((c).code, TOMO_GRPC_INVALID_ARGUMENT);                                               \
        TT_STR_EQ((c).msg, want_msg);                                                              \
    } while (0)

static const char *ack_version(const call *c, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(c->out, "acks"), i), "version"));
}

static size_t nobjects(const call *c)
{
    return json_array_size(json_object_get(c->out, "objects"));
}

static void test_write_read(void)
{
    call c =
        run(tomo_api_storage_write, ALICE,
            "{\"objects\":[{\"collection\":\"saves\",\"key\":\"b\",\"value\":\"{\\\"hp\\\":1}\"},"
            "{\"collection\":\"saves\",\"key\":\"a\",\"value\":\"{}\",\"permission_read\":2,"
            "\"permission_write\":0}]}",
            NULL, NULL, NULL);
    TT_OK(c.rc);
    json_t *acks = json_object_get(c.out, "acks");
    TT_EQ(json_array_size(acks), 2);
    /* request order, not processing order */
    TT_STR_EQ(json_string_value(json_object_get(json_array_get(acks, 0), "key")), "b");
    TT_STR_EQ(json_string_value(json_object_get(json_array_get(acks, 1), "key")), "a");
    TT_STR_EQ(ack_version(&c, 1), "99914b932bd37a50b983c5e7c90ae93b");
    TT_STR_EQ(json_string_value(json_object_get(json_array_get(acks, 0), "user_id")), ALICE);
    TT_TRUE(json_object_get(json_array_get(acks, 0), "create_time") != NULL);
    call_clear(&c);

    /* owner reads both; an id asked twice is answered once; order follows the request */
    c = run(tomo_api_storage_read, ALICE,
            "{\"object_ids\":[{\"collection\":\"saves\",\"key\":\"a\",\"user_id\":\"" ALICE "\"},"
            "{\"collection\":\"saves\",\"key\":\"b\",\"user_id\":\"" ALICE "\"},"
            "{\"collection\":\"saves\",\"key\":\"a\",\"user_id\":\"" ALICE "\"},"
            "{\"collection\":\"saves\",\"key\":\"missing\",\"user_id\":\"" ALICE "\"}]}",
            NULL, NULL, NULL);
    TT_OK(c.rc);
    TT_EQ(nobjects(&c), 2);
    json_t *o = json_array_get(json_object_get(c.out, "objects"), 0);
    TT_STR_EQ(json_string_value(json_object_get(o, "key")), "a");
    TT_EQ(json_integer_value(json_object_get(o, "permission_read")), 2);
    TT_TRUE(json_object_get(o, "permission_write") == NULL); /* zero omitted */
    TT_STR_EQ(json_string_value(json_object_get(o, "value")), "{}");
    call_clear(&c);

    /* bob sees only the public one */
    c = run(tomo_api_storage_read, BOB,
            "{\"object_ids\":[{\"collection\":\"saves\",\"key\":\"a\",\"user_id\":\"" ALICE "\"},"
            "{\"collection\":\"saves\",\"key\":\"b\",\"user_id\":\"" ALICE "\"}]}",
            NULL, NULL, NULL);
    TT_OK(c.rc);
    TT_EQ(nobjects(&c), 1);
    call_clear(&c);

    /* empty user_id means the system user: nothing there */
    c = run(tomo_api_storage_read, ALICE,
            "{\"object_ids\":[{\"collection\":\"saves\",\"key\":\"a\"}]}", NULL, NULL, NULL);
    TT_OK(c.rc);
    TT_EQ(nobjects(&c), 0);
    TT_EQ(json_object_size(c.out), 0);
    call_clear(&c);
}

static void test_occ(void)
{
    call c = run(tomo_api_storage_write, ALICE,
                 "{\"objects\":[{\"collection\":\"occ\",\"key\":\"k\",\"value\":\"{\\\"v\\\":1}\","
                 "\"version\":\"*\"}]}",
                 NULL, NULL, NULL);
    TT_OK(c.rc);
    char v1[33];
    snprintf(v1, sizeof(v1), "%s", ack_version(&c, 0));
    call_clear(&c);
    /* "*" on an existing object */
    c = run(
        tomo_api_storage_write, ALICE,
        "{\"objects\":[{\"collection\":\"occ\",\"key\":\"k\",\"value\":\"{}\",\"version\":\"*\"}]}",
        NULL, NULL, NULL);
    EXPECT_ERR(c, "Storage write rejected - version check failed.");
    call_clear(&c);
    /* stale version */
    c = run(tomo_api_storage_write, ALICE,
            "{\"objects\":[{\"collection\":\"occ\",\"key\":\"k\",\"value\":\"{}\","
            "\"version\":\"0123456789abcdef0123456789abcdef\"}]}",
            NULL, NULL, NULL);
    EXPECT_ERR(c, "Storage write rejected - version check failed.");
    call_clear(&c);
    /* version on a missing object */
    c = run(tomo_api_storage_write, ALICE,
            "{\"objects\":[{\"collection\":\"occ\",\"key\":\"nope\",\"value\":\"{}\","
            "\"version\":\"99914b932bd37a50b983c5e7c90ae93b\"}]}",
            NULL, NULL, NULL);
    EXPECT_ERR(c, "Storage write rejected - version check failed.");
    call_clear(&c);
    /* matching version succeeds, and makes the object server-write-only */
    char body[512];
    snprintf(body, sizeof(body),
             "{\"objects\":[{\"collection\":\"occ\",\"key\":\"k\",\"value\":\"{\\\"v\\\":2}\","
             "\"version\":\"%s\",\"permission_write\":0}]}",
             v1);
    c = run(tomo_api_storage_write, ALICE, body, NULL, NULL, NULL);
    TT_OK(c.rc);
    char v2[33];
    snprintf(v2, sizeof(v2), "%s", ack_version(&c, 0));
    TT_TRUE(strcmp(v1, v2) != 0);
    call_clear(&c);
    /* now: unconditional and matching-version writes are permission errors */
    c = run(tomo_api_storage_write, ALICE,
            "{\"objects\":[{\"collection\":\"occ\",\"key\":\"k\",\"value\":\"{}\"}]}", NULL, NULL,
            NULL);
    EXPECT_ERR(c, "Storage write rejected - permission denied.");
    call_clear(&c);
    snprintf(body, sizeof(body),
             "{\"objects\":[{\"collection\":\"occ\",\"key\":\"k\",\"value\":\"{}\",\"version\":\"%"
             "s\"}]}",
             v2);
    c = run(tomo_api_storage_write, ALICE, body, NULL, NULL, NULL);
    EXPECT_ERR(c, "Storage write rejected - permission denied.");
    call_clear(&c);
    /* and it cannot be deleted by its owner */
    c = run(tomo_api_storage_delete, ALICE,
            "{\"object_ids\":[{\"collection\":\"occ\",\"key\":\"k\"}]}", NULL, NULL, NULL);
    EXPECT_ERR(c,
               "Storage delete rejected - not found, version check failed, or permission denied.");
    call_clear(&c);
}

static void test_batch_atomic(void)
{
    /* second object fails its version check: the first must not be written */
    call c =
        run(tomo_api_storage_write, ALICE,
            "{\"objects\":[{\"collection\":\"atom\",\"key\":\"x\",\"value\":\"{}\"},"
            "{\"collection\":\"atom\",\"key\":\"y\",\"value\":\"{}\",\"version\":\"deadbeef\"}]}",
            NULL, NULL, NULL);
    EXPECT_ERR(c, "Storage write rejected - version check failed.");
    call_clear(&c);
    c = run(tomo_api_storage_read, ALICE,
            "{\"object_ids\":[{\"collection\":\"atom\",\"key\":\"x\",\"user_id\":\"" ALICE "\"}]}",
            NULL, NULL, NULL);
    TT_OK(c.rc);
    TT_EQ(nobjects(&c), 0);
    call_clear(&c);

    /* delete batch: one missing id keeps the other */
    c = run(tomo_api_storage_write, ALICE,
            "{\"objects\":[{\"collection\":\"atom\",\"key\":\"x\",\"value\":\"{}\"}]}", NULL, NULL,
            NULL);
    TT_OK(c.rc);
    call_clear(&c);
    c = run(tomo_api_storage_delete, ALICE,
            "{\"object_ids\":[{\"collection\":\"atom\",\"key\":\"x\"},"
            "{\"collection\":\"atom\",\"key\":\"missing\"}]}",
            NULL, NULL, NULL);
    EXPECT_ERR(c,
               "Storage delete rejected - not found, version check failed, or permission denied.");
    call_clear(&c);
    /* wrong version */
    c = run(tomo_api_storage_delete, ALICE,
            "{\"object_ids\":[{\"collection\":\"atom\",\"key\":\"x\",\"version\":\"bad\"}]}", NULL,
            NULL, NULL);
    EXPECT_ERR(c,
               "Storage delete rejected - not found, version check failed, or permission denied.");
    call_clear(&c);
    /* bob cannot delete alice's object (deletes act on the caller's own) */
    c = run(tomo_api_storage_delete, BOB,
            "{\"object_ids\":[{\"collection\":\"atom\",\"key\":\"x\"}]}", NULL, NULL, NULL);
    EXPECT_ERR(c,
               "Storage delete rejected - not found, version check failed, or permission denied.");
    call_clear(&c);
    /* correct version deletes */
    c = run(tomo_api_storage_delete, ALICE,
            "{\"object_ids\":[{\"collection\":\"atom\",\"key\":\"x\","
            "\"version\":\"99914b932bd37a50b983c5e7c90ae93b\"}]}",
            NULL, NULL, NULL);
    TT_OK(c.rc);
    TT_EQ(json_object_size(c.out), 0);
    call_clear(&c);
}

static void test_validation(void)
{
    static const struct {
        const char *body;
        const char *msg;
    } cases[] = {
        {"{\"objects\":[{\"collection\":\"\",\"key\":\"k\",\"value\":\"{}\"}]}",
         "Invalid collection or key value supplied. They must be set."},
        {"{\"objects\":[{\"collection\":\"c\",\"key\":\"k\"}]}",
         "Invalid collection or key value supplied. They must be set."},
        {"{\"objects\":[{\"collection\":\"c\",\"key\":\"k\",\"value\":\"{}\",\"permission_read\":3}"
         "]}",
         "Invalid Read permission supplied. It must be either 0, 1 or 2."},
        {"{\"objects\":[{\"collection\":\"c\",\"key\":\"k\",\"value\":\"{}\",\"permission_read\":-"
         "1}]}",
         "Invalid Read permission supplied. It must be either 0, 1 or 2."},
        {"{\"objects\":[{\"collection\":\"c\",\"key\":\"k\",\"value\":\"{}\",\"permission_write\":"
         "2}]}",
         "Invalid Write permission supplied. It must be either 0 or 1."},
        {"{\"objects\":[{\"collection\":\"c\",\"key\":\"k\",\"value\":\"[1]\"}]}",
         "Value must be a JSON object."},
        {"{\"objects\":[{\"collection\":\"c\",\"key\":\"k\",\"value\":\"{bad\"}]}",
         "Value must be a JSON object."},
        {"{\"objects\":[{\"collection\":\"c\",\"key\":\"k\",\"value\":{}}]}",
         "Invalid value for field value: expected a string."},
        {"{\"objects\":{}}", "Invalid value for field objects: expected an array."},
        {"{\"objects\":[1]}", "Invalid value for field objects[0]: expected an object."},
    };
    for (size_t i = 0; i < TOMO_ARRAY_LEN(cases); i++) {
        call c = run(tomo_api_storage_write, ALICE, cases[i].body, NULL, NULL, NULL);
        EXPECT_ERR(c, cases[i].msg);
        call_clear(&c);
    }
    /* value and name size limits */
    size_t big = TOMO_STORAGE_MAX_VALUE_BYTES + 1;
    char *body = tomo_xmalloc(big + 128);
    int n = snprintf(body, 128, "{\"objects\":[{\"collection\":\"c\",\"key\":\"k\",\"value\":\"{");
    memset(body + n, ' ', big - 2);
    strcpy(body + n + big - 2, "}\"}]}");
    call c = run(tomo_api_storage_write, ALICE, body, NULL, NULL, NULL);
    EXPECT_ERR(c, "Value too large: 65537 bytes (the limit is 65536 bytes).");
    call_clear(&c);
    free(body);
    /* batch limit */
    char *many = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&many, &len);
    fputs("{\"objects\":[", f);
    for (int i = 0; i <= TOMO_STORAGE_MAX_BATCH; i++)
        fprintf(f, "%s{\"collection\":\"c\",\"key\":\"k%d\",\"value\":\"{}\"}", i ? "," : "", i);
    fputs("]}", f);
    fclose(f);
    c = run(tomo_api_storage_write, ALICE, many, NULL, NULL, NULL);
    EXPECT_ERR(c, "Too many storage objects in one request: 101 (the limit is 100).");
    call_clear(&c);
    free(many);
    /* read: bad user ids, the nil UUID spelled out */
    c = run(tomo_api_storage_read, ALICE,
            "{\"object_ids\":[{\"collection\":\"c\",\"key\":\"k\",\"user_id\":\"nope\"}]}", NULL,
            NULL, NULL);
    EXPECT_ERR(c, "Invalid user ID - make sure user ID is a valid UUID.");
    call_clear(&c);
    c = run(
        tomo_api_storage_read, ALICE,
        "{\"object_ids\":[{\"collection\":\"c\",\"key\":\"k\",\"user_id\":\"" TOMO_SYSTEM_USER_ID
        "\"}]}",
        NULL, NULL, NULL);
    EXPECT_ERR(c, "Invalid user ID - make sure user ID is a valid UUID.");
    call_clear(&c);
    c = run(tomo_api_storage_delete, ALICE, "{\"object_ids\":[{\"collection\":\"c\"}]}", NULL, NULL,
            NULL);
    EXPECT_ERR(c, "Invalid collection or key value supplied. They must be set.");
    call_clear(&c);
    /* empty requests succeed with an empty answer */
    c = run(tomo_api_storage_write, ALICE, NULL, NULL, NULL, NULL);
    TT_OK(c.rc);
    TT_EQ(json_object_size(c.out), 0);
    call_clear(&c);
    c = run(tomo_api_storage_read, ALICE, "{\"object_ids\":[]}", NULL, NULL, NULL);
    TT_OK(c.rc);
    call_clear(&c);
}

/* Page through a listing with limit `limit`; returns the keys seen
 * ("key@owner," per object) and the number of pages. */
static char *page_all(const char *user, const char *collection, const char *owner_param, int limit,
                      int *pages)
{
    char *seen = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&seen, &len);
    char *cursor = NULL;
    *pages = 0;
    for (;;) {
        json_t *q = json_pack("{s:[s]}", "limit", "");
        char lim[16];
        snprintf(lim, sizeof(lim), "%d", limit);
        json_array_set_new(json_object_get(q, "limit"), 0, json_string(lim));
        if (cursor)
            json_object_set_new(q, "cursor", json_pack("[s]", cursor));
        char *qs = json_dumps(q, 0);
        json_decref(q);
        call c = run(tomo_api_storage_list, user, NULL, collection, owner_param, qs);
        free(qs);
        free(cursor);
        cursor = NULL;
        if (c.rc < 0) {
            TT_FAIL("list failed: %s", c.msg);
            call_clear(&c);
            break;
        }
        (*pages)++;
        json_t *objs = json_object_get(c.out, "objects");
        for (size_t i = 0; i < json_array_size(objs); i++) {
            json_t *o = json_array_get(objs, i);
            fprintf(f, "%s@%c,", json_string_value(json_object_get(o, "key")),
                    json_string_value(json_object_get(o, "user_id"))[0]);
        }
        const char *next = json_string_value(json_object_get(c.out, "cursor"));
        if (next)
            cursor = tomo_xstrdup(next);
        call_clear(&c);
        if (!cursor || *pages > 100)
            break;
    }
    fclose(f);
    return seen;
}

static void write_obj(const char *user, const char *collection, const char *key, int read)
{
    char body[256];
    snprintf(body, sizeof(body),
             "{\"objects\":[{\"collection\":\"%s\",\"key\":\"%s\",\"value\":\"{}\","
             "\"permission_read\":%d}]}",
             collection, key, read);
    call c = run(tomo_api_storage_write, user, body, NULL, NULL, NULL);
    TT_OK(c.rc);
    call_clear(&c);
}

static void test_list(void)
{
    write_obj(ALICE, "lst", "a", 2);
    write_obj(BOB, "lst", "a", 2);
    write_obj(ALICE, "lst", "b", 1);
    write_obj(ALICE, "lst", "c", 0);
    write_obj(BOB, "lst", "d", 1);
    write_obj(BOB, "lst", "e", 2);
    write_obj(ALICE, "lst", "f", 2);
    write_obj(ALICE, "other", "a", 2);

    int pages;
    /* public listing of every owner: read 2 only, by key then owner */
    char *s = page_all(ALICE, "lst", NULL, 1, &pages);
    TT_STR_EQ(s, "a@1,a@2,e@2,f@1,");
    TT_EQ(pages, 4); /* no cursor on the last page */
    free(s);
    /* own listing: read 1 then 2, by key; read 0 hidden */
    s = page_all(ALICE, "lst", ALICE, 2, &pages);
    TT_STR_EQ(s, "b@1,a@1,f@1,");
    TT_EQ(pages, 2);
    free(s);
    /* another user's listing: public only */
    s = page_all(ALICE, "lst", BOB, 1, &pages);
    TT_STR_EQ(s, "a@2,e@2,");
    free(s);
    /* everything in one page: no cursor */
    s = page_all(BOB, "lst", NULL, 100, &pages);
    TT_STR_EQ(s, "a@1,a@2,e@2,f@1,");
    TT_EQ(pages, 1);
    free(s);

    /* keyset stability: a page boundary survives inserts and deletes before it */
    call c = run(tomo_api_storage_list, ALICE, NULL, "lst", NULL, "{\"limit\":[\"2\"]}");
    TT_OK(c.rc);
    char *cur = tomo_xstrdup(json_string_value(json_object_get(c.out, "cursor")));
    call_clear(&c);
    write_obj(BOB, "lst", "0", 2); /* sorts before the boundary */
    c = run(tomo_api_storage_delete, ALICE,
            "{\"object_ids\":[{\"collection\":\"lst\",\"key\":\"a\"}]}", NULL, NULL, NULL);
    TT_OK(c.rc);
    call_clear(&c);
    char q[512];
    snprintf(q, sizeof(q), "{\"limit\":[\"10\"],\"cursor\":[\"%s\"]}", cur);
    c = run(tomo_api_storage_list, ALICE, NULL, "lst", NULL, q);
    TT_OK(c.rc);
    TT_EQ(nobjects(&c), 2); /* e and f: nothing skipped, nothing repeated */
    call_clear(&c);
    /* the same cursor against another collection or owner is refused */
    c = run(tomo_api_storage_list, ALICE, NULL, "other", NULL, q);
    EXPECT_ERR(c, "Malformed cursor was used.");
    call_clear(&c);
    c = run(tomo_api_storage_list, ALICE, NULL, "lst", BOB, q);
    EXPECT_ERR(c, "Malformed cursor was used.");
    call_clear(&c);
    free(cur);

    /* errors */
    static const char *badq[] = {"{\"limit\":[\"0\"]}", "{\"limit\":[\"101\"]}",
                                 "{\"limit\":[\"x\"]}"};
    for (size_t i = 0; i < TOMO_ARRAY_LEN(badq); i++) {
        c = run(tomo_api_storage_list, ALICE, NULL, "lst", NULL, badq[i]);
        EXPECT_ERR(c, "Invalid limit - limit must be between 1 and 100.");
        call_clear(&c);
    }
    c = run(tomo_api_storage_list, ALICE, NULL, "lst", NULL, "{\"cursor\":[\"garbage!\"]}");
    EXPECT_ERR(c, "Malformed cursor was used.");
    call_clear(&c);
    c = run(tomo_api_storage_list, ALICE, NULL, "lst", NULL, "{\"user_id\":[\"nope\"]}");
    EXPECT_ERR(c, "Invalid user ID - make sure user ID is a valid UUID.");
    call_clear(&c);
    /* default limit is 1 */
    c = run(tomo_api_storage_list, ALICE, NULL, "lst", NULL, NULL);
    TT_OK(c.rc);
    TT_EQ(nobjects(&c), 1);
    TT_TRUE(json_object_get(c.out, "cursor") != NULL);
    call_clear(&c);
    /* user_id from the query string selects the owner listing too */
    c = run(tomo_api_storage_list, ALICE, NULL, "lst", NULL,
            "{\"user_id\":[\"" ALICE "\"],\"limit\":[\"100\"]}");
    TT_OK(c.rc);
    TT_EQ(nobjects(&c), 2); /* a was deleted: b, f */
    call_clear(&c);
}

static void handler_suite(testdb *t)
{
    srv.db = t->db;
    srv.cfg = &t->cfg;
    srv.svc.db = t->db;
    srv.svc.cfg = &t->cfg;
    /* owners must have accounts */
    tomo_dbconn *db = NULL;
    TT_OK(tomo_db_acquire(t->db, &db));
    TT_OK(tomo_db_exec(db,
                       "INSERT INTO users (id, username, create_time, update_time) VALUES "
                       "('" ALICE "', 'alice', 1, 1), ('" BOB "', 'bob', 1, 1)",
                       NULL, 0, NULL));
    tomo_db_release(db);
    TT_RUN(test_write_read);
    TT_RUN(test_occ);
    TT_RUN(test_batch_atomic);
    TT_RUN(test_validation);
    TT_RUN(test_list);
}

int main(void)
{
    TT_RUN(test_cursor_roundtrip);
    TT_RUN(test_cursor_malformed);
    TT_RUN(test_value_is_object);
    TT_RUN(test_version);
    /* The handler suite on SQLite, then on PostgreSQL when scripts/test.sh
     * exports TOMO_TEST_PG_ADMIN (its Postgres stage). */
    testdb_each("storage", handler_suite);
    return tt_finish();
}
