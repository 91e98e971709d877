// The CUDA table of engine/tensor/backend.h: copies, fills, elementwise ops and batched
// matrix products (cuBLAS) here; reductions and topk in tensor_reduce.cu. Semantics follow the CPU
// backend, which is the reference in the tests: same dtype rules, NaN propagation and tie-breaking.
#include <math.h>

#include <type_traits>

#include "cuda/blas.h"
#include "cuda/internal.h"
#include "cuda/kernels.cuh"
#include "cuda/tensor_backend.h"
#include "tensor/backend.h"

// --- elementwise ---------------------------------------------------------------------------

// The start every elementwise launch shares: the element count of out (t[0]), the engine
// stream of its device, and the iterator over out and its operands. n == 0: nothing to do.
template <int N> struct elementwise {
    int64_t n = 0;
    cudaStream_t stream = NULL;
    strided_iter<N> it;

    sb_status begin(const sb_tensor *const (&t)[N])
    {
        n = numel_of(t[0]);
        if (n == 0) return SB_OK;
        SB_TRY(sb_cuda_use_device(device_of(t[0]), &stream));
        const int64_t *strides[N];
        for (int k = 0; k < N; k++)
            strides[k] = t[k]->strides;
        it = make_iter<N>(t[0]->ndim, t[0]->sizes, strides);
        return SB_OK;
    }
};

// --- copy and fill -------------------------------------------------------------------------

template <typename D, typename S>
__global__ void copy_kernel(D *dst, const S *src, strided_iter<2> it, int64_t n)
{
    SB_GRID_STRIDE_LOOP(i, n)
    {
        int64_t off[2];
        it.offsets(i, off);
        dst[off[0]] = convert<D>(src[off[1]]);
    }
}

template <typename D>
static sb_status copy_from(sb_tensor *dst, const sb_tensor *src, cudaStream_t stream)
{
    int64_t n = numel_of(dst);
    const int64_t *strides[2] = {dst->strides, src->strides};
    strided_iter<2> it = make_iter<2>(dst->ndim, dst->sizes, strides);
    D *d = (D *)data_of(dst);
    SB_CUDA_DISPATCH_ALL(src->dtype, return unsupported_dtype("copy", src->dtype),
                         copy_kernel<D, T><<<blocks_for(n), kThreads, 0, stream>>>(
                             d, (const T *)data_of(src), it, n))
    return SB_CUDA_LAUNCH_CHECK("copy_kernel");
}

static sb_status cuda_copy(sb_tensor *dst, const sb_tensor *src)
{
    bool dst_gpu = dst->storage->device.kind == SB_DEVICE_CUDA;
    bool src_gpu = src->storage->device.kind == SB_DEVICE_CUDA;
    int64_t n = numel_of(dst);
    if (n == 0) return SB_OK;
    cudaStream_t stream;
    if (dst_gpu != src_gpu) {
        // Across host and device: contiguous, same dtype (the front-end stages the rest).
        size_t nbytes = (size_t)n * dtype_size(dst->dtype);
        SB_TRY(sb_cuda_use_device(dst_gpu ? device_of(dst) : device_of(src), &stream));
        if (dst_gpu) {
            // From pageable memory this returns once the bytes are staged, so the source
            // may be freed; from pinned memory it is truly asynchronous (the pinned
            // allocator keeps the buffer until the copy is done).
            return SB_CUDA_CHECK(cudaMemcpyAsync(data_of(dst), data_of(src), nbytes,
                                                 cudaMemcpyHostToDevice, stream));
        }
        // To the host: the caller reads the bytes next (:cpu(), :item(), :totable()).
        SB_CUDA_TRY(
            cudaMemcpyAsync(data_of(dst), data_of(src), nbytes, cudaMemcpyDeviceToHost, stream));
        return SB_CUDA_CHECK(cudaStreamSynchronize(stream));
    }
    SB_TRY(sb_cuda_use_device(device_of(dst), &stream));
    if (dst->dtype == src->dtype && is_contiguous(dst) && is_contiguous(src))
        return SB_CUDA_CHECK(cudaMemcpyAsync(data_of(dst), data_of(src),
                                             (size_t)n * dtype_size(dst->dtype),
                                             cudaMemcpyDeviceToDevice, stream));
    SB_CUDA_DISPATCH_ALL(dst->dtype, return unsupported_dtype("copy", dst->dtype),
                         return copy_from<T>(dst, src, stream))
}

template <typename T> __global__ void fill_kernel(T *dst, T value, strided_iter<1> it, int64_t n)
{
    SB_GRID_STRIDE_LOOP(i, n)
    {
        int64_t off;
        it.offsets(i, &off);
        dst[off] = value;
    }
}

