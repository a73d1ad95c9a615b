/* tomo/plugin.h: the C plugin ABI of tomo, the only header a plugin needs.
 *
 * A plugin is a shared object (*.so) in runtime.path. It exports exactly one
 * symbol:
 *
 *     int tomo_plugin_init(const tomo_host *host, tomo_plugin *self);
 *
 * whose first statement is TOMO_PLUGIN_DECLARE(host, self, "name"): it
 * tells the host which ABI the plugin was built against. init then
 * registers RPCs, hooks and match handlers through the host table and
 * returns 0 (any other value refuses the load: start-up fails).
 *
 * Versions. TOMO_PLUGIN_ABI_MAJOR.MINOR below is the ABI this header
 * describes. A plugin built for major N loads on every tomo whose ABI major
 * is N and whose minor is at least the plugin's; anything else is refused
 * at load with an error naming both versions (never a crash). Minor
 * versions only append members at the end of tomo_host and of the structs
 * marked "grows at the end"; each of those carries its size, so a newer
 * host reads an older plugin's struct correctly (and a plugin checks a
 * newer member with TOMO_HAS before reading it).
 *
 * History: 1.0 first ABI. 1.1 appends host->match_create and
 * tomo_presence.reason. 1.2 appends streams (stream_user_join ..
 * stream_close), friends (friends_list .. friends_block), groups
 * (group_create .. groups_get) and channel_message_send. 1.3 appends
 * match_ctx (a match call's context, for ctx_value), whose join_attempt
 * context also carries the joining socket's client_ip and client_port. The
 * first members of
 * tomo_host (size, abi_major, abi_minor, declare) never move in any major.
 *
 * Memory. Every pointer the host passes in (payloads, JSON text, ctx
 * strings) is borrowed for the duration of the call: copy what you keep.
 * Every pointer the plugin hands to the host to own (RPC results, hook
 * replacements, error messages, signal results) is allocated with
 * host->alloc; the host frees it. Every pointer the host hands to the
 * plugin to own (service results, service error messages, json_dump text)
 * is released by the plugin with host->free (tomo_json values with
 * host->json_free). ud pointers given at registration stay the plugin's;
 * the host never frees them and never unloads a plugin (no dlclose).
 *
 * Threads. tomo_plugin_init runs once, on the main thread, before the
 * server accepts connections; register_* may be called only from it. RPCs
 * and hooks run on the worker pool, many at once on different threads (as
 * Lua code would): a plugin's own shared state needs its own locks. Every
 * function of one match runs on that match's own thread, one call at a time.
 * Services and json helpers may be called from any of those calls; the
 * services block on the database (they never run on a loop thread).
 *
 * Errors. Callbacks return 0 for success, or a gRPC status code 1..16 with
 * *error set to a message (host->alloc'd, may stay NULL): the client gets
 * Nakama's mapping for it (REST: code 5 is HTTP 404, 3 is 400, 7 is 403, 16
 * is 401, ...; the realtime socket as for Lua). Any other value is an
 * internal error (code 13), logged. Services return 0 or a gRPC code 1..16
 * with *error (if not NULL) a host->alloc'd message: a plugin may pass both
 * straight back from its own callback. */
#ifndef TOMO_PLUGIN_H
#define TOMO_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TOMO_PLUGIN_ABI_MAJOR 1
#define TOMO_PLUGIN_ABI_MINOR 3

/* gRPC status codes (Nakama's error codes). */
enum {
    TOMO_CODE_OK = 0,
    TOMO_CODE_CANCELED = 1,
    TOMO_CODE_UNKNOWN = 2,
    TOMO_CODE_INVALID_ARGUMENT = 3,
    TOMO_CODE_DEADLINE_EXCEEDED = 4,
    TOMO_CODE_NOT_FOUND = 5,
    TOMO_CODE_ALREADY_EXISTS = 6,
    TOMO_CODE_PERMISSION_DENIED = 7,
    TOMO_CODE_RESOURCE_EXHAUSTED = 8,
    TOMO_CODE_FAILED_PRECONDITION = 9,
    TOMO_CODE_ABORTED = 10,
    TOMO_CODE_OUT_OF_RANGE = 11,
    TOMO_CODE_UNIMPLEMENTED = 12,
    TOMO_CODE_INTERNAL = 13,
    TOMO_CODE_UNAVAILABLE = 14,
    TOMO_CODE_DATA_LOSS = 15,
    TOMO_CODE_UNAUTHENTICATED = 16,
};

