/* core/common.c: allocation, time and randomness helpers. */
#define _GNU_SOURCE
#include "common.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

const char *tomo_strerror(int rc)
{
    switch (rc) {
    case TOMO_OK: return "OK";
    case TOMO_EINVAL: return "EINVAL";
    case TOMO_ENOTFOUND: return "ENOTFOUND";
    case TOMO_ETOOBIG: return "ETOOBIG";
    case TOMO_EAGAIN: return "EAGAIN";
    case TOMO_EDB: return "EDB";
    case TOMO_ECONFLICT: return "ECONFLICT";
    case TOMO_EUNAVAIL: return "EUNAVAIL";
    case TOMO_EPERM: return "EPERM";
    case TOMO_EAUTH: return "EAUTH";
    case TOMO_EIO: return "EIO";
    case TOMO_ETIMEOUT: return "ETIMEOUT";
    default: return "EUNKNOWN";
    }
}

static void oom(void)
{
    static const char msg[] = "{\"level\":\"fatal\",\"msg\":\"out of memory\"}\n";
    fwrite(msg, 1, sizeof(msg) - 1, stderr);
    abort();
}

void *tomo_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *tomo_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *tomo_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom();
    return q;
}

char *tomo_xstrdup(const char *s)
{
    return tomo_xstrndup(s, strlen(s));
}

char *tomo_xstrndup(const char *s, size_t n)
{
    char *p = tomo_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *tomo_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = NULL;
    int n = vasprintf(&out, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom();
    return out;
}

/* Tests only: a pinned wall clock (0: the real one). Relaxed atomics: a
 * test sets it between operations, never racing a reader it cares about. */
static _Atomic int64_t g_clock_pinned_ms;

void tomo_clock_pin_ms(int64_t ms)
{
    atomic_store_explicit(&g_clock_pinned_ms, ms, memory_order_relaxed);
}

int64_t tomo_now_ms(void)
{
    int64_t pinned = atomic_load_explicit(&g_clock_pinned_ms, memory_order_relaxed);
    if (pinned)
        return pinned;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tomo_now_sec(void)
{
    int64_t pinned = atomic_load_explicit(&g_clock_pinned_ms, memory_order_relaxed);
    if (pinned)
        return pinned / 1000;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

uint64_t tomo_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void tomo_random_bytes(void *buf, size_t n)
{
    if (RAND_bytes(buf, (int)n) != 1)
        abort();
}

int tomo_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return 0;
    return CRYPTO_memcmp(a, b, alen) == 0;
}

static void digits(char *p, unsigned v, int n)
{
    while (n-- > 0) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

void tomo_rfc3339(int64_t unix_sec, char buf[32])
{
    /* Years 1000-9999 (every time a row holds) by civil-from-days
     * arithmetic: gmtime_r takes glibc's time-zone lock on every call, which
     * list pages paid per row. Anything else as strftime prints it. */
    if (unix_sec >= -30610224000LL && unix_sec < 253402300800LL) {
        int64_t days = unix_sec >= 0 ? unix_sec / 86400 : -((-unix_sec + 86399) / 86400);
        int64_t sec = unix_sec - days * 86400;
        int64_t z = days + 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        unsigned doe = (unsigned)(z - era * 146097);
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        unsigned mp = (5 * doy + 2) / 153;
        unsigned d = doy - (153 * mp + 2) / 5 + 1;
        unsigned m = mp < 10 ? mp + 3 : mp - 9;
        unsigned y = (unsigned)((int64_t)yoe + era * 400 + (m <= 2));
        digits(buf, y, 4);
        buf[4] = '-';
        digits(buf + 5, m, 2);
        buf[7] = '-';
        digits(buf + 8, d, 2);
        buf[10] = 'T';
        digits(buf + 11, (unsigned)(sec / 3600), 2);
        buf[13] = ':';
        digits(buf + 14, (unsigned)(sec / 60 % 60), 2);
        buf[16] = ':';
        digits(buf + 17, (unsigned)(sec % 60), 2);
        buf[19] = 'Z';
        buf[20] = 0;
        return;
    }
    time_t t = (time_t)unix_sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- redaction ---- */

/* Appends p[0..n) to the growing string *b (length *len, capacity *cap). */
static void put(char **b, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *b = tomo_xrealloc(*b, *cap);
    }
    memcpy(*b + *len, p, n);
    *len += n;
    (*b)[*len] = '\0';
}

static int is_sep(char c) { return c == '?' || c == '&' || c == ' ' || c == ';' || c == '\t'; }

static int key_is_secret(const char *k, size_t n)
{
    for (size_t i = 0; i + 8 <= n; i++)
        if (!strncasecmp(k + i, "password", 8))
            return 1;
    return 0;
}

char *tomo_redact_dsn(const char *dsn)
{
    static const char red[] = "<redacted>";
    size_t n = strlen(dsn), len = 0, cap = n + 32;
    char *b = tomo_xmalloc(cap);
    b[0] = '\0';
    size_t i = 0;
    /* [scheme://]user:secret@host: the user-info ends at the last '@' of
     * the authority (which ends at the first '/', '?', '#' or blank).
     * Without a scheme, a '=' there means the libpq keyword form instead. */
    const char *scheme = strstr(dsn, "://");
    size_t start = scheme ? (size_t)(scheme - dsn) + 3 : 0;
    size_t auth_end = start + strcspn(dsn + start, "/?# ");
    if (scheme || !memchr(dsn, '=', auth_end)) {
        size_t at = 0;
        int have_at = 0;
        for (size_t k = start; k < auth_end; k++)
            if (dsn[k] == '@')
                at = k, have_at = 1;
        const char *colon = have_at ? memchr(dsn + start, ':', at - start) : NULL;
        if (colon) {
            put(&b, &len, &cap, dsn, (size_t)(colon - dsn) + 1);
            put(&b, &len, &cap, red, sizeof(red) - 1);
            i = at;
        }
    }
    /* key=value parameters, '?'/'&' separated (URLs) or blank separated
     * (libpq keywords; a value may be 'single quoted' with \' escapes). */
    size_t key_start = i;
    while (i < n) {
        char c = dsn[i];
        if (is_sep(c)) {
            put(&b, &len, &cap, dsn + i, 1);
            key_start = ++i;
            continue;
        }
        if (c != '=') {
            put(&b, &len, &cap, dsn + i, 1);
            i++;
            continue;
        }
        /* dsn[key_start..i) is the key; find the value's end. */
        int secret = key_is_secret(dsn + key_start, i - key_start);
        put(&b, &len, &cap, "=", 1);
        size_t v = ++i;
        if (v < n && dsn[v] == '\'') {
            i++;
            while (i < n && dsn[i] != '\'') {
                if (dsn[i] == '\\' && i + 1 < n)
                    i++;
                i++;
            }
            if (i < n)
                i++; /* closing quote */
        } else {
            while (i < n && dsn[i] != '&' && dsn[i] != ' ' && dsn[i] != ';' && dsn[i] != '\t' &&
                   dsn[i] != '#')
                i++;
        }
        if (secret && i > v)
            put(&b, &len, &cap, red, sizeof(red) - 1);
        else
            put(&b, &len, &cap, dsn + v, i - v);
        key_start = i;
    }
    return b;
}
