/* rt/matchmaker.c: tickets, the keyword index and the interval matcher
 * (rt/matchmaker.h). Lists of tickets (index postings, per-session and
 * per-party lists, the creation-order list) hold {slot, generation} refs:
 * a removed ticket only makes its refs stale, and a list is compacted once
 * half of it is stale, so removal never walks a list. */
#define _GNU_SOURCE
#include "matchmaker.h"

#include "../core/common.h"
#include "../core/codec_util.h"
#include "../core/hmap.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct ref {
    uint32_t slot, gen;
} ref;

typedef struct reflist {
    ref *v;
    size_t n, cap, dead;
    size_t head; /* refs before it are all stale (matched tickets leave oldest first) */
} reflist;

/* An index posting or an owner's (session, party) ticket list; the map key
 * lives in `key`. */
typedef struct keyed {
    reflist l;
    char key[];
} keyed;

typedef struct combo {
    tomo_mm_ticket **t;
    size_t n, cap;
    int count; /* presences */
} combo;

typedef struct hit {
    tomo_mm_ticket *t;
    double score;
} hit;

struct tomo_mm {
    tomo_mm_config cfg;
    tomo_mm_ticket **tab; /* slot -> ticket or NULL */
    uint32_t *gens;       /* slot -> generation of its latest ticket */
    size_t tabn, tabcap;
    uint32_t *freeslots;
    size_t nfree, freecap;
    tomo_hmap ids;      /* ticket id -> ticket */
    tomo_hmap postings; /* "field\x1fvalue" -> keyed */
    tomo_hmap sessions; /* session id -> keyed */
    tomo_hmap parties;  /* party id -> keyed */
    reflist order;      /* every ticket, oldest first */
    size_t count, active;
    uint64_t seq;
    /* the running interval */
    ref *snap;
    size_t snapn, snappos;
    int running;
    int64_t rev_deadline_ms;
    /* scratch, reused across searches */
    combo *combos;
    size_t ncombos, combocap;
    hit *hits;
    size_t nhits, hitcap;
};

/* ---- ref lists ---- */

static void rl_push(reflist *l, ref r)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 4;
        ref *nv = tomo_xmalloc(nc * sizeof(*nv));
        if (l->n)
            memcpy(nv, l->v, l->n * sizeof(*nv));
        free(l->v);
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = r;
}

static tomo_mm_ticket *deref(const tomo_mm *mm, ref r)
{
    tomo_mm_ticket *t = mm->tab[r.slot];
    return t && t->_gen == r.gen ? t : NULL;
}

static void rl_compact(const tomo_mm *mm, reflist *l)
{
    size_t w = 0;
    for (size_t i = 0; i < l->n; i++)
        if (deref(mm, l->v[i]))
            l->v[w++] = l->v[i];
    l->n = w;
    l->dead = 0;
    l->head = 0;
}

/* One ref of this list went stale; drop the list (returns 1) when nothing
 * live is left. */
static int rl_stale(const tomo_mm *mm, reflist *l)
{
    l->dead++;
    if (l->dead >= l->n)
        return 1;
    if (l->n >= 8 && l->dead * 2 > l->n)
        rl_compact(mm, l);
    return 0;
}

static keyed *keyed_get(tomo_hmap *m, const char *key, int create)
{
    keyed *k = tomo_hmap_get(m, key);
    if (!k && create) {
        size_t n = strlen(key);
        k = tomo_xmalloc(sizeof(*k) + n + 1);
        memset(&k->l, 0, sizeof(k->l));
        memcpy(k->key, key, n + 1);
        tomo_hmap_put(m, k->key, k);
    }
    return k;
}

static void keyed_stale(tomo_mm *mm, tomo_hmap *m, const char *key)
{
    keyed *k = tomo_hmap_get(m, key);
    if (k && rl_stale(mm, &k->l)) {
        tomo_hmap_del(m, k->key);
        free(k->l.v);
        free(k);
    }
}

