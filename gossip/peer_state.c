/* What a checkpoint keeps of a peer core besides its parameters, as two
 * blobs (little-endian, explicit widths):
 *
 *   state: "RMPS" u32 format=1 | u32 n | u64 version | u64 steps |
 *          u64 samples | u64 age_samples | u64 weight | u32 nentries |
 *          nentries x (32 id | u64 incarnation | u32 age |
 *                      u64 last_version | u8 addr_len | addr)
 *   bases: "RMPB" u32 format=1 | u32 n | u32 nbases |
 *          nbases x (32 peer | u64 id | n x f32)
 *
 * The checkpoint hashes both, so a bad blob here means a bug or a file from
 * another model; every length is still checked before it is read. */
#include <stdlib.h>
#include <string.h>

#include "base/le.h"
#include "base/str.h"
#include "gossip/peer.h"
#include "gossip/peer_internal.h"

#define STATE_MAGIC 0x53504d52u /* "RMPS" */
#define BASES_MAGIC 0x42504d52u /* "RMPB" */
#define STATE_FORMAT 1u
#define STATE_FIXED (4 + 4 + 4 + 5 * 8 + 4)
#define ENTRY_FIXED (RM_ID_BYTES + 8 + 4 + 8 + 1)

typedef struct {
    const uint8_t *p;
    size_t left;
    bool bad;
} reader;

