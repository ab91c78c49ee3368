/* rumor train for random forests: the trees are grown on --threads threads
 * (cli/grow_trees.c), and the forest is the same for any number. */
#include "cli/train_forest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/grow_trees.h"
#include "models/forest.h"
#include "models/model_file.h"

#define THREADS_MAX 256 /* rm_grow_trees' limit */

static void draw(void *ctx, uint32_t done, uint32_t count) {
    rm_progress *bar = ctx;
    char text[64];
    snprintf(text, sizeof text, "%u of %u trees", done, count);
    rm_progress_draw(bar, (double)done / count, text);
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
        (err = rm_grow_trees(f, b, &fc, a->seed, fc.trees, threads, draw, &bar))) {
        rm_progress_clear(&bar);
        rm_cli_error(cmd, "growing the forest: %s", rm_strerror(err));
        goto out;
    }
    rm_progress_clear(&bar);
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
