/* OpenBLAS, loaded on first use with the right kernels for this CPU.
 *
 * OpenBLAS picks its kernel set ("core") from cpuid in its load-time constructor and reads
 * OPENBLAS_CORETYPE only then. Debian 12's 0.3.21 falls back to its generic SSE3 core on
 * CPUs newer than itself, so the engine does not link it: engine/core/blas.c dlopen()s
 * libopenblas.so.0 on the first BLAS call and, when OpenBLAS fell back to the generic core
 * and the user set no OPENBLAS_CORETYPE, loads it again with the core cpuid allows
 * (core/cpu_features.h). This works the same in the sbengine executable and in sbengine.so
 * under plain lua5.4, and keeps OpenBLAS's ~20 ms of loading out of `sbengine -e ''`.
 *
 * The engine defines the few OpenBLAS entry points its kernels call (cblas_sgemm,
 * cblas_dgemm, openblas_set_num_threads, openblas_get_num_threads, openblas_get_config)
 * itself, with hidden visibility, each forwarding to the loaded library: kernels keep
 * including <cblas.h>. openblas_set_num_threads before the load is remembered and applied
 * at the load, so setting threads does not load the library. A BLAS call when the library
 * cannot be loaded at all ends the process with a message, as the dynamic linker did when
 * the engine linked it; sb_blas_load() reports the same failure as a status instead. */
#ifndef SB_CORE_BLAS_H
#define SB_CORE_BLAS_H

#include <stdbool.h>

#include "core/error.h"

/* Loads OpenBLAS if not yet loaded (idempotent, thread-safe). */
sb_status sb_blas_load(void);
/* The core OpenBLAS runs ("SkylakeX", "Haswell", ...); loads it. "" when it cannot load. */
const char *sb_blas_kernel(void);
/* Why that core: "OpenBLAS's own choice", "the user's OPENBLAS_CORETYPE=Haswell", or
 * "cpuid: AVX-512; OpenBLAS fell back to Prescott"; loads it. */
const char *sb_blas_kernel_origin(void);
/* True once OpenBLAS is loaded (does not load it). */
bool sb_blas_loaded(void);

#endif
