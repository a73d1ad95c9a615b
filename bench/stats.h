/* bench/stats.h: latency histograms and result tables of tomo-bench.
 * Owns: lg_hist, a fixed log-linear bucket histogram (HdrHistogram-like:
 *       32 sub-buckets per power of two, so a reported value is within ~3%
 *       of the true one; no allocation per sample), and lg_table, an
 *       aligned text table.
 * Threads: an lg_hist belongs to one thread; merge after the threads joined. */
#ifndef LG_STATS_H
#define LG_STATS_H

#include <stddef.h>
#include <stdint.h>

#define LG_HIST_SUB_BITS 5
#define LG_HIST_SUB (1u << LG_HIST_SUB_BITS)
#define LG_HIST_BUCKETS ((64 - LG_HIST_SUB_BITS + 1) * LG_HIST_SUB)

typedef struct lg_hist {
    uint64_t count, sum, min, max;
    uint32_t b[LG_HIST_BUCKETS];
} lg_hist;

void lg_hist_init(lg_hist *h);
/* Records one value (any unit; tomo-bench records nanoseconds). */
void lg_hist_add(lg_hist *h, uint64_t v);
/* Adds every sample of src to dst. */
void lg_hist_merge(lg_hist *dst, const lg_hist *src);
/* Value at quantile q in [0,1] (the upper bound of its bucket, clamped to
 * max); 0 for an empty histogram. */
uint64_t lg_hist_quantile(const lg_hist *h, double q);

/* Aligned text table: first column left-aligned, the others right-aligned,
 * printed in Markdown table syntax so it can be pasted into docs. */
#define LG_TABLE_MAX_COLS 8
#define LG_TABLE_MAX_ROWS 64
typedef struct lg_table {
    int ncols, nrows;
    char *cell[LG_TABLE_MAX_ROWS + 1][LG_TABLE_MAX_COLS];
} lg_table;

/* Header cells are copied; NULL ends the list. */
void lg_table_init(lg_table *t, const char *first, ...);
/* Adds a row of already formatted cells, NULL-terminated; missing cells
 * are empty. */
void lg_table_row(lg_table *t, const char *first, ...);
void lg_table_print(const lg_table *t);
void lg_table_free(lg_table *t);

/* Small formatting helpers returning a pointer to a static ring of buffers
 * (main thread only; valid for the next 32 calls). */
const char *lg_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Nanoseconds as microseconds with no decimals. */
const char *lg_us(uint64_t ns);

#endif
