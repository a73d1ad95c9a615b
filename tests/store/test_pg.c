/* tests/store/test_pg.c: PostgreSQL backend against a real server: address
 * forms, migrations, parameters and results, error mapping, the pool (limits,
 * lifetime, dropping dead connections) and the outage circuit breaker.
 * Needs TOMO_TEST_PG_ADMIN (postgres://user[:pw]@127.0.0.1:PORT/postgres, as
 * scripts/test.sh exports for its Postgres stage); without it the test
 * reports itself skipped (exit 77) rather than passing. */
#define _GNU_SOURCE
#include "core/common.h"
#include "core/config.h"
#include "store/db.h"
#include "store/migrate.h"
#include "tt.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *g_admin;
static char g_dbname[64];

static void cfg_for(tomo_config *cfg, const char *addr)
{
    tomo_config_defaults(cfg);
    cfg->database.address.v = tomo_xcalloc(1, sizeof(char *));
    cfg->database.address.v[0] = tomo_xstrdup(addr);
    cfg->database.address.n = 1;
}

/* Admin URL with its database replaced. */
static char *url_for(const char *dbname)
{
    const char *slash = strrchr(g_admin, '/');
    return tomo_xasprintf("%.*s/%s", (int)(slash - g_admin), g_admin, dbname);
}

static int admin_exec(const char *sql)
{
    tomo_config cfg;
    cfg_for(&cfg, g_admin);
    char err[512];
    tomo_db *db = NULL;
    int rc = tomo_db_open(&cfg, &db, err, sizeof(err));
    tomo_dbconn *c = NULL;
    if (rc == 0)
        rc = tomo_db_acquire(db, &c);
    if (rc == 0) {
        rc = tomo_db_exec(c, sql, NULL, 0, NULL);
        if (rc < 0)
            fprintf(stderr, "admin: %s: %s\n", sql, tomo_db_errmsg(c));
    }
    tomo_db_release(c);
    tomo_db_close(db);
    tomo_config_free(&cfg);
    return rc;
}

static int64_t backend_pid(tomo_dbconn *c)
{
    tomo_dbres *r = NULL;
    int64_t pid = -1;
    if (tomo_db_exec(c, "SELECT pg_backend_pid()", NULL, 0, &r) == 0)
        pid = tomo_dbres_int(r, 0, 0);
    tomo_dbres_free(r);
    return pid;
}

static void test_short_address_and_migrations(void)
{
    /* Nakama's form: no scheme; "user:pass@host:port/db" */
    char *url = url_for(g_dbname);
    const char *short_form = strstr(url, "://") + 3;
    tomo_config cfg;
    cfg_for(&cfg, short_form);
    char err[512] = "";
    tomo_db *db = NULL;
    TT_OK(tomo_db_open(&cfg, &db, err, sizeof(err)));
    TT_EQ(tomo_db_kind_of(db), TOMO_DB_POSTGRES);
    int cur = -1, latest = -1;
    TT_OK(tomo_migrate_status(db, &cur, &latest, err, sizeof(err)));
    TT_EQ(cur, 0);
    int applied = 0;
    TT_OK(tomo_migrate_up(db, &applied, err, sizeof(err)));
    TT_EQ(applied, latest);
    TT_OK(tomo_migrate_up(db, &applied, err, sizeof(err)));
    TT_EQ(applied, 0);
    TT_OK(tomo_migrate_status(db, &cur, &latest, err, sizeof(err)));
    TT_EQ(cur, latest);
    tomo_db_close(db);
    tomo_config_free(&cfg);

    /* a password containing '@' in the short form (Nakama takes the last
     * '@' as the end of the user info) */
    char *role = tomo_xasprintf("CREATE ROLE %s_r LOGIN PASSWORD 'p@ss:w0rd'", g_dbname);
    TT_OK(admin_exec(role));
    free(role);
    const char *hostpart = strrchr(short_form, '@') + 1;
    char *odd = tomo_xasprintf("%s_r:p@ss:w0rd@%s", g_dbname, hostpart);
    cfg_for(&cfg, odd);
    TT_OK(tomo_db_open(&cfg, &db, err, sizeof(err)));
    TT_OK(tomo_migrate_status(db, &cur, &latest, err, sizeof(err))); /* connected */
    TT_TRUE(strstr(tomo_db_target_redacted(db), "w0rd") == NULL);
    tomo_db_close(db);
    tomo_config_free(&cfg);
    free(odd);

    /* no database named: Nakama's default "nakama" is used */
    char *nodb = tomo_xstrdup(short_form);
    *strrchr(nodb, '/') = '\0';
    cfg_for(&cfg, nodb);
    TT_OK(tomo_db_open(&cfg, &db, err, sizeof(err)));
    TT_EQ(tomo_migrate_status(db, &cur, &latest, err, sizeof(err)), TOMO_EUNAVAIL);
    TT_CONTAINS(err, "\"nakama\" does not exist");
    tomo_db_close(db);
    tomo_config_free(&cfg);
    free(nodb);
    free(url);
}

