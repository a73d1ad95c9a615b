/* store/db.c: connection pool and result sets, backend-neutral.
 * The pool also keeps a small circuit breaker: after a failed connection
 * attempt, further attempts fail at once for BREAKER_MS (one caller at a time
 * may probe once that has passed), so a dead database costs requests no
 * connect timeouts and does not tie up every worker. A connection lost in
 * use only makes an outage suspected: the idle connections are closed and the
 * next connect is a probe that other callers wait for (one killed backend
 * should not fail requests). */
#define _GNU_SOURCE
#include "db.h"

#include "../core/common.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/trace.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BREAKER_MS 1000

struct tomo_dbconn {
    tomo_db *db;
    void *h;
    int64_t created_ms;
    int in_tx, broken;
    char err[512];
    struct tomo_dbconn *next;
};

struct tomo_db {
    const tomo_db_backend *be;
    const tomo_config *cfg;
    char *target, *target_redacted;
    void *backend_data;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tomo_dbconn *idle;
    int nidle, nopen, max_open, max_idle;
    int64_t max_lifetime_ms;
    uint64_t wait_count, e_unavail, e_timeout, e_other, e_conflict;
    int nconnecting;      /* counted in nopen while a connect is under way */
    int64_t down_until;   /* breaker open until then (0 = closed) */
    int probing;          /* one caller is trying to connect while open */
    int outage;           /* the last connection attempt failed */
    char last_connect_err[512];
    tomo_metric *m_latency, *m_errors;
};

/* Cell text lives in chunks (one allocation per few rows, not per cell). */
typedef struct cellchunk {
    struct cellchunk *next;
    size_t used, cap;
    char data[];
} cellchunk;

struct tomo_dbres {
    size_t cols, rows, cap;
    char **names;
    char **cells; /* rows*cols, pointing into chunks */
    cellchunk *chunks; /* newest first */
    int64_t changes;
};

void *tomo_db_backend_data(tomo_db *db) { return db->backend_data; }

int tomo_db_open(const tomo_config *cfg, tomo_db **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *addr = cfg->database.address.n ? cfg->database.address.v[0] : "";
    const tomo_db_backend *be;
    char *target;
    if (!*addr || !strncmp(addr, "sqlite:", 7)) {
        be = &tomo_db_sqlite_backend;
        const char *path = *addr ? addr + 7 : "";
        target = *path ? tomo_xstrdup(path) : tomo_xasprintf("%s/tomo.db", cfg->data_dir);
    } else {
        be = &tomo_db_postgres_backend;
        target = tomo_xstrdup(addr);
    }
    tomo_db *db = tomo_xcalloc(1, sizeof(*db));
    db->be = be;
    db->cfg = cfg;
    db->target = target;
    db->target_redacted = tomo_redact_dsn(target);
    db->max_open = cfg->database.max_open_conns;
    db->max_idle = cfg->database.max_idle_conns;
    db->max_lifetime_ms = cfg->database.conn_max_lifetime_ms;
    pthread_mutex_init(&db->mu, NULL);
    pthread_cond_init(&db->cv, NULL);
    db->m_latency = tomo_metrics_histogram("database_query_latency_ms",
                                           "Database statement latency in milliseconds", NULL,
                                           NULL, 0);
    db->m_errors = tomo_metrics_counter("database_query_errors_total",
                                        "Failed database operations by kind", "kind");
    /* every kind visible from the start, so rates work from zero */
    static const char *const kinds[] = {"unavailable", "timeout", "conflict", "other"};
    for (size_t i = 0; i < TOMO_ARRAY_LEN(kinds); i++)
        tomo_metric_add(db->m_errors, (const char *[]){kinds[i]}, 0);
    if (be->kind == TOMO_DB_SQLITE) {
        /* Open once now so a bad path is a start-up error. */
        void *h = NULL;
        int rc = be->connect(db, &h, err, errlen);
        if (rc < 0) {
            tomo_db_close(db);
            return rc;
        }
        tomo_dbconn *c = tomo_xcalloc(1, sizeof(*c));
        c->db = db;
        c->h = h;
        c->created_ms = tomo_now_ms();
        c->next = NULL;
        db->idle = c;
        db->nidle = 1;
        db->nopen = 1;
    }
    *out = db;
    return 0;
}

