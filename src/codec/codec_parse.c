/* codec/codec_parse.c: protojson (jansson tree) -> message struct in an arena.
 * Strings are borrowed from the input tree, so the struct must not outlive
 * it; nothing here is freed field by field (the arena goes at once). */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

/* A JSON number, as text: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
 * Sets *integral when there is no fraction or exponent. protojson accepts a
 * quoted number for numeric fields, but only in this exact form. */
static int is_json_number(const char *s, int *integral)
{
    *integral = 1;
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return 0;
    if (*s == '.') {
        *integral = 0;
        s++;
        if (*s < '0' || *s > '9')
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        *integral = 0;
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (*s < '0' || *s > '9')
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

/* 2^63 and 2^64 as doubles (exact). */
#define TWO63 9223372036854775808.0
#define TWO64 18446744073709551616.0

/* Signed integer in [lo, hi] from a JSON integer, an integral real, or a
 * string holding a JSON number. */
static int get_int(const json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t x;

    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_real(v) || json_is_string(v)) {
        double r;
        if (json_is_string(v)) {
            const char *s = json_string_value(v);
            int integral;
            if (!is_json_number(s, &integral))
                return -1;
            if (integral) {
                char *end;
                errno = 0;
                long long ll = strtoll(s, &end, 10);
                if (errno == ERANGE || *end)
                    return -1;
                x = ll;
                goto range;
            }
            r = strtod(s, NULL);
        } else {
            r = json_real_value(v);
        }
        if (!(r >= -TWO63 && r < TWO63) || r != floor(r))
            return -1;
        x = (int64_t)r;
    } else {
        return -1;
    }
range:
    if (x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

static int get_uint64(const json_t *v, uint64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < 0)
            return -1;
        *out = (uint64_t)x;
        return 0;
    }
    if (json_is_real(v) || json_is_string(v)) {
        double r;
        if (json_is_string(v)) {
            const char *s = json_string_value(v);
            int integral;
            if (!is_json_number(s, &integral))
                return -1;
            if (integral) {
                char *end;
                if (s[0] == '-') {
                    if (strcmp(s, "-0") != 0)
                        return -1;
                    *out = 0;
                    return 0;
                }
                errno = 0;
                unsigned long long ull = strtoull(s, &end, 10);
                if (errno == ERANGE || *end)
                    return -1;
                *out = ull;
                return 0;
            }
            r = strtod(s, NULL);
        } else {
            r = json_real_value(v);
        }
        if (!(r >= 0 && r < TWO64) || r != floor(r))
            return -1;
        *out = (uint64_t)r;
        return 0;
    }
    return -1;
}

static int get_double(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        int integral;
        if (strcmp(s, "NaN") == 0)
            *out = NAN;
        else if (strcmp(s, "Infinity") == 0)
            *out = INFINITY;
        else if (strcmp(s, "-Infinity") == 0)
            *out = -INFINITY;
        else if (is_json_number(s, &integral))
            *out = strtod(s, NULL);
        else
            return -1;
        if (isinf(*out) && strchr(s, 'I') == NULL)
            return -1; /* "1e999": out of range, not Infinity */
        return 0;
    }
    return -1;
}

static int bad_value(codec_ctx *c, const ProtobufCFieldDescriptor *f, const char *want,
                     const json_t *v)
{
    return tomo_codec_fail(c, "field \"%s\": expected %s, got %s", f->name, want, json_kind(v));
}

