/* The simulator's forest learner (a [model] spec = forest:...): each
 * training peer grows its share of the trees on its own shard, one tree per
 * training step, and the gossip core spreads them as items (merged by
 * union). A tree is a blob with an id; a peer keeps a tree from a partner
 * only once it has decoded and checked it, so a bad one stops at the first
 * peer that sees it. Tree k of peer i is a function of (shard, config,
 * forest seed of i, k) alone: a peer that restarts regrows the same trees,
 * with the same ids, and skips those it holds already. */
#include "sim/sim_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bins every shard once, sets each peer's share and forest seed, and makes
 * the one tree workspace, sized for the largest shard. */
rm_err sim_forest_setup(rm_sim *s, uint64_t seed_stream, rm_diag *diag) {
    const uint32_t np = s->sc.peers;
    uint32_t largest = 0;
    for (uint32_t i = 0; i < np; i++) {
        sim_learner *l = &s->learn[i];
        rm_err err = rm_binned_create(&l->binned, &l->shard, diag);
        if (err)
            return err;
        l->share = rm_forest_share(s->fc.trees, np, i);
        /* Not drawn per incarnation: a restarted peer must regrow the same
         * trees under the same ids. */
        rm_rng r;
        rm_rng_seed_stream(&r, s->opt.seed, seed_stream + i);
        l->forest_seed = rm_rng_u64(&r);
        if (l->shard.n > s->learn[largest].shard.n)
            largest = i;
    }
    s->plan.steps_per_peer = rm_forest_share(s->fc.trees, np, 0);
    return rm_tree_ws_create(&s->tree_ws, s->learn[largest].binned);
}

/* Classes the forests are made for: the test set may not hold more. */
static uint32_t forest_classes(const rm_sim *s) {
    uint32_t c = s->opt.train->classes;
    return s->opt.test && s->opt.test->classes > c ? s->opt.test->classes : c;
}

/* Peer i starts (or restarts) with no trees. */
rm_err sim_forest_start(rm_sim *s, uint32_t i) {
    sim_peer *p = &s->peer[i];
    rm_forest_free(p->forest);
    p->forest = NULL;
    return rm_forest_create(&p->forest, (uint32_t)s->learn[i].shard.d, forest_classes(s));
}

/* Adds tree t (grown or restored) to peer i's forest and to its core's
 * items. On error t is freed. */
static rm_err keep_tree(rm_sim *s, uint32_t i, rm_tree *t) {
    sim_peer *p = &s->peer[i];
    rm_tree_info info;
    rm_tree_get_info(t, &info);
    uint8_t *blob = NULL;
    size_t len = 0;
    rm_err err = rm_tree_encode(t, &blob, &len);
    if (!err && (err = rm_forest_add(p->forest, t)) == RM_OK)
        t = NULL; /* the forest's now */
    rm_tree_free(t);
    if (!err)
        err = rm_peer_add_item(p->core, info.id, blob, len);
    free(blob);
    return err;
}

/* One step: tree number `steps` of this peer's share (steps counts its
 * steps so far, restored from a checkpoint after a restart). A tree the
 * peer holds already (it came back by gossip after a crash) is not grown
 * again and costs no time. Returns the shard's rows. */
uint32_t sim_forest_step(rm_sim *s, uint32_t i, bool *free_step) {
    sim_peer *p = &s->peer[i];
    sim_learner *l = &s->learn[i];
    uint64_t k = rm_peer_get_stats(p->core)->steps;
    /* (k reaches the share when a restored core asked for one more step
     * before it knew its count.) */
    if (k >= l->share || rm_forest_has(p->forest, rm_tree_id_make(l->forest_seed, k))) {
        *free_step = true;
        return 0;
    }
    double t0 = sim_host_seconds();
    rm_tree *t = NULL;
    rm_err err = rm_tree_grow_nth(&t, l->binned, &s->fc, l->forest_seed, k, s->tree_ws);
    if (!err)
        err = keep_tree(s, i, t);
    s->timing.learn_seconds += sim_host_seconds() - t0;
    if (err)
        s->oom = true; /* growing cannot fail on good data but for memory */
    return (uint32_t)l->shard.n;
}

