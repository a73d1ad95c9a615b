/* store/migrate.c: applying and reporting migrations. */
#include "migrate.h"

#include "../core/common.h"
#include "../core/log.h"

#include <stdio.h>
#include <string.h>

#define ADVISORY_LOCK_ID "735001"

static const char create_table_sql[] = "CREATE TABLE IF NOT EXISTS tomo_migrations ("
                                       " version INTEGER PRIMARY KEY,"
                                       " name TEXT NOT NULL,"
                                       " applied_at BIGINT NOT NULL)";

static void connect_error(tomo_db *db, char *err, size_t errlen)
{
    char cause[512];
    tomo_db_last_connect_error(db, cause, sizeof(cause));
    snprintf(err, errlen, "cannot connect to the database (%s): %s", tomo_db_target_redacted(db),
             *cause ? cause : "no connection available");
}

static int current_version(tomo_dbconn *c, int *cur)
{
    tomo_dbres *r = NULL;
    int rc = tomo_db_exec(c, "SELECT COALESCE(MAX(version), 0) FROM tomo_migrations", NULL, 0, &r);
    if (rc == 0)
        *cur = (int)tomo_dbres_int(r, 0, 0);
    tomo_dbres_free(r);
    return rc;
}

static int latest_version(void)
{
    size_t n;
    const tomo_migration *m = tomo_migrations(&n);
    return n ? m[n - 1].version : 0;
}

int tomo_migrate_status(tomo_db *db, int *current, int *latest, char *err, size_t errlen)
{
    *current = 0;
    *latest = latest_version();
    tomo_dbconn *c;
    int rc = tomo_db_acquire(db, &c);
    if (rc < 0) {
        connect_error(db, err, errlen);
        return rc;
    }
    /* A missing table means version 0; check without creating it. */
    tomo_dbres *r = NULL;
    const char *probe = tomo_db_kind_of(db) == TOMO_DB_SQLITE
                            ? "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND "
                              "name='tomo_migrations'"
                            : "SELECT COUNT(*) FROM information_schema.tables WHERE "
                              "table_schema = current_schema() AND table_name='tomo_migrations'";
    rc = tomo_db_exec(c, probe, NULL, 0, &r);
    if (rc == 0 && tomo_dbres_int(r, 0, 0) > 0)
        rc = current_version(c, current);
    if (rc < 0)
        snprintf(err, errlen, "cannot read migration status: %s", tomo_db_errmsg(c));
    tomo_dbres_free(r);
    tomo_db_release(c);
    return rc;
}

int tomo_migrate_up(tomo_db *db, int *applied, char *err, size_t errlen)
{
    *applied = 0;
    tomo_dbconn *c;
    int rc = tomo_db_acquire(db, &c);
    if (rc < 0) {
        connect_error(db, err, errlen);
        return rc;
    }
    int pg = tomo_db_kind_of(db) == TOMO_DB_POSTGRES;
    /* Behind pgBouncer (transaction mode) a session lock would be taken on
     * one server connection and released on another: each transaction
     * takes a transaction-level lock instead. */
    int xact_lock = pg && tomo_db_config(db)->database.pgbouncer;
    int locked = 0;
    if (xact_lock) {
        rc = tomo_db_begin(c);
        if (rc == 0)
            rc = tomo_db_exec(c, "SELECT pg_advisory_xact_lock(" ADVISORY_LOCK_ID ")", NULL, 0,
                              NULL);
        if (rc == 0)
            rc = tomo_db_exec(c, create_table_sql, NULL, 0, NULL);
        if (rc == 0)
            rc = tomo_db_commit(c);
        else
            tomo_db_rollback(c);
        if (rc < 0)
            goto fail;
    } else if (pg) {
        /* Serialises concurrent `migrate up` runs across processes. */
        rc = tomo_db_exec(c, "SELECT pg_advisory_lock(" ADVISORY_LOCK_ID ")", NULL, 0, NULL);
        if (rc < 0)
            goto fail;
        locked = 1;
    }
    if (!xact_lock) {
        rc = tomo_db_exec(c, create_table_sql, NULL, 0, NULL);
        if (rc < 0)
            goto fail;
    }
    size_t n;
    const tomo_migration *m = tomo_migrations(&n);
    for (size_t i = 0; i < n; i++) {
        rc = tomo_db_begin(c);
        if (rc == 0 && xact_lock)
            rc = tomo_db_exec(c, "SELECT pg_advisory_xact_lock(" ADVISORY_LOCK_ID ")", NULL, 0,
                              NULL);
        if (rc < 0) {
            if (xact_lock)
                tomo_db_rollback(c);
            goto fail;
        }
        int cur = 0;
        /* Re-read inside the transaction: another process may have applied
         * it meanwhile (SQLite's BEGIN IMMEDIATE holds the write lock). */
        rc = current_version(c, &cur);
        if (rc < 0) {
            tomo_db_rollback(c);
            goto fail;
        }
        if (m[i].version <= cur) {
            tomo_db_rollback(c);
            continue;
        }
        const char *sql = pg && m[i].sql_postgres ? m[i].sql_postgres : m[i].sql_sqlite;
        rc = tomo_db_exec(c, sql, NULL, 0, NULL);
        if (rc == 0) {
            tomo_dbval p[] = {TOMO_DBINT(m[i].version), TOMO_DBTEXT(m[i].name),
                              TOMO_DBINT(tomo_now_ms())};
            rc = tomo_db_exec(c, "INSERT INTO tomo_migrations (version, name, applied_at) "
                                 "VALUES ($1, $2, $3)",
                              p, 3, NULL);
        }
        if (rc < 0) {
            snprintf(err, errlen, "migration %d (%s) failed: %s", m[i].version, m[i].name,
                     tomo_db_errmsg(c));
            tomo_db_rollback(c);
            goto out;
        }
        rc = tomo_db_commit(c);
        if (rc < 0)
            goto fail;
        (*applied)++;
        TOMO_LOGI(TOMO_STORE, "migration applied version=%d name=%s", m[i].version, m[i].name);
    }
    rc = 0;
    goto out;
fail:
    snprintf(err, errlen, "migration failed: %s", tomo_db_errmsg(c));
out:
    if (locked)
        tomo_db_exec(c, "SELECT pg_advisory_unlock(" ADVISORY_LOCK_ID ")", NULL, 0, NULL);
    tomo_db_release(c);
    return rc;
}
