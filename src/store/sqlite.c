/* store/sqlite.c: the embedded SQLite backend.
 * One connection per pool slot (the pool hands one to each worker at a time)
 * for reads, WAL journal so readers never block the writer, synchronous=FULL
 * so an acknowledged commit survives power loss, and a per-connection
 * prepared-statement cache.
 *
 * Writes: group commit. SQLite has one writer per database and each commit
 * costs an fsync, so one commit per client write caps the write rate at the
 * disk's fsync rate. Every write (a transaction, or a write statement
 * outside one) runs on the database's one shared writer connection, taking
 * turns; each turn is a SAVEPOINT inside an outer transaction that stays open
 * while other writers are queued. The turn that finds nobody waiting (or the
 * batch full) commits the outer transaction, and every member of the batch
 * is answered with that commit's result: nobody is told "done" before the
 * fsync that holds their write, a member that rolls back its savepoint
 * leaves the others intact (and is answered after the commit as well, so a
 * conflict with an earlier member's row is never followed by a read that
 * cannot see that row), and if SQLite aborts the outer transaction
 * (disk full, I/O error) every member of the batch gets the error. Members
 * of one batch are serialised in turn order, so a later member reads what
 * an earlier one wrote; they commit or fail together.
 * The fsync is outside the turn: the writer runs with synchronous=NORMAL
 * (COMMIT writes the WAL without an fsync; checkpoints still sync), and the
 * committing thread hands the turn on before it fdatasyncs the WAL file, so
 * the next batch runs while this one's fsync is in flight and one fsync
 * covers every commit written before it (see wal_open, turn_end). Members
 * are still answered only after an fsync that holds their commit. What
 * that costs: a reader on another connection can see a committed batch
 * during its fsync, before its writers are answered; a kill -9 loses
 * nothing of it (the kernel has the pages), a power cut in that window can.
 * Threads: any worker; the writer connection is used only by the turn
 * holder. */
#define _GNU_SOURCE
#include "db.h"

#include "../core/common.h"
#include "../core/log.h"
#include "../core/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#define CACHE_SIZE 128
#define MAX_BATCH 64 /* turns per outer commit, at most */

typedef struct cached {
    char *sql;
    sqlite3_stmt *st;
    uint64_t last_use;
} cached;

typedef struct wgroup wgroup;

typedef struct sconn {
    sqlite3 *h;
    cached cache[CACHE_SIZE];
    size_t ncache;
    uint64_t tick;
    uint64_t busy_since_ns; /* start of the current wait for the file lock */
    uint64_t busy_limit_ns;
    wgroup *g;              /* the database's writers (NULL for the writer itself) */
    int in_tx;              /* inside BEGIN .. COMMIT/ROLLBACK: statements go to g->w */
} sconn;

/* A member of the open batch, waiting for its commit. */
typedef struct waiter {
    struct waiter *next;
    int done, rc;
    char err[256];
} waiter;

/* The writers of one database file: the connections to one path share it,
 * freed with the last of them. Fields under mu. */
struct wgroup {
    wgroup *next;
    char *path;
    int refs;
    pthread_mutex_t mu;
    pthread_cond_t turn;      /* a turn is free */
    pthread_cond_t done;      /* a batch was committed */
    int busy;                 /* a turn is held */
    int waiting;              /* threads queued for a turn */
    int outer_open;           /* the batch's outer transaction is open on w */
    int lost;                 /* SQLite aborted the outer transaction */
    int members;              /* turns ended in the open batch */
    int joined;               /* of them, turns whose writes it holds */
    waiter *list;             /* their waiters */
    sconn *w;                 /* the writer connection */
    uint64_t limit_ns;        /* how long a writer waits for its turn */
    uint64_t commits, writes; /* outer commits done, member turns they held */
    /* The fsync, outside the turn: once wal_fd is open the writer runs with
     * synchronous=NORMAL (COMMIT writes the WAL, no fsync) and the
     * committing thread hands the turn on, then fdatasyncs the WAL before
     * answering its batch, so the next batch runs during the fsync and one
     * fsync covers every commit written before it. */
    int wal_fd;               /* the -wal file, or -1: synchronous=FULL */
    uint64_t written, synced; /* commits written to the WAL, and covered by an fsync */
    uint64_t wwrites, swrites; /* the member writes in them */
    int syncing;              /* an fdatasync is running */
    int sync_failed;          /* an fdatasync failed: no write is durable any more */
    pthread_cond_t synced_cv; /* synced moved */
};

