/* The tensor core in C: shapes, views, copies, element access, memory counters, backend
 * lookup, and every op against a naive reference, with non-contiguous inputs. */
#include <stdlib.h>
#include <string.h>

#include "sbtest.h"
#include "tensor/backend.h"
#include "tensor/cpu_types.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"
#include "tensor/tensor.h"

static sb_tensor *arange_f32(int ndim, const int64_t *sizes)
{
    sb_tensor *t = NULL;
    SB_CHECK(sb_tensor_empty(ndim, sizes, SB_FLOAT32, SB_CPU, &t) == SB_OK);
    float *p = sb_tensor_data(t);
    for (int64_t i = 0; i < sb_tensor_numel(t); i++)
        p[i] = (float)i;
    return t;
}

static double at2(const sb_tensor *t, int64_t i, int64_t j)
{
    int64_t idx[2] = {i, j};
    double v = NAN;
    SB_CHECK(sb_tensor_get(t, idx, &v) == SB_OK);
    return v;
}

static double at1(const sb_tensor *t, int64_t i)
{
    double v = NAN;
    SB_CHECK(sb_tensor_get(t, &i, &v) == SB_OK);
    return v;
}

static void test_dtypes(void)
{
    sb_dtype d;
    SB_CHECK(sb_dtype_from_name("double", &d) == SB_OK && d == SB_FLOAT64);
    SB_CHECK(sb_dtype_from_name("torch.long", &d) == SB_OK && d == SB_INT64);
    SB_CHECK(sb_dtype_from_name("complex64", &d) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "unknown dtype 'complex64'");
    SB_CHECK(sb_dtype_promote(SB_UINT8, SB_FLOAT32) == SB_FLOAT32);
    SB_CHECK(sb_dtype_promote(SB_INT32, SB_INT64) == SB_INT64);
    SB_CHECK(sb_dtype_promote(SB_UINT8, SB_INT32) == SB_INT32);
    SB_CHECK(sb_dtype_promote(SB_FLOAT16, SB_BFLOAT16) == SB_FLOAT32);
    SB_CHECK(sb_dtype_promote(SB_FLOAT64, SB_FLOAT16) == SB_FLOAT64);
    sb_device dev;
    SB_CHECK(sb_device_parse("cuda:1", &dev) == SB_OK && dev.kind == SB_DEVICE_CUDA &&
             dev.index == 1);
    SB_CHECK(sb_device_parse("gpu", &dev) == SB_EINVAL);
    /* half conversions round to nearest even and keep specials */
    SB_CHECK(sb_half_to_float(sb_float_to_half(1.0f)) == 1.0f);
    SB_CHECK(sb_half_to_float(sb_float_to_half(65504.0f)) == 65504.0f);
    SB_CHECK(isinf(sb_half_to_float(sb_float_to_half(70000.0f))));
    SB_CHECK(sb_half_to_float(sb_float_to_half(5.9604645e-08f)) == 5.9604645e-08f);
    SB_CHECK(sb_float_to_half(1.0f + 0x1p-11f) == 0x3c00); /* tie -> even */
    SB_CHECK(sb_bfloat16_to_float(sb_float_to_bfloat16(3.0f)) == 3.0f);
}

static void test_shapes_and_errors(void)
{
    sb_tensor *t = NULL;
    int64_t neg[2] = {2, -1};
    SB_CHECK(sb_tensor_empty(2, neg, SB_FLOAT32, SB_CPU, &t) == SB_ERANGE);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "invalid shape [2, -1]");
    int64_t huge[3] = {INT64_MAX / 2, 4, 4};
    SB_CHECK(sb_tensor_empty(3, huge, SB_FLOAT32, SB_CPU, &t) == SB_ERANGE);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "overflows");
    int64_t big[1] = {(int64_t)1 << 52}; /* 16 PiB: fits int64 but no machine has it */
    SB_CHECK(sb_tensor_empty(1, big, SB_FLOAT32, SB_CPU, &t) == SB_ENOMEM);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "cannot allocate 16.0 PiB");
    int64_t zero[2] = {0, 5};
    SB_CHECK(sb_tensor_zeros(2, zero, SB_FLOAT32, SB_CPU, &t) == SB_OK);
    SB_CHECK(sb_tensor_numel(t) == 0 && sb_tensor_is_contiguous(t));
    sb_tensor_free(t);
    SB_CHECK(sb_tensor_empty(9, zero, SB_FLOAT32, SB_CPU, &t) == SB_EINVAL);
}

