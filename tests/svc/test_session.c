/* tests/svc/test_session.c: svc/session.h and svc/revoke.h with no transport:
 * token issuing/parsing, the revocation cache and its persistence (a reload
 * stands in for a restart), session start (ban, single_session), refresh
 * and logout, on SQLite and (TOMO_TEST_PG_ADMIN) Postgres. */
#define _GNU_SOURCE
#include "tt.h"

#include "testdb.h"

#include "core/codec_util.h"
#include "svc/revoke.h"
#include "svc/session.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define ALICE "11111111-1111-4111-8111-111111111111"
#define BOB "22222222-2222-4222-8222-222222222222"

static tomo_svc svc;

/* ---- tokens ---- */

static void test_tokens(void)
{
    json_t *vars = json_pack("{s:s}", "k", "v");
    char *tok = NULL, *ref = NULL;
    tomo_svc_session_issue(&svc, ALICE, "alice", vars, NULL, 0, &tok, &ref);
    tomo_session_claims c, r;
    TT_OK(tomo_svc_session_parse(&svc, tok, 0, &c));
    TT_STR_EQ(c.user_id, ALICE);
    TT_STR_EQ(c.username, "alice");
    TT_EQ(strlen(c.token_id), 36);
    TT_TRUE(c.iat > 0 && c.exp == c.iat + svc.cfg->session.token_expiry_sec);
    TT_STR_EQ(json_string_value(json_object_get(c.vars, "k")), "v");
    TT_OK(tomo_svc_session_parse(&svc, ref, 1, &r));
    TT_STR_EQ(r.token_id, c.token_id);
    TT_EQ(r.iat, c.iat);
    TT_EQ(r.exp, r.iat + svc.cfg->session.refresh_token_expiry_sec);
    /* each key only verifies its own kind */
    tomo_session_claims x;
    TT_EQ(tomo_svc_session_parse(&svc, tok, 1, &x), TOMO_EAUTH);
    TT_EQ(tomo_svc_session_parse(&svc, ref, 0, &x), TOMO_EAUTH);
    TT_EQ(tomo_svc_session_parse(&svc, "a.b.c", 0, &x), TOMO_EAUTH);
    TT_EQ(tomo_svc_session_parse(&svc, NULL, 0, &x), TOMO_EAUTH);
    TT_OK(tomo_svc_session_verify(&svc, tok, &x));
    tomo_session_claims_clear(&x);
    TT_OK(tomo_svc_session_verify_refresh(&svc, ref, &x));
    tomo_session_claims_clear(&x);
    /* a refresh re-issues with the same id and issue time */
    char *tok2 = NULL;
    tomo_svc_session_issue(&svc, ALICE, "alice", NULL, c.token_id, c.iat, &tok2, NULL);
    TT_OK(tomo_svc_session_parse(&svc, tok2, 0, &x));
    TT_STR_EQ(x.token_id, c.token_id);
    TT_EQ(x.iat, c.iat);
    TT_TRUE(x.vars == NULL); /* empty vars: claim omitted */
    tomo_session_claims_clear(&x);
    /* names needing JSON escapes survive the hand-formatted claims */
    const char *odd = "q\"b\\s/\x01\x1f Ünï";
    char *tok3 = NULL;
    json_t *v2 = json_pack("{s:s,s:s}", "a\"", "\\", "b", "ü");
    tomo_svc_session_issue(&svc, BOB, odd, v2, NULL, 0, &tok3, NULL);
    TT_OK(tomo_svc_session_parse(&svc, tok3, 0, &x));
    TT_STR_EQ(x.username, odd);
    TT_TRUE(json_equal(x.vars, v2));
    tomo_session_claims_clear(&x);
    json_decref(v2);
    free(tok3);
    tomo_session_claims_clear(&c);
    tomo_session_claims_clear(&r);
    json_decref(vars);
    free(tok);
    free(ref);
    free(tok2);
}

/* ---- revocation ---- */

static tomo_session_claims claims_of(const char *uid, const char *tid, int64_t iat)
{
    tomo_session_claims c;
    memset(&c, 0, sizeof(c));
    snprintf(c.user_id, sizeof(c.user_id), "%s", uid);
    snprintf(c.token_id, sizeof(c.token_id), "%s", tid);
    c.iat = iat;
    c.exp = iat + 60;
    return c;
}

