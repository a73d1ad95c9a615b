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

static char *sign(const char *key, const char *tid, const char *uid, const char *usn,
                  const json_t *vars, int64_t exp, int64_t iat)
{
    json_t *c = json_object();
    json_object_set_new(c, "tid", json_string(tid));
    json_object_set_new(c, "uid", json_string(uid));
    json_object_set_new(c, "usn", json_string(usn));
    if (json_object_size(vars))
        json_object_set(c, "vrs", (json_t *)vars);
    json_object_set_new(c, "exp", json_integer(exp));
    json_object_set_new(c, "iat", json_integer(iat));
    char *t = tomo_jwt_sign(c, key, strlen(key));
    json_decref(c);
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
