/* tests/codec/test_codec.c: table tests for codec/codec.h (JSON <-> protobuf).
 * Wire bytes in the tables were computed independently of protobuf-c from the
 * protobuf encoding rules (tag = field << 3 | wire type, varints, LEN). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "core/common.h"
#include "tomo_realtime.pb-c.h"

static int failures;

#define FAILF(line, ...)                                                                           \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, (line));                                              \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        failures++;                                                                                \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            FAILF(__LINE__, "check failed: %s", #cond);                                            \
    } while (0)

static json_t *load(int line, const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!j)
        FAILF(line, "bad JSON in test table: %s: %s", e.text, text);
    return j;
}

static char *dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* Compare two trees; on mismatch print both. */
static void json_eq(int line, const char *what, const json_t *got, const json_t *want)
{
    if (!json_equal(got, want)) {
        char *g = dump(got), *w = dump(want);
        FAILF(line, "%s mismatch\n  got:  %s\n  want: %s", what, g ? g : "(null)",
              w ? w : "(null)");
        free(g);
        free(w);
    }
}

static char *to_hex(const uint8_t *p, size_t n)
{
    char *s = malloc(n * 2 + 1);
    for (size_t i = 0; i < n; i++)
        sprintf(s + i * 2, "%02x", p[i]);
    s[n * 2] = '\0';
    return s;
}

static size_t from_hex(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned b;
        sscanf(hex + i * 2, "%2x", &b);
        out[i] = (uint8_t)b;
    }
    return n;
}

/* ---- 1. JSON round trips ------------------------------------------------------
 * For each row: normalize(in) == canon; json_to_pb(in) == hex (when given);
 * pb_to_json(bytes) == canon; json_to_pb(canon) gives the same bytes. */

typedef struct {
    int line;
    const char *desc; /* full name; NULL means the envelope */
    const char *in;
    const char *canon;
    const char *hex; /* expected wire bytes, or NULL */
} rt_case;

