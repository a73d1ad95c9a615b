/* net/loop.h: the loop thread and the worker pool.
 * Owns: the libuv loop, the cross-thread post queue, and the worker threads
 *       that run blocking work (database queries, password hashing).
 * Threads: tomo_loop_post and tomo_pool_submit may be called from any thread;
 *          every callback they schedule on the loop runs on the loop thread. */
#ifndef TOMO_NET_LOOP_H
#define TOMO_NET_LOOP_H

#include <uv.h>

typedef struct tomo_loop tomo_loop;
typedef struct tomo_pool tomo_pool;
typedef void (*tomo_fn)(void *arg);

/* Create a loop (its own uv_loop_t). */
tomo_loop *tomo_loop_new(void);
uv_loop_t *tomo_loop_uv(tomo_loop *l);
/* Run fn(arg) on the loop thread soon. Safe from any thread. The post queue is
 * unbounded by design: posts come from bounded sources (pool jobs). */
void tomo_loop_post(tomo_loop *l, tomo_fn fn, void *arg);
/* Run the loop until tomo_loop_stop; returns after handles are closed. */
int tomo_loop_run(tomo_loop *l);
/* Close the post handle so the loop can end once other handles are closed.
 * Posts after that are kept (not signalled) until tomo_loop_drain/free. */
void tomo_loop_close(tomo_loop *l);
/* Run the queued posts now on the calling thread (after the loop's thread
 * ended: shutdown). */
void tomo_loop_drain(tomo_loop *l);
/* The loop the calling thread is running (inside tomo_loop_run), or NULL. */
tomo_loop *tomo_loop_current(void);
void tomo_loop_free(tomo_loop *l);

/* Per-worker set-up and tear-down (a worker's own Lua state, a cached
 * connection, ...). init(idx, arg) runs in worker idx (0..n-1) before its
 * first job and returns that worker's data (tomo_pool_worker_data() in a
 * job); fini(idx, data, arg) runs in the same worker after its last job,
 * when the pool stops. Either may be NULL. Both run on the worker thread,
 * concurrently with the other workers' hooks. */
typedef struct tomo_pool_hooks {
    void *(*init)(int idx, void *arg);
    void (*fini)(int idx, void *data, void *arg);
    void *arg;
} tomo_pool_hooks;

/* A pool of nthreads workers with a queue bounded at max_queue jobs. l is
 * the loop done callbacks go to by default. hooks (copied; may be NULL)
 * run in each worker as described above; tomo_pool_new returns only after
 * every worker's init finished. */
tomo_pool *tomo_pool_new(tomo_loop *l, int nthreads, int max_queue);
tomo_pool *tomo_pool_new_hooks(tomo_loop *l, int nthreads, int max_queue,
                               const tomo_pool_hooks *hooks);
/* Queue work(arg) on a worker; then done(arg) on the loop thread (done may be
 * NULL): the loop the caller runs on (tomo_loop_current), else the pool's.
 * Returns 0, or TOMO_EAGAIN when the queue is full (caller answers
 * "unavailable"), or TOMO_EINVAL after tomo_pool_stop. */
int tomo_pool_submit(tomo_pool *p, tomo_fn work, tomo_fn done, void *arg);
/* The same, with done posted to loop `l` instead of the pool's (a job
 * submitted from one of several loops resumes on that loop). */
int tomo_pool_submit_on(tomo_pool *p, tomo_loop *l, tomo_fn work, tomo_fn done, void *arg);
/* Jobs queued or running. */
int tomo_pool_pending(tomo_pool *p);
int tomo_pool_threads(tomo_pool *p);
/* Finish queued jobs, join the threads. done callbacks still pending are run
 * by the loop if it keeps running. */
void tomo_pool_stop(tomo_pool *p);
void tomo_pool_free(tomo_pool *p);

/* Index of the current worker thread (0..n-1), or -1 on other threads. */
int tomo_pool_worker_index(void);
/* What the init hook returned for the current worker (NULL without a hook,
 * or on other threads). */
void *tomo_pool_worker_data(void);

#endif
