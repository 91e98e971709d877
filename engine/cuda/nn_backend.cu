// The CUDA table of engine/nn/backend.h. The front-end guarantees contiguous tensors of one
// floating dtype; kernels compute in fp32 for float16/bfloat16 (fp64 for float64).
// conv2d and pooling go to cuDNN when it is in use (dnn.h); otherwise conv2d is im2col + cuBLAS
// GEMM (a 1x1 stride-1 convolution reads the input directly, a depthwise one has a direct
// kernel) and pooling has kernels of its own. conv2d fuses batch norm (folded into the
// weights), a residual and an activation on every path.
#include <math.h>

#include "cuda/blas.h"
#include "cuda/dnn.h"
#include "cuda/internal.h"
#include "cuda/kernels.cuh"
#include "nn/backend.h"

static sb_status unsupported(const char *op, const sb_tensor *x)
{
    return unsupported_dtype(op, x->dtype);
}

// --- linear --------------------------------------------------------------------------------

// out [rows, cols] = bias[c] for every row (the GEMM then accumulates onto it).
template <typename T>
__global__ void broadcast_rows_kernel(T *out, const T *bias, int64_t rows, int64_t cols,
                                      int64_t inner)
{
    SB_GRID_STRIDE_LOOP(i, rows * cols * inner) out[i] = bias[(i / inner) % cols];
}

static sb_status fill_bias(cudaStream_t stream, sb_tensor *out, const void *bias, int64_t rows,
                           int64_t cols, int64_t inner)
{
    int64_t n = rows * cols * inner;
    SB_CUDA_DISPATCH_FLOATING(out->dtype, return unsupported("bias", out),
                              broadcast_rows_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(
                                  (T *)data_of(out), (const T *)bias, rows, cols, inner))
    return SB_CUDA_LAUNCH_CHECK("broadcast_rows_kernel");
}

static sb_status cuda_linear(sb_tensor *out, const sb_tensor *x, const sb_tensor *weight,
                             const sb_tensor *bias)
{
    int64_t N = x->sizes[0], I = x->sizes[1], O = weight->sizes[0];
    if (N == 0 || O == 0) return SB_OK;
    int device = device_of(x);
    cudaStream_t stream;
    SB_TRY(sb_cuda_use_device(device, &stream));
    if (bias) SB_TRY(fill_bias(stream, out, data_of(bias), N, O, 1));
    if (I == 0) {
        if (bias) return SB_OK;
        return SB_CUDA_CHECK(
            cudaMemsetAsync(data_of(out), 0, (size_t)(N * O) * dtype_size(out->dtype), stream));
    }
    // out = x . weight^T: weight [O, I] read as the [I, O] matrix with strides (1, I).
    sb_gemm_operand a = {data_of(x), 0, I, 1};
    sb_gemm_operand b = {data_of(weight), 0, 1, I};
    sb_gemm_operand c = {data_of(out), 0, O, 1};
    return sb_cuda_gemm(device, x->dtype, 1, N, O, I, &a, &b, &c, bias != NULL);
}

// --- conv2d --------------------------------------------------------------------------------

// A window op's input and output planes (x, out [N, C, H, W]) and its strides, padding and
// dilations (h, w) into a geometry's fields.
template <typename G>
static void set_window(G &g, const sb_tensor *x, const sb_tensor *out, const int64_t *stride,
                       const int64_t *pad, const int64_t *dilation)
{
    g.H = x->sizes[2];
    g.W = x->sizes[3];
    g.OH = out->sizes[2];
    g.OW = out->sizes[3];
    g.sh = stride[0];
    g.sw = stride[1];
    g.ph = pad[0];
    g.pw = pad[1];
    g.dh = dilation[0];
    g.dw = dilation[1];
}

struct conv_geometry {
    int64_t C, H, W, KH, KW, OH, OW;
    int64_t sh, sw, ph, pw, dh, dw;
};

// col [n][c*KH*KW + kh*KW + kw][oh*OW + ow] = x[n][c][oh*sh - ph + kh*dh][ow*sw - pw + kw*dw]
// (0 outside the input), for `batch` images starting at x.
template <typename T>
__global__ void im2col_kernel(T *col, const T *x, int64_t batch, conv_geometry g)
{
    int64_t P = g.OH * g.OW, rows = g.C * g.KH * g.KW;
    SB_GRID_STRIDE_LOOP(i, batch * rows * P)
    {
        int64_t p = i % P, r = (i / P) % rows, n = i / (P * rows);
        int64_t kw = r % g.KW, kh = (r / g.KW) % g.KH, c = r / (g.KW * g.KH);
        int64_t ow = p % g.OW, oh = p / g.OW;
        int64_t ih = oh * g.sh - g.ph + kh * g.dh, iw = ow * g.sw - g.pw + kw * g.dw;
        T v = from_double<T>(0.0);
        if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W)
            v = x[((n * g.C + c) * g.H + ih) * g.W + iw];
        col[i] = v;
    }
}