// As the CPU (tensor/cpu_types.h's sb_store_double): integers by int_from_double, so
// sb.full(..., -1, {dtype = "uint8"}) is 255 and an int32 fill with 3e9 is -1294967296.
template <typename T> static T fill_value(double v)
{
    if constexpr (num<T>::floating) {
        if constexpr (sizeof(T) == 2) return T(); // 16-bit floats are built on the device below
        return (T)v;
    } else {
        return int_from_double<T>(v);
    }
}

template <typename T>
__global__ void fill_convert_kernel(T *dst, double value, strided_iter<1> it, int64_t n)
{
    T v = from_double<T>(value);
    SB_GRID_STRIDE_LOOP(i, n)
    {
        int64_t off;
        it.offsets(i, &off);
        dst[off] = v;
    }
}

static sb_status cuda_fill(sb_tensor *dst, double value)
{
    elementwise<1> e;
    SB_TRY(e.begin({dst}));
    if (e.n == 0) return SB_OK;
    if (dst->dtype == SB_FLOAT16 || dst->dtype == SB_BFLOAT16) {
        SB_CUDA_DISPATCH_FLOATING(
            dst->dtype, return unsupported_dtype("fill", dst->dtype),
            fill_convert_kernel<T>
            <<<blocks_for(e.n), kThreads, 0, e.stream>>>((T *)data_of(dst), value, e.it, e.n))
    } else {
        switch (dst->dtype) {
        case SB_FLOAT32:
            fill_kernel<float><<<blocks_for(e.n), kThreads, 0, e.stream>>>(
                (float *)data_of(dst), fill_value<float>(value), e.it, e.n);
            break;
        case SB_FLOAT64:
            fill_kernel<double><<<blocks_for(e.n), kThreads, 0, e.stream>>>((double *)data_of(dst),
                                                                            value, e.it, e.n);
            break;
        case SB_INT64:
            fill_kernel<int64_t><<<blocks_for(e.n), kThreads, 0, e.stream>>>(
                (int64_t *)data_of(dst), fill_value<int64_t>(value), e.it, e.n);
            break;
        case SB_INT32:
            fill_kernel<int32_t><<<blocks_for(e.n), kThreads, 0, e.stream>>>(
                (int32_t *)data_of(dst), fill_value<int32_t>(value), e.it, e.n);
            break;
        case SB_UINT8:
            fill_kernel<uint8_t><<<blocks_for(e.n), kThreads, 0, e.stream>>>(
                (uint8_t *)data_of(dst), fill_value<uint8_t>(value), e.it, e.n);
            break;
        default:
            return unsupported_dtype("fill", dst->dtype);
        }
    }
    return SB_CUDA_LAUNCH_CHECK(dst->dtype == SB_FLOAT16 || dst->dtype == SB_BFLOAT16
                                    ? "fill_convert_kernel"
                                    : "fill_kernel");
}

// --- elementwise ---------------------------------------------------------------------------

// The FLOATING ops of the table (exp/log/sqrt) exist for floating types only (the front-end
// and cuda_unary check); the overloaded math functions pick the float or double version.
static_assert(SB_UNARY_OP_COUNT == 5, "a new unary op (tensor/op_tables.h) needs its case here");
template <typename A> __device__ __forceinline__ A apply_unary(sb_unary_op op, A x)
{
    if constexpr (std::is_floating_point<A>::value) {
        switch (op) {
        case SB_UNARY_NEG:
            return -x;
        case SB_UNARY_ABS:
            return fabs(x); // -0.0 -> 0.0, as the CPU
        case SB_UNARY_EXP:
            return exp(x);
        case SB_UNARY_LOG:
            return log(x);
        case SB_UNARY_SQRT:
            return sqrt(x);
        default:
            return x;
        }
    } else if constexpr (std::is_unsigned<A>::value) {
        // uint8 negation wraps (as PyTorch); abs is the identity.
        return op == SB_UNARY_NEG ? (A)(0u - x) : x;
    } else {
        if (op == SB_UNARY_NEG) return -x;
        if (op == SB_UNARY_ABS) return x < A(0) ? -x : x;
        return x;
    }
}

template <typename T>
__global__ void unary_kernel(sb_unary_op op, T *out, const T *a, strided_iter<2> it, int64_t n)
{
    SB_GRID_STRIDE_LOOP(i, n)
    {
        int64_t off[2];
        it.offsets(i, off);
        out[off[0]] = num<T>::store(apply_unary(op, num<T>::load(a[off[1]])));
    }
}

static sb_status cuda_unary(sb_unary_op op, sb_tensor *out, const sb_tensor *a)
{
    elementwise<2> e;
    SB_TRY(e.begin({out, a}));
    if (e.n == 0) return SB_OK;
    if (sb_unary_op_floating(op) && !dtype_is_floating(out->dtype))
        return unsupported_dtype(sb_unary_op_name(op), out->dtype);
    SB_CUDA_DISPATCH_ALL(out->dtype, return unsupported_dtype(sb_unary_op_name(op), out->dtype),
                         unary_kernel<T><<<blocks_for(e.n), kThreads, 0, e.stream>>>(
                             op, (T *)data_of(out), (const T *)data_of(a), e.it, e.n))
    return SB_CUDA_LAUNCH_CHECK("unary_kernel");
}

