/* tests/fuzz/fuzz_ws.c: libFuzzer target for WebSocket framing: a valid
 * upgrade request, then the input as client frames (masking, fragmentation,
 * control frames, UTF-8 checks, close handshake, size limit, echo). */
#include <string.h>

#include "fuzz_net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static const char HANDSHAKE[] = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                "Sec-WebSocket-Version: 13\r\n\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    fuzz_net_init();
    fuzz_net_exchange(HANDSHAKE, sizeof(HANDSHAKE) - 1, data, len);
    return 0;
}
