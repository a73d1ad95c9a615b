/* A plugin using the ABI 1.2 services (streams, friends, groups, chat) and a
 * realtime before hook, for tests/integration/plugin.test.mjs. Each RPC
 * takes a small JSON payload and answers what the host returned. */
#include <tomo/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const tomo_host *H;

#define STREAM "{\"mode\":13,\"label\":\"plugin-stream\"}"

/* The string member key of the JSON payload (host->free), or NULL. */
static char *field(const char *payload, size_t len, const char *key)
{
    tomo_json *j = H->json_parse(payload, len);
    const char *s = H->json_string(H->json_get(j, key));
    char *out = s ? tomo_host_strdup(H, s) : NULL;
    H->json_free(j);
    return out;
}

/* Hand text (host memory) back as the RPC result. */
static int result(char *text, char **out, size_t *out_len)
{
    *out = text;
    *out_len = text ? strlen(text) : 0;
    return 0;
}

/* {"user_id","session_id"}: join the stream, send to it, count and list. */
static int stream_rpc(void *ud, const tomo_ctx *ctx, const char *payload, size_t len, char **out,
                      size_t *out_len, char **error)
{
    (void)ud;
    char *uid = field(payload, len, "user_id"), *sid = field(payload, len, "session_id");
    int joined = 0, rc;
    int64_t count = 0;
    char *list = NULL;
    rc = H->stream_user_join(ctx, uid, sid, STREAM, 0, 1, "busy", &joined, error);
    if (!rc)
        rc = H->stream_send(ctx, STREAM, "hello", 5, NULL, 1, error);
    if (!rc)
        rc = H->stream_count(ctx, STREAM, &count, error);
    if (!rc)
        rc = H->stream_user_list(ctx, STREAM, 1, 1, &list, error);
    H->free(uid);
    H->free(sid);
    if (rc)
        return rc;
    char buf[2048];
    snprintf(buf, sizeof(buf), "{\"joined\":%d,\"count\":%lld,\"list\":%s}", joined,
             (long long)count, list);
    H->free(list);
    return result(tomo_host_strdup(H, buf), out, out_len);
}

/* {"user_id","session_id"}: leave, then the count; a bad stream fails. */
static int stream_leave_rpc(void *ud, const tomo_ctx *ctx, const char *payload, size_t len,
                            char **out, size_t *out_len, char **error)
{
    (void)ud;
    char *uid = field(payload, len, "user_id"), *sid = field(payload, len, "session_id");
    int64_t count = -1;
    int rc = H->stream_user_leave(ctx, uid, sid, STREAM, error);
    if (!rc)
        rc = H->stream_count(ctx, STREAM, &count, error);
    H->free(uid);
    H->free(sid);
    if (rc)
        return rc;
    char *bad = NULL;
    int brc = H->stream_count(ctx, "{\"mode\":99}", &count, &bad);
    char buf[512];
    snprintf(buf, sizeof(buf), "{\"count\":%lld,\"bad_code\":%d,\"bad\":\"%s\"}",
             (long long)count, brc, bad ? bad : "");
    H->free(bad);
    return result(tomo_host_strdup(H, buf), out, out_len);
}

/* {"a","b","room"}: a befriends b, a creates a group and adds b, a chat
 * message goes to the room; every answer comes back. */
