/* rumor: multi-layer perceptrons (softmax regression is the one-layer case).
 *
 * All parameters sit in one float buffer, all gradients in a second of the
 * same shape; layer l's weights w[l] (IN, OUT) and bias b[l] (OUT) are views
 * into it, in layer order. Gossip and checkpoints only ever see `params` and
 * `nparams`. Hidden layers are dense + ReLU (+ inverted dropout while
 * training); the last layer feeds a softmax cross-entropy. */
#ifndef RM_MLP_H
#define RM_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"

#define RM_MLP_LAYERS_MAX 16

typedef struct {
    int layers;                       /* dense layers, >= 1 */
    int dims[RM_MLP_LAYERS_MAX + 1];  /* dims[0] inputs ... dims[layers] classes */
} rm_mlp_spec;

/* Parses "mlp:784-128-10" (any depth), "softmax:784-10" or "logreg:784-10"
 * (one layer). Every width must be 1..2^20, at least two widths, at most
 * RM_MLP_LAYERS_MAX layers. Errors: RM_EMODEL_SPEC (diag says why). */
rm_err rm_mlp_spec_parse(const char *s, rm_mlp_spec *spec, rm_diag *diag);

/* Writes the canonical form "mlp:784-128-10" into buf. */
void rm_mlp_spec_format(const rm_mlp_spec *spec, char *buf, size_t len);

/* Number of floats in the parameter buffer. */
size_t rm_mlp_spec_nparams(const rm_mlp_spec *spec);

typedef struct {
    rm_mlp_spec spec;
    float dropout;        /* probability of dropping a hidden unit */
    size_t nparams;
    float *params;        /* (nparams) */
    float *grads;         /* (nparams), same layout */
    float *w[RM_MLP_LAYERS_MAX], *b[RM_MLP_LAYERS_MAX];
    float *dw[RM_MLP_LAYERS_MAX], *db[RM_MLP_LAYERS_MAX];
    int batch_max;        /* rows the workspace below holds */
    float *act[RM_MLP_LAYERS_MAX + 1];  /* act[l+1] (B, dims[l+1]); act[0] is the input */
    float *mask[RM_MLP_LAYERS_MAX];     /* dropout factors of hidden layer l */
    float *probs;         /* (B, classes) */
    float *dbuf[2];       /* (B, widest layer) ping-pong for input gradients */
} rm_mlp;

/* Allocates a model and a workspace for batches of up to batch_max rows.
 * Parameters are zero until rm_mlp_init. Errors: RM_EINVAL, RM_ENOMEM
 * (then *out is NULL). Free with rm_mlp_free. */
rm_err rm_mlp_create(rm_mlp **out, const rm_mlp_spec *spec, float dropout,
                     int batch_max);
void rm_mlp_free(rm_mlp *m);

/* He-uniform weights for ReLU layers, Glorot-uniform for the output layer,
 * zero biases; draws from rng in layer order. */
void rm_mlp_init(rm_mlp *m, rm_rng *rng);

/* One training pass over a batch x (B, dims[0]) with labels y (B):
 * forward with dropout, softmax cross-entropy, backward. ADDS the gradient of
 * the mean loss into m->grads. Returns the mean loss; *correct gets the rows
 * predicted right (may be NULL). B <= batch_max. */
float rm_mlp_train_batch(rm_mlp *m, const float *x, const int32_t *y, int B,
                         rm_rng *rng, int *correct);

/* Inference on x (B, dims[0]) without dropout: returns a pointer to the
 * class probabilities (B, classes), valid until the next call; fills the
 * mean loss and correct count when y is not NULL. B <= batch_max. */
const float *rm_mlp_predict(rm_mlp *m, const float *x, const int32_t *y, int B,
                            float *loss, int *correct);

#endif
