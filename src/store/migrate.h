/* store/migrate.h: schema migrations for both backends.
 * Owns: the list of migrations (store/migrations.c) and the tomo_migrations
 *       table that records which are applied.
 * Threads: blocking; call from the main thread before serving, or from a
 *          worker. */
#ifndef TOMO_STORE_MIGRATE_H
#define TOMO_STORE_MIGRATE_H

#include "db.h"

typedef struct tomo_migration {
    int version;
    const char *name;
    const char *sql_sqlite;   /* script: statements separated by ';' */
    const char *sql_postgres; /* NULL = same as sql_sqlite */
} tomo_migration;

/* The built-in migrations, ascending by version. */
const tomo_migration *tomo_migrations(size_t *n);

/* Apply every pending migration, each in its own transaction. Safe when two
 * processes run it at once (Postgres: advisory lock; SQLite: the write lock
 * taken by BEGIN IMMEDIATE). *applied = how many were applied now. */
int tomo_migrate_up(tomo_db *db, int *applied, char *err, size_t errlen);

/* current = highest applied version (0 if none), latest = highest known. */
int tomo_migrate_status(tomo_db *db, int *current, int *latest, char *err, size_t errlen);

#endif
