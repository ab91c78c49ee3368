/* rumor simulator: the value parsers behind scenario files. Each returns
 * NULL when the value is good, or a phrase saying why it is not ("is not a
 * duration (like 250ms, 1.5s, 2m)"), which sim/scenario.c puts after the
 * line, section, key and value. Not a public header. */
#ifndef RM_SCENARIO_VALUES_H
#define RM_SCENARIO_VALUES_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/scenario.h"

#define WHY_MAX 320        /* a reason composed from a parser's diagnostic (256) */
#define PEERS_MAX 1000000u /* [peers] count */
#define VECTOR_MAX (1ul << 24) /* [model] spec = vector:N, as sim_setup.c takes */

const char *scn_parse_u32(const char *v, uint32_t lo, uint32_t hi, uint32_t *out);
const char *scn_parse_real(const char *v, double lo, double hi, double *out);
const char *scn_parse_bool(const char *v, bool *out);
const char *scn_parse_dur(const char *v, uint64_t *out);
const char *scn_explain(char why[WHY_MAX], const char *what, const char *v, const rm_diag *d);
const char *scn_parse_dist(char why[WHY_MAX], const char *v, rm_dist *out);
const char *scn_parse_topo(char why[WHY_MAX], const char *v, rm_topo_spec *out);
const char *scn_parse_model(char why[WHY_MAX], const char *v);
const char *scn_parse_bandwidth(const char *v, double *out);
const char *scn_parse_peers(const char *v, rm_fault *f);

#endif