static_assert(SB_BINARY_OP_COUNT == 6, "a new binary op (tensor/op_tables.h) needs its case here");
template <typename A> __device__ __forceinline__ A apply_binary(sb_binary_op op, A x, A y)
{
    switch (op) {
    case SB_BINARY_ADD:
        return x + y;
    case SB_BINARY_SUB:
        return x - y;
    case SB_BINARY_MUL:
        return x * y;
    case SB_BINARY_DIV:
        return x / y;
    // NaN propagates: x != x only for a NaN.
    case SB_BINARY_MAXIMUM:
        return (x != x || x > y) ? x : y;
    case SB_BINARY_MINIMUM:
        return (x != x || x < y) ? x : y;
    default:
        return x;
    }
}

template <typename T>
__global__ void binary_kernel(sb_binary_op op, T *out, const T *a, const T *b, strided_iter<3> it,
                              int64_t n)
{
    SB_GRID_STRIDE_LOOP(i, n)
    {
        int64_t off[3];
        it.offsets(i, off);
        out[off[0]] =
            num<T>::store(apply_binary(op, num<T>::load(a[off[1]]), num<T>::load(b[off[2]])));
    }
}

static sb_status cuda_binary(sb_binary_op op, sb_tensor *out, const sb_tensor *a,
                             const sb_tensor *b)
{
    elementwise<3> e;
    SB_TRY(e.begin({out, a, b}));
    if (e.n == 0) return SB_OK;
    if (sb_binary_op_floating(op) && !dtype_is_floating(out->dtype))
        return unsupported_dtype(sb_binary_op_name(op), out->dtype);
    SB_CUDA_DISPATCH_ALL(
        out->dtype, return unsupported_dtype(sb_binary_op_name(op), out->dtype),
        binary_kernel<T><<<blocks_for(e.n), kThreads, 0, e.stream>>>(
            op, (T *)data_of(out), (const T *)data_of(a), (const T *)data_of(b), e.it, e.n))
    return SB_CUDA_LAUNCH_CHECK("binary_kernel");
}

template <typename T>
__global__ void binary_scalar_kernel(sb_binary_op op, T *out, const T *a, double s, bool reversed,
                                     strided_iter<2> it, int64_t n)
{
    // As the CPU: the scalar is first converted to the tensor's dtype.
    typename num<T>::acc y = num<T>::load(from_double<T>(s));
    SB_GRID_STRIDE_LOOP(i, n)
    {
        int64_t off[2];
        it.offsets(i, off);
        typename num<T>::acc x = num<T>::load(a[off[1]]);
        out[off[0]] = num<T>::store(reversed ? apply_binary(op, y, x) : apply_binary(op, x, y));
    }
}

static sb_status cuda_binary_scalar(sb_binary_op op, sb_tensor *out, const sb_tensor *a, double s,
                                    bool reversed)
{
    elementwise<2> e;
    SB_TRY(e.begin({out, a}));
    if (e.n == 0) return SB_OK;
    if (sb_binary_op_floating(op) && !dtype_is_floating(out->dtype))
        return unsupported_dtype(sb_binary_op_name(op), out->dtype);
    SB_CUDA_DISPATCH_ALL(out->dtype, return unsupported_dtype(sb_binary_op_name(op), out->dtype),
                         binary_scalar_kernel<T><<<blocks_for(e.n), kThreads, 0, e.stream>>>(
                             op, (T *)data_of(out), (const T *)data_of(a), s, reversed, e.it, e.n))
    return SB_CUDA_LAUNCH_CHECK("binary_scalar_kernel");
}

// Built from the comparison table's operator column (tensor/op_tables.h).
template <typename A> __device__ __forceinline__ bool apply_compare(sb_compare_op op, A x, A y)
{
    switch (op) {
#define SB_CUDA_COMPARE_CASE(E, name, OP)                                                          \
    case SB_COMPARE_##E:                                                                           \
        return x OP y;
        SB_COMPARE_OPS(SB_CUDA_COMPARE_CASE)
#undef SB_CUDA_COMPARE_CASE
    default:
        return false;
    }
}

template <typename T>
__global__ void compare_kernel(sb_compare_op op, uint8_t *out, const T *a, const T *b,
                               strided_iter<3> it, int64_t n)
{
    SB_GRID_STRIDE_LOOP(i, n)
    {
        int64_t off[3];
        it.offsets(i, off);
        out[off[0]] = apply_compare(op, num<T>::load(a[off[1]]), num<T>::load(b[off[2]]));
    }
}

