/* svc/tournament.c: tournaments (see tournament.h). */
#define _GNU_SOURCE
#include "tournament.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"
#include "lb_int.h"

void tomo_tournament_info_clear(tomo_tournament_info *t)
{
    if (t)
        tomo_lb_board_clear(&t->b);
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Nakama 3.15's active window (see NAKAMA semantics: 5.2). */
void tomo_lbi_tournament_times(const tomo_lb_board *t, int64_t now, int64_t *start_active,
                               int64_t *end_active, int64_t *expiry)
{
    int64_t S = t->start_time, E = t->end_time, D = t->duration;
    if (!t->has_cron) {
        *start_active = S;
        *end_active = E > 0 ? min64(S + D, E) : S + D;
        *expiry = E;
        return;
    }
    int64_t tt = now > S ? now : S;
    int64_t sa = tomo_cron_prev(&t->cron, tt), exp = tomo_cron_next(&t->cron, tt);
    if (sa < 0)
        sa = S;
    if (exp < 0)
        exp = 0;
    int64_t ea = exp ? min64(sa + D, exp) : sa + D;
    if (S > ea) {
        sa = tomo_cron_next(&t->cron, S);
        exp = sa < 0 ? 0 : tomo_cron_next(&t->cron, sa);
        if (exp < 0)
            exp = 0;
        ea = exp ? min64(sa + D, exp) : sa + D;
    } else if (S > sa) {
        sa = S;
    }
    if (E > 0 && (exp == 0 || exp > E)) {
        exp = E;
        ea = min64(ea, E);
    }
    *start_active = sa;
    *end_active = ea;
    *expiry = exp;
}

void tomo_svc_tournament_times(const tomo_lb_board *t, int64_t now, int64_t *start_active,
                               int64_t *end_active, int64_t *expiry)
{
    tomo_lbi_tournament_times(t, now, start_active, end_active, expiry);
}

static int unlimited(const tomo_lb_board *t)
{
    return t->max_size <= 0 || t->max_size >= TOMO_LB_MAX_SIZE_UNLIMITED;
}

static int read_size(tomo_dbconn *db, const char *id)
{
    tomo_dbval p[] = {TOMO_DBTEXT(id)};
    tomo_dbres *res = NULL;
    int size = 0;
    if (tomo_db_exec(db, "SELECT size FROM leaderboard WHERE id = $1", p, 1, &res) == 0 &&
        tomo_dbres_rows(res) == 1)
        size = (int)tomo_dbres_int(res, 0, 0);
    tomo_dbres_free(res);
    return size;
}

static void fill_info(tomo_dbconn *db, tomo_tournament_info *t, int64_t now)
{
    tomo_lbi_tournament_times(&t->b, now, &t->start_active, &t->end_active, &t->next_reset);
    t->prev_reset = 0;
    if (t->b.has_cron && t->next_reset) {
        int64_t n2 = tomo_cron_next(&t->b.cron, t->next_reset);
        int64_t prev = n2 > 0 ? t->next_reset - (n2 - t->next_reset) : 0;
        t->prev_reset = prev >= t->b.start_time ? prev : 0;
    }
    t->size = unlimited(&t->b) || !db ? 0 : read_size(db, t->b.id);
    t->can_enter = !(t->start_active > now || t->end_active < now ||
                     (!unlimited(&t->b) && t->size >= t->b.max_size));
}

/* The tournament board: 0, or the 404 "Tournament not found." */
static int get_tournament(tomo_svc *svc, tomo_dbconn *db, const char *id, tomo_lb_board *b,
                          tomo_err *err)
{
    int rc = tomo_svc_leaderboard_get(svc, db, id, b);
    if (rc == 0 && !tomo_lb_board_is_tournament(b)) {
        tomo_lb_board_clear(b);
        rc = TOMO_ENOTFOUND;
    }
    if (rc == TOMO_ENOTFOUND)
        return tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "Tournament not found.");
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "tournament get");
    return 0;
}

int tomo_svc_tournament_get(tomo_svc *svc, tomo_dbconn *db, const char *id,
                            tomo_tournament_info *out)
{
    memset(out, 0, sizeof(*out));
    int rc = tomo_svc_leaderboard_get(svc, db, id, &out->b);
    if (rc == 0 && !tomo_lb_board_is_tournament(&out->b)) {
        tomo_lb_board_clear(&out->b);
        return TOMO_ENOTFOUND;
    }
    if (rc == 0)
        fill_info(db, out, tomo_now_sec());
    return rc;
}

