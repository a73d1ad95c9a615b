/* tests/api/test_auth.c: accounts and sessions below the HTTP layer: input
 * rules, bcrypt, token issuing/parsing, the revocation cache and its
 * persistence (a reload stands in for a restart), and concurrent creation
 * of the same device account on a real SQLite store. The acceptance tests
 * (auth.test.mjs, account.test.mjs) cover the routes. */
#define _GNU_SOURCE
#include "api/auth.h"
#include "api/handlers.h"
#include "api/password.h"
#include "api/revoke.h"
#include "api/session.h"
#include "core/codec_util.h"
#include "core/common.h"
#include "core/config.h"
#include "store/db.h"
#include "store/migrate.h"
#include "tt.h"

#include <crypt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALICE "11111111-1111-4111-8111-111111111111"
#define BOB "22222222-2222-4222-8222-222222222222"

static tomo_server srv;
static tomo_config cfg;
static char g_dir[64];

/* ---- input rules ---- */

static void test_email_format(void)
{
    static const struct {
        const char *e;
        int ok;
    } cases[] = {
        {"a@b.c", 1},          {"alice@example.com", 1}, {"a@b@c.d", 1},  {"@b.c", 0},
        {"a@.c", 0},           {"a@b.", 0},              {"ab.c", 0},     {"a@bc", 0},
        {"first.last@x.io", 1}, {"a.b@c", 0},            {"", 0},         {"a@b..", 1},
    };
    for (size_t i = 0; i < TOMO_ARRAY_LEN(cases); i++)
        if (tomo_auth_email_format_ok(cases[i].e) != cases[i].ok)
            TT_FAIL("email %s: want %d", cases[i].e, cases[i].ok);
}

static void test_chars(void)
{
    TT_EQ(tomo_auth_has_space_or_cntrl("device-0001"), 0);
    TT_EQ(tomo_auth_has_space_or_cntrl("device 0001"), 1);
    TT_EQ(tomo_auth_has_space_or_cntrl("device\x01"), 1);
    TT_EQ(tomo_auth_has_space_or_cntrl("d\x7f"), 1);
    TT_EQ(tomo_auth_username_invalid("Alice Smith"), 0); /* spaces are allowed in names */
    TT_EQ(tomo_auth_username_invalid("Alice\tSmith"), 1);
    TT_EQ(tomo_auth_username_invalid("Ünïcødé"), 0);
    char u[11], v[11];
    tomo_auth_random_username(u);
    tomo_auth_random_username(v);
    TT_EQ(strlen(u), 10);
    for (int i = 0; i < 10; i++)
        TT_TRUE((u[i] >= 'a' && u[i] <= 'z') || (u[i] >= 'A' && u[i] <= 'Z'));
    TT_TRUE(strcmp(u, v) != 0);
    char *l = tomo_auth_lower("MiXeD@Example.COM");
    TT_STR_EQ(l, "mixed@example.com");
    free(l);
}

static void test_password(void)
{
    char *h = tomo_password_hash("correct-horse");
    TT_TRUE(h != NULL);
    TT_TRUE(!strncmp(h, "$2b$10$", 7));
    TT_EQ(tomo_password_check("correct-horse", h), 1);
    TT_EQ(tomo_password_check("correct-horsf", h), 0);
    TT_EQ(tomo_password_check("", h), 0);
    char *h2 = tomo_password_hash("correct-horse");
    TT_TRUE(strcmp(h, h2) != 0); /* salted */
    /* Nakama (Go) stores $2a$ hashes: an imported one verifies too. */
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    TT_TRUE(crypt_gensalt_rn("$2a$", 4, NULL, 0, salt, sizeof(salt)) != NULL);
    struct crypt_data *cd = tomo_xcalloc(1, sizeof(*cd));
    char *a = tomo_xstrdup(crypt_r("go-password", salt, cd));
    free(cd);
    TT_TRUE(!strncmp(a, "$2a$04$", 7));
    TT_EQ(tomo_password_check("go-password", a), 1);
    TT_EQ(tomo_password_check("go-passwore", a), 0);
    TT_EQ(tomo_password_check("correct-horse", NULL), 0);
    TT_EQ(tomo_password_check("correct-horse", "plaintext"), 0);
    TT_EQ(tomo_password_check("correct-horse", "$2b$10$short"), 0);
    free(a);
    free(h);
    free(h2);
}