static void test_revoke(void)
{
    tomo_dbconn *db = NULL;
    TT_OK(tomo_db_acquire(svc.db, &db));
    int64_t now = tomo_now_sec();
    char t1[37], t2[37];
    tomo_uuid_v4(t1);
    tomo_uuid_v4(t2);
    tomo_session_claims a1 = claims_of(ALICE, t1, now), a2 = claims_of(ALICE, t2, now);
    tomo_session_claims b1 = claims_of(BOB, t2, now);
    TT_EQ(tomo_revoke_check(&svc, &a1, 0), 0);

    /* one session token: its refresh token and other tokens stay valid */
    TT_OK(tomo_revoke_token(&svc, db, t1, ALICE, 0, now + 60));
    TT_EQ(tomo_revoke_check(&svc, &a1, 0), 1);
    TT_EQ(tomo_revoke_check(&svc, &a1, 1), 0);
    TT_EQ(tomo_revoke_check(&svc, &a2, 0), 0);
    TT_OK(tomo_revoke_token(&svc, db, t1, ALICE, 1, now + 3600));
    TT_EQ(tomo_revoke_check(&svc, &a1, 1), 1);
    TT_OK(tomo_revoke_token(&svc, db, t1, ALICE, 1, now + 3600)); /* twice is fine */

    /* logout-all: every older token, of that user only; a token issued
     * afterwards (even within the same second) is valid */
    TT_OK(tomo_revoke_user(&svc, db, ALICE));
    TT_EQ(tomo_revoke_check(&svc, &a2, 0), 1);
    TT_EQ(tomo_revoke_check(&svc, &a2, 1), 1);
    TT_EQ(tomo_revoke_check(&svc, &b1, 0), 0);
    int64_t iat = tomo_revoke_issue_sec(&svc, ALICE);
    TT_TRUE(iat > now && iat <= now + 2);
    char t3[37];
    tomo_uuid_v4(t3);
    tomo_session_claims a3 = claims_of(ALICE, t3, iat);
    TT_EQ(tomo_revoke_check(&svc, &a3, 0), 0);
    TT_EQ(tomo_revoke_issue_sec(&svc, BOB), tomo_now_sec());
    /* a second logout-all in the same second still revokes a3 */
    TT_OK(tomo_revoke_user(&svc, db, ALICE));
    TT_EQ(tomo_revoke_check(&svc, &a3, 0), 1);
    tomo_session_claims a4 = claims_of(ALICE, t3, tomo_revoke_issue_sec(&svc, ALICE));
    TT_EQ(tomo_revoke_check(&svc, &a4, 0), 0);

    /* a restart: the cache is rebuilt from the tables */
    tomo_revoke_reset();
    TT_OK(tomo_revoke_load(&svc));
    TT_EQ(tomo_revoke_check(&svc, &a1, 0), 1);
    TT_EQ(tomo_revoke_check(&svc, &a1, 1), 1);
    TT_EQ(tomo_revoke_check(&svc, &a3, 0), 1);
    TT_EQ(tomo_revoke_check(&svc, &a4, 0), 0);
    TT_EQ(tomo_revoke_check(&svc, &b1, 0), 0);

    /* expired rows are dropped at load */
    tomo_dbval p[1] = {TOMO_DBINT(tomo_now_ms() - 1000)};
    TT_OK(tomo_db_exec(db,
                       "INSERT INTO session_revocation (token_id, user_id, expires_at) "
                       "VALUES ('old', 'x', $1)",
                       p, 1, NULL));
    tomo_revoke_reset();
    TT_OK(tomo_revoke_load(&svc));
    tomo_dbres *r = NULL;
    TT_OK(tomo_db_exec(db, "SELECT COUNT(*) FROM session_revocation WHERE token_id = 'old'", NULL,
                       0, &r));
    TT_EQ(tomo_dbres_int(r, 0, 0), 0);
    tomo_dbres_free(r);
    tomo_db_release(db);
}


/* ---- session operations ---- */

static void add_user(tomo_dbconn *db, const char *id, const char *name, int64_t disable)
{
    tomo_dbval p[4] = {TOMO_DBTEXT(id), TOMO_DBTEXT(name), TOMO_DBINT(tomo_now_ms()),
                       TOMO_DBINT(disable)};
    TT_OK(tomo_db_exec(db,
                       "INSERT INTO users (id, username, create_time, update_time, disable_time) "
                       "VALUES ($1, $2, $3, $3, $4)",
                       p, 4, NULL));
}

