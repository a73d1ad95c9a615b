/* rt/matchmaker.c: tickets, the keyword index and the interval matcher
 * (rt/matchmaker.h). Lists of tickets (index postings, per-session and
 * per-party lists, the creation-order list) hold {slot, generation} refs:
 * a removed ticket only makes its refs stale, and a list is compacted once
 * half of it is stale, so removal never walks a list.
 *
 * A search reads candidates from a dense table of one cache line per slot
 * (`hot`): generation, bounds, presence count, party and session
 * fingerprints, the posting ids of the ticket's keywords and its first
 * numeric properties. Each shared query is compiled to ops over that line
 * (a keyword term becomes a posting id compare, a numeric range a compare
 * on the value), so most candidates are accepted or refused without
 * touching the ticket; anything the line cannot decide (a field it does not
 * hold, wildcards, regexps, fuzzy or datetime terms, a fingerprint
 * collision) is decided by the full query on the ticket's document, so the
 * result is always exactly tomo_query_match's. */
#define _GNU_SOURCE
#include "matchmaker.h"

#include "../core/common.h"
#include "../core/codec_util.h"
#include "../core/hmap.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Ticket blocks are recycled by size class (256-byte steps up to 4 KiB):
 * an interval frees thousands of them at once, and glibc's coalescing of
 * blocks that size costs more than the matching itself. */
/* Distinct field names interned at once; the table is emptied whenever the
 * matchmaker is. */
#define MAX_FIELDS 65536

/* Parsed queries no ticket uses any more are kept for reuse (most recent
 * last; the oldest beyond this many are freed): tickets come and go, their
 * queries repeat. */
#define QENT_IDLE_MAX 16384

#define POOL_STEP 256
#define POOL_CLASSES 16

typedef struct ref {
    uint32_t slot, gen;
} ref;

/* What a search reads of a candidate, by slot. kw: posting ids of its
 * indexed keywords; nf/nv: its numeric property values (interned field id,
 * value). HOT_KW_ALL / HOT_NUM_ALL: those lists hold every such value of
 * the document (else a miss there is undecided). */
#define HOT_KW 3
#define HOT_NUM 2
enum {
    HOT_MATCHED = 1,
    HOT_ACTIVE = 2,
    HOT_KW_ALL = 4,
    HOT_NUM_ALL = 8,
    HOT_BIGPRES = 16, /* more presences than npres holds: read the ticket */
};
typedef struct hot {
    uint32_t gen; /* the live ticket's generation; 0: a free slot */
    int32_t min, max;
    uint32_t party; /* hash of party_id | 1; 0: a solo ticket */
    uint64_t bloom; /* one bit per session (disjoint blooms share no session);
                     * a solo-session ticket holds its session's hash instead:
                     * see may_share */
    uint16_t npres;
    uint8_t flags;        /* HOT_* */
    uint8_t mult;         /* count_multiple, 0: more than fits (read the ticket) */
    uint32_t kw[HOT_KW];  /* 0: unused */
    uint32_t nf[HOT_NUM]; /* 0: unused */
    double nv[HOT_NUM];
} hot;
_Static_assert(sizeof(hot) == 64, "one cache line per candidate");

typedef struct reflist {
    ref *v;
    size_t n, cap, dead;
    size_t head; /* refs before it are all stale (matched tickets leave oldest first) */
} reflist;

/* An index posting or an owner's (session, party) ticket list; the map key
 * lives in `key`. A posting has an id (unique among live postings; ids are
 * reused), which the hot lines of its tickets hold. */
typedef struct keyed {
    reflist l;
    uint32_t id;
    char key[];
} keyed;

/* A ticket of the running interval (t is valid while r is live; it is only
 * dereferenced then, and prefetched ahead). */
struct snapent {
    ref r;
    tomo_mm_ticket *t;
};

typedef struct combo {
    uint32_t *s; /* slots */
    size_t n, cap;
    int count; /* presences */
} combo;

typedef struct hit {
    uint32_t slot;
    uint32_t idx; /* walk order, which is creation order */
    double score;
} hit;

