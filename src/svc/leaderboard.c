/* svc/leaderboard.c: leaderboards (see leaderboard.h): registry, rank
 * cache, scheduler, record writes, listings. */
#define _GNU_SOURCE
#include "leaderboard.h"

#include "../core/jsonw.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"
#include "lb_int.h"

#define FILL_BATCH 10000

typedef struct rankkey {
    char id[129];
    int64_t expiry;
    tomo_lb_rank *set;
} rankkey;

struct tomo_lb_state {
    tomo_svc *svc;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int loaded, stop, kicked;
    int fill_pending; /* start-up fill not done: new sets start filling too */
    tomo_lb_board *boards; /* sorted by id */
    size_t nboards, capboards;
    rankkey *sets;
    size_t nsets, capsets;
    tomo_lb_hooks hooks;
    pthread_t filler, sched;
    int filler_on, sched_on;
    atomic_int filling;
};

/* ---- boards ---- */

void tomo_lb_board_clear(tomo_lb_board *b)
{
    if (!b)
        return;
    free(b->metadata);
    free(b->title);
    free(b->description);
    b->metadata = b->title = b->description = NULL;
}

static void board_copy(tomo_lb_board *dst, const tomo_lb_board *src)
{
    *dst = *src;
    dst->metadata = tomo_xstrdup(src->metadata ? src->metadata : "{}");
    dst->title = tomo_xstrdup(src->title ? src->title : "");
    dst->description = tomo_xstrdup(src->description ? src->description : "");
}

void tomo_lb_record_clear(tomo_lb_record *r)
{
    if (!r)
        return;
    free(r->username);
    free(r->metadata);
    r->username = r->metadata = NULL;
}

void tomo_lb_record_list_clear(tomo_lb_record_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        tomo_lb_record_clear(&l->records[i]);
    for (size_t i = 0; i < l->n_owner; i++)
        tomo_lb_record_clear(&l->owner_records[i]);
    free(l->records);
    free(l->owner_records);
    free(l->next_cursor);
    free(l->prev_cursor);
    memset(l, 0, sizeof(*l));
}

int64_t tomo_lb_board_expiry(const tomo_lb_board *b, int64_t now)
{
    if (!b->has_cron)
        return 0;
    int64_t t = tomo_cron_next(&b->cron, now);
    return t < 0 ? 0 : t;
}

int64_t tomo_lb_board_prev_reset(const tomo_lb_board *b, int64_t now)
{
    if (!b->has_cron)
        return 0;
    int64_t next = tomo_cron_next(&b->cron, now);
    if (next < 0)
        return 0;
    int64_t next2 = tomo_cron_next(&b->cron, next);
    if (next2 < 0)
        return 0;
    int64_t prev = next - (next2 - next);
    return prev * 1000 < b->create_time ? 0 : prev;
}

tomo_lb_state *tomo_lbi_state(tomo_svc *svc)
{
    return svc->lb;
}

static const char *BOARD_COLS =
    "id, authoritative, sort_order, operator, reset_schedule, metadata, create_time, category,"
    " title, description, duration, start_time, end_time, max_size, max_num_score, join_required";

static void parse_board(const tomo_dbres *res, size_t i, tomo_lb_board *b)
{
    memset(b, 0, sizeof(*b));
    snprintf(b->id, sizeof(b->id), "%s", tomo_dbres_text(res, i, 0));
    b->authoritative = (int)tomo_dbres_int(res, i, 1);
    b->sort_order = (int)tomo_dbres_int(res, i, 2);
    b->op = (int)tomo_dbres_int(res, i, 3);
    const char *rs = tomo_dbres_text(res, i, 4);
    snprintf(b->reset_schedule, sizeof(b->reset_schedule), "%s", rs ? rs : "");
    b->has_cron = b->reset_schedule[0] && tomo_cron_parse(b->reset_schedule, &b->cron) == 0;
    const char *md = tomo_dbres_text(res, i, 5);
    b->metadata = tomo_xstrdup(md ? md : "{}");
    b->create_time = tomo_dbres_int(res, i, 6);
    b->category = (int)tomo_dbres_int(res, i, 7);
    const char *t = tomo_dbres_text(res, i, 8), *d = tomo_dbres_text(res, i, 9);
    b->title = tomo_xstrdup(t ? t : "");
    b->description = tomo_xstrdup(d ? d : "");
    b->duration = tomo_dbres_int(res, i, 10);
    b->start_time = tomo_dbres_int(res, i, 11);
    b->end_time = tomo_dbres_int(res, i, 12);
    b->max_size = (int)tomo_dbres_int(res, i, 13);
    b->max_num_score = (int)tomo_dbres_int(res, i, 14);
    b->join_required = (int)tomo_dbres_int(res, i, 15);
}

