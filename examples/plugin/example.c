/* examples/plugin/example.c: a tomo C plugin.
 *
 *   cc -shared -fPIC -O2 -Wall -I<tomo>/include -o example.so example.c
 *
 * Put example.so in runtime.path (next to Lua modules, if any). It
 * registers:
 *   - RPC "example_echo": returns {"payload": <payload>, "user_id": <caller>}
 *   - RPC "example_fail": refuses with INVALID_ARGUMENT "example failure"
 *     (REST: HTTP 400 {"code":3,...}, as Nakama maps a runtime error code)
 *   - RPC "example_store": writes the payload (a JSON object) to storage
 *     collection "example", key "last", as the caller, and reads it back
 *   - RPC "example_match_create": creates an "example_match" match (the
 *     payload is its params) and returns {"match_id": ...}
 *   - a before hook on UpdateAccount: refuses the display name "forbidden"
 *     and prefixes any other display name with "plugin:"
 *   - match handler "example_match": an authoritative echo match (see below)
 * Only include/tomo/plugin.h is needed; the plugin links against nothing. */
#include <tomo/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const tomo_host *H; /* set once in init, read-only afterwards */

/* Hand text back to the host (allocated with host->alloc, as the ABI says). */
static char *give(const char *s) { return tomo_host_strdup(H, s); }

static int echo(void *ud, const tomo_ctx *ctx, const char *payload, size_t len, char **out,
                size_t *out_len, char **error)
{
    (void)ud;
    (void)len;
    (void)error;
    const char *uid = H->ctx_value(ctx, "user_id");
    tomo_json *o = H->json_object();
    H->json_set(o, "payload", H->json_new_string(payload));
    H->json_set(o, "user_id", uid ? H->json_new_string(uid) : H->json_null());
    char *text = H->json_dump(o);
    H->json_free(o);
    *out = give(text ? text : "{}");
    H->free(text);
    *out_len = strlen(*out);
    return 0;
}

static int fail(void *ud, const tomo_ctx *ctx, const char *payload, size_t len, char **out,
                size_t *out_len, char **error)
{
    (void)ud, (void)ctx, (void)payload, (void)len, (void)out, (void)out_len;
    *error = give("example failure");
    return TOMO_CODE_INVALID_ARGUMENT;
}

static int store(void *ud, const tomo_ctx *ctx, const char *payload, size_t len, char **out,
                 size_t *out_len, char **error)
{
    (void)ud;
    const char *uid = H->ctx_value(ctx, "user_id");
    if (!uid) {
        *error = give("a session is required");
        return TOMO_CODE_UNAUTHENTICATED;
    }
    tomo_json *value = H->json_parse(payload, len);
    if (H->json_type(value) != TOMO_JSON_OBJECT) {
        H->json_free(value);
        *error = give("expects a JSON object");
        return TOMO_CODE_INVALID_ARGUMENT;
    }
    tomo_json *obj = H->json_object(), *objs = H->json_array();
    H->json_set(obj, "collection", H->json_new_string("example"));
    H->json_set(obj, "key", H->json_new_string("last"));
    H->json_set(obj, "user_id", H->json_new_string(uid));
    H->json_set(obj, "value", value);
    H->json_append(objs, obj);
    char *text = H->json_dump(objs);
    H->json_free(objs);
    char *acks = NULL;
    int rc = H->storage_write(ctx, text, &acks, error); /* errors pass straight through */
    H->free(text);
    H->free(acks);
    if (rc)
        return rc;
    char ids[160];
    snprintf(ids, sizeof(ids), "[{\"collection\":\"example\",\"key\":\"last\",\"user_id\":\"%s\"}]",
             uid);
    char *objects = NULL;
    rc = H->storage_read(ctx, ids, &objects, error);
    if (rc)
        return rc;
    *out = give(objects);
    *out_len = strlen(*out);
    H->free(objects);
    return 0;
}

static int create_match(void *ud, const tomo_ctx *ctx, const char *payload, size_t len, char **out,
                        size_t *out_len, char **error)
{
    (void)ud;
    char *id = NULL;
    int rc = H->match_create(ctx, "example_match", len ? payload : NULL, &id, error);
    if (rc)
        return rc;
    tomo_json *o = H->json_object();
    H->json_set(o, "match_id", H->json_new_string(id));
    H->free(id);
    char *text = H->json_dump(o);
    H->json_free(o);
    *out = give(text);
    H->free(text);
    *out_len = strlen(*out);
    return 0;
}

static int before_update_account(void *ud, const tomo_ctx *ctx, const char *in, char **out,
                                 char **error)
{
    (void)ud;
    (void)ctx;
    tomo_json *req = H->json_parse(in, strlen(in));
    const char *name = H->json_string(H->json_get(req, "display_name"));
    int rc = 0;
    if (name && !strcmp(name, "forbidden")) {
        *error = give("display name not allowed");
        rc = TOMO_CODE_INVALID_ARGUMENT;
    } else if (name) {
        char buf[300];
        snprintf(buf, sizeof(buf), "plugin:%s", name);
        H->json_set(req, "display_name", H->json_new_string(buf));
        char *text = H->json_dump(req);
        *out = give(text);
        H->free(text);
    }
    H->json_free(req);
    return rc;
}

