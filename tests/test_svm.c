/* Linear SVM (svm:IN-K in models/mlp.h): spec parsing, the hinge loss and
 * its gradient worked by hand, whole-model gradients against finite
 * differences away from the hinge's kinks (tolerance in gradcheck.h), and
 * training to 100% on linearly separable sets through the trainer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "models/layers.h"
#include "models/mlp.h"
#include "models/trainer.h"
#include "tests/gradcheck.h"

static void specs_parse(void **state) {
    (void)state;
    rm_mlp_spec s;
    rm_diag d = {{0}};
    char buf[128];
    assert_int_equal(rm_mlp_spec_parse("svm:784-10", &s, &d), RM_OK);
    assert_int_equal(s.layers, 1);
    assert_int_equal(s.dims[0], 784);
    assert_int_equal(s.dims[1], 10);
    assert_int_equal(s.classes, 10);
    assert_int_equal(s.loss, RM_LOSS_HINGE);
    assert_true(s.l2 == RM_SVM_LAMBDA_DEFAULT);
    assert_int_equal(rm_mlp_spec_nparams(&s), 784 * 10 + 10);
    /* Binary: one weight vector and one bias. */
    assert_int_equal(rm_mlp_spec_parse("svm:20-2", &s, &d), RM_OK);
    assert_int_equal(s.dims[1], 1);
    assert_int_equal(s.classes, 2);
    assert_int_equal(rm_mlp_spec_nparams(&s), 21);
    assert_int_equal(rm_mlp_spec_parse("svm:5-3:squared:lambda=0.001", &s, &d), RM_OK);
    assert_int_equal(s.loss, RM_LOSS_SQUARED_HINGE);
    assert_true(s.l2 == 0.001f);
    rm_mlp_spec_format(&s, buf, sizeof buf);
    assert_string_equal(buf, "svm:5-3:squared:lambda=0.001");
    assert_int_equal(rm_mlp_spec_parse("svm:5-2:lambda=0:squared-hinge:hinge", &s, &d), RM_OK);
    assert_int_equal(s.loss, RM_LOSS_HINGE); /* the last option wins */
    assert_true(s.l2 == 0.0f);
    /* The canonical form parses back to the same spec. */
    rm_mlp_spec again;
    rm_mlp_spec_format(&s, buf, sizeof buf);
    assert_string_equal(buf, "svm:5-2:hinge:lambda=0");
    assert_int_equal(rm_mlp_spec_parse(buf, &again, &d), RM_OK);
    assert_memory_equal(&s, &again, sizeof s);
    /* A softmax spec is untouched by all this. */
    assert_int_equal(rm_mlp_spec_parse("softmax:5-3", &s, &d), RM_OK);
    assert_int_equal(s.loss, RM_LOSS_SOFTMAX);
    assert_int_equal(s.classes, 3);
    assert_true(s.l2 == 0.0f);
}

static void bad_specs_are_named_errors(void **state) {
    (void)state;
    const char *bad[] = {"svm:", "svm:784", "svm:784-128-10", "svm:784-1",
                         "svm:784-10:", "svm:784-10:cubic", "svm:784-10:lambda=",
                         "svm:784-10:lambda=x", "svm:784-10:lambda=-1",
                         "svm:784-10:lambda=2", "svm:784-10:lambda=1e-3x",
                         "mlp:784-10:squared", "softmax:784-10:hinge"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rm_mlp_spec s;
        rm_diag d = {{0}};
        if (rm_mlp_spec_parse(bad[i], &s, &d) != RM_EMODEL_SPEC)
            fail_msg("'%s' was accepted", bad[i]);
        assert_non_null(strstr(d.msg, bad[i]));
    }
}

/* Scores and labels worked out by hand in the comments. */
static void hinge_loss_by_hand(void **state) {
    (void)state;
    /* Row 0, label 0, targets (+1,-1,-1): gaps (1-2, 1+0.5, 1-0.5) =
     * (-1, 1.5, 0.5) -> 2.0. Row 1, label 2, targets (-1,-1,+1): gaps
     * (1.2, -2, 0.1) -> 1.3. Mean 1.65; squared: (2.25+0.25 + 1.44+0.01)/2. */
    const float s[6] = {2.0f, 0.5f, -0.5f, 0.2f, -3.0f, 0.9f};
    const int32_t y[2] = {0, 2};
    int correct = -1;
    assert_float_equal(rm_hinge_forward(s, y, 2, 3, 0, &correct), 1.65, 1e-6);
    assert_int_equal(correct, 2);
    assert_float_equal(rm_hinge_forward(s, y, 2, 3, 1, NULL), 1.975, 1e-6);
    float ds[6];
    /* -t / B where the gap is positive. */
    const float want[6] = {0.0f, 0.5f, 0.5f, 0.5f, 0.0f, -0.5f};
    rm_hinge_backward(ds, s, y, 2, 3, 0);
    for (int i = 0; i < 6; i++)
        assert_float_equal(ds[i], want[i], 1e-7);
    /* -2 t gap / B. */
    const float want_sq[6] = {0.0f, 1.5f, 0.5f, 1.2f, 0.0f, -0.1f};
    rm_hinge_backward(ds, s, y, 2, 3, 1);
    for (int i = 0; i < 6; i++)
        assert_float_equal(ds[i], want_sq[i], 1e-6);
    /* Binary, one output: label 1 is +1, label 0 is -1. Gaps 0.5, 0 (1-2
     * clipped), 4; rows predicted 1, 0, 1: two right. */
    const float sb[3] = {0.5f, -2.0f, 3.0f};
    const int32_t yb[3] = {1, 0, 0};
    assert_float_equal(rm_hinge_forward(sb, yb, 3, 1, 0, &correct), 1.5, 1e-6);
    assert_int_equal(correct, 2);
    rm_hinge_backward(ds, sb, yb, 3, 1, 0);
    assert_float_equal(ds[0], -1.0f / 3, 1e-7);
    assert_float_equal(ds[1], 0.0f, 1e-7);
    assert_float_equal(ds[2], 1.0f / 3, 1e-7);
}