static void test_queries(void)
{
    char *url = url_for(g_dbname);
    tomo_config cfg;
    cfg_for(&cfg, url);
    cfg.database.query_timeout_ms = 300;
    char err[512] = "";
    tomo_db *db = NULL;
    TT_OK(tomo_db_open(&cfg, &db, err, sizeof(err)));
    tomo_dbconn *c;
    TT_OK(tomo_db_acquire(db, &c));
    tomo_dbval p[] = {TOMO_DBTEXT("u1"), TOMO_DBTEXT("alice"), TOMO_DBINT(42)};
    tomo_dbres *r = NULL;
    TT_OK(tomo_db_exec(c, "INSERT INTO users (id, username, create_time, update_time) "
                          "VALUES ($1, $2, $3, $3)",
                       p, 3, &r));
    TT_EQ(tomo_dbres_changes(r), 1);
    tomo_dbres_free(r);
    tomo_dbval p2[] = {TOMO_DBTEXT("u2"), TOMO_DBTEXT("alice"), TOMO_DBINT(43)};
    TT_EQ(tomo_db_exec(c, "INSERT INTO users (id, username, create_time, update_time) "
                          "VALUES ($1, $2, $3, $3)",
                       p2, 3, NULL),
          TOMO_ECONFLICT);
    TT_CONTAINS(tomo_db_errmsg(c), "duplicate key");
    /* out of order, a gap ($2 unused), NULL, boolean as 1/0 */
    tomo_dbval q[] = {TOMO_DBINT(42), TOMO_DBTEXT("ignored"), TOMO_DBTEXT("alice")};
    TT_OK(tomo_db_exec(c, "SELECT id, create_time, display_name, create_time = 42 AS b, "
                          "create_time > 42 AS nb FROM users WHERE username = $3 AND "
                          "create_time = $1",
                       q, 3, &r));
    TT_EQ(tomo_dbres_rows(r), 1);
    TT_STR_EQ(tomo_dbres_colname(r, 0), "id");
    TT_STR_EQ(tomo_dbres_text(r, 0, 0), "u1");
    TT_EQ(tomo_dbres_int(r, 0, 1), 42);
    TT_TRUE(tomo_dbres_text(r, 0, 2) == NULL);
    TT_STR_EQ(tomo_dbres_text(r, 0, 3), "1");
    TT_STR_EQ(tomo_dbres_text(r, 0, 4), "0");
    tomo_dbres_free(r);
    /* the same statement again comes from the cache; NULL parameter */
    tomo_dbval q2[] = {TOMO_DBINT(42), TOMO_DBNULL, TOMO_DBTEXT("alice")};
    TT_OK(tomo_db_exec(c, "SELECT id, create_time, display_name, create_time = 42 AS b, "
                          "create_time > 42 AS nb FROM users WHERE username = $3 AND "
                          "create_time = $1",
                       q2, 3, &r));
    TT_EQ(tomo_dbres_rows(r), 1);
    tomo_dbres_free(r);
    /* too few parameters is a precise error, not a crash */
    TT_EQ(tomo_db_exec(c, "SELECT id FROM users WHERE username = $2", q, 1, NULL), TOMO_EDB);
    TT_CONTAINS(tomo_db_errmsg(c), "$2");
    /* UPDATE reports rows changed; text with quotes and unicode round-trips */
    tomo_dbval u[] = {TOMO_DBTEXT("it's \xc3\xa9t\xc3\xa9 $1"), TOMO_DBTEXT("u1")};
    TT_OK(tomo_db_exec(c, "UPDATE users SET display_name = $1 WHERE id = $2", u, 2, &r));
    TT_EQ(tomo_dbres_changes(r), 1);
    tomo_dbres_free(r);
    TT_OK(tomo_db_exec(c, "SELECT display_name FROM users WHERE id = $1", u + 1, 1, &r));
    TT_STR_EQ(tomo_dbres_text(r, 0, 0), "it's \xc3\xa9t\xc3\xa9 $1");
    tomo_dbres_free(r);
    /* rollback discards */
    TT_OK(tomo_db_begin(c));
    TT_OK(tomo_db_exec(c, "DELETE FROM users", NULL, 0, NULL));
    TT_OK(tomo_db_rollback(c));
    TT_OK(tomo_db_exec(c, "SELECT COUNT(*) FROM users", NULL, 0, &r));
    TT_EQ(tomo_dbres_int(r, 0, 0), 1);
    tomo_dbres_free(r);
    /* an error inside a transaction, then commit: the commit fails and the
     * connection is usable afterwards */
    TT_OK(tomo_db_begin(c));
    TT_EQ(tomo_db_exec(c, "SELEC nonsense", NULL, 0, NULL), TOMO_EDB);
    TT_CONTAINS(tomo_db_errmsg(c), "syntax error");
    TT_TRUE(tomo_db_commit(c) < 0);
    TT_OK(tomo_db_exec(c, "SELECT 1", NULL, 0, NULL));
    /* statement_timeout (query_timeout_ms) -> ETIMEOUT, connection survives */
    int64_t t0 = tomo_now_ms();
    TT_EQ(tomo_db_exec(c, "SELECT pg_sleep(5)", NULL, 0, NULL), TOMO_ETIMEOUT);
    TT_TRUE(tomo_now_ms() - t0 < 2000);
    TT_CONTAINS(tomo_db_errmsg(c), "statement timeout");
    TT_OK(tomo_db_exec(c, "SELECT 1", NULL, 0, NULL));
    /* a multi-statement script without parameters */
    TT_OK(tomo_db_exec(c, "CREATE TEMP TABLE t1 (a BIGINT); INSERT INTO t1 VALUES (1); "
                          "INSERT INTO t1 VALUES (2)",
                       NULL, 0, NULL));
    TT_OK(tomo_db_exec(c, "SELECT SUM(a) FROM t1", NULL, 0, &r));
    TT_EQ(tomo_dbres_int(r, 0, 0), 3);
    tomo_dbres_free(r);
    tomo_db_release(c);

    tomo_db_stats st;
    tomo_db_stats_get(db, &st);
    TT_EQ(st.open, 1);
    TT_EQ(st.idle, 1);
    TT_EQ(st.errors_conflict, 1);
    TT_EQ(st.errors_timeout, 1);
    TT_OK(tomo_db_check(db));
    tomo_db_close(db);
    tomo_config_free(&cfg);
    free(url);
}

