/* Trainer: bit-identical runs from a seed, epochs and short last batches,
 * learning a separable problem, and refusing a model that does not fit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "models/trainer.h"

/* n rows of 16 uint8 pixels, 4 classes: class k lights pixels 4k..4k+3,
 * plus noise everywhere. */
static void synthetic(rm_dataset *ds, size_t n, uint64_t seed) {
    rm_rng r;
    rm_rng_seed(&r, seed);
    assert_int_equal(rm_dataset_alloc(ds, n, 16, RM_DTYPE_U8), RM_OK);
    ds->classes = 4;
    ds->scale = 1.0f / 255.0f;
    for (size_t i = 0; i < n; i++) {
        int k = (int)rm_rng_below(&r, 4);
        ds->y[i] = k;
        for (int j = 0; j < 16; j++)
            ds->x_u8[i * 16 + j] = (uint8_t)(rm_rng_below(&r, 120) +
                                             (j / 4 == k ? 120 : 0));
    }
}

static void config(rm_train_config *c) {
    rm_train_config_default(c);
    strcpy(c->model, "mlp:16-12-4");
    c->batch = 8;
    c->epochs = 3;
}

static void train_steps(uint64_t seed, int steps, const rm_dataset *ds,
                        float *out, size_t *n) {
    rm_train_config c;
    config(&c);
    rm_rng r;
    rm_rng_seed(&r, seed);
    rm_trainer *t;
    assert_int_equal(rm_trainer_create(&t, &c, ds, &r, NULL), RM_OK);
    rm_step_stats st;
    for (int i = 0; i < steps; i++)
        rm_trainer_step(t, &r, &st);
    const float *p = rm_trainer_params(t, n);
    memcpy(out, p, *n * sizeof *out);
    rm_trainer_free(t);
}

static void same_seed_gives_bit_identical_parameters(void **state) {
    (void)state;
    rm_dataset ds;
    synthetic(&ds, 300, 1);
    float a[16 * 12 + 12 + 12 * 4 + 4], b[sizeof a / sizeof a[0]];
    size_t na, nb;
    train_steps(99, 100, &ds, a, &na);
    train_steps(99, 100, &ds, b, &nb);
    assert_int_equal(na, sizeof a / sizeof a[0]);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof(float));
    train_steps(100, 100, &ds, b, &nb);
    assert_true(memcmp(a, b, na * sizeof(float)) != 0);
    rm_dataset_free(&ds);
}

static void epochs_end_with_a_short_batch(void **state) {
    (void)state;
    rm_dataset ds;
    synthetic(&ds, 20, 2);
    rm_train_config c;
    config(&c);
    rm_rng r;
    rm_rng_seed(&r, 3);
    rm_trainer *t;
    assert_int_equal(rm_trainer_create(&t, &c, &ds, &r, NULL), RM_OK);
    assert_int_equal(t->steps_per_epoch, 3);
    rm_step_stats st;
    int rows[6], done[6];
    for (int i = 0; i < 6; i++) {
        rm_trainer_step(t, &r, &st);
        rows[i] = st.rows;
        done[i] = st.epoch_done;
    }
    int want_rows[6] = {8, 8, 4, 8, 8, 4}, want_done[6] = {0, 0, 1, 0, 0, 1};
    assert_memory_equal(rows, want_rows, sizeof rows);
    assert_memory_equal(done, want_done, sizeof done);
    assert_int_equal(t->epoch, 2);
    assert_int_equal(t->step, 6);
    rm_trainer_free(t);
    rm_dataset_free(&ds);
}

