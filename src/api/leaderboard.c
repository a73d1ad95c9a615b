/* api/leaderboard.c: the leaderboard and tournament routes, thin REST
 * adapters over svc/leaderboard.h and svc/tournament.h (request parsing,
 * Nakama's limits and defaults per route, protojson rendering).
 * Threads: worker. */
#include "handlers.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../codec/fields.h"
#include "../core/common.h"
#include "../svc/leaderboard.h"
#include "../svc/tournament.h"

/* ---- rendering ---- */

static void set_u32(json_t *o, const char *k, long long v)
{
    if (v)
        json_object_set_new(o, k, json_integer(v));
}

static json_t *tournament_json(const tomo_tournament_info *t)
{
    const tomo_lb_board *b = &t->b;
    json_t *o = json_object();
    tomo_json_set_str(o, "id", b->id);
    tomo_json_set_str(o, "title", b->title);
    tomo_json_set_str(o, "description", b->description);
    set_u32(o, "category", b->category);
    set_u32(o, "sort_order", b->sort_order);
    set_u32(o, "size", t->size);
    set_u32(o, "max_size", b->max_size);
    set_u32(o, "max_num_score", b->max_num_score);
    if (t->can_enter)
        json_object_set_new(o, "can_enter", json_true());
    set_u32(o, "end_active", t->end_active);
    set_u32(o, "next_reset", t->next_reset);
    tomo_json_set_str(o, "metadata", b->metadata);
    tomo_json_set_time(o, "create_time", b->create_time);
    tomo_json_set_time(o, "start_time", b->start_time * 1000);
    tomo_json_set_time(o, "end_time", b->end_time * 1000);
    set_u32(o, "duration", b->duration);
    set_u32(o, "start_active", t->start_active);
    set_u32(o, "prev_reset", t->prev_reset);
    set_u32(o, "operator", b->op + 1); /* API Operator: stored value + 1 */
    if (b->authoritative)
        json_object_set_new(o, "authoritative", json_true());
    if (b->join_required)
        json_object_set_new(o, "join_required", json_true());
    return o;
}

/* ---- request parsing ---- */

static int parse_operator(const json_t *v, int *out)
{
    static const char *const names[] = {"NO_OVERRIDE", "BEST", "SET", "INCREMENT", "DECREMENT"};
    long long n;
    *out = 0;
    if (json_is_string(v)) {
        for (int i = 0; i < 5; i++)
            if (!strcasecmp(json_string_value(v), names[i])) {
                *out = i;
                return 0;
            }
    }
    if (tomo_field_int_value(v, &n) < 0 || n < 0 || n > 4)
        return TOMO_EINVAL;
    *out = (int)n;
    return 0;
}

/* The record body {score, subscore, metadata, operator}. */
static int parse_write(tomo_api_ctx *ctx, tomo_lb_write *w)
{
    memset(w, 0, sizeof(*w));
    if (!ctx->body || !json_is_object(ctx->body))
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid input, record score value is required.");
    long long score, subscore;
    if (tomo_field_int(ctx->body, "score", 0, INT64_MIN, INT64_MAX, &score, NULL, 0) < 0 ||
        tomo_field_int(ctx->body, "subscore", 0, INT64_MIN, INT64_MAX, &subscore, NULL, 0) < 0 ||
        parse_operator(tomo_field_get(ctx->body, "operator"), &w->override) < 0 ||
        tomo_field_str(ctx->body, "metadata", NULL, &w->metadata, NULL, 0) < 0)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid record value.");
    w->score = score;
    w->subscore = subscore;
    w->owner_id = ctx->session.user_id;
    w->username = ctx->session.username;
    return 0;
}

/* limit query: *set = 0 when absent. */
static int query_limit(tomo_api_ctx *ctx, int *limit, int *set)
{
    int bad = 0;
    *set = tomo_api_query(ctx, "limit") != NULL;
    long long v = tomo_api_query_int(ctx, "limit", 0, &bad);
    if (*set && (bad || v < 1 || v > 100))
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid limit - limit must be between 1 and 100.");
    *limit = (int)v;
    return 0;
}

