/* core/log.c: JSON-lines logger. */
#define _GNU_SOURCE
#include "log.h"
#include "trace.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static _Atomic int g_level = TOMO_LOG_INFO;
static _Atomic int g_fd = 1;

static const char *level_names[] = {"debug", "info", "warn", "error", "fatal"};

int tomo_log_parse_level(const char *s, enum tomo_log_level *out)
{
    if (!strcasecmp(s, "debug"))
        *out = TOMO_LOG_DEBUG;
    else if (!strcasecmp(s, "info"))
        *out = TOMO_LOG_INFO;
    else if (!strcasecmp(s, "warn") || !strcasecmp(s, "warning"))
        *out = TOMO_LOG_WARNING;
    else if (!strcasecmp(s, "error"))
        *out = TOMO_LOG_ERROR;
    else
        return -1;
    return 0;
}

void tomo_log_set_level(enum tomo_log_level lvl) { g_level = lvl; }
enum tomo_log_level tomo_log_get_level(void) { return (enum tomo_log_level)g_level; }
void tomo_log_set_fd(int fd) { g_fd = fd; }

int tomo_log_key_is_secret(const char *key, size_t n)
{
    static const char *words[] = {"password", "passwd", "secret", "token", "key", "signing", "authorization"};
    char low[64];
    if (n >= sizeof(low))
        n = sizeof(low) - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)key[i]);
    low[n] = '\0';
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strstr(low, words[i]))
            return 1;
    return 0;
}

/* Append s[0..n) JSON-escaped to out (bounded). */
static size_t esc(char *out, size_t cap, size_t pos, const char *s, size_t n)
{
    for (size_t i = 0; i < n && pos + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[pos++] = '\\';
            out[pos++] = (char)c;
        } else if (c == '\n') {
            out[pos++] = '\\';
            out[pos++] = 'n';
        } else if (c < 0x20) {
            pos += (size_t)snprintf(out + pos, cap - pos, "\\u%04x", c);
        } else {
            out[pos++] = (char)c;
        }
    }
    return pos;
}

static size_t put(char *out, size_t cap, size_t pos, const char *s)
{
    size_t n = strlen(s);
    if (pos + 1 >= cap)
        return pos;
    if (n > cap - pos - 1)
        n = cap - pos - 1;
    memcpy(out + pos, s, n);
    return pos + n;
}

/* A token "key=value" where key is [a-z0-9_.]+ . */
static int is_kv(const char *p, const char *end, const char **eq)
{
    const char *q = p;
    while (q < end && (isalnum((unsigned char)*q) || *q == '_' || *q == '.'))
        q++;
    if (q == p || q >= end || *q != '=')
        return 0;
    *eq = q;
    return 1;
}

/* Write one JSON line for a formatted message; extra (may be NULL) is
 * appended as ready-made JSON fields (",\"k\":\"v\""). */