static void test_start_refresh_logout(void)
{
    tomo_dbconn *db = NULL;
    tomo_err err;
    tomo_session_pair s, r;
    tomo_session_claims c;
    TT_OK(tomo_db_acquire(svc.db, &db));
    const char *carol = "33333333-3333-4333-8333-333333333333";
    const char *dave = "44444444-4444-4444-8444-444444444444";
    add_user(db, carol, "carol", 0);
    add_user(db, dave, "dave", tomo_now_ms());

    /* a banned account gets no session */
    TT_EQ(tomo_svc_session_start(&svc, db, dave, "dave", 1, NULL, &s, &err), TOMO_EPERM);
    TT_EQ(err.code, TOMO_GRPC_PERMISSION_DENIED);
    TT_STR_EQ(err.msg, "User account banned.");

    TT_OK(tomo_svc_session_start(&svc, db, carol, "carol", 0, NULL, &s, &err));
    TT_OK(tomo_svc_session_verify(&svc, s.token, &c));
    TT_STR_EQ(c.username, "carol");
    tomo_session_claims_clear(&c);

    /* refresh: same token id, new vars, the username as stored now */
    TT_OK(tomo_db_exec(db, "UPDATE users SET username = 'carol2' WHERE username = 'carol'", NULL,
                       0, NULL));
    json_t *vars = json_pack("{s:s}", "v", "1");
    TT_OK(tomo_svc_session_refresh(&svc, db, s.refresh_token, vars, &r, &err));
    json_decref(vars);
    tomo_session_claims c1, c2;
    TT_OK(tomo_svc_session_verify(&svc, s.token, &c1));
    TT_OK(tomo_svc_session_verify(&svc, r.token, &c2));
    TT_STR_EQ(c2.token_id, c1.token_id);
    TT_STR_EQ(c2.username, "carol2");
    TT_STR_EQ(json_string_value(json_object_get(c2.vars, "v")), "1");
    tomo_session_claims_clear(&c1);
    tomo_session_claims_clear(&c2);
    tomo_session_pair_clear(&r); /* the calls below reset r */

    /* refresh errors */
    TT_EQ(tomo_svc_session_refresh(&svc, db, "", NULL, &r, &err) < 0, 1);
    TT_EQ(err.code, TOMO_GRPC_INVALID_ARGUMENT);
    TT_EQ(tomo_svc_session_refresh(&svc, db, s.token, NULL, &r, &err), TOMO_EAUTH);
    TT_STR_EQ(err.msg, "Refresh token invalid or expired.");
    char *ghost_tok = NULL, *ghost_ref = NULL;
    tomo_svc_session_issue(&svc, "55555555-5555-4555-8555-555555555555", "ghost", NULL, NULL, 0,
                           &ghost_tok, &ghost_ref);
    TT_EQ(tomo_svc_session_refresh(&svc, db, ghost_ref, NULL, &r, &err), TOMO_ENOTFOUND);
    TT_STR_EQ(err.msg, "User account not found.");

    /* logout: somebody else's token is refused, one's own is revoked */
    tomo_caller me = tomo_caller_user(carol, "carol");
    TT_EQ(tomo_svc_session_logout(&svc, db, &me, ghost_tok, NULL, &err), TOMO_EINVAL);
    TT_STR_EQ(err.msg, "Session token invalid.");
    TT_EQ(tomo_svc_session_logout(&svc, db, &me, NULL, ghost_ref, &err), TOMO_EINVAL);
    TT_STR_EQ(err.msg, "Refresh token invalid.");
    TT_EQ(tomo_svc_session_logout(&svc, db, &tomo_caller_system, NULL, NULL, &err), TOMO_EINVAL);
    TT_OK(tomo_svc_session_logout(&svc, db, &me, s.token, s.refresh_token, &err));
    TT_EQ(tomo_svc_session_verify(&svc, s.token, &c), TOMO_EAUTH);
    TT_EQ(tomo_svc_session_refresh(&svc, db, s.refresh_token, NULL, &r, &err), TOMO_EAUTH);
    /* the refreshed pair shares the token id: revoked with it */
    TT_EQ(tomo_svc_session_verify(&svc, r.token, &c), TOMO_EAUTH);
    tomo_session_pair_clear(&r);
    tomo_session_pair_clear(&s);

    /* logout without tokens: every session of the user */
    TT_OK(tomo_svc_session_start(&svc, db, carol, "carol2", 0, NULL, &s, &err));
    tomo_session_pair s2;
    TT_OK(tomo_svc_session_start(&svc, db, carol, "carol2", 0, NULL, &s2, &err));
    TT_OK(tomo_svc_session_logout(&svc, db, &me, "", "", &err));
    TT_EQ(tomo_svc_session_verify(&svc, s.token, &c), TOMO_EAUTH);
    TT_EQ(tomo_svc_session_verify(&svc, s2.token, &c), TOMO_EAUTH);
    tomo_session_pair_clear(&s);
    tomo_session_pair_clear(&s2);

    /* single_session: a new session revokes the older ones */
    tomo_config *cfg = (tomo_config *)svc.cfg;
    cfg->session.single_session = 1;
    sleep(1); /* past the logout-all cut-off second */
    TT_OK(tomo_svc_session_start(&svc, db, carol, "carol2", 0, NULL, &s, &err));
    TT_OK(tomo_svc_session_verify(&svc, s.token, &c));
    tomo_session_claims_clear(&c);
    TT_OK(tomo_svc_session_start(&svc, db, carol, "carol2", 0, NULL, &s2, &err));
    TT_EQ(tomo_svc_session_verify(&svc, s.token, &c), TOMO_EAUTH);
    TT_OK(tomo_svc_session_verify(&svc, s2.token, &c));
    tomo_session_claims_clear(&c);
    cfg->session.single_session = 0;
    tomo_session_pair_clear(&s);
    tomo_session_pair_clear(&s2);
    free(ghost_tok);
    free(ghost_ref);
    tomo_db_release(db);
}