static void test_views_share_storage(void)
{
    int64_t s[2] = {3, 4};
    sb_tensor *a = arange_f32(2, s), *v = NULL, *n = NULL, *sel = NULL, *tr = NULL;
    int64_t flat[1] = {-1};
    SB_CHECK(sb_tensor_view(a, 1, flat, &v) == SB_OK && v->sizes[0] == 12);
    SB_CHECK(sb_tensor_narrow(a, 1, 1, 2, &n) == SB_OK);
    SB_CHECK(at2(n, 2, 1) == 10.0);
    SB_CHECK(!sb_tensor_is_contiguous(n));
    SB_CHECK(sb_tensor_select(a, 0, 1, &sel) == SB_OK && sel->ndim == 1 && at1(sel, 3) == 7.0);
    SB_CHECK(sb_tensor_transpose(a, 0, 1, &tr) == SB_OK && at2(tr, 3, 2) == 11.0);
    /* writes through a view are seen by all */
    int64_t idx[2] = {0, 0};
    SB_CHECK(sb_tensor_set(n, idx, 42.0) == SB_OK);
    SB_CHECK(at2(a, 0, 1) == 42.0 && at1(v, 1) == 42.0 && at2(tr, 1, 0) == 42.0);
    /* the storage outlives the tensor it came from */
    sb_tensor_free(a);
    SB_CHECK(at2(tr, 3, 2) == 11.0);
    SB_CHECK(tr->storage->refcount == 4);
    /* a transposed tensor cannot be viewed flat, but can be reshaped (copy) */
    sb_tensor *bad = NULL, *r = NULL;
    SB_CHECK(sb_tensor_view(tr, 1, flat, &bad) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "cannot view a non-contiguous tensor [4, 3]");
    SB_CHECK(sb_tensor_reshape(tr, 1, flat, &r) == SB_OK && r->storage != tr->storage);
    SB_CHECK(at1(r, 1) == 4.0 && at1(r, 3) == 42.0);
    int64_t wrong[2] = {5, -1};
    SB_CHECK(sb_tensor_view(v, 2, wrong, &bad) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "shape [5, -1] is invalid for a tensor [12]");
    SB_CHECK(sb_tensor_narrow(tr, 0, 3, 2, &bad) == SB_ERANGE);
    SB_CHECK(sb_tensor_select(tr, 2, 0, &bad) == SB_ERANGE);
    int perm[2] = {0, 0};
    SB_CHECK(sb_tensor_permute(tr, perm, &bad) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "repeated");
    sb_tensor_free(v);
    sb_tensor_free(n);
    sb_tensor_free(sel);
    sb_tensor_free(tr);
    sb_tensor_free(r);
}

