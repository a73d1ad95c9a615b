/* tests/fuzz/fuzz_envelope.c: libFuzzer target for the realtime JSON
 * envelope decode: JSON text -> normalize against nakama.realtime.Envelope
 * (what the server runs on text frames) and, when valid, -> protobuf -> JSON
 * again, which must give the same canonical tree. */
#include <stdint.h>
#include <jansson.h>
#include <stdlib.h>

#include "codec/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    json_t *in = json_loadb((const char *)data, len, JSON_DECODE_ANY, NULL);
    if (!in)
        return 0;
    const ProtobufCMessageDescriptor *d = tomo_codec_envelope_desc();
    char err[256];
    json_t *norm = NULL;
    if (tomo_codec_json_normalize(d, in, &norm, err, sizeof(err)) == 0) {
        uint8_t *pb = NULL;
        size_t n = 0;
        if (tomo_codec_json_to_pb(d, in, &pb, &n, err, sizeof(err)) != 0)
            abort(); /* normalize accepted what encode refuses */
        json_t *back = NULL;
        if (tomo_codec_pb_to_json(d, pb, n, &back) != 0 || !json_equal(back, norm))
            abort(); /* the round trip must be exact */
        json_decref(back);
        free(pb);
        json_decref(norm);
    }
    /* REST semantics: unknown keys ignored */
    uint8_t *pb = NULL;
    size_t n = 0;
    if (tomo_codec_json_to_pb_ex(d, in, TOMO_CODEC_IGNORE_UNKNOWN, &pb, &n, err, sizeof(err)) == 0)
        free(pb);
    json_decref(in);
    return 0;
}
