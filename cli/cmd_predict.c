/* rumor predict: one prediction per row of a dataset from a saved model,
 * optionally with every class's probability (or an SVM's scores). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_model.h"
#include "cli/cli_util.h"
#include "cli/commands.h"

static const char usage[] =
    "usage: rumor predict --model FILE [--data SRC] [--proba]\n"
    "\n"
    "Prints one line per row of SRC: the class the model file (written by\n"
    "`rumor train --save`) predicts. With --proba the line goes on with each\n"
    "class's probability, space separated:\n"
    "    PRED P0 P1 ... P(K-1)\n"
    "A linear SVM has no probabilities: its lines carry the decision value of\n"
    "each class (of class 1 and its negation for a binary SVM) instead.\n"
    "Rows come out in the order of SRC. The data's labels are read (the\n"
    "formats require one) but not used: put 0 where none is known.\n"
    "\n"
    "  --model FILE   the model file (docs/MODEL_FILE.md)\n"
    "  --data SRC     fashion-mnist (default) or mnist:DIR or DIR: their test\n"
    "                 (t10k) set; FILE.csv (label first) or a libsvm file: all\n"
    "                 of its rows\n"
    "  --proba        add the class probabilities (or SVM scores)\n"
    "  -h, --help     this text\n";

int rm_cmd_predict(int argc, char **argv) {
    const char *cmd = "predict", *model_path, *data;
    bool proba;
    int done = rm_cli_model_args(cmd, usage, "proba", argc, argv, &model_path, &data, &proba);
    if (done >= 0)
        return done;
    rm_cli_model m;
    if (!rm_cli_model_load(cmd, model_path, &m))
        return RM_EXIT_FAIL;
    rm_dataset ds = {0};
    int code = RM_EXIT_FAIL;
    float *s = malloc((size_t)RM_CLI_MODEL_BATCH * m.classes * sizeof *s);
    if (!s) {
        rm_cli_error(cmd, "out of memory");
        goto out;
    }
    if (!rm_cli_load_rows(cmd, data, RM_CLI_ROWS_TEST, m.features, &ds) ||
        !rm_cli_model_fits(cmd, &m, &ds, data, false))
        goto out;
    if (proba && !m.proba)
        fprintf(stderr, "rumor predict: %s has no probabilities: printing its "
                        "decision values\n", m.descriptor);
    for (size_t at = 0; at < ds.n; at += RM_CLI_MODEL_BATCH) {
        size_t rows = ds.n - at < RM_CLI_MODEL_BATCH ? ds.n - at : RM_CLI_MODEL_BATCH;
        if (!rm_cli_model_scores(cmd, &m, &ds, at, rows, s))
            goto out;
        for (size_t r = 0; r < rows; r++) {
            const float *sr = s + r * m.classes;
            uint32_t arg = 0;
            for (uint32_t c = 1; c < m.classes; c++)
                if (sr[c] > sr[arg])
                    arg = c;
            printf("%u", arg);
            if (proba)
                for (uint32_t c = 0; c < m.classes; c++)
                    printf(" %.6g", (double)sr[c]);
            putchar('\n');
        }
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        rm_cli_error(cmd, "cannot write the predictions");
        goto out;
    }
    code = RM_EXIT_OK;
out:
    free(s);
    rm_dataset_free(&ds);
    rm_cli_model_free(&m);
    return code;
}