int tomo_svc_tournament_create(tomo_svc *svc, tomo_dbconn *db, const tomo_lb_create *in,
                               int *created, tomo_err *err)
{
    tomo_lb_board b;
    memset(&b, 0, sizeof(b));
    *created = 0;
    if (!in->id || !*in->id)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Tournament ID must be provided.");
    if (strlen(in->id) > 128)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Tournament ID must be at most 128 characters.");
    if (in->sort_order != TOMO_LB_ASC && in->sort_order != TOMO_LB_DESC)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid sort order.");
    if (in->op < TOMO_LB_OP_BEST || in->op > TOMO_LB_OP_DECR)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid operator.");
    if (in->duration <= 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "duration must be greater than 0");
    if (in->category < 0 || in->category >= 128)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "category must be 0-127");
    if (in->start_time < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "start time must be >= 0");
    if (in->end_time < 0 || (in->end_time > 0 && in->end_time < in->start_time))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "end time must be 0 or greater than the start time");
    if (in->max_size < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "max size must be >= 0");
    if (in->max_num_score < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "max num score must be >= 0");
    if ((in->title && strlen(in->title) > 255) ||
        (in->description && strlen(in->description) > 255))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "title and description must be at most 255 characters");
    if (tomo_lbi_metadata_ok(in->metadata) < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Metadata value must be JSON, if provided.");
    snprintf(b.id, sizeof(b.id), "%s", in->id);
    b.authoritative = !!in->authoritative;
    b.sort_order = in->sort_order;
    b.op = in->op;
    b.start_time = in->start_time ? in->start_time : tomo_now_sec();
    if (in->reset_schedule && *in->reset_schedule) {
        if (strlen(in->reset_schedule) >= sizeof(b.reset_schedule) ||
            tomo_cron_parse(in->reset_schedule, &b.cron) < 0)
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                                "expects reset schedule to be a valid CRON expression");
        snprintf(b.reset_schedule, sizeof(b.reset_schedule), "%s", in->reset_schedule);
        b.has_cron = 1;
        int64_t first = tomo_cron_next(&b.cron, b.start_time);
        if (in->end_time > 0 && (first < 0 || in->end_time < first))
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                                "tournament end time cannot be before first reset schedule - "
                                "either increase end time or change/disable reset schedule");
    }
    b.metadata = (char *)(in->metadata && *in->metadata ? in->metadata : "{}");
    b.title = (char *)(in->title ? in->title : "");
    b.description = (char *)(in->description ? in->description : "");
    b.category = in->category;
    b.duration = in->duration;
    b.end_time = in->end_time;
    b.max_size = in->max_size > 0 ? in->max_size : TOMO_LB_MAX_SIZE_UNLIMITED;
    b.max_num_score = in->max_num_score > 0 ? in->max_num_score : TOMO_LB_DEFAULT_MAX_NUM_SCORE;
    b.join_required = !!in->join_required;
    b.create_time = tomo_now_ms();
    tomo_lb_board existing;
    memset(&existing, 0, sizeof(existing));
    int rc = tomo_lbi_insert_board(svc, db, &b, created, &existing, err);
    if (rc == 0 && !*created) {
        if (!tomo_lb_board_is_tournament(&existing))
            rc = tomo_err_set(err, TOMO_GRPC_INTERNAL,
                              "cannot create tournament as leaderboard is already in use");
        tomo_lb_board_clear(&existing);
    }
    return rc;
}

int tomo_svc_tournament_delete(tomo_svc *svc, tomo_dbconn *db, const char *id, tomo_err *err)
{
    return tomo_svc_leaderboard_delete(svc, db, id, err);
}

static void lower_uuid(const char *in, char out[37])
{
    for (int i = 0; i < 37; i++) {
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'F' ? in[i] + 32 : in[i]);
        if (!in[i])
            break;
    }
    out[36] = '\0';
}

