/* store/pg.c: the PostgreSQL backend (libpq).
 * Owns: one libpq connection per pool slot and its prepared-statement cache.
 * Threads: whichever worker holds the connection (see db.h); a batch's
 * connection (its first member's) is used by the member whose turn it is,
 * then by the member that commits it, never by two threads at once.
 *
 * Address forms (database.address): Nakama's "user:pass@host:port/db" or
 * "user@host:port/db" (port 5432 and database "nakama" when left out), or a
 * "postgres://" / "postgresql://" URL handed to libpq as is (plus the same
 * default database).
 *
 * Every wait is bounded so a dead or stuck server fails fast:
 *   - connect_timeout (3 s) and TCP keepalives / tcp_user_timeout at connect;
 *   - statement_timeout = database.query_timeout_ms, set on each connection,
 *     so the server cancels a slow statement (SQLSTATE 57014 -> ETIMEOUT);
 *   - a client-side deadline a little past that for the answer itself, after
 *     which the connection is treated as lost (-> EUNAVAIL, dropped).
 *
 * Statements with parameters (or whose rows are wanted) are prepared once per
 * connection (PQsendPrepare) and run with PQsendQueryPrepared; parameters and
 * results travel as text. Parameter types: an INTEGER value is declared int8,
 * everything else is left for the server to infer, like a quoted literal.
 * Parameterless scripts (migrations, BEGIN/COMMIT) use the simple protocol.
 *
 * Writes: group commit (see "group commit" below). Every explicit
 * transaction runs as one member of a batch: one Postgres transaction, each
 * member in its own SAVEPOINT, committed once for all of them, so
 * concurrent writers share one COMMIT and one WAL flush. A batch's own
 * bookkeeping (BEGIN, SAVEPOINT, RELEASE) rides in pipeline mode with the
 * members' statements and costs no round trip of its own. Statements outside
 * a transaction run on the caller's own connection as before.
 *
 * database.pgbouncer (pgBouncer in transaction mode, where consecutive
 * transactions of one client run on different server connections): nothing
 * is kept per server connection. Statements are unnamed (PQsendQueryParams:
 * parse, bind and execute in one round trip), the timeout is set per
 * transaction (BEGIN becomes "BEGIN; SET LOCAL statement_timeout = N"), and
 * a statement outside a transaction is bounded by the client-side deadline
 * (and the role's statement_timeout, if the operator set one). */
#define _GNU_SOURCE
#include "db.h"

#include "../core/common.h"
#include "../core/metrics.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CACHE_SIZE 256
/* The wire protocol's limit (a 16-bit count). SQLite's default is 32766, so
 * portable callers cap lists built from client input below that (db.h). */
#define MAX_PARAMS 65535
/* Parameter arrays up to this size live on the stack. */
#define STACK_PARAMS 128
#define CONNECT_TIMEOUT_SEC "3"
/* Margin past statement_timeout before the client gives up on an answer. */
#define ANSWER_GRACE_MS 2000
#define OID_INT8 20
#define OID_TEXT 25
#define OID_BOOL 16

typedef struct pstmt {
    char *sql;
    char name[24];
    int nparams; /* highest $N the statement uses */
    uint64_t last_use;
} pstmt;

typedef struct pgroup pgroup;
typedef struct lane lane;

typedef struct pconn {
    PGconn *h;
    int64_t timeout_ms; /* statement_timeout */
    pstmt cache[CACHE_SIZE];
    size_t ncache;
    uint64_t tick, next_id;
    int dead; /* the server said it is closing this connection */
    int pgbouncer; /* database.pgbouncer: no server-side state */
    pgroup *g;     /* the pool's group commit (see "group commit" below) */
    struct pconn *tx; /* inside BEGIN .. COMMIT: the open batch's connection (maybe c) */
    lane *ln;         /* ... and its lane */
    /* As a batch's connection: statements owed before its next one (see
     * "statements owed"), and whether one of them failed. */
    int pend_begin, pend_sp, owed, pre_failed;
} pconn;

/* ---- addresses ---- */

/* The libpq URL for a database.address: adds the scheme to Nakama's short
 * form and the default database "nakama" when the path is empty. */
static char *pg_url(const char *addr)
{
    int has_scheme = !strncmp(addr, "postgres://", 11) || !strncmp(addr, "postgresql://", 13);
    char *url = has_scheme ? tomo_xstrdup(addr) : tomo_xasprintf("postgres://%s", addr);
    char *auth = strstr(url, "://") + 3;
    /* Like Nakama (Go's URL parser), the last '@' before the path ends the
     * user info; libpq stops at the first, so escape the others. */
    size_t authlen = strcspn(auth, "/?#");
    const char *last_at = NULL;
    for (const char *p = auth; p < auth + authlen; p++)
        if (*p == '@')
            last_at = p;
    if (last_at && memchr(auth, '@', (size_t)(last_at - auth))) {
        size_t pre = (size_t)(auth - url), ui = (size_t)(last_at - auth);
        char *esc = tomo_xmalloc(strlen(url) + 2 * ui + 1);
        memcpy(esc, url, pre);
        char *w = esc + pre;
        for (size_t i = 0; i < ui; i++) {
            if (auth[i] == '@') {
                memcpy(w, "%40", 3);
                w += 3;
            } else {
                *w++ = auth[i];
            }
        }
        strcpy(w, last_at);
        free(url);
        url = esc;
        auth = url + pre;
    }
    size_t q = strcspn(auth, "?#");
    const char *slash = memchr(auth, '/', q);
    if (slash && (size_t)(slash - auth) + 1 < q)
        return url; /* has a database name */
    /* insert "/nakama" (or complete a lone "/") before any query string */
    size_t pre = slash ? (size_t)(slash - url) : (size_t)(auth - url) + q;
    const char *rest = url + (slash ? pre + 1 : pre);
    char *out = tomo_xasprintf("%.*s/nakama%s", (int)pre, url, rest);
    free(url);
    return out;
}

