/* tests/store/test_db.c: SQLite backend, pool, migrations, error mapping. */
#define _GNU_SOURCE
#include "core/common.h"
#include "core/config.h"
#include "store/db.h"
#include "store/migrate.h"
#include "tt.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

/* A SQLite database in a fresh temporary directory (dir is filled in). */
static void open_tmp(char *dir, tomo_config *cfg, int max_open, tomo_db **db)
{
    if (!mkdtemp(dir))
        abort();
    tomo_config_defaults(cfg);
    free(cfg->data_dir);
    cfg->data_dir = tomo_xstrdup(dir);
    if (max_open)
        cfg->database.max_open_conns = max_open;
    char err[512] = "";
    TT_OK(tomo_db_open(cfg, db, err, sizeof(err)));
}

static void close_tmp(const char *dir, tomo_config *cfg, tomo_db *db)
{
    tomo_db_close(db);
    tomo_config_free(cfg);
    char *cmd = tomo_xasprintf("rm -rf %s", dir);
    if (system(cmd) != 0)
        TT_FAIL("cleanup");
    free(cmd);
}

static void test_sqlite(void)
{
    char dir[] = "/tmp/tomo_db_XXXXXX";
    tomo_config cfg;
    tomo_db *db = NULL;
    char err[512] = "";
    open_tmp(dir, &cfg, 0, &db);
    int cur = -1, latest = -1;
    TT_OK(tomo_migrate_status(db, &cur, &latest, err, sizeof(err)));
    TT_EQ(cur, 0);
    TT_TRUE(latest >= 1);
    int applied = 0;
    TT_OK(tomo_migrate_up(db, &applied, err, sizeof(err)));
    TT_EQ(applied, latest);
    TT_OK(tomo_migrate_up(db, &applied, err, sizeof(err))); /* idempotent */
    TT_EQ(applied, 0);
    TT_OK(tomo_migrate_status(db, &cur, &latest, err, sizeof(err)));
    TT_EQ(cur, latest);

    tomo_dbconn *c;
    TT_OK(tomo_db_acquire(db, &c));
    tomo_dbval p[] = {TOMO_DBTEXT("u1"), TOMO_DBTEXT("alice"), TOMO_DBINT(42)};
    TT_OK(tomo_db_exec(c, "INSERT INTO users (id, username, create_time, update_time) "
                          "VALUES ($1, $2, $3, $3)",
                       p, 3, NULL));
    /* same username: unique violation maps to ECONFLICT */
    tomo_dbval p2[] = {TOMO_DBTEXT("u2"), TOMO_DBTEXT("alice"), TOMO_DBINT(43)};
    TT_EQ(tomo_db_exec(c, "INSERT INTO users (id, username, create_time, update_time) "
                          "VALUES ($1, $2, $3, $3)",
                       p2, 3, NULL),
          TOMO_ECONFLICT);
    /* parameters out of order bind by number */
    tomo_dbres *r = NULL;
    tomo_dbval q[] = {TOMO_DBINT(42), TOMO_DBTEXT("alice")};
    TT_OK(tomo_db_exec(c, "SELECT id, create_time, display_name FROM users WHERE username = $2 "
                          "AND create_time = $1",
                       q, 2, &r));
    TT_EQ(tomo_dbres_rows(r), 1);
    TT_STR_EQ(tomo_dbres_text(r, 0, 0), "u1");
    TT_EQ(tomo_dbres_int(r, 0, 1), 42);
    TT_TRUE(tomo_dbres_text(r, 0, 2) == NULL);
    tomo_dbres_free(r);
    /* rollback discards */
    TT_OK(tomo_db_begin(c));
    TT_OK(tomo_db_exec(c, "DELETE FROM users", NULL, 0, NULL));
    TT_OK(tomo_db_rollback(c));
    TT_OK(tomo_db_exec(c, "SELECT COUNT(*) FROM users", NULL, 0, &r));
    TT_EQ(tomo_dbres_int(r, 0, 0), 1);
    tomo_dbres_free(r);
    TT_EQ(tomo_db_exec(c, "SELEC nonsense", NULL, 0, NULL), TOMO_EDB);
    TT_CONTAINS(tomo_db_errmsg(c), "syntax error");
    tomo_db_release(c);
    TT_OK(tomo_db_check(db));
    close_tmp(dir, &cfg, db);
}

/* Group commit: concurrent writers share commits, each answered with its
 * own outcome. Thread t writes rounds transactions; every third one is
 * rolled back, every fifth hits a unique violation first (and rolls back),
 * and solo writes (no BEGIN) go in between, one of them a race of every
 * thread for the same row. */
typedef struct gc_arg {
    tomo_db *db;
    int t, rounds, committed, failed;
} gc_arg;