/* ---- tokens ---- */

static void test_tokens(void)
{
    json_t *vars = json_pack("{s:s}", "k", "v");
    char *tok = NULL, *ref = NULL;
    tomo_session_issue(&srv, ALICE, "alice", vars, NULL, 0, &tok, &ref);
    tomo_session_claims c, r;
    TT_OK(tomo_session_parse(&srv, tok, 0, &c));
    TT_STR_EQ(c.user_id, ALICE);
    TT_STR_EQ(c.username, "alice");
    TT_EQ(strlen(c.token_id), 36);
    TT_TRUE(c.iat > 0 && c.exp == c.iat + cfg.session.token_expiry_sec);
    TT_STR_EQ(json_string_value(json_object_get(c.vars, "k")), "v");
    TT_OK(tomo_session_parse(&srv, ref, 1, &r));
    TT_STR_EQ(r.token_id, c.token_id);
    TT_EQ(r.iat, c.iat);
    TT_EQ(r.exp, r.iat + cfg.session.refresh_token_expiry_sec);
    /* each key only verifies its own kind */
    tomo_session_claims x;
    TT_EQ(tomo_session_parse(&srv, tok, 1, &x), TOMO_EAUTH);
    TT_EQ(tomo_session_parse(&srv, ref, 0, &x), TOMO_EAUTH);
    TT_EQ(tomo_session_parse(&srv, "a.b.c", 0, &x), TOMO_EAUTH);
    TT_EQ(tomo_session_parse(&srv, NULL, 0, &x), TOMO_EAUTH);
    TT_OK(tomo_session_verify(&srv, tok, &x));
    tomo_session_claims_clear(&x);
    TT_OK(tomo_session_verify_refresh(&srv, ref, &x));
    tomo_session_claims_clear(&x);
    /* a refresh re-issues with the same id and issue time */
    char *tok2 = NULL;
    tomo_session_issue(&srv, ALICE, "alice", NULL, c.token_id, c.iat, &tok2, NULL);
    TT_OK(tomo_session_parse(&srv, tok2, 0, &x));
    TT_STR_EQ(x.token_id, c.token_id);
    TT_EQ(x.iat, c.iat);
    TT_TRUE(x.vars == NULL); /* empty vars: claim omitted */
    tomo_session_claims_clear(&x);
    /* names needing JSON escapes survive the hand-formatted claims */
    const char *odd = "q\"b\\s/\x01\x1f Ünï";
    char *tok3 = NULL;
    json_t *v2 = json_pack("{s:s,s:s}", "a\"", "\\", "b", "ü");
    tomo_session_issue(&srv, BOB, odd, v2, NULL, 0, &tok3, NULL);
    TT_OK(tomo_session_parse(&srv, tok3, 0, &x));
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
    TT_OK(tomo_db_acquire(srv.db, &db));
    int64_t now = tomo_now_sec();
    char t1[37], t2[37];
    tomo_uuid_v4(t1);
    tomo_uuid_v4(t2);
    tomo_session_claims a1 = claims_of(ALICE, t1, now), a2 = claims_of(ALICE, t2, now);
    tomo_session_claims b1 = claims_of(BOB, t2, now);
    TT_EQ(tomo_revoke_check(&srv, &a1, 0), 0);

    /* one session token: its refresh token and other tokens stay valid */
    TT_OK(tomo_revoke_token(&srv, db, t1, ALICE, 0, now + 60));
    TT_EQ(tomo_revoke_check(&srv, &a1, 0), 1);
    TT_EQ(tomo_revoke_check(&srv, &a1, 1), 0);
    TT_EQ(tomo_revoke_check(&srv, &a2, 0), 0);
    TT_OK(tomo_revoke_token(&srv, db, t1, ALICE, 1, now + 3600));
    TT_EQ(tomo_revoke_check(&srv, &a1, 1), 1);
    TT_OK(tomo_revoke_token(&srv, db, t1, ALICE, 1, now + 3600)); /* twice is fine */

    /* logout-all: every older token, of that user only; a token issued
     * afterwards (even within the same second) is valid */
    TT_OK(tomo_revoke_user(&srv, db, ALICE));
    TT_EQ(tomo_revoke_check(&srv, &a2, 0), 1);
    TT_EQ(tomo_revoke_check(&srv, &a2, 1), 1);
    TT_EQ(tomo_revoke_check(&srv, &b1, 0), 0);
    int64_t iat = tomo_revoke_issue_sec(&srv, ALICE);
    TT_TRUE(iat > now && iat <= now + 2);
    char t3[37];
    tomo_uuid_v4(t3);
    tomo_session_claims a3 = claims_of(ALICE, t3, iat);
    TT_EQ(tomo_revoke_check(&srv, &a3, 0), 0);
    TT_EQ(tomo_revoke_issue_sec(&srv, BOB), tomo_now_sec());
    /* a second logout-all in the same second still revokes a3 */
    TT_OK(tomo_revoke_user(&srv, db, ALICE));
    TT_EQ(tomo_revoke_check(&srv, &a3, 0), 1);
    tomo_session_claims a4 = claims_of(ALICE, t3, tomo_revoke_issue_sec(&srv, ALICE));
    TT_EQ(tomo_revoke_check(&srv, &a4, 0), 0);

    /* a restart: the cache is rebuilt from the tables */
    tomo_revoke_reset();
    TT_OK(tomo_revoke_load(&srv));
    TT_EQ(tomo_revoke_check(&srv, &a1, 0), 1);
    TT_EQ(tomo_revoke_check(&srv, &a1, 1), 1);
    TT_EQ(tomo_revoke_check(&srv, &a3, 0), 1);
    TT_EQ(tomo_revoke_check(&srv, &a4, 0), 0);
    TT_EQ(tomo_revoke_check(&srv, &b1, 0), 0);

    /* expired rows are dropped at load */
    tomo_dbval p[1] = {TOMO_DBINT(tomo_now_ms() - 1000)};
    TT_OK(tomo_db_exec(db,
                       "INSERT INTO session_revocation (token_id, user_id, expires_at) "
                       "VALUES ('old', 'x', $1)",
                       p, 1, NULL));
    tomo_revoke_reset();
    TT_OK(tomo_revoke_load(&srv));
    tomo_dbres *r = NULL;
    TT_OK(tomo_db_exec(db, "SELECT COUNT(*) FROM session_revocation WHERE token_id = 'old'", NULL,
                       0, &r));
    TT_EQ(tomo_dbres_int(r, 0, 0), 0);
    tomo_dbres_free(r);
    tomo_db_release(db);
}

