/* A plugin that claims ABI major 2: tomo (major 1) must refuse it with a
 * message naming both versions. */
#include <tomo/plugin.h>

int tomo_plugin_init(const tomo_host *host, tomo_plugin *self)
{
    int rc = host->declare(self, 2, 0, "future");
    if (rc)
        return rc;
    return 0;
}