static void free_keyed_map(tomo_hmap *m)
{
    const char *key;
    void *v;
    for (size_t i = 0; (i = tomo_hmap_next(m, i, &key, &v)) != 0;) {
        keyed *k = v;
        free(k->l.v);
        free(k);
    }
    tomo_hmap_free(m);
}

/* ---- index keys ---- */

typedef struct kbuf {
    char *p;
    char stack[256];
} kbuf;

static const char *index_key(kbuf *b, const char *field, const char *value)
{
    size_t fl = strlen(field), vl = strlen(value);
    b->p = fl + vl + 2 <= sizeof(b->stack) ? b->stack : tomo_xmalloc(fl + vl + 2);
    memcpy(b->p, field, fl);
    b->p[fl] = '\x1f';
    memcpy(b->p + fl + 1, value, vl + 1);
    return b->p;
}

static void kbuf_free(kbuf *b)
{
    if (b->p != b->stack)
        free(b->p);
}

/* ---- lifecycle ---- */

tomo_mm *tomo_mm_new(const tomo_mm_config *cfg)
{
    tomo_mm *mm = tomo_xmalloc(sizeof(*mm));
    memset(mm, 0, sizeof(*mm));
    mm->cfg = *cfg;
    if (mm->cfg.max_intervals < 1)
        mm->cfg.max_intervals = 1;
    tomo_hmap_init(&mm->ids);
    tomo_hmap_init(&mm->postings);
    tomo_hmap_init(&mm->sessions);
    tomo_hmap_init(&mm->parties);
    return mm;
}

static void ticket_free(tomo_mm_ticket *t)
{
    for (size_t i = 0; i < t->npresences; i++)
        free(t->presences[i].username);
    free(t->presences);
    free(t->party_id);
    json_decref(t->string_properties);
    json_decref(t->numeric_properties);
    tomo_query_free(t->_q);
    tomo_qdoc_clear(&t->_doc);
    free(t);
}

void tomo_mm_free(tomo_mm *mm)
{
    if (!mm)
        return;
    for (size_t i = 0; i < mm->tabn; i++)
        if (mm->tab[i])
            ticket_free(mm->tab[i]);
    free(mm->tab);
    free(mm->gens);
    free(mm->freeslots);
    tomo_hmap_free(&mm->ids);
    free_keyed_map(&mm->postings);
    free_keyed_map(&mm->sessions);
    free_keyed_map(&mm->parties);
    free(mm->order.v);
    free(mm->snap);
    for (size_t i = 0; i < mm->combocap; i++)
        free(mm->combos[i].t);
    free(mm->combos);
    free(mm->hits);
    free(mm);
}

size_t tomo_mm_count(const tomo_mm *mm) { return mm->count; }
size_t tomo_mm_active(const tomo_mm *mm) { return mm->active; }

tomo_mm_ticket *tomo_mm_get(tomo_mm *mm, const char *ticket)
{
    return ticket ? tomo_hmap_get(&mm->ids, ticket) : NULL;
}

static size_t live_count(const tomo_mm *mm, const keyed *k)
{
    size_t n = 0;
    if (k)
        for (size_t i = 0; i < k->l.n; i++)
            n += deref(mm, k->l.v[i]) != NULL;
    return n;
}

