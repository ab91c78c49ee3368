/* bench_avg_bound: the memory-bandwidth bound on simulated deliveries.
 *
 * A delivery in a vector simulation must at least read the incoming
 * model, read and write the receiver's model, and write the reply: about
 * 4 * n * 4 bytes. This runs exactly that and nothing else (a plain
 * averaging loop and a copy, no decoding, no queue) over `peers` models of
 * n floats picked at random, as the simulator's deliveries are, and prints
 * the rate it reaches: no simulator can deliver faster on this machine.
 *
 * usage: bench_avg_bound PEERS N [SECONDS]
 * prints: {"peers":..,"n":..,"bytes_per_delivery":..,"gb_per_s":..,
 *          "deliveries_per_s":..} */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/rng.h"
#include "gossip/merge.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_avg_bound PEERS N [SECONDS]\n");
        return 2;
    }
    size_t peers = (size_t)atol(argv[1]), n = (size_t)atol(argv[2]);
    double seconds = argc > 3 ? atof(argv[3]) : 2.0;
    enum { INFLIGHT = 4096 }; /* messages in flight, as in the simulator */
    float *x = malloc(peers * n * sizeof *x);
    float *msg = malloc((size_t)INFLIGHT * n * sizeof *msg);
    if (!x || !msg)
        return 1;
    for (size_t i = 0; i < peers * n; i++)
        x[i] = (float)(i % 1000);
    memcpy(msg, x, (size_t)INFLIGHT * n * sizeof *msg < peers * n * sizeof *x
                       ? (size_t)INFLIGHT * n * sizeof *msg
                       : peers * n * sizeof *x);
    rm_rng r;
    rm_rng_seed(&r, 1);
    long done = 0;
    double t0 = now(), t;
    do {
        for (int k = 0; k < 10000; k++, done++) {
            float *xi = x + rm_rng_below(&r, peers) * n;
            float *m = msg + rm_rng_below(&r, INFLIGHT) * n;
            rm_vec_axpby(xi, m, 0.5f, 0.5f, n); /* read m, read+write x_i */
            memcpy(m, xi, n * sizeof *xi);      /* the reply */
        }
        t = now() - t0;
    } while (t < seconds);
    double bytes = 4.0 * n * sizeof(float);
    printf("{\"peers\":%zu,\"n\":%zu,\"bytes_per_delivery\":%.0f,\"gb_per_s\":%.2f,"
           "\"deliveries_per_s\":%.0f}\n",
           peers, n, bytes, bytes * done / t / 1e9, done / t);
    free(x);
    free(msg);
    return 0;
}