/* libpq messages end with a newline and may span lines; logs want one line. */
static void set_err(char *err, size_t errlen, const char *prefix, const char *msg)
{
    snprintf(err, errlen, "%s%s", prefix, msg && *msg ? msg : "unknown error");
    size_t n = strlen(err);
    for (size_t i = 0; i < n; i++)
        if (err[i] == '\n' || err[i] == '\t' || err[i] == '\r')
            err[i] = ' ';
    while (n && err[n - 1] == ' ')
        err[--n] = '\0';
}

/* ---- waiting for answers with a deadline ---- */

/* Wait until a whole result is buffered. 0 ok; TOMO_EUNAVAIL when the
 * connection broke or the deadline passed (the connection is then unusable). */
static int wait_ready(pconn *c, int64_t deadline, char *err, size_t errlen)
{
    while (PQisBusy(c->h)) {
        int64_t left = deadline - tomo_now_ms();
        if (left <= 0) {
            snprintf(err, errlen, "no answer from the database within %lld ms",
                     (long long)(c->timeout_ms + ANSWER_GRACE_MS));
            return TOMO_EUNAVAIL;
        }
        struct pollfd pfd = {.fd = PQsocket(c->h), .events = POLLIN};
        if (pfd.fd < 0) {
            set_err(err, errlen, "", PQerrorMessage(c->h));
            return TOMO_EUNAVAIL;
        }
        int pr = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        if (pr < 0)
            continue; /* EINTR */
        if (pr > 0 && !PQconsumeInput(c->h)) {
            set_err(err, errlen, "", PQerrorMessage(c->h));
            return TOMO_EUNAVAIL;
        }
    }
    return 0;
}

/* SQLSTATE -> tomo error code. */
static int map_state(const char *state)
{
    if (!state)
        return TOMO_EDB;
    if (!strcmp(state, "23505"))
        return TOMO_ECONFLICT;
    if (!strncmp(state, "08", 2) || !strcmp(state, "57P01") || !strcmp(state, "57P02") ||
        !strcmp(state, "57P03") || !strcmp(state, "53300"))
        return TOMO_EUNAVAIL;
    if (!strcmp(state, "57014") || !strcmp(state, "55P03") || !strcmp(state, "40P01"))
        return TOMO_ETIMEOUT; /* statement/lock timeout, deadlock victim: retryable */
    return TOMO_EDB;
}

static int map_result(pconn *c, const PGresult *r, char *err, size_t errlen)
{
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    set_err(err, errlen, "", msg ? msg : PQerrorMessage(c->h));
    if (PQstatus(c->h) != CONNECTION_OK)
        return TOMO_EUNAVAIL;
    return map_state(r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL);
}

/* Read every result of the statement just sent. The rows of the last
 * result that has them go to *out (when out != NULL); the first error wins. */
static int collect(pconn *c, int64_t deadline, tomo_dbres **out, char *err, size_t errlen)
{
    int ret = 0;
    tomo_dbres *res = NULL;
    for (;;) {
        int rc = wait_ready(c, deadline, err, errlen);
        if (rc < 0) {
            tomo_dbres_free(res);
            return rc;
        }
        PGresult *r = PQgetResult(c->h);
        if (!r)
            break;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            if (out && ret == 0 && PQnfields(r) > 64) {
                snprintf(err, errlen, "result has %d columns; at most 64 are supported",
                         PQnfields(r));
                ret = TOMO_EDB;
            } else if (out && ret == 0) {
                int ncols = PQnfields(r), nrows = PQntuples(r);
                if (st == PGRES_TUPLES_OK || !res) {
                    tomo_dbres_free(res);
                    res = tomo_dbres_new((size_t)ncols);
                    for (int i = 0; i < ncols; i++)
                        tomo_dbres_set_colname(res, (size_t)i, PQfname(r, i));
                }
                const char *cells[64];
                size_t lens[64];
                for (int row = 0; row < nrows; row++) {
                    for (int i = 0; i < ncols; i++) {
                        if (PQgetisnull(r, row, i)) {
                            cells[i] = NULL;
                            lens[i] = 0;
                            continue;
                        }
                        cells[i] = PQgetvalue(r, row, i);
                        lens[i] = (size_t)PQgetlength(r, row, i);
                        /* booleans as 1/0, as SQLite returns them */
                        if (PQftype(r, i) == OID_BOOL) {
                            cells[i] = cells[i][0] == 't' ? "1" : "0";
                            lens[i] = 1;
                        }
                    }
                    tomo_dbres_add_row(res, cells, lens);
                }
                const char *n = PQcmdTuples(r);
                tomo_dbres_set_changes(res, n && *n ? strtoll(n, NULL, 10) : 0);
            }
        } else if (st != PGRES_EMPTY_QUERY && ret == 0) {
            ret = map_result(c, r, err, errlen);
            if (ret == 0)
                ret = TOMO_EDB;
        }
        PQclear(r);
    }
    if (ret == 0 && PQstatus(c->h) != CONNECTION_OK) {
        set_err(err, errlen, "", PQerrorMessage(c->h));
        ret = TOMO_EUNAVAIL;
    }
    if (ret < 0) {
        tomo_dbres_free(res);
        return ret;
    }
    if (out)
        *out = res ? res : tomo_dbres_new(0);
    else
        tomo_dbres_free(res);
    return 0;
}

/* group commit (below) */
static pgroup *group_ref(const tomo_db *db, const tomo_config *cfg);
static void group_unref(pgroup *g);
static int end_tx(pconn *c, int commit, char *err, size_t errlen);

/* ---- connect ---- */

/* Notices (e.g. "already exists, skipping") are not ours to print. A FATAL
 * or admin-shutdown message that arrives while the connection is idle comes
 * here too: it means the server is closing this connection. */
