/* Scenario values: durations, numbers, switches, distributions,
 * topologies, model specs, bandwidths, peer lists. */
#include "sim/scenario_values.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/forest.h"
#include "models/mlp.h"

bool rm_parse_duration_us(const char *s, uint64_t *us) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0)
        return false;
    while (*end == ' ')
        end++;
    double scale;
    if (*end == '\0' || strcmp(end, "ms") == 0)
        scale = 1e3;
    else if (strcmp(end, "us") == 0)
        scale = 1.0;
    else if (strcmp(end, "s") == 0)
        scale = 1e6;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        scale = 60e6;
    else if (strcmp(end, "h") == 0)
        scale = 3600e6;
    else
        return false;
    if (v * scale > 1e18)
        return false;
    *us = (uint64_t)(v * scale + 0.5);
    return true;
}

const char *scn_parse_u32(const char *v, uint32_t lo, uint32_t hi, uint32_t *out) {
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (end == v || *end || errno || v[0] == '-' || x < lo || x > hi)
        return "is not a whole number in range";
    *out = (uint32_t)x;
    return NULL;
}

const char *scn_parse_real(const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || errno || !isfinite(x))
        return "is not a number";
    if (*end == '%') { /* "25%" */
        x /= 100.0;
        end++;
    }
    if (*end || x < lo || x > hi)
        return "is not a number in range";
    *out = x;
    return NULL;
}

const char *scn_parse_bool(const char *v, bool *out) {
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
        *out = true;
    else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
        *out = false;
    else
        return "is not on or off";
    return NULL;
}

const char *scn_parse_dur(const char *v, uint64_t *out) {
    return rm_parse_duration_us(v, out) ? NULL
                                        : "is not a duration (like 250ms, 1.5s, 2m)";
}

/* Distributions and topologies say exactly what is wrong ("'lognorm:80':
 * unknown distribution 'lognorm' (expected ...)"); the value is quoted
 * already in our message, so its "'value': " prefix is dropped. */
const char *scn_explain(char why[WHY_MAX], const char *what, const char *v,
                           const rm_diag *d) {
    const char *reason = d->msg;
    size_t n = strlen(v);
    if (reason[0] == '\'' && strncmp(reason + 1, v, n) == 0 &&
        strncmp(reason + 1 + n, "': ", 3) == 0)
        reason += n + 4;
    snprintf(why, WHY_MAX, "is not %s: %s", what, reason[0] ? reason : "bad syntax");
    return why;
}

const char *scn_parse_dist(char why[WHY_MAX], const char *v, rm_dist *out) {
    rm_diag d = {{0}};
    if (rm_dist_parse(v, out, &d) == RM_OK)
        return NULL;
    return scn_explain(why, "a distribution", v, &d);
}

const char *scn_parse_topo(char why[WHY_MAX], const char *v, rm_topo_spec *out) {
    rm_diag d = {{0}};
    if (rm_topo_parse(v, out, &d) == RM_OK)
        return NULL;
    return scn_explain(why, "a topology", v, &d);
}

/* "vector:N" (N floats, averaged only), a learner's spec ("mlp:784-128-10",
 * "softmax:784-10") or a random forest ("forest:trees=100,depth=20"),
 * checked here so that a typo names its line; whether the widths fit the
 * data is known only when the data is read. */
const char *scn_parse_model(char why[WHY_MAX], const char *v) {
    if (strncmp(v, "vector:", 7) == 0) {
        const char *p = v + 7;
        char *end;
        errno = 0;
        unsigned long n = strtoul(p, &end, 10);
        if (!(*p >= '0' && *p <= '9') || *end || errno || n < 1 || n > VECTOR_MAX)
            return "is not a model: vector:N needs a size N in 1..16777216";
        return NULL;
    }
    rm_diag d = {{0}};
    if (strncmp(v, "forest", 6) == 0 && (v[6] == '\0' || v[6] == ':')) {
        rm_forest_config fc;
        rm_forest_config_default(&fc);
        if (rm_forest_config_parse(v, &fc, &d) == RM_OK)
            return NULL;
        return scn_explain(why, "a forest", v, &d);
    }
    rm_mlp_spec spec;
    if (rm_mlp_spec_parse(v, &spec, &d) == RM_OK)
        return NULL;
    return scn_explain(why, "a model", v, &d);
}

/* "100MB", "12.5Mbit", "0" (unlimited): bytes per second. */
const char *scn_parse_bandwidth(const char *v, double *out) {
    char *end;
    double x = strtod(v, &end);
    if (end == v || !isfinite(x) || x < 0)
        return "is not a bandwidth (like 10MB, 100Mbit, 0 for unlimited)";
    while (*end == ' ')
        end++;
    static const struct { const char *unit; double bytes; } units[] = {
        {"", 1}, {"B", 1}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
        {"kbit", 125}, {"Mbit", 125e3}, {"Gbit", 125e6}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].unit) == 0) {
            *out = x * units[i].bytes;
            return NULL;
        }
    return "has an unknown unit (B, KB, MB, GB, kbit, Mbit, Gbit)";
}

/* "25%" or "0.25" (a share of the peers), or "3,5,7" (a list). Whether
 * the numbers are below [peers] count is checked once the whole file is
 * read, so that sections may come in any order. */
const char *scn_parse_peers(const char *v, rm_fault *f) {
    const uint32_t list_max = sizeof f->peers / sizeof f->peers[0];
    f->fraction = 0.0;
    f->npeers = 0;
    if (strchr(v, '%') || strchr(v, '.'))
        return scn_parse_real(v, 0.0, 1.0, &f->fraction);
    const char *p = v;
    for (;;) {
        if (!(*p >= '0' && *p <= '9'))
            return "is not a share (25%, 0.25) or a list of peer numbers (3,5,7)";
        char *end;
        unsigned long x = strtoul(p, &end, 10);
        if (x >= PEERS_MAX)
            return "names a peer number beyond any [peers] count";
        if (f->npeers == list_max)
            return "lists more than 64 peers (use a share such as 25%)";
        f->peers[f->npeers++] = (uint32_t)x;
        if (*end == '\0')
            return NULL;
        if (*end != ',')
            return "is not a list of peer numbers (3,5,7)";
        p = end + 1;
    }
}