tomo_db_kind tomo_db_kind_of(const tomo_db *db) { return db->be->kind; }
const char *tomo_db_backend_name(const tomo_db *db) { return db->be->name; }
const char *tomo_db_target(const tomo_db *db) { return db->target; }
const char *tomo_db_target_redacted(const tomo_db *db) { return db->target_redacted; }
const tomo_config *tomo_db_config(const tomo_db *db) { return db->cfg; }

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void conn_destroy(tomo_dbconn *c)
{
    c->db->be->disconnect(c->h);
    free(c);
}

/* Count a failure (caller holds db->mu). */
static void count_error_locked(tomo_db *db, int rc)
{
    const char *kind;
    if (rc == TOMO_EUNAVAIL) {
        db->e_unavail++;
        kind = "unavailable";
    } else if (rc == TOMO_ETIMEOUT) {
        db->e_timeout++;
        kind = "timeout";
    } else if (rc == TOMO_ECONFLICT) {
        db->e_conflict++;
        kind = "conflict";
    } else {
        db->e_other++;
        kind = "other";
    }
    tomo_metric_add(db->m_errors, (const char *[]){kind}, 1);
}

static int conn_fit(tomo_db *db, tomo_dbconn *c)
{
    return !c->broken && (!db->be->check_idle || db->be->check_idle(c->h) == 0);
}

/* Open a new connection; called with db->mu held and a slot reserved in
 * nopen. Returns with db->mu released. */
static int conn_open_unlocked(tomo_db *db, int probe, tomo_dbconn **out)
{
    db->nconnecting++;
    pthread_mutex_unlock(&db->mu);
    void *h = NULL;
    char err[512];
    err[0] = '\0';
    int rc = db->be->connect(db, &h, err, sizeof(err));
    pthread_mutex_lock(&db->mu);
    db->nconnecting--;
    if (probe) {
        db->probing = 0;
        pthread_cond_broadcast(&db->cv); /* callers waiting for the verdict */
    }
    if (rc < 0) {
        db->nopen--;
        count_error_locked(db, TOMO_EUNAVAIL);
        int was_down = db->outage;
        db->outage = 1;
        db->down_until = tomo_now_ms() + BREAKER_MS;
        snprintf(db->last_connect_err, sizeof(db->last_connect_err), "%s", err);
        pthread_cond_signal(&db->cv);
        pthread_mutex_unlock(&db->mu);
        /* logged once per attempt: with the breaker, at most about once a second */
        TOMO_LOGW(TOMO_STORE, "database connect failed backend=%s target=%s outage=%s error=%s",
                  db->be->name, db->target_redacted, was_down ? "continuing" : "new", err);
        return TOMO_EUNAVAIL;
    }
    int was_down = db->outage;
    db->outage = 0;
    db->down_until = 0;
    pthread_mutex_unlock(&db->mu);
    if (was_down)
        TOMO_LOGI(TOMO_STORE, "database reachable again backend=%s target=%s", db->be->name,
                  db->target_redacted);
    tomo_dbconn *c = tomo_xcalloc(1, sizeof(*c));
    c->db = db;
    c->h = h;
    c->created_ms = tomo_now_ms();
    *out = c;
    return 0;
}

