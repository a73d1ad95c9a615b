/* net/loop.c: loop wrapper, post queue (mutex + uv_async), worker pool. */
#include "loop.h"

#include "../core/common.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct post {
    tomo_fn fn;
    void *arg;
    struct post *next;
} post;

struct tomo_loop {
    uv_loop_t uv;
    uv_async_t async;
    pthread_mutex_t mu;
    post *head, *tail;
    int closed;
};

static __thread tomo_loop *t_loop; /* the loop this thread runs */

tomo_loop *tomo_loop_current(void) { return t_loop; }

static void drain(uv_async_t *a)
{
    tomo_loop *l = a->data;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        post *p = l->head;
        l->head = l->tail = NULL;
        pthread_mutex_unlock(&l->mu);
        if (!p)
            return;
        while (p) {
            post *n = p->next;
            p->fn(p->arg);
            free(p);
            p = n;
        }
    }
}

tomo_loop *tomo_loop_new(void)
{
    tomo_loop *l = tomo_xcalloc(1, sizeof(*l));
    uv_loop_init(&l->uv);
    pthread_mutex_init(&l->mu, NULL);
    uv_async_init(&l->uv, &l->async, drain);
    l->async.data = l;
    return l;
}

uv_loop_t *tomo_loop_uv(tomo_loop *l) { return &l->uv; }

void tomo_loop_post(tomo_loop *l, tomo_fn fn, void *arg)
{
    post *p = tomo_xmalloc(sizeof(*p));
    p->fn = fn;
    p->arg = arg;
    p->next = NULL;
    pthread_mutex_lock(&l->mu);
    if (l->tail)
        l->tail->next = p;
    else
        l->head = p;
    l->tail = p;
    int closed = l->closed;
    pthread_mutex_unlock(&l->mu);
    /* A closed loop keeps the post for tomo_loop_drain / tomo_loop_free. */
    if (!closed)
        uv_async_send(&l->async);
}

int tomo_loop_run(tomo_loop *l)
{
    tomo_loop *prev = t_loop;
    t_loop = l;
    int rc = uv_run(&l->uv, UV_RUN_DEFAULT);
    t_loop = prev;
    return rc;
}

void tomo_loop_drain(tomo_loop *l)
{
    tomo_loop *prev = t_loop;
    t_loop = l;
    drain(&l->async);
    t_loop = prev;
}

void tomo_loop_close(tomo_loop *l)
{
    pthread_mutex_lock(&l->mu);
    int was = l->closed;
    l->closed = 1;
    pthread_mutex_unlock(&l->mu);
    if (!was) {
        drain(&l->async);
        uv_close((uv_handle_t *)&l->async, NULL);
    }
}

void tomo_loop_free(tomo_loop *l)
{
    if (!l)
        return;
    tomo_loop_close(l);
    uv_run(&l->uv, UV_RUN_NOWAIT);
    drain(&l->async);
    uv_loop_close(&l->uv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* ---- worker pool ---- */

typedef struct job {
    tomo_fn work, done;
    void *arg;
    tomo_loop *loop; /* where done runs */
    struct job *next;
} job;

struct tomo_pool {
    tomo_loop *loop;
    pthread_t *threads;
    int nthreads, max_queue, queued, running, stopping;
    int started; /* workers whose init hook finished (under mu) */
    /* Workers blocked in cond_wait, and signals sent to them that they have
     * not yet woken from: a submit wakes a worker only when an idle one is
     * not already on its way (each wake is a futex call and a context
     * switch, the dominant cost of a short job on a small box). */
    int idle, signalled;
    tomo_pool_hooks hooks;
    pthread_mutex_t mu;
    pthread_cond_t cv, started_cv;
    job *head, *tail;
};

static __thread int t_worker_index = -1;
static __thread void *t_worker_data;

int tomo_pool_worker_index(void) { return t_worker_index; }
void *tomo_pool_worker_data(void) { return t_worker_data; }

typedef struct wstart {
    tomo_pool *p;
    int idx;
} wstart;

static void *worker_main(void *a)
{
    wstart *ws = a;
    tomo_pool *p = ws->p;
    int idx = ws->idx;
    t_worker_index = idx;
    free(ws);
    if (p->hooks.init)
        t_worker_data = p->hooks.init(idx, p->hooks.arg);
    pthread_mutex_lock(&p->mu);
    p->started++;
    pthread_cond_broadcast(&p->started_cv);
    pthread_mutex_unlock(&p->mu);
    /* One critical section per job: the finished job's bookkeeping and the
     * next job's dequeue share it. */
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping) {
            p->idle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->idle--;
            if (p->signalled > 0)
                p->signalled--;
        }
        job *j = p->head;
        if (!j)
            break;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        p->running++;
        /* More work queued: pass the wake-up on (a submitter wakes one
         * worker at a time). */
        int wake = p->head && p->idle > p->signalled;
        if (wake)
            p->signalled++;
        pthread_mutex_unlock(&p->mu);
        if (wake)
            pthread_cond_signal(&p->cv);
        j->work(j->arg);
        if (j->done)
            tomo_loop_post(j->loop, j->done, j->arg);
        free(j);
        pthread_mutex_lock(&p->mu);
        p->running--;
    }
    pthread_mutex_unlock(&p->mu);
    if (p->hooks.fini)
        p->hooks.fini(idx, t_worker_data, p->hooks.arg);
    t_worker_data = NULL;
    return NULL;
}

