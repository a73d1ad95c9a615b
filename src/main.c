/* main.c: the tomo binary: subcommands, start-up and shutdown wiring.
 * Threads: main thread; `serve` runs the loop on it. */
#define _GNU_SOURCE
#include "api/api.h"
#include "api/server.h"
#include "core/common.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/template.h"
#include "net/http.h"
#include "net/loop.h"
#include "store/db.h"
#include "store/migrate.h"
#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef TOMO_VERSION
#define TOMO_VERSION "0.1.0"
#endif

extern char **environ;

typedef struct opts {
    const char *files[16];
    size_t nfiles;
    const char *keys[128];
    const char *vals[128];
    size_t nflags;
    int production, help;
    const char *positional[8];
    size_t npos;
} opts;

static void usage_main(FILE *f)
{
    fprintf(f,
            "tomo %s - a Nakama-compatible game server\n\n"
            "Usage: tomo [command] [options]\n\n"
            "Commands:\n"
            "  serve                 run the server (the default)\n"
            "  migrate up|status     apply or show database schema migrations\n"
            "  config check          validate the config and print it with secrets redacted\n"
            "  config render T [OUT] expand ${VAR} / ${VAR:-default} in template T from the\n"
            "                        environment (to OUT, or stdout)\n"
            "  keys generate         print fresh random keys as YAML and as environment lines\n"
            "  healthcheck           exit 0 if the local server answers /healthcheck\n"
            "  version               print the version\n\n"
            "Options (every command):\n"
            "  --config FILE         YAML config file (repeatable; applied in order)\n"
            "  --section.key VALUE   set any config key, e.g. --socket.port 7350\n"
            "  --production          refuse default keys and a console on a public address\n"
            "  --help                show help for the command\n\n"
            "Precedence, lowest to highest: defaults, --config files, TOMO_SECTION_KEY\n"
            "environment variables (e.g. TOMO_SOCKET_SERVER_KEY), --section.key flags.\n",
            TOMO_VERSION);
}

static int parse_opts(int argc, char **argv, int start, opts *o, char *err, size_t errlen)
{
    for (int i = start; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            if (o->npos < TOMO_ARRAY_LEN(o->positional))
                o->positional[o->npos++] = a;
            continue;
        }
        const char *name = a[1] == '-' ? a + 2 : a + 1;
        if (!strcmp(name, "help") || !strcmp(name, "h")) {
            o->help = 1;
            continue;
        }
        if (!strcmp(name, "production")) {
            o->production = 1;
            continue;
        }
        const char *eq = strchr(name, '=');
        char keybuf[256];
        const char *val;
        if (eq) {
            snprintf(keybuf, sizeof(keybuf), "%.*s", (int)(eq - name), name);
            val = eq + 1;
        } else {
            snprintf(keybuf, sizeof(keybuf), "%s", name);
            if (i + 1 >= argc) {
                snprintf(err, errlen, "option --%s needs a value", keybuf);
                return -1;
            }
            val = argv[++i];
        }
        if (!strcmp(keybuf, "config")) {
            if (o->nfiles < TOMO_ARRAY_LEN(o->files))
                o->files[o->nfiles++] = val;
            continue;
        }
        if (!tomo_config_has_key(keybuf)) {
            snprintf(err, errlen, "unknown option --%s (not a config key)", keybuf);
            return -1;
        }
        if (o->nflags < TOMO_ARRAY_LEN(o->keys)) {
            /* keys point into argv or a static copy */
            o->keys[o->nflags] = strdup(keybuf);
            o->vals[o->nflags] = val;
            o->nflags++;
        }
    }
    return 0;
}

