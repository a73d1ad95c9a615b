/* svc/revoke.c: the revocation cache and its tables.
 * The cache is two hash maps (core/hmap.h) under one rwlock: revoked token
 * ids ("<tid>" for session tokens, "r:<tid>" for refresh tokens, mapped to
 * their expiry) and users' logout-all cut-offs. An atomic entry count lets
 * the common case (nothing revoked for anyone) skip the lock entirely.
 * Times in the tables are unix milliseconds, like every other table. */
#define _GNU_SOURCE
#include "revoke.h"


#include "../core/common.h"
#include "../core/hmap.h"
#include "../core/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 40 /* "r:" + UUID + NUL */

typedef struct node {
    int64_t v;
    char key[KEY_MAX]; /* the map's key */
} node;

typedef tomo_hmap map;

static pthread_rwlock_t g_lock = PTHREAD_RWLOCK_INITIALIZER;
static map g_tokens, g_users;
static atomic_size_t g_count;
static atomic_int g_loaded;
static pthread_mutex_t g_load_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t g_last_load_try_ms; /* under g_load_lock */
static int64_t g_last_prune_ms;    /* under g_lock (write) */
static tomo_revoke_notify_fn g_notify; /* set at start-up, read-only after */
static void *g_notify_ud;

static node *map_find(const map *m, const char *key) { return tomo_hmap_get(m, key); }

/* Insert or raise the value (revocations only ever extend). */
static void map_put_max(map *m, const char *key, int64_t v)
{
    node *n = map_find(m, key);
    if (n) {
        if (v > n->v)
            n->v = v;
        return;
    }
    n = tomo_xcalloc(1, sizeof(*n));
    snprintf(n->key, sizeof(n->key), "%s", key);
    n->v = v;
    tomo_hmap_put(m, n->key, n);
    atomic_fetch_add(&g_count, 1);
}

/* Drop entries whose value is below limit. */
static void map_prune(map *m, int64_t limit)
{
    const char *k;
    void *val;
    for (size_t i = 0; (i = tomo_hmap_next(m, i, &k, &val)) != 0;) {
        node *n = val;
        if (n->v < limit) {
            tomo_hmap_del(m, k);
            free(n);
            atomic_fetch_sub(&g_count, 1);
        }
    }
}

static void map_clear(map *m)
{
    map_prune(m, INT64_MAX);
    tomo_hmap_free(m);
}

void tomo_revoke_reset(void)
{
    pthread_rwlock_wrlock(&g_lock);
    map_clear(&g_tokens);
    map_clear(&g_users);
    pthread_rwlock_unlock(&g_lock);
    atomic_store(&g_loaded, 0);
}

/* The longest a token issued before a logout-all can live. */
static int64_t max_lifetime_ms(const tomo_svc *svc)
{
    int64_t a = svc->cfg->session.token_expiry_sec, b = svc->cfg->session.refresh_token_expiry_sec;
    return (a > b ? a : b) * 1000;
}

/* Caller holds the write lock. */
static void prune_locked(const tomo_svc *svc, int64_t now_ms)
{
    g_last_prune_ms = now_ms;
    map_prune(&g_tokens, now_ms);
    map_prune(&g_users, now_ms - max_lifetime_ms(svc));
}

