/* svc/svc.h: the service layer's shared vocabulary.
 * Owns: tomo_caller (who is asking: a user or the system), tomo_err (one
 *       error value: a gRPC status code and a message, rendered by each
 *       transport its own way), the gRPC status codes, tomo_svc (the narrow
 *       set of dependencies every svc operation gets: config, database,
 *       push seam) and tomo_svc_push (the seam rt fills in).
 * Threads: svc operations block on the database: call them on worker
 *          threads (REST handlers, runtime calls, match threads), never on a
 *          loop thread. tomo_svc is read-only after start-up.
 *
 * Every svc operation looks like
 *     int tomo_svc_<domain>_<verb>(tomo_svc *svc, tomo_dbconn *db,
 *                                  const tomo_caller *caller, <typed inputs>,
 *                                  <out-params>, tomo_err *err);
 * and returns 0 or a negative TOMO_E* value after filling *err (code and
 * message). `db` is a connection the caller acquired (it may be inside the
 * caller's transaction where the operation says so). Permission rules
 * follow from `caller`: TOMO_CALLER_SYSTEM (the runtime, the console) may
 * act on any user and skips client permissions; TOMO_CALLER_USER acts as
 * that user with Nakama's client rules. No svc file knows HTTP, WebSocket,
 * gRPC or Lua. */
#ifndef TOMO_SVC_SVC_H
#define TOMO_SVC_SVC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/config.h"
#include "../store/db.h"

struct json_t;

/* Log subsystem of the service layer (core/log.h style). */
#ifndef TOMO_SVC
#define TOMO_SVC "svc"
#endif

/* gRPC status codes: Nakama's error "code" on every transport. */
enum {
    TOMO_GRPC_OK = 0, TOMO_GRPC_CANCELED = 1, TOMO_GRPC_UNKNOWN = 2, TOMO_GRPC_INVALID_ARGUMENT = 3,
    TOMO_GRPC_DEADLINE_EXCEEDED = 4, TOMO_GRPC_NOT_FOUND = 5, TOMO_GRPC_ALREADY_EXISTS = 6,
    TOMO_GRPC_PERMISSION_DENIED = 7, TOMO_GRPC_RESOURCE_EXHAUSTED = 8,
    TOMO_GRPC_FAILED_PRECONDITION = 9, TOMO_GRPC_ABORTED = 10, TOMO_GRPC_OUT_OF_RANGE = 11,
    TOMO_GRPC_UNIMPLEMENTED = 12, TOMO_GRPC_INTERNAL = 13, TOMO_GRPC_UNAVAILABLE = 14,
    TOMO_GRPC_DATA_LOSS = 15, TOMO_GRPC_UNAUTHENTICATED = 16,
};

/* One error value (curl's CURLcode + message). code is a TOMO_GRPC_* code;
 * msg is the client-facing message (Nakama's wording where Nakama has one). */
#define TOMO_ERR_MSG_MAX 256
typedef struct tomo_err {
    int code;
    char msg[TOMO_ERR_MSG_MAX];
} tomo_err;

/* Fill *err (NULL is allowed: nothing recorded) and return the TOMO_E*
 * value that matches grpc_code, so operations can
 * `return tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "User account not found.");`. */
