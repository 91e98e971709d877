/* cuBLAS called directly, the reference for sbengine's GEMM figures in tools/perf/gpu:
 * n x n x n cublasGemmEx in fp32 (CUBLAS_COMPUTE_32F, no TF32) and bf16 (fp32 accumulate),
 * median of 10 after 2 warm-up calls. Prints "name<TAB>TFLOP/s<TAB>unit".
 *
 * The matrices hold random values in [-1, 1), as sbengine's and PyTorch's randn do: all-zero
 * operands draw less power and run faster on a power-limited GPU, which would flatter cuBLAS.
 * Without a usable GPU it says so and exits 77 (nothing measured is not a pass). */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* n*n random values of `type` (float or bfloat16, round to nearest even) copied to `dst`. */
static void fill_random(void *dst, size_t count, cudaDataType_t type)
{
    size_t elsize = type == CUDA_R_32F ? 4 : 2;
    unsigned char *host = malloc(count * elsize);
    if (!host) {
        fprintf(stderr, "cublas_gemm: out of host memory\n");
        exit(1);
    }
    uint64_t state = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < count; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        float v = (float)((double)(state >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
        uint32_t bits;
        memcpy(&bits, &v, 4);
        if (elsize == 4) {
            memcpy(host + 4 * i, &bits, 4);
        } else {
            uint16_t h = (uint16_t)((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
            memcpy(host + 2 * i, &h, 2);
        }
    }
    CHECK(cudaMemcpy(dst, host, count * elsize, cudaMemcpyHostToDevice));
    free(host);
}

static void bench(cublasHandle_t h, int n, cudaDataType_t type, size_t elsize, const char *name)
{
    void *a, *b, *c;
    CHECK(cudaMalloc(&a, (size_t)n * n * elsize));
    CHECK(cudaMalloc(&b, (size_t)n * n * elsize));
    CHECK(cudaMalloc(&c, (size_t)n * n * elsize));
    fill_random(a, (size_t)n * n, type);
    fill_random(b, (size_t)n * n, type);
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
    cudaError_t err = cudaGetDeviceCount(&devices);
    if (err != cudaSuccess || devices == 0) {
        fprintf(stderr, "cublas_gemm: no usable GPU, nothing measured (%s)\n",
                err != cudaSuccess ? cudaGetErrorString(err) : "no device visible");
        return 77; /* tools/perf/run reports it as skipped */
    }
    cublasHandle_t h;
    CHECK(cublasCreate(&h));
    bench(h, 8192, CUDA_R_32F, 4, "cublas_sgemm_8192");
    bench(h, 8192, CUDA_R_16BF, 2, "cublas_bf16_gemm_8192");
    cublasDestroy(h);
    return 0;
}