static pthread_mutex_t g_groups_mu = PTHREAD_MUTEX_INITIALIZER;
static wgroup *g_groups;

/* Batch sizes and commit times, so the batch can be read off /metrics
 * (writes are bounded by the writers the workers hold: see serve.c). */
static pthread_once_t g_metrics_once = PTHREAD_ONCE_INIT;
static tomo_metric *m_batch, *m_commit_ms;

static void metrics_init(void)
{
    static const double sizes[] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64};
    static const double ms[] = {0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128};
    m_batch = tomo_metrics_histogram("database_group_commit_batch_size",
                                     "SQLite writes per WAL fsync", NULL, sizes,
                                     sizeof(sizes) / sizeof(sizes[0]));
    m_commit_ms = tomo_metrics_histogram("database_group_commit_duration_ms",
                                         "SQLite COMMIT time on the writer, ms (the fsync is outside it)", NULL, ms,
                                         sizeof(ms) / sizeof(ms[0]));
}

/* Waiting for another connection's write lock. SQLite's own busy timeout
 * sleeps in growing steps of up to 100 ms, which turned a sub-millisecond
 * median into a p99 of half a second under concurrent writers; polling every
 * 200 us keeps the wait close to the real hold time, up to the query timeout. */
static int busy_wait(void *arg, int count)
{
    sconn *c = arg;
    uint64_t now = tomo_mono_ns();
    if (count == 0)
        c->busy_since_ns = now;
    if (now - c->busy_since_ns >= c->busy_limit_ns)
        return 0; /* give up: SQLITE_BUSY -> TOMO_ETIMEOUT */
    struct timespec ts = {0, count < 50 ? 50000 : 200000};
    nanosleep(&ts, NULL);
    return 1;
}

static int mkdirs(const char *path)
{
    char *dup = tomo_xstrdup(path);
    for (char *p = dup + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(dup, 0700) < 0 && errno != EEXIST) {
                free(dup);
                return -1;
            }
            *p = '/';
        }
    }
    free(dup);
    return 0;
}

/* Open and configure one handle (a pool connection or the writer). */
static int conn_open(const char *path, uint64_t busy_limit_ns, sconn **out, char *err,
                     size_t errlen)
{
    if (mkdirs(path) < 0) {
        snprintf(err, errlen, "cannot create directory for %s: %s", path, strerror(errno));
        return TOMO_EIO;
    }
    sqlite3 *h = NULL;
    int rc = sqlite3_open_v2(path, &h,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path, h ? sqlite3_errmsg(h) : "out of memory");
        sqlite3_close(h);
        return TOMO_EIO;
    }
    sqlite3_extended_result_codes(h, 1);
    sconn *c = tomo_xcalloc(1, sizeof(*c));
    c->h = h;
    c->busy_limit_ns = busy_limit_ns;
    sqlite3_busy_handler(h, busy_wait, c);
    char *emsg = NULL;
    rc = sqlite3_exec(h,
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                      "PRAGMA temp_store=MEMORY;",
                      NULL, NULL, &emsg);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot configure %s: %s", path, emsg ? emsg : "?");
        sqlite3_free(emsg);
        sqlite3_close(h);
        free(c);
        return TOMO_EIO;
    }
    *out = c;
    return 0;
}

static void conn_close(sconn *c)
{
    for (size_t i = 0; i < c->ncache; i++) {
        sqlite3_finalize(c->cache[i].st);
        free(c->cache[i].sql);
    }
    sqlite3_close(c->h);
    free(c);
}

