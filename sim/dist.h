/* rumor simulator: random distributions of delays and durations, as
 * scenario files name them. Every draw comes from the rm_rng passed in. */
#ifndef RM_SIM_DIST_H
#define RM_SIM_DIST_H

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

typedef struct {
    rm_dist_kind kind;
    double a, b;
} rm_dist;

/* Parses "const:80", "uniform:50,120", "normal:80,10", "lognormal:80,0.5",
 * "pareto:40,1.5", "exp:60". Errors: RM_EINVAL (diag says why). */
rm_err rm_dist_parse(const char *s, rm_dist *d, rm_diag *diag);

/* One draw; never negative (a normal draw below 0 gives 0). */
double rm_dist_sample(const rm_dist *d, rm_rng *rng);

/* The distribution's mean (infinite for pareto with alpha <= 1). */
double rm_dist_mean(const rm_dist *d);

/* Writes the canonical text form ("lognormal:80,0.5") into buf. */
void rm_dist_format(const rm_dist *d, char *buf, size_t len);

#endif
