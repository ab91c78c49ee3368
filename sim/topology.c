#include "sim/topology.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A k-regular try gives up after this many pairing rounds in a row that
 * added no edge (the leftover stubs can no longer be paired simply). */
#define RM_KREG_STALL_MAX 64
/* Small world: tries to find a new endpoint for one rewired edge before
 * leaving the edge where it is (only reachable in near-complete graphs). */
#define RM_WS_PICK_MAX 1024

/* ---- parsing */

static const struct {
    const char *name;
    int params_min, params_max;
} topo_kinds[RM_TOPO_END] = {
    [RM_TOPO_FULL] = {"full", 0, 1},
    [RM_TOPO_RING] = {"ring", 0, 0},
    [RM_TOPO_KREGULAR] = {"kregular", 1, 1},
    [RM_TOPO_EXPONENTIAL] = {"exponential", 0, 0},
    [RM_TOPO_SMALLWORLD] = {"smallworld", 2, 2},
};

/* A degree: decimal digits only, 1..RM_TOPO_DEGREE_MAX. */
static int parse_degree(const char *p, uint32_t *k, const char **end) {
    uint32_t v = 0;
    const char *q = p;
    while (*q >= '0' && *q <= '9') {
        v = v * 10 + (uint32_t)(*q - '0');
        if (v > RM_TOPO_DEGREE_MAX)
            return -1;
        q++;
    }
    if (q == p || v == 0)
        return -1;
    *k = v;
    *end = q;
    return 0;
}

rm_err rm_topo_parse(const char *s, rm_topo_spec *spec, rm_diag *diag) {
    memset(spec, 0, sizeof *spec);
    if (!s)
        return rm_diag_set(diag, RM_EINVAL, "no topology given");
    const char *colon = strchr(s, ':');
    size_t name_len = colon ? (size_t)(colon - s) : strlen(s);
    int kind = -1;
    for (int k = 0; k < RM_TOPO_END; k++)
        if (strlen(topo_kinds[k].name) == name_len &&
            strncmp(s, topo_kinds[k].name, name_len) == 0)
            kind = k;
    if (kind < 0)
        return rm_diag_set(diag, RM_EINVAL,
                           "'%s': unknown topology '%.*s' (expected full, ring, "
                           "kregular, exponential or smallworld)",
                           s, (int)(name_len > 32 ? 32 : name_len), s);
    const char *name = topo_kinds[kind].name;
    int pmin = topo_kinds[kind].params_min, pmax = topo_kinds[kind].params_max;
    if (!colon && pmin > 0)
        return rm_diag_set(diag, RM_EINVAL, "'%s': %s needs %s", s, name,
                           pmin == 1 ? "a degree, as in kregular:4"
                                     : "a degree and a rewiring probability, "
                                       "as in smallworld:4,0.1");
    if (colon && pmax == 0)
        return rm_diag_set(diag, RM_EINVAL, "'%s': %s takes no parameters", s,
                           name);
    spec->kind = (rm_topo_kind)kind;
    if (!colon) {
        spec->k = kind == RM_TOPO_RING ? 2 : 0;
        return RM_OK;
    }
    const char *p = colon + 1, *end;
    if (parse_degree(p, &spec->k, &end) != 0) {
        memset(spec, 0, sizeof *spec);
        return rm_diag_set(diag, RM_EINVAL,
                           "'%s': the degree is not an integer in 1..%u", s,
                           (unsigned)RM_TOPO_DEGREE_MAX);
    }
    p = end;
    if (kind == RM_TOPO_SMALLWORLD) {
        if (spec->k % 2 != 0) {
            memset(spec, 0, sizeof *spec);
            return rm_diag_set(diag, RM_EINVAL,
                               "'%s': small world needs an even degree (k/2 "
                               "neighbours each side)", s);
        }
        char *e = (char *)p + 1;
        if (*p == ',')
            spec->rewire = strtod(p + 1, &e);
        if (*p != ',' || !((p[1] >= '0' && p[1] <= '9') || p[1] == '.') ||
            e == p + 1 || !(spec->rewire >= 0) ||
            !(spec->rewire <= 1)) {
            memset(spec, 0, sizeof *spec);
            return rm_diag_set(diag, RM_EINVAL,
                               "'%s': the rewiring probability is not a number "
                               "in [0, 1]", s);
        }
        p = e;
    }
    if (*p != '\0') {
        memset(spec, 0, sizeof *spec);
        return rm_diag_set(diag, RM_EINVAL, "'%s': unexpected '%c'", s, *p);
    }
    return RM_OK;
}

