/* rumor simulator: random distributions of delays and durations, as
 * scenario files name them. Every draw comes from the rm_rng passed in. */
#ifndef RM_SIM_DIST_H
#define RM_SIM_DIST_H

#include <stddef.h>

#include "base/err.h"
#include "base/rng.h"

typedef enum {
    RM_DIST_CONST = 0,      /* a = value */
    RM_DIST_UNIFORM,        /* a = low, b = high */
    RM_DIST_NORMAL,         /* a = mean, b = standard deviation */
    RM_DIST_LOGNORMAL,      /* a = median, b = sigma of the log */
    RM_DIST_PARETO,         /* a = scale (minimum), b = shape alpha */
    RM_DIST_EXP,            /* a = mean */
    RM_DIST_END
} rm_dist_kind;

/* Parameters and draws are capped at this (in the caller's unit, usually ms:
 * 1e12 ms is 31 years), so that converting a draw to integer microseconds can
 * never overflow, even in pareto's far tail. */
#define RM_DIST_VALUE_MAX 1e12

typedef struct {
    rm_dist_kind kind;
    double a, b;
} rm_dist;

/* Parses "const:80", "uniform:50,120", "normal:80,10", "lognormal:80,0.5",
 * "pareto:40,1.5", "exp:60". Every parameter must be a finite number in
 * [0, RM_DIST_VALUE_MAX]; besides, uniform needs low <= high, lognormal a
 * median > 0, pareto a scale > 0 and alpha > 0. On error *d is zeroed.
 * Errors: RM_EINVAL (diag says why). */
rm_err rm_dist_parse(const char *s, rm_dist *d, rm_diag *diag);

/* One draw in [0, RM_DIST_VALUE_MAX] (a normal draw below 0 gives 0). Draws
 * from rng per call: const 0, uniform 1, normal 2, lognormal 2, pareto 1,
 * exp 1 -- a function of the kind alone, never of the values drawn. */
double rm_dist_sample(const rm_dist *d, rm_rng *rng);

/* The mean of what rm_dist_sample draws (infinite for pareto with alpha <= 1;
 * for normal, the mean of max(X, 0), which is a once a >= 4b). The clamp at
 * RM_DIST_VALUE_MAX is ignored. */
double rm_dist_mean(const rm_dist *d);

/* Writes the canonical text form ("lognormal:80,0.5") into buf, truncated to
 * len - 1 characters; 64 bytes always suffice, and then rm_dist_parse reads
 * it back to the same bits. */
void rm_dist_format(const rm_dist *d, char *buf, size_t len);

#endif
