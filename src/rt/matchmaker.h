/* rt/matchmaker.h: the matchmaker: tickets, their query index and the
 * interval matcher; and the realtime seam for a runtime
 * `register_matchmaker_matched` hook.
 * Owns: tomo_mm (every ticket, the keyword index field:value -> tickets in
 *       creation order, the maps session -> tickets and party -> tickets)
 *       and each tomo_mm_ticket (its presences, properties, parsed query and
 *       flattened document).
 * Borrows: nothing: presences and properties are copied in. The matcher
 *          does not know sessions; rt/matchmaker_rt.c connects it to them.
 * Threads: one thread (the loop thread in the server; a benchmark may drive
 *          it from its own thread). The hook runs on a worker.
 *
 * Matching (Nakama's algorithm, one interval at a time): every active
 * ticket X, oldest first, counts one more interval (on its last interval,
 * `max_intervals` reached or min == max, it stops searching but stays
 * findable); it searches for tickets matching its query with min_count >=
 * X.min, max_count <= X.max, another party and no shared session (and, with
 * rev_precision, whose own query matches X), best score first then oldest;
 * hits are packed into combos without session clashes, and a match forms
 * when a combo plus X reaches X.max (or, on X's last interval, any size in
 * [min, max] at the last hit), trimmed to a multiple of count_multiple and
 * accepted by every member's own bounds. Matched tickets leave at once.
 *
 * Speed: a query's MUST keyword terms select the candidates from the index
 * (the rarest term wins); only queries without one walk every ticket. With
 * no SHOULD clause every hit scores the same, so hits are packed as they
 * are found and the search stops as soon as a match forms. Candidates are
 * judged from a dense 64-byte line per ticket (bounds, fingerprints,
 * keyword posting ids, the first numeric properties) against the query
 * compiled for it; the ticket itself is read only when that line cannot
 * decide, and the full query then does (see rt/matchmaker.c). */
#ifndef TOMO_RT_MATCHMAKER_H
#define TOMO_RT_MATCHMAKER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/query.h"
#include "rt.h"

typedef struct tomo_mm_presence {
    char user_id[37];
    char session_id[37];
    char *username; /* heap */
} tomo_mm_presence;

typedef struct tomo_mm_sprop {
    const char *key, *value;
} tomo_mm_sprop;

typedef struct tomo_mm_nprop {
    const char *key;
    double value;
} tomo_mm_nprop;

struct tomo_mm_qent;
struct tomo_mm_link;
struct tomo_mm;

/* A ticket: one allocation holding the struct, its presences, properties
 * and their strings. */
typedef struct tomo_mm_ticket {
    /* private, hot: what its own search and its removal read (the first
     * cache line, with the public counts) */
    uint32_t _gen, _slot;
    struct tomo_mm_qent *_qe;    /* the parsed query, shared by tickets with the same text */
    struct tomo_mm_link *_links; /* the lists this ticket is in */
    uint32_t _nlinks;
    int _intervals;
    uint8_t _active, _matched, _nopairs;
    uint32_t _cls;
    /* public */
    int min_count, max_count, count_multiple;
    size_t npresences;
    tomo_mm_presence *presences;
    char *party_id; /* NULL for a solo ticket */
    int64_t created_ns;
    tomo_mm_sprop *sprops; /* string properties, as given */
    size_t nsprops;
    tomo_mm_nprop *nprops; /* numeric properties */
    size_t nnprops;
    char id[37];
    /* private */
    uint64_t _seq; /* insertion order */
    struct tomo_mm *_mm;
    tomo_qdoc _doc;
} tomo_mm_ticket;

typedef struct tomo_mm_config {
    int max_tickets; /* per session and per party */
    int max_intervals;
    int rev_precision;     /* both sides' queries must match */
    int64_t rev_budget_ms; /* interval_sec * rev_threshold: reverse checks stop after it */
} tomo_mm_config;

typedef struct tomo_mm tomo_mm;

/* A formed match: the tickets in order (the combo, then the searching
 * ticket). Borrowed: the tickets are freed after the callback returns. */
