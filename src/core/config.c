/* core/config.c: key table, YAML loading, flag/env overrides, validation. */
#define _GNU_SOURCE
#include "config.h"

#include "common.h"
#include "ratelimit.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

enum ktype { K_STR, K_INT, K_BOOL, K_LIST };
enum { F_SECRET = 1, F_DEFAULT_KEY = 2 };

typedef struct key_def {
    const char *path;
    enum ktype type;
    size_t off;
    const char *def;
    int flags;
    int min, max; /* for K_INT */
} key_def;

#define O(f) offsetof(tomo_config, f)
#define I(p, f, d, lo, hi) {p, K_INT, O(f), d, 0, lo, hi}
#define S(p, f, d) {p, K_STR, O(f), d, 0, 0, 0}
#define B(p, f, d) {p, K_BOOL, O(f), d, 0, 0, 0}
#define L(p, f) {p, K_LIST, O(f), NULL, 0, 0, 0}
#define SECRET(p, f, d) {p, K_STR, O(f), d, F_SECRET | F_DEFAULT_KEY, 0, 0}
#define BIG INT_MAX

static const key_def keys[] = {
    S("name", name, "nakama"),
    S("data_dir", data_dir, NULL),
    I("shutdown_grace_sec", shutdown_grace_sec, "0", 0, 3600),
    S("logger.level", logger.level, "info"),
    B("logger.stdout", logger.stdout_enabled, "true"),
    S("logger.file", logger.file, ""),
    S("logger.format", logger.format, "json"),
    I("metrics.reporting_freq_sec", metrics.reporting_freq_sec, "60", 1, 86400),
    S("metrics.namespace", metrics.namespace_, ""),
    I("metrics.prometheus_port", metrics.prometheus_port, "9100", 0, 65535),
    S("metrics.prefix", metrics.prefix, "nakama"),
    S("metrics.custom_prefix", metrics.custom_prefix, "custom"),
    S("metrics.address", metrics.address, ""),
    SECRET("session.encryption_key", session.encryption_key, "defaultencryptionkey"),
    I("session.token_expiry_sec", session.token_expiry_sec, "60", 1, BIG),
    SECRET("session.refresh_encryption_key", session.refresh_encryption_key,
           "defaultrefreshencryptionkey"),
    I("session.refresh_token_expiry_sec", session.refresh_token_expiry_sec, "3600", 1, BIG),
    B("session.single_socket", session.single_socket, "false"),
    B("session.single_match", session.single_match, "false"),
    B("session.single_party", session.single_party, "false"),
    B("session.single_session", session.single_session, "false"),
    SECRET("socket.server_key", socket.server_key, "defaultkey"),
    I("socket.port", socket.port, "7350", 0, 65535),
    I("socket.ws_port", socket.ws_port, "7349", 0, 65535),
    I("socket.loops", socket.loops, "1", 0, 64),
    I("socket.loop_port_base", socket.loop_port_base, "0", 0, 65535),
    S("socket.address", socket.address, ""),
    S("socket.protocol", socket.protocol, "tcp"),
    I("socket.max_message_size_bytes", socket.max_message_size_bytes, "4096", 128, 1 << 26),
    I("socket.max_request_size_bytes", socket.max_request_size_bytes, "262144", 1024, 1 << 28),
    I("socket.read_buffer_size_bytes", socket.read_buffer_size_bytes, "4096", 512, 1 << 24),
    I("socket.write_buffer_size_bytes", socket.write_buffer_size_bytes, "4096", 512, 1 << 24),
    I("socket.read_timeout_ms", socket.read_timeout_ms, "10000", 10, BIG),
    I("socket.write_timeout_ms", socket.write_timeout_ms, "10000", 10, BIG),
    I("socket.idle_timeout_ms", socket.idle_timeout_ms, "60000", 10, BIG),
    I("socket.write_wait_ms", socket.write_wait_ms, "5000", 10, BIG),
    I("socket.pong_wait_ms", socket.pong_wait_ms, "25000", 10, BIG),
    I("socket.ping_period_ms", socket.ping_period_ms, "15000", 10, BIG),
    I("socket.ping_backoff_threshold", socket.ping_backoff_threshold, "20", 1, BIG),
    I("socket.outgoing_queue_size", socket.outgoing_queue_size, "64", 1, 1 << 20),
    I("socket.close_ack_wait_ms", socket.close_ack_wait_ms, "2000", 0, BIG),
    I("socket.max_header_bytes", socket.max_header_bytes, "16384", 256, 1 << 20),
    I("socket.max_header_count", socket.max_header_count, "100", 4, 10000),
    I("socket.max_connections", socket.max_connections, "1000000", 1, BIG),
    S("socket.ssl_certificate", socket.ssl_certificate, ""),
    S("socket.ssl_private_key", socket.ssl_private_key, ""),
    L("socket.response_headers", socket.response_headers),
    L("database.address", database.address),
    I("database.conn_max_lifetime_ms", database.conn_max_lifetime_ms, "3600000", 0, BIG),
    I("database.max_open_conns", database.max_open_conns, "100", 1, 10000),
    I("database.max_idle_conns", database.max_idle_conns, "100", 0, 10000),
    I("database.dns_scan_interval_sec", database.dns_scan_interval_sec, "60", 0, BIG),
    I("database.query_timeout_ms", database.query_timeout_ms, "10000", 10, BIG),
    I("database.read_workers", database.read_workers, "0", 0, 1024),
    I("database.auto_migrate", database.auto_migrate, "-1", -1, 1),
    B("database.pgbouncer", database.pgbouncer, "false"),
    SECRET("runtime.http_key", runtime.http_key, "defaulthttpkey"),
    S("runtime.path", runtime.path, ""),
    S("runtime.js_entrypoint", runtime.js_entrypoint, ""),
    L("runtime.env", runtime.env),
    I("runtime.lua_min_count", runtime.lua_min_count, "16", 0, BIG),
    I("runtime.lua_max_count", runtime.lua_max_count, "48", 1, BIG),
    I("runtime.lua_call_stack_size", runtime.lua_call_stack_size, "128", 1, BIG),
    I("runtime.lua_registry_size", runtime.lua_registry_size, "512", 1, BIG),
    I("runtime.event_queue_size", runtime.event_queue_size, "65536", 1, BIG),
    I("runtime.event_queue_workers", runtime.event_queue_workers, "8", 1, 1024),
    /* tomo: instructions a Lua call may run before it is stopped (0 = no
     * limit), memory per Lua state, development reload */
    I("runtime.lua_max_instructions", runtime.lua_max_instructions, "100000000", 0, BIG),
    I("runtime.lua_max_memory_mb", runtime.lua_max_memory_mb, "64", 1, 65536),
    B("runtime.reload", runtime.reload, "false"),
    /* tomo: trust and identity for nk.http_request (PEM files) */
    S("runtime.http_ca_file", runtime.http_ca_file, ""),
    S("runtime.http_cert_file", runtime.http_cert_file, ""),
    S("runtime.http_key_file", runtime.http_key_file, ""),
    /* tomo: clustering over NATS (docs/CLUSTER.md); the node's name is `name` */
    {"cluster.nats_url", K_STR, O(cluster.nats_url), "", F_SECRET, 0, 0},
    S("cluster.subject_prefix", cluster.subject_prefix, "tomo"),
    I("cluster.heartbeat_ms", cluster.heartbeat_ms, "500", 50, 60000),
    I("cluster.dead_after_ms", cluster.dead_after_ms, "3000", 100, 600000),
    I("grpc.port", grpc.port, "7348", 0, 65535),
    I("grpc.max_concurrent_streams", grpc.max_concurrent_streams, "100", 1, 100000),
    B("tracing.enabled", tracing.enabled, "true"),
    S("tracing.otlp_endpoint", tracing.otlp_endpoint, ""),
    S("tracing.service_name", tracing.service_name, "tomo"),
    I("tracing.queue_size", tracing.queue_size, "4096", 1, 1 << 24),
    I("tracing.batch_size", tracing.batch_size, "256", 1, 65536),
    I("tracing.flush_interval_ms", tracing.flush_interval_ms, "1000", 10, BIG),
    I("tracing.export_timeout_ms", tracing.export_timeout_ms, "2000", 10, BIG),
    I("console.port", console.port, "7351", 0, 65535),
    S("console.address", console.address, "127.0.0.1"),
    B("console.allow_non_loopback", console.allow_non_loopback, "false"),
    I("console.max_message_size_bytes", console.max_message_size_bytes, "4194304", 1024, BIG),
    I("console.read_timeout_ms", console.read_timeout_ms, "10000", 10, BIG),
    I("console.write_timeout_ms", console.write_timeout_ms, "60000", 10, BIG),
    I("console.idle_timeout_ms", console.idle_timeout_ms, "300000", 10, BIG),
    I("console.token_expiry_sec", console.token_expiry_sec, "86400", 1, BIG),
    S("console.username", console.username, "admin"),
    {"console.password", K_STR, O(console.password), "password", F_SECRET | F_DEFAULT_KEY, 0, 0},
    SECRET("console.signing_key", console.signing_key, "defaultsigningkey"),
    S("console.readonly_username", console.readonly_username, ""),
    {"console.readonly_password", K_STR, O(console.readonly_password), "", F_SECRET, 0, 0},
    {"social.facebook_instant_game.app_secret", K_STR, O(social.fbig_app_secret), "", F_SECRET, 0,
     0},
    I("match.input_queue_size", match.input_queue_size, "128", 1, BIG),
    I("match.call_queue_size", match.call_queue_size, "128", 1, BIG),
    I("match.join_attempt_queue_size", match.join_attempt_queue_size, "128", 1, BIG),
    I("match.deferred_queue_size", match.deferred_queue_size, "128", 1, BIG),
    I("match.signal_queue_size", match.signal_queue_size, "10", 1, BIG),
    I("match.join_marker_deadline_ms", match.join_marker_deadline_ms, "15000", 1, BIG),
    I("match.max_empty_sec", match.max_empty_sec, "0", 0, BIG),
    I("match.label_update_interval_ms", match.label_update_interval_ms, "1000", 1, BIG),
    I("tracker.event_queue_size", tracker.event_queue_size, "1024", 1, BIG),
    I("matchmaker.max_tickets", matchmaker.max_tickets, "3", 1, BIG),
    I("matchmaker.interval_sec", matchmaker.interval_sec, "15", 1, BIG),
    I("matchmaker.max_intervals", matchmaker.max_intervals, "2", 1, BIG),
    I("matchmaker.batch_pool_size", matchmaker.batch_pool_size, "32", 1, BIG),
    B("matchmaker.rev_precision", matchmaker.rev_precision, "false"),
    I("matchmaker.rev_threshold", matchmaker.rev_threshold, "1", 0, BIG),
    I("chat.max_message_bytes", chat.max_message_bytes, "4096", 2, 1 << 24),
    I("chat.messages_per_sec", chat.messages_per_sec, "10", 0, BIG),
    I("chat.burst", chat.burst, "20", 1, BIG),
    B("rate_limit.enabled", rate_limit.enabled, "false"),
    I("rate_limit.auth_per_sec", rate_limit.auth_per_sec, "10", 0, BIG),
    I("rate_limit.auth_burst", rate_limit.auth_burst, "20", 1, BIG),
    I("rate_limit.default_per_sec", rate_limit.default_per_sec, "200", 0, BIG),
    I("rate_limit.default_burst", rate_limit.default_burst, "400", 1, BIG),
    I("rate_limit.user_per_sec", rate_limit.user_per_sec, "100", 0, BIG),
    I("rate_limit.user_burst", rate_limit.user_burst, "200", 1, BIG),
    I("rate_limit.socket_per_sec", rate_limit.socket_per_sec, "100", 0, BIG),
    I("rate_limit.socket_burst", rate_limit.socket_burst, "200", 1, BIG),
    I("rate_limit.max_keys", rate_limit.max_keys, "100000", 8, 1 << 26),
    L("rate_limit.trusted_proxies", rate_limit.trusted_proxies),
};