static void emit(enum tomo_log_level lvl, const char *subsys, const char *msg, size_t mlen,
                 const char *extra)
{
    /* Find where the trailing key=value tokens start: scan tokens from the
     * beginning; the first token that is key=value starts the context. */
    const char *end = msg + mlen;
    const char *ctx = end;
    for (const char *p = msg; p < end;) {
        while (p < end && *p == ' ')
            p++;
        const char *eq;
        if (p < end && is_kv(p, end, &eq)) {
            ctx = p;
            break;
        }
        while (p < end && *p != ' ')
            p++;
    }
    const char *text_end = ctx;
    while (text_end > msg && text_end[-1] == ' ')
        text_end--;

    char line[8192];
    size_t pos = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tsbuf[48];
    size_t tn = strftime(tsbuf, sizeof(tsbuf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(tsbuf + tn, sizeof(tsbuf) - tn, ".%03ldZ", ts.tv_nsec / 1000000);

    pos = put(line, sizeof(line), pos, "{\"level\":\"");
    pos = put(line, sizeof(line), pos, level_names[lvl]);
    pos = put(line, sizeof(line), pos, "\",\"ts\":\"");
    pos = put(line, sizeof(line), pos, tsbuf);
    pos = put(line, sizeof(line), pos, "\",\"subsys\":\"");
    pos = put(line, sizeof(line), pos, subsys);
    pos = put(line, sizeof(line), pos, "\",\"msg\":\"");
    pos = esc(line, sizeof(line), pos, msg, (size_t)(text_end - msg));
    pos = put(line, sizeof(line), pos, "\"");

    /* Context fields. A value runs until the next " key=" token, so values
     * with spaces (error texts) stay whole. */
    const char *p = ctx;
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        const char *eq;
        if (p >= end || !is_kv(p, end, &eq))
            break;
        const char *v = eq + 1, *ve = v;
        for (;;) {
            while (ve < end && *ve != ' ')
                ve++;
            const char *nx = ve;
            while (nx < end && *nx == ' ')
                nx++;
            const char *e2;
            if (nx >= end || is_kv(nx, end, &e2))
                break;
            ve = nx;
        }
        pos = put(line, sizeof(line), pos, ",\"");
        pos = esc(line, sizeof(line), pos, p, (size_t)(eq - p));
        pos = put(line, sizeof(line), pos, "\":\"");
        if (tomo_log_key_is_secret(p, (size_t)(eq - p)) && ve > v)
            pos = put(line, sizeof(line), pos, "<redacted>");
        else
            pos = esc(line, sizeof(line), pos, v, (size_t)(ve - v));
        pos = put(line, sizeof(line), pos, "\"");
        p = ve;
    }
    if (extra)
        pos = put(line, sizeof(line), pos, extra);
    const tomo_trace *tr = tomo_trace_current();
    if (tr) {
        pos = put(line, sizeof(line), pos, ",\"trace_id\":\"");
        pos = put(line, sizeof(line), pos, tr->trace_id);
        pos = put(line, sizeof(line), pos, "\",\"span_id\":\"");
        pos = put(line, sizeof(line), pos, tr->span_id);
        pos = put(line, sizeof(line), pos, "\"");
    }
    pos = put(line, sizeof(line), pos, "}\n");
    ssize_t w = write(g_fd, line, pos);
    (void)w;
}

/* ---- repeated lines ----
 * A line identical to an earlier one (same level, subsystem, message and
 * context) is written at most g_rep_burst times per g_rep_window_ns; the rest
 * are counted, and the count is written once the window has passed: as the
 * same line with "repeated" (lines left out) and "repeated_window_s". That
 * report goes out with the next log call of any kind, so a burst that stops
 * is still accounted for. Direct-mapped table: a line whose slot is taken by
 * another evicts it (after reporting its count). */
#define REP_SLOTS 64
#define REP_MSG 1024
typedef struct rep_slot {
    uint64_t hash, window_start;
    uint32_t count, suppressed;
    int lvl;
    char subsys[32];
    size_t mlen;
    char msg[REP_MSG];
} rep_slot;

static pthread_mutex_t g_rep_lock = PTHREAD_MUTEX_INITIALIZER;
static rep_slot g_rep[REP_SLOTS];
static uint32_t g_rep_burst = 10;
static uint64_t g_rep_window_ns = 10ull * 1000000000ull;

void tomo_log_set_repeat_limit(unsigned burst, unsigned window_ms)
{
    pthread_mutex_lock(&g_rep_lock);
    g_rep_burst = burst;
    g_rep_window_ns = (uint64_t)window_ms * 1000000ull;
    memset(g_rep, 0, sizeof(g_rep));
    pthread_mutex_unlock(&g_rep_lock);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Caller holds g_rep_lock. */
static void rep_report(rep_slot *r)
{
    if (!r->suppressed)
        return;
    char extra[96];
    snprintf(extra, sizeof(extra), ",\"repeated\":\"%u\",\"repeated_window_s\":\"%llu\"",
             r->suppressed, (unsigned long long)(g_rep_window_ns / 1000000000ull));
    emit((enum tomo_log_level)r->lvl, r->subsys, r->msg, r->mlen, extra);
    r->suppressed = 0;
}

/* 1 if the line is to be written now, 0 if it only counts. */
static int rep_admit(enum tomo_log_level lvl, const char *subsys, const char *msg, size_t mlen)
{
    if (!g_rep_burst || lvl == TOMO_LOG_FATAL)
        return 1;
    uint64_t h = 1469598103934665603ull ^ (uint64_t)lvl;
    for (const char *q = subsys; *q; q++)
        h = (h ^ (unsigned char)*q) * 1099511628211ull;
    for (size_t i = 0; i < mlen; i++)
        h = (h ^ (unsigned char)msg[i]) * 1099511628211ull;
    h |= 1; /* 0 marks a free slot */
    uint64_t now = mono_ns();
    int admit = 1;
    pthread_mutex_lock(&g_rep_lock);
    for (size_t i = 0; i < REP_SLOTS; i++)
        if (g_rep[i].suppressed && now - g_rep[i].window_start >= g_rep_window_ns)
            rep_report(&g_rep[i]);
    rep_slot *r = &g_rep[h % REP_SLOTS];
    size_t keep = mlen < REP_MSG ? mlen : REP_MSG;
    if (r->hash != h || r->mlen != keep || memcmp(r->msg, msg, keep) != 0) {
        rep_report(r);
        r->hash = h;
        r->lvl = lvl;
        snprintf(r->subsys, sizeof(r->subsys), "%s", subsys);
        r->mlen = keep;
        memcpy(r->msg, msg, keep);
        r->window_start = now;
        r->count = 1;
    } else if (now - r->window_start >= g_rep_window_ns) {
        r->window_start = now;
        r->count = 1;
    } else if (++r->count > g_rep_burst) {
        r->suppressed++;
        admit = 0;
    }
    pthread_mutex_unlock(&g_rep_lock);
    return admit;
}

void tomo_log(enum tomo_log_level lvl, const char *subsys, const char *fmt, ...)
{
    if ((int)lvl < g_level)
        return;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    int mn = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (mn < 0)
        return;
    size_t mlen = (size_t)mn < sizeof(msg) ? (size_t)mn : sizeof(msg) - 1;
    if (rep_admit(lvl, subsys, msg, mlen))
        emit(lvl, subsys, msg, mlen, NULL);
}
