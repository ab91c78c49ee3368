/* rumor simulator: state shared by sim.c, sim_setup.c and sim_metrics.c.
 * Not a public header. */
#ifndef RM_SIM_INTERNAL_H
#define RM_SIM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "gossip/peer.h"
#include "models/forest.h"
#include "models/trainer.h"
#include "sim/heap.h"
#include "sim/link.h"
#include "sim/sim.h"
#include "sim/topology.h"

enum {
    EV_DELIVER = 1,      /* peer: receiver; arg: message slot */
    EV_TIMER,            /* arg: the peer's generation */
    EV_STEP_DONE,        /* arg: generation << 32 | rows */
    EV_RESTART,
    EV_CHURN,            /* arg: churn epoch */
    EV_FAULT,            /* from here on, events are not about one peer; arg: fault index */
    EV_STOP_TRAINING,
    EV_METRICS,
};

#define SIDE_BRIDGE 2

typedef struct {
    rm_peer *core;            /* NULL while down */
    rm_trainer *trainer;      /* learner for models; NULL for vectors and forests */
    rm_forest *forest;        /* a forest peer's trees (lost in a crash) */
    float *vec;               /* (n) the vector model's values */
    uint8_t id[RM_ID_BYTES];
    char addr[16];
    uint64_t incarnation;
    uint64_t timer_at;        /* the timer event in the heap, or RM_NEVER */
    double speed, slow;       /* step time multipliers: device, SLOW faults */
    uint64_t churn_epoch;
    const rm_fault *churn;
    uint64_t refused_before;  /* refusals counted by earlier lives */
    struct rm_store *store;   /* its checkpoints; NULL until the first */
    uint64_t ckpt_at;         /* virtual time of its next checkpoint */
    uint32_t generation;      /* ++ on crash: older events are stale */
    bool up;
    bool churning;
    uint8_t side;             /* partition side: 0, 1 or SIDE_BRIDGE */
    bool ckpt_dirty;          /* a forest peer got trees since its last one */
} sim_peer; /* (fields ordered so that 10,000 of them leave no holes) */

/* What only a training peer has (kept apart: 10,000 averaging peers do
 * without it). */
typedef struct {
    rm_dataset shard;
    rm_rng rng;               /* the learner's draws: shuffles, dropout */
    rm_binned *binned;        /* forests: the shard binned, grown from */
    uint64_t forest_seed;     /* forests: tree k's id and draws come from
                                 (forest_seed, k), the same in every life */
    uint32_t share;           /* forests: trees this peer grows */
} sim_learner;

typedef struct {
    uint32_t src;
    uint32_t len;
    uint8_t *bytes;
} sim_msg;

/* Frame buffers are pooled in size classes of SIM_FRAME_CLASS bytes (its
 * header included), up to SIM_FRAME_CLASSES of them; larger ones in
 * classes of whole 4 KB pages, up to SIM_BIG_CLASSES different sizes a run
 * (a model's frames and its copies sent: one or two), beyond that plain
 * malloc. */
#define SIM_FRAME_CLASS 64
#define SIM_FRAME_CLASSES 256
#define SIM_BIG_PAGE 4096
#define SIM_BIG_CLASSES 8

typedef struct {
    uint64_t key;             /* src << 32 | dst, + 1 (0 = empty) */
    rm_link_state st;
} sim_link;

