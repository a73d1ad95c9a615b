/* tests/rt/test_matchmaker.c: the matcher (rt/matchmaker.h) driven
 * directly: matching both ways, session and party exclusions, intervals and
 * min/max, count_multiple, rev_precision, scores, removal, limits, ids; the
 * search index's compact evaluation against the full query. */
#include "core/common.h"
#include "rt/matchmaker.h"
#include "tt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tomo_mm_presence pres(int n)
{
    tomo_mm_presence p;
    snprintf(p.session_id, sizeof(p.session_id), "00000000-0000-4000-8000-%012d", n);
    snprintf(p.user_id, sizeof(p.user_id), "11111111-0000-4000-8000-%012d", n);
    p.username = "u";
    return p;
}

static tomo_mm *mm_new(int rev)
{
    tomo_mm_config c = {.max_tickets = 3,
                        .max_intervals = 2,
                        .rev_precision = rev,
                        .rev_budget_ms = 100000};
    return tomo_mm_new(&c);
}

/* Add a solo ticket for session n with string props "k=v,k=v". */
static int add(tomo_mm *mm, int sess, const char *party, const char *q, int min, int max, int mult,
               const char *props, double skill, char id[37])
{
    tomo_mm_presence p = pres(sess);
    json_t *sp = json_object(), *np = json_pack("{s:f}", "skill", skill);
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", props ? props : "");
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        *eq = '\0';
        json_object_set_new(sp, tok, json_string(eq + 1));
    }
    char err[128];
    static int64_t clock_ns = 1000;
    int rc = tomo_mm_add(mm, &p, 1, party, q, min, max, mult, sp, np, clock_ns++, id, err,
                         sizeof(err));
    json_decref(sp);
    json_decref(np);
    return rc;
}

typedef struct got {
    int matches;
    size_t sizes[16];
    char first[16][37]; /* first ticket of each match */
    char last[16][37];  /* the searching ticket */
} got;

static void on_matched(void *ud, tomo_mm_ticket *const *t, size_t n)
{
    got *g = ud;
    if (g->matches < 16) {
        g->sizes[g->matches] = n;
        memcpy(g->first[g->matches], t[0]->id, 37);
        memcpy(g->last[g->matches], t[n - 1]->id, 37);
    }
    g->matches++;
}

static void interval(tomo_mm *mm, got *g)
{
    tomo_mm_interval_begin(mm);
    while (tomo_mm_interval_step(mm, 1, on_matched, g)) /* one ticket per step */
        ;
}

static void test_basic_match(void)
{
    tomo_mm *mm = mm_new(0);
    char a[37], b[37], c[37];
    TT_OK(add(mm, 1, NULL, "+properties.mode:duel", 2, 2, 1, "mode=duel", 10, a));
    TT_OK(add(mm, 2, NULL, "+properties.mode:ffa", 2, 2, 1, "mode=ffa", 10, c));
    TT_OK(add(mm, 3, NULL, "+properties.mode:duel +properties.skill:>=5", 2, 2, 1, "mode=duel", 20,
              b));
    TT_EQ(tomo_mm_count(mm), 3);
    got g = {0};
    interval(mm, &g);
    TT_EQ(g.matches, 1);
    TT_EQ(g.sizes[0], 2);
    TT_STR_EQ(g.first[0], b); /* the hit, then the searching (oldest) ticket */
    TT_STR_EQ(g.last[0], a);
    TT_EQ(tomo_mm_count(mm), 1);
    TT_TRUE(tomo_mm_get(mm, c) != NULL);
    TT_TRUE(tomo_mm_get(mm, a) == NULL);
    /* c (min == max) searched once: no longer active, still findable */
    TT_EQ(tomo_mm_active(mm), 0);
    char d[37];
    TT_OK(add(mm, 4, NULL, "+properties.mode:ffa", 2, 2, 1, "mode=ffa", 1, d));
    memset(&g, 0, sizeof(g));
    interval(mm, &g);
    TT_EQ(g.matches, 1);
    TT_STR_EQ(g.first[0], c);
    TT_EQ(tomo_mm_count(mm), 0);
    tomo_mm_free(mm);
}

