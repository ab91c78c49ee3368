/* rumor CLI: makes sure OpenBLAS uses vector kernels on CPUs it is too old
 * to recognise. */
#ifndef RM_BLAS_TUNE_H
#define RM_BLAS_TUNE_H

/* OpenBLAS picks its kernels once, when it is loaded, from the CPU model.
 * Debian 12's OpenBLAS 0.3.21 does not know CPUs newer than it (this
 * machine's Xeon, family 6 model 207, among them) and falls back to its
 * generic "Prescott" SSE3 kernels: sgemm then ran at 29 GFLOP/s instead of
 * 94-143 GFLOP/s with the SkylakeX kernels, and a whole training step took
 * 2.7x longer. When OpenBLAS reports a generic core but the CPU has
 * AVX-512 (or AVX2+FMA), this sets OPENBLAS_CORETYPE to SkylakeX (or
 * Haswell) and re-executes the program once, before anything else runs.
 * It does nothing when OPENBLAS_CORETYPE is already set (a user's or a
 * machine's choice always wins) or when RUMOR_BLAS_TUNE=0. If the re-exec
 * fails, rumor goes on with the generic kernels. */
void rm_blas_tune(char **argv);

/* The kernel set OpenBLAS is using, e.g. "SkylakeX". */
const char *rm_blas_core(void);

#endif