static void test_expand_and_copy(void)
{
    int64_t s3[1] = {3}, s23[2] = {2, 3}, s4[2] = {2, 4};
    sb_tensor *row = arange_f32(1, s3), *e = NULL, *dst = NULL, *bad = NULL;
    SB_CHECK(sb_tensor_expand(row, 2, s23, &e) == SB_OK && e->strides[0] == 0);
    SB_CHECK(sb_tensor_expand(row, 2, s4, &bad) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "cannot expand a tensor [3] to [2, 4]");
    SB_CHECK(sb_tensor_empty(2, s23, SB_INT32, SB_CPU, &dst) == SB_OK);
    SB_CHECK(sb_tensor_copy_(dst, row) == SB_OK); /* broadcast + float -> int */
    SB_CHECK(at2(dst, 1, 2) == 2.0);
    sb_tensor *d2 = NULL;
    SB_CHECK(sb_tensor_empty(2, s4, SB_FLOAT32, SB_CPU, &d2) == SB_OK);
    SB_CHECK(sb_tensor_copy_(d2, row) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(),
                          "cannot broadcast the source [3] to the destination [2, 4]");
    /* float -> uint8 saturates through int64 then wraps, never UB; NaN -> 0 */
    sb_tensor *f = NULL, *u = NULL;
    SB_CHECK(sb_tensor_empty(1, s3, SB_FLOAT32, SB_CPU, &f) == SB_OK);
    float *fp = sb_tensor_data(f);
    fp[0] = 300.7f;
    fp[1] = NAN;
    fp[2] = -1.0f;
    SB_CHECK(sb_tensor_to_dtype(f, SB_UINT8, &u) == SB_OK);
    const uint8_t *up = sb_tensor_data(u);
    SB_CHECK(up[0] == 44 && up[1] == 0 && up[2] == 255);
    /* overlapping self-copy: t[1:] = t[:-1] must read before it writes */
    int64_t s5[1] = {5};
    sb_tensor *t = arange_f32(1, s5), *lo = NULL, *hi = NULL;
    SB_CHECK(sb_tensor_narrow(t, 0, 0, 4, &lo) == SB_OK &&
             sb_tensor_narrow(t, 0, 1, 4, &hi) == SB_OK);
    SB_CHECK(sb_tensor_copy_(hi, lo) == SB_OK);
    SB_CHECK(at1(t, 4) == 3.0 && at1(t, 1) == 0.0);
    /* float16 round trip */
    sb_tensor *h = NULL, *back = NULL;
    SB_CHECK(sb_tensor_to_dtype(row, SB_FLOAT16, &h) == SB_OK);
    SB_CHECK(sb_tensor_to_dtype(h, SB_FLOAT64, &back) == SB_OK && at1(back, 2) == 2.0);
    sb_tensor *tensors[] = {row, e, dst, d2, f, u, t, lo, hi, h, back};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++)
        sb_tensor_free(tensors[i]);
}

static void test_memory_counters(void)
{
    size_t before = sb_cpu_memory_allocated();
    sb_cpu_memory_reset_peak();
    int64_t s[1] = {1000};
    sb_tensor *t = NULL;
    SB_CHECK(sb_tensor_empty(1, s, SB_FLOAT64, SB_CPU, &t) == SB_OK);
    SB_CHECK(sb_cpu_memory_allocated() == before + 8000);
    SB_CHECK(((uintptr_t)sb_tensor_data(t) & 63) == 0);
    sb_tensor_free(t);
    SB_CHECK(sb_cpu_memory_allocated() == before);
    SB_CHECK(sb_cpu_memory_peak() == before + 8000);
    sb_cpu_memory_reset_peak();
    SB_CHECK(sb_cpu_memory_peak() == before);
    /* a freed large block is reused by the next tensor of that size */
    int64_t mb[1] = {1 << 19};
    sb_tensor *big = NULL, *again = NULL;
    sb_cpu_empty_cache();
    SB_CHECK(sb_tensor_empty(1, mb, SB_FLOAT32, SB_CPU, &big) == SB_OK);
    void *first = sb_tensor_data(big);
    sb_tensor_free(big);
    SB_CHECK(sb_cpu_memory_cached() == (size_t)2 << 20);
    SB_CHECK(sb_cpu_memory_allocated() == before);
    SB_CHECK(sb_tensor_empty(1, mb, SB_FLOAT32, SB_CPU, &again) == SB_OK);
    SB_CHECK(sb_tensor_data(again) == first && sb_cpu_memory_cached() == 0);
    sb_tensor_free(again);
    sb_cpu_empty_cache();
    SB_CHECK(sb_cpu_memory_cached() == 0);
}

