/* Float (a stored value or a scalar argument) to an integer dtype, one definition for both
 * backends: gcc compiles it into the CPU kernels and nvcc into the CUDA kernels
 * (engine/cuda/kernels.cuh), so the two cannot drift apart.
 *
 * The rule is what PyTorch does on x86 in practice, without C's undefined behaviour on
 * out-of-range values: truncate toward zero, NaN -> 0, saturate to int64, then wrap to the
 * narrower type. uint8: -1.0 -> 255, 300.0 -> 44; int32: 3e9 -> -1294967296; int64: 1e19 ->
 * INT64_MAX. A plain C or CUDA cast to the narrow type would saturate there instead
 * (-1.0 -> 0 on a GPU), which is the bug this header exists to prevent. */
#ifndef SB_TENSOR_INT_CONVERT_H
#define SB_TENSOR_INT_CONVERT_H

#include <stdint.h>

#ifdef __CUDACC__
#define SB_HOST_DEVICE __host__ __device__
#else
#define SB_HOST_DEVICE
#endif

static inline SB_HOST_DEVICE int64_t sb_double_to_int64(double v)
{
    if (v != v) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

/* The narrow types keep the low bits of the int64 (two's complement wrap). */
static inline SB_HOST_DEVICE int32_t sb_double_to_int32(double v)
{
    return (int32_t)(uint32_t)(uint64_t)sb_double_to_int64(v);
}

static inline SB_HOST_DEVICE uint8_t sb_double_to_uint8(double v)
{
    return (uint8_t)(uint64_t)sb_double_to_int64(v);
}

#endif
