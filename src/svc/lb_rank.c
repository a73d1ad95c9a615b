/* svc/lb_rank.c: order-statistic treap for leaderboard ranks (see lb_rank.h).
 *
 * Nodes live in one growable array addressed by 32-bit index (0 = none), so
 * a ranked owner costs about 48 bytes of tree plus 8 bytes of hash slots;
 * a million owners fit in ~60 MB. Insert and erase are split/merge on the
 * key; rank walks from the root adding left-subtree sizes. */
#include "lb_rank.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"

typedef struct node {
    int64_t score, subscore;
    uint8_t owner[16];
    uint32_t l, r, size, prio;
    uint32_t in_tree; /* 0: tombstone (deleted while filling) or free */
} node;

#define EMPTY 0u
#define GONE UINT32_MAX /* deleted hash slot */

struct tomo_lb_rank {
    pthread_rwlock_t lock;
    atomic_int refs;
    int desc, filling;
    node *n;          /* n[0] unused */
    uint32_t cap, used, free_head, count;
    uint32_t *slots;  /* owner -> node index; open addressing, power of two */
    uint32_t nslots, slots_used;
    uint64_t rng;
};

static uint64_t mix(const uint8_t o[16])
{
    uint64_t a, b;
    memcpy(&a, o, 8);
    memcpy(&b, o + 8, 8);
    uint64_t x = a ^ (b * 0x9e3779b97f4a7c15ull);
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint32_t next_prio(tomo_lb_rank *r)
{
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    return (uint32_t)(r->rng >> 16);
}

tomo_lb_rank *tomo_lb_rank_new(int desc)
{
    tomo_lb_rank *r = tomo_xcalloc(1, sizeof(*r));
    pthread_rwlock_init(&r->lock, NULL);
    atomic_init(&r->refs, 1);
    r->desc = desc;
    r->cap = 64;
    r->used = 1;
    r->n = tomo_xcalloc(r->cap, sizeof(node));
    r->nslots = 128;
    r->slots = tomo_xcalloc(r->nslots, sizeof(uint32_t));
    r->rng = 0x2545f4914f6cdd1dull ^ (uint64_t)(uintptr_t)r;
    return r;
}

void tomo_lb_rank_ref(tomo_lb_rank *r)
{
    atomic_fetch_add(&r->refs, 1);
}

void tomo_lb_rank_unref(tomo_lb_rank *r)
{
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    pthread_rwlock_destroy(&r->lock);
    free(r->n);
    free(r->slots);
    free(r);
}

/* <0 when a ranks before b. */
static int cmp(const tomo_lb_rank *r, int64_t as, int64_t ass, const uint8_t *ao, const node *b)
{
    int c;
    if (as != b->score)
        c = as < b->score ? -1 : 1;
    else if (ass != b->subscore)
        c = ass < b->subscore ? -1 : 1;
    else
        c = memcmp(ao, b->owner, 16);
    return r->desc ? -c : c;
}

static uint32_t sz(const tomo_lb_rank *r, uint32_t i)
{
    return i ? r->n[i].size : 0;
}

static void pull(tomo_lb_rank *r, uint32_t i)
{
    r->n[i].size = 1 + sz(r, r->n[i].l) + sz(r, r->n[i].r);
}

/* Split t into keys before k (*a) and keys at or after k (*b). */
static void split(tomo_lb_rank *r, uint32_t t, int64_t s, int64_t ss, const uint8_t *o, uint32_t *a,
                  uint32_t *b)
{
    if (!t) {
        *a = *b = 0;
        return;
    }
    if (cmp(r, s, ss, o, &r->n[t]) > 0) {
        /* node t before k: it and its left side go to a */
        uint32_t ra, rb;
        split(r, r->n[t].r, s, ss, o, &ra, &rb);
        r->n[t].r = ra;
        pull(r, t);
        *a = t;
        *b = rb;
    } else {
        uint32_t la, lb;
        split(r, r->n[t].l, s, ss, o, &la, &lb);
        r->n[t].l = lb;
        pull(r, t);
        *a = la;
        *b = t;
    }
}

static uint32_t merge(tomo_lb_rank *r, uint32_t a, uint32_t b)
{
    if (!a || !b)
        return a ? a : b;
    if (r->n[a].prio > r->n[b].prio) {
        r->n[a].r = merge(r, r->n[a].r, b);
        pull(r, a);
        return a;
    }
    r->n[b].l = merge(r, a, r->n[b].l);
    pull(r, b);
    return b;
}

static uint32_t root_of(tomo_lb_rank *r)
{
    return r->n[0].l; /* the root hangs off the unused node 0 */
}

static void set_root(tomo_lb_rank *r, uint32_t t)
{
    r->n[0].l = t;
}

static void tree_insert(tomo_lb_rank *r, uint32_t i)
{
    uint32_t a, b;
    node *x = &r->n[i];
    x->l = x->r = 0;
    x->size = 1;
    x->in_tree = 1;
    split(r, root_of(r), x->score, x->subscore, x->owner, &a, &b);
    set_root(r, merge(r, merge(r, a, i), b));
    r->count++;
}

/* Remove node i (present in the tree) by its key. */
static uint32_t erase(tomo_lb_rank *r, uint32_t t, uint32_t i)
{
    if (!t)
        return 0;
    if (t == i) {
        uint32_t m = merge(r, r->n[t].l, r->n[t].r);
        return m;
    }
    if (cmp(r, r->n[i].score, r->n[i].subscore, r->n[i].owner, &r->n[t]) < 0)
        r->n[t].l = erase(r, r->n[t].l, i);
    else
        r->n[t].r = erase(r, r->n[t].r, i);
    pull(r, t);
    return t;
}

static void tree_remove(tomo_lb_rank *r, uint32_t i)
{
    set_root(r, erase(r, root_of(r), i));
    r->n[i].in_tree = 0;
    r->count--;
}

static int64_t rank_key(const tomo_lb_rank *r, int64_t s, int64_t ss, const uint8_t *o)
{
    int64_t before = 0;
    uint32_t t = r->n[0].l;
    while (t) {
        int c = cmp(r, s, ss, o, &r->n[t]);
        if (c < 0) {
            t = r->n[t].l;
        } else if (c == 0) {
            return before + sz(r, r->n[t].l) + 1;
        } else {
            before += sz(r, r->n[t].l) + 1;
            t = r->n[t].r;
        }
    }
    return before + 1;
}

/* ---- owner index ---- */

static uint32_t *slot_find(tomo_lb_rank *r, const uint8_t o[16])
{
    uint32_t mask = r->nslots - 1, h = (uint32_t)mix(o) & mask;
    for (;;) {
        uint32_t v = r->slots[h];
        if (v == EMPTY)
            return NULL;
        if (v != GONE && !memcmp(r->n[v].owner, o, 16))
            return &r->slots[h];
        h = (h + 1) & mask;
    }
}

static void slot_add(tomo_lb_rank *r, uint32_t i);

static void rehash(tomo_lb_rank *r, uint32_t nslots)
{
    uint32_t *old = r->slots, oldn = r->nslots;
    r->slots = tomo_xcalloc(nslots, sizeof(uint32_t));
    r->nslots = nslots;
    r->slots_used = 0;
    for (uint32_t k = 0; k < oldn; k++)
        if (old[k] != EMPTY && old[k] != GONE)
            slot_add(r, old[k]);
    free(old);
}

static void slot_add(tomo_lb_rank *r, uint32_t i)
{
    if ((r->slots_used + 1) * 2 > r->nslots)
        rehash(r, r->nslots * 2);
    uint32_t mask = r->nslots - 1, h = (uint32_t)mix(r->n[i].owner) & mask;
    while (r->slots[h] != EMPTY && r->slots[h] != GONE)
        h = (h + 1) & mask;
    if (r->slots[h] == EMPTY)
        r->slots_used++;
    r->slots[h] = i;
}

static uint32_t node_new(tomo_lb_rank *r, const uint8_t o[16], int64_t s, int64_t ss)
{
    uint32_t i;
    if (r->free_head) {
        i = r->free_head;
        r->free_head = r->n[i].l;
    } else {
        if (r->used == r->cap) {
            r->cap *= 2;
            r->n = tomo_xrealloc(r->n, (size_t)r->cap * sizeof(node));
        }
        i = r->used++;
    }
    node *x = &r->n[i];
    memset(x, 0, sizeof(*x));
    memcpy(x->owner, o, 16);
    x->score = s;
    x->subscore = ss;
    x->prio = next_prio(r);
    return i;
}

static void node_free(tomo_lb_rank *r, uint32_t i)
{
    r->n[i].in_tree = 0;
    r->n[i].l = r->free_head;
    r->free_head = i;
}

/* ---- public ---- */

int64_t tomo_lb_rank_put(tomo_lb_rank *r, const uint8_t owner[16], int64_t score,
                         int64_t subscore)
{
    pthread_rwlock_wrlock(&r->lock);
    uint32_t *slot = slot_find(r, owner), i;
    if (slot) {
        i = *slot;
        if (r->n[i].in_tree)
            tree_remove(r, i);
        r->n[i].score = score;
        r->n[i].subscore = subscore;
    } else {
        i = node_new(r, owner, score, subscore);
        slot_add(r, i);
    }
    tree_insert(r, i);
    int64_t rank = rank_key(r, score, subscore, owner);
    pthread_rwlock_unlock(&r->lock);
    return rank;
}

void tomo_lb_rank_remove(tomo_lb_rank *r, const uint8_t owner[16])
{
    pthread_rwlock_wrlock(&r->lock);
    uint32_t *slot = slot_find(r, owner);
    if (slot) {
        uint32_t i = *slot;
        if (r->n[i].in_tree)
            tree_remove(r, i);
        if (!r->filling) {
            *slot = GONE;
            node_free(r, i);
        }
    } else if (r->filling) {
        uint32_t i = node_new(r, owner, 0, 0); /* tombstone: the loader must not add it */
        slot_add(r, i);
    }
    pthread_rwlock_unlock(&r->lock);
}

int64_t tomo_lb_rank_get(tomo_lb_rank *r, const uint8_t owner[16])
{
    int64_t rank = 0;
    pthread_rwlock_rdlock(&r->lock);
    uint32_t *slot = slot_find(r, owner);
    if (slot && r->n[*slot].in_tree) {
        const node *x = &r->n[*slot];
        rank = rank_key(r, x->score, x->subscore, x->owner);
    }
    pthread_rwlock_unlock(&r->lock);
    return rank;
}

int tomo_lb_rank_key(tomo_lb_rank *r, const uint8_t owner[16], int64_t *score, int64_t *subscore)
{
    int rc = TOMO_ENOTFOUND;
    pthread_rwlock_rdlock(&r->lock);
    uint32_t *slot = slot_find(r, owner);
    if (slot && r->n[*slot].in_tree) {
        *score = r->n[*slot].score;
        *subscore = r->n[*slot].subscore;
        rc = 0;
    }
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

int64_t tomo_lb_rank_of_key(tomo_lb_rank *r, const uint8_t owner[16], int64_t score,
                            int64_t subscore)
{
    pthread_rwlock_rdlock(&r->lock);
    int64_t rank = rank_key(r, score, subscore, owner);
    pthread_rwlock_unlock(&r->lock);
    return rank;
}

int64_t tomo_lb_rank_count(tomo_lb_rank *r)
{
    pthread_rwlock_rdlock(&r->lock);
    int64_t n = r->count;
    pthread_rwlock_unlock(&r->lock);
    return n;
}

void tomo_lb_rank_fill_begin(tomo_lb_rank *r)
{
    pthread_rwlock_wrlock(&r->lock);
    r->filling = 1;
    pthread_rwlock_unlock(&r->lock);
}

void tomo_lb_rank_fill(tomo_lb_rank *r, const uint8_t owner[16], int64_t score, int64_t subscore)
{
    pthread_rwlock_wrlock(&r->lock);
    if (!slot_find(r, owner)) {
        uint32_t i = node_new(r, owner, score, subscore);
        slot_add(r, i);
        tree_insert(r, i);
    }
    pthread_rwlock_unlock(&r->lock);
}

void tomo_lb_rank_fill_many(tomo_lb_rank *r, const tomo_lb_rank_entry *e, size_t n)
{
    pthread_rwlock_wrlock(&r->lock);
    for (size_t k = 0; k < n; k++) {
        if (!slot_find(r, e[k].owner)) {
            uint32_t i = node_new(r, e[k].owner, e[k].score, e[k].subscore);
            slot_add(r, i);
            tree_insert(r, i);
        }
    }
    pthread_rwlock_unlock(&r->lock);
}

void tomo_lb_rank_fill_end(tomo_lb_rank *r)
{
    pthread_rwlock_wrlock(&r->lock);
    r->filling = 0;
    for (uint32_t k = 0; k < r->nslots; k++) {
        uint32_t i = r->slots[k];
        if (i != EMPTY && i != GONE && !r->n[i].in_tree) {
            r->slots[k] = GONE;
            node_free(r, i);
        }
    }
    pthread_rwlock_unlock(&r->lock);
}

int tomo_lb_rank_filling(tomo_lb_rank *r)
{
    pthread_rwlock_rdlock(&r->lock);
    int f = r->filling;
    pthread_rwlock_unlock(&r->lock);
    return f;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int tomo_lb_uuid_parse(const char *s, uint8_t out[16])
{
    if (!s || strlen(s) != 36)
        return TOMO_EINVAL;
    int k = 0;
    for (int i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return TOMO_EINVAL;
            i++;
            continue;
        }
        int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0)
            return TOMO_EINVAL;
        out[k++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return 0;
}

void tomo_lb_uuid_format(const uint8_t u[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    int k = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[k++] = '-';
        out[k++] = hex[u[i] >> 4];
        out[k++] = hex[u[i] & 15];
    }
    out[k] = '\0';
}
