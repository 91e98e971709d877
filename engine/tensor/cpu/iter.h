/* Strided iteration for the CPU kernels (internal to engine/tensor/cpu/).
 *
 * Up to 3 operands of one shape (operand 0's) with arbitrary strides, including 0. Size-1
 * dims are dropped and dims that are contiguous for every operand are merged, so a
 * contiguous tensor is one flat run. The loop body gets runs: pointers, byte strides and a
 * length, plus the row-major position of the run's first element. Large iterations are
 * split over the thread pool. */
#ifndef SB_TENSOR_CPU_ITER_H
#define SB_TENSOR_CPU_ITER_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/tensor.h"

typedef struct sb_operand {
    char *data;
    const int64_t *strides; /* in elements, operand 0's ndim entries */
    size_t elsize;
} sb_operand;

typedef void (*sb_loop_fn)(char **ptrs, const int64_t *strides, int64_t n, int64_t pos, void *ctx);

/* Iterates operand 0's shape (ndim, sizes). Runs in parallel when the element count is at
 * least `parallel_min` (0 = never). */
void sb_cpu_foreach(int nops, const sb_operand *ops, int ndim, const int64_t *sizes, sb_loop_fn fn,
                    void *ctx, int64_t parallel_min);

/* The same iteration, prepared once and walked over sub-ranges of row-major positions
 * (reductions keep one accumulator per range). */
typedef struct sb_iter {
    int nops, ndim;
    int64_t numel;
    int64_t sizes[SB_MAX_DIMS];
    int64_t strides[3][SB_MAX_DIMS]; /* bytes */
    char *base[3];
} sb_iter;
void sb_iter_init(sb_iter *it, int nops, const sb_operand *ops, int ndim, const int64_t *sizes);
void sb_iter_walk(const sb_iter *it, int64_t begin, int64_t end, sb_loop_fn fn, void *ctx);

static inline sb_operand sb_operand_of(const sb_tensor *t)
{
    sb_operand op = {(char *)sb_tensor_data(t), t->strides, sb_dtype_size(t->dtype)};
    return op;
}

/* Elementwise ops go parallel from this many elements (below it, waking threads costs
 * more than it saves). */
#define SB_PARALLEL_ELEMENTS 65536

#endif
