/* core/cron.c: cron parsing and tick search (see cron.h).
 *
 * The expression is kept as bit sets per field. next/prev walk calendar
 * days (skipping whole years and months that cannot match), compute the
 * set of matching days of each month once, and find the time of day with
 * bit scans, so a search costs at most a few thousand cheap steps even for
 * an expression that matches once a decade. */
#include "cron.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Howard Hinnant's days_from_civil / civil_from_days. */
int64_t tomo_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void tomo_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* 0 = Sunday. */
static unsigned weekday(int64_t days)
{
    int64_t w = (days + 4) % 7;
    return (unsigned)(w < 0 ? w + 7 : w);
}

/* ---- parsing ---- */

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F_YEAR };

static const char *const mon_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                        "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const dow_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

typedef struct span {
    const char *p;
    size_t n;
} span;

/* A number or (month/dow) a three-letter name; the whole span. */
static int parse_value(span s, int field, int *out)
{
    if (s.n == 0)
        return TOMO_EINVAL;
    if (isdigit((unsigned char)s.p[0])) {
        int v = 0;
        for (size_t i = 0; i < s.n; i++) {
            if (!isdigit((unsigned char)s.p[i]) || v > 100000)
                return TOMO_EINVAL;
            v = v * 10 + (s.p[i] - '0');
        }
        *out = v;
        return 0;
    }
    const char *const *names = field == F_MON ? mon_names : field == F_DOW ? dow_names : NULL;
    int count = field == F_MON ? 12 : 7, base = field == F_MON ? 1 : 0;
    if (!names || s.n != 3)
        return TOMO_EINVAL;
    for (int i = 0; i < count; i++) {
        if (toupper((unsigned char)s.p[0]) == names[i][0] &&
            toupper((unsigned char)s.p[1]) == names[i][1] &&
            toupper((unsigned char)s.p[2]) == names[i][2]) {
            *out = i + base;
            return 0;
        }
    }
    return TOMO_EINVAL;
}

static void bounds(int field, int *lo, int *hi)
{
    static const int b[7][2] = {{0, 59}, {0, 59}, {0, 23}, {1, 31},
                                {1, 12}, {0, 7},  {TOMO_CRON_YEAR_MIN, TOMO_CRON_YEAR_MAX}};
    *lo = b[field][0];
    *hi = b[field][1];
}

