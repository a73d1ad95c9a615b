/* runtime/nk_http.c: nk.http_request over libcurl.
 * http_request(url, method, headers, body="", timeout_ms=5000, insecure=false)
 * returns code, headers, body; non-2xx does not raise, transport errors
 * raise "HTTP request error: ...". A custom CA bundle and a client
 * certificate (mTLS to the studio's own services) come from
 * runtime.http_ca_file / http_cert_file / http_key_file. */
#define _GNU_SOURCE
#include "runtime_int.h"

#include "../core/common.h"
#include "../core/trace.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RESPONSE (64u << 20)

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

typedef struct resp {
    char *body;
    size_t len, cap;
    int too_big;
    json_t *headers; /* canonical name -> first value */
} resp;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    size_t add = sz * n;
    if (r->len + add > MAX_RESPONSE) {
        r->too_big = 1;
        return 0;
    }
    if (r->len + add + 1 > r->cap) {
        r->cap = (r->len + add + 1) * 2;
        r->body = tomo_xrealloc(r->body, r->cap);
    }
    memcpy(r->body + r->len, p, add);
    r->len += add;
    return add;
}

/* Go's canonical header form: "content-type" -> "Content-Type". */
static void canonical(char *s)
{
    int up = 1;
    for (; *s; s++) {
        *s = (char)(up ? toupper((unsigned char)*s) : tolower((unsigned char)*s));
        up = *s == '-';
    }
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    size_t len = sz * n;
    const char *colon = memchr(p, ':', len);
    if (!colon) {
        if (len > 5 && !strncmp(p, "HTTP/", 5))
            json_object_clear(r->headers); /* a new response (after 100 or a redirect) */
        return len;
    }
    char *name = tomo_xstrndup(p, (size_t)(colon - p));
    canonical(name);
    const char *v = colon + 1;
    const char *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    if (!json_object_get(r->headers, name)) {
        json_t *s = json_stringn(v, (size_t)(end - v));
        if (s)
            json_object_set_new(r->headers, name, s);
    }
    free(name);
    return len;
}

static int l_http_request(lua_State *L)
{
    const char *url = tomo_nk_checkstr(L, 1, 1, NULL);
    const char *method = tomo_nk_checkstr(L, 2, 1, NULL);
    luaL_checktype(L, 3, LUA_TTABLE);
    size_t blen = 0;
    const char *body = tomo_nk_optstr(L, 4, "", &blen);
    lua_Integer timeout = tomo_nk_optint(L, 5, 5000);
    if (timeout <= 0)
        timeout = 5000;
    int insecure = tomo_nk_optbool(L, 6, 0);
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
    const char *m = NULL;
    for (size_t i = 0; i < 6; i++)
        if (!strcasecmp(method, methods[i]))
            m = methods[i];
    if (!m)
        return luaL_argerror(L, 2, "expects method to be one of: get, post, put, patch, delete, "
                                   "head");
    if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))
        return luaL_argerror(L, 1, "expects an http or https URL");
    /* collect headers before curl owns anything (lua errors would leak it) */
    struct curl_slist *hl = NULL;
    int has_tp = 0;
    lua_pushnil(L);
    while (lua_next(L, 3)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
            curl_slist_free_all(hl);
            return luaL_argerror(L, 3, "expects header names and values to be strings");
        }
        if (!strcasecmp(lua_tostring(L, -2), "traceparent"))
            has_tp = 1;
        char *line = tomo_xasprintf("%s: %s", lua_tostring(L, -2), lua_tostring(L, -1));
        hl = curl_slist_append(hl, line);
        free(line);
        lua_pop(L, 1);
    }
    /* The call is a client span of the current one; the callee continues
     * the trace (unless the module set its own traceparent). */
    tomo_trace span;
    tomo_trace_begin_child(&span, tomo_trace_current());
    if (span.active && !has_tp) {
        char tp[56];
        tomo_trace_header(&span, tp);
        char *line = tomo_xasprintf("traceparent: %s", tp);
        hl = curl_slist_append(hl, line);
        free(line);
        if (span.state[0]) {
            line = tomo_xasprintf("tracestate: %s", span.state);
            hl = curl_slist_append(hl, line);
            free(line);
        }
    }
    pthread_once(&g_once, global_init);
    const tomo_config *cfg = tomo_nk_cfg(L);
    resp r = {.headers = json_object()};
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    if (hl)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (!strcmp(m, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(m, "GET"))
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
    if (blen || (strcmp(m, "GET") && strcmp(m, "HEAD"))) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    }
    if (insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (cfg->runtime.http_ca_file && *cfg->runtime.http_ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, cfg->runtime.http_ca_file);
    if (cfg->runtime.http_cert_file && *cfg->runtime.http_cert_file)
        curl_easy_setopt(c, CURLOPT_SSLCERT, cfg->runtime.http_cert_file);
    if (cfg->runtime.http_key_file && *cfg->runtime.http_key_file)
        curl_easy_setopt(c, CURLOPT_SSLKEY, cfg->runtime.http_key_file);
    char ebuf[CURL_ERROR_SIZE];
    ebuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    CURLcode cc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    curl_slist_free_all(hl);
    tomo_trace_end(&span, TOMO_SPAN_CLIENT, m, cc != CURLE_OK ? TOMO_GRPC_UNAVAILABLE : 0, "http");
    if (cc != CURLE_OK) {
        char msg[CURL_ERROR_SIZE + 64];
        snprintf(msg, sizeof(msg), "HTTP request error: %s",
                 r.too_big ? "response body too large" : *ebuf ? ebuf : curl_easy_strerror(cc));
        free(r.body);
        json_decref(r.headers);
        return tomo_nk_error(L, "%s", msg);
    }
    lua_pushnumber(L, (lua_Number)code);
    /* push the body as a Lua string first, then free C memory, then push headers */
    lua_pushlstring(L, r.body ? r.body : "", r.len);
    free(r.body);
    json_t *h = r.headers;
    lua_newtable(L);
    const char *k;
    json_t *v;
    json_object_foreach(h, k, v) {
        lua_pushstring(L, json_string_value(v));
        lua_setfield(L, -2, k);
    }
    json_decref(h);
    lua_insert(L, -2);
    return 3;
}

void tomo_nk_http_open(lua_State *L, int nk)
{
    static const luaL_Reg fns[] = {{"http_request", l_http_request}, {NULL, NULL}};
    tomo_nk_register(L, nk, fns);
}
