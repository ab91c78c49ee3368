#include "models/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Evaluation runs in larger batches than training: fewer, fatter sgemms. */
#define RM_EVAL_BATCH 256

void rm_train_config_default(rm_train_config *c) {
    memset(c, 0, sizeof *c);
    strcpy(c->model, "mlp:784-128-10");
    c->dropout = 0.2f;
    rm_optim_config_default(&c->opt, RM_OPT_ADAM);
    c->batch = 32;
    c->epochs = 5;
    c->sched_every_epochs = 1.0f;
}

rm_err rm_trainer_create(rm_trainer **out, const rm_train_config *cfg,
                         const rm_dataset *data, rm_rng *rng, rm_diag *diag) {
    *out = NULL;
    rm_mlp_spec spec;
    rm_err err = rm_mlp_spec_parse(cfg->model, &spec, diag);
    if (err)
        return err;
    if (spec.dims[0] != (int)data->d)
        return rm_diag_set(diag, RM_EMISMATCH,
                           "model: input width %d but the data has %zu features",
                           spec.dims[0], data->d);
    if ((uint32_t)spec.classes < data->classes)
        return rm_diag_set(diag, RM_EMISMATCH,
                           "model: %d classes but the data has %u",
                           spec.classes, data->classes);
    if (cfg->batch < 1 || cfg->batch > (1 << 16))
        return rm_diag_set(diag, RM_EINVAL, "batch: %d is not in 1..65536",
                           cfg->batch);
    if (data->n == 0)
        return rm_diag_set(diag, RM_EINVAL, "data: no rows to train on");
    if (!(cfg->dropout >= 0.0f && cfg->dropout < 1.0f))
        return rm_diag_set(diag, RM_EINVAL, "dropout: %g is not in [0, 1)",
                           (double)cfg->dropout);

    rm_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return RM_ENOMEM;
    t->cfg = *cfg;
    t->data = data;
    t->steps_per_epoch = (data->n + (size_t)cfg->batch - 1) / (size_t)cfg->batch;
    t->cfg.opt.sched_every_steps =
        (uint64_t)(cfg->sched_every_epochs * (float)t->steps_per_epoch);
    int batch_max = cfg->batch > RM_EVAL_BATCH ? cfg->batch : RM_EVAL_BATCH;
    err = rm_mlp_create(&t->mlp, &spec, cfg->dropout, batch_max);
    if (err)
        goto err;
    err = rm_optim_init(&t->opt, &t->cfg.opt, t->mlp->nparams);
    if (err) {
        if (err == RM_EINVAL)
            rm_diag_set(diag, err, "optimizer: a learning rate, momentum, "
                                   "beta or epsilon is out of range");
        goto err;
    }
    err = RM_ENOMEM;
    t->order = malloc(data->n * sizeof *t->order);
    t->xb = malloc((size_t)cfg->batch * data->d * sizeof *t->xb);
    t->yb = malloc((size_t)cfg->batch * sizeof *t->yb);
    if (!t->order || !t->xb || !t->yb)
        goto err;
    for (size_t i = 0; i < data->n; i++)
        t->order[i] = (uint32_t)i;
    if (cfg->logit_adjust != 0.0f && spec.loss == RM_LOSS_SOFTMAX) {
        int C = spec.classes;
        if (!(t->logit_bias = calloc((size_t)C, sizeof *t->logit_bias)))
            goto err;
        double *cnt = calloc((size_t)C, sizeof *cnt);
        if (!cnt)
            goto err;
        for (size_t i = 0; i < data->n; i++)
            if (data->y[i] >= 0 && data->y[i] < C)
                cnt[data->y[i]] += 1.0;
        for (int c = 0; c < C; c++)
            t->logit_bias[c] = cnt[c] == 0.0 ? -INFINITY : cfg->logit_adjust *
                               (float)log(cnt[c] / (double)data->n);
        free(cnt);
        t->mlp->logit_bias = t->logit_bias;
    }
    rm_mlp_init(t->mlp, rng);
    *out = t;
    return RM_OK;
err:
    rm_trainer_free(t);
    return err;
}

void rm_trainer_free(rm_trainer *t) {
    if (!t)
        return;
    rm_mlp_free(t->mlp);
    rm_optim_free(&t->opt);
    free(t->order);
    free(t->xb);
    free(t->yb);
    free(t->logit_bias);
    free(t);
}

void rm_trainer_step(rm_trainer *t, rm_rng *rng, rm_step_stats *st) {
    const rm_dataset *ds = t->data;
    if (t->cursor == 0)
        rm_rng_shuffle_u32(rng, t->order, ds->n);
    size_t left = ds->n - t->cursor;
    int B = left < (size_t)t->cfg.batch ? (int)left : t->cfg.batch;
    rm_dataset_gather(ds, t->order + t->cursor, (size_t)B, t->xb, t->yb);
    t->cursor += (size_t)B;

    rm_mlp *m = t->mlp;
    memset(m->grads, 0, m->nparams * sizeof *m->grads);
    st->loss = rm_mlp_train_batch(m, t->xb, t->yb, B, rng, &st->correct);
    uint64_t total = t->cfg.total_steps
                         ? t->cfg.total_steps
                         : t->steps_per_epoch * (t->cfg.epochs ? t->cfg.epochs : 1);
    float lr = rm_optim_lr(&t->cfg.opt, t->step, total);
    rm_optim_step(&t->opt, m->params, m->grads, lr);
    t->step++;

    st->rows = B;
    st->epoch_done = t->cursor == ds->n;
    if (st->epoch_done) {
        t->cursor = 0;
        t->epoch++;
    }
}

rm_err rm_trainer_evaluate(rm_trainer *t, const rm_dataset *ds,
                           rm_eval_result *out) {
    return rm_mlp_evaluate(t->mlp, ds, out);
}

float *rm_trainer_params(rm_trainer *t, size_t *n) {
    *n = t->mlp->nparams;
    return t->mlp->params;
}

void rm_trainer_get_state(const rm_trainer *t, rm_trainer_state *s) {
    memset(s, 0, sizeof *s);
    s->step = t->step;
    s->epoch = t->epoch;
    s->cursor = t->cursor;
    s->n = t->mlp->nparams;
    s->params = t->mlp->params;
    s->opt_kind = (int)t->opt.cfg.kind;
    s->opt_t = t->opt.t;
    s->opt_m = t->opt.m;
    s->opt_v = t->opt.v;
    s->norder = t->data->n;
    s->order = t->order;
}

rm_err rm_trainer_set_state(rm_trainer *t, const rm_trainer_state *s) {
    size_t n = t->mlp->nparams, rows = t->data->n;
    if (s->n != n || s->opt_kind != (int)t->opt.cfg.kind || s->norder != rows ||
        !s->params || !s->opt_m || (t->opt.v && !s->opt_v) || (rows && !s->order))
        return RM_EMISMATCH;
    if (s->cursor > rows)
        return RM_ERANGE;
    for (size_t i = 0; i < rows; i++)
        if (s->order[i] >= rows)
            return RM_ERANGE;
    memcpy(t->mlp->params, s->params, n * sizeof(float));
    memcpy(t->opt.m, s->opt_m, n * sizeof(float));
    if (t->opt.v)
        memcpy(t->opt.v, s->opt_v, n * sizeof(float));
    memcpy(t->order, s->order, rows * sizeof *t->order);
    t->opt.t = s->opt_t;
    t->step = s->step;
    t->epoch = s->epoch;
    t->cursor = (size_t)s->cursor;
    return RM_OK;
}