/* A before hook returning this rejects the request as a Lua hook returning
 * nil does (REST: 404 "Requested resource was not found."; realtime: the
 * socket gets error code 1 and is closed). */
#define TOMO_PLUGIN_DROP 100

/* Log levels for host->log. */
enum { TOMO_PLUGIN_LOG_DEBUG = 0, TOMO_PLUGIN_LOG_INFO, TOMO_PLUGIN_LOG_WARN, TOMO_PLUGIN_LOG_ERROR };

/* JSON value types (host->json_type). */
enum {
    TOMO_JSON_INVALID = 0,
    TOMO_JSON_NULL,
    TOMO_JSON_BOOL,
    TOMO_JSON_INTEGER,
    TOMO_JSON_REAL,
    TOMO_JSON_STRING,
    TOMO_JSON_ARRAY,
    TOMO_JSON_OBJECT,
};

typedef struct tomo_host tomo_host;
typedef struct tomo_plugin tomo_plugin; /* host-owned handle of this plugin */
typedef struct tomo_ctx tomo_ctx;       /* host-owned: one call's context */
typedef struct tomo_json tomo_json;     /* a JSON value (see the json_* helpers) */
typedef struct tomo_match tomo_match;   /* host-owned: a match, valid for one call */

/* ---- callbacks the plugin implements ---- */

/* An RPC: payload (len bytes, may be binary, then a NUL; borrowed). On success *out
 * (host->alloc'd, may stay NULL for an empty result) and *out_len. */
typedef int (*tomo_rpc_fn)(void *ud, const tomo_ctx *ctx, const char *payload, size_t len,
                           char **out, size_t *out_len, char **error);

/* A before hook: in is the request as JSON text (the gRPC request message
 * in protojson for API hooks, the envelope for realtime hooks). Return 0 to
 * go on, with *out NULL (the request unchanged) or a replacement (JSON text,
 * host->alloc'd); TOMO_PLUGIN_DROP to reject; a gRPC code to fail it. */
typedef int (*tomo_before_fn)(void *ud, const tomo_ctx *ctx, const char *in, char **out,
                              char **error);

/* An after hook: out is the response (JSON text, "{}" when there is none),
 * in the request. A non-zero result is logged only. */
typedef int (*tomo_after_fn)(void *ud, const tomo_ctx *ctx, const char *out, const char *in);

/* A presence in a match (borrowed strings). Grows at the end: read a
 * member past user_id..node only when size covers it
 * (TOMO_HAS(p, tomo_presence, reason)). */
typedef struct tomo_presence {
    size_t size; /* sizeof(tomo_presence) as the host built it */
    const char *user_id, *session_id, *username, *node;
    /* 1.1: join/leave only: 0 unknown, 1 join, 2 update, 3 leave,
     * 4 disconnect (Nakama's presence reason); 0 elsewhere */
    int reason;
} tomo_presence;

/* A message received by the match (borrowed). Grows at the end. */
typedef struct tomo_match_data {
    size_t size;
    const tomo_presence *sender;
    int64_t op_code;
    const uint8_t *data;
    size_t len;
    int reliable;
    int64_t receive_time_ms;
} tomo_match_data;

/* An authoritative match handler (Nakama's match handler functions). The
 * plugin fills it; grows at the end (set size = sizeof(tomo_match_fns)).
 * *state is the plugin's, created by init and freed by the plugin when
 * loop sets it to NULL (the match ends) or in terminate. params and
 * metadata are JSON text (never NULL, "{}" when absent). Every member is
 * required except signal and terminate. */