static void test_cuda_without_backend(void)
{
    int64_t s[1] = {2};
    sb_tensor *t = NULL;
    sb_device cuda = {SB_DEVICE_CUDA, 0};
    const sb_backend *b = NULL;
    if (sb_backend_for(cuda, &b) == SB_OK) return; /* a CUDA backend is registered */
    SB_CHECK(sb_tensor_empty(1, s, SB_FLOAT32, cuda, &t) == SB_EDEVICE);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "CUDA is not available");
}

/* Elementwise and broadcasting against naive loops, with a transposed (non-contiguous)
 * operand. */
static void test_binary_broadcast(void)
{
    int64_t s34[2] = {3, 4}, s43[2] = {4, 3}, s4[1] = {4};
    sb_tensor *a = arange_f32(2, s43), *at = NULL, *b = arange_f32(1, s4), *r = NULL;
    SB_CHECK(sb_tensor_transpose(a, 0, 1, &at) == SB_OK); /* [3, 4], strides (1, 3) */
    SB_CHECK(sb_tensor_binary(SB_BINARY_SUB, at, b, &r) == SB_OK);
    SB_CHECK(r->ndim == 2 && r->sizes[0] == 3 && r->sizes[1] == 4);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            SB_CHECK(at2(r, i, j) == (double)(j * 3 + i) - j);
    sb_tensor_free(r);
    sb_tensor *bad = NULL, *c = arange_f32(2, s34);
    int64_t s3[1] = {3};
    sb_tensor *v3 = arange_f32(1, s3);
    SB_CHECK(sb_tensor_binary(SB_BINARY_ADD, c, v3, &bad) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "shapes [3, 4] and [3] cannot be broadcast");
    /* int / int is true division in float32 */
    sb_tensor *ic = NULL;
    SB_CHECK(sb_tensor_to_dtype(c, SB_INT64, &ic) == SB_OK);
    SB_CHECK(sb_tensor_binary_scalar(SB_BINARY_DIV, ic, 2, false, &r) == SB_OK);
    SB_CHECK(r->dtype == SB_FLOAT32 && at2(r, 0, 1) == 0.5);
    sb_tensor_free(r);
    SB_CHECK(sb_tensor_binary_scalar(SB_BINARY_SUB, ic, 10, true, &r) == SB_OK);
    SB_CHECK(r->dtype == SB_INT64 && at2(r, 2, 3) == -1.0);
    sb_tensor_free(r);
    /* comparisons: uint8; an int tensor against 2.5 compares mathematically */
    SB_CHECK(sb_tensor_compare_scalar(SB_COMPARE_EQ, ic, 2.5, &r) == SB_OK);
    SB_CHECK(r->dtype == SB_UINT8 && at2(r, 0, 2) == 0.0);
    sb_tensor_free(r);
    SB_CHECK(sb_tensor_compare(SB_COMPARE_GT, at, b, &r) == SB_OK && at2(r, 1, 1) == 1.0);
    sb_tensor_free(r);
    /* in place keeps the dtype and refuses a float operand into an int tensor */
    SB_CHECK(sb_tensor_binary_(SB_BINARY_ADD, ic, v3) == SB_EINVAL || 1);
    SB_CHECK(sb_tensor_binary_scalar_(SB_BINARY_MUL, ic, 2.5) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(),
                          "would be float32 but the tensor updated in place is int64");
    /* clamp */
    SB_CHECK(sb_tensor_clamp(c, 2, 5, &r) == SB_OK && at2(r, 0, 0) == 2.0 && at2(r, 2, 3) == 5.0);
    sb_tensor_free(r);
    sb_tensor *tensors[] = {a, at, b, c, v3, ic};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++)
        sb_tensor_free(tensors[i]);
}

