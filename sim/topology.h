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
    RM_TOPO_EXPONENTIAL,     /* i -> i + 2^j mod n for every 2^j <= n - 1 (directed) */
    RM_TOPO_SMALLWORLD,      /* Watts-Strogatz: ring lattice of degree k, rewire p */
    RM_TOPO_END
} rm_topo_kind;

/* Bounds: peers per topology, degree, and neighbour entries in all. */
#define RM_TOPO_PEERS_MAX (UINT32_C(1) << 24)
#define RM_TOPO_DEGREE_MAX 4096u
#define RM_TOPO_ENTRIES_MAX (UINT64_C(1) << 27)
/* "full" without a k: RM_TOPO_FULL_SEEDS seeds per peer (n - 1 if fewer). */
#define RM_TOPO_FULL_SEEDS 8u
/* k-regular and small world draw a fresh graph up to this many times until
 * it is connected, then give up with RM_EINVAL. */
#define RM_TOPO_TRIES 100

typedef struct {
    rm_topo_kind kind;
    uint32_t k;              /* degree (full: seeds per peer, 0 = default) */
    double rewire;           /* small world: rewiring probability */
} rm_topo_spec;

typedef struct {
    uint32_t n;
    uint32_t *off;           /* (n + 1) */
    uint32_t *nbr;           /* (off[n]) */
} rm_topology;

/* Parses "full", "full:8", "ring", "kregular:4", "exponential",
 * "smallworld:4,0.1". k is an integer in 1..RM_TOPO_DEGREE_MAX (even for small
 * world), the rewiring probability a number in [0, 1]; "ring" sets k = 2,
 * "full" k = 0 (the default) and "exponential" k = 0 (it depends on n). On
 * error *spec is zeroed. Errors: RM_EINVAL (diag says why). */
rm_err rm_topo_parse(const char *s, rm_topo_spec *spec, rm_diag *diag);

/* Builds the topology for n peers from rng. No self-loops, no duplicate
 * neighbours, and every one is connected (strongly, for the directed ones):
 *   full         out-degree min(k, n - 1) (a k beyond n - 1 is no error:
 *                anyone may reach anyone); i's first seed is its successor
 *                on a random cycle through all peers (so no peer goes
 *                unseeded), the other k - 1 a uniform sample of the rest.
 *                Directed.
 *   ring         degree 2 (1 for n = 2, 0 for n = 1), i ~ i +- 1. Undirected.
 *   k-regular    degree k, undirected, near-uniform (pairing model with
 *                rejection; a shuffled ring for k = 2); redrawn until
 *                connected, at most RM_TOPO_TRIES times.
 *   exponential  out-degree floor(log2(n - 1)) + 1. Directed.
 *   small world  ring lattice of degree k rewired with probability p per edge
 *                (degrees vary, sum n*k); undirected; redrawn until connected,
 *                at most RM_TOPO_TRIES times.
 * The rng draws are a function of (spec, n) and the draws themselves. On
 * error *out is zeroed and nothing is allocated. Errors: RM_EINVAL (n = 0 or
 * above RM_TOPO_PEERS_MAX; for k-regular and small world k = 0 or k >= n;
 * odd n*k or k = 1 with n > 2 for k-regular; no connected graph within
 * RM_TOPO_TRIES),
 * RM_ETOO_LARGE (k above RM_TOPO_DEGREE_MAX or n*k above RM_TOPO_ENTRIES_MAX),
 * RM_ENOMEM. */
rm_err rm_topo_build(const rm_topo_spec *spec, uint32_t n, rm_rng *rng,
                     rm_topology *out);

/* Frees what rm_topo_build allocated and zeroes *t; safe on a zeroed one. */
void rm_topo_free(rm_topology *t);

/* 1 when every peer can reach every other along the (directed) edges, 0 when
 * not, RM_ENOMEM (negative) when its scratch memory cannot be had: test with
 * == 1. Two BFS from peer 0, along the edges and against them, so it is exact
 * for directed topologies too. O(n + e) time, scratch memory of ~2n + e
 * words. */
int rm_topo_connected(const rm_topology *t);

#endif
