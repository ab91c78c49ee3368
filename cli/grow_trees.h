/* Growing a forest's trees on threads, for rumor train and bench_forest.
 * Threads are the CLI's business: models/ is single-threaded and
 * reentrant, so each worker takes the next tree index and grows it with a
 * workspace of its own. Tree i depends only on (data, config, seed, i), so
 * the forest is the same for any number of threads. */
#ifndef RM_CLI_GROW_TREES_H
#define RM_CLI_GROW_TREES_H

#include <stdint.h>

#include "models/forest.h"

/* Called on the calling thread after each tree it grows: `done` trees of
 * `count` are grown (by all threads). */
typedef void rm_grow_tick(void *ctx, uint32_t done, uint32_t count);

/* Grows trees 0..count-1 of `seed` on b on `threads` threads (the calling
 * one included; 1..256) and adds them to f in index order. tick may be
 * NULL. Errors: the first that a workspace, a tree or rm_forest_add met
 * (RM_ENOMEM, ...); trees added before it stay in f. */
rm_err rm_grow_trees(rm_forest *f, const rm_binned *b, const rm_forest_config *c,
                     uint64_t seed, uint32_t count, int threads,
                     rm_grow_tick *tick, void *ctx);

#endif