struct tomo_mm {
    tomo_mm_config cfg;
    tomo_mm_ticket **tab; /* slot -> ticket or NULL */
    hot *hot;             /* slot -> what a search reads (gen 0: free) */
    uint32_t *gens;       /* slot -> generation of its latest ticket */
    size_t tabn, tabcap;
    uint32_t *freeslots;
    size_t nfree, freecap;
    tomo_hmap postings;                          /* "field\x1fvalue" -> keyed */
    tomo_hmap sessions;                          /* session id -> keyed */
    tomo_hmap parties;                           /* party id -> keyed */
    tomo_hmap queries;                           /* query text -> struct tomo_mm_qent */
    struct tomo_mm_qent *idle_first, *idle_last; /* unused parsed queries, oldest first */
    size_t nidle;
    size_t nopairs;    /* live tickets too wide for pair lists */
    uint32_t *pidfree; /* posting ids to reuse */
    size_t npidfree, pidfreecap;
    uint32_t pidnext;
    uint64_t epoch;    /* bumped when a posting list appears or goes */
    tomo_qdoc scratch; /* document under construction (tomo_mm_add) */
    tomo_hmap fields;  /* field name -> interned id (uintptr_t), see tomo_qdoc.interned */
    uint32_t nfields;
    void *pool[POOL_CLASSES]; /* free ticket blocks by size class (a singly linked list) */
    tomo_mm_stats st;
    reflist order; /* every ticket, oldest first */
    size_t count, active;
    uint64_t seq;
    /* the running interval */
    struct snapent *snap; /* the interval's tickets */
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

static int live(const tomo_mm *mm, ref r) { return mm->hot[r.slot].gen == r.gen; }

static tomo_mm_ticket *deref(const tomo_mm *mm, ref r)
{
    return live(mm, r) ? mm->tab[r.slot] : NULL;
}

static void rl_compact(const tomo_mm *mm, reflist *l)
{
    size_t w = 0;
    for (size_t i = 0; i < l->n; i++)
        if (live(mm, l->v[i]))
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
        k->id = 0;
        memcpy(k->key, key, n + 1);
        tomo_hmap_put(m, k->key, k);
    }
    return k;
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

/* A list a ticket is in, and the map that owns the list. A list is freed
 * only once its last live ticket leaves, so the pointer stays valid while
 * the ticket lives. */
struct tomo_mm_link {
    keyed *k;
    tomo_hmap *m;
};

/* A clause compiled for the hot lines (see hot_match). */
enum { OP_TRUE, OP_FALSE, OP_KW, OP_KWNUM, OP_RANGE };
typedef struct qop {
    uint8_t op;
    uint8_t rop;    /* OP_RANGE: TOMO_QR_* */
    uint8_t occur;  /* the clause's TOMO_Q_* */
    double boost;   /* the clause's */
    uint32_t field; /* interned id (OP_KWNUM, OP_RANGE) */
    uint32_t pid;   /* OP_KW, OP_KWNUM: the term's posting id at ops_epoch, 0: none */
    double num;
} qop;

/* A parsed query shared by every ticket with the same text. */
struct tomo_mm_qent {
    size_t refs;
    tomo_query *q;
    uint64_t plan_epoch;                /* mm->epoch the plan was made at (0: none) */
    keyed *plan;                        /* the smallest required list, or NULL: walk everything */
    int plan_none;                      /* a required term no ticket has: nothing matches */
    qop *ops;                           /* one per clause, or NULL: always the full query */
    uint64_t ops_epoch;                 /* mm->epoch the posting ids were looked up at */
    double top;                         /* the best score a hit can reach */
    struct tomo_mm_qent *iprev, *inext; /* in mm's idle list while refs == 0 */
    char text[];
};

/* ---- index keys ---- */

typedef struct kbuf {
    char *p;
    size_t n, cap;
    char stack[256];
} kbuf;

static void kb_init(kbuf *b)
{
    b->p = b->stack;
    b->n = 0;
    b->cap = sizeof(b->stack);
    b->stack[0] = '\0';
}

static void kb_put(kbuf *b, const char *s, char sep)
{
    size_t l = strlen(s);
    size_t need = b->n + l + 2;
    if (need > b->cap) {
        char *np = tomo_xmalloc(need * 2);
        memcpy(np, b->p, b->n);
        if (b->p != b->stack)
            free(b->p);
        b->p = np;
        b->cap = need * 2;
    }
    if (sep)
        b->p[b->n++] = sep;
    memcpy(b->p + b->n, s, l + 1);
    b->n += l;
}

static void kbuf_free(kbuf *b)
{
    if (b->p != b->stack)
        free(b->p);
}

/* "field\x1fvalue" */
static const char *index_key(kbuf *b, const char *field, const char *value)
{
    kb_init(b);
    kb_put(b, field, 0);
    kb_put(b, value, '\x1f');
    return b->p;
}

/* "fa\x1fva\x1efb\x1fvb" with fa <= fb: a pair of terms, both required. */
static const char *pair_key(kbuf *b, const char *fa, const char *va, const char *fb, const char *vb)
{
    if (strcmp(fa, fb) > 0) {
        const char *t = fa;
        fa = fb;
        fb = t;
        t = va;
        va = vb;
        vb = t;
    }
    kb_init(b);
    kb_put(b, fa, 0);
    kb_put(b, va, '\x1f');
    kb_put(b, fb, '\x1e');
    kb_put(b, vb, '\x1f');
    return b->p;
}

/* Keyword values the index covers: properties and party_id. */
static int indexed(const tomo_qdoc *d, const tomo_qval *v)
{
    /* ticket and party_id have their own maps (ids, parties). */
    return v->kind == TOMO_QV_KEYWORD && strcmp(tomo_qval_field(d, v), "ticket") != 0 &&
           strcmp(tomo_qval_field(d, v), "party_id") != 0;
}

/* Pairs are indexed for documents with at most this many keywords. */
#define PAIR_MAX 6

/* ---- lifecycle ---- */

tomo_mm *tomo_mm_new(const tomo_mm_config *cfg)
{
    tomo_mm *mm = tomo_xmalloc(sizeof(*mm));
    memset(mm, 0, sizeof(*mm));
    mm->cfg = *cfg;
    if (mm->cfg.max_intervals < 1)
        mm->cfg.max_intervals = 1;
    tomo_hmap_init(&mm->postings);
    tomo_hmap_init(&mm->sessions);
    tomo_hmap_init(&mm->parties);
    tomo_hmap_init(&mm->queries);
    tomo_hmap_init(&mm->fields);
    mm->epoch = 1;
    return mm;
}

static void qent_destroy(tomo_mm *mm, struct tomo_mm_qent *qe)
{
    tomo_hmap_del(&mm->queries, qe->text);
    tomo_query_free(qe->q);
    free(qe->ops);
    free(qe);
}

static void idle_unlink(tomo_mm *mm, struct tomo_mm_qent *qe)
{
    if (qe->iprev)
        qe->iprev->inext = qe->inext;
    else
        mm->idle_first = qe->inext;
    if (qe->inext)
        qe->inext->iprev = qe->iprev;
    else
        mm->idle_last = qe->iprev;
    qe->iprev = qe->inext = NULL;
    mm->nidle--;
}

/* Free every idle parsed query (their field ids are about to change). */
static void idle_flush(tomo_mm *mm)
{
    while (mm->idle_first) {
        struct tomo_mm_qent *qe = mm->idle_first;
        idle_unlink(mm, qe);
        qent_destroy(mm, qe);
    }
}

static void qent_release(tomo_mm *mm, struct tomo_mm_qent *qe)
{
    if (--qe->refs)
        return;
    qe->inext = NULL;
    qe->iprev = mm->idle_last;
    if (mm->idle_last)
        mm->idle_last->inext = qe;
    else
        mm->idle_first = qe;
    mm->idle_last = qe;
    if (++mm->nidle > QENT_IDLE_MAX) {
        struct tomo_mm_qent *old = mm->idle_first;
        idle_unlink(mm, old);
        qent_destroy(mm, old);
    }
}

static size_t pool_class(size_t size) { return (size + POOL_STEP - 1) / POOL_STEP; }

static void *block_alloc(tomo_mm *mm, size_t size, uint32_t *cls)
{
    size_t c = pool_class(size);
    *cls = (uint32_t)c;
    if (c >= POOL_CLASSES)
        return tomo_xmalloc(size);
    void *b = mm->pool[c];
    if (b) {
        mm->pool[c] = *(void **)b;
        return b;
    }
    return tomo_xmalloc(c * POOL_STEP);
}

static void ticket_free(tomo_mm *mm, tomo_mm_ticket *t)
{
    qent_release(mm, t->_qe);
    /* Document, links and strings live in the same block. */
    if (t->_cls >= POOL_CLASSES) {
        free(t);
        return;
    }
    *(void **)t = mm->pool[t->_cls];
    mm->pool[t->_cls] = t;
}

/* The interned id of a field name. */
static uint32_t field_id(tomo_mm *mm, const char *name)
{
    void *v = tomo_hmap_get(&mm->fields, name);
    if (v)
        return (uint32_t)(uintptr_t)v;
    char *key = tomo_xstrdup(name);
    uint32_t id = ++mm->nfields;
    tomo_hmap_put(&mm->fields, key, (void *)(uintptr_t)id);
    return id;
}

void tomo_mm_free(tomo_mm *mm)
{
    if (!mm)
        return;
    for (size_t i = 0; i < mm->tabn; i++)
        if (mm->tab[i])
            ticket_free(mm, mm->tab[i]);
    free(mm->tab);
    free(mm->hot);
    free(mm->gens);
    free(mm->freeslots);
    free(mm->pidfree);
    idle_flush(mm);
    tomo_hmap_free(&mm->queries);
    free_keyed_map(&mm->postings);
    free_keyed_map(&mm->sessions);
    free_keyed_map(&mm->parties);
    free(mm->order.v);
    free(mm->snap);
    for (size_t i = 0; i < mm->combocap; i++)
        free(mm->combos[i].s);
    free(mm->combos);
    free(mm->hits);
    tomo_qdoc_clear(&mm->scratch);
    const char *fk;
    void *fv;
    for (size_t i = 0; (i = tomo_hmap_next(&mm->fields, i, &fk, &fv)) != 0;)
        free((char *)fk);
    tomo_hmap_free(&mm->fields);
    for (size_t c = 0; c < POOL_CLASSES; c++)
        while (mm->pool[c]) {
            void *b = mm->pool[c];
            mm->pool[c] = *(void **)b;
            free(b);
        }
    free(mm);
}

size_t tomo_mm_count(const tomo_mm *mm) { return mm->count; }
void tomo_mm_get_stats(const tomo_mm *mm, tomo_mm_stats *out) { *out = mm->st; }
size_t tomo_mm_active(const tomo_mm *mm) { return mm->active; }

/* Ticket ids are UUIDv4 strings that also carry the ticket's slot (hex
 * digits 0-7) and generation (digits 24-31); the other digits are random.
 * Finding a ticket is then a table index and a compare, no map. */
static void make_id(char out[37], uint32_t slot, uint32_t gen)
{
    char r[37];
    tomo_uuid_v4(r); /* version and variant digits, random digits */
    snprintf(out, 37, "%08x-%.4s-%.4s-%.4s-%.4s%08x", slot, r + 9, r + 14, r + 19, r + 24, gen);
}

static int hexval(const char *s, int n, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = (v << 4) | (uint32_t)d;
    }
    *out = v;
    return 0;
}