size_t tomo_mm_session_tickets(tomo_mm *mm, const char *session_id)
{
    return live_count(mm, tomo_hmap_get(&mm->sessions, session_id));
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int tomo_mm_add(tomo_mm *mm, const tomo_mm_presence *ps, size_t n, const char *party_id,
                const char *query, int min_count, int max_count, int count_multiple,
                const json_t *sprops, const json_t *nprops, int64_t created_ns,
                char ticket_out[37], char *err, size_t errlen)
{
    size_t limit = mm->cfg.max_tickets > 0 ? (size_t)mm->cfg.max_tickets : SIZE_MAX;
    if (party_id && live_count(mm, tomo_hmap_get(&mm->parties, party_id)) >= limit) {
        snprintf(err, errlen, "matchmaker too many tickets");
        return TOMO_ETOOBIG;
    }
    for (size_t i = 0; i < n; i++)
        if (tomo_mm_session_tickets(mm, ps[i].session_id) >= limit) {
            snprintf(err, errlen, "matchmaker too many tickets");
            return TOMO_ETOOBIG;
        }
    tomo_query *q = NULL;
    if (tomo_query_parse(query && *query ? query : "*", &q, err, errlen) < 0)
        return TOMO_EINVAL;

    tomo_mm_ticket *t = tomo_xmalloc(sizeof(*t));
    memset(t, 0, sizeof(*t));
    tomo_uuid_v4(t->id);
    t->party_id = party_id ? tomo_xstrdup(party_id) : NULL;
    t->min_count = min_count;
    t->max_count = max_count;
    t->count_multiple = count_multiple > 0 ? count_multiple : 1;
    t->created_ns = created_ns ? created_ns : now_ns();
    t->string_properties = sprops ? json_deep_copy(sprops) : json_object();
    t->numeric_properties = nprops ? json_deep_copy(nprops) : json_object();
    t->presences = tomo_xmalloc((n ? n : 1) * sizeof(*t->presences));
    for (size_t i = 0; i < n; i++) {
        t->presences[i] = ps[i];
        t->presences[i].username = tomo_xstrdup(ps[i].username ? ps[i].username : "");
    }
    t->npresences = n;
    t->_q = q;
    t->_seq = mm->seq++;
    t->_active = 1;

    /* The document: properties under properties.*, a key in both maps
     * numeric; and the ticket's own fields. */
    tomo_qdoc_init(&t->_doc);
    char field[512];
    const char *k;
    json_t *v;
    json_object_foreach(t->string_properties, k, v)
    {
        if (!json_is_string(v) || json_object_get(t->numeric_properties, k))
            continue;
        snprintf(field, sizeof(field), "properties.%s", k);
        tomo_qdoc_add_string(&t->_doc, field, json_string_value(v));
    }
    json_object_foreach(t->numeric_properties, k, v)
    {
        if (!json_is_number(v))
            continue;
        snprintf(field, sizeof(field), "properties.%s", k);
        tomo_qdoc_add_number(&t->_doc, field, json_number_value(v));
    }
    tomo_qdoc_add_keyword(&t->_doc, "ticket", t->id);
    if (t->party_id)
        tomo_qdoc_add_keyword(&t->_doc, "party_id", t->party_id);
    tomo_qdoc_add_number(&t->_doc, "min_count", min_count);
    tomo_qdoc_add_number(&t->_doc, "max_count", max_count);
    tomo_qdoc_add_number(&t->_doc, "created_at", (double)t->created_ns);

    /* A slot. */
    uint32_t slot;
    if (mm->nfree) {
        slot = mm->freeslots[--mm->nfree];
    } else {
        if (mm->tabn == mm->tabcap) {
            size_t nc = mm->tabcap ? mm->tabcap * 2 : 64;
            tomo_mm_ticket **nt = tomo_xmalloc(nc * sizeof(*nt));
            uint32_t *ng = tomo_xmalloc(nc * sizeof(*ng));
            if (mm->tabn) {
                memcpy(nt, mm->tab, mm->tabn * sizeof(*nt));
                memcpy(ng, mm->gens, mm->tabn * sizeof(*ng));
            }
            free(mm->tab);
            free(mm->gens);
            mm->tab = nt;
            mm->gens = ng;
            mm->tabcap = nc;
        }
        slot = (uint32_t)mm->tabn++;
        mm->gens[slot] = 0;
    }
    t->_slot = slot;
    t->_gen = ++mm->gens[slot];
    mm->tab[slot] = t;
    ref r = {slot, t->_gen};

    tomo_hmap_put(&mm->ids, t->id, t);
    rl_push(&mm->order, r);
    for (size_t i = 0; i < t->_doc.n; i++) {
        const tomo_qval *qv = &t->_doc.v[i];
        if (qv->kind != TOMO_QV_KEYWORD || !strcmp(tomo_qval_field(&t->_doc, qv), "ticket"))
            continue; /* ticket ids are found through mm->ids */
        kbuf b;
        keyed *p = keyed_get(&mm->postings,
                             index_key(&b, tomo_qval_field(&t->_doc, qv), tomo_qval_str(&t->_doc, qv)),
                             1);
        kbuf_free(&b);
        rl_push(&p->l, r);
    }
    for (size_t i = 0; i < n; i++) {
        /* A session twice in one ticket is listed once. */
        int dup = 0;
        for (size_t j = 0; j < i; j++)
            dup |= !strcmp(ps[j].session_id, ps[i].session_id);
        if (!dup)
            rl_push(&keyed_get(&mm->sessions, ps[i].session_id, 1)->l, r);
    }
    if (t->party_id)
        rl_push(&keyed_get(&mm->parties, t->party_id, 1)->l, r);
    mm->count++;
    mm->active++;
    memcpy(ticket_out, t->id, 37);
    return 0;
}

/* Unlink and free a ticket. */
static void drop(tomo_mm *mm, tomo_mm_ticket *t)
{
    tomo_hmap_del(&mm->ids, t->id);
    mm->tab[t->_slot] = NULL;
    if (mm->nfree == mm->freecap) {
        size_t nc = mm->freecap ? mm->freecap * 2 : 64;
        uint32_t *nf = tomo_xmalloc(nc * sizeof(*nf));
        if (mm->nfree)
            memcpy(nf, mm->freeslots, mm->nfree * sizeof(*nf));
        free(mm->freeslots);
        mm->freeslots = nf;
        mm->freecap = nc;
    }
    mm->freeslots[mm->nfree++] = t->_slot;
    /* Now stale everywhere: count it in each list. */
    if (rl_stale(mm, &mm->order))
        rl_compact(mm, &mm->order);
    for (size_t i = 0; i < t->_doc.n; i++) {
        const tomo_qval *qv = &t->_doc.v[i];
        if (qv->kind != TOMO_QV_KEYWORD || !strcmp(tomo_qval_field(&t->_doc, qv), "ticket"))
            continue;
        kbuf b;
        keyed_stale(mm, &mm->postings,
                    index_key(&b, tomo_qval_field(&t->_doc, qv), tomo_qval_str(&t->_doc, qv)));
        kbuf_free(&b);
    }
    for (size_t i = 0; i < t->npresences; i++) {
        int dup = 0;
        for (size_t j = 0; j < i; j++)
            dup |= !strcmp(t->presences[j].session_id, t->presences[i].session_id);
        if (!dup)
            keyed_stale(mm, &mm->sessions, t->presences[i].session_id);
    }
    if (t->party_id)
        keyed_stale(mm, &mm->parties, t->party_id);
    mm->count--;
    if (t->_active)
        mm->active--;
    ticket_free(t);
}

int tomo_mm_remove(tomo_mm *mm, const char *ticket)
{
    tomo_mm_ticket *t = tomo_mm_get(mm, ticket);
    if (!t)
        return TOMO_ENOTFOUND;
    drop(mm, t);
    return 0;
}

static size_t remove_owned(tomo_mm *mm, tomo_hmap *m, const char *key)
{
    keyed *k = key ? tomo_hmap_get(m, key) : NULL;
    if (!k)
        return 0;
    /* Collect first: dropping the last ticket frees the list. */
    size_t n = 0, cap = k->l.n;
    tomo_mm_ticket **ts = tomo_xmalloc((cap ? cap : 1) * sizeof(*ts));
    for (size_t i = 0; i < k->l.n; i++) {
        tomo_mm_ticket *t = deref(mm, k->l.v[i]);
        if (t)
            ts[n++] = t;
    }
    for (size_t i = 0; i < n; i++)
        drop(mm, ts[i]);
    free(ts);
    return n;
}

size_t tomo_mm_remove_session(tomo_mm *mm, const char *session_id)
{
    return remove_owned(mm, &mm->sessions, session_id);
}

size_t tomo_mm_remove_party(tomo_mm *mm, const char *party_id)
{
    return remove_owned(mm, &mm->parties, party_id);
}

/* ---- matching ---- */

static int clash(const tomo_mm_ticket *a, const tomo_mm_ticket *b)
{
    for (size_t i = 0; i < a->npresences; i++)
        for (size_t j = 0; j < b->npresences; j++)
            if (!memcmp(a->presences[i].session_id, b->presences[j].session_id, 36))
                return 1;
    return 0;
}

static int rev_active(const tomo_mm *mm)
{
    return mm->cfg.rev_precision && tomo_now_ms() < mm->rev_deadline_ms;
}

static int mutual(const tomo_mm_ticket *a, const tomo_mm_ticket *b)
{
    return tomo_query_match(a->_q, &b->_doc, NULL) && tomo_query_match(b->_q, &a->_doc, NULL);
}

static void combo_add(combo *c, tomo_mm_ticket *t)
{
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 4;
        tomo_mm_ticket **nt = tomo_xmalloc(nc * sizeof(*nt));
        if (c->n)
            memcpy(nt, c->t, c->n * sizeof(*nt));
        free(c->t);
        c->t = nt;
        c->cap = nc;
    }
    c->t[c->n++] = t;
    c->count += (int)t->npresences;
}

