/* cuBLAS called directly, the reference for sbengine's GEMM figures in tools/perf/gpu:
 * n x n x n cublasGemmEx in fp32 (CUBLAS_COMPUTE_32F, no TF32) and bf16 (fp32 accumulate),
 * median of 10 after 2 warm-up calls. Prints "name<TAB>TFLOP/s<TAB>unit". */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if ((x) != 0) {                                                                            \
            fprintf(stderr, "%s failed at %s:%d\n", #x, __FILE__, __LINE__);                       \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static int cmp(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static void bench(cublasHandle_t h, int n, cudaDataType_t type, size_t elsize, const char *name)
{
    void *a, *b, *c;
    CHECK(cudaMalloc(&a, (size_t)n * n * elsize));
    CHECK(cudaMalloc(&b, (size_t)n * n * elsize));
    CHECK(cudaMalloc(&c, (size_t)n * n * elsize));
    CHECK(cudaMemset(a, 0, (size_t)n * n * elsize));
    CHECK(cudaMemset(b, 0, (size_t)n * n * elsize));
    float alpha = 1, beta = 0, ms[10];
    cudaEvent_t e0, e1;
    CHECK(cudaEventCreate(&e0));
    CHECK(cudaEventCreate(&e1));
    for (int i = -2; i < 10; i++) {
        CHECK(cudaEventRecord(e0, 0));
        CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, a, type, n, b, type, n,
                           &beta, c, type, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        CHECK(cudaEventRecord(e1, 0));
        CHECK(cudaEventSynchronize(e1));
        if (i >= 0) CHECK(cudaEventElapsedTime(&ms[i], e0, e1));
    }
    qsort(ms, 10, sizeof *ms, cmp);
    printf("%s\t%.6g\tTFLOP/s\n", name, 2.0 * n * n * (double)n / (ms[4] * 1e-3) / 1e12);
    cudaFree(a);
    cudaFree(b);
    cudaFree(c);
}

int main(void)
{
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        printf("cublas_gemm: skipped, no GPU\n"); /* tools/perf/run runs it everywhere */
        return 0;
    }
    cublasHandle_t h;
    CHECK(cublasCreate(&h));
    bench(h, 8192, CUDA_R_32F, 4, "cublas_sgemm_8192");
    bench(h, 8192, CUDA_R_16BF, 2, "cublas_bf16_gemm_8192");
    cublasDestroy(h);
    return 0;
}