/* Index of id in the sorted registry, or where it would go (*found 0). */
static size_t board_pos(tomo_lb_state *st, const char *id, int *found)
{
    size_t lo = 0, hi = st->nboards;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(st->boards[mid].id, id);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

/* Registry insert/replace (mu held); takes ownership of b's strings. */
static void board_put_locked(tomo_lb_state *st, tomo_lb_board *b)
{
    int found;
    size_t i = board_pos(st, b->id, &found);
    if (found) {
        tomo_lb_board_clear(&st->boards[i]);
        st->boards[i] = *b;
        return;
    }
    if (st->nboards == st->capboards) {
        st->capboards = st->capboards ? st->capboards * 2 : 16;
        st->boards = tomo_xrealloc(st->boards, st->capboards * sizeof(*st->boards));
    }
    memmove(&st->boards[i + 1], &st->boards[i], (st->nboards - i) * sizeof(*st->boards));
    st->boards[i] = *b;
    st->nboards++;
}

/* Load the registry once (mu held). */
static int load_locked(tomo_lb_state *st, tomo_dbconn *db)
{
    if (st->loaded)
        return 0;
    tomo_dbconn *own = NULL;
    tomo_dbres *res = NULL;
    int rc = 0;
    if (!db) {
        if ((rc = tomo_db_acquire(st->svc->db, &own)) < 0)
            return rc;
        db = own;
    }
    char *sql = tomo_xasprintf("SELECT %s FROM leaderboard ORDER BY id", BOARD_COLS);
    rc = tomo_db_exec(db, sql, NULL, 0, &res);
    free(sql);
    if (rc == 0) {
        for (size_t i = 0; i < tomo_dbres_rows(res); i++) {
            tomo_lb_board b;
            parse_board(res, i, &b);
            board_put_locked(st, &b);
        }
        st->loaded = 1;
    }
    tomo_dbres_free(res);
    tomo_db_release(own);
    return rc;
}

int tomo_svc_leaderboard_get(tomo_svc *svc, tomo_dbconn *db, const char *id, tomo_lb_board *out)
{
    tomo_lb_state *st = svc->lb;
    int found = 0, rc;
    if (!st || !id)
        return TOMO_ENOTFOUND;
    pthread_mutex_lock(&st->mu);
    rc = load_locked(st, db);
    if (rc == 0) {
        size_t i = board_pos(st, id, &found);
        if (found)
            board_copy(out, &st->boards[i]);
        else
            rc = TOMO_ENOTFOUND;
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int tomo_svc_leaderboard_all(tomo_svc *svc, tomo_dbconn *db, int with_tournaments,
                             tomo_lb_board **out, size_t *n)
{
    tomo_lb_state *st = svc->lb;
    *out = NULL;
    *n = 0;
    if (!st)
        return 0;
    pthread_mutex_lock(&st->mu);
    int rc = load_locked(st, db);
    if (rc == 0 && st->nboards) {
        *out = tomo_xcalloc(st->nboards, sizeof(**out));
        for (size_t i = 0; i < st->nboards; i++)
            if (with_tournaments || !tomo_lb_board_is_tournament(&st->boards[i]))
                board_copy(&(*out)[(*n)++], &st->boards[i]);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* ---- rank sets ---- */

static int64_t period_of(const tomo_lb_board *b, int64_t now)
{
    if (tomo_lb_board_is_tournament(b)) {
        int64_t sa, ea, exp;
        tomo_lbi_tournament_times(b, now, &sa, &ea, &exp);
        return exp;
    }
    return tomo_lb_board_expiry(b, now);
}

tomo_lb_rank *tomo_lbi_rankset(tomo_svc *svc, const tomo_lb_board *b, int64_t expiry, int create)
{
    tomo_lb_state *st = svc->lb;
    tomo_lb_rank *set = NULL;
    if (!st)
        return NULL;
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->nsets; i++) {
        if (st->sets[i].expiry == expiry && !strcmp(st->sets[i].id, b->id)) {
            set = st->sets[i].set;
            break;
        }
    }
    if (!set && create && (expiry == 0 || expiry > tomo_now_sec())) {
        if (st->nsets == st->capsets) {
            st->capsets = st->capsets ? st->capsets * 2 : 16;
            st->sets = tomo_xrealloc(st->sets, st->capsets * sizeof(*st->sets));
        }
        rankkey *k = &st->sets[st->nsets++];
        snprintf(k->id, sizeof(k->id), "%s", b->id);
        k->expiry = expiry;
        k->set = set = tomo_lb_rank_new(b->sort_order == TOMO_LB_DESC);
        if (st->fill_pending)
            tomo_lb_rank_fill_begin(set);
    }
    if (set)
        tomo_lb_rank_ref(set);
    pthread_mutex_unlock(&st->mu);
    return set;
}

/* Drop sets (mu held): of board id (NULL = any) whose period ended before
 * now (now 0 = every period). */
static void drop_sets_locked(tomo_lb_state *st, const char *id, int64_t now)
{
    size_t j = 0;
    for (size_t i = 0; i < st->nsets; i++) {
        rankkey *k = &st->sets[i];
        int drop = (!id || !strcmp(k->id, id)) && (now == 0 || (k->expiry && k->expiry <= now));
        if (drop)
            tomo_lb_rank_unref(k->set);
        else
            st->sets[j++] = *k;
    }
    st->nsets = j;
}

/* COUNT of rows ranked before r in its period (+1). */
static int64_t rank_by_count(tomo_dbconn *db, const tomo_lb_board *b, const tomo_lb_record *r)
{
    const char *sql = b->sort_order == TOMO_LB_DESC
                          ? "SELECT COUNT(*) FROM leaderboard_record WHERE leaderboard_id = $1 AND"
                            " expiry_time = $2 AND (score, subscore, owner_id) > ($3, $4, $5)"
                          : "SELECT COUNT(*) FROM leaderboard_record WHERE leaderboard_id = $1 AND"
                            " expiry_time = $2 AND (score, subscore, owner_id) < ($3, $4, $5)";
    tomo_dbval p[] = {TOMO_LBI_TEXT(b->id), TOMO_DBINT(r->expiry_time), TOMO_DBINT(r->score),
                      TOMO_DBINT(r->subscore), TOMO_LBI_TEXT(r->owner_id)};
    tomo_dbres *res = NULL;
    int64_t rank = 0;
    if (tomo_db_exec(db, sql, p, 5, &res) == 0 && tomo_dbres_rows(res) == 1)
        rank = tomo_dbres_int(res, 0, 0) + 1;
    tomo_dbres_free(res);
    return rank;
}

int64_t tomo_lbi_rank(tomo_svc *svc, tomo_dbconn *db, const tomo_lb_board *b,
                      const tomo_lb_record *r)
{
    uint8_t o[16];
    if (tomo_lb_uuid_parse(r->owner_id, o) < 0)
        return 0;
    tomo_lb_rank *set = tomo_lbi_rankset(svc, b, r->expiry_time, 0);
    if (!set)
        return 0;
    int64_t rank = tomo_lb_rank_filling(set) ? rank_by_count(db, b, r) : tomo_lb_rank_get(set, o);
    tomo_lb_rank_unref(set);
    return rank;
}

int64_t tomo_lbi_rank_put(tomo_svc *svc, tomo_dbconn *db, const tomo_lb_board *b,
                          const tomo_lb_record *r)
{
    uint8_t o[16];
    if (tomo_lb_uuid_parse(r->owner_id, o) < 0)
        return 0;
    tomo_lb_rank *set = tomo_lbi_rankset(svc, b, r->expiry_time, 1);
    if (!set)
        return 0;
    int64_t rank = tomo_lb_rank_put(set, o, r->score, r->subscore);
    if (tomo_lb_rank_filling(set))
        rank = rank_by_count(db, b, r);
    tomo_lb_rank_unref(set);
    return rank;
}

void tomo_lbi_rank_remove(tomo_svc *svc, const tomo_lb_board *b, int64_t expiry,
                          const char *owner_id)
{
    uint8_t o[16];
    if (tomo_lb_uuid_parse(owner_id, o) < 0)
        return;
    tomo_lb_rank *set = tomo_lbi_rankset(svc, b, expiry, 0);
    if (set) {
        tomo_lb_rank_remove(set, o);
        tomo_lb_rank_unref(set);
    }
}

/* ---- start-up fill ---- */

static int fill_one(tomo_lb_state *st, tomo_dbconn *db, const char *id, int64_t expiry,
                    tomo_lb_rank *set)
{
    int64_t s = -1, ss = -1;
    char owner[64] = "";
    int rc = 0;
    tomo_lb_rank_entry *batch = tomo_xcalloc(FILL_BATCH, sizeof(*batch));
    for (;;) {
        tomo_dbres *res = NULL;
        tomo_dbval p[] = {TOMO_DBTEXT(id), TOMO_DBINT(expiry), TOMO_DBINT(s), TOMO_DBINT(ss),
                          TOMO_LBI_TEXT(owner), TOMO_DBINT(FILL_BATCH)};
        rc = tomo_db_exec(db,
                          "SELECT owner_id, score, subscore FROM leaderboard_record WHERE"
                          " leaderboard_id = $1 AND expiry_time = $2 AND"
                          " (score, subscore, owner_id) > ($3, $4, $5)"
                          " ORDER BY score, subscore, owner_id LIMIT $6",
                          p, 6, &res);
        if (rc < 0)
            break;
        size_t n = tomo_dbres_rows(res), k = 0;
        for (size_t i = 0; i < n; i++) {
            const char *oid = tomo_dbres_text(res, i, 0);
            if (tomo_lb_uuid_parse(oid, batch[k].owner) == 0) {
                batch[k].score = tomo_dbres_int(res, i, 1);
                batch[k].subscore = tomo_dbres_int(res, i, 2);
                k++;
            }
            if (i == n - 1) {
                snprintf(owner, sizeof(owner), "%s", oid);
                s = tomo_dbres_int(res, i, 1);
                ss = tomo_dbres_int(res, i, 2);
            }
        }
        tomo_dbres_free(res);
        tomo_lb_rank_fill_many(set, batch, k);
        if (n < FILL_BATCH || st->stop)
            break;
    }
    free(batch);
    return rc;
}

/* Sets still filling (mu held), referenced; creates the current period's
 * set of every board that has none yet (filling: fill_pending is set). */
static rankkey *filling_sets_locked(tomo_lb_state *st, size_t *k)
{
    int64_t now = tomo_now_sec();
    for (size_t i = 0; i < st->nboards; i++) {
        tomo_lb_board *b = &st->boards[i];
        int64_t exp = period_of(b, now);
        int have = 0;
        for (size_t j = 0; j < st->nsets && !have; j++)
            have = st->sets[j].expiry == exp && !strcmp(st->sets[j].id, b->id);
        if (have || (exp && exp <= now))
            continue;
        if (st->nsets == st->capsets) {
            st->capsets = st->capsets ? st->capsets * 2 : 16;
            st->sets = tomo_xrealloc(st->sets, st->capsets * sizeof(*st->sets));
        }
        rankkey *nk = &st->sets[st->nsets++];
        snprintf(nk->id, sizeof(nk->id), "%s", b->id);
        nk->expiry = exp;
        nk->set = tomo_lb_rank_new(b->sort_order == TOMO_LB_DESC);
        tomo_lb_rank_fill_begin(nk->set);
    }
    rankkey *keys = tomo_xcalloc(st->nsets ? st->nsets : 1, sizeof(*keys));
    *k = 0;
    for (size_t i = 0; i < st->nsets; i++) {
        if (tomo_lb_rank_filling(st->sets[i].set)) {
            keys[*k] = st->sets[i];
            tomo_lb_rank_ref(keys[*k].set);
            (*k)++;
        }
    }
    return keys;
}

static void *filler_main(void *arg)
{
    tomo_lb_state *st = arg;
    uint64_t t0 = tomo_mono_ns();
    /* background work: requests win the CPU (Linux: per-thread nice) */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) < 0)
        TOMO_LOGD(TOMO_SVC, "leaderboard fill thread keeps its priority");
    int64_t total = 0, periods = 0;
    for (;;) {
        tomo_dbconn *db = NULL;
        int rc = tomo_db_acquire(st->svc->db, &db);
        while (rc == 0 && !st->stop) {
            size_t k = 0;
            pthread_mutex_lock(&st->mu);
            rc = load_locked(st, db);
            rankkey *keys = rc == 0 ? filling_sets_locked(st, &k) : NULL;
            if (rc == 0 && k == 0)
                st->fill_pending = 0; /* from now on new sets start ready */
            pthread_mutex_unlock(&st->mu);
            for (size_t i = 0; i < k; i++) {
                if (rc == 0 && !st->stop)
                    rc = fill_one(st, db, keys[i].id, keys[i].expiry, keys[i].set);
                if (rc == 0 && !st->stop) {
                    tomo_lb_rank_fill_end(keys[i].set);
                    total += tomo_lb_rank_count(keys[i].set);
                    periods++;
                }
                tomo_lb_rank_unref(keys[i].set);
            }
            free(keys);
            if (rc == 0 && k == 0)
                break;
        }
        tomo_db_release(db);
        if ((rc == 0 && !st->fill_pending) || st->stop)
            break;
        TOMO_LOGW(TOMO_SVC, "leaderboard rank cache fill failed, retrying error=%s",
                  tomo_strerror(rc));
        pthread_mutex_lock(&st->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        if (!st->stop)
            pthread_cond_timedwait(&st->cv, &st->mu, &ts);
        pthread_mutex_unlock(&st->mu);
    }
    if (!st->stop)
        TOMO_LOGI(TOMO_SVC, "leaderboard rank cache filled periods=%lld records=%lld ms=%llu",
                  (long long)periods, (long long)total,
                  (unsigned long long)((tomo_mono_ns() - t0) / 1000000));
    atomic_store(&st->filling, 0);
    return NULL;
}

int tomo_svc_leaderboard_filling(tomo_svc *svc)
{
    return svc->lb ? atomic_load(&svc->lb->filling) : 0;
}

/* ---- scheduler ---- */

static int64_t board_next_event(const tomo_lb_board *b, int64_t now)
{
    if (!tomo_lb_board_is_tournament(b))
        return b->has_cron ? tomo_lb_board_expiry(b, now) : 0;
    if (b->end_time && b->end_time <= now)
        return 0;
    int64_t sa, ea, exp, best = 0;
    tomo_lbi_tournament_times(b, now, &sa, &ea, &exp);
    if (ea > now)
        best = ea;
    if (exp > now && (!best || exp < best))
        best = exp;
    return best;
}

static void fire(tomo_lb_state *st, int64_t last, int64_t now)
{
    tomo_lb_board *all = NULL;
    size_t n = 0;
    tomo_svc_leaderboard_all(st->svc, NULL, 1, &all, &n);
    pthread_mutex_lock(&st->mu);
    tomo_lb_hooks h = st->hooks;
    drop_sets_locked(st, NULL, now);
    pthread_mutex_unlock(&st->mu);
    for (size_t i = 0; i < n; i++) {
        tomo_lb_board *b = &all[i];
        if (!tomo_lb_board_is_tournament(b)) {
            int64_t tick = b->has_cron ? tomo_cron_next(&b->cron, last) : -1;
            if (tick > 0 && tick <= now) {
                TOMO_LOGD(TOMO_SVC, "leaderboard reset id=%s at=%lld", b->id, (long long)tick);
                if (h.leaderboard_reset)
                    h.leaderboard_reset(h.ctx, b, tick);
            }
            continue;
        }
        if (b->end_time && b->end_time < last)
            continue;
        int64_t sa, ea, exp;
        tomo_lbi_tournament_times(b, last, &sa, &ea, &exp);
        if (ea > last && ea <= now && h.tournament_end)
            h.tournament_end(h.ctx, b, ea, exp);
        if (exp > last && exp <= now) {
            tomo_dbconn *db = NULL;
            if (tomo_db_acquire(st->svc->db, &db) == 0) {
                tomo_dbval p[] = {TOMO_LBI_TEXT(b->id)};
                if (tomo_db_exec(db, "UPDATE leaderboard SET size = 0 WHERE id = $1", p, 1,
                                 NULL) < 0)
                    TOMO_LOGW(TOMO_SVC, "tournament size reset failed id=%s", b->id);
            }
            tomo_db_release(db);
            if (h.tournament_reset)
                h.tournament_reset(h.ctx, b, ea, exp);
        }
    }
    for (size_t i = 0; i < n; i++)
        tomo_lb_board_clear(&all[i]);
    free(all);
}

/* Events strictly after `last` and at or before now fire; when nothing is
 * due, no event lies in (last, now], so last can move to now. */
static void *sched_main(void *arg)
{
    tomo_lb_state *st = arg;
    int64_t last = tomo_now_sec();
    pthread_mutex_lock(&st->mu);
    while (!st->stop) {
        int64_t now = tomo_now_sec(), next = 0;
        for (size_t i = 0; i < st->nboards; i++) {
            int64_t t = board_next_event(&st->boards[i], last);
            if (t > 0 && (!next || t < next))
                next = t;
        }
        if (next && next <= now) {
            pthread_mutex_unlock(&st->mu);
            fire(st, last, now);
            last = now;
            pthread_mutex_lock(&st->mu);
            continue;
        }
        last = now;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait = next ? next - now : 60;
        ts.tv_sec += (time_t)(wait > 60 ? 60 : wait);
        st->kicked = 0;
        while (!st->stop && !st->kicked)
            if (pthread_cond_timedwait(&st->cv, &st->mu, &ts) != 0)
                break;
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

void tomo_lbi_kick(tomo_svc *svc)
{
    tomo_lb_state *st = svc->lb;
    if (!st)
        return;
    pthread_mutex_lock(&st->mu);
    st->kicked = 1;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

/* ---- lifecycle ---- */

int tomo_svc_leaderboard_start(tomo_svc *svc)
{
    tomo_lb_state *st = tomo_xcalloc(1, sizeof(*st));
    st->svc = svc;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    st->fill_pending = 1;
    svc->lb = st;
    atomic_store(&st->filling, 1);
    st->filler_on = pthread_create(&st->filler, NULL, filler_main, st) == 0;
    if (!st->filler_on) {
        st->fill_pending = 0;
        atomic_store(&st->filling, 0);
    }
    st->sched_on = pthread_create(&st->sched, NULL, sched_main, st) == 0;
    return 0;
}

void tomo_svc_leaderboard_stop(tomo_svc *svc)
{
    tomo_lb_state *st = svc->lb;
    if (!st)
        return;
    pthread_mutex_lock(&st->mu);
    st->stop = 1;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    if (st->filler_on)
        pthread_join(st->filler, NULL);
    if (st->sched_on)
        pthread_join(st->sched, NULL);
    drop_sets_locked(st, NULL, 0);
    for (size_t i = 0; i < st->nboards; i++)
        tomo_lb_board_clear(&st->boards[i]);
    free(st->boards);
    free(st->sets);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    free(st);
    svc->lb = NULL;
}

void tomo_svc_leaderboard_set_hooks(tomo_svc *svc, const tomo_lb_hooks *hooks)
{
    tomo_lb_state *st = svc->lb;
    if (!st)
        return;
    pthread_mutex_lock(&st->mu);
    if (hooks)
        st->hooks = *hooks;
    else
        memset(&st->hooks, 0, sizeof(st->hooks));
    pthread_mutex_unlock(&st->mu);
}

/* ---- create / delete ---- */

int tomo_lbi_metadata_ok(const char *metadata)
{
    if (!metadata || !*metadata)
        return 0;
    json_t *j = json_loads(metadata, JSON_DECODE_ANY, NULL);
    int ok = j && json_is_object(j);
    json_decref(j);
    return ok ? 0 : TOMO_EINVAL;
}

int tomo_lbi_insert_board(tomo_svc *svc, tomo_dbconn *db, const tomo_lb_board *b, int *created,
                          tomo_lb_board *existing, tomo_err *err)
{
    tomo_lb_state *st = svc->lb;
    tomo_dbres *res = NULL;
    *created = 0;
    if (!st)
        return tomo_err_set(err, TOMO_GRPC_INTERNAL, "Leaderboards are not running.");
    tomo_dbval p[] = {
        TOMO_LBI_TEXT(b->id),          TOMO_DBINT(b->authoritative),
        TOMO_DBINT(b->sort_order),   TOMO_DBINT(b->op),
        TOMO_LBI_TEXT(b->reset_schedule), TOMO_DBTEXT(b->metadata),
        TOMO_DBINT(b->create_time),  TOMO_DBINT(b->category),
        TOMO_DBTEXT(b->title),       TOMO_DBTEXT(b->description),
        TOMO_DBINT(b->duration),     TOMO_DBINT(b->start_time),
        TOMO_DBINT(b->end_time),     TOMO_DBINT(b->max_size),
        TOMO_DBINT(b->max_num_score), TOMO_DBINT(b->join_required),
    };
    int rc = tomo_db_exec(db,
                          "INSERT INTO leaderboard (id, authoritative, sort_order, operator,"
                          " reset_schedule, metadata, create_time, category, title, description,"
                          " duration, start_time, end_time, max_size, max_num_score, join_required)"
                          " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
                          " $15, $16) ON CONFLICT (id) DO NOTHING",
                          p, TOMO_ARRAY_LEN(p), &res);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "leaderboard create");
    int64_t changes = tomo_dbres_changes(res);
    tomo_dbres_free(res);
    if (changes > 0) {
        tomo_lb_board copy;
        board_copy(&copy, b);
        pthread_mutex_lock(&st->mu);
        load_locked(st, db);
        board_put_locked(st, &copy);
        pthread_mutex_unlock(&st->mu);
        *created = 1;
        tomo_lbi_kick(svc);
        return 0;
    }
    /* taken: the stored definition wins (maybe created by another node) */
    char *sql = tomo_xasprintf("SELECT %s FROM leaderboard WHERE id = $1", BOARD_COLS);
    rc = tomo_db_exec(db, sql, p, 1, &res);
    free(sql);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "leaderboard create");
    if (tomo_dbres_rows(res) != 1) {
        tomo_dbres_free(res);
        return tomo_err_set(err, TOMO_GRPC_INTERNAL, "Error creating leaderboard.");
    }
    tomo_lb_board stored, copy;
    parse_board(res, 0, &stored);
    tomo_dbres_free(res);
    board_copy(&copy, &stored);
    pthread_mutex_lock(&st->mu);
    load_locked(st, db);
    board_put_locked(st, &copy);
    pthread_mutex_unlock(&st->mu);
    if (existing)
        *existing = stored;
    else
        tomo_lb_board_clear(&stored);
    return 0;
}

static int parse_create_common(const tomo_lb_create *in, tomo_lb_board *b, tomo_err *err)
{
    memset(b, 0, sizeof(*b));
    if (!in->id || !*in->id)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Leaderboard ID must be provided.");
    if (strlen(in->id) > 128)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Leaderboard ID must be at most 128 characters.");
    snprintf(b->id, sizeof(b->id), "%s", in->id);
    b->authoritative = !!in->authoritative;
    if (in->sort_order != TOMO_LB_ASC && in->sort_order != TOMO_LB_DESC)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid sort order.");
    b->sort_order = in->sort_order;
    if (in->op < TOMO_LB_OP_BEST || in->op > TOMO_LB_OP_DECR)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid operator.");
    b->op = in->op;
    if (in->reset_schedule && *in->reset_schedule) {
        if (strlen(in->reset_schedule) >= sizeof(b->reset_schedule) ||
            tomo_cron_parse(in->reset_schedule, &b->cron) < 0)
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                                "expects reset schedule to be a valid CRON expression");
        snprintf(b->reset_schedule, sizeof(b->reset_schedule), "%s", in->reset_schedule);
        b->has_cron = 1;
    }
    if (tomo_lbi_metadata_ok(in->metadata) < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Metadata value must be JSON, if provided.");
    b->metadata = (char *)(in->metadata && *in->metadata ? in->metadata : "{}");
    b->title = (char *)"";
    b->description = (char *)"";
    b->max_size = TOMO_LB_MAX_SIZE_UNLIMITED;
    b->max_num_score = TOMO_LB_DEFAULT_MAX_NUM_SCORE;
    b->create_time = tomo_now_ms();
    return 0;
}

int tomo_svc_leaderboard_create(tomo_svc *svc, tomo_dbconn *db, const tomo_lb_create *in,
                                int *created, tomo_err *err)
{
    tomo_lb_board b; /* strings borrowed from in */
    int rc = parse_create_common(in, &b, err);
    if (rc < 0)
        return rc;
    return tomo_lbi_insert_board(svc, db, &b, created, NULL, err);
}

int tomo_svc_leaderboard_delete(tomo_svc *svc, tomo_dbconn *db, const char *id, tomo_err *err)
{
    tomo_lb_state *st = svc->lb;
    if (!id || !*id)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Leaderboard ID must be provided.");
    tomo_dbval p[] = {TOMO_DBTEXT(id)};
    int rc = tomo_db_begin(db);
    if (rc == 0)
        rc = tomo_db_exec(db, "DELETE FROM leaderboard_record WHERE leaderboard_id = $1", p, 1,
                          NULL);
    if (rc == 0)
        rc = tomo_db_exec(db, "DELETE FROM leaderboard WHERE id = $1", p, 1, NULL);
    if (rc == 0)
        rc = tomo_db_commit(db);
    if (rc < 0) {
        tomo_db_rollback(db);
        return tomo_err_db_conn(err, db, rc, "leaderboard delete");
    }
    if (st) {
        pthread_mutex_lock(&st->mu);
        int found;
        size_t i = board_pos(st, id, &found);
        if (found) {
            tomo_lb_board_clear(&st->boards[i]);
            memmove(&st->boards[i], &st->boards[i + 1],
                    (st->nboards - i - 1) * sizeof(*st->boards));
            st->nboards--;
        }
        drop_sets_locked(st, id, 0);
        pthread_mutex_unlock(&st->mu);
        tomo_lbi_kick(svc);
    }
    return 0;
}

/* ---- rows ---- */

void tomo_lbi_parse_row(const tomo_dbres *res, size_t row, const char *board_id,
                        tomo_lb_record *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->leaderboard_id, sizeof(out->leaderboard_id), "%s", board_id);
    snprintf(out->owner_id, sizeof(out->owner_id), "%s", tomo_dbres_text(res, row, 0));
    const char *u = tomo_dbres_text(res, row, 1);
    out->username = u ? tomo_xstrdup(u) : NULL;
    out->score = tomo_dbres_int(res, row, 2);
    out->subscore = tomo_dbres_int(res, row, 3);
    out->num_score = tomo_dbres_int(res, row, 4);
    out->max_num_score = tomo_dbres_int(res, row, 5);
    const char *md = tomo_dbres_text(res, row, 6);
    out->metadata = tomo_xstrdup(md ? md : "{}");
    out->create_time = tomo_dbres_int(res, row, 7);
    out->update_time = tomo_dbres_int(res, row, 8);
    out->expiry_time = tomo_dbres_int(res, row, 9);
}

int tomo_lbi_read(tomo_dbconn *db, const char *board_id, int64_t expiry, const char *owner_id,
                  tomo_lb_record *out)
{
    tomo_dbres *res = NULL;
    tomo_dbval p[] = {TOMO_DBTEXT(board_id), TOMO_DBINT(expiry), TOMO_DBTEXT(owner_id)};
    int rc = tomo_db_exec(db,
                          "SELECT " TOMO_LBI_COLS " FROM leaderboard_record WHERE"
                          " leaderboard_id = $1 AND expiry_time = $2 AND owner_id = $3",
                          p, 3, &res);
    if (rc == 0) {
        if (tomo_dbres_rows(res) == 1)
            tomo_lbi_parse_row(res, 0, board_id, out);
        else
            rc = TOMO_ENOTFOUND;
    }
    tomo_dbres_free(res);
    return rc;
}

int tomo_lbi_op(const tomo_lb_board *b, int override)
{
    switch (override) {
    case TOMO_LB_OVERRIDE_BEST: return TOMO_LB_OP_BEST;
    case TOMO_LB_OVERRIDE_SET: return TOMO_LB_OP_SET;
    case TOMO_LB_OVERRIDE_INCR: return TOMO_LB_OP_INCR;
    case TOMO_LB_OVERRIDE_DECR: return TOMO_LB_OP_DECR;
    default: return b->op;
    }
}

/* SET and WHERE clauses of the conflict update for an operator (o = the
 * stored row, e = the new one; $10/$11 are the raw deltas). */
static void op_sql(const tomo_lb_board *b, int op, const char **set, const char **where)
{
    int desc = b->sort_order == TOMO_LB_DESC;
    switch (op) {
    case TOMO_LB_OP_SET:
        *set = "score = $10, subscore = $11";
        *where = "(leaderboard_record.score <> $10 OR leaderboard_record.subscore <> $11)";
        break;
    case TOMO_LB_OP_INCR:
        *set = "score = leaderboard_record.score + $10, subscore = leaderboard_record.subscore"
               " + $11";
        *where = "($10 <> 0 OR $11 <> 0)";
        break;
    case TOMO_LB_OP_DECR:
        *set = "score = CASE WHEN leaderboard_record.score - $10 < 0 THEN 0 ELSE"
               " leaderboard_record.score - $10 END, subscore = CASE WHEN"
               " leaderboard_record.subscore - $11 < 0 THEN 0 ELSE leaderboard_record.subscore"
               " - $11 END";
        *where = "($10 <> 0 OR $11 <> 0)";
        break;
    default:
        if (desc) {
            *set = "score = CASE WHEN $10 > leaderboard_record.score THEN $10 ELSE"
                   " leaderboard_record.score END, subscore = CASE WHEN $11 >"
                   " leaderboard_record.subscore THEN $11 ELSE leaderboard_record.subscore END";
            *where = "($10 > leaderboard_record.score OR $11 > leaderboard_record.subscore)";
        } else {
            *set = "score = CASE WHEN $10 < leaderboard_record.score THEN $10 ELSE"
                   " leaderboard_record.score END, subscore = CASE WHEN $11 <"
                   " leaderboard_record.subscore THEN $11 ELSE leaderboard_record.subscore END";
            *where = "($10 < leaderboard_record.score OR $11 < leaderboard_record.subscore)";
        }
    }
}

/* Copy of tmpl with "$10"/"$11" renamed to d1/d2. */
static char *rename_deltas(const char *tmpl, const char *d1, const char *d2)
{
    size_t cap = strlen(tmpl) * 2 + 16, k = 0;
    char *out = tomo_xmalloc(cap);
    for (const char *p = tmpl; *p;) {
        if (p[0] == '$' && p[1] == '1' && (p[2] == '0' || p[2] == '1')) {
            const char *r = p[2] == '0' ? d1 : d2;
            size_t n = strlen(r);
            memcpy(out + k, r, n);
            k += n;
            p += 3;
        } else {
            out[k++] = *p++;
        }
    }
    out[k] = '\0';
    return out;
}

static int take_row(int rc, tomo_dbres *res, const char *board_id, int *changed,
                    tomo_lb_record *out)
{
    *changed = 0;
    if (rc == 0 && tomo_dbres_rows(res) == 1) {
        tomo_lbi_parse_row(res, 0, board_id, out);
        *changed = 1;
    }
    tomo_dbres_free(res);
    return rc;
}

int tomo_lbi_upsert(tomo_dbconn *db, const tomo_lb_board *b, int64_t expiry, int op,
                    const tomo_lb_write *w, int max_num_score, int *changed,
                    tomo_lb_record *out)
{
    const char *set, *where;
    op_sql(b, op, &set, &where);
    char *sql = tomo_xasprintf(
        "INSERT INTO leaderboard_record (leaderboard_id, owner_id, username, score, subscore,"
        " num_score, max_num_score, metadata, create_time, update_time, expiry_time)"
        " VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $8, $9)"
        " ON CONFLICT (owner_id, leaderboard_id, expiry_time) DO UPDATE SET %s,"
        " num_score = leaderboard_record.num_score + 1,"
        " metadata = CASE WHEN $12 = 1 THEN excluded.metadata ELSE leaderboard_record.metadata END,"
        " username = COALESCE(excluded.username, leaderboard_record.username),"
        " update_time = excluded.update_time WHERE %s RETURNING " TOMO_LBI_COLS,
        set, where);
    int has_md = w->metadata && *w->metadata;
    /* a first decrement stores 0, 0 */
    int decr = op == TOMO_LB_OP_DECR;
    tomo_dbval p[] = {
        TOMO_LBI_TEXT(b->id),
        TOMO_DBTEXT(w->owner_id),
        TOMO_DBTEXT(w->username && *w->username ? w->username : NULL),
        TOMO_DBINT(decr ? 0 : w->score),
        TOMO_DBINT(decr ? 0 : w->subscore),
        TOMO_DBINT(max_num_score),
        TOMO_DBTEXT(has_md ? w->metadata : "{}"),
        TOMO_DBINT(tomo_now_ms()),
        TOMO_DBINT(expiry),
        TOMO_DBINT(w->score),
        TOMO_DBINT(w->subscore),
        TOMO_DBINT(has_md),
    };
    tomo_dbres *res = NULL;
    int rc = tomo_db_exec(db, sql, p, TOMO_ARRAY_LEN(p), &res);
    free(sql);
    return take_row(rc, res, b->id, changed, out);
}

int tomo_lbi_update(tomo_dbconn *db, const tomo_lb_board *b, int64_t expiry, int op,
                    const tomo_lb_write *w, int *changed, tomo_lb_record *out)
{
    const char *set0, *where0;
    op_sql(b, op, &set0, &where0);
    char *set = rename_deltas(set0, "$7", "$8"), *where = rename_deltas(where0, "$7", "$8");
    char *sql = tomo_xasprintf(
        "UPDATE leaderboard_record SET %s, num_score = num_score + 1,"
        " metadata = CASE WHEN $9 = 1 THEN CAST($4 AS TEXT) ELSE metadata END,"
        " username = COALESCE(CAST($3 AS TEXT), username), update_time = $5"
        " WHERE leaderboard_id = $1 AND owner_id = $2 AND expiry_time = $6"
        " AND (max_num_score = 0 OR num_score < max_num_score) AND %s RETURNING " TOMO_LBI_COLS,
        set, where);
    free(set);
    free(where);
    int has_md = w->metadata && *w->metadata;
    tomo_dbval p[] = {
        TOMO_LBI_TEXT(b->id),
        TOMO_DBTEXT(w->owner_id),
        TOMO_DBTEXT(w->username && *w->username ? w->username : NULL),
        TOMO_DBTEXT(has_md ? w->metadata : "{}"),
        TOMO_DBINT(tomo_now_ms()),
        TOMO_DBINT(expiry),
        TOMO_DBINT(w->score),
        TOMO_DBINT(w->subscore),
        TOMO_DBINT(has_md),
    };
    tomo_dbres *res = NULL;
    int rc = tomo_db_exec(db, sql, p, TOMO_ARRAY_LEN(p), &res);
    free(sql);
    return take_row(rc, res, b->id, changed, out);
}

/* ---- record write / delete ---- */

int tomo_svc_leaderboard_record_write(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                      const char *id, const tomo_lb_write *w, tomo_lb_record *out,
                                      tomo_err *err)
{
    tomo_lb_board b;
    int changed = 0, rc;
    memset(out, 0, sizeof(*out));
    if (!id || !*id)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid leaderboard ID.");
    if (tomo_lbi_metadata_ok(w->metadata) < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Metadata value must be JSON, if provided.");
    if (!w->owner_id || !tomo_uuid_valid(w->owner_id))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid owner ID.");
    rc = tomo_svc_leaderboard_get(svc, db, id, &b);
    if (rc == TOMO_ENOTFOUND)
        return tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "Leaderboard not found.");
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "leaderboard get");
    if (b.authoritative && !tomo_caller_is_system(caller)) {
        rc = tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED,
                          "Leaderboard only allows authoritative score submissions.");
        goto out;
    }
    /* lower-case owner ids, as Nakama stores parsed UUIDs */
    tomo_lb_write lw = *w;
    char owner[37];
    for (int i = 0; i < 37; i++)
        owner[i] = (char)(w->owner_id[i] >= 'A' && w->owner_id[i] <= 'F' ? w->owner_id[i] + 32
                                                                        : w->owner_id[i]);
    lw.owner_id = owner;
    int64_t expiry = tomo_lb_board_expiry(&b, tomo_now_sec());
    int op = tomo_lbi_op(&b, w->override);
    rc = tomo_lbi_upsert(db, &b, expiry, op, &lw,
                         tomo_lb_board_is_tournament(&b) ? b.max_num_score
                                                         : TOMO_LB_DEFAULT_MAX_NUM_SCORE,
                         &changed, out);
    if (rc == TOMO_EDB) {
        TOMO_LOGD(TOMO_SVC, "leaderboard write failed id=%s error=%s", id, tomo_db_errmsg(db));
        rc = tomo_err_set(err, TOMO_GRPC_INTERNAL, "Error writing score to leaderboard.");
        goto out;
    }
    if (rc < 0) {
        rc = tomo_err_db_conn(err, db, rc, "leaderboard write");
        goto out;
    }
    if (changed) {
        out->rank = tomo_lbi_rank_put(svc, db, &b, out);
    } else {
        rc = tomo_lbi_read(db, b.id, expiry, owner, out);
        if (rc < 0) {
            rc = tomo_err_set(err, TOMO_GRPC_INTERNAL, "Error writing score to leaderboard.");
            goto out;
        }
        out->rank = tomo_lbi_rank(svc, db, &b, out);
    }
out:
    tomo_lb_board_clear(&b);
    return rc;
}

int tomo_svc_leaderboard_record_delete(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                       const char *id, const char *owner_id, tomo_err *err)
{
    tomo_lb_board b;
    if (!id || !*id)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid leaderboard ID.");
    if (!owner_id || !tomo_uuid_valid(owner_id))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid owner ID.");
    int rc = tomo_svc_leaderboard_get(svc, db, id, &b);
    if (rc == TOMO_ENOTFOUND)
        return tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "Leaderboard not found.");
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "leaderboard get");
    /* Nakama 3.16+ deletes tournament records only through the tournament
     * call (tomo_svc_tournament_record_delete, which keeps `size`). */
    if (tomo_lb_board_is_tournament(&b)) {
        rc = tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "Leaderboard not found.");
        goto out;
    }
    if (b.authoritative && !tomo_caller_is_system(caller)) {
        rc = tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED,
                          "Leaderboard only allows authoritative score deletions.");
        goto out;
    }
    char owner[37];
    for (int i = 0; i < 37; i++)
        owner[i] = (char)(owner_id[i] >= 'A' && owner_id[i] <= 'F' ? owner_id[i] + 32
                                                                   : owner_id[i]);
    int64_t expiry = tomo_lb_board_expiry(&b, tomo_now_sec());
    tomo_dbval p[] = {TOMO_LBI_TEXT(b.id), TOMO_LBI_TEXT(owner), TOMO_DBINT(expiry)};
    rc = tomo_db_exec(db,
                      "DELETE FROM leaderboard_record WHERE leaderboard_id = $1 AND owner_id = $2"
                      " AND expiry_time = $3",
                      p, 3, NULL);
    if (rc == TOMO_EDB) {
        rc = tomo_err_set(err, TOMO_GRPC_INTERNAL, "Error deleting score from leaderboard.");
        goto out;
    }
    if (rc < 0) {
        rc = tomo_err_db_conn(err, db, rc, "leaderboard record delete");
        goto out;
    }
    tomo_lbi_rank_remove(svc, &b, expiry, owner);
