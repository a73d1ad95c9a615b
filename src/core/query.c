/* core/query.c: the query-string lexer, parser and evaluator (core/query.h).
 * The lexer follows the Bleve query-string lexer's states so that the same
 * input splits into the same tokens (a string ends at an unescaped space,
 * `:`, `^` or `~`; `+ - : > < =` are operators only where a token starts). */
#define _GNU_SOURCE
#include "query.h"

#include "common.h"

#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint32_t tomo_query_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* ---- datetimes ---- */

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int tomo_query_parse_time(const char *s, int64_t *out_ns)
{
    int y, mo, d, h = 0, mi = 0, se = 0;
    int64_t frac = 0, off = 0;
    size_t n = strlen(s);
    if (n < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d))
        return TOMO_EINVAL;
    const char *p = s + 10;
    if (*p) {
        if ((*p != 'T' && *p != ' ') || strlen(p) < 9 || digits(p + 1, 2, &h) || p[3] != ':' ||
            digits(p + 4, 2, &mi) || p[6] != ':' || digits(p + 7, 2, &se))
            return TOMO_EINVAL;
        int rfc = *p == 'T';
        p += 9;
        if (*p == '.') {
            int nd = 0;
            p++;
            while (*p >= '0' && *p <= '9') {
                if (nd < 9) {
                    frac = frac * 10 + (*p - '0');
                    nd++;
                }
                p++;
            }
            if (nd == 0)
                return TOMO_EINVAL;
            while (nd++ < 9)
                frac *= 10;
            if (!rfc)
                return TOMO_EINVAL;
        }
        if (*p == 'Z' && rfc) {
            p++;
        } else if ((*p == '+' || *p == '-') && rfc) {
            int oh, om;
            if (strlen(p) != 6 || digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om))
                return TOMO_EINVAL;
            off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
            p += 6;
        }
        if (*p)
            return TOMO_EINVAL;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return TOMO_EINVAL;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
    *out_ns = secs * 1000000000LL + frac;
    return 0;
}

/* ---- documents ---- */

void tomo_qdoc_init(tomo_qdoc *d) { memset(d, 0, sizeof(*d)); }

void tomo_qdoc_clear(tomo_qdoc *d)
{
    free(d->v);
    free(d->buf);
    memset(d, 0, sizeof(*d));
}

static uint32_t put_str(tomo_qdoc *d, const char *s)
{
    size_t n = strlen(s) + 1;
    if (d->blen + n > d->bcap) {
        size_t nc = d->bcap ? d->bcap * 2 : 64;
        while (nc < d->blen + n)
            nc *= 2;
        char *nb = tomo_xmalloc(nc);
        if (d->blen)
            memcpy(nb, d->buf, d->blen);
        free(d->buf);
        d->buf = nb;
        d->bcap = nc;
    }
    uint32_t off = (uint32_t)d->blen;
    memcpy(d->buf + d->blen, s, n);
    d->blen += n;
    return off;
}

static tomo_qval *add_val(tomo_qdoc *d, const char *field, int kind)
{
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 4;
        tomo_qval *nv = tomo_xmalloc(nc * sizeof(*nv));
        if (d->n)
            memcpy(nv, d->v, d->n * sizeof(*nv));
        free(d->v);
        d->v = nv;
        d->cap = nc;
    }
    tomo_qval *v = &d->v[d->n++];
    memset(v, 0, sizeof(*v));
    v->kind = (uint8_t)kind;
    v->fhash = tomo_query_hash(field);
    /* Reuse the field name of an earlier value (arrays, repeated adds). */
    for (size_t i = 0; i + 1 < d->n; i++)
        if (d->v[i].fhash == v->fhash && !strcmp(d->buf + d->v[i].field, field)) {
            v->field = d->v[i].field;
            return v;
        }
    v->field = put_str(d, field);
    return v;
}

void tomo_qdoc_add_keyword(tomo_qdoc *d, const char *field, const char *s)
{
    tomo_qval *v = add_val(d, field, TOMO_QV_KEYWORD);
    uint32_t off = put_str(d, s); /* v stays valid: only buf moved */
    v->str = off;
}

void tomo_qdoc_add_string(tomo_qdoc *d, const char *field, const char *s)
{
    int64_t t;
    if (s[0] >= '0' && s[0] <= '9' && tomo_query_parse_time(s, &t) == 0) {
        tomo_qval *v = add_val(d, field, TOMO_QV_TIME);
        v->time_ns = t;
        return;
    }
    tomo_qdoc_add_keyword(d, field, s);
}