static void test_exclusions(void)
{
    tomo_mm *mm = mm_new(0);
    char a[37], b[37];
    /* the same session twice: never matched together */
    TT_OK(add(mm, 1, NULL, "*", 2, 2, 1, NULL, 0, a));
    TT_OK(add(mm, 1, NULL, "*", 2, 2, 1, NULL, 0, b));
    got g = {0};
    interval(mm, &g);
    TT_EQ(g.matches, 0);
    TT_EQ(tomo_mm_remove_session(mm, pres(1).session_id), 2);
    TT_EQ(tomo_mm_count(mm), 0);
    /* the same party: never matched with itself */
    TT_OK(add(mm, 2, "p1", "*", 2, 2, 1, NULL, 0, a));
    TT_OK(add(mm, 3, "p1", "*", 2, 2, 1, NULL, 0, b));
    interval(mm, &g);
    TT_EQ(g.matches, 0);
    TT_EQ(tomo_mm_remove_party(mm, "p1"), 2);
    TT_EQ(tomo_mm_remove_party(mm, "p1"), 0);
    /* incompatible ranges: a 2-4 search does not find a 2-8 ticket */
    TT_OK(add(mm, 4, NULL, "*", 2, 4, 1, NULL, 0, a));
    TT_OK(add(mm, 5, NULL, "*", 2, 8, 1, NULL, 0, b));
    interval(mm, &g);
    TT_EQ(g.matches, 0);
    /* a required term no ticket has, and `_all` */
    TT_OK(add(mm, 6, NULL, "+properties.none:x", 2, 2, 1, NULL, 0, a));
    TT_OK(add(mm, 7, NULL, "+anything", 2, 2, 1, NULL, 0, a));
    interval(mm, &g);
    TT_EQ(g.matches, 0);
    tomo_mm_free(mm);
}

static void test_intervals_and_min(void)
{
    tomo_mm *mm = mm_new(0);
    char a[37], b[37], c[37];
    /* 2-4 with two tickets: nothing on the first interval, a match of two on
     * the last one */
    TT_OK(add(mm, 1, NULL, "*", 2, 4, 1, NULL, 0, a));
    TT_OK(add(mm, 2, NULL, "*", 2, 4, 1, NULL, 0, b));
    got g = {0};
    interval(mm, &g);
    TT_EQ(g.matches, 0);
    interval(mm, &g);
    TT_EQ(g.matches, 1);
    TT_EQ(g.sizes[0], 2);
    /* 2-3 with three: matched at max on the first interval */
    TT_OK(add(mm, 3, NULL, "*", 2, 3, 1, NULL, 0, a));
    TT_OK(add(mm, 4, NULL, "*", 2, 3, 1, NULL, 0, b));
    TT_OK(add(mm, 5, NULL, "*", 2, 3, 1, NULL, 0, c));
    memset(&g, 0, sizeof(g));
    interval(mm, &g);
    TT_EQ(g.matches, 1);
    TT_EQ(g.sizes[0], 3);
    tomo_mm_free(mm);
}

static void test_count_multiple(void)
{
    tomo_mm *mm = mm_new(0);
    char a[37], b[37], c[37];
    TT_OK(add(mm, 1, NULL, "*", 2, 4, 2, NULL, 0, a));
    TT_OK(add(mm, 2, NULL, "*", 2, 4, 2, NULL, 0, b));
    TT_OK(add(mm, 3, NULL, "*", 2, 4, 2, NULL, 0, c));
    got g = {0};
    interval(mm, &g);
    TT_EQ(g.matches, 0); /* 3 of max 4: not yet */
    interval(mm, &g);
    TT_EQ(g.matches, 1); /* last interval: 3 trimmed to 2 (the oldest hit dropped) */
    TT_EQ(g.sizes[0], 2);
    TT_STR_EQ(g.first[0], c);
    TT_STR_EQ(g.last[0], a);
    TT_TRUE(tomo_mm_get(mm, b) != NULL);
    tomo_mm_free(mm);
}

static void test_rev_precision(void)
{
    for (int rev = 0; rev <= 1; rev++) {
        tomo_mm *mm = mm_new(rev);
        char a[37], b[37];
        TT_OK(add(mm, 1, NULL, "+properties.mode:duel", 2, 2, 1, "mode=duel,region=eu", 0, a));
        TT_OK(add(mm, 2, NULL, "+properties.region:us", 2, 2, 1, "mode=duel,region=eu", 0, b));
        got g = {0};
        interval(mm, &g);
        TT_EQ(g.matches, rev ? 0 : 1);
        tomo_mm_free(mm);
    }
}