int tomo_revoke_load(tomo_svc *svc)
{
    tomo_dbconn *c = NULL;
    tomo_dbres *tr = NULL, *ur = NULL;
    int64_t now = tomo_now_ms();
    int rc = tomo_db_acquire(svc->db, &c);
    if (rc < 0)
        goto out;
    /* Expired rows can never matter again. */
    tomo_dbval p[1] = {TOMO_DBINT(now)};
    if ((rc = tomo_db_exec(c, "DELETE FROM session_revocation WHERE expires_at < $1", p, 1,
                           NULL)) < 0)
        goto out;
    p[0] = TOMO_DBINT(now - max_lifetime_ms(svc));
    if ((rc = tomo_db_exec(c, "DELETE FROM session_logout_all WHERE logout_at < $1", p, 1,
                           NULL)) < 0)
        goto out;
    if ((rc = tomo_db_exec(c, "SELECT token_id, expires_at FROM session_revocation", NULL, 0,
                           &tr)) < 0)
        goto out;
    if ((rc = tomo_db_exec(c, "SELECT user_id, logout_at FROM session_logout_all", NULL, 0,
                           &ur)) < 0)
        goto out;
    pthread_rwlock_wrlock(&g_lock);
    for (size_t i = 0; i < tomo_dbres_rows(tr); i++) {
        const char *k = tomo_dbres_text(tr, i, 0);
        if (k && strlen(k) < KEY_MAX)
            map_put_max(&g_tokens, k, tomo_dbres_int(tr, i, 1));
    }
    for (size_t i = 0; i < tomo_dbres_rows(ur); i++) {
        const char *k = tomo_dbres_text(ur, i, 0);
        if (k && strlen(k) < KEY_MAX)
            map_put_max(&g_users, k, tomo_dbres_int(ur, i, 1));
    }
    g_last_prune_ms = now;
    pthread_rwlock_unlock(&g_lock);
    atomic_store(&g_loaded, 1);
    TOMO_LOGI(TOMO_SVC, "session revocations loaded revoked_ids=%zu logout_all_users=%zu",
              tomo_dbres_rows(tr), tomo_dbres_rows(ur));
out:
    if (rc < 0)
        TOMO_LOGW(TOMO_SVC, "cannot load session revocations error=%s",
                  c ? tomo_db_errmsg(c) : tomo_strerror(rc));
    tomo_dbres_free(tr);
    tomo_dbres_free(ur);
    tomo_db_release(c);
    return rc;
}

/* Load on first use when start-up could not (database down then). */
static int ensure_loaded(tomo_svc *svc)
{
    if (atomic_load(&g_loaded))
        return 1;
    pthread_mutex_lock(&g_load_lock);
    int64_t now = tomo_now_ms();
    if (!atomic_load(&g_loaded) && now - g_last_load_try_ms >= 1000) {
        g_last_load_try_ms = now;
        tomo_revoke_load(svc);
    }
    pthread_mutex_unlock(&g_load_lock);
    return atomic_load(&g_loaded);
}

int tomo_revoke_check(tomo_svc *svc, const tomo_session_claims *c, int refresh)
{
    if (!ensure_loaded(svc))
        return 1; /* fail closed: a revoked token must never pass */
    if (!atomic_load_explicit(&g_count, memory_order_acquire))
        return 0;
    char key[KEY_MAX];
    snprintf(key, sizeof(key), "%s%s", refresh ? "r:" : "", c->token_id);
    int revoked = 0;
    pthread_rwlock_rdlock(&g_lock);
    if (c->token_id[0] && map_find(&g_tokens, key))
        revoked = 1;
    const node *u = map_find(&g_users, c->user_id);
    if (u && c->iat * 1000 < u->v)
        revoked = 1;
    pthread_rwlock_unlock(&g_lock);
    return revoked;
}

/* Returns 1 when it pruned (the caller then prunes the tables too). */
static int maybe_prune_locked(const tomo_svc *svc, int64_t now_ms)
{
    if (now_ms - g_last_prune_ms < 60000)
        return 0;
    prune_locked(svc, now_ms);
    return 1;
}

/* Drop expired rows, outside the cache lock; a failure only delays it. */
static void prune_tables(const tomo_svc *svc, tomo_dbconn *db, int64_t now_ms)
{
    tomo_dbval p[1] = {TOMO_DBINT(now_ms)};
    if (tomo_db_exec(db, "DELETE FROM session_revocation WHERE expires_at < $1", p, 1, NULL) < 0)
        return;
    p[0] = TOMO_DBINT(now_ms - max_lifetime_ms(svc));
    tomo_db_exec(db, "DELETE FROM session_logout_all WHERE logout_at < $1", p, 1, NULL);
}