void tomo_qdoc_add_number(tomo_qdoc *d, const char *field, double n)
{
    tomo_qval *v = add_val(d, field, TOMO_QV_NUMBER);
    v->num = n;
}

static void add_json(tomo_qdoc *d, char **path, size_t *plen, size_t *pcap, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        size_t base = *plen;
        json_object_foreach ((json_t *)v, k, x) {
            size_t kl = strlen(k);
            if (base + 1 + kl + 1 > *pcap) {
                *pcap = (base + kl + 2) * 2;
                char *np = tomo_xmalloc(*pcap);
                memcpy(np, *path, base + 1);
                free(*path);
                *path = np;
            }
            if (base)
                (*path)[base] = '.';
            memcpy(*path + base + (base ? 1 : 0), k, kl + 1);
            *plen = base + (base ? 1 : 0) + kl;
            add_json(d, path, plen, pcap, x);
            *plen = base;
            (*path)[base] = '\0';
        }
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *x;
        json_array_foreach (v, i, x)
            add_json(d, path, plen, pcap, x);
        break;
    }
    case JSON_STRING: tomo_qdoc_add_string(d, *path, json_string_value(v)); break;
    case JSON_INTEGER:
    case JSON_REAL: tomo_qdoc_add_number(d, *path, json_number_value(v)); break;
    case JSON_TRUE: tomo_qdoc_add_keyword(d, *path, "T"); break;
    case JSON_FALSE: tomo_qdoc_add_keyword(d, *path, "F"); break;
    default: break;
    }
}

void tomo_qdoc_add_json(tomo_qdoc *d, const char *prefix, const json_t *v)
{
    size_t plen = prefix ? strlen(prefix) : 0;
    size_t pcap = plen + 64;
    char *path = tomo_xmalloc(pcap);
    memcpy(path, prefix ? prefix : "", plen + 1);
    add_json(d, &path, &plen, &pcap, v);
    free(path);
}

/* ---- lexer ---- */

enum { T_STRING, T_PHRASE, T_NUMBER, T_PLUS, T_MINUS, T_COLON, T_GT, T_LT, T_EQ, T_BOOST, T_TILDE };

typedef struct tok {
    int type;
    char *s; /* STRING, PHRASE, NUMBER, BOOST, TILDE */
} tok;

typedef struct lexer {
    tok *t;
    size_t n, cap;
    char *buf;
    size_t blen, bcap;
} lexer;

static void buf_putc(lexer *l, char c)
{
    if (l->blen + 2 > l->bcap) {
        l->bcap = l->bcap ? l->bcap * 2 : 32;
        char *nb = tomo_xmalloc(l->bcap);
        memcpy(nb, l->buf ? l->buf : "", l->blen);
        free(l->buf);
        l->buf = nb;
    }
    l->buf[l->blen++] = c;
    l->buf[l->blen] = '\0';
}

/* Append an escaped character: reserved ones lose the backslash. */
static void buf_unescape(lexer *l, char c)
{
    if (!strchr("+-=&|><!(){}[]^\"~*?:\\/ ", c) || c == '\0')
        buf_putc(l, '\\');
    if (c)
        buf_putc(l, c);
}

static void emit(lexer *l, int type, int with_text)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        tok *nt = tomo_xmalloc(l->cap * sizeof(*nt));
        if (l->n)
            memcpy(nt, l->t, l->n * sizeof(*nt));
        free(l->t);
        l->t = nt;
    }
    l->t[l->n].type = type;
    l->t[l->n].s = with_text ? tomo_xstrdup(l->blen ? l->buf : "") : NULL;
    l->n++;
    l->blen = 0;
    if (l->buf)
        l->buf[0] = '\0';
}

static void lexer_free(lexer *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->t[i].s);
    free(l->t);
    free(l->buf);
}