static void test_scores(void)
{
    tomo_mm *mm = mm_new(0);
    char x[37], older[37], better[37];
    TT_OK(add(mm, 1, NULL, "+properties.mode:duel properties.region:eu^5", 2, 2, 1, "mode=duel", 0,
              x));
    TT_OK(add(mm, 2, NULL, "+properties.mode:none", 2, 2, 1, "mode=duel,region=us", 0, older));
    TT_OK(add(mm, 3, NULL, "+properties.mode:none", 2, 2, 1, "mode=duel,region=eu", 0, better));
    got g = {0};
    interval(mm, &g);
    TT_EQ(g.matches, 1);
    TT_STR_EQ(g.first[0], better); /* higher score beats older */
    TT_TRUE(tomo_mm_get(mm, older) != NULL);
    tomo_mm_free(mm);
}

static void test_limits_and_ids(void)
{
    tomo_mm *mm = mm_new(0);
    char a[37], b[37];
    for (int i = 0; i < 3; i++)
        TT_OK(add(mm, 1, NULL, "*", 2, 2, 1, NULL, 0, a));
    TT_EQ(add(mm, 1, NULL, "*", 2, 2, 1, NULL, 0, b), TOMO_ETOOBIG);
    TT_EQ(tomo_mm_session_tickets(mm, pres(1).session_id), 3);
    TT_EQ(add(mm, 2, NULL, "properties.x:\"open", 2, 2, 1, NULL, 0, b), TOMO_EINVAL);
    TT_EQ(tomo_mm_remove(mm, a), 0);
    TT_EQ(tomo_mm_remove(mm, a), TOMO_ENOTFOUND);
    TT_OK(add(mm, 1, NULL, "*", 2, 2, 1, NULL, 0, b));
    /* ids are UUIDv4-shaped; forged or stale ones find nothing */
    TT_EQ(strlen(b), 36);
    TT_EQ(b[14], '4');
    TT_TRUE(tomo_mm_get(mm, b) != NULL);
    char forged[37];
    memcpy(forged, b, 37);
    forged[35] = forged[35] == '0' ? '1' : '0';
    TT_TRUE(tomo_mm_get(mm, forged) == NULL);
    TT_TRUE(tomo_mm_get(mm, "ffffffff-0000-4000-8000-000000000000") == NULL);
    TT_TRUE(tomo_mm_get(mm, "short") == NULL);
    TT_TRUE(tomo_mm_get(mm, NULL) == NULL);
    /* party tickets count for each member's session */
    tomo_mm_presence ps[2] = {pres(5), pres(6)};
    char t[37], err[64];
    for (int i = 0; i < 3; i++)
        TT_OK(tomo_mm_add(mm, ps, 2, "party", "*", 2, 4, 1, NULL, NULL, 0, t, err, sizeof(err)));
    TT_EQ(tomo_mm_add(mm, ps, 2, "party", "*", 2, 4, 1, NULL, NULL, 0, t, err, sizeof(err)),
          TOMO_ETOOBIG);
    TT_EQ(tomo_mm_session_tickets(mm, pres(6).session_id), 3);
    TT_EQ(tomo_mm_remove_session(mm, pres(6).session_id), 3);
    tomo_mm_free(mm);
    tomo_mm_free(NULL);
}

static uint32_t seed = 12345;
static uint32_t rnd(void)
{
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
}

/* A random ticket: keywords from a small vocabulary (sometimes more than the
 * compact line holds, a date, a separator inside a value, a key that is
 * both string and number), numbers likewise. */
static int add_random(tomo_mm *mm, int sess, const char *q)
{
    static const char *modes[] = {"a", "b", "c"}, *regions[] = {"x", "y"};
    json_t *sp = json_object(), *np = json_object();
    json_object_set_new(sp, "mode", json_string(modes[rnd() % 3]));
    if (rnd() % 4)
        json_object_set_new(sp, "region", json_string(regions[rnd() % 2]));
    if (rnd() % 3 == 0) {
        json_object_set_new(sp, "k1", json_string(rnd() % 2 ? "v1" : "v2"));
        json_object_set_new(sp, "k2", json_string(rnd() % 2 ? "v1" : "w1"));
    }
    if (rnd() % 5 == 0)
        json_object_set_new(sp, "when", json_string(rnd() % 2 ? "2024-05-01" : "2023-01-01"));
    if (rnd() % 7 == 0)
        json_object_set_new(sp, "sep", json_string("p\x1fq"));
    if (rnd() % 6 == 0)
        json_object_set_new(sp, "both", json_string("5"));
    json_object_set_new(np, "skill", json_integer(rnd() % 100));
    if (rnd() % 2)
        json_object_set_new(np, "level", json_integer(rnd() % 10));
    if (rnd() % 4 == 0)
        json_object_set_new(np, "n3", json_real((double)(rnd() % 8) / 2));
    if (rnd() % 6 == 0)
        json_object_set_new(np, "both", json_integer(5));
    tomo_mm_presence p = pres(sess);
    char id[37], err[128];
    int min = 2 + (int)(rnd() % 3);
    int rc = tomo_mm_add(mm, &p, 1, rnd() % 5 ? NULL : "pp", q, min, min + (int)(rnd() % 3), 1, sp,
                         np, 0, id, err, sizeof(err));
    json_decref(sp);
    json_decref(np);
    return rc;
}

