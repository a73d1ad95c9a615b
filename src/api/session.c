/* api/session.c: session token issuing and verification shared by REST and
 * the socket. Revocation (logout, single_session, account deletion) is
 * checked through api/revoke.h. */
#include "session.h"

#include "api.h"
#include "revoke.h"

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/jwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tomo_session_claims_clear(tomo_session_claims *c)
{
    json_decref(c->vars);
    c->vars = NULL;
}

int tomo_session_parse(tomo_server *srv, const char *token, int refresh,
                       tomo_session_claims *out)
{
    memset(out, 0, sizeof(*out));
    const char *key = refresh ? srv->cfg->session.refresh_encryption_key
                              : srv->cfg->session.encryption_key;
    json_t *claims = NULL;
    if (!token || tomo_jwt_verify(token, key, strlen(key), tomo_now_sec(), &claims) < 0)
        return TOMO_EAUTH;
    const char *uid = json_string_value(json_object_get(claims, "uid"));
    const char *usn = json_string_value(json_object_get(claims, "usn"));
    const char *tid = json_string_value(json_object_get(claims, "tid"));
    if (!uid || !tomo_uuid_valid(uid) || !usn || strlen(usn) >= sizeof(out->username)) {
        json_decref(claims);
        return TOMO_EAUTH;
    }
    snprintf(out->user_id, sizeof(out->user_id), "%s", uid);
    snprintf(out->username, sizeof(out->username), "%s", usn);
    snprintf(out->token_id, sizeof(out->token_id), "%s", tid && strlen(tid) < 37 ? tid : "");
    out->exp = json_integer_value(json_object_get(claims, "exp"));
    out->iat = json_integer_value(json_object_get(claims, "iat"));
    json_t *vrs = json_object_get(claims, "vrs");
    if (json_is_object(vrs))
        out->vars = json_incref(vrs);
    json_decref(claims);
    return 0;
}

int tomo_session_verify(tomo_server *srv, const char *token, tomo_session_claims *out)
{
    if (tomo_session_parse(srv, token, 0, out) < 0)
        return TOMO_EAUTH;
    if (tomo_session_is_revoked(srv, out)) {
        tomo_session_claims_clear(out);
        return TOMO_EAUTH;
    }
    return 0;
}

int tomo_session_verify_refresh(tomo_server *srv, const char *token, tomo_session_claims *out)
{
    if (tomo_session_parse(srv, token, 1, out) < 0)
        return TOMO_EAUTH;
    if (tomo_revoke_check(srv, out, 1)) {
        tomo_session_claims_clear(out);
        return TOMO_EAUTH;
    }
    return 0;
}

/* Append s as a JSON string literal (UTF-8 passes through). out must have
 * room for 6 bytes per input byte plus 3. Returns the new end. */
static char *put_json_str(char *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    *out++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *out++ = '\\';
            *out++ = (char)c;
        } else if (c < 0x20) {
            memcpy(out, "\\u00", 4);
            out[4] = hex[c >> 4];
            out[5] = hex[c & 15];
            out += 6;
        } else {
            *out++ = (char)c;
        }
    }
    *out++ = '"';
    return out;
}

/* Claims are formatted directly in Nakama's field order: this runs twice per
 * authenticate, the hottest route, and a jansson tree + dump costs more than
 * the HMAC. Vars (rare) go through jansson. */
static char *sign(const char *key, const char *tid, const char *uid, const char *usn,
                  const json_t *vars, int64_t exp, int64_t iat)
{
    char *vj = json_object_size(vars) ? json_dumps(vars, JSON_COMPACT) : NULL;
    size_t cap = 64 + 6 * (strlen(tid) + strlen(uid) + strlen(usn)) + (vj ? strlen(vj) : 0) + 64;
    char stackbuf[2048];
    char *buf = cap <= sizeof(stackbuf) ? stackbuf : tomo_xmalloc(cap);
    char *p = buf;
    memcpy(p, "{\"tid\":", 7);
    p = put_json_str(p + 7, tid);
    memcpy(p, ",\"uid\":", 7);
    p = put_json_str(p + 7, uid);
    memcpy(p, ",\"usn\":", 7);
    p = put_json_str(p + 7, usn);
    if (vj)
        p += sprintf(p, ",\"vrs\":%s", vj);
    p += sprintf(p, ",\"exp\":%lld,\"iat\":%lld}", (long long)exp, (long long)iat);
    char *t = tomo_jwt_sign_payload(buf, (size_t)(p - buf), key, strlen(key));
    if (buf != stackbuf)
        free(buf);
    free(vj);
    return t;
}

void tomo_session_issue(tomo_server *srv, const char *user_id, const char *username,
                        const json_t *vars, const char *tid, int64_t iat, char **token,
                        char **refresh)
{
    char newtid[37];
    if (!tid) {
        tomo_uuid_v4(newtid);
        tid = newtid;
    }
    if (!iat)
        iat = tomo_revoke_issue_sec(srv, user_id);
    int64_t now = tomo_now_sec();
    const tomo_config *cfg = srv->cfg;
    *token = sign(cfg->session.encryption_key, tid, user_id, username, vars,
                  now + cfg->session.token_expiry_sec, iat);
    if (refresh)
        *refresh = sign(cfg->session.refresh_encryption_key, tid, user_id, username, vars,
                        now + cfg->session.refresh_token_expiry_sec, iat);
}
