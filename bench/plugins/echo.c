/* bench/plugins/echo.c: the C plugin twin of bench/modules/echo.lua (RPC
 * "plugin_echo" returns its payload), for comparing plugin and Lua RPCs.
 *   cc -shared -fPIC -O2 -Iinclude -o echo.so bench/plugins/echo.c */
#include <tomo/plugin.h>

#include <string.h>

static const tomo_host *H;

static int echo(void *ud, const tomo_ctx *ctx, const char *payload, size_t len, char **out,
                size_t *out_len, char **error)
{
    (void)ud, (void)ctx, (void)error;
    *out = H->alloc(len + 1);
    memcpy(*out, payload, len + 1);
    *out_len = len;
    return 0;
}

int tomo_plugin_init(const tomo_host *host, tomo_plugin *self)
{
    TOMO_PLUGIN_DECLARE(host, self, "bench-echo");
    H = host;
    return host->register_rpc(self, "plugin_echo", echo, NULL);
}