tomo_mm_ticket *tomo_mm_get(tomo_mm *mm, const char *ticket)
{
    uint32_t slot, gen;
    if (!ticket || strlen(ticket) != 36 || hexval(ticket, 8, &slot) < 0 ||
        hexval(ticket + 28, 8, &gen) < 0 || slot >= mm->tabn)
        return NULL;
    tomo_mm_ticket *t = mm->tab[slot];
    return t && t->_gen == gen && !memcmp(t->id, ticket, 36) ? t : NULL;
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

/* ---- queries over hot lines ---- */

/* A field the hot line can answer for: a property (the ticket's own fields
 * are only in its document), without index key separators. */
static int hot_field(const char *f)
{
    return strcmp(f, "ticket") && strcmp(f, "party_id") && strcmp(f, "min_count") &&
           strcmp(f, "max_count") && strcmp(f, "created_at") && !strpbrk(f, "\x1e\x1f");
}

/* Ops for a parsed query (fields already interned), or NULL when a clause
 * needs the document: such a query is always evaluated in full. */
static qop *compile(const tomo_query *q)
{
    if (!q->n)
        return NULL;
    qop *ops = tomo_xmalloc(q->n * sizeof(*ops));
    for (size_t i = 0; i < q->n; i++) {
        const tomo_qclause *c = &q->c[i];
        qop *o = &ops[i];
        memset(o, 0, sizeof(*o));
        o->occur = c->occur;
        o->boost = c->boost;
        if (c->kind == TOMO_QC_ALL) {
            o->op = OP_TRUE;
            continue;
        }
        if (!c->field) {
            o->op = OP_FALSE; /* `_all` */
            continue;
        }
        if (!hot_field(c->field))
            goto full;
        o->field = c->fhash;
        if ((c->kind == TOMO_QC_TERM || c->kind == TOMO_QC_PHRASE) && c->text &&
            !strpbrk(c->text, "\x1e\x1f")) {
            o->op = c->kind == TOMO_QC_TERM && c->is_num ? OP_KWNUM : OP_KW;
            o->num = c->num;
        } else if (c->kind == TOMO_QC_RANGE && !c->is_time) {
            o->op = OP_RANGE;
            o->rop = c->op;
            o->num = c->num;
        } else {
            goto full;
        }
    }
    return ops;
full:
    free(ops);
    return NULL;
}

/* Look the terms' posting ids up again if postings came or went. */
static void ops_refresh(tomo_mm *mm, struct tomo_mm_qent *qe)
{
    if (qe->ops_epoch == mm->epoch)
        return;
    for (size_t i = 0; i < qe->q->n; i++) {
        qop *o = &qe->ops[i];
        if (o->op != OP_KW && o->op != OP_KWNUM)
            continue;
        const tomo_qclause *c = &qe->q->c[i];
        kbuf b;
        keyed *p = tomo_hmap_get(&mm->postings, index_key(&b, c->field, c->text));
        kbuf_free(&b);
        o->pid = p ? p->id : 0;
    }
    qe->ops_epoch = mm->epoch;
}

static int kw_has(const hot *h, uint32_t pid)
{
    return pid && (h->kw[0] == pid || h->kw[1] == pid || h->kw[2] == pid);
}

static int num_cmp(int op, double x, double b)
{
    switch (op) {
    case TOMO_QR_GT: return x > b;
    case TOMO_QR_GE: return x >= b;
    case TOMO_QR_LT: return x < b;
    default: return x <= b;
    }
}

/* The query over a hot line: 1 or 0 exactly as tomo_query_match on the
 * ticket's document (the score in *score on a match), -1 when the line
 * cannot tell. A keyword term matches iff the ticket is in the term's
 * posting (no posting: no live ticket has it); a numeric clause looks at
 * the line's values; a miss is final only when the line's list is
 * complete. qe->ops must be fresh (ops_refresh). */
static int hot_match(const struct tomo_mm_qent *qe, const hot *h, double *score)
{
    const tomo_query *q = qe->q;
    double sc = 0;
    size_t should_hits = 0;
    for (size_t i = 0; i < q->n; i++) {
        const qop *o = &qe->ops[i];
        int m = 0;
        switch (o->op) {
        case OP_TRUE: m = 1; break;
        case OP_FALSE: break;
        case OP_KW:
            m = kw_has(h, o->pid);
            if (!m && o->pid && !(h->flags & HOT_KW_ALL))
                return -1;
            break;
        case OP_KWNUM:
            m = kw_has(h, o->pid);
            for (int j = 0; j < HOT_NUM && !m; j++)
                m = h->nf[j] == o->field && h->nv[j] == o->num;
            if (!m && ((o->pid && !(h->flags & HOT_KW_ALL)) || !(h->flags & HOT_NUM_ALL)))
                return -1;
            break;
        default: /* OP_RANGE */
            for (int j = 0; j < HOT_NUM && !m; j++)
                m = h->nf[j] == o->field && num_cmp(o->rop, h->nv[j], o->num);
            if (!m && !(h->flags & HOT_NUM_ALL))
                return -1;
            break;
        }
        if (o->occur == TOMO_Q_MUST) {
            if (!m)
                return 0;
            sc += o->boost;
        } else if (o->occur == TOMO_Q_MUST_NOT) {
            if (m)
                return 0;
        } else if (m) {
            should_hits++;
            sc += o->boost;
        }
    }
    if (q->nmust == 0 && q->nshould > 0 && should_hits == 0)
        return 0;
    if (q->n == 0)
        return 0;
    if (score)
        *score = sc;
    return 1;
}

/* qe's query over the ticket in slot: from its hot line when that decides,
 * else on its document. */
static int qe_match(tomo_mm *mm, struct tomo_mm_qent *qe, uint32_t slot, double *score)
{
    if (qe->ops) {
        ops_refresh(mm, qe);
        int m = hot_match(qe, &mm->hot[slot], score);
        if (m >= 0)
            return m;
    }
    return tomo_query_match(qe->q, &mm->tab[slot]->_doc, score);
}

static struct tomo_mm_qent *qent_get(tomo_mm *mm, const char *text, char *err, size_t errlen)
{
    struct tomo_mm_qent *qe = tomo_hmap_get(&mm->queries, text);
    if (qe) {
        if (!qe->refs++)
            idle_unlink(mm, qe);
        return qe;
    }
    tomo_query *q = NULL;
    if (tomo_query_parse(text, &q, err, errlen) < 0)
        return NULL;
    size_t n = strlen(text);
    qe = tomo_xmalloc(sizeof(*qe) + n + 1);
    for (size_t i = 0; i < q->n; i++)
        if (q->c[i].field)
            q->c[i].fhash = field_id(mm, q->c[i].field);
    qe->refs = 1;
    qe->q = q;
    qe->plan_epoch = 0;
    qe->plan = NULL;
    qe->plan_none = 0;
    qe->ops = compile(q);
    qe->ops_epoch = 0;
    qe->top = 0;
    qe->iprev = qe->inext = NULL;
    for (size_t i = 0; i < q->n; i++) {
        const tomo_qclause *c = &q->c[i];
        if (c->occur == TOMO_Q_MUST || (c->occur == TOMO_Q_SHOULD && c->boost > 0))
            qe->top += c->boost;
    }
    memcpy(qe->text, text, n + 1);
    tomo_hmap_put(&mm->queries, qe->text, qe);
    return qe;
}

/* Bump-allocate a string in the ticket's block. */
static char *put(char **arena, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = *arena;
    memcpy(p, s, n);
    *arena += n;
    return p;
}

/* Put the ticket in the list under key (created if new); returns the list. */
static keyed *link_to(tomo_mm_ticket *t, tomo_hmap *m, const char *key, ref r)
{
    tomo_mm *mm = t->_mm;
    keyed *k = tomo_hmap_get(m, key);
    if (!k) {
        k = keyed_get(m, key, 1);
        if (m == &mm->postings) {
            mm->epoch++; /* a new posting can change query plans and term ids */
            k->id = mm->npidfree ? mm->pidfree[--mm->npidfree] : ++mm->pidnext;
        }
    }
    rl_push(&k->l, r);
    t->_links[t->_nlinks++] = (struct tomo_mm_link){k, m};
    return k;
}

static void pid_release(tomo_mm *mm, uint32_t id)
{
    if (mm->npidfree == mm->pidfreecap) {
        size_t nc = mm->pidfreecap ? mm->pidfreecap * 2 : 64;
        uint32_t *nf = tomo_xmalloc(nc * sizeof(*nf));
        if (mm->npidfree)
            memcpy(nf, mm->pidfree, mm->npidfree * sizeof(*nf));
        free(mm->pidfree);
        mm->pidfree = nf;
        mm->pidfreecap = nc;
    }
    mm->pidfree[mm->npidfree++] = id;
}

/* The next generation for a slot (never 0, which marks a free slot). */
static uint32_t next_gen(const tomo_mm *mm, uint32_t slot)
{
    uint32_t g = mm->gens[slot] + 1;
    return g ? g : 1;
}

static size_t unique_sessions(const tomo_mm_presence *ps, size_t n)
{
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            dup = !strcmp(ps[j].session_id, ps[i].session_id);
        u += !dup;
    }
    return u;
}