int tomo_db_acquire(tomo_db *db, tomo_dbconn **out)
{
    *out = NULL;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    int64_t to = db->cfg->database.query_timeout_ms;
    deadline.tv_sec += to / 1000;
    deadline.tv_nsec += (to % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&db->mu);
    for (;;) {
        while (db->idle) {
            tomo_dbconn *c = db->idle;
            db->idle = c->next;
            db->nidle--;
            int expired = db->max_lifetime_ms > 0 &&
                          tomo_now_ms() - c->created_ms > db->max_lifetime_ms;
            /* dead idle connections (server restarted, backend killed) are
             * dropped here, before a request can fail on them */
            if (expired || !conn_fit(db, c)) {
                db->nopen--;
                pthread_mutex_unlock(&db->mu);
                conn_destroy(c);
                pthread_mutex_lock(&db->mu);
                continue;
            }
            pthread_mutex_unlock(&db->mu);
            c->next = NULL;
            c->err[0] = '\0';
            *out = c;
            return 0;
        }
        if (db->nopen < db->max_open) {
            int probe = 0;
            if (db->down_until) {
                /* Only suspected (a connection was lost, nothing has failed
                 * to connect yet): wait for the probe's verdict rather than
                 * fail requests over what may be one killed backend. */
                if (db->probing && !db->outage) {
                    db->wait_count++;
                    if (pthread_cond_timedwait(&db->cv, &db->mu, &deadline) == ETIMEDOUT) {
                        count_error_locked(db, TOMO_ETIMEOUT);
                        pthread_mutex_unlock(&db->mu);
                        return TOMO_ETIMEOUT;
                    }
                    continue;
                }
                if (tomo_now_ms() < db->down_until || db->probing) {
                    count_error_locked(db, TOMO_EUNAVAIL);
                    pthread_mutex_unlock(&db->mu);
                    return TOMO_EUNAVAIL;
                }
                db->probing = probe = 1;
            }
            db->nopen++;
            return conn_open_unlocked(db, probe, out);
        }
        db->wait_count++;
        if (pthread_cond_timedwait(&db->cv, &db->mu, &deadline) == ETIMEDOUT) {
            count_error_locked(db, TOMO_ETIMEOUT);
            pthread_mutex_unlock(&db->mu);
            return TOMO_ETIMEOUT;
        }
    }
}

void tomo_db_release(tomo_dbconn *c)
{
    if (!c)
        return;
    tomo_db *db = c->db;
    if (c->in_tx && !c->broken)
        tomo_db_rollback(c);
    int fit = conn_fit(db, c);
    pthread_mutex_lock(&db->mu);
    if (!fit || db->nidle >= db->max_idle) {
        db->nopen--;
        pthread_cond_signal(&db->cv);
        pthread_mutex_unlock(&db->mu);
        conn_destroy(c);
        return;
    }
    c->next = db->idle;
    db->idle = c;
    db->nidle++;
    pthread_cond_signal(&db->cv);
    pthread_mutex_unlock(&db->mu);
}

/* A connection in use was lost: the others are likely gone too (server
 * restart, network). Close the idle ones, and let the next connection attempt
 * be a probe that the rest wait for by failing fast, so a vanished host does
 * not cost every request its own timeout. */
static void suspect_outage(tomo_db *db)
{
    pthread_mutex_lock(&db->mu);
    tomo_dbconn *idle = db->idle;
    db->idle = NULL;
    db->nopen -= db->nidle;
    db->nidle = 0;
    if (!db->down_until)
        db->down_until = tomo_now_ms(); /* half-open: one probe may connect now */
    pthread_cond_broadcast(&db->cv);
    pthread_mutex_unlock(&db->mu);
    while (idle) {
        tomo_dbconn *n = idle->next;
        conn_destroy(idle);
        idle = n;
    }
}