static const rt_case rt_cases[] = {
    /* match_data_send: op_code as a string, bytes data */
    {__LINE__, NULL,
     "{\"cid\":\"5\",\"match_data_send\":{\"match_id\":\"m1\",\"op_code\":\"7\","
     "\"data\":\"AAEC\",\"reliable\":true}}",
     "{\"cid\":\"5\",\"match_data_send\":{\"match_id\":\"m1\",\"op_code\":\"7\","
     "\"data\":\"AAEC\",\"reliable\":true}}",
     "0a01357a0d0a026d3110071a030001022801"},
    /* camelCase names and int64 as a JSON number give the same frame */
    {__LINE__, NULL,
     "{\"matchDataSend\":{\"matchId\":\"m1\",\"opCode\":7,\"data\":\"AAEC\",\"reliable\":true},"
     "\"cid\":\"5\"}",
     "{\"cid\":\"5\",\"match_data_send\":{\"match_id\":\"m1\",\"op_code\":\"7\","
     "\"data\":\"AAEC\",\"reliable\":true}}",
     "0a01357a0d0a026d3110071a030001022801"},
    /* negative int64 is a 10-byte varint; op_code renders as a string */
    {__LINE__, NULL, "{\"match_data_send\":{\"op_code\":-5}}",
     "{\"match_data_send\":{\"op_code\":\"-5\"}}", "7a0b10fbffffffffffffffff01"},
    /* int64 beyond 2^53 as a number stays exact */
    {__LINE__, NULL, "{\"match_data_send\":{\"op_code\":9007199254740993}}",
     "{\"match_data_send\":{\"op_code\":\"9007199254740993\"}}", NULL},
    {__LINE__, NULL, "{\"match_data_send\":{\"op_code\":\"-9223372036854775808\"}}",
     "{\"match_data_send\":{\"op_code\":\"-9223372036854775808\"}}", NULL},
    /* zero values of plain fields are dropped; the set message stays */
    {__LINE__, NULL,
     "{\"match_data_send\":{\"match_id\":\"\",\"op_code\":0,\"data\":\"\",\"reliable\":false,"
     "\"presences\":[]}}",
     "{\"match_data_send\":{}}", "7a00"},
    /* bytes: URL-safe alphabet and missing padding are accepted */
    {__LINE__, NULL, "{\"match_data_send\":{\"data\":\"-_8\"}}",
     "{\"match_data_send\":{\"data\":\"+/8=\"}}", "7a041a02fbff"},
    {__LINE__, NULL, "{\"match_data_send\":{\"data\":\"AA\"}}",
     "{\"match_data_send\":{\"data\":\"AA==\"}}", "7a031a0100"},
    /* channel_join: explicit BoolValue false is kept (wrapper present) */
    {__LINE__, NULL,
     "{\"cid\":\"1\",\"channel_join\":{\"target\":\"room\",\"type\":1,\"persistence\":false,"
     "\"hidden\":false}}",
     "{\"cid\":\"1\",\"channel_join\":{\"target\":\"room\",\"type\":1,\"persistence\":false,"
     "\"hidden\":false}}",
     "0a01311a0c0a04726f6f6d10011a002200"},
    /* null means unset */
    {__LINE__, NULL, "{\"cid\":null,\"channel_join\":{\"target\":\"r\",\"persistence\":null}}",
     "{\"channel_join\":{\"target\":\"r\"}}", NULL},
    /* status_update: StringValue present, present-but-empty, absent */
    {__LINE__, NULL, "{\"status_update\":{\"status\":\"away\"}}",
     "{\"status_update\":{\"status\":\"away\"}}", "ea01080a060a0461776179"},
    {__LINE__, NULL, "{\"status_update\":{\"status\":\"\"}}",
     "{\"status_update\":{\"status\":\"\"}}", "ea01020a00"},
    {__LINE__, NULL, "{\"status_update\":{}}", "{\"status_update\":{}}", "ea0100"},
    /* party, 3.15 numbering (nakama-js-protobuf 1.4.0): max_size = 3, self = 4 */
    {__LINE__, NULL, "{\"party\":{\"party_id\":\"p.n\",\"open\":true,\"max_size\":4}}",
     "{\"party\":{\"party_id\":\"p.n\",\"open\":true,\"max_size\":4}}",
     "9202090a03702e6e10011804"},
    {__LINE__, NULL,
     "{\"partyUpdate\":{\"partyId\":\"p\",\"label\":\"x\",\"open\":true,\"hidden\":true}}",
     "{\"party_update\":{\"party_id\":\"p\",\"label\":\"x\",\"open\":true,\"hidden\":true}}",
     "9a030a0a017012017818012001"},
    /* notifications push: negative int32 code, timestamp, bool */
    {__LINE__, NULL,
     "{\"notifications\":{\"notifications\":[{\"id\":\"n1\",\"subject\":\"s\","
     "\"content\":\"{}\",\"code\":-1,\"create_time\":\"2024-01-02T03:04:05Z\","
     "\"persistent\":true}]}}",
     "{\"notifications\":{\"notifications\":[{\"id\":\"n1\",\"subject\":\"s\","
     "\"content\":\"{}\",\"code\":-1,\"create_time\":\"2024-01-02T03:04:05Z\","
     "\"persistent\":true}]}}",
     "ba01220a200a026e311201731a027b7d20ffffffffffffffffff01320608a5facdac063801"},
    /* timestamps: offsets are folded into UTC, fractions keep 3/6/9 digits */
    {__LINE__, NULL,
     "{\"channel_message\":{\"createTime\":\"2024-01-02T03:04:05.5+01:00\","
     "\"update_time\":\"1970-01-01T00:00:00Z\",\"code\":0,\"persistent\":true}}",
     "{\"channel_message\":{\"code\":0,\"create_time\":\"2024-01-02T02:04:05.500Z\","
     "\"update_time\":\"1970-01-01T00:00:00Z\",\"persistent\":true}}",
     NULL},
    /* oneof with cid: match_join by token, plus a map */
    {__LINE__, NULL,
     "{\"cid\":\"3\",\"match_join\":{\"token\":\"tok\",\"metadata\":{\"k\":\"v\"}}}",
     "{\"cid\":\"3\",\"match_join\":{\"token\":\"tok\",\"metadata\":{\"k\":\"v\"}}}",
     "0a013382010d1203746f6b1a060a016b120176"},
    /* a set oneof member is kept even when empty */
    {__LINE__, NULL, "{\"match_join\":{\"match_id\":\"\"}}", "{\"match_join\":{\"match_id\":\"\"}}",
     "8201020a00"},
    /* ping: empty message */
    {__LINE__, NULL, "{\"cid\":\"9\",\"ping\":{}}", "{\"cid\":\"9\",\"ping\":{}}",
     "0a01398202"
     "00"},
    /* empty envelope: nothing set */
    {__LINE__, NULL, "{}", "{}", ""},
    /* matchmaker: maps of strings and doubles, Int32Value, NaN */
    {__LINE__, NULL,
     "{\"matchmaker_add\":{\"min_count\":2,\"max_count\":\"4\",\"query\":\"*\","
     "\"string_properties\":{\"region\":\"eu\"},\"numeric_properties\":{\"skill\":1.5,"
     "\"n\":\"NaN\",\"i\":\"-Infinity\"},\"count_multiple\":0}}",
     "{\"matchmaker_add\":{\"min_count\":2,\"max_count\":4,\"query\":\"*\","
     "\"string_properties\":{\"region\":\"eu\"},\"numeric_properties\":{\"skill\":1.5,"
     "\"n\":\"NaN\",\"i\":\"-Infinity\"},\"count_multiple\":0}}",
     NULL},
    /* error reply with a context map */
    {__LINE__, NULL,
     "{\"cid\":\"2\",\"error\":{\"code\":3,\"message\":\"bad\",\"context\":{\"a\":\"b\"}}}",
     "{\"cid\":\"2\",\"error\":{\"code\":3,\"message\":\"bad\",\"context\":{\"a\":\"b\"}}}", NULL},
    /* nested presences, StringValue status on a presence, streams */
    {__LINE__, NULL,
     "{\"status_presence_event\":{\"joins\":[{\"user_id\":\"u\",\"session_id\":\"s\","
     "\"username\":\"n\",\"persistence\":true,\"status\":\"\"}],\"leaves\":[{}]}}",
     "{\"status_presence_event\":{\"joins\":[{\"user_id\":\"u\",\"session_id\":\"s\","
     "\"username\":\"n\",\"persistence\":true,\"status\":\"\"}],\"leaves\":[{}]}}",
     NULL},
    {__LINE__, NULL,
     "{\"stream_data\":{\"stream\":{\"mode\":2,\"subject\":\"x\"},\"sender\":{\"user_id\":\"u\"},"
     "\"data\":\"d\",\"reliable\":true}}",
     "{\"stream_data\":{\"stream\":{\"mode\":2,\"subject\":\"x\"},\"sender\":{\"user_id\":\"u\"},"
     "\"data\":\"d\",\"reliable\":true}}",
     NULL},
    {__LINE__, NULL, "{\"status_follow\":{\"userIds\":[\"a\",\"b\"],\"usernames\":[\"\"]}}",
     "{\"status_follow\":{\"user_ids\":[\"a\",\"b\"],\"usernames\":[\"\"]}}", NULL},
    {__LINE__, NULL, "{\"rpc\":{\"id\":\"echo\",\"payload\":\"{}\",\"httpKey\":\"k\"}}",
     "{\"rpc\":{\"id\":\"echo\",\"payload\":\"{}\",\"http_key\":\"k\"}}", NULL},
    /* non-envelope descriptors: bare wrappers at the top level */
    {__LINE__, "google.protobuf.UInt64Value", "\"18446744073709551615\"",
     "\"18446744073709551615\"", "08ffffffffffffffffff01"},
    {__LINE__, "google.protobuf.Int64Value", "-2", "\"-2\"", "08feffffffffffffffff01"},
    {__LINE__, "google.protobuf.BoolValue", "false", "false", ""},
    {__LINE__, "google.protobuf.Timestamp", "\"0001-01-01T00:00:00Z\"", "\"0001-01-01T00:00:00Z\"",
     "088092b8c398feffffff01"},
    {__LINE__, "google.protobuf.Timestamp", "\"9999-12-31T23:59:59.000000001Z\"",
     "\"9999-12-31T23:59:59.000000001Z\"", NULL},
    {__LINE__, "nakama.realtime.MatchDataSend", "{\"op_code\":\"1\"}", "{\"op_code\":\"1\"}",
     "1001"},
};

