/* The built-in CPU nn table. */
#include "nn/cpu/cpu_kernels.h"

sb_status sb_nn_cpu_require_float32(const char *op, const sb_tensor *t)
{
    if (t->dtype == SB_FLOAT32) return SB_OK;
    return sb_fail(SB_EUNSUPPORTED, "%s: the CPU kernels compute in float32, got %s", op,
                   sb_dtype_name(t->dtype));
}

static const sb_nn_backend cpu_backend = {.name = "cpu",
                                          .conv2d_relu = true,
                                          .conv2d_max_pool2 = true,
                                          .conv2d_fusion = true,
                                          .conv2d_channels_last = true,
                                          .pool2d_channels_last = true,
#define SB_NN_CPU_SLOT(slot) .slot = sb_nn_cpu_##slot,
                                          SB_NN_KERNELS(SB_NN_CPU_SLOT)
#undef SB_NN_CPU_SLOT
};

const sb_nn_backend *sb_nn_cpu_backend(void)
{
    return &cpu_backend;
}