/* The group of path, created with its writer connection on first use. */
static int group_ref(const char *path, uint64_t limit_ns, wgroup **out, char *err, size_t errlen)
{
    pthread_mutex_lock(&g_groups_mu);
    wgroup *g = g_groups;
    while (g && strcmp(g->path, path))
        g = g->next;
    if (!g) {
        sconn *w = NULL;
        int rc = conn_open(path, limit_ns, &w, err, errlen);
        if (rc < 0) {
            pthread_mutex_unlock(&g_groups_mu);
            return rc;
        }
        g = tomo_xcalloc(1, sizeof(*g));
        g->path = tomo_xstrdup(path);
        g->w = w;
        g->limit_ns = limit_ns;
        pthread_mutex_init(&g->mu, NULL);
        pthread_cond_init(&g->turn, NULL);
        pthread_cond_init(&g->done, NULL);
        pthread_cond_init(&g->synced_cv, NULL);
        g->wal_fd = -1;
        g->next = g_groups;
        g_groups = g;
    }
    g->refs++;
    pthread_mutex_unlock(&g_groups_mu);
    *out = g;
    return 0;
}

static void group_unref(wgroup *g)
{
    pthread_mutex_lock(&g_groups_mu);
    int last = --g->refs == 0;
    if (last)
        for (wgroup **pp = &g_groups; *pp; pp = &(*pp)->next)
            if (*pp == g) {
                *pp = g->next;
                break;
            }
    pthread_mutex_unlock(&g_groups_mu);
    if (!last)
        return;
    conn_close(g->w);
    if (g->wal_fd >= 0)
        close(g->wal_fd);
    pthread_cond_destroy(&g->synced_cv);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->turn);
    pthread_cond_destroy(&g->done);
    free(g->path);
    free(g);
}

