/* tests/net/test_loop.c: the worker pool's per-thread hooks, per-worker
 * data, done callbacks posted to the loop a job names, and wake-ups passed
 * on from worker to worker (a burst of blocking jobs reaches every worker). */
#include "core/common.h"
#include "net/loop.h"
#include "tt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define NWORKERS 3
#define NJOBS 64

typedef struct wstate {
    int idx;
    int magic;
    int jobs; /* jobs this worker ran (its own thread only) */
    pthread_t self;
} wstate;

static atomic_int g_inits, g_finis, g_fini_jobs, g_bad_fini;
static wstate *g_states[NWORKERS];

static void *w_init(int idx, void *arg)
{
    TT_EQ(arg, (void *)0x1234);
    wstate *w = tomo_xcalloc(1, sizeof(*w));
    w->idx = idx;
    w->magic = 0x5eed;
    w->self = pthread_self();
    if (idx >= 0 && idx < NWORKERS)
        g_states[idx] = w;
    atomic_fetch_add(&g_inits, 1);
    return w;
}

static void w_fini(int idx, void *data, void *arg)
{
    wstate *w = data;
    if (arg != (void *)0x1234 || !w || w->idx != idx || !pthread_equal(w->self, pthread_self()))
        atomic_fetch_add(&g_bad_fini, 1);
    atomic_fetch_add(&g_fini_jobs, w ? w->jobs : 0);
    atomic_fetch_add(&g_finis, 1);
    free(w);
}

typedef struct jb {
    int worker_ok;
    int done_on; /* 1: loop a, 2: loop b */
    int which;   /* loop it was submitted for */
} jb;

static atomic_int g_done_a, g_done_b, g_bad_work;

static void work(void *a)
{
    jb *j = a;
    wstate *w = tomo_pool_worker_data();
    int idx = tomo_pool_worker_index();
    j->worker_ok = w && w->magic == 0x5eed && w->idx == idx &&
                   pthread_equal(w->self, pthread_self());
    if (!j->worker_ok)
        atomic_fetch_add(&g_bad_work, 1);
    else
        w->jobs++;
}

static void done_a(void *a)
{
    jb *j = a;
    TT_EQ(j->which, 1);
    atomic_fetch_add(&g_done_a, 1);
}

static void done_b(void *a)
{
    jb *j = a;
    TT_EQ(j->which, 2);
    atomic_fetch_add(&g_done_b, 1);
}

static void *run_b(void *l)
{
    /* Loop b keeps running until its post handle is closed. */
    tomo_loop_run(l);
    return NULL;
}

static void test_hooks(void)
{
    tomo_loop *a = tomo_loop_new(), *b = tomo_loop_new();
    tomo_pool_hooks h = {w_init, w_fini, (void *)0x1234};
    tomo_pool *p = tomo_pool_new_hooks(a, NWORKERS, 1000, &h);
    /* Every init ran before tomo_pool_new_hooks returned. */
    TT_EQ(atomic_load(&g_inits), NWORKERS);
    for (int i = 0; i < NWORKERS; i++)
        TT_TRUE(g_states[i] && g_states[i]->idx == i);
    /* Not a worker: no index, no data. */
    TT_EQ(tomo_pool_worker_index(), -1);
    TT_TRUE(tomo_pool_worker_data() == NULL);

    pthread_t tb;
    pthread_create(&tb, NULL, run_b, b);
    jb jobs[NJOBS];
    for (int i = 0; i < NJOBS; i++) {
        jobs[i] = (jb){0, 0, i % 2 ? 2 : 1};
        if (i % 2)
            TT_OK(tomo_pool_submit_on(p, b, work, done_b, &jobs[i]));
        else
            TT_OK(tomo_pool_submit(p, work, done_a, &jobs[i]));
    }
    /* Drain loop a here until its half is done. */
    while (atomic_load(&g_done_a) < NJOBS / 2)
        uv_run(tomo_loop_uv(a), UV_RUN_ONCE);
    tomo_pool_stop(p);
    TT_EQ(atomic_load(&g_bad_work), 0);
    TT_EQ(atomic_load(&g_finis), NWORKERS);
    TT_EQ(atomic_load(&g_bad_fini), 0);
    TT_EQ(atomic_load(&g_fini_jobs), NJOBS);
    /* Loop b's dones were posted before the workers stopped; close its post
     * handle from its own thread (drains them first) and let it end. */
    tomo_loop_post(b, (tomo_fn)tomo_loop_close, b);
    pthread_join(tb, NULL);
    TT_EQ(atomic_load(&g_done_a), NJOBS / 2);
    TT_EQ(atomic_load(&g_done_b), NJOBS / 2);
    /* Submitting after stop is refused. */
    TT_EQ(tomo_pool_submit(p, work, done_a, &jobs[0]), TOMO_EINVAL);
    tomo_pool_free(p);
    tomo_loop_free(a);
    tomo_loop_free(b);
}

static void test_no_hooks(void)
{
    tomo_loop *a = tomo_loop_new();
    tomo_pool *p = tomo_pool_new(a, 2, 10);
    jb j = {0, 0, 1};
    atomic_store(&g_done_a, 0);
    atomic_store(&g_bad_work, 0);
    TT_OK(tomo_pool_submit(p, work, done_a, &j));
    while (atomic_load(&g_done_a) < 1)
        uv_run(tomo_loop_uv(a), UV_RUN_ONCE);
    /* No init hook: a worker has no data. */
    TT_EQ(j.worker_ok, 0);
    tomo_pool_free(p);
    tomo_loop_free(a);
}

/* Each job blocks until NBLOCK jobs run at once: a burst submitted while
 * every worker sleeps completes only if the one wake-up the submitter sends
 * is passed on until every worker runs. Rounds repeat it with the workers
 * asleep again. */
#define NBLOCK 4
static pthread_mutex_t g_bmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_bcv = PTHREAD_COND_INITIALIZER;
static int g_inside, g_round_done;

static void block_work(void *a)
{
    (void)a;
    pthread_mutex_lock(&g_bmu);
    g_inside++;
    pthread_cond_broadcast(&g_bcv);
    while (g_inside < NBLOCK)
        pthread_cond_wait(&g_bcv, &g_bmu);
    pthread_mutex_unlock(&g_bmu);
}

static void block_done(void *a)
{
    (void)a;
    g_round_done++;
}

static void test_wake_chain(void)
{
    tomo_loop *a = tomo_loop_new();
    tomo_pool *p = tomo_pool_new(a, NBLOCK, 100);
    for (int round = 0; round < 20; round++) {
        g_inside = 0;
        g_round_done = 0;
        /* Let every worker go back to sleep between rounds. */
        while (tomo_pool_pending(p) > 0)
            uv_run(tomo_loop_uv(a), UV_RUN_NOWAIT);
        for (int i = 0; i < NBLOCK; i++)
            TT_OK(tomo_pool_submit(p, block_work, block_done, NULL));
        while (g_round_done < NBLOCK)
            uv_run(tomo_loop_uv(a), UV_RUN_ONCE);
        TT_EQ(g_inside, NBLOCK);
    }
    tomo_pool_free(p);
    tomo_loop_free(a);
}

int main(void)
{
    TT_RUN(test_hooks);
    TT_RUN(test_no_hooks);
    TT_RUN(test_wake_chain);
    return tt_finish();
}
