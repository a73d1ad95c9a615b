/* core/template.c: ${VAR} / ${VAR:-default} expansion (see template.h). */
#include "template.h"

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        b->p = tomo_xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static const char *lookup(char *const *envp, const char *name, size_t nl)
{
    for (char *const *e = envp; e && *e; e++)
        if (!strncmp(*e, name, nl) && (*e)[nl] == '=')
            return *e + nl + 1;
    return NULL;
}

static int is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

int tomo_template_render(const char *in, size_t n, char *const *envp, char **out, size_t *outlen,
                         char *err, size_t errlen)
{
    sbuf b = {0};
    int rc = 0, line = 1;
    size_t i = 0;
    put(&b, "", 0);
    while (i < n) {
        char c = in[i];
        if (c == '\n')
            line++;
        if (c != '$' || i + 1 >= n || (in[i + 1] != '$' && in[i + 1] != '{')) {
            put(&b, &in[i++], 1);
            continue;
        }
        if (in[i + 1] == '$') { /* $$ -> $ */
            put(&b, "$", 1);
            i += 2;
            continue;
        }
        size_t s = i + 2, e = s;
        while (e < n && is_name_char(in[e]))
            e++;
        if (e == s || !is_name_start(in[s])) {
            snprintf(err, errlen, "line %d: malformed ${...}: expected a variable name", line);
            rc = TOMO_EINVAL;
            goto out;
        }
        const char *name = in + s;
        size_t nl = e - s;
        const char *def = NULL;
        size_t defl = 0;
        if (e + 1 < n && in[e] == ':' && in[e + 1] == '-') {
            def = in + e + 2;
            e += 2;
            while (e < n && in[e] != '}' && in[e] != '\n')
                e++;
            defl = (size_t)(in + e - def);
        }
        if (e >= n || in[e] != '}') {
            snprintf(err, errlen, "line %d: unterminated ${%.*s", line, (int)nl, name);
            rc = TOMO_EINVAL;
            goto out;
        }
        const char *v = lookup(envp, name, nl);
        if (def && (!v || !*v))
            put(&b, def, defl);
        else if (v)
            put(&b, v, strlen(v));
        else {
            snprintf(err, errlen, "line %d: environment variable %.*s is not set (and has no "
                                  "default: ${%.*s:-default})",
                     line, (int)nl, name, (int)nl, name);
            rc = TOMO_EINVAL;
            goto out;
        }
        i = e + 1;
    }
out:
    if (rc < 0) {
        free(b.p);
        *out = NULL;
        if (outlen)
            *outlen = 0;
    } else {
        *out = b.p;
        if (outlen)
            *outlen = b.n;
    }
    return rc;
}