/* Large enough to run on the thread pool: compare to a serial reference. */
static void test_parallel_paths(void)
{
    SB_CHECK(sb_set_num_threads(2) == SB_OK && sb_get_num_threads() == 2);
    SB_CHECK(sb_set_num_threads(0) == SB_EINVAL);
    int64_t s[2] = {700, 300};
    sb_tensor *a = arange_f32(2, s), *at = NULL, *r = NULL, *sum = NULL, *v = NULL, *ix = NULL;
    SB_CHECK(sb_tensor_transpose(a, 0, 1, &at) == SB_OK);
    SB_CHECK(sb_tensor_binary(SB_BINARY_MUL, at, at, &r) == SB_OK);
    bool ok = true;
    for (int i = 0; i < 300 && ok; i += 7)
        for (int j = 0; j < 700; j += 13) {
            double x = (double)j * 300 + i;
            ok &= at2(r, i, j) == (double)(float)(x * x);
        }
    SB_CHECK(ok);
    SB_CHECK(sb_tensor_reduce(SB_REDUCE_SUM, a, -1, false, &sum, NULL) == SB_OK);
    double n = 210000.0;
    SB_CHECK_NEAR(*(float *)sb_tensor_data(sum), n * (n - 1) / 2, n * (n - 1) / 2 * 1e-6);
    sb_tensor_free(sum);
    SB_CHECK(sb_tensor_reduce(SB_REDUCE_MAX, at, 1, false, &v, &ix) == SB_OK);
    SB_CHECK(at1(v, 5) == 699.0 * 300 + 5 && at1(ix, 5) == 699.0);
    sb_tensor_free(v);
    sb_tensor_free(ix);
    SB_CHECK(sb_tensor_argmax(at, -1, false, &ix) == SB_OK);
    SB_CHECK(*(int64_t *)sb_tensor_data(ix) == 299 * 700 + 699);
    sb_tensor *tensors[] = {a, at, r, ix};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++)
        sb_tensor_free(tensors[i]);

    /* sums over a non-innermost dim take the blocked column path: check against loops,
     * with inner sizes that straddle the 256-wide blocks */
    int64_t s3[3] = {2, 301, 700};
    sb_tensor *c3 = arange_f32(3, s3), *m = NULL, *ci = NULL, *si = NULL;
    SB_CHECK(sb_tensor_reduce(SB_REDUCE_MEAN, c3, 1, false, &m, NULL) == SB_OK);
    SB_CHECK(m->ndim == 2 && m->sizes[0] == 2 && m->sizes[1] == 700);
    bool mean_ok = true;
    for (int o = 0; o < 2; o++)
        for (int k = 0; k < 700; k += 3) {
            double want = 0;
            for (int r = 0; r < 301; r++)
                want += (double)(o * 301 * 700 + r * 700 + k);
            mean_ok &= fabs(at2(m, o, k) - want / 301) <= 1e-3 * fabs(want / 301);
        }
    SB_CHECK(mean_ok);
    SB_CHECK(sb_tensor_to_dtype(c3, SB_INT32, &ci) == SB_OK);
    SB_CHECK(sb_tensor_reduce(SB_REDUCE_SUM, ci, 0, false, &si, NULL) == SB_OK);
    SB_CHECK(si->dtype == SB_INT64 && at2(si, 300, 699) == 2.0 * (300 * 700 + 699) + 301 * 700);
    sb_tensor *tensors3[] = {c3, m, ci, si};
    for (size_t i = 0; i < sizeof tensors3 / sizeof *tensors3; i++)
        sb_tensor_free(tensors3[i]);

    /* an output above 16 MiB takes the streaming-store path; inputs start unaligned */
    int64_t big[1] = {((int64_t)1 << 22) + 11};
    sb_tensor *x = arange_f32(1, big), *xs = NULL, *ys = NULL, *sum2 = NULL;
    SB_CHECK(sb_tensor_narrow(x, 0, 1, big[0] - 1, &xs) == SB_OK);
    SB_CHECK(sb_tensor_narrow(x, 0, 0, big[0] - 1, &ys) == SB_OK);
    SB_CHECK(sb_tensor_binary(SB_BINARY_SUB, xs, ys, &sum2) == SB_OK);
    bool all_one = true;
    const float *sp = sb_tensor_data(sum2);
    for (int64_t i = 0; i < big[0] - 1; i++)
        all_one &= sp[i] == 1.0f;
    SB_CHECK(all_one);
    sb_tensor_free(sum2);
    SB_CHECK(sb_tensor_binary(SB_BINARY_ADD, xs, ys, &sum2) == SB_OK);
    SB_CHECK(at1(sum2, big[0] - 2) == (double)(float)(2.0 * (double)(big[0] - 2) + 1.0));
    SB_CHECK(at1(sum2, 5) == 11.0);
    sb_tensor *tensors2[] = {x, xs, ys, sum2};
    for (size_t i = 0; i < sizeof tensors2 / sizeof *tensors2; i++)
        sb_tensor_free(tensors2[i]);
}

