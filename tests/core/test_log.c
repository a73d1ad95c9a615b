/* tests/core/test_log.c: JSON lines, key=value context, secret redaction,
 * repeated-line limiting. */
#include "core/log.h"
#include "tt.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Read every line written to the pipe so far. */
static json_t *read_lines(int fd)
{
    static char buf[1 << 16];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    json_t *arr = json_array();
    for (char *p = buf, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
        *nl = '\0';
        json_array_append_new(arr, json_loads(p, 0, NULL));
    }
    return arr;
}

static void test_repeats(void)
{
    int fds[2];
    if (pipe(fds) < 0)
        abort();
    tomo_log_set_fd(fds[1]);
    tomo_log_set_repeat_limit(3, 200);
    for (int i = 0; i < 10; i++)
        TOMO_LOGW(TOMO_API, "database unavailable route=%s op=%s", "r", "acquire");
    TOMO_LOGW(TOMO_API, "database unavailable route=%s op=%s", "other", "acquire");
    json_t *a = read_lines(fds[0]);
    TT_EQ(json_array_size(a), 4); /* 3 of the burst, then the different line */
    TT_STR_EQ(json_string_value(json_object_get(json_array_get(a, 3), "route")), "other");
    TT_TRUE(json_object_get(json_array_get(a, 2), "repeated") == NULL);
    json_decref(a);
    usleep(250 * 1000);
    /* the window passed: the next line of any kind reports the 7 left out */
    TOMO_LOGI(TOMO_NET, "something else");
    a = read_lines(fds[0]);
    TT_EQ(json_array_size(a), 2);
    json_t *rep = json_array_get(a, 0);
    TT_STR_EQ(json_string_value(json_object_get(rep, "msg")), "database unavailable");
    TT_STR_EQ(json_string_value(json_object_get(rep, "route")), "r");
    TT_STR_EQ(json_string_value(json_object_get(rep, "level")), "warn");
    TT_STR_EQ(json_string_value(json_object_get(rep, "repeated")), "7");
    TT_STR_EQ(json_string_value(json_object_get(json_array_get(a, 1), "msg")), "something else");
    json_decref(a);
    /* a new window admits the line again, with nothing to report */
    TOMO_LOGW(TOMO_API, "database unavailable route=%s op=%s", "r", "acquire");
    a = read_lines(fds[0]);
    TT_EQ(json_array_size(a), 1);
    TT_TRUE(json_object_get(json_array_get(a, 0), "repeated") == NULL);
    json_decref(a);
    /* turned off: everything is written */
    tomo_log_set_repeat_limit(0, 0);
    for (int i = 0; i < 20; i++)
        TOMO_LOGW(TOMO_API, "same");
    a = read_lines(fds[0]);
    TT_EQ(json_array_size(a), 20);
    json_decref(a);
    tomo_log_set_fd(1);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    TT_RUN(test_fields);
    TT_RUN(test_redaction);
    TT_RUN(test_level);
    TT_RUN(test_repeats);
    return tt_finish();
}