typedef struct acq_arg {
    tomo_db *db;
    int *rc;
} acq_arg;

static void *acquire_once(void *p)
{
    acq_arg a = *(acq_arg *)p;
    tomo_dbconn *c = NULL;
    *a.rc = tomo_db_acquire(a.db, &c);
    if (*a.rc == 0)
        *a.rc = tomo_db_exec(c, "SELECT 1", NULL, 0, NULL);
    tomo_db_release(c);
    return NULL;
}

static void test_pool(void)
{
    char *url = url_for(g_dbname);
    tomo_config cfg;
    cfg_for(&cfg, url);
    cfg.database.query_timeout_ms = 200;
    cfg.database.max_open_conns = 2;
    cfg.database.max_idle_conns = 1;
    char err[512] = "";
    tomo_db *db = NULL;
    TT_OK(tomo_db_open(&cfg, &db, err, sizeof(err)));
    tomo_dbconn *a, *b, *x;
    TT_OK(tomo_db_acquire(db, &a));
    TT_OK(tomo_db_acquire(db, &b));
    /* max_open_conns: the third waits, then times out */
    int64_t t0 = tomo_now_ms();
    TT_EQ(tomo_db_acquire(db, &x), TOMO_ETIMEOUT);
    TT_TRUE(tomo_now_ms() - t0 >= 150);
    int64_t pid_a = backend_pid(a);
    tomo_db_release(a);
    tomo_db_release(b); /* max_idle_conns = 1: closed */
    tomo_db_stats st;
    tomo_db_stats_get(db, &st);
    TT_EQ(st.open, 1);
    TT_EQ(st.idle, 1);

    /* the server kills the idle connection's backend (as a restart would):
     * the pool notices without a failed request and makes a new one */
    char *kill = tomo_xasprintf("SELECT pg_terminate_backend(%lld)", (long long)pid_a);
    TT_OK(admin_exec(kill));
    free(kill);
    usleep(100 * 1000);
    TT_OK(tomo_db_acquire(db, &a));
    TT_TRUE(backend_pid(a) != pid_a);
    TT_OK(tomo_db_exec(a, "SELECT 1", NULL, 0, NULL));

    /* killed while in use: EUNAVAIL, the connection is not reused, and the
     * idle ones are closed too (a lost connection usually means all are) */
    TT_OK(tomo_db_acquire(db, &b));
    tomo_db_release(b);
    tomo_db_stats_get(db, &st);
    TT_EQ(st.idle, 1);
    int64_t pid = backend_pid(a);
    kill = tomo_xasprintf("SELECT pg_terminate_backend(%lld)", (long long)pid);
    TT_OK(admin_exec(kill));
    free(kill);
    usleep(100 * 1000);
    TT_EQ(tomo_db_exec(a, "SELECT 1", NULL, 0, NULL), TOMO_EUNAVAIL);
    tomo_db_stats_get(db, &st);
    TT_EQ(st.idle, 0);
    TT_EQ(st.open, 1);
    tomo_db_release(a);
    tomo_db_stats_get(db, &st);
    TT_EQ(st.open, 0);
    TT_TRUE(st.errors_unavailable >= 1);
    /* the server is fine: callers arriving together wait for the one probe
     * connection instead of failing. The pool reads its config live: give
     * the waiters a deadline a loaded CI box's connect fits in (200 ms was
     * for the acquire-timeout check above). */
    cfg.database.query_timeout_ms = 10000;
    pthread_t th[2];
    int results[2] = {-1, -1};
    acq_arg args[2] = {{db, &results[0]}, {db, &results[1]}};
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, acquire_once, &args[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    TT_OK(results[0]);
    TT_OK(results[1]);
    TT_OK(tomo_db_acquire(db, &a));
    TT_TRUE(backend_pid(a) != pid);
    tomo_db_release(a);
    tomo_db_close(db);
    tomo_config_free(&cfg);

    /* conn_max_lifetime_ms: an old connection is replaced */
    cfg_for(&cfg, url);
    cfg.database.conn_max_lifetime_ms = 50;
    TT_OK(tomo_db_open(&cfg, &db, err, sizeof(err)));
    TT_OK(tomo_db_acquire(db, &a));
    pid = backend_pid(a);
    tomo_db_release(a);
    usleep(120 * 1000);
    TT_OK(tomo_db_acquire(db, &a));
    TT_TRUE(backend_pid(a) != pid);
    tomo_db_release(a);
    tomo_db_close(db);
    tomo_config_free(&cfg);
    free(url);
}

/* A TCP listener that accepts and never answers: a hung database server. */
static void *silent_server(void *arg)
{
    int fd = *(int *)arg;
    int conns[16], n = 0;
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            break;
        if (n < 16)
            conns[n++] = c;
    }
    for (int i = 0; i < n; i++)
        close(conns[i]);
    return NULL;
}