static void on_notice(void *arg, const PGresult *r)
{
    pconn *c = arg;
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if ((sev && (!strcmp(sev, "FATAL") || !strcmp(sev, "PANIC"))) ||
        map_state(state) == TOMO_EUNAVAIL)
        c->dead = 1;
}

static int p_connect(tomo_db *db, void **out, char *err, size_t errlen)
{
    *out = NULL;
    err[0] = '\0';
    const tomo_config *cfg = tomo_db_config(db);
    char *url = pg_url(tomo_db_target(db));
    /* Our defaults first: settings written in the address override them
     * (libpq applies later keywords over earlier ones). */
    const char *keys[] = {"connect_timeout", "keepalives", "keepalives_idle",
                          "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                          "application_name", "client_encoding", "dbname", NULL};
    const char *vals[] = {CONNECT_TIMEOUT_SEC, "1", "10", "3", "3", "15000", "tomo", "UTF8", url,
                          NULL};
    PGconn *h = PQconnectdbParams(keys, vals, 1);
    free(url);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return TOMO_EUNAVAIL;
    }
    if (PQstatus(h) != CONNECTION_OK) {
        set_err(err, errlen, "", PQerrorMessage(h));
        PQfinish(h);
        return TOMO_EUNAVAIL;
    }
    pconn *c = tomo_xcalloc(1, sizeof(*c));
    c->h = h;
    c->timeout_ms = cfg->database.query_timeout_ms;
    c->pgbouncer = cfg->database.pgbouncer;
    PQsetNoticeReceiver(h, on_notice, c);
    if (c->pgbouncer) {
        c->g = group_ref(db, cfg);
        *out = c;
        return 0;
    }
    /* The server bounds every statement; our own deadline is a backstop. */
    char set[96];
    snprintf(set, sizeof(set), "SET statement_timeout = %lld", (long long)c->timeout_ms);
    int rc = PQsendQuery(h, set) ? collect(c, tomo_now_ms() + c->timeout_ms + ANSWER_GRACE_MS,
                                           NULL, err, errlen)
                                 : TOMO_EUNAVAIL;
    if (rc < 0) {
        if (!*err)
            set_err(err, errlen, "", PQerrorMessage(h));
        PQfinish(h);
        free(c);
        return TOMO_EUNAVAIL;
    }
    c->g = group_ref(db, cfg);
    *out = c;
    return 0;
}

static void p_disconnect(void *vc)
{
    pconn *c = vc;
    if (!c)
        return;
    if (c->tx) {
        char ignored[64]; /* dropped mid-transaction: roll its turn back */
        end_tx(c, 0, ignored, sizeof(ignored));
    }
    group_unref(c->g);
    for (size_t i = 0; i < c->ncache; i++)
        free(c->cache[i].sql);
    PQfinish(c->h);
    free(c);
}

/* ---- statements ---- */

/* Highest $N in sql outside quotes and comments; *gaps gets a bitmap of the
 * numbers up to MAX_PARAMS that do appear (so unused ones can be typed). */
static int scan_params(const char *sql, unsigned char *used /* MAX_PARAMS + 1 */)
{
    int max = 0;
    memset(used, 0, MAX_PARAMS + 1);
    for (const char *p = sql; *p; p++) {
        if (*p == '\'' || *p == '"') {
            char q = *p;
            for (p++; *p && *p != q; p++)
                ;
            if (!*p)
                break;
        } else if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
            if (!*p)
                break;
        } else if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
            int n = 0;
            for (p++; *p >= '0' && *p <= '9'; p++)
                if (n <= MAX_PARAMS)
                    n = n * 10 + (*p - '0');
            p--;
            if (n > MAX_PARAMS)
                n = MAX_PARAMS + 1; /* reported as too many */
            if (n <= MAX_PARAMS)
                used[n] = 1;
            if (n > max)
                max = n;
        }
    }
    return max;
}

static pstmt *lookup(pconn *c, const char *sql)
{
    for (size_t i = 0; i < c->ncache; i++)
        if (c->cache[i].sql == sql || !strcmp(c->cache[i].sql, sql)) {
            c->cache[i].last_use = ++c->tick;
            return &c->cache[i];
        }
    return NULL;
}

static void param_types(int np, const unsigned char *used, const tomo_dbval *params, Oid *types)
{
    for (int i = 0; i < np; i++) {
        if (!used[i + 1])
            types[i] = OID_TEXT; /* a gap in the numbering: any type will do */
        else
            types[i] = params[i].type == TOMO_DBV_INT ? OID_INT8 : 0;
    }
}

/* Prepare sql on the server and cache it; the least recently used entry is
 * deallocated when the cache is full. */
