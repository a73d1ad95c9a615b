/* rt/svc_push.c: the realtime side of the service layer's push seam
 * (svc/svc.h tomo_svc_push): svc operations call it from worker threads
 * after their transaction committed; each call copies what it needs and
 * posts the delivery to the loop thread. */
#include "rt.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../svc/chat.h"
#include "online.h"
#include "rt_int.h"

typedef struct push_job {
    tomo_rt *rt;
    int kind, mode;
    char user_id[37];
    char subject[37], subcontext[37], label[256];
    json_t *env;
} push_job;

enum { JOB_TO_USER, JOB_DISCONNECT, JOB_STREAM_LEAVE, JOB_TO_STREAM };

static void on_loop(void *arg)
{
    push_job *j = arg;
    tomo_rt *rt = (j->rt);
    if (!rt || rt->stopping)
        goto out;
    tomo_rt_route_pump(rt);
    if (j->kind == JOB_TO_USER) {
        tomo_rt_send_to_user(j->rt, j->user_id, j->env);
    } else if (j->kind == JOB_DISCONNECT) {
        tomo_rt_disconnect_user(j->rt, j->user_id);
    } else if (j->kind == JOB_TO_STREAM) {
        tomo_stream st = {j->mode, j->subject, j->subcontext, j->label};
        tomo_rt_route_stream(rt, &st, j->env, NULL);
    } else {
        tomo_stream st = {j->mode, j->subject, "", ""};
        tomo_rt_user_stream_leave_local(rt, &st, j->user_id);
        if (rt->routing.user_stream_leave)
            rt->routing.user_stream_leave(rt->routing.ctx, rt, &st, j->user_id);
    }
out:
    json_decref(j->env);
    free(j);
}

static void post(tomo_rt *rt, int kind, int mode, const char *subject, const char *user_id,
                 json_t *env)
{
    if (!rt || !rt->loop || !user_id)
        return;
    push_job *j = tomo_xcalloc(1, sizeof(*j));
    j->rt = rt;
    j->kind = kind;
    j->mode = mode;
    snprintf(j->user_id, sizeof(j->user_id), "%s", user_id);
    snprintf(j->subject, sizeof(j->subject), "%s", subject ? subject : "");
    /* A deep copy: jansson reference counts are not atomic. */
    j->env = env ? json_deep_copy(env) : NULL;
    tomo_loop_post(rt->loop, on_loop, j);
}

static void to_stream(void *ctx, int mode, const char *subject, const char *subcontext,
                      const char *label, json_t *envelope)
{
    tomo_rt *rt = ctx;
    if (!rt || !rt->loop || !envelope)
        return;
    push_job *j = tomo_xcalloc(1, sizeof(*j));
    j->rt = rt;
    j->kind = JOB_TO_STREAM;
    j->mode = mode;
    snprintf(j->subject, sizeof(j->subject), "%s", subject ? subject : "");
    snprintf(j->subcontext, sizeof(j->subcontext), "%s", subcontext ? subcontext : "");
    snprintf(j->label, sizeof(j->label), "%s", label ? label : "");
    j->env = json_deep_copy(envelope);
    tomo_loop_post(rt->loop, on_loop, j);
}

static void to_user(void *ctx, const char *user_id, json_t *envelope)
{
    if (envelope)
        post(ctx, JOB_TO_USER, 0, NULL, user_id, envelope);
}

static void disconnect_user(void *ctx, const char *user_id)
{
    post(ctx, JOB_DISCONNECT, 0, NULL, user_id, NULL);
}

static void stream_user_leave(void *ctx, int mode, const char *subject, const char *user_id)
{
    post(ctx, JOB_STREAM_LEAVE, mode, subject, user_id, NULL);
}

static void group_message(void *ctx, tomo_dbconn *db, const char *group_id, int code,
                          const char *user_id, const char *username)
{
    tomo_chat_channel ch = {.mode = TOMO_CHAT_GROUP};
    snprintf(ch.subject, sizeof(ch.subject), "%s", group_id);
    char id[37], chid[TOMO_CHAT_ID_MAX];
    int64_t now = tomo_uuid_v7(id);
    tomo_chat_id_format(&ch, chid);
    /* A failed insert is logged by chat; members still see the event. */
    tomo_chat_message_insert(db, &ch, id, code, user_id, username ? username : "", "{}", now);
    json_t *m = tomo_chat_message_json(&ch, chid, id, code, user_id, username, "{}", now, now, 1);
    json_t *env = json_pack("{s:o}", "channel_message", m);
    post(ctx, JOB_TO_STREAM, TOMO_CHAT_GROUP, group_id, user_id, env);
    json_decref(env);
}

static int user_online(void *ctx, const char *user_id)
{
    (void)ctx;
    return tomo_rt_online_count(user_id);
}

void tomo_rt_svc_push_fill(tomo_rt *rt, tomo_svc_push *out)
{
    out->ctx = rt;
    out->to_user = to_user;
    out->disconnect_user = disconnect_user;
    out->stream_user_leave = stream_user_leave;
    out->group_message = group_message;
    out->user_online = user_online;
    out->to_stream = to_stream;
}
