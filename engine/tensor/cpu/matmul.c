/* CPU batched matrix product: OpenBLAS for float32/float64 (transposed views passed as
 * transpose flags), a naive loop for the integer dtypes. */
#include <cblas.h>
#include <limits.h>

#include "tensor/cpu/cpu.h"

/* ---- matrix multiply ------------------------------------------------------------------ */

/* How BLAS can read a rows x cols matrix with element strides (rs, cs) in place:
 * row-major as is, or as the transpose of a row-major matrix. Size-1 dims have
 * meaningless strides, so they never disqualify a layout. */
static bool blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, bool *trans,
                        int64_t *ld)
{
    int64_t min_rows_ld = cols > 1 ? cols : 1, min_cols_ld = rows > 1 ? rows : 1;
    if ((cols == 1 || cs == 1) && (rows == 1 || rs >= min_rows_ld)) {
        *trans = false;
        *ld = rows == 1 ? min_rows_ld : rs;
        return *ld <= INT_MAX;
    }
    if ((rows == 1 || rs == 1) && (cols == 1 || cs >= min_cols_ld)) {
        *trans = true;
        *ld = cols == 1 ? min_cols_ld : cs;
        return *ld <= INT_MAX;
    }
    return false;
}

/* How BLAS reads the [*, rows, cols] operand *t: in place, or from a compacted copy (left
 * in *copy, for the caller to free) when its layout is one BLAS cannot read (e.g. a strided
 * narrow). *t is replaced by the copy. */
static sb_status blas_operand(const sb_tensor **t, int64_t rows, int64_t cols, bool *trans,
                              int64_t *ld, sb_tensor **copy)
{
    if (blas_layout(rows, cols, (*t)->strides[1], (*t)->strides[2], trans, ld)) return SB_OK;
    SB_TRY(sb_tensor_empty(3, (*t)->sizes, (*t)->dtype, SB_CPU, copy));
    SB_TRY(sb_cpu_copy(*copy, *t));
    *t = *copy;
    blas_layout(rows, cols, (*t)->strides[1], (*t)->strides[2], trans, ld);
    return SB_OK;
}

#define SB_DEFINE_NAIVE_MM(D, T, K)                                                                \
    static void naive_mm_##T(char *o, const char *a, const char *b, int64_t M, int64_t N,          \
                             int64_t Kd, int64_t ars, int64_t acs, int64_t brs, int64_t bcs)       \
    {                                                                                              \
        T *out = (T *)o;                                                                           \
        const T *x = (const T *)a, *y = (const T *)b;                                              \
        for (int64_t m = 0; m < M; m++)                                                            \
            for (int64_t n = 0; n < N; n++) {                                                      \
                SB_MM_ACC_##K acc = 0;                                                             \
                for (int64_t k = 0; k < Kd; k++)                                                   \
                    acc +=                                                                         \
                        (SB_MM_ACC_##K)x[m * ars + k * acs] * (SB_MM_ACC_##K)y[k * brs + n * bcs]; \
                out[m * N + n] = (T)acc;                                                           \
            }                                                                                      \
    }
#define SB_MM_ACC_FLT double
#define SB_MM_ACC_INT uint64_t
SB_CPU_DTYPES(SB_DEFINE_NAIVE_MM)

sb_status sb_cpu_bmm(sb_tensor *out, const sb_tensor *a, const sb_tensor *b)
{
    int64_t B = out->sizes[0], M = out->sizes[1], N = out->sizes[2], K = a->sizes[2];
    size_t elsize = sb_dtype_size(out->dtype);
    if (B == 0 || M == 0 || N == 0) return SB_OK;
    if (K == 0) return sb_cpu_fill(out, 0.0);
    sb_dtype d = out->dtype;
    char *o = sb_tensor_data(out);
    const char *pa = sb_tensor_data(a), *pb = sb_tensor_data(b);
    if (d != SB_FLOAT32 && d != SB_FLOAT64) {
#define SB_NAIVE_CASE(D, T, KIND)                                                                  \
    case D:                                                                                        \
        for (int64_t i = 0; i < B; i++)                                                            \
            naive_mm_##T(o + i * M * N * (int64_t)elsize,                                          \
                         pa + i * a->strides[0] * (int64_t)elsize,                                 \
                         pb + i * b->strides[0] * (int64_t)elsize, M, N, K, a->strides[1],         \
                         a->strides[2], b->strides[1], b->strides[2]);                             \
        return SB_OK;
        switch (d) {
            SB_CPU_DTYPES(SB_NAIVE_CASE)
        default:
            return sb_cpu_unsupported_dtype("matmul", d);
        }
#undef SB_NAIVE_CASE
    }
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX)
        return sb_fail(SB_EUNSUPPORTED, "matrix dims above %d are not supported by BLAS", INT_MAX);
    bool ta = false, tb = false;
    int64_t lda = 0, ldb = 0;
    sb_tensor *ca = NULL, *cb = NULL;
    sb_status st = blas_operand(&a, M, K, &ta, &lda, &ca);
    if (st == SB_OK) st = blas_operand(&b, K, N, &tb, &ldb, &cb);
    if (st != SB_OK) goto done;
    pa = sb_tensor_data(a);
    pb = sb_tensor_data(b);
    for (int64_t i = 0; i < B; i++) {
        const char *ai = pa + i * a->strides[0] * (int64_t)elsize;
        const char *bi = pb + i * b->strides[0] * (int64_t)elsize;
        char *oi = o + i * M * N * (int64_t)elsize;
        if (d == SB_FLOAT32)
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                        tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.0f,
                        (const float *)ai, (int)lda, (const float *)bi, (int)ldb, 0.0f, (float *)oi,
                        (int)N);
        else
            cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                        tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.0,
                        (const double *)ai, (int)lda, (const double *)bi, (int)ldb, 0.0,
                        (double *)oi, (int)N);
    }
done:
    sb_tensor_free(ca);
    sb_tensor_free(cb);
    return st;
}