out:
    tomo_lb_board_clear(&b);
    return rc;
}

int tomo_svc_leaderboard_owner_delete(tomo_svc *svc, tomo_dbconn *db, const char *owner_id)
{
    (void)svc;
    tomo_dbval p[] = {TOMO_DBTEXT(owner_id)};
    return tomo_db_exec(db, "DELETE FROM leaderboard_record WHERE owner_id = $1", p, 1, NULL);
}

void tomo_svc_leaderboard_owner_forget(tomo_svc *svc, const char *owner_id)
{
    tomo_lb_state *st = svc->lb;
    uint8_t o[16];
    if (!st || tomo_lb_uuid_parse(owner_id, o) < 0)
        return;
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->nsets; i++)
        tomo_lb_rank_remove(st->sets[i].set, o);
    pthread_mutex_unlock(&st->mu);
}

/* ---- cursors ---- */

typedef struct lbcursor {
    int is_next;
    int64_t expiry, score, subscore, rank;
    char owner[37];
    char board[129];
} lbcursor;

static char *cursor_encode(int is_next, const tomo_lb_record *r, int64_t rank)
{
    char *raw = tomo_xasprintf("lb1|%d|%lld|%lld|%lld|%s|%lld|%s", is_next,
                               (long long)r->expiry_time, (long long)r->score,
                               (long long)r->subscore, r->owner_id, (long long)rank,
                               r->leaderboard_id);
    char *out = tomo_b64_encode(raw, strlen(raw), 1);
    free(raw);
    return out;
}