/* ---- concurrent device creation ---- */

typedef struct racer {
    pthread_t th;
    int rc, created;
    char user_id[37];
} racer;

static void *race(void *arg)
{
    racer *me = arg;
    tomo_api_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.srv = &srv;
    ctx.body = json_pack("{s:s}", "id", "race-device-0001");
    ctx.query = json_object();
    me->rc = tomo_api_authenticate_device(&ctx);
    if (me->rc == 0) {
        me->created = json_is_true(json_object_get(ctx.out, "created"));
        tomo_session_claims c;
        if (tomo_session_parse(&srv, tomo_json_str(ctx.out, "token"), 0, &c) == 0) {
            snprintf(me->user_id, sizeof(me->user_id), "%s", c.user_id);
            tomo_session_claims_clear(&c);
        }
    } else {
        fprintf(stderr, "racer failed: %s\n", ctx.err_msg ? ctx.err_msg : "?");
    }
    tomo_db_release(ctx.db);
    json_decref(ctx.body);
    json_decref(ctx.query);
    json_decref(ctx.out);
    free(ctx.err_msg);
    return NULL;
}

static void test_device_race(void)
{
    racer r[6];
    memset(r, 0, sizeof(r));
    for (size_t i = 0; i < TOMO_ARRAY_LEN(r); i++)
        pthread_create(&r[i].th, NULL, race, &r[i]);
    int created = 0;
    for (size_t i = 0; i < TOMO_ARRAY_LEN(r); i++) {
        pthread_join(r[i].th, NULL);
        TT_OK(r[i].rc);
        created += r[i].created;
        TT_STR_EQ(r[i].user_id, r[0].user_id);
    }
    TT_EQ(created, 1);
}

