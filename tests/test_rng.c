/* rm_rng: reproducible streams, unbiased ranges, sane distributions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"

static void same_seed_same_bits(void **state) {
    (void)state;
    rm_rng a, b;
    rm_rng_seed(&a, 42);
    rm_rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(rm_rng_u64(&a), rm_rng_u64(&b));
    rm_rng_seed(&b, 43);
    assert_true(rm_rng_u64(&a) != rm_rng_u64(&b));
}

static void streams_are_independent_of_draw_counts(void **state) {
    (void)state;
    rm_rng a, b;
    rm_rng_seed_stream(&a, 7, 3);
    rm_rng_seed_stream(&b, 7, 3);
    assert_memory_equal(&a, &b, sizeof a);
    rm_rng_seed_stream(&b, 7, 4);
    assert_true(memcmp(&a, &b, sizeof a) != 0);
}

static void below_is_in_range_and_covers_it(void **state) {
    (void)state;
    rm_rng r;
    rm_rng_seed(&r, 1);
    int seen[7] = {0};
    for (int i = 0; i < 7000; i++) {
        uint64_t v = rm_rng_below(&r, 7);
        assert_true(v < 7);
        seen[v]++;
    }
    for (int i = 0; i < 7; i++)
        assert_in_range(seen[i], 850, 1150);
}

static void floats_are_in_unit_interval(void **state) {
    (void)state;
    rm_rng r;
    rm_rng_seed(&r, 2);
    double sum = 0.0;
    for (int i = 0; i < 100000; i++) {
        float f = rm_rng_float(&r);
        assert_true(f >= 0.0f && f < 1.0f);
        sum += f;
    }
    assert_true(fabs(sum / 100000 - 0.5) < 0.01);
}

static void normal_and_gamma_moments(void **state) {
    (void)state;
    rm_rng r;
    rm_rng_seed(&r, 3);
    const int n = 200000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double x = rm_rng_normal(&r);
        s += x;
        s2 += x * x;
    }
    assert_true(fabs(s / n) < 0.01);
    assert_true(fabs(s2 / n - 1.0) < 0.02);
    const double shapes[] = {0.1, 0.5, 1.0, 4.0};
    for (size_t k = 0; k < 4; k++) {
        double m = 0;
        for (int i = 0; i < n; i++) {
            double g = rm_rng_gamma(&r, shapes[k]);
            assert_true(g >= 0.0);
            m += g;
        }
        /* Gamma(a, 1) has mean a. */
        assert_true(fabs(m / n - shapes[k]) < 0.03 * (shapes[k] + 0.5));
    }
}

static void shuffle_is_a_permutation(void **state) {
    (void)state;
    rm_rng r;
    rm_rng_seed(&r, 4);
    uint32_t v[100];
    int seen[100] = {0};
    for (uint32_t i = 0; i < 100; i++)
        v[i] = i;
    rm_rng_shuffle_u32(&r, v, 100);
    int moved = 0;
    for (uint32_t i = 0; i < 100; i++) {
        seen[v[i]]++;
        moved += v[i] != i;
    }
    for (int i = 0; i < 100; i++)
        assert_int_equal(seen[i], 1);
    assert_true(moved > 90);
}

/* m of n, ascending and distinct, always exactly m (all of them when
 * m = n, none when 0), and each index about equally often. */
static void sorted_samples_are_uniform(void **state) {
    (void)state;
    rm_rng r;
    rm_rng_seed(&r, 5);
    uint32_t out[10];
    int hits[20] = {0};
    for (int t = 0; t < 20000; t++) {
        rm_rng_sample_sorted(&r, 20, 10, out);
        for (int i = 0; i < 10; i++) {
            if (i > 0)
                assert_true(out[i] > out[i - 1]);
            assert_true(out[i] < 20);
            hits[out[i]]++;
        }
    }
    for (int k = 0; k < 20; k++) /* expected 10,000 each; sd about 71 */
        assert_true(abs(hits[k] - 10000) < 400);
    rm_rng_sample_sorted(&r, 10, 10, out);
    for (uint32_t i = 0; i < 10; i++)
        assert_int_equal(out[i], i);
    out[0] = 77;
    rm_rng_sample_sorted(&r, 10, 0, out);
    assert_int_equal(out[0], 77);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_seed_same_bits),
        cmocka_unit_test(streams_are_independent_of_draw_counts),
        cmocka_unit_test(below_is_in_range_and_covers_it),
        cmocka_unit_test(floats_are_in_unit_interval),
        cmocka_unit_test(normal_and_gamma_moments),
        cmocka_unit_test(shuffle_is_a_permutation),
        cmocka_unit_test(sorted_samples_are_uniform),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