static const uint8_t *take(reader *r, size_t n) {
    if (r->bad || r->left < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *at = r->p;
    r->p += n;
    r->left -= n;
    return at;
}

static uint64_t get(reader *r, int bytes) {
    const uint8_t *at = take(r, (size_t)bytes);
    if (!at)
        return 0;
    return bytes == 8 ? rm_le_get64(at) : bytes == 4 ? rm_le_get32(at) : at[0];
}

rm_err rm_peer_save_state(const rm_peer *p, uint8_t **state, size_t *state_len,
                          uint8_t **bases, size_t *bases_len) {
    *state = *bases = NULL;
    *state_len = *bases_len = 0;
    size_t len = STATE_FIXED;
    for (uint32_t i = 0; i < p->view.len; i++)
        len += ENTRY_FIXED + strlen(p->view.e[i].addr);
    uint8_t *s = malloc(len);
    if (!s)
        return RM_ENOMEM;
    uint8_t *w = rm_le_put32(s, STATE_MAGIC);
    w = rm_le_put32(w, STATE_FORMAT);
    w = rm_le_put32(w, p->cfg.n);
    w = rm_le_put64(w, p->version);
    w = rm_le_put64(w, p->st.steps);
    w = rm_le_put64(w, p->st.samples);
    w = rm_le_put64(w, p->age_samples);
    w = rm_le_put64(w, p->weight);
    w = rm_le_put32(w, p->view.len);
    for (uint32_t i = 0; i < p->view.len; i++) {
        const rm_view_entry *e = &p->view.e[i];
        size_t alen = strlen(e->addr);
        memcpy(w, e->id, RM_ID_BYTES);
        w = rm_le_put64(w + RM_ID_BYTES, e->incarnation);
        w = rm_le_put32(w, rm_view_age(&p->view, e));
        w = rm_le_put64(w, e->last_version);
        *w++ = (uint8_t)alen;
        memcpy(w, e->addr, alen);
        w += alen;
    }

    uint32_t nb = 0;
    for (uint32_t i = 0; p->bases && i < p->cfg.delta_bases_max; i++)
        nb += p->bases[i].v && p->bases[i].id != 0;
    size_t vec = (size_t)p->cfg.n * sizeof(float);
    size_t blen = 16 + (size_t)nb * (RM_ID_BYTES + 8 + vec);
    uint8_t *b = malloc(blen);
    if (!b) {
        free(s);
        return RM_ENOMEM;
    }
    w = rm_le_put32(b, BASES_MAGIC);
    w = rm_le_put32(w, STATE_FORMAT);
    w = rm_le_put32(w, p->cfg.n);
    w = rm_le_put32(w, nb);
    for (uint32_t i = 0; nb && i < p->cfg.delta_bases_max; i++) {
        const rm_base *base = &p->bases[i];
        if (!base->v || base->id == 0)
            continue;
        memcpy(w, base->peer, RM_ID_BYTES);
        w = rm_le_put64(w + RM_ID_BYTES, base->id);
        for (uint32_t k = 0; k < p->cfg.n; k++)
            w = rm_le_putf32(w, base->v[k]);
    }
    *state = s;
    *state_len = len;
    *bases = b;
    *bases_len = blen;
    return RM_OK;
}

static rm_err restore_view(rm_peer *p, reader *r) {
    uint32_t nentries = (uint32_t)get(r, 4);
    for (uint32_t i = 0; i < nentries && !r->bad; i++) {
        const uint8_t *id = take(r, RM_ID_BYTES);
        uint64_t inc = get(r, 8);
        uint32_t age = (uint32_t)get(r, 4);
        uint64_t last_version = get(r, 8);
        size_t alen = (size_t)get(r, 1);
        const uint8_t *a = take(r, alen);
        if (r->bad || alen > RM_VIEW_ADDR_MAX || memchr(a, 0, alen))
            return RM_EPEER_STATE;
        char addr[RM_VIEW_ADDR_MAX + 1];
        memcpy(addr, a, alen);
        addr[alen] = '\0';
        if (memcmp(id, p->cfg.id, RM_ID_BYTES) == 0)
            continue;
        rm_view_entry *e = rm_view_learn(&p->view, id, addr, inc, age, true);
        if (e)
            e->last_version = last_version;
    }
    return r->bad || r->left ? RM_EPEER_STATE : RM_OK;
}

static rm_err restore_bases(rm_peer *p, reader *r) {
    if (get(r, 4) != BASES_MAGIC || get(r, 4) != STATE_FORMAT ||
        get(r, 4) != p->cfg.n || r->bad)
        return RM_EPEER_STATE;
    uint32_t nb = (uint32_t)get(r, 4);
    size_t vec = (size_t)p->cfg.n * sizeof(float);
    if (r->bad || (uint64_t)nb * (RM_ID_BYTES + 8 + vec) != r->left)
        return RM_EPEER_STATE;
    for (uint32_t i = 0; i < nb; i++) {
        const uint8_t *peer = take(r, RM_ID_BYTES);
        uint64_t id = get(r, 8);
        const uint8_t *v = take(r, vec);
        if (!p->cfg.delta)
            continue; /* deltas were turned off since: nothing to keep */
        rm_base *b = peer_base_slot(p, peer);
        if (!b)
            return RM_ENOMEM;
        for (uint32_t k = 0; k < p->cfg.n; k++)
            b->v[k] = rm_le_getf32(v + 4 * (size_t)k);
        b->id = id;
        b->used = ++p->clock;
    }
    return RM_OK;
}

rm_err rm_peer_restore_state(rm_peer *p, const uint8_t *state, size_t state_len,
                             const uint8_t *bases, size_t bases_len) {
    reader r = {state, state_len, false};
    if (get(&r, 4) != STATE_MAGIC || get(&r, 4) != STATE_FORMAT ||
        get(&r, 4) != p->cfg.n || r.bad)
        return RM_EPEER_STATE;
    uint64_t version = get(&r, 8), steps = get(&r, 8), samples = get(&r, 8);
    uint64_t age_samples = get(&r, 8), weight = get(&r, 8);
    rm_err err = restore_view(p, &r);
    if (err)
        return err;
    if (bases && bases_len) {
        reader rb = {bases, bases_len, false};
        if ((err = restore_bases(p, &rb)))
            return err;
    }
    p->version = version;
    p->st.steps = steps;
    /* A training peer asked for its first step when it was created; if the
     * saved peer had taken all its steps, take that request back. */
    if (p->stepping && p->cfg.max_steps && steps >= p->cfg.max_steps)
        peer_cancel_step(p);
    p->st.samples = samples;
    p->age_samples = age_samples;
    p->weight = weight;
    return RM_OK;
}
