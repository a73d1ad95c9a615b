/* store/pg.c: the PostgreSQL backend (libpq).
 * Owns: one libpq connection per pool slot and its prepared-statement cache.
 * Threads: whichever worker holds the connection (see db.h).
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

#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

typedef struct pconn {
    PGconn *h;
    int64_t timeout_ms; /* statement_timeout */
    pstmt cache[CACHE_SIZE];
    size_t ncache;
    uint64_t tick, next_id;
    int dead; /* the server said it is closing this connection */
    int pgbouncer; /* database.pgbouncer: no server-side state */
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
    *out = c;
    return 0;
}

static void p_disconnect(void *vc)
{
    pconn *c = vc;
    if (!c)
        return;
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
           !strcmp(sql, "ROLLBACK");
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

/* pgBouncer mode: an unnamed statement, nothing left on the server. */
static int exec_unnamed(pconn *c, const char *sql, const tomo_dbval *params, size_t n,
                        int64_t deadline, tomo_dbres **out, char *err, size_t errlen)
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
    return collect(c, deadline, out, err, errlen);
}

static int p_exec(void *vc, const char *sql, const tomo_dbval *params, size_t n, tomo_dbres **out,
                  char *err, size_t errlen)
{
    pconn *c = vc;
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
    if (!n && !out && is_script(sql)) {
        if (!PQsendQuery(c->h, sql)) {
            set_err(err, errlen, "", PQerrorMessage(c->h));
            return TOMO_EUNAVAIL;
        }
        return collect(c, deadline, NULL, err, errlen);
    }
    if (c->pgbouncer)
        return exec_unnamed(c, sql, params, n, deadline, out, err, errlen);
    pstmt *s = lookup(c, sql);
    if (!s) {
        int rc = prepare(c, sql, params, n, deadline, &s, err, errlen);
        if (rc < 0)
            return rc;
    }
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
    for (int i = 0; i < s->nparams; i++) {
        switch (params[i].type) {
        case TOMO_DBV_INT:
            snprintf(ints[i], sizeof(ints[i]), "%lld", (long long)params[i].i);
            vals[i] = ints[i];
            break;
        case TOMO_DBV_TEXT: vals[i] = params[i].s; break;
        default: vals[i] = NULL; break;
        }
    }
    int sent = PQsendQueryPrepared(c->h, s->name, s->nparams, vals, NULL, NULL, 0);
    if (vals != vals_st) {
        free(vals);
        free(ints);
    }
    if (!sent) {
        set_err(err, errlen, "", PQerrorMessage(c->h));
        return TOMO_EUNAVAIL;
    }
    return collect(c, deadline, out, err, errlen);
}

static int p_ping(void *vc)
{
    pconn *c = vc;
    char err[256];
    return p_exec(c, "SELECT 1", NULL, 0, NULL, err, sizeof(err)) < 0 ? TOMO_EUNAVAIL : 0;
}

/* Fit to go back to (or come out of) the idle list: connected, outside any
 * transaction, and nothing unexpected waiting on the socket. A server that
 * shut down or killed this backend has sent its goodbye (and EOF) by now, so
 * this catches dead connections without a round trip. */
static int p_check_idle(void *vc)
{
    pconn *c = vc;
    if (c->dead || PQstatus(c->h) != CONNECTION_OK ||
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
};
