/* rumor train for random forests. Threads are the CLI's business
 * (models/ is single-threaded and reentrant): each worker takes the next
 * tree index and grows it with its own workspace; tree i depends only on
 * (data, config, seed, i), so the forest is the same for any --threads. */
#include "cli/train_forest.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_util.h"
#include "models/forest.h"
#include "models/model_file.h"

#define THREADS_MAX 256

typedef struct {
    const rm_binned *b;
    const rm_forest_config *c;
    uint64_t seed;
    uint32_t count;
    atomic_uint next, done;
    rm_tree **trees; /* (count) */
    atomic_int err;
} grow_job;

static void *grow_worker(void *arg) {
    grow_job *j = arg;
    rm_tree_ws *ws;
    rm_err err = rm_tree_ws_create(&ws, j->b);
    if (err) {
        atomic_store(&j->err, err);
        return NULL;
    }
    for (;;) {
        uint32_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->count || atomic_load(&j->err))
            break;
        if ((err = rm_tree_grow_nth(&j->trees[i], j->b, j->c, j->seed, i, ws)))
            atomic_store(&j->err, err);
        atomic_fetch_add(&j->done, 1);
    }
    rm_tree_ws_free(ws);
    return NULL;
}

/* Grows trees 0..count-1 on `threads` threads (this one included) and
 * adds them to f, drawing a progress bar from this thread. */
static rm_err grow_all(rm_forest *f, const rm_binned *b, const rm_forest_config *c,
                       uint64_t seed, int threads, rm_progress *bar) {
    grow_job j = {.b = b, .c = c, .seed = seed, .count = c->trees};
    atomic_init(&j.next, 0);
    atomic_init(&j.done, 0);
    atomic_init(&j.err, 0);
    if (!(j.trees = calloc(c->trees, sizeof *j.trees)))
        return RM_ENOMEM;
    pthread_t th[THREADS_MAX];
    int started = 0;
    for (int t = 0; t < threads; t++)
        if (pthread_create(&th[started], NULL, grow_worker, &j) == 0)
            started++;
    if (started == 0)
        grow_worker(&j);
    while (bar->on && atomic_load(&j.done) < j.count && !atomic_load(&j.err)) {
        char text[64];
        snprintf(text, sizeof text, "%u of %u trees", atomic_load(&j.done), j.count);
        rm_progress_draw(bar, (double)atomic_load(&j.done) / j.count, text);
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    rm_progress_clear(bar);
    rm_err err = atomic_load(&j.err);
    for (uint32_t i = 0; i < j.count; i++)
        if (!err && (err = rm_forest_add(f, j.trees[i])) == RM_OK)
            j.trees[i] = NULL;
    for (uint32_t i = 0; i < j.count; i++)
        rm_tree_free(j.trees[i]);
    free(j.trees);
    return err;
}

int rm_train_forest(const rm_train_forest_args *a) {
    const char *cmd = "train";
    rm_forest_config fc;
    rm_diag d = {{0}};
    rm_forest_config_default(&fc);
    if (rm_forest_config_parse(a->model, &fc, &d) != RM_OK) {
        rm_cli_error(cmd, "--model: %s", d.msg);
        return RM_EXIT_USAGE;
    }
    char spec[128];
    rm_forest_config_format(&fc, spec, sizeof spec);

    rm_dataset train = {0}, test = {0};
    double t_load = rm_cli_now();
    if (!rm_cli_load_data(cmd, a->data, a->test, a->test_fraction, a->seed, &train, &test))
        return RM_EXIT_FAIL;
    t_load = rm_cli_now() - t_load;
    int threads = a->threads > THREADS_MAX ? THREADS_MAX : (int)a->threads;
    if (!a->quiet)
        printf("rumor train: %s, %zu train / %zu test rows, %d thread%s, seed %llu "
               "(data loaded in %.2f s)\n", spec, train.n, test.n, threads,
               threads == 1 ? "" : "s", (unsigned long long)a->seed, t_load);
    fflush(stdout);

    int code = RM_EXIT_FAIL;
    rm_binned *b = NULL;
    rm_forest *f = NULL;
    rm_eval_result ev = {0};
    uint8_t *blob = NULL;
    size_t len = 0;
    rm_progress bar;
    rm_progress_init(&bar);
    if (a->quiet)
        bar.on = false;
    /* Timed as scikit-learn's fit is: from the loaded rows to the last
     * tree, binning included. */
    double t0 = rm_cli_now();
    rm_err err = rm_binned_create(&b, &train, &d);
    if (err) {
        rm_cli_error(cmd, "%s: %s%s%s", a->data, rm_strerror(err), d.msg[0] ? ": " : "",
                     d.msg);
        goto out;
    }
    if ((err = rm_forest_create(&f, (uint32_t)train.d, train.classes)) ||
        (err = grow_all(f, b, &fc, a->seed, threads, &bar))) {
        rm_cli_error(cmd, "growing the forest: %s", rm_strerror(err));
        goto out;
    }
    double train_seconds = rm_cli_now() - t0;
    rm_binned_free(b);
    b = NULL;
    double t1 = rm_cli_now();
    if ((err = rm_forest_evaluate(f, &test, &ev))) {
        rm_cli_error(cmd, "evaluating on the test set: %s", rm_strerror(err));
        goto out;
    }
    double eval_seconds = rm_cli_now() - t1;
    if ((err = rm_forest_encode(f, &blob, &len))) {
        rm_cli_error(cmd, "encoding the forest: %s", rm_strerror(err));
        goto out;
    }
    if (!a->quiet)
        printf("%zu trees in %.2f s: test %.2f%% (loss %.4f), evaluated in %.2f s; "
               "%.1f KB per tree\n", rm_forest_count(f), train_seconds,
               100.0 * ev.accuracy, ev.loss, eval_seconds,
               (double)len / 1024.0 / (double)rm_forest_count(f));
    if (a->save) {
        if ((err = rm_model_file_save(a->save, spec, blob, len, &d))) {
            rm_cli_error(cmd, "%s", d.msg);
            goto out;
        }
        if (!a->quiet)
            printf("saved %s to %s\n", spec, a->save);
    }
    if (a->json)
        printf("{\"test_accuracy\":%.6f,\"test_loss\":%.6f,\"train_seconds\":%.3f,"
               "\"eval_seconds\":%.3f,\"trees\":%zu,\"model\":\"%s\",\"threads\":%d,"
               "\"seed\":%llu,\"bytes\":%zu,\"peak_rss_mb\":%.1f}\n",
               ev.accuracy, ev.loss, train_seconds, eval_seconds, rm_forest_count(f),
               spec, threads, (unsigned long long)a->seed, len, rm_cli_peak_rss_mb());
    code = RM_EXIT_OK;
out:
    free(blob);
    rm_eval_result_free(&ev);
    rm_forest_free(f);
    rm_binned_free(b);
    rm_dataset_free(&train);
    rm_dataset_free(&test);
    return code;
}
