/* svc/lb_int.h: what leaderboard.c shares with tournament.c (not for other
 * modules): the state hung on tomo_svc, rank lookups, row reads, the write
 * statement and the page listing.
 * Threads: as leaderboard.h. */
#ifndef TOMO_SVC_LB_INT_H
#define TOMO_SVC_LB_INT_H

#include "lb_rank.h"
#include "leaderboard.h"

/* A TEXT parameter from an array (never NULL). */
#define TOMO_LBI_TEXT(a) ((tomo_dbval){TOMO_DBV_TEXT, 0, (a)})

/* The state (svc->lb). */
typedef struct tomo_lb_state tomo_lb_state;

tomo_lb_state *tomo_lbi_state(tomo_svc *svc);
/* Wake the scheduler (a board was created or deleted). */
void tomo_lbi_kick(tomo_svc *svc);

/* The rank set of (board, expiry), NULL when none; with create, made on
 * demand (empty and ready). A reference: tomo_lb_rank_unref it. */
tomo_lb_rank *tomo_lbi_rankset(tomo_svc *svc, const tomo_lb_board *b, int64_t expiry, int create);
/* Rank of a stored row in its period: from the set, or (while the set is
 * filling) from a COUNT on db; 0 when the period is not ranked. */
int64_t tomo_lbi_rank(tomo_svc *svc, tomo_dbconn *db, const tomo_lb_board *b,
                      const tomo_lb_record *r);
/* Put / remove a row in its period's set (after commit). Returns the rank
 * (0 when not ranked). */
int64_t tomo_lbi_rank_put(tomo_svc *svc, tomo_dbconn *db, const tomo_lb_board *b,
                          const tomo_lb_record *r);
void tomo_lbi_rank_remove(tomo_svc *svc, const tomo_lb_board *b, int64_t expiry,
                          const char *owner_id);

/* Record columns in SELECT/RETURNING order, and a row parser. */
#define TOMO_LBI_COLS                                                                              \
    "owner_id, username, score, subscore, num_score, max_num_score, metadata, create_time,"        \
    " update_time, expiry_time"
void tomo_lbi_parse_row(const tomo_dbres *res, size_t row, const char *board_id,
                        tomo_lb_record *out);
/* Read owner's row of a period: 0, TOMO_ENOTFOUND or a store error. */
int tomo_lbi_read(tomo_dbconn *db, const char *board_id, int64_t expiry, const char *owner_id,
                  tomo_lb_record *out);

/* The upsert with the operator. max_num_score is the value a new row gets.
 * Returns 0 with *changed = 1 and the new row in *out when the write took
 * effect; 0 with *changed = 0 when it was a no-op (out not filled); or a
 * store error. */
int tomo_lbi_upsert(tomo_dbconn *db, const tomo_lb_board *b, int64_t expiry, int op,
                    const tomo_lb_write *w, int max_num_score, int *changed,
                    tomo_lb_record *out);
/* The UPDATE-only variant for join-required tournaments: applies only to
 * an existing row under its attempt cap. Same results. */
int tomo_lbi_update(tomo_dbconn *db, const tomo_lb_board *b, int64_t expiry, int op,
                    const tomo_lb_write *w, int *changed, tomo_lb_record *out);
/* The operator in effect for a write (override or the board's). */
int tomo_lbi_op(const tomo_lb_board *b, int override);
/* Metadata rule: NULL/"" or a JSON object text; 0 or TOMO_EINVAL. */
int tomo_lbi_metadata_ok(const char *metadata);

/* The listing of one period (ranks positional from the cursor; owner
 * records ranked from the cache). expiry is the period; board checks are
 * done by the caller. */
int tomo_lbi_list(tomo_svc *svc, tomo_dbconn *db, const tomo_lb_board *b, int64_t expiry,
                  const tomo_lb_list *req, tomo_lb_record_list *out, tomo_err *err);
/* The owner of a haystack query: given and a UUID, else INVALID_ARGUMENT
 * with Nakama's message (0 or -1 with err set). */
int tomo_lbi_check_haystack_owner(const char *owner_id, tomo_err *err);
/* The haystack of one period. */
int tomo_lbi_around(tomo_svc *svc, tomo_dbconn *db, const tomo_lb_board *b, int64_t expiry,
                    const char *owner_id, int limit, tomo_lb_record_list *out, tomo_err *err);

/* Insert a board row (create): 0 with *created = 1, or with *created = 0
 * and *existing filled when the id is taken. Adds it to the registry. */
int tomo_lbi_insert_board(tomo_svc *svc, tomo_dbconn *db, const tomo_lb_board *b, int *created,
                          tomo_lb_board *existing, tomo_err *err);

/* Tournament times at now (tournament.c; Nakama 3.15's active window):
 * start_active, end_active and expiry (next_reset; 0 = none). */
void tomo_lbi_tournament_times(const tomo_lb_board *t, int64_t now, int64_t *start_active,
                               int64_t *end_active, int64_t *expiry);

#endif