static int lex(lexer *l, const char *p, char *err, size_t errlen)
{
    while (*p) {
        char c = *p;
        if (c == '"') {
            p++;
            int esc = 0;
            for (;; p++) {
                if (!*p) {
                    snprintf(err, errlen, "unterminated quote");
                    return TOMO_EINVAL;
                }
                if (esc) {
                    esc = 0;
                    buf_unescape(l, *p);
                } else if (*p == '\\') {
                    esc = 1;
                } else if (*p == '"') {
                    break;
                } else {
                    buf_putc(l, *p);
                }
            }
            p++;
            emit(l, T_PHRASE, 1);
            continue;
        }
        if (strchr("+-:><=", c)) {
            static const int types[] = {T_PLUS, T_MINUS, T_COLON, T_GT, T_LT, T_EQ};
            emit(l, types[strchr("+-:><=", c) - "+-:><="], 0);
            p++;
            continue;
        }
        if (c == '^' || c == '~') {
            /* Boost / fuzziness: up to an unescaped space. */
            p++;
            int esc = 0;
            for (; *p && (esc || *p != ' '); p++) {
                if (esc) {
                    esc = 0;
                    buf_unescape(l, *p);
                } else if (*p == '\\') {
                    esc = 1;
                } else {
                    buf_putc(l, *p);
                }
            }
            if (!l->blen)
                buf_putc(l, '1');
            emit(l, c == '^' ? T_BOOST : T_TILDE, 1);
            continue;
        }
        if (c == ' ' || (isspace((unsigned char)c) && c != '\\')) {
            p++;
            continue;
        }
        /* A number or a string: up to an unescaped space, `:`, `^` or `~`. */
        int num = c >= '0' && c <= '9', dot = 0, esc = 0;
        for (; *p; p++) {
            char x = *p;
            if (esc) {
                esc = 0;
                num = 0;
                buf_unescape(l, x);
                continue;
            }
            if (x == ' ' || x == ':' || x == '^' || x == '~')
                break;
            if (x == '\\') {
                esc = 1;
                continue;
            }
            if (num && !(x >= '0' && x <= '9') && !(x == '.' && !dot))
                num = 0;
            if (x == '.')
                dot = 1;
            buf_putc(l, x);
        }
        if (esc)
            buf_unescape(l, '\0');
        emit(l, num ? T_NUMBER : T_STRING, 1);
    }
    return 0;
}

/* ---- parser ---- */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int parse_double(const char *s, double *out)
{
    char *end;
    if (!*s)
        return TOMO_EINVAL;
    double v = strtod(s, &end);
    if (*end || isnan(v))
        return TOMO_EINVAL;
    *out = v;
    return 0;
}

static void clause_free(tomo_qclause *c)
{
    free(c->field);
    free(c->text);
    if (c->_re) {
        regfree(c->_re);
        free(c->_re);
    }
}

void tomo_query_free(tomo_query *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++)
        clause_free(&q->c[i]);
    free(q->c);
    free(q);
}

/* A string value after `field:` (or without a field): regexp, wildcard or
 * term. */
static int string_clause(tomo_qclause *c, const char *s, char *err, size_t errlen)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '/' && s[n - 1] == '/') {
        c->kind = TOMO_QC_REGEXP;
        c->text = tomo_xmalloc(n + 4);
        snprintf(c->text, n + 4, "^(%.*s)$", (int)(n - 2), s + 1);
        c->_re = tomo_xmalloc(sizeof(regex_t));
        if (regcomp(c->_re, c->text, REG_EXTENDED | REG_NOSUB) != 0) {
            free(c->_re);
            c->_re = NULL;
            seterr(err, errlen, "invalid regexp %s", s);
            return TOMO_EINVAL;
        }
        return 0;
    }
    c->kind = strpbrk(s, "*?") ? TOMO_QC_WILDCARD : TOMO_QC_TERM;
    c->text = tomo_xstrdup(s);
    return 0;
}