/* The whole model: loss = hinge + (lambda/2)||w||^2, the L2 term on
 * weights only; predict gives the binary SVM's row as (-s, s). */
static void model_loss_and_l2_by_hand(void **state) {
    (void)state;
    rm_mlp_spec s;
    rm_mlp *m;
    assert_int_equal(rm_mlp_spec_parse("svm:2-2:lambda=0.1", &s, NULL), RM_OK);
    assert_int_equal(rm_mlp_create(&m, &s, 0.0f, 4), RM_OK);
    rm_rng r;
    rm_rng_seed(&r, 1);
    m->params[0] = 1.0f; /* so that init must zero it */
    rm_mlp_init(m, &r);
    for (size_t i = 0; i < m->nparams; i++)
        assert_true(m->params[i] == 0.0f);
    m->w[0][0] = 1.0f;
    m->w[0][1] = 2.0f;
    m->b[0][0] = 0.5f;
    const float x[2] = {1.0f, 1.0f}; /* s = 3.5: margin met, hinge 0 */
    const int32_t y[1] = {1};
    memset(m->grads, 0, m->nparams * sizeof *m->grads);
    int correct;
    float loss = rm_mlp_train_batch(m, x, y, 1, &r, &correct);
    assert_float_equal(loss, 0.05 * (1 + 4), 1e-6);
    assert_int_equal(correct, 1);
    assert_float_equal(m->dw[0][0], 0.1, 1e-7);
    assert_float_equal(m->dw[0][1], 0.2, 1e-7);
    assert_float_equal(m->db[0][0], 0.0, 1e-7);
    float ploss;
    const float *p = rm_mlp_predict(m, x, y, 1, &ploss, &correct);
    assert_float_equal(p[0], -3.5, 1e-6);
    assert_float_equal(p[1], 3.5, 1e-6);
    assert_float_equal(ploss, 0.0, 1e-7); /* predict's loss has no L2 term */
    rm_mlp_free(m);
}

/* Finite differences of the mean loss (hinge + L2) for every parameter.
 * The hinge has a kink at margin 1: the data is redrawn until every
 * |1 - t s| exceeds 4h, so that no step of the check crosses one (one
 * parameter moves a score by at most h, as |x| <= 1). */
static void check_gradients(const char *spec, uint64_t seed) {
    enum { B = 6, IN = 8 };
    const float h = 1e-2f;
    rm_mlp_spec s;
    rm_mlp *m;
    assert_int_equal(rm_mlp_spec_parse(spec, &s, NULL), RM_OK);
    assert_int_equal(rm_mlp_create(&m, &s, 0.0f, B), RM_OK);
    const int U = s.dims[1];
    rm_rng r;
    rm_rng_seed(&r, seed);
    float x[B * IN];
    int32_t y[B];
    for (int tries = 0;; tries++) {
        assert_true(tries < 1000);
        for (size_t i = 0; i < m->nparams; i++)
            m->params[i] = 2.0f * rm_rng_float(&r) - 1.0f;
        for (int i = 0; i < B * IN; i++)
            x[i] = 2.0f * rm_rng_float(&r) - 1.0f;
        for (int i = 0; i < B; i++)
            y[i] = (int32_t)rm_rng_below(&r, (uint64_t)s.classes);
        const float *p = rm_mlp_predict(m, x, y, B, NULL, NULL);
        int active = 0, near_kink = 0;
        for (int i = 0; i < B; i++)
            for (int c = 0; c < U; c++) {
                /* Recover the raw score of output c from predict's row. */
                float sc = U == 1 ? p[2 * i + 1] : p[i * U + c];
                float t = U == 1 ? (y[i] == 1 ? 1.0f : -1.0f) : (y[i] == c ? 1.0f : -1.0f);
                float gap = 1.0f - t * sc;
                near_kink |= fabsf(gap) <= 4 * h;
                active += gap > 0.0f;
            }
        if (!near_kink && active > 0)
            break;
    }
    memset(m->grads, 0, m->nparams * sizeof(float));
    rm_mlp_train_batch(m, x, y, B, &r, NULL);
    float *ana = malloc(m->nparams * sizeof *ana);
    memcpy(ana, m->grads, m->nparams * sizeof *ana);
    for (size_t i = 0; i < m->nparams; i++) {
        float keep = m->params[i];
        m->params[i] = keep + h;
        double up = rm_mlp_train_batch(m, x, y, B, &r, NULL);
        m->params[i] = keep - h;
        double down = rm_mlp_train_batch(m, x, y, B, &r, NULL);
        m->params[i] = keep;
        RM_GC_EXPECT(spec, i, (up - down) / (2 * h), ana[i]);
    }
    free(ana);
    rm_mlp_free(m);
}