static int build_config(const opts *o, tomo_config *cfg, char *err, size_t errlen)
{
    tomo_config_defaults(cfg);
    for (size_t i = 0; i < o->nfiles; i++)
        if (tomo_config_load_file(cfg, o->files[i], err, errlen) < 0)
            return -1;
    if (tomo_config_apply_env(cfg, environ, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < o->nflags; i++)
        if (tomo_config_set(cfg, o->keys[i], o->vals[i], err, errlen) < 0)
            return -1;
    cfg->production = o->production;
    if (tomo_config_validate(cfg, err, errlen) < 0)
        return -1;
    enum tomo_log_level lvl;
    if (tomo_log_parse_level(cfg->logger.level, &lvl) == 0)
        tomo_log_set_level(lvl);
    return 0;
}

/* build_config for a command: on failure the message goes to stderr (and the
 * log for serve) and the config is freed. */
static int load_config(const opts *o, tomo_config *cfg)
{
    char err[512];
    if (build_config(o, cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "config error: %s\n", err);
        tomo_config_free(cfg);
        return -1;
    }
    return 0;
}

static void free_opts(opts *o)
{
    for (size_t i = 0; i < o->nflags; i++)
        free((char *)o->keys[i]);
}

static int cmd_version(void)
{
    printf("tomo %s\n", TOMO_VERSION);
    return 0;
}

static int cmd_keys(const opts *o)
{
    if (o->help || o->npos < 2 || strcmp(o->positional[1], "generate")) {
        fprintf(o->help ? stdout : stderr,
                "Usage: tomo keys generate\n\nPrints fresh random 32-byte keys for "
                "socket.server_key,\nsession.encryption_key, session.refresh_encryption_key, "
                "runtime.http_key\nand console.signing_key, as YAML and as environment lines.\n");
        return o->help ? 0 : 2;
    }
    static const char *names[][3] = {
        {"socket", "server_key", "TOMO_SOCKET_SERVER_KEY"},
        {"session", "encryption_key", "TOMO_SESSION_ENCRYPTION_KEY"},
        {"session", "refresh_encryption_key", "TOMO_SESSION_REFRESH_ENCRYPTION_KEY"},
        {"runtime", "http_key", "TOMO_RUNTIME_HTTP_KEY"},
        {"console", "signing_key", "TOMO_CONSOLE_SIGNING_KEY"},
    };
    char keys[5][65];
    for (int i = 0; i < 5; i++) {
        unsigned char b[32];
        tomo_random_bytes(b, sizeof(b));
        for (int j = 0; j < 32; j++)
            sprintf(keys[i] + 2 * j, "%02x", b[j]);
    }
    printf("# YAML\n");
    const char *last = "";
    for (int i = 0; i < 5; i++) {
        if (strcmp(last, names[i][0]))
            printf("%s:\n", names[i][0]);
        last = names[i][0];
        printf("  %s: \"%s\"\n", names[i][1], keys[i]);
    }
    printf("\n# Environment\n");
    for (int i = 0; i < 5; i++)
        printf("%s=%s\n", names[i][2], keys[i]);
    return 0;
}

/* Reads a whole file (heap, free()); NULL with errno on failure. */
static char *read_all(const char *path, size_t *n)
{
    FILE *f = !strcmp(path, "-") ? stdin : fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *p = tomo_xmalloc(cap);
    size_t r;
    while ((r = fread(p + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap)
            p = tomo_xrealloc(p, cap *= 2);
    }
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (bad) {
        free(p);
        return NULL;
    }
    *n = len;
    return p;
}

/* tomo config render TEMPLATE [OUT]: the output file is written next to OUT
 * and renamed into place only once it parses as a tomo config, so a bad
 * template never leaves a half-written or invalid config behind. */
static int cmd_config_render(const opts *o)
{
    if (o->npos < 3 || o->npos > 4) {
        fprintf(stderr, "Usage: tomo config render TEMPLATE [OUTPUT]\n");
        return 2;
    }
    const char *tpl = o->positional[2], *outp = o->npos == 4 ? o->positional[3] : NULL;
    size_t n = 0, on = 0;
    char *in = read_all(tpl, &n), *out = NULL, err[512];
    int rc = 1;
    if (!in) {
        fprintf(stderr, "config render: cannot read %s: %s\n", tpl, strerror(errno));
        return 1;
    }
    if (tomo_template_render(in, n, environ, &out, &on, err, sizeof(err)) < 0) {
        fprintf(stderr, "config render: %s: %s\n", tpl, err);
        goto out;
    }
    if (!outp) {
        rc = fwrite(out, 1, on, stdout) == on ? 0 : 1;
        goto out;
    }
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", outp, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "config render: cannot write %s: %s\n", tmp, strerror(errno));
        goto out;
    }
    fchmod(fileno(f), 0640);
    int bad = fwrite(out, 1, on, f) != on;
    bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    tomo_config chk;
    tomo_config_defaults(&chk);
    if (bad)
        fprintf(stderr, "config render: cannot write %s: %s\n", tmp, strerror(errno));
    else if (tomo_config_load_file(&chk, tmp, err, sizeof(err)) < 0) {
        fprintf(stderr, "config render: the rendered file is not a valid config: %s\n", err);
        bad = 1;
    } else if (rename(tmp, outp) < 0) {
        fprintf(stderr, "config render: cannot rename to %s: %s\n", outp, strerror(errno));
        bad = 1;
    }
    tomo_config_free(&chk);
    if (bad)
        unlink(tmp);
    else
        rc = 0;
out:
    free(in);
    free(out);
    return rc;
}

static int cmd_config(const opts *o)
{
    if (!o->help && o->npos >= 2 && !strcmp(o->positional[1], "render"))
        return cmd_config_render(o);
    if (o->help || o->npos < 2 || strcmp(o->positional[1], "check")) {
        fprintf(o->help ? stdout : stderr,
                "Usage: tomo config check [--config FILE] [--production] [--section.key VALUE]\n"
                "       tomo config render TEMPLATE [OUTPUT]\n\n"
                "check   validates the configuration, prints the effective config with secrets\n"
                "        redacted, and warns about every key still at its shipped default value.\n"
                "        With --production, default keys are errors.\n"
                "render  expands ${VAR} and ${VAR:-default} in TEMPLATE from the environment\n"
                "        ($$ is a literal $); an unset variable without a default is an error.\n"
                "        With OUTPUT, the file is replaced only if the result is a valid config.\n");
        return o->help ? 0 : 2;
    }
    tomo_config cfg;
    if (load_config(o, &cfg) < 0)
        return 1;
    char *y = tomo_config_dump_yaml(&cfg, 1);
    fputs(y, stdout);
    free(y);
    const char *names[16];
    size_t n = tomo_config_default_secrets(&cfg, names, 16);
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s: %s is set to its insecure default value; run `tomo keys generate`\n",
                o->production ? "error" : "warning", names[i]);
    if (o->production && n)
        rc = 1;
    if (tomo_serve_console_public(&cfg)) {
        if (cfg.console.allow_non_loopback)
            fprintf(stderr, "warning: console.address %s is not loopback "
                            "(console.allow_non_loopback); keep the port off public networks\n",
                    cfg.console.address);
        else if (o->production) {
            fprintf(stderr, "error: console.address %s is not a loopback address (set "
                            "console.allow_non_loopback: true to accept it)\n",
                    cfg.console.address);
            rc = 1;
        }
    }
    tomo_config_free(&cfg);
    return rc;
}