// Depthwise convolution (groups == input channels: each output channel reads one input
// channel): a thread per output element summing its KH x KW window directly. As im2col + one
// GEMM per group it would be C tiny GEMMs (K = KH * KW) per chunk of images.
template <typename T>
__global__ void depthwise_conv_kernel(T *out, const T *x, const T *w, const T *bias, int64_t N,
                                      int64_t O, int64_t multiplier, conv_geometry g)
{
    using A = typename num<T>::acc;
    SB_GRID_STRIDE_LOOP(i, N * O * g.OH * g.OW)
    {
        int64_t ow = i % g.OW, oh = (i / g.OW) % g.OH, o = (i / (g.OW * g.OH)) % O;
        int64_t n = i / (g.OW * g.OH * O), c = o / multiplier;
        const T *plane = x + (n * g.C + c) * g.H * g.W;
        const T *k = w + o * g.KH * g.KW;
        A sum = bias ? num<T>::load(bias[o]) : A(0);
        for (int64_t kh = 0; kh < g.KH; kh++) {
            int64_t ih = oh * g.sh - g.ph + kh * g.dh;
            if (ih < 0 || ih >= g.H) continue;
            for (int64_t kw = 0; kw < g.KW; kw++) {
                int64_t iw = ow * g.sw - g.pw + kw * g.dw;
                if (iw < 0 || iw >= g.W) continue;
                sum += num<T>::load(plane[ih * g.W + iw]) * num<T>::load(k[kh * g.KW + kw]);
            }
        }
        out[i] = num<T>::store(sum);
    }
}

// Bytes of im2col buffer per step: bounded so that a large batch (ResNet at 1024 images)
// runs in chunks instead of asking for gigabytes.
static const size_t kIm2colBudget = (size_t)256 << 20;

// out [N, O, OH, OW] = conv(x, w) + b with the plugin's own kernels: the direct depthwise
// kernel, or im2col + cuBLAS GEMM. w and b are device pointers of x's dtype (b may be NULL).
static sb_status conv2d_own(cudaStream_t stream, sb_tensor *out, const sb_tensor *x, const void *w,
                            const void *b, conv_geometry g, int64_t O, int64_t groups)
{
    int64_t N = x->sizes[0], G = groups, P = g.OH * g.OW;
    int64_t Og = O / G, Kg = (g.C / G) * g.KH * g.KW, CKK = g.C * g.KH * g.KW;
    int device = device_of(x);
    if (G > 1 && G == g.C) {
        int64_t n = N * O * P;
        SB_CUDA_DISPATCH_FLOATING(
            x->dtype, return unsupported("conv2d", x),
            depthwise_conv_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(
                (T *)data_of(out), (const T *)data_of(x), (const T *)w, (const T *)b, N, O, Og, g))
        return SB_CUDA_LAUNCH_CHECK("depthwise_conv_kernel");
    }
    if (b) SB_TRY(fill_bias(stream, out, b, N, O, P));
    size_t elsize = dtype_size(x->dtype);
    char *px = (char *)data_of(x), *pw = (char *)w, *po = (char *)data_of(out);

    bool direct = g.KH == 1 && g.KW == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
    int64_t chunk = N;
    void *col = NULL;
    if (!direct) {
        size_t per_image = (size_t)CKK * (size_t)P * elsize;
        chunk = per_image ? (int64_t)(kIm2colBudget / per_image) : N;
        if (chunk < 1) chunk = 1;
        if (chunk > N) chunk = N;
        SB_TRY(sb_cuda_host_services->device_alloc(device, (size_t)chunk * per_image, &col));
    }
    sb_status st = SB_OK;
    for (int64_t n0 = 0; n0 < N && st == SB_OK; n0 += chunk) {
        int64_t nb = N - n0 < chunk ? N - n0 : chunk;
        char *cols = (char *)col;
        if (direct) {
            cols = px + n0 * g.C * g.H * g.W * (int64_t)elsize; // [nb][C][H*W] is the im2col
        } else {
            int64_t n = nb * CKK * P;
            SB_CUDA_DISPATCH_FLOATING(
                x->dtype, st = unsupported("conv2d", x),
                im2col_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(
                    (T *)col, (const T *)(px + n0 * g.C * g.H * g.W * (int64_t)elsize), nb, g))
            if (st == SB_OK) st = SB_CUDA_LAUNCH_CHECK("im2col_kernel");
        }
        // out_g [n][Og, P] (+)= W_g [Og, Kg] . col_g [n][Kg, P] for every image n and group g,
        // as strided-batched GEMMs over whichever of the two is longer: one call per group
        // (batched over the images) or, with more groups than images, one per image (batched
        // over the groups), never one per (image, group).
        if (G == 1 || nb >= G) {
            for (int64_t gi = 0; gi < G && st == SB_OK; gi++) {
                sb_gemm_operand a = {pw + gi * Og * Kg * (int64_t)elsize, 0, Kg, 1};
                sb_gemm_operand bm = {cols + gi * Kg * P * (int64_t)elsize, CKK * P, P, 1};
                sb_gemm_operand c = {po + (n0 * O + gi * Og) * P * (int64_t)elsize, O * P, P, 1};
                st = sb_cuda_gemm(device, x->dtype, nb, Og, P, Kg, &a, &bm, &c, b != NULL);
            }
        } else {
            for (int64_t i = 0; i < nb && st == SB_OK; i++) {
                sb_gemm_operand a = {pw, Og * Kg, Kg, 1};
                sb_gemm_operand bm = {cols + i * CKK * P * (int64_t)elsize, Kg * P, P, 1};
                sb_gemm_operand c = {po + (n0 + i) * O * P * (int64_t)elsize, Og * P, P, 1};
                st = sb_cuda_gemm(device, x->dtype, G, Og, P, Kg, &a, &bm, &c, b != NULL);
            }
        }
    }
    if (col) sb_cuda_host_services->device_free(device, col);
    return st;
}