static int social_rpc(void *ud, const tomo_ctx *ctx, const char *payload, size_t len,
                      char **out, size_t *out_len, char **error)
{
    (void)ud;
    char *a = field(payload, len, "a"), *b = field(payload, len, "b");
    char *room = field(payload, len, "room");
    char ids[64], gname[96], gjson[256], chan[160];
    snprintf(ids, sizeof(ids), "[\"%s\"]", b ? b : "");
    snprintf(gname, sizeof(gname), "plugin-group-%.8s", a ? a : "");
    snprintf(gjson, sizeof(gjson),
             "{\"name\":\"%s\",\"description\":\"from C\",\"open\":true,"
             "\"metadata\":{\"k\":1},\"max_count\":10}",
             gname);
    snprintf(chan, sizeof(chan), "2...%s", room ? room : "");
    char *friends = NULL, *group = NULL, *users = NULL, *ugroups = NULL, *groups = NULL;
    char *ack = NULL, *gid = NULL;
    int rc = H->friends_add(ctx, a, NULL, ids, NULL, error);
    if (!rc)
        rc = H->friends_list(ctx, a, 100, -1, NULL, &friends, error);
    if (!rc)
        rc = H->group_create(ctx, a, gjson, &group, error);
    if (!rc) {
        gid = field(group, strlen(group), "id");
        rc = H->group_users_change(ctx, gid, "add", ids, error);
    }
    if (!rc)
        rc = H->group_users_list(ctx, gid, 100, -1, NULL, &users, error);
    if (!rc)
        rc = H->user_groups_list(ctx, b, 100, -1, NULL, &ugroups, error);
    if (!rc) {
        char gids[64];
        snprintf(gids, sizeof(gids), "[\"%s\"]", gid);
        rc = H->groups_get(ctx, gids, &groups, error);
    }
    if (!rc)
        rc = H->channel_message_send(ctx, chan, "{\"from\":\"plugin\"}", NULL, "plugin", 1, &ack,
                                     error);
    char *buf = NULL;
    if (!rc) {
        size_t n = strlen(friends) + strlen(group) + strlen(users) + strlen(ugroups) +
                   strlen(groups) + strlen(ack) + 128;
        buf = H->alloc(n);
        snprintf(buf, n,
                 "{\"friends\":%s,\"group\":%s,\"users\":%s,\"user_groups\":%s,\"groups\":%s,"
                 "\"ack\":%s}",
                 friends, group, users, ugroups, groups, ack);
    }
    char *bad = NULL;
    if (!rc && H->group_users_change(ctx, gid, "juggle", ids, &bad) != TOMO_CODE_INVALID_ARGUMENT)
        rc = TOMO_CODE_INTERNAL;
    H->free(bad);
    H->free(a);
    H->free(b);
    H->free(room);
    H->free(gid);
    H->free(friends);
    H->free(group);
    H->free(users);
    H->free(ugroups);
    H->free(groups);
    H->free(ack);
    if (rc) {
        H->free(buf);
        return rc;
    }
    return result(buf, out, out_len);
}

/* ChannelJoin before hook: a room named "blocked" is refused, one named
 * "rename-me" joins "renamed" instead. */
static int before_channel_join(void *ud, const tomo_ctx *ctx, const char *in, char **out,
                               char **error)
{
    (void)ud, (void)ctx;
    tomo_json *env = H->json_parse(in, strlen(in));
    tomo_json *join = H->json_get(env, "channel_join");
    const char *target = H->json_string(H->json_get(join, "target"));
    int rc = 0;
    if (target && !strcmp(target, "blocked")) {
        *error = tomo_host_strdup(H, "rooms named blocked are closed");
        rc = TOMO_CODE_PERMISSION_DENIED;
    } else if (target && !strcmp(target, "rename-me")) {
        H->json_set(join, "target", H->json_new_string("renamed"));
        *out = H->json_dump(env);
    }
    H->json_free(env);
    return rc;
}

int tomo_plugin_init(const tomo_host *host, tomo_plugin *self)
{
    TOMO_PLUGIN_DECLARE(host, self, "services");
    H = host;
    int rc = host->register_rpc(self, "svc_stream", stream_rpc, NULL);
    if (!rc)
        rc = host->register_rpc(self, "svc_stream_leave", stream_leave_rpc, NULL);
    if (!rc)
        rc = host->register_rpc(self, "svc_social", social_rpc, NULL);
    if (!rc)
        rc = host->register_rt_before(self, "ChannelJoin", before_channel_join, NULL);
    return rc;
}