static int cmd_migrate(const opts *o)
{
    const char *sub = o->npos >= 2 ? o->positional[1] : NULL;
    if (o->help || !sub || (strcmp(sub, "up") && strcmp(sub, "status"))) {
        fprintf(o->help ? stdout : stderr,
                "Usage: tomo migrate up|status [--database.address ADDR]\n\n"
                "up      applies every pending migration (idempotent; safe to run from two\n"
                "        processes at once)\n"
                "status  prints the applied and latest schema versions; exits 1 if behind\n");
        return o->help ? 0 : 2;
    }
    tomo_config cfg;
    if (load_config(o, &cfg) < 0)
        return 1;
    char err[512];
    tomo_db *db = NULL;
    int rc = tomo_db_open(&cfg, &db, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "database error: %s\n", err);
        tomo_config_free(&cfg);
        return 1;
    }
    int exit_code = 0;
    if (!strcmp(sub, "up")) {
        int applied = 0;
        rc = tomo_migrate_up(db, &applied, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, "migrate up failed: %s\n", err);
            exit_code = 1;
        } else {
            int cur, latest;
            tomo_migrate_status(db, &cur, &latest, err, sizeof(err));
            printf("applied %d migration(s); schema version %d of %d\n", applied, cur, latest);
        }
    } else {
        int cur = 0, latest = 0;
        rc = tomo_migrate_status(db, &cur, &latest, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, "migrate status failed: %s\n", err);
            exit_code = 1;
        } else {
            printf("backend: %s\nschema version: %d\nlatest version: %d\nstatus: %s\n",
                   tomo_db_backend_name(db), cur, latest, cur >= latest ? "current" : "behind");
            if (cur < latest)
                exit_code = 1;
        }
    }
    tomo_db_close(db);
    tomo_config_free(&cfg);
    return exit_code;
}

