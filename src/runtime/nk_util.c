/* runtime/nk_util.c: nk utilities that need no service: JSON, base64 /
 * base16, hashes and HMAC, AES-CFB, bcrypt, UUIDs, time, the logger, the
 * process-wide local cache, file_read, jwt_generate (HS256, RS256) and event
 * (checked, then dropped: tomo has no event functions). */
#define _GNU_SOURCE
#include "runtime_int.h"

#include "../core/common.h"
#include "../core/jwt.h"
#include "../core/log.h"

#include "../svc/password.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <uuid/uuid.h>

/* ---- JSON ---- */

static int l_json_encode(lua_State *L)
{
    json_t *j = tomo_nk_to_json(L, 1);
    char *s = tomo_nk_json_dump(j);
    json_decref(j);
    lua_pushstring(L, s);
    free(s);
    return 1;
}

static int l_json_decode(lua_State *L)
{
    size_t n;
    const char *s = tomo_nk_checkstr(L, 1, 1, &n);
    json_error_t e;
    json_t *j = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!j)
        return tomo_nk_error(L, "not a valid JSON string: %s", e.text);
    tomo_nk_push_json(L, j);
    json_decref(j);
    return 1;
}

/* ---- base64 / base16 ---- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64U[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64_push(lua_State *L, const unsigned char *s, size_t n, const char *alpha, int pad)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        luaL_addchar(&b, alpha[(v >> 18) & 63]);
        luaL_addchar(&b, alpha[(v >> 12) & 63]);
        if (i + 1 < n)
            luaL_addchar(&b, alpha[(v >> 6) & 63]);
        else if (pad)
            luaL_addchar(&b, '=');
        if (i + 2 < n)
            luaL_addchar(&b, alpha[v & 63]);
        else if (pad)
            luaL_addchar(&b, '=');
    }
    luaL_pushresult(&b);
}

static int b64_val(char c, const char *alpha)
{
    const char *p = c ? strchr(alpha, c) : NULL;
    return p ? (int)(p - alpha) : -1;
}

/* Decode; padding optional unless strict_pad. -1 on bad input. */
static int b64_decode(lua_State *L, const char *s, size_t n, const char *alpha, int strict_pad)
{
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    size_t pads = 0;
    while (n && s[n - 1] == '=') {
        n--;
        pads++;
    }
    if (pads > 2 || (n % 4 == 1))
        return -1;
    if (strict_pad && (n + pads) % 4)
        return -1;
    if (pads && (n + pads) % 4)
        return -1;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int d = b64_val(s[i], alpha);
        if (d < 0) {
            luaL_pushresult(&b);
            lua_pop(L, 1);
            return -1;
        }
        v = (v << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            luaL_addchar(&b, (char)((v >> bits) & 0xff));
        }
    }
    luaL_pushresult(&b);
    return 0;
}

static int l_base64_encode(lua_State *L)
{
    size_t n;
    const char *s = tomo_nk_checkstr(L, 1, 1, &n);
    b64_push(L, (const unsigned char *)s, n, B64, tomo_nk_optbool(L, 2, 1));
    return 1;
}

static int l_base64_decode(lua_State *L)
{
    size_t n;
    const char *s = tomo_nk_checkstr(L, 1, 1, &n);
    if (b64_decode(L, s, n, B64, 0) < 0)
        return tomo_nk_error(L, "not a valid base64 string: %s", s);
    return 1;
}

static int l_base64url_encode(lua_State *L)
{
    size_t n;
    const char *s = tomo_nk_checkstr(L, 1, 1, &n);
    b64_push(L, (const unsigned char *)s, n, B64U, tomo_nk_optbool(L, 2, 1));
    return 1;
}

static int l_base64url_decode(lua_State *L)
{
    size_t n;
    const char *s = tomo_nk_checkstr(L, 1, 1, &n);
    if (b64_decode(L, s, n, B64U, 0) < 0)
        return tomo_nk_error(L, "not a valid base64url string: %s", s);
    return 1;
}

static void hex_push(lua_State *L, const unsigned char *s, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n; i++) {
        luaL_addchar(&b, hx[s[i] >> 4]);
        luaL_addchar(&b, hx[s[i] & 15]);
    }
    luaL_pushresult(&b);
}

static int l_base16_encode(lua_State *L)
{
    size_t n;
    const char *s = tomo_nk_checkstr(L, 1, 1, &n);
    hex_push(L, (const unsigned char *)s, n);
    return 1;
}

