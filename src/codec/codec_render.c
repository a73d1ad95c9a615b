/* codec/codec_render.c: message struct -> canonical protojson (jansson tree). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"

/* jansson returns NULL for a scalar only when out of memory: abort, as
 * tomo does everywhere on OOM. */
static json_t *nn(json_t *v)
{
    if (!v)
        abort();
    return v;
}

static json_t *render_double(double x)
{
    if (isnan(x))
        return nn(json_string_nocheck("NaN"));
    if (isinf(x))
        return nn(json_string_nocheck(x > 0 ? "Infinity" : "-Infinity"));
    return nn(json_real(x));
}

static int render_value(codec_ctx *c, const ProtobufCFieldDescriptor *f, const void *p, int depth,
                        json_t **out);

/* A message-typed slot that holds no message (possible inside a map entry)
 * renders as the default instance, as protojson does. */
static int render_submsg(codec_ctx *c, const ProtobufCMessageDescriptor *d,
                         const ProtobufCMessage *m, int depth, json_t **out)
{
    if (!m) {
        ProtobufCMessage *def = tomo_codec_arena_alloc(c->a, d->sizeof_message);
        d->message_init(def);
        m = def;
    }
    return tomo_codec_render(c, m, depth + 1, out);
}

static int render_value(codec_ctx *c, const ProtobufCFieldDescriptor *f, const void *p, int depth,
                        json_t **out)
{
    char num[32];

    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        *out = nn(json_integer(*(const int32_t *)p));
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        *out = nn(json_integer(*(const uint32_t *)p));
        return 0;
    case PROTOBUF_C_TYPE_ENUM:
        *out = nn(json_integer(*(const int *)p));
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(num, sizeof(num), "%" PRId64, *(const int64_t *)p);
        *out = nn(json_string_nocheck(num));
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(num, sizeof(num), "%" PRIu64, *(const uint64_t *)p);
        *out = nn(json_string_nocheck(num));
        return 0;
    case PROTOBUF_C_TYPE_FLOAT:
        *out = render_double(*(const float *)p);
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        *out = render_double(*(const double *)p);
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        *out = nn(json_boolean(*(const protobuf_c_boolean *)p));
        return 0;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        if (!s)
            s = "";
        /* Wire strings are not UTF-8 checked by protobuf-c; jansson is. */
        *out = json_stringn(s, strlen(s));
        if (!*out)
            return tomo_codec_fail(c, "field \"%s\" is not valid UTF-8", f->name);
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        *out = nn(tomo_codec_base64_json(b->data, b->len));
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return render_submsg(c, f->descriptor, *(const ProtobufCMessage *const *)p, depth, out);
    }
    return tomo_codec_fail(c, "field \"%s\" has an unsupported type", f->name);
}

static int render_map(codec_ctx *c, const ProtobufCFieldDescriptor *f, size_t n,
                      const ProtobufCMessage *const *entries, int depth, json_t **out)
{
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
    json_t *obj = nn(json_object());
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        const ProtobufCMessage *e = entries[i];
        const char *kp, *key;
        char num[32];
        json_t *v;

        if (!e) {
            ProtobufCMessage *def = tomo_codec_arena_alloc(c->a, ed->sizeof_message);
            ed->message_init(def);
            e = def;
        }
        kp = (const char *)e + kf->offset;
        switch (kf->type) {
        case PROTOBUF_C_TYPE_STRING:
            key = *(const char *const *)kp;
            if (!key)
                key = "";
            break;
        case PROTOBUF_C_TYPE_BOOL:
            key = *(const protobuf_c_boolean *)kp ? "true" : "false";
            break;
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
            snprintf(num, sizeof(num), "%" PRId32, *(const int32_t *)kp);
            key = num;
            break;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            snprintf(num, sizeof(num), "%" PRIu32, *(const uint32_t *)kp);
            key = num;
            break;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
            snprintf(num, sizeof(num), "%" PRId64, *(const int64_t *)kp);
            key = num;
            break;
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            snprintf(num, sizeof(num), "%" PRIu64, *(const uint64_t *)kp);
            key = num;
            break;
        default:
            rc = tomo_codec_fail(c, "map field \"%s\" has an unsupported key type", f->name);
            goto out;
        }
        rc = render_value(c, vf, (const char *)e + vf->offset, depth, &v);
        if (rc < 0)
            goto out;
        /* json_object_set_new() checks the key is UTF-8; a repeated key keeps
         * the last value, as protobuf map parsing does. */
        if (json_object_set_new(obj, key, v) < 0) {
            rc = tomo_codec_fail(c, "map field \"%s\" has a key that is not valid UTF-8", f->name);
            goto out;
        }
    }
