/* Finite-difference gradient checks shared by the layer and model tests.
 *
 * Central differences in float: for each checked coordinate i,
 * num = (f(x + h e_i) - f(x - h e_i)) / 2h, compared with the analytic
 * gradient. Tolerance (stated once, used everywhere):
 *     |num - ana| <= RM_GC_ABS + RM_GC_REL * max(|num|, |ana|)
 * with h = 1e-2 for the piecewise-linear layers and 1e-3 otherwise; float
 * rounding of the loss (~1e-7 relative) over 2h gives about 1e-4 of noise. */
#ifndef RM_TEST_GRADCHECK_H
#define RM_TEST_GRADCHECK_H

#include <math.h>
#include <stdio.h>

#define RM_GC_ABS 2e-3
#define RM_GC_REL 2e-2

static inline int rm_gc_close(double num, double ana) {
    double scale = fabs(num) > fabs(ana) ? fabs(num) : fabs(ana);
    return fabs(num - ana) <= RM_GC_ABS + RM_GC_REL * scale;
}

/* Fails the test (via cmocka's fail_msg) at the first coordinate out of
 * tolerance, naming it. */
#define RM_GC_EXPECT(what, i, num, ana)                                        \
    do {                                                                       \
        if (!rm_gc_close((num), (ana)))                                        \
            fail_msg("%s[%zu]: numeric %.6g vs analytic %.6g", (what),         \
                     (size_t)(i), (double)(num), (double)(ana));               \
    } while (0)

#endif