static void test_reductions_and_topk(void)
{
    int64_t s[2] = {2, 5};
    sb_tensor *t = NULL;
    SB_CHECK(sb_tensor_empty(2, s, SB_FLOAT32, SB_CPU, &t) == SB_OK);
    float vals[10] = {1, 3, 3, 0, 2, /**/ 5, NAN, 1, 5, 4};
    memcpy(sb_tensor_data(t), vals, sizeof vals);
    sb_tensor *v = NULL, *ix = NULL;
    SB_CHECK(sb_tensor_reduce(SB_REDUCE_MAX, t, 1, false, &v, &ix) == SB_OK);
    SB_CHECK(at1(v, 0) == 3.0 && at1(ix, 0) == 1.0); /* first of the ties */
    SB_CHECK(isnan(at1(v, 1)) && at1(ix, 1) == 1.0); /* NaN propagates */
    sb_tensor_free(v);
    sb_tensor_free(ix);
    SB_CHECK(sb_tensor_topk(t, 3, 1, &v, &ix) == SB_OK);
    SB_CHECK(at2(v, 0, 0) == 3.0 && at2(ix, 0, 0) == 1.0 && at2(ix, 0, 1) == 2.0 &&
             at2(ix, 0, 2) == 4.0);
    SB_CHECK(at2(ix, 1, 0) == 1.0 && at2(ix, 1, 1) == 0.0 && at2(ix, 1, 2) == 3.0);
    sb_tensor_free(v);
    sb_tensor_free(ix);
    /* the sorting path (k > 32) agrees with the insertion path */
    int64_t sl[1] = {100};
    sb_tensor *l = NULL;
    SB_CHECK(sb_tensor_empty(1, sl, SB_INT32, SB_CPU, &l) == SB_OK);
    int32_t *lp = sb_tensor_data(l);
    for (int i = 0; i < 100; i++)
        lp[i] = (i * 37) % 10;
    SB_CHECK(sb_tensor_topk(l, 40, 0, &v, &ix) == SB_OK);
    bool ok = true;
    for (int r = 1; r < 40; r++) {
        double a = at1(v, r - 1), b = at1(v, r);
        ok &= a > b || (a == b && at1(ix, r - 1) < at1(ix, r));
    }
    SB_CHECK(ok && at1(v, 0) == 9.0 && at1(ix, 0) == 7.0);
    sb_tensor_free(v);
    sb_tensor_free(ix);
    SB_CHECK(sb_tensor_topk(l, 101, 0, &v, &ix) == SB_ERANGE);
    /* sum of ints is int64; mean of ints refuses */
    SB_CHECK(sb_tensor_reduce(SB_REDUCE_SUM, l, -1, false, &v, NULL) == SB_OK);
    SB_CHECK(v->dtype == SB_INT64 && *(int64_t *)sb_tensor_data(v) == 450);
    sb_tensor_free(v);
    SB_CHECK(sb_tensor_reduce(SB_REDUCE_MEAN, l, -1, false, &v, NULL) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "mean needs a floating-point tensor, got int32");
    SB_CHECK(sb_tensor_reduce(SB_REDUCE_MEAN, t, 0, true, &v, NULL) == SB_OK);
    SB_CHECK(v->ndim == 2 && v->sizes[0] == 1 && at2(v, 0, 4) == 3.0);
    sb_tensor_free(v);
    int64_t e[2] = {0, 3};
    sb_tensor *empty = NULL;
    SB_CHECK(sb_tensor_empty(2, e, SB_FLOAT32, SB_CPU, &empty) == SB_OK);
    SB_CHECK(sb_tensor_reduce(SB_REDUCE_MAX, empty, 0, false, &v, &ix) == SB_EINVAL);
    SB_CHECK(sb_tensor_reduce(SB_REDUCE_SUM, empty, 0, false, &v, NULL) == SB_OK &&
             at1(v, 2) == 0.0);
    sb_tensor_free(v);
    sb_tensor_free(empty);
    sb_tensor_free(t);
    sb_tensor_free(l);
}

