/* The peer core's model side: the delta bases it shares with neighbours,
 * the local model as it goes out (whole or as a delta), and an incoming
 * model's checks and merge into the learner's buffer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/peer_internal.h"

/* ---- delta bases -------------------------------------------------------- */

rm_base *peer_find_base(rm_peer *p, const uint8_t *peer) {
    for (uint32_t i = 0; i < p->nbases; i++)
        if (memcmp(p->bases[i].peer, peer, RM_ID_BYTES) == 0)
            return &p->bases[i];
    return NULL;
}

/* The base slot for peer, evicting the least recently used when full. */
rm_base *peer_base_slot(rm_peer *p, const uint8_t *peer) {
    rm_base *b = peer_find_base(p, peer);
    if (b)
        return b;
    if (p->nbases < p->cfg.delta_bases_max) {
        b = &p->bases[p->nbases];
        if (!b->v && !(b->v = malloc((size_t)p->cfg.n * sizeof(float))))
            return NULL;
        p->nbases++;
    } else {
        b = &p->bases[0];
        for (uint32_t i = 1; i < p->nbases; i++)
            if (p->bases[i].used < b->used)
                b = &p->bases[i];
    }
    memcpy(b->peer, peer, RM_ID_BYTES);
    b->id = 0;
    return b;
}

void peer_drop_base(rm_peer *p, const uint8_t *peer) {
    rm_base *b = peer_find_base(p, peer);
    if (b)
        b->id = 0;
}

/* Fills m with the local model for `peer`: a delta against the base with
 * id `base_id` when deltas are on and that base is held, else the whole
 * model. When `rebase` is not NULL, the vector the receiver will
 * reconstruct is written there (it becomes the next shared base). Returns
 * the base id used (0: a key frame). */
uint64_t peer_fill_model(rm_peer *p, const uint8_t *peer, uint64_t base_id,
                           rm_wire_model *m, float *rebase) {
    const uint32_t n = p->cfg.n;
    memset(m, 0, sizeof *m);
    m->n = n;
    rm_base *b = base_id ? peer_find_base(p, peer) : NULL;
    if (!p->cfg.delta || !b || b->id != base_id) {
        m->encoding = RM_ENC_F32;
        m->f32 = p->cfg.params;
        if (rebase)
            memcpy(rebase, p->cfg.params, (size_t)n * sizeof(float));
        return 0;
    }
    b->used = ++p->clock;
    rm_vec_sub(p->dscratch, p->cfg.params, b->v, n);
    if (p->cfg.delta_int8) {
        rm_vec_quantize_i8(p->dscratch, delta_q(p), delta_scales(p), n,
                           p->cfg.delta_chunk);
        m->encoding = RM_ENC_I8_DELTA;
        m->chunk = p->cfg.delta_chunk;
        m->i8 = delta_q(p);
        m->scales = delta_scales(p);
    } else {
        m->encoding = RM_ENC_F32_DELTA;
        m->f32 = p->dscratch;
    }
    if (rebase) { /* exactly what the receiver computes: base + delta */
        if (rebase != b->v)
            memcpy(rebase, b->v, (size_t)n * sizeof(float));
        rm_vec_add(rebase, p->dscratch, n);
    }
    return base_id;
}

/* ---- incoming models ---------------------------------------------------- */


/* Is this host little-endian (the wire's order)? Then a key frame's payload
 * is merged straight from the frame, without a copy. */
