/* The simulator's metrics: a sample of the whole swarm's state, taken every
 * metrics interval of virtual time. Cost: O(peers * params) for the
 * consensus distance, plus one evaluation per live peer for models. */
#include "sim/sim_internal.h"

#include <math.h>
#include <string.h>

/* (Forests refuse bad trees in the shell, s->items_refused, not the core.) */

void sim_peer_retire_stats(rm_sim *s, uint32_t i) {
    if (!s->peer[i].core)
        return;
    const rm_peer_stats *st = rm_peer_get_stats(s->peer[i].core);
    s->refused_dead += rm_peer_refused(st);
    s->waits_dead += st->merge_waits;
    s->wait_timeouts_dead += st->merge_wait_timeouts;
}

/* One pass: mean_i ||x_i - m||^2 = mean_i ||x_i||^2 - ||m||^2, in double
 * (the models' float values square exactly in double). */
static void consensus(rm_sim *s) {
    const uint32_t n = s->n;
    double *mean = s->mean, sq = 0.0;
    memset(mean, 0, (size_t)n * sizeof *mean);
    uint32_t live = 0;
    for (uint32_t i = 0; i < s->sc.peers; i++) {
        if (!s->peer[i].up)
            continue;
        const float *x = sim_params(s, i);
        for (uint32_t k = 0; k < n; k++) {
            mean[k] += x[k];
            sq += (double)x[k] * x[k];
        }
        live++;
    }
    s->m.consensus = s->m.mean_error = NAN;
    if (live == 0)
        return;
    double msq = 0.0, err = 0.0;
    for (uint32_t k = 0; k < n; k++) {
        mean[k] /= live;
        msq += mean[k] * mean[k];
        err = fmax(err, fabs(mean[k] - s->true_mean));
    }
    double d = sq / live - msq;
    /* Rounding can leave a tiny negative; a NaN model must show as NaN. */
    s->m.consensus = d < 0.0 ? 0.0 : d;
    if (s->vector)
        s->m.mean_error = err;
}

static void accuracy(rm_sim *s, bool final) {
    s->m.acc_mean = s->m.acc_min = s->m.acc_max = NAN;
    if (s->vector)
        return;
    const rm_dataset *ds = final ? s->opt.test : &s->eval;
    double t0 = sim_host_seconds();
    double sum = 0.0, lo = 1.0, hi = 0.0;
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->sc.peers; i++) {
        if (!s->peer[i].up)
            continue;
        rm_eval_result r = {0};
        if (s->forest) {
            if (sim_forest_accuracy(s, i, ds, &r.accuracy) != RM_OK) {
                s->oom = true;
                return;
            }
        } else if (rm_trainer_evaluate(s->peer[i].trainer, ds, &r) != RM_OK) {
            s->oom = true;
            return;
        }
        sum += r.accuracy;
        lo = fmin(lo, r.accuracy);
        hi = fmax(hi, r.accuracy);
        k++;
        rm_eval_result_free(&r);
    }
    s->timing.eval_seconds += sim_host_seconds() - t0;
    if (k) {
        s->m.acc_mean = sum / k;
        s->m.acc_min = lo;
        s->m.acc_max = hi;
    }
}

void sim_metrics_sample(rm_sim *s, bool final) {
    s->m.t_us = s->now;
    s->m.live = s->live;
    if (s->forest) {
        s->m.mean_error = NAN;
        sim_forest_consensus(s);
    } else {
        consensus(s);
    }
    accuracy(s, final);
    uint64_t r = s->refused_dead + s->items_refused;
    s->m.merge_waits = s->waits_dead;
    s->m.merge_wait_timeouts = s->wait_timeouts_dead;
    for (uint32_t i = 0; i < s->sc.peers; i++)
        if (s->peer[i].up) {
            const rm_peer_stats *st = rm_peer_get_stats(s->peer[i].core);
            r += rm_peer_refused(st);
            s->m.merge_waits += st->merge_waits;
            s->m.merge_wait_timeouts += st->merge_wait_timeouts;
        }
    s->m.refused = r;
    if (s->opt.on_metrics)
        s->opt.on_metrics(s->opt.ctx, &s->m, final);
}

void rm_sim_mean_model(const rm_sim *s, double *out) {
    memset(out, 0, (size_t)s->n * sizeof *out);
    uint32_t live = 0;
    for (uint32_t i = 0; i < s->sc.peers; i++) {
        if (!s->peer[i].up)
            continue;
        const float *x = sim_params(s, i);
        for (uint32_t k = 0; k < s->n; k++)
            out[k] += x[k];
        live++;
    }
    for (uint32_t k = 0; live && k < s->n; k++)
        out[k] /= live;
}
