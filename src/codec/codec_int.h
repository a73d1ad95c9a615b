/* codec/codec_int.h: internals shared by the codec's .c files.
 * Owns: the per-call arena and the walker context.
 * Threads: any (a context belongs to one call). Not for use outside src/codec. */
#ifndef TOMO_CODEC_CODEC_INT_H
#define TOMO_CODEC_CODEC_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "codec.h"
#include "core/common.h"

/* ---- Arena ----------------------------------------------------------------
 * Every message struct, array and decoded byte string built during one call
 * comes from here and is released at once at the end, so no per-field free
 * walk is needed and strings can be borrowed from the input json_t. The first
 * block lives inside the arena itself (on the caller's stack). */

#define CODEC_ARENA_INLINE 3072

typedef struct codec_arena_chunk codec_arena_chunk;

typedef struct {
    char *cur;
    char *end;
    codec_arena_chunk *chunks; /* heap blocks, freed by tomo_codec_arena_free() */
    _Alignas(16) char first[CODEC_ARENA_INLINE];
} codec_arena;

void tomo_codec_arena_init(codec_arena *a);
void tomo_codec_arena_free(codec_arena *a);
/* 16-byte aligned, never NULL (aborts when out of memory). */
void *tomo_codec_arena_alloc(codec_arena *a, size_t n);
/* A protobuf-c allocator drawing from a (free is a no-op). */
void tomo_codec_arena_pb_allocator(codec_arena *a, ProtobufCAllocator *out);

/* ---- Walk context ---------------------------------------------------------- */

typedef struct {
    codec_arena *a;
    unsigned flags; /* TOMO_CODEC_* */
    char *err;      /* may be NULL */
    size_t errlen;
    int failed; /* the first error wins */
    /* Field names from the root to the value being parsed, for messages. */
    int npath;
    const char *path[TOMO_CODEC_MAX_DEPTH + 2];
} codec_ctx;

void tomo_codec_ctx_init(codec_ctx *c, codec_arena *a, unsigned flags, char *err, size_t errlen);

/* Record the first error (printf-style, then " (at a.b.c)" when inside a
 * field) and return TOMO_EINVAL. */
int tomo_codec_fail(codec_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- Descriptor helpers ---------------------------------------------------- */

/* How a message type is rendered in JSON. */
typedef enum {
    WKT_NONE = 0,  /* an ordinary message: a JSON object */
    WKT_TIMESTAMP, /* google.protobuf.Timestamp: RFC 3339 string */
    WKT_WRAPPER,   /* google.protobuf.*Value: the bare value of field 1 */
} wkt_kind;

wkt_kind tomo_codec_wkt_kind(const ProtobufCMessageDescriptor *d);

/* 1 if d is the synthetic entry type protoc-c emits for a map field
 * (fields key = 1 and value = 2, short name ending in "Entry"). */
int tomo_codec_is_map_entry(const ProtobufCMessageDescriptor *d);

/* Bytes one element of type t occupies in a repeated-field array. */
size_t tomo_codec_elt_size(ProtobufCType t);

/* 1 if the JSON (lowerCamelCase) name protoc derives from proto_name equals
 * name. */
int tomo_codec_json_name_eq(const char *proto_name, const char *name);

/* Field of d called `name` (proto or JSON name), or NULL. O(log n). */
const ProtobufCFieldDescriptor *tomo_codec_field_lookup(const ProtobufCMessageDescriptor *d,
                                                        const char *name);

/* ---- Text helpers ---------------------------------------------------------- */

/* Standard padded base64 of src[0..n) into a new json string. NULL on OOM. */
json_t *tomo_codec_base64_json(const uint8_t *src, size_t n);
/* Decode base64 in either alphabet, padded or not. Output goes to arena
 * memory. Returns 0 or -1. */
int tomo_codec_base64_decode(codec_arena *a, const char *s, size_t n, uint8_t **out,
                             size_t *outlen);

/* RFC 3339 rendering/parsing of (seconds, nanos) in the range protojson
 * allows (0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z).
 * format: buf must hold 40 bytes; returns 0 or -1 (out of range).
 * parse: returns 0 or -1. */
int tomo_codec_rfc3339_format(int64_t sec, int32_t nanos, char buf[40]);
int tomo_codec_rfc3339_parse(const char *s, int64_t *sec, int32_t *nanos);

/* ---- The two walkers --------------------------------------------------------
 * render: message struct -> canonical JSON (any value, incl. WKT bare values).
 * parse:  JSON -> message struct allocated in c->a (strings borrowed from in).
 * Both return 0 or TOMO_EINVAL (with the reason recorded in c). */
int tomo_codec_render(codec_ctx *c, const ProtobufCMessage *m, int depth, json_t **out);
int tomo_codec_parse(codec_ctx *c, const ProtobufCMessageDescriptor *d, const json_t *in, int depth,
                     ProtobufCMessage **out);

#endif
