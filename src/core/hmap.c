/* core/hmap.c: open-addressing string map (see hmap.h). */
#include "hmap.h"

#include "common.h"

#include <stdlib.h>
#include <string.h>

const char tomo_hmap_tomb[] = "";

uint32_t tomo_hmap_hash(const char *key)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

/* The home slot of a hash. FNV-1a's low bits mix poorly (bit 0 is the
 * parity of the characters' bit 0), and keys such as UUIDv1 session ids or
 * sequential names differ mostly there: a finalizer spreads the high bits
 * down before masking. */
static inline size_t home(uint32_t h, size_t mask)
{
    h ^= h >> 16;
    h *= 0x45d9f3bu;
    h ^= h >> 16;
    return h & mask;
}

void tomo_hmap_init(tomo_hmap *m) { memset(m, 0, sizeof(*m)); }

void tomo_hmap_free(tomo_hmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

static tomo_hmap_slot *find(const tomo_hmap *m, const char *key, uint32_t h)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = home(h, mask);; i = (i + 1) & mask) {
        tomo_hmap_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != tomo_hmap_tomb && s->hash == h && !strcmp(s->key, key))
            return s;
    }
}

static void grow(tomo_hmap *m)
{
    size_t ncap = m->cap ? m->cap : 8;
    /* Double only when live entries need it; otherwise rehash to drop tombstones. */
    while ((m->count + 1) * 10 >= ncap * 7)
        ncap *= 2;
    tomo_hmap_slot *old = m->slots;
    size_t ocap = m->cap;
    m->slots = tomo_xcalloc(ncap, sizeof(*m->slots));
    m->cap = ncap;
    m->used = m->count;
    size_t mask = ncap - 1;
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i].key || old[i].key == tomo_hmap_tomb)
            continue;
        size_t j = home(old[i].hash, mask);
        while (m->slots[j].key)
            j = (j + 1) & mask;
        m->slots[j] = old[i];
    }
    free(old);
}

void *tomo_hmap_get(const tomo_hmap *m, const char *key)
{
    tomo_hmap_slot *s = find(m, key, tomo_hmap_hash(key));
    return s ? s->val : NULL;
}

void *tomo_hmap_put(tomo_hmap *m, const char *key, void *val)
{
    uint32_t h = tomo_hmap_hash(key);
    tomo_hmap_slot *s = find(m, key, h);
    if (s) {
        void *old = s->val;
        s->key = key;
        s->val = val;
        return old;
    }
    if ((m->used + 1) * 10 >= m->cap * 7)
        grow(m);
    size_t mask = m->cap - 1;
    size_t i = home(h, mask);
    while (m->slots[i].key && m->slots[i].key != tomo_hmap_tomb)
        i = (i + 1) & mask;
    if (!m->slots[i].key)
        m->used++;
    m->slots[i].hash = h;
    m->slots[i].key = key;
    m->slots[i].val = val;
    m->count++;
    return NULL;
}

void *tomo_hmap_del(tomo_hmap *m, const char *key)
{
    tomo_hmap_slot *s = find(m, key, tomo_hmap_hash(key));
    if (!s)
        return NULL;
    void *old = s->val;
    s->key = tomo_hmap_tomb;
    s->val = NULL;
    m->count--;
    if (m->count == 0) {
        /* Empty: forget the tombstones too (keep the array). */
        memset(m->slots, 0, m->cap * sizeof(*m->slots));
        m->used = 0;
    }
    return old;
}

size_t tomo_hmap_next(const tomo_hmap *m, size_t i, const char **key, void **val)
{
    for (; i < m->cap; i++) {
        const tomo_hmap_slot *s = &m->slots[i];
        if (s->key && s->key != tomo_hmap_tomb) {
            if (key)
                *key = s->key;
            if (val)
                *val = s->val;
            return i + 1;
        }
    }
    return 0;
}
