/* tests/testdb.h: a throwaway migrated database for store-level tests:
 * SQLite in a temp dir, or a fresh PostgreSQL database on the server named
 * by TOMO_TEST_PG_ADMIN (scripts/test.sh sets it in its Postgres stage).
 * Header-only: each test executable includes it once. */
#ifndef TOMO_TESTS_TESTDB_H
#define TOMO_TESTS_TESTDB_H

#include "core/common.h"
#include "core/config.h"
#include "store/db.h"
#include "store/migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct testdb {
    tomo_db *db;
    tomo_config cfg;   /* the pool borrows it: lives as long as db */
    const char *admin; /* NULL for SQLite */
    char name[64];     /* Postgres database or SQLite directory */
} testdb;

static int testdb_admin_exec(const char *admin, const char *sql)
{
    tomo_config c;
    tomo_config_defaults(&c);
    c.database.address.v = tomo_xcalloc(1, sizeof(char *));
    c.database.address.v[0] = tomo_xstrdup(admin);
    c.database.address.n = 1;
    char err[512];
    tomo_db *db = NULL;
    tomo_dbconn *conn = NULL;
    int rc = tomo_db_open(&c, &db, err, sizeof(err));
    if (rc == 0)
        rc = tomo_db_acquire(db, &conn);
    if (rc == 0 && (rc = tomo_db_exec(conn, sql, NULL, 0, NULL)) < 0)
        fprintf(stderr, "admin: %s: %s\n", sql, tomo_db_errmsg(conn));
    tomo_db_release(conn);
    if (db)
        tomo_db_close(db);
    tomo_config_free(&c);
    return rc;
}

/* Open and migrate; admin NULL selects SQLite. Returns 0 or < 0. */
static int testdb_open(testdb *t, const char *admin, const char *tag)
{
    tomo_config *cfg = &t->cfg;
    char err[512] = "";
    int applied, rc;
    t->db = NULL;
    t->admin = admin;
    tomo_config_defaults(cfg);
    if (admin) {
        snprintf(t->name, sizeof(t->name), "tomo_%s_%d", tag, (int)getpid());
        char *sql = tomo_xasprintf("CREATE DATABASE %s", t->name);
        rc = testdb_admin_exec(admin, sql);
        free(sql);
        if (rc < 0)
            goto out;
        const char *slash = strrchr(admin, '/');
        cfg->database.address.v = tomo_xcalloc(1, sizeof(char *));
        cfg->database.address.v[0] =
            tomo_xasprintf("%.*s/%s", (int)(slash - admin), admin, t->name);
        cfg->database.address.n = 1;
    } else {
        snprintf(t->name, sizeof(t->name), "/tmp/tomo_%s_XXXXXX", tag);
        if (!mkdtemp(t->name)) {
            rc = TOMO_EIO;
            goto out;
        }
        free(cfg->data_dir);
        cfg->data_dir = tomo_xstrdup(t->name);
    }
    rc = tomo_db_open(cfg, &t->db, err, sizeof(err));
    if (rc == 0)
        rc = tomo_migrate_up(t->db, &applied, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "testdb: %s\n", err);
out:
    return rc;
}

static void testdb_close(testdb *t)
{
    if (t->db)
        tomo_db_close(t->db);
    t->db = NULL;
    tomo_config_free(&t->cfg);
    if (t->admin) {
        char *sql = tomo_xasprintf("DROP DATABASE IF EXISTS %s", t->name);
        testdb_admin_exec(t->admin, sql);
        free(sql);
    } else {
        char *cmd = tomo_xasprintf("rm -rf '%s'", t->name);
        if (system(cmd) != 0)
            fprintf(stderr, "testdb: cleanup of %s failed\n", t->name);
        free(cmd);
    }
}

/* Run suite(t) on SQLite, then on Postgres when TOMO_TEST_PG_ADMIN is set.
 * The suite gets the open database and the config it was opened with. */
static void testdb_each(const char *tag, void (*suite)(testdb *t))
{
    testdb t;
    if (testdb_open(&t, NULL, tag) < 0) {
        TT_FAIL("cannot open a SQLite test database");
    } else {
        fprintf(stderr, "-- %s on sqlite\n", tag);
        suite(&t);
    }
    testdb_close(&t);
    const char *admin = getenv("TOMO_TEST_PG_ADMIN");
    if (!admin || !*admin) {
        fprintf(stderr, "-- %s on postgres: not run (TOMO_TEST_PG_ADMIN unset)\n", tag);
        return;
    }
    if (testdb_open(&t, admin, tag) < 0) {
        TT_FAIL("cannot create a test database via TOMO_TEST_PG_ADMIN");
    } else {
        fprintf(stderr, "-- %s on postgres\n", tag);
        suite(&t);
    }
    testdb_close(&t);
}

#endif