static int s_connect(tomo_db *db, void **out, char *err, size_t errlen)
{
    const char *path = tomo_db_target(db);
    uint64_t limit = (uint64_t)tomo_db_config(db)->database.query_timeout_ms * 1000000ull;
    sconn *c = NULL;
    int rc = conn_open(path, limit, &c, err, errlen);
    if (rc < 0)
        return rc;
    if ((rc = group_ref(path, limit, &c->g, err, errlen)) < 0) {
        conn_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int map_err(sqlite3 *h, int rc, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", sqlite3_errmsg(h));
    int prim = rc & 0xff;
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return TOMO_ECONFLICT;
    if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
        return TOMO_ETIMEOUT;
    if (prim == SQLITE_FULL || prim == SQLITE_IOERR || prim == SQLITE_CANTOPEN)
        return TOMO_EUNAVAIL;
    return TOMO_EDB;
}

static sqlite3_stmt *prepare(sconn *c, const char *sql, int *rc)
{
    c->tick++;
    for (size_t i = 0; i < c->ncache; i++)
        if (c->cache[i].sql == sql || !strcmp(c->cache[i].sql, sql)) {
            c->cache[i].last_use = c->tick;
            *rc = SQLITE_OK;
            return c->cache[i].st;
        }
    sqlite3_stmt *st = NULL;
    *rc = sqlite3_prepare_v3(c->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (*rc != SQLITE_OK)
        return NULL;
    size_t slot = c->ncache;
    if (slot == CACHE_SIZE) {
        slot = 0;
        for (size_t i = 1; i < CACHE_SIZE; i++)
            if (c->cache[i].last_use < c->cache[slot].last_use)
                slot = i;
        sqlite3_finalize(c->cache[slot].st);
        free(c->cache[slot].sql);
    } else {
        c->ncache++;
    }
    c->cache[slot].sql = tomo_xstrdup(sql);
    c->cache[slot].st = st;
    c->cache[slot].last_use = c->tick;
    return st;
}

/* ---- turns and batches ---- */

/* Raw script on a handle (transaction control, multi-statement scripts). */
static int run_script(sconn *c, const char *sql, char *err, size_t errlen)
{
    char *emsg = NULL;
    int rc = sqlite3_exec(c->h, sql, NULL, NULL, &emsg);
    if (rc == SQLITE_OK)
        return 0;
    int m = map_err(c->h, sqlite3_extended_errcode(c->h), err, errlen);
    if (emsg)
        snprintf(err, errlen, "%s", emsg);
    sqlite3_free(emsg);
    return m;
}

/* Wait for the writer's turn (up to the query timeout), then open a
 * savepoint in the batch's outer transaction, opening that first. */
static int turn_begin(wgroup *g, char *err, size_t errlen)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    uint64_t ns = (uint64_t)deadline.tv_nsec + g->limit_ns;
    deadline.tv_sec += (time_t)(ns / 1000000000ull);
    deadline.tv_nsec = (long)(ns % 1000000000ull);
    pthread_mutex_lock(&g->mu);
    g->waiting++;
    while (g->busy)
        if (pthread_cond_timedwait(&g->turn, &g->mu, &deadline) == ETIMEDOUT && g->busy) {
            g->waiting--;
            pthread_mutex_unlock(&g->mu);
            snprintf(err, errlen, "database is locked (timed out waiting for the writer)");
            return TOMO_ETIMEOUT;
        }
    g->waiting--;
    if (g->sync_failed) {
        pthread_cond_signal(&g->turn);
        pthread_mutex_unlock(&g->mu);
        snprintf(err, errlen, "writes refused: an fsync of the WAL failed earlier: %s",
                 strerror(g->sync_failed));
        return TOMO_EIO;
    }
    g->busy = 1;
    int open = g->outer_open;
    pthread_mutex_unlock(&g->mu);
    int rc = 0;
    if (!open) {
        /* IMMEDIATE: take the file's write lock now (another process, such
         * as `tomo migrate up`, may hold it: the busy handler waits). */
        rc = run_script(g->w, "BEGIN IMMEDIATE", err, errlen);
        if (rc == 0) {
            pthread_mutex_lock(&g->mu);
            g->outer_open = 1;
            pthread_mutex_unlock(&g->mu);
        }
    }
    if (rc == 0)
        rc = run_script(g->w, "SAVEPOINT tomo_turn", err, errlen);
    if (rc < 0) {
        pthread_mutex_lock(&g->mu);
        g->busy = 0;
        pthread_cond_signal(&g->turn);
        pthread_mutex_unlock(&g->mu);
    }
    return rc;
}

/* SQLite may abort the whole transaction on some errors (disk full, I/O):
 * then the batch is lost, and its members must hear so. */
static void check_lost(wgroup *g)
{
    if (sqlite3_get_autocommit(g->w->h)) {
        pthread_mutex_lock(&g->mu);
        if (g->outer_open)
            g->lost = 1;
        pthread_mutex_unlock(&g->mu);
    }
}

/* After the first commit (the WAL file exists now): open the -wal file for
 * fdatasync and switch the writer to synchronous=NORMAL. Called by the turn
 * holder. If the file cannot be opened the writer stays at FULL (SQLite
 * fsyncs inside COMMIT, as before). */
static void wal_open(wgroup *g)
{
    char *wal = tomo_xasprintf("%s-wal", g->path);
    int fd = open(wal, O_RDONLY | O_CLOEXEC);
    free(wal);
    if (fd < 0)
        return;
    char ignored[128];
    if (run_script(g->w, "PRAGMA synchronous=NORMAL", ignored, sizeof(ignored)) < 0) {
        close(fd);
        return;
    }
    pthread_mutex_lock(&g->mu);
    g->wal_fd = fd;
    pthread_mutex_unlock(&g->mu);
}

/* End the turn. joined: the turn's savepoint was released into the batch,
 * so its result is the batch commit's. Hands the batch to the next queued
 * writer while there is one (and room), else commits it and answers every
 * member. Returns the turn's result (joined) or 0.
 * A turn that rolled back waits for the commit too: what made it roll back
 * (a unique violation, a version check) may be an earlier member's write,
 * and its caller's next read, on a pool connection, must see that write. */
static int turn_end(wgroup *g, int joined, char *err, size_t errlen)
{
    waiter me = {0};
    pthread_mutex_lock(&g->mu);
    me.next = g->list;
    g->list = &me;
    g->members++;
    g->joined += joined;
    if (g->outer_open && !g->lost && g->waiting > 0 && g->members < MAX_BATCH) {
        g->busy = 0;
        pthread_cond_signal(&g->turn);
        while (!me.done)
            pthread_cond_wait(&g->done, &g->mu);
        pthread_mutex_unlock(&g->mu);
        if (!joined)
            return 0;
        if (me.rc < 0)
            snprintf(err, errlen, "%s", me.err);
        return me.rc;
    }
    /* Commit now, still holding the turn so nobody touches the writer. */
    int open = g->outer_open, lost = g->lost, njoined = g->joined;
    pthread_mutex_unlock(&g->mu);
    int rc = 0;
    char cerr[256] = "";
    if (lost) {
        rc = TOMO_EUNAVAIL;
        snprintf(cerr, sizeof(cerr), "the write was lost: the database aborted the transaction");
        if (!sqlite3_get_autocommit(g->w->h))
            run_script(g->w, "ROLLBACK", cerr + strlen(cerr), 0);
    } else if (open) {
        uint64_t t0 = tomo_mono_ns();
        rc = run_script(g->w, "COMMIT", cerr, sizeof(cerr));
        pthread_once(&g_metrics_once, metrics_init);
        tomo_metric_observe(m_commit_ms, NULL, (double)(tomo_mono_ns() - t0) / 1e6);
        if (rc < 0 && !sqlite3_get_autocommit(g->w->h)) {
            char ignored[64];
            run_script(g->w, "ROLLBACK", ignored, sizeof(ignored));
        }
        if (rc == 0 && g->wal_fd < 0)
            wal_open(g);
    }
    /* Take the batch, and hand the turn on (the writer is free again). */
    pthread_mutex_lock(&g->mu);
    waiter *list = g->list;
    int synced_here = open && rc == 0 && njoined > 0 && g->wal_fd >= 0;
    uint64_t seq = 0;
    if (synced_here) {
        seq = ++g->written;
        g->wwrites += (uint64_t)njoined;
    }
    g->list = NULL;
    g->members = g->joined = 0;
    g->outer_open = 0;
    g->lost = 0;
    g->busy = 0;
    pthread_cond_signal(&g->turn);
    if (synced_here) {
        /* Wait for an fdatasync that started after this commit was
         * written, running one when nobody is. */
        while (g->synced < seq && !g->sync_failed) {
            if (g->syncing) {
                pthread_cond_wait(&g->synced_cv, &g->mu);
                continue;
            }
            g->syncing = 1;
            uint64_t upto = g->written, upto_writes = g->wwrites;
            int fd = g->wal_fd;
            pthread_mutex_unlock(&g->mu);
            int src = fdatasync(fd);
            int serr = errno;
            pthread_mutex_lock(&g->mu);
            g->syncing = 0;
            if (src == 0) {
                /* one fsync: the durable "commit" of every batch it covers */
                g->commits++;
                g->writes += upto_writes - g->swrites;
                tomo_metric_observe(m_batch, NULL, (double)(upto_writes - g->swrites));
                g->synced = upto;
                g->swrites = upto_writes;
            } else {
                /* After a failed fsync the kernel may have dropped the
                 * pages: nothing written since is known to be durable.
                 * Refuse every write from here on (as Postgres panics). */
                g->sync_failed = serr ? serr : EIO;
                TOMO_LOGE(TOMO_STORE, "sqlite fdatasync of the WAL failed, writes refused "
                                      "until restart path=%s error=%s",
                          g->path, strerror(g->sync_failed));
            }
            pthread_cond_broadcast(&g->synced_cv);
        }
        if (g->synced < seq) {
            rc = TOMO_EIO;
            snprintf(cerr, sizeof(cerr), "the write may be lost: fsync of the WAL failed: %s",
                     strerror(g->sync_failed));
        }
    }
    if (open && rc == 0 && !synced_here && g->wal_fd < 0) { /* FULL: COMMIT fsynced */
        g->commits++;
        g->writes += (uint64_t)njoined;
        tomo_metric_observe(m_batch, NULL, (double)njoined);
    }
    for (waiter *x = list; x; x = x->next) {
        x->rc = rc;
        if (rc < 0)
            snprintf(x->err, sizeof(x->err), "%s", cerr);
        x->done = 1;
    }
    pthread_cond_broadcast(&g->done);
    pthread_mutex_unlock(&g->mu);
    if (!joined)
        return 0;
    if (rc < 0)
        snprintf(err, errlen, "%s", cerr);
    return rc;
}

/* COMMIT (commit 1) or ROLLBACK (0) of a connection's transaction. */
static int end_tx(sconn *c, int commit, char *err, size_t errlen)
{
    wgroup *g = c->g;
    c->in_tx = 0;
    int rc = commit ? run_script(g->w, "RELEASE tomo_turn", err, errlen) : -1;
    if (rc == 0)
        return turn_end(g, 1, err, errlen);
    /* rolled back, or the release failed (deferred constraint): undo the
     * turn's writes only */
    char ignored[128];
    if (run_script(g->w, "ROLLBACK TO tomo_turn; RELEASE tomo_turn", ignored, sizeof(ignored)) < 0)
        check_lost(g);
    turn_end(g, 0, ignored, sizeof(ignored));
    return commit ? rc : 0;
}

/* One statement on handle c (a pool connection, or the writer in a turn). */
static int run_stmt(sconn *c, sqlite3_stmt *st, const tomo_dbval *params, size_t n,
                    tomo_dbres **out, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        char name[24];
        snprintf(name, sizeof(name), "$%zu", i + 1);
        int idx = sqlite3_bind_parameter_index(st, name);
        if (idx == 0)
            continue; /* parameter not used by this statement */
        switch (params[i].type) {
        case TOMO_DBV_NULL: sqlite3_bind_null(st, idx); break;
        case TOMO_DBV_INT: sqlite3_bind_int64(st, idx, params[i].i); break;
        case TOMO_DBV_TEXT: sqlite3_bind_text(st, idx, params[i].s, -1, SQLITE_STATIC); break;
        }
    }
    tomo_dbres *res = NULL;
    int ncols = sqlite3_column_count(st);
    if (out) {
        res = tomo_dbres_new((size_t)ncols);
        for (int i = 0; i < ncols; i++)
            tomo_dbres_set_colname(res, (size_t)i, sqlite3_column_name(st, i));
    }
    const char *cells[64];
    size_t lens[64];
    int ret = 0;
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            if (res && ncols <= 64) {
                for (int i = 0; i < ncols; i++) {
                    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
                        cells[i] = NULL;
                        lens[i] = 0;
                    } else {
                        cells[i] = (const char *)sqlite3_column_text(st, i);
                        lens[i] = (size_t)sqlite3_column_bytes(st, i);
                    }
                }
                tomo_dbres_add_row(res, cells, lens);
            }
            continue;
        }
        if (rc == SQLITE_DONE)
            break;
        ret = map_err(c->h, sqlite3_extended_errcode(c->h), err, errlen);
        break;
    }
    if (res)
        tomo_dbres_set_changes(res, sqlite3_changes64(c->h));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (ret < 0) {
        tomo_dbres_free(res);
        return ret;
    }
    if (out)
        *out = res;
    return 0;
}

