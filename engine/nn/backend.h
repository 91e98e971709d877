/* The nn kernel table: one per device kind, the same pattern as engine/tensor/backend.h.
 *
 * Each nn op has ONE front-end in engine/nn/functional.c (argument and shape checks with
 * PyTorch's semantics, output allocation, dispatch) and one kernel per backend here. The
 * CPU table (engine/nn/cpu/) is built in; the GPU host layer (engine/gpu/) registers the
 * CUDA plugin's table with sb_nn_backend_register(SB_DEVICE_CUDA, &table) when the tensor
 * backend's loader runs (see sb_nn_backend_for).
 *
 * Conventions for every kernel below (the front-end guarantees them):
 *  - every tensor argument is on the backend's device, CONTIGUOUS, and of one floating
 *    dtype (the input's); optional tensors (bias, batch-norm weight/bias) may be NULL;
 *  - outputs are freshly allocated contiguous tensors of the documented shape, never
 *    aliases of an input; numel may be 0 (then the kernel may do nothing);
 *  - a kernel returns SB_OK or fails with sb_fail(): SB_EUNSUPPORTED naming the dtype when
 *    the backend does not compute in it (the CPU computes float32 only). */
#ifndef SB_NN_BACKEND_H
#define SB_NN_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "nn/op_table.h"
#include "tensor/tensor.h"

/* What conv2d can fuse after the convolution, in this order: inference batch norm (on the
 * CPU folded into the weights and bias), a residual added elementwise, an activation. */
typedef enum sb_conv_act {
    SB_CONV_ACT_NONE,
    SB_CONV_ACT_RELU,
    SB_CONV_ACT_RELU6,     /* min(max(x, 0), 6) */
    SB_CONV_ACT_HARDSWISH, /* x * min(max(x + 3, 0), 6) / 6 */
    SB_CONV_ACT_SILU,      /* x * sigmoid(x) */
} sb_conv_act;

/* Inference batch norm over the output channels: (y - mean) / sqrt(var + eps) * weight +
 * bias; weight and bias may be NULL (1 and 0). */
typedef struct sb_conv_bn {
    const sb_tensor *mean, *var, *weight, *bias;
    double eps;
} sb_conv_bn;

typedef struct sb_conv2d_fusion {
    const sb_conv_bn *bn;      /* NULL: none */
    const sb_tensor *residual; /* [N, O, OH, OW] contiguous, or NULL */
    sb_conv_act act;
} sb_conv2d_fusion;

/* Convolution geometry, already resolved by the front-end: `pad` is the padding before
 * the first row/column (after the last one it is implied by the output size, so "same"
 * padding with an even kernel, which pads more on the far side, needs nothing more). */
typedef struct sb_conv2d_params {
    int64_t stride[2];   /* h, w; >= 1 */
    int64_t pad[2];      /* h, w; >= 0 */
    int64_t dilation[2]; /* h, w; >= 1 */
    int64_t groups;      /* >= 1, divides both channel counts */
    bool relu;           /* apply ReLU after the bias; only set for backends with conv2d_relu */
    /* Fused 2x2 stride-2 max pooling of the (activated) result; only set for backends with
     * conv2d_max_pool2. `out` is then [N, O, OH/2, OW/2] and out_h, out_w hold the
     * convolution's own output size (OH, OW). */
    bool max_pool2;
    int64_t out_h, out_w;
    /* Batch norm, residual and activation to apply (never together with relu/max_pool2);
     * only set for backends with conv2d_fusion; NULL: none. */
    const sb_conv2d_fusion *fusion;
} sb_conv2d_params;

typedef struct sb_pool2d_params {
    int64_t kernel[2];        /* h, w; >= 1 */
    int64_t stride[2];        /* h, w; >= 1 */
    int64_t pad[2];           /* h, w; <= kernel / 2 */
    int64_t dilation[2];      /* max pooling only; 1 for average pooling */
    bool count_include_pad;   /* average pooling: padded zeros count in the divisor */
    int64_t divisor_override; /* average pooling: > 0 replaces the divisor */
} sb_pool2d_params;

/* The activations come from nn/op_table.h: a new one is a row there. */
typedef enum sb_nn_activation { SB_NN_ACTIVATIONS(SB_X_ACT_ENUM) SB_ACT_COUNT } sb_nn_activation;

