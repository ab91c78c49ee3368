#include "models/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/hot.h"

void rm_optim_config_default(rm_optim_config *c, rm_opt_kind kind) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->lr = kind == RM_OPT_ADAM ? 1e-3f : 0.05f;
    c->momentum = kind == RM_OPT_SGD ? 0.9f : 0.0f;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = 1e-7f;
    c->sched = RM_SCHED_CONST;
    c->sched_gamma = 0.1f;
}

rm_err rm_optim_init(rm_optim *o, const rm_optim_config *cfg, size_t n) {
    memset(o, 0, sizeof *o);
    if ((cfg->kind != RM_OPT_SGD && cfg->kind != RM_OPT_ADAM) ||
        !(cfg->lr > 0.0f) || cfg->momentum < 0.0f || cfg->momentum >= 1.0f ||
        cfg->weight_decay < 0.0f || cfg->beta1 < 0.0f || cfg->beta1 >= 1.0f ||
        cfg->beta2 < 0.0f || cfg->beta2 >= 1.0f || !(cfg->eps > 0.0f))
        return RM_EINVAL;
    o->cfg = *cfg;
    o->n = n;
    o->m = calloc(n ? n : 1, sizeof(float));
    if (cfg->kind == RM_OPT_ADAM)
        o->v = calloc(n ? n : 1, sizeof(float));
    if (!o->m || (cfg->kind == RM_OPT_ADAM && !o->v)) {
        rm_optim_free(o);
        return RM_ENOMEM;
    }
    return RM_OK;
}

void rm_optim_free(rm_optim *o) {
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

/* Optimizer state below RM_TINY is flushed to zero. A weight whose gradient
 * stays zero (a dead unit, an always-black pixel) has its moments decay by
 * beta every step until they are denormal floats, and x86 then takes a
 * microcode assist on every operation: the whole Adam step ran 13x slower
 * (55 us -> 700 us for 100k parameters) until this flush. Gradients below
 * RM_GRAD_TINY are flushed for the same reason (their square is denormal).
 * No update that matters changes: such a value moves a weight by far less
 * than a float's rounding. */
#define RM_TINY 1e-30f
#define RM_GRAD_TINY 1e-15f

RM_HOT static void sgd_loop(float *restrict p, const float *restrict g,
                            float *restrict vel, size_t n, float lr, float mu,
                            float wd) {
    for (size_t i = 0; i < n; i++) {
        float vi = mu * vel[i] + g[i] + wd * p[i];
        vel[i] = fabsf(vi) < RM_TINY ? 0.0f : vi;
        p[i] -= lr * vel[i];
    }
}


/* PyTorch's and Keras' Adam: p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps),
 * plus AdamW's decoupled decay lr*wd*p. sqrtf inlines to one vector
 * instruction only with -fno-math-errno (set for the whole build). */
RM_HOT static void adam_loop(float *restrict p, const float *restrict g,
                             float *restrict m, float *restrict v, size_t n,
                             float b1, float b2, float step, float inv_sqrt_bc2,
                             float eps, float decay) {
    for (size_t i = 0; i < n; i++) {
        float gi = fabsf(g[i]) < RM_GRAD_TINY ? 0.0f : g[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        mi = fabsf(mi) < RM_TINY ? 0.0f : mi;
        vi = vi < RM_TINY ? 0.0f : vi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps) + decay * p[i];
    }
}

void rm_optim_step(rm_optim *o, float *params, const float *grads, float lr) {
    const rm_optim_config *c = &o->cfg;
    o->t++;
    if (c->kind == RM_OPT_SGD) {
        sgd_loop(params, grads, o->m, o->n, lr, c->momentum, c->weight_decay);
        return;
    }
    double bc1 = 1.0 - pow(c->beta1, (double)o->t);
    double bc2 = 1.0 - pow(c->beta2, (double)o->t);
    adam_loop(params, grads, o->m, o->v, o->n, c->beta1, c->beta2,
              (float)(lr / bc1), (float)(1.0 / sqrt(bc2)), c->eps,
              lr * c->weight_decay);
}

float rm_optim_lr(const rm_optim_config *c, uint64_t step, uint64_t total) {
    switch (c->sched) {
    case RM_SCHED_STEP:
        if (c->sched_every_steps == 0)
            return c->lr;
        return c->lr * powf(c->sched_gamma, (float)(step / c->sched_every_steps));
    case RM_SCHED_COSINE: {
        if (total <= 1)
            return c->lr;
        double frac = (double)(step < total ? step : total - 1) / (double)(total - 1);
        return c->lr_min + 0.5f * (c->lr - c->lr_min) *
                               (float)(1.0 + cos(3.14159265358979323846 * frac));
    }
    default:
        return c->lr;
    }
}
