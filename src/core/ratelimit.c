/* core/ratelimit.c: token buckets, the bounded bucket table, trusted proxies. */
#define _GNU_SOURCE
#include "ratelimit.h"

#include "common.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tomo_bucket_init(tomo_bucket *b, double burst, int64_t now_ms)
{
    b->tokens = burst;
    b->last_ms = now_ms;
}

int tomo_bucket_take(tomo_bucket *b, double rate, double burst, int64_t now_ms,
                     int64_t *retry_ms)
{
    if (rate <= 0)
        return 0;
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * rate / 1000.0;
        b->last_ms = now_ms;
    }
    if (b->tokens > burst)
        b->tokens = burst;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    if (retry_ms)
        *retry_ms = (int64_t)ceil((1.0 - b->tokens) * 1000.0 / rate);
    return TOMO_EAGAIN;
}

static const char *const class_names[TOMO_RL_NCLASSES] = {"auth", "default", "user", "socket",
                                                          "chat"};

const char *tomo_ratelimit_class_name(int cls)
{
    return cls >= 0 && cls < TOMO_RL_NCLASSES ? class_names[cls] : "other";
}

static tomo_metric *refusals(void)
{
    return tomo_metrics_counter("rate_limit_refusals_total",
                                "Requests and messages refused by a rate limit, by class", "class");
}

void tomo_ratelimit_count_refusal(int cls)
{
    tomo_metric_add(refusals(), (const char *[]){tomo_ratelimit_class_name(cls)}, 1);
}

void tomo_ratelimit_metrics_init(void)
{
    tomo_metric *m = refusals();
    for (int i = 0; i < TOMO_RL_NCLASSES; i++)
        tomo_metric_add(m, (const char *[]){class_names[i]}, 0);
}

/* ---- the table ---- */

enum { WAYS = 8, NLOCKS = 64 };

typedef struct slot {
    uint64_t h; /* 0 = empty */
    tomo_bucket b;
} slot;

struct tomo_ratelimit {
    slot *slots;
    size_t nsets;
    uint64_t seed;
    pthread_mutex_t locks[NLOCKS];
};

tomo_ratelimit *tomo_ratelimit_new(size_t max_keys)
{
    tomo_ratelimit *rl = tomo_xcalloc(1, sizeof(*rl));
    rl->nsets = (max_keys + WAYS - 1) / WAYS;
    if (rl->nsets == 0)
        rl->nsets = 1;
    rl->slots = tomo_xcalloc(rl->nsets * WAYS, sizeof(slot));
    tomo_random_bytes(&rl->seed, sizeof(rl->seed));
    for (int i = 0; i < NLOCKS; i++)
        pthread_mutex_init(&rl->locks[i], NULL);
    return rl;
}

void tomo_ratelimit_free(tomo_ratelimit *rl)
{
    if (!rl)
        return;
    for (int i = 0; i < NLOCKS; i++)
        pthread_mutex_destroy(&rl->locks[i]);
    free(rl->slots);
    free(rl);
}

/* FNV-1a over a random seed, finished with a 64-bit mix: keys an attacker
 * picks (addresses, ids) do not aim at one set without knowing the seed. */
static uint64_t hash_key(uint64_t seed, int cls, const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ seed ^ ((uint64_t)(unsigned)cls << 56);
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h ? h : 1;
}

int tomo_ratelimit_take(tomo_ratelimit *rl, int cls, const char *key, size_t klen, double rate,
                        double burst, int64_t now_ms, int64_t *retry_ms)
{
    if (rate <= 0)
        return 0;
    uint64_t h = hash_key(rl->seed, cls, key, klen);
    size_t set = (size_t)(h % rl->nsets);
    slot *s = rl->slots + set * WAYS, *hit = NULL, *victim = s;
    pthread_mutex_t *mu = &rl->locks[set % NLOCKS];
    pthread_mutex_lock(mu);
    for (int i = 0; i < WAYS; i++) {
        if (s[i].h == h) {
            hit = &s[i];
            break;
        }
        if (victim->h && (!s[i].h || s[i].b.last_ms < victim->b.last_ms))
            victim = &s[i];
    }
    if (!hit) {
        hit = victim;
        hit->h = h;
        tomo_bucket_init(&hit->b, burst, now_ms);
    }
    int rc = tomo_bucket_take(&hit->b, rate, burst, now_ms, retry_ms);
    pthread_mutex_unlock(mu);
    if (rc < 0)
        tomo_ratelimit_count_refusal(cls);
    return rc;
}

