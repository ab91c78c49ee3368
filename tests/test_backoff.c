/* Tests for the redial backoff (node/backoff.c): the ceiling doubles from
 * the base and stops at the cap, the wait always lies in [ceiling/2,
 * ceiling], its extremes are reached, and the draws spread over the whole
 * range. Random words come from a seeded rm_rng so every run is the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/rng.h"
#include "node/backoff.h"

#define BASE RM_BACKOFF_BASE_MS
#define CAP RM_BACKOFF_CAP_MS

static void ceiling_doubles_then_caps(void **state) {
    (void)state;
    static const uint32_t want[] = {0, 250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000};
    for (uint32_t f = 0; f < sizeof want / sizeof want[0]; f++)
        assert_int_equal(rm_backoff_ceiling_ms(f, BASE, CAP), want[f]);
    /* However many failures: the cap, and no overflow on the way. */
    assert_int_equal(rm_backoff_ceiling_ms(40, BASE, CAP), CAP);
    assert_int_equal(rm_backoff_ceiling_ms(UINT32_MAX, BASE, CAP), CAP);
    assert_int_equal(rm_backoff_ceiling_ms(UINT32_MAX, UINT32_MAX, UINT32_MAX), UINT32_MAX);
    assert_int_equal(rm_backoff_ceiling_ms(3, 1u << 31, UINT32_MAX), UINT32_MAX);
    /* Degenerate settings. */
    assert_int_equal(rm_backoff_ceiling_ms(5, 0, CAP), 0);
    assert_int_equal(rm_backoff_ceiling_ms(1, 500, 300), 300); /* cap below base */
}

static void wait_lies_in_half_to_full_ceiling(void **state) {
    (void)state;
    rm_rng r;
    rm_rng_seed(&r, 0xbac0ff);
    for (uint32_t f = 1; f <= 12; f++) {
        uint32_t d = rm_backoff_ceiling_ms(f, BASE, CAP);
        /* The extremes, with words picked to hit them. */
        assert_int_equal(rm_backoff_delay_ms(f, BASE, CAP, 0), d / 2);
        assert_int_equal(rm_backoff_delay_ms(f, BASE, CAP, d - d / 2), d);
        assert_int_equal(rm_backoff_delay_ms(f, BASE, CAP, d - d / 2 + 1), d / 2);
        uint32_t v = rm_backoff_delay_ms(f, BASE, CAP, UINT64_MAX);
        assert_true(v >= d / 2 && v <= d);
        for (int k = 0; k < 2000; k++) {
            v = rm_backoff_delay_ms(f, BASE, CAP, rm_rng_u64(&r));
            assert_true(v >= d / 2 && v <= d);
        }
    }
    assert_int_equal(rm_backoff_delay_ms(0, BASE, CAP, 12345), 0);
    /* An odd ceiling: [1, 3] for 3. */
    for (uint64_t w = 0; w < 9; w++) {
        uint32_t v = rm_backoff_delay_ms(1, 3, 100, w);
        assert_true(v >= 1 && v <= 3);
    }
}

/* Jitter spreads redials: over many draws the waits fill [d/2, d], with a
 * mean near 3d/4, so peers that lost the same node do not redial together. */
static void jitter_spreads_waits(void **state) {
    (void)state;
    rm_rng r;
    rm_rng_seed(&r, 42);
    const uint32_t f = 6, d = rm_backoff_ceiling_ms(f, BASE, CAP); /* 8000 ms */
    uint32_t lo = UINT32_MAX, hi = 0, buckets[4] = {0};
    double sum = 0;
    const int n = 20000;
    for (int k = 0; k < n; k++) {
        uint32_t v = rm_backoff_delay_ms(f, BASE, CAP, rm_rng_u64(&r));
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        sum += v;
        uint32_t b = (v - d / 2) * 4 / (d / 2 + 1);
        buckets[b]++;
    }
    assert_true(lo < d / 2 + d / 100);
    assert_true(hi > d - d / 100);
    double mean = sum / n;
    assert_true(mean > 0.74 * d && mean < 0.76 * d);
    for (int b = 0; b < 4; b++) /* each quarter of the range: 25% +- 2% */
        assert_true(buckets[b] > 0.23 * n && buckets[b] < 0.27 * n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ceiling_doubles_then_caps),
        cmocka_unit_test(wait_lies_in_half_to_full_ceiling),
        cmocka_unit_test(jitter_spreads_waits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
