/* store/sqlite.c: the embedded SQLite backend.
 * One connection per pool slot (the pool hands one to each worker at a time),
 * WAL journal so readers never block the writer, a busy timeout equal to the
 * query timeout, synchronous=FULL so an acknowledged commit survives power
 * loss, and a per-connection prepared-statement cache. */
#define _GNU_SOURCE
#include "db.h"

#include "../core/common.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CACHE_SIZE 128

typedef struct cached {
    char *sql;
    sqlite3_stmt *st;
    uint64_t last_use;
} cached;

typedef struct sconn {
    sqlite3 *h;
    cached cache[CACHE_SIZE];
    size_t ncache;
    uint64_t tick;
    uint64_t busy_since_ns; /* start of the current wait for the write lock */
    uint64_t busy_limit_ns;
    int holds_writer;       /* this connection holds g_writer */
} sconn;

/* One writer at a time, queued in-process. SQLite allows a single writer per
 * database; letting workers race for its file lock and back off (busy
 * handler) wastes time and makes the tail latency depend on sleep steps. A
 * mutex hands the write lock straight to the next waiting worker instead. The
 * busy handler below still covers other processes (e.g. `tomo migrate up`). */
static pthread_mutex_t g_writer = PTHREAD_MUTEX_INITIALIZER;

static void writer_lock(sconn *c)
{
    if (!c->holds_writer) {
        pthread_mutex_lock(&g_writer);
        c->holds_writer = 1;
    }
}

static void writer_unlock(sconn *c)
{
    if (c->holds_writer) {
        c->holds_writer = 0;
        pthread_mutex_unlock(&g_writer);
    }
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

static int s_connect(tomo_db *db, void **out, char *err, size_t errlen)
{
    const char *path = tomo_db_target(db);
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
    c->busy_limit_ns = (uint64_t)tomo_db_config(db)->database.query_timeout_ms * 1000000ull;
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

static void s_disconnect(void *vc)
{
    sconn *c = vc;
    if (!c)
        return;
    writer_unlock(c);
    for (size_t i = 0; i < c->ncache; i++) {
        sqlite3_finalize(c->cache[i].st);
        free(c->cache[i].sql);
    }
    sqlite3_close(c->h);
    free(c);
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

static int s_exec(void *vc, const char *sql, const tomo_dbval *params, size_t n, tomo_dbres **out,
                  char *err, size_t errlen)
{
    sconn *c = vc;
    int rc;
    /* Transaction control and multi-statement scripts (migrations) bypass
     * the cache. */
    if (!params && !out && (strchr(sql, ';') || !strncmp(sql, "BEGIN", 5) ||
                            !strcmp(sql, "COMMIT") || !strcmp(sql, "ROLLBACK"))) {
        char *emsg = NULL;
        int begin = !strncmp(sql, "BEGIN", 5);
        if (begin || strchr(sql, ';'))
            writer_lock(c); /* a transaction (or script) holds it until it ends */
        rc = sqlite3_exec(c->h, sql, NULL, NULL, &emsg);
        if (sqlite3_get_autocommit(c->h))
            writer_unlock(c); /* COMMIT, ROLLBACK, a finished script or a failed BEGIN */
        if (rc != SQLITE_OK) {
            int m = map_err(c->h, sqlite3_extended_errcode(c->h), err, errlen);
            if (emsg)
                snprintf(err, errlen, "%s", emsg);
            sqlite3_free(emsg);
            return m;
        }
        return 0;
    }
    sqlite3_stmt *st = prepare(c, sql, &rc);
    if (!st)
        return map_err(c->h, rc, err, errlen);
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
    /* A write outside a transaction takes the writer lock for its step. */
    int solo_write = !c->holds_writer && !sqlite3_stmt_readonly(st);
    if (solo_write)
        writer_lock(c);
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
        rc = sqlite3_step(st);
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
    if (solo_write)
        writer_unlock(c);
    if (ret < 0) {
        tomo_dbres_free(res);
        return ret;
    }
    if (out)
        *out = res;
    return 0;
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
};
