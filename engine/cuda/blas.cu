// cuBLAS GEMM for row-major, strided operands (see blas.h).
//
// cuBLAS is column-major. A row-major C = A.B is the column-major C^T = B^T.A^T, and a
// row-major matrix with unit column stride is its own transpose in column-major terms, so
// every operand is passed without copying as long as one of its two strides is 1.
#include <limits.h>

#include "cuda/blas.h"
#include "cuda/kernels.cuh"

// How cuBLAS reads X^T for a row-major-indexed X (rows x cols, strides sr, sc): op and ld,
// or false when neither stride is usable.
static bool transposed_layout(int64_t rows, int64_t cols, int64_t sr, int64_t sc,
                              cublasOperation_t *op, int64_t *ld)
{
    int64_t min_cols = cols > 1 ? cols : 1, min_rows = rows > 1 ? rows : 1;
    // Unit column stride: X^T is column-major with ld = sr.
    if (sc == 1 || cols == 1) {
        int64_t l = rows == 1 ? min_cols : sr;
        if (l >= min_cols) {
            *op = CUBLAS_OP_N;
            *ld = l;
            return true;
        }
    }
    // Unit row stride: X itself is column-major with ld = sc; cuBLAS transposes it.
    if (sr == 1 || rows == 1) {
        int64_t l = cols == 1 ? min_rows : sc;
        if (l >= min_rows) {
            *op = CUBLAS_OP_T;
            *ld = l;
            return true;
        }
    }
    return false;
}

template <typename T>
__global__ void compact_kernel(T *dst, const T *src, int64_t batch, int64_t rows, int64_t cols,
                               int64_t s0, int64_t s1, int64_t s2)
{
    SB_GRID_STRIDE_LOOP(i, batch * rows * cols)
    {
        int64_t c = i % cols, r = (i / cols) % rows, b = i / (rows * cols);
        dst[i] = src[b * s0 + r * s1 + c * s2];
    }
}

// Copies a strided operand into contiguous scratch memory (one matrix when s0 == 0).
static sb_status compact(int device, cudaStream_t stream, size_t elsize, int64_t batch,
                         int64_t rows, int64_t cols, sb_gemm_operand *x, void **scratch)
{
    int64_t copies = x->s0 == 0 ? 1 : batch;
    int64_t n = copies * rows * cols;
    SB_TRY(sb_cuda_host_services->device_alloc(device, (size_t)n * elsize, scratch));
    switch (elsize) {
    case 2:
        compact_kernel<uint16_t>
            <<<blocks_for(n), kThreads, 0, stream>>>((uint16_t *)*scratch, (const uint16_t *)x->ptr,
                                                     copies, rows, cols, x->s0, x->s1, x->s2);
        break;
    case 4:
        compact_kernel<uint32_t>
            <<<blocks_for(n), kThreads, 0, stream>>>((uint32_t *)*scratch, (const uint32_t *)x->ptr,
                                                     copies, rows, cols, x->s0, x->s1, x->s2);
        break;
    default:
        compact_kernel<uint64_t>
            <<<blocks_for(n), kThreads, 0, stream>>>((uint64_t *)*scratch, (const uint64_t *)x->ptr,
                                                     copies, rows, cols, x->s0, x->s1, x->s2);
        break;
    }
    sb_status st = SB_CUDA_LAUNCH_CHECK("compact_kernel");
    if (st != SB_OK) {
        sb_cuda_host_services->device_free(device, *scratch);
        *scratch = NULL;
        return st;
    }
    x->ptr = *scratch;
    x->s0 = x->s0 == 0 ? 0 : rows * cols;
    x->s1 = cols;
    x->s2 = 1;
    return SB_OK;
}

template <typename T>
__global__ void zero_kernel(T *dst, int64_t batch, int64_t rows, int64_t cols, int64_t s0,
                            int64_t s1)
{
    SB_GRID_STRIDE_LOOP(i, batch * rows * cols)
    {
        int64_t c = i % cols, r = (i / cols) % rows, b = i / (rows * cols);
        dst[b * s0 + r * s1 + c] = T(0);
    }
}

// c[b] = 0 for every batch entry (c has unit column stride; the bytes of 0.0 are all zero).
static sb_status zero_matrices(int device, sb_dtype dtype, int64_t batch, int64_t M, int64_t N,
                               const sb_gemm_operand *c)
{
    cudaStream_t stream;
    SB_TRY(sb_cuda_use_device(device, &stream));
    int64_t n = batch * M * N;
    switch (dtype_size(dtype)) {
    case 2:
        zero_kernel<uint16_t>
            <<<blocks_for(n), kThreads, 0, stream>>>((uint16_t *)c->ptr, batch, M, N, c->s0, c->s1);
        break;
    case 4:
        zero_kernel<uint32_t>
            <<<blocks_for(n), kThreads, 0, stream>>>((uint32_t *)c->ptr, batch, M, N, c->s0, c->s1);
        break;
    default:
        zero_kernel<uint64_t>
            <<<blocks_for(n), kThreads, 0, stream>>>((uint64_t *)c->ptr, batch, M, N, c->s0, c->s1);
        break;
    }
    return SB_CUDA_LAUNCH_CHECK("zero_kernel");
}

