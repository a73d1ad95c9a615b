/* svc/tournament.h: tournaments (Nakama 3.15 semantics): leaderboards with
 * a duration, an active window per period, joins, attempt limits, a
 * participant cap and a listing served from the registry.
 * Owns: nothing beyond leaderboard.h's state (tournaments live in the same
 *       registry, tables and rank cache).
 * Threads: operations taking a tomo_dbconn block (worker threads). */
#ifndef TOMO_SVC_TOURNAMENT_H
#define TOMO_SVC_TOURNAMENT_H

#include "leaderboard.h"

/* A tournament with its times at the moment it was read. */
typedef struct tomo_tournament_info {
    tomo_lb_board b;
    int64_t start_active, end_active, next_reset, prev_reset; /* unix s; 0 = none */
    int size;      /* participants (only kept when max_size is set; else 0) */
    int can_enter;
} tomo_tournament_info;

void tomo_tournament_info_clear(tomo_tournament_info *t);

/* Create (idempotent; runtime only). in->duration must be > 0. start_time
 * 0 = now, max_size 0 = unlimited, max_num_score 0 = 1000000. Errors:
 * INVALID_ARGUMENT, or INTERNAL "cannot create tournament as leaderboard is
 * already in use" when a plain board has the id. */
int tomo_svc_tournament_create(tomo_svc *svc, tomo_dbconn *db, const tomo_lb_create *in,
                               int *created, tomo_err *err);
/* Delete (records too); unknown = ok. */
int tomo_svc_tournament_delete(tomo_svc *svc, tomo_dbconn *db, const char *id, tomo_err *err);
/* Raise (or lower) owner's attempt cap in the current period by count. */
int tomo_svc_tournament_add_attempt(tomo_svc *svc, tomo_dbconn *db, const char *id,
                                    const char *owner_id, int count, tomo_err *err);
/* Join as owner (no-op unless join_required; counts toward max_size). */
int tomo_svc_tournament_join(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                             const char *id, const char *owner_id, const char *username,
                             tomo_err *err);
/* Write a score within the active window. */
int tomo_svc_tournament_record_write(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                     const char *id, const tomo_lb_write *w, tomo_lb_record *out,
                                     tomo_err *err);
/* Delete owner's record in the current period (3.16+ route); frees a
 * participant slot when max_size is set. */
int tomo_svc_tournament_record_delete(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                      const char *id, const char *owner_id, tomo_err *err);

/* A tournament's active window and period at `now` (unix s; 0 = none). */
void tomo_svc_tournament_times(const tomo_lb_board *t, int64_t now, int64_t *start_active,
                               int64_t *end_active, int64_t *expiry);

/* One tournament now: 0 or TOMO_ENOTFOUND (also for plain boards). */
int tomo_svc_tournament_get(tomo_svc *svc, tomo_dbconn *db, const char *id,
                            tomo_tournament_info *out);

/* Listing filters. start_time -1 = any; end_time -1 = hide ended ones,
 * 0 = only those without an end, > 0 = those ending at or before it. */
typedef struct tomo_tournament_filter {
    int category_start, category_end;
    int64_t start_time, end_time;
    int limit;
    const char *cursor;
} tomo_tournament_filter;

/* List (Nakama's order: start_time, end_time desc, category, id). *out is
 * an array of *n items (free each with tomo_tournament_info_clear, then
 * the array); *cursor the next page's cursor or NULL. */
int tomo_svc_tournament_list(tomo_svc *svc, tomo_dbconn *db, const tomo_tournament_filter *f,
                             tomo_tournament_info **out, size_t *n, char **cursor,
                             tomo_err *err);

/* Records of the current period (or req->expiry). */
int tomo_svc_tournament_records_list(tomo_svc *svc, tomo_dbconn *db, const char *id,
                                     const tomo_lb_list *req, tomo_lb_record_list *out,
                                     tomo_err *err);
int tomo_svc_tournament_records_around_owner(tomo_svc *svc, tomo_dbconn *db, const char *id,
                                             const char *owner_id, int limit, const char *cursor,
                                             int64_t expiry, tomo_lb_record_list *out,
                                             tomo_err *err);

#endif