static const ProtobufCMessageDescriptor *desc_of(int line, const char *name)
{
    const ProtobufCMessageDescriptor *d;
    if (!name)
        return tomo_codec_envelope_desc();
    d = tomo_codec_desc_by_name(name);
    if (!d)
        FAILF(line, "no descriptor %s", name);
    return d;
}

static void run_roundtrips(void)
{
    for (size_t i = 0; i < TOMO_ARRAY_LEN(rt_cases); i++) {
        const rt_case *t = &rt_cases[i];
        const ProtobufCMessageDescriptor *d = desc_of(t->line, t->desc);
        json_t *in = load(t->line, t->in), *canon = load(t->line, t->canon);
        json_t *norm = NULL, *back = NULL;
        uint8_t *pb = NULL, *pb2 = NULL;
        size_t n = 0, n2 = 0;
        char err[256];
        int rc;

        if (!d || !in || !canon)
            goto next;
        rc = tomo_codec_json_normalize(d, in, &norm, err, sizeof(err));
        if (rc != 0) {
            FAILF(t->line, "normalize failed: rc=%d err=%s", rc, err);
            goto next;
        }
        json_eq(t->line, "normalize", norm, canon);

        rc = tomo_codec_json_to_pb(d, in, &pb, &n, err, sizeof(err));
        if (rc != 0) {
            FAILF(t->line, "json_to_pb failed: rc=%d err=%s", rc, err);
            goto next;
        }
        if (t->hex) {
            char *h = to_hex(pb, n);
            if (strcmp(h, t->hex) != 0)
                FAILF(t->line, "wire mismatch\n  got:  %s\n  want: %s", h, t->hex);
            free(h);
        }
        rc = tomo_codec_pb_to_json(d, pb, n, &back);
        if (rc != 0) {
            FAILF(t->line, "pb_to_json failed: rc=%d", rc);
            goto next;
        }
        json_eq(t->line, "pb_to_json", back, canon);

        rc = tomo_codec_json_to_pb(d, canon, &pb2, &n2, err, sizeof(err));
        if (rc != 0)
            FAILF(t->line, "json_to_pb(canonical) failed: rc=%d err=%s", rc, err);
        else if (n2 != n || memcmp(pb, pb2, n) != 0)
            FAILF(t->line, "canonical form encodes differently (%zu vs %zu bytes)", n2, n);
    next:
        json_decref(in);
        json_decref(canon);
        json_decref(norm);
        json_decref(back);
        free(pb);
        free(pb2);
    }
}

