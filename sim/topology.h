/* rumor simulator: who may talk to whom at the start of a run.
 *
 * A topology gives each of n peers its list of neighbours, as one CSR
 * array (adjacency of peer i is nbr[off[i] .. off[i+1])). The gossip view of
 * each peer starts from it. "full" is not materialised (n^2 entries for
 * 10,000 peers): it gives each peer `k` distinct random others as seeds. */
#ifndef RM_SIM_TOPOLOGY_H
#define RM_SIM_TOPOLOGY_H

#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"

typedef enum {
    RM_TOPO_FULL = 0,        /* k random seeds each; anyone may reach anyone */
    RM_TOPO_RING,            /* i ~ i-1, i+1 */
    RM_TOPO_KREGULAR,        /* random k-regular (undirected), k even or n*k even */
    RM_TOPO_EXPONENTIAL,     /* i -> i + 2^j mod n for j = 0.. log2(n)-1 (directed) */
    RM_TOPO_SMALLWORLD,      /* Watts-Strogatz: ring lattice of degree k, rewire p */
    RM_TOPO_END
} rm_topo_kind;

typedef struct {
    rm_topo_kind kind;
    uint32_t k;              /* degree (full: seeds per peer) */
    double rewire;           /* small world: rewiring probability */
} rm_topo_spec;

typedef struct {
    uint32_t n;
    uint32_t *off;           /* (n + 1) */
    uint32_t *nbr;           /* (off[n]) */
} rm_topology;

/* Parses "full", "full:8", "ring", "kregular:4", "exponential",
 * "smallworld:4,0.1". Errors: RM_EINVAL (diag says why). */
rm_err rm_topo_parse(const char *s, rm_topo_spec *spec, rm_diag *diag);

/* Builds the topology for n peers from rng. No self-loops, no duplicate
 * neighbours; ring, k-regular, small world are undirected (j in nbr(i) iff
 * i in nbr(j)) and connected for the parameters the scenarios use (k-regular
 * retries until connected, up to a bound). Errors: RM_EINVAL (k >= n, odd n*k
 * for k-regular, ...), RM_ENOMEM. */
rm_err rm_topo_build(const rm_topo_spec *spec, uint32_t n, rm_rng *rng,
                     rm_topology *out);
void rm_topo_free(rm_topology *t);

/* True when every peer can reach every other along edges (BFS, O(n + e)). */
int rm_topo_connected(const rm_topology *t);

#endif
