/* nn functional ops: the front-ends (PyTorch's torch.nn.functional semantics).
 *
 * Each function checks its arguments with messages that name the op and argument,
 * resolves PyTorch's defaults, makes inputs contiguous, allocates the output on the
 * input's device and calls that device's kernel (engine/nn/backend.h). Every tensor
 * argument must share the input's device and dtype. Dims are 0-based here (the Lua
 * binding converts). Outputs are new tensors written to *out; nothing on failure. */
#ifndef SB_NN_FUNCTIONAL_H
#define SB_NN_FUNCTIONAL_H

#include <stdbool.h>
#include <stdint.h>

#include "nn/backend.h"
#include "tensor/tensor.h"

/* y = x . weight^T + bias. x [*, in] (at least 1-D), weight [out, in], bias [out] or NULL;
 * y [*, out]. */
sb_status sb_nn_linear(const sb_tensor *x, const sb_tensor *weight, const sb_tensor *bias,
                       sb_tensor **out);

typedef enum sb_conv_padding_mode {
    SB_CONV_PAD_EXPLICIT = 0, /* `padding` below */
    SB_CONV_PAD_VALID,        /* no padding */
    SB_CONV_PAD_SAME,         /* output size = input size (stride 1 only); an odd total
                                 padding puts the extra row/column at the end, as PyTorch */
} sb_conv_padding_mode;

typedef struct sb_conv2d_options {
    int64_t stride[2];   /* default {1, 1} */
    int64_t padding[2];  /* default {0, 0} */
    int64_t dilation[2]; /* default {1, 1} */
    int64_t groups;      /* default 1 */
    sb_conv_padding_mode padding_mode;
    bool relu; /* relu(conv2d(...)) in one pass where the backend can (default false) */
    /* max_pool2d(result, 2) fused (kernel 2, stride 2, no padding, floor), after the ReLU
     * when `relu` is set; the output is [N, O, OH/2, OW/2] (default false) */
    bool max_pool2;
    /* After the convolution, in this order (PyTorch's act(bn(conv(x)) + residual)): batch
     * norm (tensors [O]; NULL: none), residual (the output's shape; NULL: none), activation
     * (NONE by default; relu above is SB_CONV_ACT_RELU). Not with max_pool2. On the CPU the
     * batch norm is folded into the convolution's weights once and kept while none of the
     * tensors involved is written (sb_tensor_version). */
    const sb_conv_bn *bn;
    const sb_tensor *residual;
    sb_conv_act act;
    /* The output may be laid out channels-last (NHWC memory, a strided [N, O, OH, OW]
     * view) where the backend works in that layout: for a result only another conv2d
     * reads, which then needs no reorder. Inputs and residuals in that layout are always
     * taken as they are (default false). */
    bool channels_last;
} sb_conv2d_options;

/* PyTorch's defaults: stride 1, padding 0, dilation 1, groups 1. */
sb_conv2d_options sb_conv2d_defaults(void);

/* x [N, C, H, W] or unbatched [C, H, W]; weight [O, C/groups, KH, KW]; bias [O] or NULL.
 * y [N, O, OH, OW] (or [O, OH, OW]), OH = (H + 2p - d(KH-1) - 1) / s + 1. */
sb_status sb_nn_conv2d(const sb_tensor *x, const sb_tensor *weight, const sb_tensor *bias,
                       const sb_conv2d_options *opt, sb_tensor **out);

typedef struct sb_pool2d_options {
    int64_t kernel[2];        /* required */
    int64_t stride[2];        /* 0 = the kernel size (PyTorch's stride=None) */
    int64_t padding[2];       /* default 0; at most half the kernel */
    int64_t dilation[2];      /* max pooling only; default 1 */
    bool ceil_mode;           /* default false */
    bool count_include_pad;   /* average pooling; default true */
    int64_t divisor_override; /* average pooling; 0 = none */
} sb_pool2d_options;

sb_pool2d_options sb_pool2d_defaults(int64_t kernel_h, int64_t kernel_w);

/* x [N, C, H, W] or [C, H, W] -> same rank. */
sb_status sb_nn_max_pool2d(const sb_tensor *x, const sb_pool2d_options *opt, sb_tensor **out);
sb_status sb_nn_avg_pool2d(const sb_tensor *x, const sb_pool2d_options *opt, sb_tensor **out);
/* Output size (oh, ow); a value <= 0 keeps that input size (PyTorch's None). */
sb_status sb_nn_adaptive_avg_pool2d(const sb_tensor *x, int64_t oh, int64_t ow, sb_tensor **out);

/* Inference batch norm: x [N, C, *]; running_mean, running_var [C]; weight, bias [C] or
 * NULL. */
sb_status sb_nn_batch_norm(const sb_tensor *x, const sb_tensor *running_mean,
                           const sb_tensor *running_var, const sb_tensor *weight,
                           const sb_tensor *bias, double eps, sb_tensor **out);

sb_status sb_nn_activate(sb_nn_activation act, const sb_tensor *x, sb_tensor **out);
/* (log-)softmax along `dim` (negative counts from the end). */
sb_status sb_nn_softmax(const sb_tensor *x, int dim, bool log, sb_tensor **out);
/* Dims start..end (inclusive; negative counts from the end) merged into one: a view when
 * the strides allow, else a contiguous copy (torch.flatten). A 0-dim x gives [1]. */
sb_status sb_nn_flatten(const sb_tensor *x, int start_dim, int end_dim, sb_tensor **out);

#endif
