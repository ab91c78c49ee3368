/* Random forest on Fashion-MNIST: accuracy and wall time of
 *   (a) T trees on the full training set, with 1 and with 2 threads;
 *   (b) 8 peers that each grow their share of the T trees on their own iid
 *       shard (7,500 rows each), the forest being the union of the trees.
 * The trees are grown on threads by cli/grow_trees.c, as rumor train does:
 * the forest is the same for any number of threads.
 *
 * usage: bench_forest [--data DIR] [--trees N] [--depth D] [--min-leaf M]
 *                     [--features K] [--bootstrap 0|1] [--threads T] [--peers P] [--seed S]
 *                     [--only full|shards]
 * Times are wall seconds on a monotonic clock; "grow" excludes the binning
 * and the evaluation, "fit" is binning + growing (what scikit-learn's fit
 * does after it has the float matrix). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/dataset.h"
#include "cli/grow_trees.h"
#include "models/forest.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void tree_stats(const rm_forest *f, double *nodes, double *depth) {
    *nodes = *depth = 0;
    for (size_t i = 0; i < rm_forest_count(f); i++) {
        rm_tree_info in;
        rm_tree_get_info(rm_forest_tree(f, i), &in);
        *nodes += in.nodes;
        *depth += in.depth;
    }
    *nodes /= (double)rm_forest_count(f);
    *depth /= (double)rm_forest_count(f);
}

static int report(const char *what, int threads, const rm_forest *f,
                  const rm_dataset *test, double bin_s, double grow_s) {
    double t0 = now_s();
    rm_eval_result r;
    rm_err err = rm_forest_evaluate(f, test, &r);
    if (err) {
        fprintf(stderr, "evaluate: %s\n", rm_strerror(err));
        return 1;
    }
    double eval_s = now_s() - t0, nodes, depth;
    tree_stats(f, &nodes, &depth);
    uint8_t *blob;
    size_t len;
    if ((err = rm_forest_encode(f, &blob, &len))) {
        fprintf(stderr, "encode: %s\n", rm_strerror(err));
        return 1;
    }
    free(blob);
    printf("%-28s threads %d  trees %3zu  test accuracy %.2f%%  fit %.2f s "
           "(bin %.2f, grow %.2f)  predict %.2f s  nodes/tree %.0f  depth %.1f  "
           "blob %.1f KB/tree\n",
           what, threads, rm_forest_count(f), 100.0 * r.accuracy,
           bin_s + grow_s, bin_s, grow_s, eval_s, nodes, depth,
           (double)len / 1024.0 / (double)rm_forest_count(f));
    fflush(stdout);
    rm_eval_result_free(&r);
    return 0;
}

static int run_full(const rm_dataset *train, const rm_dataset *test,
                    const rm_forest_config *c, uint64_t seed, int threads) {
    double t0 = now_s();
    rm_binned *b;
    rm_diag d = {{0}};
    rm_err err = rm_binned_create(&b, train, &d);
    if (err) {
        fprintf(stderr, "bin: %s %s\n", rm_strerror(err), d.msg);
        return 1;
    }
    double t1 = now_s();
    rm_forest *f;
    if ((err = rm_forest_create(&f, (uint32_t)train->d, train->classes)) ||
        (err = rm_grow_trees(f, b, c, seed, c->trees, threads, NULL, NULL))) {
        fprintf(stderr, "grow: %s\n", rm_strerror(err));
        return 1;
    }
    double t2 = now_s();
    int rc = report("full training set", threads, f, test, t1 - t0, t2 - t1);
    rm_forest_free(f);
    rm_binned_free(b);
    return rc;
}

/* Each peer bins its own shard and grows its share with its own seed; the
 * union is what every peer's forest converges to by gossip. */