static void test_errors(void)
{
    tomo_err e;
    TT_EQ(tomo_err_set(&e, TOMO_GRPC_NOT_FOUND, "no %s", "thing"), TOMO_ENOTFOUND);
    TT_EQ(e.code, TOMO_GRPC_NOT_FOUND);
    TT_STR_EQ(e.msg, "no thing");
    TT_EQ(tomo_err_set(NULL, TOMO_GRPC_INVALID_ARGUMENT, "x"), TOMO_EINVAL);
    TT_EQ(tomo_err_set(&e, TOMO_GRPC_UNIMPLEMENTED, "x") < 0, 1);
    TT_EQ(tomo_err_db(&e, TOMO_EUNAVAIL, "test"), TOMO_EUNAVAIL);
    TT_EQ(e.code, TOMO_GRPC_UNAVAILABLE);
    TT_STR_EQ(e.msg, "Database unavailable.");
    TT_EQ(tomo_err_db(&e, TOMO_EDB, "test"), TOMO_EDB);
    TT_EQ(e.code, TOMO_GRPC_INTERNAL);
    TT_EQ(tomo_grpc_to_http(TOMO_GRPC_PERMISSION_DENIED), 403);
    TT_EQ(tomo_grpc_to_http(TOMO_GRPC_UNAUTHENTICATED), 401);
    TT_EQ(tomo_grpc_to_http(99), 500);
    TT_EQ(tomo_grpc_from_err(TOMO_ENOTFOUND), TOMO_GRPC_NOT_FOUND);
    TT_EQ(tomo_grpc_from_err(TOMO_EAUTH), TOMO_GRPC_UNAUTHENTICATED);
    TT_EQ(tomo_err_from_grpc(TOMO_GRPC_ALREADY_EXISTS), TOMO_ECONFLICT);
    tomo_caller u = tomo_caller_user(ALICE, NULL);
    TT_EQ(tomo_caller_is_system(&u), 0);
    TT_EQ(tomo_caller_is_system(&tomo_caller_system), 1);
    TT_STR_EQ(u.user_id, ALICE);
}

static void suite(testdb *t)
{
    svc.cfg = &t->cfg;
    svc.db = t->db;
    tomo_revoke_reset();
    TT_OK(tomo_revoke_load(&svc));
    TT_RUN(test_tokens);
    TT_RUN(test_revoke);
    TT_RUN(test_start_refresh_logout);
    tomo_revoke_reset();
}

int main(void)
{
    TT_RUN(test_errors);
    testdb_each("svc_session", suite);
    return tt_finish();
}
