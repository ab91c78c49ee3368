/* Layers: every backward against finite differences of its forward
 * (tolerance in gradcheck.h), plus the contracts of each function. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "models/layers.h"
#include "tests/gradcheck.h"

static void fill(float *x, size_t n, rm_rng *r, float lo, float hi) {
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * rm_rng_float(r);
}

enum { B = 3, IN = 5, OUT = 4 };

/* loss = sum(dense(in) .* R) */
static double dense_loss(const float *in, const float *w, const float *b,
                         const float *R) {
    float out[B * OUT];
    rm_dense_forward(out, in, w, b, B, IN, OUT);
    double s = 0;
    for (int i = 0; i < B * OUT; i++)
        s += (double)out[i] * R[i];
    return s;
}

static void dense_gradients_match_finite_differences(void **state) {
    (void)state;
    rm_rng r;
    rm_rng_seed(&r, 11);
    float in[B * IN], w[IN * OUT], b[OUT], R[B * OUT];
    fill(in, B * IN, &r, -1, 1);
    fill(w, IN * OUT, &r, -1, 1);
    fill(b, OUT, &r, -1, 1);
    fill(R, B * OUT, &r, -1, 1);
    float dw[IN * OUT] = {0}, db[OUT] = {0}, din[B * IN];
    rm_dense_backward(din, dw, db, R, in, w, B, IN, OUT);
    const float h = 1e-2f;
    struct { const char *name; float *x, *g; size_t n; } vars[] = {
        {"w", w, dw, IN * OUT}, {"b", b, db, OUT}, {"in", in, din, B * IN}};
    for (size_t v = 0; v < 3; v++)
        for (size_t i = 0; i < vars[v].n; i++) {
            float keep = vars[v].x[i];
            vars[v].x[i] = keep + h;
            double up = dense_loss(in, w, b, R);
            vars[v].x[i] = keep - h;
            double down = dense_loss(in, w, b, R);
            vars[v].x[i] = keep;
            RM_GC_EXPECT(vars[v].name, i, (up - down) / (2 * h), vars[v].g[i]);
        }
}

static void dense_backward_adds_into_parameter_gradients(void **state) {
    (void)state;
    rm_rng r;
    rm_rng_seed(&r, 12);
    float in[B * IN], w[IN * OUT], R[B * OUT];
    fill(in, B * IN, &r, -1, 1);
    fill(w, IN * OUT, &r, -1, 1);
    fill(R, B * OUT, &r, -1, 1);
    float dw1[IN * OUT] = {0}, db1[OUT] = {0}, dw2[IN * OUT] = {0}, db2[OUT] = {0};
    rm_dense_backward(NULL, dw1, db1, R, in, w, B, IN, OUT);
    rm_dense_backward(NULL, dw2, db2, R, in, w, B, IN, OUT);
    rm_dense_backward(NULL, dw2, db2, R, in, w, B, IN, OUT);
    for (int i = 0; i < IN * OUT; i++)
        assert_float_equal(dw2[i], 2 * dw1[i], 1e-5);
    for (int i = 0; i < OUT; i++)
        assert_float_equal(db2[i], 2 * db1[i], 1e-5);
}

static void relu_gradient_and_values(void **state) {
    (void)state;
    rm_rng r;
    rm_rng_seed(&r, 13);
    enum { N = 40 };
    float x[N], y[N], R[N], dx[N];
    fill(x, N, &r, -1, 1);
    for (int i = 0; i < N; i++) /* keep finite differences off the kink */
        if (x[i] > -0.05f && x[i] < 0.05f)
            x[i] = 0.3f;
    fill(R, N, &r, -1, 1);
    rm_relu_forward(y, x, N);
    rm_relu_backward(dx, y, R, N);
    for (int i = 0; i < N; i++) {
        assert_true(y[i] == (x[i] > 0 ? x[i] : 0.0f));
        /* d/dx_i sum(relu(x) .* R) */
        const float h = 1e-2f;
        float up = x[i] + h > 0 ? (x[i] + h) * R[i] : 0.0f;
        float down = x[i] - h > 0 ? (x[i] - h) * R[i] : 0.0f;
        RM_GC_EXPECT("relu", i, (up - down) / (2 * h), dx[i]);
    }
}

