/* tests/store/test_db.c: SQLite backend, pool, migrations, error mapping. */
#define _GNU_SOURCE
#include "core/common.h"
#include "core/config.h"
#include "store/db.h"
#include "store/migrate.h"
#include "tt.h"

#include <stdlib.h>
#include <unistd.h>

static void test_sqlite(void)
{
    char dir[] = "/tmp/tomo_db_XXXXXX";
    if (!mkdtemp(dir))
        abort();
    tomo_config cfg;
    tomo_config_defaults(&cfg);
    free(cfg.data_dir);
    cfg.data_dir = tomo_xstrdup(dir);
    char err[512] = "";
    tomo_db *db = NULL;
    TT_OK(tomo_db_open(&cfg, &db, err, sizeof(err)));
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
    tomo_db_close(db);
    tomo_config_free(&cfg);
    char *cmd = tomo_xasprintf("rm -rf %s", dir);
    if (system(cmd) != 0)
        TT_FAIL("cleanup");
    free(cmd);
}

int main(void)
{
    TT_RUN(test_sqlite);
    return tt_finish();
}
