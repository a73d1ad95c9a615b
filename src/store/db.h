/* store/db.h: the database interface every feature uses, whatever the backend.
 * Owns: tomo_db (a pool of connections), tomo_dbconn, tomo_dbres.
 * Threads: tomo_db_acquire/exec block: call them on worker threads only,
 *          never on the loop thread. A tomo_dbconn is used by one thread at a
 *          time (the one that acquired it).
 *
 * SQL is written once for both backends: placeholders are $1..$N (SQLite
 * binds them by name), types are TEXT / BIGINT / INTEGER, times are BIGINT
 * unix milliseconds, JSON is TEXT, booleans are INTEGER 0/1. Results come back
 * as text (integers in decimal, boolean expressions as 1/0 on both backends),
 * NULL as a NULL pointer.
 *
 * Postgres is stricter than SQLite about types: a TOMO_DBINT parameter is
 * sent as BIGINT (compare it with integer columns only, never with TEXT), a
 * TEXT parameter takes the type its context implies, and a parameter with no
 * context (SELECT $1, a bare $1 IS NULL) needs CAST($1 AS TEXT). Under
 * Postgres, read committed isolation applies (SQLite serialises writers): make
 * check-then-write steps a single conditional statement (UPDATE ... WHERE
 * version = $n, INSERT ... ON CONFLICT). A failed statement inside a
 * transaction aborts the whole transaction on Postgres (tomo_db_commit then
 * fails and nothing is kept) but only itself on SQLite: after an error in a
 * transaction, roll back rather than carry on.
 *
 * A statement may use up to 32766 parameters (SQLite's limit; Postgres
 * allows 65535): a list built from client input ("IN ($2, $3, ...)") must be
 * capped by a validated input limit or sent in chunks. */
#ifndef TOMO_STORE_DB_H
#define TOMO_STORE_DB_H

#include <stddef.h>
#include <stdint.h>

#include "../core/config.h"

typedef struct tomo_db tomo_db;
typedef struct tomo_dbconn tomo_dbconn;
typedef struct tomo_dbres tomo_dbres;

typedef enum { TOMO_DB_SQLITE = 1, TOMO_DB_POSTGRES = 2 } tomo_db_kind;

enum { TOMO_DBV_NULL, TOMO_DBV_INT, TOMO_DBV_TEXT };
typedef struct tomo_dbval {
    int type;
    int64_t i;
    const char *s; /* TEXT: borrowed for the duration of the call */
} tomo_dbval;

#define TOMO_DBNULL ((tomo_dbval){TOMO_DBV_NULL, 0, NULL})
#define TOMO_DBINT(x) ((tomo_dbval){TOMO_DBV_INT, (int64_t)(x), NULL})
#define TOMO_DBTEXT(x) ((tomo_dbval){(x) ? TOMO_DBV_TEXT : TOMO_DBV_NULL, 0, (x)})

/* Backend operations; one table per backend (store/sqlite.c, store/pg.c). */
typedef struct tomo_db_backend {
    const char *name;
    tomo_db_kind kind;
    /* Open a new connection; message in err on failure. */
    int (*connect)(tomo_db *db, void **conn, char *err, size_t errlen);
    void (*disconnect)(void *conn);
    /* Run one statement. *out may be NULL when the caller wants no rows.
     * Returns 0, TOMO_ECONFLICT (unique violation), TOMO_EUNAVAIL (connection
     * lost: the pool drops this connection), TOMO_ETIMEOUT, or TOMO_EDB. */
    int (*exec)(void *conn, const char *sql, const tomo_dbval *params, size_t n, tomo_dbres **out,
                char *err, size_t errlen);
    /* Liveness check of an open connection (a round trip); 0 when alive. */
    int (*ping)(void *conn);
    /* Optional, no round trip: 0 when a connection may be handed out again
     * (connected, no transaction open, not told by the server it is being
     * closed). Run when a connection leaves and re-enters the idle list. */
    int (*check_idle)(void *conn);
    /* Optional: transactions committed and the writes they carried (group
     * commit: writes / commits is the mean batch size). */
    void (*write_stats)(tomo_db *db, uint64_t *commits, uint64_t *writes);
} tomo_db_backend;

