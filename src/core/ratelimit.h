/* core/ratelimit.h: token-bucket rate limits (HTTP per IP and per user,
 * realtime envelopes per user, chat per session) and the client-address rule.
 * Owns: tomo_ratelimit, a fixed-size table of buckets keyed by (class, key);
 *       tomo_ipset, a parsed list of trusted proxy networks.
 * Threads: any. The table is split into sets, each guarded by one of a fixed
 *          number of mutexes held for a few dozen instructions, so the loop
 *          thread never waits behind a worker for long; tomo_bucket itself is
 *          not locked (its owner serialises).
 *
 * Memory is bounded: the table holds at most max_keys buckets. A new key
 * replaces the least recently used bucket of its set, which then starts
 * again from a full burst; keys are stored as a seeded 64-bit hash. */
#ifndef TOMO_CORE_RATELIMIT_H
#define TOMO_CORE_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

/* One bucket: refills at rate tokens/s up to burst. */
typedef struct tomo_bucket {
    double tokens;
    int64_t last_ms;
} tomo_bucket;

/* A full bucket as of now_ms. */
void tomo_bucket_init(tomo_bucket *b, double burst, int64_t now_ms);
/* Take one token. 0 when allowed; TOMO_EAGAIN when empty, with the wait until
 * a token is available in *retry_ms (may be NULL). rate <= 0 never limits. */
int tomo_bucket_take(tomo_bucket *b, double rate, double burst, int64_t now_ms,
                     int64_t *retry_ms);

/* Limit classes: the bucket key space, and the metrics label
 * (rate_limit_refusals_total{class=...}). */
enum {
    TOMO_RL_AUTH = 0, /* per client IP: authenticate and session refresh routes */
    TOMO_RL_DEFAULT,  /* per client IP: every other API route and the socket upgrade */
    TOMO_RL_USER,     /* per user: authenticated REST requests */
    TOMO_RL_SOCKET,   /* per user: realtime envelopes */
    TOMO_RL_CHAT,     /* per session: chat messages (chat.*) */
    TOMO_RL_NCLASSES
};
/* "auth", "default", ... */
const char *tomo_ratelimit_class_name(int cls);
/* Count a refusal in rate_limit_refusals_total (tomo_ratelimit_take does it
 * itself; callers of tomo_bucket_take call this). */
void tomo_ratelimit_count_refusal(int cls);
/* Register the refusal counter with a zero series per class (start-up). */
void tomo_ratelimit_metrics_init(void);

typedef struct tomo_ratelimit tomo_ratelimit;

/* A table of at most max_keys buckets (rounded up to a multiple of the set
 * size; at least one set). */
tomo_ratelimit *tomo_ratelimit_new(size_t max_keys);
void tomo_ratelimit_free(tomo_ratelimit *rl);
/* Take one token from the bucket of (cls, key[0..klen)), creating it full.
 * Result as tomo_bucket_take; a refusal is counted. */
int tomo_ratelimit_take(tomo_ratelimit *rl, int cls, const char *key, size_t klen, double rate,
                        double burst, int64_t now_ms, int64_t *retry_ms);
/* Buckets in use (tests, metrics). */
size_t tomo_ratelimit_size(tomo_ratelimit *rl);

/* Trusted proxies: a list of IPv4/IPv6 addresses or CIDR networks. */
typedef struct tomo_ipset tomo_ipset;

/* Parse entries ("10.0.0.0/8", "::1", "192.168.1.7"). NULL with a message
 * naming the bad entry in err on failure. n == 0 gives an empty set. */
tomo_ipset *tomo_ipset_parse(char *const *entries, size_t n, char *err, size_t errlen);
void tomo_ipset_free(tomo_ipset *s);
/* 1 if the textual address ip is in the set (0 for a malformed address). */
int tomo_ipset_contains(const tomo_ipset *s, const char *ip);

/* The client address of a request from peer with X-Forwarded-For value xff
 * (NULL if absent): the peer itself unless it is a trusted proxy; then the
 * rightmost XFF entry that is not a trusted proxy (an untrusted client can
 * prepend anything, so entries left of it are not believed). Writes into
 * out (NUL-terminated, truncated to outlen). */
void tomo_ratelimit_client_ip(const tomo_ipset *trusted, const char *peer, const char *xff,
                              char *out, size_t outlen);

#endif
