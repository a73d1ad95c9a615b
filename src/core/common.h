/* core/common.h: error codes, allocation helpers, time and small utilities.
 * Owns: nothing (header-only helpers plus core/common.c).
 * Threads: any. */
#ifndef TOMO_CORE_COMMON_H
#define TOMO_CORE_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Error codes: 0 is success, failures are negative TOMO_E* values. */
enum {
    TOMO_OK = 0,
    TOMO_EINVAL = -1,    /* bad input */
    TOMO_ENOTFOUND = -2, /* no such thing */
    TOMO_ETOOBIG = -3,   /* a configured limit was hit */
    TOMO_EAGAIN = -4,    /* try again (queue full, busy) */
    TOMO_EDB = -5,       /* database error */
    TOMO_ECONFLICT = -6, /* unique constraint / already exists */
    TOMO_EUNAVAIL = -7,  /* dependency unavailable (database down) */
    TOMO_EPERM = -8,     /* permission denied */
    TOMO_EAUTH = -9,     /* unauthenticated */
    TOMO_EIO = -10,      /* I/O or system error */
    TOMO_ETIMEOUT = -11, /* deadline exceeded */
};

/* Human-readable name of a TOMO_E* code ("EINVAL"). Never NULL. */
const char *tomo_strerror(int rc);

/* Allocation that aborts on out-of-memory; never returns NULL. */
void *tomo_xmalloc(size_t n);
void *tomo_xcalloc(size_t n, size_t size);
void *tomo_xrealloc(void *p, size_t n);
char *tomo_xstrdup(const char *s);
char *tomo_xstrndup(const char *s, size_t n);
/* printf into a new heap string (free with free()). */
char *tomo_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Wall-clock time in ms / seconds since the epoch; monotonic ns. */
int64_t tomo_now_ms(void);
int64_t tomo_now_sec(void);
/* Tests only: pin tomo_now_ms/tomo_now_sec to ms since the epoch (0 goes
 * back to the real clock), so period boundaries can be crossed on purpose. */
void tomo_clock_pin_ms(int64_t ms);
uint64_t tomo_mono_ns(void);

/* Cryptographically secure random bytes (aborts if the OS RNG fails). */
void tomo_random_bytes(void *buf, size_t n);

/* Constant-time comparison of two byte strings; lengths may differ
 * (the length difference itself is not hidden). Returns 1 if equal. */
int tomo_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* A connection string fit for logs and `config check`: the password of a
 * URL's user-info (scheme://user:secret@host) and the value of every
 * parameter whose name contains "password" (URL query ?password=...,
 * &sslpassword=..., libpq keyword form password=... or password='a b')
 * become "<redacted>"; everything else is kept. Returns a heap string. */
char *tomo_redact_dsn(const char *dsn);

/* Format unix seconds as RFC 3339 UTC "2024-01-02T03:04:05Z" into buf[21+]. */
void tomo_rfc3339(int64_t unix_sec, char buf[32]);

#define TOMO_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define TOMO_UNUSED(x) ((void)(x))

#endif
