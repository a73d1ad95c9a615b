/* rt/online.c: the online-user table (see online.h). A read-write lock
 * over one hash map; entries are freed when a user's last socket goes. */
#include "online.h"

#include "../core/hmap.h"

#include "../core/common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct entry {
    char user_id[37];
    int count;
} entry;

static pthread_rwlock_t g_lock = PTHREAD_RWLOCK_INITIALIZER;
static tomo_hmap g_users; /* zero-initialised: an empty map */

void tomo_rt_online_add(const char *user_id)
{
    pthread_rwlock_wrlock(&g_lock);
    entry *e = tomo_hmap_get(&g_users, user_id);
    if (!e) {
        e = tomo_xcalloc(1, sizeof(*e));
        snprintf(e->user_id, sizeof(e->user_id), "%s", user_id);
        tomo_hmap_put(&g_users, e->user_id, e);
    }
    e->count++;
    pthread_rwlock_unlock(&g_lock);
}

void tomo_rt_online_remove(const char *user_id)
{
    pthread_rwlock_wrlock(&g_lock);
    entry *e = tomo_hmap_get(&g_users, user_id);
    if (e && --e->count <= 0) {
        tomo_hmap_del(&g_users, user_id);
        free(e);
    }
    pthread_rwlock_unlock(&g_lock);
}

int tomo_rt_online_count(const char *user_id)
{
    if (!user_id)
        return 0;
    pthread_rwlock_rdlock(&g_lock);
    const entry *e = tomo_hmap_get(&g_users, user_id);
    int n = e ? e->count : 0;
    pthread_rwlock_unlock(&g_lock);
    return n;
}

void tomo_rt_online_reset(void)
{
    pthread_rwlock_wrlock(&g_lock);
    const char *k;
    void *v;
    for (size_t i = 0; (i = tomo_hmap_next(&g_users, i, &k, &v)) != 0;)
        free(v);
    tomo_hmap_free(&g_users);
    tomo_hmap_init(&g_users);
    pthread_rwlock_unlock(&g_lock);
}