// Batch norm folded into the convolution (inference), as the CPU folds it
// (engine/nn/cpu/weight_cache.c): per output channel, scale = gamma / sqrt(var + eps) in double,
// w' = w * scale, b' = (b - mean) * scale + beta.
template <typename T>
__global__ void fold_bn_kernel(T *w_out, T *b_out, const T *w, const T *b, const T *mean,
                               const T *var, const T *gamma, const T *beta, double eps, int64_t O,
                               int64_t per)
{
    // A thread per weight, at least one per channel (a convolution over no input channels still
    // has its bias).
    int64_t span = per > 0 ? per : 1;
    SB_GRID_STRIDE_LOOP(i, O * span)
    {
        int64_t o = i / span, k = i % span;
        double scale = (gamma ? (double)num<T>::load(gamma[o]) : 1.0) /
                       sqrt((double)num<T>::load(var[o]) + eps);
        if (per > 0)
            w_out[i] = num<T>::store(
                static_cast<typename num<T>::acc>((double)num<T>::load(w[i]) * scale));
        if (k == 0)
            b_out[o] = num<T>::store(static_cast<typename num<T>::acc>(
                ((b ? (double)num<T>::load(b[o]) : 0.0) - (double)num<T>::load(mean[o])) * scale +
                (beta ? (double)num<T>::load(beta[o]) : 0.0)));
    }
}

// out = act(out + bias[o] + residual): what the convolution did not fuse, in one pass (the
// formulas of the CPU's post-ops and of nn/functional.c's unfused epilogue).
template <typename A> __device__ __forceinline__ A conv_activate(sb_conv_act act, A v)
{
    switch (act) {
    case SB_CONV_ACT_RELU:
        return v <= A(0) ? A(0) : v; // NaN stays NaN
    case SB_CONV_ACT_RELU6:
        return v <= A(0) ? A(0) : (v >= A(6) ? A(6) : v);
    case SB_CONV_ACT_HARDSWISH: {
        A t = v + A(3);
        t = t <= A(0) ? A(0) : (t >= A(6) ? A(6) : t);
        return v * t / A(6);
    }
    case SB_CONV_ACT_SILU:
        return v / (A(1) + exp(-v));
    default:
        return v;
    }
}