static int prepare(pconn *c, const char *sql, const tomo_dbval *params, size_t n, int64_t deadline,
                   pstmt **out, char *err, size_t errlen)
{
    unsigned char *used = tomo_xmalloc(MAX_PARAMS + 1); /* prepares are rare: cached */
    int np = scan_params(sql, used);
    if (np > MAX_PARAMS || (size_t)np > n) {
        if (np > MAX_PARAMS)
            snprintf(err, errlen, "statement uses more than %d parameters", MAX_PARAMS);
        else
            snprintf(err, errlen, "statement uses $%d but only %zu parameter(s) given", np, n);
        free(used);
        return TOMO_EDB;
    }
    Oid *types = tomo_xmalloc(sizeof(Oid) * (size_t)(np ? np : 1));
    for (int i = 0; i < np; i++) {
        if (!used[i + 1])
            types[i] = OID_TEXT; /* a gap in the numbering: any type will do */
        else
            types[i] = params[i].type == TOMO_DBV_INT ? OID_INT8 : 0;
    }
    free(used);
    size_t slot = c->ncache;
    if (slot == CACHE_SIZE) {
        slot = 0;
        for (size_t i = 1; i < CACHE_SIZE; i++)
            if (c->cache[i].last_use < c->cache[slot].last_use)
                slot = i;
        char dealloc[64];
        snprintf(dealloc, sizeof(dealloc), "DEALLOCATE %s", c->cache[slot].name);
        /* Inside a failed transaction this is refused; the statement then
         * just stays allocated until the connection closes. */
        int rc = PQsendQuery(c->h, dealloc) ? collect(c, deadline, NULL, err, errlen)
                                            : TOMO_EUNAVAIL;
        if (rc == TOMO_EUNAVAIL) {
            free(types);
            return rc;
        }
        free(c->cache[slot].sql);
        memset(&c->cache[slot], 0, sizeof(c->cache[slot]));
        c->ncache--;
        /* keep the array dense */
        if (slot != c->ncache) {
            c->cache[slot] = c->cache[c->ncache];
            memset(&c->cache[c->ncache], 0, sizeof(c->cache[0]));
        }
        slot = c->ncache;
    }
    pstmt *s = &c->cache[slot];
    snprintf(s->name, sizeof(s->name), "tomo_%llu", (unsigned long long)++c->next_id);
    int sent = PQsendPrepare(c->h, s->name, sql, np, np ? types : NULL);
    free(types);
    if (!sent) {
        set_err(err, errlen, "", PQerrorMessage(c->h));
        return TOMO_EUNAVAIL;
    }
    int rc = collect(c, deadline, NULL, err, errlen);
    if (rc < 0)
        return rc;
    s->sql = tomo_xstrdup(sql);
    s->nparams = np;
    s->last_use = ++c->tick;
    c->ncache++;
    *out = s;
    return 0;
}

static int is_script(const char *sql)
{
    return strchr(sql, ';') || !strncmp(sql, "BEGIN", 5) || !strcmp(sql, "COMMIT") ||
           !strcmp(sql, "ROLLBACK") || !strncmp(sql, "SAVEPOINT", 9) ||
           !strncmp(sql, "RELEASE", 7);
}

/* Text values for the first np parameters (ints formatted into ints[]). */
static void param_values(int np, const tomo_dbval *params, const char **vals, char (*ints)[24])
{
    for (int i = 0; i < np; i++) {
        switch (params[i].type) {
        case TOMO_DBV_INT:
            snprintf(ints[i], sizeof(ints[i]), "%lld", (long long)params[i].i);
            vals[i] = ints[i];
            break;
        case TOMO_DBV_TEXT: vals[i] = params[i].s; break;
        default: vals[i] = NULL; break;
        }
    }
}

/* pgBouncer mode: send an unnamed statement, nothing left on the server. */
static int send_unnamed(pconn *c, const char *sql, const tomo_dbval *params, size_t n, char *err,
                        size_t errlen)
{
    unsigned char *used = tomo_xmalloc(MAX_PARAMS + 1);
    int np = scan_params(sql, used);
    if (np > MAX_PARAMS || (size_t)np > n) {
        if (np > MAX_PARAMS)
            snprintf(err, errlen, "statement uses more than %d parameters", MAX_PARAMS);
        else
            snprintf(err, errlen, "statement uses $%d but only %zu parameter(s) given", np, n);
        free(used);
        return TOMO_EDB;
    }
    size_t k = (size_t)(np ? np : 1);
    Oid *types = tomo_xmalloc(sizeof(Oid) * k);
    const char **vals = tomo_xmalloc(sizeof(*vals) * k);
    char(*ints)[24] = tomo_xmalloc(sizeof(*ints) * k);
    param_types(np, used, params, types);
    param_values(np, params, vals, ints);
    free(used);
    int sent = PQsendQueryParams(c->h, sql, np, np ? types : NULL, vals, NULL, NULL, 0);
    free(types);
    free(vals);
    free(ints);
    if (!sent) {
        set_err(err, errlen, "", PQerrorMessage(c->h));
        return TOMO_EUNAVAIL;
    }
    return 0;
}

/* Send a statement already prepared on c (s), or unnamed behind pgBouncer
 * (s NULL). 0, or TOMO_EDB for a parameter mismatch, TOMO_EUNAVAIL when
 * the send failed. */
static int send_stmt(pconn *c, const pstmt *s, const char *sql, const tomo_dbval *params, size_t n,
                     char *err, size_t errlen)
{
    if (!s)
        return send_unnamed(c, sql, params, n, err, errlen);
    if ((size_t)s->nparams > n) {
        snprintf(err, errlen, "statement uses $%d but only %zu parameter(s) given", s->nparams, n);
        return TOMO_EDB;
    }
    const char *vals_st[STACK_PARAMS];
    char ints_st[STACK_PARAMS][24];
    const char **vals = vals_st;
    char(*ints)[24] = ints_st;
    if (s->nparams > STACK_PARAMS) {
        vals = tomo_xmalloc(sizeof(*vals) * (size_t)s->nparams);
        ints = tomo_xmalloc(sizeof(*ints) * (size_t)s->nparams);
    }
    param_values(s->nparams, params, vals, ints);
    int sent = PQsendQueryPrepared(c->h, s->name, s->nparams, s->nparams ? vals : NULL, NULL,
                                   NULL, 0);
    if (vals != vals_st) {
        free(vals);
        free(ints);
    }
    if (!sent) {
        set_err(err, errlen, "", PQerrorMessage(c->h));
        return TOMO_EUNAVAIL;
    }
    return 0;
}

/* ---- statements owed on a batch connection ----
 * A batch's BEGIN, a turn's SAVEPOINT and the RELEASE or ROLLBACK TO that
 * the previous turn owes are not sent on their own: they go out with the
 * turn's first statement, in one pipeline (one round trip). */

enum { OWED_NONE, OWED_RELEASE, OWED_UNDO };

static int has_pending(const pconn *c) { return c->pend_begin || c->owed || c->pend_sp; }

