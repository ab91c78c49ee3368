#include "cli/cli_model.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "models/forest.h"
#include "models/model_file.h"

/* Prints "rumor CMD: FILE: words: details". */
static void report(const char *cmd, const char *path, rm_err err,
                   const rm_diag *d) {
    if (d->msg[0])
        rm_cli_error(cmd, "%s%s%s", strstr(d->msg, path) ? "" : path,
                     strstr(d->msg, path) ? "" : ": ", d->msg);
    else
        rm_cli_error(cmd, "%s: %s", path, rm_strerror(err));
}

bool rm_cli_model_load(const char *cmd, const char *path, rm_cli_model *m) {
    memset(m, 0, sizeof *m);
    rm_diag d = {{0}};
    uint8_t *payload = NULL;
    size_t len = 0;
    rm_err err = rm_model_file_load(path, m->descriptor, &payload, &len, &d);
    if (err) {
        report(cmd, path, err, &d);
        return false;
    }
    /* The dispatch on the descriptor: every model kind has one branch. */
    if (strncmp(m->descriptor, "forest", 6) == 0) {
        m->kind = RM_CLI_MODEL_FOREST;
        err = rm_forest_decode(payload, len, &m->forest, &d);
        if (!err) {
            m->features = rm_forest_features(m->forest);
            m->classes = rm_forest_classes(m->forest);
            m->proba = true;
        }
    } else {
        m->kind = RM_CLI_MODEL_FLAT;
        err = rm_model_file_mlp(m->descriptor, payload, len, RM_CLI_MODEL_BATCH,
                                &m->mlp, &d);
        if (!err) {
            m->features = (uint32_t)m->mlp->spec.dims[0];
            m->classes = (uint32_t)m->mlp->spec.classes;
            m->proba = m->mlp->spec.loss == RM_LOSS_SOFTMAX;
        }
    }
    free(payload);
    if (err) {
        rm_cli_error(cmd, "%s: model '%s': %s%s%s", path, m->descriptor,
                     rm_strerror(err), d.msg[0] ? ": " : "", d.msg);
        rm_cli_model_free(m);
        return false;
    }
    return true;
}

void rm_cli_model_free(rm_cli_model *m) {
    rm_mlp_free(m->mlp);
    rm_forest_free(m->forest);
    memset(m, 0, sizeof *m);
}

bool rm_cli_model_fits(const char *cmd, const rm_cli_model *m,
                       const rm_dataset *ds, const char *src, bool labels) {
    if (ds->d != m->features) {
        rm_cli_error(cmd, "%s: %zu features per row, but the model (%s) takes %u",
                     src, ds->d, m->descriptor, m->features);
        return false;
    }
    if (labels && ds->classes > m->classes) {
        rm_cli_error(cmd, "%s: labels go up to %u, but the model (%s) knows %u "
                          "classes (0..%u)", src, ds->classes - 1, m->descriptor,
                     m->classes, m->classes - 1);
        return false;
    }
    return true;
}

bool rm_cli_model_scores(const char *cmd, rm_cli_model *m, const rm_dataset *ds,
                         size_t first, size_t rows, float *out) {
    if (m->kind == RM_CLI_MODEL_FOREST) {
        rm_err err = rm_forest_predict_proba(m->forest, ds, first, rows, out);
        if (err) {
            rm_cli_error(cmd, "forest prediction: %s", rm_strerror(err));
            return false;
        }
        return true;
    }
    float *x = malloc(rows * ds->d * sizeof *x);
    uint32_t *idx = malloc(rows * sizeof *idx);
    if (!x || !idx) {
        free(x);
        free(idx);
        rm_cli_error(cmd, "out of memory");
        return false;
    }
    for (size_t r = 0; r < rows; r++)
        idx[r] = (uint32_t)(first + r);
    rm_dataset_gather(ds, idx, rows, x, NULL);
    const float *s = rm_mlp_predict(m->mlp, x, NULL, (int)rows, NULL, NULL);
    memcpy(out, s, rows * m->classes * sizeof *out);
    free(x);
    free(idx);
    return true;
}

bool rm_cli_model_evaluate(const char *cmd, rm_cli_model *m,
                           const rm_dataset *ds, rm_eval_result *out) {
    rm_err err = m->kind == RM_CLI_MODEL_FOREST ? rm_forest_evaluate(m->forest, ds, out)
                                                : rm_mlp_evaluate(m->mlp, ds, out);
    if (err) {
        rm_cli_error(cmd, "evaluating %s: %s", m->descriptor, rm_strerror(err));
        return false;
    }
    return true;
}

void rm_cli_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", (unsigned char)*s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

int rm_cli_model_args(const char *cmd, const char *usage, const char *flag, int argc,
                      char **argv, const char **model, const char **data, bool *on) {
    const struct option options[] = {
        {"model", required_argument, 0, 'm'}, {"data", required_argument, 0, 'd'},
        {flag, no_argument, 0, 'f'},          {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    *model = NULL;
    *data = "fashion-mnist";
    *on = false;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (ch) {
        case 'm': *model = optarg; break;
        case 'd': *data = optarg; break;
        case 'f': *on = true; break;
        case 'h': fputs(usage, stdout); return RM_EXIT_OK;
        default:
            fprintf(stderr, "Try 'rumor %s --help'.\n", cmd);
            return RM_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        rm_cli_error(cmd, "unexpected argument '%s' (try --help)", argv[optind]);
        return RM_EXIT_USAGE;
    }
    if (!*model) {
        rm_cli_error(cmd, "--model FILE is required (try --help)");
        return RM_EXIT_USAGE;
    }
    return -1;
}
