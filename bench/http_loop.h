/* bench/http_loop.h: closed-loop HTTP load on one worker.
 * Owns: lg_hloop, a worker's keep-alive connections that each issue their
 *       next request as soon as the previous response arrived, for as long
 *       as the phase is LG_PH_RUN and the send window is open; marks the
 *       worker ready once every connection has stopped.
 * Borrows: the worker loop; the scenario supplies what a request is.
 * Threads: the owning worker's loop thread only; lg_hloop_run_all on the
 *          main thread. */
#ifndef LG_HTTP_LOOP_H
#define LG_HTTP_LOOP_H

#include "http_client.h"
#include "lg.h"

typedef struct lg_hloop lg_hloop;

/* Issues one request on c (its callback must end with lg_hloop_next).
 * Returns 0, or -1 after counting its own error; the connection then stops. */
typedef int (*lg_hloop_issue)(lg_worker *w, lg_http *c);

struct lg_hloop {
    lg_worker *w;
    lg_http *conns;
    int n;
    int active; /* connections still issuing */
    lg_hloop_issue issue;
};

/* Allocates and prepares n connections (no I/O yet). */
void lg_hloop_init(lg_hloop *l, lg_worker *w, int n, lg_hloop_issue issue);
/* Phase RUN: every connection issues its first request (ready at once if
 * there are none). */
void lg_hloop_start(lg_hloop *l);
/* From a response callback: issue the next request on c, or stop c. */
void lg_hloop_next(lg_hloop *l, lg_http *c);
/* Records a successful response of c: LG_C_RECV, and inside the window the
 * counter ok_win and the latency in histogram h. */
void lg_hloop_ok(lg_hloop *l, lg_http *c, int ok_win, int h);
/* Index of c in l->conns. */
static inline int lg_hloop_index(const lg_hloop *l, const lg_http *c)
{
    return (int)(c - l->conns);
}
/* Phase STOP: closes every connection. */
void lg_hloop_close(lg_hloop *l);

/* Main thread: the measured run of an HTTP scenario: lg_run_window with
 * progress of LG_C_RECV, then waits (at most 10 s) for the requests still in
 * flight and stops the workers. */
void lg_hloop_run_all(lg_ctx *ctx, const char *what, lg_mark *a, lg_mark *b);

#endif
