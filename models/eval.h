/* rumor: evaluation of a model on a dataset: accuracy, loss, confusion. */
#ifndef RM_EVAL_H
#define RM_EVAL_H

#include <stdint.h>

#include "base/err.h"
#include "models/dataset.h"
#include "models/mlp.h"

typedef struct {
    double accuracy;     /* fraction of rows predicted right */
    double loss;         /* mean cross-entropy */
    uint64_t rows;
    uint32_t classes;
    uint64_t *confusion; /* (classes, classes): row = true label, column = predicted */
} rm_eval_result;

/* Runs the model without dropout over every row of ds, in batches of
 * m->batch_max. The confusion matrix is allocated here; release it with
 * rm_eval_result_free. Errors: RM_EMISMATCH (feature count or classes do not
 * fit the model), RM_ENOMEM. */
rm_err rm_mlp_evaluate(rm_mlp *m, const rm_dataset *ds, rm_eval_result *out);

void rm_eval_result_free(rm_eval_result *r);

#endif