static const char *type_name(enum ktype t)
{
    switch (t) {
    case K_STR: return "string";
    case K_INT: return "integer";
    case K_BOOL: return "boolean (true/false)";
    case K_LIST: return "list of strings";
    }
    return "?";
}

static const key_def *find_key(const char *path)
{
    for (size_t i = 0; i < TOMO_ARRAY_LEN(keys); i++)
        if (!strcmp(keys[i].path, path))
            return &keys[i];
    return NULL;
}

int tomo_config_has_key(const char *key) { return find_key(key) != NULL; }

static void list_clear(tomo_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void list_push(tomo_strlist *l, const char *s)
{
    l->v = tomo_xrealloc(l->v, (l->n + 1) * sizeof(char *));
    l->v[l->n++] = tomo_xstrdup(s);
}

static int parse_bool(const char *v, int *out)
{
    if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
        *out = 1;
    else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") ||
             !strcasecmp(v, "off"))
        *out = 0;
    else
        return -1;
    return 0;
}

/* Set a scalar value. For a list, value is one element when append is set,
 * else a comma-separated list (flags and env). */
static int set_value(tomo_config *cfg, const key_def *k, const char *value, int append, char *err,
                     size_t errlen)
{
    char *base = (char *)cfg;
    switch (k->type) {
    case K_STR: {
        char **p = (char **)(base + k->off);
        free(*p);
        *p = tomo_xstrdup(value);
        return 0;
    }
    case K_INT: {
        errno = 0;
        char *end;
        long v = strtol(value, &end, 10);
        if (!*value || *end || errno) {
            snprintf(err, errlen, "config key %s: expected %s, got \"%s\"", k->path,
                     type_name(k->type), value);
            return TOMO_EINVAL;
        }
        if (v < k->min || v > k->max) {
            snprintf(err, errlen, "config key %s: value %ld out of range [%d, %d]", k->path, v,
                     k->min, k->max);
            return TOMO_EINVAL;
        }
        *(int *)(base + k->off) = (int)v;
        return 0;
    }
    case K_BOOL: {
        int b;
        if (parse_bool(value, &b) < 0) {
            snprintf(err, errlen, "config key %s: expected %s, got \"%s\"", k->path,
                     type_name(k->type), value);
            return TOMO_EINVAL;
        }
        *(int *)(base + k->off) = b;
        return 0;
    }
    case K_LIST: {
        tomo_strlist *l = (tomo_strlist *)(base + k->off);
        if (append) {
            list_push(l, value);
            return 0;
        }
        list_clear(l);
        char *dup = tomo_xstrdup(value), *save = NULL;
        for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save))
            if (*t)
                list_push(l, t);
        free(dup);
        return 0;
    }
    }
    return TOMO_EINVAL;
}