int tomo_svc_tournament_add_attempt(tomo_svc *svc, tomo_dbconn *db, const char *id,
                                    const char *owner_id, int count, tomo_err *err)
{
    tomo_lb_board b;
    if (!id || !*id)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Tournament ID must be provided.");
    if (!owner_id || !tomo_uuid_valid(owner_id))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid owner ID.");
    if (count == 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Attempt count must be non-zero.");
    int rc = get_tournament(svc, db, id, &b, err);
    if (rc < 0)
        return rc;
    int64_t sa, ea, exp;
    tomo_lbi_tournament_times(&b, tomo_now_sec(), &sa, &ea, &exp);
    char owner[37];
    lower_uuid(owner_id, owner);
    tomo_dbval p[] = {TOMO_LBI_TEXT(b.id), TOMO_LBI_TEXT(owner), TOMO_DBINT(exp), TOMO_DBINT(count)};
    rc = tomo_db_exec(db,
                      "UPDATE leaderboard_record SET max_num_score = max_num_score + $4 WHERE"
                      " leaderboard_id = $1 AND owner_id = $2 AND expiry_time = $3",
                      p, 4, NULL);
    if (rc < 0)
        rc = tomo_err_db_conn(err, db, rc, "tournament add attempt");
    tomo_lb_board_clear(&b);
    return rc;
}

int tomo_svc_tournament_join(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                             const char *id, const char *owner_id, const char *username,
                             tomo_err *err)
{
    tomo_lb_board b;
    (void)caller;
    if (!id || !*id)
        return tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "Tournament not found.");
    if (!owner_id || !tomo_uuid_valid(owner_id))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid owner ID.");
    int rc = get_tournament(svc, db, id, &b, err);
    if (rc < 0)
        return rc;
    int64_t now = tomo_now_sec(), sa, ea, exp;
    tomo_lbi_tournament_times(&b, now, &sa, &ea, &exp);
    if (!b.join_required)
        goto out;
    if (ea <= now || (b.end_time && b.end_time <= now)) {
        rc = tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                          "Tournament is not active and cannot accept new joins.");
        goto out;
    }
    char owner[37];
    lower_uuid(owner_id, owner);
    int64_t ms = tomo_now_ms();
    tomo_dbval p[] = {TOMO_LBI_TEXT(b.id),  TOMO_LBI_TEXT(owner),          TOMO_DBTEXT(
                                                                     username && *username ? username : NULL),
                      TOMO_DBINT(b.max_num_score), TOMO_DBINT(ms), TOMO_DBINT(exp)};
    tomo_dbres *res = NULL;
    if ((rc = tomo_db_begin(db)) < 0)
        goto dberr;
    rc = tomo_db_exec(db,
                      "INSERT INTO leaderboard_record (leaderboard_id, owner_id, username, score,"
                      " subscore, num_score, max_num_score, metadata, create_time, update_time,"
                      " expiry_time) VALUES ($1, $2, $3, 0, 0, 0, $4, '{}', $5, $5, $6)"
                      " ON CONFLICT (owner_id, leaderboard_id, expiry_time) DO NOTHING",
                      p, 6, &res);
    int64_t inserted = rc == 0 ? tomo_dbres_changes(res) : 0;
    tomo_dbres_free(res);
    res = NULL;
    if (rc == 0 && inserted > 0 && !unlimited(&b)) {
        rc = tomo_db_exec(db,
                          "UPDATE leaderboard SET size = size + 1 WHERE id = $1 AND size <"
                          " max_size",
                          p, 1, &res);
        if (rc == 0 && tomo_dbres_changes(res) == 0) {
            tomo_dbres_free(res);
            tomo_db_rollback(db);
            rc = tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                              "Tournament cannot be joined as it has reached its max size.");
            goto out;
        }
        tomo_dbres_free(res);
    }
    if (rc == 0)
        rc = tomo_db_commit(db);
    if (rc < 0) {
        tomo_db_rollback(db);
        goto dberr;
    }
    if (inserted > 0) {
        tomo_lb_record r;
        memset(&r, 0, sizeof(r));
        snprintf(r.owner_id, sizeof(r.owner_id), "%s", owner);
        r.expiry_time = exp;
        tomo_lbi_rank_put(svc, db, &b, &r);
    }
    goto out;
dberr:
    rc = tomo_err_db_conn(err, db, rc, "tournament join");