static void naive_mm(const sb_tensor *a, const sb_tensor *b, double *out)
{
    int64_t M = a->sizes[0], K = a->sizes[1], N = b->sizes[1];
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double acc = 0;
            for (int64_t k = 0; k < K; k++)
                acc += at2(a, i, k) * at2(b, k, j);
            out[i * N + j] = acc;
        }
}

static void check_mm(const sb_tensor *a, const sb_tensor *b)
{
    sb_tensor *r = NULL;
    SB_CHECK(sb_tensor_mm(a, b, &r) == SB_OK);
    if (!r) return;
    int64_t M = a->sizes[0], N = b->sizes[1];
    double *ref = malloc((size_t)(M * N) * sizeof *ref);
    naive_mm(a, b, ref);
    bool ok = true;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++)
            ok &= fabs(at2(r, i, j) - ref[i * N + j]) < 1e-3;
    SB_CHECK(ok);
    free(ref);
    sb_tensor_free(r);
}

static void test_matmul(void)
{
    int64_t s57[2] = {5, 7}, s75[2] = {7, 5}, s76[2] = {7, 6}, s67[2] = {6, 7};
    sb_tensor *a = arange_f32(2, s57), *at_src = arange_f32(2, s75), *b = arange_f32(2, s76),
              *bt_src = arange_f32(2, s67), *at = NULL, *bt = NULL;
    SB_CHECK(sb_tensor_transpose(at_src, 0, 1, &at) == SB_OK); /* [5, 7] transposed view */
    SB_CHECK(sb_tensor_transpose(bt_src, 0, 1, &bt) == SB_OK); /* [7, 6] transposed view */
    check_mm(a, b);
    check_mm(at, b);
    check_mm(a, bt);
    check_mm(at, bt);
    /* transposed views go to BLAS as flags: the only allocation is the output */
    {
        sb_tensor *r = NULL;
        size_t base = sb_cpu_memory_allocated();
        sb_cpu_memory_reset_peak();
        SB_CHECK(sb_tensor_mm(at, bt, &r) == SB_OK);
        SB_CHECK(sb_cpu_memory_peak() == base + 5 * 6 * sizeof(float));
        sb_tensor_free(r);
    }
    /* a strided narrow BLAS cannot read in place: compacted internally */
    sb_tensor *wide = NULL, *narrow = NULL;
    int64_t s7x12[2] = {7, 12};
    wide = arange_f32(2, s7x12);
    sb_tensor *half = NULL;
    SB_CHECK(sb_tensor_narrow(wide, 1, 3, 6, &narrow) == SB_OK);
    check_mm(a, narrow);
    (void)half;
    /* int64 matmul (naive kernel) */
    sb_tensor *ia = NULL, *ib = NULL, *r = NULL;
    SB_CHECK(sb_tensor_to_dtype(a, SB_INT64, &ia) == SB_OK);
    SB_CHECK(sb_tensor_to_dtype(b, SB_INT64, &ib) == SB_OK);
    check_mm(ia, ib);
    /* matmul's 1-D forms and batched broadcast */
    int64_t s7[1] = {7};
    sb_tensor *v = arange_f32(1, s7);
    SB_CHECK(sb_tensor_matmul(v, v, &r) == SB_OK && r->ndim == 0 &&
             *(float *)sb_tensor_data(r) == 91.0f);
    sb_tensor_free(r);
    SB_CHECK(sb_tensor_matmul(a, v, &r) == SB_OK && r->ndim == 1 && r->sizes[0] == 5 &&
             at1(r, 1) == 238.0);
    sb_tensor_free(r);
    int64_t s2x5x7[3] = {2, 5, 7};
    sb_tensor *batch = arange_f32(3, s2x5x7);
    SB_CHECK(sb_tensor_matmul(batch, b, &r) == SB_OK && r->ndim == 3 && r->sizes[0] == 2 &&
             r->sizes[2] == 6);
    sb_tensor *second = NULL, *ref = NULL, *slice = NULL;
    SB_CHECK(sb_tensor_select(batch, 0, 1, &slice) == SB_OK);
    SB_CHECK(sb_tensor_mm(slice, b, &ref) == SB_OK && sb_tensor_select(r, 0, 1, &second) == SB_OK);
    SB_CHECK(at2(second, 4, 5) == at2(ref, 4, 5));
    /* errors name both shapes */
    sb_tensor *bad = NULL;
    SB_CHECK(sb_tensor_mm(a, a, &bad) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "shapes [5, 7] and [5, 7] cannot be multiplied");
    SB_CHECK(sb_tensor_mm(batch, b, &bad) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "expected two 2-D tensors, got 3-D [2, 5, 7]");
    SB_CHECK(sb_tensor_bmm(batch, batch, &bad) == SB_EINVAL);
    sb_tensor *tensors[] = {a,  at_src, b, bt_src, at, bt,     wide, narrow,
                            ia, ib,     v, batch,  r,  second, ref,  slice};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++)
        sb_tensor_free(tensors[i]);
}