typedef struct tomo_match_fns {
    size_t size;
    /* Set *tick_rate (1..60) and write the label (<= label_len-1 bytes,
     * may stay ""). */
    int (*init)(void *ud, tomo_match *m, const char *params, void **state, int *tick_rate,
                char *label, size_t label_len);
    /* *accept 1 or 0; a refusal may write a reason. */
    int (*join_attempt)(void *ud, tomo_match *m, void **state, const tomo_presence *p,
                        const char *metadata, int *accept, char *reason, size_t reason_len);
    int (*join)(void *ud, tomo_match *m, void **state, const tomo_presence *const *ps, size_t n);
    int (*leave)(void *ud, tomo_match *m, void **state, const tomo_presence *const *ps, size_t n);
    /* Once per tick with the messages since the last one; setting *state to
     * NULL ends the match (free it first). */
    int (*loop)(void *ud, tomo_match *m, void **state, const tomo_match_data *const *msgs,
                size_t n);
    /* *result: host->alloc'd or NULL. */
    int (*signal)(void *ud, tomo_match *m, void **state, const char *data, char **result);
    int (*terminate)(void *ud, tomo_match *m, void **state, int grace_seconds);
} tomo_match_fns;

/* ---- the host table ---- */

struct tomo_host {
    /* -- never moves in any major -- */
    size_t size;         /* sizeof(tomo_host) as the host built it */
    uint32_t abi_major;  /* the ABI the host implements */
    uint32_t abi_minor;
    /* Declare the ABI the plugin was built with and its name (for logs and
     * errors; NULL = the file name). Returns 0, or non-zero when the host
     * cannot load it (then init must return that value at once and call
     * nothing else). */
    int (*declare)(tomo_plugin *self, uint32_t abi_major, uint32_t abi_minor, const char *name);

    /* -- ABI 1.0 -- */
    const char *version; /* tomo's version, e.g. "0.1.0" */

    /* Memory for everything that crosses to the other side's ownership. */
    void *(*alloc)(size_t n);
    void (*free)(void *p);

    /* The server log, as the plugin (subsystem "plugin", name=...). */
    void (*log)(tomo_plugin *self, int level, const char *msg);

    /* Registration (tomo_plugin_init only). ids and names are copied and
     * case-blind. An id or hook registered twice (by two plugins, or a
     * plugin and a Lua module) fails start-up naming both. Return 0 or
     * TOMO_CODE_INVALID_ARGUMENT / TOMO_CODE_ALREADY_EXISTS (start-up will fail). */
    int (*register_rpc)(tomo_plugin *self, const char *id, tomo_rpc_fn fn, void *ud);
    /* API hooks by gRPC method name ("AuthenticateDevice", "WriteStorageObjects"). */
    int (*register_before)(tomo_plugin *self, const char *method, tomo_before_fn fn, void *ud);
    int (*register_after)(tomo_plugin *self, const char *method, tomo_after_fn fn, void *ud);
    /* Realtime hooks by envelope name ("ChannelJoin" or "channel_join"). */
    int (*register_rt_before)(tomo_plugin *self, const char *type, tomo_before_fn fn, void *ud);
    int (*register_rt_after)(tomo_plugin *self, const char *type, tomo_after_fn fn, void *ud);
    /* An authoritative match handler for module name (match_create(name)
     * from the runtime or the matchmaker). fns is copied (fns->size bytes). */
    int (*register_match)(tomo_plugin *self, const char *module, const tomo_match_fns *fns,
                          void *ud);

