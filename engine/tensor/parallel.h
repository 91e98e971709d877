/* The engine's CPU thread pool: large elementwise ops and reductions split their index
 * range over it. One setting drives both the pool and OpenBLAS. */
#ifndef SB_TENSOR_PARALLEL_H
#define SB_TENSOR_PARALLEL_H

#include <stdint.h>

#include "core/error.h"

/* Threads used by CPU kernels and OpenBLAS. The first use reads SBENGINE_NUM_THREADS
 * (when set and valid) else the number of online CPUs. */
int sb_get_num_threads(void);
/* n >= 1 (SB_EINVAL otherwise, capped at 256). Also calls openblas_set_num_threads(n). */
sb_status sb_set_num_threads(int n);

/* Calls fn(ctx, begin, end) over disjoint chunks covering [0, n), at least `grain`
 * indices per chunk, on up to sb_get_num_threads() threads (the caller is one of them).
 * Returns after every chunk ran. Runs inline when n is small, the pool has one thread,
 * or the pool is already busy (a nested call, or another thread's region), so it is
 * safe to call from anywhere. fn must not fail: kernels validate before splitting. */
void sb_parallel_for(int64_t n, int64_t grain, void (*fn)(void *ctx, int64_t begin, int64_t end),
                     void *ctx);

#endif
