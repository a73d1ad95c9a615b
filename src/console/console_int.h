/* console/console_int.h: what the console's files share: the request
 * context, the route table's row, roles, and helpers for handlers.
 * Threads: a ctx belongs to the thread its route runs on. */
#ifndef TOMO_CONSOLE_INT_H
#define TOMO_CONSOLE_INT_H

#include <jansson.h>
#include <pthread.h>

#include "../net/router.h"
#include "console.h"

#define TOMO_CONSOLE "console"

/* Nakama's console roles (console.proto UserRole): a lower number is more
 * privileged. */
enum {
    TOMO_ROLE_UNKNOWN = 0, TOMO_ROLE_ADMIN = 1, TOMO_ROLE_DEVELOPER = 2,
    TOMO_ROLE_MAINTAINER = 3, TOMO_ROLE_READONLY = 4,
};

/* Route flags. */
enum {
    TOMO_CROUTE_WORKER = 0,
    TOMO_CROUTE_LOOP = 1,   /* runs on the loop thread (realtime state, no database) */
    TOMO_CROUTE_NOAUTH = 2, /* no token (authenticate, logout) */
};

struct tomo_console {
    tomo_console_deps d;
    tomo_router *router;
    struct tomo_ratelimit *login_limit;
    char node_cookie[33];
    /* logged-out tokens until they expire (a mutex: workers add, workers check) */
    pthread_mutex_t mu;
    struct revoked *revoked;
};

typedef struct tomo_console_ctx tomo_console_ctx;
typedef int (*tomo_console_fn)(tomo_console_ctx *ctx);

typedef struct tomo_console_route {
    int method;          /* TOMO_HTTP_* */
    const char *path;    /* "/v2/console/account/{id}" */
    const char *name;    /* Nakama's console method ("GetAccount"), logs and audit */
    int min_role;        /* least privileged role allowed (TOMO_ROLE_*) */
    int flags;           /* TOMO_CROUTE_* */
    tomo_console_fn fn;  /* NULL = 501 Unimplemented */
} tomo_console_route;

struct tomo_console_ctx {
    tomo_console *con;
    tomo_http_req *http;
    const tomo_console_route *route;
    tomo_route_match match;
    json_t *body;  /* parsed JSON body or NULL */
    json_t *query; /* name -> array of strings */
    /* the console user (from the token) */
    char user[129];
    int role;
    char client_ip[64];
    /* result */
    json_t *out;
    char *raw_out;
    size_t raw_len;
    const char *content_type;
    int grpc_code;
    char *err_msg;
    int retry_after_sec;
    tomo_dbconn *db;
    char *audit; /* what a write acted on (audit log), heap */
};

const tomo_console_route *tomo_console_routes(size_t *n);

/* Helpers for handlers. */
const char *tomo_console_param(const tomo_console_ctx *ctx, const char *name);
const char *tomo_console_query(const tomo_console_ctx *ctx, const char *name);
/* Body string field (NULL when absent; "" when not a string is refused by
 * the handler itself). */
const char *tomo_console_body_str(const tomo_console_ctx *ctx, const char *field);
int tomo_console_error(tomo_console_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int tomo_console_svc_error(tomo_console_ctx *ctx, const tomo_err *err);
int tomo_console_db(tomo_console_ctx *ctx, tomo_dbconn **out);
/* Name what a write acted on, for the audit line. */
void tomo_console_audit(tomo_console_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* auth.c */
int tomo_console_login(tomo_console_ctx *ctx);
int tomo_console_logout(tomo_console_ctx *ctx);
/* Check the Authorization header; 0 with ctx->user/role set, or an error
 * recorded. */
int tomo_console_check_auth(tomo_console_ctx *ctx);
void tomo_console_auth_free(tomo_console *c);
/* Refuse every token of a console user from now on (the user was
 * deleted). Node-local, like logout. */
void tomo_console_revoke_user(tomo_console *c, const char *user_id);

#endif