/* ---- building blocks */

static rm_err topo_alloc(rm_topology *t, uint32_t n, size_t entries) {
    t->n = n;
    t->off = malloc(((size_t)n + 1) * sizeof *t->off);
    t->nbr = malloc((entries ? entries : 1) * sizeof *t->nbr);
    if (!t->off || !t->nbr) {
        rm_topo_free(t);
        return RM_ENOMEM;
    }
    return RM_OK;
}

/* Fills off for a graph where every peer has exactly d neighbours. */
static void topo_regular_offsets(rm_topology *t, uint32_t d) {
    for (uint32_t i = 0; i <= t->n; i++)
        t->off[i] = i * d;
}

static rm_err build_ring(uint32_t n, rm_topology *t) {
    uint32_t d = n >= 3 ? 2 : n - 1;
    rm_err err = topo_alloc(t, n, (size_t)n * d);
    if (err)
        return err;
    topo_regular_offsets(t, d);
    for (uint32_t i = 0; i < n && d > 0; i++) {
        t->nbr[i * d] = (i + 1) % n;
        if (d == 2)
            t->nbr[i * d + 1] = (i + n - 1) % n;
    }
    return RM_OK;
}

/* floor(log2(n - 1)) + 1 for n >= 2: the number of j with 2^j <= n - 1. */
static uint32_t exponential_degree(uint32_t n) {
    uint32_t d = 0;
    while (n >= 2 && (UINT64_C(1) << d) <= n - 1)
        d++;
    return d;
}

static rm_err build_exponential(uint32_t n, rm_topology *t) {
    uint32_t d = exponential_degree(n);
    rm_err err = topo_alloc(t, n, (size_t)n * d);
    if (err)
        return err;
    topo_regular_offsets(t, d);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < d; j++)
            t->nbr[(size_t)i * d + j] =
                (uint32_t)(((uint64_t)i + (UINT64_C(1) << j)) % n);
    return RM_OK;
}

/* full: peer i's first seed is its successor on a random cycle through all
 * peers, so that the seed graph is strongly connected whatever n and k (k
 * independent random picks leave ~n e^-k peers that nobody seeds: 3 of
 * 10,000 for k = 8); the other k - 1 are a uniform sample of the remaining
 * n - 2 peers (Floyd's algorithm: exactly k - 1 draws). */
static rm_err build_full(uint32_t n, uint32_t k, rm_rng *rng, rm_topology *t) {
    uint32_t *succ = malloc((size_t)n * sizeof *succ);
    uint32_t *stamp = calloc(n, sizeof *stamp);
    rm_err err = RM_ENOMEM;
    if (!succ || !stamp)
        goto done;
    if ((err = topo_alloc(t, n, (size_t)n * k)) != RM_OK)
        goto done;
    topo_regular_offsets(t, k);
    for (uint32_t i = 0; i < n; i++)
        stamp[i] = i;
    rm_rng_shuffle_u32(rng, stamp, n); /* stamp is a scratch permutation here */
    for (uint32_t i = 0; i < n; i++)
        succ[stamp[i]] = stamp[(i + 1) % n];
    memset(stamp, 0, (size_t)n * sizeof *stamp);
    for (uint32_t i = 0; i < n && k > 0; i++) {
        uint32_t *out = t->nbr + (size_t)i * k, s = succ[i];
        uint32_t lo = i < s ? i : s, hi = i < s ? s : i;
        out[0] = s;
        for (uint32_t j = n - 2 - (k - 1), c = 1; j < n - 2; j++, c++) {
            /* Index x of the n - 2 peers other than i and s, to a peer id. */
            uint32_t x = (uint32_t)rm_rng_below(rng, (uint64_t)j + 1);
            uint32_t y = x + (x >= lo);
            y += (y >= hi);
            if (stamp[y] == i + 1) {
                y = j + (j >= lo);
                y += (y >= hi);
            }
            stamp[y] = i + 1;
            out[c] = y;
        }
    }
    err = RM_OK;
done:
    free(succ);
    free(stamp);
    return err;
}

