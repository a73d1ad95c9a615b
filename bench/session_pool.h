/* bench/session_pool.h: a worker's authenticated sockets and paced senders,
 * shared by the socket scenarios (idle, relay, chat) and the auth pool of
 * the HTTP ones.
 * Owns: lg_sessions (the worker's share of device indices, their session
 *       tokens, and the lg_rtc_set of sockets opened with them), lg_pacer
 *       (round-robin sends at a fixed rate per sender during LG_PH_RUN), and
 *       the main-thread steps that drive them (authenticate all, connect
 *       all, drain deliveries).
 * Borrows: the worker loop; the scenario's on_text and send hooks.
 * Threads: lg_sessions / lg_pacer on the owning worker's loop thread;
 *          lg_sessions_*_all and lg_drain_deliveries on the main thread. */
#ifndef LG_SESSION_POOL_H
#define LG_SESSION_POOL_H

#include "lg.h"
#include "rtclient.h"

typedef struct lg_sessions lg_sessions;

struct lg_sessions {
    lg_worker *w;
    const char *kind; /* device id kind ("idle", "relay", ...) */
    uint64_t *idx;    /* global device indices; default i * threads + worker id */
    char **tokens;    /* filled by lg_sessions_auth; NULL where it failed */
    int n;
    int group_size; /* > 0: socket i gets group i / group_size */
    /* Phase AUTH finished (every device tried); default: lg_ready. */
    void (*on_auth)(lg_sessions *p);
    /* Every text message on any socket. */
    void (*on_text)(lg_rtc *c, const char *p, size_t n);
    lg_rtc_set set; /* the sockets, from lg_sessions_connect on */
};

/* Allocates n devices with the default indices (no I/O). */
void lg_sessions_init(lg_sessions *p, lg_worker *w, const char *kind, int n);
/* Phase AUTH: authenticates every device over this worker's share of
 * --conns keep-alive connections; on_auth runs when all are done. */
void lg_sessions_auth(lg_sessions *p);
/* Frees the tokens (for pools whose sessions are not used). */
void lg_sessions_free_tokens(lg_sessions *p);
/* Phase CONNECT: opens one socket per device at this worker's share of
 * --connect-rate; the worker is ready once each opened or failed. */
void lg_sessions_connect(lg_sessions *p);
/* Phase STOP: closes the sockets. */
void lg_sessions_close(lg_sessions *p);

/* Main thread: runs phase AUTH for n devices in all; 0, or -1 (reported on
 * stderr) if it timed out or no device could authenticate. */
int lg_sessions_auth_all(lg_ctx *ctx, const char *what, uint64_t n, double timeout_s);
/* Main thread: runs phase CONNECT for n sockets in all; lg_wait_ready's result. */
int lg_sessions_connect_all(lg_ctx *ctx, uint64_t n, double timeout_s);
/* Main thread: authenticates and connects n sessions (60 s each); 0 or -1. */
int lg_sessions_open_all(lg_ctx *ctx, const char *what, uint64_t n);
/* Main thread: runs phase SETUP (at most 20 s) with progress of
 * LG_C_SETUP_OK against n; returns LG_C_SETUP_OK, or 0 after printing
 * "tomo-bench: <fail>" and stopping the workers when nothing was set up. */
uint64_t lg_sessions_setup_all(lg_ctx *ctx, const char *what, uint64_t n, const char *fail);
/* Main thread, after the window: waits (at most timeout_s) until the
 * deliveries received reach those expected. */
void lg_drain_deliveries(lg_ctx *ctx, double timeout_s);

/* Sends one message from sender i; returns how many deliveries it should
 * cause, or -1 if nothing went out. */
typedef int (*lg_pacer_send)(lg_worker *w, int i);

typedef struct lg_pacer {
    lg_worker *w;
    int n;       /* senders */
    double rate; /* Hz per sender */
    lg_pacer_send send;
    uv_timer_t timer;
    bool on;
    uint64_t sent, rr;
} lg_pacer;

/* Phase RUN: paces n senders at rate Hz each until the send window closes
 * (then the worker is ready). Counts LG_C_SENT, LG_C_EXPECT, LG_C_SENT_WIN. */
void lg_pacer_start(lg_pacer *p, lg_worker *w, int n, double rate, lg_pacer_send send);
void lg_pacer_stop(lg_pacer *p);

#endif