static int cursor_decode(const char *s, lbcursor *c)
{
    uint8_t *raw = NULL;
    size_t n = 0;
    int rc = TOMO_EINVAL;
    memset(c, 0, sizeof(*c));
    if (tomo_b64_decode(s, strlen(s), &raw, &n) < 0)
        return TOMO_EINVAL;
    long long ex, sc, ss, rk;
    int nx, used = 0;
    if (n < 400 && memchr(raw, '\0', n) == NULL &&
        sscanf((char *)raw, "lb1|%d|%lld|%lld|%lld|%36[0-9a-f-]|%lld|%n", &nx, &ex, &sc, &ss,
               c->owner, &rk, &used) == 6 &&
        used > 0 && strlen((char *)raw + used) < sizeof(c->board) && tomo_uuid_valid(c->owner) &&
        (nx == 0 || nx == 1) && rk >= 0) {
        c->is_next = nx;
        c->expiry = ex;
        c->score = sc;
        c->subscore = ss;
        c->rank = rk;
        snprintf(c->board, sizeof(c->board), "%s", (char *)raw + used);
        rc = 0;
    }
    free(raw);
    return rc;
}

/* ---- listing ---- */

/* Rows of a period after key `from` (NULL = from the start), travelling
 * desc or asc, at most limit.
 * The LIMIT is a literal, not a parameter, here and in around_rows: with
 * LIMIT $n Postgres cannot cost a generic plan (it assumes a tenth of the
 * board's rows), so it planned every execution of the prepared statement
 * afresh (EXPLAIN EXECUTE: 0.07-0.3 ms of planning against 0.08-0.2 ms of
 * execution on a million-record board); with the literal it keeps the
 * generic plan after five runs (planning 0.01 ms). A statement per limit
 * value: clients use a few, and the statement caches are LRU. */