static combo *new_combo(tomo_mm *mm)
{
    if (mm->ncombos == mm->combocap) {
        size_t nc = mm->combocap ? mm->combocap * 2 : 8;
        combo *n = tomo_xmalloc(nc * sizeof(*n));
        if (mm->combocap)
            memcpy(n, mm->combos, mm->combocap * sizeof(*n));
        memset(n + mm->combocap, 0, (nc - mm->combocap) * sizeof(*n));
        free(mm->combos);
        mm->combos = n;
        mm->combocap = nc;
    }
    combo *c = &mm->combos[mm->ncombos++];
    c->n = 0;
    c->count = 0;
    return c;
}

/* Put a hit in the first combo with room, or a new one. NULL if it cannot
 * fit with X at all. */
static combo *pack(tomo_mm *mm, const tomo_mm_ticket *x, tomo_mm_ticket *h, int rev)
{
    int xc = (int)x->npresences, hc = (int)h->npresences;
    if (hc + xc > x->max_count)
        return NULL;
    for (size_t i = 0; i < mm->ncombos; i++) {
        combo *c = &mm->combos[i];
        if (c->count + hc + xc > x->max_count)
            continue;
        int ok = 1;
        for (size_t j = 0; ok && j < c->n; j++)
            ok = !clash(c->t[j], h) && (!rev || mutual(c->t[j], h));
        if (ok) {
            combo_add(c, h);
            return c;
        }
    }
    combo *c = new_combo(mm);
    combo_add(c, h);
    return c;
}

