/* bench/nakama.c: Nakama protocol helpers (see nakama.h).
 * Threads: helpers anywhere; lg_authpool on its worker's loop thread. */
#include "nakama.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec_util.h"

int lg_jwt_uid(const char *jwt, char *out, size_t cap)
{
    const char *a = strchr(jwt, '.');
    if (!a)
        return -1;
    a++;
    const char *b = strchr(a, '.');
    if (!b || b - a > 4096)
        return -1;
    uint8_t *buf;
    size_t n;
    if (tomo_b64_decode(a, (size_t)(b - a), &buf, &n) != 0)
        return -1;
    json_t *j = json_loadb((const char *)buf, n, 0, NULL);
    free(buf);
    const char *uid = j ? json_string_value(json_object_get(j, "uid")) : NULL;
    int rc = -1;
    if (uid && strlen(uid) < cap) {
        strcpy(out, uid);
        rc = 0;
    }
    json_decref(j);
    return rc;
}

void lg_device_id(const lg_ctx *ctx, const char *kind, uint64_t idx, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s-%08llu", ctx->o.device_prefix, kind, (unsigned long long)idx);
}

int lg_auth_device(lg_http *c, const char *device_id, lg_http_cb cb, void *arg)
{
    char hdr[400], body[300];
    snprintf(hdr, sizeof(hdr), "Authorization: %s\r\nContent-Type: application/json\r\n",
             c->w->ctx->basic_auth);
    int n = snprintf(body, sizeof(body), "{\"id\":\"%s\"}", device_id);
    return lg_http_request(c, "POST", "/v2/account/authenticate/device?create=true&", hdr, body,
                           (size_t)n, cb, arg);
}

char *lg_auth_token(const char *body, size_t n, int *created)
{
    json_t *j = json_loadb(body, n, 0, NULL);
    const char *t = j ? json_string_value(json_object_get(j, "token")) : NULL;
    char *r = t ? lg_xstrdup(t) : NULL;
    if (created)
        *created = j && json_is_true(json_object_get(j, "created"));
    json_decref(j);
    return r;
}

/* --- auth pool ------------------------------------------------------------------ */

typedef struct authpool {
    lg_worker *w;
    const char *kind;
    uint64_t *idx;
    char **tokens;
    unsigned char *tries;
    int n, next, done_n, retry_head;
    int *retry; /* indices to try again */
    int nretry;
    int nconn, open_conns;
    lg_http *conns;
    int *cur; /* request index per connection */
    lg_authpool_done done;
    void *arg;
} authpool;

static void ap_issue(authpool *ap, int ci);

static void ap_conn_closed(lg_http *c)
{
    authpool *ap = c->user;
    if (--ap->open_conns > 0)
        return;
    lg_authpool_done done = ap->done;
    void *arg = ap->arg;
    free(ap->conns);
    free(ap->cur);
    free(ap->idx);
    free(ap->tries);
    free(ap->retry);
    free(ap);
    done(arg);
}

static void ap_finish_if_done(authpool *ap)
{
    if (ap->done_n < ap->n)
        return;
    ap->done_n = ap->n + 1; /* once */
    for (int i = 0; i < ap->nconn; i++)
        lg_http_close(&ap->conns[i], ap_conn_closed);
}

static void ap_on_resp(lg_http *c, int status, const char *body, size_t n, void *arg)
{
    authpool *ap = arg;
    int ci = (int)(c - ap->conns);
    int i = ap->cur[ci];
    ap->cur[ci] = -1;
    char *tok = status == 200 ? lg_auth_token(body, n, NULL) : NULL;
    if (tok) {
        ap->tokens[i] = tok;
        lg_inc(ap->w, LG_C_AUTH_OK, 1);
        ap->done_n++;
    } else if (ap->tries[i] < 2 && !c->closing_for_good) {
        ap->retry[ap->nretry++] = i;
    } else {
        lg_inc(ap->w, LG_C_AUTH_ERR, 1);
        ap->done_n++;
        if (lg_sum(ap->w->ctx, LG_C_AUTH_ERR) <= 3)
            fprintf(stderr, "tomo-bench: device auth failed: HTTP %d %.200s\n", status,
                    body ? body : "(connection closed)");
    }
    if (!c->closing_for_good)
        ap_issue(ap, ci);
    ap_finish_if_done(ap);
}

static void ap_issue(authpool *ap, int ci)
{
    if (atomic_load(&ap->w->ctx->phase) == LG_PH_STOP)
        return;
    int i;
    if (ap->retry_head < ap->nretry)
        i = ap->retry[ap->retry_head++];
    else if (ap->next < ap->n)
        i = ap->next++;
    else
        return;
    char dev[160];
    lg_device_id(ap->w->ctx, ap->kind, ap->idx[i], dev, sizeof(dev));
    ap->tries[i]++;
    ap->cur[ci] = i;
    if (lg_auth_device(&ap->conns[ci], dev, ap_on_resp, ap) < 0) {
        ap->cur[ci] = -1;
        lg_inc(ap->w, LG_C_AUTH_ERR, 1);
        ap->done_n++;
    }
}

void lg_authpool_run(lg_worker *w, const char *kind, const uint64_t *idx, int n, int conns,
                     char **tokens, lg_authpool_done done, void *arg)
{
    authpool *ap = lg_xcalloc(1, sizeof(*ap));
    ap->w = w;
    ap->kind = kind;
    ap->n = n;
    ap->idx = lg_xmalloc(sizeof(uint64_t) * (size_t)(n ? n : 1));
    memcpy(ap->idx, idx, sizeof(uint64_t) * (size_t)n);
    ap->tokens = tokens;
    ap->tries = lg_xcalloc((size_t)(n ? n : 1), 1);
    ap->retry = lg_xmalloc(sizeof(int) * (size_t)(n ? n : 1));
    ap->done = done;
    ap->arg = arg;
    ap->nconn = conns < 1 ? 1 : conns;
    if (ap->nconn > n && n > 0)
        ap->nconn = n;
    ap->conns = lg_xcalloc((size_t)ap->nconn, sizeof(lg_http));
    ap->cur = lg_xmalloc(sizeof(int) * (size_t)ap->nconn);
    ap->open_conns = ap->nconn;
    for (int ci = 0; ci < ap->nconn; ci++) {
        lg_http_init(&ap->conns[ci], w);
        ap->conns[ci].user = ap;
        ap->cur[ci] = -1;
    }
    for (int ci = 0; ci < ap->nconn; ci++)
        ap_issue(ap, ci);
    ap_finish_if_done(ap);
}

/* --- scanners ------------------------------------------------------------------- */

const char *lg_scan_str(const char *p, size_t n, const char *key, size_t *vlen)
{
    char pat[64];
    int pn = snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    const char *s = memmem(p, n, pat, (size_t)pn);
    if (!s)
        return NULL;
    s += pn;
    const char *end = p + n;
    const char *q = s;
    while (q < end && *q != '"') {
        if (*q == '\\')
            q++;
        q++;
    }
    if (q >= end)
        return NULL;
    *vlen = (size_t)(q - s);
    return s;
}

int lg_has_key(const char *p, size_t n, const char *name)
{
    char pat[64];
    int pn = snprintf(pat, sizeof(pat), "\"%s\":", name);
    return memmem(p, n, pat, (size_t)pn) != NULL;
}
