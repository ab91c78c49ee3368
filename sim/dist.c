#include "sim/dist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RM_SQRT_2PI 2.5066282746310005024157652848110

static const struct {
    const char *name;
    int nparams;
} dist_kinds[RM_DIST_END] = {
    [RM_DIST_CONST] = {"const", 1},   [RM_DIST_UNIFORM] = {"uniform", 2},
    [RM_DIST_NORMAL] = {"normal", 2}, [RM_DIST_LOGNORMAL] = {"lognormal", 2},
    [RM_DIST_PARETO] = {"pareto", 2}, [RM_DIST_EXP] = {"exp", 1},
};

/* A plain decimal number: no leading blanks, no "inf"/"nan" (strtod takes
 * both), must be finite. Sets *end past it. */
static int parse_number(const char *p, double *v, const char **end) {
    if (!(*p == '-' || *p == '+' || *p == '.' || (*p >= '0' && *p <= '9')))
        return -1;
    char *e;
    *v = strtod(p, &e);
    if (e == p || !isfinite(*v))
        return -1;
    *end = e;
    return 0;
}

rm_err rm_dist_parse(const char *s, rm_dist *d, rm_diag *diag) {
    memset(d, 0, sizeof *d);
    if (!s)
        return rm_diag_set(diag, RM_EINVAL, "no distribution given");
    const char *colon = strchr(s, ':');
    size_t name_len = colon ? (size_t)(colon - s) : strlen(s);
    int kind = -1;
    for (int k = 0; k < RM_DIST_END; k++)
        if (strlen(dist_kinds[k].name) == name_len &&
            strncmp(s, dist_kinds[k].name, name_len) == 0)
            kind = k;
    if (kind < 0)
        return rm_diag_set(diag, RM_EINVAL,
                           "'%s': unknown distribution '%.*s' (expected const, "
                           "uniform, normal, lognormal, pareto or exp)",
                           s, (int)(name_len > 32 ? 32 : name_len), s);
    int want = dist_kinds[kind].nparams;
    if (!colon)
        return rm_diag_set(diag, RM_EINVAL, "'%s': %s needs %d parameter%s",
                           s, dist_kinds[kind].name, want, want == 1 ? "" : "s");
    double v[2] = {0, 0};
    const char *p = colon + 1;
    int got = 0;
    for (;;) {
        const char *end;
        if (got == 2)
            return rm_diag_set(diag, RM_EINVAL, "'%s': %s takes %d parameter%s",
                               s, dist_kinds[kind].name, want,
                               want == 1 ? "" : "s");
        if (parse_number(p, &v[got], &end) != 0)
            return rm_diag_set(diag, RM_EINVAL,
                               "'%s': parameter %d is not a finite number", s,
                               got + 1);
        got++;
        p = end;
        if (*p == '\0')
            break;
        if (*p != ',')
            return rm_diag_set(diag, RM_EINVAL,
                               "'%s': unexpected '%c' after parameter %d", s,
                               *p, got);
        p++;
    }
    if (got != want)
        return rm_diag_set(diag, RM_EINVAL,
                           "'%s': %s takes %d parameter%s, not %d", s,
                           dist_kinds[kind].name, want, want == 1 ? "" : "s",
                           got);
    for (int i = 0; i < want; i++) {
        if (v[i] < 0)
            return rm_diag_set(diag, RM_EINVAL,
                               "'%s': parameter %d is negative", s, i + 1);
        if (v[i] > RM_DIST_VALUE_MAX)
            return rm_diag_set(diag, RM_EINVAL,
                               "'%s': parameter %d exceeds %g", s, i + 1,
                               RM_DIST_VALUE_MAX);
    }
    double a = v[0], b = v[1];
    switch (kind) {
    case RM_DIST_UNIFORM:
        if (a > b)
            return rm_diag_set(diag, RM_EINVAL,
                               "'%s': uniform low %g is above high %g", s, a, b);
        break;
    case RM_DIST_LOGNORMAL:
        if (a <= 0)
            return rm_diag_set(diag, RM_EINVAL,
                               "'%s': lognormal median must be > 0", s);
        break;
    case RM_DIST_PARETO:
        if (a <= 0)
            return rm_diag_set(diag, RM_EINVAL,
                               "'%s': pareto scale must be > 0", s);
        if (b <= 0)
            return rm_diag_set(diag, RM_EINVAL,
                               "'%s': pareto alpha must be > 0", s);
        break;
    default:
        break;
    }
    d->kind = (rm_dist_kind)kind;
    d->a = a;
    d->b = b;
    return RM_OK;
}

