/* store/collation.h: collation version drift check (PostgreSQL 15+).
 * Owns: nothing (one query on a borrowed pool connection).
 * Threads: blocking; main thread at start-up or a worker (/readyz).
 *
 * A database records the version of the collation library (glibc or ICU)
 * its text indexes were built with. After an OS or library upgrade the
 * server may provide another version: sort order can differ, so unique and
 * ordered indexes on text can be silently wrong until rebuilt. */
#ifndef TOMO_STORE_COLLATION_H
#define TOMO_STORE_COLLATION_H

#include <stddef.h>

#include "db.h"

/* Compare the current database's recorded collation version with the one
 * the server provides now. Returns 1 and a message naming the fix in msg
 * when they differ; 0 when they match or cannot be compared (SQLite,
 * Postgres before 15, a collation without versions such as C or C.UTF-8 on
 * glibc); a negative TOMO_E* when the database cannot be asked. */
int tomo_db_collation_check(tomo_db *db, char *msg, size_t len);

#endif