/* Open the store named by cfg->database.address: empty or "sqlite:PATH"
 * (default PATH = data_dir/tomo.db) selects SQLite; "postgres://..." or
 * Nakama's "user:pass@host:port/db" selects PostgreSQL. Does not connect yet
 * for Postgres (a server that is down at start-up is an outage, not a
 * config error); SQLite opens its file to check it. */
int tomo_db_open(const tomo_config *cfg, tomo_db **out, char *err, size_t errlen);
tomo_db_kind tomo_db_kind_of(const tomo_db *db);
const char *tomo_db_backend_name(const tomo_db *db);
/* The connection string given to the backend (redacted form for logs). */
const char *tomo_db_target(const tomo_db *db);
const char *tomo_db_target_redacted(const tomo_db *db);
const tomo_config *tomo_db_config(const tomo_db *db);

/* Borrow a connection (blocks up to the query timeout while the pool is at
 * max_open_conns). TOMO_EUNAVAIL when the database cannot be reached. After
 * a failed connection attempt the pool fails new connection attempts at once
 * for about a second (one caller probes meanwhile), so an outage costs each
 * request microseconds, not a connect timeout. */
int tomo_db_acquire(tomo_db *db, tomo_dbconn **out);
/* Return a connection; NULL is a no-op. A connection in a transaction is
 * rolled back first. */
void tomo_db_release(tomo_dbconn *c);

int tomo_db_exec(tomo_dbconn *c, const char *sql, const tomo_dbval *params, size_t n,
                 tomo_dbres **out);
/* tomo_db_exec for an UPDATE/DELETE that only needs the rows affected
 * (*changed, 0 on failure). */
int tomo_db_exec_changes(tomo_dbconn *c, const char *sql, const tomo_dbval *params, size_t n,
                         int64_t *changed);
int tomo_db_begin(tomo_dbconn *c);
int tomo_db_commit(tomo_dbconn *c);
int tomo_db_rollback(tomo_dbconn *c);
/* Message of the last failure on this connection. */
const char *tomo_db_errmsg(const tomo_dbconn *c);
/* Copy of the last connection failure's message ("" if none). */
void tomo_db_last_connect_error(tomo_db *db, char *buf, size_t len);

/* Acquire, ping, release: 0 when the database answers (for /readyz). */
int tomo_db_check(tomo_db *db);

/* Pool statistics (any thread). */
typedef struct tomo_db_stats {
    int open, idle, in_use, max_open;
    uint64_t wait_count, errors_unavailable, errors_timeout, errors_other, errors_conflict;
    /* group commit: durable commits (SQLite: WAL fsyncs; Postgres: batch
     * COMMITs), and the writes they held */
    uint64_t commits, commit_writes;
} tomo_db_stats;
void tomo_db_stats_get(tomo_db *db, tomo_db_stats *out);

/* Close every connection and free the pool. */
void tomo_db_close(tomo_db *db);

/* Results. */
size_t tomo_dbres_rows(const tomo_dbres *r);
size_t tomo_dbres_cols(const tomo_dbres *r);
/* Rows affected by an INSERT/UPDATE/DELETE. */
int64_t tomo_dbres_changes(const tomo_dbres *r);
const char *tomo_dbres_colname(const tomo_dbres *r, size_t col);
/* Text of a cell, NULL for SQL NULL. Valid until tomo_dbres_free. */
const char *tomo_dbres_text(const tomo_dbres *r, size_t row, size_t col);
int64_t tomo_dbres_int(const tomo_dbres *r, size_t row, size_t col);
void tomo_dbres_free(tomo_dbres *r);

/* For backends: build a result. */
tomo_dbres *tomo_dbres_new(size_t cols);
void tomo_dbres_set_colname(tomo_dbres *r, size_t col, const char *name);
/* Append a row; cells[i] may be NULL; lens[i] is the length (copied). */
void tomo_dbres_add_row(tomo_dbres *r, const char *const *cells, const size_t *lens);
void tomo_dbres_set_changes(tomo_dbres *r, int64_t n);

/* Backend-private data hung on the pool (the backend's shared state). */
void *tomo_db_backend_data(tomo_db *db);

extern const tomo_db_backend tomo_db_sqlite_backend;
extern const tomo_db_backend tomo_db_postgres_backend;

#endif