    /* The call's context: a borrowed string or NULL when absent. Keys:
     * "user_id", "username", "session_id", "lang", "client_ip",
     * "client_port", "execution_mode" ("rpc", "before", "after", "match"),
     * "node", "user_session_exp" (unix seconds), "vars.<name>",
     * "env.<name>" (runtime.env); in match calls "match_id",
     * "match_label", "match_tick_rate" (and in join_attempt the joining
     * session's "vars.<name>", "user_session_exp", "client_ip" and
     * "client_port"); a match call's ctx comes from match_ctx (ABI 1.3).
     * Unknown keys give
     * NULL, so a key added by a later tomo is simply absent on an older one. */
    const char *(*ctx_value)(const tomo_ctx *ctx, const char *key);

    /* JSON helpers (jansson semantics). Values are reference counted:
     * parse and new_* return one reference the caller owns; get/at return
     * borrowed ones valid while the container lives; set/append take the
     * value's reference (even on failure). */
    tomo_json *(*json_parse)(const char *text, size_t len); /* NULL when invalid */
    char *(*json_dump)(const tomo_json *v);                 /* compact text, host->free */
    void (*json_free)(tomo_json *v);                        /* NULL is a no-op */
    int (*json_type)(const tomo_json *v);                   /* TOMO_JSON_* */
    tomo_json *(*json_get)(const tomo_json *object, const char *key);
    tomo_json *(*json_at)(const tomo_json *array, size_t i);
    size_t (*json_size)(const tomo_json *v); /* object members, array items, string bytes */
    const char *(*json_string)(const tomo_json *v); /* NULL when not a string */
    int64_t (*json_integer)(const tomo_json *v);    /* 0 when not an integer */
    double (*json_number)(const tomo_json *v);      /* integer or real, else 0 */
    int (*json_bool)(const tomo_json *v);           /* 1 for true */
    tomo_json *(*json_object)(void);
    tomo_json *(*json_array)(void);
    tomo_json *(*json_new_string)(const char *s); /* NULL when not UTF-8 */
    tomo_json *(*json_new_integer)(int64_t v);
    tomo_json *(*json_new_real)(double v);
    tomo_json *(*json_new_bool)(int v);
    tomo_json *(*json_null)(void);
    int (*json_set)(tomo_json *object, const char *key, tomo_json *v);
    int (*json_append)(tomo_json *array, tomo_json *v);

    /* Services, as the system (the runtime's caller: any user, Nakama's
     * client permissions not applied). Inputs are borrowed JSON text; *out
     * gets the result as JSON text (host->free), in Nakama's protojson
     * shapes (the ones the REST API returns). */
    /* ids: [{"collection","key","user_id"?}]; *out: {"objects":[...]}. */
    int (*storage_read)(const tomo_ctx *ctx, const char *ids, char **out, char **error);
    /* objects: [{"collection","key","user_id"?,"value" (object or its
     * text),"version"?,"permission_read"?,"permission_write"?}];
     * *out: {"acks":[...]}. */
    int (*storage_write)(const tomo_ctx *ctx, const char *objects, char **out, char **error);
    /* ids: [{"collection","key","user_id"?,"version"?}]. */
    int (*storage_delete)(const tomo_ctx *ctx, const char *ids, char **error);
    /* user_id NULL/"" = every owner; limit 1..100; cursor NULL = start.
     * *out: {"objects":[...],"cursor"?}. */
    int (*storage_list)(const tomo_ctx *ctx, const char *collection, const char *user_id,
                        int limit, const char *cursor, char **out, char **error);
    /* *out: the Account message. */
    int (*account_get)(const tomo_ctx *ctx, const char *user_id, char **out, char **error);
    /* ids / usernames: JSON arrays of strings (NULL = none);
     * *out: {"users":[...]}. */
    int (*users_get)(const tomo_ctx *ctx, const char *ids, const char *usernames, char **out,
                     char **error);
    /* content: a JSON object's text; sender_id NULL = the system. Stored
     * when persistent, pushed to the user's live sockets. */
    int (*notification_send)(const tomo_ctx *ctx, const char *user_id, const char *subject,
                             const char *content, int code, const char *sender_id,
                             int persistent, char **error);
    /* changeset: {"coins": 10, ...}; metadata: object text or NULL.
     * *out: {"updated":{...},"previous":{...}}. */
    int (*wallet_update)(const tomo_ctx *ctx, const char *user_id, const char *changeset,
                         const char *metadata, int update_ledger, char **out, char **error);
    /* operator: "" (the board's), "best", "set", "incr", "decr";
     * metadata: object text or NULL. *out: the LeaderboardRecord. */
    int (*leaderboard_record_write)(const tomo_ctx *ctx, const char *id, const char *owner_id,
                                    const char *username, int64_t score, int64_t subscore,
                                    const char *metadata, const char *op, char **out,
                                    char **error);