static int accepts(const tomo_mm_ticket *t, int n)
{
    return n >= t->min_count && n <= t->max_count && n % t->count_multiple == 0;
}

/* Try to form a match from combo c plus x. On success out[0..*nout) holds
 * the tickets (combo order, then x); returns 1. */
static int form(const tomo_mm_ticket *x, const combo *c, tomo_mm_ticket **out, size_t *nout)
{
    int total = c->count + (int)x->npresences;
    int rem = total % x->count_multiple;
    uint32_t dropmask = 0;
    if (rem) {
        /* Drop the set of combo tickets whose sizes sum to the remainder
         * with the oldest average creation time. */
        if (c->n > 20)
            return 0;
        double best = 0;
        int found = 0;
        for (uint32_t m = 1; m < (1u << c->n); m++) {
            int sum = 0;
            double avg = 0;
            int k = 0;
            for (size_t i = 0; i < c->n; i++)
                if (m & (1u << i)) {
                    sum += (int)c->t[i]->npresences;
                    avg += (double)c->t[i]->created_ns;
                    k++;
                }
            if (sum != rem)
                continue;
            avg /= k;
            if (!found || avg < best) {
                best = avg;
                dropmask = m;
                found = 1;
            }
        }
        if (!found)
            return 0;
    }
    int n = total - rem;
    /* Every combo member must accept the size (X's own bounds hold by
     * construction, as in Nakama). */
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (dropmask & (1u << i))
            continue;
        if (!accepts(c->t[i], n))
            return 0;
        out[k++] = c->t[i];
    }
    out[k++] = (tomo_mm_ticket *)x;
    *nout = k;
    return 1;
}

