/* rumor: the layers of a network, as plain functions over flat buffers.
 *
 * Shapes are given in each comment: "in is (B, IN)" means B rows of IN
 * floats, row-major. Outputs come first, sizes last. A backward function
 * ADDS into parameter gradients (dw, db): zeroing them is the caller's
 * explicit step. Input gradients (din) are overwritten. Dense math goes
 * through cblas; the element-wise loops are written to vectorise. */
#ifndef RM_LAYERS_H
#define RM_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"

/* out (B, OUT) = in (B, IN) @ w (IN, OUT) + b (OUT). */
void rm_dense_forward(float *out, const float *in, const float *w,
                      const float *b, int B, int IN, int OUT);

/* dw (IN, OUT) += in^T @ dout; db (OUT) += column sums of dout (B, OUT);
 * din (B, IN) = dout @ w^T, skipped when din is NULL (the first layer needs
 * no input gradient). */
void rm_dense_backward(float *din, float *dw, float *db, const float *dout,
                       const float *in, const float *w, int B, int IN,
                       int OUT);

/* out (n) = max(in, 0); out may equal in. */
void rm_relu_forward(float *out, const float *in, size_t n);

/* din (n) = dout where out > 0, else 0; din may equal dout. */
void rm_relu_backward(float *din, const float *out, const float *dout,
                      size_t n);

/* Inverted dropout, in place: each of x (n) is kept with probability 1 - p
 * and scaled by 1 / (1 - p), or zeroed; mask (n) records the factor used.
 * p == 0 leaves x alone and fills mask with 1. Draws from rng. */
void rm_dropout_forward(float *x, float *mask, size_t n, float p, rm_rng *rng);

/* din (n) = dout * mask; din may equal dout. */
void rm_dropout_backward(float *din, const float *dout, const float *mask,
                         size_t n);

/* Softmax cross-entropy, numerically stable (max subtracted before exp).
 * probs (B, C) = softmax(logits); returns the mean loss over the B rows;
 * *correct (if not NULL) gets how many rows' argmax equals y. */
float rm_softmax_xent_forward(float *probs, const float *logits,
                              const int32_t *y, int B, int C, int *correct);

/* dlogits (B, C) = (probs - onehot(y)) / B: the gradient of the mean loss. */
void rm_softmax_xent_backward(float *dlogits, const float *probs,
                              const int32_t *y, int B, int C);

/* One-vs-rest hinge loss of a linear SVM over decision values s (B, U).
 * U == 1 is the binary SVM: label 1 gives target t = +1, label 0 t = -1.
 * Otherwise t(r, c) = +1 when y[r] == c, else -1. Returns the mean over
 * the B rows of sum_c max(0, 1 - t s), or of its square when `squared`;
 * *correct (if not NULL) gets the rows whose prediction (s > 0 for U == 1,
 * the argmax otherwise) equals y. y may be NULL (returns 0). */
float rm_hinge_forward(const float *s, const int32_t *y, int B, int U,
                       int squared, int *correct);

/* ds (B, U) = the gradient of that mean loss: -t / B where the margin t s
 * is below 1 (the subgradient 0 is taken at exactly 1), or
 * -2 t (1 - t s) / B when squared. */
void rm_hinge_backward(float *ds, const float *s, const int32_t *y, int B,
                       int U, int squared);

#endif
