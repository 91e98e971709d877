/* What the x86-64 CPU can run (cpuid + what the OS saves on a context switch, XGETBV) and
 * which OpenBLAS kernel set ("core") that allows. Debian 12's OpenBLAS 0.3.21 does not
 * know CPUs newer than itself and falls back to its generic SSE3 core ("Prescott"), which
 * runs sgemm at a fifth of the speed the same library reaches with the right core; the
 * BLAS loader (core/blas.h) uses these to pick that core instead. */
#ifndef SB_CORE_CPU_FEATURES_H
#define SB_CORE_CPU_FEATURES_H

#include <stdbool.h>

typedef struct {
    bool sse3, ssse3, sse41, sse42, avx, fma, avx2;
    bool avx512f, avx512bw, avx512dq, avx512vl;
    bool os_ymm; /* XCR0: the OS saves the SSE and AVX (YMM) state */
    bool os_zmm; /* XCR0: ... and the AVX-512 opmask and ZMM state */
} sb_cpu_features;

/* This CPU's features; all false on a CPU that is not x86. */
void sb_cpu_features_detect(sb_cpu_features *f);

/* The best OpenBLAS core these features (with the OS's support) can run: "SkylakeX"
 * (AVX-512 F/BW/DQ/VL), "Haswell" (AVX2 + FMA), "Sandybridge" (AVX), "Nehalem" (SSE4.2),
 * "Core2" (SSSE3), or NULL when nothing beats the generic core. */
const char *sb_blas_core_for(const sb_cpu_features *f);

/* True for the cores OpenBLAS falls back to when it does not know the CPU. */
bool sb_blas_core_is_generic(const char *core);

/* The core to force with OPENBLAS_CORETYPE, or NULL to keep OpenBLAS's own choice:
 * `user_coretype` is the user's OPENBLAS_CORETYPE (NULL or "" when unset; a set one always
 * wins), `openblas_core` the core OpenBLAS picked by itself. Pure: no cpuid, no getenv. */
const char *sb_blas_core_choice(const char *user_coretype, const char *openblas_core,
                                const sb_cpu_features *f);

/* A short text of the features that decided, e.g. "AVX-512" or "AVX2+FMA", for messages. */
const char *sb_cpu_features_summary(const sb_cpu_features *f);

#endif
