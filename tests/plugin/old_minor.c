/* A plugin built against the frozen ABI 1.0 header (tests/plugin/abi-1.0):
 * it must load into every tomo of ABI major 1. */
#include <tomo/plugin.h>

#include <string.h>

static const tomo_host *H;

static int abi(void *ud, const tomo_ctx *ctx, const char *payload, size_t len, char **out,
               size_t *out_len, char **error)
{
    (void)ud, (void)ctx, (void)payload, (void)len, (void)error;
    char buf[96];
    int n = 0;
    const char *p = "built=1.0 host=";
    while (*p)
        buf[n++] = *p++;
    buf[n++] = (char)('0' + H->abi_major);
    buf[n++] = '.';
    buf[n++] = (char)('0' + H->abi_minor % 10);
    buf[n] = '\0';
    *out = tomo_host_strdup(H, buf);
    *out_len = strlen(*out);
    return 0;
}

int tomo_plugin_init(const tomo_host *host, tomo_plugin *self)
{
    TOMO_PLUGIN_DECLARE(host, self, "old-minor");
    H = host;
    return host->register_rpc(self, "old_abi", abi, NULL);
}