sb_status sb_cuda_gemm(int device, sb_dtype dtype, int64_t batch, int64_t M, int64_t N, int64_t K,
                       const sb_gemm_operand *a_in, const sb_gemm_operand *b_in,
                       const sb_gemm_operand *c, bool accumulate)
{
    cudaDataType_t type;
    cublasComputeType_t compute;
    switch (dtype) {
    case SB_FLOAT32:
        type = CUDA_R_32F;
        compute = sb_cuda_host_services->tf32_allowed() ? CUBLAS_COMPUTE_32F_FAST_TF32
                                                        : CUBLAS_COMPUTE_32F;
        break;
    case SB_FLOAT64:
        type = CUDA_R_64F;
        compute = CUBLAS_COMPUTE_64F;
        break;
    case SB_FLOAT16:
        type = CUDA_R_16F;
        compute = CUBLAS_COMPUTE_32F;
        break;
    case SB_BFLOAT16:
        type = CUDA_R_16BF;
        compute = CUBLAS_COMPUTE_32F;
        break;
    default:
        return unsupported_dtype("matmul", dtype);
    }
    if (batch == 0 || M == 0 || N == 0) return SB_OK;
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX || batch > INT_MAX)
        return sb_cuda_fail(SB_EUNSUPPORTED,
                            "matmul: sizes above %d are not supported by cuBLAS (batch %lld, "
                            "M %lld, N %lld, K %lld)",
                            INT_MAX, (long long)batch, (long long)M, (long long)N, (long long)K);
    if (c->s2 != 1 || c->s1 < N)
        return sb_cuda_fail(SB_EINVAL, "matmul: the CUDA output must have unit column stride");
    // An empty inner dimension: no operand can be described to cuBLAS (a leading dimension
    // of 0 is invalid), and the product is 0 (c unchanged when accumulating).
    if (K == 0) return accumulate ? SB_OK : zero_matrices(device, dtype, batch, M, N, c);

    cublasHandle_t handle;
    SB_TRY(sb_cuda_cublas(device, &handle));
    cudaStream_t stream;
    SB_TRY(sb_cuda_use_device(device, &stream));
    size_t elsize = dtype_size(dtype);
    sb_gemm_operand a = *a_in, b = *b_in;
    void *scratch_a = NULL, *scratch_b = NULL;
    cublasOperation_t op_a, op_b;
    int64_t lda, ldb;
    sb_status st = SB_OK;
    if (!transposed_layout(M, K, a.s1, a.s2, &op_a, &lda)) {
        st = compact(device, stream, elsize, batch, M, K, &a, &scratch_a);
        if (st == SB_OK) transposed_layout(M, K, a.s1, a.s2, &op_a, &lda);
    }
    if (st == SB_OK && !transposed_layout(K, N, b.s1, b.s2, &op_b, &ldb)) {
        st = compact(device, stream, elsize, batch, K, N, &b, &scratch_b);
        if (st == SB_OK) transposed_layout(K, N, b.s1, b.s2, &op_b, &ldb);
    }
    if (st == SB_OK && (lda > INT_MAX || ldb > INT_MAX || c->s1 > INT_MAX))
        st = sb_cuda_fail(SB_EUNSUPPORTED, "matmul: a leading dimension above %d", INT_MAX);
    if (st == SB_OK) {
        float alpha32 = 1.0f, beta32 = accumulate ? 1.0f : 0.0f;
        double alpha64 = 1.0, beta64 = accumulate ? 1.0 : 0.0;
        const void *alpha = dtype == SB_FLOAT64 ? (const void *)&alpha64 : (const void *)&alpha32;
        const void *beta = dtype == SB_FLOAT64 ? (const void *)&beta64 : (const void *)&beta32;
        // Column-major C^T (N x M) = B^T (N x K) . A^T (K x M).
        st = SB_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
            handle, op_b, op_a, (int)N, (int)M, (int)K, alpha, b.ptr, type, (int)ldb,
            (long long)b.s0, a.ptr, type, (int)lda, (long long)a.s0, beta, c->ptr, type, (int)c->s1,
            (long long)c->s0, (int)batch, compute, CUBLAS_GEMM_DEFAULT));
    }
    // Scratch goes back to the cache; the stream order keeps it alive for the GEMM.
    if (scratch_a) sb_cuda_host_services->device_free(device, scratch_a);
    if (scratch_b) sb_cuda_host_services->device_free(device, scratch_b);
    return st;
}
