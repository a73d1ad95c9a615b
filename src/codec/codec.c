/* codec/codec.c: public entry points and the descriptor index. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"
#include "tomo_api.pb-c.h"
#include "tomo_realtime.pb-c.h"

/* ---- Descriptor index -------------------------------------------------------
 * Every message type reachable from the roots below, sorted by full name and
 * built once. The realtime schema has ~80 types, so the linear "already
 * seen?" check during the one-time walk is cheaper than anything cleverer. */

#define INDEX_MAX 512

static const ProtobufCMessageDescriptor *index_tab[INDEX_MAX];
static size_t index_len;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static void index_add(const ProtobufCMessageDescriptor *d)
{
    for (size_t i = 0; i < index_len; i++)
        if (index_tab[i] == d)
            return;
    if (index_len == INDEX_MAX)
        abort(); /* a schema this large needs a bigger table */
    index_tab[index_len++] = d;
    for (unsigned i = 0; i < d->n_fields; i++)
        if (d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
            index_add(d->fields[i].descriptor);
}

static int index_cmp(const void *a, const void *b)
{
    const ProtobufCMessageDescriptor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static void index_build(void)
{
    /* The wrappers not used by any realtime message are roots too, so that
     * callers can look every one of them up. */
    static const ProtobufCMessageDescriptor *const roots[] = {
        &nakama__realtime__envelope__descriptor,     &google__protobuf__timestamp__descriptor,
        &google__protobuf__double_value__descriptor, &google__protobuf__float_value__descriptor,
        &google__protobuf__int64_value__descriptor,  &google__protobuf__uint64_value__descriptor,
        &google__protobuf__int32_value__descriptor,  &google__protobuf__uint32_value__descriptor,
        &google__protobuf__bool_value__descriptor,   &google__protobuf__string_value__descriptor,
        &google__protobuf__bytes_value__descriptor,
    };
    for (size_t i = 0; i < TOMO_ARRAY_LEN(roots); i++)
        index_add(roots[i]);
    /* Every request and response of the nakama.api.Nakama service. */
    const ProtobufCServiceDescriptor *svc = &nakama__api__nakama__descriptor;
    for (unsigned i = 0; i < svc->n_methods; i++) {
        index_add(svc->methods[i].input);
        index_add(svc->methods[i].output);
    }
    qsort(index_tab, index_len, sizeof(index_tab[0]), index_cmp);
}

const ProtobufCMessageDescriptor *tomo_codec_envelope_desc(void)
{
    return &nakama__realtime__envelope__descriptor;
}

const ProtobufCMessageDescriptor *tomo_codec_desc_by_name(const char *full_name)
{
    size_t lo = 0, hi;

    if (!full_name)
        return NULL;
    pthread_once(&index_once, index_build);
    hi = index_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(full_name, index_tab[mid]->name);
        if (cmp == 0)
            return index_tab[mid];
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* ---- Transcoding ------------------------------------------------------------- */

int tomo_codec_pb_to_json(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                          json_t **out)
{
    static const uint8_t empty[1];
    codec_arena a;
    codec_ctx c;
    ProtobufCAllocator alloc;
    ProtobufCMessage *m;
    json_t *j = NULL;
    int rc;

    tomo_codec_arena_init(&a);
    tomo_codec_ctx_init(&c, &a, 0, NULL, 0);
    tomo_codec_arena_pb_allocator(&a, &alloc);
    if (!buf && len > 0) {
        rc = TOMO_EINVAL;
        goto out;
    }
    m = protobuf_c_message_unpack(d, &alloc, len, buf ? buf : empty);
    if (!m) {
        rc = TOMO_EINVAL;
        goto out;
    }
    rc = tomo_codec_render(&c, m, 0, &j);
    if (rc == 0)
        *out = j;
out:
    tomo_codec_arena_free(&a);
    return rc;
}

int tomo_codec_json_to_pb_ex(const ProtobufCMessageDescriptor *d, const json_t *in, unsigned flags,
                             uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
    codec_arena a;
    codec_ctx c;
    ProtobufCMessage *m;
    uint8_t *buf;
    size_t n;
    int rc;

    tomo_codec_arena_init(&a);
    tomo_codec_ctx_init(&c, &a, flags, err, errlen);
    if (!in) {
        rc = tomo_codec_fail(&c, "no input");
        goto out;
    }
    rc = tomo_codec_parse(&c, d, in, 0, &m);
    if (rc < 0)
        goto out;
    n = protobuf_c_message_get_packed_size(m);
    buf = malloc(n ? n : 1);
    if (!buf)
        abort();
    protobuf_c_message_pack(m, buf);
    *out = buf;
    *outlen = n;
out:
    tomo_codec_arena_free(&a);
    return rc;
}

int tomo_codec_json_to_pb(const ProtobufCMessageDescriptor *d, const json_t *in, uint8_t **out,
                          size_t *outlen, char *err, size_t errlen)
{
    return tomo_codec_json_to_pb_ex(d, in, 0, out, outlen, err, errlen);
}

int tomo_codec_json_normalize_ex(const ProtobufCMessageDescriptor *d, const json_t *in,
                                 unsigned flags, json_t **out, char *err, size_t errlen)
{
    codec_arena a;
    codec_ctx c;
    ProtobufCMessage *m;
    json_t *j;
    int rc;

    /* Parse into the same struct a protobuf frame unpacks to and render that:
     * both socket formats then give handlers an identical tree. */
    tomo_codec_arena_init(&a);
    tomo_codec_ctx_init(&c, &a, flags, err, errlen);
    if (!in) {
        rc = tomo_codec_fail(&c, "no input");
        goto out;
    }
    rc = tomo_codec_parse(&c, d, in, 0, &m);
    if (rc < 0)
        goto out;
    rc = tomo_codec_render(&c, m, 0, &j);
    if (rc == 0)
        *out = j;
out:
    tomo_codec_arena_free(&a);
    return rc;
}

int tomo_codec_json_normalize(const ProtobufCMessageDescriptor *d, const json_t *in, json_t **out,
                              char *err, size_t errlen)
{
    return tomo_codec_json_normalize_ex(d, in, 0, out, err, errlen);
}

int tomo_codec_api_method(const char *name, const ProtobufCMessageDescriptor **in,
                          const ProtobufCMessageDescriptor **out)
{
    const ProtobufCMethodDescriptor *m =
        name ? protobuf_c_service_descriptor_get_method_by_name(&nakama__api__nakama__descriptor,
                                                                name)
             : NULL;
    if (!m)
        return TOMO_ENOTFOUND;
    *in = m->input;
    *out = m->output;
    return 0;
}
