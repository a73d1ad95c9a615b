/* rt/matchmaker_rt.c: the server's matchmaker: matchmaker_add /
 * matchmaker_remove, the interval timer, matchmaker_matched delivery (a
 * relayed-match token, or the runtime hook's match id), and ticket cleanup
 * when a session goes away. Party tickets are added by rt/party.c through
 * tomo_rt_mm_add.
 * Owns: struct mm_rt (hung on tomo_rt.mm): the matcher, its timers, the hook.
 * Threads: loop thread; the hook job's work function runs on a worker. */
#define _GNU_SOURCE
#include "../core/common.h"
#include "../core/codec_util.h"
#include "../core/hmap.h"
#include "../core/jwt.h"
#include "../core/log.h"
#include "envelope.h"
#include "matchmaker.h"
#include "rt_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Tickets processed per loop pass: an interval over many tickets is split
 * so the loop keeps serving sockets in between. */
#define MM_STEP_BUDGET 8192

typedef struct mm_rt {
    tomo_rt *rt;
    tomo_mm *mm;
    uv_timer_t interval, step;
    int timers;
    tomo_rt_mm_hook hook;
    void *hook_ud;
    int64_t run_started_ns;
    tomo_metric *m_tickets, *m_active, *m_time;
    /* Tickets re-homed here from a dead matchmaker node (cluster): their
     * ids here (the matcher makes its own) and the ids their clients hold,
     * both ways (heap strings). matchmaker_remove and matchmaker_matched
     * speak the client's id. An entry goes when its ticket is matched or
     * removed; one whose session closed stays (only tickets re-homed once
     * a matchmaker node died can be here). Keys are borrowed: each map's
     * key is the other map's value, freed with it. */
    tomo_hmap real_of_client, client_of_real;
} mm_rt;

static void alias_drop(mm_rt *m, const char *real)
{
    char *client = tomo_hmap_del(&m->client_of_real, real);
    if (client)
        free(tomo_hmap_del(&m->real_of_client, client));
    free(client);
}

/* The id the client holds for ticket `real`. */
static const char *client_ticket(mm_rt *m, const char *real)
{
    const char *c = m->client_of_real.count ? tomo_hmap_get(&m->client_of_real, real) : NULL;
    return c ? c : real;
}

static mm_rt *mm_of(tomo_rt *rt)
{
    return rt ? rt->mm : NULL;
}

tomo_mm *tomo_rt_matchmaker(tomo_rt *rt)
{
    mm_rt *m = mm_of(rt);
    return m ? m->mm : NULL;
}

void tomo_rt_matchmaker_set_hook(tomo_rt *rt, tomo_rt_mm_hook fn, void *ud)
{
    mm_rt *m = mm_of(rt);
    if (m) {
        m->hook = fn;
        m->hook_ud = ud;
    }
}

static void gauges(mm_rt *m)
{
    tomo_metric_set(m->m_tickets, NULL, (double)tomo_mm_count(m->mm));
    tomo_metric_set(m->m_active, NULL, (double)tomo_mm_active(m->mm));
}

/* ---- delivery ---- */

static json_t *user_entry(const tomo_mm_ticket *t, const tomo_mm_presence *p)
{
    json_t *u = json_object();
    json_t *pr = json_pack("{s:s,s:s}", "user_id", p->user_id, "session_id", p->session_id);
    if (p->username && *p->username)
        json_object_set_new(pr, "username", json_string(p->username));
    json_object_set_new(u, "presence", pr);
    if (t->party_id)
        json_object_set_new(u, "party_id", json_string(t->party_id));
    if (t->nsprops) {
        json_t *sp = json_object();
        for (size_t i = 0; i < t->nsprops; i++)
            json_object_set_new(sp, t->sprops[i].key, json_string(t->sprops[i].value));
        json_object_set_new(u, "string_properties", sp);
    }
    if (t->nnprops) {
        json_t *np = json_object();
        for (size_t i = 0; i < t->nnprops; i++)
            json_object_set_new(np, t->nprops[i].key, json_real(t->nprops[i].value));
        json_object_set_new(u, "numeric_properties", np);
    }
    return u;
}

/* One formed match, as data that outlives the tickets. */
typedef struct matched {
    tomo_rt *rt;
    json_t *users;   /* [MatchmakerUser] */
    json_t *tickets; /* parallel: each user's ticket id */
    char *match_id;  /* from the hook, or NULL */
} matched;

static void matched_free(matched *x)
{
    json_decref(x->users);
    json_decref(x->tickets);
    free(x->match_id);
    free(x);
}