static void random_query(char *q, size_t cap)
{
    static const char *parts[] = {
        "properties.mode:a",      "properties.mode:b",     "properties.region:x^2",
        "properties.region:y",    "properties.skill:>=50", "properties.skill:<30",
        "properties.level:5",     "properties.level:>2",   "properties.k1:\"v1\"",
        "properties.k2:v1",       "properties.k2:v*",      "properties.when:>\"2024-01-01\"",
        "properties.n3:<=1.5",    "properties.n3:2",       "properties.both:5",
        "properties.missing:z",   "properties.sep:p",      "max_count:4",
        "min_count:>=3",          "party_id:pp",           "*",
        "properties.mode:/[ab]/", "properties.mode:a~1",   "nofield"};
    static const char *occ[] = {"", "+", "-", "+"};
    size_t n = 1 + rnd() % 4, len = 0;
    q[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(q + len, cap - len, "%s%s%s", i ? " " : "", occ[rnd() % 4],
                                parts[rnd() % (sizeof(parts) / sizeof(*parts))]);
}

static void test_index_agrees(void)
{
    tomo_mm_config cfg = {.max_tickets = 0, .max_intervals = 2}; /* no per-party bound */
    tomo_mm *mm = tomo_mm_new(&cfg);
    char q[256];
    for (int i = 0; i < 300; i++) {
        random_query(q, sizeof(q));
        TT_OK(add_random(mm, 1000 + i, q));
    }
    TT_EQ(tomo_mm_check(mm), 0);
    /* Postings die and their ids are reused; the compiled terms follow. */
    got g = {0};
    interval(mm, &g);
    TT_TRUE(g.matches > 0);
    for (int i = 0; i < 200; i++) {
        random_query(q, sizeof(q));
        TT_OK(add_random(mm, 2000 + i, q));
    }
    TT_EQ(tomo_mm_check(mm), 0);
    interval(mm, &g);
    interval(mm, &g);
    TT_EQ(tomo_mm_check(mm), 0);
    tomo_mm_free(mm);
}

/* Sessions and parties are told apart exactly, whatever their fingerprints:
 * many presences per ticket fill the session bloom. */
static void test_wide_tickets(void)
{
    tomo_mm *mm = mm_new(0);
    tomo_mm_presence ps[40];
    for (int i = 0; i < 40; i++)
        ps[i] = pres(100 + i);
    char a[37], b[37], c[37], err[64];
    TT_OK(tomo_mm_add(mm, ps, 20, "p1", "*", 2, 60, 1, NULL, NULL, 1, a, err, sizeof(err)));
    /* shares session 119 with a: never together */
    TT_OK(tomo_mm_add(mm, ps + 19, 20, "p2", "*", 2, 60, 1, NULL, NULL, 2, b, err, sizeof(err)));
    tomo_mm_presence solo = pres(500);
    TT_OK(tomo_mm_add(mm, &solo, 1, NULL, "*", 2, 60, 1, NULL, NULL, 3, c, err, sizeof(err)));
    got g = {0};
    interval(mm, &g); /* a, b, c search; max_intervals 2: no match yet */
    interval(mm, &g); /* last interval: partial matches of 21 */
    TT_EQ(g.matches, 1);
    TT_EQ(g.sizes[0], 2);
    TT_TRUE(tomo_mm_get(mm, b) != NULL || tomo_mm_get(mm, a) != NULL);
    tomo_mm_free(mm);
}

int main(void)
{
    TT_RUN(test_index_agrees);
    TT_RUN(test_wide_tickets);
    TT_RUN(test_basic_match);
    TT_RUN(test_exclusions);
    TT_RUN(test_intervals_and_min);
    TT_RUN(test_count_multiple);
    TT_RUN(test_rev_precision);
    TT_RUN(test_scores);
    TT_RUN(test_limits_and_ids);
    return tt_finish();
}
