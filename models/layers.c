#include "models/layers.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "base/hot.h"

void rm_dense_forward(float *out, const float *in, const float *w,
                      const float *b, int B, int IN, int OUT) {
    /* Broadcast the bias into out, then let sgemm add in @ w to it. */
    for (int r = 0; r < B; r++)
        memcpy(out + (size_t)r * OUT, b, (size_t)OUT * sizeof *out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, OUT, IN, 1.0f,
                in, IN, w, OUT, 1.0f, out, OUT);
}

RM_HOT static void add_rows(float *restrict acc, const float *restrict rows,
                            int B, int N) {
    for (int r = 0; r < B; r++) {
        const float *row = rows + (size_t)r * N;
        for (int j = 0; j < N; j++)
            acc[j] += row[j];
    }
}

void rm_dense_backward(float *din, float *dw, float *db, const float *dout,
                       const float *in, const float *w, int B, int IN,
                       int OUT) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, IN, OUT, B, 1.0f, in,
                IN, dout, OUT, 1.0f, dw, OUT);
    add_rows(db, dout, B, OUT);
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, IN, OUT, 1.0f,
                    dout, OUT, w, OUT, 0.0f, din, IN);
}

RM_HOT void rm_relu_forward(float *out, const float *in, size_t n) {
    for (size_t i = 0; i < n; i++)
        out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

RM_HOT void rm_relu_backward(float *din, const float *out, const float *dout,
                             size_t n) {
    for (size_t i = 0; i < n; i++)
        din[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

void rm_dropout_forward(float *x, float *mask, size_t n, float p, rm_rng *rng) {
    if (p <= 0.0f) {
        for (size_t i = 0; i < n; i++)
            mask[i] = 1.0f;
        return;
    }
    /* Two decisions per 64-bit draw: keep when a 32-bit half >= p * 2^32. */
    const float keep = 1.0f / (1.0f - p);
    const uint32_t cut = (uint32_t)((double)p * 4294967296.0);
    size_t i = 0;
    for (; i + 1 < n; i += 2) {
        uint64_t r = rm_rng_u64(rng);
        mask[i] = (uint32_t)r >= cut ? keep : 0.0f;
        mask[i + 1] = (uint32_t)(r >> 32) >= cut ? keep : 0.0f;
    }
    if (i < n)
        mask[i] = (uint32_t)rm_rng_u64(rng) >= cut ? keep : 0.0f;
    for (i = 0; i < n; i++)
        x[i] *= mask[i];
}

RM_HOT void rm_dropout_backward(float *din, const float *dout,
                                const float *mask, size_t n) {
    for (size_t i = 0; i < n; i++)
        din[i] = dout[i] * mask[i];
}

float rm_softmax_xent_forward(float *probs, const float *logits,
                              const int32_t *y, int B, int C, int *correct) {
    double loss = 0.0;
    int hits = 0;
    for (int r = 0; r < B; r++) {
        const float *z = logits + (size_t)r * C;
        float *p = probs + (size_t)r * C;
        int arg = 0;
        float max = z[0];
        for (int j = 1; j < C; j++)
            if (z[j] > max) {
                max = z[j];
                arg = j;
            }
        float sum = 0.0f;
        for (int j = 0; j < C; j++) {
            p[j] = expf(z[j] - max);
            sum += p[j];
        }
        float inv = 1.0f / sum;
        for (int j = 0; j < C; j++)
            p[j] *= inv;
        /* -log softmax_y = log(sum) - (z_y - max): exact even when p_y
         * underflows to 0. */
        if (y) {
            loss += (double)(logf(sum) - (z[y[r]] - max));
            hits += arg == y[r];
        }
    }
    if (correct)
        *correct = hits;
    return (float)(loss / B);
}

void rm_softmax_xent_backward(float *dlogits, const float *probs,
                              const int32_t *y, int B, int C) {
    const float inv_b = 1.0f / (float)B;
    for (int r = 0; r < B; r++) {
        const float *p = probs + (size_t)r * C;
        float *d = dlogits + (size_t)r * C;
        for (int j = 0; j < C; j++)
            d[j] = p[j] * inv_b;
        d[y[r]] -= inv_b;
    }
}

/* The target of output c for label y: +1 for its own class, -1 for the
 * rest; the binary SVM's single output stands for class 1. */
static inline float hinge_target(int32_t y, int c, int U) {
    return U == 1 ? (y == 1 ? 1.0f : -1.0f) : (y == c ? 1.0f : -1.0f);
}

static inline int hinge_predict(const float *s, int U) {
    if (U == 1)
        return s[0] > 0.0f;
    int arg = 0;
    for (int j = 1; j < U; j++)
        if (s[j] > s[arg])
            arg = j;
    return arg;
}

float rm_hinge_forward(const float *s, const int32_t *y, int B, int U,
                       int squared, int *correct) {
    double loss = 0.0;
    int hits = 0;
    if (y)
        for (int r = 0; r < B; r++) {
            const float *sr = s + (size_t)r * U;
            for (int c = 0; c < U; c++) {
                float gap = 1.0f - hinge_target(y[r], c, U) * sr[c];
                if (gap > 0.0f)
                    loss += squared ? (double)gap * gap : (double)gap;
            }
            hits += hinge_predict(sr, U) == y[r];
        }
    if (correct)
        *correct = hits;
    return (float)(loss / B);
}

void rm_hinge_backward(float *ds, const float *s, const int32_t *y, int B,
                       int U, int squared) {
    const float inv_b = 1.0f / (float)B;
    for (int r = 0; r < B; r++) {
        const float *sr = s + (size_t)r * U;
        float *dr = ds + (size_t)r * U;
        for (int c = 0; c < U; c++) {
            float t = hinge_target(y[r], c, U);
            float gap = 1.0f - t * sr[c];
            dr[c] = gap <= 0.0f ? 0.0f
                    : squared   ? -2.0f * t * gap * inv_b
                                : -t * inv_b;
        }
    }
}
