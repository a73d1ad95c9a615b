/* tests/core/test_config.c: defaults, YAML, env and flag precedence, errors. */
#include "core/common.h"
#include "core/config.h"
#include "tt.h"

#include <stdlib.h>
#include <unistd.h>

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/tomo_cfg_XXXXXX");
    int fd = mkstemp(path);
    if (write(fd, text, strlen(text)) < 0)
        abort();
    close(fd);
    return path;
}

static void test_defaults(void)
{
    tomo_config c;
    tomo_config_defaults(&c);
    TT_EQ(c.socket.port, 7350);
    TT_STR_EQ(c.socket.server_key, "defaultkey");
    TT_EQ(c.session.token_expiry_sec, 60);
    TT_EQ(c.session.refresh_token_expiry_sec, 3600);
    TT_EQ(c.socket.max_request_size_bytes, 262144);
    TT_EQ(c.database.max_open_conns, 100);
    TT_EQ(c.metrics.prometheus_port, 9100);
    TT_STR_EQ(c.console.address, "127.0.0.1");
    char err[256];
    TT_OK(tomo_config_validate(&c, err, sizeof(err)));
    const char *names[8];
    TT_EQ(tomo_config_default_secrets(&c, names, 8), 6);
    tomo_config_free(&c);
}

static void test_yaml_and_precedence(void)
{
    char *f = write_tmp("name: node1\nsocket:\n  port: 8000\n  server_key: filekey\n"
                        "session:\n  token_expiry_sec: 7200\nruntime:\n  env:\n    - a=b\n    - c=d\n");
    tomo_config c;
    tomo_config_defaults(&c);
    char err[256] = "";
    TT_OK(tomo_config_load_file(&c, f, err, sizeof(err)));
    TT_STR_EQ(c.name, "node1");
    TT_EQ(c.socket.port, 8000);
    TT_EQ(c.session.token_expiry_sec, 7200);
    TT_EQ(c.runtime.env.n, 2);
    TT_STR_EQ(c.runtime.env.v[1], "c=d");
    /* env beats file */
    char *envp[] = {"TOMO_SOCKET_PORT=9000", "TOMO_SOCKET_SERVER_KEY=envkey", "PATH=/bin", NULL};
    TT_OK(tomo_config_apply_env(&c, envp, err, sizeof(err)));
    TT_EQ(c.socket.port, 9000);
    TT_STR_EQ(c.socket.server_key, "envkey");
    /* flags beat env */
    TT_OK(tomo_config_set(&c, "socket.port", "9100", err, sizeof(err)));
    TT_EQ(c.socket.port, 9100);
    tomo_config_free(&c);
    unlink(f);
    free(f);
}

static void test_errors(void)
{
    static const struct {
        const char *yaml;
        const char *want;
    } cases[] = {
        {"socket:\n  prot: 1\n", "unknown config key \"socket.prot\""},
        {"socket:\n  port: abc\n", "socket.port: expected integer"},
        {"socket:\n  port: 70000\n", "out of range"},
        {"session:\n  single_socket: maybe\n", "expected boolean"},
        {"bogus: 1\n", "unknown config key \"bogus\""},
        {"socket: [1, 2\n", "YAML error"},
        {"socket:\n  port: [1]\n", "expected integer, got a list"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *f = write_tmp(cases[i].yaml);
        tomo_config c;
        tomo_config_defaults(&c);
        char err[256] = "";
        TT_EQ(tomo_config_load_file(&c, f, err, sizeof(err)), TOMO_EINVAL);
        TT_CONTAINS(err, cases[i].want);
        tomo_config_free(&c);
        unlink(f);
        free(f);
    }
    tomo_config c;
    tomo_config_defaults(&c);
    char err[256] = "";
    TT_EQ(tomo_config_set(&c, "nope.key", "1", err, sizeof(err)), TOMO_EINVAL);
    TT_CONTAINS(err, "unknown config key \"nope.key\"");
    char *envp[] = {"TOMO_SOCKET_PORT=x", NULL};
    TT_EQ(tomo_config_apply_env(&c, envp, err, sizeof(err)), TOMO_EINVAL);
    TT_CONTAINS(err, "TOMO_SOCKET_PORT");
    tomo_config_free(&c);
}

static void test_validate(void)
{
    tomo_config c;
    tomo_config_defaults(&c);
    char err[256];
    TT_OK(tomo_config_set(&c, "session.refresh_encryption_key", "defaultencryptionkey", err,
                          sizeof(err)));
    TT_EQ(tomo_config_validate(&c, err, sizeof(err)), TOMO_EINVAL);
    TT_CONTAINS(err, "must differ");
    tomo_config_free(&c);
    tomo_config_defaults(&c);
    TT_OK(tomo_config_set(&c, "socket.ping_period_ms", "30000", err, sizeof(err)));
    TT_EQ(tomo_config_validate(&c, err, sizeof(err)), TOMO_EINVAL);
    TT_CONTAINS(err, "ping_period_ms");
    tomo_config_free(&c);
    tomo_config_defaults(&c);
    TT_OK(tomo_config_set(&c, "socket.ssl_certificate", "/etc/cert.pem", err, sizeof(err)));
    TT_EQ(tomo_config_validate(&c, err, sizeof(err)), TOMO_EINVAL);
    TT_CONTAINS(err, "set both (PEM files) or neither");
    TT_OK(tomo_config_set(&c, "socket.ssl_private_key", "/etc/key.pem", err, sizeof(err)));
    TT_OK(tomo_config_validate(&c, err, sizeof(err)));
    tomo_config_free(&c);
}

static void test_dump_redacts(void)
{
    tomo_config c;
    tomo_config_defaults(&c);
    char err[256];
    TT_OK(tomo_config_set(&c, "socket.server_key", "supersecret123", err, sizeof(err)));
    TT_OK(tomo_config_set(&c, "database.address", "postgres://u:pw123@h:5432/db", err, sizeof(err)));
    /* A second address with the password as a URL parameter (`config check
     * --database.address 'postgres://u@h/db?password=hunter2'` printed it). */
    TT_OK(tomo_config_set(&c, "database.address", "postgres://u@h/db?password=hunter2", err,
                          sizeof(err)));
    char *y = tomo_config_dump_yaml(&c, 1);
    TT_TRUE(strstr(y, "supersecret123") == NULL);
    TT_TRUE(strstr(y, "pw123") == NULL);
    TT_TRUE(strstr(y, "hunter2") == NULL);
    TT_CONTAINS(y, "postgres://u@h/db?password=<redacted>");
    TT_CONTAINS(y, "server_key: \"<redacted>\"");
    TT_CONTAINS(y, "port: 7350");
    free(y);
    tomo_config_free(&c);
}

int main(void)
{
    TT_RUN(test_defaults);
    TT_RUN(test_yaml_and_precedence);
    TT_RUN(test_errors);
    TT_RUN(test_validate);
    TT_RUN(test_dump_redacts);
    return tt_finish();
}
