/* core/query.h: Nakama's query-string syntax (the Bleve/Bluge query string)
 * evaluated over flattened documents; used by the matchmaker (ticket
 * properties) and by match listing (JSON labels).
 * Owns: tomo_query (a parsed query: its clauses, their strings and compiled
 *       regexps) and tomo_qdoc (a flattened document: field -> values, in
 *       one string buffer).
 * Borrows: nothing; every input is copied.
 * Threads: any. A built query or document is read-only and may be shared
 *          between threads.
 *
 * Syntax (whitespace-separated parts, each `[+|-]base[^boost]`):
 *     f:v          term: exact, case-sensitive keyword; `f:5` is also the
 *                  number 5; `f:a*b?` wildcard, `f:/re/` regexp (whole term)
 *     f:"a b"      phrase: the exact whole value
 *     f:>5 f:>=5 f:<5 f:<=5 f:>-1.5   numeric range, the other end open
 *     f:>"2024-01-01T00:00:00Z"        datetime range (RFC 3339)
 *     f:v~N        fuzzy (Levenshtein distance <= N; bare `~` is 1)
 *     `*`          match all
 *     \x           escape a reserved character
 * No prefix = SHOULD (optional when a MUST exists; otherwise at least one
 * SHOULD must match), `+` = MUST, `-` = MUST NOT (only MUST NOTs: start from
 * match-all). A part without a field searches `_all`, which is never indexed:
 * it never matches. Fields are dotted paths (`properties.region`,
 * `label.mode.name`); an array value matches when any element does.
 * Scoring is the sum of the boosts (default 1) of the matched clauses. */
#ifndef TOMO_CORE_QUERY_H
#define TOMO_CORE_QUERY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ---- documents ---- */

enum { TOMO_QV_KEYWORD = 0, TOMO_QV_NUMBER = 1, TOMO_QV_TIME = 2 };

typedef struct tomo_qval {
    uint32_t fhash;  /* tomo_query_hash(field) */
    uint32_t field;  /* offset of the field name in the doc buffer */
    uint32_t str;    /* keyword: offset of the value */
    uint8_t kind;    /* TOMO_QV_* */
    double num;      /* number */
    int64_t time_ns; /* datetime, ns since the epoch (UTC) */
} tomo_qval;

typedef struct tomo_qdoc {
    tomo_qval *v;
    size_t n, cap;
    char *buf; /* field names and keyword values, NUL-terminated */
    size_t blen, bcap;
    /* Set by a caller that replaced every fhash of this document and of the
     * queries it is matched against with ids unique per field name (an
     * interning table): fields then compare by id alone. */
    uint8_t interned;
} tomo_qdoc;

/* An empty document (no allocation until something is added). */
void tomo_qdoc_init(tomo_qdoc *d);
/* Release the document's memory; it may be reused after tomo_qdoc_init. */
void tomo_qdoc_clear(tomo_qdoc *d);
/* Add an exact keyword value. */
void tomo_qdoc_add_keyword(tomo_qdoc *d, const char *field, const char *s);
/* Add a string the way Nakama indexes properties and labels: a string that
 * parses as RFC 3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05" or
 * "2006-01-02" becomes a datetime value, anything else a keyword. */
void tomo_qdoc_add_string(tomo_qdoc *d, const char *field, const char *s);
void tomo_qdoc_add_number(tomo_qdoc *d, const char *field, double n);
/* Flatten a JSON value under `prefix` (e.g. "label"): objects nest with dots,
 * array elements share the path, strings as tomo_qdoc_add_string, numbers
 * numeric, booleans the keywords "T"/"F", null nothing. */
void tomo_qdoc_add_json(tomo_qdoc *d, const char *prefix, const json_t *v);
/* Field name / keyword value of a value (valid until the doc changes). */
static inline const char *tomo_qval_field(const tomo_qdoc *d, const tomo_qval *v)
{
    return d->buf + v->field;
}
static inline const char *tomo_qval_str(const tomo_qdoc *d, const tomo_qval *v)
{
    return d->buf + v->str;
}

/* ---- queries ---- */

enum { TOMO_Q_SHOULD = 0, TOMO_Q_MUST = 1, TOMO_Q_MUST_NOT = 2 };
enum {
    TOMO_QC_ALL = 0,  /* `*` */
    TOMO_QC_TERM,     /* exact keyword (or the number when is_num) */
    TOMO_QC_PHRASE,   /* exact keyword */
    TOMO_QC_RANGE,    /* numeric or datetime range */
    TOMO_QC_WILDCARD, /* `*` and `?` over the whole keyword */
    TOMO_QC_REGEXP,   /* POSIX extended regexp over the whole keyword */
    TOMO_QC_FUZZY,    /* Levenshtein distance <= fuzz */
};
enum { TOMO_QR_GT = 0, TOMO_QR_GE, TOMO_QR_LT, TOMO_QR_LE };

typedef struct tomo_qclause {
    uint8_t occur;   /* TOMO_Q_* */
    uint8_t kind;    /* TOMO_QC_* */
    uint8_t is_num;  /* TERM: the text is also a number (num) */
    uint8_t op;      /* RANGE: TOMO_QR_* */
    uint8_t is_time; /* RANGE: bound is time_ns, else num */
    int fuzz;        /* FUZZY */
    char *field;     /* NULL: `_all` (never matches) */
    uint32_t fhash;
    char *text; /* TERM, PHRASE, WILDCARD, REGEXP, FUZZY */
    double num; /* TERM with is_num, numeric RANGE */
    int64_t time_ns;
    double boost; /* 1 unless `^n` */
    void *_re;    /* compiled regexp (REGEXP) */
} tomo_qclause;

typedef struct tomo_query {
    tomo_qclause *c;
    size_t n;
    size_t nmust, nshould, nmustnot;
} tomo_query;

/* Parse a query string. "" (or only spaces) parses to a query that matches
 * nothing (callers that want "" = all, as the matchmaker, pass "*").
 * Returns 0 and *out (free with tomo_query_free), or TOMO_EINVAL with a
 * message in err (if errlen > 0). */
int tomo_query_parse(const char *text, tomo_query **out, char *err, size_t errlen);
void tomo_query_free(tomo_query *q);

/* 1 if the document matches (score, if not NULL, gets the sum of the
 * matched clauses' boosts), else 0. */
int tomo_query_match(const tomo_query *q, const tomo_qdoc *d, double *score);
/* 1 if one clause matches the document (its occur ignored). */
int tomo_qclause_match(const tomo_qclause *c, const tomo_qdoc *d);

/* FNV-1a of a field name, as stored in tomo_qval.fhash / tomo_qclause.fhash. */
uint32_t tomo_query_hash(const char *s);
/* Parse a datetime in the formats above into ns since the epoch (UTC).
 * Returns 0 or TOMO_EINVAL. */
int tomo_query_parse_time(const char *s, int64_t *out_ns);

#endif