int tomo_db_exec(tomo_dbconn *c, const char *sql, const tomo_dbval *params, size_t n,
                 tomo_dbres **out)
{
    if (out)
        *out = NULL;
    tomo_dbres *res = NULL;
    tomo_db *db = c->db;
    tomo_trace span;
    tomo_trace_begin_child(&span, tomo_trace_current());
    double t0 = mono_ms();
    int rc = db->be->exec(c->h, sql, params, n, out ? &res : NULL, c->err, sizeof(c->err));
    tomo_metric_observe(db->m_latency, NULL, mono_ms() - t0);
    if (span.active && tomo_trace_exporting()) {
        /* the statement's verb names the span (never its parameters) */
        const char *v = sql;
        while (*v == ' ' || *v == '\n' || *v == '\t')
            v++;
        int k = 0;
        while (k < 16 && v[k] && v[k] != ' ' && v[k] != '\n' && v[k] != '\t')
            k++;
        char name[24];
        snprintf(name, sizeof(name), "db %.*s", k, v);
        tomo_trace_end(&span, TOMO_SPAN_CLIENT, name, rc < 0 ? 13 : 0, "db");
    }
    if (rc < 0) {
        tomo_dbres_free(res);
        pthread_mutex_lock(&db->mu);
        count_error_locked(db, rc);
        pthread_mutex_unlock(&db->mu);
        if (rc == TOMO_EUNAVAIL) {
            c->broken = 1;
            suspect_outage(db);
        }
        if (rc != TOMO_ECONFLICT)
            TOMO_LOGD(TOMO_STORE, "query failed rc=%s error=%s", tomo_strerror(rc), c->err);
        return rc;
    }
    if (out)
        *out = res;
    return 0;
}

int tomo_db_begin(tomo_dbconn *c)
{
    int rc = tomo_db_exec(c, c->db->be->kind == TOMO_DB_SQLITE ? "BEGIN IMMEDIATE" : "BEGIN", NULL,
                          0, NULL);
    if (rc == 0)
        c->in_tx = 1;
    return rc;
}

int tomo_db_commit(tomo_dbconn *c)
{
    int rc = tomo_db_exec(c, "COMMIT", NULL, 0, NULL);
    if (rc < 0 && !c->broken) {
        char saved[512];
        snprintf(saved, sizeof(saved), "%s", c->err);
        tomo_db_exec(c, "ROLLBACK", NULL, 0, NULL);
        snprintf(c->err, sizeof(c->err), "%s", saved);
    }
    c->in_tx = 0;
    return rc;
}

int tomo_db_rollback(tomo_dbconn *c)
{
    int rc = tomo_db_exec(c, "ROLLBACK", NULL, 0, NULL);
    c->in_tx = 0;
    return rc;
}

const char *tomo_db_errmsg(const tomo_dbconn *c) { return c->err; }

void tomo_db_last_connect_error(tomo_db *db, char *buf, size_t len)
{
    pthread_mutex_lock(&db->mu);
    snprintf(buf, len, "%s", db->last_connect_err);
    pthread_mutex_unlock(&db->mu);
}

int tomo_db_check(tomo_db *db)
{
    tomo_dbconn *c;
    int rc = tomo_db_acquire(db, &c);
    if (rc < 0)
        return rc;
    rc = db->be->ping(c->h);
    if (rc < 0)
        c->broken = 1;
    tomo_db_release(c);
    return rc < 0 ? TOMO_EUNAVAIL : 0;
}

void tomo_db_stats_get(tomo_db *db, tomo_db_stats *out)
{
    pthread_mutex_lock(&db->mu);
    /* a connection being opened is not open yet */
    out->open = db->nopen - db->nconnecting;
    out->idle = db->nidle;
    out->in_use = out->open - db->nidle;
    out->max_open = db->max_open;
    out->wait_count = db->wait_count;
    out->errors_unavailable = db->e_unavail;
    out->errors_timeout = db->e_timeout;
    out->errors_other = db->e_other;
    out->errors_conflict = db->e_conflict;
    pthread_mutex_unlock(&db->mu);
    out->commits = out->commit_writes = 0;
    if (db->be->write_stats)
        db->be->write_stats(db, &out->commits, &out->commit_writes);
}

