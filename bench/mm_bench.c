/* bench/mm_bench.c: tomo-mm-bench, the matchmaker matcher fed directly (no
 * sockets): N active tickets with a realistic mix of properties, queries,
 * count ranges and parties; times adding them and each interval, and prints
 * a table (see docs/BENCHMARKS.md).
 *
 *     tomo-mm-bench [--tickets 100000] [--intervals 3] [--seed 1] [--refill] [--rev]
 *
 * The mix: 8 game modes, each with its own count range (2-2, 4-4, 2-4,
 * 6-10, 3-3, 2-8, 8-8, 4-6); 6 regions; skill 0-100 and level 1-50.
 * Queries: 60% `+mode +region +skill:>=s-15 +skill:<=s+15`, 25%
 * `+mode +skill range region:R` (a SHOULD: sorted by score), 10% `+mode`,
 * 5% `*`-style `+mode -region:X`. 5% of tickets are parties of 2-3.
 * --refill tops the pool back up to N before every interval (steady state).
 * --rev turns rev_precision on (both sides' queries must match).
 * The last line is a digest of every match (its sessions, in the order the
 * matcher reported them): two builds that print the same digest for the
 * same arguments formed exactly the same matches. */
#include "core/common.h"
#include "rt/matchmaker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char *modes[] = {"duel", "squad", "pairs", "raid", "trio", "ffa", "eight", "team"};
static const int ranges[][2] = {{2, 2}, {4, 4}, {2, 4}, {6, 10}, {3, 3}, {2, 8}, {8, 8}, {4, 6}};
static const char *regions[] = {"eu", "us-east", "us-west", "asia", "sa", "oce"};

static uint64_t rng = 88172645463325252ULL;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static size_t matched_tickets, matched_presences, matches;
static uint64_t session_seq;
static uint64_t digest = 1469598103934665603ULL; /* FNV-1a over the matches */

static void digest_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        digest = (digest ^ b[i]) * 1099511628211ULL;
}

static void on_matched(void *ud, tomo_mm_ticket *const *t, size_t n)
{
    (void)ud;
    matches++;
    matched_tickets += n;
    for (size_t i = 0; i < n; i++) {
        matched_presences += t[i]->npresences;
        for (size_t j = 0; j < t[i]->npresences; j++)
            digest_bytes(t[i]->presences[j].session_id, 36);
        digest_bytes("|", 1);
    }
    digest_bytes("#", 1);
}

static int add_one(tomo_mm *mm)
{
    int mi = (int)(rnd() % 8), ri = (int)(rnd() % 6);
    int skill = (int)(rnd() % 101), level = 1 + (int)(rnd() % 50);
    json_t *sp = json_pack("{s:s,s:s}", "mode", modes[mi], "region", regions[ri]);
    json_t *np = json_pack("{s:i,s:i}", "skill", skill, "level", level);
    char q[256];
    uint32_t k = rnd() % 100;
    if (k < 60)
        snprintf(q, sizeof(q),
                 "+properties.mode:%s +properties.region:%s +properties.skill:>=%d "
                 "+properties.skill:<=%d",
                 modes[mi], regions[ri], skill - 15, skill + 15);
    else if (k < 85)
        snprintf(q, sizeof(q),
                 "+properties.mode:%s +properties.skill:>=%d +properties.skill:<=%d "
                 "properties.region:%s",
                 modes[mi], skill - 20, skill + 20, regions[ri]);
    else if (k < 95)
        snprintf(q, sizeof(q), "+properties.mode:%s", modes[mi]);
    else
        snprintf(q, sizeof(q), "+properties.mode:%s -properties.region:%s", modes[mi],
                 regions[(ri + 1) % 6]);
    int np_ = 1;
    char party[64] = "";
    if (rnd() % 100 < 5 && ranges[mi][1] >= 3) {
        np_ = 2 + (int)(rnd() % 2);
        snprintf(party, sizeof(party), "%08llx-0000-4000-8000-000000000000.bench",
                 (unsigned long long)session_seq);
    }
    tomo_mm_presence ps[3];
    for (int i = 0; i < np_; i++) {
        unsigned long long s = ++session_seq;
        snprintf(ps[i].session_id, sizeof(ps[i].session_id), "%08llx-1111-4111-8111-%012llx",
                 s & 0xffffffffULL, s);
        snprintf(ps[i].user_id, sizeof(ps[i].user_id), "%08llx-2222-4222-8222-%012llx",
                 s & 0xffffffffULL, s);
        ps[i].username = "player";
    }
    char ticket[37], err[128];
    int rc = tomo_mm_add(mm, ps, (size_t)np_, *party ? party : NULL, q, ranges[mi][0],
                         ranges[mi][1], 1, sp, np, 0, ticket, err, sizeof(err));
    json_decref(sp);
    json_decref(np);
    return rc;
}

