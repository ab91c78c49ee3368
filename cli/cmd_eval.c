/* rumor eval: scores a saved model (rumor train --save) on a dataset:
 * accuracy, per-class precision and recall, the confusion matrix. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_model.h"
#include "cli/cli_util.h"
#include "cli/commands.h"

static const char usage[] =
    "usage: rumor eval --model FILE [--data SRC] [--json]\n"
    "\n"
    "Evaluates a model file written by `rumor train --save` (any kind: mlp,\n"
    "softmax, svm, forest) on a dataset and prints its accuracy, each class's\n"
    "precision and recall, and the confusion matrix.\n"
    "\n"
    "  --model FILE   the model file (docs/MODEL_FILE.md)\n"
    "  --data SRC     fashion-mnist (default) or mnist:DIR or DIR: their test\n"
    "                 (t10k) set; FILE.csv (label first) or a libsvm file: all\n"
    "                 of its rows\n"
    "  --json         one JSON line instead of the tables\n"
    "  -h, --help     this text\n";

/* Precision of class c: right / predicted as c; -1 when none was. */
static double precision_of(const rm_eval_result *r, uint32_t c) {
    uint64_t col = 0;
    for (uint32_t t = 0; t < r->classes; t++)
        col += r->confusion[(size_t)t * r->classes + c];
    return col ? (double)r->confusion[(size_t)c * r->classes + c] / (double)col : -1.0;
}

static uint64_t support_of(const rm_eval_result *r, uint32_t c) {
    uint64_t row = 0;
    for (uint32_t p = 0; p < r->classes; p++)
        row += r->confusion[(size_t)c * r->classes + p];
    return row;
}

/* Recall of class c: right / rows of class c; -1 when there are none. */
static double recall_of(const rm_eval_result *r, uint32_t c) {
    uint64_t row = support_of(r, c);
    return row ? (double)r->confusion[(size_t)c * r->classes + c] / (double)row : -1.0;
}

static void print_json(const rm_cli_model *m, const rm_eval_result *r) {
    printf("{\"model\":");
    rm_cli_json_string(stdout, m->descriptor);
    printf(",\"rows\":%llu,\"classes\":%u,\"accuracy\":%.6f",
           (unsigned long long)r->rows, r->classes, r->accuracy);
    const char *keys[2] = {"precision", "recall"};
    for (int k = 0; k < 2; k++) {
        printf(",\"%s\":[", keys[k]);
        for (uint32_t c = 0; c < r->classes; c++) {
            double v = k == 0 ? precision_of(r, c) : recall_of(r, c);
            if (v < 0)
                printf("%snull", c ? "," : "");
            else
                printf("%s%.6f", c ? "," : "", v);
        }
        printf("]");
    }
    printf(",\"support\":[");
    for (uint32_t c = 0; c < r->classes; c++)
        printf("%s%llu", c ? "," : "", (unsigned long long)support_of(r, c));
    printf("],\"confusion\":[");
    for (uint32_t t = 0; t < r->classes; t++) {
        printf("%s[", t ? "," : "");
        for (uint32_t p = 0; p < r->classes; p++)
            printf("%s%llu", p ? "," : "",
                   (unsigned long long)r->confusion[(size_t)t * r->classes + p]);
        printf("]");
    }
    printf("]}\n");
}

static void print_percent(double v) {
    if (v < 0)
        printf("  %9s", "-");
    else
        printf("  %8.2f%%", 100.0 * v);
}

static void print_tables(const rm_eval_result *r) {
    uint64_t right = 0;
    for (uint32_t c = 0; c < r->classes; c++)
        right += r->confusion[(size_t)c * r->classes + c];
    printf("accuracy %.2f%% (%llu of %llu rows)\n\n", 100.0 * r->accuracy,
           (unsigned long long)right, (unsigned long long)r->rows);
    printf("%5s  %9s  %9s  %8s\n", "class", "precision", "recall", "support");
    for (uint32_t c = 0; c < r->classes; c++) {
        printf("%5u", c);
        print_percent(precision_of(r, c));
        print_percent(recall_of(r, c));
        printf("  %8llu\n", (unsigned long long)support_of(r, c));
    }
    printf("\nconfusion matrix (rows: true class, columns: predicted class)\n%5s", "");
    for (uint32_t p = 0; p < r->classes; p++)
        printf(" %6u", p);
    printf("\n");
    for (uint32_t t = 0; t < r->classes; t++) {
        printf("%5u", t);
        for (uint32_t p = 0; p < r->classes; p++)
            printf(" %6llu", (unsigned long long)r->confusion[(size_t)t * r->classes + p]);
        printf("\n");
    }
}

int rm_cmd_eval(int argc, char **argv) {
    const char *cmd = "eval", *model_path, *data;
    bool json;
    int done = rm_cli_model_args(cmd, usage, "json", argc, argv, &model_path, &data, &json);
    if (done >= 0)
        return done;
    rm_cli_model m;
    if (!rm_cli_model_load(cmd, model_path, &m))
        return RM_EXIT_FAIL;
    rm_dataset ds = {0};
    rm_eval_result r = {0};
    int code = RM_EXIT_FAIL;
    if (!rm_cli_load_rows(cmd, data, RM_CLI_ROWS_TEST, m.features, &ds) ||
        !rm_cli_model_fits(cmd, &m, &ds, data, true) ||
        !rm_cli_model_evaluate(cmd, &m, &ds, &r))
        goto out;
    if (json)
        print_json(&m, &r);
    else {
        printf("rumor eval: model %s (%s) on %s: %zu rows\n", m.descriptor,
               model_path, data, ds.n);
        print_tables(&r);
    }
    code = RM_EXIT_OK;
out:
    rm_eval_result_free(&r);
    rm_dataset_free(&ds);
    rm_cli_model_free(&m);
    return code;
}
