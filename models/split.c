/* rumor: train/test splits and per-peer shards, all seeded. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/dataset.h"

rm_err rm_dataset_split(const rm_dataset *ds, double test_fraction, rm_rng *rng,
                        rm_dataset *train, rm_dataset *test) {
    rm_err err = RM_OK;
    uint32_t *perm = NULL;
    uint8_t *is_test = NULL;
    size_t n = ds->n;
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (!(test_fraction >= 0.0 && test_fraction <= 1.0) ||
        n > RM_DATA_ROWS_MAX)
        return RM_EINVAL;
    size_t n_test = (size_t)floor((double)n * test_fraction + 0.5);
    n_test = n_test < n ? n_test : n;

    perm = malloc((n ? n : 1) * sizeof *perm);
    is_test = calloc(n ? n : 1, 1);
    if (!perm || !is_test) {
        err = RM_ENOMEM;
        goto err;
    }
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    rm_rng_shuffle_u32(rng, perm, n);
    for (size_t i = 0; i < n_test; i++)
        is_test[perm[i]] = 1;
    /* Both parts keep the rows in file order: perm becomes the train rows
     * followed by the test rows. */
    size_t a = 0, b = n - n_test;
    for (size_t i = 0; i < n; i++)
        perm[is_test[i] ? b++ : a++] = (uint32_t)i;
    if ((err = rm_dataset_subset(ds, perm, n - n_test, train)) ||
        (err = rm_dataset_subset(ds, perm + (n - n_test), n_test, test)))
        goto err;
    free(perm);
    free(is_test);
    return RM_OK;
err:
    free(perm);
    free(is_test);
    rm_dataset_free(train);
    rm_dataset_free(test);
    return err;
}

/* A shuffle cut into `peers` runs whose sizes differ by at most one. */
static rm_err shard_iid(size_t n, uint32_t peers, rm_rng *rng,
                        uint32_t *shard_of) {
    uint32_t *perm = malloc((n ? n : 1) * sizeof *perm);
    if (!perm)
        return RM_ENOMEM;
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    rm_rng_shuffle_u32(rng, perm, n);
    for (uint32_t k = 0; k < peers; k++) {
        size_t lo = (size_t)((uint64_t)n * k / peers);
        size_t hi = (size_t)((uint64_t)n * (k + 1) / peers);
        for (size_t i = lo; i < hi; i++)
            shard_of[perm[i]] = k;
    }
    free(perm);
    return RM_OK;
}

/* Deals one class's m shuffled rows to the peers in Dirichlet(alpha)
 * shares, cutting at rounded cumulative shares so that every row goes to
 * exactly one peer. */
static void deal_class(const uint32_t *rows, size_t m, uint32_t peers,
                       double alpha, double *share, rm_rng *rng,
                       uint32_t *shard_of) {
    double sum = 0.0;
    for (uint32_t k = 0; k < peers; k++) {
        share[k] = rm_rng_gamma(rng, alpha);
        sum += share[k];
    }
    if (!(sum > 0.0) || !isfinite(sum)) {
        /* Every draw underflowed (alpha near 0): the Dirichlet's limit is
         * all the mass on one peer, chosen uniformly. */
        memset(share, 0, peers * sizeof *share);
        share[rm_rng_below(rng, peers)] = 1.0;
        sum = 1.0;
    }
    double cum = 0.0;
    size_t lo = 0;
    for (uint32_t k = 0; k < peers; k++) {
        cum += share[k];
        size_t hi = k + 1 == peers ? m : (size_t)floor(cum / sum * m + 0.5);
        hi = hi < lo ? lo : hi > m ? m : hi;
        for (size_t i = lo; i < hi; i++)
            shard_of[rows[i]] = k;
        lo = hi;
    }
}

/* O(n + classes * peers): a counting sort groups the rows by class, then
 * each class is dealt out on its own. */
static rm_err shard_label_skew(const rm_dataset *ds, uint32_t peers,
                               double alpha, rm_rng *rng, uint32_t *shard_of) {
    rm_err err = RM_OK;
    size_t n = ds->n, classes = ds->classes;
    size_t *off = calloc(classes + 1, sizeof *off);
    uint32_t *order = malloc((n ? n : 1) * sizeof *order);
    double *share = malloc(peers * sizeof *share);
    if (!off || !order || !share) {
        err = RM_ENOMEM;
        goto err;
    }
    for (size_t i = 0; i < n; i++) {
        if (ds->y[i] < 0 || (size_t)ds->y[i] >= classes) {
            err = RM_EINVAL;
            goto err;
        }
        off[ds->y[i] + 1]++;
    }
    for (size_t c = 0; c < classes; c++)
        off[c + 1] += off[c];
    for (size_t i = 0; i < n; i++)
        order[off[ds->y[i]]++] = (uint32_t)i;
    /* off[c] now ends class c; class c starts where class c-1 ends. */
    for (size_t c = 0; c < classes; c++) {
        size_t lo = c ? off[c - 1] : 0, m = off[c] - lo;
        rm_rng_shuffle_u32(rng, order + lo, m);
        deal_class(order + lo, m, peers, alpha, share, rng, shard_of);
    }
err:
    free(off);
    free(order);
    free(share);
    return err;
}

rm_err rm_dataset_shard(const rm_dataset *ds, uint32_t peers,
                        rm_shard_kind kind, double alpha, rm_rng *rng,
                        uint32_t *shard_of) {
    if (peers == 0 || peers > RM_DATA_ROWS_MAX || ds->n > RM_DATA_ROWS_MAX)
        return RM_EINVAL;
    if (kind == RM_SHARD_IID)
        return shard_iid(ds->n, peers, rng, shard_of);
    if (kind == RM_SHARD_LABEL_SKEW) {
        if (!(alpha > 0.0) || !isfinite(alpha) || ds->classes == 0 ||
            ds->classes > RM_DATA_CLASSES_MAX)
            return RM_EINVAL;
        return shard_label_skew(ds, peers, alpha, rng, shard_of);
    }
    return RM_EINVAL;
}

rm_err rm_dataset_take_shard(const rm_dataset *ds, const uint32_t *shard_of,
                             uint32_t which, rm_dataset *out) {
    memset(out, 0, sizeof *out);
    size_t m = 0;
    for (size_t i = 0; i < ds->n; i++)
        m += shard_of[i] == which;
    uint32_t *idx = malloc((m ? m : 1) * sizeof *idx);
    if (!idx)
        return RM_ENOMEM;
    m = 0;
    for (size_t i = 0; i < ds->n; i++)
        if (shard_of[i] == which)
            idx[m++] = (uint32_t)i;
    rm_err err = rm_dataset_subset(ds, idx, m, out);
    free(idx);
    return err;
}