out:
    tomo_lb_board_clear(&b);
    return rc;
}

int tomo_svc_tournament_record_write(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                     const char *id, const tomo_lb_write *w, tomo_lb_record *out,
                                     tomo_err *err)
{
    tomo_lb_board b;
    int changed = 0, in_tx = 0;
    memset(out, 0, sizeof(*out));
    if (!id || !*id)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Tournament ID must be provided.");
    if (tomo_lbi_metadata_ok(w->metadata) < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Metadata value must be JSON, if provided.");
    if (!w->owner_id || !tomo_uuid_valid(w->owner_id))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid owner ID.");
    int rc = get_tournament(svc, db, id, &b, err);
    if (rc < 0)
        return rc;
    int64_t now = tomo_now_sec(), sa, ea, exp;
    if (b.end_time && b.end_time <= now) {
        rc = tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "Tournament not found or has ended.");
        goto out;
    }
    if (b.authoritative && !tomo_caller_is_system(caller)) {
        rc = tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED,
                          "Tournament only allows authoritative score submissions.");
        goto out;
    }
    tomo_lbi_tournament_times(&b, now, &sa, &ea, &exp);
    if (sa > now || ea <= now) {
        rc = tomo_err_set(err, TOMO_GRPC_FAILED_PRECONDITION,
                          "Tournament is not active and cannot accept new scores.");
        goto out;
    }
    char owner[37];
    lower_uuid(w->owner_id, owner);
    tomo_lb_write lw = *w;
    lw.owner_id = owner;
    int op = tomo_lbi_op(&b, w->override);
    if (b.join_required) {
        rc = tomo_lbi_update(db, &b, exp, op, &lw, &changed, out);
        if (rc < 0)
            goto fail;
    } else {
        if ((rc = tomo_db_begin(db)) < 0)
            goto fail;
        in_tx = 1;
        rc = tomo_lbi_upsert(db, &b, exp, op, &lw, b.max_num_score, &changed, out);
        if (rc < 0)
            goto fail;
        if (changed && out->max_num_score > 0 && out->num_score > out->max_num_score) {
            tomo_db_rollback(db);
            tomo_lb_record_clear(out);
            rc = tomo_err_set(err, TOMO_GRPC_FAILED_PRECONDITION,
                              "Reached allowed max number of score attempts.");
            goto out;
        }
        if (changed && out->num_score <= 1 && !unlimited(&b)) {
            tomo_dbres *res = NULL;
            tomo_dbval p[] = {TOMO_LBI_TEXT(b.id)};
            rc = tomo_db_exec(db,
                              "UPDATE leaderboard SET size = size + 1 WHERE id = $1 AND size <"
                              " max_size",
                              p, 1, &res);
            int64_t ch = rc == 0 ? tomo_dbres_changes(res) : 0;
            tomo_dbres_free(res);
            if (rc < 0)
                goto fail;
            if (ch == 0) {
                tomo_db_rollback(db);
                tomo_lb_record_clear(out);
                rc = tomo_err_set(err, TOMO_GRPC_FAILED_PRECONDITION,
                                 "Tournament has reached max size.");
                goto out;
            }
        }
        if ((rc = tomo_db_commit(db)) < 0)
            goto fail;
        in_tx = 0;
    }
    if (changed) {
        out->rank = tomo_lbi_rank_put(svc, db, &b, out);
        goto out;
    }
    tomo_lb_record_clear(out);
    rc = tomo_lbi_read(db, b.id, exp, owner, out);
    if (rc == TOMO_ENOTFOUND && b.join_required) {
        rc = tomo_err_set(err, TOMO_GRPC_FAILED_PRECONDITION,
                          "Must join tournament before attempting to write value.");
        goto out;
    }
    if (rc < 0)
        goto fail;
    out->rank = tomo_lbi_rank(svc, db, &b, out);
    goto out;
fail:
    if (in_tx)
        tomo_db_rollback(db);
    tomo_lb_record_clear(out);
    if (rc == TOMO_EUNAVAIL || rc == TOMO_ETIMEOUT)
        rc = tomo_err_db_conn(err, db, rc, "tournament write");
    else
        rc = tomo_err_set(err, TOMO_GRPC_INTERNAL, "Error writing score to tournament.");
