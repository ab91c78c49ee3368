/* rumor: multi-layer perceptrons (softmax regression is the one-layer case)
 * and linear SVMs (one layer with a hinge loss).
 *
 * All parameters sit in one float buffer, all gradients in a second of the
 * same shape; layer l's weights w[l] (IN, OUT) and bias b[l] (OUT) are views
 * into it, in layer order. Gossip and checkpoints only ever see `params` and
 * `nparams`, so an SVM is averaged like any other flat model. Hidden layers
 * are dense + ReLU (+ inverted dropout while training); the last layer feeds
 * a softmax cross-entropy, or for an SVM the one-vs-rest hinge loss (plain
 * or squared) plus (lambda/2) ||W||^2 on its weights (not its biases). */
#ifndef RM_MLP_H
#define RM_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"

#define RM_MLP_LAYERS_MAX 16

/* The SVM's default L2 strength (lambda, below): LinearSVC(C) on 60,000
 * rows is lambda = 1 / (C * 60000), so this is C = 1/6 there. On
 * Fashion-MNIST any lambda from 0 to 3e-4 gave test accuracies within 0.1%
 * of one another (10 epochs, Adam); 1e-4 keeps a peer's weights bounded on
 * a small shard. */
#define RM_SVM_LAMBDA_DEFAULT 1e-4f

typedef enum {
    RM_LOSS_SOFTMAX = 0,       /* softmax cross-entropy: mlp, softmax, logreg */
    RM_LOSS_HINGE = 1,         /* linear SVM: max(0, 1 - t s) */
    RM_LOSS_SQUARED_HINGE = 2, /* linear SVM: max(0, 1 - t s)^2 (LinearSVC's default) */
} rm_loss_kind;

typedef struct {
    int layers;                       /* dense layers, >= 1 */
    int dims[RM_MLP_LAYERS_MAX + 1];  /* dims[0] inputs ... dims[layers] outputs */
    int classes;       /* labels it predicts: dims[layers], except the binary
                          SVM, whose one output stands for 2 classes */
    rm_loss_kind loss;
    float l2;          /* SVM: the lambda above; 0 for the others */
} rm_mlp_spec;

/* Parses "mlp:784-128-10" (any depth), "softmax:784-10" or "logreg:784-10"
 * (one layer), or a linear SVM "svm:IN-K[:OPTION]...": K classes, one-vs-
 * rest with K weight vectors, or one weight vector when K is 2 (labels
 * 0/1 become -1/+1). OPTIONs: `hinge` (the default) or `squared` (also
 * `squared-hinge`) pick the loss; `lambda=X` (X in [0, 1]) the L2 strength,
 * default RM_SVM_LAMBDA_DEFAULT. The objective per class is
 * mean(loss) + (lambda/2)||w||^2, which is LinearSVC(C)'s with
 * lambda = 1 / (C * rows). Every width must be 1..2^20, at least two
 * widths, at most RM_MLP_LAYERS_MAX layers.
 * Errors: RM_EMODEL_SPEC (diag says why). */
rm_err rm_mlp_spec_parse(const char *s, rm_mlp_spec *spec, rm_diag *diag);

/* Writes the canonical form into buf: "mlp:784-128-10", or for an SVM
 * every option spelt out, "svm:784-10:hinge:lambda=0.0001". Parsing it
 * gives the same spec. */
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
    float *probs;         /* (B, classes): probabilities, or SVM decision values */
    float *dbuf[2];       /* (B, widest layer) ping-pong for input gradients */
    const float *logit_bias; /* (classes) or NULL: added to the logits while
                                training only (logit adjustment, see trainer.h) */
} rm_mlp;

/* Allocates a model and a workspace for batches of up to batch_max rows.
 * Parameters are zero until rm_mlp_init. Errors: RM_EINVAL, RM_ENOMEM
 * (then *out is NULL). Free with rm_mlp_free. */
rm_err rm_mlp_create(rm_mlp **out, const rm_mlp_spec *spec, float dropout,
                     int batch_max);
void rm_mlp_free(rm_mlp *m);

/* He-uniform weights for ReLU layers, Glorot-uniform for the output layer,
 * zero biases; draws from rng in layer order. An SVM starts at zero (its
 * objective is convex) and draws nothing. */
void rm_mlp_init(rm_mlp *m, rm_rng *rng);

/* One training pass over a batch x (B, dims[0]) with labels y (B):
 * forward with dropout, the loss (softmax cross-entropy, or hinge plus the
 * L2 term for an SVM), backward. ADDS the gradient of the mean loss into
 * m->grads. Returns the mean loss; *correct gets the rows predicted right
 * (may be NULL). B <= batch_max. */
float rm_mlp_train_batch(rm_mlp *m, const float *x, const int32_t *y, int B,
                         rm_rng *rng, int *correct);

/* Inference on x (B, dims[0]) without dropout: returns a pointer to the
 * class scores (B, classes), valid until the next call: probabilities, or
 * for an SVM the decision values w.x + b (the binary SVM's row is
 * (-s, s)); the prediction is the argmax either way. Fills the mean loss
 * (cross-entropy, or the hinge loss without the L2 term) and the correct
 * count when y is not NULL. B <= batch_max. */
const float *rm_mlp_predict(rm_mlp *m, const float *x, const int32_t *y, int B,
                            float *loss, int *correct);

#endif
