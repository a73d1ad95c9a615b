/* bench/stats.c: log-linear histograms and aligned tables (see stats.h).
 * Threads: histograms on their owner thread; tables and lg_fmt on the main
 * thread. */
#include "stats.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lg_hist_init(lg_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

/* Values below 2^SUB_BITS get one bucket each; above, each power of two is
 * split into SUB buckets by the SUB_BITS bits after the leading one. */
static unsigned bucket_of(uint64_t v)
{
    if (v < LG_HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= SUB_BITS */
    unsigned shift = e - LG_HIST_SUB_BITS;
    return (e - LG_HIST_SUB_BITS + 1) * LG_HIST_SUB + (unsigned)((v >> shift) - LG_HIST_SUB);
}

static uint64_t bucket_upper(unsigned i)
{
    if (i < LG_HIST_SUB)
        return i;
    unsigned e = i / LG_HIST_SUB - 1 + LG_HIST_SUB_BITS;
    uint64_t m = (uint64_t)(i % LG_HIST_SUB) + LG_HIST_SUB;
    unsigned shift = e - LG_HIST_SUB_BITS;
    return ((m + 1) << shift) - 1;
}

void lg_hist_add(lg_hist *h, uint64_t v)
{
    h->b[bucket_of(v)]++;
    h->count++;
    h->sum += v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void lg_hist_merge(lg_hist *dst, const lg_hist *src)
{
    for (unsigned i = 0; i < LG_HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t lg_hist_quantile(const lg_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t v = bucket_upper(i);
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

/* --- tables --------------------------------------------------------------- */

static char *xdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

void lg_table_init(lg_table *t, const char *first, ...)
{
    memset(t, 0, sizeof(*t));
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s && t->ncols < LG_TABLE_MAX_COLS; s = va_arg(ap, const char *))
        t->cell[0][t->ncols++] = xdup(s);
    va_end(ap);
}

void lg_table_row(lg_table *t, const char *first, ...)
{
    if (t->nrows >= LG_TABLE_MAX_ROWS)
        return;
    int r = ++t->nrows;
    va_list ap;
    va_start(ap, first);
    int c = 0;
    for (const char *s = first; s && c < t->ncols; s = va_arg(ap, const char *))
        t->cell[r][c++] = xdup(s);
    va_end(ap);
    for (; c < t->ncols; c++)
        t->cell[r][c] = xdup("");
}

void lg_table_print(const lg_table *t)
{
    size_t w[LG_TABLE_MAX_COLS] = {0};
    for (int r = 0; r <= t->nrows; r++)
        for (int c = 0; c < t->ncols; c++) {
            size_t n = strlen(t->cell[r][c]);
            if (n > w[c])
                w[c] = n;
        }
    for (int r = 0; r <= t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            if (c == 0)
                printf("| %-*s ", (int)w[c], t->cell[r][c]);
            else
                printf("| %*s ", (int)w[c], t->cell[r][c]);
        }
        printf("|\n");
        if (r == 0) {
            for (int c = 0; c < t->ncols; c++) {
                printf("|");
                if (c == 0) {
                    for (size_t i = 0; i < w[c] + 2; i++)
                        putchar('-');
                } else {
                    for (size_t i = 0; i < w[c] + 1; i++)
                        putchar('-');
                    putchar(':');
                }
            }
            printf("|\n");
        }
    }
    fflush(stdout);
}

void lg_table_free(lg_table *t)
{
    for (int r = 0; r <= t->nrows; r++)
        for (int c = 0; c < t->ncols; c++)
            free(t->cell[r][c]);
    memset(t, 0, sizeof(*t));
}

const char *lg_fmt(const char *fmt, ...)
{
    static char ring[32][96];
    static unsigned next;
    char *b = ring[next++ % 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof(ring[0]), fmt, ap);
    va_end(ap);
    return b;
}

const char *lg_us(uint64_t ns) { return lg_fmt("%llu", (unsigned long long)((ns + 500) / 1000)); }
