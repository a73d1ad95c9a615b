/* tests/fuzz/fuzz_http.c: libFuzzer target for the HTTP request path: raw
 * bytes on a connection to the real server (parser, limits, pipelining,
 * half-close, router, response ordering). */
#include "fuzz_net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    fuzz_net_init();
    fuzz_net_exchange("", 0, data, len);
    return 0;
}
