/* rumor: the one source of randomness below the shells.
 *
 * xoshiro256** (Blackman and Vigna), seeded through splitmix64. Every random
 * choice in models/ and gossip/ (init, shuffling, dropout, peer choice) draws
 * from an rm_rng that its caller passes in, so the same seed gives the same
 * bits on every run. The state is four plain words: a checkpoint stores it
 * and restores it exactly. Not for secrets: keys come from libsodium. */
#ifndef RM_RNG_H
#define RM_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} rm_rng;

/* Seeds the generator; any seed, 0 included, gives a valid state. */
void rm_rng_seed(rm_rng *r, uint64_t seed);

/* Next 64 random bits. */
uint64_t rm_rng_u64(rm_rng *r);

/* A uniform integer in [0, n); n must be > 0. Unbiased (Lemire's method). */
uint64_t rm_rng_below(rm_rng *r, uint64_t n);

/* A uniform float in [0, 1) with 24 random bits. */
float rm_rng_float(rm_rng *r);

/* A uniform double in [0, 1) with 53 random bits. */
double rm_rng_double(rm_rng *r);

/* A standard normal draw (Box-Muller, one value per call). */
double rm_rng_normal(rm_rng *r);

/* A Gamma(shape, 1) draw, shape > 0 (Marsaglia and Tsang). */
double rm_rng_gamma(rm_rng *r, double shape);

/* Fisher-Yates shuffle of n uint32 indices in place. O(n). */
void rm_rng_shuffle_u32(rm_rng *r, uint32_t *v, size_t n);

/* Writes m distinct indices of [0, n), m <= n, drawn uniformly and in
 * ascending order (selection sampling, Knuth's Algorithm S), to out (m):
 * a random sample of rows that a reader can still stream in file order.
 * O(n). */
void rm_rng_sample_sorted(rm_rng *r, uint32_t n, uint32_t m, uint32_t *out);

/* Seeds an independent stream of one run: the state is a function of (seed,
 * stream) alone, so peer i's generator never depends on how many draws
 * peer j made. */
void rm_rng_seed_stream(rm_rng *r, uint64_t seed, uint64_t stream);

#endif
