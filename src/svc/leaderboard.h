/* svc/leaderboard.h: leaderboards (Nakama 3.15 semantics): board
 * definitions, record writes with the four operators, deletes, listings
 * with cursors, around-owner windows, ranks and periodic resets.
 * Tournaments (svc/tournament.h) are boards with a duration and share the
 * record machinery.
 * Owns: the board registry (every board in memory, loaded at start-up and
 *       kept in step with create/delete), the rank cache (one
 *       svc/lb_rank.h set per (board, period), filled from the database in
 *       a background thread at start-up), and the scheduler thread that
 *       fires resets and tournament ends.
 * Borrows: tomo_svc (config, database) for the process lifetime.
 * Threads: operations taking a tomo_dbconn block (worker threads); the
 *          registry and cache take their own locks. Reset hooks run on the
 *          scheduler thread.
 *
 * Periods: a board without a reset schedule has one period, expiry 0. With
 * a schedule, the current period's expiry is the first cron tick after now;
 * old periods stay in the database and are listed with `expiry`, but only
 * current periods are ranked (their set is dropped at the tick).
 *
 * Ranks are exact while the start-up fill runs: a period whose set is still
 * filling answers rank questions with a COUNT on the database. */
#ifndef TOMO_SVC_LEADERBOARD_H
#define TOMO_SVC_LEADERBOARD_H

#include <stddef.h>
#include <stdint.h>

#include "../core/cron.h"
#include "svc.h"

enum { TOMO_LB_ASC = 0, TOMO_LB_DESC = 1 };
/* Stored operators (Nakama's stored values). */
enum { TOMO_LB_OP_BEST = 0, TOMO_LB_OP_SET = 1, TOMO_LB_OP_INCR = 2, TOMO_LB_OP_DECR = 3 };
/* API operator values (write override): 0 = the board's own. */
enum {
    TOMO_LB_OVERRIDE_NONE = 0, TOMO_LB_OVERRIDE_BEST = 1, TOMO_LB_OVERRIDE_SET = 2,
    TOMO_LB_OVERRIDE_INCR = 3, TOMO_LB_OVERRIDE_DECR = 4,
};
#define TOMO_LB_MAX_SIZE_UNLIMITED 2147483647
#define TOMO_LB_DEFAULT_MAX_NUM_SCORE 1000000

/* A board as the registry knows it (a copy: clear with tomo_lb_board_clear). */
typedef struct tomo_lb_board {
    char id[129];
    int authoritative, sort_order, op; /* TOMO_LB_ASC/DESC, TOMO_LB_OP_* */
    char reset_schedule[128];          /* "" = never resets */
    int has_cron;
    tomo_cron cron;
    char *metadata;                    /* JSON object text, owned */
    int64_t create_time;               /* unix ms */
    /* tournaments (duration > 0) */
    int category;
    char *title, *description;         /* owned, never NULL */
    int64_t duration, start_time, end_time; /* seconds; end 0 = never */
    int max_size, max_num_score, join_required;
} tomo_lb_board;

void tomo_lb_board_clear(tomo_lb_board *b);
static inline int tomo_lb_board_is_tournament(const tomo_lb_board *b)
{
    return b->duration > 0;
}

typedef struct tomo_lb_record {
    char leaderboard_id[129];
    char owner_id[37];
    char *username;      /* NULL when none; owned */
    int64_t score, subscore, num_score, max_num_score;
    char *metadata;      /* owned */
    int64_t create_time, update_time; /* unix ms */
    int64_t expiry_time; /* unix s, 0 = none */
    int64_t rank;        /* 0 = unknown */
} tomo_lb_record;

void tomo_lb_record_clear(tomo_lb_record *r);
/* The LeaderboardRecord message (protojson, new reference) of r. */
struct json_t *tomo_lb_record_json(const tomo_lb_record *r);

typedef struct tomo_lb_record_list {
    tomo_lb_record *records;
    size_t n;
    tomo_lb_record *owner_records;
    size_t n_owner;
    char *next_cursor, *prev_cursor; /* NULL when none; owned */
    int64_t rank_count;              /* ranked owners in the period (3.17+) */
} tomo_lb_record_list;

void tomo_lb_record_list_clear(tomo_lb_record_list *l);

/* The LeaderboardRecordList message (protojson, new reference) of l. */
struct json_t *tomo_lb_record_list_json(const tomo_lb_record_list *l);
/* The same as json_dumps(tomo_lb_record_list_json(l), JSON_COMPACT), written
 * straight from the records (a listing's hot path). Heap; *len its length. */
char *tomo_lb_record_list_text(const tomo_lb_record_list *l, size_t *len);

/* Hooks the runtime registers (register_leaderboard_reset,
 * register_tournament_reset, register_tournament_end). Called on the
 * scheduler thread with a copy of the board; times in unix seconds. */
typedef struct tomo_lb_hooks {
    void *ctx;
    void (*leaderboard_reset)(void *ctx, const tomo_lb_board *b, int64_t reset);
    void (*tournament_reset)(void *ctx, const tomo_lb_board *t, int64_t end_active, int64_t reset);
    void (*tournament_end)(void *ctx, const tomo_lb_board *t, int64_t end_active, int64_t reset);
} tomo_lb_hooks;