static void set_bit(tomo_cron *c, int field, int v)
{
    switch (field) {
    case F_SEC: c->sec |= 1ull << v; break;
    case F_MIN: c->min |= 1ull << v; break;
    case F_HOUR: c->hour |= 1u << v; break;
    case F_DOM: c->dom |= 1u << v; break;
    case F_MON: c->mon |= (uint16_t)(1u << v); break;
    case F_DOW: c->dow |= (uint8_t)(1u << (v % 7)); break;
    default: {
        int i = v - TOMO_CRON_YEAR_MIN;
        c->year[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    }
}

static const char *find(span s, char ch)
{
    return memchr(s.p, ch, s.n);
}

/* One comma-separated item of a field. */
static int parse_item(tomo_cron *c, int field, span s)
{
    int lo, hi, a, b, step = 1, rc;
    bounds(field, &lo, &hi);
    if (s.n == 0)
        return TOMO_EINVAL;
    if (field == F_DOM) {
        if (s.n == 1 && toupper((unsigned char)s.p[0]) == 'L') {
            c->dom_last = 1;
            return 0;
        }
        if (s.n == 2 && toupper((unsigned char)s.p[0]) == 'L' &&
            toupper((unsigned char)s.p[1]) == 'W') {
            c->dom_last_w = 1;
            return 0;
        }
        if (s.n >= 2 && toupper((unsigned char)s.p[s.n - 1]) == 'W') {
            if (parse_value((span){s.p, s.n - 1}, field, &a) < 0 || a < 1 || a > 31)
                return TOMO_EINVAL;
            c->dom_w |= 1u << a;
            return 0;
        }
    }
    if (field == F_DOW) {
        const char *hash = find(s, '#');
        if (hash) {
            int n;
            if (parse_value((span){s.p, (size_t)(hash - s.p)}, field, &a) < 0 || a > 7 ||
                parse_value((span){hash + 1, s.n - (size_t)(hash + 1 - s.p)}, field, &n) < 0 ||
                n < 1 || n > 5)
                return TOMO_EINVAL;
            c->dow_nth[a % 7] |= (uint8_t)(1u << n);
            return 0;
        }
        if (s.n >= 2 && toupper((unsigned char)s.p[s.n - 1]) == 'L') {
            if (parse_value((span){s.p, s.n - 1}, field, &a) < 0 || a > 7)
                return TOMO_EINVAL;
            c->dow_last |= (uint8_t)(1u << (a % 7));
            return 0;
        }
    }
    span range = s;
    const char *slash = find(s, '/');
    if (slash) {
        range.n = (size_t)(slash - s.p);
        if (parse_value((span){slash + 1, s.n - range.n - 1}, F_SEC, &step) < 0 || step < 1)
            return TOMO_EINVAL;
    }
    if (range.n == 1 && (range.p[0] == '*' || range.p[0] == '?')) {
        if (range.p[0] == '?' && field != F_DOM && field != F_DOW)
            return TOMO_EINVAL;
        a = lo;
        b = hi;
        if (field == F_DOW && !slash)
            b = 6;
    } else {
        const char *dash = find(range, '-');
        if (dash) {
            rc = parse_value((span){range.p, (size_t)(dash - range.p)}, field, &a);
            if (rc == 0)
                rc = parse_value((span){dash + 1, range.n - (size_t)(dash + 1 - range.p)}, field,
                                 &b);
            if (rc < 0)
                return rc;
        } else {
            if ((rc = parse_value(range, field, &a)) < 0)
                return rc;
            b = slash ? hi : a;
        }
    }
    if (a < lo || b > hi || a > b)
        return TOMO_EINVAL;
    for (int v = a; v <= b; v += step)
        set_bit(c, field, v);
    return 0;
}

static int parse_field(tomo_cron *c, int field, span s)
{
    if (field == F_DOM)
        c->dom_restricted = !(s.n == 1 && (s.p[0] == '*' || s.p[0] == '?'));
    if (field == F_DOW)
        c->dow_restricted = !(s.n == 1 && (s.p[0] == '*' || s.p[0] == '?'));
    const char *p = s.p, *end = s.p + s.n;
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        int rc = parse_item(c, field, (span){p, (size_t)(e - p)});
        if (rc < 0)
            return rc;
        p = e + 1;
    }
    return 0;
}

static const struct {
    const char *name, *expr;
} macros[] = {
    {"@yearly", "0 0 0 1 1 * *"},  {"@annually", "0 0 0 1 1 * *"}, {"@monthly", "0 0 0 1 * * *"},
    {"@weekly", "0 0 0 * * 0 *"},  {"@daily", "0 0 0 * * * *"},    {"@hourly", "0 0 * * * * *"},
    {"@minutely", "0 * * * * * *"},
};

int tomo_cron_parse(const char *expr, tomo_cron *out)
{
    span f[7];
    size_t nf = 0;
    memset(out, 0, sizeof(*out));
    if (!expr)
        return TOMO_EINVAL;
    while (isspace((unsigned char)*expr))
        expr++;
    if (*expr == '@') {
        size_t n = strcspn(expr, " \t\r\n");
        const char *rest = expr + n;
        while (isspace((unsigned char)*rest))
            rest++;
        for (size_t i = 0; i < TOMO_ARRAY_LEN(macros); i++) {
            if (*rest == '\0' && strlen(macros[i].name) == n && !strncmp(expr, macros[i].name, n))
                return tomo_cron_parse(macros[i].expr, out);
        }
        return TOMO_EINVAL;
    }
    for (const char *p = expr; *p && nf < 7;) {
        size_t n = strcspn(p, " \t\r\n");
        f[nf++] = (span){p, n};
        p += n;
        while (isspace((unsigned char)*p))
            p++;
    }
    if (nf < 5)
        return TOMO_EINVAL;
    int first = 0, rc = 0;
    if (nf == 7) {
        rc = parse_field(out, F_SEC, f[0]);
        first = 1;
    } else {
        out->sec = 1;
    }
    for (int i = 0; i < 5 && rc == 0; i++)
        rc = parse_field(out, F_MIN + i, f[first + i]);
    if (rc == 0 && nf >= 6)
        rc = parse_field(out, F_YEAR, f[first + 5]);
    else if (rc == 0)
        memset(out->year, 0xff, sizeof(out->year));
    return rc;
}

/* ---- search ---- */

static int year_ok(const tomo_cron *c, int64_t y)
{
    if (y < TOMO_CRON_YEAR_MIN || y > TOMO_CRON_YEAR_MAX)
        return 0;
    int i = (int)(y - TOMO_CRON_YEAR_MIN);
    return (c->year[i / 8] >> (i % 8)) & 1;
}

static unsigned workday_near(unsigned day, unsigned first_wd, unsigned dim)
{
    unsigned wd = (first_wd + day - 1) % 7;
    if (wd == 6)
        return day > 1 ? day - 1 : day + 2;
    if (wd == 0)
        return day < dim ? day + 1 : day - 2;
    return day;
}

/* Bits 1..31: the days of month y-m the expression matches. */
static uint32_t day_mask(const tomo_cron *c, int64_t y, unsigned m)
{
    unsigned dim = days_in_month(y, m);
    uint32_t all = (uint32_t)(((1ull << (dim + 1)) - 1) & ~1ull), mask = 0;
    if (!c->dom_restricted && !c->dow_restricted)
        return all;
    unsigned first_wd = weekday(tomo_days_from_civil(y, m, 1));
    if (c->dom_restricted) {
        mask |= c->dom & all;
        if (c->dom_last)
            mask |= 1u << dim;
        if (c->dom_last_w)
            mask |= 1u << workday_near(dim, first_wd, dim);
        for (unsigned d = 1; d <= dim; d++)
            if ((c->dom_w >> d) & 1)
                mask |= 1u << workday_near(d, first_wd, dim);
    }
    if (c->dow_restricted) {
        for (unsigned d = 1; d <= dim; d++) {
            unsigned wd = (first_wd + d - 1) % 7;
            if ((c->dow >> wd) & 1)
                mask |= 1u << d;
            if ((c->dow_nth[wd] >> ((d - 1) / 7 + 1)) & 1)
                mask |= 1u << d;
            if (((c->dow_last >> wd) & 1) && d + 7 > dim)
                mask |= 1u << d;
        }
    }
    return mask;
}

/* Lowest set bit >= from in a 64-bit set, or -1. */
static int bit_at_or_after(uint64_t set, int from)
{
    if (from > 63)
        return -1;
    set &= ~0ull << from;
    return set ? __builtin_ctzll(set) : -1;
}

/* Highest set bit <= from, or -1. */
static int bit_at_or_before(uint64_t set, int from)
{
    if (from < 0)
        return -1;
    if (from < 63)
        set &= (1ull << (from + 1)) - 1;
    return set ? 63 - __builtin_clzll(set) : -1;
}

/* First matching second of the day at or after sod; -1 if none. */
static int tod_next(const tomo_cron *c, int sod)
{
    int h0 = sod / 3600, m0 = sod / 60 % 60, s0 = sod % 60;
    for (int h = bit_at_or_after(c->hour, h0); h >= 0; h = bit_at_or_after(c->hour, h + 1)) {
        int mfrom = h == h0 ? m0 : 0;
        for (int m = bit_at_or_after(c->min, mfrom); m >= 0; m = bit_at_or_after(c->min, m + 1)) {
            int s = bit_at_or_after(c->sec, h == h0 && m == m0 ? s0 : 0);
            if (s >= 0)
                return h * 3600 + m * 60 + s;
        }
    }
    return -1;
}

/* Last matching second of the day at or before sod; -1 if none. */
static int tod_prev(const tomo_cron *c, int sod)
{
    int h0 = sod / 3600, m0 = sod / 60 % 60, s0 = sod % 60;
    for (int h = bit_at_or_before(c->hour, h0); h >= 0; h = bit_at_or_before(c->hour, h - 1)) {
        int mfrom = h == h0 ? m0 : 59;
        for (int m = bit_at_or_before(c->min, mfrom); m >= 0;
             m = bit_at_or_before(c->min, m - 1)) {
            int s = bit_at_or_before(c->sec, h == h0 && m == m0 ? s0 : 59);
            if (s >= 0)
                return h * 3600 + m * 60 + s;
        }
    }
    return -1;
}

static void split(int64_t t, int64_t *y, unsigned *m, unsigned *d, int *sod)
{
    int64_t z = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    *sod = (int)(t - z * 86400);
    tomo_civil_from_days(z, y, m, d);
}

int64_t tomo_cron_next(const tomo_cron *c, int64_t t)
{
    int64_t y;
    unsigned m, d;
    int sod;
    if (t < -1)
        t = -1;
    split(t + 1, &y, &m, &d, &sod);
    for (; y <= TOMO_CRON_YEAR_MAX; y++, m = 1, d = 1, sod = 0) {
        if (!year_ok(c, y))
            continue;
        for (; m <= 12; m++, d = 1, sod = 0) {
            if (!((c->mon >> m) & 1))
                continue;
            uint32_t mask = day_mask(c, y, m);
            for (; d <= 31; d++, sod = 0) {
                if (!((mask >> d) & 1))
                    continue;
                int r = tod_next(c, sod);
                if (r >= 0)
                    return tomo_days_from_civil(y, m, d) * 86400 + r;
            }
        }
    }
    return -1;
}

int64_t tomo_cron_prev(const tomo_cron *c, int64_t t)
{
    int64_t y;
    unsigned m, d;
    int sod;
    if (t < 0)
        return -1;
    split(t, &y, &m, &d, &sod);
    if (y > TOMO_CRON_YEAR_MAX) {
        y = TOMO_CRON_YEAR_MAX;
        m = 12;
        d = 31;
        sod = 86399;
    }
    for (; y >= TOMO_CRON_YEAR_MIN; y--, m = 12, d = 31, sod = 86399) {
        if (!year_ok(c, y))
            continue;
        for (; m >= 1; m--, d = 31, sod = 86399) {
            if (!((c->mon >> m) & 1))
                continue;
            uint32_t mask = day_mask(c, y, m);
            for (; d >= 1; d--, sod = 86399) {
                if (!((mask >> d) & 1))
                    continue;
                int r = tod_prev(c, sod);
                if (r >= 0)
                    return tomo_days_from_civil(y, m, d) * 86400 + r;
            }
        }
    }
    return -1;
}
