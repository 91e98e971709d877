/* tools/perf/tensor_ops: tensor op speed against the reference it must approach.
 *
 *   matmul N x N float32 (N = 1024, 2048): sb_tensor_matmul (allocating its output)
 *     vs cblas_sgemm called directly into a preallocated buffer. Goal: ratio >= 0.95.
 *   add of two 16M-element float32 tensors: bytes moved per second (2 reads + 1 write)
 *     vs memcpy of one tensor's bytes (1 read + 1 write). Goal: ratio >= 0.7.
 *
 * The median of several repetitions (both sides of a ratio timed alternately, so they see
 * the same machine load). Prints figures and ratios; asserts nothing.
 * Usage: tensor_ops [--quick] [--cpu-time] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/blas.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"
#include "tensor/tensor.h"

/* --cpu-time: process CPU time instead of wall time. On a shared, overloaded machine, run
 * single-threaded (SBENGINE_NUM_THREADS=1) with it: time spent descheduled is not counted,
 * so the ratios stay meaningful when the wall clock is not. */
static clockid_t clock_id = CLOCK_MONOTONIC;

static double now(void)
{
    struct timespec ts;
    clock_gettime(clock_id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define MAX_REPS 32

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place and returns its median. */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void die(const char *what)
{
    fprintf(stderr, "tensor_ops: %s: %s\n", what, sb_error_message());
    exit(1);
}

static sb_tensor *random_matrix(int64_t rows, int64_t cols)
{
    int64_t sizes[2] = {rows, cols};
    sb_tensor *t = NULL;
    if (sb_tensor_rand(2, sizes, SB_FLOAT32, SB_CPU, &t) != SB_OK) die("rand");
    return t;
}

static void bench_matmul(int n, int reps)
{
    sb_tensor *a = random_matrix(n, n), *b = random_matrix(n, n);
    float *c = aligned_alloc(64, (size_t)n * (size_t)n * sizeof(float));
    double flops = 2.0 * n * (double)n * n;
    double blas_t[MAX_REPS], sb_t[MAX_REPS], tr_t[MAX_REPS];
    /* warm both paths (OpenBLAS threads, page mappings) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, sb_tensor_data(a), n,
                sb_tensor_data(b), n, 0.0f, c, n);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, sb_tensor_data(a), n,
                    sb_tensor_data(b), n, 0.0f, c, n);
        double t1 = now();
        blas_t[r] = t1 - t0;
        sb_tensor *out = NULL;
        t0 = now();
        if (sb_tensor_matmul(a, b, &out) != SB_OK) die("matmul");
        t1 = now();
        sb_tensor_free(out);
        sb_t[r] = t1 - t0;
    }
    /* a transposed operand goes to BLAS as a flag, no copy: same speed expected */
    sb_tensor *bt = NULL, *out = NULL;
    if (sb_tensor_transpose(b, 0, 1, &bt) != SB_OK) die("transpose");
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (sb_tensor_matmul(a, bt, &out) != SB_OK) die("matmul");
        double t1 = now();
        sb_tensor_free(out);
        tr_t[r] = t1 - t0;
    }
    double med_blas = median(blas_t, reps), med_sb = median(sb_t, reps);
    double med_t = median(tr_t, reps);
    printf("matmul %4dx%-4d float32  cblas_sgemm %7.1f GFLOP/s   sb matmul %7.1f GFLOP/s   "
           "ratio %.3f (goal >= 0.95)   with b:t() %7.1f GFLOP/s\n",
           n, n, flops / med_blas * 1e-9, flops / med_sb * 1e-9, med_blas / med_sb,
           flops / med_t * 1e-9);
    free(c);
    sb_tensor_free(a);
    sb_tensor_free(b);
    sb_tensor_free(bt);
}

static void bench_add(int64_t n, int reps)
{
    int64_t sizes[1] = {n};
    sb_tensor *a = NULL, *b = NULL;
    if (sb_tensor_rand(1, sizes, SB_FLOAT32, SB_CPU, &a) != SB_OK) die("rand");
    if (sb_tensor_rand(1, sizes, SB_FLOAT32, SB_CPU, &b) != SB_OK) die("rand");
    size_t bytes = (size_t)n * sizeof(float);
    char *dst = aligned_alloc(64, bytes);
    memset(dst, 1, bytes);
    double memcpy_t[MAX_REPS], add_t[MAX_REPS], add__t[MAX_REPS];
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        memcpy(dst, sb_tensor_data(a), bytes);
        double t1 = now();
        memcpy_t[r] = t1 - t0;
        sb_tensor *out = NULL;
        t0 = now();
        if (sb_tensor_binary(SB_BINARY_ADD, a, b, &out) != SB_OK) die("add");
        t1 = now();
        sb_tensor_free(out);
        add_t[r] = t1 - t0;
        t0 = now();
        if (sb_tensor_binary_(SB_BINARY_ADD, a, b) != SB_OK) die("add_");
        t1 = now();
        add__t[r] = t1 - t0;
    }
    double med_memcpy = median(memcpy_t, reps), med_add = median(add_t, reps);
    double med_add_ = median(add__t, reps);
    double memcpy_gbs = 2.0 * (double)bytes / med_memcpy * 1e-9;
    double add_gbs = 3.0 * (double)bytes / med_add * 1e-9;
    double add__gbs = 3.0 * (double)bytes / med_add_ * 1e-9;
    printf("add %lldM float32 (GB/s moved)  memcpy %6.2f GB/s   sb add %6.2f GB/s  ratio %.3f "
           "(goal >= 0.7)   in-place add_ %6.2f GB/s  ratio %.3f\n",
           (long long)(n >> 20), memcpy_gbs, add_gbs, add_gbs / memcpy_gbs, add__gbs,
           add__gbs / memcpy_gbs);
    free(dst);
    sb_tensor_free(a);
    sb_tensor_free(b);
}

int main(int argc, char **argv)
{
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--cpu-time") == 0)
            clock_id = CLOCK_PROCESS_CPUTIME_ID;
        else {
            fprintf(stderr, "usage: tensor_ops [--quick] [--cpu-time]\n");
            return 2;
        }
    }
    int threads = sb_get_num_threads(); /* first: it applies SBENGINE_NUM_THREADS to OpenBLAS */
    printf("tensor_ops: %d engine threads, %d OpenBLAS threads, %s; %s; kernel %s (%s)\n", threads,
           openblas_get_num_threads(),
           clock_id == CLOCK_MONOTONIC ? "wall time" : "process CPU time", openblas_get_config(),
           sb_blas_kernel(), sb_blas_kernel_origin());
    bench_matmul(1024, quick ? 2 : 10);
    bench_matmul(2048, quick ? 1 : 5);
    bench_add((int64_t)16 << 20, quick ? 2 : 20);
    return 0;
}