/* GET /healthcheck on the local API port with a 2 s timeout. */
static int cmd_healthcheck(const opts *o)
{
    if (o->help) {
        printf("Usage: tomo healthcheck [--socket.port PORT]\n\nExits 0 when the server on this "
               "machine answers GET /healthcheck with 200, 1 otherwise.\n");
        return 0;
    }
    tomo_config cfg;
    if (load_config(o, &cfg) < 0)
        return 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)cfg.socket.port);
    const char *host = *cfg.socket.address && strcmp(cfg.socket.address, "0.0.0.0")
                           ? cfg.socket.address
                           : "127.0.0.1";
    inet_pton(AF_INET, host, &sa.sin_addr);
    int ok = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        const char req[] = "GET /healthcheck HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        if (write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1)) {
            char buf[256];
            ssize_t n = read(fd, buf, sizeof(buf) - 1);
            if (n > 12) {
                buf[n] = '\0';
                ok = !strncmp(buf, "HTTP/1.1 200", 12);
            }
        }
    }
    close(fd);
    /* host may point into cfg: report before freeing it. */
    if (!ok)
        fprintf(stderr, "unhealthy: no 200 from %s:%d/healthcheck\n", host, cfg.socket.port);
    tomo_config_free(&cfg);
    return ok ? 0 : 1;
}

static int cmd_serve(const opts *o)
{
    if (o->help) {
        printf("Usage: tomo [serve] [--config FILE] [--production] [--section.key VALUE]\n\n"
               "Runs the server: REST and WebSocket on socket.port (7350), WebSocket on\n"
               "socket.ws_port (7349), Prometheus metrics on metrics.prometheus_port (9100).\n"
               "With no database.address, data lives in SQLite under data_dir (./data).\n");
        return 0;
    }
    tomo_config cfg;
    char err[512];
    if (build_config(o, &cfg, err, sizeof(err)) < 0) {
        TOMO_LOGE(TOMO_MAIN, "config error: %s", err);
        fprintf(stderr, "config error: %s\n", err);
        tomo_config_free(&cfg);
        return 1;
    }
    int rc = tomo_serve(&cfg);
    tomo_config_free(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* glibc hands the top of a worker thread's heap back to the kernel
     * (madvise) whenever more than 128 KiB of it is free, and maps blocks
     * over 128 KiB afresh each time: a list page or a tick's buffers then
     * cost page faults and TLB shoot-downs across cores on every request.
     * Keep up to 8 MiB free per heap and serve blocks up to 4 MiB from it. */
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    const char *cmd = "serve";
    int start = 1;
    if (argc > 1 && argv[1][0] != '-') {
        cmd = argv[1];
        start = 1;
    }
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage_main(stdout);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "--version"))
        return cmd_version();
    opts o;
    memset(&o, 0, sizeof(o));
    char err[512];
    if (parse_opts(argc, argv, start, &o, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\nRun `tomo --help` for usage.\n", err);
        free_opts(&o);
        return 2;
    }
    int rc;
    if (!strcmp(cmd, "serve"))
        rc = cmd_serve(&o);
    else if (!strcmp(cmd, "migrate"))
        rc = cmd_migrate(&o);
    else if (!strcmp(cmd, "config"))
        rc = cmd_config(&o);
    else if (!strcmp(cmd, "keys"))
        rc = cmd_keys(&o);
    else if (!strcmp(cmd, "healthcheck"))
        rc = cmd_healthcheck(&o);
    else if (!strcmp(cmd, "version"))
        rc = o.help ? (printf("Usage: tomo version\n"), 0) : cmd_version();
    else if (!strcmp(cmd, "help")) {
        usage_main(stdout);
        rc = 0;
    } else {
        fprintf(stderr, "unknown command \"%s\"\n\n", cmd);
        usage_main(stderr);
        rc = 2;
    }
    free_opts(&o);
    return rc;
}
