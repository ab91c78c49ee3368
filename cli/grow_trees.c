#include "cli/grow_trees.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#define THREADS_MAX 256

typedef struct {
    const rm_binned *b;
    const rm_forest_config *c;
    uint64_t seed;
    uint32_t count;
    atomic_uint next, done;
    atomic_int err;
    rm_tree **trees; /* (count) */
    rm_grow_tick *tick; /* the calling thread's worker only */
    void *ctx;
} grow_job;

static void work(grow_job *j, bool ticks) {
    rm_tree_ws *ws;
    rm_err err = rm_tree_ws_create(&ws, j->b);
    if (err) {
        atomic_store(&j->err, err);
        return;
    }
    for (;;) {
        uint32_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->count || atomic_load(&j->err))
            break;
        if ((err = rm_tree_grow_nth(&j->trees[i], j->b, j->c, j->seed, i, ws)))
            atomic_store(&j->err, err);
        uint32_t done = atomic_fetch_add(&j->done, 1) + 1;
        if (ticks && j->tick)
            j->tick(j->ctx, done, j->count);
    }
    rm_tree_ws_free(ws);
}

static void *worker(void *arg) {
    work(arg, false);
    return NULL;
}

rm_err rm_grow_trees(rm_forest *f, const rm_binned *b, const rm_forest_config *c,
                     uint64_t seed, uint32_t count, int threads,
                     rm_grow_tick *tick, void *ctx) {
    grow_job j = {.b = b, .c = c, .seed = seed, .count = count, .tick = tick, .ctx = ctx};
    atomic_init(&j.next, 0);
    atomic_init(&j.done, 0);
    atomic_init(&j.err, 0);
    if (!(j.trees = calloc(count ? count : 1, sizeof *j.trees)))
        return RM_ENOMEM;
    threads = threads < 1 ? 1 : threads > THREADS_MAX ? THREADS_MAX : threads;
    pthread_t th[THREADS_MAX];
    int started = 0;
    for (int t = 1; t < threads; t++)
        if (pthread_create(&th[started], NULL, worker, &j) == 0)
            started++;
    work(&j, true);
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    rm_err err = atomic_load(&j.err);
    for (uint32_t i = 0; i < count; i++)
        if (!err && (err = rm_forest_add(f, j.trees[i])) == RM_OK)
            j.trees[i] = NULL;
    for (uint32_t i = 0; i < count; i++)
        rm_tree_free(j.trees[i]);
    free(j.trees);
    return err;
}