static int hexv(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int l_base16_decode(lua_State *L)
{
    size_t n;
    const char *s = tomo_nk_checkstr(L, 1, 1, &n);
    if (n % 2)
        return tomo_nk_error(L, "not a valid base16 string: odd length");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n; i += 2) {
        int h = hexv(s[i]), l = hexv(s[i + 1]);
        if (h < 0 || l < 0) {
            luaL_pushresult(&b);
            return tomo_nk_error(L, "not a valid base16 string: %s", s);
        }
        luaL_addchar(&b, (char)(h * 16 + l));
    }
    luaL_pushresult(&b);
    return 1;
}

/* ---- hashes ---- */

static int digest_hex(lua_State *L, const EVP_MD *md)
{
    size_t n;
    const char *s = tomo_nk_checkstr(L, 1, 1, &n);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int ol = 0;
    EVP_Digest(s, n, out, &ol, md, NULL);
    hex_push(L, out, ol);
    return 1;
}

static int l_md5_hash(lua_State *L) { return digest_hex(L, EVP_md5()); }
static int l_sha256_hash(lua_State *L) { return digest_hex(L, EVP_sha256()); }

static int l_hmac_sha256_hash(lua_State *L)
{
    size_t n, kl;
    const char *s = tomo_nk_checkstr(L, 1, 1, &n);
    const char *k = tomo_nk_checkstr(L, 2, 1, &kl);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int ol = 0;
    HMAC(EVP_sha256(), k, (int)kl, (const unsigned char *)s, n, out, &ol);
    lua_pushlstring(L, (const char *)out, ol);
    return 1;
}

/* ---- AES-CFB: IV(16) || ciphertext; plaintext space-padded to 4 ---- */

static int aes(lua_State *L, size_t keylen, int enc)
{
    size_t n, kl;
    const char *s = tomo_nk_checkstr(L, 1, 1, &n);
    const char *k = tomo_nk_checkstr(L, 2, 1, &kl);
    if (kl != keylen)
        return tomo_nk_error(L, "error %s data: invalid key size %zu (want %zu)",
                             enc ? "encrypting" : "decrypting", kl, keylen);
    const EVP_CIPHER *c = keylen == 16 ? EVP_aes_128_cfb128() : EVP_aes_256_cfb128();
    if (!enc && n < 16)
        return tomo_nk_error(L, "error decrypting data: ciphertext too short");
    size_t pl = enc ? (n + 3) / 4 * 4 : n - 16;
    unsigned char *buf = tomo_xmalloc(pl + 16 + 16);
    unsigned char *in = tomo_xmalloc(pl + 1);
    unsigned char iv[16];
    if (enc) {
        memcpy(in, s, n);
        memset(in + n, ' ', pl - n);
        RAND_bytes(iv, 16);
    } else {
        memcpy(iv, s, 16);
        memcpy(in, s + 16, pl);
    }
    EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
    int ol = 0, fl = 0;
    unsigned char *o = enc ? buf + 16 : buf;
    EVP_CipherInit_ex(cx, c, NULL, (const unsigned char *)k, iv, enc);
    EVP_CipherUpdate(cx, o, &ol, in, (int)pl);
    EVP_CipherFinal_ex(cx, o + ol, &fl);
    EVP_CIPHER_CTX_free(cx);
    if (enc) {
        memcpy(buf, iv, 16);
        lua_pushlstring(L, (const char *)buf, (size_t)(ol + fl) + 16);
    } else {
        lua_pushlstring(L, (const char *)buf, (size_t)(ol + fl));
    }
    free(buf);
    free(in);
    return 1;
}

static int l_aes128_encrypt(lua_State *L) { return aes(L, 16, 1); }
static int l_aes128_decrypt(lua_State *L) { return aes(L, 16, 0); }
static int l_aes256_encrypt(lua_State *L) { return aes(L, 32, 1); }
static int l_aes256_decrypt(lua_State *L) { return aes(L, 32, 0); }

/* ---- bcrypt ---- */

static int l_bcrypt_hash(lua_State *L)
{
    char *h = tomo_password_hash(tomo_nk_checkstr(L, 1, 1, NULL));
    if (!h)
        return tomo_nk_error(L, "error hashing password");
    lua_pushstring(L, h);
    free(h);
    return 1;
}

static int l_bcrypt_compare(lua_State *L)
{
    const char *h = tomo_nk_checkstr(L, 1, 1, NULL);
    const char *p = tomo_nk_checkstr(L, 2, 1, NULL);
    lua_pushboolean(L, tomo_password_check(p, h));
    return 1;
}

/* ---- JWT, events ---- */

