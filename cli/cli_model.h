/* rumor CLI: a trained model loaded from a model file (docs/MODEL_FILE.md),
 * whatever its kind, for `rumor eval` and `rumor predict`: one place that
 * looks at the descriptor and dispatches to the flat models (mlp, softmax,
 * svm) or the forest. */
#ifndef RM_CLI_MODEL_H
#define RM_CLI_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "models/dataset.h"
#include "models/eval.h"
#include "models/mlp.h"

typedef enum { RM_CLI_MODEL_FLAT = 1, RM_CLI_MODEL_FOREST = 2 } rm_cli_model_kind;

typedef struct rm_forest rm_forest;

typedef struct {
    char descriptor[128];
    rm_cli_model_kind kind;
    rm_mlp *mlp;          /* RM_CLI_MODEL_FLAT */
    rm_forest *forest;    /* RM_CLI_MODEL_FOREST */
    uint32_t features;    /* the input width it expects */
    uint32_t classes;
    bool proba;           /* its scores are probabilities (not an SVM's
                             decision values) */
} rm_cli_model;

/* Rows a flat model scores at a time. */
#define RM_CLI_MODEL_BATCH 256

/* Loads path into *m. Prints an error naming the file on failure. */
bool rm_cli_model_load(const char *cmd, const char *path, rm_cli_model *m);

/* The flags `rumor eval` and `rumor predict` share: --model FILE
 * (required), --data SRC (default fashion-mnist), --help (prints usage),
 * and one on/off flag of the command's own, named `flag` ("json",
 * "proba"), into *on. Returns -1 to go on, else the exit code. */
int rm_cli_model_args(const char *cmd, const char *usage, const char *flag, int argc,
                      char **argv, const char **model, const char **data, bool *on);

void rm_cli_model_free(rm_cli_model *m);

/* Checks that ds fits the model: its width, and with `labels` its labels
 * too (predict ignores them); prints why not. */
bool rm_cli_model_fits(const char *cmd, const rm_cli_model *m,
                       const rm_dataset *ds, const char *src, bool labels);

/* Scores of rows [first, first + rows) of ds into out (rows, classes):
 * probabilities, or an SVM's decision values; rows <= RM_CLI_MODEL_BATCH.
 * The prediction is the argmax (ties to the lower class). */
bool rm_cli_model_scores(const char *cmd, rm_cli_model *m, const rm_dataset *ds,
                         size_t first, size_t rows, float *out);

/* Accuracy and confusion matrix on ds (release with rm_eval_result_free). */
bool rm_cli_model_evaluate(const char *cmd, rm_cli_model *m,
                           const rm_dataset *ds, rm_eval_result *out);

/* Prints s as a JSON string (quoted, with " and \\ escaped). */
void rm_cli_json_string(FILE *f, const char *s);

#endif