/* The owed statements in order (buf holds a SET LOCAL); clears them. */
static int take_pending(pconn *c, const char **pre, char *buf, size_t buflen)
{
    int k = 0;
    if (c->pend_begin) {
        pre[k++] = "BEGIN";
        if (c->pgbouncer) {
            snprintf(buf, buflen, "SET LOCAL statement_timeout = %lld", (long long)c->timeout_ms);
            pre[k++] = buf;
        }
    }
    if (c->owed == OWED_UNDO)
        pre[k++] = "ROLLBACK TO SAVEPOINT tomo_turn";
    if (c->owed)
        pre[k++] = "RELEASE SAVEPOINT tomo_turn";
    if (c->pend_sp)
        pre[k++] = "SAVEPOINT tomo_turn";
    c->pend_begin = c->pend_sp = 0;
    c->owed = OWED_NONE;
    return k;
}

/* Send the owed statements on their own (before a script, or a statement
 * that must be prepared first). A failure leaves the batch unusable. */
static int flush_pending(pconn *c, int64_t deadline, char *err, size_t errlen)
{
    const char *pre[6];
    char buf[64], sql[256];
    int k = take_pending(c, pre, buf, sizeof(buf));
    size_t off = 0;
    for (int i = 0; i < k; i++)
        off += (size_t)snprintf(sql + off, sizeof(sql) - off, "%s%s", i ? "; " : "", pre[i]);
    int rc = PQsendQuery(c->h, sql) ? collect(c, deadline, NULL, err, errlen) : TOMO_EUNAVAIL;
    if (rc == TOMO_EUNAVAIL && !*err)
        set_err(err, errlen, "", PQerrorMessage(c->h));
    if (rc < 0)
        c->pre_failed = 1;
    return rc;
}

/* The owed statements and one statement (prepared on c, or unnamed) in one
 * pipeline. The statement's result is returned; a failed owed statement
 * (first error wins) sets pre_failed. */
static int exec_pipelined(pconn *c, const pstmt *s, const char *sql, const tomo_dbval *params,
                          size_t n, tomo_dbres **out, int64_t deadline, char *err, size_t errlen)
{
    if (s && (size_t)s->nparams > n) {
        snprintf(err, errlen, "statement uses $%d but only %zu parameter(s) given", s->nparams, n);
        return TOMO_EDB; /* nothing sent: the owed statements stay owed */
    }
    const char *pre[6];
    char buf[64];
    int k = take_pending(c, pre, buf, sizeof(buf));
    if (!PQenterPipelineMode(c->h)) {
        set_err(err, errlen, "cannot enter pipeline mode: ", PQerrorMessage(c->h));
        c->pre_failed = 1;
        return TOMO_EUNAVAIL;
    }
    int rc = 0;
    for (int i = 0; i < k && rc == 0; i++)
        if (!PQsendQueryParams(c->h, pre[i], 0, NULL, NULL, NULL, NULL, 0)) {
            set_err(err, errlen, "", PQerrorMessage(c->h));
            rc = TOMO_EUNAVAIL;
        }
    if (rc == 0)
        rc = send_stmt(c, s, sql, params, n, err, errlen);
    if (rc == 0 && !PQpipelineSync(c->h)) {
        set_err(err, errlen, "", PQerrorMessage(c->h));
        rc = TOMO_EUNAVAIL;
    }
    if (rc < 0) {
        /* nothing usable was sent as a whole: the connection's state is
         * unknown, drop it */
        c->pre_failed = 1;
        c->dead = 1;
        return TOMO_EUNAVAIL;
    }
    int ret = 0;
    for (int i = 0; i <= k; i++) {
        char e[512] = "";
        tomo_dbres *res = NULL;
        rc = collect(c, deadline, i == k && out ? &res : NULL, e, sizeof(e));
        if (rc < 0 && ret == 0) {
            ret = rc;
            snprintf(err, errlen, "%s", e);
            if (i < k)
                c->pre_failed = 1;
        }
        if (rc == TOMO_EUNAVAIL) {
            c->dead = 1;
            return TOMO_EUNAVAIL;
        }
        if (i == k && ret == 0 && out)
            *out = res;
        else
            tomo_dbres_free(res);
    }
    /* the sync point ends the pipeline */
    rc = wait_ready(c, deadline, err, errlen);
    PGresult *r = rc == 0 ? PQgetResult(c->h) : NULL;
    int synced = r && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (!synced || !PQexitPipelineMode(c->h)) {
        if (ret == 0 && out) {
            tomo_dbres_free(*out);
            *out = NULL;
        }
        if (rc == 0)
            set_err(err, errlen, "pipeline did not end: ", PQerrorMessage(c->h));
        c->pre_failed = 1;
        c->dead = 1;
        return TOMO_EUNAVAIL;
    }
    return ret;
}

/* One statement (or parameterless script) on c itself, no group logic
 * (owed statements go first, see above). */
static int exec_on(pconn *c, const char *sql, const tomo_dbval *params, size_t n, tomo_dbres **out,
                   char *err, size_t errlen)
{
    err[0] = '\0';
    if (PQstatus(c->h) != CONNECTION_OK || c->dead) {
        set_err(err, errlen, "connection lost: ",
                c->dead ? "the server closed it" : PQerrorMessage(c->h));
        return TOMO_EUNAVAIL;
    }
    int64_t deadline = tomo_now_ms() + c->timeout_ms + ANSWER_GRACE_MS;
    /* Postgres answers COMMIT of a transaction that already failed with a
     * silent ROLLBACK; callers must learn their writes are gone. */
    if (!strcmp(sql, "COMMIT") && PQtransactionStatus(c->h) == PQTRANS_INERROR) {
        char ignored[64];
        if (PQsendQuery(c->h, "ROLLBACK"))
            collect(c, deadline, NULL, ignored, sizeof(ignored));
        snprintf(err, errlen, "transaction rolled back: a statement in it failed earlier");
        return TOMO_EDB;
    }
    char begin[96];
    if (c->pgbouncer && !strncmp(sql, "BEGIN", 5) && !strchr(sql, ';')) {
        snprintf(begin, sizeof(begin), "%s; SET LOCAL statement_timeout = %lld", sql,
                 (long long)c->timeout_ms);
        sql = begin;
    }
    int script = !n && !out && is_script(sql);
    pstmt *s = script || c->pgbouncer ? NULL : lookup(c, sql);
    int rc;
    if (has_pending(c)) {
        if (!script && (s || c->pgbouncer))
            return exec_pipelined(c, s, sql, params, n, out, deadline, err, errlen);
        if ((rc = flush_pending(c, deadline, err, errlen)) < 0)
            return rc;
    }
    if (script) {
        if (!PQsendQuery(c->h, sql)) {
            set_err(err, errlen, "", PQerrorMessage(c->h));
            return TOMO_EUNAVAIL;
        }
        return collect(c, deadline, NULL, err, errlen);
    }
    if (!c->pgbouncer && !s && (rc = prepare(c, sql, params, n, deadline, &s, err, errlen)) < 0)
        return rc;
    if ((rc = send_stmt(c, s, sql, params, n, err, errlen)) < 0)
        return rc;
    return collect(c, deadline, out, err, errlen);
}