/* ---- random k-regular */

static int kreg_adjacent(const uint32_t *adj, const uint32_t *deg, uint32_t k,
                         uint32_t u, uint32_t v) {
    const uint32_t *a = adj + (size_t)u * k;
    for (uint32_t j = 0; j < deg[u]; j++)
        if (a[j] == v)
            return 1;
    return 0;
}

/* One try of the pairing model with rejection, as networkx's
 * random_regular_graph does: shuffle the n*k stubs, pair neighbours, keep the
 * pairs that are neither loops nor repeats, shuffle the rejected stubs again.
 * (Plain pairing with a restart on any bad pair succeeds with probability
 * ~exp(-(k^2-1)/4): once in 7 million tries for k = 8.) Not exactly uniform
 * over k-regular graphs, but close for k much smaller than n. Fills adj (n*k,
 * row u holds u's neighbours). Returns 0, or -1 when the try got stuck. */
static int kreg_try(uint32_t n, uint32_t k, rm_rng *rng, uint32_t *adj,
                    uint32_t *deg, uint32_t *stubs) {
    size_t m = (size_t)n * k;
    memset(deg, 0, (size_t)n * sizeof *deg);
    for (uint32_t u = 0; u < n; u++)
        for (uint32_t j = 0; j < k; j++)
            stubs[(size_t)u * k + j] = u;
    int stalled = 0;
    while (m > 0) {
        rm_rng_shuffle_u32(rng, stubs, m);
        size_t left = 0;
        for (size_t i = 0; i + 1 < m; i += 2) {
            uint32_t u = stubs[i], v = stubs[i + 1];
            if (u != v && !kreg_adjacent(adj, deg, k, u, v)) {
                adj[(size_t)u * k + deg[u]++] = v;
                adj[(size_t)v * k + deg[v]++] = u;
            } else {
                stubs[left++] = u;
                stubs[left++] = v;
            }
        }
        if (left == m && ++stalled > RM_KREG_STALL_MAX)
            return -1;
        if (left < m)
            stalled = 0;
        m = left;
    }
    return 0;
}

/* Writes into t (already allocated, n*k entries) the complement of the
 * d-regular graph in adj: every peer gets the n - 1 - d others it lacks. */
static void kreg_complement(uint32_t n, uint32_t d, const uint32_t *adj,
                            uint32_t *stamp, rm_topology *t) {
    memset(stamp, 0, (size_t)n * sizeof *stamp);
    uint32_t k = n - 1 - d;
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < d; j++)
            stamp[adj[(size_t)i * d + j]] = i + 1;
        uint32_t *out = t->nbr + (size_t)i * k, c = 0;
        for (uint32_t j = 0; j < n; j++)
            if (j != i && stamp[j] != i + 1)
                out[c++] = j;
    }
}

