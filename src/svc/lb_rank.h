/* svc/lb_rank.h: the rank set of one leaderboard period: an order-statistic
 * treap over (score, subscore, owner) in board order, with an owner index.
 * Owns: tomo_lb_rank (nodes in one array, a hash from owner to node).
 * Threads: every function takes the set's own lock (a read lock for
 *          rank/count, a write lock for changes), so any thread may call
 *          any function. Lifetime: refcounted; tomo_lb_rank_unref frees on
 *          the last reference.
 *
 * Order: a desc board ranks higher score first, then higher subscore, then
 * the owner id descending (lower-case UUID order, i.e. its bytes); an asc
 * board is the exact mirror. Ranks are 1-based; 0 means "not in the set".
 * Every operation is O(log n) expected.
 *
 * Filling from the database while the server already writes: while the set
 * is marked filling, tomo_lb_rank_fill inserts an owner only when the set
 * has not heard of it yet (a live write or delete wins over the loader's
 * possibly older row: a delete leaves a tombstone until the fill ends). */
#ifndef TOMO_SVC_LB_RANK_H
#define TOMO_SVC_LB_RANK_H

#include <stddef.h>
#include <stdint.h>

typedef struct tomo_lb_rank tomo_lb_rank;

/* desc: 1 for a descending board, 0 for ascending. One reference. */
tomo_lb_rank *tomo_lb_rank_new(int desc);
void tomo_lb_rank_ref(tomo_lb_rank *r);
/* Drop a reference; NULL is a no-op. */
void tomo_lb_rank_unref(tomo_lb_rank *r);

/* Insert or move owner to (score, subscore); returns its new rank. */
int64_t tomo_lb_rank_put(tomo_lb_rank *r, const uint8_t owner[16], int64_t score,
                         int64_t subscore);
/* Remove owner (no-op when absent). */
void tomo_lb_rank_remove(tomo_lb_rank *r, const uint8_t owner[16]);
/* Rank of owner, 0 when absent. */
int64_t tomo_lb_rank_get(tomo_lb_rank *r, const uint8_t owner[16]);
/* The (score, subscore) owner is ranked with: 0, or TOMO_ENOTFOUND (-2) when
 * the owner is not in the set. */
int tomo_lb_rank_key(tomo_lb_rank *r, const uint8_t owner[16], int64_t *score, int64_t *subscore);
/* Rank that (score, subscore, owner) has or would have. */
int64_t tomo_lb_rank_of_key(tomo_lb_rank *r, const uint8_t owner[16], int64_t score,
                            int64_t subscore);
/* Number of ranked owners. */
int64_t tomo_lb_rank_count(tomo_lb_rank *r);

/* Fill mode (start-up load). begin marks the set filling; fill inserts an
 * owner not seen yet; end drops tombstones and clears the mark. */
void tomo_lb_rank_fill_begin(tomo_lb_rank *r);
void tomo_lb_rank_fill(tomo_lb_rank *r, const uint8_t owner[16], int64_t score, int64_t subscore);
void tomo_lb_rank_fill_end(tomo_lb_rank *r);
/* tomo_lb_rank_fill for n entries under one lock. */
typedef struct tomo_lb_rank_entry {
    uint8_t owner[16];
    int64_t score, subscore;
} tomo_lb_rank_entry;
void tomo_lb_rank_fill_many(tomo_lb_rank *r, const tomo_lb_rank_entry *e, size_t n);
int tomo_lb_rank_filling(tomo_lb_rank *r);

/* Parse a UUID string (any case, with dashes) into 16 bytes; 0 or
 * TOMO_EINVAL. Format bytes back as lower-case text (37 bytes). */
int tomo_lb_uuid_parse(const char *s, uint8_t out[16]);
void tomo_lb_uuid_format(const uint8_t u[16], char out[37]);

#endif