static int by_score(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->t->_seq < y->t->_seq ? -1 : x->t->_seq > y->t->_seq;
}

/* A hit for x? Its score goes to *score. */
static int candidate(tomo_mm *mm, const tomo_mm_ticket *x, const tomo_mm_ticket *t, int rev,
                     double *score)
{
    if (t == x || t->_matched || t->min_count < x->min_count || t->max_count > x->max_count)
        return 0;
    if (x->party_id && t->party_id && !strcmp(x->party_id, t->party_id))
        return 0;
    if (!tomo_query_match(x->_q, &t->_doc, score) || clash(x, t))
        return 0;
    (void)mm;
    return !rev || tomo_query_match(t->_q, &x->_doc, NULL);
}

/* Search and pack for x; on a match, report it and drop the tickets.
 *
 * Hits are packed in Nakama's order (score descending, then oldest first).
 * Candidates are walked oldest first, so every hit that reaches the best
 * possible score is already in that order: those are packed as they are
 * found, and the search stops as soon as a match forms; the others wait in
 * `hits` and are sorted and packed only if the best ones formed nothing. */
static void process_one(tomo_mm *mm, tomo_mm_ticket *x, int last, tomo_mm_matched_fn fn, void *ud)
{
    const tomo_query *q = x->_q;
    if ((int)x->npresences + 1 > x->max_count)
        return; /* no hit can ever fit beside it */
    reflist *cands = &mm->order;
    ref one;
    reflist single = {&one, 0, 1, 0, 0};
    size_t best = SIZE_MAX;
    double top = 0; /* the best score a hit can reach */
    for (size_t i = 0; i < q->n; i++) {
        const tomo_qclause *c = &q->c[i];
        if (c->occur == TOMO_Q_MUST)
            top += c->boost;
        else if (c->occur == TOMO_Q_SHOULD && c->boost > 0)
            top += c->boost;
        if (c->occur != TOMO_Q_MUST)
            continue;
        if (!c->field && c->kind != TOMO_QC_ALL)
            return; /* `_all`: nothing can match */
        if (!c->field || !((c->kind == TOMO_QC_TERM && !c->is_num) || c->kind == TOMO_QC_PHRASE))
            continue;
        if (!strcmp(c->field, "ticket")) {
            tomo_mm_ticket *t = tomo_mm_get(mm, c->text);
            if (!t)
                return;
            one = (ref){t->_slot, t->_gen};
            single.n = 1;
            cands = &single;
            best = 1;
            continue;
        }
        kbuf b;
        keyed *p = tomo_hmap_get(&mm->postings, index_key(&b, c->field, c->text));
        kbuf_free(&b);
        if (!p)
            return; /* no ticket has the required term */
        if (p->l.n - p->l.dead < best) {
            best = p->l.n - p->l.dead;
            cands = &p->l;
        }
    }
    int rev = rev_active(mm);
    mm->ncombos = 0;
    mm->nhits = 0;
    combo *lastc = NULL, *formed = NULL;
    tomo_mm_ticket *stackv[32];
    tomo_mm_ticket **out = stackv;
    size_t nout = 0;
    if ((size_t)x->max_count + 1 > 32)
        out = tomo_xmalloc(((size_t)x->max_count + 1) * sizeof(*out));
    /* Skip the stale prefix once for everyone. */
    while (cands->head < cands->n && !deref(mm, cands->v[cands->head]))
        cands->head++;
    for (size_t i = cands->head; i < cands->n && !formed; i++) {
        tomo_mm_ticket *t = deref(mm, cands->v[i]);
        double score = 0;
        if (!t || !candidate(mm, x, t, rev, &score))
            continue;
        if (score < top) {
            if (mm->nhits == mm->hitcap) {
                size_t nc = mm->hitcap ? mm->hitcap * 2 : 64;
                hit *nh = tomo_xmalloc(nc * sizeof(*nh));
                if (mm->nhits)
                    memcpy(nh, mm->hits, mm->nhits * sizeof(*nh));
                free(mm->hits);
                mm->hits = nh;
                mm->hitcap = nc;
            }
            mm->hits[mm->nhits++] = (hit){t, score};
            continue;
        }
        combo *c = pack(mm, x, t, rev);
        lastc = c; /* a hit that fits nowhere leaves no partial match */
        if (!c)
            continue;
        if (c->count + (int)x->npresences == x->max_count && form(x, c, out, &nout))
            formed = c;
    }
    if (!formed && mm->nhits) {
        qsort(mm->hits, mm->nhits, sizeof(*mm->hits), by_score);
        for (size_t i = 0; i < mm->nhits && !formed; i++) {
            combo *c = pack(mm, x, mm->hits[i].t, rev);
            lastc = c;
            if (!c)
                continue;
            if (c->count + (int)x->npresences == x->max_count && form(x, c, out, &nout))
                formed = c;
        }
    }
    if (!formed && last && lastc) {
        int total = lastc->count + (int)x->npresences;
        if (total >= x->min_count && total <= x->max_count && form(x, lastc, out, &nout))
            formed = lastc;
    }
    if (formed) {
        for (size_t i = 0; i < nout; i++)
            out[i]->_matched = 1;
        if (fn)
            fn(ud, out, nout);
        for (size_t i = 0; i < nout; i++)
            drop(mm, out[i]);
    }
    if (out != stackv)
        free(out);
}

