/* libFuzzer target for the snapshot codec (checkpoint/snapshot.c).
 *
 * Each input is decoded twice:
 *   1. as it is: the magic, format and hash checks see arbitrary bytes;
 *   2. with the magic and format forced valid and the hash recomputed over
 *      the rest, so that the section walker behind the hash is reached (a
 *      random input almost never hashes right).
 * Either way rm_snapshot_decode must return RM_OK or one of the checkpoint
 * errors, agree with rm_snapshot_verify, leave a zeroed snapshot on error,
 * and never crash, leak or read out of bounds (ASan, UBSan). A snapshot that
 * decodes must encode again to exactly the input bytes (the format has one
 * encoding per snapshot), with rm_snapshot_size equal to its length. Any
 * mismatch aborts.
 *   scripts/fuzz.sh snapshot 600 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "checkpoint/snapshot.h"

#define INPUT_MAX (1u << 16)

static uint8_t fixed[INPUT_MAX], again[INPUT_MAX];

static int is_ckpt_error(rm_err err) {
    return err == RM_ECKPT_MAGIC || err == RM_ECKPT_FORMAT || err == RM_ECKPT_HASH ||
           err == RM_ECKPT_CORRUPT;
}

static void check(const uint8_t *data, size_t size) {
    rm_snapshot s, hdr;
    rm_diag d;
    rm_err err = rm_snapshot_decode(data, size, &s, &d);
    if (rm_snapshot_verify(data, size, &hdr, NULL) != err || hdr.mem_ || hdr.params)
        abort();
    if (err) {
        if (!is_ckpt_error(err) || s.mem_ || s.params || s.nparams)
            abort();
        return;
    }
    if (!s.mem_ || !s.params || s.format != RM_SNAP_FORMAT || hdr.step != s.step ||
        strcmp(hdr.model, s.model) != 0)
        abort();
    if (rm_snapshot_size(&s) != size || size > sizeof again ||
        rm_snapshot_write(&s, again, size) != RM_OK || memcmp(again, data, size) != 0)
        abort();
    rm_snapshot_release(&s);
    if (s.mem_)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (sodium_init() < 0 || size > INPUT_MAX)
        return 0;
    check(data, size);
    if (size >= 12 + RM_SNAP_HASH_BYTES) {
        memcpy(fixed, data, size);
        memcpy(fixed, rm_snap_magic, RM_SNAP_MAGIC_BYTES);
        fixed[8] = RM_SNAP_FORMAT;
        fixed[9] = fixed[10] = fixed[11] = 0;
        size_t body = size - RM_SNAP_HASH_BYTES;
        crypto_generichash(fixed + body, RM_SNAP_HASH_BYTES, fixed, body, NULL, 0);
        check(fixed, size);
    }
    return 0;
}