struct rm_sim {
    rm_scenario sc;
    rm_sim_options opt;
    rm_sim_plan plan;
    uint64_t now;
    rm_heap heap;
    sim_peer *peer;           /* (peers) */
    sim_learner *learn;       /* (peers) for models; NULL for vectors */
    rm_peer **cores;          /* (peers) peer[i].core, in a small hot array
                                 for prefetching */
    uint32_t live;
    uint32_t n;               /* floats per model */
    bool vector;              /* averaging-only vector model */
    bool forest;              /* random forest: trees gossiped as items */
    rm_forest_config fc;      /* forests: the [model] spec */
    rm_tree_ws *tree_ws;      /* forests: one workspace, every peer's trees */
    uint64_t *ids;            /* forests: metrics scratch for the union */
    size_t ids_cap;
    uint64_t items_refused;   /* forests: received trees that failed checks */
    bool training;
    bool partitioned, oneway;
    bool oom;
    rm_topology topo;
    rm_rng net_rng, fault_rng;
    float *scratch;           /* (n) shared by every core: one thread */
    float *vecs;              /* (peers, n) vector models, peer i's at i * n */
    double rate_sum;          /* sum over peers of 1 / speed */
    uint32_t *scratch_idx;    /* (peers) */
    rm_dataset eval;          /* the test rows metrics use */
    double true_mean;         /* vector models: the mean of the start values */
    sim_msg *msg;
    uint32_t nmsg, msg_cap;
    uint32_t *msg_free, msg_free_len;
    void *frames[SIM_FRAME_CLASSES]; /* free frame buffers per size class,
                                 each a LIFO list (sim_frame_alloc) */
    struct {
        size_t pages;         /* 0: unused */
        void *free;           /* LIFO list, as frames[] */
    } big[SIM_BIG_CLASSES];
    sim_link *links;          /* open addressing, power-of-two size */
    uint32_t links_len, links_cap;
    double *mean;             /* (n) metrics scratch */
    rm_sim_metrics m;
    rm_sim_timing timing;
    rm_sim_ckpt_stats ckpt;
    uint64_t refused_dead;
    uint64_t waits_dead, wait_timeouts_dead; /* crashed cores' merge waits */
};

/* Monotonic host seconds, for rm_sim_timing only (never for behaviour). */
double sim_host_seconds(void);

/* sim.c: every peer's frame buffers (rm_peer_config.frame_alloc). */
void *sim_frame_alloc(void *sim, size_t len);
void sim_frame_free(void *sim, void *bytes);
void sim_frames_release(rm_sim *s);

/* sim_setup.c */
uint32_t sim_peer_index(const uint8_t id[RM_ID_BYTES]);
rm_err sim_peer_start(rm_sim *s, uint32_t i);
/* Runs peer i's training step; returns the rows it trained on, and sets
 * *free_step when it cost no time (a forest tree the peer holds already). */
uint32_t sim_learner_step(rm_sim *s, uint32_t i, bool *free_step);
uint64_t sim_peer_steps(const rm_sim *s, uint32_t i);
/* RM_ACT_ITEM: a tree from a partner; checked, and kept if good. */
void sim_forest_item(rm_sim *s, uint32_t i, const rm_action *a);
rm_link_state *sim_link_state(rm_sim *s, uint32_t a, uint32_t b);
const float *sim_params(const rm_sim *s, uint32_t i);

/* sim_ckpt.c */
rm_err sim_ckpt_bump_incarnation(rm_sim *s, uint32_t i);
void sim_ckpt_save(rm_sim *s, uint32_t i);
rm_err sim_ckpt_restore(rm_sim *s, uint32_t i);
void sim_ckpt_close(rm_sim *s, uint32_t i);

/* sim_forest.c */
rm_err sim_forest_setup(rm_sim *s, uint64_t seed_stream, rm_diag *diag);
rm_err sim_forest_start(rm_sim *s, uint32_t i);
uint32_t sim_forest_step(rm_sim *s, uint32_t i, bool *free_step);
rm_err sim_forest_restore(rm_sim *s, uint32_t i, const uint8_t *blob, size_t len);
void sim_forest_consensus(rm_sim *s);
rm_err sim_forest_accuracy(rm_sim *s, uint32_t i, const rm_dataset *ds, double *acc);
void sim_forest_free(rm_sim *s);

/* sim_metrics.c */
void sim_metrics_sample(rm_sim *s, bool final);
/* Adds peer i's refusal counts to the run's before its core is freed. */
void sim_peer_retire_stats(rm_sim *s, uint32_t i);

#endif