static int run_shards(const rm_dataset *train, const rm_dataset *test,
                      const rm_forest_config *c, uint64_t seed, int threads,
                      uint32_t peers) {
    uint32_t *shard_of = malloc(train->n * sizeof *shard_of);
    rm_rng rng;
    rm_rng_seed_stream(&rng, seed, 0x5ead);
    rm_forest *f;
    if (!shard_of ||
        rm_dataset_shard(train, peers, RM_SHARD_IID, 1.0, &rng, shard_of) ||
        rm_forest_create(&f, (uint32_t)train->d, train->classes)) {
        fprintf(stderr, "shard: failed\n");
        return 1;
    }
    double bin_s = 0, grow_s = 0, peer_max = 0;
    for (uint32_t p = 0; p < peers; p++) {
        rm_dataset part;
        rm_binned *b;
        double t0 = now_s();
        if (rm_dataset_take_shard(train, shard_of, p, &part) ||
            rm_binned_create(&b, &part, NULL)) {
            fprintf(stderr, "peer %u: shard failed\n", p);
            return 1;
        }
        double t1 = now_s();
        uint32_t share = rm_forest_share(c->trees, peers, p);
        /* A peer's forest seed: its own stream of the run's seed. */
        rm_rng_seed_stream(&rng, seed, 1000 + p);
        rm_err err = rm_grow_trees(f, b, c, rm_rng_u64(&rng), share, threads, NULL, NULL);
        if (err) {
            fprintf(stderr, "peer %u: %s\n", p, rm_strerror(err));
            return 1;
        }
        double t2 = now_s();
        bin_s += t1 - t0;
        grow_s += t2 - t1;
        peer_max = t2 - t0 > peer_max ? t2 - t0 : peer_max;
        rm_binned_free(b);
        rm_dataset_free(&part);
    }
    char what[64];
    snprintf(what, sizeof what, "%u iid shards, union", peers);
    int rc = report(what, threads, f, test, bin_s, grow_s);
    printf("%-28s slowest peer %.2f s (bin + its %u-%u trees)\n", "",
           peer_max, c->trees / peers, (c->trees + peers - 1) / peers);
    rm_forest_free(f);
    free(shard_of);
    return rc;
}

int main(int argc, char **argv) {
    const char *dir = "/usr/share/datasets/fashion-mnist", *only = "";
    rm_forest_config c;
    rm_forest_config_default(&c);
    int threads = 0;
    uint32_t peers = 8;
    uint64_t seed = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--data"))
            dir = v;
        else if (!strcmp(k, "--trees"))
            c.trees = (uint32_t)atoi(v);
        else if (!strcmp(k, "--depth"))
            c.max_depth = (uint32_t)atoi(v);
        else if (!strcmp(k, "--min-leaf"))
            c.min_leaf = (uint32_t)atoi(v);
        else if (!strcmp(k, "--features"))
            c.features_per_split = (uint32_t)atoi(v);
        else if (!strcmp(k, "--bootstrap"))
            c.bootstrap = atoi(v) != 0;
        else if (!strcmp(k, "--threads"))
            threads = atoi(v);
        else if (!strcmp(k, "--peers"))
            peers = (uint32_t)atoi(v);
        else if (!strcmp(k, "--seed"))
            seed = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--only"))
            only = v;
        else {
            fprintf(stderr, "unknown flag %s\n", k);
            return 2;
        }
    }
    rm_dataset train, test;
    rm_diag d = {{0}};
    rm_err err = rm_mnist_read_dir(dir, &train, &test, &d);
    if (err) {
        fprintf(stderr, "%s: %s %s\n", dir, rm_strerror(err), d.msg);
        return 1;
    }
    char spec[128];
    rm_forest_config_format(&c, spec, sizeof spec);
    printf("bench_forest: %s, train %zu rows, test %zu rows, seed %llu\n", spec,
           train.n, test.n, (unsigned long long)seed);
    int rc = 0;
    int from = threads ? threads : 1, to = threads ? threads : 2;
    for (int t = from; t <= to && !rc; t++) {
        if (strcmp(only, "shards"))
            rc = run_full(&train, &test, &c, seed, t);
        if (!rc && strcmp(only, "full"))
            rc = run_shards(&train, &test, &c, seed, t, peers);
    }
    rm_dataset_free(&train);
    rm_dataset_free(&test);
    return rc;
}