    /* Match calls (from inside that match's handler calls only). presences
     * NULL = every presence in the match; a list (n may be 0: nobody)
     * reaches those of them still in it; sender may be NULL. They return 0,
     * TOMO_CODE_RESOURCE_EXHAUSTED (a queue or the label is too big) or
     * TOMO_CODE_FAILED_PRECONDITION (the match has stopped). */
    int (*match_broadcast)(tomo_match *m, int64_t op_code, const void *data, size_t len,
                           const tomo_presence *const *presences, size_t n,
                           const tomo_presence *sender, int reliable);
    int (*match_kick)(tomo_match *m, const tomo_presence *const *presences, size_t n);
    int (*match_label_update)(tomo_match *m, const char *label);
    const char *(*match_id)(const tomo_match *m); /* "<uuid>.<node>", borrowed */
    int64_t (*match_tick)(const tomo_match *m);    /* 0 during init */

    /* -- ABI 1.1 -- */
    /* Create an authoritative match of module (a plugin's register_match
     * name or a Lua match module) with params (object text or NULL); its
     * init runs on the calling thread. *match_id: "<uuid>.<node>"
     * (host->free). Errors: TOMO_CODE_NOT_FOUND (no such module), else the
     * reason in *error. From RPCs and hooks (not from a match's own calls). */
    int (*match_create)(const tomo_ctx *ctx, const char *module, const char *params,
                        char **match_id, char **error);
    /* -- ABI 1.2 -- */
    /* Streams (Nakama's stream_* functions) on this node's live sockets.
     * stream: a JSON object's text {"mode": 0..15, "subject"?,
     * "subcontext"? (UUIDs), "label"?}. From RPCs, hooks and match calls. */
    /* *joined: 1 when the session joined, 0 when it was on the stream. */
    int (*stream_user_join)(const tomo_ctx *ctx, const char *user_id, const char *session_id,
                            const char *stream, int hidden, int persistence, const char *status,
                            int *joined, char **error);
    int (*stream_user_leave)(const tomo_ctx *ctx, const char *user_id, const char *session_id,
                             const char *stream, char **error);
    /* *out: [{"user_id","session_id","node","hidden","persistence",
     * "username","status"}]. */
    int (*stream_user_list)(const tomo_ctx *ctx, const char *stream, int include_hidden,
                            int include_not_hidden, char **out, char **error);
    int (*stream_count)(const tomo_ctx *ctx, const char *stream, int64_t *count, char **error);
    /* data: len bytes of UTF-8 text (a stream_data envelope's data);
     * session_ids: a JSON array of the session ids to reach, NULL = every
     * presence. */
    int (*stream_send)(const tomo_ctx *ctx, const char *stream, const char *data, size_t len,
                       const char *session_ids, int reliable, char **error);
    /* Every presence leaves the stream. */
    int (*stream_close)(const tomo_ctx *ctx, const char *stream, char **error);

    /* Friends of user_id (Nakama's friends_*). state -1 = every state;
     * limit 1..1000; cursor NULL = start. *out: {"friends":[{user, state,
     * update_time, metadata? (JSON text, when not {})}],"cursor"?}. */
    int (*friends_list)(const tomo_ctx *ctx, const char *user_id, int limit, int state,
                        const char *cursor, char **out, char **error);
    /* user_id (username NULL = looked up) adds, deletes or blocks the users
     * of ids and usernames (JSON arrays of strings, NULL = none). */
    int (*friends_add)(const tomo_ctx *ctx, const char *user_id, const char *username,
                       const char *ids, const char *usernames, char **error);
    int (*friends_delete)(const tomo_ctx *ctx, const char *user_id, const char *username,
                          const char *ids, const char *usernames, char **error);
    int (*friends_block)(const tomo_ctx *ctx, const char *user_id, const char *username,
                         const char *ids, const char *usernames, char **error);

