/* rumor: a learner that trains a model on one dataset, one mini-batch at a
 * time. It owns the model, the optimizer and the data cursor (a seeded
 * permutation per epoch); the shells (the CLI now, the simulator and the
 * node later) call rm_trainer_step whenever they want one step to run. */
#ifndef RM_TRAINER_H
#define RM_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"
#include "models/dataset.h"
#include "models/eval.h"
#include "models/mlp.h"
#include "models/optim.h"

typedef struct {
    char model[128];        /* "mlp:784-128-10", "softmax:784-10" */
    float dropout;          /* hidden-unit drop probability */
    rm_optim_config opt;
    int batch;              /* rows per step */
    uint32_t epochs;        /* sets the schedule's length (cosine, step) */
    uint64_t total_steps;   /* overrides it when not 0 (a peer that stops
                               after a set number of steps) */
    float sched_every_epochs; /* step schedule: decay every this many epochs */
    float logit_adjust;     /* tau (0: off): while training, logits get tau *
                               log of the shard's class prior added, and the
                               classes the shard lacks -inf (no gradient).
                               Logit adjustment for label-skewed shards: Adam
                               normalises even a tiny gradient, so smoothing
                               an absent class's prior would not spare it */
} rm_train_config;

/* Keras' MNIST recipe: mlp:784-128-10, dropout 0.2, Adam 1e-3, batch 32,
 * 5 epochs. */
void rm_train_config_default(rm_train_config *c);

typedef struct {
    float loss;        /* mean loss of the batch */
    int correct;       /* rows of the batch predicted right (with dropout) */
    int rows;          /* rows in the batch (the last of an epoch may be short) */
    int epoch_done;    /* 1 when this step finished an epoch */
} rm_step_stats;

typedef struct {
    rm_train_config cfg;
    rm_mlp *mlp;
    rm_optim opt;
    const rm_dataset *data;   /* borrowed: must outlive the trainer */
    uint32_t *order;          /* (data->n) this epoch's permutation */
    size_t cursor;            /* next position in order */
    uint64_t epoch;           /* epochs completed */
    uint64_t step;            /* steps completed */
    uint64_t steps_per_epoch;
    float *xb;                /* (batch, d) gathered batch */
    int32_t *yb;              /* (batch) */
    float *logit_bias;        /* (classes) when cfg.logit_adjust != 0 */
} rm_trainer;

/* Builds the model from cfg->model, checks it against the data (input width
 * = features, output width >= classes), initialises it from rng.
 * Errors: RM_EMODEL_SPEC, RM_EMISMATCH, RM_EINVAL (diag says which field),
 * RM_ENOMEM. On error *out is NULL. */
rm_err rm_trainer_create(rm_trainer **out, const rm_train_config *cfg,
                         const rm_dataset *data, rm_rng *rng, rm_diag *diag);
void rm_trainer_free(rm_trainer *t);

/* Runs one mini-batch: gathers the next rows (reshuffling from rng at the
 * start of each epoch), forward, backward, one optimizer step at the
 * scheduled learning rate. Dropout draws from rng too. */
void rm_trainer_step(rm_trainer *t, rm_rng *rng, rm_step_stats *st);

/* Evaluates the current model on ds (see rm_mlp_evaluate). */
rm_err rm_trainer_evaluate(rm_trainer *t, const rm_dataset *ds,
                           rm_eval_result *out);

/* The flat parameter buffer: what gossip averages and checkpoints store. */
float *rm_trainer_params(rm_trainer *t, size_t *n);

/* A trainer's state as plain arrays, for a checkpoint: with the learner's
 * rm_rng it is everything needed to go on exactly where it stopped. Pointers
 * borrow the trainer's buffers (get) or the caller's (set). */
typedef struct {
    uint64_t step, epoch, cursor;
    uint64_t n;                       /* floats in params (and opt_m, opt_v) */
    const float *params;
    int opt_kind;                     /* rm_opt_kind */
    uint64_t opt_t;
    const float *opt_m, *opt_v;       /* opt_v NULL for SGD */
    uint64_t norder;                  /* rows: the epoch's permutation */
    const uint32_t *order;
} rm_trainer_state;

void rm_trainer_get_state(const rm_trainer *t, rm_trainer_state *s);

/* Puts saved state back. Errors: RM_EMISMATCH (another model size,
 * optimizer or shard size: s from another run), RM_ERANGE (a cursor or a
 * row index beyond the shard). Nothing changes on error. */
rm_err rm_trainer_set_state(rm_trainer *t, const rm_trainer_state *s);

#endif
