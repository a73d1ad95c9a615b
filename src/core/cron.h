/* core/cron.h: cron expressions (Nakama's dialect) and their next/previous
 * ticks, in UTC.
 * Owns: tomo_cron, a parsed expression (a plain value: no allocation, copy
 *       it freely).
 * Threads: any; a parsed tomo_cron is read-only.
 *
 * Syntax (what leaderboard reset schedules, tournaments and nk.cron_next
 * accept):
 *   5 fields  min hour dom month dow           (second 0, any year)
 *   6 fields  min hour dom month dow year      (second 0)
 *   7 fields  sec min hour dom month dow year
 * Fields past the 7th are ignored. Each field is a comma list of `*`, `?`
 * (dom and dow), `N`, `A-B`, with an optional `/STEP` (`*` / `A-B` / `A/S`).
 * Ranges: sec/min 0-59, hour 0-23, dom 1-31, month 1-12 or JAN-DEC, dow 0-7
 * or SUN-SAT (7 = Sunday), year 1970-2099. Day-of-month also takes `L` (last
 * day), `LW` (last weekday) and `NW` (the weekday nearest N, not crossing
 * the month); day-of-week takes `DL` (last D of the month) and `D#N` (Nth D).
 * When both dom and dow are restricted a day matches either (crontab(5)).
 * Macros: @yearly @annually @monthly @weekly @daily @hourly @minutely. */
#ifndef TOMO_CORE_CRON_H
#define TOMO_CORE_CRON_H

#include <stdint.h>

#define TOMO_CRON_YEAR_MIN 1970
#define TOMO_CRON_YEAR_MAX 2099

typedef struct tomo_cron {
    uint64_t sec, min;     /* bits 0..59 */
    uint32_t hour;         /* bits 0..23 */
    uint32_t dom;          /* bits 1..31 */
    uint32_t dom_w;        /* bits 1..31: NW (nearest weekday) */
    uint16_t mon;          /* bits 1..12 */
    uint8_t dow;           /* bits 0..6 */
    uint8_t dow_last;      /* bits 0..6: DL */
    uint8_t dow_nth[7];    /* per weekday, bits 1..5: D#N */
    uint8_t dom_last;      /* L */
    uint8_t dom_last_w;    /* LW */
    uint8_t dom_restricted, dow_restricted;
    uint8_t year[(TOMO_CRON_YEAR_MAX - TOMO_CRON_YEAR_MIN) / 8 + 1];
} tomo_cron;

/* Parse expr into *out. 0, or TOMO_EINVAL for anything malformed (out is
 * then unspecified). */
int tomo_cron_parse(const char *expr, tomo_cron *out);

/* The first tick strictly after unix second t; -1 if there is none (past
 * the last year). */
int64_t tomo_cron_next(const tomo_cron *c, int64_t t);

/* The last tick at or before unix second t; -1 if there is none. */
int64_t tomo_cron_prev(const tomo_cron *c, int64_t t);

/* Civil-date helpers shared with the parser's users (UTC, proleptic
 * Gregorian): days since the epoch for y-m-d, and back. */
int64_t tomo_days_from_civil(int64_t y, unsigned m, unsigned d);
void tomo_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif
