/* The simulator's peers: creating them, (re)starting their cores, their
 * learners, and the per-link state table. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "sim/sim_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double sim_host_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seed streams: every consumer of randomness gets its own, so that adding
 * draws in one place never shifts another's. */
enum { STREAM_NET = 1, STREAM_FAULT, STREAM_TOPO, STREAM_SHARD, STREAM_DEVICE, STREAM_EVAL,
       STREAM_INIT = 1u << 20, STREAM_LEARN = 2u << 20, STREAM_CORE = 3u << 20,
       STREAM_FOREST = 4u << 20 };

/* A simulated peer's id: its index in the first four bytes, then a fixed
 * pattern (real peers use their public key). */
static void make_id(uint8_t id[RM_ID_BYTES], uint32_t i) {
    memset(id, 0x5a, RM_ID_BYTES);
    id[0] = (uint8_t)i;
    id[1] = (uint8_t)(i >> 8);
    id[2] = (uint8_t)(i >> 16);
    id[3] = (uint8_t)(i >> 24);
}

uint32_t sim_peer_index(const uint8_t id[RM_ID_BYTES]) {
    return (uint32_t)id[0] | (uint32_t)id[1] << 8 | (uint32_t)id[2] << 16 |
           (uint32_t)id[3] << 24;
}

const float *sim_params(const rm_sim *s, uint32_t i) {
    const sim_peer *p = &s->peer[i];
    if (p->trainer) {
        size_t n;
        return rm_trainer_params(p->trainer, &n);
    }
    return p->vec;
}

/* ---- links -------------------------------------------------------------- */

static uint64_t link_hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
}

/* A link whose last message has arrived, whose wire is idle and whose
 * burst state is good behaves exactly like a link never used: its entry
 * can go, and the table only holds links with traffic in flight (memory
 * stays O(messages in flight), not O(pairs that ever talked): 600,000
 * pairs and 64 MB in a 10,000-peer run before this). */
static bool link_idle(const sim_link *l, uint64_t now) {
    return l->st.last_arrival_us <= now && l->st.busy_until_us <= now && !l->st.ge_bad;
}

/* Rebuilds the table without idle links, at twice the size needed. */
static bool links_rebuild(rm_sim *s) {
    uint32_t active = 0;
    for (uint32_t i = 0; i < s->links_cap; i++)
        active += s->links[i].key && !link_idle(&s->links[i], s->now);
    uint32_t cap = 1024;
    while (cap < 4 * (active + 1))
        cap *= 2;
    sim_link *t = calloc(cap, sizeof *t);
    if (!t)
        return false;
    for (uint32_t i = 0; i < s->links_cap; i++) {
        if (!s->links[i].key || link_idle(&s->links[i], s->now))
            continue;
        uint32_t j = (uint32_t)link_hash(s->links[i].key) & (cap - 1);
        while (t[j].key)
            j = (j + 1) & (cap - 1);
        t[j] = s->links[i];
    }
    free(s->links);
    s->links = t;
    s->links_cap = cap;
    s->links_len = active;
    return true;
}

/* The state of the directed link a -> b, created on first use. O(1)
 * expected; only links that carry traffic take memory. */
rm_link_state *sim_link_state(rm_sim *s, uint32_t a, uint32_t b) {
    if (2 * (s->links_len + 1) > s->links_cap && !links_rebuild(s)) {
        s->oom = true;
        return NULL;
    }
    uint64_t key = ((uint64_t)a << 32 | b) + 1;
    uint32_t j = (uint32_t)link_hash(key) & (s->links_cap - 1);
    while (s->links[j].key && s->links[j].key != key)
        j = (j + 1) & (s->links_cap - 1);
    if (!s->links[j].key) {
        s->links[j].key = key;
        s->links_len++;
    }
    return &s->links[j].st;
}

/* ---- learners ----------------------------------------------------------- */

/* Training steps peer i takes. By default every peer takes the same number
 * (the epochs over the mean shard). With [peers] budget = time, the same
 * total is shared out in proportion to each device's speed, so that every
 * peer trains for about the same time: with equal steps on devices of
 * different speeds, the slowest train on alone at the end and pull the
 * swarm's model towards their own shards (77% against 83% for 32 label-
 * skewed peers with lognormal speeds). */
uint64_t sim_peer_steps(const rm_sim *s, uint32_t i) {
    if (!s->sc.budget_time || !s->plan.steps_per_peer || s->rate_sum <= 0.0)
        return s->plan.steps_per_peer;
    double share = (1.0 / s->peer[i].speed) / s->rate_sum;
    uint64_t n = (uint64_t)(share * (double)s->plan.steps_per_peer * s->sc.peers + 0.5);
    return n ? n : 1;
}

/* Builds peer i's learner at its initial model (a restart starts over:
 * crashed peers lose their memory). */
static rm_err learner_start(rm_sim *s, uint32_t i, rm_diag *diag) {
    sim_peer *p = &s->peer[i];
    /* A vector peer starts at its own value (there is something to
     * average); a model starts where every other peer's does, as real
     * nodes do (rumor node seeds it from --seed): averaging models drawn
     * from different inits wastes the early steps, their hidden units
     * unmatched (flaky-wan's peers alone: 84.66% -> 85.52% on ideal links). */
    rm_rng init;
    rm_rng_seed_stream(&init, s->opt.seed, STREAM_INIT + (s->vector ? i : 0));
    if (s->learn)
        rm_rng_seed_stream(&s->learn[i].rng, s->opt.seed,
                       STREAM_LEARN + i + ((uint64_t)p->incarnation << 40));
    if (s->vector) {
        for (uint32_t k = 0; k < s->n; k++)
            p->vec[k] = s->sc.vector_init_index ? (float)i
                                                : (float)rm_rng_normal(&init);
        return RM_OK;
    }
    if (s->forest)
        return sim_forest_start(s, i);
    rm_trainer_free(p->trainer);
    p->trainer = NULL;
    rm_train_config c;
    rm_train_config_default(&c);
    snprintf(c.model, sizeof c.model, "%s", s->sc.model);
    c.dropout = s->sc.dropout;
    c.logit_adjust = s->sc.logit_adjust;
    rm_optim_config_default(&c.opt, s->sc.sgd ? RM_OPT_SGD : RM_OPT_ADAM);
    c.opt.lr = s->sc.lr;
    if (s->sc.cosine && s->plan.steps_per_peer) {
        c.opt.sched = RM_SCHED_COSINE;
        c.opt.lr_min = s->sc.lr_min;
        c.total_steps = sim_peer_steps(s, i);
    }
    c.batch = (int)s->sc.batch;
    c.epochs = 1;
    return rm_trainer_create(&p->trainer, &c, &s->learn[i].shard, &init, diag);
}

uint32_t sim_learner_step(rm_sim *s, uint32_t i, bool *free_step) {
    sim_peer *p = &s->peer[i];
    if (p->forest)
        return sim_forest_step(s, i, free_step);
    if (!p->trainer)
        return 0;
    rm_step_stats st;
    double t0 = sim_host_seconds();
    rm_trainer_step(p->trainer, &s->learn[i].rng, &st);
    s->timing.learn_seconds += sim_host_seconds() - t0;
    return (uint32_t)st.rows;
}

/* ---- peers -------------------------------------------------------------- */