/* ---- 2. Rejected JSON ------------------------------------------------------------- */

typedef struct {
    int line;
    const char *desc;
    const char *in;
    const char *err_has; /* substring expected in the error text */
} bad_case;

static const bad_case bad_cases[] = {
    {__LINE__, NULL, "{\"cid\":\"1\",\"foo\":1}",
     "unknown field \"foo\" in nakama.realtime.Envelope"},
    {__LINE__, NULL, "{\"match_data_send\":{\"bogus\":1}}",
     "unknown field \"bogus\" in nakama.realtime.MatchDataSend (at match_data_send)"},
    {__LINE__, NULL, "{\"channel\":{\"user_idOne\":\"a\"}}", "unknown field \"user_idOne\""},
    {__LINE__, NULL, "{\"Cid\":\"1\"}", "unknown field \"Cid\""},
    {__LINE__, NULL, "{\"cid\":1}", "field \"cid\": expected a string, got a number"},
    {__LINE__, NULL, "{\"ping\":[]}", "expected an object"},
    {__LINE__, NULL, "{\"ping\":{\"x\":1}}", "unknown field \"x\" in nakama.realtime.Ping"},
    {__LINE__, NULL, "[]", "expected an object"},
    {__LINE__, NULL, "{\"ping\":{},\"pong\":{}}", "oneof"},
    {__LINE__, NULL, "{\"match_join\":{\"match_id\":\"a\",\"token\":\"b\"}}", "oneof"},
    {__LINE__, NULL, "{\"channel_join\":{\"target\":\"a\"},\"channelJoin\":{}}", "duplicate field"},
    {__LINE__, NULL, "{\"match_data_send\":{\"op_code\":\"x\"}}", "op_code"},
    {__LINE__, NULL, "{\"match_data_send\":{\"op_code\":1.5}}", "int64"},
    {__LINE__, NULL, "{\"match_data_send\":{\"op_code\":\" 1\"}}", "int64"},
    {__LINE__, NULL, "{\"match_data_send\":{\"op_code\":\"9223372036854775808\"}}", "int64"},
    {__LINE__, NULL, "{\"match_data_send\":{\"data\":\"!!!!\"}}", "invalid base64"},
    {__LINE__, NULL, "{\"match_data_send\":{\"data\":\"A\"}}", "invalid base64"},
    {__LINE__, NULL, "{\"match_data_send\":{\"data\":\"AA=\"}}", "invalid base64"},
    {__LINE__, NULL, "{\"match_data_send\":{\"reliable\":\"true\"}}", "expected a boolean"},
    {__LINE__, NULL, "{\"match_data_send\":{\"presences\":{}}}", "expected an array"},
    {__LINE__, NULL, "{\"match_data_send\":{\"presences\":[null]}}", "null inside a list"},
    {__LINE__, NULL, "{\"channel_join\":{\"persistence\":\"false\"}}",
     "expected a boolean, got a string (at channel_join.persistence)"},
    {__LINE__, NULL, "{\"channel_join\":{\"type\":2147483648}}", "int32"},
    {__LINE__, NULL, "{\"notifications\":{\"notifications\":[{\"create_time\":\"2024-01-02\"}]}}",
     "RFC 3339"},
    {__LINE__, NULL,
     "{\"notifications\":{\"notifications\":[{\"create_time\":\"2023-02-29T00:00:00Z\"}]}}",
     "RFC 3339"},
    {__LINE__, NULL, "{\"matchmaker_add\":{\"string_properties\":{\"a\":1}}}", "expected a string"},
    {__LINE__, NULL, "{\"matchmaker_add\":{\"numeric_properties\":{\"a\":null}}}", "null value"},
    {__LINE__, NULL, "{\"matchmaker_add\":{\"numeric_properties\":{\"a\":\"1e999\"}}}",
     "expected a double"},
    {__LINE__, NULL, "{\"cid\":\"a\\u0000b\"}", "NUL"},
    {__LINE__, "google.protobuf.UInt64Value", "-1", "uint64"},
    {__LINE__, "google.protobuf.UInt64Value", "\"18446744073709551616\"", "uint64"},
};

