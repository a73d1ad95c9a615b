/* core/hmap.h: the one hash map of the server: open addressing, from C
 * strings to pointers.
 * Owns: its slot array only. Keys are borrowed: each key must stay valid
 *       (usually it lives inside the value) until it is removed.
 * Threads: not thread-safe: one owner (a loop thread, or callers holding
 *          the owner's lock).
 *
 * Linear probing with tombstones, FNV-1a hashes cached in the slots, growth
 * at 70% load (tombstones included), so lookups stay O(1) on average. */
#ifndef TOMO_CORE_HMAP_H
#define TOMO_CORE_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct tomo_hmap_slot {
    uint32_t hash;
    const char *key; /* NULL: empty; tomo_hmap_tomb: deleted */
    void *val;
} tomo_hmap_slot;

typedef struct tomo_hmap {
    tomo_hmap_slot *slots;
    size_t cap;   /* power of two, or 0 */
    size_t count; /* live entries */
    size_t used;  /* live + tombstones */
} tomo_hmap;

extern const char tomo_hmap_tomb[];

uint32_t tomo_hmap_hash(const char *key);
void tomo_hmap_init(tomo_hmap *m);
void tomo_hmap_free(tomo_hmap *m);
/* Value for key, or NULL. */
void *tomo_hmap_get(const tomo_hmap *m, const char *key);
/* Insert or replace; returns the previous value or NULL. */
void *tomo_hmap_put(tomo_hmap *m, const char *key, void *val);
/* Remove; returns the removed value or NULL. */
void *tomo_hmap_del(tomo_hmap *m, const char *key);

/* Iterate: for (size_t i = 0; (i = tomo_hmap_next(m, i, &k, &v)) != 0;)
 * Do not insert while iterating; deleting the current key is allowed. */
size_t tomo_hmap_next(const tomo_hmap *m, size_t i, const char **key, void **val);

#endif
