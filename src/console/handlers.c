/* console/handlers.c: the console routes' adapters: decode the path, query
 * and body, call the service layer as the system caller, render Nakama's
 * console messages. No rule lives here (svc/ has them). Threads: worker,
 * except the routes flagged TOMO_CROUTE_LOOP (realtime counts). */
#define _GNU_SOURCE
#include "console_int.h"

#include "../api/api.h"
#include "../codec/codec.h"
#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"
#include "../rt/amatch.h"
#include "../rt/rt.h"
#include "../rt/session.h"
#include "../rt/tracker.h"
#include "../runtime/runtime.h"
#include "../svc/account.h"
#include "../svc/admin.h"
#include "../svc/chat.h"
#include "../svc/console_user.h"
#include "../svc/friend.h"
#include "../svc/group.h"
#include "../svc/leaderboard.h"
#include "../svc/storage.h"
#include "../svc/users.h"
#include "../svc/wallet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SYS (&tomo_caller_system)

/* Run a svc call that needs a connection: `db` in scope, errors rendered. */
#define WITH_DB(ctx, db)                       \
    tomo_dbconn *db;                           \
    if (tomo_console_db((ctx), &db) < 0)       \
        return -1;                             \
    tomo_err err

static int svc_fail(tomo_console_ctx *ctx, const tomo_err *err)
{
    return tomo_console_svc_error(ctx, err);
}

/* An integer query parameter within [lo, hi] (def when absent). */
static int query_int(tomo_console_ctx *ctx, const char *name, int def, int lo, int hi, int *out)
{
    const char *v = tomo_console_query(ctx, name);
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || x < lo || x > hi)
        return tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                  "Invalid %s - must be %d-%d.", name, lo, hi);
    *out = (int)x;
    return 0;
}

/* ---- status, config, runtime ---- */

static int proc_threads(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "Threads:", 8)) {
            n = atoi(line + 8);
            break;
        }
    fclose(f);
    return n;
}

static int h_status(tomo_console_ctx *ctx)
{
    const tomo_console_deps *d = &ctx->con->d;
    /* every loop's sessions; the tracker already knows every loop's presences */
    size_t sessions = d->rt ? tomo_rt_session_count_process() : 0;
    size_t presences = d->rt ? tomo_tracker_size(tomo_rt_tracker(d->rt)) : 0;
    json_t *node = json_pack("{s:s,s:i,s:I,s:I,s:i,s:i,s:f,s:f,s:f,s:f}", "name", d->cfg->name,
                             "health", 0, "session_count", (json_int_t)sessions, "presence_count",
                             (json_int_t)presences, "match_count",
                             (int)(d->rt ? tomo_rt_amatch_count(d->rt) : 0), "goroutine_count",
                             proc_threads(), "avg_latency_ms", 0.0, "avg_rate_sec", 0.0,
                             "avg_input_kbs", 0.0, "avg_output_kbs", 0.0);
    ctx->out = json_pack("{s:[o]}", "nodes", node);
    tomo_json_set_time(ctx->out, "timestamp", tomo_now_ms());
    /* tomo's own additions */
    json_object_set_new(ctx->out, "server_version", json_string(TOMO_VERSION));
    json_object_set_new(ctx->out, "uptime_sec",
                        json_integer((tomo_now_ms() - d->start_time_ms) / 1000));
    return 0;
}

static int h_config(tomo_console_ctx *ctx)
{
    json_t *cfg = tomo_config_dump_json(ctx->con->d.cfg, 1);
    char *text = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
    json_t *warnings = json_array();
    const char *defaults[16];
    size_t nd = tomo_config_default_secrets(ctx->con->d.cfg, defaults, 16);
    for (size_t i = 0; i < nd; i++)
        json_array_append_new(warnings,
                              json_pack("{s:s,s:s}", "field", defaults[i], "message",
                                        "Insecure default parameter value, change this for "
                                        "production!"));
    ctx->out = json_pack("{s:s,s:o,s:s}", "config", text, "warnings", warnings, "server_version",
                         TOMO_VERSION);
    free(text);
    return 0;
}

static int h_runtime(tomo_console_ctx *ctx)
{
    if (!ctx->con->d.runtime) {
        ctx->out = json_pack("{s:[],s:[],s:[],s:[],s:[],s:[]}", "lua_rpc_functions",
                             "go_rpc_functions", "js_rpc_functions", "go_modules", "lua_modules",
                             "js_modules");
        return 0;
    }
    ctx->out = tomo_runtime_info(ctx->con->d.runtime);
    return 0;
}

/* The API explorer's built-in methods: every gRPC method of the API but
 * Healthcheck and RpcFunc (RPCs have their own call). */
static int explorer_method(const tomo_api_route *r, const char **name)
{
    static const char prefix[] = "/nakama.api.Nakama/";
    if (!r->grpc_method || strncmp(r->grpc_method, prefix, sizeof(prefix) - 1))
        return 0;
    *name = r->grpc_method + sizeof(prefix) - 1;
    return strcmp(*name, "Healthcheck") && strcmp(*name, "RpcFunc");
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A request body template for the explorer: each field of the message
 * with an empty value of its type ("<string>", 0, false, {} or [...]). */
static json_t *body_template(const ProtobufCMessageDescriptor *d)
{
    json_t *o = json_object();
    for (unsigned i = 0; d && i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        json_t *v;
        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING: v = json_string("<string>"); break;
        case PROTOBUF_C_TYPE_BOOL: v = json_false(); break;
        case PROTOBUF_C_TYPE_MESSAGE: v = json_object(); break;
        case PROTOBUF_C_TYPE_BYTES: v = json_string(""); break;
        default: v = json_integer(0); break;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED)
            v = json_pack("[o]", v);
        json_object_set_new(o, f->name, v);
    }
    return o;
}

/* The gRPC status code's name, as Go renders a status error. */
static const char *code_name(int code)
{
    static const char *const names[] = {
        "OK",       "Canceled",          "Unknown",          "InvalidArgument",   "DeadlineExceeded",
        "NotFound", "AlreadyExists",     "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
        "Aborted",  "OutOfRange",        "Unimplemented",    "Internal",          "Unavailable",
        "DataLoss", "Unauthenticated"};
    return code >= 0 && code < (int)TOMO_ARRAY_LEN(names) ? names[code] : "Unknown";
}