/* Load the boards (blocking, small), start the rank-cache fill and the
 * scheduler in the background, hang the state on svc->lb. When the
 * database is not reachable yet, boards are loaded on first use. 0. */
int tomo_svc_leaderboard_start(tomo_svc *svc);
/* Stop the threads and free the state; no-op when not started. */
void tomo_svc_leaderboard_stop(tomo_svc *svc);
/* Replace the hooks (any member may be NULL). */
void tomo_svc_leaderboard_set_hooks(tomo_svc *svc, const tomo_lb_hooks *hooks);
/* 1 while the start-up fill of the rank cache is still running. */
int tomo_svc_leaderboard_filling(tomo_svc *svc);

/* Definition input (runtime only). Strings are borrowed; NULL = default. */
typedef struct tomo_lb_create {
    const char *id;
    int authoritative, sort_order, op;
    const char *reset_schedule; /* NULL/"" = none; must parse (core/cron.h) */
    const char *metadata;       /* JSON object text or NULL */
    /* tournament: duration > 0 makes one */
    int category;
    const char *title, *description;
    int64_t duration, start_time, end_time; /* start 0 = now */
    int max_size, max_num_score, join_required;
} tomo_lb_create;

/* Create a leaderboard (idempotent: an existing id is left as it is, and
 * *created = 0). Errors: INVALID_ARGUMENT (id, schedule, metadata). */
int tomo_svc_leaderboard_create(tomo_svc *svc, tomo_dbconn *db, const tomo_lb_create *in,
                                int *created, tomo_err *err);
/* Delete a board (plain or tournament) and its records; unknown = ok. */
int tomo_svc_leaderboard_delete(tomo_svc *svc, tomo_dbconn *db, const char *id, tomo_err *err);
/* Copy of a board: 0 or TOMO_ENOTFOUND. */
int tomo_svc_leaderboard_get(tomo_svc *svc, tomo_dbconn *db, const char *id, tomo_lb_board *out);
/* Every board (tournaments too when with_tournaments), sorted by id; free
 * each with tomo_lb_board_clear and the array with free(). */
int tomo_svc_leaderboard_all(tomo_svc *svc, tomo_dbconn *db, int with_tournaments,
                             tomo_lb_board **out, size_t *n);

/* The current period's expiry of a plain board at now (0 = none). */
int64_t tomo_lb_board_expiry(const tomo_lb_board *b, int64_t now);
/* Nakama's prev_reset for a scheduled board (3.15: next - (next2 - next),
 * 0 if before create_time); 0 without a schedule. */
int64_t tomo_lb_board_prev_reset(const tomo_lb_board *b, int64_t now);

/* A record write. Strings borrowed. */
typedef struct tomo_lb_write {
    const char *owner_id;     /* required (the caller's id for user callers) */
    const char *username;     /* NULL/"" = keep the stored one */
    int64_t score, subscore;
    const char *metadata;     /* NULL/"" = keep; else a JSON object */
    int override;             /* TOMO_LB_OVERRIDE_* */
} tomo_lb_write;

/* Write (upsert with the operator) to the current period; *out gets the
 * stored row with its rank. User callers are refused on authoritative
 * boards (PERMISSION_DENIED). */
int tomo_svc_leaderboard_record_write(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                      const char *id, const tomo_lb_write *w, tomo_lb_record *out,
                                      tomo_err *err);
/* Delete owner's record in the current period (none = ok). A tournament id
 * is NOT_FOUND "Leaderboard not found." (Nakama 3.16+: use
 * tomo_svc_tournament_record_delete). */
int tomo_svc_leaderboard_record_delete(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                       const char *id, const char *owner_id, tomo_err *err);

/* Account deletion: delete every record of owner_id (all boards and
 * periods) on db (inside the caller's transaction if it has one), then
 * after commit call tomo_svc_leaderboard_owner_forget to drop the owner
 * from the rank cache. */
int tomo_svc_leaderboard_owner_delete(tomo_svc *svc, tomo_dbconn *db, const char *owner_id);
void tomo_svc_leaderboard_owner_forget(tomo_svc *svc, const char *owner_id);

/* A listing request. limit 0 with owner ids and no cursor = owner records
 * only. expiry 0 = the current period. */
typedef struct tomo_lb_list {
    const char *const *owner_ids;
    size_t n_owner;
    int limit;
    const char *cursor; /* NULL/"" = from the top */
    int64_t expiry;
} tomo_lb_list;

int tomo_svc_leaderboard_records_list(tomo_svc *svc, tomo_dbconn *db, const char *id,
                                      const tomo_lb_list *req, tomo_lb_record_list *out,
                                      tomo_err *err);
/* The window of `limit` records around owner (Nakama's haystack); with a
 * cursor, a plain page. */
int tomo_svc_leaderboard_records_around_owner(tomo_svc *svc, tomo_dbconn *db, const char *id,
                                              const char *owner_id, int limit, const char *cursor,
                                              int64_t expiry, tomo_lb_record_list *out,
                                              tomo_err *err);

#endif