int tomo_mm_add(tomo_mm *mm, const tomo_mm_presence *ps, size_t n, const char *party_id,
                const char *query, int min_count, int max_count, int count_multiple,
                const json_t *sprops, const json_t *nprops, int64_t created_ns, char ticket_out[37],
                char *err, size_t errlen)
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
    if (mm->nfields >= MAX_FIELDS) {
        snprintf(err, errlen, "matchmaker too many distinct property names");
        return TOMO_ETOOBIG;
    }
    struct tomo_mm_qent *qe = qent_get(mm, query && *query ? query : "*", err, errlen);
    if (!qe)
        return TOMO_EINVAL;
    if (!created_ns)
        created_ns = now_ns();
    /* A slot (its number is part of the id). */
    uint32_t slot;
    if (mm->nfree) {
        slot = mm->freeslots[--mm->nfree];
    } else {
        if (mm->tabn == mm->tabcap) {
            size_t nc = mm->tabcap ? mm->tabcap * 2 : 64;
            tomo_mm_ticket **nt = tomo_xmalloc(nc * sizeof(*nt));
            uint32_t *ng = tomo_xmalloc(nc * sizeof(*ng));
            hot *nh = aligned_alloc(64, nc * sizeof(*nh));
            if (!nh)
                abort();
            if (mm->tabn) {
                memcpy(nt, mm->tab, mm->tabn * sizeof(*nt));
                memcpy(ng, mm->gens, mm->tabn * sizeof(*ng));
                memcpy(nh, mm->hot, mm->tabn * sizeof(*nh));
            }
            free(mm->tab);
            free(mm->gens);
            free(mm->hot);
            mm->tab = nt;
            mm->gens = ng;
            mm->hot = nh;
            mm->tabcap = nc;
        }
        slot = (uint32_t)mm->tabn++;
        mm->gens[slot] = 0;
        memset(&mm->hot[slot], 0, sizeof(hot));
    }
    char id[37];
    make_id(id, slot, next_gen(mm, slot));

    /* The document, built in scratch space first: properties under
     * properties.*, a key in both maps numeric; the ticket's own fields. */
    tomo_qdoc *d = &mm->scratch;
    d->n = 0;
    d->blen = 0;
    char field[512];
    const char *k;
    json_t *v;
    size_t ns = 0, nn = 0, strbytes = party_id ? strlen(party_id) + 1 : 0;
    json_object_foreach ((json_t *)sprops, k, v) {
        if (!json_is_string(v))
            continue;
        ns++;
        strbytes += strlen(k) + strlen(json_string_value(v)) + 2;
        if (json_is_number(json_object_get(nprops, k)))
            continue;
        snprintf(field, sizeof(field), "properties.%s", k);
        tomo_qdoc_add_string(d, field, json_string_value(v));
    }
    json_object_foreach ((json_t *)nprops, k, v) {
        if (!json_is_number(v))
            continue;
        nn++;
        strbytes += strlen(k) + 1;
        snprintf(field, sizeof(field), "properties.%s", k);
        tomo_qdoc_add_number(d, field, json_number_value(v));
    }
    size_t nprop_vals = d->n; /* the properties' values come first */
    tomo_qdoc_add_keyword(d, "ticket", id);
    if (party_id)
        tomo_qdoc_add_keyword(d, "party_id", party_id);
    tomo_qdoc_add_number(d, "min_count", min_count);
    tomo_qdoc_add_number(d, "max_count", max_count);
    tomo_qdoc_add_number(d, "created_at", (double)created_ns);
    size_t nkw = 0;
    for (size_t i = 0; i < d->n; i++)
        nkw += indexed(d, &d->v[i]);
    size_t npairs = nkw <= PAIR_MAX ? nkw * (nkw - (nkw > 0)) / 2 : 0;
    size_t nlinks = nkw + npairs + unique_sessions(ps, n) + (party_id != NULL);
    for (size_t i = 0; i < n; i++)
        strbytes += strlen(ps[i].username ? ps[i].username : "") + 1;

    /* One block: the struct, links, presences, document values,
     * properties, then the strings and the document's buffer. */
    size_t size = sizeof(tomo_mm_ticket) + n * sizeof(tomo_mm_presence) +
                  ns * sizeof(tomo_mm_sprop) + nn * sizeof(tomo_mm_nprop) +
                  d->n * sizeof(tomo_qval) + nlinks * sizeof(struct tomo_mm_link) + strbytes +
                  d->blen;
    uint32_t cls;
    tomo_mm_ticket *t = block_alloc(mm, size, &cls);
    memset(t, 0, sizeof(*t));
    t->_cls = cls;
    t->_mm = mm;
    /* What a match and a removal read first, right after the struct:
     * links, presences; then the document (searches mostly read the hot
     * line instead), the rest, the strings. */
    t->_links = (struct tomo_mm_link *)(t + 1);
    t->presences = (tomo_mm_presence *)(t->_links + nlinks);
    t->_doc.v = (tomo_qval *)(t->presences + n);
    t->sprops = (tomo_mm_sprop *)(t->_doc.v + d->n);
    t->nprops = (tomo_mm_nprop *)(t->sprops + ns);
    char *arena = (char *)(t->nprops + nn);
    t->_doc.buf = arena;
    memcpy(arena, d->buf, d->blen);
    arena += d->blen;
    memcpy(t->id, id, 37);
    t->party_id = party_id ? put(&arena, party_id) : NULL;
    t->min_count = min_count;
    t->max_count = max_count;
    t->count_multiple = count_multiple > 0 ? count_multiple : 1;
    t->created_ns = created_ns;
    for (size_t i = 0; i < n; i++) {
        t->presences[i] = ps[i];
        t->presences[i].username = put(&arena, ps[i].username ? ps[i].username : "");
    }
    t->npresences = n;
    json_object_foreach ((json_t *)sprops, k, v)
        if (json_is_string(v)) {
            t->sprops[t->nsprops].key = put(&arena, k);
            t->sprops[t->nsprops++].value = put(&arena, json_string_value(v));
        }
    json_object_foreach ((json_t *)nprops, k, v)
        if (json_is_number(v)) {
            t->nprops[t->nnprops].key = put(&arena, k);
            t->nprops[t->nnprops++].value = json_number_value(v);
        }
    memcpy(t->_doc.v, d->v, d->n * sizeof(tomo_qval));
    for (size_t i = 0; i < d->n; i++)
        t->_doc.v[i].fhash = field_id(mm, d->buf + d->v[i].field);
    t->_doc.interned = 1;
    t->_doc.n = t->_doc.cap = d->n;
    t->_doc.blen = t->_doc.bcap = d->blen;
    t->_qe = qe;
    t->_seq = mm->seq++;
    t->_active = 1;

    t->_slot = slot;
    t->_gen = mm->gens[slot] = next_gen(mm, slot);
    mm->tab[slot] = t;
    ref r = {slot, t->_gen};

    /* The hot line (the posting ids are filled in as the ticket is indexed). */
    hot *h = &mm->hot[slot];
    memset(h, 0, sizeof(*h));
    h->gen = t->_gen;
    h->min = min_count;
    h->max = max_count;
    h->party = party_id ? tomo_query_hash(party_id) | 1 : 0;
    if (n == 1)
        h->bloom = tomo_query_hash(t->presences[0].session_id);
    else
        for (size_t i = 0; i < n; i++)
            h->bloom |= 1ULL << (tomo_query_hash(t->presences[i].session_id) & 63);
    h->npres = n > UINT16_MAX ? UINT16_MAX : (uint16_t)n;
    h->flags = HOT_ACTIVE | HOT_KW_ALL | HOT_NUM_ALL | (n > UINT16_MAX ? HOT_BIGPRES : 0);
    h->mult = t->count_multiple <= UINT8_MAX ? (uint8_t)t->count_multiple : 0;
    size_t nhkw = 0, nhnum = 0;
    for (size_t i = 0; i < nprop_vals; i++) {
        const tomo_qval *qv = &t->_doc.v[i];
        if (qv->kind != TOMO_QV_NUMBER)
            continue;
        if (nhnum < HOT_NUM) {
            h->nf[nhnum] = qv->fhash;
            h->nv[nhnum] = qv->num;
        } else {
            h->flags &= (uint8_t)~HOT_NUM_ALL;
        }
        nhnum++;
    }

    rl_push(&mm->order, r);
    const tomo_qdoc *td = &t->_doc;
    const tomo_qval *kw[PAIR_MAX];
    size_t nk = 0;
    for (size_t i = 0; i < td->n; i++) {
        const tomo_qval *qv = &td->v[i];
        if (!indexed(td, qv))
            continue;
        kbuf b;
        const char *f = tomo_qval_field(td, qv), *val = tomo_qval_str(td, qv);
        keyed *p = link_to(t, &mm->postings, index_key(&b, f, val), r);
        kbuf_free(&b);
        /* A separator inside a field or value could make two terms share a
         * key: such a term is left to the document. */
        if (nhkw < HOT_KW && !strpbrk(f, "\x1e\x1f") && !strpbrk(val, "\x1e\x1f"))
            h->kw[nhkw++] = p->id;
        else
            h->flags &= (uint8_t)~HOT_KW_ALL;
        if (nk < PAIR_MAX)
            kw[nk] = qv;
        nk++;
    }
    /* Pairs of terms: a query requiring two of them starts from their
     * intersection, far smaller than either. */
    if (nk > PAIR_MAX) {
        t->_nopairs = 1;
        mm->nopairs++;
    } else {
        for (size_t i = 0; i < nk; i++)
            for (size_t j = i + 1; j < nk; j++) {
                kbuf b;
                link_to(t, &mm->postings,
                        pair_key(&b, tomo_qval_field(td, kw[i]), tomo_qval_str(td, kw[i]),
                                 tomo_qval_field(td, kw[j]), tomo_qval_str(td, kw[j])),
                        r);
                kbuf_free(&b);
            }
    }
    for (size_t i = 0; i < n; i++) {
        /* A session twice in one ticket is listed once. */
        int dup = 0;
        for (size_t j = 0; j < i; j++)
            dup |= !strcmp(ps[j].session_id, ps[i].session_id);
        if (!dup)
            link_to(t, &mm->sessions, ps[i].session_id, r);
    }
    if (t->party_id)
        link_to(t, &mm->parties, t->party_id, r);
    mm->count++;
    mm->active++;
    memcpy(ticket_out, t->id, 37);
    return 0;
}