static void deliver(matched *x)
{
    tomo_rt *rt = x->rt;
    char *token = NULL;
    if (!x->match_id || !*x->match_id) {
        char uuid[37], mid[40];
        tomo_uuid_v4(uuid);
        snprintf(mid, sizeof(mid), "%s.", uuid);
        json_t *claims = json_pack("{s:s,s:I}", "mid", mid, "exp",
                                   (json_int_t)(tomo_now_sec() + 30));
        const char *key = rt->cfg->session.encryption_key;
        token = tomo_jwt_sign(claims, key, strlen(key));
        json_decref(claims);
    }
    size_t i;
    json_t *u;
    json_array_foreach (x->users, i, u) {
        const char *sid = json_string_value(
            json_object_get(json_object_get(u, "presence"), "session_id"));
        tomo_rt_session *s = sid ? tomo_rt_route_reach(rt, sid) : NULL;
        if (!s)
            continue; /* gone meanwhile */
        json_t *mm = json_object();
        json_object_set(mm, "ticket", json_array_get(x->tickets, i));
        if (token)
            json_object_set_new(mm, "token", json_string(token));
        else
            json_object_set_new(mm, "match_id", json_string(x->match_id));
        json_object_set(mm, "users", x->users);
        json_object_set(mm, "self", u);
        json_t *env = json_pack("{s:o}", "matchmaker_matched", mm);
        tomo_rt_session_send(s, env);
        json_decref(env);
    }
    free(token);
}

static void hook_work(void *arg)
{
    matched *x = arg;
    mm_rt *m = mm_of(x->rt);
    char *mid = NULL;
    if (m && m->hook && m->hook(m->hook_ud, x->users, &mid) == 0)
        x->match_id = mid;
    else
        free(mid);
}

static void hook_done(void *arg)
{
    matched *x = arg;
    if ((x->rt))
        deliver(x);
    matched_free(x);
}

static void on_matched(void *ud, tomo_mm_ticket *const *tickets, size_t n)
{
    mm_rt *m = ud;
    matched *x = tomo_xcalloc(1, sizeof(*x));
    x->rt = m->rt;
    x->users = json_array();
    x->tickets = json_array();
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < tickets[i]->npresences; j++) {
            json_array_append_new(x->users, user_entry(tickets[i], &tickets[i]->presences[j]));
            json_array_append_new(x->tickets, json_string(client_ticket(m, tickets[i]->id)));
        }
        if (m->client_of_real.count)
            alias_drop(m, tickets[i]->id);
    }
    if (m->hook && m->rt->pool && tomo_pool_submit(m->rt->pool, hook_work, hook_done, x) == 0)
        return;
    deliver(x);
    matched_free(x);
}

/* ---- intervals ---- */

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void step_cb(uv_timer_t *t);

static void run_step(mm_rt *m)
{
    int more = tomo_mm_interval_step(m->mm, MM_STEP_BUDGET, on_matched, m);
    if (more) {
        uv_timer_start(&m->step, step_cb, 0, 0);
        return;
    }
    double ms = (double)(mono_ns() - m->run_started_ns) / 1e6;
    tomo_metric_observe(m->m_time, NULL, ms);
    TOMO_LOGD(TOMO_RT, "matchmaker interval done ms=%.1f tickets=%zu", ms, tomo_mm_count(m->mm));
    gauges(m);
}

static void step_cb(uv_timer_t *t) { run_step(t->data); }

static void interval_cb(uv_timer_t *t)
{
    mm_rt *m = t->data;
    if (!tomo_mm_interval_begin(m->mm)) {
        TOMO_LOGD(TOMO_RT, "matchmaker interval skipped: the previous one is still running");
        return;
    }
    TOMO_LOGD(TOMO_RT, "matchmaker interval start tickets=%zu active=%zu", tomo_mm_count(m->mm),
              tomo_mm_active(m->mm));
    m->run_started_ns = mono_ns();
    run_step(m);
}

/* ---- ticket management shared with parties ---- */

int tomo_rt_mm_add(tomo_rt *rt, const tomo_mm_presence *ps, size_t n, const char *party_id,
                   json_t *body, char ticket[37])
{
    mm_rt *m = mm_of(rt);
    if (!m)
        return TOMO_EUNAVAIL;
    json_t *mult = json_object_get(body, "count_multiple");
    char err[128];
    int rc = tomo_mm_add(m->mm, ps, n, party_id, json_string_value(json_object_get(body, "query")),
                         (int)json_integer_value(json_object_get(body, "min_count")),
                         (int)json_integer_value(json_object_get(body, "max_count")),
                         mult ? (int)json_integer_value(mult) : 1,
                         json_object_get(body, "string_properties"),
                         json_object_get(body, "numeric_properties"), 0, ticket, err, sizeof(err));
    if (rc < 0)
        TOMO_LOGD(TOMO_RT, "matchmaker add refused error=%s", err);
    gauges(m);
    return rc;
}

