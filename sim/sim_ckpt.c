/* Checkpoints in the simulator: the same snapshot codec and LMDB store the
 * real node uses, one store per peer under the run's checkpoint folder,
 * written without fsync (the host cannot lose power in virtual time). A
 * save is free in virtual time: the node writes on a worker thread.
 *
 * A forest peer has no parameters (nparams 0): its snapshot's `extra`
 * section holds its whole forest (rm_forest_encode), its own trees and
 * those it received, and `step` the trees of its share it has grown. */
#include "sim/sim_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/store.h"

static rm_err open_store(rm_sim *s, uint32_t i, rm_diag *diag) {
    sim_peer *p = &s->peer[i];
    if (p->store)
        return RM_OK;
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s/peer-%05u", s->opt.ckpt_dir, i) >= (int)sizeof dir)
        return rm_diag_set(diag, RM_EINVAL, "checkpoint folder path is too long");
    rm_store_options o;
    rm_store_options_default(&o);
    o.durability = RM_DURABLE_NOSYNC;
    o.keep = s->sc.ckpt_keep;
    o.map_initial = 16u << 20;
    bool fresh;
    return rm_store_open(&p->store, dir, &o, &fresh, diag);
}

rm_err sim_ckpt_bump_incarnation(rm_sim *s, uint32_t i) {
    rm_err err = open_store(s, i, NULL);
    if (err)
        return err;
    return rm_store_bump_incarnation(s->peer[i].store, &s->peer[i].incarnation, NULL);
}

void sim_ckpt_save(rm_sim *s, uint32_t i) {
    sim_peer *p = &s->peer[i];
    if ((!p->trainer && !p->forest) || !p->core || s->now < p->ckpt_at)
        return;
    p->ckpt_at = s->now + s->sc.ckpt_every_us;
    p->ckpt_dirty = false;
    double t0 = sim_host_seconds();
    rm_trainer_state ts = {0};
    uint8_t *extra = NULL;
    size_t extra_len = 0;
    if (p->trainer) {
        rm_trainer_get_state(p->trainer, &ts);
    } else {
        ts.step = rm_peer_get_stats(p->core)->steps;
        if (rm_forest_encode(p->forest, &extra, &extra_len)) {
            s->ckpt.failed++;
            return;
        }
    }
    uint8_t *state = NULL, *bases = NULL;
    size_t state_len, bases_len;
    if (open_store(s, i, NULL) ||
        rm_peer_save_state(p->core, &state, &state_len, &bases, &bases_len)) {
        s->ckpt.failed++;
        free(extra);
        return;
    }
    rm_snapshot snap = {0};
    snprintf(snap.model, sizeof snap.model, "%s", s->sc.model);
    snap.saved_unix_ms = s->now / 1000;
    snap.step = ts.step;
    snap.epoch = ts.epoch;
    snap.cursor = ts.cursor;
    snap.incarnation = p->incarnation;
    memcpy(snap.rng, s->learn[i].rng.s, sizeof snap.rng);
    /* Kept for the record, not restored: a core that replayed its old draws
     * would reuse exchange ids its partners have seen (and drop as
     * duplicates); each incarnation gets a fresh stream instead. */
    memcpy(snap.peer_rng, rm_peer_rng(p->core)->s, sizeof snap.peer_rng);
    snap.opt_kind = (uint32_t)ts.opt_kind;
    snap.opt_t = ts.opt_t;
    snap.nparams = ts.n;
    snap.params = ts.params;
    snap.opt_m = ts.opt_m;
    snap.opt_v = ts.opt_v;
    snap.norder = ts.norder;
    snap.order = ts.order;
    snap.view = state;
    snap.view_len = state_len;
    snap.bases = bases;
    snap.bases_len = bases_len;
    snap.extra = extra;
    snap.extra_len = extra_len;
    if (rm_store_save(p->store, &snap, NULL, NULL) == RM_OK)
        s->ckpt.saves++;
    else
        s->ckpt.failed++;
    free(state);
    free(bases);
    free(extra);
    s->timing.ckpt_seconds += sim_host_seconds() - t0;
}

rm_err sim_ckpt_restore(rm_sim *s, uint32_t i) {
    sim_peer *p = &s->peer[i];
    if ((!p->trainer && !p->forest) || !p->store)
        return RM_OK;
    rm_snapshot snap;
    uint32_t skipped = 0;
    rm_err err = rm_store_load_latest(p->store, &snap, NULL, &skipped, NULL);
    if (err == RM_ECKPT_NONE)
        return RM_OK; /* crashed before its first save: starts over */
    if (err)
        return err;
    rm_trainer_state ts = {
        .step = snap.step, .epoch = snap.epoch, .cursor = snap.cursor,
        .n = snap.nparams, .params = snap.params, .opt_kind = (int)snap.opt_kind,
        .opt_t = snap.opt_t, .opt_m = snap.opt_m, .opt_v = snap.opt_v,
        .norder = snap.norder, .order = snap.order};
    if (strcmp(snap.model, s->sc.model) != 0)
        err = RM_EMISMATCH;
    if (!err && p->trainer)
        err = rm_trainer_set_state(p->trainer, &ts);
    else if (!err) /* a forest: its trees, into the forest and the core */
        err = sim_forest_restore(s, i, snap.extra, snap.extra_len);
    if (!err)
        err = rm_peer_restore_state(p->core, snap.view, snap.view_len, snap.bases,
                                    snap.bases_len);
    if (!err) {
        memcpy(s->learn[i].rng.s, snap.rng, sizeof snap.rng);
        s->ckpt.restores++;
        s->ckpt.skipped += skipped;
    }
    rm_snapshot_release(&snap);
    return err;
}

void sim_ckpt_close(rm_sim *s, uint32_t i) {
    rm_store_close(s->peer[i].store);
    s->peer[i].store = NULL;
}