int tomo_err_set(tomo_err *err, int grpc_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int tomo_err_setv(tomo_err *err, int grpc_code, const char *fmt, va_list ap);
/* Map a store error (TOMO_EUNAVAIL, TOMO_ETIMEOUT, TOMO_EDB, ...) to an
 * error value with a log line naming `what`; returns a negative value. */
int tomo_err_db(tomo_err *err, int rc, const char *what);
/* tomo_err_db with the connection whose last error message goes in the log
 * line (db may be NULL). */
int tomo_err_db_conn(tomo_err *err, tomo_dbconn *db, int rc, const char *what);
/* The TOMO_E* value for a gRPC code (and back, for a bare TOMO_E* value). */
int tomo_err_from_grpc(int grpc_code);
int tomo_grpc_from_err(int tomo_e);
/* HTTP status for a gRPC code (Nakama's gateway mapping). */
int tomo_grpc_to_http(int grpc_code);

/* protojson helpers for the canonical messages svc returns. */
/* Field as string (NULL if absent or not a string). */
const char *tomo_json_str(const struct json_t *obj, const char *key);
/* Set key only when the value is non-empty (protojson omits zero values). */
void tomo_json_set_str(struct json_t *obj, const char *key, const char *v);
/* int64 as a decimal string, omitted when 0. */
void tomo_json_set_i64(struct json_t *obj, const char *key, long long v);
/* RFC 3339 timestamp from unix milliseconds, omitted when 0. */
void tomo_json_set_time(struct json_t *obj, const char *key, long long unix_ms);
/* The same three as text (core/jsonw.h), omitted under the same rules. */
struct tomo_jw;
void tomo_jw_opt_str(struct tomo_jw *w, const char *key, const char *v);
void tomo_jw_opt_i64(struct tomo_jw *w, const char *key, long long v);
void tomo_jw_opt_time(struct tomo_jw *w, const char *key, long long unix_ms);
/* The tree of JSON text a svc renderer wrote (NULL if it does not parse). */
struct json_t *tomo_jw_tree(struct tomo_jw *w);

/* Up to count rows picked at random (Nakama's GetRandomUsers/Groups: rows
 * after a random UUID pivot in id order, then from the start when short):
 * `select` is "SELECT <cols> FROM <table> WHERE <cond>" and id_col the
 * UUID key column; each row becomes row_json(r, row, 0) appended to *out
 * (a new array). count 0 gives an empty array. 0 or a store error. */
int tomo_svc_random_rows(tomo_dbconn *db, const char *select, const char *id_col, int count,
                         struct json_t *(*row_json)(const tomo_dbres *r, size_t row, size_t c0),
                         struct json_t **out);

/* Who is asking. */
enum { TOMO_CALLER_SYSTEM = 0, TOMO_CALLER_USER = 1 };
typedef struct tomo_caller {
    int kind;            /* TOMO_CALLER_* */
    char user_id[37];    /* TOMO_CALLER_USER: the acting user */
    char username[129];  /* TOMO_CALLER_USER: from the session, may be "" */
} tomo_caller;

/* The system caller (runtime, console): any user, no client permissions. */
extern const tomo_caller tomo_caller_system;
/* A user caller; username may be NULL. */
tomo_caller tomo_caller_user(const char *user_id, const char *username);
static inline int tomo_caller_is_system(const tomo_caller *c)
{
    return c->kind == TOMO_CALLER_SYSTEM;
}

/* The push seam: svc delivers to live sockets through it; rt implements it
 * at start-up (and the cluster, later, routes it across nodes). Every
 * function may be called from any thread; it copies what it needs and
 * returns at once (delivery happens later on the loop that owns the
 * sockets). Envelopes are JSON objects in canonical protojson form and are
 * borrowed. Unset members are no-ops. Push only after the transaction that
 * produced the data committed. */
typedef struct tomo_svc_push {
    void *ctx;
    /* Deliver an envelope to every live socket of a user. */
    void (*to_user)(void *ctx, const char *user_id, struct json_t *envelope);
    /* Close every socket of a user (logout everywhere, ban, delete). */
    void (*disconnect_user)(void *ctx, const char *user_id);
    /* Untrack every socket of a user from the stream (mode, subject, "", "")
     * (a kicked or banned member leaves the group channel at once). */
    void (*stream_user_leave)(void *ctx, int mode, const char *subject, const char *user_id);
    /* A group membership message (ChannelMessage code 3 join .. 9 demote,
     * content {}, sender = the affected user): stored with db on the
     * calling worker thread (so this one blocks), then delivered to the
     * group channel's members. */
    void (*group_message)(void *ctx, tomo_dbconn *db, const char *group_id, int code,
                          const char *user_id, const char *username);
    /* Live sockets of a user right now (0: offline). Unlike the others it
     * answers at once from a snapshot (never waits for a loop). */
    int (*user_online)(void *ctx, const char *user_id);
    /* Deliver an envelope to every presence of the stream (mode, subject,
     * subcontext, label); "" for the parts a stream has not. */
    void (*to_stream)(void *ctx, int mode, const char *subject, const char *subcontext,
                      const char *label, struct json_t *envelope);
} tomo_svc_push;

/* The dependencies of the service layer (owned by the composition root,
 * serve.c; read-only after start-up). */
typedef struct tomo_svc {
    const tomo_config *cfg;
    tomo_db *db;
    tomo_svc_push push;
    /* Extension slots filled by later domains (friends, groups, ...): add a
     * field here rather than a global. */
    struct tomo_lb_state *lb; /* leaderboards and tournaments (svc/leaderboard.h) */
} tomo_svc;

#endif