static int l_jwt_generate(lua_State *L)
{
    const char *alg = tomo_nk_checkstr(L, 1, 1, NULL);
    int rs = !strcmp(alg, "RS256");
    if (!rs && strcmp(alg, "HS256"))
        return luaL_argerror(L, 1, "unsupported algo type - only allowed 'HS256', 'RS256'.");
    size_t kl;
    const char *key = tomo_nk_checkstr(L, 2, 1, &kl);
    luaL_checktype(L, 3, LUA_TTABLE);
    json_t *claims = tomo_nk_to_json(L, 3);
    if (json_is_array(claims) && !json_array_size(claims)) {
        json_decref(claims);
        claims = json_object();
    }
    if (!json_is_object(claims)) {
        json_decref(claims);
        return luaL_argerror(L, 3, "expects claims to be a table of key-value pairs");
    }
    char why[64] = "";
    char *tok = rs ? tomo_jwt_sign_rs256(claims, key, why, sizeof(why))
                   : tomo_jwt_sign(claims, key, kl);
    json_decref(claims);
    if (!tok)
        return tomo_nk_error(L, "could not parse private key: %s", why);
    lua_pushstring(L, tok);
    free(tok);
    return 1;
}

/* Nakama hands events to event functions only its Go runtime registers;
 * tomo has none, so after Nakama's argument checks this does nothing. */
static int l_event(lua_State *L)
{
    tomo_nk_checkstr(L, 1, 1, NULL);
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            if (lua_type(L, -2) != LUA_TSTRING)
                return luaL_argerror(L, 2, "properties keys must be strings");
            if (lua_type(L, -1) != LUA_TSTRING)
                return luaL_argerror(L, 2, "properties values must be strings");
            lua_pop(L, 1);
        }
    }
    if (tomo_nk_optint(L, 3, -1) == 0)
        return luaL_argerror(L, 3, "timestamp must be numeric UTC seconds when provided");
    (void)tomo_nk_optbool(L, 4, 0);
    return 0;
}

/* ---- UUIDs ---- */

static int l_uuid_v4(lua_State *L)
{
    uuid_t u;
    uuid_generate_random(u);
    char s[37];
    uuid_unparse_lower(u, s);
    lua_pushstring(L, s);
    return 1;
}

static int l_uuid_bytes_to_string(lua_State *L)
{
    size_t n;
    const char *b = tomo_nk_checkstr(L, 1, 1, &n);
    if (n != 16)
        return tomo_nk_error(L, "failed to convert uuid bytes: invalid length %zu", n);
    char s[37];
    uuid_unparse_lower((const unsigned char *)b, s);
    lua_pushstring(L, s);
    return 1;
}

static int l_uuid_string_to_bytes(lua_State *L)
{
    const char *s = tomo_nk_checkstr(L, 1, 1, NULL);
    uuid_t u;
    if (uuid_parse(s, u) != 0)
        return tomo_nk_error(L, "failed to convert uuid string: invalid UUID");
    lua_pushlstring(L, (const char *)u, 16);
    return 1;
}

/* ---- time ---- */

static int field(lua_State *L, const char *k, int def)
{
    lua_getfield(L, 1, k);
    int v = lua_isnumber(L, -1) ? (int)lua_tointeger(L, -1) : def;
    lua_pop(L, 1);
    return v;
}

static int l_time(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_pushnumber(L, (lua_Number)tomo_now_ms());
        return 1;
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    struct tm tm = {0};
    tm.tm_year = field(L, "year", 1970) - 1900;
    tm.tm_mon = field(L, "month", 1) - 1;
    tm.tm_mday = field(L, "day", 1);
    tm.tm_hour = field(L, "hour", 12);
    tm.tm_min = field(L, "min", 0);
    tm.tm_sec = field(L, "sec", 0);
    int msec = field(L, "msec", 0);
    time_t t = timegm(&tm);
    lua_pushnumber(L, (lua_Number)t * 1000.0 + msec);
    return 1;
}

/* ---- logger ---- */

static int logat(lua_State *L, int level)
{
    const char *m = tomo_nk_checkstr(L, 1, 1, NULL);
    tomo_log(level, "lua", "%s", m);
    lua_pushstring(L, m);
    return 1;
}

static int l_logger_debug(lua_State *L) { return logat(L, TOMO_LOG_DEBUG); }
static int l_logger_info(lua_State *L) { return logat(L, TOMO_LOG_INFO); }
static int l_logger_warn(lua_State *L) { return logat(L, TOMO_LOG_WARNING); }
static int l_logger_error(lua_State *L) { return logat(L, TOMO_LOG_ERROR); }

/* ---- local cache (process-wide, values stored as JSON) ---- */

static int l_localcache_get(lua_State *L)
{
    const char *k = tomo_nk_checkstr(L, 1, 1, NULL);
    tomo_runtime *rt = tomo_nk_runtime(L);
    pthread_mutex_lock(&rt->cache_mu);
    json_t *e = json_incref(json_object_get(rt->cache, k));
    pthread_mutex_unlock(&rt->cache_mu);
    if (!e) {
        lua_settop(L, 2);
        return 1;
    }
    json_t *exp = json_object_get(e, "e");
    if (json_integer_value(exp) && json_integer_value(exp) < tomo_now_ms()) {
        json_decref(e);
        lua_settop(L, 2);
        return 1;
    }
    tomo_nk_push_json(L, json_object_get(e, "v"));
    json_decref(e);
    return 1;
}