void tomo_config_defaults(tomo_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    char err[256];
    for (size_t i = 0; i < TOMO_ARRAY_LEN(keys); i++)
        if (keys[i].def)
            set_value(cfg, &keys[i], keys[i].def, 0, err, sizeof(err));
    char cwd[4096];
    if (!getcwd(cwd, sizeof(cwd)))
        strcpy(cwd, ".");
    cfg->data_dir = tomo_xasprintf("%s/data", cwd);
}

int tomo_config_set(tomo_config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
    const key_def *k = find_key(key);
    if (!k) {
        snprintf(err, errlen, "unknown config key \"%s\"", key);
        return TOMO_EINVAL;
    }
    return set_value(cfg, k, value, 0, err, errlen);
}

int tomo_config_apply_env(tomo_config *cfg, char **envp, char *err, size_t errlen)
{
    for (char **e = envp; e && *e; e++) {
        if (strncmp(*e, "TOMO_", 5))
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        for (size_t i = 0; i < TOMO_ARRAY_LEN(keys); i++) {
            char name[128] = "TOMO_";
            size_t j = 5;
            for (const char *p = keys[i].path; *p && j < sizeof(name) - 1; p++)
                name[j++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
            name[j] = '\0';
            if ((size_t)(eq - *e) == j && !strncmp(*e, name, j)) {
                int rc = set_value(cfg, &keys[i], eq + 1, 0, err, errlen);
                if (rc < 0) {
                    size_t n = strlen(err);
                    snprintf(err + n, errlen - n, " (from environment %s)", name);
                    return rc;
                }
            }
        }
    }
    return 0;
}

/* Walk a YAML mapping, setting dotted paths. */
static int walk(tomo_config *cfg, yaml_document_t *doc, yaml_node_t *node, const char *prefix,
                const char *file, char *err, size_t errlen)
{
    if (node->type != YAML_MAPPING_NODE) {
        snprintf(err, errlen, "%s: section \"%s\" must be a mapping", file, prefix);
        return TOMO_EINVAL;
    }
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(doc, p->value);
        if (!kn || kn->type != YAML_SCALAR_NODE || !vn)
            continue;
        char path[256];
        char low[128];
        size_t kl = kn->data.scalar.length < sizeof(low) - 1 ? kn->data.scalar.length
                                                             : sizeof(low) - 1;
        for (size_t i = 0; i < kl; i++)
            low[i] = (char)tolower(kn->data.scalar.value[i]);
        low[kl] = '\0';
        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", low);
        const key_def *k = find_key(path);
        if (!k) {
            /* A known section prefix recurses; anything else is refused. */
            size_t pl = strlen(path);
            int is_section = 0;
            for (size_t i = 0; i < TOMO_ARRAY_LEN(keys); i++)
                if (!strncmp(keys[i].path, path, pl) && keys[i].path[pl] == '.')
                    is_section = 1;
            if (is_section && vn->type == YAML_MAPPING_NODE) {
                int rc = walk(cfg, doc, vn, path, file, err, errlen);
                if (rc < 0)
                    return rc;
                continue;
            }
            if (!strcmp(path, "social") || !strncmp(path, "social.", 7) || !strcmp(path, "iap") ||
                !strncmp(path, "iap.", 4) || !strcmp(path, "leaderboard") ||
                !strncmp(path, "leaderboard.", 12) || !strcmp(path, "config")) {
                /* Nakama sections tomo does not use yet: accepted, ignored. */
                continue;
            }
            snprintf(err, errlen, "%s: unknown config key \"%s\"", file, path);
            return TOMO_EINVAL;
        }
        if (k->type == K_LIST) {
            tomo_strlist *l = (tomo_strlist *)((char *)cfg + k->off);
            list_clear(l);
            if (vn->type == YAML_SEQUENCE_NODE) {
                for (yaml_node_item_t *it = vn->data.sequence.items.start;
                     it < vn->data.sequence.items.top; it++) {
                    yaml_node_t *in = yaml_document_get_node(doc, *it);
                    if (!in || in->type != YAML_SCALAR_NODE) {
                        snprintf(err, errlen, "%s: config key %s: expected %s", file, path,
                                 type_name(k->type));
                        return TOMO_EINVAL;
                    }
                    list_push(l, (const char *)in->data.scalar.value);
                }
            } else if (vn->type == YAML_SCALAR_NODE) {
                if (vn->data.scalar.length)
                    list_push(l, (const char *)vn->data.scalar.value);
            } else {
                snprintf(err, errlen, "%s: config key %s: expected %s", file, path,
                         type_name(k->type));
                return TOMO_EINVAL;
            }
            continue;
        }
        if (vn->type != YAML_SCALAR_NODE) {
            snprintf(err, errlen, "%s: config key %s: expected %s, got a %s", file, path,
                     type_name(k->type), vn->type == YAML_MAPPING_NODE ? "mapping" : "list");
            return TOMO_EINVAL;
        }
        int rc = set_value(cfg, k, (const char *)vn->data.scalar.value, 0, err, errlen);
        if (rc < 0) {
            char tmp[512];
            snprintf(tmp, sizeof(tmp), "%s: %s", file, err);
            snprintf(err, errlen, "%s", tmp);
            return rc;
        }
    }
    return 0;
}

