/* The float -> integer conversion both backends share (tensor/int_convert.h, compiled by gcc
 * here and by nvcc into the CUDA kernels' int_from_double): truncate, NaN -> 0, saturate to
 * int64, wrap to the narrow type. The CPU tensor ops that use it (fill, a scalar operand,
 * a dtype conversion) give the same values; tests/lua/gpu/cuda_tensor_spec.lua checks the
 * CUDA ops against these CPU results on a GPU. */
#include <math.h>
#include <stdint.h>

#include "sbtest.h"
#include "tensor/int_convert.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"

static void test_the_shared_function(void)
{
    SB_CHECK(sb_double_to_uint8(-1.0) == 255);
    SB_CHECK(sb_double_to_uint8(-1.5) == 255); /* truncates toward zero first */
    SB_CHECK(sb_double_to_uint8(300.0) == 44);
    SB_CHECK(sb_double_to_uint8(255.9) == 255);
    SB_CHECK(sb_double_to_uint8(NAN) == 0);
    SB_CHECK(sb_double_to_int32(3e9) == -1294967296);
    SB_CHECK(sb_double_to_int32(-3e9) == 1294967296);
    SB_CHECK(sb_double_to_int32(2147483647.0) == 2147483647);
    /* saturated to int64 first: INT64_MAX's low 32 bits are all ones */
    SB_CHECK(sb_double_to_int32(1e30) == -1);
    SB_CHECK(sb_double_to_int32(-1e30) == 0);
    SB_CHECK(sb_double_to_int64(1e19) == INT64_MAX);
    SB_CHECK(sb_double_to_int64(-1e19) == INT64_MIN);
    SB_CHECK(sb_double_to_int64(INFINITY) == INT64_MAX);
    SB_CHECK(sb_double_to_int64(-INFINITY) == INT64_MIN);
    SB_CHECK(sb_double_to_int64(-2.7) == -2);
    SB_CHECK(sb_double_to_int64(NAN) == 0);
}

static double element(const sb_tensor *t)
{
    switch (t->dtype) {
    case SB_UINT8:
        return *(const uint8_t *)t->storage->data;
    case SB_INT32:
        return *(const int32_t *)t->storage->data;
    default:
        return (double)*(const int64_t *)t->storage->data;
    }
}

/* The examples of issue 20, on the CPU: what the CUDA kernels must give too. */
static void test_cpu_ops_follow_it(void)
{
    int64_t one[1] = {1};
    sb_tensor *t = NULL, *r = NULL;
    SB_CHECK(sb_tensor_full(1, one, -1, SB_UINT8, SB_CPU, &t) == SB_OK);
    SB_CHECK(t && element(t) == 255);
    sb_tensor_free(t);
    t = NULL;
    SB_CHECK(sb_tensor_full(1, one, 3e9, SB_INT32, SB_CPU, &t) == SB_OK);
    SB_CHECK(t && element(t) == -1294967296.0);
    sb_tensor_free(t);
    t = NULL;
    /* uint8 5 + (-1): the scalar becomes uint8 255 first, 5 + 255 wraps to 4 */
    SB_CHECK(sb_tensor_full(1, one, 5, SB_UINT8, SB_CPU, &t) == SB_OK);
    SB_CHECK(t && sb_tensor_binary_scalar(SB_BINARY_ADD, t, -1, false, &r) == SB_OK);
    SB_CHECK(r && r->dtype == SB_UINT8 && element(r) == 4);
    sb_tensor_free(r);
    sb_tensor_free(t);
    t = r = NULL;
    SB_CHECK(sb_tensor_full(1, one, -300.7, SB_FLOAT64, SB_CPU, &t) == SB_OK);
    SB_CHECK(t && sb_tensor_to_dtype(t, SB_UINT8, &r) == SB_OK);
    SB_CHECK(r && element(r) == sb_double_to_uint8(-300.7) && element(r) == 212);
    sb_tensor_free(r);
    sb_tensor_free(t);
}

int main(void)
{
    SB_RUN(test_the_shared_function);
    SB_RUN(test_cpu_ops_follow_it);
    return sb_test_summary();
}
