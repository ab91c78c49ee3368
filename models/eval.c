#include "models/eval.h"

#include <stdlib.h>
#include <string.h>

rm_err rm_mlp_evaluate(rm_mlp *m, const rm_dataset *ds, rm_eval_result *out) {
    memset(out, 0, sizeof *out);
    const int C = m->spec.classes;
    if (ds->d != (size_t)m->spec.dims[0] || ds->classes > (uint32_t)C)
        return RM_EMISMATCH;
    const int B = m->batch_max;
    rm_err err = RM_ENOMEM;
    float *x = malloc((size_t)B * ds->d * sizeof *x);
    int32_t *y = malloc((size_t)B * sizeof *y);
    uint32_t *idx = malloc((size_t)B * sizeof *idx);
    out->confusion = calloc((size_t)C * C, sizeof *out->confusion);
    if (!x || !y || !idx || !out->confusion)
        goto err;
    out->classes = (uint32_t)C;
    double loss_sum = 0.0;
    uint64_t hits = 0;
    for (size_t at = 0; at < ds->n; at += (size_t)B) {
        int rows = (int)(ds->n - at < (size_t)B ? ds->n - at : (size_t)B);
        for (int r = 0; r < rows; r++)
            idx[r] = (uint32_t)(at + (size_t)r);
        rm_dataset_gather(ds, idx, (size_t)rows, x, y);
        float loss;
        int correct;
        const float *p = rm_mlp_predict(m, x, y, rows, &loss, &correct);
        loss_sum += (double)loss * rows;
        hits += (uint64_t)correct;
        for (int r = 0; r < rows; r++) {
            const float *pr = p + (size_t)r * C;
            int arg = 0;
            for (int j = 1; j < C; j++)
                if (pr[j] > pr[arg])
                    arg = j;
            out->confusion[(size_t)y[r] * C + arg]++;
        }
    }
    out->rows = ds->n;
    out->accuracy = ds->n ? (double)hits / (double)ds->n : 0.0;
    out->loss = ds->n ? loss_sum / (double)ds->n : 0.0;
    err = RM_OK;
err:
    free(x);
    free(y);
    free(idx);
    if (err)
        rm_eval_result_free(out);
    return err;
}

void rm_eval_result_free(rm_eval_result *r) {
    free(r->confusion);
    memset(r, 0, sizeof *r);
}