rm_err sim_peer_start(rm_sim *s, uint32_t i) {
    sim_peer *p = &s->peer[i];
    bool restart = p->incarnation > 0;
    bool ckpt = s->sc.ckpt_every_us && !s->vector;
    /* With checkpoints the incarnation lives in the peer's store, bumped
     * durably before the peer says anything, as on a real node. */
    rm_err err = RM_OK;
    if (ckpt)
        err = sim_ckpt_bump_incarnation(s, i);
    else
        p->incarnation++;
    if (!err)
        err = learner_start(s, i, NULL);
    if (err)
        return err;
    rm_peer_config c;
    rm_peer_config_default(&c);
    memcpy(c.id, p->id, RM_ID_BYTES);
    memcpy(c.addr, p->addr, sizeof p->addr);
    c.incarnation = p->incarnation;
    c.params = p->trainer ? rm_trainer_params(p->trainer, &(size_t){0}) : p->vec;
    c.n = s->n;
    c.scratch = s->scratch;
    c.frame_alloc = sim_frame_alloc;
    c.frame_free = sim_frame_free;
    c.frame_ctx = s;
    c.merge = s->sc.merge;
    c.gossip_interval_us = s->sc.interval_us;
    c.exchange_timeout_us = s->sc.timeout_us;
    c.exchanges_max = s->forest ? 1 : s->sc.concurrent;
    c.steps_per_merge = s->sc.steps_per_merge;
    c.merge_wait_us = s->sc.merge_wait_us;
    c.view_max = s->sc.view;
    c.shuffle_len = s->sc.shuffle;
    c.view_shuffle = s->sc.view_shuffle;
    c.train = !s->vector && s->training;
    c.max_steps = sim_peer_steps(s, i);
    c.norm_ratio_max = s->sc.norm_ratio;
    c.delta = s->sc.delta;
    c.delta_int8 = s->sc.delta_int8;
    c.rejoin = restart && s->sc.rejoin && p->trainer;
    if (s->forest) {
        /* Trees are items; the peer stops once its share is grown. */
        c.items_max = s->fc.trees;
        c.max_steps = s->learn[i].share;
        c.train = c.train && s->learn[i].share > 0;
    }
    rm_rng core_rng;
    rm_rng_seed_stream(&core_rng, s->opt.seed,
                       STREAM_CORE + i + ((uint64_t)p->incarnation << 40));
    err = rm_peer_create(&p->core, &c, &core_rng, s->now);
    if (!err && ckpt) {
        if (restart)
            err = sim_ckpt_restore(s, i);
        p->ckpt_at = s->now + s->sc.ckpt_every_us;
    }
    if (err)
        return err;
    const rm_topology *t = &s->topo;
    for (uint32_t k = t->off[i]; k < t->off[i + 1]; k++) {
        const sim_peer *q = &s->peer[t->nbr[k]];
        rm_peer_add_seed(p->core, q->id, q->addr, 0);
    }
    p->up = true;
    p->timer_at = RM_NEVER;
    s->cores[i] = p->core;
    return RM_OK;
}

/* Deals the training rows out to the peers (iid or label skew). */
static rm_err make_shards(rm_sim *s, rm_diag *diag) {
    const rm_dataset *d = s->opt.train;
    uint32_t *of = malloc(d->n * sizeof *of);
    if (!of)
        return RM_ENOMEM;
    rm_rng r;
    rm_rng_seed_stream(&r, s->opt.seed, STREAM_SHARD);
    rm_err err = rm_dataset_shard(d, s->sc.peers,
                                  s->sc.label_skew ? RM_SHARD_LABEL_SKEW : RM_SHARD_IID,
                                  s->sc.alpha, &r, of);
    s->plan.shard_min = UINT64_MAX;
    for (uint32_t i = 0; !err && i < s->sc.peers; i++) {
        err = rm_dataset_take_shard(d, of, i, &s->learn[i].shard);
        uint64_t rows = s->learn[i].shard.n;
        if (!err && rows == 0)
            err = rm_diag_set(diag, RM_EINVAL,
                              "[data] peer %u got no rows: use fewer peers or a larger alpha", i);
        if (rows < s->plan.shard_min)
            s->plan.shard_min = rows;
        if (rows > s->plan.shard_max)
            s->plan.shard_max = rows;
    }
    free(of);
    return err;
}

/* Parses "vector:N" into the model size. */
static bool vector_model(const char *spec, uint32_t *n) {
    if (strncmp(spec, "vector:", 7) != 0)
        return false;
    long v = strtol(spec + 7, NULL, 10);
    *n = v > 0 && v <= (1 << 24) ? (uint32_t)v : 0;
    return true;
}