static void test_breaker(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    TT_OK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
    TT_OK(listen(fd, 16));
    TT_OK(getsockname(fd, (struct sockaddr *)&sa, &sl));
    pthread_t th;
    pthread_create(&th, NULL, silent_server, &fd);
    char *addr = tomo_xasprintf("tomo:hunter2@127.0.0.1:%d/x", ntohs(sa.sin_port));
    tomo_config cfg;
    cfg_for(&cfg, addr);
    char err[512] = "";
    tomo_db *db = NULL;
    TT_OK(tomo_db_open(&cfg, &db, err, sizeof(err)));
    TT_TRUE(strstr(tomo_db_target_redacted(db), "hunter2") == NULL);
    tomo_dbconn *c = NULL;
    /* the first attempt waits for connect_timeout (3 s)... */
    int64_t t0 = tomo_now_ms();
    TT_EQ(tomo_db_acquire(db, &c), TOMO_EUNAVAIL);
    int64_t first = tomo_now_ms() - t0;
    TT_TRUE(first >= 2000 && first < 5000);
    char cause[512];
    tomo_db_last_connect_error(db, cause, sizeof(cause));
    TT_CONTAINS(cause, "timeout");
    /* ...the next ones within a second fail at once */
    t0 = tomo_now_ms();
    for (int i = 0; i < 100; i++)
        TT_EQ(tomo_db_acquire(db, &c), TOMO_EUNAVAIL);
    TT_TRUE(tomo_now_ms() - t0 < 100);
    tomo_db_stats st;
    tomo_db_stats_get(db, &st);
    TT_EQ(st.errors_unavailable, 101);
    TT_EQ(st.open, 0);
    tomo_db_close(db);
    tomo_config_free(&cfg);
    free(addr);
    shutdown(fd, SHUT_RDWR);
    close(fd);
    pthread_join(th, NULL);
}