template <typename T>
__global__ void conv_epilogue_kernel(T *out, const T *bias, const T *residual, sb_conv_act act,
                                     int64_t O, int64_t P, int64_t n)
{
    using A = typename num<T>::acc;
    SB_GRID_STRIDE_LOOP(i, n)
    {
        A v = num<T>::load(out[i]);
        if (bias) v += num<T>::load(bias[(i / P) % O]);
        if (residual) v += num<T>::load(residual[i]);
        out[i] = num<T>::store(conv_activate(act, v));
    }
}

static sb_status conv_epilogue(cudaStream_t stream, sb_tensor *out, const void *bias,
                               const sb_tensor *residual, sb_conv_act act, int64_t O, int64_t P)
{
    int64_t n = numel_of(out);
    SB_CUDA_DISPATCH_FLOATING(out->dtype, return unsupported("conv2d", out),
                              conv_epilogue_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(
                                  (T *)data_of(out), (const T *)bias,
                                  residual ? (const T *)data_of(residual) : NULL, act, O, P, n))
    return SB_CUDA_LAUNCH_CHECK("conv_epilogue_kernel");
}

// The scratch copy of a convolution's weights and bias with batch norm folded in.
struct folded_weights {
    void *w = NULL, *b = NULL;
    int device = 0;
    ~folded_weights()
    {
        if (w) sb_cuda_host_services->device_free(device, w);
        if (b) sb_cuda_host_services->device_free(device, b);
    }
};

static sb_status fold_bn(cudaStream_t stream, const sb_tensor *weight, const sb_tensor *bias,
                         const sb_conv_bn *bn, folded_weights *f)
{
    int64_t O = weight->sizes[0], per = numel_of(weight) / O;
    size_t elsize = dtype_size(weight->dtype);
    f->device = device_of(weight);
    SB_TRY(sb_cuda_host_services->device_alloc(f->device,
                                               (size_t)(O * (per > 0 ? per : 1)) * elsize, &f->w));
    SB_TRY(sb_cuda_host_services->device_alloc(f->device, (size_t)O * elsize, &f->b));
    int64_t n = O * (per > 0 ? per : 1);
    SB_CUDA_DISPATCH_FLOATING(weight->dtype, return unsupported("conv2d", weight),
                              fold_bn_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(
                                  (T *)f->w, (T *)f->b, (const T *)data_of(weight),
                                  bias ? (const T *)data_of(bias) : NULL,
                                  (const T *)data_of(bn->mean), (const T *)data_of(bn->var),
                                  bn->weight ? (const T *)data_of(bn->weight) : NULL,
                                  bn->bias ? (const T *)data_of(bn->bias) : NULL, bn->eps, O, per))
    return SB_CUDA_LAUNCH_CHECK("fold_bn_kernel");
}

// cuDNN when it is there and takes the case (dnn.h), else the plugin's own kernels; then what
// neither fused: the batch norm is folded into the weights first (as on the CPU), the residual
// and the activation follow in one epilogue pass.
static sb_status cuda_conv2d(sb_tensor *out, const sb_tensor *x, const sb_tensor *weight,
                             const sb_tensor *bias, const sb_conv2d_params *p)
{
    int64_t N = x->sizes[0], O = weight->sizes[0];
    conv_geometry g;
    g.C = x->sizes[1];
    g.KH = weight->sizes[2];
    g.KW = weight->sizes[3];
    set_window(g, x, out, p->stride, p->pad, p->dilation);
    int64_t P = g.OH * g.OW;
    if (N == 0 || O == 0 || P == 0) return SB_OK;
    if (!dtype_is_floating(x->dtype)) return unsupported("conv2d", x);
    const sb_conv2d_fusion *fusion = p->fusion;
    const sb_conv_act act = fusion ? fusion->act : (p->relu ? SB_CONV_ACT_RELU : SB_CONV_ACT_NONE);
    const sb_tensor *residual = fusion ? fusion->residual : NULL;
    cudaStream_t stream;
    SB_TRY(sb_cuda_use_device(device_of(x), &stream));
    const void *w = data_of(weight), *b = bias ? data_of(bias) : NULL;
    folded_weights folded;
    if (fusion && fusion->bn) {
        SB_TRY(fold_bn(stream, weight, bias, fusion->bn, &folded));
        w = folded.w;
        b = folded.b;
    }

    sb_dnn_conv c;
    c.device = device_of(x);
    c.dtype = x->dtype;
    c.n = N;
    c.c = g.C;
    c.h = g.H;
    c.w = g.W;
    c.o = O;
    c.kh = g.KH;
    c.kw = g.KW;
    c.oh = g.OH;
    c.ow = g.OW;
    for (int i = 0; i < 2; i++) {
        c.stride[i] = p->stride[i];
        c.pad[i] = p->pad[i];
        c.dilation[i] = p->dilation[i];
    }
    c.groups = p->groups;
    c.x = data_of(x);
    c.weight = w;
    c.bias = b;
    c.residual = residual ? data_of(residual) : NULL;
    c.out = data_of(out);
    c.relu = act == SB_CONV_ACT_RELU;
    sb_dnn_result done;
    SB_TRY(sb_dnn_conv2d(&c, &done));
    if (done == SB_DNN_FUSED) return SB_OK;
    if (done == SB_DNN_CONV) {
        if (!b && !residual && act == SB_CONV_ACT_NONE) return SB_OK;
        return conv_epilogue(stream, out, b, residual, act, O, P);
    }
    SB_TRY(conv2d_own(stream, out, x, w, b, g, O, p->groups));
    if (!residual && act == SB_CONV_ACT_NONE) return SB_OK;
    return conv_epilogue(stream, out, NULL, residual, act, O, P);
}