/* Unlink and free a ticket. */
static void drop(tomo_mm *mm, tomo_mm_ticket *t)
{
    mm->tab[t->_slot] = NULL;
    mm->hot[t->_slot].gen = 0;
    mm->hot[t->_slot].flags = 0;
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
    for (size_t i = 0; i < t->_nlinks; i++) {
        keyed *k = t->_links[i].k;
        if (rl_stale(mm, &k->l)) {
            if (t->_links[i].m != &mm->postings) {
                /* Session and party lists stay (empty) until the session
                 * or party goes: tomo_mm_remove_session/_party. */
                k->l.n = k->l.dead = k->l.head = 0;
                continue;
            }
            mm->epoch++;
            pid_release(mm, k->id);
            tomo_hmap_del(t->_links[i].m, k->key);
            free(k->l.v);
            free(k);
        }
    }
    mm->count--;
    if (t->_active)
        mm->active--;
    mm->nopairs -= t->_nopairs;
    ticket_free(mm, t);
    if (mm->count == 0 && mm->nfields) {
        /* No ticket and so no query in use refers to an interned id any
         * more; the idle ones go with the table. */
        idle_flush(mm);
        const char *fk;
        void *fv;
        for (size_t i = 0; (i = tomo_hmap_next(&mm->fields, i, &fk, &fv)) != 0;)
            free((char *)fk);
        tomo_hmap_free(&mm->fields);
        mm->nfields = 0;
    }
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
    /* The owner is gone: its (now empty) list too. */
    tomo_hmap_del(m, k->key);
    free(k->l.v);
    free(k);
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

/* A hot line's sessions as a bloom of one bit per session. */
static uint64_t sess_bloom(const hot *h)
{
    return h->npres == 1 ? 1ULL << (h->bloom & 63) : h->bloom;
}

/* May the tickets of these lines share a session (0: they do not)? Two
 * one-session tickets compare their sessions' 32-bit hashes (a 64-bit bloom
 * let one candidate in 64 through to a read of both tickets, most of them
 * cache misses); otherwise the blooms. */
static int may_share(const hot *a, const hot *b)
{
    if (a->npres == 1 && b->npres == 1)
        return a->bloom == b->bloom;
    return (sess_bloom(a) & sess_bloom(b)) != 0;
}

/* Do the tickets in slots a and b share a session? Fingerprints that differ
 * say no without reading the tickets. */
static int clash_slots(const tomo_mm *mm, uint32_t a, uint32_t b)
{
    return may_share(&mm->hot[a], &mm->hot[b]) && clash(mm->tab[a], mm->tab[b]);
}

static int hot_npres(const tomo_mm *mm, uint32_t slot)
{
    const hot *h = &mm->hot[slot];
    return h->flags & HOT_BIGPRES ? (int)mm->tab[slot]->npresences : h->npres;
}

static int rev_active(const tomo_mm *mm)
{
    return mm->cfg.rev_precision && tomo_now_ms() < mm->rev_deadline_ms;
}

static int mutual(tomo_mm *mm, uint32_t a, uint32_t b)
{
    return qe_match(mm, mm->tab[a]->_qe, b, NULL) && qe_match(mm, mm->tab[b]->_qe, a, NULL);
}

static void combo_add(combo *c, uint32_t slot, int npres)
{
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 4;
        uint32_t *ns = tomo_xmalloc(nc * sizeof(*ns));
        if (c->n)
            memcpy(ns, c->s, c->n * sizeof(*ns));
        free(c->s);
        c->s = ns;
        c->cap = nc;
    }
    c->s[c->n++] = slot;
    c->count += npres;
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

/* Put the hit in slot h in the first combo with room, or a new one. NULL if
 * it cannot fit with X at all. */
static combo *pack(tomo_mm *mm, const tomo_mm_ticket *x, uint32_t h, int rev)
{
    int xc = (int)x->npresences, hc = hot_npres(mm, h);
    if (hc + xc > x->max_count)
        return NULL;
    for (size_t i = 0; i < mm->ncombos; i++) {
        combo *c = &mm->combos[i];
        if (c->count + hc + xc > x->max_count)
            continue;
        int ok = 1;
        for (size_t j = 0; ok && j < c->n; j++)
            ok = !clash_slots(mm, c->s[j], h) && (!rev || mutual(mm, c->s[j], h));
        if (ok) {
            combo_add(c, h, hc);
            return c;
        }
    }
    combo *c = new_combo(mm);
    combo_add(c, h, hc);
    return c;
}

/* Does the ticket in slot accept a match of n players? */
static int accepts(const tomo_mm *mm, uint32_t slot, int n)
{
    const hot *h = &mm->hot[slot];
    int mult = h->mult ? h->mult : mm->tab[slot]->count_multiple;
    return n >= h->min && n <= h->max && n % mult == 0;
}

/* Try to form a match from combo c plus x. On success out[0..*nout) holds
 * the tickets (combo order, then x); returns 1. */
static int form(const tomo_mm *mm, const tomo_mm_ticket *x, const combo *c, tomo_mm_ticket **out,
                size_t *nout)
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
                    const tomo_mm_ticket *t = mm->tab[c->s[i]];
                    sum += (int)t->npresences;
                    avg += (double)t->created_ns;
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
        if (!accepts(mm, c->s[i], n))
            return 0;
        out[k++] = mm->tab[c->s[i]];
    }
    out[k++] = (tomo_mm_ticket *)x;
    *nout = k;
    return 1;
}

