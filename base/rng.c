#include "base/rng.h"

#include <math.h>

#define RM_TWO_PI 6.283185307179586476925286766559

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

void rm_rng_seed(rm_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t rm_rng_u64(rm_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t rm_rng_below(rm_rng *r, uint64_t n) {
    /* Lemire's nearly-divisionless method with rejection for exactness. */
    unsigned __int128 m = (unsigned __int128)rm_rng_u64(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t threshold = -n % n;
        while (lo < threshold) {
            m = (unsigned __int128)rm_rng_u64(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

float rm_rng_float(rm_rng *r) {
    return (float)(rm_rng_u64(r) >> 40) * 0x1.0p-24f;
}

double rm_rng_double(rm_rng *r) {
    return (double)(rm_rng_u64(r) >> 11) * 0x1.0p-53;
}

double rm_rng_normal(rm_rng *r) {
    double u1 = 1.0 - rm_rng_double(r); /* (0, 1]: log is finite */
    double u2 = rm_rng_double(r);
    return sqrt(-2.0 * log(u1)) * cos(RM_TWO_PI * u2);
}

double rm_rng_gamma(rm_rng *r, double shape) {
    if (shape < 1.0) {
        /* Boost: Gamma(a) = Gamma(a + 1) * U^(1/a). */
        double u = 1.0 - rm_rng_double(r);
        return rm_rng_gamma(r, shape + 1.0) * pow(u, 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = rm_rng_normal(r);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        double u = 1.0 - rm_rng_double(r);
        if (u < 1.0 - 0.0331 * x * x * x * x)
            return d * v;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return d * v;
    }
}

void rm_rng_shuffle_u32(rm_rng *r, uint32_t *v, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rm_rng_below(r, i);
        uint32_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

void rm_rng_sample_sorted(rm_rng *r, uint32_t n, uint32_t m, uint32_t *out) {
    uint32_t got = 0;
    for (uint32_t k = 0; k < n && got < m; k++)
        if (rm_rng_below(r, n - k) < m - got) /* probability (m - got) / (n - k) */
            out[got++] = k;
}

void rm_rng_seed_stream(rm_rng *r, uint64_t seed, uint64_t stream) {
    uint64_t x = seed;
    uint64_t mixed = splitmix64(&x) ^ (stream * 0xd1342543de82ef95ULL);
    rm_rng_seed(r, mixed);
}