static void gradients_match_finite_differences(void **state) {
    (void)state;
    check_gradients("svm:8-3:lambda=0.05", 31);
    check_gradients("svm:8-4:squared:lambda=0.05", 32);
    check_gradients("svm:8-2:lambda=0.05", 33);
    check_gradients("svm:8-2:squared:lambda=0.05", 34);
    check_gradients("svm:8-5:lambda=0", 35);
}

/* Trains spec on (n, d) rows through the trainer (as rumor train, sim and
 * node do) and returns its accuracy on the same rows. */
static double train_accuracy(const char *spec, rm_dataset *ds, uint32_t epochs) {
    rm_train_config c;
    rm_train_config_default(&c);
    snprintf(c.model, sizeof c.model, "%s", spec);
    c.opt.lr = 0.05f;
    c.opt.sched = RM_SCHED_COSINE;
    c.batch = 16;
    c.epochs = epochs;
    rm_rng r;
    rm_rng_seed(&r, 7);
    rm_trainer *t;
    rm_diag d = {{0}};
    if (rm_trainer_create(&t, &c, ds, &r, &d) != RM_OK)
        fail_msg("%s", d.msg);
    rm_step_stats st;
    for (uint64_t k = 0; k < t->steps_per_epoch * epochs; k++)
        rm_trainer_step(t, &r, &st);
    rm_eval_result ev;
    assert_int_equal(rm_trainer_evaluate(t, ds, &ev), RM_OK);
    double acc = ev.accuracy;
    rm_eval_result_free(&ev);
    rm_trainer_free(t);
    return acc;
}

static void learns_separable_sets_perfectly(void **state) {
    (void)state;
    enum { N = 300 };
    rm_dataset ds;
    rm_rng r;
    rm_rng_seed(&r, 11);
    /* Three blobs at the corners of a triangle: each class is linearly
     * separable from the other two, so one-vs-rest can reach 100%. */
    assert_int_equal(rm_dataset_alloc(&ds, N, 2, RM_DTYPE_F32), RM_OK);
    ds.classes = 3;
    const float cx[3] = {4.0f, -2.0f, -2.0f}, cy[3] = {0.0f, 3.5f, -3.5f};
    for (int i = 0; i < N; i++) {
        int k = i % 3;
        ds.y[i] = k;
        ds.x_f32[2 * i] = cx[k] + rm_rng_float(&r) - 0.5f;
        ds.x_f32[2 * i + 1] = cy[k] + rm_rng_float(&r) - 0.5f;
    }
    assert_true(train_accuracy("svm:2-3", &ds, 20) == 1.0);
    assert_true(train_accuracy("svm:2-3:squared", &ds, 20) == 1.0);
    rm_dataset_free(&ds);
    /* Binary: the side of a hyperplane in 5 dimensions, with a margin. */
    assert_int_equal(rm_dataset_alloc(&ds, N, 5, RM_DTYPE_F32), RM_OK);
    ds.classes = 2;
    const float a[5] = {1.0f, -2.0f, 0.5f, 1.5f, -1.0f};
    for (int i = 0; i < N;) {
        float *row = ds.x_f32 + 5 * i, dot = 0.3f;
        for (int j = 0; j < 5; j++) {
            row[j] = 2.0f * rm_rng_float(&r) - 1.0f;
            dot += a[j] * row[j];
        }
        if (fabsf(dot) < 0.3f)
            continue; /* keep a margin: redraw this row */
        ds.y[i++] = dot > 0.0f;
    }
    assert_true(train_accuracy("svm:5-2:lambda=0.0001", &ds, 40) == 1.0);
    assert_true(train_accuracy("svm:5-2:squared:lambda=0.0001", &ds, 40) == 1.0);
    rm_dataset_free(&ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(specs_parse),
        cmocka_unit_test(bad_specs_are_named_errors),
        cmocka_unit_test(hinge_loss_by_hand),
        cmocka_unit_test(model_loss_and_l2_by_hand),
        cmocka_unit_test(gradients_match_finite_differences),
        cmocka_unit_test(learns_separable_sets_perfectly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
