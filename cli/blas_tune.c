#include "cli/blas_tune.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *rm_blas_core(void) {
    return openblas_get_corename();
}

/* The kernel set that this CPU's features can run, or NULL. */
static const char *supported_core(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "Haswell";
#endif
    return NULL;
}

void rm_blas_tune(char **argv) {
    const char *off = getenv("RUMOR_BLAS_TUNE");
    if (getenv("OPENBLAS_CORETYPE") || (off && strcmp(off, "0") == 0))
        return;
    const char *core = openblas_get_corename();
    /* Only the generic fallbacks; a core OpenBLAS recognised is left alone. */
    if (!core || (strcmp(core, "Prescott") != 0 && strcmp(core, "Core2") != 0 &&
                  strcmp(core, "Nehalem") != 0))
        return;
    const char *want = supported_core();
    if (!want)
        return;
    if (setenv("OPENBLAS_CORETYPE", want, 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE"); /* exec failed: carry on as we are */
}