/* ---- group commit ----
 *
 * Every explicit transaction (BEGIN .. COMMIT) takes a turn in its pool's
 * open batch: one Postgres transaction on one backend, opened on the
 * connection of the batch's first member (its "leader", whose worker waits
 * for the batch anyway), each member's statements inside its own
 * SAVEPOINT. A member that rolls back (or whose statement failed) undoes its
 * savepoint only, and its caller gets its own error. A turn that ends while
 * others are queued hands the batch on (up to MAX_BATCH members); the one
 * that finds nobody waiting commits it and answers every member with that
 * COMMIT's result, so nobody is told "done" before the WAL flush that holds
 * their write, and a failed COMMIT (or a lost connection) fails every
 * member. A writer alone waits for nobody: its turn is the whole batch. The
 * committer gives the turn up before its COMMIT: the next batch starts on
 * its own leader's connection while this one's flush runs. Members of one
 * batch run in turn order and see each other's writes, as SQLite's do. */

#define MAX_BATCH 32 /* members per COMMIT; below Postgres' 64 cached subtransactions */
/* Batches open at once, each with its own turn. One lane serialises every
 * write transaction's round trips and the hand-overs between their threads:
 * on a loaded box that chain, not the WAL flush, is the limit (about 13
 * writes per COMMIT at the unbatched build's rate). More lanes would keep
 * several transactions in flight, but two open batches can deadlock: each
 * holds the row locks of all its members so far, and a member of one can
 * wait for a row the other holds while a member of the other waits for
 * one of its rows (4 lanes on the storage benchmark: a 1 s deadlock_timeout
 * and a 503 within seconds). With one lane the only other lock holders are
 * batches already committing, which wait for nothing. */
#define LANES 1

/* A member of the open batch, waiting for its commit. */
typedef struct gwaiter {
    struct gwaiter *next;
    int done, rc;
    char err[256];
} gwaiter;

/* The writers of one pool (tomo_db), shared by its connections and freed
 * with the last of them. Fields under mu; the open batch's connection is
 * used only by the turn holder (then by the committer). */
struct lane {
    int busy;             /* a turn is held */
    pconn *open;          /* the open batch's connection (its leader's), or NULL */
    int members, joined;  /* turns ended in the open batch; of them, writes kept */
    int lost;             /* the open batch's transaction is gone */
    gwaiter *list;        /* their waiters */
};

struct pgroup {
    pgroup *next;
    const tomo_db *db;
    const tomo_config *cfg; /* database.query_timeout_ms: the longest wait for a turn */
    int refs;
    pthread_mutex_t mu;
    pthread_cond_t turn;  /* a lane's turn is free */
    pthread_cond_t done;  /* a batch was committed (or failed) */
    int waiting;          /* threads queued for a turn */
    int handed;           /* lanes handed on to a queued thread, not yet taken */
    lane lanes[LANES];
    uint64_t commits, writes;
};

static pthread_mutex_t g_groups_mu = PTHREAD_MUTEX_INITIALIZER;
static pgroup *g_groups;

static pthread_once_t g_metrics_once = PTHREAD_ONCE_INIT;
static tomo_metric *m_batch, *m_commit_ms;

static void metrics_init(void)
{
    static const double sizes[] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64};
    static const double ms[] = {0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128};
    m_batch = tomo_metrics_histogram("database_group_commit_batch_size",
                                     "Writes per durable commit (Postgres: per batch COMMIT)",
                                     NULL, sizes, TOMO_ARRAY_LEN(sizes));
    m_commit_ms = tomo_metrics_histogram("database_group_commit_duration_ms",
                                         "Batch COMMIT time, ms (Postgres: with its WAL flush)",
                                         NULL, ms, TOMO_ARRAY_LEN(ms));
}

static pgroup *group_ref(const tomo_db *db, const tomo_config *cfg)
{
    pthread_mutex_lock(&g_groups_mu);
    pgroup *g = g_groups;
    while (g && g->db != db)
        g = g->next;
    if (!g) {
        g = tomo_xcalloc(1, sizeof(*g));
        g->db = db;
        g->cfg = cfg;
        pthread_mutex_init(&g->mu, NULL);
        pthread_cond_init(&g->turn, NULL);
        pthread_cond_init(&g->done, NULL);
        g->next = g_groups;
        g_groups = g;
    }
    g->refs++;
    pthread_mutex_unlock(&g_groups_mu);
    return g;
}

static void group_unref(pgroup *g)
{
    pthread_mutex_lock(&g_groups_mu);
    int last = --g->refs == 0;
    if (last)
        for (pgroup **pp = &g_groups; *pp; pp = &(*pp)->next)
            if (*pp == g) {
                *pp = g->next;
                break;
            }
    pthread_mutex_unlock(&g_groups_mu);
    if (!last)
        return;
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->turn);
    pthread_cond_destroy(&g->done);
    free(g);
}