static rm_err setup(rm_sim *s, rm_diag *diag) {
    const rm_scenario *sc = &s->sc;
    const uint32_t np = sc->peers;
    s->plan.seed = s->opt.seed;
    s->plan.peers = np;
    s->training = true;
    s->vector = vector_model(sc->model, &s->n);
    if (s->vector && s->n == 0)
        return rm_diag_set(diag, RM_EINVAL, "[model] spec: '%s' needs a size 1..16777216",
                           sc->model);
    s->forest = strncmp(sc->model, "forest", 6) == 0 &&
                (sc->model[6] == '\0' || sc->model[6] == ':');
    rm_forest_config_default(&s->fc);
    if (s->forest && rm_forest_config_parse(sc->model, &s->fc, diag) != RM_OK)
        return RM_EMODEL_SPEC;
    if (s->forest && sc->steps_per_merge)
        return rm_diag_set(diag, RM_EINVAL, "[gossip] steps_per_merge: a forest merges "
                                            "no models (its trees travel as items)");
    if (sc->ckpt_every_us && !s->vector && !s->opt.ckpt_dir)
        return rm_diag_set(diag, RM_EINVAL, "[checkpoint] every: the run was given no "
                                            "folder for the peers' checkpoint stores");
    if (!s->vector && (!s->opt.train || !s->opt.test))
        return rm_diag_set(diag, RM_EINVAL, "[data] the model '%s' needs training data",
                           sc->model);
    rm_rng_seed_stream(&s->net_rng, s->opt.seed, STREAM_NET);
    rm_rng_seed_stream(&s->fault_rng, s->opt.seed, STREAM_FAULT);
    rm_rng topo_rng, dev;
    rm_rng_seed_stream(&topo_rng, s->opt.seed, STREAM_TOPO);
    rm_rng_seed_stream(&dev, s->opt.seed, STREAM_DEVICE);
    rm_err err = rm_topo_build(&sc->topo, np, &topo_rng, &s->topo);
    if (err)
        return rm_diag_set(diag, err, "[topology] cannot build it for %u peers", np);
    s->plan.topo_edges = s->topo.off[np];
    err = RM_ENOMEM;
    s->peer = calloc(np, sizeof *s->peer);
    s->scratch_idx = calloc(np, sizeof *s->scratch_idx);
    s->cores = calloc(np, sizeof *s->cores);
    if (!s->peer || !s->scratch_idx || !s->cores || rm_heap_init(&s->heap, (size_t)np + 64))
        return err;
    s->plan.speed_min = 1e300;
    /* Devices: a speed from the scenario's distribution, and a random
     * share of stragglers slowed further. */
    uint32_t *order = s->scratch_idx;
    for (uint32_t i = 0; i < np; i++) {
        sim_peer *p = &s->peer[i];
        make_id(p->id, i);
        snprintf(p->addr, sizeof p->addr, "sim:%u", i);
        p->speed = rm_dist_sample(&sc->speed, &dev);
        if (p->speed <= 0.0)
            p->speed = 1e-3;
        p->slow = 1.0;
        order[i] = i;
    }
    rm_rng_shuffle_u32(&dev, order, np);
    s->plan.stragglers = (uint32_t)(sc->stragglers * np + 0.5);
    for (uint32_t k = 0; k < s->plan.stragglers; k++)
        s->peer[order[k]].speed *= sc->straggler_factor;
    for (uint32_t i = 0; i < np; i++) {
        if (s->peer[i].speed < s->plan.speed_min)
            s->plan.speed_min = s->peer[i].speed;
        if (s->peer[i].speed > s->plan.speed_max)
            s->plan.speed_max = s->peer[i].speed;
        s->rate_sum += 1.0 / s->peer[i].speed;
    }
    if (!s->vector) {
        if (!(s->learn = calloc(np, sizeof *s->learn)))
            return RM_ENOMEM;
        if ((err = make_shards(s, diag)))
            return err;
        /* The periodic metrics' rows: a random sample of the test set (the
         * final row uses all of it). Fashion-MNIST's first 2,000 test
         * rows are easier than the rest: they read 0.8-2.3 points above
         * the whole set at the same model. */
        uint32_t tn = (uint32_t)s->opt.test->n;
        uint32_t rows = sc->eval_rows < tn ? sc->eval_rows : tn;
        uint32_t *pick = malloc(((size_t)rows + 1) * sizeof *pick);
        if (!pick)
            return RM_ENOMEM;
        rm_rng er;
        rm_rng_seed_stream(&er, s->opt.seed, STREAM_EVAL);
        rm_rng_sample_sorted(&er, tn, rows, pick);
        err = rm_dataset_subset(s->opt.test, pick, rows, &s->eval);
        free(pick);
        if (err)
            return err;
        if (s->forest) {
            /* One tree per step, no parameter vector (s->n stays 0). */
            if ((err = sim_forest_setup(s, STREAM_FOREST, diag)))
                return err;
        } else {
            if (sc->epochs > 0.0) {
                /* Every peer makes the same number of steps: the epochs
                 * over the mean shard, so that the total samples match a
                 * central run of `epochs` over the whole set. */
                double mean_rows = (double)s->opt.train->n / np;
                s->plan.steps_per_peer =
                    (uint64_t)(sc->epochs * mean_rows / sc->batch + 0.5);
            }
            /* The first learner tells the model's size. */
            if ((err = learner_start(s, 0, diag)))
                return err;
            size_t n;
            rm_trainer_params(s->peer[0].trainer, &n);
            s->n = (uint32_t)n;
        }
    }
    s->plan.params = s->n;
    err = RM_ENOMEM;
    s->scratch = malloc((s->n ? s->n : 1) * sizeof(float));
    s->mean = calloc(s->n ? s->n : 1, sizeof(double));
    if (!s->scratch || !s->mean)
        return err;
    /* Vector models in one block: 10,000 separate 4 KB allocations cost a
     * malloc header each and scatter across the heap. */
    if (s->vector && !(s->vecs = malloc((size_t)np * s->n * sizeof(float))))
        return err;
    double sum = 0.0;
    for (uint32_t i = 0; i < np; i++) {
        if (s->vector)
            s->peer[i].vec = s->vecs + (size_t)i * s->n;
        if ((err = sim_peer_start(s, i)))
            return rm_diag_set(diag, err, "peer %u: cannot start it: %s%s", i, rm_strerror(err),
                               s->sc.ckpt_every_us ? " (each peer's checkpoint store holds 3 file "
                                                     "descriptors: see ulimit -n)" : "");
        if (s->vector)
            sum += s->peer[i].vec[0];
    }
    s->true_mean = sum / np;
    s->live = np;
    return RM_OK;
}

