/* rumor: how hot loops get vector code in portable builds.
 *
 * Release builds target baseline x86-64 (SSE2) so that they run on any
 * machine, edge devices included. A few loops dominate training and
 * averaging time; RM_HOT compiles them three times (AVX-512, AVX2+FMA and
 * baseline) and the loader picks the best one for the CPU at start-up
 * (GCC function multi-versioning, an ifunc). Measured here: the Adam update
 * and the averaging loop ran 3-5x faster in the AVX2 version than in the
 * baseline one. With -DRUMOR_NATIVE=ON the whole build targets this CPU and
 * the clones are not needed. */
#ifndef RM_HOT_H
#define RM_HOT_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(RUMOR_NATIVE) && !defined(__SANITIZE_ADDRESS__)
#define RM_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RM_HOT
#endif

#endif
