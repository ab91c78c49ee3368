/* Optimizers and schedules against values computed by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "models/optim.h"

static void sgd_momentum_by_hand(void **state) {
    (void)state;
    rm_optim_config c;
    rm_optim_config_default(&c, RM_OPT_SGD);
    c.momentum = 0.9f;
    rm_optim o;
    assert_int_equal(rm_optim_init(&o, &c, 1), RM_OK);
    float p = 1.0f, g = 0.5f;
    rm_optim_step(&o, &p, &g, 0.1f); /* v = 0.5, p = 1 - 0.05 */
    assert_float_equal(p, 0.95f, 1e-7);
    rm_optim_step(&o, &p, &g, 0.1f); /* v = 0.45 + 0.5 = 0.95, p -= 0.095 */
    assert_float_equal(p, 0.855f, 1e-6);
    rm_optim_free(&o);
}

static void sgd_weight_decay_adds_l2(void **state) {
    (void)state;
    rm_optim_config c;
    rm_optim_config_default(&c, RM_OPT_SGD);
    c.momentum = 0.0f;
    c.weight_decay = 0.1f;
    rm_optim o;
    assert_int_equal(rm_optim_init(&o, &c, 1), RM_OK);
    float p = 1.0f, g = 0.5f;
    rm_optim_step(&o, &p, &g, 0.1f); /* g' = 0.5 + 0.1 * 1 = 0.6 */
    assert_float_equal(p, 0.94f, 1e-7);
    rm_optim_free(&o);
}

static void adam_by_hand(void **state) {
    (void)state;
    rm_optim_config c;
    rm_optim_config_default(&c, RM_OPT_ADAM);
    rm_optim o;
    assert_int_equal(rm_optim_init(&o, &c, 1), RM_OK);
    float p = 1.0f, g = 0.5f;
    /* t=1: m = 0.05, v = 0.00025, m^ = 0.5, v^ = 0.25: p -= 0.1 * 0.5 / 0.5 */
    rm_optim_step(&o, &p, &g, 0.1f);
    assert_float_equal(p, 0.9f, 1e-6);
    /* t=2, g=-0.5: m = -0.005, m^ = -0.005/0.19; v^ = 0.25: p += 0.1*0.005/0.19/0.5 */
    g = -0.5f;
    rm_optim_step(&o, &p, &g, 0.1f);
    assert_float_equal(p, 0.9f + 0.1f * 0.005f / 0.19f / 0.5f, 1e-6);
    assert_int_equal(o.t, 2);
    rm_optim_free(&o);
}

static void adamw_decay_is_decoupled(void **state) {
    (void)state;
    rm_optim_config c;
    rm_optim_config_default(&c, RM_OPT_ADAM);
    c.weight_decay = 0.1f;
    rm_optim o;
    assert_int_equal(rm_optim_init(&o, &c, 1), RM_OK);
    float p = 1.0f, g = 0.0f;
    rm_optim_step(&o, &p, &g, 0.1f); /* zero gradient: only p -= lr*wd*p */
    assert_float_equal(p, 0.99f, 1e-6);
    rm_optim_free(&o);
}

static void long_vectors_match_the_scalar_update(void **state) {
    (void)state;
    /* The vectorised loop must give each element what a lone element gets. */
    enum { N = 1003 };
    static float p[N], g[N];
    rm_optim_config c;
    rm_optim_config_default(&c, RM_OPT_ADAM);
    rm_optim o, one;
    assert_int_equal(rm_optim_init(&o, &c, N), RM_OK);
    for (int i = 0; i < N; i++) {
        p[i] = 0.01f * (float)i;
        g[i] = 0.5f - 0.001f * (float)i;
    }
    for (int s = 0; s < 3; s++)
        rm_optim_step(&o, p, g, 0.01f);
    for (int i = 0; i < N; i += 97) {
        assert_int_equal(rm_optim_init(&one, &c, 1), RM_OK);
        float q = 0.01f * (float)i, h = 0.5f - 0.001f * (float)i;
        for (int s = 0; s < 3; s++)
            rm_optim_step(&one, &q, &h, 0.01f);
        assert_float_equal(p[i], q, 1e-6);
        rm_optim_free(&one);
    }
    rm_optim_free(&o);
}

static void bad_configs_are_refused(void **state) {
    (void)state;
    rm_optim_config c;
    rm_optim o;
    rm_optim_config_default(&c, RM_OPT_ADAM);
    c.lr = 0.0f;
    assert_int_equal(rm_optim_init(&o, &c, 4), RM_EINVAL);
    rm_optim_config_default(&c, RM_OPT_ADAM);
    c.beta2 = 1.0f;
    assert_int_equal(rm_optim_init(&o, &c, 4), RM_EINVAL);
    rm_optim_config_default(&c, RM_OPT_SGD);
    c.momentum = 1.5f;
    assert_int_equal(rm_optim_init(&o, &c, 4), RM_EINVAL);
}

static void schedules_by_hand(void **state) {
    (void)state;
    rm_optim_config c;
    rm_optim_config_default(&c, RM_OPT_SGD);
    c.lr = 1.0f;
    assert_float_equal(rm_optim_lr(&c, 57, 100), 1.0f, 0);
    c.sched = RM_SCHED_COSINE;
    assert_float_equal(rm_optim_lr(&c, 0, 11), 1.0f, 1e-6);
    assert_float_equal(rm_optim_lr(&c, 5, 11), 0.5f, 1e-6);
    assert_float_equal(rm_optim_lr(&c, 10, 11), 0.0f, 1e-6);
    c.lr_min = 0.2f;
    assert_float_equal(rm_optim_lr(&c, 5, 11), 0.6f, 1e-6);
    c.sched = RM_SCHED_STEP;
    c.sched_gamma = 0.5f;
    c.sched_every_steps = 3;
    assert_float_equal(rm_optim_lr(&c, 2, 100), 1.0f, 0);
    assert_float_equal(rm_optim_lr(&c, 3, 100), 0.5f, 1e-7);
    assert_float_equal(rm_optim_lr(&c, 7, 100), 0.25f, 1e-7);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sgd_momentum_by_hand),
        cmocka_unit_test(sgd_weight_decay_adds_l2),
        cmocka_unit_test(adam_by_hand),
        cmocka_unit_test(adamw_decay_is_decoupled),
        cmocka_unit_test(long_vectors_match_the_scalar_update),
        cmocka_unit_test(bad_configs_are_refused),
        cmocka_unit_test(schedules_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