/* "relu", "gelu", ...: the Lua function's name, as in messages. */
static inline const char *sb_nn_activation_name(sb_nn_activation act)
{
    static const char *const names[] = {SB_NN_ACTIVATIONS(SB_X_ACT_NAME)};
    return (unsigned)act < SB_ACT_COUNT ? names[act] : "activation";
}

/* The kernel slots of sb_nn_backend below, for code that fills a whole table (each
 * backend names its kernels <prefix>_<slot>). */
#define SB_NN_KERNELS(X)                                                                           \
    X(linear)                                                                                      \
    X(conv2d)                                                                                      \
    X(max_pool2d)                                                                                  \
    X(avg_pool2d)                                                                                  \
    X(adaptive_avg_pool2d)                                                                         \
    X(batch_norm)                                                                                  \
    X(activation)                                                                                  \
    X(softmax)

typedef struct sb_nn_backend {
    const char *name; /* "cpu", "cuda" */
    /* conv2d honours sb_conv2d_params.relu (a fused ReLU); when false the front-end applies
     * the activation kernel to conv2d's output instead. */
    bool conv2d_relu;
    /* conv2d honours sb_conv2d_params.max_pool2; else the front-end pools separately. */
    bool conv2d_max_pool2;
    /* conv2d honours sb_conv2d_params.fusion; else the front-end runs batch_norm, the add
     * and the activation on conv2d's output. */
    bool conv2d_fusion;
    /* conv2d takes x, the residual and out channels-last as well (4-D, strides
     * [H*W*C, 1, W*C, C]: NHWC memory), not only contiguous. */
    bool conv2d_channels_last;
    /* max_pool2d and avg_pool2d take a channels-last x as it is and write a channels-last
     * out (the same layout), so pooling between two convolutions needs no reorder. */
    bool pool2d_channels_last;

    /* out [N,O] = x [N,I] . weight [O,I]^T + bias [O] */
    sb_status (*linear)(sb_tensor *out, const sb_tensor *x, const sb_tensor *weight,
                        const sb_tensor *bias);
    /* out [N,O,OH,OW] = conv(x [N,C,H,W], weight [O, C/groups, KH, KW]) + bias [O];
     * OH, OW are out's sizes (zero padding outside the input). */
    sb_status (*conv2d)(sb_tensor *out, const sb_tensor *x, const sb_tensor *weight,
                        const sb_tensor *bias, const sb_conv2d_params *p);
    /* out [N,C,OH,OW]: max over each window (padding never wins; NaN propagates). */
    sb_status (*max_pool2d)(sb_tensor *out, const sb_tensor *x, const sb_pool2d_params *p);
    /* out [N,C,OH,OW]: PyTorch's avg_pool2d, windows clipped to input + padding. */
    sb_status (*avg_pool2d)(sb_tensor *out, const sb_tensor *x, const sb_pool2d_params *p);
    /* out [N,C,OH,OW]: mean over rows floor(i*H/OH) .. ceil((i+1)*H/OH) - 1 (same for w). */
    sb_status (*adaptive_avg_pool2d)(sb_tensor *out, const sb_tensor *x);
    /* Inference batch norm over x viewed as [N,C,L]: out = (x - mean[c]) / sqrt(var[c] + eps)
     * * weight[c] + bias[c]; weight/bias may be NULL (1 and 0). */
    sb_status (*batch_norm)(sb_tensor *out, const sb_tensor *x, const sb_tensor *running_mean,
                            const sb_tensor *running_var, const sb_tensor *weight,
                            const sb_tensor *bias, double eps);
    /* out = act(x), elementwise over numel elements. */
    sb_status (*activation)(sb_nn_activation act, sb_tensor *out, const sb_tensor *x);
    /* x and out viewed as [outer, dim, inner]; (log-)softmax along the middle axis,
     * max-subtracted for stability. */
    sb_status (*softmax)(sb_tensor *out, const sb_tensor *x, int64_t outer, int64_t dim,
                         int64_t inner, bool log);
} sb_nn_backend;

/* The nn table for `device`'s kind. CPU: always. CUDA: asks the tensor backend first
 * (which loads the plugin once), then fails with SB_EDEVICE when the plugin registered no
 * nn table. */
sb_status sb_nn_backend_for(sb_device device, const sb_nn_backend **out);
const sb_nn_backend *sb_nn_cpu_backend(void);

/* Installs the table for a device kind (the GPU host layer calls this); NULL unregisters.
 * The CPU table is fixed. The table must outlive every use. */
void sb_nn_backend_register(sb_device_kind kind, const sb_nn_backend *backend);

#endif