typedef void (*tomo_mm_matched_fn)(void *ud, tomo_mm_ticket *const *tickets, size_t n);

tomo_mm *tomo_mm_new(const tomo_mm_config *cfg);
void tomo_mm_free(tomo_mm *mm);

/* Add a ticket for presences ps[0..n) (copied), with party_id (NULL for a
 * solo ticket). query "" means "*". sprops/nprops are JSON objects of
 * string / numeric properties (borrowed, copied; may be NULL); a key in both
 * is indexed as numeric. created_ns orders tickets (0 = now). Returns 0 and
 * the ticket id in ticket_out; TOMO_EINVAL for a bad query (err gets the
 * parser's message); TOMO_ETOOBIG when a presence's session or the party
 * already holds max_tickets tickets. Bounds are validated by the caller. */
int tomo_mm_add(tomo_mm *mm, const tomo_mm_presence *ps, size_t n, const char *party_id,
                const char *query, int min_count, int max_count, int count_multiple,
                const json_t *sprops, const json_t *nprops, int64_t created_ns, char ticket_out[37],
                char *err, size_t errlen);
/* The ticket with this id, or NULL. */
tomo_mm_ticket *tomo_mm_get(tomo_mm *mm, const char *ticket);
/* Remove one ticket. Returns 0 or TOMO_ENOTFOUND. */
int tomo_mm_remove(tomo_mm *mm, const char *ticket);
/* Remove every ticket holding this session (party tickets too) / of this
 * party. Return the number removed. */
size_t tomo_mm_remove_session(tomo_mm *mm, const char *session_id);
size_t tomo_mm_remove_party(tomo_mm *mm, const char *party_id);
/* Tickets holding this session (party tickets included). */
size_t tomo_mm_session_tickets(tomo_mm *mm, const char *session_id);

/* Run one interval: begin takes the set of active tickets; step processes
 * up to `budget` of them (SIZE_MAX: all) and returns 1 while some remain,
 * 0 when the interval is done. Matches are reported through fn. Tickets may
 * be added or removed between steps. begin while an interval is still
 * running does nothing and returns 0 (else 1). */
int tomo_mm_interval_begin(tomo_mm *mm);
int tomo_mm_interval_step(tomo_mm *mm, size_t budget, tomo_mm_matched_fn fn, void *ud);

size_t tomo_mm_count(const tomo_mm *mm); /* tickets */
/* Work counters since tomo_mm_new (benchmarks, tuning). */
typedef struct tomo_mm_stats {
    uint64_t searches, candidates, hits, stale;
} tomo_mm_stats;
void tomo_mm_get_stats(const tomo_mm *mm, tomo_mm_stats *out);
size_t tomo_mm_active(const tomo_mm *mm); /* tickets still searching */
/* Tests: evaluate every ticket's query against every ticket both from the
 * search index's compact lines and in full on the document; returns how
 * many pairs disagree (0 when the index is right). O(n^2). */
size_t tomo_mm_check(tomo_mm *mm);

/* ---- the server's matchmaker (rt/matchmaker_rt.c) ---- */

/* The runtime's MatchmakerMatched hook: called on a worker with `entries`
 * (a JSON array of {presence:{user_id, session_id, username}, party_id?,
 * string_properties?, numeric_properties?}, borrowed). It may set *match_id
 * (heap, freed by the caller) to an authoritative match id, which is then
 * sent instead of a token; returning non-zero or leaving it NULL/"" falls
 * back to a relayed-match token. */
typedef int (*tomo_rt_mm_hook)(void *ud, const json_t *entries, char **match_id);
/* Install the hook (start-up, loop thread). fn NULL removes it. */
void tomo_rt_matchmaker_set_hook(tomo_rt *rt, tomo_rt_mm_hook fn, void *ud);
/* The server's matcher (tests, runtime `nk.matchmaker_*`), or NULL. */
tomo_mm *tomo_rt_matchmaker(tomo_rt *rt);

#endif