/* Long parameter lists (an IN list of 100 storage objects is 301): far past
 * the old cap of 128, both the stack and the heap paths; past 65535 refused. */
static void test_many_params(void)
{
    char *url = url_for(g_dbname);
    tomo_config cfg;
    cfg_for(&cfg, url);
    char err[512] = "";
    tomo_db *db = NULL;
    TT_OK(tomo_db_open(&cfg, &db, err, sizeof(err)));
    tomo_dbconn *c;
    TT_OK(tomo_db_acquire(db, &c));
    size_t counts[] = {1, 128, 129, 301, 5000};
    for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
        size_t n = counts[k];
        tomo_dbval *p = tomo_xcalloc(n, sizeof(*p));
        char *sql = tomo_xmalloc(64 + n * 32);
        int off = sprintf(sql, "SELECT COUNT(*) FROM (VALUES ");
        for (size_t i = 0; i < n; i++) {
            p[i] = i % 2 ? TOMO_DBINT(i) : TOMO_DBTEXT("x");
            off += sprintf(sql + off, "%s(CAST($%zu AS TEXT))", i ? "," : "", i + 1);
        }
        sprintf(sql + off, ") AS t(v)");
        tomo_dbres *r = NULL;
        TT_OK(tomo_db_exec(c, sql, p, n, &r));
        TT_EQ(tomo_dbres_int(r, 0, 0), (int64_t)n);
        tomo_dbres_free(r);
        free(sql);
        free(p);
    }
    tomo_dbval one = TOMO_DBTEXT("x");
    TT_TRUE(tomo_db_exec(c, "SELECT $65536", &one, 1, NULL) < 0);
    TT_TRUE(tomo_db_exec(c, "SELECT $99999999999999999999", &one, 1, NULL) < 0);
    tomo_db_release(c);
    tomo_db_close(db);
    tomo_config_free(&cfg);
    free(url);
}