int main(int argc, char **argv)
{
    size_t n = 100000;
    int intervals = 3, refill = 0, rev = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tickets") && i + 1 < argc)
            n = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--intervals") && i + 1 < argc)
            intervals = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            rng ^= (uint64_t)atoll(argv[++i]) * 0x9E3779B97F4A7C15ULL;
        else if (!strcmp(argv[i], "--refill"))
            refill = 1;
        else if (!strcmp(argv[i], "--rev"))
            rev = 1;
        else {
            fprintf(stderr,
                    "usage: %s [--tickets N] [--intervals K] [--seed S] [--refill] [--rev]\n",
                    argv[0]);
            return 2;
        }
    }
    tomo_mm_config cfg = {.max_tickets = 3,
                          .max_intervals = 2,
                          .rev_precision = rev,
                          .rev_budget_ms = rev ? 3600 * 1000 : 0};
    tomo_mm *mm = tomo_mm_new(&cfg);
    long rss0 = rss_kb();
    double t0 = now_ms(), c0 = cpu_ms();
    for (size_t i = 0; i < n; i++)
        if (add_one(mm) < 0) {
            fprintf(stderr, "add failed\n");
            return 1;
        }
    double tadd = now_ms() - t0, cadd = cpu_ms() - c0;
    printf("matcher benchmark: %zu tickets, max_intervals 2, rev_precision %s%s\n", n,
           rev ? "on" : "off", refill ? ", refilled before each interval" : "");
    printf(
        "add: %.0f ms wall, %.0f ms CPU (%.0f tickets/s of CPU), RSS +%ld KiB (%.0f B/ticket)\n\n",
        tadd, cadd, (double)n / (cadd / 1e3), rss_kb() - rss0,
        (double)(rss_kb() - rss0) * 1024.0 / (double)n);
    printf("| interval | tickets before | active before | wall ms | CPU ms | matches | "
           "matched tickets | matched players | tickets after | candidates per search |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int k = 1; k <= intervals; k++) {
        if (refill)
            while (tomo_mm_count(mm) < n)
                add_one(mm);
        size_t before = tomo_mm_count(mm), active = tomo_mm_active(mm);
        tomo_mm_stats st0;
        tomo_mm_get_stats(mm, &st0);
        matches = matched_tickets = matched_presences = 0;
        double s = now_ms(), c = cpu_ms();
        tomo_mm_interval_begin(mm);
        while (tomo_mm_interval_step(mm, SIZE_MAX, on_matched, NULL))
            ;
        double ms = now_ms() - s, cms = cpu_ms() - c;
        tomo_mm_stats st1;
        tomo_mm_get_stats(mm, &st1);
        uint64_t ns = st1.searches - st0.searches;
        printf("| %d | %zu | %zu | %.1f | %.1f | %zu | %zu | %zu | %zu | %.1f |\n", k, before,
               active, ms, cms, matches, matched_tickets, matched_presences, tomo_mm_count(mm),
               ns ? (double)(st1.candidates - st0.candidates) / (double)ns : 0.0);
    }
    tomo_mm_stats st;
    tomo_mm_get_stats(mm, &st);
    printf("\nsearches %llu, candidates examined %llu (%.1f per search), hits %llu, stale refs "
           "dropped %llu\n",
           (unsigned long long)st.searches, (unsigned long long)st.candidates,
           st.searches ? (double)st.candidates / (double)st.searches : 0.0,
           (unsigned long long)st.hits, (unsigned long long)st.stale);
    printf("peak RSS %ld KiB\n", rss_kb());
    printf("digest %016llx\n", (unsigned long long)digest);
    tomo_mm_free(mm);
    return 0;
}