/* ---- the authoritative match "example_match" ----
 * Label {"kind":"example"}; 10 ticks a second. A join with metadata
 * {"deny":"yes"} is refused. Every message is echoed to everyone with
 * op_code + 1 and its sender; op_code 99 ends the match. A signal answers
 * "tick=<n> players=<n>". The match ends when the last player leaves. */

typedef struct state {
    int players;
    int done;
} state;

static int m_init(void *ud, tomo_match *m, const char *params, void **st, int *tick_rate,
                  char *label, size_t label_len)
{
    (void)ud, (void)m, (void)params;
    *st = calloc(1, sizeof(state));
    if (!*st)
        return TOMO_CODE_RESOURCE_EXHAUSTED;
    *tick_rate = 10;
    snprintf(label, label_len, "{\"kind\":\"example\"}");
    return 0;
}

static int m_join_attempt(void *ud, tomo_match *m, void **st, const tomo_presence *p,
                          const char *metadata, int *accept, char *reason, size_t reason_len)
{
    (void)ud, (void)st, (void)p;
    tomo_json *md = H->json_parse(metadata, strlen(metadata));
    const char *deny = H->json_string(H->json_get(md, "deny"));
    *accept = !(deny && (!strcmp(deny, "yes") || !strcmp(deny, "addr")));
    if (!*accept && !strcmp(deny, "addr") && TOMO_HAS(H, tomo_host, match_ctx)) {
        /* ABI 1.3: the joining socket's address, as Lua's ctx.client_ip */
        const tomo_ctx *ctx = H->match_ctx(m);
        const char *ip = H->ctx_value(ctx, "client_ip"), *port = H->ctx_value(ctx, "client_port");
        snprintf(reason, reason_len, "denied from %s:%s", ip ? ip : "?", port ? port : "?");
    } else if (!*accept) {
        snprintf(reason, reason_len, "denied by the example");
    }
    H->json_free(md);
    return 0;
}

static int m_join(void *ud, tomo_match *m, void **st, const tomo_presence *const *ps, size_t n)
{
    (void)ud, (void)m, (void)ps;
    ((state *)*st)->players += (int)n;
    return 0;
}

static int m_leave(void *ud, tomo_match *m, void **st, const tomo_presence *const *ps, size_t n)
{
    (void)ud, (void)m, (void)ps;
    state *s = *st;
    s->players -= (int)n;
    if (s->players <= 0)
        s->done = 1;
    return 0;
}

static int m_loop(void *ud, tomo_match *m, void **st, const tomo_match_data *const *msgs, size_t n)
{
    (void)ud;
    state *s = *st;
    for (size_t i = 0; i < n; i++) {
        if (msgs[i]->op_code == 99)
            s->done = 1;
        else
            H->match_broadcast(m, msgs[i]->op_code + 1, msgs[i]->data, msgs[i]->len, NULL, 0,
                               msgs[i]->sender, 1);
    }
    if (s->done) {
        free(s);
        *st = NULL; /* ends the match */
    }
    return 0;
}

static int m_signal(void *ud, tomo_match *m, void **st, const char *data, char **result)
{
    (void)ud, (void)data;
    char buf[64];
    snprintf(buf, sizeof(buf), "tick=%lld players=%d", (long long)H->match_tick(m),
             ((state *)*st)->players);
    *result = give(buf);
    return 0;
}

static int m_terminate(void *ud, tomo_match *m, void **st, int grace_seconds)
{
    (void)ud, (void)m, (void)grace_seconds;
    free(*st);
    *st = NULL;
    return 0;
}

int tomo_plugin_init(const tomo_host *host, tomo_plugin *self)
{
    TOMO_PLUGIN_DECLARE(host, self, "example");
    H = host;
    static const tomo_match_fns match = {
        .size = sizeof(tomo_match_fns),
        .init = m_init,
        .join_attempt = m_join_attempt,
        .join = m_join,
        .leave = m_leave,
        .loop = m_loop,
        .signal = m_signal,
        .terminate = m_terminate,
    };
    int rc = 0;
    if (!rc)
        rc = host->register_rpc(self, "example_echo", echo, NULL);
    if (!rc)
        rc = host->register_rpc(self, "example_fail", fail, NULL);
    if (!rc)
        rc = host->register_rpc(self, "example_store", store, NULL);
    if (!rc)
        rc = host->register_rpc(self, "example_match_create", create_match, NULL);
    if (!rc)
        rc = host->register_before(self, "UpdateAccount", before_update_account, NULL);
    if (!rc)
        rc = host->register_match(self, "example_match", &match, NULL);
    host->log(self, TOMO_PLUGIN_LOG_INFO,
              rc ? "example plugin failed to register" : "example plugin registered");
    return rc;
}