/* Group commit: concurrent transactions share one batch transaction (each
 * in its own savepoint) and one COMMIT. Phase 1: each writer thread mixes
 * committed transactions, rollbacks, unique violations inside a
 * transaction, solo writes outside one, and a race for one row. Phase 2:
 * now and then a "poison" transaction writes a row that breaks a deferred
 * foreign key, which is only checked at COMMIT: the whole batch it lands in
 * must fail, and every member of it must be told so. At the end exactly the
 * acknowledged rows are there. */
typedef struct gc_arg {
    tomo_db *db;
    int t, rounds, phase;
    int committed, failed, unexpected, batch_failed;
    char (*acked)[32]; /* keys acknowledged, committed entries */
} gc_arg;

static void gc_ack(gc_arg *a, const char *key) { snprintf(a->acked[a->committed++], 32, "%s", key); }

static void gc_mixed(gc_arg *a, tomo_dbconn *c, int i)
{
    char key[32];
    snprintf(key, sizeof(key), "k%d_%d", a->t, i);
    tomo_dbval v[] = {{TOMO_DBV_TEXT, 0, key}};
    int rollback = i % 3 == 2, conflict = i % 5 == 4;
    int rc = tomo_db_begin(c);
    if (rc == 0)
        rc = tomo_db_exec(c, "INSERT INTO pgc (k) VALUES ($1)", v, 1, NULL);
    if (rc == 0 && conflict) {
        tomo_dbval dup[] = {TOMO_DBTEXT("shared")};
        if (tomo_db_exec(c, "INSERT INTO pgc (k) VALUES ($1)", dup, 1, NULL) != TOMO_ECONFLICT)
            a->unexpected++;
        /* the failed statement aborted this member only: its commit is
         * refused, like a plain transaction's */
        if (tomo_db_commit(c) != TOMO_EDB)
            a->unexpected++;
    } else if (rc == 0 && rollback) {
        if (tomo_db_rollback(c) < 0)
            a->unexpected++;
    } else if (rc == 0) {
        if (tomo_db_commit(c) == 0)
            gc_ack(a, key);
        else
            a->unexpected++;
    } else {
        a->unexpected++;
    }
    /* a write outside any transaction: its own connection, unbatched */
    snprintf(key, sizeof(key), "s%d_%d", a->t, i);
    if (tomo_db_exec(c, "INSERT INTO pgc (k) VALUES ($1)", v, 1, NULL) == 0)
        gc_ack(a, key);
    else
        a->unexpected++;
    /* every thread races for one row in a transaction: a loser's conflict
     * is followed by a read on its own connection that must see the
     * winner's row (a loser is answered after the commit that holds it) */
    snprintf(key, sizeof(key), "race%d", i);
    if (tomo_db_begin(c) < 0) {
        a->unexpected++;
        return;
    }
    rc = tomo_db_exec(c, "INSERT INTO pgc (k) VALUES ($1)", v, 1, NULL);
    if (rc == 0) {
        if (tomo_db_commit(c) == 0)
            gc_ack(a, key);
        else
            a->unexpected++;
        return;
    }
    tomo_db_rollback(c);
    tomo_dbres *r = NULL;
    if (rc != TOMO_ECONFLICT ||
        tomo_db_exec(c, "SELECT COUNT(*) FROM pgc WHERE k = $1", v, 1, &r) < 0 ||
        tomo_dbres_int(r, 0, 0) != 1)
        a->unexpected++;
    tomo_dbres_free(r);
}