/* Hit order: score descending, then oldest first (idx is unique, so the
 * order is total). */
static int before(const hit *x, const hit *y)
{
    return x->score != y->score ? x->score > y->score : x->idx < y->idx;
}

static void sift_down(hit *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, b = i;
        if (l < n && before(&h[l], &h[b]))
            b = l;
        if (l + 1 < n && before(&h[l + 1], &h[b]))
            b = l + 1;
        if (b == i)
            return;
        hit t = h[i];
        h[i] = h[b];
        h[b] = t;
        i = b;
    }
}

/* The deferred hits are taken in order from a heap: packing usually stops
 * after the first few, so sorting them all would be wasted. */
static void heap_make(hit *h, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(h, n, i);
}

static hit heap_pop(hit *h, size_t *n)
{
    hit top = h[0];
    h[0] = h[--*n];
    sift_down(h, *n, 0);
    return top;
}

/* Is the live ticket in slot a hit for x? Its score goes to *score. Decided
 * on the hot line; the ticket is read only for what the line cannot rule
 * out (a party or session fingerprint in common, a query the line cannot
 * evaluate, rev_precision). */
static int candidate(tomo_mm *mm, const tomo_mm_ticket *x, const hot *xh, uint32_t slot, int rev,
                     double *score)
{
    const hot *h = &mm->hot[slot];
    if (slot == x->_slot || (h->flags & HOT_MATCHED) || h->min < x->min_count ||
        h->max > x->max_count)
        return 0;
    if (h->party && h->party == xh->party && !strcmp(x->party_id, mm->tab[slot]->party_id))
        return 0;
    if (!qe_match(mm, x->_qe, slot, score))
        return 0;
    if (may_share(h, xh) && clash(x, mm->tab[slot]))
        return 0;
    return !rev || qe_match(mm, mm->tab[slot]->_qe, x->_slot, NULL);
}