int tomo_revoke_token(tomo_svc *svc, tomo_dbconn *db, const char *tid, const char *user_id,
                      int refresh, int64_t exp_sec)
{
    if (!tid || !*tid)
        return 0; /* pre-3.18 style token without an id: nothing to name */
    char key[KEY_MAX];
    snprintf(key, sizeof(key), "%s%s", refresh ? "r:" : "", tid);
    /* Keep the entry until every token that may carry this id has expired:
     * a refresh re-signs tokens with the same id and a later exp. */
    int64_t now = tomo_now_ms();
    int64_t until = now + max_lifetime_ms(svc) + 1000;
    if ((exp_sec + 1) * 1000 > until)
        until = (exp_sec + 1) * 1000;
    tomo_dbval p[3] = {{TOMO_DBV_TEXT, 0, key}, TOMO_DBTEXT(user_id), TOMO_DBINT(until)};
    int rc = tomo_db_exec(db,
                          "INSERT INTO session_revocation (token_id, user_id, expires_at) "
                          "VALUES ($1, $2, $3) ON CONFLICT (token_id) DO NOTHING",
                          p, 3, NULL);
    if (rc < 0)
        return rc;
    pthread_rwlock_wrlock(&g_lock);
    map_put_max(&g_tokens, key, until);
    int pruned = maybe_prune_locked(svc, now);
    pthread_rwlock_unlock(&g_lock);
    if (g_notify)
        g_notify(g_notify_ud, 0, key, until);
    if (pruned)
        prune_tables(svc, db, now);
    return 0;
}

int tomo_revoke_user(tomo_svc *svc, tomo_dbconn *db, const char *user_id)
{
    int64_t now = tomo_now_ms();
    int64_t cut = now / 1000 + 1;
    pthread_rwlock_rdlock(&g_lock);
    const node *u = map_find(&g_users, user_id);
    /* Tokens issued since the previous cut carry iat >= that cut. */
    if (u && u->v / 1000 + 1 > cut)
        cut = u->v / 1000 + 1;
    pthread_rwlock_unlock(&g_lock);
    tomo_dbval p[2] = {TOMO_DBTEXT(user_id), TOMO_DBINT(cut * 1000)};
    int rc = tomo_db_exec(db,
                          "INSERT INTO session_logout_all (user_id, logout_at) VALUES ($1, $2) "
                          "ON CONFLICT (user_id) DO UPDATE SET logout_at = excluded.logout_at",
                          p, 2, NULL);
    if (rc < 0)
        return rc;
    pthread_rwlock_wrlock(&g_lock);
    map_put_max(&g_users, user_id, cut * 1000);
    int pruned = maybe_prune_locked(svc, now);
    pthread_rwlock_unlock(&g_lock);
    if (g_notify)
        g_notify(g_notify_ud, 1, user_id, cut * 1000);
    if (pruned)
        prune_tables(svc, db, now);
    return 0;
}

int64_t tomo_revoke_issue_sec(tomo_svc *svc, const char *user_id)
{
    (void)svc;
    int64_t iat = tomo_now_sec();
    if (!atomic_load_explicit(&g_count, memory_order_acquire))
        return iat;
    pthread_rwlock_rdlock(&g_lock);
    const node *u = map_find(&g_users, user_id);
    if (u && u->v / 1000 > iat)
        iat = u->v / 1000;
    pthread_rwlock_unlock(&g_lock);
    return iat;
}

void tomo_revoke_set_notify(tomo_revoke_notify_fn fn, void *ud)
{
    g_notify = fn;
    g_notify_ud = ud;
}

void tomo_revoke_apply(int kind, const char *key, int64_t v)
{
    if (!key || strlen(key) >= KEY_MAX)
        return;
    pthread_rwlock_wrlock(&g_lock);
    map_put_max(kind ? &g_users : &g_tokens, key, v);
    pthread_rwlock_unlock(&g_lock);
}