static void gc_poison(gc_arg *a, tomo_dbconn *c, int i)
{
    char key[32];
    snprintf(key, sizeof(key), "p%d_%d", a->t, i);
    tomo_dbval v[] = {{TOMO_DBV_TEXT, 0, key}};
    int poison = i % 7 == 6;
    int rc = tomo_db_begin(c);
    if (rc == 0)
        rc = tomo_db_exec(c, "INSERT INTO pgc (k) VALUES ($1)", v, 1, NULL);
    if (rc == 0 && poison)
        rc = tomo_db_exec(c, "INSERT INTO pgc_child (parent) VALUES ($1 || '-missing')", v, 1,
                          NULL);
    if (rc < 0) {
        tomo_db_rollback(c);
        a->unexpected++;
        return;
    }
    rc = tomo_db_commit(c);
    if (rc == 0 && poison)
        a->unexpected++; /* a broken deferred key committed */
    else if (rc == 0)
        gc_ack(a, key);
    else if (poison)
        a->failed++;
    else
        a->batch_failed++; /* a batch-mate broke the key: nothing of the batch is kept */
}

static void *gc_writer(void *p)
{
    gc_arg *a = p;
    for (int i = 0; i < a->rounds; i++) {
        tomo_dbconn *c;
        if (tomo_db_acquire(a->db, &c) < 0) {
            a->unexpected++;
            continue;
        }
        if (a->phase == 1)
            gc_mixed(a, c, i);
        else
            gc_poison(a, c, i);
        tomo_db_release(c);
    }
    return NULL;
}

