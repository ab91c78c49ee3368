/* rumor simulator: what a network link does to a message.
 *
 * A link model is shared by many directed links; each directed link keeps
 * a small state (Gilbert-Elliott burst state, when its wire is busy until,
 * when its last message arrives). Sending a message of `bytes` at `now`
 * yields 0 (lost), 1 or 2 (duplicated) arrival times. */
#ifndef RM_SIM_LINK_H
#define RM_SIM_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "base/rng.h"
#include "sim/dist.h"

typedef struct {
    rm_dist latency;          /* one-way propagation delay, ms */
    rm_dist jitter;           /* added per message, ms (const:0 for none) */
    double bandwidth_bps;     /* bytes per second on the wire; 0 = unlimited */
    double loss;              /* Bernoulli loss probability per message */
    /* Gilbert-Elliott bursts: a two-state chain stepped once per message. */
    bool ge_on;
    double ge_p_good_bad;     /* P(good -> bad) per message */
    double ge_p_bad_good;     /* P(bad -> good) per message */
    double ge_loss_good;      /* loss probability in the good state */
    double ge_loss_bad;       /* loss probability in the bad state */
    double duplicate;         /* probability a message arrives twice */
    double reorder;           /* probability a message may overtake earlier ones */
} rm_link_model;

typedef struct {
    uint64_t busy_until_us;   /* the wire is serialising until then */
    uint64_t last_arrival_us; /* FIFO: later messages arrive no earlier */
    uint8_t ge_bad;           /* Gilbert-Elliott state: 1 = bad */
} rm_link_state;

/* A model with no delay, loss or limit: every message arrives at now, once,
 * in order. */
void rm_link_model_ideal(rm_link_model *m);

/* Sends `bytes` at now_us over a directed link whose state *s started zeroed
 * (good GE state, idle wire). Fills arrive_us[0..n) and returns n: 0 when
 * lost, 2 when duplicated (arrive_us[1] >= arrive_us[0]). Probabilities must
 * lie in [0, 1] (asserted).
 *
 * In order: when ge_on, the Gilbert-Elliott state steps once; the message is
 * lost if the Bernoulli `loss` or the (new) GE state's loss says so; it is
 * serialised from max(now, busy_until) for bytes / bandwidth (a lost message
 * holds the wire too: it was sent and the network dropped it); it arrives
 * latency + jitter (ms, rounded to us) after serialisation ends; unless it
 * drew `reorder`, it arrives no earlier than the link's last arrival (FIFO);
 * last arrival becomes the later of the two; and with probability
 * `duplicate` a copy arrives one more latency draw after it (the copy does not
 * move the FIFO mark: later messages may overtake it).
 *
 * Draws from rng, the same on every call whatever the model's probabilities
 * and whatever the message's fate: five uniforms (GE step, GE loss, loss,
 * reorder, duplicate, drawn even when ge_on is false or a probability is 0),
 * then a latency, a jitter and a second latency sample (rm_dist_sample's
 * count each). So a seed replays the same fates, and changing one
 * probability changes no other message's draws. */
int rm_link_send(const rm_link_model *m, rm_link_state *s, uint64_t now_us,
                 uint64_t bytes, rm_rng *rng, uint64_t arrive_us[2]);

#endif