int tomo_mm_interval_begin(tomo_mm *mm)
{
    if (mm->running)
        return 0;
    free(mm->snap);
    mm->snap = tomo_xmalloc((mm->order.n ? mm->order.n : 1) * sizeof(*mm->snap));
    mm->snapn = 0;
    for (size_t i = 0; i < mm->order.n; i++) {
        tomo_mm_ticket *t = deref(mm, mm->order.v[i]);
        if (t && t->_active)
            mm->snap[mm->snapn++] = mm->order.v[i];
    }
    mm->snappos = 0;
    mm->running = 1;
    mm->rev_deadline_ms = tomo_now_ms() + mm->cfg.rev_budget_ms;
    return 1;
}

int tomo_mm_interval_step(tomo_mm *mm, size_t budget, tomo_mm_matched_fn fn, void *ud)
{
    if (!mm->running)
        return 0;
    for (size_t done = 0; done < budget && mm->snappos < mm->snapn; done++) {
        tomo_mm_ticket *x = deref(mm, mm->snap[mm->snappos++]);
        if (!x || !x->_active || x->_matched)
            continue;
        x->_intervals++;
        int last = x->_intervals >= mm->cfg.max_intervals || x->min_count == x->max_count;
        if (last) {
            x->_active = 0;
            mm->active--;
        }
        process_one(mm, x, last, fn, ud);
    }
    if (mm->snappos < mm->snapn)
        return 1;
    mm->running = 0;
    return 0;
}