const char *tomo_rt_mm_validate(json_t *body)
{
    json_int_t min = json_integer_value(json_object_get(body, "min_count"));
    json_int_t max = json_integer_value(json_object_get(body, "max_count"));
    json_t *jm = json_object_get(body, "count_multiple");
    json_int_t mult = jm ? json_integer_value(jm) : 1;
    if (min < 2)
        return "Invalid minimum count, must be >= 2";
    if (max < min)
        return "Invalid maximum count, must be >= minimum count";
    if (mult < 1)
        return "Invalid count multiple, must be >= 1";
    if (min % mult != 0)
        return "Invalid count multiple for minimum count, must divide";
    if (max % mult != 0)
        return "Invalid count multiple for maximum count, must divide";
    return NULL;
}

void tomo_rt_mm_presence(const tomo_rt_session *s, tomo_mm_presence *p)
{
    memcpy(p->user_id, s->user_id, 37);
    memcpy(p->session_id, s->id, 37);
    p->username = s->username;
}

size_t tomo_rt_mm_remove_party(tomo_rt *rt, const char *party_id)
{
    mm_rt *m = mm_of(rt);
    size_t n = m ? tomo_mm_remove_party(m->mm, party_id) : 0;
    if (n)
        gauges(m);
    return n;
}

int tomo_rt_mm_remove_party_ticket(tomo_rt *rt, const char *party_id, const char *ticket)
{
    mm_rt *m = mm_of(rt);
    tomo_mm_ticket *t = m ? tomo_mm_get(m->mm, ticket) : NULL;
    if (!t || !t->party_id || strcmp(t->party_id, party_id))
        return TOMO_ENOTFOUND;
    tomo_mm_remove(m->mm, ticket);
    gauges(m);
    return 0;
}

void tomo_rt_matchmaker_session_id_gone(tomo_rt *rt, const char *session_id)
{
    mm_rt *m = mm_of(rt);
    if (m && tomo_mm_remove_session(m->mm, session_id))
        gauges(m);
}

void tomo_rt_matchmaker_session_gone(tomo_rt_session *s)
{
    tomo_rt_matchmaker_session_id_gone(s->rt, s->id);
}

/* ---- envelopes ---- */

static int h_matchmaker_add(tomo_rt_req *req)
{
    const char *bad = tomo_rt_mm_validate(req->body);
    if (bad)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "%s", bad);
    tomo_mm_presence p;
    tomo_rt_mm_presence(req->session, &p);
    char ticket[37];
    if (tomo_rt_mm_add(req->rt, &p, 1, NULL, req->body, ticket) < 0)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_RUNTIME_EXCEPTION,
                                   "Error adding to matchmaker");
    return tomo_rt_reply(req, "matchmaker_ticket", json_pack("{s:s}", "ticket", ticket));
}

static int h_matchmaker_remove(tomo_rt_req *req)
{
    const char *ticket = json_string_value(json_object_get(req->body, "ticket"));
    if (!ticket || !*ticket)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Invalid matchmaker ticket");
    mm_rt *m = mm_of(req->rt);
    const char *real = m->real_of_client.count ? tomo_hmap_get(&m->real_of_client, ticket) : NULL;
    if (real)
        ticket = real;
    tomo_mm_ticket *t = tomo_mm_get(m->mm, ticket);
    /* Only this session's own solo tickets. */
    if (!t || t->party_id || t->npresences != 1 ||
        strcmp(t->presences[0].session_id, req->session->id))
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Matchmaker ticket not found");
    char id[37];
    snprintf(id, sizeof(id), "%s", ticket);
    tomo_mm_remove(m->mm, id);
    if (real)
        alias_drop(m, id);
    gauges(m);
    return tomo_rt_reply(req, NULL, NULL);
}