/* After a failure on the batch connection b: the batch is lost when an owed
 * statement failed or b no longer holds the transaction. (A member's own
 * failed statement only aborts its savepoint: that is not a loss.) */
static void check_lost(pgroup *g, lane *l, pconn *b, int rc)
{
    PGTransactionStatusType ts = PQtransactionStatus(b->h);
    if (b->pend_begin && rc != TOMO_EUNAVAIL && !b->pre_failed)
        return; /* nothing was sent yet */
    if (rc == TOMO_EUNAVAIL || b->pre_failed || b->dead || PQstatus(b->h) != CONNECTION_OK ||
        (ts != PQTRANS_INTRANS && ts != PQTRANS_INERROR)) {
        pthread_mutex_lock(&g->mu);
        l->lost = 1;
        pthread_mutex_unlock(&g->mu);
    }
}

/* A lane for a new turn (mu held): a batch handed on first, else a free
 * lane to open a batch in; NULL when every lane's turn is held. */
static lane *pick_lane(pgroup *g)
{
    lane *free_lane = NULL;
    for (int i = 0; i < LANES; i++) {
        lane *l = &g->lanes[i];
        if (l->busy)
            continue;
        if (l->open)
            return l;
        if (!free_lane)
            free_lane = l;
    }
    return free_lane;
}

/* BEGIN: wait for the turn (up to the query timeout). The turn's BEGIN (as
 * the batch's leader, on c) and SAVEPOINT are owed, sent with its first
 * statement. */
static int turn_begin(pconn *c, char *err, size_t errlen)
{
    pgroup *g = c->g;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    int64_t ns = (int64_t)deadline.tv_nsec + (int64_t)g->cfg->database.query_timeout_ms * 1000000;
    deadline.tv_sec += (time_t)(ns / 1000000000);
    deadline.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&g->mu);
    g->waiting++;
    lane *l;
    while (!(l = pick_lane(g)))
        if (pthread_cond_timedwait(&g->turn, &g->mu, &deadline) == ETIMEDOUT &&
            !(l = pick_lane(g))) {
            g->waiting--;
            pthread_mutex_unlock(&g->mu);
            snprintf(err, errlen, "timed out waiting for the write turn (group commit)");
            return TOMO_ETIMEOUT;
        } else if (l) {
            break;
        }
    g->waiting--;
    l->busy = 1;
    if (l->open && g->handed > 0)
        g->handed--;
    if (!l->open) {
        l->open = c;
        c->pend_begin = 1;
    }
    c->tx = l->open;
    c->ln = l;
    c->tx->pend_sp = 1;
    pthread_mutex_unlock(&g->mu);
    return 0;
}

/* End c's turn. joined: its savepoint is kept, released with the next
 * turn's SAVEPOINT or the COMMIT; otherwise it is undone the same way.
 * Hands the batch to the next queued writer while there is one (and room),
 * else commits it and answers every member. Returns the turn's result
 * (joined) or 0. A member that rolled back waits for the commit too: what
 * made it roll back may be an earlier member's write, and its caller's next
 * read, on its own connection, must see that write. */
