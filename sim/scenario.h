/* rumor simulator: a scenario, as read from an INI file (docs/SCENARIOS.md).
 *
 * Everything a run needs except the seed: peers and their devices, data and
 * model, gossip settings, topology, link model, and a timeline of faults.
 * Durations are microseconds of virtual time. */
#ifndef RM_SIM_SCENARIO_H
#define RM_SIM_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "gossip/merge.h"
#include "sim/dist.h"
#include "sim/link.h"
#include "sim/topology.h"

#define RM_SCN_FAULTS_MAX 64
#define RM_SCN_TEXT_MAX 256

typedef enum {
    RM_FAULT_PARTITION = 1,  /* cut the network (see rm_partition_kind) */
    RM_FAULT_HEAL,           /* end the partition */
    RM_FAULT_CRASH,          /* peers stop, losing their memory */
    RM_FAULT_RESTART,        /* crashed peers start again */
    RM_FAULT_CHURN,          /* from `at`, peers go off and on at random */
    RM_FAULT_CHURN_STOP,     /* churning peers come back and stay */
    RM_FAULT_SLOW,           /* peers' steps take `factor` times longer */
} rm_fault_kind;

typedef enum {
    RM_PART_HALVES = 1,      /* peers [0, n/2) | [n/2, n) */
    RM_PART_ISOLATE,         /* the chosen peers | everyone else */
    RM_PART_BRIDGE,          /* halves, but peer `bridge` talks to both */
    RM_PART_ONEWAY,          /* halves, messages from the first half to the
                                second are lost; the other way works */
} rm_partition_kind;

typedef struct {
    rm_fault_kind kind;
    uint64_t at_us;
    rm_partition_kind partition;
    uint32_t bridge;             /* RM_PART_BRIDGE: the bridging peer */
    double fraction;             /* share of peers chosen at random (0: use list) */
    uint32_t npeers;             /* an explicit list, when fraction is 0 */
    uint32_t peers[64];
    uint64_t down_us;            /* crash: restart after this (0: stays down) */
    rm_dist churn_on, churn_off; /* churn: up and down times, ms */
    double factor;               /* slow: step time multiplier */
    int line;                    /* where the fault was declared, for errors */
} rm_fault;

typedef enum { RM_DATA_FASHION_MNIST = 1, RM_DATA_FILE, RM_DATA_NONE } rm_data_kind;

typedef struct {
    /* [run] */
    uint64_t seed;               /* used when the command line gives none */
    uint64_t duration_us;
    uint64_t metrics_every_us;
    uint64_t train_until_us;     /* training stops then; averaging goes on (0: never stops) */
    /* [peers] */
    uint32_t peers;
    rm_dist speed;               /* step time multiplier per peer, drawn once */
    double stragglers;           /* share of peers made slow */
    double straggler_factor;
    bool budget_time;            /* steps shared out by device speed, so that
                                    every peer trains for about the same
                                    time (else every peer takes the same
                                    number of steps) */
    /* [data] */
    rm_data_kind data;
    char data_path[RM_SCN_TEXT_MAX];
    bool label_skew;             /* else iid */
    double alpha;                /* Dirichlet concentration for label skew */
    uint32_t eval_rows;          /* test rows used for periodic metrics */
    /* [model] */
    char model[128];             /* "mlp:784-128-10", "vector:1000" */
    bool vector_init_index;      /* vector: peer i starts at value i (else random) */
    float dropout;
    float logit_adjust;
    bool sgd;                    /* else adam */
    float lr;
    bool cosine;                 /* decay lr to lr_min over each peer's steps */
    float lr_min;
    uint32_t batch;
    double epochs;               /* passes each peer makes over its own shard
                                    (then it stops training); 0: no limit */
    uint64_t step_us;            /* virtual time of one step at speed 1 */
    /* [gossip] */
    rm_merge_rule merge;
    uint64_t interval_us, timeout_us;
    uint32_t concurrent;      /* exchanges a peer keeps in flight at once */
    uint32_t steps_per_merge; /* bounded staleness (rm_peer_config); 0: off */
    uint64_t merge_wait_us;
    uint32_t view, shuffle;
    bool view_shuffle;
    bool delta, delta_int8;
    double norm_ratio;
    /* [topology] */
    rm_topo_spec topo;
    /* [checkpoint] */
    uint64_t ckpt_every_us;      /* each training peer saves a snapshot to its
                                    own LMDB store this often (0: never) */
    uint32_t ckpt_keep;          /* snapshots kept per peer */
    bool rejoin;                 /* a restarted peer pulls a fresh model
                                    before it trains again */
    /* [link] */
    rm_link_model link;
    /* [fault ...] sections, in file order */
    uint32_t nfaults;
    rm_fault faults[RM_SCN_FAULTS_MAX];
} rm_scenario;

/* The defaults every key falls back to (docs/SCENARIOS.md lists them). */
void rm_scenario_default(rm_scenario *s);

/* Reads an INI scenario file over the defaults. Unknown sections or keys,
 * bad values and inconsistent settings are errors: diag names the line and
 * the key ("line 12: [link] latency: 'lognorm:80' is not a distribution").
 * Errors: RM_ENOENT, RM_EIO, RM_EINVAL. */
rm_err rm_scenario_load(const char *path, rm_scenario *s, rm_diag *diag);

/* Parses a duration: "250ms", "1.5s", "2m", "100us"; a bare number is
 * milliseconds. Returns false when it is not one. */
bool rm_parse_duration_us(const char *s, uint64_t *us);

#endif