static int s_exec(void *vc, const char *sql, const tomo_dbval *params, size_t n, tomo_dbres **out,
                  char *err, size_t errlen)
{
    sconn *c = vc;
    wgroup *g = c->g;
    int rc;
    /* Transaction control and multi-statement scripts (migrations) bypass
     * the cache. */
    if (!params && !out && (strchr(sql, ';') || !strncmp(sql, "BEGIN", 5) ||
                            !strcmp(sql, "COMMIT") || !strcmp(sql, "ROLLBACK"))) {
        if (!strncmp(sql, "BEGIN", 5)) {
            if (c->in_tx) {
                snprintf(err, errlen, "cannot start a transaction within a transaction");
                return TOMO_EDB;
            }
            if ((rc = turn_begin(g, err, errlen)) == 0)
                c->in_tx = 1;
            return rc;
        }
        if (!strcmp(sql, "COMMIT") || !strcmp(sql, "ROLLBACK")) {
            if (!c->in_tx) {
                if (sql[0] == 'R')
                    return 0; /* nothing open (a failed COMMIT already ended it) */
                snprintf(err, errlen, "cannot commit - no transaction is active");
                return TOMO_EDB;
            }
            return end_tx(c, sql[0] == 'C', err, errlen);
        }
        if (c->in_tx) {
            rc = run_script(g->w, sql, err, errlen);
            if (rc < 0)
                check_lost(g);
            return rc;
        }
        /* A script outside a transaction is one turn of its own. */
        if ((rc = turn_begin(g, err, errlen)) < 0)
            return rc;
        c->in_tx = 1;
        rc = run_script(g->w, sql, err, errlen);
        if (rc < 0) {
            check_lost(g);
            end_tx(c, 0, err + strlen(err), 0);
            return rc;
        }
        return end_tx(c, 1, err, errlen);
    }
    if (c->in_tx) {
        sqlite3_stmt *st = prepare(g->w, sql, &rc);
        if (!st)
            return map_err(g->w->h, rc, err, errlen);
        rc = run_stmt(g->w, st, params, n, out, err, errlen);
        if (rc < 0)
            check_lost(g);
        return rc;
    }
    sqlite3_stmt *st = prepare(c, sql, &rc);
    if (!st)
        return map_err(c->h, rc, err, errlen);
    if (sqlite3_stmt_readonly(st))
        return run_stmt(c, st, params, n, out, err, errlen);
    /* A write outside a transaction: one turn on the writer, in a batch. */
    if ((rc = turn_begin(g, err, errlen)) < 0)
        return rc;
    c->in_tx = 1;
    st = prepare(g->w, sql, &rc);
    rc = st ? run_stmt(g->w, st, params, n, out, err, errlen) : map_err(g->w->h, rc, err, errlen);
    if (rc < 0) {
        check_lost(g);
        char ignored[64];
        end_tx(c, 0, ignored, sizeof(ignored));
        return rc;
    }
    rc = end_tx(c, 1, err, errlen);
    if (rc < 0 && out) {
        tomo_dbres_free(*out);
        *out = NULL;
    }
    return rc;
}

