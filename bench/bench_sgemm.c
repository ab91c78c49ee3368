/* bench_sgemm: the BLAS ceiling for one MLP training step.
 *
 * Times exactly the cblas_sgemm calls that one training step of
 * `mlp:SPEC` at batch B makes (forward out = in @ w for every layer,
 * backward dw += in^T @ dout for every layer and din = dout @ w^T for all
 * but the first), on the same shapes, with nothing else in between. The
 * GFLOP/s it prints is the most a step could reach if everything outside
 * sgemm were free; bench/train_vs_pytorch.sh divides rumor's achieved
 * GFLOP/s by it.
 *
 * usage: bench_sgemm SPEC BATCH THREADS [SECONDS]
 * prints: {"spec":..,"batch":..,"threads":..,"flops_per_step":..,
 *          "steps_per_second":..,"gflops":..} */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "models/mlp.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static float *filled(size_t n) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; p && i < n; i++)
        p[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
    return p;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: bench_sgemm SPEC BATCH THREADS [SECONDS]\n");
        return 2;
    }
    rm_mlp_spec spec;
    rm_diag diag;
    if (rm_mlp_spec_parse(argv[1], &spec, &diag)) {
        fprintf(stderr, "bench_sgemm: %s\n", diag.msg);
        return 2;
    }
    int B = atoi(argv[2]), threads = atoi(argv[3]);
    double seconds = argc > 4 ? atof(argv[4]) : 2.0;
    openblas_set_num_threads(threads);
    float *w[RM_MLP_LAYERS_MAX], *dw[RM_MLP_LAYERS_MAX], *act[RM_MLP_LAYERS_MAX + 1],
        *d[RM_MLP_LAYERS_MAX + 1];
    double flops = 0.0;
    for (int l = 0; l <= spec.layers; l++) {
        act[l] = filled((size_t)B * spec.dims[l]);
        d[l] = filled((size_t)B * spec.dims[l]);
    }
    for (int l = 0; l < spec.layers; l++) {
        double in = spec.dims[l], o = spec.dims[l + 1];
        w[l] = filled((size_t)(in * o));
        dw[l] = filled((size_t)(in * o));
        flops += 2.0 * B * in * o * (l > 0 ? 3 : 2);
    }
    long steps = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 50; i++, steps++) {
            for (int l = 0; l < spec.layers; l++) {
                int in = spec.dims[l], o = spec.dims[l + 1];
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, o, in,
                            1.0f, act[l], in, w[l], o, 1.0f, act[l + 1], o);
            }
            for (int l = spec.layers - 1; l >= 0; l--) {
                int in = spec.dims[l], o = spec.dims[l + 1];
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, o, B, 1.0f,
                            act[l], in, d[l + 1], o, 1.0f, dw[l], o);
                if (l > 0)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, in, o,
                                1.0f, d[l + 1], o, w[l], o, 0.0f, d[l], in);
            }
        }
        t = now() - t0;
    } while (t < seconds);
    printf("{\"spec\":\"%s\",\"batch\":%d,\"threads\":%d,\"flops_per_step\":%.0f,"
           "\"steps_per_second\":%.1f,\"gflops\":%.2f}\n",
           argv[1], B, threads, flops, steps / t, flops * steps / t * 1e-9);
    return 0;
}