static void run_bad(void)
{
    for (size_t i = 0; i < TOMO_ARRAY_LEN(bad_cases); i++) {
        const bad_case *t = &bad_cases[i];
        const ProtobufCMessageDescriptor *d = desc_of(t->line, t->desc);
        json_t *in = load(t->line, t->in), *out = NULL;
        uint8_t *pb = NULL;
        size_t n = 0;
        char err[256] = "", err2[256] = "";
        int rc, rc2;

        if (!d || !in)
            goto next;
        rc = tomo_codec_json_normalize(d, in, &out, err, sizeof(err));
        if (rc != TOMO_EINVAL) {
            FAILF(t->line, "normalize: want TOMO_EINVAL, got rc=%d for %s", rc, t->in);
            goto next;
        }
        if (!strstr(err, t->err_has))
            FAILF(t->line, "error text\n  got:  %s\n  want substring: %s", err, t->err_has);
        rc2 = tomo_codec_json_to_pb(d, in, &pb, &n, err2, sizeof(err2));
        if (rc2 != TOMO_EINVAL || strcmp(err, err2) != 0)
            FAILF(t->line, "json_to_pb disagrees: rc=%d err=%s", rc2, err2);
    next:
        json_decref(in);
        json_decref(out);
        free(pb);
    }
}

