/* core/jsonw.c: see core/jsonw.h. */
#include "jsonw.h"

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tomo_jw_init(tomo_jw *w)
{
    w->p = NULL;
    w->n = w->cap = 0;
}

static void reserve(tomo_jw *w, size_t more)
{
    if (w->n + more + 1 <= w->cap)
        return;
    size_t nc = w->cap ? w->cap * 2 : 1024;
    while (nc < w->n + more + 1)
        nc *= 2;
    char *np = tomo_xmalloc(nc);
    if (w->n)
        memcpy(np, w->p, w->n);
    free(w->p);
    w->p = np;
    w->cap = nc;
}

static void put(tomo_jw *w, const char *s, size_t len)
{
    reserve(w, len);
    memcpy(w->p + w->n, s, len);
    w->n += len;
    w->p[w->n] = '\0';
}

static void putc_(tomo_jw *w, char c) { put(w, &c, 1); }

/* The separator, then "key": when key is given. */
static void lead(tomo_jw *w, const char *key)
{
    if (w->n && w->p[w->n - 1] != '{' && w->p[w->n - 1] != '[' && w->p[w->n - 1] != ':')
        putc_(w, ',');
    if (key) {
        putc_(w, '"');
        put(w, key, strlen(key));
        put(w, "\":", 2);
    }
}

void tomo_jw_obj(tomo_jw *w, const char *key)
{
    lead(w, key);
    putc_(w, '{');
}

void tomo_jw_obj_end(tomo_jw *w) { putc_(w, '}'); }

void tomo_jw_arr(tomo_jw *w, const char *key)
{
    lead(w, key);
    putc_(w, '[');
}

void tomo_jw_arr_end(tomo_jw *w) { putc_(w, ']'); }

int tomo_jw_utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t size;
        unsigned v;
        if (c < 0x80) {
            p++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            size = 2;
            v = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            size = 3;
            v = c & 0xF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            size = 4;
            v = c & 0x7;
        } else {
            return 0;
        }
        for (size_t i = 1; i < size; i++) {
            if (p[i] < 0x80 || p[i] > 0xBF)
                return 0;
            v = (v << 6) | (p[i] & 0x3F);
        }
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (size == 3 && v < 0x800) ||
            (size == 4 && v < 0x10000))
            return 0;
        p += size;
    }
    return 1;
}

int tomo_jw_str(tomo_jw *w, const char *key, const char *v)
{
    if (!tomo_jw_utf8_ok(v))
        return -1;
    lead(w, key);
    size_t len = strlen(v);
    reserve(w, len + 2);
    w->p[w->n++] = '"';
    const char *run = v;
    for (const char *c = v;; c++) {
        unsigned char ch = (unsigned char)*c;
        if (ch && ch != '"' && ch != '\\' && ch >= 0x20)
            continue;
        put(w, run, (size_t)(c - run));
        if (!ch)
            break;
        char esc[8];
        switch (ch) {
        case '"': put(w, "\\\"", 2); break;
        case '\\': put(w, "\\\\", 2); break;
        case '\b': put(w, "\\b", 2); break;
        case '\f': put(w, "\\f", 2); break;
        case '\n': put(w, "\\n", 2); break;
        case '\r': put(w, "\\r", 2); break;
        case '\t': put(w, "\\t", 2); break;
        default: snprintf(esc, sizeof(esc), "\\u%04X", ch); put(w, esc, 6);
        }
        run = c + 1;
    }
    putc_(w, '"');
    return 0;
}

void tomo_jw_int(tomo_jw *w, const char *key, long long n)
{
    char buf[24];
    int k = snprintf(buf, sizeof(buf), "%lld", n);
    lead(w, key);
    put(w, buf, (size_t)k);
}

void tomo_jw_raw(tomo_jw *w, const char *key, const char *text)
{
    lead(w, key);
    put(w, text, strlen(text));
}

char *tomo_jw_take(tomo_jw *w, size_t *len)
{
    if (!w->p)
        put(w, "", 0);
    char *p = w->p;
    if (len)
        *len = w->n;
    tomo_jw_init(w);
    return p;
}

void tomo_jw_free(tomo_jw *w)
{
    free(w->p);
    tomo_jw_init(w);
}