static void s_disconnect(void *vc)
{
    sconn *c = vc;
    if (!c)
        return;
    if (c->in_tx) {
        char ignored[64]; /* dropped mid-transaction: roll its turn back */
        end_tx(c, 0, ignored, sizeof(ignored));
    }
    group_unref(c->g);
    conn_close(c);
}

static void s_write_stats(tomo_db *db, uint64_t *commits, uint64_t *writes)
{
    *commits = *writes = 0;
    pthread_mutex_lock(&g_groups_mu);
    for (wgroup *g = g_groups; g; g = g->next)
        if (!strcmp(g->path, tomo_db_target(db))) {
            pthread_mutex_lock(&g->mu);
            *commits = g->commits;
            *writes = g->writes;
            pthread_mutex_unlock(&g->mu);
        }
    pthread_mutex_unlock(&g_groups_mu);
}

static int s_ping(void *vc)
{
    sconn *c = vc;
    return sqlite3_exec(c->h, "SELECT 1", NULL, NULL, NULL) == SQLITE_OK ? 0 : TOMO_EUNAVAIL;
}

const tomo_db_backend tomo_db_sqlite_backend = {
    .name = "sqlite",
    .kind = TOMO_DB_SQLITE,
    .connect = s_connect,
    .disconnect = s_disconnect,
    .exec = s_exec,
    .ping = s_ping,
    .write_stats = s_write_stats,
};