// --- pooling -------------------------------------------------------------------------------

struct pool_geometry {
    int64_t NC, H, W, OH, OW;
    int64_t kh, kw, sh, sw, ph, pw, dh, dw;
    bool count_include_pad;
    int64_t divisor_override;
};

static pool_geometry pool_geometry_of(const sb_tensor *out, const sb_tensor *x,
                                      const sb_pool2d_params *p)
{
    pool_geometry g;
    g.NC = x->sizes[0] * x->sizes[1];
    g.kh = p->kernel[0];
    g.kw = p->kernel[1];
    set_window(g, x, out, p->stride, p->pad, p->dilation);
    g.count_include_pad = p->count_include_pad;
    g.divisor_override = p->divisor_override;
    return g;
}

template <typename T> __global__ void max_pool_kernel(T *out, const T *x, pool_geometry g)
{
    using A = typename num<T>::acc;
    SB_GRID_STRIDE_LOOP(i, g.NC * g.OH * g.OW)
    {
        int64_t ow = i % g.OW, oh = (i / g.OW) % g.OH, nc = i / (g.OW * g.OH);
        const T *plane = x + nc * g.H * g.W;
        A best = -INFINITY;
        for (int64_t kh = 0; kh < g.kh; kh++) {
            int64_t ih = oh * g.sh - g.ph + kh * g.dh;
            if (ih < 0 || ih >= g.H) continue;
            for (int64_t kw = 0; kw < g.kw; kw++) {
                int64_t iw = ow * g.sw - g.pw + kw * g.dw;
                if (iw < 0 || iw >= g.W) continue;
                A v = num<T>::load(plane[ih * g.W + iw]);
                if (v > best || v != v) best = v; // NaN propagates
                if (best != best) break;
            }
            if (best != best) break;
        }
        out[i] = num<T>::store(best);
    }
}

// PyTorch's avg_pool2d: the divisor counts the window clipped to input + padding (or only
// the input with count_include_pad = false), unless divisor_override is given.
template <typename T> __global__ void avg_pool_kernel(T *out, const T *x, pool_geometry g)
{
    using A = typename num<T>::acc;
    SB_GRID_STRIDE_LOOP(i, g.NC * g.OH * g.OW)
    {
        int64_t ow = i % g.OW, oh = (i / g.OW) % g.OH, nc = i / (g.OW * g.OH);
        int64_t hstart = oh * g.sh - g.ph, wstart = ow * g.sw - g.pw;
        int64_t hend = min(hstart + g.kh, g.H + g.ph), wend = min(wstart + g.kw, g.W + g.pw);
        int64_t pool_size = (hend - hstart) * (wend - wstart);
        hstart = max(hstart, (int64_t)0);
        wstart = max(wstart, (int64_t)0);
        hend = min(hend, g.H);
        wend = min(wend, g.W);
        if (hstart >= hend || wstart >= wend) {
            out[i] = num<T>::store(A(0));
            continue;
        }
        const T *plane = x + nc * g.H * g.W;
        A sum = 0;
        for (int64_t ih = hstart; ih < hend; ih++)
            for (int64_t iw = wstart; iw < wend; iw++)
                sum += num<T>::load(plane[ih * g.W + iw]);
        int64_t divisor = g.divisor_override > 0 ? g.divisor_override
                          : g.count_include_pad  ? pool_size
                                                 : (hend - hstart) * (wend - wstart);
        out[i] = num<T>::store(sum / (A)divisor);
    }
}