static void *gc_writer(void *p)
{
    gc_arg *a = p;
    for (int i = 0; i < a->rounds; i++) {
        tomo_dbconn *c;
        if (tomo_db_acquire(a->db, &c) < 0) {
            a->failed++;
            continue;
        }
        char key[32];
        snprintf(key, sizeof(key), "k%d_%d", a->t, i);
        tomo_dbval v[] = {{TOMO_DBV_TEXT, 0, key}};
        int rollback = i % 3 == 2, conflict = i % 5 == 4;
        int rc = tomo_db_begin(c);
        if (rc == 0)
            rc = tomo_db_exec(c, "INSERT INTO gc (k) VALUES ($1)", v, 1, NULL);
        if (rc == 0 && conflict) {
            tomo_dbval dup[] = {TOMO_DBTEXT("shared")};
            if (tomo_db_exec(c, "INSERT INTO gc (k) VALUES ($1)", dup, 1, NULL) != TOMO_ECONFLICT)
                a->failed++;
            rollback = 1;
        }
        if (rc == 0 && rollback)
            rc = tomo_db_rollback(c);
        else if (rc == 0 && (rc = tomo_db_commit(c)) == 0)
            a->committed++;
        if (rc < 0)
            a->failed++;
        snprintf(key, sizeof(key), "s%d_%d", a->t, i);
        if (tomo_db_exec(c, "INSERT INTO gc (k) VALUES ($1)", v, 1, NULL) == 0)
            a->committed++;
        else
            a->failed++;
        /* every thread races for the same row (as concurrent logins with
         * one device id do): the losers' conflict is followed by a read,
         * outside any transaction, that must find the winner's row */
        snprintf(key, sizeof(key), "race%d", i);
        rc = tomo_db_exec(c, "INSERT INTO gc (k) VALUES ($1)", v, 1, NULL);
        if (rc == 0) {
            a->committed++;
        } else if (rc == TOMO_ECONFLICT) {
            tomo_dbres *r = NULL;
            if (tomo_db_exec(c, "SELECT COUNT(*) FROM gc WHERE k = $1", v, 1, &r) < 0 ||
                tomo_dbres_int(r, 0, 0) != 1)
                a->failed++;
            tomo_dbres_free(r);
        } else {
            a->failed++;
        }
        tomo_db_release(c);
    }
    return NULL;
}

static void test_group_commit(void)
{
    char dir[] = "/tmp/tomo_gc_XXXXXX";
    tomo_config cfg;
    tomo_db *db = NULL;
    open_tmp(dir, &cfg, 8, &db);
    tomo_dbconn *c;
    TT_OK(tomo_db_acquire(db, &c));
    TT_OK(tomo_db_exec(c, "CREATE TABLE gc (k TEXT PRIMARY KEY)", NULL, 0, NULL));
    tomo_dbval shared[] = {TOMO_DBTEXT("shared")};
    TT_OK(tomo_db_exec(c, "INSERT INTO gc (k) VALUES ($1)", shared, 1, NULL));
    tomo_db_release(c);
    tomo_db_stats before;
    tomo_db_stats_get(db, &before);

    enum { THREADS = 8, ROUNDS = 30 };
    pthread_t th[THREADS];
    gc_arg args[THREADS];
    for (int t = 0; t < THREADS; t++) {
        args[t] = (gc_arg){db, t, ROUNDS, 0, 0};
        pthread_create(&th[t], NULL, gc_writer, &args[t]);
    }
    int committed = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        TT_EQ(args[t].failed, 0);
        committed += args[t].committed;
    }
    /* exactly the acknowledged writes are there, from a fresh connection
     * (what another reader sees) */
    tomo_dbres *r = NULL;
    TT_OK(tomo_db_acquire(db, &c));
    TT_OK(tomo_db_exec(c, "SELECT COUNT(*) FROM gc WHERE k <> 'shared'", NULL, 0, &r));
    TT_EQ(tomo_dbres_int(r, 0, 0), committed);
    tomo_dbres_free(r);
    TT_OK(tomo_db_exec(c, "SELECT COUNT(*) FROM gc WHERE k = 'k0_2' OR k = 'k0_4'", NULL, 0, &r));
    TT_EQ(tomo_dbres_int(r, 0, 0), 0); /* rolled back ones are not */
    tomo_dbres_free(r);
    tomo_db_release(c);
    /* every acknowledged write went through a commit, and writers queued
     * together shared them */
    tomo_db_stats after;
    tomo_db_stats_get(db, &after);
    uint64_t commits = after.commits - before.commits;
    uint64_t writes = after.commit_writes - before.commit_writes;
    TT_TRUE(writes >= (uint64_t)committed);
    TT_TRUE(commits < writes);
    printf("group commit: %llu writes in %llu commits\n", (unsigned long long)writes,
           (unsigned long long)commits);

    close_tmp(dir, &cfg, db);
}

int main(void)
{
    TT_RUN(test_sqlite);
    TT_RUN(test_group_commit);
    return tt_finish();
}
