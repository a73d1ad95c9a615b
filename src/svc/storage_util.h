/* svc/storage_util.h: pure helpers of the storage service (svc/storage.c).
 * Owns: the list cursor format, the value syntax check, the version hash and
 *       the storage limits.
 * Threads: any; no shared state. */
#ifndef TOMO_SVC_STORAGE_UTIL_H
#define TOMO_SVC_STORAGE_UTIL_H

#include <stddef.h>

/* Objects per write/read/delete request. Nakama has no limit of its own (the
 * request body limit bounds it); ours makes the cost of one transaction
 * predictable. */
#define TOMO_STORAGE_MAX_BATCH 100
/* Bytes of one object's value (the JSON text). */
#define TOMO_STORAGE_MAX_VALUE_BYTES 65536
/* Bytes of a collection name or key (Nakama's columns are VARCHAR(128)). */
#define TOMO_STORAGE_MAX_NAME_BYTES 128

/* Which listing a cursor belongs to; part of the cursor's scope so a cursor
 * cannot be replayed against another listing. */
enum {
    TOMO_STORAGE_LIST_PUBLIC = 1, /* public objects of every owner */
    TOMO_STORAGE_LIST_OWN = 2,    /* the caller's own objects (read 1 and 2) */
    TOMO_STORAGE_LIST_USER = 3,   /* another user's public objects */
    TOMO_STORAGE_LIST_ALL = 4,    /* system caller: every object of every owner */
    TOMO_STORAGE_LIST_OWNER = 5,  /* system caller: every object of one owner */
};

/* Position after the last row of a page: the listing's sort key. */
typedef struct tomo_storage_cursor {
    int read;         /* permission_read of the last row */
    char user_id[37]; /* owner of the last row, canonical lower-case UUID */
    char *key;        /* key of the last row; heap, see tomo_storage_cursor_clear */
} tomo_storage_cursor;

/* Encode the position (read, key, user_id) of a listing identified by
 * (mode, collection, owner; owner NULL or "" for LIST_PUBLIC) as unpadded
 * base64url. Returns a heap string, or NULL if user_id is not a UUID. */
char *tomo_storage_cursor_encode(int mode, const char *collection, const char *owner, int read,
                                 const char *key, const char *user_id);

/* Decode a cursor for the listing (mode, collection, owner). 0 and *out
 * filled (clear it afterwards), or TOMO_EINVAL when the text is malformed,
 * was made for another listing, or names a position that listing cannot
 * produce (e.g. read 0 for a client listing). */
int tomo_storage_cursor_decode(const char *text, int mode, const char *collection,
                               const char *owner, tomo_storage_cursor *out);
/* Free the key; NULL and cleared cursors are fine. */
void tomo_storage_cursor_clear(tomo_storage_cursor *c);

/* 1 when s[0..n) is exactly one JSON object (RFC 8259 syntax, surrounding
 * whitespace allowed), else 0. Builds no tree and accepts numbers of any
 * size, as Nakama's check does; nesting deeper than 512 levels is refused. */
int tomo_storage_value_is_object(const char *s, size_t n);

/* The object version: lower-case hex MD5 of the value text. */
void tomo_storage_version(const char *value, size_t n, char out[33]);

#endif