static sb_status pool2d(const char *op, bool is_max, sb_tensor *out, const sb_tensor *x,
                        const sb_pool2d_params *p)
{
    pool_geometry g = pool_geometry_of(out, x, p);
    int64_t n = g.NC * g.OH * g.OW;
    if (n == 0) return SB_OK;
    cudaStream_t stream;
    SB_TRY(sb_cuda_use_device(device_of(x), &stream));
    sb_dnn_pool d;
    d.device = device_of(x);
    d.dtype = x->dtype;
    d.is_max = is_max;
    d.count_include_pad = p->count_include_pad;
    d.n = x->sizes[0];
    d.c = x->sizes[1];
    d.h = g.H;
    d.w = g.W;
    d.oh = g.OH;
    d.ow = g.OW;
    for (int i = 0; i < 2; i++) {
        d.kernel[i] = p->kernel[i];
        d.stride[i] = p->stride[i];
        d.pad[i] = p->pad[i];
        d.dilation[i] = is_max ? p->dilation[i] : 1;
    }
    d.divisor_override = p->divisor_override;
    d.x = data_of(x);
    d.out = data_of(out);
    bool done = false;
    SB_TRY(sb_dnn_pool2d(&d, &done));
    if (done) return SB_OK;
    SB_CUDA_DISPATCH_FLOATING(
        x->dtype, return unsupported(op, x),
        if (is_max) max_pool_kernel<T>
        <<<blocks_for(n), kThreads, 0, stream>>>((T *)data_of(out), (const T *)data_of(x), g);
        else avg_pool_kernel<T>
        <<<blocks_for(n), kThreads, 0, stream>>>((T *)data_of(out), (const T *)data_of(x), g))
    return SB_CUDA_LAUNCH_CHECK(is_max ? "max_pool_kernel" : "avg_pool_kernel");
}

static sb_status cuda_max_pool2d(sb_tensor *out, const sb_tensor *x, const sb_pool2d_params *p)
{
    return pool2d("max_pool2d", true, out, x, p);
}

static sb_status cuda_avg_pool2d(sb_tensor *out, const sb_tensor *x, const sb_pool2d_params *p)
{
    return pool2d("avg_pool2d", false, out, x, p);
}

template <typename T>
__global__ void adaptive_avg_pool_kernel(T *out, const T *x, int64_t NC, int64_t H, int64_t W,
                                         int64_t OH, int64_t OW)
{
    using A = typename num<T>::acc;
    SB_GRID_STRIDE_LOOP(i, NC * OH * OW)
    {
        int64_t ow = i % OW, oh = (i / OW) % OH, nc = i / (OW * OH);
        int64_t h0 = oh * H / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
        int64_t w0 = ow * W / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
        const T *plane = x + nc * H * W;
        A sum = 0;
        for (int64_t ih = h0; ih < h1; ih++)
            for (int64_t iw = w0; iw < w1; iw++)
                sum += num<T>::load(plane[ih * W + iw]);
        out[i] = num<T>::store(sum / (A)((h1 - h0) * (w1 - w0)));
    }
}

static sb_status cuda_adaptive_avg_pool2d(sb_tensor *out, const sb_tensor *x)
{
    int64_t NC = x->sizes[0] * x->sizes[1], H = x->sizes[2], W = x->sizes[3];
    int64_t OH = out->sizes[2], OW = out->sizes[3], n = NC * OH * OW;
    if (n == 0) return SB_OK;
    cudaStream_t stream;
    SB_TRY(sb_cuda_use_device(device_of(x), &stream));
    SB_CUDA_DISPATCH_FLOATING(x->dtype, return unsupported("adaptive_avg_pool2d", x),
                              adaptive_avg_pool_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(
                                  (T *)data_of(out), (const T *)data_of(x), NC, H, W, OH, OW))
    return SB_CUDA_LAUNCH_CHECK("adaptive_avg_pool_kernel");
}

// --- batch norm, activations, softmax ------------------------------------------------------

template <typename T>
__global__ void batch_norm_kernel(T *out, const T *x, const T *mean, const T *var, const T *weight,
                                  const T *bias, double eps, int64_t C, int64_t L, int64_t n)
{
    using A = typename num<T>::acc;
    SB_GRID_STRIDE_LOOP(i, n)
    {
        int64_t c = (i / L) % C;
        A scale = A(1) / sqrt(num<T>::load(var[c]) + (A)eps);
        if (weight) scale *= num<T>::load(weight[c]);
        A shift = bias ? num<T>::load(bias[c]) : A(0);
        out[i] = num<T>::store((num<T>::load(x[i]) - num<T>::load(mean[c])) * scale + shift);
    }
}