static int l_localcache_put(lua_State *L)
{
    const char *k = tomo_nk_checkstr(L, 1, 1, NULL);
    if (lua_isnoneornil(L, 2))
        return luaL_argerror(L, 2, "expects a value");
    json_t *v = tomo_nk_to_json(L, 2);
    lua_Integer ttl = tomo_nk_optint(L, 3, 0);
    json_t *e = json_pack("{s:o,s:I}", "v", v, "e",
                          (json_int_t)(ttl > 0 ? tomo_now_ms() + ttl * 1000 : 0));
    tomo_runtime *rt = tomo_nk_runtime(L);
    pthread_mutex_lock(&rt->cache_mu);
    json_object_set_new(rt->cache, k, e);
    pthread_mutex_unlock(&rt->cache_mu);
    return 0;
}

static int l_localcache_delete(lua_State *L)
{
    const char *k = tomo_nk_checkstr(L, 1, 1, NULL);
    tomo_runtime *rt = tomo_nk_runtime(L);
    pthread_mutex_lock(&rt->cache_mu);
    json_object_del(rt->cache, k);
    pthread_mutex_unlock(&rt->cache_mu);
    return 0;
}

static int l_localcache_clear(lua_State *L)
{
    tomo_runtime *rt = tomo_nk_runtime(L);
    pthread_mutex_lock(&rt->cache_mu);
    json_object_clear(rt->cache);
    pthread_mutex_unlock(&rt->cache_mu);
    return 0;
}

/* ---- file_read: a file under runtime.path ---- */

static int l_file_read(lua_State *L)
{
    const char *rel = tomo_nk_checkstr(L, 1, 1, NULL);
    const char *root = tomo_runtime_path(tomo_nk_runtime(L));
    if (!root || !*root)
        return tomo_nk_error(L, "failed to read file: runtime.path is not set");
    char *path = tomo_xasprintf("%s/%s", root, rel);
    char *real = realpath(path, NULL);
    char *rroot = realpath(root, NULL);
    free(path);
    size_t rl = rroot ? strlen(rroot) : 0;
    if (!real || !rroot || strncmp(real, rroot, rl) || (real[rl] != '/' && real[rl])) {
        free(real);
        free(rroot);
        return tomo_nk_error(L, "failed to read file: %s is not a file under runtime.path", rel);
    }
    free(rroot);
    FILE *f = fopen(real, "rb");
    free(real);
    if (!f)
        return tomo_nk_error(L, "failed to read file: %s", strerror(errno));
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        luaL_addlstring(&b, buf, n);
    fclose(f);
    luaL_pushresult(&b);
    return 1;
}

void tomo_nk_util_open(lua_State *L, int nk)
{
    static const luaL_Reg fns[] = {
        {"json_encode", l_json_encode},
        {"json_decode", l_json_decode},
        {"base64_encode", l_base64_encode},
        {"base64_decode", l_base64_decode},
        {"base64url_encode", l_base64url_encode},
        {"base64url_decode", l_base64url_decode},
        {"base16_encode", l_base16_encode},
        {"base16_decode", l_base16_decode},
        {"md5_hash", l_md5_hash},
        {"sha256_hash", l_sha256_hash},
        {"hmac_sha256_hash", l_hmac_sha256_hash},
        {"aes128_encrypt", l_aes128_encrypt},
        {"aes128_decrypt", l_aes128_decrypt},
        {"aes256_encrypt", l_aes256_encrypt},
        {"aes256_decrypt", l_aes256_decrypt},
        {"bcrypt_hash", l_bcrypt_hash},
        {"bcrypt_compare", l_bcrypt_compare},
        {"uuid_v4", l_uuid_v4},
        {"uuid_bytes_to_string", l_uuid_bytes_to_string},
        {"uuid_string_to_bytes", l_uuid_string_to_bytes},
        {"time", l_time},
        {"logger_debug", l_logger_debug},
        {"logger_info", l_logger_info},
        {"logger_warn", l_logger_warn},
        {"logger_error", l_logger_error},
        {"localcache_get", l_localcache_get},
        {"localcache_put", l_localcache_put},
        {"localcache_delete", l_localcache_delete},
        {"localcache_clear", l_localcache_clear},
        {"file_read", l_file_read},
        {"jwt_generate", l_jwt_generate},
        {"event", l_event},
        {NULL, NULL},
    };
    tomo_nk_register(L, nk, fns);
}