int tomo_rt_mm_readd(tomo_rt *rt, const tomo_rt_session *s, json_t *body)
{
    mm_rt *m = mm_of(rt);
    const char *held = json_string_value(json_object_get(body, "ticket"));
    if (!m || !held || strlen(held) != 36 || tomo_rt_mm_validate(body))
        return TOMO_EINVAL;
    if (tomo_hmap_get(&m->real_of_client, held))
        return 0; /* here already */
    tomo_mm_presence p;
    tomo_rt_mm_presence(s, &p);
    char real[37];
    int rc = tomo_rt_mm_add(rt, &p, 1, NULL, body, real);
    if (rc < 0) {
        TOMO_LOGW(TOMO_RT, "matchmaker ticket not re-homed session=%s ticket=%s rc=%d", s->id,
                  held, rc);
        return rc;
    }
    /* keys are borrowed: each map's key is the other map's value */
    char *r = tomo_xstrdup(real), *c = tomo_xstrdup(held);
    tomo_hmap_put(&m->real_of_client, c, r);
    tomo_hmap_put(&m->client_of_real, r, c);
    TOMO_LOGI(TOMO_RT, "matchmaker ticket re-homed session=%s ticket=%s", s->id, held);
    return 0;
}

/* cluster: a ticket of a dead matchmaker node, sent again by its session's
 * node (only a forwarded envelope runs on a ghost; from a client socket it
 * is unrecognised). No answer: the client already holds the ticket. */
static int h_cluster_matchmaker_readd(tomo_rt_req *req)
{
    if (!req->session->_ghost)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_UNRECOGNIZED_PAYLOAD, "Unrecognized message.");
    tomo_rt_mm_readd(req->rt, req->session, req->body);
    req->replied = 1;
    return 0;
}

static void on_handle_closed(uv_handle_t *h) { (void)h; }

void tomo_rt_matchmaker_close(tomo_rt *rt)
{
    mm_rt *m = rt->mm;
    if (!m || !m->timers)
        return;
    m->timers = 0;
    uv_timer_stop(&m->interval);
    uv_timer_stop(&m->step);
    uv_close((uv_handle_t *)&m->interval, on_handle_closed);
    uv_close((uv_handle_t *)&m->step, on_handle_closed);
}

void tomo_rt_matchmaker_free(tomo_rt *rt)
{
    mm_rt *m = rt->mm;
    if (!m)
        return;
    tomo_mm_free(m->mm);
    const char *k;
    void *v;
    for (size_t i = 0; (i = tomo_hmap_next(&m->real_of_client, i, &k, &v)) != 0;)
        free(v);
    for (size_t i = 0; (i = tomo_hmap_next(&m->client_of_real, i, &k, &v)) != 0;)
        free(v);
    tomo_hmap_free(&m->real_of_client);
    tomo_hmap_free(&m->client_of_real);
    free(m);
    rt->mm = NULL;
}

void tomo_rt_matchmaker_init(tomo_rt *rt)
{
    const tomo_config *cfg = rt->cfg;
    mm_rt *m = tomo_xcalloc(1, sizeof(*m));
    m->rt = rt;
    tomo_hmap_init(&m->real_of_client);
    tomo_hmap_init(&m->client_of_real);
    tomo_mm_config mc = {
        .max_tickets = cfg->matchmaker.max_tickets,
        .max_intervals = cfg->matchmaker.max_intervals,
        .rev_precision = cfg->matchmaker.rev_precision,
        .rev_budget_ms = (int64_t)cfg->matchmaker.interval_sec * cfg->matchmaker.rev_threshold *
                         1000,
    };
    m->mm = tomo_mm_new(&mc);
    m->m_tickets = tomo_metrics_gauge("matchmaker_tickets", "Matchmaker tickets", NULL);
    m->m_active = tomo_metrics_gauge("matchmaker_active_tickets",
                                     "Matchmaker tickets still searching", NULL);
    m->m_time = tomo_metrics_histogram("matchmaker_process_time",
                                       "Milliseconds to process one matchmaker interval", NULL,
                                       NULL, 0);
    rt->mm = m;
    gauges(m);
    if (rt->loop) {
        uv_loop_t *uv = tomo_loop_uv(rt->loop);
        uint64_t ms =
            (uint64_t)(cfg->matchmaker.interval_sec > 0 ? cfg->matchmaker.interval_sec : 15) * 1000;
        uv_timer_init(uv, &m->interval);
        uv_timer_init(uv, &m->step);
        m->interval.data = m->step.data = m;
        uv_timer_start(&m->interval, interval_cb, ms, ms);
        uv_unref((uv_handle_t *)&m->interval);
        uv_unref((uv_handle_t *)&m->step);
        m->timers = 1;
    }
    tomo_rt_register(rt, "matchmaker_add", h_matchmaker_add);
    tomo_rt_register(rt, "matchmaker_remove", h_matchmaker_remove);
    tomo_rt_register(rt, "cluster_matchmaker_readd", h_cluster_matchmaker_readd);
}
