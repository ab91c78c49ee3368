/* MLP: spec parsing, parameter layout, and whole-model gradients against
 * finite differences (tolerance in gradcheck.h), with and without dropout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "models/mlp.h"
#include "tests/gradcheck.h"

static void specs_parse(void **state) {
    (void)state;
    rm_mlp_spec s;
    rm_diag d;
    assert_int_equal(rm_mlp_spec_parse("mlp:784-128-10", &s, &d), RM_OK);
    assert_int_equal(s.layers, 2);
    assert_int_equal(s.dims[0], 784);
    assert_int_equal(s.dims[2], 10);
    assert_int_equal(rm_mlp_spec_nparams(&s), 784 * 128 + 128 + 128 * 10 + 10);
    char buf[64];
    rm_mlp_spec_format(&s, buf, sizeof buf);
    assert_string_equal(buf, "mlp:784-128-10");
    assert_int_equal(rm_mlp_spec_parse("mlp:784-512-256-128-64-10", &s, &d), RM_OK);
    assert_int_equal(s.layers, 5);
    assert_int_equal(rm_mlp_spec_parse("softmax:784-10", &s, &d), RM_OK);
    assert_int_equal(s.layers, 1);
    assert_int_equal(rm_mlp_spec_parse("logreg:20-2", &s, &d), RM_OK);
}

static void bad_specs_are_named_errors(void **state) {
    (void)state;
    const char *bad[] = {"", "mlp:", "mlp:784", "mlp:784-", "mlp:784--10",
                         "mlp:784-0-10", "mlp:784-x-10", "cnn:1-2",
                         "softmax:784-128-10", "mlp:784-1", "mlp:784-99999999-10",
                         "mlp:1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16-17-18-19"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rm_mlp_spec s;
        rm_diag d = {{0}};
        assert_int_equal(rm_mlp_spec_parse(bad[i], &s, &d), RM_EMODEL_SPEC);
        assert_true(strlen(d.msg) > 0);
    }
}

static void parameters_are_one_buffer_in_layer_order(void **state) {
    (void)state;
    rm_mlp_spec s;
    rm_mlp *m;
    assert_int_equal(rm_mlp_spec_parse("mlp:3-4-2", &s, NULL), RM_OK);
    assert_int_equal(rm_mlp_create(&m, &s, 0.0f, 8), RM_OK);
    assert_ptr_equal(m->w[0], m->params);
    assert_ptr_equal(m->b[0], m->params + 12);
    assert_ptr_equal(m->w[1], m->params + 16);
    assert_ptr_equal(m->b[1], m->params + 24);
    assert_int_equal(m->nparams, 26);
    assert_ptr_equal(m->dw[1], m->grads + 16);
    rm_rng r;
    rm_rng_seed(&r, 1);
    rm_mlp_init(m, &r);
    float he = sqrtf(6.0f / 3.0f), glorot = sqrtf(6.0f / 6.0f);
    for (int i = 0; i < 12; i++)
        assert_true(fabsf(m->w[0][i]) <= he);
    for (int i = 0; i < 8; i++)
        assert_true(fabsf(m->w[1][i]) <= glorot);
    for (int i = 0; i < 4; i++)
        assert_true(m->b[0][i] == 0.0f);
    rm_mlp_free(m);
}

static float batch_loss(rm_mlp *m, const float *x, const int32_t *y, int B,
                        uint64_t mask_seed) {
    rm_rng r;
    rm_rng_seed(&r, mask_seed); /* the same dropout mask every call */
    float loss = rm_mlp_train_batch(m, x, y, B, &r, NULL);
    return loss;
}

static void check_model_gradients(const char *spec, float dropout, uint64_t seed) {
    enum { B = 4 };
    rm_mlp_spec s;
    rm_mlp *m;
    assert_int_equal(rm_mlp_spec_parse(spec, &s, NULL), RM_OK);
    assert_int_equal(rm_mlp_create(&m, &s, dropout, B), RM_OK);
    rm_rng r;
    rm_rng_seed(&r, seed);
    rm_mlp_init(m, &r);
    for (size_t i = 0; i < m->nparams; i++) /* non-zero biases too */
        m->params[i] += 0.1f * (rm_rng_float(&r) - 0.5f);
    float x[B * 8];
    int32_t y[B];
    for (int i = 0; i < B * s.dims[0]; i++)
        x[i] = 2.0f * rm_rng_float(&r) - 1.0f;
    for (int i = 0; i < B; i++)
        y[i] = (int32_t)rm_rng_below(&r, (uint64_t)s.dims[s.layers]);
    memset(m->grads, 0, m->nparams * sizeof(float));
    batch_loss(m, x, y, B, seed + 1);
    float *ana = malloc(m->nparams * sizeof *ana);
    memcpy(ana, m->grads, m->nparams * sizeof *ana);
    const float h = 1e-3f;
    for (size_t i = 0; i < m->nparams; i++) {
        float keep = m->params[i];
        m->params[i] = keep + h;
        double up = batch_loss(m, x, y, B, seed + 1);
        m->params[i] = keep - h;
        double down = batch_loss(m, x, y, B, seed + 1);
        m->params[i] = keep;
        RM_GC_EXPECT(spec, i, (up - down) / (2 * h), ana[i]);
    }
    free(ana);
    rm_mlp_free(m);
}

static void softmax_regression_gradients(void **state) {
    (void)state;
    check_model_gradients("softmax:8-3", 0.0f, 21);
}

static void mlp_gradients(void **state) {
    (void)state;
    check_model_gradients("mlp:8-6-3", 0.0f, 22);
    check_model_gradients("mlp:8-7-5-4", 0.0f, 23);
}

static void mlp_gradients_with_dropout(void **state) {
    (void)state;
    check_model_gradients("mlp:8-7-5-4", 0.3f, 24);
}

static void predict_is_the_forward_pass_without_dropout(void **state) {
    (void)state;
    rm_mlp_spec s;
    rm_mlp *m;
    assert_int_equal(rm_mlp_spec_parse("mlp:4-5-3", &s, NULL), RM_OK);
    assert_int_equal(rm_mlp_create(&m, &s, 0.5f, 2), RM_OK);
    rm_rng r;
    rm_rng_seed(&r, 5);
    rm_mlp_init(m, &r);
    float x[8] = {0.1f, -0.2f, 0.3f, 0.9f, -1.0f, 0.5f, 0.2f, 0.0f};
    int32_t y[2] = {2, 0};
    float loss1, loss2;
    int c1, c2;
    const float *p = rm_mlp_predict(m, x, y, 2, &loss1, &c1);
    float p0[6];
    memcpy(p0, p, sizeof p0);
    rm_mlp_predict(m, x, y, 2, &loss2, &c2);
    assert_true(loss1 == loss2 && c1 == c2);
    for (int i = 0; i < 2; i++)
        assert_float_equal(p0[3 * i] + p0[3 * i + 1] + p0[3 * i + 2], 1.0f, 1e-6);
    rm_mlp_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(specs_parse),
        cmocka_unit_test(bad_specs_are_named_errors),
        cmocka_unit_test(parameters_are_one_buffer_in_layer_order),
        cmocka_unit_test(softmax_regression_gradients),
        cmocka_unit_test(mlp_gradients),
        cmocka_unit_test(mlp_gradients_with_dropout),
        cmocka_unit_test(predict_is_the_forward_pass_without_dropout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
