/* core/config.h: the server configuration (Nakama's YAML keys and defaults).
 * Owns: tomo_config and the table of every known key (type, default, secret).
 * Threads: built once at start-up on the main thread, read-only afterwards.
 *
 * Precedence, lowest to highest: built-in defaults, each --config FILE in the
 * order given, TOMO_SECTION_KEY environment variables, --section.key flags. */
#ifndef TOMO_CORE_CONFIG_H
#define TOMO_CORE_CONFIG_H

#include <stddef.h>

typedef struct tomo_strlist {
    char **v;
    size_t n;
} tomo_strlist;

typedef struct tomo_config {
    char *name;
    char *data_dir;
    int shutdown_grace_sec;
    struct {
        char *level, *file, *format;
        int stdout_enabled;
    } logger;
    struct {
        int reporting_freq_sec, prometheus_port;
        char *namespace_, *prefix, *custom_prefix, *address;
    } metrics;
    struct {
        char *encryption_key, *refresh_encryption_key;
        int token_expiry_sec, refresh_token_expiry_sec;
        int single_socket, single_match, single_party, single_session;
    } session;
    struct {
        char *server_key, *address, *protocol, *ssl_certificate, *ssl_private_key;
        int port, ws_port;
        int loops;          /* event loops (0: one per core, capped); rt/loops.h */
        int loop_port_base; /* 0 off; else loop k also listens on base + k (tests) */
        int max_message_size_bytes, max_request_size_bytes, read_buffer_size_bytes,
            write_buffer_size_bytes;
        int read_timeout_ms, write_timeout_ms, idle_timeout_ms, write_wait_ms, pong_wait_ms,
            ping_period_ms, ping_backoff_threshold, outgoing_queue_size, close_ack_wait_ms;
        int max_header_bytes, max_header_count, max_connections;
        tomo_strlist response_headers;
    } socket;
    struct {
        tomo_strlist address;
        int conn_max_lifetime_ms, max_open_conns, max_idle_conns, dns_scan_interval_sec,
            query_timeout_ms;
        int read_workers; /* threads of the read pool (0: per core, serve.c) */
        int auto_migrate; /* -1 = decide (SQLite yes, Postgres no), 0 no, 1 yes */
        /* behind pgBouncer in transaction mode: unnamed statements, timeouts
         * per transaction (SET LOCAL), transaction-level migration locks */
        int pgbouncer;
    } database;
    struct {
        char *http_key, *path, *js_entrypoint;
        tomo_strlist env;
        int lua_min_count, lua_max_count, lua_call_stack_size, lua_registry_size;
        int event_queue_size, event_queue_workers;
        int lua_max_instructions, lua_max_memory_mb, reload;
        char *http_ca_file, *http_cert_file, *http_key_file;
    } runtime;
    struct {
        int port, max_message_size_bytes, read_timeout_ms, write_timeout_ms, idle_timeout_ms,
            token_expiry_sec;
        int allow_non_loopback; /* --production accepts a non-loopback address (warned) */
        char *address, *username, *password, *signing_key;
        /* a second, read-only console user (tomo's; none when empty) */
        char *readonly_username, *readonly_password;
    } console;
    struct {
        int input_queue_size, call_queue_size, join_attempt_queue_size, deferred_queue_size,
            signal_queue_size, join_marker_deadline_ms, max_empty_sec, label_update_interval_ms;
    } match;
    struct {
        int event_queue_size;
    } tracker;
    struct {
        int max_tickets, interval_sec, max_intervals, batch_pool_size, rev_precision, rev_threshold;
    } matchmaker;
    struct {
        int max_message_bytes, messages_per_sec, burst;
    } chat;
    struct {
        int enabled;
        int auth_per_sec, auth_burst, default_per_sec, default_burst; /* per client IP */
        int user_per_sec, user_burst;     /* per user, REST */
        int socket_per_sec, socket_burst; /* per user, realtime envelopes */
        int max_keys;
        tomo_strlist trusted_proxies; /* X-Forwarded-For is believed only from these */
    } rate_limit;
    struct {
        int port;                   /* the gRPC API (nakama.api.Nakama); 0 = off */
        int max_concurrent_streams; /* per HTTP/2 connection */
    } grpc;
    struct {
        int enabled;         /* W3C trace context on requests, ids in log lines */
        char *otlp_endpoint; /* OTLP/HTTP JSON collector URL ("" = no export) */
        char *service_name;  /* resource service.name of exported spans */
        int queue_size;      /* spans waiting for export; more are dropped */
        int batch_size, flush_interval_ms, export_timeout_ms;
    } tracing;
    struct {
        char *nats_url;       /* "" = one node (no cluster) */
        char *subject_prefix; /* NATS subjects of this cluster: <prefix>.hb, .all, .node.<name> */
        int heartbeat_ms, dead_after_ms;
    } cluster;
    struct {
        /* Facebook Instant Games: signed player info is checked with this
         * app secret (Nakama's social.facebook_instant_game.app_secret) */
        char *fbig_app_secret;
    } social;
    int production;
} tomo_config;

/* Fill cfg with built-in defaults. data_dir defaults to "<cwd>/data". */
void tomo_config_defaults(tomo_config *cfg);

/* Apply a YAML file. On error returns TOMO_EINVAL and writes a message naming
 * the file, the key and the expected type into err. */
int tomo_config_load_file(tomo_config *cfg, const char *path, char *err, size_t errlen);

/* Apply one key from flags or env ("socket.port", "7351"). Unknown key or
 * bad value -> TOMO_EINVAL with a message in err. */
int tomo_config_set(tomo_config *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Apply TOMO_SECTION_KEY environment variables (envp NULL-terminated). */
int tomo_config_apply_env(tomo_config *cfg, char **envp, char *err, size_t errlen);

/* Cross-field checks (Nakama's fatal start-up conditions). */
int tomo_config_validate(const tomo_config *cfg, char *err, size_t errlen);

/* Names of secret keys still at their shipped default value; returns count,
 * fills names[] (up to max) with static strings. */
size_t tomo_config_default_secrets(const tomo_config *cfg, const char **names, size_t max);

/* Effective config as YAML with secrets redacted (heap string, free()). */
char *tomo_config_dump_yaml(const tomo_config *cfg, int redact);
/* The same as a JSON object ({section: {key: value}}), new reference. */
struct json_t *tomo_config_dump_json(const tomo_config *cfg, int redact);

/* 1 if key is a known config key. */
int tomo_config_has_key(const char *key);

void tomo_config_free(tomo_config *cfg);

#endif
