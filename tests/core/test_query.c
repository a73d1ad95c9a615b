/* tests/core/test_query.c: the query-string parser and evaluator, as tables:
 * (query, document, expected match, expected score) and parse errors. */
#include "core/common.h"
#include "core/query.h"
#include "tt.h"

#include <jansson.h>
#include <stdlib.h>

/* The ticket document most cases run against (a matchmaker ticket). */
static void ticket_doc(tomo_qdoc *d)
{
    tomo_qdoc_init(d);
    tomo_qdoc_add_string(d, "properties.region", "eu-west");
    tomo_qdoc_add_string(d, "properties.mode", "ranked");
    tomo_qdoc_add_string(d, "properties.name", "Big Bad Wolf");
    tomo_qdoc_add_string(d, "properties.code", "5");
    tomo_qdoc_add_string(d, "properties.since", "2024-03-01T10:00:00Z");
    tomo_qdoc_add_string(d, "properties.day", "2024-03-01");
    tomo_qdoc_add_string(d, "properties.path", "a:b");
    tomo_qdoc_add_number(d, "properties.skill", 42.5);
    tomo_qdoc_add_number(d, "properties.level", 5);
    tomo_qdoc_add_number(d, "properties.temp", -3);
    tomo_qdoc_add_keyword(d, "ticket", "t-1");
    tomo_qdoc_add_number(d, "min_count", 2);
}

typedef struct mcase {
    const char *q;
    int match;
    double score; /* checked when match */
} mcase;

static const mcase match_cases[] = {
    /* terms and occurrence */
    {"properties.region:eu-west", 1, 1},
    {"properties.region:us-east", 0, 0},
    {"properties.region:EU-WEST", 0, 0}, /* case-sensitive */
    {"+properties.region:eu-west +properties.mode:ranked", 1, 2},
    {"+properties.region:eu-west +properties.mode:casual", 0, 0},
    {"properties.region:us-east properties.mode:ranked", 1, 1}, /* one SHOULD is enough */
    {"properties.region:us-east properties.mode:casual", 0, 0},
    {"+properties.region:eu-west properties.mode:casual", 1, 1}, /* SHOULD optional with MUST */
    {"+properties.region:eu-west properties.mode:ranked", 1, 2},
    {"-properties.region:us-east", 1, 0}, /* only MUST NOT: from match-all */
    {"-properties.region:eu-west", 0, 0},
    {"+properties.mode:ranked -properties.region:eu-west", 0, 0},
    {"*", 1, 1},
    {"+* -properties.mode:casual", 1, 1},
    {"properties.missing:x", 0, 0},
    {"eu-west", 0, 0}, /* no field: _all, never indexed */
    {"+eu-west *", 0, 0},
    {"ticket:t-1", 1, 1},
    /* numbers */
    {"properties.level:5", 1, 1},
    {"properties.code:5", 1, 1}, /* keyword "5" */
    {"properties.level:6", 0, 0},
    {"properties.temp:-3", 1, 1},
    {"properties.skill:>40", 1, 1},
    {"properties.skill:>42.5", 0, 0},
    {"properties.skill:>=42.5", 1, 1},
    {"properties.skill:<42.5", 0, 0},
    {"properties.skill:<=42.5", 1, 1},
    {"+properties.skill:>=40 +properties.skill:<=50", 1, 2},
    {"+properties.skill:>=43 +properties.skill:<=50", 0, 0},
    {"properties.temp:>-5", 1, 1},
    {"properties.temp:<-5", 0, 0},
    {"properties.region:>1", 0, 0}, /* a keyword is not a number */
    {"min_count:>=2", 1, 1},
    /* phrases, quoting, escapes */
    {"properties.name:\"Big Bad Wolf\"", 1, 1},
    {"properties.name:\"Big Bad\"", 0, 0}, /* the exact whole value */
    {"properties.name:Big", 0, 0},
    {"properties.path:a\\:b", 1, 1},
    {"properties.name:Big\\ Bad\\ Wolf", 1, 1},
    /* wildcard, regexp, fuzzy */
    {"properties.region:eu-*", 1, 1},
    {"properties.region:eu-w?st", 1, 1},
    {"properties.region:us*", 0, 0},
    {"properties.region:/eu-.*/", 1, 1},
    {"properties.region:/eu/", 0, 0}, /* anchored to the whole term */
    {"properties.mode:rankd~", 1, 1},
    {"properties.mode:rnkd~1", 0, 0},
    {"properties.mode:rnkd~2", 1, 1},
    /* datetimes */
    {"properties.since:>\"2024-01-01T00:00:00Z\"", 1, 1},
    {"properties.since:<\"2024-01-01T00:00:00Z\"", 0, 0},
    {"properties.since:>=\"2024-03-01T11:00:00+01:00\"", 1, 1},
    {"properties.since:>\"2024-03-01T11:00:00+01:00\"", 0, 0},
    {"properties.day:<=\"2024-03-01T00:00:00Z\"", 1, 1},
    {"properties.day:2024-03-01", 0, 0}, /* a datetime field, not a keyword */
    /* boosts */
    {"+properties.mode:ranked^3 properties.region:eu-west^0.5", 1, 3.5},
    {"properties.mode:ranked^2 properties.region:us-east^5", 1, 2},
    {"properties.name:\"Big Bad Wolf\"^4", 1, 4},
    {"  properties.mode:ranked  ", 1, 1},
    {"", 0, 0}, /* empty: nothing */
};