static void dropout_keeps_the_expectation_and_masks_the_gradient(void **state) {
    (void)state;
    enum { N = 20000 };
    static float x[N], mask[N], g[N], dx[N];
    rm_rng r;
    rm_rng_seed(&r, 14);
    for (int i = 0; i < N; i++)
        x[i] = 1.0f;
    const float p = 0.25f;
    rm_dropout_forward(x, mask, N, p, &r);
    int dropped = 0;
    double sum = 0;
    for (int i = 0; i < N; i++) {
        assert_true(mask[i] == 0.0f || fabsf(mask[i] - 1.0f / 0.75f) < 1e-6f);
        assert_true(x[i] == mask[i]);
        dropped += mask[i] == 0.0f;
        sum += x[i];
        g[i] = (float)(i % 7) - 3.0f;
    }
    assert_in_range(dropped, (int)(N * p * 0.95), (int)(N * p * 1.05));
    assert_true(fabs(sum / N - 1.0) < 0.02); /* inverted dropout: E[x] kept */
    /* Dropout with a fixed mask is linear: its gradient is the mask. */
    rm_dropout_backward(dx, g, mask, N);
    for (int i = 0; i < N; i++)
        assert_true(dx[i] == g[i] * mask[i]);
    /* p = 0 is the identity. */
    for (int i = 0; i < 10; i++)
        x[i] = (float)i;
    rm_dropout_forward(x, mask, 10, 0.0f, &r);
    for (int i = 0; i < 10; i++)
        assert_true(x[i] == (float)i && mask[i] == 1.0f);
}

static void softmax_xent_gradient_matches_finite_differences(void **state) {
    (void)state;
    enum { R = 4, C = 5 };
    rm_rng r;
    rm_rng_seed(&r, 15);
    float z[R * C], p[R * C], dz[R * C];
    int32_t y[R] = {0, 3, 4, 1};
    fill(z, R * C, &r, -3, 3);
    float loss = rm_softmax_xent_forward(p, z, y, R, C, NULL);
    rm_softmax_xent_backward(dz, p, y, R, C);
    assert_true(loss > 0);
    const float h = 1e-3f;
    for (int i = 0; i < R * C; i++) {
        float keep = z[i];
        z[i] = keep + h;
        double up = rm_softmax_xent_forward(p, z, y, R, C, NULL);
        z[i] = keep - h;
        double down = rm_softmax_xent_forward(p, z, y, R, C, NULL);
        z[i] = keep;
        RM_GC_EXPECT("logits", i, (up - down) / (2 * h), dz[i]);
    }
}

static void softmax_xent_is_stable_for_huge_logits(void **state) {
    (void)state;
    float z[3] = {1000.0f, -1000.0f, 0.0f}, p[3];
    int32_t y = 1;
    int correct = -1;
    float loss = rm_softmax_xent_forward(p, z, &y, 1, 3, &correct);
    assert_true(isfinite(loss));
    assert_float_equal(loss, 2000.0f, 1e-1);
    assert_float_equal(p[0] + p[1] + p[2], 1.0f, 1e-6);
    assert_int_equal(correct, 0);
    y = 0;
    loss = rm_softmax_xent_forward(p, z, &y, 1, 3, &correct);
    assert_float_equal(loss, 0.0f, 1e-6);
    assert_int_equal(correct, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dense_gradients_match_finite_differences),
        cmocka_unit_test(dense_backward_adds_into_parameter_gradients),
        cmocka_unit_test(relu_gradient_and_values),
        cmocka_unit_test(dropout_keeps_the_expectation_and_masks_the_gradient),
        cmocka_unit_test(softmax_xent_gradient_matches_finite_differences),
        cmocka_unit_test(softmax_xent_is_stable_for_huge_logits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