static void learns_a_separable_problem(void **state) {
    (void)state;
    rm_dataset train, test;
    synthetic(&train, 2000, 4);
    synthetic(&test, 500, 5);
    rm_train_config c;
    config(&c);
    rm_rng r;
    rm_rng_seed(&r, 6);
    rm_trainer *t;
    assert_int_equal(rm_trainer_create(&t, &c, &train, &r, NULL), RM_OK);
    rm_eval_result before, after;
    assert_int_equal(rm_trainer_evaluate(t, &test, &before), RM_OK);
    rm_step_stats st;
    for (uint64_t i = 0; i < 3 * t->steps_per_epoch; i++)
        rm_trainer_step(t, &r, &st);
    assert_int_equal(rm_trainer_evaluate(t, &test, &after), RM_OK);
    assert_true(after.accuracy > 0.95);
    assert_true(after.loss < before.loss);
    uint64_t total = 0, diag = 0;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            total += after.confusion[i * 4 + j];
            diag += i == j ? after.confusion[i * 4 + j] : 0;
        }
    assert_int_equal(total, 500);
    assert_float_equal((double)diag / 500.0, after.accuracy, 1e-12);
    rm_eval_result_free(&before);
    rm_eval_result_free(&after);
    rm_trainer_free(t);
    rm_dataset_free(&train);
    rm_dataset_free(&test);
}

static void models_that_do_not_fit_the_data_are_refused(void **state) {
    (void)state;
    rm_dataset ds;
    synthetic(&ds, 10, 7);
    rm_train_config c;
    config(&c);
    rm_rng r;
    rm_rng_seed(&r, 8);
    rm_trainer *t;
    rm_diag d = {{0}};
    strcpy(c.model, "mlp:15-12-4");
    assert_int_equal(rm_trainer_create(&t, &c, &ds, &r, &d), RM_EMISMATCH);
    assert_non_null(strstr(d.msg, "16 features"));
    assert_null(t);
    strcpy(c.model, "mlp:16-12-3");
    assert_int_equal(rm_trainer_create(&t, &c, &ds, &r, &d), RM_EMISMATCH);
    strcpy(c.model, "mlp:16-x");
    assert_int_equal(rm_trainer_create(&t, &c, &ds, &r, &d), RM_EMODEL_SPEC);
    strcpy(c.model, "mlp:16-12-4");
    c.batch = 0;
    assert_int_equal(rm_trainer_create(&t, &c, &ds, &r, &d), RM_EINVAL);
    rm_dataset_free(&ds);
}

/* The output bias of a class absent from the shard after training on it,
 * with logit adjustment tau (0: off). */
static float absent_class_bias(float tau) {
    rm_dataset ds;
    synthetic(&ds, 400, 3);
    for (size_t i = 0; i < ds.n; i++) /* a label-skewed shard: classes 0, 1 */
        ds.y[i] %= 2;
    rm_train_config c;
    config(&c);
    c.logit_adjust = tau;
    rm_rng r;
    rm_rng_seed(&r, 5);
    rm_trainer *t;
    assert_int_equal(rm_trainer_create(&t, &c, &ds, &r, NULL), RM_OK);
    rm_step_stats st;
    for (int i = 0; i < 150; i++)
        rm_trainer_step(t, &r, &st);
    size_t n;
    float b = rm_trainer_params(t, &n)[n - 1]; /* class 3's output bias */
    rm_trainer_free(t);
    rm_dataset_free(&ds);
    return b;
}

/* Without it, a peer whose shard lacks a class drives that class's logit
 * down (and averaging drags every peer's with it); with it, a class the
 * shard lacks is left out of the softmax and its output never moves. */
static void logit_adjustment_spares_classes_a_shard_lacks(void **state) {
    (void)state;
    float plain = absent_class_bias(0.0f), adjusted = absent_class_bias(1.0f);
    assert_true(plain < -0.1f);
    assert_true(adjusted == 0.0f); /* never a gradient: it does not move */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_seed_gives_bit_identical_parameters),
        cmocka_unit_test(epochs_end_with_a_short_batch),
        cmocka_unit_test(learns_a_separable_problem),
        cmocka_unit_test(models_that_do_not_fit_the_data_are_refused),
        cmocka_unit_test(logit_adjustment_spares_classes_a_shard_lacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