static int query_expiry(tomo_api_ctx *ctx, int64_t *expiry)
{
    int bad = 0;
    long long v = tomo_api_query_int(ctx, "expiry", 0, &bad);
    if (bad || v < 0)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid expiry value.");
    *expiry = v;
    return 0;
}

/* ---- leaderboards ---- */

/* Write or delete the caller's record: the same shape for both kinds, the
 * svc call differs. */
static int write_common(tomo_api_ctx *ctx, int tournament)
{
    tomo_lb_write w;
    tomo_lb_record r;
    tomo_err err = {0};
    tomo_dbconn *db;
    if (parse_write(ctx, &w) < 0 || tomo_api_db(ctx, &db) < 0)
        return -1;
    tomo_caller caller = tomo_api_caller(ctx);
    const char *id = tomo_api_param(ctx, tournament ? "tournament_id" : "leaderboard_id");
    int rc = tournament
                 ? tomo_svc_tournament_record_write(&ctx->srv->svc, db, &caller, id, &w, &r, &err)
                 : tomo_svc_leaderboard_record_write(&ctx->srv->svc, db, &caller, id, &w, &r, &err);
    if (rc < 0)
        return tomo_api_svc_error(ctx, &err);
    ctx->out = tomo_lb_record_json(&r);
    tomo_lb_record_clear(&r);
    return 0;
}

static int delete_common(tomo_api_ctx *ctx, int tournament)
{
    tomo_err err = {0};
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    tomo_caller caller = tomo_api_caller(ctx);
    const char *id = tomo_api_param(ctx, tournament ? "tournament_id" : "leaderboard_id");
    int rc = tournament ? tomo_svc_tournament_record_delete(&ctx->srv->svc, db, &caller, id,
                                                            ctx->session.user_id, &err)
                        : tomo_svc_leaderboard_record_delete(&ctx->srv->svc, db, &caller, id,
                                                             ctx->session.user_id, &err);
    return rc < 0 ? tomo_api_svc_error(ctx, &err) : 0;
}

int tomo_api_leaderboard_write(tomo_api_ctx *ctx)
{
    return write_common(ctx, 0);
}

int tomo_api_leaderboard_delete(tomo_api_ctx *ctx)
{
    return delete_common(ctx, 0);
}

/* A record list as the response (text straight from the records when the
 * transport allows it); clears l. */
static void list_out(tomo_api_ctx *ctx, tomo_lb_record_list *l)
{
    if (tomo_api_text_ok(ctx)) {
        size_t len;
        char *text = tomo_lb_record_list_text(l, &len);
        tomo_api_json_text(ctx, text, len);
    } else {
        ctx->out = tomo_lb_record_list_json(l);
    }
    tomo_lb_record_list_clear(l);
}

/* owner_ids, limit (default `def`; `owners_only` says when an absent limit
 * means owner records only), cursor, expiry. */
static int list_common(tomo_api_ctx *ctx, int tournament)
{
    int limit = 0, set = 0;
    int64_t expiry = 0;
    if (query_limit(ctx, &limit, &set) < 0 || query_expiry(ctx, &expiry) < 0)
        return -1;
    size_t n = tomo_api_query_count(ctx, "owner_ids");
    const char *cursor = tomo_api_query(ctx, "cursor");
    int has_cursor = cursor && *cursor;
    if (!set) {
        /* Nakama's defaults: leaderboards 1 (none with owner ids and no
         * cursor), tournaments 10 (none with owner ids and a cursor) */
        if (tournament)
            limit = n && has_cursor ? 0 : 10;
        else
            limit = n && !has_cursor ? 0 : 1;
    }
    const char **ids = tomo_xcalloc(n + 1, sizeof(*ids));
    for (size_t i = 0; i < n; i++)
        ids[i] = tomo_api_query_at(ctx, "owner_ids", i);
    tomo_lb_list req = {ids, n, limit, cursor, expiry};
    tomo_lb_record_list l;
    tomo_err err = {0};
    tomo_dbconn *db;
    int rc = tomo_api_db(ctx, &db);
    if (rc == 0) {
        const char *id = tomo_api_param(ctx, tournament ? "tournament_id" : "leaderboard_id");
        rc = tournament ? tomo_svc_tournament_records_list(&ctx->srv->svc, db, id, &req, &l, &err)
                        : tomo_svc_leaderboard_records_list(&ctx->srv->svc, db, id, &req, &l,
                                                            &err);
        if (rc < 0) {
            rc = tomo_api_svc_error(ctx, &err);
        } else {
            list_out(ctx, &l);
        }
    }
    free(ids);
    return rc;
}