/* One value of field f (an element, for repeated fields) into *p. */
static int parse_value(codec_ctx *c, const ProtobufCFieldDescriptor *f, const json_t *v, void *p,
                       int depth)
{
    int64_t i;

    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (get_int(v, INT32_MIN, INT32_MAX, &i) < 0)
            return bad_value(c, f, "an int32", v);
        *(int32_t *)p = (int32_t)i;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (get_int(v, 0, UINT32_MAX, &i) < 0)
            return bad_value(c, f, "a uint32", v);
        *(uint32_t *)p = (uint32_t)i;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (get_int(v, INT64_MIN, INT64_MAX, &i) < 0)
            return bad_value(c, f, "an int64 (number or string)", v);
        *(int64_t *)p = i;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (get_uint64(v, (uint64_t *)p) < 0)
            return bad_value(c, f, "a uint64 (number or string)", v);
        return 0;
    case PROTOBUF_C_TYPE_ENUM:
        if (json_is_string(v)) {
            const ProtobufCEnumValue *ev =
                protobuf_c_enum_descriptor_get_value_by_name(f->descriptor, json_string_value(v));
            if (ev) {
                *(int *)p = ev->value;
                return 0;
            }
        }
        if (get_int(v, INT32_MIN, INT32_MAX, &i) < 0)
            return bad_value(c, f, "an enum number or name", v);
        *(int *)p = (int)i;
        return 0;
    case PROTOBUF_C_TYPE_FLOAT: {
        double d;
        if (get_double(v, &d) < 0 || (isfinite(d) && fabs(d) > FLT_MAX))
            return bad_value(c, f, "a float", v);
        *(float *)p = (float)d;
        return 0;
    }
    case PROTOBUF_C_TYPE_DOUBLE:
        if (get_double(v, (double *)p) < 0)
            return bad_value(c, f, "a double", v);
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            return bad_value(c, f, "a boolean", v);
        *(protobuf_c_boolean *)p = json_is_true(v);
        return 0;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s;
        if (!json_is_string(v))
            return bad_value(c, f, "a string", v);
        s = json_string_value(v);
        /* protobuf-c strings are NUL-terminated: "\u0000" cannot be carried. */
        if (strlen(s) != json_string_length(v))
            return tomo_codec_fail(c, "field \"%s\": string contains NUL", f->name);
        *(const char **)p = s;
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *b = p;
        if (!json_is_string(v))
            return bad_value(c, f, "a base64 string", v);
        if (tomo_codec_base64_decode(c->a, json_string_value(v), json_string_length(v), &b->data,
                                     &b->len) < 0)
            return tomo_codec_fail(c, "field \"%s\": invalid base64", f->name);
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return tomo_codec_parse(c, f->descriptor, v, depth + 1, p);
    }
    return tomo_codec_fail(c, "field \"%s\" has an unsupported type", f->name);
}

/* A map key arrives as a JSON object key (always text). */
static int parse_map_key(codec_ctx *c, const ProtobufCFieldDescriptor *mf,
                         const ProtobufCFieldDescriptor *kf, const char *key, void *p)
{
    switch (kf->type) {
    case PROTOBUF_C_TYPE_STRING:
        *(const char **)p = key;
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        if (strcmp(key, "true") == 0)
            *(protobuf_c_boolean *)p = 1;
        else if (strcmp(key, "false") == 0)
            *(protobuf_c_boolean *)p = 0;
        else
            break;
        return 0;
    default: {
        /* Integer keys: the same rules as a quoted integer value. */
        json_t *s = json_string_nocheck(key);
        int rc;
        if (!s)
            abort();
        rc = parse_value(c, kf, s, p, 0);
        json_decref(s);
        return rc;
    }
    }
    return tomo_codec_fail(c, "map field \"%s\": invalid key \"%s\"", mf->name, key);
}

static int parse_map(codec_ctx *c, const ProtobufCFieldDescriptor *f, const json_t *v,
                     size_t *count, ProtobufCMessage ***arr, int depth)
{
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
    json_t *obj = (json_t *)v; /* the iterator API is not const-qualified */
    ProtobufCMessage **entries;
    size_t n = 0;
    int rc;

    if (!json_is_object(v))
        return bad_value(c, f, "an object (map)", v);
    entries = tomo_codec_arena_alloc(c->a, json_object_size(v) * sizeof(*entries));
    for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
        const char *key = json_object_iter_key(it);
        json_t *val = json_object_iter_value(it);
        ProtobufCMessage *e;

#if JANSSON_VERSION_HEX >= 0x020e00
        if (strlen(key) != json_object_iter_key_len(it))
            return tomo_codec_fail(c, "map field \"%s\": key contains NUL", f->name);
#endif
        if (json_is_null(val))
            return tomo_codec_fail(c, "map field \"%s\": null value for key \"%s\"", f->name, key);
        e = tomo_codec_arena_alloc(c->a, ed->sizeof_message);
        ed->message_init(e);
        rc = parse_map_key(c, f, kf, key, (char *)e + kf->offset);
        if (rc < 0)
            return rc;
        rc = parse_value(c, vf, val, (char *)e + vf->offset, depth);
        if (rc < 0)
            return rc;
        entries[n++] = e;
    }
    *count = n;
    *arr = entries;
    return 0;
}