out:
    tomo_lb_board_clear(&b);
    return rc;
}

int tomo_svc_tournament_record_delete(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                      const char *id, const char *owner_id, tomo_err *err)
{
    tomo_lb_board b;
    if (!id || !*id)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Tournament ID must be provided.");
    if (!owner_id || !tomo_uuid_valid(owner_id))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid owner ID.");
    int rc = get_tournament(svc, db, id, &b, err);
    if (rc < 0)
        return rc;
    if (b.authoritative && !tomo_caller_is_system(caller)) {
        rc = tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED,
                          "Tournament only allows authoritative score deletions.");
        goto out;
    }
    int64_t sa, ea, exp;
    tomo_lbi_tournament_times(&b, tomo_now_sec(), &sa, &ea, &exp);
    char owner[37];
    lower_uuid(owner_id, owner);
    tomo_dbval p[] = {TOMO_LBI_TEXT(b.id), TOMO_LBI_TEXT(owner), TOMO_DBINT(exp)};
    tomo_dbres *res = NULL;
    rc = tomo_db_begin(db);
    if (rc == 0)
        rc = tomo_db_exec(db,
                          "DELETE FROM leaderboard_record WHERE leaderboard_id = $1 AND owner_id ="
                          " $2 AND expiry_time = $3",
                          p, 3, &res);
    if (rc == 0 && tomo_dbres_changes(res) > 0 && !unlimited(&b))
        rc = tomo_db_exec(db, "UPDATE leaderboard SET size = size - 1 WHERE id = $1 AND size > 0",
                          p, 1, NULL);
    tomo_dbres_free(res);
    if (rc == 0)
        rc = tomo_db_commit(db);
    if (rc < 0) {
        tomo_db_rollback(db);
        rc = tomo_err_set(err, TOMO_GRPC_INTERNAL, "Error deleting score from tournament.");
        goto out;
    }
    tomo_lbi_rank_remove(svc, &b, exp, owner);
out:
    tomo_lb_board_clear(&b);
    return rc;
}

/* ---- listing ---- */

static int info_order(const void *pa, const void *pb)
{
    const tomo_tournament_info *a = pa, *b = pb;
    if (a->b.start_time != b->b.start_time)
        return a->b.start_time < b->b.start_time ? -1 : 1;
    if (a->b.end_time != b->b.end_time)
        return a->b.end_time > b->b.end_time ? -1 : 1;
    if (a->b.category != b->b.category)
        return a->b.category < b->b.category ? -1 : 1;
    return strcmp(a->b.id, b->b.id);
}