tomo_pool *tomo_pool_new(tomo_loop *l, int nthreads, int max_queue)
{
    return tomo_pool_new_hooks(l, nthreads, max_queue, NULL);
}

tomo_pool *tomo_pool_new_hooks(tomo_loop *l, int nthreads, int max_queue,
                               const tomo_pool_hooks *hooks)
{
    tomo_pool *p = tomo_xcalloc(1, sizeof(*p));
    p->loop = l;
    if (hooks)
        p->hooks = *hooks;
    p->nthreads = nthreads < 1 ? 1 : nthreads;
    p->max_queue = max_queue < 1 ? 1 : max_queue;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->started_cv, NULL);
    p->threads = tomo_xcalloc((size_t)p->nthreads, sizeof(pthread_t));
    for (int i = 0; i < p->nthreads; i++) {
        wstart *ws = tomo_xmalloc(sizeof(*ws));
        ws->p = p;
        ws->idx = i;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 1 << 20);
        if (pthread_create(&p->threads[i], &attr, worker_main, ws) != 0)
            abort();
        pthread_attr_destroy(&attr);
    }
    /* Jobs may count on every worker's state existing (and a failing init
     * is reported before the server says it is ready). */
    pthread_mutex_lock(&p->mu);
    while (p->started < p->nthreads)
        pthread_cond_wait(&p->started_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return p;
}

int tomo_pool_submit(tomo_pool *p, tomo_fn work, tomo_fn done, void *arg)
{
    /* done resumes on the loop that submitted (one of several, socket.loops) */
    return tomo_pool_submit_on(p, t_loop ? t_loop : p->loop, work, done, arg);
}

int tomo_pool_submit_on(tomo_pool *p, tomo_loop *l, tomo_fn work, tomo_fn done, void *arg)
{
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        pthread_mutex_unlock(&p->mu);
        return TOMO_EINVAL;
    }
    if (p->queued >= p->max_queue) {
        pthread_mutex_unlock(&p->mu);
        return TOMO_EAGAIN;
    }
    job *j = tomo_xmalloc(sizeof(*j));
    j->work = work;
    j->done = done;
    j->arg = arg;
    j->loop = l;
    j->next = NULL;
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->queued++;
    /* Wake a worker only if one sleeps and none is already waking (the
     * woken one passes the wake-up on if more jobs are queued: a burst of
     * requests read in one loop iteration costs the loop thread one futex
     * call, not one per idle worker); signal after unlocking so the woken
     * worker does not block on mu at once. */
    int wake = p->idle > 0 && p->signalled == 0;
    if (wake)
        p->signalled++;
    pthread_mutex_unlock(&p->mu);
    if (wake)
        pthread_cond_signal(&p->cv);
    return 0;
}

int tomo_pool_pending(tomo_pool *p)
{
    pthread_mutex_lock(&p->mu);
    int n = p->queued + p->running;
    pthread_mutex_unlock(&p->mu);
    return n;
}

int tomo_pool_threads(tomo_pool *p) { return p->nthreads; }

void tomo_pool_stop(tomo_pool *p)
{
    if (!p || !p->threads)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    p->threads = NULL;
}

void tomo_pool_free(tomo_pool *p)
{
    if (!p)
        return;
    tomo_pool_stop(p);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->started_cv);
    free(p);
}