/* ---- 3. Protobuf input ---------------------------------------------------------- */

typedef struct {
    int line;
    const char *hex;
    const char *json; /* expected rendering, or NULL when decoding must fail */
} pb_case;

static const pb_case pb_cases[] = {
    {__LINE__, "", "{}"},
    /* unknown field 99 (varint) is skipped, as Go's unmarshal keeps it silently */
    {__LINE__, "0a0131980601", "{\"cid\":\"1\"}"},
    /* a later oneof member replaces an earlier one */
    {__LINE__,
     "820200"
     "8a0200",
     "{\"pong\":{}}"},
    /* scalar fields of the wrong wire type / truncated input are malformed */
    {__LINE__, "0a05313233", NULL},
    {__LINE__, "0a", NULL},
    /* a string that is not UTF-8 cannot become JSON */
    {__LINE__, "0a01ff", NULL},
    /* timestamp seconds past year 9999 */
    {__LINE__, "ba010e0a0c320a08ffffffffffffffff7f", NULL},
};

static void run_pb(void)
{
    for (size_t i = 0; i < TOMO_ARRAY_LEN(pb_cases); i++) {
        const pb_case *t = &pb_cases[i];
        uint8_t buf[256];
        size_t n = from_hex(t->hex, buf);
        json_t *out = NULL;
        int rc = tomo_codec_pb_to_json(tomo_codec_envelope_desc(), buf, n, &out);

        if (!t->json) {
            if (rc != TOMO_EINVAL)
                FAILF(t->line, "want TOMO_EINVAL for %s, got rc=%d", t->hex, rc);
        } else if (rc != 0) {
            FAILF(t->line, "pb_to_json failed: rc=%d for %s", rc, t->hex);
        } else {
            json_t *want = load(t->line, t->json);
            json_eq(t->line, "pb_to_json", out, want);
            json_decref(want);
        }
        json_decref(out);
    }
}

/* ---- 4. Nesting limit --------------------------------------------------------------
 * The realtime schema is not recursive, so a hand-built self-referencing
 * descriptor ("t.Node { Node child = 1; }") drives the depth guard. */

typedef struct Node Node;
struct Node {
    ProtobufCMessage base;
    Node *child;
};

static const ProtobufCMessageDescriptor node_desc;

static const ProtobufCFieldDescriptor node_fields[1] = {
    {"child", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, 0, offsetof(Node, child),
     &node_desc, NULL, 0, 0, NULL, NULL},
};
static const unsigned node_by_name[1] = {0};
static const ProtobufCIntRange node_ranges[2] = {{1, 0}, {0, 1}};

static void node_init(ProtobufCMessage *m)
{
    memset(m, 0, sizeof(Node));
    m->descriptor = &node_desc;
}

static const ProtobufCMessageDescriptor node_desc = {PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
                                                     "t.Node",
                                                     "Node",
                                                     "Node",
                                                     "t",
                                                     sizeof(Node),
                                                     1,
                                                     node_fields,
                                                     node_by_name,
                                                     1,
                                                     node_ranges,
                                                     node_init,
                                                     NULL,
                                                     NULL,
                                                     NULL};

