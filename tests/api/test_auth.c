/* tests/api/test_auth.c: accounts and sessions below the HTTP layer: input
 * rules, bcrypt, bans, and concurrent creation of the same device account on
 * a real SQLite store (tokens and revocation: tests/svc/test_session.c). The acceptance tests
 * (auth.test.mjs, account.test.mjs) cover the routes. */
#define _GNU_SOURCE
#include "svc/auth.h"
#include "api/handlers.h"
#include "svc/password.h"
#include "core/codec_util.h"
#include "core/common.h"
#include "core/config.h"
#include "store/db.h"
#include "store/migrate.h"
#include "svc/revoke.h"
#include "svc/session.h"
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

/* ---- concurrent device creation ---- */

/* The identifier adapters read their kind from the route's name. */
static const tomo_api_route device_route = {.name = "AuthenticateDevice"};
static const tomo_api_route custom_route = {.name = "AuthenticateCustom"};

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
    ctx.route = &device_route;
    me->rc = tomo_api_authenticate_id(&ctx);
    if (me->rc == 0) {
        me->created = json_is_true(json_object_get(ctx.out, "created"));
        tomo_session_claims c;
        if (tomo_svc_session_parse(&srv.svc, tomo_json_str(ctx.out, "token"), 0, &c) == 0) {
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

/* Run a Basic-auth handler (as the custom id route) with a body and a query object (JSON text). */
static int call(tomo_api_fn fn, const char *body, const char *query, json_t **out, int *code,
                char **msg)
{
    tomo_api_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.srv = &srv;
    ctx.route = &custom_route;
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
    TT_OK(call(tomo_api_authenticate_id, "{\"id\":\"banned-custom\"}", NULL, &out, &code,
               &msg));
    char *refresh = tomo_xstrdup(tomo_json_str(out, "refresh_token"));
    json_decref(out);
    tomo_dbconn *db = NULL;
    TT_OK(tomo_db_acquire(srv.db, &db));
    tomo_dbval p[1] = {TOMO_DBINT(tomo_now_ms())};
    TT_OK(tomo_db_exec(db, "UPDATE users SET disable_time = $1 WHERE custom_id = 'banned-custom'",
                       p, 1, NULL));
    tomo_db_release(db);
    TT_TRUE(call(tomo_api_authenticate_id, "{\"id\":\"banned-custom\"}", NULL, &out, &code,
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
    tomo_svc_session_issue(&srv.svc, "33333333-3333-4333-8333-333333333333", "ghost", NULL, NULL, 0, &tok,
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
    srv.svc.cfg = &cfg;
    srv.svc.db = srv.db;
    TT_OK(tomo_revoke_load(&srv.svc));
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