static rm_err build_kregular(uint32_t n, uint32_t k, rm_rng *rng,
                             rm_topology *t) {
    if (((uint64_t)n * k) % 2 != 0)
        return RM_EINVAL;
    if (k == 1 && n != 2)
        return RM_EINVAL; /* a perfect matching is connected only for n = 2 */
    rm_err err = topo_alloc(t, n, (size_t)n * k);
    if (err)
        return err;
    topo_regular_offsets(t, k);
    if (k <= 2) {
        /* The connected 2-regular graphs are the Hamiltonian cycles: a
         * shuffled ring is uniform among them, and needs no retries (a
         * random pairing is one cycle with probability ~sqrt(pi / 2n)). */
        uint32_t *perm = malloc((size_t)n * sizeof *perm);
        if (!perm) {
            rm_topo_free(t);
            return RM_ENOMEM;
        }
        for (uint32_t i = 0; i < n; i++)
            perm[i] = i;
        rm_rng_shuffle_u32(rng, perm, n);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t u = perm[i];
            t->nbr[(size_t)u * k] = perm[(i + 1) % n];
            if (k == 2)
                t->nbr[(size_t)u * k + 1] = perm[(i + n - 1) % n];
        }
        free(perm);
        return RM_OK;
    }
    /* Above half density, pair the sparser complement and flip it: pairing
     * a near-complete graph by rejection almost always gets stuck. */
    uint32_t d = 2 * k > n - 1 ? n - 1 - k : k;
    uint32_t *adj = malloc(((size_t)n * d + 1) * sizeof *adj);
    uint32_t *stubs = malloc(((size_t)n * d + 1) * sizeof *stubs);
    uint32_t *deg = malloc((size_t)n * sizeof *deg);
    err = RM_ENOMEM;
    if (!adj || !stubs || !deg)
        goto fail;
    err = RM_EINVAL;
    for (int try = 0; try < RM_TOPO_TRIES; try++) {
        if (kreg_try(n, d, rng, adj, deg, stubs) != 0)
            continue;
        if (d == k)
            memcpy(t->nbr, adj, (size_t)n * k * sizeof *adj);
        else
            kreg_complement(n, d, adj, deg, t);
        int c = rm_topo_connected(t);
        if (c < 0) {
            err = (rm_err)c;
            break;
        }
        if (c == 1) {
            err = RM_OK;
            break;
        }
    }
fail:
    free(adj);
    free(stubs);
    free(deg);
    if (err)
        rm_topo_free(t);
    return err;
}

/* ---- small world */

/* An open-addressing set of undirected edges (linear probing, deletion by
 * backward shift): the rewiring loop asks "is u ~ w?" once per pick. */
typedef struct {
    uint64_t *slot;
    size_t mask;
    int shift;
} edge_set;

#define EDGE_EMPTY UINT64_MAX

static inline uint64_t edge_key(uint32_t u, uint32_t v) {
    return u < v ? ((uint64_t)u << 32 | v) : ((uint64_t)v << 32 | u);
}

static inline size_t edge_home(const edge_set *s, uint64_t key) {
    return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> s->shift);
}

static rm_err edge_set_init(edge_set *s, size_t edges) {
    int bits = 4;
    while (((size_t)1 << bits) < 2 * edges)
        bits++;
    s->mask = ((size_t)1 << bits) - 1;
    s->shift = 64 - bits;
    s->slot = malloc((s->mask + 1) * sizeof *s->slot);
    if (!s->slot)
        return RM_ENOMEM;
    memset(s->slot, 0xff, (s->mask + 1) * sizeof *s->slot);
    return RM_OK;
}

static int edge_set_has(const edge_set *s, uint64_t key) {
    for (size_t i = edge_home(s, key);; i = (i + 1) & s->mask) {
        if (s->slot[i] == key)
            return 1;
        if (s->slot[i] == EDGE_EMPTY)
            return 0;
    }
}

/* key must not be present; the set is never more than half full. */
static void edge_set_add(edge_set *s, uint64_t key) {
    size_t i = edge_home(s, key);
    while (s->slot[i] != EDGE_EMPTY)
        i = (i + 1) & s->mask;
    s->slot[i] = key;
}