static void test_group_commit(void)
{
    char *url = url_for(g_dbname);
    tomo_config cfg;
    cfg_for(&cfg, url);
    cfg.database.max_open_conns = 8;
    char err[512] = "";
    tomo_db *db = NULL;
    TT_OK(tomo_db_open(&cfg, &db, err, sizeof(err)));
    tomo_dbconn *c;
    TT_OK(tomo_db_acquire(db, &c));
    TT_OK(tomo_db_exec(c, "CREATE TABLE pgc (k TEXT PRIMARY KEY); "
                          "CREATE TABLE pgc_child (parent TEXT REFERENCES pgc (k) "
                          "DEFERRABLE INITIALLY DEFERRED); INSERT INTO pgc VALUES ('shared')",
                       NULL, 0, NULL));
    /* alone: a failing statement is refused at COMMIT and leaves nothing;
     * a transaction with no statement commits nothing */
    TT_OK(tomo_db_begin(c));
    tomo_dbval lone[] = {TOMO_DBTEXT("lone")};
    TT_OK(tomo_db_exec(c, "INSERT INTO pgc (k) VALUES ($1)", lone, 1, NULL));
    TT_EQ(tomo_db_exec(c, "SELEC nonsense", NULL, 0, NULL), TOMO_EDB);
    TT_EQ(tomo_db_commit(c), TOMO_EDB);
    TT_CONTAINS(tomo_db_errmsg(c), "rolled back");
    TT_OK(tomo_db_begin(c));
    TT_OK(tomo_db_commit(c));
    tomo_dbres *r = NULL;
    TT_OK(tomo_db_exec(c, "SELECT COUNT(*) FROM pgc WHERE k = 'lone'", NULL, 0, &r));
    TT_EQ(tomo_dbres_int(r, 0, 0), 0);
    tomo_dbres_free(r);
    tomo_db_release(c);
    tomo_db_stats before;
    tomo_db_stats_get(db, &before);

    enum { THREADS = 8, ROUNDS = 30 };
    pthread_t th[THREADS];
    gc_arg args[2][THREADS];
    int committed = 0, batch_failed = 0, poisoned = 0;
    for (int ph = 1; ph <= 2; ph++) {
        for (int t = 0; t < THREADS; t++) {
            args[ph - 1][t] = (gc_arg){.db = db, .t = t, .rounds = ROUNDS, .phase = ph};
            args[ph - 1][t].acked = tomo_xcalloc(3 * ROUNDS, 32);
            pthread_create(&th[t], NULL, gc_writer, &args[ph - 1][t]);
        }
        for (int t = 0; t < THREADS; t++) {
            pthread_join(th[t], NULL);
            TT_EQ(args[ph - 1][t].unexpected, 0);
            committed += args[ph - 1][t].committed;
            batch_failed += args[ph - 1][t].batch_failed;
            poisoned += args[ph - 1][t].failed;
        }
    }
    TT_EQ(poisoned, THREADS * (ROUNDS / 7));
    /* exactly the acknowledged writes are there, seen from a fresh
     * connection */
    TT_OK(tomo_db_acquire(db, &c));
    TT_OK(tomo_db_exec(c, "SELECT COUNT(*) FROM pgc WHERE k <> 'shared'", NULL, 0, &r));
    TT_EQ(tomo_dbres_int(r, 0, 0), committed);
    tomo_dbres_free(r);
    for (int ph = 0; ph < 2; ph++)
        for (int t = 0; t < THREADS; t++)
            for (int i = 0; i < args[ph][t].committed; i++) {
                tomo_dbval k[] = {TOMO_DBTEXT(args[ph][t].acked[i])};
                TT_OK(tomo_db_exec(c, "SELECT COUNT(*) FROM pgc WHERE k = $1", k, 1, &r));
                TT_EQ(tomo_dbres_int(r, 0, 0), 1);
                tomo_dbres_free(r);
            }
    TT_OK(tomo_db_exec(c, "SELECT COUNT(*) FROM pgc_child", NULL, 0, &r));
    TT_EQ(tomo_dbres_int(r, 0, 0), 0);
    tomo_dbres_free(r);
    TT_OK(tomo_db_exec(c, "DROP TABLE pgc_child; DROP TABLE pgc", NULL, 0, NULL));
    tomo_db_release(c);
    /* transactions queued together shared commits */
    tomo_db_stats after;
    tomo_db_stats_get(db, &after);
    uint64_t commits = after.commits - before.commits;
    uint64_t writes = after.commit_writes - before.commit_writes;
    TT_TRUE(commits > 0);
    TT_TRUE(commits < writes);
    printf("group commit: %llu transactions in %llu commits; %d failed with a batch-mate's "
           "broken deferred key\n",
           (unsigned long long)writes, (unsigned long long)commits, batch_failed);
    for (int ph = 0; ph < 2; ph++)
        for (int t = 0; t < THREADS; t++)
            free(args[ph][t].acked);
    tomo_db_close(db);
    tomo_config_free(&cfg);
    free(url);
}

int main(void)
{
    g_admin = getenv("TOMO_TEST_PG_ADMIN");
    if (!g_admin || !*g_admin) {
        fprintf(stderr, "skipped: TOMO_TEST_PG_ADMIN is not set (scripts/test.sh sets it in its "
                        "Postgres stage)\n");
        return 77;
    }
    snprintf(g_dbname, sizeof(g_dbname), "tomo_unit_%d_%lld", (int)getpid(),
             (long long)tomo_now_ms());
    char *create = tomo_xasprintf("CREATE DATABASE %s", g_dbname);
    if (admin_exec(create) < 0) {
        fprintf(stderr, "cannot create the test database\n");
        return 1;
    }
    free(create);
    TT_RUN(test_short_address_and_migrations);
    TT_RUN(test_queries);
    TT_RUN(test_pool);
    TT_RUN(test_breaker);
    TT_RUN(test_many_params);
    TT_RUN(test_group_commit);
    char *drop = tomo_xasprintf("DROP DATABASE %s", g_dbname);
    admin_exec(drop);
    free(drop);
    drop = tomo_xasprintf("DROP ROLE IF EXISTS %s_r", g_dbname);
    admin_exec(drop);
    free(drop);
    return tt_finish();
}