static int parse_field(codec_ctx *c, const ProtobufCFieldDescriptor *f, const json_t *v, char *base,
                       int depth)
{
    void *p = base + f->offset;

    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t *count = (size_t *)(base + f->quantifier_offset);
        size_t n, sz;
        char *arr;

        if (f->type == PROTOBUF_C_TYPE_MESSAGE && tomo_codec_is_map_entry(f->descriptor))
            return parse_map(c, f, v, count, (ProtobufCMessage ***)p, depth);
        if (!json_is_array(v))
            return bad_value(c, f, "an array", v);
        n = json_array_size(v);
        sz = tomo_codec_elt_size(f->type);
        arr = tomo_codec_arena_alloc(c->a, n * sz);
        for (size_t k = 0; k < n; k++) {
            const json_t *e = json_array_get(v, k);
            int rc;
            if (json_is_null(e))
                return tomo_codec_fail(c, "field \"%s\": null inside a list", f->name);
            rc = parse_value(c, f, e, arr + k * sz, depth);
            if (rc < 0)
                return rc;
        }
        *count = n;
        *(char **)p = arr;
        return 0;
    }
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = (uint32_t *)(base + f->quantifier_offset);
        if (*which != 0 && *which != f->id)
            return tomo_codec_fail(c, "field \"%s\": another member of its oneof is already set",
                                   f->name);
        *which = f->id;
    } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
               f->type != PROTOBUF_C_TYPE_STRING) {
        *(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
    }
    return parse_value(c, f, v, p, depth);
}

static int parse_object(codec_ctx *c, const ProtobufCMessageDescriptor *d, const json_t *in,
                        ProtobufCMessage *m, int depth)
{
    json_t *obj = (json_t *)in; /* the iterator API is not const-qualified */
    uint64_t seen_small[4] = {0, 0, 0, 0};
    uint64_t *seen = seen_small;

    if (!json_is_object(in))
        return tomo_codec_fail(c, "%s: expected an object, got %s", d->name, json_kind(in));
    if (d->n_fields > 64 * TOMO_ARRAY_LEN(seen_small)) {
        size_t words = (d->n_fields + 63) / 64;
        seen = tomo_codec_arena_alloc(c->a, words * sizeof(*seen));
        memset(seen, 0, words * sizeof(*seen));
    }
    for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
        const char *key = json_object_iter_key(it);
        const json_t *v = json_object_iter_value(it);
        const ProtobufCFieldDescriptor *f = tomo_codec_field_lookup(d, key);
        unsigned idx;
        int rc;

#if JANSSON_VERSION_HEX >= 0x020e00
        if (f && strlen(key) != json_object_iter_key_len(it))
            f = NULL; /* "cid\u0000x" is not "cid" */
#endif
        if (!f) {
            if (c->flags & TOMO_CODEC_IGNORE_UNKNOWN)
                continue;
            return tomo_codec_fail(c, "unknown field \"%s\" in %s", key, d->name);
        }
        /* "user_id" and "userId" in one object name the same field. */
        idx = (unsigned)(f - d->fields);
        if (seen[idx / 64] & (UINT64_C(1) << (idx % 64)))
            return tomo_codec_fail(c, "duplicate field \"%s\" in %s", f->name, d->name);
        seen[idx / 64] |= UINT64_C(1) << (idx % 64);
        if (json_is_null(v))
            continue; /* null means unset */
        if (c->npath < (int)TOMO_ARRAY_LEN(c->path))
            c->path[c->npath] = f->name;
        c->npath++;
        rc = parse_field(c, f, v, (char *)m, depth);
        c->npath--;
        if (rc < 0)
            return rc;
    }
    return 0;
}

int tomo_codec_parse(codec_ctx *c, const ProtobufCMessageDescriptor *d, const json_t *in, int depth,
                     ProtobufCMessage **out)
{
    ProtobufCMessage *m;
    int rc = 0;

    if (depth > TOMO_CODEC_MAX_DEPTH)
        return tomo_codec_fail(c, "messages nested deeper than %d", TOMO_CODEC_MAX_DEPTH);
    m = tomo_codec_arena_alloc(c->a, d->sizeof_message);
    d->message_init(m);
    switch (tomo_codec_wkt_kind(d)) {
    case WKT_TIMESTAMP: {
        int64_t sec;
        int32_t nanos;
        if (!json_is_string(in))
            return tomo_codec_fail(c, "%s: expected an RFC 3339 string, got %s", d->name,
                                   json_kind(in));
        if (tomo_codec_rfc3339_parse(json_string_value(in), &sec, &nanos) < 0)
            return tomo_codec_fail(c, "%s: invalid RFC 3339 time \"%s\"", d->name,
                                   json_string_value(in));
        *(int64_t *)((char *)m + d->fields[0].offset) = sec;
        *(int32_t *)((char *)m + d->fields[1].offset) = nanos;
        break;
    }
    case WKT_WRAPPER:
        rc = parse_value(c, &d->fields[0], in, (char *)m + d->fields[0].offset, depth);
        break;
    case WKT_NONE:
        rc = parse_object(c, d, in, m, depth);
        break;
    }
    if (rc == 0)
        *out = m;
    return rc;
}