/* One part: prefix? base boost?. *i is the next token. */
static int parse_part(const tok *t, size_t nt, size_t *i, tomo_qclause *c, char *err, size_t errlen)
{
    size_t k = *i;
    c->occur = TOMO_Q_SHOULD;
    c->boost = 1;
    if (t[k].type == T_PLUS || t[k].type == T_MINUS) {
        c->occur = t[k].type == T_PLUS ? TOMO_Q_MUST : TOMO_Q_MUST_NOT;
        k++;
    }
#define AT(j, ty) (k + (j) < nt && t[k + (j)].type == (ty))
    if (k >= nt) {
        seterr(err, errlen, "unexpected end of query");
        return TOMO_EINVAL;
    }
    int rc = 0;
    if (AT(0, T_STRING) && AT(1, T_COLON)) {
        c->field = tomo_xstrdup(t[k].s);
        c->fhash = tomo_query_hash(c->field);
        k += 2;
        if (AT(0, T_STRING) && AT(1, T_TILDE)) {
            double f;
            if (parse_double(t[k + 1].s, &f) < 0) {
                seterr(err, errlen, "invalid fuzziness value: %s", t[k + 1].s);
                return TOMO_EINVAL;
            }
            c->kind = TOMO_QC_FUZZY;
            c->fuzz = (int)f;
            c->text = tomo_xstrdup(t[k].s);
            k += 2;
        } else if (AT(0, T_STRING)) {
            rc = string_clause(c, t[k].s, err, errlen);
            k++;
        } else if (AT(0, T_NUMBER) || (AT(0, T_MINUS) && AT(1, T_NUMBER))) {
            int neg = AT(0, T_MINUS);
            const char *s = t[k + (size_t)neg].s;
            c->kind = TOMO_QC_TERM;
            c->text = tomo_xmalloc(strlen(s) + 2);
            sprintf(c->text, "%s%s", neg ? "-" : "", s);
            c->is_num = parse_double(c->text, &c->num) == 0;
            k += 1 + (size_t)neg;
        } else if (AT(0, T_PHRASE)) {
            c->kind = TOMO_QC_PHRASE;
            c->text = tomo_xstrdup(t[k].s);
            k++;
        } else if (AT(0, T_GT) || AT(0, T_LT)) {
            int gt = AT(0, T_GT);
            k++;
            int eq = AT(0, T_EQ);
            k += (size_t)eq;
            c->kind = TOMO_QC_RANGE;
            c->op = (uint8_t)(gt ? (eq ? TOMO_QR_GE : TOMO_QR_GT) : (eq ? TOMO_QR_LE : TOMO_QR_LT));
            if (AT(0, T_NUMBER) || (AT(0, T_MINUS) && AT(1, T_NUMBER))) {
                int neg = AT(0, T_MINUS);
                parse_double(t[k + (size_t)neg].s, &c->num);
                if (neg)
                    c->num = -c->num;
                k += 1 + (size_t)neg;
            } else if (AT(0, T_PHRASE)) {
                c->is_time = 1;
                if (tomo_query_parse_time(t[k].s, &c->time_ns) < 0) {
                    seterr(err, errlen, "invalid time: %s", t[k].s);
                    return TOMO_EINVAL;
                }
                k++;
            } else {
                seterr(err, errlen, "expected a number or a quoted time after %s%s", gt ? ">" : "<",
                       eq ? "=" : "");
                return TOMO_EINVAL;
            }
        } else {
            seterr(err, errlen, "expected a value after %s:", c->field);
            return TOMO_EINVAL;
        }
    } else if (AT(0, T_STRING) && AT(1, T_TILDE)) {
        c->kind = TOMO_QC_FUZZY;
        c->text = tomo_xstrdup(t[k].s);
        k += 2;
    } else if (AT(0, T_STRING)) {
        if (!strcmp(t[k].s, "*")) {
            c->kind = TOMO_QC_ALL;
        } else {
            rc = string_clause(c, t[k].s, err, errlen);
        }
        k++;
    } else if (AT(0, T_NUMBER) || AT(0, T_PHRASE)) {
        c->kind = AT(0, T_NUMBER) ? TOMO_QC_TERM : TOMO_QC_PHRASE;
        c->text = tomo_xstrdup(t[k].s);
        k++;
    } else {
        static const char *names[] = {"string", "phrase", "number", "+", "-", ":",
                                      ">",      "<",      "=",      "^", "~"};
        seterr(err, errlen, "unexpected '%s'", names[t[k].type]);
        return TOMO_EINVAL;
    }
    if (rc < 0)
        return rc;
    if (AT(0, T_BOOST)) {
        if (parse_double(t[k].s, &c->boost) < 0) {
            seterr(err, errlen, "invalid boost value: %s", t[k].s);
            return TOMO_EINVAL;
        }
        k++;
    }
#undef AT
    *i = k;
    return 0;
}

int tomo_query_parse(const char *text, tomo_query **out, char *err, size_t errlen)
{
    lexer l = {0};
    tomo_query *q = tomo_xmalloc(sizeof(*q));
    memset(q, 0, sizeof(*q));
    char dummy[1];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    int rc = lex(&l, text ? text : "", err, errlen);
    if (rc < 0)
        goto out;
    q->c = tomo_xmalloc((l.n ? l.n : 1) * sizeof(*q->c));
    for (size_t i = 0; i < l.n;) {
        tomo_qclause *c = &q->c[q->n];
        memset(c, 0, sizeof(*c));
        rc = parse_part(l.t, l.n, &i, c, err, errlen);
        q->n++;
        if (rc < 0)
            goto out;
        if (c->occur == TOMO_Q_MUST)
            q->nmust++;
        else if (c->occur == TOMO_Q_SHOULD)
            q->nshould++;
        else
            q->nmustnot++;
    }
out:
    lexer_free(&l);
    if (rc < 0) {
        tomo_query_free(q);
        q = NULL;
    }
    *out = q;
    return rc;
}

