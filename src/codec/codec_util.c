/* codec/codec_util.c: arena, descriptor helpers, base64 and RFC 3339 for the codec. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"
#include "core/codec_util.h"

/* ---- Arena ------------------------------------------------------------------ */

struct codec_arena_chunk {
    codec_arena_chunk *next;
    size_t size;
    _Alignas(16) char data[];
};

#define ARENA_ALIGN 16
#define ARENA_CHUNK 8192

void tomo_codec_arena_init(codec_arena *a)
{
    a->cur = a->first;
    a->end = a->first + sizeof(a->first);
    a->chunks = NULL;
}

void tomo_codec_arena_free(codec_arena *a)
{
    codec_arena_chunk *c = a->chunks;
    while (c) {
        codec_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->chunks = NULL;
    a->cur = a->end = NULL;
}

static codec_arena_chunk *chunk_new(size_t size)
{
    codec_arena_chunk *c = malloc(sizeof(*c) + size);
    if (!c)
        abort(); /* out of memory aborts, as everywhere in tomo */
    c->size = size;
    return c;
}

void *tomo_codec_arena_alloc(codec_arena *a, size_t n)
{
    char *p;

    n = (n + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
    if (n == 0)
        n = ARENA_ALIGN;
    if ((size_t)(a->end - a->cur) >= n) {
        p = a->cur;
        a->cur += n;
        return p;
    }
    if (n > ARENA_CHUNK / 2) {
        /* A big block gets a chunk of its own; the current block keeps
         * serving small requests. */
        codec_arena_chunk *c = chunk_new(n);
        c->next = a->chunks;
        a->chunks = c;
        return c->data;
    }
    codec_arena_chunk *c = chunk_new(ARENA_CHUNK);
    c->next = a->chunks;
    a->chunks = c;
    a->cur = c->data + n;
    a->end = c->data + ARENA_CHUNK;
    return c->data;
}

static void *pb_alloc(void *data, size_t size)
{
    return tomo_codec_arena_alloc(data, size);
}

static void pb_free(void *data, void *p)
{
    (void)data; /* released with the arena */
    (void)p;
}

void tomo_codec_arena_pb_allocator(codec_arena *a, ProtobufCAllocator *out)
{
    out->alloc = pb_alloc;
    out->free = pb_free;
    out->allocator_data = a;
}

/* ---- Errors ----------------------------------------------------------------- */

void tomo_codec_ctx_init(codec_ctx *c, codec_arena *a, unsigned flags, char *err, size_t errlen)
{
    c->a = a;
    c->flags = flags;
    c->err = err;
    c->errlen = errlen;
    c->failed = 0;
    c->npath = 0;
    if (err && errlen > 0)
        err[0] = '\0';
}

int tomo_codec_fail(codec_ctx *c, const char *fmt, ...)
{
    if (!c->failed && c->err && c->errlen > 0) {
        va_list ap;
        int n;
        size_t used;

        va_start(ap, fmt);
        n = vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
        int depth =
            c->npath < (int)TOMO_ARRAY_LEN(c->path) ? c->npath : (int)TOMO_ARRAY_LEN(c->path);

        used = n < 0 ? 0 : (size_t)n;
        for (int i = 0; i < depth && used + 1 < c->errlen; i++) {
            n = snprintf(c->err + used, c->errlen - used, "%s%s", i == 0 ? " (at " : ".",
                         c->path[i]);
            used += n < 0 ? 0 : (size_t)n;
        }
        if (c->npath > 0 && used + 1 < c->errlen)
            snprintf(c->err + used, c->errlen - used, ")");
    }
    c->failed = 1;
    return TOMO_EINVAL;
}

/* ---- Descriptors ------------------------------------------------------------ */

wkt_kind tomo_codec_wkt_kind(const ProtobufCMessageDescriptor *d)
{
    static const char *const wrappers[] = {
        "DoubleValue", "FloatValue", "Int64Value",  "UInt64Value", "Int32Value",
        "UInt32Value", "BoolValue",  "StringValue", "BytesValue",
    };
    const char *n = d->name;

    if (n[0] != 'g' || strncmp(n, "google.protobuf.", 16) != 0)
        return WKT_NONE;
    n += 16;
    if (strcmp(n, "Timestamp") == 0)
        return d->n_fields == 2 && d->fields[0].type == PROTOBUF_C_TYPE_INT64 &&
                       d->fields[1].type == PROTOBUF_C_TYPE_INT32
                   ? WKT_TIMESTAMP
                   : WKT_NONE;
    if (d->n_fields != 1 || d->fields[0].id != 1 || d->fields[0].label == PROTOBUF_C_LABEL_REPEATED)
        return WKT_NONE;
    for (size_t i = 0; i < TOMO_ARRAY_LEN(wrappers); i++)
        if (strcmp(n, wrappers[i]) == 0)
            return WKT_WRAPPER;
    return WKT_NONE;
}

int tomo_codec_is_map_entry(const ProtobufCMessageDescriptor *d)
{
    size_t n;

    if (d->n_fields != 2 || d->fields[0].id != 1 || d->fields[1].id != 2)
        return 0;
    if (strcmp(d->fields[0].name, "key") != 0 || strcmp(d->fields[1].name, "value") != 0)
        return 0;
    n = strlen(d->short_name);
    return n > 5 && strcmp(d->short_name + n - 5, "Entry") == 0;
}

size_t tomo_codec_elt_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return 4;
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

int tomo_codec_json_name_eq(const char *proto_name, const char *name)
{
    int up = 0;

    /* protoc's rule: drop '_' and upper-case a following lower-case letter. */
    for (; *proto_name; proto_name++) {
        char ch = *proto_name;
        if (ch == '_') {
            up = 1;
            continue;
        }
        if (up && ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        up = 0;
        if (*name++ != ch)
            return 0;
    }
    return *name == '\0';
}

const ProtobufCFieldDescriptor *tomo_codec_field_lookup(const ProtobufCMessageDescriptor *d,
                                                        const char *name)
{
    const ProtobufCFieldDescriptor *f;
    char buf[256];
    size_t j = 0;
    int camel = 0;

    f = protobuf_c_message_descriptor_get_field_by_name(d, name);
    if (f)
        return f;
    /* lowerCamelCase -> snake_case in a stack buffer, then the same sorted
     * index; the check below rejects mixed forms such as "user_idOne". */
    for (const char *p = name; *p; p++) {
        char ch = *p;
        if (j + 3 > sizeof(buf))
            return NULL;
        if (ch >= 'A' && ch <= 'Z') {
            buf[j++] = '_';
            buf[j++] = (char)(ch - 'A' + 'a');
            camel = 1;
        } else {
            buf[j++] = ch;
        }
    }
    if (!camel)
        return NULL;
    buf[j] = '\0';
    f = protobuf_c_message_descriptor_get_field_by_name(d, buf);
    if (f && !tomo_codec_json_name_eq(f->name, name))
        f = NULL;
    return f;
}

/* ---- Base64 ----------------------------------------------------------------- */

/* One base64 for the whole server (core/codec_util.h); these wrap it for
 * json values and arena memory. */
json_t *tomo_codec_base64_json(const uint8_t *src, size_t n)
{
    char stackbuf[512];
    size_t outlen = tomo_b64_encoded_len(n, 0);
    char *buf = outlen < sizeof(stackbuf) ? stackbuf : tomo_xmalloc(outlen + 1);
    size_t j = tomo_b64_encode_to(src, n, 0, buf);
    json_t *v = json_stringn_nocheck(buf, j);
    if (buf != stackbuf)
        free(buf);
    return v;
}

int tomo_codec_base64_decode(codec_arena *a, const char *s, size_t n, uint8_t **out, size_t *outlen)
{
    uint8_t *o = tomo_codec_arena_alloc(a, tomo_b64_decoded_max(n));
    if (tomo_b64_decode_to(s, n, o, outlen) < 0)
        return -1;
    *out = o;
    return 0;
}

/* ---- RFC 3339 ----------------------------------------------------------------- */

#define TS_MIN_SEC (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define TS_MAX_SEC 253402300799LL   /* 9999-12-31T23:59:59Z */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int tomo_codec_rfc3339_format(int64_t sec, int32_t nanos, char buf[40])
{
    int64_t days, y;
    unsigned mo, d, rem;
    int n;

    if (sec < TS_MIN_SEC || sec > TS_MAX_SEC || nanos < 0 || nanos > 999999999)
        return -1;
    days = sec / 86400;
    if (sec % 86400 < 0)
        days--;
    rem = (unsigned)(sec - days * 86400);
    civil_from_days(days, &y, &mo, &d);
    n = snprintf(buf, 40, "%04d-%02u-%02uT%02u:%02u:%02u", (int)y, mo, d, rem / 3600, rem / 60 % 60,
                 rem % 60);
    if (nanos == 0)
        n += snprintf(buf + n, (size_t)(40 - n), "Z");
    else if (nanos % 1000000 == 0)
        n += snprintf(buf + n, (size_t)(40 - n), ".%03dZ", (int)(nanos / 1000000));
    else if (nanos % 1000 == 0)
        n += snprintf(buf + n, (size_t)(40 - n), ".%06dZ", (int)(nanos / 1000));
    else
        n += snprintf(buf + n, (size_t)(40 - n), ".%09dZ", (int)nanos);
    return 0;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int tomo_codec_rfc3339_parse(const char *s, int64_t *sec, int32_t *nanos)
{
    static const unsigned char mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, se, ns = 0, off = 0;
    unsigned dim;
    int64_t t;

    /* YYYY-MM-DDTHH:MM:SS[.fffffffff](Z|+HH:MM|-HH:MM) */
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &se))
        return -1;
    s += 19;
    if (*s == '.') {
        int nd = 0;
        for (s++; *s >= '0' && *s <= '9'; s++, nd++) {
            if (nd >= 9)
                return -1;
            ns = ns * 10 + (*s - '0');
        }
        if (nd == 0)
            return -1;
        for (; nd < 9; nd++)
            ns *= 10;
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int oh, om;
        if (digits(s + 1, 2, &oh) || s[3] != ':' || digits(s + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = (oh * 60 + om) * 60;
        if (*s == '-')
            off = -off;
        s += 6;
    } else {
        return -1;
    }
    if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59)
        return -1;
    dim = mdays[mo - 1];
    if (mo == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        dim = 29;
    if ((unsigned)d > dim)
        return -1;
    t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se - off;
    if (t < TS_MIN_SEC || t > TS_MAX_SEC)
        return -1;
    *sec = t;
    *nanos = ns;
    return 0;
}
