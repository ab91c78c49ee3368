/* rumor: optimizers over one flat parameter buffer, and learning-rate
 * schedules. Each step is one loop over n floats (as in llm.c). */
#ifndef RM_OPTIM_H
#define RM_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef enum { RM_OPT_SGD = 1, RM_OPT_ADAM = 2 } rm_opt_kind;
typedef enum { RM_SCHED_CONST = 0, RM_SCHED_STEP = 1, RM_SCHED_COSINE = 2 } rm_sched_kind;

typedef struct {
    rm_opt_kind kind;
    float lr;            /* base learning rate */
    float momentum;      /* SGD: heavy-ball momentum (0 = plain SGD) */
    float weight_decay;  /* SGD: L2 added to the gradient; Adam: decoupled (AdamW) */
    float beta1, beta2, eps;  /* Adam */
    rm_sched_kind sched;
    float sched_gamma;        /* step: lr *= gamma every sched_every_steps */
    uint64_t sched_every_steps;
    float lr_min;             /* cosine: the floor reached at the last step */
} rm_optim_config;

/* The defaults: Adam, lr 1e-3, betas 0.9/0.999, eps 1e-7 (Keras'), no decay,
 * constant schedule; SGD momentum 0.9 when chosen. */
void rm_optim_config_default(rm_optim_config *c, rm_opt_kind kind);

typedef struct {
    rm_optim_config cfg;
    size_t n;
    float *m;        /* (n) first moment, or SGD velocity */
    float *v;        /* (n) Adam second moment; NULL for SGD */
    uint64_t t;      /* steps taken */
} rm_optim;

/* Allocates the optimizer's state for n parameters, zeroed.
 * Errors: RM_EINVAL (bad config), RM_ENOMEM. */
rm_err rm_optim_init(rm_optim *o, const rm_optim_config *cfg, size_t n);
void rm_optim_free(rm_optim *o);

/* One update of params (n) from grads (n) at learning rate lr. */
void rm_optim_step(rm_optim *o, float *params, const float *grads, float lr);

/* The scheduled learning rate at step `step` (0-based) of `total` steps. */
float rm_optim_lr(const rm_optim_config *c, uint64_t step, uint64_t total);

#endif
