/* core/log.c: JSON-lines logger. */
#define _GNU_SOURCE
#include "log.h"

#include <ctype.h>
#include <stdarg.h>
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
    pos = put(line, sizeof(line), pos, "}\n");
    ssize_t w = write(g_fd, line, pos);
    (void)w;
}
