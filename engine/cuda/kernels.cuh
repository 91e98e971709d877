// Shared pieces of the plugin's kernels: dtype traits and dispatch, strided indexing over
// up to SB_MAX_DIMS dims, launch helpers. The plugin cannot call the core's functions
// (it is not linked against it), so the few tensor facts it needs are computed here.
#ifndef SB_CUDA_KERNELS_CUH
#define SB_CUDA_KERNELS_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <limits.h>
#include <stdint.h>

#include <type_traits>

#include "cuda/common.h"
#include "tensor/int_convert.h"
#include "tensor/tensor.h"

// --- dtypes ----------------------------------------------------------------------------

// num<T>: how a stored element is computed with. `acc` is the arithmetic type (float for
// the 16-bit floats: fp32 accumulation), load/store convert.
// The types computed as they are stored (everything but the 16-bit floats).
template <typename T, bool FLOATING> struct num_as_stored {
    using acc = T;
    static __device__ __forceinline__ acc load(T v) { return v; }
    static __device__ __forceinline__ T store(acc v) { return v; }
    static constexpr bool floating = FLOATING;
};
template <typename T> struct num : num_as_stored<T, false> {
};
template <> struct num<float> : num_as_stored<float, true> {
};
template <> struct num<double> : num_as_stored<double, true> {
};
template <> struct num<__half> {
    using acc = float;
    static __device__ __forceinline__ acc load(__half v) { return __half2float(v); }
    static __device__ __forceinline__ __half store(acc v) { return __float2half_rn(v); }
    static constexpr bool floating = true;
};
template <> struct num<__nv_bfloat16> {
    using acc = float;
    static __device__ __forceinline__ acc load(__nv_bfloat16 v) { return __bfloat162float(v); }
    static __device__ __forceinline__ __nv_bfloat16 store(acc v) { return __float2bfloat16_rn(v); }
    static constexpr bool floating = true;
};

// A double as an integer T by the CPU's rule (tensor/int_convert.h, compiled here too):
// truncate, NaN -> 0, saturate to int64, wrap to the narrow type (-1.0 -> uint8 255). A
// plain CUDA cast would saturate to the narrow type instead (-1.0 -> 0).
template <typename T> __host__ __device__ __forceinline__ T int_from_double(double d)
{
    if constexpr (std::is_same<T, uint8_t>::value)
        return sb_double_to_uint8(d);
    else if constexpr (std::is_same<T, int32_t>::value)
        return sb_double_to_int32(d);
    else {
        static_assert(std::is_same<T, int64_t>::value, "an integer dtype without a conversion");
        return sb_double_to_int64(d);
    }
}

// One stored type to another as the CPU backend converts (engine/tensor/cpu/copy.c).
template <typename To, typename From> __device__ __forceinline__ To convert(From v)
{
    if constexpr (!num<To>::floating && num<From>::floating)
        return int_from_double<To>((double)num<From>::load(v));
    else
        return num<To>::store(static_cast<typename num<To>::acc>(num<From>::load(v)));
}

// A double (a scalar argument) as a stored T: integers as the CPU converts a scalar
// (tensor/cpu_types.h's sb_store_double: uint8 5 + (-1) is 4, not 5).
template <typename T> __device__ __forceinline__ T from_double(double v)
{
    if constexpr (!num<T>::floating)
        return int_from_double<T>(v);
    else
        return num<T>::store(static_cast<typename num<T>::acc>(v));
}

static inline size_t dtype_size(sb_dtype d)
{
    switch (d) {
    case SB_FLOAT32:
        return 4;
    case SB_FLOAT64:
        return 8;
    case SB_INT64:
        return 8;
    case SB_INT32:
        return 4;
    case SB_UINT8:
        return 1;
    case SB_FLOAT16:
        return 2;
    case SB_BFLOAT16:
        return 2;
    default:
        return 0;
    }
}

static inline const char *dtype_name(sb_dtype d)
{
    switch (d) {
    case SB_FLOAT32:
        return "float32";
    case SB_FLOAT64:
        return "float64";
    case SB_INT64:
        return "int64";
    case SB_INT32:
        return "int32";
    case SB_UINT8:
        return "uint8";
    case SB_FLOAT16:
        return "float16";
    case SB_BFLOAT16:
        return "bfloat16";
    default:
        return "unknown dtype";
    }
}

static inline bool dtype_is_floating(sb_dtype d)
{
    return d == SB_FLOAT32 || d == SB_FLOAT64 || d == SB_FLOAT16 || d == SB_BFLOAT16;
}

// Runs BODY with T bound to the element type of `dtype`; `otherwise` for an unknown one.
#define SB_CUDA_CASE(D, TYPE, ...)                                                                 \
    case D: {                                                                                      \
        using T = TYPE;                                                                            \
        __VA_ARGS__;                                                                               \
    } break;