int tomo_svc_tournament_list(tomo_svc *svc, tomo_dbconn *db, const tomo_tournament_filter *f,
                             tomo_tournament_info **out, size_t *n, char **cursor,
                             tomo_err *err)
{
    *out = NULL;
    *n = 0;
    *cursor = NULL;
    if (f->category_end < 0 || f->category_end >= 128)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Tournament category end must be >=0 and <128.");
    if (f->category_start < 0 || f->category_start >= 128)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Tournament category start must be >=0 and <128.");
    if (f->category_end < f->category_start)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Tournament category end must be greater than category start.");
    if (f->end_time > 0 && f->start_time > 0 && f->end_time < f->start_time)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Tournament end time must be greater than start time.");
    if (f->limit < 1 || f->limit > 100)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Limit must be between 1 and 100.");
    char after[129] = "";
    if (f->cursor && *f->cursor) {
        uint8_t *raw = NULL;
        size_t len = 0;
        int ok = tomo_b64_decode(f->cursor, strlen(f->cursor), &raw, &len) == 0 && len > 3 &&
                 len < 3 + sizeof(after) && !memcmp(raw, "t1|", 3) &&
                 !memchr(raw, '\0', len);
        if (ok)
            snprintf(after, sizeof(after), "%s", (char *)raw + 3);
        free(raw);
        if (!ok)
            return tomo_err_set(err, TOMO_GRPC_UNKNOWN, "leaderboard cursor invalid");
    }
    tomo_lb_board *all = NULL;
    size_t nall = 0;
    int rc = tomo_svc_leaderboard_all(svc, db, 1, &all, &nall);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "tournament list");
    int64_t now = tomo_now_sec();
    tomo_tournament_info *items = tomo_xcalloc(nall ? nall : 1, sizeof(*items));
    size_t k = 0;
    for (size_t i = 0; i < nall; i++) {
        tomo_lb_board *b = &all[i];
        int keep = tomo_lb_board_is_tournament(b) && b->category >= f->category_start &&
                   b->category <= f->category_end;
        if (keep && f->start_time >= 0 && b->start_time < f->start_time)
            keep = 0;
        if (keep && f->end_time < 0 && b->end_time && b->end_time < now)
            keep = 0;
        if (keep && f->end_time == 0 && b->end_time)
            keep = 0;
        if (keep && f->end_time > 0 && (!b->end_time || b->end_time > f->end_time))
            keep = 0;
        if (keep)
            items[k++].b = *b;
        else
            tomo_lb_board_clear(b);
    }
    free(all);
    qsort(items, k, sizeof(*items), info_order);
    size_t start = 0;
    if (after[0]) {
        start = k;
        for (size_t i = 0; i < k; i++)
            if (!strcmp(items[i].b.id, after)) {
                start = i + 1;
                break;
            }
    }
    size_t end = start + (size_t)f->limit < k ? start + (size_t)f->limit : k;
    for (size_t i = 0; i < k; i++) {
        if (i < start || i >= end)
            tomo_tournament_info_clear(&items[i]);
        else
            fill_info(db, &items[i], now);
    }
    if (end < k) {
        char *raw = tomo_xasprintf("t1|%s", items[end - 1].b.id);
        *cursor = tomo_b64_encode(raw, strlen(raw), 1);
        free(raw);
    }
    memmove(items, items + start, (end - start) * sizeof(*items));
    *out = items;
    *n = end - start;
    return 0;
}

int tomo_svc_tournament_records_list(tomo_svc *svc, tomo_dbconn *db, const char *id,
                                     const tomo_lb_list *req, tomo_lb_record_list *out,
                                     tomo_err *err)
{
    tomo_lb_board b;
    memset(out, 0, sizeof(*out));
    if (!id || !*id)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Tournament ID must be provided");
    for (size_t i = 0; i < req->n_owner; i++)
        if (!req->owner_ids[i] || !tomo_uuid_valid(req->owner_ids[i]))
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                                "One or more owner IDs are invalid.");
    int rc = get_tournament(svc, db, id, &b, err);
    if (rc < 0)
        return rc;
    int64_t now = tomo_now_sec(), expiry = req->expiry;
    if (!expiry) {
        if (b.end_time && b.end_time <= now) {
            rc = tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "Tournament has ended.");
            goto out;
        }
        int64_t sa, ea;
        tomo_lbi_tournament_times(&b, now, &sa, &ea, &expiry);
    }
    rc = tomo_lbi_list(svc, db, &b, expiry, req, out, err);
    if (rc < 0 && err && err->code == TOMO_GRPC_INTERNAL)
        tomo_err_set(err, TOMO_GRPC_INTERNAL, "Error listing records from tournament.");
out:
    tomo_lb_board_clear(&b);
    return rc;
}

int tomo_svc_tournament_records_around_owner(tomo_svc *svc, tomo_dbconn *db, const char *id,
                                             const char *owner_id, int limit, const char *cursor,
                                             int64_t expiry, tomo_lb_record_list *out,
                                             tomo_err *err)
{
    tomo_lb_board b;
    memset(out, 0, sizeof(*out));
    if (!id || !*id)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid tournament ID.");
    if (tomo_lbi_check_haystack_owner(owner_id, err) < 0)
        return -1;
    int rc = get_tournament(svc, db, id, &b, err);
    if (rc < 0)
        return rc;
    if (!expiry) {
        int64_t sa, ea;
        tomo_lbi_tournament_times(&b, tomo_now_sec(), &sa, &ea, &expiry);
    }
    if (cursor && *cursor) {
        tomo_lb_list req = {.limit = limit, .cursor = cursor};
        rc = tomo_lbi_list(svc, db, &b, expiry, &req, out, err);
    } else {
        rc = tomo_lbi_around(svc, db, &b, expiry, owner_id, limit, out, err);
    }
    tomo_lb_board_clear(&b);
    return rc;
}