static bool host_le(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* The local model's sum of squares, recomputed every 16 model versions: a
 * bound of 100x does not need it fresher, and the pass over the model
 * cost as much as the merge itself. */
static double local_sumsq(rm_peer *p) {
    if (p->sumsq_version == 0 || p->version + 1 >= p->sumsq_version + 16) {
        p->sumsq = rm_vec_sumsq(p->cfg.params, p->cfg.n);
        p->sumsq_version = p->version + 1;
    }
    return p->sumsq;
}

/* Points p->y at the incoming model (decoding deltas into p->scratch, base
 * added) and checks it: shape, finite values, norm bound, staleness. */
peer_model_status peer_take_model(rm_peer *p, const uint8_t *from,
                               const rm_wire_exchange *ex) {
    const rm_wire_model *m = &ex->model;
    const uint32_t n = p->cfg.n;
    float *y = p->scratch;
    if (m->n != n) {
        p->st.refused_shape++;
        return MODEL_REFUSED;
    }
    p->y = (const uint8_t *)y;
    if (m->encoding == RM_ENC_F32) {
        if (host_le())
            p->y = m->bytes;
        else
            rm_wire_payload_f32(m, y);
    } else {
        rm_base *b = peer_find_base(p, from);
        if (!p->cfg.delta || !b || b->id == 0 || b->id != ex->base)
            return MODEL_NEED_FULL;
        if (m->encoding == RM_ENC_F32_DELTA)
            rm_wire_payload_f32(m, y);
        else
            rm_wire_payload_i8(m, y);
        rm_vec_add(y, b->v, n);
    }
    double ny = rm_vec_sumsq_u(p->y, n);
    if (!isfinite(ny)) {
        p->st.refused_nonfinite++;
        return MODEL_REFUSED;
    }
    if (p->cfg.norm_ratio_max > 0.0 &&
        sqrt(ny) > p->cfg.norm_ratio_max * sqrt(local_sumsq(p)) + p->cfg.norm_abs_max) {
        p->st.refused_norm++;
        return MODEL_REFUSED;
    }
    if (p->cfg.merge == RM_MERGE_PAIRWISE && !(ex->weight >= 0.0 && ex->weight <= 0.5)) {
        p->st.refused_weight++; /* a share beyond 1/2 would overshoot */
        return MODEL_REFUSED;
    }
    rm_view_entry *e = rm_view_find(&p->view, from);
    if (e) {
        if (p->cfg.stale_versions_max &&
            ex->version + p->cfg.stale_versions_max < e->last_version) {
            p->st.refused_stale++;
            return MODEL_REFUSED;
        }
        if (ex->version > e->last_version)
            e->last_version = ex->version;
    }
    return MODEL_OK;
}

/* Counts a partner's model merged; a peer waiting for one (steps_per_merge)
 * may step again. */
static void merged(rm_peer *p) {
    p->version++;
    p->st.merges++;
    p->steps_unmerged = 0;
    p->merge_waiting = false;
}

/* Merges p->y (the model `ex` carried) into the parameters. `sent`: this is
 * the reply to our own PUSH, which carried that model (NULL otherwise).
 * Pairwise averaging then moves our model by the share w (1/2 with one
 * exchange in flight) of the difference between the reply and what we
 * sent, not what we hold now: the responder moved by exactly the opposite,
 * so the sum over the swarm is conserved even when our model changed in
 * between (a step, another exchange). Averaging to the current model
 * instead let the agreed value drift up to 5% of the spread with 20 ms
 * links. */
void peer_merge_model(rm_peer *p, const rm_wire_exchange *ex, const float *sent) {
    float a = 0.5f, b = 0.5f;
    if (p->cfg.merge == RM_MERGE_PAIRWISE) {
        /* The PUSH names the share both sides move by (0: one half), and
         * its reply echoes it. */
        b = ex->weight == 0.0 ? 0.5f : (float)ex->weight;
        a = 1.0f - b;
        if (sent) {
            rm_vec_pairwise_u(p->cfg.params, p->y, sent, b, p->cfg.n);
            merged(p);
            return;
        }
    } else if (p->cfg.merge == RM_MERGE_AGE) {
        double sx = (double)p->age_samples, sy = (double)ex->samples;
        if (sx + sy > 0.0) {
            a = (float)(sx / (sx + sy));
            b = 1.0f - a;
        }
        if (ex->samples > p->age_samples)
            p->age_samples = ex->samples;
    } else if (p->cfg.merge == RM_MERGE_PUSHSUM) {
        uint64_t wy = (uint64_t)ex->weight;
        uint64_t total = p->weight + wy;
        if (total == 0)
            return;
        a = (float)((double)p->weight / (double)total);
        b = 1.0f - a;
        p->weight = total;
    }
    rm_vec_axpby_u(p->cfg.params, p->y, a, b, p->cfg.n);
    merged(p);
}

/* A rejoining peer's merge of the fresh model it pulled: each side weighs
 * by the samples behind it, so a checkpoint far behind the swarm counts for
 * little and one that is close keeps its share, whatever the merge rule. */
void peer_merge_stale(rm_peer *p, const rm_wire_exchange *ex) {
    double sx = (double)p->age_samples, sy = (double)ex->samples;
    float a = sx + sy > 0.0 ? (float)(sx / (sx + sy)) : 0.5f;
    rm_vec_axpby_u(p->cfg.params, p->y, a, 1.0f - a, p->cfg.n);
    if (ex->samples > p->age_samples)
        p->age_samples = ex->samples;
    merged(p);
}

/* Stores p->y as the base shared with `peer` under `id`. */
void peer_keep_base(rm_peer *p, const uint8_t *peer, uint64_t id) {
    if (!p->cfg.delta)
        return;
    rm_base *b = peer_base_slot(p, peer);
    if (!b)
        return;
    memcpy(b->v, p->y, (size_t)p->cfg.n * sizeof(float));
    b->id = id;
    b->used = ++p->clock;
}

