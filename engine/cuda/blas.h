// Matrix products through cuBLAS for the tensor and nn backends.
#ifndef SB_CUDA_BLAS_H
#define SB_CUDA_BLAS_H

#include <stdint.h>

#include "tensor/tensor.h"

// A batch of row-major-indexed matrices: element (b, r, c) at ptr + b*s0 + r*s1 + c*s2
// (in elements). s0 may be 0 (the same matrix for every batch entry).
struct sb_gemm_operand {
    void *ptr;
    int64_t s0, s1, s2;
};

// c[b] = a[b] (M x K) . b[b] (K x N) (+ c[b] when `accumulate`), for b < batch, in one
// cublasGemmStridedBatchedEx call. c must have s2 == 1. Layouts cuBLAS cannot read (two
// non-unit strides) are compacted into scratch memory first. float32 is exact fp32 unless
// sb.cuda.allow_tf32(true); float16/bfloat16 accumulate in fp32; float64 in fp64.
sb_status sb_cuda_gemm(int device, sb_dtype dtype, int64_t batch, int64_t M, int64_t N, int64_t K,
                       const sb_gemm_operand *a, const sb_gemm_operand *b, const sb_gemm_operand *c,
                       bool accumulate);

#endif
