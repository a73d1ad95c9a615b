/* core/codec_util.h: base64 (standard and URL-safe), percent-decoding and
 * query strings, hex, UUID helpers: the one copy of each for every layer.
 * Owns: nothing; pure functions.
 * Threads: any. */
#ifndef TOMO_CORE_CODEC_UTIL_H
#define TOMO_CORE_CODEC_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Encode n bytes; returns a heap string. url=1: URL alphabet without padding;
 * url=0: standard alphabet, padded. */
char *tomo_b64_encode(const void *p, size_t n, int url);
/* Length of the encoding of n bytes (without the NUL). */
size_t tomo_b64_encoded_len(size_t n, int url);
/* Encode into out (tomo_b64_encoded_len(n, url) + 1 bytes); NUL-terminated;
 * returns the length. */
size_t tomo_b64_encode_to(const void *p, size_t n, int url, char *out);
/* Decode base64 the way protojson reads bytes: a '-' or '_' anywhere selects
 * the URL alphabet (alphabets never mix), a length that is a multiple of 4
 * may end in one or two '=', any other length is unpadded. Returns 0 with
 * the bytes in a heap buffer *out (NUL-terminated for convenience), or
 * TOMO_EINVAL. */
int tomo_b64_decode(const char *s, size_t n, uint8_t **out, size_t *outlen);
/* The same into out, which holds tomo_b64_decoded_max(n) bytes. */
size_t tomo_b64_decoded_max(size_t n);
int tomo_b64_decode_to(const char *s, size_t n, uint8_t *out, size_t *outlen);

/* Percent-decode s[0..n) ("%41" -> "A"; a '%' not followed by two hex
 * digits stays as is). plus_space=1 turns '+' into ' ' (query strings and
 * form bodies); paths keep '+'. decode_to writes at most n + 1 bytes
 * (NUL-terminated) and may decode in place (out == s); returns the length.
 * The decoded bytes may contain NUL or invalid UTF-8: callers that need
 * text check. */
size_t tomo_pct_decode_to(const char *s, size_t n, int plus_space, char *out);
char *tomo_pct_decode(const char *s, size_t n, int plus_space);
/* First value of query parameter `name` in q ("a=1&b=2", no '?'; may be
 * NULL), percent-decoded with '+' as space, in a heap string; "" for a bare
 * "name" or "name="; NULL when absent. */
char *tomo_query_get(const char *q, const char *name);
/* Every parameter of q as a JSON object name -> array of strings (decoded
 * as tomo_query_get does; a value that is not UTF-8 becomes ""). New
 * reference. */
struct json_t *tomo_query_params(const char *q);

/* Lower-case hex of n bytes into out (2n+1). */
void tomo_hex(const void *p, size_t n, char *out);

/* UUIDs as 36-char canonical strings into out[37]. */
void tomo_uuid_v4(char out[37]);
void tomo_uuid_v1(char out[37]);
/* A time-ordered UUID (version 7 layout: unix ms, then a counter, then
 * random bits) whose text sorts in creation order within this process, even
 * for ids made in the same millisecond or after the clock stepped back.
 * Returns the millisecond written into the id (>= every earlier one): use it
 * as the row's create time so (create_time, id) order is creation order. */
int64_t tomo_uuid_v7(char out[37]);
/* UUIDv5 of name in the DNS namespace. */
void tomo_uuid_v5_dns(const char *name, size_t n, char out[37]);
/* 1 if s is a canonical UUID string (any version, case-insensitive). */
int tomo_uuid_valid(const char *s);

#define TOMO_SYSTEM_USER_ID "00000000-0000-0000-0000-000000000000"

#endif