/* key must be present. */
static void edge_set_del(edge_set *s, uint64_t key) {
    size_t i = edge_home(s, key);
    while (s->slot[i] != key)
        i = (i + 1) & s->mask;
    /* Pull back each later entry of the run that may sit at i. */
    for (size_t j = (i + 1) & s->mask; s->slot[j] != EDGE_EMPTY;
         j = (j + 1) & s->mask) {
        size_t h = edge_home(s, s->slot[j]);
        /* Entry at j may move to i unless its home lies cyclically in (i, j]. */
        if (((j - h) & s->mask) >= ((j - i) & s->mask)) {
            s->slot[i] = s->slot[j];
            i = j;
        }
    }
    s->slot[i] = EDGE_EMPTY;
}

/* Watts-Strogatz as networkx's watts_strogatz_graph: edge (u, u + j) for
 * j = 1..k/2, in that order, is rewired with probability p to (u, w), w a
 * uniform peer that is neither u nor already u's neighbour. One uniform is
 * drawn per edge whatever p; each rewiring draws until it finds w. Fills
 * (eu, ev) with the m = n*k/2 edges. */
static rm_err ws_try(uint32_t n, uint32_t k, double p, rm_rng *rng,
                     uint32_t *eu, uint32_t *ev, uint32_t *deg) {
    size_t m = (size_t)n * (k / 2);
    edge_set set;
    if (edge_set_init(&set, m) != RM_OK)
        return RM_ENOMEM;
    for (uint32_t j = 1; j <= k / 2; j++)
        for (uint32_t u = 0; u < n; u++) {
            size_t e = (size_t)(j - 1) * n + u;
            eu[e] = u;
            ev[e] = (u + j) % n;
            edge_set_add(&set, edge_key(u, ev[e]));
        }
    for (uint32_t u = 0; u < n; u++)
        deg[u] = k;
    for (size_t e = 0; e < m; e++) {
        uint32_t u = eu[e];
        if (!(rm_rng_double(rng) < p) || deg[u] >= n - 1)
            continue;
        for (int tries = 0; tries < RM_WS_PICK_MAX; tries++) {
            uint32_t w = (uint32_t)rm_rng_below(rng, n);
            if (w == u || edge_set_has(&set, edge_key(u, w)))
                continue;
            edge_set_del(&set, edge_key(u, ev[e]));
            edge_set_add(&set, edge_key(u, w));
            deg[ev[e]]--;
            deg[w]++;
            ev[e] = w;
            break;
        }
    }
    free(set.slot);
    return RM_OK;
}

static rm_err build_smallworld(uint32_t n, uint32_t k, double p, rm_rng *rng,
                               rm_topology *t) {
    if (k < 2 || k % 2 != 0 || !(p >= 0 && p <= 1))
        return RM_EINVAL;
    size_t m = (size_t)n * (k / 2);
    uint32_t *eu = malloc(m * sizeof *eu);
    uint32_t *ev = malloc(m * sizeof *ev);
    uint32_t *deg = malloc((size_t)n * sizeof *deg);
    rm_err err = RM_ENOMEM;
    if (!eu || !ev || !deg || topo_alloc(t, n, 2 * m) != RM_OK)
        goto done;
    err = RM_EINVAL;
    for (int try = 0; try < RM_TOPO_TRIES; try++) {
        rm_err e2 = ws_try(n, k, p, rng, eu, ev, deg);
        if (e2) {
            err = e2;
            break;
        }
        t->off[0] = 0;
        for (uint32_t i = 0; i < n; i++)
            t->off[i + 1] = t->off[i] + deg[i];
        for (uint32_t i = 0; i < n; i++)
            deg[i] = t->off[i]; /* now the next free slot of row i */
        for (size_t e = 0; e < m; e++) {
            t->nbr[deg[eu[e]]++] = ev[e];
            t->nbr[deg[ev[e]]++] = eu[e];
        }
        int c = rm_topo_connected(t);
        if (c < 0) {
            err = (rm_err)c;
            break;
        }
        if (c == 1) {
            err = RM_OK;
            break;
        }
    }
done:
    free(eu);
    free(ev);
    free(deg);
    if (err)
        rm_topo_free(t);
    return err;
}

/* ---- the public face */