    /* Groups (Nakama's group_* functions, as the system). group: a JSON
     * object's text {"name", "description"?, "lang_tag"?, "avatar_url"?,
     * "open"?, "metadata"? (object), "max_count"?}; creator_id becomes its
     * superadmin. *out: the Group. */
    int (*group_create)(const tomo_ctx *ctx, const char *creator_id, const char *group,
                        char **out, char **error);
    int (*group_delete)(const tomo_ctx *ctx, const char *group_id, char **error);
    /* op: "add", "kick", "ban", "promote" or "demote"; user_ids: a JSON
     * array of strings. */
    int (*group_users_change)(const tomo_ctx *ctx, const char *group_id, const char *op,
                              const char *user_ids, char **error);
    /* state -1 = every state; limit 1..100. *out: {"group_users":[{user,
     * state}],"cursor"?} / {"user_groups":[{group, state}],"cursor"?}. */
    int (*group_users_list)(const tomo_ctx *ctx, const char *group_id, int limit, int state,
                            const char *cursor, char **out, char **error);
    int (*user_groups_list)(const tomo_ctx *ctx, const char *user_id, int limit, int state,
                            const char *cursor, char **out, char **error);
    /* ids: a JSON array of group ids. *out: {"groups":[...]}. */
    int (*groups_get)(const tomo_ctx *ctx, const char *ids, char **out, char **error);

    /* A chat message on channel_id (as nk.channel_message_send): content a
     * JSON object's text (NULL = {}), sender_id NULL = the system,
     * persist: kept in the history. *out: the ChannelMessageAck. */
    int (*channel_message_send)(const tomo_ctx *ctx, const char *channel_id, const char *content,
                                const char *sender_id, const char *username, int persist,
                                char **out, char **error);
    /* -- ABI 1.3 -- */
    /* The context of the match call m is passed to (borrowed, valid for that
     * call): for ctx_value (match_id, match_label, match_tick_rate, node,
     * env.*; in join_attempt also the joiner's vars.*, user_session_exp,
     * client_ip and client_port, as Lua's match_join_attempt ctx) and for
     * the services. Check TOMO_HAS(host, tomo_host, match_ctx) first when
     * the plugin also loads on 1.2 hosts. */
    const tomo_ctx *(*match_ctx)(const tomo_match *m);
    /* -- later minors append here -- */
};

/* The one symbol a plugin exports. */
int tomo_plugin_init(const tomo_host *host, tomo_plugin *self);

/* The first statement of tomo_plugin_init. */
#define TOMO_PLUGIN_DECLARE(host, self, name)                                                     \
    do {                                                                                          \
        int tomo_declared_ = (host)->declare((self), TOMO_PLUGIN_ABI_MAJOR,                       \
                                             TOMO_PLUGIN_ABI_MINOR, (name));                      \
        if (tomo_declared_)                                                                       \
            return tomo_declared_;                                                                \
    } while (0)

/* 1 when a struct that grows at the end, of the given size field, holds
 * member (a host or plugin built for an older minor has a smaller size). */
#define TOMO_HAS(ptr, type, member) ((ptr)->size >= offsetof(type, member) + sizeof((ptr)->member))

/* Copy s (NUL-terminated) into host memory, for *out / *error. */
static inline char *tomo_host_strdup(const tomo_host *host, const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    char *p = (char *)host->alloc(n + 1);
    if (p)
        for (size_t i = 0; i <= n; i++)
            p[i] = s[i];
    return p;
}

#ifdef __cplusplus
}
#endif

#endif
