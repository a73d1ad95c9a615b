/* svc/session.c: session tokens and the session operations (see
 * session.h). Revocation (logout, single_session, account deletion) is
 * checked through svc/revoke.h. */
#include "session.h"

#include "revoke.h"

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/jwt.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tomo_session_claims_clear(tomo_session_claims *c)
{
    json_decref(c->vars);
    c->vars = NULL;
}

int tomo_svc_session_parse(tomo_svc *svc, const char *token, int refresh,
                           tomo_session_claims *out)
{
    memset(out, 0, sizeof(*out));
    const char *key = refresh ? svc->cfg->session.refresh_encryption_key
                              : svc->cfg->session.encryption_key;
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

int tomo_svc_session_verify(tomo_svc *svc, const char *token, tomo_session_claims *out)
{
    if (tomo_svc_session_parse(svc, token, 0, out) < 0)
        return TOMO_EAUTH;
    if (tomo_revoke_check(svc, out, 0)) {
        tomo_session_claims_clear(out);
        return TOMO_EAUTH;
    }
    return 0;
}

int tomo_svc_session_verify_refresh(tomo_svc *svc, const char *token,
                                    tomo_session_claims *out)
{
    if (tomo_svc_session_parse(svc, token, 1, out) < 0)
        return TOMO_EAUTH;
    if (tomo_revoke_check(svc, out, 1)) {
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

void tomo_svc_session_issue(tomo_svc *svc, const char *user_id, const char *username,
                            const json_t *vars, const char *tid, int64_t iat, char **token,
                            char **refresh)
{
    char newtid[37];
    if (!tid) {
        tomo_uuid_v4(newtid);
        tid = newtid;
    }
    if (!iat)
        iat = tomo_revoke_issue_sec(svc, user_id);
    int64_t now = tomo_now_sec();
    const tomo_config *cfg = svc->cfg;
    *token = sign(cfg->session.encryption_key, tid, user_id, username, vars,
                  now + cfg->session.token_expiry_sec, iat);
    if (refresh)
        *refresh = sign(cfg->session.refresh_encryption_key, tid, user_id, username, vars,
                        now + cfg->session.refresh_token_expiry_sec, iat);
}

char *tomo_svc_session_token(tomo_svc *svc, const char *user_id, const char *username,
                             const json_t *vars, int64_t exp, int64_t *exp_out)
{
    char tid[37];
    tomo_uuid_v4(tid);
    if (!exp)
        exp = tomo_now_sec() + svc->cfg->session.token_expiry_sec;
    if (exp_out)
        *exp_out = exp;
    return sign(svc->cfg->session.encryption_key, tid, user_id, username, vars, exp,
                tomo_revoke_issue_sec(svc, user_id));
}

/* ---- session operations ---- */

void tomo_session_pair_clear(tomo_session_pair *p)
{
    if (!p)
        return;
    free(p->token);
    free(p->refresh_token);
    p->token = p->refresh_token = NULL;
}

int tomo_svc_session_start(tomo_svc *svc, tomo_dbconn *db, const char *user_id,
                           const char *username, int64_t disable_time, const json_t *vars,
                           tomo_session_pair *out, tomo_err *err)
{
    memset(out, 0, sizeof(*out));
    if (disable_time > 0)
        return tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED, "User account banned.");
    if (svc->cfg->session.single_session) {
        int rc = tomo_revoke_user(svc, db, user_id);
        if (rc < 0)
            return tomo_err_db_conn(err, db, rc, "single session revoke");
    }
    tomo_svc_session_issue(svc, user_id, username, vars, NULL, 0, &out->token,
                           &out->refresh_token);
    return 0;
}

int tomo_svc_session_refresh(tomo_svc *svc, tomo_dbconn *db, const char *refresh_token,
                             const json_t *vars, tomo_session_pair *out, tomo_err *err)
{
    tomo_session_claims c = {0};
    tomo_dbres *r = NULL;
    int rc;
    memset(out, 0, sizeof(*out));
    if (!refresh_token || !*refresh_token)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Refresh token is required.");
    if (tomo_svc_session_verify_refresh(svc, refresh_token, &c) < 0)
        return tomo_err_set(err, TOMO_GRPC_UNAUTHENTICATED, "Refresh token invalid or expired.");
    tomo_dbval p[1] = {TOMO_DBTEXT(c.user_id)};
    rc = tomo_db_exec(db, "SELECT username, disable_time FROM users WHERE id = $1", p, 1, &r);
    if (rc < 0) {
        rc = tomo_err_db_conn(err, db, rc, "find refresh account");
        goto out;
    }
    if (!tomo_dbres_rows(r)) {
        rc = tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "User account not found.");
        goto out;
    }
    if (tomo_dbres_int(r, 0, 1) > 0) {
        rc = tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED, "User account banned.");
        goto out;
    }
    /* 3.40: same token id and issue time; the refresh token is re-signed. */
    tomo_svc_session_issue(svc, c.user_id, tomo_dbres_text(r, 0, 0), vars ? vars : c.vars,
                           c.token_id[0] ? c.token_id : NULL, c.iat, &out->token,
                           &out->refresh_token);
    rc = 0;
out:
    tomo_dbres_free(r);
    tomo_session_claims_clear(&c);
    return rc;
}

int tomo_svc_session_logout(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                            const char *token, const char *refresh_token, tomo_err *err)
{
    tomo_session_claims sc = {0}, rc_ = {0};
    int rc;
    const char *me = caller->user_id;
    if (tomo_caller_is_system(caller))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "A user is required to log out.");
    if (token && *token &&
        (tomo_svc_session_parse(svc, token, 0, &sc) < 0 || strcmp(sc.user_id, me))) {
        rc = tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Session token invalid.");
        goto out;
    }
    if (refresh_token && *refresh_token &&
        (tomo_svc_session_parse(svc, refresh_token, 1, &rc_) < 0 || strcmp(rc_.user_id, me))) {
        rc = tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Refresh token invalid.");
        goto out;
    }
    if (!sc.token_id[0] && !rc_.token_id[0]) {
        rc = tomo_revoke_user(svc, db, me);
    } else {
        rc = tomo_revoke_token(svc, db, sc.token_id, me, 0, sc.exp);
        if (rc == 0)
            rc = tomo_revoke_token(svc, db, rc_.token_id, me, 1, rc_.exp);
    }
    if (rc < 0)
        rc = tomo_err_db_conn(err, db, rc, "logout");
out:
    tomo_session_claims_clear(&sc);
    tomo_session_claims_clear(&rc_);
    return rc;
}