void sim_forest_item(rm_sim *s, uint32_t i, const rm_action *a) {
    sim_peer *p = &s->peer[i];
    if (!p->forest)
        return;
    /* The id it travelled under must be the blob's own: otherwise a peer
     * could hide a tree under another's id. */
    uint64_t id;
    rm_err err = rm_tree_blob_id(a->bytes, a->len, &id);
    if (!err && id != a->item_id)
        err = RM_EWIRE_MALFORMED;
    if (!err) {
        double t0 = sim_host_seconds();
        err = rm_forest_add_blob(p->forest, a->bytes, a->len, NULL);
        s->timing.learn_seconds += sim_host_seconds() - t0;
    }
    if (err == RM_ETREE_DUPLICATE)
        err = RM_OK; /* regrown meanwhile: the core holds it already */
    else if (!err)
        err = rm_peer_add_item(p->core, a->item_id, a->bytes, a->len);
    if (err) {
        s->items_refused++;
        return;
    }
    /* Received trees go into the next checkpoint too: a peer that has
     * grown its share saves no more at its steps (sim.c saves it when it
     * next handles an input, once a checkpoint is due). */
    p->ckpt_dirty = true;
}

/* A checkpoint's forest blob back into peer i (just started, empty): the
 * forest, and every tree into its core's items. */
rm_err sim_forest_restore(rm_sim *s, uint32_t i, const uint8_t *blob, size_t len) {
    sim_peer *p = &s->peer[i];
    rm_forest *f = NULL;
    rm_err err = rm_forest_decode(blob, len, &f, NULL);
    if (err)
        return err;
    if (rm_forest_features(f) != rm_forest_features(p->forest) ||
        rm_forest_classes(f) != rm_forest_classes(p->forest)) {
        rm_forest_free(f);
        return RM_EMISMATCH;
    }
    rm_forest_free(p->forest);
    p->forest = f;
    for (size_t k = 0; !err && k < rm_forest_count(f); k++) {
        const rm_tree *t = rm_forest_tree(f, k);
        rm_tree_info info;
        rm_tree_get_info(t, &info);
        uint8_t *b = NULL;
        size_t n = 0;
        if (!(err = rm_tree_encode(t, &b, &n)))
            err = rm_peer_add_item(p->core, info.id, b, n);
        free(b);
    }
    return err;
}

static int sim_cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The consensus column for forests: the mean over live peers of the share
 * of the union's trees (over live peers) that the peer lacks; 0 when every
 * live peer holds every tree any of them holds. */
void sim_forest_consensus(rm_sim *s) {
    size_t total = 0;
    uint32_t live = 0;
    for (uint32_t i = 0; i < s->sc.peers; i++)
        if (s->peer[i].up)
            total += rm_forest_count(s->peer[i].forest);
    if (total > s->ids_cap) {
        uint64_t *grown = realloc(s->ids, total * sizeof *grown);
        if (!grown) {
            s->oom = true;
            return;
        }
        s->ids = grown;
        s->ids_cap = total;
    }
    /* Each forest lists its ids in order: merge them by sorting all. */
    size_t n = 0;
    for (uint32_t i = 0; i < s->sc.peers; i++) {
        if (!s->peer[i].up)
            continue;
        live++;
        const rm_forest *f = s->peer[i].forest;
        for (size_t k = 0; k < rm_forest_count(f); k++) {
            rm_tree_info info;
            rm_tree_get_info(rm_forest_tree(f, k), &info);
            s->ids[n++] = info.id;
        }
    }
    size_t uni = 0;
    if (n) {
        qsort(s->ids, n, sizeof *s->ids, sim_cmp_u64);
        uni = 1;
        for (size_t k = 1; k < n; k++)
            uni += s->ids[k] != s->ids[k - 1];
    }
    double lack = 0.0;
    for (uint32_t i = 0; uni && i < s->sc.peers; i++)
        if (s->peer[i].up)
            lack += 1.0 - (double)rm_forest_count(s->peer[i].forest) / (double)uni;
    s->m.consensus = live ? lack / live : NAN;
}

/* Peer i's accuracy on ds; a peer with no tree yet predicts nothing and
 * scores 0. */
rm_err sim_forest_accuracy(rm_sim *s, uint32_t i, const rm_dataset *ds, double *acc) {
    const rm_forest *f = s->peer[i].forest;
    *acc = 0.0;
    if (rm_forest_count(f) == 0)
        return RM_OK;
    rm_eval_result r;
    rm_err err = rm_forest_evaluate(f, ds, &r);
    if (err)
        return err;
    *acc = r.accuracy;
    rm_eval_result_free(&r);
    return RM_OK;
}

void sim_forest_free(rm_sim *s) {
    for (uint32_t i = 0; s->peer && i < s->sc.peers; i++) {
        rm_forest_free(s->peer[i].forest);
        s->peer[i].forest = NULL;
        if (s->learn)
            rm_binned_free(s->learn[i].binned);
    }
    rm_tree_ws_free(s->tree_ws);
    free(s->ids);
}