static void test_match_table(void)
{
    tomo_qdoc d;
    ticket_doc(&d);
    for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
        const mcase *c = &match_cases[i];
        tomo_query *q = NULL;
        char err[128];
        int rc = tomo_query_parse(c->q, &q, err, sizeof(err));
        if (rc != 0) {
            TT_FAIL("parse [%s]: %s", c->q, err);
            continue;
        }
        double score = -1;
        int m = tomo_query_match(q, &d, &score);
        if (m != c->match)
            TT_FAIL("match [%s]: got %d, want %d", c->q, m, c->match);
        else if (m && score != c->score)
            TT_FAIL("score [%s]: got %g, want %g", c->q, score, c->score);
        tt_checks++;
        tomo_query_free(q);
    }
    tomo_qdoc_clear(&d);
}

static const char *bad_queries[] = {
    "properties.region:",              /* no value */
    "properties.name:\"open",          /* unterminated quote */
    "properties.skill:>abc",           /* range needs a number or a time */
    "properties.skill:>=",             /* likewise */
    "properties.since:>\"yesterday\"", /* not a time */
    "properties.mode:ranked^x",        /* bad boost */
    "properties.mode:ranked~x",        /* bad fuzziness */
    "+",                               /* dangling prefix */
    ":x",                              /* no field */
    "properties.region:/[/",           /* bad regexp */
    "^2",
};

static void test_parse_errors(void)
{
    for (size_t i = 0; i < sizeof(bad_queries) / sizeof(bad_queries[0]); i++) {
        tomo_query *q = (tomo_query *)1;
        char err[128] = "";
        int rc = tomo_query_parse(bad_queries[i], &q, err, sizeof(err));
        if (rc != TOMO_EINVAL || q != NULL || !err[0])
            TT_FAIL("parse [%s]: rc=%d q=%p err=%s", bad_queries[i], rc, (void *)q, err);
        tt_checks++;
    }
}

static void test_clauses(void)
{
    tomo_query *q = NULL;
    TT_OK(tomo_query_parse("+properties.mode:ranked -properties.r:x properties.s:>=3^2", &q, NULL,
                           0));
    TT_EQ(q->n, 3);
    TT_EQ(q->nmust, 1);
    TT_EQ(q->nmustnot, 1);
    TT_EQ(q->nshould, 1);
    TT_EQ(q->c[0].kind, TOMO_QC_TERM);
    TT_STR_EQ(q->c[0].field, "properties.mode");
    TT_STR_EQ(q->c[0].text, "ranked");
    TT_EQ(q->c[0].is_num, 0);
    TT_EQ(q->c[2].kind, TOMO_QC_RANGE);
    TT_EQ(q->c[2].op, TOMO_QR_GE);
    TT_EQ(q->c[2].num, 3);
    TT_EQ(q->c[2].boost, 2);
    tomo_query_free(q);
    TT_OK(tomo_query_parse("f:12.5 g:1.2.3", &q, NULL, 0));
    TT_EQ(q->c[0].is_num, 1);
    TT_EQ(q->c[1].is_num, 0); /* two dots: a string */
    tomo_query_free(q);
    tomo_query_free(NULL);
}

static void test_json_labels(void)
{
    json_t *label =
        json_loads("{\"mode\":\"duel\",\"open\":true,\"players\":3,"
                   "\"map\":{\"name\":\"dust\",\"size\":2},\"tags\":[\"eu\",\"fast\",7],"
                   "\"started\":\"2024-05-01 12:00:00\",\"none\":null}",
                   0, NULL);
    tomo_qdoc d;
    tomo_qdoc_init(&d);
    tomo_qdoc_add_json(&d, "label", label);
    static const mcase cases[] = {
        {"+label.mode:duel", 1, 1},
        {"+label.open:T", 1, 1},
        {"+label.open:true", 0, 0}, /* booleans are T/F */
        {"+label.players:>=3", 1, 1},
        {"+label.map.name:dust +label.map.size:2", 1, 2},
        {"+label.tags:fast", 1, 1}, /* array element */
        {"+label.tags:eu +label.tags:7", 1, 2},
        {"+label.tags:slow", 0, 0},
        {"+label.started:<\"2024-05-02T00:00:00Z\"", 1, 1},
        {"+label.none:null", 0, 0},
        {"label.map:dust", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tomo_query *q = NULL;
        TT_OK(tomo_query_parse(cases[i].q, &q, NULL, 0));
        double s = 0;
        int m = q ? tomo_query_match(q, &d, &s) : -1;
        if (m != cases[i].match || (m && s != cases[i].score))
            TT_FAIL("label [%s]: got %d (%g)", cases[i].q, m, s);
        tt_checks++;
        tomo_query_free(q);
    }
    tomo_qdoc_clear(&d);
    json_decref(label);
}

static void test_times(void)
{
    int64_t a, b;
    TT_OK(tomo_query_parse_time("1970-01-01T00:00:01Z", &a));
    TT_EQ(a, 1000000000LL);
    TT_OK(tomo_query_parse_time("1970-01-01T01:00:01.5+01:00", &b));
    TT_EQ(b, 1500000000LL);
    TT_OK(tomo_query_parse_time("2000-03-01", &a));
    TT_EQ(a / 1000000000LL, 951868800LL);
    TT_EQ(tomo_query_parse_time("2000-13-01", &a), TOMO_EINVAL);
    TT_EQ(tomo_query_parse_time("2000-01-01T10:00", &a), TOMO_EINVAL);
    TT_EQ(tomo_query_parse_time("2000-01-01 10:00:00Z", &a), TOMO_EINVAL);
    TT_EQ(tomo_query_parse_time("hello", &a), TOMO_EINVAL);
}

int main(void)
{
    TT_RUN(test_match_table);
    TT_RUN(test_parse_errors);
    TT_RUN(test_clauses);
    TT_RUN(test_json_labels);
    TT_RUN(test_times);
    return tt_finish();
}
