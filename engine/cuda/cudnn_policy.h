/* When the CUDA plugin hands a convolution or a pooling to cuDNN, and whether the cuDNN it
 * found can be used at all: the decisions, apart from the calls, so that they run (and are
 * tested, tests/c/test_cudnn_policy.c) without a GPU and without cuDNN.
 *
 * cuDNN is optional twice over: a build without cudnn.h has no cuDNN code, and a plugin built
 * with it dlopen()s libcudnn.so.9 on first need (engine/cuda/dnn.cpp), so the plugin loads
 * on a machine without cuDNN. Whatever cuDNN does not take runs on the plugin's own kernels
 * (im2col + cuBLAS, the direct depthwise kernel, the pooling kernels), with the same results
 * within the CPU-vs-GPU tolerances.
 *
 * Plain C, header only: compiled by g++ into the plugin and by gcc into its CPU test. */
#ifndef SB_CUDA_CUDNN_POLICY_H
#define SB_CUDA_CUDNN_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The largest element count of one tensor the legacy cuDNN API takes (its sizes and strides
 * are int): larger convolutions run on the plugin's own kernels. */
#define SB_CUDNN_MAX_NUMEL ((int64_t)INT32_MAX)

/* SBENGINE_CUDNN set to "0", "off", "false" or "no" (any case) keeps cuDNN unused. */
static inline bool sb_cudnn_env_disabled(const char *value)
{
    if (!value) return false;
    static const char *const off[] = {"0", "off", "false", "no"};
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
        size_t n = strlen(off[i]);
        if (strlen(value) != n) continue;
        bool same = true;
        for (size_t k = 0; k < n && same; k++) {
            char c = value[k];
            if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
            same = c == off[i][k];
        }
        if (same) return true;
    }
    return false;
}

/* cudnnGetVersion() as text: cuDNN 9 numbers its versions major * 10000 + minor * 100 + patch
 * (91900: "9.19.0"), cuDNN 8 and older major * 1000 + minor * 100 + patch (8907: "8.9.7"). */
static inline void sb_cudnn_version_text(size_t version, char *out, size_t size)
{
    if (!out || !size) return;
    if (version == 0) {
        snprintf(out, size, "unknown");
        return;
    }
    size_t major = version >= 90000 ? version / 10000 : version / 1000;
    size_t rest = version >= 90000 ? version % 10000 : version % 1000;
    snprintf(out, size, "%zu.%zu.%zu", major, rest / 100, rest % 100);
}

static inline size_t sb_cudnn_version_major(size_t version)
{
    return version >= 90000 ? version / 10000 : version / 1000;
}

/* Whether the loaded cuDNN can serve this plugin: the same major version as the headers it was
 * built with (the legacy API's types and symbols belong to one major version), and built for
 * the same CUDA major version as the plugin's runtime (a cuDNN for CUDA 12 next to CUDA 13
 * fails at its first call). `cudart` is cudnnGetCudartVersion(), `runtime` the plugin's
 * CUDART_VERSION (13000). False with the reason in `why`. */
static inline bool sb_cudnn_versions_usable(size_t version, size_t cudart, int built_major,
                                            int runtime, char *why, size_t why_size)
{
    char text[32];
    sb_cudnn_version_text(version, text, sizeof text);
    if ((int)sb_cudnn_version_major(version) != built_major) {
        if (why && why_size)
            snprintf(why, why_size,
                     "the cuDNN found is version %s, and this sbengine_cuda.so was built with the "
                     "headers of cuDNN %d (install cuDNN %d for CUDA %d)",
                     text, built_major, built_major, runtime / 1000);
        return false;
    }
    if (cudart / 1000 != (size_t)runtime / 1000) {
        if (why && why_size)
            snprintf(why, why_size,
                     "the cuDNN found (%s) was built for CUDA %zu.%zu, and this sbengine_cuda.so "
                     "uses CUDA %d.%d (install cuDNN %d for CUDA %d)",
                     text, cudart / 1000, (cudart % 1000) / 10, runtime / 1000,
                     (runtime % 1000) / 10, built_major, runtime / 1000);
        return false;
    }
    return true;
}

/* A convolution as the nn kernel sees it (sizes already checked by the front-end). */
typedef struct sb_cudnn_conv_case {
    bool floating; /* the dtype is float32, float64, float16 or bfloat16 */
    int64_t n, c, h, w, o, kh, kw, oh, ow;
    int64_t stride[2], pad[2], dilation[2], groups;
} sb_cudnn_conv_case;

