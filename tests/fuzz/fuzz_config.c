/* tests/fuzz/fuzz_config.c: libFuzzer target for config parsing: the input
 * as a YAML config file (Nakama's keys, libyaml), then validation. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-config", 0);
        if (fd < 0)
            return 0;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) < 0 || pwrite(fd, data, len, 0) != (ssize_t)len)
        return 0;
    tomo_config cfg;
    tomo_config_defaults(&cfg);
    char err[512];
    if (tomo_config_load_file(&cfg, path, err, sizeof(err)) == 0)
        tomo_config_validate(&cfg, err, sizeof(err));
    tomo_config_free(&cfg);
    return 0;
}