static json_t *nested(int levels)
{
    json_t *j = json_object();
    for (int i = 0; i < levels; i++) {
        json_t *p = json_object();
        json_object_set_new(p, "child", j);
        j = p;
    }
    return j;
}

static void run_depth(void)
{
    char err[256];
    json_t *ok = nested(TOMO_CODEC_MAX_DEPTH), *deep = nested(TOMO_CODEC_MAX_DEPTH + 1);
    json_t *out = NULL;
    uint8_t *pb = NULL, *pb2 = NULL;
    size_t n = 0, n2 = 0;

    CHECK(tomo_codec_json_normalize(&node_desc, ok, &out, err, sizeof(err)) == 0);
    if (out)
        json_eq(__LINE__, "nested normalize", out, ok);
    json_decref(out);
    out = NULL;
    CHECK(tomo_codec_json_to_pb(&node_desc, ok, &pb, &n, err, sizeof(err)) == 0);
    CHECK(tomo_codec_pb_to_json(&node_desc, pb, n, &out) == 0);
    json_decref(out);
    out = NULL;

    CHECK(tomo_codec_json_normalize(&node_desc, deep, &out, err, sizeof(err)) == TOMO_EINVAL);
    CHECK(strstr(err, "nested deeper") != NULL);
    /* the same depth arriving as protobuf is refused while rendering */
    {
        /* wrap the accepted encoding once more: 0a <len> <inner> */
        pb2 = malloc(n + 4);
        pb2[0] = 0x0a;
        if (n < 128) {
            pb2[1] = (uint8_t)n;
            memcpy(pb2 + 2, pb, n);
            n2 = n + 2;
        } else {
            pb2[1] = (uint8_t)(0x80 | (n & 0x7f));
            pb2[2] = (uint8_t)(n >> 7);
            memcpy(pb2 + 3, pb, n);
            n2 = n + 3;
        }
        CHECK(tomo_codec_pb_to_json(&node_desc, pb2, n2, &out) == TOMO_EINVAL);
    }
    json_decref(ok);
    json_decref(deep);
    free(pb);
    free(pb2);
}

/* ---- 5. Odds and ends ------------------------------------------------------------- */

