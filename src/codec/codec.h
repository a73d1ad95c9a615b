/* codec/codec.h: JSON <-> protobuf transcoding of realtime envelopes.
 * Owns: the protobuf-c descriptors generated from codec/proto/ (nakama.realtime,
 *       the nakama.api messages and the nakama.api.Nakama service, google.protobuf
 *       wrappers, Timestamp and Empty) and the generic, descriptor-driven transcoder between the
 *       protobuf wire format and canonical protojson held as a jansson tree.
 * Borrows: every input (buffers, json_t trees) only for the duration of a call.
 * Threads: any (pure functions; the descriptor index is built once, guarded
 *          by pthread_once).
 *
 * Canonical form (what every handler sees, whatever the socket format):
 *   - field names are the proto (snake_case) names;
 *   - zero values of plain fields are omitted (false, 0, "", empty repeated,
 *     empty map, unset message); a set oneof member is always present, even
 *     when its value is zero;
 *   - int64, uint64, sint64, fixed64, sfixed64 and the Int64Value/UInt64Value
 *     wrappers are JSON strings ("op_code":"1"); 32-bit integers and enums are
 *     JSON numbers; float/double are numbers, or "NaN", "Infinity",
 *     "-Infinity";
 *   - bytes are standard padded base64;
 *   - wrappers (google.protobuf.*Value) are bare values, and a present
 *     wrapper is emitted even when its value is zero ("persistence":false);
 *   - google.protobuf.Timestamp is an RFC 3339 UTC string,
 *     "2024-01-02T03:04:05Z" (whole seconds; a non-zero nanos part adds 3, 6
 *     or 9 fractional digits, as protojson does);
 *   - maps are JSON objects (keys rendered as strings);
 *   - an empty message is {}.
 * Unknown fields inside protobuf input are skipped (as Go's proto.Unmarshal
 * keeps them without complaint); unknown fields in JSON input are an error
 * unless TOMO_CODEC_IGNORE_UNKNOWN is passed to an _ex function. */
#ifndef TOMO_CODEC_CODEC_H
#define TOMO_CODEC_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/* Deepest message nesting accepted in either direction; deeper input is
 * rejected with TOMO_EINVAL (guards the recursion against hostile input). */
#define TOMO_CODEC_MAX_DEPTH 64

/* Flags for the _ex functions. */
enum {
    /* Skip JSON keys that name no field (REST semantics) instead of failing
     * (realtime semantics, the default). */
    TOMO_CODEC_IGNORE_UNKNOWN = 1u << 0,
};

/* The nakama.realtime.Envelope descriptor. Never NULL. */
const ProtobufCMessageDescriptor *tomo_codec_envelope_desc(void);

/* Any message descriptor this module owns, by full proto name
 * ("nakama.realtime.MatchDataSend", "nakama.api.Notification",
 * "google.protobuf.BoolValue", "nakama.realtime.MatchJoin.MetadataEntry").
 * O(log n). Returns NULL if unknown. */
const ProtobufCMessageDescriptor *tomo_codec_desc_by_name(const char *full_name);

/* The request and response messages of a nakama.api.Nakama gRPC method by
 * its short name ("AuthenticateDevice"). Returns 0, or TOMO_ENOTFOUND. */
int tomo_codec_api_method(const char *name, const ProtobufCMessageDescriptor **in,
                          const ProtobufCMessageDescriptor **out);

/* Decode protobuf wire bytes buf[0..len) as message d and render the
 * canonical protojson tree into *out (a new reference: json_decref() it).
 * buf may be NULL when len is 0 (an empty message).
 * Returns 0, or TOMO_EINVAL for malformed wire data, invalid UTF-8 in a
 * string, a timestamp out of range, or nesting deeper than
 * TOMO_CODEC_MAX_DEPTH. *out is untouched on failure. */
int tomo_codec_pb_to_json(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                          json_t **out);

/* Encode the JSON tree `in` (an object, or a bare value for a wrapper /
 * Timestamp descriptor) as protobuf wire bytes of message d.
 * Input accepts snake_case or lowerCamelCase names, null as "unset", 64-bit
 * integers as numbers or strings, 32-bit integers as numbers or strings,
 * enums as numbers or value names, bytes as base64 (standard or URL-safe
 * alphabet, padded or not), wrappers as bare values, timestamps as RFC 3339.
 * On success returns 0 and *out is a malloc()ed buffer of *outlen bytes that
 * the caller free()s (a non-NULL pointer even when *outlen is 0).
 * On failure returns TOMO_EINVAL, leaves *out and *outlen untouched and, if err
 * is not NULL, writes a NUL-terminated reason of at most errlen bytes that
 * names the field and message (e.g. `unknown field "foo" in
 * nakama.realtime.Envelope`). */
int tomo_codec_json_to_pb(const ProtobufCMessageDescriptor *d, const json_t *in, uint8_t **out,
                          size_t *outlen, char *err, size_t errlen);
int tomo_codec_json_to_pb_ex(const ProtobufCMessageDescriptor *d, const json_t *in, unsigned flags,
                             uint8_t **out, size_t *outlen, char *err, size_t errlen);

/* Validate the JSON tree `in` against message d (same input rules and
 * errors as tomo_codec_json_to_pb) and return its canonical form in *out (a
 * new reference). The result is exactly what tomo_codec_pb_to_json() gives
 * for the equivalent protobuf frame: received zero values of plain fields
 * are DROPPED ({"reliable":false,"op_code":0} -> {}), explicit wrapper values
 * are KEPT ("persistence":false), a set oneof member is kept even if zero,
 * and null means unset. This is what the server runs on JSON text frames;
 * a non-zero return means "malformed frame" (Nakama closes the socket).
 * `in` is not modified. */
int tomo_codec_json_normalize(const ProtobufCMessageDescriptor *d, const json_t *in, json_t **out,
                              char *err, size_t errlen);
int tomo_codec_json_normalize_ex(const ProtobufCMessageDescriptor *d, const json_t *in,
                                 unsigned flags, json_t **out, char *err, size_t errlen);

#endif
