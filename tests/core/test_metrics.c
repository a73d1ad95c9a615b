/* tests/core/test_metrics.c: counters, gauges, histograms, exposition. */
#include "core/metrics.h"
#include "tt.h"

#include <stdlib.h>

static double seven(void *a)
{
    (void)a;
    return 7;
}

static void test_render(void)
{
    tomo_metrics_set_const_label("node_name", "n1");
    tomo_metric *c = tomo_metrics_counter("reqs_total", "requests", "route,status");
    tomo_metric_add(c, (const char *[]){"A", "200"}, 1);
    tomo_metric_add(c, (const char *[]){"A", "200"}, 2);
    tomo_metric_add(c, (const char *[]){"B", "404"}, 1);
    TT_EQ(tomo_metric_value(c, (const char *[]){"A", "200"}), 3);
    tomo_metric *h = tomo_metrics_histogram("lat_ms", "latency", NULL, (double[]){1, 10}, 2);
    tomo_metric_observe(h, NULL, 0.5);
    tomo_metric_observe(h, NULL, 5);
    tomo_metric_observe(h, NULL, 50);
    tomo_metrics_gauge_fn("seven", "a constant", seven, NULL);
    tomo_metrics_counter_fn("cpu_total", "a counter read at scrape time", seven, NULL);
    TT_TRUE(tomo_metrics_counter("reqs_total", "dup", "route,status") == c);
    char *t = tomo_metrics_render();
    TT_CONTAINS(t, "# TYPE reqs_total counter");
    TT_CONTAINS(t, "reqs_total{node_name=\"n1\",route=\"A\",status=\"200\"} 3");
    TT_CONTAINS(t, "lat_ms_bucket{node_name=\"n1\",le=\"1\"} 1");
    TT_CONTAINS(t, "lat_ms_bucket{node_name=\"n1\",le=\"10\"} 2");
    TT_CONTAINS(t, "lat_ms_bucket{node_name=\"n1\",le=\"+Inf\"} 3");
    TT_CONTAINS(t, "lat_ms_count{node_name=\"n1\"} 3");
    TT_CONTAINS(t, "seven{node_name=\"n1\"} 7");
    TT_CONTAINS(t, "# TYPE cpu_total counter");
    free(t);
    tomo_metrics_reset();
}

int main(void)
{
    TT_RUN(test_render);
    return tt_finish();
}