/* ---- evaluation ---- */

/* Glob with `*` and `?` over the whole string (iterative, backtracks to the
 * last star only). */
static int glob(const char *p, const char *s)
{
    const char *star = NULL, *ss = NULL;
    while (*s) {
        if (*p == '?' || (*p && *p == *s && *p != '*')) {
            p++;
            s++;
        } else if (*p == '*') {
            star = p++;
            ss = s;
        } else if (star) {
            p = star + 1;
            s = ++ss;
        } else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return !*p;
}

/* Levenshtein distance <= max (two rows; strings are short). */
static int within_distance(const char *a, const char *b, int max)
{
    size_t la = strlen(a), lb = strlen(b);
    if ((la > lb ? la - lb : lb - la) > (size_t)max)
        return 0;
    if (lb > 256)
        return 0;
    int rows[2][257];
    for (size_t j = 0; j <= lb; j++)
        rows[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int *cur = rows[i & 1], *prev = rows[(i - 1) & 1];
        cur[0] = (int)i;
        int best = cur[0];
        for (size_t j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            if (cur[j] < best)
                best = cur[j];
        }
        if (best > max)
            return 0;
    }
    return rows[la & 1][lb] <= max;
}

static int value_match(const tomo_qclause *c, const tomo_qdoc *d, const tomo_qval *v)
{
    switch (c->kind) {
    case TOMO_QC_TERM:
        if (v->kind == TOMO_QV_KEYWORD)
            return !strcmp(d->buf + v->str, c->text);
        return v->kind == TOMO_QV_NUMBER && c->is_num && v->num == c->num;
    case TOMO_QC_PHRASE: return v->kind == TOMO_QV_KEYWORD && !strcmp(d->buf + v->str, c->text);
    case TOMO_QC_WILDCARD: return v->kind == TOMO_QV_KEYWORD && glob(c->text, d->buf + v->str);
    case TOMO_QC_REGEXP:
        return v->kind == TOMO_QV_KEYWORD && regexec(c->_re, d->buf + v->str, 0, NULL, 0) == 0;
    case TOMO_QC_FUZZY:
        return v->kind == TOMO_QV_KEYWORD && within_distance(c->text, d->buf + v->str, c->fuzz);
    case TOMO_QC_RANGE: {
        double x, b;
        if (c->is_time) {
            if (v->kind != TOMO_QV_TIME)
                return 0;
            int64_t tx = v->time_ns, tb = c->time_ns;
            switch (c->op) {
            case TOMO_QR_GT: return tx > tb;
            case TOMO_QR_GE: return tx >= tb;
            case TOMO_QR_LT: return tx < tb;
            default: return tx <= tb;
            }
        }
        if (v->kind != TOMO_QV_NUMBER)
            return 0;
        x = v->num;
        b = c->num;
        switch (c->op) {
        case TOMO_QR_GT: return x > b;
        case TOMO_QR_GE: return x >= b;
        case TOMO_QR_LT: return x < b;
        default: return x <= b;
        }
    }
    default: return 0;
    }
}

int tomo_qclause_match(const tomo_qclause *c, const tomo_qdoc *d)
{
    if (c->kind == TOMO_QC_ALL)
        return 1;
    if (!c->field)
        return 0; /* `_all` is never indexed */
    for (size_t i = 0; i < d->n; i++) {
        const tomo_qval *v = &d->v[i];
        if (v->fhash == c->fhash && (d->interned || !strcmp(d->buf + v->field, c->field)) &&
            value_match(c, d, v))
            return 1;
    }
    return 0;
}

int tomo_query_match(const tomo_query *q, const tomo_qdoc *d, double *score)
{
    double sc = 0;
    size_t should_hits = 0;
    for (size_t i = 0; i < q->n; i++) {
        const tomo_qclause *c = &q->c[i];
        int m = tomo_qclause_match(c, d);
        if (c->occur == TOMO_Q_MUST) {
            if (!m)
                return 0;
            sc += c->boost;
        } else if (c->occur == TOMO_Q_MUST_NOT) {
            if (m)
                return 0;
        } else if (m) {
            should_hits++;
            sc += c->boost;
        }
    }
    if (q->nmust == 0 && q->nshould > 0 && should_hits == 0)
        return 0;
    if (q->n == 0)
        return 0; /* the empty query matches nothing */
    if (score)
        *score = sc;
    return 1;
}