static int h_api_endpoints(tomo_console_ctx *ctx)
{
    json_t *rpcs = json_array(), *id;
    if (ctx->con->d.runtime) {
        json_t *info = tomo_runtime_info(ctx->con->d.runtime);
        size_t i;
        json_array_foreach(json_object_get(info, "lua_rpc_functions"), i, id)
            json_array_append_new(rpcs, json_pack("{s:O,s:s}", "method", id, "body_template", ""));
        json_decref(info);
    }
    /* the built-in methods, sorted, each once, with a body template */
    size_t n = 0;
    const tomo_api_route *routes = ctx->con->d.api ? tomo_api_routes(&n) : NULL;
    const char **names = tomo_xcalloc(n ? n : 1, sizeof(*names));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name;
        int dup = 0;
        if (!explorer_method(&routes[i], &name))
            continue;
        for (size_t j = 0; j < k && !dup; j++)
            dup = !strcmp(names[j], name);
        if (!dup)
            names[k++] = name;
    }
    qsort(names, k, sizeof(*names), name_cmp);
    json_t *eps = json_array();
    for (size_t i = 0; i < k; i++) {
        const ProtobufCMessageDescriptor *in = NULL, *out = NULL;
        json_t *tpl = NULL;
        if (tomo_codec_api_method(names[i], &in, &out) == 0 && in &&
            strcmp(in->name, "google.protobuf.Empty") != 0)
            tpl = body_template(in);
        char *txt = tpl ? json_dumps(tpl, JSON_COMPACT) : NULL;
        json_decref(tpl);
        json_array_append_new(eps, json_pack("{s:s,s:s}", "method", names[i], "body_template",
                                             txt ? txt : ""));
        free(txt);
    }
    free(names);
    ctx->out = json_pack("{s:o,s:o}", "endpoints", eps, "rpc_endpoints", rpcs);
    return 0;
}

/* A handler's after-work (pushes to live sockets) runs on the loop. */
typedef struct after_job {
    void (*fn)(tomo_server *srv, void *arg);
    tomo_server *srv;
    void *arg;
} after_job;

static void run_after(void *a)
{
    after_job *j = a;
    j->fn(j->srv, j->arg);
    free(j);
}

/* CallApiEndpoint: a built-in API method with a request message (JSON text
 * in body) as user_id (Authenticate* methods need none), through the same
 * binding, hooks and handler as REST and gRPC; {body, error_message} with
 * the response as JSON text or the error as Go renders a gRPC status. */
static int h_call_api(tomo_console_ctx *ctx)
{
    const char *method = tomo_console_param(ctx, "method");
    const char *body = tomo_console_body_str(ctx, "body");
    const char *user_id = tomo_console_body_str(ctx, "user_id");
    size_t n;
    const tomo_api_route *routes = ctx->con->d.api ? tomo_api_routes(&n) : NULL;
    tomo_api_binding rows[8];
    size_t nrows = 0;
    for (size_t i = 0; routes && i < n && nrows < TOMO_ARRAY_LEN(rows); i++) {
        const char *name;
        if (explorer_method(&routes[i], &name) && !strcmp(name, method))
            tomo_api_binding_init(&rows[nrows++], &routes[i]);
    }
    int rc = -1;
    json_t *in = NULL;
    tomo_api_ctx api = {0};
    tomo_http_req req = {0};
    char *raw = NULL;
    if (!nrows) {
        tomo_console_error(ctx, TOMO_GRPC_UNKNOWN, "API method doesn't exist: %s", method);
        goto out;
    }
    if (!strcmp(rows[0].route->request, "google.protobuf.Empty")) {
        if (body && *body) {
            tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                               "Api method doesn't accept a request body.");
            goto out;
        }
        in = json_object();
    } else {
        in = json_loads(body && *body ? body : "{}", JSON_DECODE_ANY, NULL);
        if (!json_is_object(in)) {
            tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                               "Error parsing method request body.");
            goto out;
        }
    }
    if (strncmp(method, "Authenticate", 12) != 0) {
        if (!user_id || !*user_id) {
            tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                               "Built-in RPC functions require a user_id.");
            goto out;
        }
        if (!tomo_uuid_valid(user_id)) {
            tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid user uuid.");
            goto out;
        }
        tomo_dbconn *db;
        if (tomo_console_db(ctx, &db) < 0)
            goto out;
        tomo_dbval p[1] = {TOMO_DBTEXT(user_id)};
        tomo_dbres *r = NULL;
        if (tomo_db_exec(db, "SELECT username FROM users WHERE id = $1", p, 1, &r) < 0) {
            tomo_console_error(ctx, TOMO_GRPC_INTERNAL, "Error looking up user account.");
            goto out;
        }
        if (!tomo_dbres_rows(r)) {
            tomo_dbres_free(r);
            tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "User id not found.");
            goto out;
        }
        api.authenticated = 1;
        snprintf(api.session.user_id, sizeof(api.session.user_id), "%s", user_id);
        snprintf(api.session.username, sizeof(api.session.username), "%s",
                 tomo_dbres_text(r, 0, 0));
        api.session.exp = tomo_now_sec() + ctx->con->d.cfg->session.token_expiry_sec;
        tomo_dbres_free(r);
    }
    tomo_console_audit(ctx, "api/%s/%s", method, user_id && *user_id ? user_id : "-");
    const tomo_api_binding *row = tomo_api_binding_pick(rows, nrows, in);
    api.srv = ctx->con->d.api;
    api.tree_out = 1; /* the response is rendered from api.out below */
    api.http = &req;
    req.method = row->route->method;
    req.path = (char *)row->route->path;
    snprintf(api.client_ip, sizeof(api.client_ip), "%s", ctx->client_ip);
    tomo_api_bind_message(&api, row, in, &raw);
    tomo_api_call(&api);
    if (api.after_fn) {
        after_job *aj = tomo_xmalloc(sizeof(*aj));
        *aj = (after_job){api.after_fn, api.srv, api.after_arg};
        tomo_loop_post(ctx->con->d.loop, run_after, aj);
        api.after_fn = NULL;
    }
    if (api.err_msg) {
        char *msg = tomo_xasprintf("rpc error: code = %s desc = %s", code_name(api.grpc_code),
                                   api.err_msg);
        ctx->out = json_pack("{s:s,s:s}", "body", "", "error_message", msg);
        free(msg);
    } else {
        char *txt = api.out ? json_dumps(api.out, JSON_COMPACT) : tomo_xstrdup("{}");
        ctx->out = json_pack("{s:s,s:s}", "body", txt ? txt : "{}", "error_message", "");
        free(txt);
    }
    rc = 0;
out:
    api.raw_body = NULL;
    tomo_api_ctx_clear(&api);
    free(raw);
    json_decref(in);
    for (size_t i = 0; i < nrows; i++)
        tomo_api_binding_clear(&rows[i]);
    return rc;
}

/* The API explorer: call an RPC as a user (user_id) or as the server. */
static int h_call_rpc(tomo_console_ctx *ctx)
{
    const char *method = tomo_console_param(ctx, "method");
    const char *body = tomo_console_body_str(ctx, "body");
    const char *user_id = tomo_console_body_str(ctx, "user_id");
    if (!ctx->con->d.runtime)
        return tomo_console_error(ctx, TOMO_GRPC_NOT_FOUND, "RPC function not found");
    tomo_runtime_call call = {.mode = TOMO_RUNTIME_MODE_RPC};
    if (user_id && *user_id)
        call.user_id = user_id;
    char *out = NULL;
    size_t out_len = 0;
    tomo_err err;
    tomo_console_audit(ctx, "rpc/%s/%s", method, user_id && *user_id ? user_id : "server");
    if (tomo_runtime_rpc(ctx->con->d.runtime, &call, method, body ? body : "",
                         body ? strlen(body) : 0, &out, &out_len, &err) < 0) {
        ctx->out = json_pack("{s:s,s:s}", "body", "", "error_message", err.msg);
        return 0;
    }
    json_t *b = json_stringn(out ? out : "", out ? out_len : 0);
    free(out);
    ctx->out = json_pack("{s:o,s:s}", "body", b ? b : json_string(""), "error_message", "");
    return 0;
}