/* Hot lines fetched ahead of the walk. */
#define PREFETCH 16

/* Search and pack for x; on a match, report it and drop the tickets.
 *
 * Hits are packed in Nakama's order (score descending, then oldest first).
 * Candidates are walked oldest first, so every hit that reaches the best
 * possible score is already in that order: those are packed as they are
 * found, and the search stops as soon as a match forms; the others wait in
 * `hits` and are sorted and packed only if the best ones formed nothing. */
static void process_one(tomo_mm *mm, tomo_mm_ticket *x, int last, tomo_mm_matched_fn fn, void *ud)
{
    const tomo_query *q = x->_qe->q;
    if ((int)x->npresences + 1 > x->max_count)
        return; /* no hit can ever fit beside it */
    reflist *cands = &mm->order;
    ref one;
    reflist single = {&one, 0, 1, 0, 0};
    struct tomo_mm_qent *qe = x->_qe;
    const hot *xh = &mm->hot[x->_slot];
    double top = qe->top;
    if (qe->plan_epoch == mm->epoch) {
        if (qe->plan_none)
            return;
        if (qe->plan)
            cands = &qe->plan->l;
    } else {
        /* Plan: the smallest list of a required term (or pair of terms). */
        size_t best = SIZE_MAX;
        const tomo_qclause *terms[8];
        size_t nterms = 0;
        int cacheable = 1;
        keyed *plan = NULL;
        for (size_t i = 0; i < q->n; i++) {
            const tomo_qclause *c = &q->c[i];
            if (c->occur != TOMO_Q_MUST)
                continue;
            if (!c->field && c->kind != TOMO_QC_ALL)
                goto none; /* `_all`: nothing can match */
            if (!c->field ||
                !((c->kind == TOMO_QC_TERM && !c->is_num) || c->kind == TOMO_QC_PHRASE))
                continue;
            if (!strcmp(c->field, "ticket")) {
                tomo_mm_ticket *t = tomo_mm_get(mm, c->text);
                if (!t)
                    return;
                one = (ref){t->_slot, t->_gen};
                single.n = 1;
                cands = &single;
                best = 1;
                cacheable = 0;
                continue;
            }
            if (!strcmp(c->field, "party_id")) {
                keyed *p = tomo_hmap_get(&mm->parties, c->text);
                if (!p)
                    return;
                if (p->l.n - p->l.dead < best) {
                    best = p->l.n - p->l.dead;
                    cands = &p->l;
                }
                cacheable = 0;
                continue;
            }
            kbuf b;
            keyed *p = tomo_hmap_get(&mm->postings, index_key(&b, c->field, c->text));
            kbuf_free(&b);
            if (!p)
                goto none; /* no ticket has the required term */
            if (p->l.n - p->l.dead < best) {
                best = p->l.n - p->l.dead;
                cands = &p->l;
                plan = p;
            }
            if (nterms < 8)
                terms[nterms++] = c;
        }
        /* Two required terms: their pair list, when it is smaller (pair
         * lists are complete only while no ticket has more than PAIR_MAX
         * keywords). */
        for (size_t i = 0; i < nterms && best > 1 && mm->nopairs == 0; i++)
            for (size_t j = i + 1; j < nterms; j++) {
                if (!strcmp(terms[i]->field, terms[j]->field))
                    continue;
                kbuf b;
                keyed *p = tomo_hmap_get(&mm->postings,
                                         pair_key(&b, terms[i]->field, terms[i]->text,
                                                  terms[j]->field, terms[j]->text));
                kbuf_free(&b);
                if (!p)
                    goto none; /* every ticket holding both terms is in their pair list */
                if (p->l.n - p->l.dead < best) {
                    best = p->l.n - p->l.dead;
                    cands = &p->l;
                    plan = p;
                }
            }
        if (cacheable) {
            qe->plan_epoch = mm->epoch;
            qe->plan = plan;
            qe->plan_none = 0;
        }
    }
    if (qe->ops)
        ops_refresh(mm, qe);
    int rev = rev_active(mm);
    mm->ncombos = 0;
    mm->nhits = 0;
    combo *lastc = NULL, *formed = NULL;
    tomo_mm_ticket *stackv[32];
    tomo_mm_ticket **out = stackv;
    size_t nout = 0;
    if ((size_t)x->max_count + 1 > 32)
        out = tomo_xmalloc(((size_t)x->max_count + 1) * sizeof(*out));
    /* Walk the candidates; the stale refs of the walked part are then moved
     * before the list's head (matched tickets leave holes that every later
     * search would otherwise step over again). */
    while (cands->head < cands->n && !live(mm, cands->v[cands->head]))
        cands->head++;
    size_t ci = cands->head, removed = 0;
    uint32_t walked = 0;
    for (; ci < cands->n && !formed; ci++) {
        if (ci + PREFETCH < cands->n)
            __builtin_prefetch(&mm->hot[cands->v[ci + PREFETCH].slot]);
        ref r = cands->v[ci];
        if (!live(mm, r)) {
            removed++;
            continue;
        }
        mm->st.candidates++;
        walked++;
        double score = 0;
        if (!candidate(mm, x, xh, r.slot, rev, &score))
            continue;
        mm->st.hits++;
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
            mm->hits[mm->nhits++] = (hit){r.slot, walked, score};
            continue;
        }
        combo *c = pack(mm, x, r.slot, rev);
        lastc = c; /* a hit that fits nowhere leaves no partial match */
        if (!c)
            continue;
        __builtin_prefetch(mm->tab[r.slot]); /* read if the match forms */
        if (c->count + (int)x->npresences == x->max_count && form(mm, x, c, out, &nout))
            formed = c;
    }
    mm->st.stale += removed;
    mm->st.searches++;
    if (removed) {
        /* A stable partition of the walked part [head, ci): its live refs
         * keep their order at its end, the stale ones go before the new
         * head (still counted in `dead`; rl_stale compacts the list when
         * half is stale). Moving the unwalked tail down instead cost a copy
         * of most of the list per search: two thirds of an interval. */
        size_t w = ci;
        for (size_t i = ci; i-- > cands->head;)
            if (live(mm, cands->v[i])) {
                ref t = cands->v[--w];
                cands->v[w] = cands->v[i];
                cands->v[i] = t;
            }
        cands->head = w;
    }
    if (!formed && mm->nhits) {
        heap_make(mm->hits, mm->nhits);
        while (mm->nhits && !formed) {
            combo *c = pack(mm, x, heap_pop(mm->hits, &mm->nhits).slot, rev);
            lastc = c;
            if (!c)
                continue;
            if (c->count + (int)x->npresences == x->max_count && form(mm, x, c, out, &nout))
                formed = c;
        }
    }
    if (!formed && last && lastc) {
        int total = lastc->count + (int)x->npresences;
        if (total >= x->min_count && total <= x->max_count && form(mm, x, lastc, out, &nout))
            formed = lastc;
    }
    if (formed) {
        for (size_t i = 0; i < nout; i++) {
            out[i]->_matched = 1;
            mm->hot[out[i]->_slot].flags |= HOT_MATCHED;
            __builtin_prefetch(out[i]->_qe, 1); /* for drop */
            __builtin_prefetch(out[i]->_links);
        }
        if (fn)
            fn(ud, out, nout);
        for (size_t i = 0; i < nout; i++)
            for (size_t j = 0; j < out[i]->_nlinks; j++)
                __builtin_prefetch(out[i]->_links[j].k, 1);
        for (size_t i = 0; i < nout; i++)
            drop(mm, out[i]);
    }
    if (out != stackv)
        free(out);
    return;