#define SB_CUDA_FLOATING_CASES(...)                                                                \
    SB_CUDA_CASE(SB_FLOAT32, float, __VA_ARGS__)                                                   \
    SB_CUDA_CASE(SB_FLOAT64, double, __VA_ARGS__)                                                  \
    SB_CUDA_CASE(SB_FLOAT16, __half, __VA_ARGS__)                                                  \
    SB_CUDA_CASE(SB_BFLOAT16, __nv_bfloat16, __VA_ARGS__)
#define SB_CUDA_DISPATCH_ALL(dtype, otherwise, ...)                                                \
    switch (dtype) {                                                                               \
        SB_CUDA_FLOATING_CASES(__VA_ARGS__)                                                        \
        SB_CUDA_CASE(SB_INT64, int64_t, __VA_ARGS__)                                               \
        SB_CUDA_CASE(SB_INT32, int32_t, __VA_ARGS__)                                               \
        SB_CUDA_CASE(SB_UINT8, uint8_t, __VA_ARGS__)                                               \
    default:                                                                                       \
        otherwise;                                                                                 \
    }
#define SB_CUDA_DISPATCH_FLOATING(dtype, otherwise, ...)                                           \
    switch (dtype) {                                                                               \
        SB_CUDA_FLOATING_CASES(__VA_ARGS__)                                                        \
    default:                                                                                       \
        otherwise;                                                                                 \
    }

static inline sb_status unsupported_dtype(const char *op, sb_dtype d)
{
    return sb_cuda_fail(SB_EUNSUPPORTED, "%s: dtype %s is not supported on CUDA", op,
                        dtype_name(d));
}

// --- tensors -----------------------------------------------------------------------------

static inline int device_of(const sb_tensor *t)
{
    return t->storage->device.index;
}

static inline void *data_of(const sb_tensor *t)
{
    return (char *)t->storage->data + t->offset * (int64_t)dtype_size(t->dtype);
}

static inline int64_t numel_of(const sb_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->sizes[i];
    return n;
}

static inline bool is_contiguous(const sb_tensor *t)
{
    int64_t expected = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->sizes[i] != 1 && t->strides[i] != expected) return false;
        expected *= t->sizes[i];
    }
    return true;
}

// Up to 3 operands walked together over one shape, row-major. Built on the host with the
// dims merged where every operand allows it, so contiguous tensors become 1-D.
template <int N> struct strided_iter {
    int ndim;
    int64_t sizes[SB_MAX_DIMS];
    int64_t strides[N][SB_MAX_DIMS];

    // Element offsets (in elements) of each operand for the row-major position `linear`.
    __device__ __forceinline__ void offsets(int64_t linear, int64_t *out) const
    {
        if (ndim == 1) { // the common case once dims are merged: no division
            for (int k = 0; k < N; k++)
                out[k] = linear * strides[k][0];
            return;
        }
        for (int k = 0; k < N; k++)
            out[k] = 0;
        for (int d = ndim - 1; d >= 0; d--) {
            int64_t size = sizes[d];
            int64_t i = linear % size;
            linear /= size;
            for (int k = 0; k < N; k++)
                out[k] += i * strides[k][d];
        }
    }
};

// `shape` is the iteration shape; operand k has strides `strides[k]` over it.
template <int N>
static strided_iter<N> make_iter(int ndim, const int64_t *shape, const int64_t *const *strides)
{
    strided_iter<N> it;
    it.ndim = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 1) continue; // contributes nothing
        bool merge = it.ndim > 0;
        for (int k = 0; k < N && merge; k++)
            merge = strides[k][d] * shape[d] == it.strides[k][it.ndim - 1];
        if (merge) {
            // previous dim (outer) and this dim (inner) collapse into one of the inner stride
            it.sizes[it.ndim - 1] *= shape[d];
            for (int k = 0; k < N; k++)
                it.strides[k][it.ndim - 1] = strides[k][d];
        } else {
            it.sizes[it.ndim] = shape[d];
            for (int k = 0; k < N; k++)
                it.strides[k][it.ndim] = strides[k][d];
            it.ndim++;
        }
    }
    if (it.ndim == 0) { // a scalar, or all dims of size 1
        it.ndim = 1;
        it.sizes[0] = 1;
        for (int k = 0; k < N; k++)
            it.strides[k][0] = 0;
    }
    return it;
}

// --- launching ---------------------------------------------------------------------------

constexpr int kThreads = 256;

static inline unsigned blocks_for(int64_t n)
{
    int64_t blocks = (n + kThreads - 1) / kThreads;
    if (blocks > (int64_t)1 << 20) blocks = (int64_t)1 << 20; // grid-stride loops do the rest
    return blocks < 1 ? 1u : (unsigned)blocks;
}

#define SB_GRID_STRIDE_LOOP(i, n)                                                                  \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                      \
         i += (int64_t)blockDim.x * gridDim.x)

#endif