static inline bool sb_cudnn_fits_int(int64_t v)
{
    return v >= 0 && v <= (int64_t)INT32_MAX;
}

/* Whether cuDNN's legacy API is asked for this convolution: floating dtypes, at least one
 * input channel per group, every size and every tensor's element count within int (grouped,
 * depthwise, strided, dilated and padded convolutions all go). */
static inline bool sb_cudnn_conv_eligible(const sb_cudnn_conv_case *k)
{
    if (!k->floating || k->groups < 1) return false;
    /* an empty problem (no input channels: the output is the bias) is the plugin's GEMM path */
    if (k->n < 1 || k->c < k->groups || k->o < 1 || k->oh < 1 || k->ow < 1) return false;
    const int64_t dims[] = {k->n,      k->c,           k->h,           k->w,
                            k->o,      k->kh,          k->kw,          k->oh,
                            k->ow,     k->stride[0],   k->stride[1],   k->pad[0],
                            k->pad[1], k->dilation[0], k->dilation[1], k->groups};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (!sb_cudnn_fits_int(dims[i])) return false;
    const double x = (double)k->n * (double)k->c * (double)k->h * (double)k->w;
    const double y = (double)k->n * (double)k->o * (double)k->oh * (double)k->ow;
    const double wt = (double)k->o * (double)(k->c / k->groups) * (double)k->kh * (double)k->kw;
    const double max = (double)SB_CUDNN_MAX_NUMEL;
    return x <= max && y <= max && wt <= max;
}

/* The activations conv2d fuses (nn/backend.h's sb_conv_act, as numbers so that this header
 * needs nothing of the engine). */
enum { SB_CUDNN_ACT_NONE = 0, SB_CUDNN_ACT_RELU = 1 };

/* Whether the whole epilogue (bias, residual, ReLU) goes to cudnnConvolutionBiasActivationForward
 * in one call: for ReLU only (its identity activation is limited to one algorithm), float32 and
 * float64 (the configurations it documents for every algorithm), with a bias (the batch norm
 * folded in gives one). Otherwise cuDNN convolves and the plugin's epilogue kernel adds the
 * bias and the residual and activates, in one pass. */
static inline bool sb_cudnn_fuse_epilogue(bool fp32_or_fp64, bool has_bias, int act)
{
    return fp32_or_fp64 && has_bias && act == SB_CUDNN_ACT_RELU;
}

/* A pooling as the nn kernel sees it. */
typedef struct sb_cudnn_pool_case {
    bool floating, is_max;
    int64_t n, c, h, w, oh, ow;
    int64_t kernel[2], stride[2], pad[2], dilation[2];
    int64_t divisor_override;
} sb_cudnn_pool_case;

/* Whether cudnnPoolingForward computes PyTorch's result: no dilation (cuDNN's pooling has
 * none), no divisor override, and the floor-mode output size, so that every window lies within
 * the padded input: then cuDNN's divisors (the whole window with count_include_pad, the
 * window's input elements without) are PyTorch's. A ceil-mode output with an extra, clipped
 * window runs on the plugin's kernels. */
static inline bool sb_cudnn_pool_eligible(const sb_cudnn_pool_case *k)
{
    if (!k->floating) return false;
    if (k->dilation[0] != 1 || k->dilation[1] != 1) return false;
    if (!k->is_max && k->divisor_override > 0) return false;
    const int64_t in[2] = {k->h, k->w}, out[2] = {k->oh, k->ow};
    for (int i = 0; i < 2; i++) {
        if (k->stride[i] < 1 || k->kernel[i] < 1 || k->pad[i] < 0) return false;
        if (k->pad[i] >= k->kernel[i]) return false;
        if (in[i] + 2 * k->pad[i] < k->kernel[i]) return false;
        if (out[i] != (in[i] + 2 * k->pad[i] - k->kernel[i]) / k->stride[i] + 1) return false;
    }
    const int64_t dims[] = {k->n,      k->c,      k->h,         k->w,
                            k->oh,     k->ow,     k->kernel[0], k->kernel[1],
                            k->pad[0], k->pad[1], k->stride[0], k->stride[1]};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (!sb_cudnn_fits_int(dims[i])) return false;
    const double max = (double)SB_CUDNN_MAX_NUMEL;
    return (double)k->n * (double)k->c * (double)k->h * (double)k->w <= max;
}

#endif