static void run_misc(void)
{
    const ProtobufCMessageDescriptor *env = tomo_codec_envelope_desc();
    char err[256];

    /* the empty envelope decodes to "nothing set": the caller says Missing message */
    {
        Nakama__Realtime__Envelope *e;
        uint8_t *pb = NULL;
        size_t n = 1;
        json_t *in = load(__LINE__, "{}");
        CHECK(tomo_codec_json_to_pb(env, in, &pb, &n, err, sizeof(err)) == 0);
        CHECK(pb != NULL && n == 0);
        e = nakama__realtime__envelope__unpack(NULL, n, pb);
        CHECK(e != NULL);
        if (e) {
            CHECK(e->message_case == NAKAMA__REALTIME__ENVELOPE__MESSAGE__NOT_SET);
            CHECK(e->cid != NULL && e->cid[0] == '\0');
            nakama__realtime__envelope__free_unpacked(e, NULL);
        }
        free(pb);
        json_decref(in);
    }

    /* descriptor index */
    CHECK(tomo_codec_desc_by_name("nakama.realtime.Envelope") == env);
    CHECK(tomo_codec_desc_by_name("nakama.realtime.MatchJoin.MetadataEntry") != NULL);
    CHECK(tomo_codec_desc_by_name("nakama.realtime.MatchmakerMatched.MatchmakerUser") != NULL);
    CHECK(tomo_codec_desc_by_name("nakama.api.Notification") != NULL);
    CHECK(tomo_codec_desc_by_name("google.protobuf.DoubleValue") != NULL);
    CHECK(tomo_codec_desc_by_name("nakama.realtime.Nope") == NULL);
    CHECK(tomo_codec_desc_by_name("") == NULL);
    CHECK(tomo_codec_desc_by_name(NULL) == NULL);

    /* REST mode: unknown fields are skipped when asked */
    {
        json_t *in = load(__LINE__, "{\"cid\":\"1\",\"extra\":{\"x\":[1]}}"), *out = NULL;
        json_t *want = load(__LINE__, "{\"cid\":\"1\"}");
        CHECK(tomo_codec_json_normalize_ex(env, in, TOMO_CODEC_IGNORE_UNKNOWN, &out, err,
                                           sizeof(err)) == 0);
        if (out)
            json_eq(__LINE__, "ignore unknown", out, want);
        json_decref(in);
        json_decref(out);
        json_decref(want);
    }

    /* err may be NULL; a tiny err buffer is truncated, never overrun */
    {
        json_t *in = load(__LINE__, "{\"match_data_send\":{\"bogus\":1}}"), *out = NULL;
        char tiny[8];
        CHECK(tomo_codec_json_normalize(env, in, &out, NULL, 0) == TOMO_EINVAL);
        CHECK(tomo_codec_json_normalize(env, in, &out, tiny, sizeof(tiny)) == TOMO_EINVAL);
        CHECK(strlen(tiny) == sizeof(tiny) - 1);
        CHECK(out == NULL);
        json_decref(in);
    }

    /* a large bytes payload (beyond the arena's inline block) round-trips */
    {
        enum { N = 20000 };
        uint8_t *raw = malloc(N);
        json_t *in, *back = NULL, *norm = NULL;
        uint8_t *pb = NULL;
        size_t n = 0;
        Nakama__Realtime__Envelope *e;

        for (size_t i = 0; i < N; i++)
            raw[i] = (uint8_t)(i * 7 + 3);
        {
            Nakama__Realtime__MatchDataSend mds = NAKAMA__REALTIME__MATCH_DATA_SEND__INIT;
            Nakama__Realtime__Envelope env0 = NAKAMA__REALTIME__ENVELOPE__INIT;
            uint8_t *wire;
            size_t wn;
            mds.data.data = raw;
            mds.data.len = N;
            mds.op_code = 42;
            env0.message_case = NAKAMA__REALTIME__ENVELOPE__MESSAGE_MATCH_DATA_SEND;
            env0.match_data_send = &mds;
            wn = nakama__realtime__envelope__get_packed_size(&env0);
            wire = malloc(wn);
            nakama__realtime__envelope__pack(&env0, wire);
            CHECK(tomo_codec_pb_to_json(env, wire, wn, &back) == 0);
            free(wire);
        }
        in = back;
        CHECK(in != NULL);
        if (in) {
            CHECK(tomo_codec_json_normalize(env, in, &norm, err, sizeof(err)) == 0);
            if (norm)
                json_eq(__LINE__, "large normalize", norm, in);
            CHECK(tomo_codec_json_to_pb(env, in, &pb, &n, err, sizeof(err)) == 0);
            e = nakama__realtime__envelope__unpack(NULL, n, pb);
            CHECK(e && e->message_case == NAKAMA__REALTIME__ENVELOPE__MESSAGE_MATCH_DATA_SEND);
            if (e && e->match_data_send) {
                CHECK(e->match_data_send->op_code == 42);
                CHECK(e->match_data_send->data.len == N);
                CHECK(memcmp(e->match_data_send->data.data, raw, N) == 0);
            }
            if (e)
                nakama__realtime__envelope__free_unpacked(e, NULL);
        }
        json_decref(in);
        json_decref(norm);
        free(pb);
        free(raw);
    }
}

int main(void)
{
    run_roundtrips();
    run_bad();
    run_pb();
    run_depth();
    run_misc();
    if (failures) {
        fprintf(stderr, "test_codec: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_codec: ok (%zu round trips, %zu rejects, %zu wire inputs)\n",
           TOMO_ARRAY_LEN(rt_cases), TOMO_ARRAY_LEN(bad_cases), TOMO_ARRAY_LEN(pb_cases));
    return 0;
}