out:
    if (rc < 0)
        json_decref(obj);
    else
        *out = obj;
    return rc;
}

/* Whether a field without explicit presence holds its zero value. */
static int is_zero(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return *(const uint32_t *)p == 0;
    case PROTOBUF_C_TYPE_ENUM:
        return *(const int *)p == 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const uint64_t *)p == 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p == 0; /* as protobuf-c's packer decides */
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p == 0;
    case PROTOBUF_C_TYPE_BOOL:
        return !*(const protobuf_c_boolean *)p;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(const void *const *)p == NULL;
    }
    return 1;
}

/* Whether field f of message base is set, by protobuf-c's presence rules. */
static int is_present(const ProtobufCFieldDescriptor *f, const char *base)
{
    const void *p = base + f->offset;

    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
            return 0;
        /* A set member is emitted even when its value is zero. */
        if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING)
            return *(const void *const *)p != NULL;
        return 1;
    }
    switch (f->label) {
    case PROTOBUF_C_LABEL_REQUIRED:
        return 1;
    case PROTOBUF_C_LABEL_OPTIONAL:
        if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING) {
            const void *ptr = *(const void *const *)p;
            return ptr != NULL && ptr != f->default_value;
        }
        return *(const protobuf_c_boolean *)(base + f->quantifier_offset) != 0;
    case PROTOBUF_C_LABEL_NONE:
        return !is_zero(f, p);
    case PROTOBUF_C_LABEL_REPEATED:
        return *(const size_t *)(base + f->quantifier_offset) != 0;
    }
    return 0;
}

static int render_object(codec_ctx *c, const ProtobufCMessage *m, int depth, json_t **out)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    json_t *obj = nn(json_object());
    int rc = 0;

    /* fields[] is ordered by field number, which is protojson's output order. */
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *p = base + f->offset;
        json_t *v;

        if (!is_present(f, base))
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *arr = *(const char *const *)p;

            if (f->type == PROTOBUF_C_TYPE_MESSAGE && tomo_codec_is_map_entry(f->descriptor)) {
                rc = render_map(c, f, n, (const ProtobufCMessage *const *)arr, depth, &v);
            } else {
                size_t sz = tomo_codec_elt_size(f->type);
                v = nn(json_array());
                for (size_t k = 0; k < n && rc == 0; k++) {
                    json_t *e;
                    rc = render_value(c, f, arr + k * sz, depth, &e);
                    if (rc == 0)
                        json_array_append_new(v, e);
                }
                if (rc < 0)
                    json_decref(v);
            }
        } else {
            rc = render_value(c, f, p, depth, &v);
        }
        if (rc < 0)
            goto out;
        json_object_set_new_nocheck(obj, f->name, v);
    }
out:
    if (rc < 0)
        json_decref(obj);
    else
        *out = obj;
    return rc;
}

int tomo_codec_render(codec_ctx *c, const ProtobufCMessage *m, int depth, json_t **out)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;

    if (depth > TOMO_CODEC_MAX_DEPTH)
        return tomo_codec_fail(c, "messages nested deeper than %d", TOMO_CODEC_MAX_DEPTH);
    switch (tomo_codec_wkt_kind(d)) {
    case WKT_TIMESTAMP: {
        const char *base = (const char *)m;
        char buf[40];
        if (tomo_codec_rfc3339_format(*(const int64_t *)(base + d->fields[0].offset),
                                      *(const int32_t *)(base + d->fields[1].offset), buf) < 0)
            return tomo_codec_fail(c, "timestamp out of range");
        *out = nn(json_string_nocheck(buf));
        return 0;
    }
    case WKT_WRAPPER:
        /* A present wrapper is its bare value, zero included. */
        return render_value(c, &d->fields[0], (const char *)m + d->fields[0].offset, depth, out);
    case WKT_NONE:
        break;
    }
    return render_object(c, m, depth, out);
}