/* ---- accounts ---- */

static int h_accounts_list(tomo_console_ctx *ctx)
{
    int limit = 0;
    if (query_int(ctx, "limit", 100, 1, 100, &limit) < 0)
        return -1;
    WITH_DB(ctx, db);
    const char *filter = tomo_console_query(ctx, "filter");
    if (tomo_svc_admin_accounts_list(ctx->con->d.svc, db, SYS, filter ? filter : "",
                                     tomo_console_query(ctx, "cursor"), limit, &ctx->out,
                                     &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_account_get(tomo_console_ctx *ctx)
{
    WITH_DB(ctx, db);
    json_t *a = NULL;
    if (tomo_svc_account_get(ctx->con->d.svc, db, SYS, tomo_console_param(ctx, "id"), &a, &err) <
        0)
        return svc_fail(ctx, &err);
    ctx->out = json_pack("{s:o}", "account", a);
    json_t *dt = json_object_get(a, "disable_time");
    json_object_set(ctx->out, "disable_time", dt ? dt : json_null());
    return 0;
}

static int h_account_update(tomo_console_ctx *ctx)
{
    static const char *const known[] = {"id", "username", "display_name", "avatar_url",
                                        "lang_tag", "location", "timezone", "metadata",
                                        "custom_id", "email", NULL};
    const char *k;
    json_t *v;
    json_object_foreach(ctx->body, k, v)
    {
        size_t i = 0;
        while (known[i] && strcmp(known[i], k))
            i++;
        if (!known[i])
            return tomo_console_error(ctx, TOMO_GRPC_UNIMPLEMENTED,
                                      "Updating %s is not implemented in tomo yet.", k);
        if (!json_is_string(v) && !json_is_null(v))
            return tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "%s must be a string.", k);
    }
    const char *id = tomo_console_param(ctx, "id");
    tomo_account_update u = {
        .username = tomo_console_body_str(ctx, "username"),
        .display_name = tomo_console_body_str(ctx, "display_name"),
        .avatar_url = tomo_console_body_str(ctx, "avatar_url"),
        .lang_tag = tomo_console_body_str(ctx, "lang_tag"),
        .location = tomo_console_body_str(ctx, "location"),
        .timezone = tomo_console_body_str(ctx, "timezone"),
        .metadata = tomo_console_body_str(ctx, "metadata"),
        .custom_id = tomo_console_body_str(ctx, "custom_id"),
        .email = tomo_console_body_str(ctx, "email"),
    };
    tomo_console_audit(ctx, "account/%s", id);
    WITH_DB(ctx, db);
    if (tomo_svc_account_update(ctx->con->d.svc, db, SYS, id, &u, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_account_delete(tomo_console_ctx *ctx)
{
    const char *id = tomo_console_param(ctx, "id");
    tomo_console_audit(ctx, "account/%s", id);
    WITH_DB(ctx, db);
    if (tomo_svc_account_delete(ctx->con->d.svc, db, SYS, id, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_ban(tomo_console_ctx *ctx)
{
    const char *id = tomo_console_param(ctx, "id");
    tomo_console_audit(ctx, "account/%s", id);
    WITH_DB(ctx, db);
    if (tomo_svc_account_ban(ctx->con->d.svc, db, SYS, id, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_unban(tomo_console_ctx *ctx)
{
    const char *id = tomo_console_param(ctx, "id");
    tomo_console_audit(ctx, "account/%s", id);
    WITH_DB(ctx, db);
    if (tomo_svc_account_unban(ctx->con->d.svc, db, SYS, id, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int unlink_kind(tomo_console_ctx *ctx, int kind, const char *field)
{
    const char *id = tomo_console_param(ctx, "id");
    const char *value = field ? tomo_console_body_str(ctx, field) : NULL;
    tomo_console_audit(ctx, "account/%s", id);
    WITH_DB(ctx, db);
    if (tomo_svc_account_unlink(ctx->con->d.svc, db, SYS, id, kind, value, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_unlink_device(tomo_console_ctx *ctx)
{
    return unlink_kind(ctx, TOMO_UNLINK_DEVICE, "device_id");
}
static int h_unlink_custom(tomo_console_ctx *ctx) { return unlink_kind(ctx, TOMO_UNLINK_CUSTOM, NULL); }
static int h_unlink_email(tomo_console_ctx *ctx) { return unlink_kind(ctx, TOMO_UNLINK_EMAIL, NULL); }
static int h_unlink_apple(tomo_console_ctx *ctx) { return unlink_kind(ctx, TOMO_UNLINK_APPLE, NULL); }
static int h_unlink_facebook(tomo_console_ctx *ctx)
{
    return unlink_kind(ctx, TOMO_UNLINK_FACEBOOK, NULL);
}
static int h_unlink_fbig(tomo_console_ctx *ctx)
{
    return unlink_kind(ctx, TOMO_UNLINK_FACEBOOK_INSTANT_GAME, NULL);
}
static int h_unlink_gamecenter(tomo_console_ctx *ctx)
{
    return unlink_kind(ctx, TOMO_UNLINK_GAMECENTER, NULL);
}
static int h_unlink_google(tomo_console_ctx *ctx) { return unlink_kind(ctx, TOMO_UNLINK_GOOGLE, NULL); }
static int h_unlink_steam(tomo_console_ctx *ctx) { return unlink_kind(ctx, TOMO_UNLINK_STEAM, NULL); }

static int h_export(tomo_console_ctx *ctx)
{
    WITH_DB(ctx, db);
    if (tomo_svc_admin_account_export(ctx->con->d.svc, db, SYS, tomo_console_param(ctx, "id"),
                                      &ctx->out, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_friends(tomo_console_ctx *ctx)
{
    WITH_DB(ctx, db);
    if (tomo_svc_friend_list(ctx->con->d.svc, db, SYS, tomo_console_param(ctx, "id"),
                             TOMO_FRIEND_LIST_MAX, -1, NULL, &ctx->out, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_friend_delete(tomo_console_ctx *ctx)
{
    const char *id = tomo_console_param(ctx, "id"), *fid = tomo_console_param(ctx, "friend_id");
    tomo_console_audit(ctx, "account/%s/friend/%s", id, fid);
    WITH_DB(ctx, db);
    tomo_svc_friend_targets t = {.ids = &fid, .n_ids = 1};
    if (tomo_svc_friend_delete(ctx->con->d.svc, db, SYS, id, NULL, &t, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_groups(tomo_console_ctx *ctx)
{
    WITH_DB(ctx, db);
    if (tomo_svc_group_user_groups(ctx->con->d.svc, db, SYS, tomo_console_param(ctx, "id"), 100,
                                   -1, tomo_console_query(ctx, "cursor"), &ctx->out, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_group_user_delete(tomo_console_ctx *ctx)
{
    const char *id = tomo_console_param(ctx, "id"), *gid = tomo_console_param(ctx, "group_id");
    tomo_console_audit(ctx, "account/%s/group/%s", id, gid);
    WITH_DB(ctx, db);
    if (tomo_svc_group_users_change(ctx->con->d.svc, db, SYS, TOMO_GROUP_OP_KICK, gid, &id, 1,
                                    &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_wallet(tomo_console_ctx *ctx)
{
    int limit = 0;
    if (query_int(ctx, "limit", 100, 1, 100, &limit) < 0)
        return -1;
    WITH_DB(ctx, db);
    json_t *items = NULL;
    char *next = NULL;
    if (tomo_svc_wallet_ledger_list(ctx->con->d.svc, db, SYS, tomo_console_param(ctx, "account_id"),
                                    limit, tomo_console_query(ctx, "cursor"), &items, &next,
                                    &err) < 0)
        return svc_fail(ctx, &err);
    /* the console's WalletLedger carries changeset and metadata as JSON text */
    json_t *it;
    size_t i;
    json_array_foreach(items, i, it)
    {
        static const char *const f[] = {"changeset", "metadata"};
        for (size_t k = 0; k < 2; k++) {
            json_t *v = json_object_get(it, f[k]);
            if (v && !json_is_string(v)) {
                char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                json_object_set_new(it, f[k], json_string(txt ? txt : "{}"));
                free(txt);
            }
        }
    }
    ctx->out = json_pack("{s:o,s:s,s:s}", "items", items ? items : json_array(), "next_cursor",
                         next ? next : "", "prev_cursor", "");
    free(next);
    return 0;
}

static int h_wallet_delete(tomo_console_ctx *ctx)
{
    const char *id = tomo_console_param(ctx, "id"), *wid = tomo_console_param(ctx, "wallet_id");
    tomo_console_audit(ctx, "account/%s/wallet/%s", id, wid);
    WITH_DB(ctx, db);
    if (tomo_svc_wallet_ledger_delete(ctx->con->d.svc, db, SYS, id, wid, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_delete_all(tomo_console_ctx *ctx)
{
    tomo_console_audit(ctx, "all");
    WITH_DB(ctx, db);
    if (tomo_svc_admin_delete_all(ctx->con->d.svc, db, SYS, &err) < 0)
        return svc_fail(ctx, &err);
    TOMO_LOGI(TOMO_CONSOLE, "console deleted all data");
    return 0;
}

static int h_accounts_delete_all(tomo_console_ctx *ctx)
{
    tomo_console_audit(ctx, "account/*");
    int64_t n = 0;
    WITH_DB(ctx, db);
    int rc = tomo_svc_admin_accounts_delete_all(ctx->con->d.svc, db, SYS, &n, &err);
    TOMO_LOGI(TOMO_CONSOLE, "console deleted %lld accounts", (long long)n);
    return rc < 0 ? svc_fail(ctx, &err) : 0;
}

/* tomo validates no purchases or subscriptions (IAP answers that no store
 * is configured), so these lists are always empty. */
static int h_purchases(tomo_console_ctx *ctx)
{
    ctx->out = json_pack("{s:[]}", "validated_purchases");
    return 0;
}

static int h_subscriptions(tomo_console_ctx *ctx)
{
    ctx->out = json_pack("{s:[]}", "validated_subscriptions");
    return 0;
}

/* ---- channel messages ---- */

/* ListChannelMessages: type (2 room, 3 group, 4 direct; a number or the
 * enum name) and the channel's target; 50 newest first, with cursors. */
static int h_channel_messages(tomo_console_ctx *ctx)
{
    const char *type = tomo_console_query(ctx, "type");
    int mode = !type ? 0 : !strcmp(type, "ROOM") ? 2 : !strcmp(type, "GROUP") ? 3
                         : !strcmp(type, "DIRECT") ? 4 : atoi(type);
    tomo_chat_channel c;
    char cid[TOMO_CHAT_ID_MAX];
    const char *label = tomo_console_query(ctx, "label");
    const char *gid = tomo_console_query(ctx, "group_id");
    const char *u1 = tomo_console_query(ctx, "user_id_one");
    const char *u2 = tomo_console_query(ctx, "user_id_two");
    switch (mode) {
    case TOMO_CHAT_ROOM:
        if (!label || !*label || strlen(label) > 64 || tomo_chat_room_init(&c, label))
            return tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid label size.");
        break;
    case TOMO_CHAT_GROUP:
        if (!gid || !tomo_uuid_valid(gid))
            return tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid group ID format.");
        snprintf(cid, sizeof(cid), "3.%s..", gid);
        if (tomo_chat_id_parse(cid, &c) < 0)
            return tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid group ID format.");
        break;
    case TOMO_CHAT_DM:
        if (!u1 || !u2 || !tomo_uuid_valid(u1) || !tomo_uuid_valid(u2))
            return tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid user ID format.");
        tomo_chat_dm_init(&c, u1, u2);
        break;
    default:
        return tomo_console_error(ctx, TOMO_GRPC_INTERNAL, "Invalid chat type.");
    }
    tomo_chat_id_format(&c, cid);
    WITH_DB(ctx, db);
    (void)err;
    int rc = tomo_chat_history_list(db, &c, cid, 50, 0, tomo_console_query(ctx, "cursor"),
                                    &ctx->out);
    if (rc == TOMO_EINVAL)
        return tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Cursor is invalid or expired.");
    if (rc < 0)
        return tomo_console_error(ctx, TOMO_GRPC_INTERNAL, "Error listing messages from channel.");
    return 0;
}

/* RFC 3339 UTC ("2024-01-02T03:04:05Z", fraction allowed) to unix ms; -1
 * when it does not parse. */
static int64_t rfc3339_ms(const char *s)
{
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return -1;
    double frac = 0;
    if (*rest == '.') {
        char *end;
        frac = strtod(rest, &end);
        rest = end;
    }
    if (strcmp(rest, "Z") != 0)
        return -1;
    return (int64_t)timegm(&tm) * 1000 + (int64_t)(frac * 1000);
}

/* DeleteChannelMessages: ?before=<RFC 3339> and/or ?ids=<id>&ids=...;
 * {total} deleted. */
static int h_channel_messages_delete(tomo_console_ctx *ctx)
{
    const char *before = tomo_console_query(ctx, "before");
    int64_t before_ms = 0;
    if (before && *before && (before_ms = rfc3339_ms(before)) < 0)
        return tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                  "before must be an RFC 3339 time.");
    json_t *idv = json_object_get(ctx->query, "ids");
    size_t n = json_array_size(idv);
    const char **ids = tomo_xcalloc(n ? n : 1, sizeof(*ids));
    for (size_t i = 0; i < n; i++) {
        ids[i] = json_string_value(json_array_get(idv, i));
        if (!ids[i] || !tomo_uuid_valid(ids[i])) {
            free(ids);
            return tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                      "Requires a valid message ID.");
        }
    }
    tomo_console_audit(ctx, "message/before=%s/ids=%zu", before ? before : "", n);
    tomo_dbconn *db;
    if (tomo_console_db(ctx, &db) < 0) {
        free(ids);
        return -1;
    }
    int64_t total = 0;
    int rc = tomo_chat_messages_purge(db, before_ms, ids, n, &total);
    free(ids);
    if (rc < 0)
        return tomo_console_error(ctx, TOMO_GRPC_INTERNAL,
                                  "An error occurred while trying to delete messages.");
    char t[24];
    snprintf(t, sizeof(t), "%lld", (long long)total); /* int64: a string in JSON */
    ctx->out = json_pack("{s:s}", "total", t);
    return 0;
}

/* ---- groups ---- */

static int h_groups_list(tomo_console_ctx *ctx)
{
    WITH_DB(ctx, db);
    const char *filter = tomo_console_query(ctx, "filter");
    tomo_svc_group_filter f = {.name = filter && *filter ? filter : NULL, .members = -1,
                               .open = -1};
    if (tomo_svc_group_list(ctx->con->d.svc, db, SYS, &f, 100, tomo_console_query(ctx, "cursor"),
                            &ctx->out, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_group_get(tomo_console_ctx *ctx)
{
    WITH_DB(ctx, db);
    const char *id = tomo_console_param(ctx, "id");
    json_t *list = NULL;
    if (tomo_svc_group_get(db, &id, 1, &list, &err) < 0)
        return svc_fail(ctx, &err);
    json_t *g = json_array_get(list, 0);
    if (!g) {
        json_decref(list);
        return tomo_console_error(ctx, TOMO_GRPC_NOT_FOUND, "Group not found.");
    }
    ctx->out = json_incref(g);
    json_decref(list);
    return 0;
}

static int h_group_members(tomo_console_ctx *ctx)
{
    WITH_DB(ctx, db);
    if (tomo_svc_group_users_list(ctx->con->d.svc, db, SYS, tomo_console_param(ctx, "id"), 100, -1,
                                  tomo_console_query(ctx, "cursor"), &ctx->out, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_group_delete(tomo_console_ctx *ctx)
{
    const char *id = tomo_console_param(ctx, "id");
    tomo_console_audit(ctx, "group/%s", id);
    WITH_DB(ctx, db);
    if (tomo_svc_group_delete(ctx->con->d.svc, db, SYS, id, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int valid_group_id(tomo_console_ctx *ctx, const char *id)
{
    if (id && tomo_uuid_valid(id))
        return 0;
    return tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Requires a valid group ID.");
}

/* UpdateGroup: wrapper fields (absent = unchanged). */
static int h_group_update(tomo_console_ctx *ctx)
{
    const char *id = tomo_console_param(ctx, "id");
    if (valid_group_id(ctx, id) < 0)
        return -1;
    json_t *open = json_object_get(ctx->body, "open");
    json_t *max = json_object_get(ctx->body, "max_count");
    if ((open && !json_is_boolean(open)) || (max && !json_is_integer(max)))
        return tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                  "open must be a boolean and max_count an integer.");
    tomo_svc_group_change c = {
        .name = tomo_console_body_str(ctx, "name"),
        .description = tomo_console_body_str(ctx, "description"),
        .lang_tag = tomo_console_body_str(ctx, "lang_tag"),
        .avatar_url = tomo_console_body_str(ctx, "avatar_url"),
        .metadata = tomo_console_body_str(ctx, "metadata"),
        .open = open ? json_is_true(open) : -1,
        .max_count = max ? (int)json_integer_value(max) : 0,
    };
    tomo_console_audit(ctx, "group/%s", id);
    WITH_DB(ctx, db);
    if (tomo_svc_group_update(ctx->con->d.svc, db, SYS, id, &c, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

/* ExportGroup: the group and every member (all pages). */
static int h_group_export(tomo_console_ctx *ctx)
{
    const char *id = tomo_console_param(ctx, "id");
    if (valid_group_id(ctx, id) < 0)
        return -1;
    if (h_group_get(ctx) < 0)
        return -1;
    json_t *group = ctx->out;
    ctx->out = NULL;
    json_t *members = json_array();
    char *cursor = NULL;
    tomo_err err;
    for (;;) {
        json_t *page = NULL;
        if (tomo_svc_group_users_list(ctx->con->d.svc, ctx->db, SYS, id, 100, -1, cursor, &page,
                                      &err) < 0) {
            free(cursor);
            json_decref(group);
            json_decref(members);
            return svc_fail(ctx, &err);
        }
        json_array_extend(members, json_object_get(page, "group_users"));
        const char *next = json_string_value(json_object_get(page, "cursor"));
        free(cursor);
        cursor = next && *next ? tomo_xstrdup(next) : NULL;
        json_decref(page);
        if (!cursor)
            break;
    }
    ctx->out = json_pack("{s:o,s:o}", "group", group, "members", members);
    return 0;
}

/* AddGroupUsers: ids is a comma-separated list; join_request makes each a
 * join (a request for a closed group) instead of an admin's add. */
static int h_group_add_users(tomo_console_ctx *ctx)
{
    const char *gid = tomo_console_param(ctx, "group_id");
    if (valid_group_id(ctx, gid) < 0)
        return -1;
    const char *ids = tomo_console_body_str(ctx, "ids");
    int join = json_is_true(json_object_get(ctx->body, "join_request"));
    tomo_console_audit(ctx, "group/%s/add/%s", gid, ids ? ids : "");
    char *copy = tomo_xstrdup(ids ? ids : ""), *save = NULL;
    const char *list[100];
    size_t n = 0;
    for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (!tomo_uuid_valid(t) || n == TOMO_ARRAY_LEN(list)) {
            free(copy);
            return tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                      n == TOMO_ARRAY_LEN(list) ? "At most 100 users at a time."
                                                                : "Requires valid user IDs.");
        }
        list[n++] = t;
    }
    if (!n) {
        free(copy);
        return tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Requires valid user IDs.");
    }
    tomo_dbconn *db;
    if (tomo_console_db(ctx, &db) < 0) {
        free(copy);
        return -1;
    }
    tomo_err err;
    int rc = 0;
    if (join) {
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = tomo_svc_group_join(ctx->con->d.svc, db, SYS, gid, list[i], NULL, &err);
    } else {
        rc = tomo_svc_group_users_change(ctx->con->d.svc, db, SYS, TOMO_GROUP_OP_ADD, gid, list, n,
                                         &err);
    }
    free(copy);
    return rc < 0 ? svc_fail(ctx, &err) : 0;
}

static int group_member_op(tomo_console_ctx *ctx, int op)
{
    const char *gid = tomo_console_param(ctx, "group_id"), *uid = tomo_console_param(ctx, "id");
    if (!uid || !tomo_uuid_valid(uid))
        return tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Requires a valid user ID.");
    if (valid_group_id(ctx, gid) < 0)
        return -1;
    tomo_console_audit(ctx, "group/%s/account/%s", gid, uid);
    WITH_DB(ctx, db);
    if (tomo_svc_group_users_change(ctx->con->d.svc, db, SYS, op, gid, &uid, 1, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_group_promote(tomo_console_ctx *ctx)
{
    return group_member_op(ctx, TOMO_GROUP_OP_PROMOTE);
}

static int h_group_demote(tomo_console_ctx *ctx)
{
    return group_member_op(ctx, TOMO_GROUP_OP_DEMOTE);
}

/* ---- storage ---- */

static int h_storage_delete_all(tomo_console_ctx *ctx)
{
    tomo_console_audit(ctx, "storage/*");
    WITH_DB(ctx, db);
    if (tomo_svc_admin_storage_delete_all(ctx->con->d.svc, db, SYS, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_storage_list(tomo_console_ctx *ctx)
{
    int limit = 0;
    if (query_int(ctx, "limit", 100, 1, 1000, &limit) < 0)
        return -1;
    WITH_DB(ctx, db);
    if (tomo_svc_storage_search(ctx->con->d.svc, db, SYS, tomo_console_query(ctx, "collection"),
                                tomo_console_query(ctx, "key"), tomo_console_query(ctx, "user_id"),
                                limit, tomo_console_query(ctx, "cursor"), &ctx->out, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_storage_collections(tomo_console_ctx *ctx)
{
    WITH_DB(ctx, db);
    if (tomo_svc_storage_collections(ctx->con->d.svc, db, SYS, &ctx->out, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_storage_get(tomo_console_ctx *ctx)
{
    WITH_DB(ctx, db);
    tomo_storage_id id = {tomo_console_param(ctx, "collection"), tomo_console_param(ctx, "key"),
                          tomo_console_param(ctx, "user_id"), NULL};
    json_t *objs = NULL;
    if (tomo_svc_storage_read(ctx->con->d.svc, db, SYS, &id, 1, &objs, &err) < 0)
        return svc_fail(ctx, &err);
    json_t *o = json_array_get(json_object_get(objs, "objects"), 0);
    if (!o) {
        json_decref(objs);
        return tomo_console_error(ctx, TOMO_GRPC_NOT_FOUND, "Storage not found.");
    }
    ctx->out = json_incref(o);
    json_decref(objs);
    return 0;
}

/* permission_read / permission_write: absent = def; else 0..max. */
static int perm(tomo_console_ctx *ctx, const char *field, int def, int max, int64_t *out)
{
    json_t *v = json_object_get(ctx->body, field);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
        return tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid %s value.", field);
    *out = json_integer_value(v);
    return 0;
}

static int h_storage_write(tomo_console_ctx *ctx)
{
    tomo_storage_write_op op = {
        .collection = tomo_console_param(ctx, "collection"),
        .key = tomo_console_param(ctx, "key"),
        .user_id = tomo_console_param(ctx, "user_id"),
        .value = tomo_console_body_str(ctx, "value"),
        .version = tomo_console_body_str(ctx, "version"),
    };
    if (!op.value)
        return tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Value must be a JSON object.");
    if (perm(ctx, "permission_read", 1, 2, &op.permission_read) < 0 ||
        perm(ctx, "permission_write", 1, 1, &op.permission_write) < 0)
        return -1;
    tomo_console_audit(ctx, "storage/%s/%s/%s", op.collection, op.key, op.user_id);
    WITH_DB(ctx, db);
    json_t *acks = NULL;
    if (tomo_svc_storage_write(ctx->con->d.svc, db, SYS, &op, 1, &acks, &err) < 0)
        return svc_fail(ctx, &err);
    json_t *a = json_array_get(json_object_get(acks, "acks"), 0);
    ctx->out = a ? json_incref(a) : json_object();
    json_decref(acks);
    return 0;
}

static int h_storage_delete(tomo_console_ctx *ctx)
{
    tomo_storage_id id = {tomo_console_param(ctx, "collection"), tomo_console_param(ctx, "key"),
                          tomo_console_param(ctx, "user_id"), tomo_console_param(ctx, "version")};
    if (!id.version)
        id.version = tomo_console_query(ctx, "version");
    tomo_console_audit(ctx, "storage/%s/%s/%s", id.collection, id.key, id.user_id);
    WITH_DB(ctx, db);
    if (tomo_svc_storage_delete(ctx->con->d.svc, db, SYS, &id, 1, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

/* ---- matches ---- */

static int h_matches(tomo_console_ctx *ctx)
{
    int limit = 0;
    if (query_int(ctx, "limit", 100, 1, 1000, &limit) < 0)
        return -1;
    json_t *list = json_array(), *m;
    tomo_match_query q = {.limit = limit, .authoritative = -1, .min_size = -1, .max_size = -1};
    if (ctx->con->d.rt && tomo_rt_match_list_all(ctx->con->d.rt, &q, list) < 0) {
        json_decref(list);
        return tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid match query.");
    }
    json_t *out = json_array();
    size_t i;
    json_array_foreach(list, i, m)
    {
        /* the console gateway shows zero values too */
        json_object_set_new(m, "authoritative", json_boolean(json_is_true(
                                                    json_object_get(m, "authoritative"))));
        json_array_append_new(out, json_pack("{s:O,s:s}", "api_match", m, "node",
                                             ctx->con->d.cfg->name));
    }
    json_decref(list);
    ctx->out = json_pack("{s:o}", "matches", out);
    return 0;
}

/* GetMatchState: a relayed match ("<uuid>." ) has no state; an
 * authoritative one answers its presences, tick and the handler's
 * rendering of its state (Nakama's messages). */
static int h_match_state(tomo_console_ctx *ctx)
{
    const char *id = tomo_console_param(ctx, "id");
    const char *dot = id ? strchr(id, '.') : NULL;
    char uuid[37] = "";
    if (dot && dot - id == 36)
        snprintf(uuid, sizeof(uuid), "%.36s", id);
    if (!tomo_uuid_valid(uuid))
        return tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid match ID.");
    if (!dot[1]) {
        ctx->out = json_pack("{s:s}", "state", "");
        return 0;
    }
    char *txt = NULL;
    int rc = ctx->con->d.rt ? tomo_rt_amatch_state(ctx->con->d.rt, id, &txt) : TOMO_ENOTFOUND;
    if (rc == TOMO_ENOTFOUND)
        return tomo_console_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                  "Match not found, or match handler already stopped.");
    if (rc < 0)
        return tomo_console_error(ctx, TOMO_GRPC_INTERNAL, "Error listing matches.");
    ctx->out = json_loads(txt, 0, NULL);
    free(txt);
    return ctx->out ? 0 : tomo_console_error(ctx, TOMO_GRPC_INTERNAL, "Error listing matches.");
}

/* ---- leaderboards ---- */

static json_t *board_json(const tomo_lb_board *b)
{
    json_t *o = json_object();
    int64_t now = tomo_now_sec();
    json_object_set_new(o, "id", json_string(b->id));
    json_object_set_new(o, "title", json_string(b->title));
    json_object_set_new(o, "description", json_string(b->description));
    json_object_set_new(o, "category", json_integer(b->category));
    json_object_set_new(o, "sort_order", json_integer(b->sort_order));
    json_object_set_new(o, "max_size", json_integer(b->max_size));
    json_object_set_new(o, "max_num_score", json_integer(b->max_num_score));
    json_object_set_new(o, "operator", json_integer(b->op));
    json_object_set_new(o, "reset_schedule", json_string(b->reset_schedule));
    json_object_set_new(o, "metadata", json_string(b->metadata ? b->metadata : "{}"));
    tomo_json_set_time(o, "create_time", b->create_time);
    tomo_json_set_time(o, "start_time", b->start_time * 1000);
    tomo_json_set_time(o, "end_time", b->end_time * 1000);
    json_object_set_new(o, "duration", json_integer(b->duration));
    json_object_set_new(o, "join_required", json_boolean(b->join_required));
    json_object_set_new(o, "authoritative", json_boolean(b->authoritative));
    json_object_set_new(o, "tournament", json_boolean(tomo_lb_board_is_tournament(b)));
    json_object_set_new(o, "prev_reset", json_integer(tomo_lb_board_prev_reset(b, now)));
    json_object_set_new(o, "next_reset", json_integer(tomo_lb_board_expiry(b, now)));
    return o;
}

static int h_leaderboards(tomo_console_ctx *ctx)
{
    WITH_DB(ctx, db);
    (void)err;
    tomo_lb_board *boards = NULL;
    size_t n = 0;
    int rc = tomo_svc_leaderboard_all(ctx->con->d.svc, db, 1, &boards, &n);
    if (rc < 0) {
        tomo_err_db(&err, rc, "console: leaderboards");
        return svc_fail(ctx, &err);
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(list, board_json(&boards[i]));
        tomo_lb_board_clear(&boards[i]);
    }
    free(boards);
    ctx->out = json_pack("{s:o}", "leaderboards", list);
    return 0;
}

static int h_leaderboard_get(tomo_console_ctx *ctx)
{
    WITH_DB(ctx, db);
    tomo_lb_board b;
    int rc = tomo_svc_leaderboard_get(ctx->con->d.svc, db, tomo_console_param(ctx, "id"), &b);
    if (rc == TOMO_ENOTFOUND)
        return tomo_console_error(ctx, TOMO_GRPC_NOT_FOUND, "Leaderboard not found.");
    if (rc < 0) {
        tomo_err_db(&err, rc, "console: leaderboard");
        return svc_fail(ctx, &err);
    }
    ctx->out = board_json(&b);
    tomo_lb_board_clear(&b);
    return 0;
}

static int h_leaderboard_delete(tomo_console_ctx *ctx)
{
    const char *id = tomo_console_param(ctx, "id");
    tomo_console_audit(ctx, "leaderboard/%s", id);
    WITH_DB(ctx, db);
    if (tomo_svc_leaderboard_delete(ctx->con->d.svc, db, id, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_leaderboard_records(tomo_console_ctx *ctx)
{
    int limit = 0;
    if (query_int(ctx, "limit", 100, 1, 100, &limit) < 0)
        return -1;
    WITH_DB(ctx, db);
    const char *owner = tomo_console_query(ctx, "owner_ids");
    tomo_lb_list req = {.owner_ids = owner ? &owner : NULL, .n_owner = owner ? 1 : 0,
                        .limit = limit, .cursor = tomo_console_query(ctx, "cursor")};
    const char *expiry = tomo_console_query(ctx, "expiry");
    if (expiry && *expiry)
        req.expiry = strtoll(expiry, NULL, 10);
    tomo_lb_record_list l;
    if (tomo_svc_leaderboard_records_list(ctx->con->d.svc, db,
                                          tomo_console_param(ctx, "leaderboard_id"), &req, &l,
                                          &err) < 0)
        return svc_fail(ctx, &err);
    ctx->out = tomo_lb_record_list_json(&l);
    tomo_lb_record_list_clear(&l);
    return 0;
}

static int h_leaderboard_record_delete(tomo_console_ctx *ctx)
{
    const char *id = tomo_console_param(ctx, "id"), *owner = tomo_console_param(ctx, "owner_id");
    tomo_console_audit(ctx, "leaderboard/%s/owner/%s", id, owner);
    WITH_DB(ctx, db);
    if (tomo_svc_leaderboard_record_delete(ctx->con->d.svc, db, SYS, id, owner, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

/* ---- console users ---- */

/* A role as protojson sends an enum: its number or its name. */
static int body_role(const tomo_console_ctx *ctx)
{
    static const char *const names[] = {"USER_ROLE_UNKNOWN", "USER_ROLE_ADMIN",
                                        "USER_ROLE_DEVELOPER", "USER_ROLE_MAINTAINER",
                                        "USER_ROLE_READONLY"};
    json_t *v = json_object_get(ctx->body, "role");
    if (json_is_integer(v))
        return (int)json_integer_value(v);
    for (int i = 0; json_is_string(v) && i < (int)TOMO_ARRAY_LEN(names); i++)
        if (!strcmp(json_string_value(v), names[i]))
            return i;
    return 0;
}

static int h_user_add(tomo_console_ctx *ctx)
{
    const char *username = tomo_console_body_str(ctx, "username");
    tomo_console_audit(ctx, "user/%s", username ? username : "");
    WITH_DB(ctx, db);
    if (tomo_svc_console_user_add(ctx->con->d.svc, db, SYS, username,
                                  tomo_console_body_str(ctx, "email"),
                                  tomo_console_body_str(ctx, "password"), body_role(ctx),
                                  ctx->con->d.cfg->console.username, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_user_list(tomo_console_ctx *ctx)
{
    WITH_DB(ctx, db);
    if (tomo_svc_console_user_list(ctx->con->d.svc, db, SYS, &ctx->out, &err) < 0)
        return svc_fail(ctx, &err);
    return 0;
}

static int h_user_delete(tomo_console_ctx *ctx)
{
    const char *username = tomo_console_query(ctx, "username");
    tomo_console_audit(ctx, "user/%s", username ? username : "");
    char id[37];
    WITH_DB(ctx, db);
    if (tomo_svc_console_user_delete(ctx->con->d.svc, db, SYS, username, id, &err) < 0)
        return svc_fail(ctx, &err);
    tomo_console_revoke_user(ctx->con, id);
    return 0;
}

/* ---- the route table ---- */

#define G TOMO_HTTP_GET
#define P TOMO_HTTP_POST
#define U TOMO_HTTP_PUT
#define D TOMO_HTTP_DELETE
#define ADM TOMO_ROLE_ADMIN
#define DEV TOMO_ROLE_DEVELOPER
#define MNT TOMO_ROLE_MAINTAINER
#define RO TOMO_ROLE_READONLY
#define W TOMO_CROUTE_WORKER
#define L TOMO_CROUTE_LOOP
#define NA TOMO_CROUTE_NOAUTH
#define A "/v2/console/account/{id}"

static const tomo_console_route table[] = {
    {P, "/v2/console/authenticate", "Authenticate", 0, NA, tomo_console_login},
    {P, "/v2/console/authenticate/logout", "AuthenticateLogout", 0, NA, tomo_console_logout},
    /* console users kept in the database */
    {P, "/v2/console/user", "AddUser", ADM, W, h_user_add},
    {G, "/v2/console/user", "ListUsers", ADM, W, h_user_list},
    {D, "/v2/console/user", "DeleteUser", ADM, W, h_user_delete},
    /* status, config, runtime */
    {G, "/v2/console/status", "GetStatus", RO, L, h_status},
    {G, "/v2/console/config", "GetConfig", DEV, W, h_config},
    {G, "/v2/console/runtime", "GetRuntime", DEV, W, h_runtime},
    {P, "/v2/console/runtime/hotfix", "HotfixModule", MNT, W, NULL},
    {G, "/v2/console/api/endpoints", "ListApiEndpoints", DEV, W, h_api_endpoints},
    {P, "/v2/console/api/endpoints/rpc/{method}", "CallRpcEndpoint", DEV, W, h_call_rpc},
    {P, "/v2/console/api/endpoints/{method}", "CallApiEndpoint", DEV, W, h_call_api},
    {D, "/v2/console/all", "DeleteAllData", DEV, W, h_delete_all},
    /* accounts */
    {G, "/v2/console/account", "ListAccounts", RO, W, h_accounts_list},
    {D, "/v2/console/account", "DeleteAccounts", DEV, W, h_accounts_delete_all},
    {G, A, "GetAccount", RO, W, h_account_get},
    {P, A, "UpdateAccount", MNT, W, h_account_update},
    {D, A, "DeleteAccount", MNT, W, h_account_delete},
    {P, A "/ban", "BanAccount", MNT, W, h_ban},
    {P, A "/unban", "UnbanAccount", MNT, W, h_unban},
    {G, A "/export", "ExportAccount", MNT, W, h_export},
    {G, A "/friend", "GetFriends", RO, W, h_friends},
    {D, A "/friend/{friend_id}", "DeleteFriend", MNT, W, h_friend_delete},
    {G, A "/group", "GetGroups", RO, W, h_groups},
    {D, A "/group/{group_id}", "DeleteGroupUser", MNT, W, h_group_user_delete},
    {G, "/v2/console/account/{account_id}/wallet", "GetWalletLedger", RO, W, h_wallet},
    {D, A "/wallet/{wallet_id}", "DeleteWalletLedger", MNT, W, h_wallet_delete},
    {P, A "/unlink/device", "UnlinkDevice", MNT, W, h_unlink_device},
    {P, A "/unlink/custom", "UnlinkCustom", MNT, W, h_unlink_custom},
    {P, A "/unlink/email", "UnlinkEmail", MNT, W, h_unlink_email},
    {P, A "/unlink/apple", "UnlinkApple", MNT, W, h_unlink_apple},
    {P, A "/unlink/facebook", "UnlinkFacebook", MNT, W, h_unlink_facebook},
    {P, A "/unlink/facebookinstantgame", "UnlinkFacebookInstantGame", MNT, W, h_unlink_fbig},
    {P, A "/unlink/gamecenter", "UnlinkGameCenter", MNT, W, h_unlink_gamecenter},
    {P, A "/unlink/google", "UnlinkGoogle", MNT, W, h_unlink_google},
    {P, A "/unlink/steam", "UnlinkSteam", MNT, W, h_unlink_steam},
    /* groups */
    {G, "/v2/console/group", "ListGroups", RO, W, h_groups_list},
    {G, "/v2/console/group/{id}", "GetGroup", RO, W, h_group_get},
    {D, "/v2/console/group/{id}", "DeleteGroup", MNT, W, h_group_delete},
    {G, "/v2/console/group/{id}/member", "GetMembers", RO, W, h_group_members},
    {P, "/v2/console/group/{id}", "UpdateGroup", MNT, W, h_group_update},
    {G, "/v2/console/group/{id}/export", "ExportGroup", MNT, W, h_group_export},
    {P, "/v2/console/group/{group_id}/add", "AddGroupUsers", MNT, W, h_group_add_users},
    {P, "/v2/console/group/{group_id}/account/{id}/promote", "PromoteGroupMember", MNT, W,
     h_group_promote},
    {P, "/v2/console/group/{group_id}/account/{id}/demote", "DemoteGroupMember", MNT, W,
     h_group_demote},
    /* storage */
    {G, "/v2/console/storage", "ListStorage", RO, W, h_storage_list},
    {D, "/v2/console/storage", "DeleteStorage", DEV, W, h_storage_delete_all},
    {G, "/v2/console/storage/collections", "ListStorageCollections", RO, W, h_storage_collections},
    {G, "/v2/console/storage/{collection}/{key}/{user_id}", "GetStorage", RO, W, h_storage_get},
    {U, "/v2/console/storage/{collection}/{key}/{user_id}", "WriteStorageObject", MNT, W,
     h_storage_write},
    {D, "/v2/console/storage/{collection}/{key}/{user_id}", "DeleteStorageObject", MNT, W,
     h_storage_delete},
    {D, "/v2/console/storage/{collection}/{key}/{user_id}/{version}", "DeleteStorageObject", MNT,
     W, h_storage_delete},
    /* matches */
    {G, "/v2/console/match", "ListMatches", RO, L, h_matches},
    {G, "/v2/console/match/{id}/state", "GetMatchState", RO, W, h_match_state},
    /* leaderboards */
    {G, "/v2/console/leaderboard", "ListLeaderboards", RO, W, h_leaderboards},
    {G, "/v2/console/leaderboard/{id}", "GetLeaderboard", RO, W, h_leaderboard_get},
    {D, "/v2/console/leaderboard/{id}", "DeleteLeaderboard", DEV, W, h_leaderboard_delete},
    {G, "/v2/console/leaderboard/{leaderboard_id}/records", "ListLeaderboardRecords", RO, W,
     h_leaderboard_records},
    {D, "/v2/console/leaderboard/{id}/owner/{owner_id}", "DeleteLeaderboardRecord", MNT, W,
     h_leaderboard_record_delete},
    /* channel messages; purchases and subscriptions: none */
    {G, "/v2/console/channel", "ListChannelMessages", RO, W, h_channel_messages},
    {D, "/v2/console/message", "DeleteChannelMessages", MNT, W, h_channel_messages_delete},
    {G, "/v2/console/purchase", "ListPurchases", RO, L, h_purchases},
    {G, "/v2/console/subscription", "ListSubscriptions", RO, L, h_subscriptions},
};

const tomo_console_route *tomo_console_routes(size_t *n)
{
    *n = TOMO_ARRAY_LEN(table);
    return table;
}