static sb_status cuda_batch_norm(sb_tensor *out, const sb_tensor *x, const sb_tensor *running_mean,
                                 const sb_tensor *running_var, const sb_tensor *weight,
                                 const sb_tensor *bias, double eps)
{
    int64_t n = numel_of(x);
    if (n == 0) return SB_OK;
    int64_t C = x->ndim > 1 ? x->sizes[1] : 1;
    int64_t L = 1;
    for (int d = 2; d < x->ndim; d++)
        L *= x->sizes[d];
    cudaStream_t stream;
    SB_TRY(sb_cuda_use_device(device_of(x), &stream));
    SB_CUDA_DISPATCH_FLOATING(x->dtype, return unsupported("batch_norm", x),
                              batch_norm_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(
                                  (T *)data_of(out), (const T *)data_of(x),
                                  (const T *)data_of(running_mean), (const T *)data_of(running_var),
                                  weight ? (const T *)data_of(weight) : NULL,
                                  bias ? (const T *)data_of(bias) : NULL, eps, C, L, n))
    return SB_CUDA_LAUNCH_CHECK("batch_norm_kernel");
}

// One device function per activation, act_<kernel> for each row of nn/op_table.h.
template <typename A> __device__ __forceinline__ A act_relu(A v)
{
    return v <= A(0) ? A(0) : v; // NaN stays NaN
}
template <typename A> __device__ __forceinline__ A act_gelu(A v)
{
    return A(0.5) * v * (A(1) + erf(v * A(0.70710678118654752440)));
}
template <typename A> __device__ __forceinline__ A act_gelu_tanh(A v)
{
    const A k = A(0.79788456080286535588); // sqrt(2 / pi)
    return A(0.5) * v * (A(1) + tanh(k * (v + A(0.044715) * v * v * v)));
}
template <typename A> __device__ __forceinline__ A act_sigmoid(A v)
{
    return A(1) / (A(1) + exp(-v));
}
template <typename A> __device__ __forceinline__ A act_tanh(A v)
{
    return tanh(v);
}

template <typename A> __device__ __forceinline__ A activate(sb_nn_activation act, A v)
{
    switch (act) {
#define SB_CUDA_ACT_CASE(E, kernel, name, binding)                                                 \
    case SB_ACT_##E:                                                                               \
        return act_##kernel(v);
        SB_NN_ACTIVATIONS(SB_CUDA_ACT_CASE)
#undef SB_CUDA_ACT_CASE
    default:
        return v;
    }
}

template <typename T>
__global__ void activation_kernel(sb_nn_activation act, T *out, const T *x, int64_t n)
{
    SB_GRID_STRIDE_LOOP(i, n) out[i] = num<T>::store(activate(act, num<T>::load(x[i])));
}

static sb_status cuda_activation(sb_nn_activation act, sb_tensor *out, const sb_tensor *x)
{
    int64_t n = numel_of(x);
    if (n == 0) return SB_OK;
    cudaStream_t stream;
    SB_TRY(sb_cuda_use_device(device_of(x), &stream));
    SB_CUDA_DISPATCH_FLOATING(x->dtype, return unsupported("activation", x),
                              activation_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(
                                  act, (T *)data_of(out), (const T *)data_of(x), n))
    return SB_CUDA_LAUNCH_CHECK("activation_kernel");
}

// softmax over [outer, dim, inner]. The common case, inner == 1 (logits over the last dim), is
// a block per row: its threads read the row together (coalesced) and combine the max and the
// sum of exponentials with warp shuffles. With inner > 1, one thread per (outer, inner)
// position: neighbouring threads read neighbouring positions, coalesced already.

// max that propagates NaN (the CPU's rule: once NaN, NaN).
template <typename A> __device__ __forceinline__ A nan_max(A a, A b)
{
    return (a != a || a > b) ? a : b;
}