size_t tomo_ratelimit_size(tomo_ratelimit *rl)
{
    size_t n = 0;
    for (size_t i = 0; i < rl->nsets * WAYS; i++) {
        pthread_mutex_t *mu = &rl->locks[(i / WAYS) % NLOCKS];
        pthread_mutex_lock(mu);
        n += rl->slots[i].h != 0;
        pthread_mutex_unlock(mu);
    }
    return n;
}

/* ---- trusted proxies ---- */

typedef struct net {
    int family; /* AF_INET / AF_INET6 */
    uint8_t addr[16];
    int bits;
} net;

struct tomo_ipset {
    net *v;
    size_t n;
};

/* Parses a textual address; an IPv4-mapped IPv6 address counts as IPv4. */
static int parse_addr(const char *s, net *out)
{
    if (inet_pton(AF_INET, s, out->addr) == 1) {
        out->family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, out->addr) == 1) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (!memcmp(out->addr, mapped, 12)) {
            memmove(out->addr, out->addr + 12, 4);
            out->family = AF_INET;
        } else
            out->family = AF_INET6;
        return 0;
    }
    return TOMO_EINVAL;
}

tomo_ipset *tomo_ipset_parse(char *const *entries, size_t n, char *err, size_t errlen)
{
    tomo_ipset *s = tomo_xcalloc(1, sizeof(*s));
    s->v = tomo_xcalloc(n ? n : 1, sizeof(net));
    for (size_t i = 0; i < n; i++) {
        char buf[128];
        snprintf(buf, sizeof(buf), "%s", entries[i]);
        char *slash = strchr(buf, '/');
        if (slash)
            *slash = '\0';
        net *e = &s->v[s->n];
        if (parse_addr(buf, e) < 0)
            goto bad;
        int max = e->family == AF_INET ? 32 : 128;
        e->bits = max;
        if (slash) {
            char *end;
            long b = strtol(slash + 1, &end, 10);
            if (!slash[1] || *end || b < 0 || b > max)
                goto bad;
            e->bits = (int)b;
        }
        s->n++;
        continue;
    bad:
        snprintf(err, errlen, "\"%s\" is not an IP address or CIDR network (e.g. 10.0.0.0/8)",
                 entries[i]);
        tomo_ipset_free(s);
        return NULL;
    }
    return s;
}

void tomo_ipset_free(tomo_ipset *s)
{
    if (!s)
        return;
    free(s->v);
    free(s);
}

int tomo_ipset_contains(const tomo_ipset *s, const char *ip)
{
    net a;
    if (!s || !s->n || parse_addr(ip, &a) < 0)
        return 0;
    for (size_t i = 0; i < s->n; i++) {
        const net *e = &s->v[i];
        if (e->family != a.family)
            continue;
        int full = e->bits / 8, rem = e->bits % 8;
        if (memcmp(e->addr, a.addr, (size_t)full))
            continue;
        if (rem && ((e->addr[full] ^ a.addr[full]) & (uint8_t)(0xff << (8 - rem))))
            continue;
        return 1;
    }
    return 0;
}

void tomo_ratelimit_client_ip(const tomo_ipset *trusted, const char *peer, const char *xff,
                              char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", peer);
    if (!xff || !trusted || !trusted->n || !tomo_ipset_contains(trusted, peer))
        return;
    /* Walk right to left over comma-separated entries. */
    const char *end = xff + strlen(xff);
    while (end > xff) {
        const char *p = end;
        while (p > xff && p[-1] != ',')
            p--;
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        char ip[64];
        if (b > a && (size_t)(b - a) < sizeof(ip)) {
            memcpy(ip, a, (size_t)(b - a));
            ip[b - a] = '\0';
            net tmp;
            if (parse_addr(ip, &tmp) < 0)
                return; /* garbage from a trusted hop's client: keep the last good one */
            snprintf(out, outlen, "%s", ip);
            if (!tomo_ipset_contains(trusted, ip))
                return;
        } else
            return;
        end = p > xff ? p - 1 : xff;
    }
}
