/* core/log.h: structured logging as JSON lines on stdout.
 * Owns: the global log level and output descriptor.
 * Threads: any; each line is written with a single write(2).
 *
 * A message is "free text key=value key2=value2": the leading text becomes
 * "msg" and every trailing key=value token becomes a JSON field. Values of
 * keys that look secret (password, key, token, secret, signing) are replaced
 * by "<redacted>" so a careless call site cannot leak them. Identical lines
 * repeated in a burst are counted rather than all written (see
 * tomo_log_set_repeat_limit). */
#ifndef TOMO_CORE_LOG_H
#define TOMO_CORE_LOG_H

#include <stddef.h>

enum tomo_log_level { TOMO_LOG_DEBUG, TOMO_LOG_INFO, TOMO_LOG_WARNING, TOMO_LOG_ERROR, TOMO_LOG_FATAL };

#define TOMO_CORE "core"
#define TOMO_NET "net"
#define TOMO_STORE "store"
#define TOMO_API "api"
#define TOMO_RT "rt"
#define TOMO_RUNTIME "runtime"
#define TOMO_MAIN "main"

/* Parses "debug|info|warn|warning|error"; returns TOMO_EINVAL on other input. */
int tomo_log_parse_level(const char *s, enum tomo_log_level *out);
void tomo_log_set_level(enum tomo_log_level lvl);
enum tomo_log_level tomo_log_get_level(void);
/* Redirect output (default 1 = stdout). */
void tomo_log_set_fd(int fd);

void tomo_log(enum tomo_log_level lvl, const char *subsys, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define TOMO_LOG_DEBUG_ON() (tomo_log_get_level() <= TOMO_LOG_DEBUG)
#define TOMO_LOGD(sub, ...)                                                                        \
    do {                                                                                           \
        if (TOMO_LOG_DEBUG_ON())                                                                   \
            tomo_log(TOMO_LOG_DEBUG, sub, __VA_ARGS__);                                            \
    } while (0)
#define TOMO_LOGI(sub, ...) tomo_log(TOMO_LOG_INFO, sub, __VA_ARGS__)
#define TOMO_LOGW(sub, ...) tomo_log(TOMO_LOG_WARNING, sub, __VA_ARGS__)
#define TOMO_LOGE(sub, ...) tomo_log(TOMO_LOG_ERROR, sub, __VA_ARGS__)

/* Repeated identical lines (same level, subsystem, message and context): at
 * most `burst` per `window_ms`; the lines left out are reported as one line
 * (the same message with "repeated":"N") once the window has passed, with
 * the next log call. Default 10 per 10000 ms; burst 0 turns it off. Fatal
 * lines are never held back. */
void tomo_log_set_repeat_limit(unsigned burst, unsigned window_ms);

/* 1 if a key name denotes a secret whose value must never be printed. */
int tomo_log_key_is_secret(const char *key, size_t n);

#endif
