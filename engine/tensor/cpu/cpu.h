/* The CPU backend's kernels (see tensor/backend.h for the contract), internal to
 * engine/tensor/cpu/. One file per seam: copy.c (copy, fill), elementwise.c (unary,
 * binary, comparisons), reduce.c, topk.c, matmul.c; backend.c assembles the table.
 *
 * One small macro per loop shape, instantiated for the five CPU compute dtypes; float16
 * and bfloat16 are storage types here (copy/fill convert them; arithmetic on them is a
 * CUDA feature). Integer arithmetic wraps like PyTorch's (computed unsigned, so no C
 * undefined behaviour). */
#ifndef SB_TENSOR_CPU_CPU_H
#define SB_TENSOR_CPU_CPU_H

#include "tensor/backend.h"
#include "tensor/cpu/iter.h"
#include "tensor/cpu_types.h"

/* X(dtype enum, C type, kind FLT|INT) for the compute dtypes. (Not F/I: OpenBLAS's
 * headers pull in <complex.h>, which defines I.) */
#define SB_CPU_DTYPES(X)                                                                           \
    X(SB_FLOAT32, float, FLT)                                                                      \
    X(SB_FLOAT64, double, FLT)                                                                     \
    X(SB_INT64, int64_t, INT) X(SB_INT32, int32_t, INT) X(SB_UINT8, uint8_t, INT)
#define SB_CPU_DTYPE_COUNT (SB_UINT8 + 1)

/* A row of loops indexed by dtype, for an op computed in every compute dtype (ANY) or
 * only in the floating ones (FLOATING): the dispatch tables are built from the op tables
 * (tensor/op_tables.h) with these, so a missing kernel is a compile error. */
#define SB_CPU_LOOPS_ANY(name)                                                                     \
    {                                                                                              \
        [SB_FLOAT32] = name##_float, [SB_FLOAT64] = name##_double, [SB_INT64] = name##_int64_t,    \
        [SB_INT32] = name##_int32_t, [SB_UINT8] = name##_uint8_t                                   \
    }
#define SB_CPU_LOOPS_FLOATING(name)                                                                \
    {                                                                                              \
        [SB_FLOAT32] = name##_float, [SB_FLOAT64] = name##_double                                  \
    }

/* A loop body for sb_cpu_foreach: out (TO) = EXPR of the input element `a` (TI), with a
 * plain loop for contiguous runs so that it vectorises. */
#define SB_DEFINE_MAP_LOOP(NAME, TO, TI, EXPR)                                                     \
    static void NAME(char **p, const int64_t *s, int64_t n, int64_t pos, void *ctx)                \
    {                                                                                              \
        (void)pos;                                                                                 \
        (void)ctx;                                                                                 \
        if (s[0] == (int64_t)sizeof(TO) && s[1] == (int64_t)sizeof(TI)) {                          \
            TO *o = (TO *)p[0];                                                                    \
            const TI *x = (const TI *)p[1];                                                        \
            for (int64_t i = 0; i < n; i++) {                                                      \
                TI a = x[i];                                                                       \
                o[i] = (EXPR);                                                                     \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                TI a = *(const TI *)(p[1] + i * s[1]);                                             \
                *(TO *)(p[0] + i * s[0]) = (EXPR);                                                 \
            }                                                                                      \
        }                                                                                          \
    }

static inline bool sb_cpu_is_compute_dtype(sb_dtype d)
{
    return d <= SB_UINT8;
}

/* SB_EUNSUPPORTED: `what` is not computed in `dtype` on the CPU (a storage type). */
sb_status sb_cpu_unsupported_dtype(const char *what, sb_dtype dtype);

sb_status sb_cpu_copy(sb_tensor *dst, const sb_tensor *src);
sb_status sb_cpu_fill(sb_tensor *dst, double value);
sb_status sb_cpu_unary(sb_unary_op op, sb_tensor *out, const sb_tensor *a);
sb_status sb_cpu_binary(sb_binary_op op, sb_tensor *out, const sb_tensor *a, const sb_tensor *b);
sb_status sb_cpu_binary_scalar(sb_binary_op op, sb_tensor *out, const sb_tensor *a, double s,
                               bool reversed);
sb_status sb_cpu_compare(sb_compare_op op, sb_tensor *out, const sb_tensor *a, const sb_tensor *b);
sb_status sb_cpu_compare_scalar(sb_compare_op op, sb_tensor *out, const sb_tensor *a, double s);
sb_status sb_cpu_reduce(sb_reduce_op op, sb_tensor *values, sb_tensor *indices, const sb_tensor *a,
                        int dim);
sb_status sb_cpu_topk(sb_tensor *values, sb_tensor *indices, const sb_tensor *a, int64_t k,
                      int dim);
sb_status sb_cpu_bmm(sb_tensor *out, const sb_tensor *a, const sb_tensor *b);

#endif