void tomo_db_close(tomo_db *db)
{
    if (!db)
        return;
    pthread_mutex_lock(&db->mu);
    tomo_dbconn *c = db->idle;
    db->idle = NULL;
    pthread_mutex_unlock(&db->mu);
    while (c) {
        tomo_dbconn *n = c->next;
        conn_destroy(c);
        c = n;
    }
    pthread_mutex_destroy(&db->mu);
    pthread_cond_destroy(&db->cv);
    free(db->target);
    free(db->target_redacted);
    free(db);
}

/* ---- results ---- */

tomo_dbres *tomo_dbres_new(size_t cols)
{
    tomo_dbres *r = tomo_xcalloc(1, sizeof(*r));
    r->cols = cols;
    r->names = tomo_xcalloc(cols ? cols : 1, sizeof(char *));
    return r;
}

void tomo_dbres_set_colname(tomo_dbres *r, size_t col, const char *name)
{
    free(r->names[col]);
    r->names[col] = tomo_xstrdup(name ? name : "");
}

void tomo_dbres_add_row(tomo_dbres *r, const char *const *cells, const size_t *lens)
{
    if (r->rows == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->cells = tomo_xrealloc(r->cells, r->cap * (r->cols ? r->cols : 1) * sizeof(char *));
    }
    size_t need = 0;
    for (size_t i = 0; i < r->cols; i++)
        if (cells[i])
            need += lens[i] + 1;
    cellchunk *ch = r->chunks;
    if (!ch || ch->cap - ch->used < need) {
        /* 1 KiB, then doubling up to 64 KiB: a one-row result stays small */
        size_t cap = ch ? (ch->cap < 65536 ? ch->cap * 2 : ch->cap) : 1024;
        if (cap < need)
            cap = need;
        ch = tomo_xmalloc(sizeof(cellchunk) + cap);
        ch->next = r->chunks;
        ch->used = 0;
        ch->cap = cap;
        r->chunks = ch;
    }
    for (size_t i = 0; i < r->cols; i++) {
        char *p = NULL;
        if (cells[i]) {
            p = ch->data + ch->used;
            memcpy(p, cells[i], lens[i]);
            p[lens[i]] = '\0';
            ch->used += lens[i] + 1;
        }
        r->cells[r->rows * r->cols + i] = p;
    }
    r->rows++;
}

void tomo_dbres_set_changes(tomo_dbres *r, int64_t n) { r->changes = n; }
size_t tomo_dbres_rows(const tomo_dbres *r) { return r ? r->rows : 0; }
size_t tomo_dbres_cols(const tomo_dbres *r) { return r ? r->cols : 0; }
int64_t tomo_dbres_changes(const tomo_dbres *r) { return r ? r->changes : 0; }
const char *tomo_dbres_colname(const tomo_dbres *r, size_t col) { return r->names[col]; }

const char *tomo_dbres_text(const tomo_dbres *r, size_t row, size_t col)
{
    if (!r || row >= r->rows || col >= r->cols)
        return NULL;
    return r->cells[row * r->cols + col];
}

int64_t tomo_dbres_int(const tomo_dbres *r, size_t row, size_t col)
{
    const char *t = tomo_dbres_text(r, row, col);
    return t ? strtoll(t, NULL, 10) : 0;
}

void tomo_dbres_free(tomo_dbres *r)
{
    if (!r)
        return;
    while (r->chunks) {
        cellchunk *n = r->chunks->next;
        free(r->chunks);
        r->chunks = n;
    }
    for (size_t i = 0; i < r->cols; i++)
        free(r->names[i]);
    free(r->cells);
    free(r->names);
    free(r);
}

int tomo_db_exec_changes(tomo_dbconn *c, const char *sql, const tomo_dbval *params, size_t n,
                         int64_t *changed)
{
    tomo_dbres *r = NULL;
    int rc = tomo_db_exec(c, sql, params, n, &r);
    *changed = rc == 0 ? tomo_dbres_changes(r) : 0;
    tomo_dbres_free(r);
    return rc;
}