/* Run a Basic-auth handler with a body and a query object (JSON text). */
static int call(tomo_api_fn fn, const char *body, const char *query, json_t **out, int *code,
                char **msg)
{
    tomo_api_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.srv = &srv;
    ctx.body = body ? json_loads(body, 0, NULL) : NULL;
    ctx.query = query ? json_loads(query, 0, NULL) : json_object();
    int rc = fn(&ctx);
    *code = ctx.grpc_code;
    *msg = ctx.err_msg;
    *out = ctx.out;
    tomo_db_release(ctx.db);
    json_decref(ctx.body);
    json_decref(ctx.query);
    return rc;
}

static void test_banned(void)
{
    json_t *out = NULL;
    char *msg = NULL;
    int code = 0;
    TT_OK(call(tomo_api_authenticate_custom, "{\"id\":\"banned-custom\"}", NULL, &out, &code,
               &msg));
    char *refresh = tomo_xstrdup(tomo_json_str(out, "refresh_token"));
    json_decref(out);
    tomo_dbconn *db = NULL;
    TT_OK(tomo_db_acquire(srv.db, &db));
    tomo_dbval p[1] = {TOMO_DBINT(tomo_now_ms())};
    TT_OK(tomo_db_exec(db, "UPDATE users SET disable_time = $1 WHERE custom_id = 'banned-custom'",
                       p, 1, NULL));
    tomo_db_release(db);
    TT_TRUE(call(tomo_api_authenticate_custom, "{\"id\":\"banned-custom\"}", NULL, &out, &code,
                 &msg) < 0);
    TT_EQ(code, TOMO_GRPC_PERMISSION_DENIED);
    TT_STR_EQ(msg, "User account banned.");
    free(msg);
    char *body = tomo_xasprintf("{\"token\":\"%s\"}", refresh);
    TT_TRUE(call(tomo_api_session_refresh, body, NULL, &out, &code, &msg) < 0);
    TT_EQ(code, TOMO_GRPC_PERMISSION_DENIED);
    TT_STR_EQ(msg, "User account banned.");
    free(msg);
    free(body);
    free(refresh);
    TT_EQ(tomo_grpc_to_http(TOMO_GRPC_PERMISSION_DENIED), 403);

    /* a refresh token of a user that no longer exists (removed without a
     * logout-all, e.g. directly in the database) */
    char *tok = NULL, *gone = NULL;
    tomo_session_issue(&srv, "33333333-3333-4333-8333-333333333333", "ghost", NULL, NULL, 0, &tok,
                       &gone);
    body = tomo_xasprintf("{\"token\":\"%s\"}", gone);
    TT_TRUE(call(tomo_api_session_refresh, body, NULL, &out, &code, &msg) < 0);
    TT_EQ(code, TOMO_GRPC_NOT_FOUND);
    TT_STR_EQ(msg, "User account not found.");
    free(msg);
    free(body);
    free(tok);
    free(gone);
}

int main(void)
{
    TT_RUN(test_email_format);
    TT_RUN(test_chars);
    TT_RUN(test_password);
    snprintf(g_dir, sizeof(g_dir), "/tmp/tomo_auth_XXXXXX");
    if (!mkdtemp(g_dir))
        abort();
    tomo_config_defaults(&cfg);
    free(cfg.data_dir);
    cfg.data_dir = tomo_xstrdup(g_dir);
    char err[512];
    int applied = 0;
    if (tomo_db_open(&cfg, &srv.db, err, sizeof(err)) < 0 ||
        tomo_migrate_up(srv.db, &applied, err, sizeof(err)) < 0) {
        fprintf(stderr, "store: %s\n", err);
        return 1;
    }
    srv.cfg = &cfg;
    TT_OK(tomo_revoke_load(&srv));
    TT_RUN(test_tokens);
    TT_RUN(test_revoke);
    TT_RUN(test_device_race);
    TT_RUN(test_banned);
    tomo_revoke_reset();
    tomo_db_close(srv.db);
    tomo_config_free(&cfg);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", g_dir);
    return tt_finish();
}