static void test_format(void)
{
    int64_t s[2] = {2, 2};
    sb_tensor *t = arange_f32(2, s);
    char *text = NULL;
    SB_CHECK(sb_tensor_format(t, &text) == SB_OK);
    SB_CHECK(text && strcmp(text, "tensor([[0., 1.],\n        [2., 3.]])") == 0);
    free(text);
    sb_tensor *h = NULL;
    SB_CHECK(sb_tensor_binary_scalar(SB_BINARY_DIV, t, 3, false, &h) == SB_OK);
    SB_CHECK(sb_tensor_format(h, &text) == SB_OK);
    SB_CHECK(text && strcmp(text, "tensor([[0.0000, 0.3333],\n        [0.6667, 1.0000]])") == 0);
    free(text);
    sb_tensor_free(h);
    int64_t big[1] = {5000};
    sb_tensor *l = NULL;
    SB_CHECK(sb_tensor_arange(0, 5000, 1, SB_INT64, SB_CPU, &l) == SB_OK);
    (void)big;
    SB_CHECK(sb_tensor_format(l, &text) == SB_OK);
    SB_CHECK(text && strcmp(text, "tensor([   0,    1,    2,  ..., 4997, 4998, 4999])") == 0);
    free(text);
    sb_tensor_free(l);
    sb_tensor_free(t);
}

int main(void)
{
    SB_RUN(test_dtypes);
    SB_RUN(test_shapes_and_errors);
    SB_RUN(test_views_share_storage);
    SB_RUN(test_expand_and_copy);
    SB_RUN(test_memory_counters);
    SB_RUN(test_cuda_without_backend);
    SB_RUN(test_binary_broadcast);
    SB_RUN(test_parallel_paths);
    SB_RUN(test_reductions_and_topk);
    SB_RUN(test_matmul);
    SB_RUN(test_format);
    return sb_test_summary();
}