static int query_rows(tomo_dbconn *db, const tomo_lb_board *b, int64_t expiry, int travel_desc,
                      const lbcursor *from, int limit, tomo_lb_record **rows, size_t *n)
{
    const char *dir = travel_desc ? "DESC" : "ASC";
    char *sql = tomo_xasprintf(
        "SELECT " TOMO_LBI_COLS " FROM leaderboard_record WHERE leaderboard_id = $1 AND"
        " expiry_time = $2%s ORDER BY score %s, subscore %s, owner_id %s LIMIT %d",
        from ? (travel_desc ? " AND (score, subscore, owner_id) < ($3, $4, $5)"
                            : " AND (score, subscore, owner_id) > ($3, $4, $5)")
             : "",
        dir, dir, dir, limit);
    tomo_dbval p[] = {TOMO_LBI_TEXT(b->id), TOMO_DBINT(expiry),
                      TOMO_DBINT(from ? from->score : 0), TOMO_DBINT(from ? from->subscore : 0),
                      TOMO_DBTEXT(from ? from->owner : "")};
    tomo_dbres *res = NULL;
    int rc = tomo_db_exec(db, sql, p, from ? 5 : 2, &res);
    free(sql);
    *rows = NULL;
    *n = 0;
    if (rc == 0) {
        size_t k = tomo_dbres_rows(res);
        *rows = tomo_xcalloc(k ? k : 1, sizeof(**rows));
        for (size_t i = 0; i < k; i++)
            tomo_lbi_parse_row(res, i, b->id, &(*rows)[i]);
        *n = k;
    }
    tomo_dbres_free(res);
    return rc;
}