static sb_status cuda_compare(sb_compare_op op, sb_tensor *out, const sb_tensor *a,
                              const sb_tensor *b)
{
    elementwise<3> e;
    SB_TRY(e.begin({out, a, b}));
    if (e.n == 0) return SB_OK;
    SB_CUDA_DISPATCH_ALL(
        a->dtype, return unsupported_dtype("comparison", a->dtype),
        compare_kernel<T><<<blocks_for(e.n), kThreads, 0, e.stream>>>(
            op, (uint8_t *)data_of(out), (const T *)data_of(a), (const T *)data_of(b), e.it, e.n))
    return SB_CUDA_LAUNCH_CHECK("compare_kernel");
}

template <typename T>
__global__ void compare_scalar_kernel(sb_compare_op op, uint8_t *out, const T *a, double s,
                                      strided_iter<2> it, int64_t n)
{
    typename num<T>::acc y = num<T>::load(from_double<T>(s));
    SB_GRID_STRIDE_LOOP(i, n)
    {
        int64_t off[2];
        it.offsets(i, off);
        out[off[0]] = apply_compare(op, num<T>::load(a[off[1]]), y);
    }
}

static sb_status cuda_compare_scalar(sb_compare_op op, sb_tensor *out, const sb_tensor *a, double s)
{
    elementwise<2> e;
    SB_TRY(e.begin({out, a}));
    if (e.n == 0) return SB_OK;
    SB_CUDA_DISPATCH_ALL(a->dtype, return unsupported_dtype("comparison", a->dtype),
                         compare_scalar_kernel<T><<<blocks_for(e.n), kThreads, 0, e.stream>>>(
                             op, (uint8_t *)data_of(out), (const T *)data_of(a), s, e.it, e.n))
    return SB_CUDA_LAUNCH_CHECK("compare_scalar_kernel");
}

// --- matrix products -----------------------------------------------------------------------

// Integer products (cuBLAS has none): one thread per output element.
template <typename T>
__global__ void naive_bmm_kernel(T *out, const T *a, const T *b, int64_t B, int64_t M, int64_t N,
                                 int64_t K, int64_t as0, int64_t as1, int64_t as2, int64_t bs0,
                                 int64_t bs1, int64_t bs2)
{
    SB_GRID_STRIDE_LOOP(i, B * M * N)
    {
        int64_t n = i % N, m = (i / N) % M, batch = i / (M * N);
        const T *pa = a + batch * as0 + m * as1;
        const T *pb = b + batch * bs0 + n * bs2;
        T sum = 0;
        for (int64_t k = 0; k < K; k++)
            sum += pa[k * as2] * pb[k * bs1];
        out[i] = sum;
    }
}

static sb_status cuda_bmm(sb_tensor *out, const sb_tensor *a, const sb_tensor *b)
{
    int64_t B = out->sizes[0], M = out->sizes[1], N = out->sizes[2], K = a->sizes[2];
    if (B == 0 || M == 0 || N == 0) return SB_OK;
    int device = device_of(out);
    if (K == 0) return cuda_fill(out, 0.0);
    cudaStream_t stream;
    SB_TRY(sb_cuda_use_device(device, &stream));
    switch (out->dtype) {
    case SB_INT64:
    case SB_INT32:
    case SB_UINT8:
        SB_CUDA_DISPATCH_ALL(out->dtype, return unsupported_dtype("matmul", out->dtype),
                             naive_bmm_kernel<T><<<blocks_for(B * M * N), kThreads, 0, stream>>>(
                                 (T *)data_of(out), (const T *)data_of(a), (const T *)data_of(b), B,
                                 M, N, K, a->strides[0], a->strides[1], a->strides[2],
                                 b->strides[0], b->strides[1], b->strides[2]))
        return SB_CUDA_LAUNCH_CHECK("naive_bmm_kernel");
    default:
        break;
    }
    sb_gemm_operand ga = {data_of(a), a->strides[0], a->strides[1], a->strides[2]};
    sb_gemm_operand gb = {data_of(b), b->strides[0], b->strides[1], b->strides[2]};
    sb_gemm_operand gc = {data_of(out), M * N, N, 1};
    return sb_cuda_gemm(device, out->dtype, B, M, N, K, &ga, &gb, &gc, false);
}

// --- the table -----------------------------------------------------------------------------

static sb_backend cuda_backend;

const sb_backend *sb_cuda_tensor_backend(const sb_allocator *allocator)
{
    cuda_backend.name = "cuda";
    cuda_backend.allocator = allocator;
#define SB_CUDA_SLOT(slot) cuda_backend.slot = cuda_##slot;
    SB_BACKEND_KERNELS(SB_CUDA_SLOT)
#undef SB_CUDA_SLOT
    return &cuda_backend;
}
