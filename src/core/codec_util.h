/* core/codec_util.h: base64 (standard and URL-safe), hex, UUID helpers.
 * Owns: nothing; pure functions.
 * Threads: any. */
#ifndef TOMO_CORE_CODEC_UTIL_H
#define TOMO_CORE_CODEC_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Encode n bytes; returns a heap string. url=1: URL alphabet without padding. */
char *tomo_b64_encode(const void *p, size_t n, int url);
/* Decode standard or URL-safe base64, padded or not. Returns bytes written to
 * a heap buffer *out (NUL-terminated for convenience), or TOMO_EINVAL. */
int tomo_b64_decode(const char *s, size_t n, uint8_t **out, size_t *outlen);

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