int tomo_config_load_file(tomo_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open config file %s: %s", path, strerror(errno));
        return TOMO_EINVAL;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = 0;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%zu:%zu: YAML error: %s", path, parser.problem_mark.line + 1,
                 parser.problem_mark.column + 1, parser.problem ? parser.problem : "unknown");
        yaml_parser_delete(&parser);
        fclose(f);
        return TOMO_EINVAL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root && !(root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0))
        rc = walk(cfg, &doc, root, "", path, err, errlen);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

int tomo_config_validate(const tomo_config *cfg, char *err, size_t errlen)
{
    size_t nl = strlen(cfg->name);
    if (nl < 1 || nl > 16) {
        snprintf(err, errlen, "config key name: must be 1-16 characters");
        return TOMO_EINVAL;
    }
    for (const char *p = cfg->name; *p; p++)
        if (*p == '.' || (unsigned char)*p < 0x21) {
            snprintf(err, errlen, "config key name: must not contain dots, spaces or controls");
            return TOMO_EINVAL;
        }
    if (!*cfg->socket.server_key) {
        snprintf(err, errlen, "config key socket.server_key: must not be empty");
        return TOMO_EINVAL;
    }
    if (!*cfg->session.encryption_key || !*cfg->session.refresh_encryption_key) {
        snprintf(err, errlen, "config keys session.encryption_key and "
                              "session.refresh_encryption_key must not be empty");
        return TOMO_EINVAL;
    }
    if (!strcmp(cfg->session.encryption_key, cfg->session.refresh_encryption_key)) {
        snprintf(err, errlen, "config keys session.encryption_key and "
                              "session.refresh_encryption_key must differ");
        return TOMO_EINVAL;
    }
    if (cfg->socket.ping_period_ms >= cfg->socket.pong_wait_ms) {
        snprintf(err, errlen, "config key socket.ping_period_ms (%d) must be less than "
                              "socket.pong_wait_ms (%d)",
                 cfg->socket.ping_period_ms, cfg->socket.pong_wait_ms);
        return TOMO_EINVAL;
    }
    if (cfg->session.single_match && !cfg->session.single_socket) {
        snprintf(err, errlen, "config key session.single_match requires session.single_socket");
        return TOMO_EINVAL;
    }
    if (!*cfg->socket.ssl_certificate != !*cfg->socket.ssl_private_key) {
        snprintf(err, errlen, "config keys socket.ssl_certificate and socket.ssl_private_key: "
                              "set both (PEM files) or neither");
        return TOMO_EINVAL;
    }
    tomo_ipset *tp = tomo_ipset_parse(cfg->rate_limit.trusted_proxies.v,
                                      cfg->rate_limit.trusted_proxies.n, err, errlen);
    if (!tp) {
        char why[256];
        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, errlen, "config key rate_limit.trusted_proxies: %s", why);
        return TOMO_EINVAL;
    }
    tomo_ipset_free(tp);
    if (cfg->database.address.n > 1) {
        snprintf(err, errlen, "config key database.address: tomo supports one address");
        return TOMO_EINVAL;
    }
    if (strcmp(cfg->logger.format, "json") && strcmp(cfg->logger.format, "JSON")) {
        snprintf(err, errlen, "config key logger.format: only \"json\" is supported");
        return TOMO_EINVAL;
    }
    if (strcmp(cfg->socket.protocol, "tcp") && strcmp(cfg->socket.protocol, "tcp4") &&
        strcmp(cfg->socket.protocol, "tcp6")) {
        snprintf(err, errlen, "config key socket.protocol: expected tcp, tcp4 or tcp6");
        return TOMO_EINVAL;
    }
    for (size_t i = 0; i < cfg->socket.response_headers.n; i++)
        if (!strchr(cfg->socket.response_headers.v[i], '=')) {
            snprintf(err, errlen, "config key socket.response_headers: \"%s\" is not Key=Value",
                     cfg->socket.response_headers.v[i]);
            return TOMO_EINVAL;
        }
    const char *lv = cfg->logger.level;
    if (strcasecmp(lv, "debug") && strcasecmp(lv, "info") && strcasecmp(lv, "warn") &&
        strcasecmp(lv, "warning") && strcasecmp(lv, "error")) {
        snprintf(err, errlen, "config key logger.level: expected debug, info, warn or error, got "
                              "\"%s\"",
                 lv);
        return TOMO_EINVAL;
    }
    return 0;
}