// Every thread's `v` combined over the block (max or sum); the result is returned to all.
// `shared` holds one value per warp; the caller's block size is a multiple of 32.
template <bool MAX, typename A> __device__ A block_combine(A v, A *shared)
{
    for (int offset = 16; offset > 0; offset >>= 1) {
        A o = __shfl_xor_sync(0xffffffffu, v, offset);
        v = MAX ? nan_max(v, o) : v + o;
    }
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
    __syncthreads(); // shared is free (a previous call's readers are done)
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < warps ? shared[lane] : (MAX ? A(-INFINITY) : A(0));
    for (int offset = 16; offset > 0; offset >>= 1) {
        A o = __shfl_xor_sync(0xffffffffu, v, offset);
        v = MAX ? nan_max(v, o) : v + o;
    }
    return v;
}

template <typename T>
__global__ void softmax_rows_kernel(T *out, const T *x, int64_t rows, int64_t dim, bool log_softmax)
{
    using A = typename num<T>::acc;
    __shared__ A shared[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *row = x + r * dim;
        T *orow = out + r * dim;
        A m = -INFINITY;
        for (int64_t j = threadIdx.x; j < dim; j += blockDim.x)
            m = nan_max(num<T>::load(row[j]), m);
        m = block_combine<true>(m, shared);
        A sum = 0;
        for (int64_t j = threadIdx.x; j < dim; j += blockDim.x)
            sum += exp(num<T>::load(row[j]) - m);
        sum = block_combine<false>(sum, shared);
        A lse = log(sum);
        for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) {
            A v = num<T>::load(row[j]) - m;
            orow[j] = num<T>::store(log_softmax ? v - lse : exp(v) / sum);
        }
    }
}

template <typename T>
__global__ void softmax_kernel(T *out, const T *x, int64_t outer, int64_t dim, int64_t inner,
                               bool log_softmax)
{
    using A = typename num<T>::acc;
    SB_GRID_STRIDE_LOOP(i, outer * inner)
    {
        int64_t o = i / inner, in = i % inner;
        const T *row = x + o * dim * inner + in;
        T *orow = out + o * dim * inner + in;
        A m = -INFINITY;
        for (int64_t j = 0; j < dim; j++)
            m = nan_max(num<T>::load(row[j * inner]), m);
        A sum = 0;
        for (int64_t j = 0; j < dim; j++)
            sum += exp(num<T>::load(row[j * inner]) - m);
        A lse = log(sum);
        for (int64_t j = 0; j < dim; j++) {
            A v = num<T>::load(row[j * inner]) - m;
            orow[j * inner] = num<T>::store(log_softmax ? v - lse : exp(v) / sum);
        }
    }
}

static sb_status cuda_softmax(sb_tensor *out, const sb_tensor *x, int64_t outer, int64_t dim,
                              int64_t inner, bool log)
{
    int64_t n = outer * inner;
    if (n == 0 || dim == 0) return SB_OK;
    cudaStream_t stream;
    SB_TRY(sb_cuda_use_device(device_of(x), &stream));
    if (inner == 1) {
        // A warp per 32 elements of the row, up to 256 threads; rows spread over the grid.
        int threads = dim >= kThreads ? kThreads : (int)((dim + 31) / 32 * 32);
        unsigned blocks = outer < 65535 * 16 ? (unsigned)outer : 65535u * 16;
        SB_CUDA_DISPATCH_FLOATING(x->dtype, return unsupported(log ? "log_softmax" : "softmax", x),
                                  softmax_rows_kernel<T><<<blocks, threads, 0, stream>>>(
                                      (T *)data_of(out), (const T *)data_of(x), outer, dim, log))
        return SB_CUDA_LAUNCH_CHECK("softmax_rows_kernel");
    }
    SB_CUDA_DISPATCH_FLOATING(x->dtype, return unsupported(log ? "log_softmax" : "softmax", x),
                              softmax_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(
                                  (T *)data_of(out), (const T *)data_of(x), outer, dim, inner, log))
    return SB_CUDA_LAUNCH_CHECK("softmax_kernel");
}

// --- the table -----------------------------------------------------------------------------

static sb_nn_backend cuda_nn_backend;

const sb_nn_backend *sb_cuda_nn_backend(void)
{
    cuda_nn_backend.name = "cuda";
    // Every conv2d path (cuDNN or not) applies the ReLU, the folded batch norm, the residual
    // and the other activations itself (cuda_conv2d).
    cuda_nn_backend.conv2d_relu = true;
    cuda_nn_backend.conv2d_fusion = true;
#define SB_CUDA_NN_SLOT(slot) cuda_nn_backend.slot = cuda_##slot;
    SB_NN_KERNELS(SB_CUDA_NN_SLOT)
#undef SB_CUDA_NN_SLOT
    return &cuda_nn_backend;
}
