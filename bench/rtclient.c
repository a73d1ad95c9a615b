/* bench/rtclient.c: paced socket clients (see rtclient.h).
 * Threads: the owning worker's loop thread only. */
#include "rtclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void pump(lg_rtc_set *s);

static void on_open(lg_ws *ws)
{
    lg_rtc *c = ws->user;
    lg_rtc_set *s = c->set;
    c->st = LG_RTC_OPEN;
    s->_pending--;
    s->_done++;
    s->_open++;
    lg_inc(s->w, LG_C_WS_OK, 1);
    lg_hist_add(&s->w->h[LG_H_CONNECT], lg_now_ns() - ws->t_start);
    pump(s);
}

static void on_text(lg_ws *ws, const char *p, size_t n)
{
    lg_rtc *c = ws->user;
    if (c->set->on_text)
        c->set->on_text(c, p, n);
}

static void on_close(lg_ws *ws, bool was_open, int http_status)
{
    lg_rtc *c = ws->user;
    lg_rtc_set *s = c->set;
    c->st = LG_RTC_CLOSED;
    if (was_open) {
        s->_open--;
        if (!s->_stopping)
            lg_inc(s->w, LG_C_WS_LOST, 1);
        return;
    }
    if (s->_stopping)
        return; /* cut short by the end of the run, not a failure */
    lg_inc(s->w, LG_C_WS_ERR, 1);
    if (http_status && lg_sum(s->w->ctx, LG_C_WS_ERR) <= 3)
        fprintf(stderr, "tomo-bench: socket upgrade refused with HTTP %d\n", http_status);
    s->_pending--;
    s->_done++;
    if (!s->_stopping)
        pump(s);
}

static const lg_ws_ops ops = {on_open, on_text, on_close};

static void start_one(lg_rtc_set *s, lg_rtc *c)
{
    char path[2048];
    if (!c->token) {
        c->st = LG_RTC_CLOSED;
        lg_inc(s->w, LG_C_WS_ERR, 1);
        s->_done++;
        return;
    }
    lg_ws_path(c->token, path, sizeof(path));
    c->st = LG_RTC_CONNECTING;
    if (lg_ws_connect(&c->ws, s->w, path, &ops, c) < 0) {
        c->st = LG_RTC_CLOSED;
        lg_inc(s->w, LG_C_WS_ERR, 1);
        s->_done++;
        return;
    }
    s->_pending++;
}

static void pump(lg_rtc_set *s)
{
    if (s->_stopping)
        return;
    uint64_t allowed = (uint64_t)s->n;
    if (s->rate > 0)
        allowed = (uint64_t)((double)(lg_now_ns() - s->_t0) * s->rate / 1e9) + 1;
    while (s->_next < s->n && s->_pending < s->max_pending && (uint64_t)s->_next < allowed)
        start_one(s, &s->c[s->_next++]);
    if (s->_done == s->n && s->_next == s->n) {
        if (s->_timer_on) {
            uv_timer_stop(&s->_timer);
            s->_timer_on = false;
        }
        void (*cb)(lg_rtc_set *) = s->on_connected;
        s->on_connected = NULL; /* once */
        if (cb)
            cb(s);
    }
}

static void on_timer(uv_timer_t *t) { pump(t->data); }

void lg_rtcs_init(lg_rtc_set *s, lg_worker *w, int n)
{
    memset(s, 0, sizeof(*s));
    s->w = w;
    s->n = n;
    s->c = lg_xcalloc((size_t)(n ? n : 1), sizeof(lg_rtc));
    s->max_pending = 256;
    for (int i = 0; i < n; i++)
        s->c[i].set = s;
}

void lg_rtcs_connect(lg_rtc_set *s)
{
    s->_t0 = lg_now_ns();
    uv_timer_init(&s->w->loop, &s->_timer);
    s->_timer.data = s;
    /* The timer paces by rate and retries the pump when the in-flight cap
     * was the limit. */
    uv_timer_start(&s->_timer, on_timer, 1, 1);
    s->_timer_on = true;
    pump(s);
}

void lg_rtcs_close(lg_rtc_set *s)
{
    s->_stopping = true;
    if (s->_timer_on) {
        uv_timer_stop(&s->_timer);
        s->_timer_on = false;
    }
    for (int i = 0; i < s->n; i++)
        if (s->c[i].st == LG_RTC_CONNECTING || s->c[i].st == LG_RTC_OPEN)
            lg_ws_close(&s->c[i].ws);
}

int lg_rtcs_open(const lg_rtc_set *s) { return s->_open; }

int lg_rtc_send(lg_rtc *c, const char *p, size_t n)
{
    if (c->st != LG_RTC_OPEN)
        return -1;
    return lg_ws_send_text(&c->ws, p, n);
}