int tomo_api_leaderboard_list(tomo_api_ctx *ctx)
{
    return list_common(ctx, 0);
}

static int around_common(tomo_api_ctx *ctx, int tournament)
{
    int limit = 0, set = 0;
    int64_t expiry = 0;
    if (query_limit(ctx, &limit, &set) < 0 || query_expiry(ctx, &expiry) < 0)
        return -1;
    if (!set)
        limit = tournament ? 100 : 1;
    tomo_lb_record_list l;
    tomo_err err = {0};
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    const char *cursor = tomo_api_query(ctx, "cursor"), *owner = tomo_api_param(ctx, "owner_id");
    int rc = tournament ? tomo_svc_tournament_records_around_owner(
                              &ctx->srv->svc, db, tomo_api_param(ctx, "tournament_id"), owner,
                              limit, cursor, expiry, &l, &err)
                        : tomo_svc_leaderboard_records_around_owner(
                              &ctx->srv->svc, db, tomo_api_param(ctx, "leaderboard_id"), owner,
                              limit, cursor, expiry, &l, &err);
    if (rc < 0)
        return tomo_api_svc_error(ctx, &err);
    list_out(ctx, &l);
    return 0;
}

int tomo_api_leaderboard_around_owner(tomo_api_ctx *ctx)
{
    return around_common(ctx, 0);
}

/* ---- tournaments ---- */

int tomo_api_tournament_records_list(tomo_api_ctx *ctx)
{
    return list_common(ctx, 1);
}

int tomo_api_tournament_around_owner(tomo_api_ctx *ctx)
{
    return around_common(ctx, 1);
}

int tomo_api_tournament_write(tomo_api_ctx *ctx)
{
    return write_common(ctx, 1);
}

int tomo_api_tournament_delete(tomo_api_ctx *ctx)
{
    return delete_common(ctx, 1);
}

int tomo_api_tournament_join(tomo_api_ctx *ctx)
{
    tomo_err err = {0};
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    tomo_caller caller = tomo_api_caller(ctx);
    if (tomo_svc_tournament_join(&ctx->srv->svc, db, &caller, tomo_api_param(ctx, "tournament_id"),
                                 ctx->session.user_id, ctx->session.username, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    return 0;
}

int tomo_api_tournament_list(tomo_api_ctx *ctx)
{
    int bad = 0, limit, set;
    tomo_tournament_filter f;
    memset(&f, 0, sizeof(f));
    f.category_start = (int)tomo_api_query_int(ctx, "category_start", 0, &bad);
    f.category_end = (int)tomo_api_query_int(ctx, "category_end", 127, &bad);
    f.start_time = tomo_api_query_int(ctx, "start_time", -1, &bad);
    f.end_time = tomo_api_query_int(ctx, "end_time", -1, &bad);
    if (bad)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid query parameter.");
    bad = 0;
    set = tomo_api_query(ctx, "limit") != NULL;
    limit = (int)tomo_api_query_int(ctx, "limit", 100, &bad);
    if (bad)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Limit must be between 1 and 100.");
    (void)set;
    f.limit = limit;
    f.cursor = tomo_api_query(ctx, "cursor");
    tomo_tournament_info *items = NULL;
    size_t n = 0;
    char *cursor = NULL;
    tomo_err err = {0};
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    if (tomo_svc_tournament_list(&ctx->srv->svc, db, &f, &items, &n, &cursor, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    json_t *o = json_object(), *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, tournament_json(&items[i]));
        tomo_tournament_info_clear(&items[i]);
    }
    free(items);
    if (n)
        json_object_set(o, "tournaments", arr);
    json_decref(arr);
    tomo_json_set_str(o, "cursor", cursor);
    free(cursor);
    ctx->out = o;
    return 0;
}
