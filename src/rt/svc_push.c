/* rt/svc_push.c: the realtime side of the service layer's push seam
 * (svc/svc.h tomo_svc_push): svc operations call it from worker threads
 * after their transaction committed; each call copies what it needs and
 * posts the delivery to the loop thread. */
#include "rt.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/common.h"
#include "rt_int.h"

typedef struct push_job {
    tomo_server *srv;
    int kind, mode;
    char user_id[37];
    char subject[37];
    json_t *env;
} push_job;

enum { JOB_TO_USER, JOB_DISCONNECT, JOB_STREAM_LEAVE };

static void on_loop(void *arg)
{
    push_job *j = arg;
    tomo_rt *rt = tomo_rt_of(j->srv);
    if (!rt || rt->stopping)
        goto out;
    if (j->kind == JOB_TO_USER) {
        tomo_rt_send_to_user(j->srv, j->user_id, j->env);
    } else if (j->kind == JOB_DISCONNECT) {
        tomo_rt_disconnect_user(j->srv, j->user_id);
    } else {
        tomo_stream st = {j->mode, j->subject, "", ""};
        for (tomo_rt_session *s = tomo_rt_session_first_of_user(j->srv, j->user_id); s;
             s = tomo_rt_session_next_of_user(s))
            tomo_tracker_untrack(rt->tracker, s, &st);
    }
out:
    json_decref(j->env);
    free(j);
}

static void post(tomo_server *srv, int kind, int mode, const char *subject, const char *user_id,
                 json_t *env)
{
    if (!srv || !srv->loop || !user_id)
        return;
    push_job *j = tomo_xcalloc(1, sizeof(*j));
    j->srv = srv;
    j->kind = kind;
    j->mode = mode;
    snprintf(j->user_id, sizeof(j->user_id), "%s", user_id);
    snprintf(j->subject, sizeof(j->subject), "%s", subject ? subject : "");
    /* A deep copy: jansson reference counts are not atomic. */
    j->env = env ? json_deep_copy(env) : NULL;
    tomo_loop_post(srv->loop, on_loop, j);
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

void tomo_rt_svc_push_fill(tomo_server *srv, tomo_svc_push *out)
{
    out->ctx = srv;
    out->to_user = to_user;
    out->disconnect_user = disconnect_user;
    out->stream_user_leave = stream_user_leave;
}
