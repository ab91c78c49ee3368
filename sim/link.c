#include "sim/link.h"

#include <assert.h>

/* Durations in us are capped here, far beyond any run (2^62 us is 146,000
 * years), so that sums of a few of them cannot wrap. */
#define RM_LINK_US_MAX (UINT64_C(1) << 62)

static inline uint64_t us_from(double us) {
    /* us >= 0 always (dist draws are never negative); + 0.5 rounds. */
    return us < (double)RM_LINK_US_MAX ? (uint64_t)(us + 0.5) : RM_LINK_US_MAX;
}

static inline uint64_t add_sat(uint64_t a, uint64_t b) {
    uint64_t c = a + b;
    return c < a ? UINT64_MAX : c;
}

void rm_link_model_ideal(rm_link_model *m) {
    *m = (rm_link_model){
        .latency = {.kind = RM_DIST_CONST, .a = 0, .b = 0},
        .jitter = {.kind = RM_DIST_CONST, .a = 0, .b = 0},
        .bandwidth_bps = 0,
        .loss = 0,
        .ge_on = false,
        .ge_p_good_bad = 0,
        .ge_p_bad_good = 0,
        .ge_loss_good = 0,
        .ge_loss_bad = 0,
        .duplicate = 0,
        .reorder = 0,
    };
}

int rm_link_send(const rm_link_model *m, rm_link_state *s, uint64_t now_us,
                 uint64_t bytes, rm_rng *rng, uint64_t arrive_us[2]) {
    assert(m->loss >= 0 && m->loss <= 1);
    assert(m->duplicate >= 0 && m->duplicate <= 1);
    assert(m->reorder >= 0 && m->reorder <= 1);
    assert(m->bandwidth_bps >= 0);

    /* Every call makes the same draws in the same order, whatever the
     * probabilities and whatever happens to the message (see link.h), so
     * that turning one knob does not reshuffle every later fate. */
    double u_ge_step = rm_rng_double(rng);
    double u_ge_loss = rm_rng_double(rng);
    double u_loss = rm_rng_double(rng);
    double u_reorder = rm_rng_double(rng);
    double u_dup = rm_rng_double(rng);
    double latency_ms = rm_dist_sample(&m->latency, rng);
    double jitter_ms = rm_dist_sample(&m->jitter, rng);
    double dup_latency_ms = rm_dist_sample(&m->latency, rng);

    bool lost = u_loss < m->loss;
    if (m->ge_on) {
        if (s->ge_bad)
            s->ge_bad = !(u_ge_step < m->ge_p_bad_good);
        else
            s->ge_bad = u_ge_step < m->ge_p_good_bad;
        double p = s->ge_bad ? m->ge_loss_bad : m->ge_loss_good;
        lost = lost || u_ge_loss < p;
    }

    /* A lost message was still put on the wire (the network dropped it
     * later), so it holds the sender's bandwidth all the same. */
    uint64_t start = now_us > s->busy_until_us ? now_us : s->busy_until_us;
    uint64_t wire_us = 0;
    if (m->bandwidth_bps > 0)
        wire_us = us_from((double)bytes * 1e6 / m->bandwidth_bps);
    uint64_t sent = add_sat(start, wire_us);
    s->busy_until_us = sent;
    if (lost)
        return 0;

    uint64_t arrive = add_sat(sent, us_from((latency_ms + jitter_ms) * 1e3));
    if (!(u_reorder < m->reorder) && arrive < s->last_arrival_us)
        arrive = s->last_arrival_us;
    /* max, not assignment: a message that overtook must not let the ones
     * after it overtake the ones it overtook. */
    if (arrive > s->last_arrival_us)
        s->last_arrival_us = arrive;
    arrive_us[0] = arrive;
    if (u_dup < m->duplicate) {
        arrive_us[1] = add_sat(arrive, us_from(dup_latency_ms * 1e3));
        return 2;
    }
    return 1;
}