static int board_order(const void *pa, const void *pb, void *arg)
{
    const tomo_lb_record *a = pa, *b = pb;
    const tomo_lb_board *board = arg;
    int c = a->score != b->score         ? (a->score < b->score ? -1 : 1)
            : a->subscore != b->subscore ? (a->subscore < b->subscore ? -1 : 1)
                                         : strcmp(a->owner_id, b->owner_id);
    return board->sort_order == TOMO_LB_DESC ? -c : c;
}

static int64_t rank_count(tomo_svc *svc, const tomo_lb_board *b, int64_t expiry)
{
    tomo_lb_rank *set = tomo_lbi_rankset(svc, b, expiry, 0);
    int64_t n = set ? tomo_lb_rank_count(set) : 0;
    tomo_lb_rank_unref(set);
    return n;
}

int tomo_lbi_list(tomo_svc *svc, tomo_dbconn *db, const tomo_lb_board *b, int64_t expiry,
                  const tomo_lb_list *req, tomo_lb_record_list *out, tomo_err *err)
{
    lbcursor cur;
    int has_cursor = req->cursor && *req->cursor, rc = 0;
    memset(out, 0, sizeof(*out));
    if (has_cursor) {
        if (cursor_decode(req->cursor, &cur) < 0 || strcmp(cur.board, b->id) ||
            cur.expiry != expiry)
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Cursor is invalid or expired.");
    }
    if (req->limit > 0) {
        int desc = b->sort_order == TOMO_LB_DESC;
        int forward = !has_cursor || cur.is_next;
        tomo_lb_record *rows = NULL;
        size_t n = 0;
        rc = query_rows(db, b, expiry, desc == forward, has_cursor ? &cur : NULL,
                        req->limit + 1, &rows, &n);
        if (rc < 0) {
            free(rows);
            return tomo_err_db_conn(err, db, rc, "leaderboard list");
        }
        int more = n > (size_t)req->limit;
        while (n > (size_t)req->limit)
            tomo_lb_record_clear(&rows[--n]);
        if (forward) {
            int64_t base = has_cursor ? cur.rank : 0;
            for (size_t i = 0; i < n; i++)
                rows[i].rank = base + (int64_t)i + 1;
            if (more)
                out->next_cursor = cursor_encode(1, &rows[n - 1], rows[n - 1].rank);
            if (has_cursor && n)
                out->prev_cursor = cursor_encode(0, &rows[0], rows[0].rank);
        } else {
            /* read nearest-first going up: count down, then flip */
            for (size_t i = 0; i < n; i++)
                rows[i].rank = cur.rank - (int64_t)i - 1;
            for (size_t i = 0; i < n / 2; i++) {
                tomo_lb_record t = rows[i];
                rows[i] = rows[n - 1 - i];
                rows[n - 1 - i] = t;
            }
            if (more)
                out->prev_cursor = cursor_encode(0, &rows[0], rows[0].rank);
            if (n)
                out->next_cursor = cursor_encode(1, &rows[n - 1], rows[n - 1].rank);
        }
        out->records = rows;
        out->n = n;
    }
    if (req->n_owner) {
        size_t np = req->n_owner + 2;
        tomo_dbval *p = tomo_xcalloc(np, sizeof(*p));
        char (*ids)[37] = tomo_xcalloc(req->n_owner, 37);
        p[0] = TOMO_LBI_TEXT(b->id);
        p[1] = TOMO_DBINT(expiry);
        size_t len = 256 + req->n_owner * 8;
        char *sql = tomo_xmalloc(len), *w = sql;
        w += sprintf(w, "SELECT " TOMO_LBI_COLS " FROM leaderboard_record WHERE leaderboard_id ="
                        " $1 AND expiry_time = $2 AND owner_id IN (");
        for (size_t i = 0; i < req->n_owner; i++) {
            for (int k = 0; k < 37; k++) {
                char ch = req->owner_ids[i][k];
                ids[i][k] = (char)(ch >= 'A' && ch <= 'F' ? ch + 32 : ch);
                if (!ch)
                    break;
            }
            p[i + 2] = TOMO_LBI_TEXT(ids[i]);
            w += sprintf(w, "%s$%zu", i ? ", " : "", i + 3);
        }
        sprintf(w, ")");
        tomo_dbres *res = NULL;
        rc = tomo_db_exec(db, sql, p, np, &res);
        free(sql);
        free(p);
        free(ids);
        if (rc < 0) {
            tomo_lb_record_list_clear(out);
            return tomo_err_db_conn(err, db, rc, "leaderboard list owners");
        }
        size_t k = tomo_dbres_rows(res);
        out->owner_records = tomo_xcalloc(k ? k : 1, sizeof(tomo_lb_record));
        for (size_t i = 0; i < k; i++) {
            tomo_lbi_parse_row(res, i, b->id, &out->owner_records[i]);
            out->owner_records[i].rank = tomo_lbi_rank(svc, db, b, &out->owner_records[i]);
        }
        out->n_owner = k;
        tomo_dbres_free(res);
        qsort_r(out->owner_records, k, sizeof(tomo_lb_record), board_order, (void *)b);
    }
    out->rank_count = rank_count(svc, b, expiry);
    return 0;
}

