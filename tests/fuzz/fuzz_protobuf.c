/* tests/fuzz/fuzz_protobuf.c: libFuzzer target for protobuf transcoding:
 * wire bytes -> JSON (binary socket frames) for the envelope and, chosen by
 * the first byte, one of the API messages; a decoded tree must encode again
 * and decode to the same tree. */
#include <stdint.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static const char *const NAMES[] = {
    "nakama.realtime.Envelope",       "nakama.realtime.MatchDataSend",
    "nakama.realtime.ChannelJoin",    "nakama.api.Notification",
    "nakama.api.WriteStorageObjects", "nakama.api.ReadStorageObjectsRequest",
    "nakama.api.Account",             "google.protobuf.Timestamp",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (!len)
        return 0;
    const ProtobufCMessageDescriptor *d =
        tomo_codec_desc_by_name(NAMES[data[0] % (sizeof(NAMES) / sizeof(NAMES[0]))]);
    if (!d)
        d = tomo_codec_envelope_desc();
    json_t *j = NULL;
    if (tomo_codec_pb_to_json(d, data + 1, len - 1, &j) == 0) {
        uint8_t *pb = NULL;
        size_t n = 0;
        char err[256];
        if (tomo_codec_json_to_pb(d, j, &pb, &n, err, sizeof(err)) != 0)
            abort(); /* what we render we must accept */
        json_t *back = NULL;
        if (tomo_codec_pb_to_json(d, pb, n, &back) != 0 || !json_equal(back, j))
            abort();
        json_decref(back);
        free(pb);
        json_decref(j);
    }
    return 0;
}
