/* The built-in CPU nn table. */
#include "nn/cpu/cpu_kernels.h"

sb_status sb_nn_cpu_require_float32(const char *op, const sb_tensor *t)
{
    if (t->dtype == SB_FLOAT32) return SB_OK;
    return sb_fail(SB_EUNSUPPORTED, "%s: the CPU kernels compute in float32, got %s", op,
                   sb_dtype_name(t->dtype));
}

static const sb_nn_backend cpu_backend = {
    .name = "cpu",
    .conv2d_relu = true,
    .conv2d_max_pool2 = true,
    .linear = sb_nn_cpu_linear,
    .conv2d = sb_nn_cpu_conv2d,
    .max_pool2d = sb_nn_cpu_max_pool2d,
    .avg_pool2d = sb_nn_cpu_avg_pool2d,
    .adaptive_avg_pool2d = sb_nn_cpu_adaptive_avg_pool2d,
    .batch_norm = sb_nn_cpu_batch_norm,
    .activation = sb_nn_cpu_activation,
    .softmax = sb_nn_cpu_softmax,
};

const sb_nn_backend *sb_nn_cpu_backend(void)
{
    return &cpu_backend;
}
