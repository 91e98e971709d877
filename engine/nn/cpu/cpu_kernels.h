/* The CPU nn kernels (float32), assembled into the table in cpu_backend.c. */
#ifndef SB_NN_CPU_KERNELS_H
#define SB_NN_CPU_KERNELS_H

#include "nn/backend.h"

/* Hot copy loops get an AVX2 clone picked at load time (GCC target_clones, an ifunc), so
 * the portable build still uses 32-byte moves on machines that have them. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) &&                             \
    !defined(__SANITIZE_ADDRESS__)
#define SB_NN_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SB_NN_VECTOR_CLONES
#endif

sb_status sb_nn_cpu_linear(sb_tensor *out, const sb_tensor *x, const sb_tensor *weight,
                           const sb_tensor *bias);
sb_status sb_nn_cpu_conv2d(sb_tensor *out, const sb_tensor *x, const sb_tensor *weight,
                           const sb_tensor *bias, const sb_conv2d_params *p);
sb_status sb_nn_cpu_max_pool2d(sb_tensor *out, const sb_tensor *x, const sb_pool2d_params *p);
sb_status sb_nn_cpu_avg_pool2d(sb_tensor *out, const sb_tensor *x, const sb_pool2d_params *p);
sb_status sb_nn_cpu_adaptive_avg_pool2d(sb_tensor *out, const sb_tensor *x);
sb_status sb_nn_cpu_batch_norm(sb_tensor *out, const sb_tensor *x, const sb_tensor *running_mean,
                               const sb_tensor *running_var, const sb_tensor *weight,
                               const sb_tensor *bias, double eps);
sb_status sb_nn_cpu_activation(sb_nn_activation act, sb_tensor *out, const sb_tensor *x);
sb_status sb_nn_cpu_softmax(sb_tensor *out, const sb_tensor *x, int64_t outer, int64_t dim,
                            int64_t inner, bool log);

/* One plane's 2x2 stride-2 max pooling: y [OH, OW] from x [>= 2*OH, W] (W >= 2*OW);
 * shared by max_pool2d and conv2d's fused pooling. */
void sb_nn_cpu_max_pool_2x2(const float *x, int64_t W, int64_t OH, int64_t OW, float *y);

/* Every CPU kernel computes in float32; this fails with SB_EUNSUPPORTED otherwise. */
sb_status sb_nn_cpu_require_float32(const char *op, const sb_tensor *t);

#endif