rm_err rm_sim_create(rm_sim **out, const rm_scenario *sc, const rm_sim_options *o,
                     rm_diag *diag) {
    *out = NULL;
    rm_sim *s = calloc(1, sizeof *s);
    if (!s)
        return RM_ENOMEM;
    s->sc = *sc;
    s->opt = *o;
    rm_err err = setup(s, diag);
    if (err) {
        rm_sim_free(s);
        return err;
    }
    *out = s;
    return RM_OK;
}

void rm_sim_free(rm_sim *s) {
    if (!s)
        return;
    sim_forest_free(s);
    for (uint32_t i = 0; s->peer && i < s->sc.peers; i++) {
        rm_peer_free(s->peer[i].core);
        rm_trainer_free(s->peer[i].trainer);
        sim_ckpt_close(s, i);
        if (s->learn)
            rm_dataset_free(&s->learn[i].shard);

    }
    free(s->peer);
    free(s->vecs);
    free(s->learn);
    free(s->cores);
    free(s->scratch_idx);
    rm_topo_free(&s->topo);
    rm_heap_free(&s->heap);
    for (uint32_t i = 0; i < s->nmsg; i++)
        sim_frame_free(s, s->msg[i].bytes);
    sim_frames_release(s);
    free(s->msg);
    free(s->msg_free);
    free(s->links);
    free(s->scratch);
    free(s->mean);
    rm_dataset_free(&s->eval);
    free(s);
}

const rm_sim_plan *rm_sim_get_plan(const rm_sim *s) { return &s->plan; }
const rm_sim_metrics *rm_sim_last(const rm_sim *s) { return &s->m; }
const rm_sim_timing *rm_sim_get_timing(const rm_sim *s) { return &s->timing; }
const rm_sim_ckpt_stats *rm_sim_get_ckpt_stats(const rm_sim *s) { return &s->ckpt; }
const float *rm_sim_peer_params(const rm_sim *s, uint32_t i) { return sim_params(s, i); }

uint32_t rm_sim_first_live(const rm_sim *s) {
    for (uint32_t i = 0; i < s->sc.peers; i++)
        if (s->peer[i].up)
            return i;
    return UINT32_MAX;
}

const rm_forest *rm_sim_peer_forest(const rm_sim *s, uint32_t i) {
    return s->peer[i].up ? s->peer[i].forest : NULL;
}
uint32_t rm_sim_peer_items(const rm_sim *s, uint32_t i) {
    return s->peer[i].up ? rm_peer_item_count(s->peer[i].core) : 0;
}

/* Push-sum mass is in the peers and in the messages still on the wire. */
uint64_t rm_sim_total_weight(const rm_sim *s) {
    uint64_t w = 0;
    for (uint32_t i = 0; i < s->sc.peers; i++)
        if (s->peer[i].up)
            w += rm_peer_weight(s->peer[i].core);
    rm_wire_limits lim = {.frame_bytes_max = SIZE_MAX, .model_n_max = s->n};
    for (uint32_t k = 0; k < s->nmsg; k++) {
        rm_frame f;
        if (s->msg[k].bytes &&
            rm_wire_decode(s->msg[k].bytes, s->msg[k].len, &lim, &f) == RM_OK &&
            (f.type == RM_FRAME_PUSH || f.type == RM_FRAME_PULL_REPLY))
            w += (uint64_t)f.u.ex.weight;
    }
    return w;
}