size_t tomo_config_default_secrets(const tomo_config *cfg, const char **names, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < TOMO_ARRAY_LEN(keys); i++) {
        if (!(keys[i].flags & F_DEFAULT_KEY))
            continue;
        const char *v = *(char **)((const char *)cfg + keys[i].off);
        if (v && !strcmp(v, keys[i].def) && n < max)
            names[n++] = keys[i].path;
    }
    return n;
}

static void yaml_quote(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t need = *len + strlen(s) * 2 + 4;
    if (need > *cap) {
        *cap = need * 2;
        *buf = tomo_xrealloc(*buf, *cap);
    }
    (*buf)[(*len)++] = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            (*buf)[(*len)++] = '\\';
        (*buf)[(*len)++] = *s;
    }
    (*buf)[(*len)++] = '"';
    (*buf)[*len] = '\0';
}

static void append(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *buf = tomo_xrealloc(*buf, *cap);
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
}

/* The value shown for a string key (secrets redacted when asked). */
static const char *shown_str(const key_def *k, const char *v, int redact)
{
    if (redact && (k->flags & F_SECRET) && v && *v)
        return "<redacted>";
    return v ? v : "";
}

/* The value shown for a list item: a heap string (database addresses carry
 * passwords). */
static char *shown_item(const key_def *k, const char *v, int redact)
{
    if (redact && !strcmp(k->path, "database.address"))
        return tomo_redact_dsn(v);
    return tomo_xstrdup(v);
}

