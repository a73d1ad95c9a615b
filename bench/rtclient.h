/* bench/rtclient.h: realtime (socket) clients of tomo-bench.
 * Owns: lg_rtc, one Nakama socket client (WebSocket, cid counter, message
 *       sequence), and lg_rtc_set, a worker's array of them with paced
 *       connecting (rate and in-flight cap) and bulk close.
 * Borrows: tokens (owned by the scenario), the worker loop.
 * Threads: the owning worker's loop thread only. */
#ifndef LG_RTCLIENT_H
#define LG_RTCLIENT_H

#include "lg.h"
#include "ws_client.h"

enum { LG_RTC_NEW, LG_RTC_CONNECTING, LG_RTC_OPEN, LG_RTC_CLOSED };

typedef struct lg_rtc_set lg_rtc_set;

typedef struct lg_rtc {
    lg_ws ws;
    lg_rtc_set *set;
    uint64_t gidx; /* global index (device id, sender id) */
    char *token;
    int st;
    uint32_t next_cid;
    uint32_t seq;
    int group;       /* scenario-defined (match index) */
    int flags;       /* scenario-defined */
    uint64_t t_ping; /* idle: when the last ping envelope went out */
} lg_rtc;

struct lg_rtc_set {
    lg_worker *w;
    lg_rtc *c;
    int n;
    /* Scenario hooks. on_text gets every text message; on_connected runs
     * once every client has either opened or failed. */
    void (*on_text)(lg_rtc *c, const char *p, size_t n);
    void (*on_connected)(lg_rtc_set *s);
    double rate; /* connects/s for this set, 0 = unpaced */
    int max_pending;
    /* private */
    int _next, _pending, _done, _open;
    uint64_t _t0;
    uv_timer_t _timer;
    bool _stopping, _timer_on;
};

/* Allocates n clients (zeroed, gidx/token to be filled by the caller). */
void lg_rtcs_init(lg_rtc_set *s, lg_worker *w, int n);
/* Starts connecting every client; counts LG_C_WS_OK / LG_C_WS_ERR and the
 * connect+upgrade latency in LG_H_CONNECT. A client without a token
 * counts as failed. */
void lg_rtcs_connect(lg_rtc_set *s);
/* Closes every client at once (phase STOP). */
void lg_rtcs_close(lg_rtc_set *s);
/* Number of open clients. */
int lg_rtcs_open(const lg_rtc_set *s);

/* Sends one text envelope; 0, or -1 if the socket is not open. */
int lg_rtc_send(lg_rtc *c, const char *p, size_t n);

#endif