rm_err rm_topo_build(const rm_topo_spec *spec, uint32_t n, rm_rng *rng,
                     rm_topology *out) {
    memset(out, 0, sizeof *out);
    if (n == 0 || n > RM_TOPO_PEERS_MAX)
        return RM_EINVAL;
    uint32_t k = spec->k;
    switch (spec->kind) {
    case RM_TOPO_FULL:
        /* Anyone may reach anyone: more seeds than others just means all. */
        k = k == 0 ? RM_TOPO_FULL_SEEDS : k;
        k = k < n - 1 ? k : n - 1;
        break;
    case RM_TOPO_KREGULAR:
    case RM_TOPO_SMALLWORLD:
        if (k == 0 || k >= n)
            return RM_EINVAL;
        break;
    case RM_TOPO_RING:
        k = 2;
        break;
    case RM_TOPO_EXPONENTIAL:
        k = exponential_degree(n);
        break;
    default:
        return RM_EINVAL;
    }
    if (k > RM_TOPO_DEGREE_MAX || (uint64_t)n * k > RM_TOPO_ENTRIES_MAX)
        return RM_ETOO_LARGE;
    switch (spec->kind) {
    case RM_TOPO_FULL:
        return build_full(n, k, rng, out);
    case RM_TOPO_RING:
        return build_ring(n, out);
    case RM_TOPO_KREGULAR:
        return build_kregular(n, k, rng, out);
    case RM_TOPO_EXPONENTIAL:
        return build_exponential(n, out);
    case RM_TOPO_SMALLWORLD:
        return build_smallworld(n, k, spec->rewire, rng, out);
    default:
        return RM_EINVAL;
    }
}

void rm_topo_free(rm_topology *t) {
    free(t->off);
    free(t->nbr);
    t->off = t->nbr = NULL;
    t->n = 0;
}

/* Peers reached from 0 along t's edges (BFS). queue has n slots; seen is
 * n bytes, zeroed here. */
static uint32_t bfs_count(uint32_t n, const uint32_t *off, const uint32_t *nbr,
                          uint32_t *queue, uint8_t *seen) {
    memset(seen, 0, n);
    uint32_t head = 0, tail = 0;
    queue[tail++] = 0;
    seen[0] = 1;
    while (head < tail) {
        uint32_t u = queue[head++];
        for (uint32_t e = off[u]; e < off[u + 1]; e++) {
            uint32_t v = nbr[e];
            if (!seen[v]) {
                seen[v] = 1;
                queue[tail++] = v;
            }
        }
    }
    return tail;
}

int rm_topo_connected(const rm_topology *t) {
    uint32_t n = t->n;
    if (n <= 1)
        return 1;
    size_t entries = t->off[n];
    uint32_t *queue = malloc((size_t)n * sizeof *queue);
    uint8_t *seen = malloc(n);
    uint32_t *roff = calloc((size_t)n + 1, sizeof *roff);
    uint32_t *rnbr = malloc((entries ? entries : 1) * sizeof *rnbr);
    int result = RM_ENOMEM;
    if (!queue || !seen || !roff || !rnbr)
        goto done;
    result = 0;
    if (bfs_count(n, t->off, t->nbr, queue, seen) < n)
        goto done;
    /* Every peer reaches 0 too: BFS over the reversed edges. */
    for (size_t e = 0; e < entries; e++)
        roff[t->nbr[e] + 1]++;
    for (uint32_t i = 0; i < n; i++)
        roff[i + 1] += roff[i];
    memcpy(queue, roff, (size_t)n * sizeof *queue); /* next free slot per row */
    for (uint32_t u = 0; u < n; u++)
        for (uint32_t e = t->off[u]; e < t->off[u + 1]; e++)
            rnbr[queue[t->nbr[e]]++] = u;
    result = bfs_count(n, roff, rnbr, queue, seen) == n;
done:
    free(queue);
    free(seen);
    free(roff);
    free(rnbr);
    return result;
}