static int turn_end(pconn *c, int joined, char *err, size_t errlen)
{
    pgroup *g = c->g;
    pconn *b = c->tx;
    lane *l = c->ln;
    c->tx = NULL;
    c->ln = NULL;
    int kept = joined;
    if (b->pend_sp) {
        b->pend_sp = 0; /* the turn sent nothing: it owes nothing */
        kept = 0;
    } else {
        b->owed = joined ? OWED_RELEASE : OWED_UNDO;
    }
    gwaiter me = {0};
    pthread_mutex_lock(&g->mu);
    me.next = l->list;
    l->list = &me;
    l->members++;
    l->joined += kept;
    /* hand on only to a queued thread not already promised a lane */
    if (!l->lost && g->waiting > g->handed && l->members < MAX_BATCH) {
        l->busy = 0;
        g->handed++;
        pthread_cond_broadcast(&g->turn);
        while (!me.done)
            pthread_cond_wait(&g->done, &g->mu);
        pthread_mutex_unlock(&g->mu);
        if (!joined)
            return 0;
        if (me.rc < 0)
            snprintf(err, errlen, "%s", me.err);
        return me.rc;
    }
    /* Take the batch and give the turn up: the next writer opens a new
     * batch on its own connection while this one commits. */
    int lost = l->lost, njoined = l->joined;
    gwaiter *list = l->list;
    l->open = NULL;
    l->list = NULL;
    l->members = l->joined = 0;
    l->lost = 0;
    l->busy = 0;
    pthread_cond_signal(&g->turn);
    pthread_mutex_unlock(&g->mu);
    int rc = 0, owed = b->owed, opened = !b->pend_begin;
    b->pend_begin = b->pend_sp = b->pre_failed = 0;
    b->owed = OWED_NONE;
    char cerr[256] = "";
    char ignored[64];
    if (lost) {
        rc = TOMO_EUNAVAIL;
        snprintf(cerr, sizeof(cerr), "the write was lost: its batch's transaction failed before "
                                     "the commit");
        if (PQstatus(b->h) == CONNECTION_OK && !b->dead &&
            PQtransactionStatus(b->h) != PQTRANS_IDLE)
            exec_on(b, "ROLLBACK", NULL, 0, NULL, ignored, sizeof(ignored));
    } else if (opened && njoined == 0) {
        /* every member rolled back: nothing is kept, nothing to flush (if
         * this fails, the connection is dropped when its owner releases it) */
        exec_on(b, "ROLLBACK", NULL, 0, NULL, ignored, sizeof(ignored));
    } else if (opened) {
        const char *sql = owed == OWED_UNDO ? "ROLLBACK TO SAVEPOINT tomo_turn; "
                                              "RELEASE SAVEPOINT tomo_turn; COMMIT"
                          : owed == OWED_RELEASE ? "RELEASE SAVEPOINT tomo_turn; COMMIT"
                                                 : "COMMIT";
        uint64_t t0 = tomo_mono_ns();
        rc = exec_on(b, sql, NULL, 0, NULL, cerr, sizeof(cerr));
        pthread_once(&g_metrics_once, metrics_init);
        tomo_metric_observe(m_commit_ms, NULL, (double)(tomo_mono_ns() - t0) / 1e6);
        if (rc < 0 && PQstatus(b->h) == CONNECTION_OK && !b->dead &&
            PQtransactionStatus(b->h) != PQTRANS_IDLE)
            exec_on(b, "ROLLBACK", NULL, 0, NULL, ignored, sizeof(ignored));
        if (rc < 0 && rc != TOMO_EUNAVAIL)
            rc = TOMO_EDB; /* whatever failed, the batch is not committed */
        if (rc == 0 && njoined > 0)
            tomo_metric_observe(m_batch, NULL, (double)njoined);
    } /* else no member sent anything: nothing to commit */
    pthread_mutex_lock(&g->mu);
    if (rc == 0 && njoined > 0) {
        g->commits++;
        g->writes += (uint64_t)njoined;
    }
    for (gwaiter *x = list; x; x = x->next) {
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

/* COMMIT (commit 1) or ROLLBACK (0) of c's batched transaction. Postgres
 * has aborted the member's savepoint when one of its statements failed:
 * its COMMIT is then refused, as a plain transaction's would be. */
static int end_tx(pconn *c, int commit, char *err, size_t errlen)
{
    pconn *b = c->tx;
    int failed = !b->pend_sp && PQtransactionStatus(b->h) == PQTRANS_INERROR;
    if (!b->pend_sp)
        check_lost(c->g, c->ln, b, 0);
    if (commit && failed) {
        char ignored[64];
        turn_end(c, 0, ignored, sizeof(ignored));
        snprintf(err, errlen, "transaction rolled back: a statement in it failed earlier");
        return TOMO_EDB;
    }
    return turn_end(c, commit, err, errlen);
}

static int p_exec(void *vc, const char *sql, const tomo_dbval *params, size_t n, tomo_dbres **out,
                  char *err, size_t errlen)
{
    pconn *c = vc;
    err[0] = '\0';
    int control = !n && !out;
    if (c->tx) {
        if (control && (!strcmp(sql, "COMMIT") || !strcmp(sql, "ROLLBACK")))
            return end_tx(c, sql[0] == 'C', err, errlen);
        if (control && !strncmp(sql, "BEGIN", 5) && !strchr(sql, ';')) {
            snprintf(err, errlen, "cannot start a transaction within a transaction");
            return TOMO_EDB;
        }
        int rc = exec_on(c->tx, sql, params, n, out, err, errlen);
        if (rc < 0)
            check_lost(c->g, c->ln, c->tx, rc);
        return rc;
    }
    if (control && !strcmp(sql, "BEGIN")) {
        if (PQstatus(c->h) != CONNECTION_OK || c->dead) {
            set_err(err, errlen, "connection lost: ",
                    c->dead ? "the server closed it" : PQerrorMessage(c->h));
            return TOMO_EUNAVAIL;
        }
        return turn_begin(c, err, errlen);
    }
    return exec_on(c, sql, params, n, out, err, errlen);
}

static void p_write_stats(tomo_db *db, uint64_t *commits, uint64_t *writes)
{
    *commits = *writes = 0;
    pthread_mutex_lock(&g_groups_mu);
    for (pgroup *g = g_groups; g; g = g->next)
        if (g->db == db) {
            pthread_mutex_lock(&g->mu);
            *commits = g->commits;
            *writes = g->writes;
            pthread_mutex_unlock(&g->mu);
        }
    pthread_mutex_unlock(&g_groups_mu);
}

static int p_ping(void *vc)
{
    pconn *c = vc;
    char err[256];
    return exec_on(c, "SELECT 1", NULL, 0, NULL, err, sizeof(err)) < 0 ? TOMO_EUNAVAIL : 0;
}

/* Fit to go back to (or come out of) the idle list: connected, outside any
 * transaction, and nothing unexpected waiting on the socket. A server that
 * shut down or killed this backend has sent its goodbye (and EOF) by now, so
 * this catches dead connections without a round trip. */
static int p_check_idle(void *vc)
{
    pconn *c = vc;
    /* a turn still held (a BEGIN whose caller never ended it) is ended
     * when the connection is dropped (p_disconnect) */
    if (c->dead || c->tx || has_pending(c) || PQstatus(c->h) != CONNECTION_OK ||
        PQtransactionStatus(c->h) != PQTRANS_IDLE)
        return TOMO_EUNAVAIL;
    struct pollfd pfd = {.fd = PQsocket(c->h), .events = POLLIN};
    if (pfd.fd < 0)
        return TOMO_EUNAVAIL;
    if (poll(&pfd, 1, 0) > 0) {
        if (!PQconsumeInput(c->h) || PQstatus(c->h) != CONNECTION_OK)
            return TOMO_EUNAVAIL;
        /* parses what arrived: a FATAL sent while idle (57P01 before the
         * server closes) reaches on_notice and sets dead */
        int busy = PQisBusy(c->h);
        PGnotify *nf;
        while ((nf = PQnotifies(c->h)))
            PQfreemem(nf);
        if (busy || c->dead)
            return TOMO_EUNAVAIL;
        PGresult *r = PQgetResult(c->h);
        if (r) {
            PQclear(r);
            return TOMO_EUNAVAIL;
        }
    }
    return 0;
}

const tomo_db_backend tomo_db_postgres_backend = {
    .name = "postgres",
    .kind = TOMO_DB_POSTGRES,
    .connect = p_connect,
    .disconnect = p_disconnect,
    .exec = p_exec,
    .ping = p_ping,
    .check_idle = p_check_idle,
    .write_stats = p_write_stats,
};
