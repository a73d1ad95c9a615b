/* tests/core/test_log.c: JSON lines, key=value context, secret redaction. */
#include "core/log.h"
#include "tt.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static json_t *capture(void (*fn)(void))
{
    int fds[2];
    if (pipe(fds) < 0)
        abort();
    tomo_log_set_fd(fds[1]);
    fn();
    tomo_log_set_fd(1);
    close(fds[1]);
    char buf[4096];
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    buf[n > 0 ? n : 0] = '\0';
    return json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
}

static void emit_plain(void) { TOMO_LOGI(TOMO_NET, "listening port=%d address=%s", 7350, "0.0.0.0"); }
static void emit_secret(void)
{
    TOMO_LOGW(TOMO_MAIN, "bad login server_key=hunter2 password=pw user=bob");
}
static void emit_debug(void) { TOMO_LOGD(TOMO_NET, "hidden"); }

static void test_fields(void)
{
    json_t *j = capture(emit_plain);
    TT_TRUE(j != NULL);
    TT_STR_EQ(json_string_value(json_object_get(j, "level")), "info");
    TT_STR_EQ(json_string_value(json_object_get(j, "msg")), "listening");
    TT_STR_EQ(json_string_value(json_object_get(j, "subsys")), "net");
    TT_STR_EQ(json_string_value(json_object_get(j, "port")), "7350");
    TT_TRUE(json_object_get(j, "ts") != NULL);
    json_decref(j);
}

static void test_redaction(void)
{
    json_t *j = capture(emit_secret);
    TT_STR_EQ(json_string_value(json_object_get(j, "server_key")), "<redacted>");
    TT_STR_EQ(json_string_value(json_object_get(j, "password")), "<redacted>");
    TT_STR_EQ(json_string_value(json_object_get(j, "user")), "bob");
    char *dump = json_dumps(j, 0);
    TT_TRUE(strstr(dump, "hunter2") == NULL);
    free(dump);
    json_decref(j);
}

static void test_level(void)
{
    tomo_log_set_level(TOMO_LOG_INFO);
    json_t *j = capture(emit_debug);
    TT_TRUE(j == NULL);
    enum tomo_log_level l;
    TT_OK(tomo_log_parse_level("warn", &l));
    TT_EQ(l, TOMO_LOG_WARNING);
    TT_EQ(tomo_log_parse_level("loud", &l), -1);
}

int main(void)
{
    TT_RUN(test_fields);
    TT_RUN(test_redaction);
    TT_RUN(test_level);
    return tt_finish();
}