json_t *tomo_config_dump_json(const tomo_config *cfg, int redact)
{
    json_t *root = json_object();
    const char *base = (const char *)cfg;
    for (size_t i = 0; i < TOMO_ARRAY_LEN(keys); i++) {
        const key_def *k = &keys[i];
        const char *dot = strchr(k->path, '.');
        json_t *into = root;
        const char *leaf = k->path;
        if (dot) {
            char section[64];
            snprintf(section, sizeof(section), "%.*s", (int)(dot - k->path), k->path);
            into = json_object_get(root, section);
            if (!into) {
                into = json_object();
                json_object_set_new(root, section, into);
            }
            leaf = dot + 1;
        }
        json_t *v = NULL;
        switch (k->type) {
        case K_STR:
            v = json_string(shown_str(k, *(char *const *)(base + k->off), redact));
            break;
        case K_INT:
            v = json_integer(*(const int *)(base + k->off));
            break;
        case K_BOOL:
            v = json_boolean(*(const int *)(base + k->off));
            break;
        case K_LIST: {
            const tomo_strlist *l = (const tomo_strlist *)(base + k->off);
            v = json_array();
            for (size_t j = 0; j < l->n; j++) {
                char *item = shown_item(k, l->v[j], redact);
                json_array_append_new(v, json_string(item));
                free(item);
            }
            break;
        }
        }
        json_object_set_new(into, leaf, v ? v : json_null());
    }
    return root;
}