/* The rows around `at` in one statement (one database round trip): up to
 * `limit` rows better than it ("above") and up to `limit` worse ("below"),
 * and with with_me the owner's own row. The side of each row (0 the owner,
 * 1 above, 2 below) is the last column. Rows come back in no guaranteed
 * order; the caller sorts. */
static int around_rows(tomo_dbconn *db, const tomo_lb_board *b, int64_t expiry, const lbcursor *at,
                       int limit, int with_me, tomo_dbres **res)
{
    int desc = b->sort_order == TOMO_LB_DESC;
    /* above travels against the board order, below with it */
    const char *up = desc ? "ASC" : "DESC", *down = desc ? "DESC" : "ASC";
    char *sql = tomo_xasprintf(
        "SELECT * FROM (SELECT " TOMO_LBI_COLS ", 1 AS side FROM leaderboard_record WHERE"
        " leaderboard_id = $1 AND expiry_time = $2 AND (score, subscore, owner_id) %s ($3, $4, $5)"
        " ORDER BY score %s, subscore %s, owner_id %s LIMIT %d) AS above"
        " UNION ALL SELECT * FROM (SELECT " TOMO_LBI_COLS ", 2 AS side FROM leaderboard_record"
        " WHERE leaderboard_id = $1 AND expiry_time = $2 AND (score, subscore, owner_id) %s"
        " ($3, $4, $5) ORDER BY score %s, subscore %s, owner_id %s LIMIT %d) AS below%s",
        desc ? ">" : "<", up, up, up, limit, desc ? "<" : ">", down, down, down, limit,
        with_me ? " UNION ALL SELECT " TOMO_LBI_COLS ", 0 AS side FROM leaderboard_record WHERE"
                  " leaderboard_id = $1 AND expiry_time = $2 AND owner_id = $5"
                : "");
    tomo_dbval p[] = {TOMO_LBI_TEXT(b->id), TOMO_DBINT(expiry), TOMO_DBINT(at->score),
                      TOMO_DBINT(at->subscore), TOMO_DBTEXT(at->owner)};
    int rc = tomo_db_exec(db, sql, p, 5, res);
    free(sql);
    return rc;
}

