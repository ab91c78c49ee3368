#include "node/ckpt_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rm_ckpt_job {
    rm_snapshot snap;
    float *params, *m, *v;
    uint32_t *order;
    uint8_t *state, *bases, *extra;
};

static void *dup_bytes(const void *src, size_t len) {
    void *p = malloc(len ? len : 1);
    if (p && len)
        memcpy(p, src, len);
    return p;
}

rm_err rm_ckpt_job_take(rm_ckpt_job **out, const rm_trainer *t, const rm_rng *train_rng,
                        const rm_peer *core, const char *model, uint64_t incarnation,
                        uint64_t unix_ms) {
    *out = NULL;
    rm_ckpt_job *j = calloc(1, sizeof *j);
    if (!j)
        return RM_ENOMEM;
    rm_trainer_state ts;
    rm_trainer_get_state(t, &ts);
    size_t nb = ts.n * sizeof(float);
    size_t state_len = 0, bases_len = 0;
    j->params = dup_bytes(ts.params, nb);
    j->m = dup_bytes(ts.opt_m, nb);
    j->v = ts.opt_v ? dup_bytes(ts.opt_v, nb) : NULL;
    j->order = dup_bytes(ts.order, ts.norder * sizeof *ts.order);
    rm_err err = rm_peer_save_state(core, &j->state, &state_len, &j->bases, &bases_len);
    if (err || !j->params || !j->m || (ts.opt_v && !j->v) || !j->order) {
        rm_ckpt_job_free(j);
        return RM_ENOMEM;
    }
    rm_snapshot *s = &j->snap;
    snprintf(s->model, sizeof s->model, "%s", model);
    s->saved_unix_ms = unix_ms;
    s->step = ts.step;
    s->epoch = ts.epoch;
    s->cursor = ts.cursor;
    s->incarnation = incarnation;
    memcpy(s->rng, train_rng->s, sizeof s->rng);
    memcpy(s->peer_rng, rm_peer_rng(core)->s, sizeof s->peer_rng);
    s->opt_kind = (uint32_t)ts.opt_kind;
    s->opt_t = ts.opt_t;
    s->nparams = ts.n;
    s->params = j->params;
    s->opt_m = j->m;
    s->opt_v = j->v;
    s->norder = ts.norder;
    s->order = j->order;
    s->view = j->state;
    s->view_len = state_len;
    s->bases = j->bases;
    s->bases_len = bases_len;
    *out = j;
    return RM_OK;
}

rm_err rm_ckpt_job_take_forest(rm_ckpt_job **out, const rm_forest *f, uint64_t step,
                               const rm_peer *core, const char *model,
                               uint64_t incarnation, uint64_t unix_ms) {
    *out = NULL;
    rm_ckpt_job *j = calloc(1, sizeof *j);
    if (!j)
        return RM_ENOMEM;
    size_t extra_len = 0, state_len = 0, bases_len = 0;
    if (rm_forest_encode(f, &j->extra, &extra_len) ||
        rm_peer_save_state(core, &j->state, &state_len, &j->bases, &bases_len)) {
        rm_ckpt_job_free(j);
        return RM_ENOMEM;
    }
    rm_snapshot *s = &j->snap;
    snprintf(s->model, sizeof s->model, "%s", model);
    s->saved_unix_ms = unix_ms;
    s->step = step;
    s->incarnation = incarnation;
    memcpy(s->peer_rng, rm_peer_rng(core)->s, sizeof s->peer_rng);
    s->view = j->state;
    s->view_len = state_len;
    s->bases = j->bases;
    s->bases_len = bases_len;
    s->extra = j->extra;
    s->extra_len = extra_len;
    *out = j;
    return RM_OK;
}

rm_err rm_ckpt_job_save(rm_ckpt_job *j, rm_store *s, rm_diag *d) {
    return rm_store_save(s, &j->snap, NULL, d);
}

uint64_t rm_ckpt_job_step(const rm_ckpt_job *j) { return j->snap.step; }

void rm_ckpt_job_free(rm_ckpt_job *j) {
    if (!j)
        return;
    free(j->params);
    free(j->m);
    free(j->v);
    free(j->order);
    free(j->state);
    free(j->bases);
    free(j->extra);
    free(j);
}

rm_err rm_ckpt_restore_trainer(const rm_snapshot *s, rm_trainer *t, rm_rng *train_rng,
                               rm_diag *d) {
    if (strcmp(s->model, t->cfg.model) != 0)
        return rm_diag_set(d, RM_EMISMATCH, "the snapshot holds model %s, not %s", s->model,
                           t->cfg.model);
    rm_trainer_state ts = {
        .step = s->step, .epoch = s->epoch, .cursor = s->cursor, .n = s->nparams,
        .params = s->params, .opt_kind = (int)s->opt_kind, .opt_t = s->opt_t,
        .opt_m = s->opt_m, .opt_v = s->opt_v, .norder = s->norder, .order = s->order};
    rm_err err = rm_trainer_set_state(t, &ts);
    if (err)
        return rm_diag_set(d, err, "the snapshot's trainer state does not fit this run "
                                   "(another optimizer, or another shard: %llu rows)",
                           (unsigned long long)s->norder);
    memcpy(train_rng->s, s->rng, sizeof s->rng);
    return RM_OK;
}