char *tomo_config_dump_yaml(const tomo_config *cfg, int redact)
{
    size_t cap = 4096, len = 0;
    char *buf = tomo_xmalloc(cap);
    buf[0] = '\0';
    char section[64] = "";
    for (size_t i = 0; i < TOMO_ARRAY_LEN(keys); i++) {
        const key_def *k = &keys[i];
        const char *dot = strchr(k->path, '.');
        const char *leaf = k->path;
        const char *indent = "";
        if (dot) {
            size_t sl = (size_t)(dot - k->path);
            if (strlen(section) != sl || strncmp(section, k->path, sl)) {
                snprintf(section, sizeof(section), "%.*s", (int)sl, k->path);
                append(&buf, &len, &cap, section);
                append(&buf, &len, &cap, ":\n");
            }
            leaf = dot + 1;
            indent = "  ";
        }
        append(&buf, &len, &cap, indent);
        append(&buf, &len, &cap, leaf);
        append(&buf, &len, &cap, ": ");
        const char *base = (const char *)cfg;
        char num[32];
        switch (k->type) {
        case K_STR: {
            yaml_quote(&buf, &len, &cap, shown_str(k, *(char *const *)(base + k->off), redact));
            break;
        }
        case K_INT:
            snprintf(num, sizeof(num), "%d", *(const int *)(base + k->off));
            append(&buf, &len, &cap, num);
            break;
        case K_BOOL:
            append(&buf, &len, &cap, *(const int *)(base + k->off) ? "true" : "false");
            break;
        case K_LIST: {
            const tomo_strlist *l = (const tomo_strlist *)(base + k->off);
            append(&buf, &len, &cap, "[");
            for (size_t j = 0; j < l->n; j++) {
                if (j)
                    append(&buf, &len, &cap, ", ");
                char *item = shown_item(k, l->v[j], redact);
                yaml_quote(&buf, &len, &cap, item);
                free(item);
            }
            append(&buf, &len, &cap, "]");
            break;
        }
        }
        append(&buf, &len, &cap, "\n");
    }
    return buf;
}

void tomo_config_free(tomo_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < TOMO_ARRAY_LEN(keys); i++) {
        char *base = (char *)cfg;
        if (keys[i].type == K_STR) {
            free(*(char **)(base + keys[i].off));
            *(char **)(base + keys[i].off) = NULL;
        } else if (keys[i].type == K_LIST) {
            list_clear((tomo_strlist *)(base + keys[i].off));
        }
    }
}