int tomo_lbi_around(tomo_svc *svc, tomo_dbconn *db, const tomo_lb_board *b, int64_t expiry,
                    const char *owner_id, int limit, tomo_lb_record_list *out, tomo_err *err)
{
    tomo_lb_record me;
    char owner[37];
    memset(out, 0, sizeof(*out));
    memset(&me, 0, sizeof(me));
    for (int i = 0; i < 37; i++)
        owner[i] = (char)(owner_id[i] >= 'A' && owner_id[i] <= 'F' ? owner_id[i] + 32
                                                                   : owner_id[i]);
    out->rank_count = rank_count(svc, b, expiry);
    lbcursor at;
    memset(&at, 0, sizeof(at));
    snprintf(at.owner, sizeof(at.owner), "%s", owner);
    /* The owner's key from the rank set when it is complete: then the owner's
     * row comes in the same statement as its neighbours. Otherwise (filling,
     * or not ranked) the row is read first. */
    int keyed = 0, rc;
    if (limit > 1) {
        uint8_t o[16];
        tomo_lb_rank *set = tomo_lbi_rankset(svc, b, expiry, 0);
        keyed = set && !tomo_lb_rank_filling(set) && tomo_lb_uuid_parse(owner, o) == 0 &&
                tomo_lb_rank_key(set, o, &at.score, &at.subscore) == 0;
        tomo_lb_rank_unref(set);
    }
    if (!keyed) {
        rc = tomo_lbi_read(db, b->id, expiry, owner, &me);
        if (rc == TOMO_ENOTFOUND)
            return 0;
        if (rc < 0)
            return tomo_err_db_conn(err, db, rc, "leaderboard haystack");
        me.rank = tomo_lbi_rank(svc, db, b, &me);
        if (limit <= 1) {
            out->records = tomo_xcalloc(1, sizeof(tomo_lb_record));
            out->records[0] = me;
            out->n = 1;
            return 0;
        }
        at.score = me.score;
        at.subscore = me.subscore;
        snprintf(at.owner, sizeof(at.owner), "%s", me.owner_id);
    }
    tomo_dbres *res = NULL;
    rc = around_rows(db, b, expiry, &at, limit + 1, keyed, &res);
    if (rc < 0) {
        tomo_dbres_free(res);
        tomo_lb_record_clear(&me);
        return tomo_err_db_conn(err, db, rc, "leaderboard haystack");
    }
    size_t k = tomo_dbres_rows(res), na = 0, nb = 0;
    tomo_lb_record *above = tomo_xcalloc(k + 1, sizeof(*above));
    tomo_lb_record *below = tomo_xcalloc(k + 1, sizeof(*below));
    int found = !keyed;
    for (size_t i = 0; i < k; i++) {
        int64_t side = tomo_dbres_int(res, i, 10);
        if (side == 0) {
            tomo_lbi_parse_row(res, i, b->id, &me);
            found = 1;
        } else {
            tomo_lbi_parse_row(res, i, b->id, side == 1 ? &above[na++] : &below[nb++]);
        }
    }
    tomo_dbres_free(res);
    if (!found) { /* deleted since the rank set saw it */
        for (size_t i = 0; i < na; i++)
            tomo_lb_record_clear(&above[i]);
        for (size_t i = 0; i < nb; i++)
            tomo_lb_record_clear(&below[i]);
        free(above);
        free(below);
        return 0;
    }
    if (keyed)
        me.rank = tomo_lbi_rank(svc, db, b, &me);
    /* board order, best first: above ends nearest the owner, below starts there */
    qsort_r(above, na, sizeof(*above), board_order, (void *)b);
    qsort_r(below, nb, sizeof(*below), board_order, (void *)b);
    size_t half = (size_t)limit / 2;
    int more_above = na > (size_t)limit, more_below;
    size_t skip = more_above ? na - (size_t)limit : 0; /* the farthest rows above */
    for (size_t i = 0; i < skip; i++)
        tomo_lb_record_clear(&above[i]);
    na -= skip;
    size_t s = na < half ? (size_t)limit - na : half;
    more_below = nb > s;
    while (nb > s)
        tomo_lb_record_clear(&below[--nb]);
    size_t len = na + 1 + nb;
    tomo_lb_record *all = tomo_xcalloc(len, sizeof(*all));
    memcpy(all, above + skip, na * sizeof(*all));
    all[na] = me;
    memcpy(all + na + 1, below, nb * sizeof(*all));
    free(above);
    free(below);
    for (size_t i = 0; i < len; i++)
        all[i].rank = me.rank ? me.rank - (int64_t)na + (int64_t)i : 0;
    size_t start = 0;
    if (len > (size_t)limit && na >= half)
        start = len - (size_t)limit;
    size_t end = start + (size_t)limit < len ? start + (size_t)limit : len;
    for (size_t i = 0; i < start; i++)
        tomo_lb_record_clear(&all[i]);
    for (size_t i = end; i < len; i++)
        tomo_lb_record_clear(&all[i]);
    memmove(all, all + start, (end - start) * sizeof(*all));
    out->records = all;
    out->n = end - start;
    if (start > 0 || more_above)
        out->prev_cursor = cursor_encode(0, &all[0], all[0].rank);
    if (end < len || more_below)
        out->next_cursor = cursor_encode(1, &all[out->n - 1], all[out->n - 1].rank);
    return 0;
}

static int check_owner_ids(const tomo_lb_list *req, tomo_err *err)
{
    for (size_t i = 0; i < req->n_owner; i++)
        if (!req->owner_ids[i] || !tomo_uuid_valid(req->owner_ids[i]))
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                                "One or more owner IDs are invalid.");
    return 0;
}

int tomo_svc_leaderboard_records_list(tomo_svc *svc, tomo_dbconn *db, const char *id,
                                      const tomo_lb_list *req, tomo_lb_record_list *out,
                                      tomo_err *err)
{
    tomo_lb_board b;
    memset(out, 0, sizeof(*out));
    if (!id || !*id)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid leaderboard ID.");
    int rc = check_owner_ids(req, err);
    if (rc < 0)
        return rc;
    rc = tomo_svc_leaderboard_get(svc, db, id, &b);
    if (rc == TOMO_ENOTFOUND)
        return tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "Leaderboard not found.");
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "leaderboard get");
    int64_t now = tomo_now_sec(), expiry = req->expiry;
    if (!expiry) {
        expiry = period_of(&b, now);
        if (tomo_lb_board_is_tournament(&b) && expiry && expiry <= now) {
            tomo_lb_board_clear(&b);
            return 0; /* the tournament's period is over: nothing current */
        }
    }
    rc = tomo_lbi_list(svc, db, &b, expiry, req, out, err);
    tomo_lb_board_clear(&b);
    return rc;
}

int tomo_lbi_check_haystack_owner(const char *owner_id, tomo_err *err)
{
    if (!owner_id || !*owner_id)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Owner ID must be provided for a haystack query.");
    if (!tomo_uuid_valid(owner_id))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid owner ID provided.");
    return 0;
}

int tomo_svc_leaderboard_records_around_owner(tomo_svc *svc, tomo_dbconn *db, const char *id,
                                              const char *owner_id, int limit, const char *cursor,
                                              int64_t expiry, tomo_lb_record_list *out,
                                              tomo_err *err)
{
    tomo_lb_board b;
    memset(out, 0, sizeof(*out));
    if (!id || !*id)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid leaderboard ID.");
    if (tomo_lbi_check_haystack_owner(owner_id, err) < 0)
        return -1;
    int rc = tomo_svc_leaderboard_get(svc, db, id, &b);
    if (rc == TOMO_ENOTFOUND)
        return tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "Leaderboard not found.");
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "leaderboard get");
    if (!expiry)
        expiry = period_of(&b, tomo_now_sec());
    if (cursor && *cursor) {
        tomo_lb_list req = {.limit = limit, .cursor = cursor};
        rc = tomo_lbi_list(svc, db, &b, expiry, &req, out, err);
    } else {
        rc = tomo_lbi_around(svc, db, &b, expiry, owner_id, limit, out, err);
    }
    if (rc < 0 && err && err->code == TOMO_GRPC_INTERNAL)
        tomo_err_set(err, TOMO_GRPC_INTERNAL, "Error querying records from leaderboard.");
    tomo_lb_board_clear(&b);
    return rc;
}

/* ---- protojson: written as text; the trees are parsed from it (one
 * rendering of the message) ---- */

/* Member for member what tomo_lb_record_json builds. */
static void record_text(tomo_jw *w, const tomo_lb_record *r)
{
    tomo_jw_obj(w, NULL);
    tomo_jw_opt_str(w, "leaderboard_id", r->leaderboard_id);
    tomo_jw_opt_str(w, "owner_id", r->owner_id);
    if (r->username)
        tomo_jw_str(w, "username", r->username);
    tomo_jw_opt_i64(w, "score", r->score);
    tomo_jw_opt_i64(w, "subscore", r->subscore);
    if (r->num_score)
        tomo_jw_int(w, "num_score", r->num_score);
    tomo_jw_opt_str(w, "metadata", r->metadata);
    tomo_jw_opt_time(w, "create_time", r->create_time);
    tomo_jw_opt_time(w, "update_time", r->update_time);
    tomo_jw_opt_time(w, "expiry_time", r->expiry_time * 1000);
    tomo_jw_opt_i64(w, "rank", r->rank);
    if (r->max_num_score)
        tomo_jw_int(w, "max_num_score", r->max_num_score);
    tomo_jw_obj_end(w);
}

char *tomo_lb_record_list_text(const tomo_lb_record_list *l, size_t *len)
{
    tomo_jw w;
    tomo_jw_init(&w);
    tomo_jw_obj(&w, NULL);
    if (l->n) {
        tomo_jw_arr(&w, "records");
        for (size_t i = 0; i < l->n; i++)
            record_text(&w, &l->records[i]);
        tomo_jw_arr_end(&w);
    }
    if (l->n_owner) {
        tomo_jw_arr(&w, "owner_records");
        for (size_t i = 0; i < l->n_owner; i++)
            record_text(&w, &l->owner_records[i]);
        tomo_jw_arr_end(&w);
    }
    tomo_jw_opt_str(&w, "next_cursor", l->next_cursor);
    tomo_jw_opt_str(&w, "prev_cursor", l->prev_cursor);
    tomo_jw_opt_i64(&w, "rank_count", l->rank_count);
    tomo_jw_obj_end(&w);
    return tomo_jw_take(&w, len);
}

json_t *tomo_lb_record_json(const tomo_lb_record *r)
{
    tomo_jw w;
    tomo_jw_init(&w);
    record_text(&w, r);
    return tomo_jw_tree(&w);
}

json_t *tomo_lb_record_list_json(const tomo_lb_record_list *l)
{
    char *text = tomo_lb_record_list_text(l, NULL);
    json_t *o = json_loads(text, 0, NULL);
    free(text);
    return o;
}
