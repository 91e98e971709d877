// cuDNN inside the CUDA plugin (engine/cuda/dnn.cpp, compiled by the host compiler): loaded
// with dlopen() on first need, so the plugin works where libcudnn.so.9 is missing, and
// compiled only when cudnn.h was there at build time (SB_HAVE_CUDNN). The nn kernels
// (nn_backend.cu) ask it first and run their own kernels when it declines.
#ifndef SB_CUDA_DNN_H
#define SB_CUDA_DNN_H

#include <stddef.h>
#include <stdint.h>

#include "tensor/tensor.h"

// The cuDNN version in use (cudnnGetVersion(): 91900 for 9.19.0; its text "9.19.0" in `text`),
// or 0 with the reason it is not used in `text` ("libcudnn.so.9: cannot open shared object file
// ...", "disabled by SBENGINE_CUDNN=0", "this sbengine_cuda.so was built without cudnn.h"). Loads
// it on the first call; needs no GPU.
int sb_dnn_version(char *text, size_t text_size);

// What sb_dnn_conv2d did.
enum sb_dnn_result {
    SB_DNN_DECLINED = 0, // nothing: cuDNN is not in use or does not take this case
    SB_DNN_CONV,         // out = conv(x, weight); bias, residual and activation are the caller's
    SB_DNN_FUSED,        // out = relu(conv(x, weight) + bias + residual), all of it
};

// A contiguous NCHW convolution. `relu` asks for the fused epilogue (taken when cuDNN can:
// cudnn_policy.h's sb_cudnn_fuse_epilogue); bias and residual may be NULL.
struct sb_dnn_conv {
    int device;
    sb_dtype dtype;
    int64_t n, c, h, w, o, kh, kw, oh, ow;
    int64_t stride[2], pad[2], dilation[2], groups;
    const void *x, *weight, *bias, *residual;
    void *out;
    bool relu;
};

// SB_OK with *result saying what was computed (SB_DNN_DECLINED: nothing, the caller computes
// it all); a failure of a cuDNN call that had started is an error, not a decline.
sb_status sb_dnn_conv2d(const sb_dnn_conv *c, sb_dnn_result *result);

// A contiguous NCHW pooling: max, or average with or without the padding in the divisor.
struct sb_dnn_pool {
    int device;
    sb_dtype dtype;
    bool is_max, count_include_pad;
    int64_t n, c, h, w, oh, ow;
    int64_t kernel[2], stride[2], pad[2], dilation[2];
    int64_t divisor_override;
    const void *x;
    void *out;
};

// *done = true when cuDNN computed out; false (SB_OK) when the caller must.
sb_status sb_dnn_pool2d(const sb_dnn_pool *p, bool *done);

#endif
