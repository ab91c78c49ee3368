/* rumor simulator: runs a scenario's peers in virtual time.
 *
 * Each simulated peer is the real gossip core (gossip/peer.c), a real
 * learner (models/trainer.c, or a plain vector for averaging-only runs) and
 * the simulator as its shell: actions become events in one binary heap
 * (sim/heap.c), messages cross modelled links (sim/link.c), faults come
 * from the scenario's timeline. Training math runs inline, on one BLAS
 * thread, and costs virtual time from the peer's device model, never the
 * host's clock: the same scenario and seed give the same bits. */
#ifndef RM_SIM_H
#define RM_SIM_H

#include <stdint.h>

#include "base/err.h"
#include "models/dataset.h"
#include "models/forest.h"
#include "sim/scenario.h"

/* One row of the metrics time series (metrics.csv). */
typedef struct {
    uint64_t t_us;
    uint32_t live;              /* peers up */
    double acc_mean, acc_min, acc_max;   /* test accuracy over live peers
                                            (NaN for vector models; a forest
                                            with no tree yet scores 0) */
    double consensus;           /* mean over live peers of ||x_i - mean||^2;
                                   forests: of the share of the live peers'
                                   union of trees that peer i lacks */
    double mean_error;          /* vector models: max |mean of live x - true mean| */
    uint64_t bytes_sent, msgs_sent, msgs_dropped, refused, deliveries, events;
    uint64_t merge_waits, merge_wait_timeouts; /* steps_per_merge: times peers
                                   waited for a merge, and waited in vain
                                   (not in metrics.csv) */
} rm_sim_metrics;

typedef struct {
    uint64_t seed;
    const rm_dataset *train;    /* sharded over the peers (not for vectors) */
    const rm_dataset *test;     /* metrics evaluate on eval_rows of it, drawn
                                   at random (the final sample: all of it) */
    /* Called at every metrics sample and once at the end (final = 1, with
     * accuracy over the whole test set). May be NULL. */
    void (*on_metrics)(void *ctx, const rm_sim_metrics *m, int final);
    void *ctx;
    /* Where peers keep their checkpoint stores (one LMDB environment per
     * peer, in DIR/peer-NNNNN) when the scenario has [checkpoint] every.
     * Required then; the caller removes it. */
    const char *ckpt_dir;
} rm_sim_options;

/* What the run's derived parameters were, for printing first. */
typedef struct {
    uint64_t seed;
    uint32_t peers, stragglers;
    uint64_t params;            /* floats per model */
    uint64_t steps_per_peer;    /* 0: unlimited */
    uint64_t shard_min, shard_max;
    double speed_min, speed_max;
    uint32_t topo_edges;
} rm_sim_plan;

typedef struct rm_sim rm_sim;

/* Builds every peer. Errors: RM_EINVAL (diag says which setting),
 * RM_EMODEL_SPEC, RM_EMISMATCH, RM_ENOMEM. */
rm_err rm_sim_create(rm_sim **out, const rm_scenario *s,
                     const rm_sim_options *o, rm_diag *diag);

const rm_sim_plan *rm_sim_get_plan(const rm_sim *sim);

/* Runs until the scenario's duration. Errors: RM_ENOMEM. */
rm_err rm_sim_run(rm_sim *sim);

/* Host time spent in training steps and in evaluations (not in the
 * metrics: it varies run to run). The rest of a run's wall time is the
 * simulator's own overhead. */
typedef struct {
    double learn_seconds, eval_seconds, ckpt_seconds;
    double core_seconds;        /* in the peers' gossip cores (decoding,
                                   checking and merging models, encoding
                                   replies): the peers' own work, not the
                                   simulator's; measured only in runs
                                   that train models (0 for vectors) */
} rm_sim_timing;

const rm_sim_timing *rm_sim_get_timing(const rm_sim *sim);

/* Checkpoints written and read back ([checkpoint] every). */
typedef struct {
    uint64_t saves, restores;
    uint64_t skipped;           /* snapshots that failed their hash on restore */
    uint64_t failed;            /* saves or restores that failed */
} rm_sim_ckpt_stats;

const rm_sim_ckpt_stats *rm_sim_get_ckpt_stats(const rm_sim *sim);

/* The last metrics (after rm_sim_run: the final ones). */
const rm_sim_metrics *rm_sim_last(const rm_sim *sim);

/* The mean of the live peers' models into out (params floats), and the
 * push-sum total weight over all peers. For tests and summaries. */
void rm_sim_mean_model(const rm_sim *sim, double *out);
uint64_t rm_sim_total_weight(const rm_sim *sim);
const float *rm_sim_peer_params(const rm_sim *sim, uint32_t peer);
/* Items (a forest's trees) peer holds; 0 while it is down. */
uint32_t rm_sim_peer_items(const rm_sim *sim, uint32_t peer);
/* The first peer that is up (after rm_sim_run: one that ended the run
 * live), or UINT32_MAX when none is. */
uint32_t rm_sim_first_live(const rm_sim *sim);
/* A forest peer's forest (NULL for other models, or while it is down). */
const rm_forest *rm_sim_peer_forest(const rm_sim *sim, uint32_t peer);

void rm_sim_free(rm_sim *sim);

#endif
