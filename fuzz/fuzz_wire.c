/* libFuzzer target for the gossip wire codec (gossip/wire.c).
 *
 * Any input: rm_wire_frame_size and rm_wire_decode must return RM_OK or one
 * of the five wire errors, never crash or read out of bounds (ASan, UBSan).
 * An input that decodes: rm_wire_frame_size must agree with its size, its
 * payload, a HAVE's ids and an ITEMS' records must read back (ids rising
 * strictly, the records spanning exactly their bytes), and encoding the frame again must give back exactly
 * the input, since the format has one encoding per frame. Any mismatch
 * aborts. Small limits keep inputs short and the search fast.
 *   scripts/fuzz.sh wire 600 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/wire.h"

#define FRAME_MAX 4096
#define MODEL_N_MAX 512

static const rm_wire_limits lim = {FRAME_MAX, MODEL_N_MAX};
static rm_frame f;
static uint8_t again[FRAME_MAX];
static float vals[MODEL_N_MAX];
static float scales[MODEL_N_MAX];
/* A frame of FRAME_MAX bytes holds fewer ids (8 bytes each) or items (12
 * bytes at least) than these. */
static uint64_t ids[FRAME_MAX / 8];
static rm_wire_item items[FRAME_MAX / 12];

static int is_wire_error(int err) {
    return err == RM_EWIRE_TRUNCATED || err == RM_EWIRE_TOO_LARGE ||
           err == RM_EWIRE_BAD_VERSION || err == RM_EWIRE_BAD_TYPE ||
           err == RM_EWIRE_MALFORMED;
}

/* Decodes the payload (the caller's next step) and points the model's
 * encode-side arrays at the values, so that the frame can be encoded. */
static void payload_for_reencode(rm_wire_model *m) {
    if (m->encoding != RM_ENC_I8_DELTA) {
        if (m->nbytes != (size_t)m->n * 4)
            abort();
        rm_wire_payload_f32(m, vals);
        m->f32 = vals;
        return;
    }
    if (m->chunk == 0)
        abort();
    size_t ns = m->n / m->chunk + (m->n % m->chunk != 0);
    if (m->nbytes != ns * 4 + m->n)
        abort();
    for (size_t k = 0; k < ns; k++) {
        const uint8_t *p = m->bytes + 4 * k;
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        memcpy(&scales[k], &u, sizeof u);
    }
    rm_wire_payload_i8(m, vals);
    m->scales = scales;
    m->i8 = (const int8_t *)(m->bytes + 4 * ns);
}

/* A HAVE's ids and an ITEMS' records as the encoder takes them. The ids
 * must rise strictly: the decoder promised it. */
static void lists_for_reencode(rm_frame *fr) {
    if (fr->type == RM_FRAME_HAVE) {
        if (fr->u.have.nids > sizeof ids / sizeof ids[0] || fr->u.have.ids)
            abort();
        for (uint32_t i = 0; i < fr->u.have.nids; i++) {
            ids[i] = rm_wire_have_id(&fr->u.have, i);
            if (i && ids[i] <= ids[i - 1])
                abort();
        }
        fr->u.have.ids = ids;
    } else if (fr->type == RM_FRAME_ITEMS) {
        if (fr->u.items.count > sizeof items / sizeof items[0] || fr->u.items.items)
            abort();
        rm_wire_items_iter it;
        rm_wire_items_begin(&fr->u.items, &it);
        uint32_t n = 0;
        while (n <= fr->u.items.count && rm_wire_items_next(&it, &items[n])) {
            if (n && items[n].id <= items[n - 1].id)
                abort();
            n++;
        }
        if (n != fr->u.items.count || it.left != 0)
            abort();
        fr->u.items.items = items;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int64_t fs = rm_wire_frame_size(data, size, &lim);
    if (fs < 0 && !is_wire_error((int)fs))
        abort();
    rm_err err = rm_wire_decode(data, size, &lim, &f);
    if (err) {
        if (!is_wire_error(err))
            abort();
        return 0;
    }
    if (fs != (int64_t)size)
        abort();
    if (f.type == RM_FRAME_PUSH || f.type == RM_FRAME_PULL_REPLY)
        payload_for_reencode(&f.u.ex.model);
    lists_for_reencode(&f);
    if (rm_wire_encoded_size(&f) != size)
        abort();
    size_t len = 0;
    if (rm_wire_encode(&f, again, sizeof again, &len) != RM_OK || len != size ||
        memcmp(again, data, size) != 0)
        abort();
    return 0;
}