none:
    /* Cached too: the next ticket with this query skips the lookups. */
    qe->plan_epoch = mm->epoch;
    qe->plan = NULL;
    qe->plan_none = 1;
}

int tomo_mm_interval_begin(tomo_mm *mm)
{
    if (mm->running)
        return 0;
    free(mm->snap);
    mm->snap = tomo_xmalloc((mm->order.n ? mm->order.n : 1) * sizeof(*mm->snap));
    mm->snapn = 0;
    for (size_t i = 0; i < mm->order.n; i++) {
        ref r = mm->order.v[i];
        if (live(mm, r) && (mm->hot[r.slot].flags & HOT_ACTIVE))
            mm->snap[mm->snapn++] = (struct snapent){r, mm->tab[r.slot]};
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
        /* The tickets to come, fetched ahead: hot line and first line. */
        if (mm->snapn - mm->snappos > 16) {
            const struct snapent *e = &mm->snap[mm->snappos + 16];
            __builtin_prefetch(&mm->hot[e->r.slot]);
            __builtin_prefetch(e->t); /* harmless if it was freed since */
        }
        ref r = mm->snap[mm->snappos++].r;
        if (!live(mm, r) || (mm->hot[r.slot].flags & (HOT_ACTIVE | HOT_MATCHED)) != HOT_ACTIVE)
            continue;
        tomo_mm_ticket *x = mm->tab[r.slot];
        x->_intervals++;
        int last = x->_intervals >= mm->cfg.max_intervals || x->min_count == x->max_count;
        if (last) {
            x->_active = 0;
            mm->hot[x->_slot].flags &= (uint8_t)~HOT_ACTIVE;
            mm->active--;
        }
        process_one(mm, x, last, fn, ud);
    }
    if (mm->snappos < mm->snapn)
        return 1;
    mm->running = 0;
    return 0;
}

size_t tomo_mm_check(tomo_mm *mm)
{
    size_t bad = 0;
    for (size_t a = 0; a < mm->tabn; a++) {
        tomo_mm_ticket *x = mm->tab[a];
        if (!x || !x->_qe->ops)
            continue;
        ops_refresh(mm, x->_qe);
        for (size_t b = 0; b < mm->tabn; b++) {
            tomo_mm_ticket *t = mm->tab[b];
            if (!t)
                continue;
            double s1 = -1, s2 = -1;
            int full = tomo_query_match(x->_qe->q, &t->_doc, &s1);
            int fast = hot_match(x->_qe, &mm->hot[b], &s2);
            if (fast >= 0 && (fast != full || (full && s1 != s2)))
                bad++;
        }
    }
    return bad;
}