double rm_dist_sample(const rm_dist *d, rm_rng *rng) {
    double x;
    switch (d->kind) {
    case RM_DIST_CONST:
        x = d->a;
        break;
    case RM_DIST_UNIFORM:
        x = d->a + (d->b - d->a) * rm_rng_double(rng);
        break;
    case RM_DIST_NORMAL:
        x = d->a + d->b * rm_rng_normal(rng);
        break;
    case RM_DIST_LOGNORMAL:
        x = d->a * exp(d->b * rm_rng_normal(rng));
        break;
    case RM_DIST_PARETO:
        /* Inverse CDF: F(x) = 1 - (a/x)^b, so x = a * U^(-1/b), U in (0, 1]. */
        x = d->a * pow(1.0 - rm_rng_double(rng), -1.0 / d->b);
        break;
    case RM_DIST_EXP:
        x = -d->a * log(1.0 - rm_rng_double(rng));
        break;
    default:
        x = 0;
        break;
    }
    /* !(x > 0) also catches NaN; the upper clamp tames pareto's far tail
     * (U = 2^-53 with a small alpha overflows a double). */
    if (!(x > 0))
        return 0;
    return x < RM_DIST_VALUE_MAX ? x : RM_DIST_VALUE_MAX;
}

double rm_dist_mean(const rm_dist *d) {
    double a = d->a, b = d->b;
    switch (d->kind) {
    case RM_DIST_CONST:
        return a;
    case RM_DIST_UNIFORM:
        return 0.5 * (a + b);
    case RM_DIST_NORMAL: {
        /* Draws below 0 give 0: the mean of max(X, 0) is
         * a Phi(a/b) + b phi(a/b). It is a itself once a >= 4b or so. */
        if (b == 0)
            return a;
        double z = a / b;
        double Phi = 0.5 * erfc(-z / sqrt(2.0));
        double phi = exp(-0.5 * z * z) / RM_SQRT_2PI;
        return a * Phi + b * phi;
    }
    case RM_DIST_LOGNORMAL:
        return a * exp(0.5 * b * b);
    case RM_DIST_PARETO:
        return b <= 1 ? INFINITY : a * b / (b - 1);
    case RM_DIST_EXP:
        return a;
    default:
        return 0;
    }
}

/* The shortest of %.15g..%.17g that reads back as the same double. */
static int format_number(char *buf, size_t len, double v) {
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    return snprintf(buf, len, "%s", tmp);
}

void rm_dist_format(const rm_dist *d, char *buf, size_t len) {
    if (len == 0)
        return;
    if ((unsigned)d->kind >= RM_DIST_END) {
        snprintf(buf, len, "?");
        return;
    }
    int n = snprintf(buf, len, "%s:", dist_kinds[d->kind].name);
    if (n < 0 || (size_t)n >= len)
        return;
    size_t at = (size_t)n;
    n = format_number(buf + at, len - at, d->a);
    if (n < 0 || (size_t)n >= len - at || dist_kinds[d->kind].nparams < 2)
        return;
    at += (size_t)n;
    n = snprintf(buf + at, len - at, ",");
    if (n < 0 || (size_t)n >= len - at)
        return;
    at += (size_t)n;
    format_number(buf + at, len - at, d->b);
}
