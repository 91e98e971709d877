/* nn functional front-ends: checks, PyTorch's shape rules, dispatch to the nn backend. */
#include "nn/functional.h"

#include "tensor/ops.h"

#include <stdio.h>
#include <string.h>

/* `arg` must live on x's device and have x's dtype. */
static sb_status check_like(const char *op, const char *arg, const sb_tensor *x, const sb_tensor *t)
{
    sb_device dx = sb_tensor_device(x), dt = sb_tensor_device(t);
    if (!sb_device_equal(dx, dt)) {
        char a[32], b[32];
        sb_device_format(dt, a, sizeof a);
        sb_device_format(dx, b, sizeof b);
        return sb_fail(SB_EINVAL, "%s: %s is on %s but input is on %s", op, arg, a, b);
    }
    if (t->dtype != x->dtype)
        return sb_fail(SB_EINVAL, "%s: %s is %s but input is %s", op, arg, sb_dtype_name(t->dtype),
                       sb_dtype_name(x->dtype));
    return SB_OK;
}

static sb_status check_floating(const char *op, const sb_tensor *x)
{
    if (!sb_dtype_is_floating(x->dtype))
        return sb_fail(SB_EINVAL, "%s: input must be a floating-point tensor, got %s", op,
                       sb_dtype_name(x->dtype));
    return SB_OK;
}

/* A 1-D tensor of `n` elements (a per-channel parameter). */
static sb_status check_vector(const char *op, const char *arg, const sb_tensor *x,
                              const sb_tensor *t, int64_t n, const char *what)
{
    SB_TRY(check_like(op, arg, x, t));
    if (t->ndim != 1 || t->sizes[0] != n)
        return sb_fail(SB_EINVAL, "%s: %s must have shape [%lld] (%s), got %s", op, arg,
                       (long long)n, what, sb_tensor_shape_text(t).s);
    return SB_OK;
}

/* The header of contiguous `t` reshaped to `sizes` (same numel), without touching the
 * storage's refcount: valid only while `t` lives. Kernels only read sizes and data. */
static sb_tensor reshaped(const sb_tensor *t, int ndim, const int64_t *sizes)
{
    sb_tensor v = *t;
    v.ndim = ndim;
    int64_t stride = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        v.sizes[d] = sizes[d];
        v.strides[d] = stride;
        stride *= sizes[d];
    }
    return v;
}

/* Contiguous versions of the given tensors (aliases when already contiguous). */
typedef struct contig_set {
    sb_tensor *t[10];
    int n;
} contig_set;

static sb_status contig_add(contig_set *set, const sb_tensor *t, const sb_tensor **out)
{
    if (!t) {
        *out = NULL;
        return SB_OK;
    }
    sb_tensor *c;
    SB_TRY(sb_tensor_contiguous(t, &c));
    set->t[set->n++] = c;
    *out = c;
    return SB_OK;
}

/* contig_add for n tensors: out[i] is the contiguous in[i] (NULL stays NULL). */
static sb_status contig_all(contig_set *set, int n, const sb_tensor *const *in,
                            const sb_tensor **out)
{
    for (int i = 0; i < n; i++)
        SB_TRY(contig_add(set, in[i], &out[i]));
    return SB_OK;
}

static void contig_free(contig_set *set)
{
    for (int i = 0; i < set->n; i++)
        sb_tensor_free(set->t[i]);
    set->n = 0;
}

static sb_status backend_of(const sb_tensor *x, const sb_nn_backend **b)
{
    return sb_nn_backend_for(sb_tensor_device(x), b);
}

/* Runs after a kernel: frees the output on failure. */
static sb_status finish(sb_status st, contig_set *set, sb_tensor *y, sb_tensor **out)
{
    contig_free(set);
    if (st != SB_OK) {
        sb_tensor_free(y);
        return st;
    }
    *out = y;
    return SB_OK;
}

/* ---- linear ---------------------------------------------------------------------------- */

sb_status sb_nn_linear(const sb_tensor *x, const sb_tensor *weight, const sb_tensor *bias,
                       sb_tensor **out)
{
    const char *op = "linear";
    SB_TRY(check_floating(op, x));
    SB_TRY(check_like(op, "weight", x, weight));
    if (weight->ndim != 2)
        return sb_fail(SB_EINVAL, "%s: weight must be 2-D (out_features, in_features), got %d-D %s",
                       op, weight->ndim, sb_tensor_shape_text(weight).s);
    if (x->ndim < 1)
        return sb_fail(SB_EINVAL, "%s: input must have at least 1 dimension, got a 0-D tensor", op);
    const int64_t in = weight->sizes[1], o = weight->sizes[0];
    if (x->sizes[x->ndim - 1] != in)
        return sb_fail(SB_EINVAL,
                       "%s: input's last dimension must be in_features = %lld (weight %s), "
                       "got input %s",
                       op, (long long)in, sb_tensor_shape_text(weight).s,
                       sb_tensor_shape_text(x).s);
    if (bias) SB_TRY(check_vector(op, "bias", x, bias, o, "out_features"));
    const sb_nn_backend *be;
    SB_TRY(backend_of(x, &be));

    int64_t sizes[SB_MAX_DIMS];
    int64_t rows = 1;
    for (int d = 0; d < x->ndim - 1; d++) {
        sizes[d] = x->sizes[d];
        rows *= x->sizes[d];
    }
    sizes[x->ndim - 1] = o;
    sb_tensor *y;
    SB_TRY(sb_tensor_empty(x->ndim, sizes, x->dtype, sb_tensor_device(x), &y));
    contig_set set = {0};
    const sb_tensor *cs[3] = {NULL};
    sb_status st = contig_all(&set, 3, (const sb_tensor *[3]){x, weight, bias}, cs);
    const sb_tensor *xc = cs[0], *wc = cs[1], *bc = cs[2];
    if (st == SB_OK) {
        const int64_t xs[2] = {rows, in}, ys[2] = {rows, o};
        sb_tensor x2 = reshaped(xc, 2, xs), y2 = reshaped(y, 2, ys);
        st = be->linear(&y2, &x2, wc, bc);
    }
    return finish(st, &set, y, out);
}

/* ---- conv2d ---------------------------------------------------------------------------- */

sb_conv2d_options sb_conv2d_defaults(void)
{
    return (sb_conv2d_options){.stride = {1, 1},
                               .padding = {0, 0},
                               .dilation = {1, 1},
                               .groups = 1,
                               .padding_mode = SB_CONV_PAD_EXPLICIT};
}

/* The sizes of an image input: 4-D (N,C,H,W) or unbatched 3-D (C,H,W), read as N = 1. */
typedef struct image_shape {
    bool batched;
    int64_t n, c, h, w;
} image_shape;

static sb_status image_input(const char *op, const sb_tensor *x, image_shape *s)
{
    if (x->ndim != 4 && x->ndim != 3)
        return sb_fail(SB_EINVAL,
                       "%s: input must be 4-D (N,C,H,W) or unbatched 3-D (C,H,W), got %d-D %s", op,
                       x->ndim, sb_tensor_shape_text(x).s);
    SB_TRY(check_floating(op, x));
    s->batched = x->ndim == 4;
    const int64_t *chw = x->sizes + (s->batched ? 1 : 0);
    s->n = s->batched ? x->sizes[0] : 1;
    s->c = chw[0];
    s->h = chw[1];
    s->w = chw[2];
    return SB_OK;
}

/* The kernel call of an image op: y4 [N, C, OH, OW] from x4 [N, C, H, W], both contiguous. */
typedef sb_status (*image_kernel)(const sb_nn_backend *be, sb_tensor *y4, const sb_tensor *x4,
                                  const void *arg);

/* Allocates y [n, c, oh, ow] (3-D when x is unbatched) on x's device, makes x contiguous and
 * runs `kernel` on both seen as 4-D. */
static sb_status run_image_op(const sb_nn_backend *be, const sb_tensor *x, const image_shape *in,
                              int64_t oh, int64_t ow, image_kernel kernel, const void *arg,
                              sb_tensor **out)
{
    const int64_t ysizes[4] = {in->n, in->c, oh, ow};
    sb_tensor *y;
    SB_TRY(sb_tensor_empty(x->ndim, in->batched ? ysizes : ysizes + 1, x->dtype,
                           sb_tensor_device(x), &y));
    contig_set set = {0};
    const sb_tensor *xc;
    sb_status st = contig_add(&set, x, &xc);
    if (st == SB_OK && sb_tensor_numel(y) > 0) {
        const int64_t xs[4] = {in->n, in->c, in->h, in->w};
        sb_tensor x4 = reshaped(xc, 4, xs), y4 = reshaped(y, 4, ysizes);
        st = kernel(be, &y4, &x4, arg);
    }
    return finish(st, &set, y, out);
}

/* A 4-D [N, C, H, W] tensor laid out channels-last (NHWC memory) and not also contiguous. */
static bool is_channels_last(const sb_tensor *t)
{
    if (t->ndim != 4 || sb_tensor_is_contiguous(t)) return false;
    const int64_t c = t->sizes[1], h = t->sizes[2], w = t->sizes[3];
    const int64_t want[4] = {h * w * c, 1, w * c, c};
    for (int d = 0; d < 4; d++)
        if (t->sizes[d] > 1 && t->strides[d] != want[d]) return false;
    return true;
}

/* A new [n, c, h, w] tensor like x's laid out channels-last: [n, h, w, c] seen as
 * [n, c, h, w]. */
static sb_status empty_channels_last(const sb_tensor *x, int64_t n, int64_t c, int64_t h, int64_t w,
                                     sb_tensor **y)
{
    sb_tensor *nhwc;
    SB_TRY(
        sb_tensor_empty(4, (const int64_t[4]){n, h, w, c}, x->dtype, sb_tensor_device(x), &nhwc));
    sb_status st = sb_tensor_permute(nhwc, (const int[4]){0, 3, 1, 2}, y);
    sb_tensor_free(nhwc);
    return st;
}

/* *y = op(*y), replacing *y with the result (freeing the old one) when op succeeds. */
static sb_status replace(sb_tensor **y, sb_status st, sb_tensor *result)
{
    if (st != SB_OK) return st;
    sb_tensor_free(*y);
    *y = result;
    return SB_OK;
}

/* conv2d's batch norm, residual and activation as separate ops, for a backend that does
 * not fuse them: the same formulas as the Lua modules (nn/_layers.lua). */
static sb_status conv_epilogue(sb_tensor **y, const sb_conv_bn *bn, const sb_tensor *residual,
                               sb_conv_act act)
{
    sb_tensor *t = NULL, *u = NULL;
    if (bn) {
        SB_TRY(replace(
            y, sb_nn_batch_norm(*y, bn->mean, bn->var, bn->weight, bn->bias, bn->eps, &t), t));
    }
    if (residual) SB_TRY(sb_tensor_binary_(SB_BINARY_ADD, *y, residual));
    switch (act) {
    case SB_CONV_ACT_NONE:
        return SB_OK;
    case SB_CONV_ACT_RELU:
        return replace(y, sb_nn_activate(SB_ACT_RELU, *y, &t), t);
    case SB_CONV_ACT_RELU6:
        return replace(y, sb_tensor_clamp(*y, 0.0, 6.0, &t), t);
    case SB_CONV_ACT_SILU: {
        SB_TRY(sb_nn_activate(SB_ACT_SIGMOID, *y, &t));
        sb_status st = sb_tensor_binary_(SB_BINARY_MUL, t, *y);
        if (st != SB_OK) {
            sb_tensor_free(t);
            return st;
        }
        return replace(y, SB_OK, t);
    }
    case SB_CONV_ACT_HARDSWISH: { /* x * clamp(x + 3, 0, 6) / 6 */
        SB_TRY(sb_tensor_binary_scalar(SB_BINARY_ADD, *y, 3.0, false, &t));
        sb_status st = sb_tensor_clamp(t, 0.0, 6.0, &u);
        sb_tensor_free(t);
        if (st == SB_OK) st = sb_tensor_binary_(SB_BINARY_MUL, u, *y);
        if (st == SB_OK) st = sb_tensor_binary_scalar_(SB_BINARY_DIV, u, 6.0);
        if (st != SB_OK) {
            sb_tensor_free(u);
            return st;
        }
        return replace(y, SB_OK, u);
    }
    }
    return SB_OK;
}

sb_status sb_nn_conv2d(const sb_tensor *x, const sb_tensor *weight, const sb_tensor *bias,
                       const sb_conv2d_options *opt, sb_tensor **out)
{
    const char *op = "conv2d";
    image_shape in;
    SB_TRY(image_input(op, x, &in));
    SB_TRY(check_like(op, "weight", x, weight));
    if (weight->ndim != 4)
        return sb_fail(SB_EINVAL,
                       "%s: weight must be 4-D (out_channels, in_channels/groups, kH, kW), "
                       "got %d-D %s",
                       op, weight->ndim, sb_tensor_shape_text(weight).s);
    const int64_t groups = opt->groups;
    for (int i = 0; i < 2; i++) {
        if (opt->stride[i] < 1)
            return sb_fail(SB_EINVAL, "%s: stride must be positive, got %lld", op,
                           (long long)opt->stride[i]);
        if (opt->dilation[i] < 1)
            return sb_fail(SB_EINVAL, "%s: dilation must be positive, got %lld", op,
                           (long long)opt->dilation[i]);
        if (opt->padding_mode == SB_CONV_PAD_EXPLICIT && opt->padding[i] < 0)
            return sb_fail(SB_EINVAL, "%s: padding must be non-negative, got %lld", op,
                           (long long)opt->padding[i]);
    }
    if (groups < 1)
        return sb_fail(SB_EINVAL, "%s: groups must be positive, got %lld", op, (long long)groups);
    const bool batched = in.batched;
    const int64_t n = in.n, c = in.c, h = in.h, w = in.w;
    const int64_t o = weight->sizes[0], kh = weight->sizes[2], kw = weight->sizes[3];
    if (o % groups != 0)
        return sb_fail(SB_EINVAL, "%s: out_channels (weight %s) must be divisible by groups = %lld",
                       op, sb_tensor_shape_text(weight).s, (long long)groups);
    if (weight->sizes[1] * groups != c)
        return sb_fail(SB_EINVAL,
                       "%s: input has %lld channels but weight %s with groups = %lld expects "
                       "%lld (input %s)",
                       op, (long long)c, sb_tensor_shape_text(weight).s, (long long)groups,
                       (long long)(weight->sizes[1] * groups), sb_tensor_shape_text(x).s);
    if (bias) SB_TRY(check_vector(op, "bias", x, bias, o, "out_channels"));

    sb_conv2d_params p = {.groups = groups};
    int64_t oh, ow;
    const int64_t in_sz[2] = {h, w}, k_sz[2] = {kh, kw};
    int64_t out_sz[2];
    for (int i = 0; i < 2; i++) {
        p.stride[i] = opt->stride[i];
        p.dilation[i] = opt->dilation[i];
        const int64_t span = opt->dilation[i] * (k_sz[i] - 1) + 1;
        int64_t pad_total;
        switch (opt->padding_mode) {
        case SB_CONV_PAD_SAME:
            if (opt->stride[i] != 1)
                return sb_fail(SB_EINVAL,
                               "%s: padding='same' is not supported for strided convolutions", op);
            pad_total = span - 1;
            p.pad[i] = pad_total / 2;
            break;
        case SB_CONV_PAD_VALID:
            pad_total = 0;
            p.pad[i] = 0;
            break;
        default:
            p.pad[i] = opt->padding[i];
            pad_total = 2 * opt->padding[i];
            break;
        }
        if (in_sz[i] + pad_total < span)
            return sb_fail(SB_EINVAL,
                           "%s: kernel %s %lld (dilation %lld) is larger than the input %s %lld "
                           "plus padding %lld (input %s, weight %s)",
                           op, i == 0 ? "height" : "width", (long long)k_sz[i],
                           (long long)opt->dilation[i], i == 0 ? "height" : "width",
                           (long long)in_sz[i], (long long)pad_total, sb_tensor_shape_text(x).s,
                           sb_tensor_shape_text(weight).s);
        out_sz[i] = (in_sz[i] + pad_total - span) / opt->stride[i] + 1;
    }
    oh = out_sz[0];
    ow = out_sz[1];
    if (opt->max_pool2 && (oh < 2 || ow < 2))
        return sb_fail(SB_EINVAL,
                       "%s: the fused 2x2 max pooling needs a convolution output of at least "
                       "2x2, got %lldx%lld (input %s)",
                       op, (long long)oh, (long long)ow, sb_tensor_shape_text(x).s);
    sb_conv_act act = opt->act;
    if (opt->relu && act != SB_CONV_ACT_NONE && act != SB_CONV_ACT_RELU)
        return sb_fail(SB_EINVAL, "%s: two activations asked for (relu and another one)", op);
    if (opt->relu) act = SB_CONV_ACT_RELU;
    /* what goes beyond the fused ReLU and pooling every backend has */
    const bool extras =
        opt->bn || opt->residual || (act != SB_CONV_ACT_NONE && act != SB_CONV_ACT_RELU);
    if (opt->max_pool2 && extras)
        return sb_fail(SB_EINVAL,
                       "%s: the fused max pooling combines only with the ReLU activation (not "
                       "with batch_norm, residual or another activation)",
                       op);
    if (opt->bn) {
        const sb_conv_bn *bn = opt->bn;
        if (!bn->mean || !bn->var)
            return sb_fail(SB_EINVAL, "%s: batch_norm needs running_mean and running_var", op);
        SB_TRY(check_vector(op, "batch_norm running_mean", x, bn->mean, o, "out_channels"));
        SB_TRY(check_vector(op, "batch_norm running_var", x, bn->var, o, "out_channels"));
        if (bn->weight)
            SB_TRY(check_vector(op, "batch_norm weight", x, bn->weight, o, "out_channels"));
        if (bn->bias) SB_TRY(check_vector(op, "batch_norm bias", x, bn->bias, o, "out_channels"));
        if (!(bn->eps >= 0))
            return sb_fail(SB_EINVAL, "%s: batch_norm eps must be non-negative, got %g", op,
                           bn->eps);
    }
    if (opt->residual) {
        SB_TRY(check_like(op, "residual", x, opt->residual));
        const int64_t rs[4] = {n, o, oh, ow};
        const int rdim = batched ? 4 : 3;
        bool same = opt->residual->ndim == rdim;
        for (int i = 0; same && i < rdim; i++)
            same = opt->residual->sizes[i] == (batched ? rs : rs + 1)[i];
        if (!same) {
            sb_tensor shape = {.ndim = rdim};
            memcpy(shape.sizes, batched ? rs : rs + 1, (size_t)rdim * sizeof rs[0]);
            return sb_fail(SB_EINVAL, "%s: residual must have the output's shape %s, got %s", op,
                           sb_tensor_shape_text(&shape).s, sb_tensor_shape_text(opt->residual).s);
        }
    }
    const sb_nn_backend *be;
    SB_TRY(backend_of(x, &be));
    const bool fuse = extras && be->conv2d_fusion;
    p.relu = act == SB_CONV_ACT_RELU && !extras && be->conv2d_relu;
    p.max_pool2 = opt->max_pool2 && be->conv2d_max_pool2 && (!opt->relu || p.relu);
    p.out_h = oh;
    p.out_w = ow;

    /* channels-last tensors go to a backend that takes them as they are */
    const bool cl_ok = be->conv2d_channels_last && batched && !p.max_pool2 && !opt->max_pool2;
    const bool x_cl = cl_ok && is_channels_last(x);
    const bool r_cl = cl_ok && fuse && opt->residual && is_channels_last(opt->residual);
    const bool y_cl = cl_ok && opt->channels_last && o > 1 && oh * ow > 1;
    /* the kernel's output: pooled when the backend fuses the pooling */
    const int64_t ysizes[4] = {n, o, p.max_pool2 ? oh / 2 : oh, p.max_pool2 ? ow / 2 : ow};
    sb_tensor *y;
    if (y_cl) {
        SB_TRY(empty_channels_last(x, n, o, oh, ow, &y));
    } else {
        SB_TRY(sb_tensor_empty(batched ? 4 : 3, batched ? ysizes : ysizes + 1, x->dtype,
                               sb_tensor_device(x), &y));
    }
    contig_set set = {0};
    const sb_conv_bn *bn = opt->bn;
    const sb_tensor *cs[8] = {NULL};
    sb_status st = contig_all(&set, 8,
                              (const sb_tensor *[8]){x_cl ? NULL : x, weight, bias,
                                                     r_cl ? NULL : opt->residual,
                                                     bn ? bn->mean : NULL, bn ? bn->var : NULL,
                                                     bn ? bn->weight : NULL, bn ? bn->bias : NULL},
                              cs);
    if (x_cl) cs[0] = x;
    if (r_cl) cs[3] = opt->residual;
    const sb_tensor *xc = cs[0], *wc = cs[1], *bc = cs[2];
    sb_conv_bn bnc = bn ? (sb_conv_bn){cs[4], cs[5], cs[6], cs[7], bn->eps} : (sb_conv_bn){0};
    sb_conv2d_fusion fusion = {.bn = bn ? &bnc : NULL, .act = act};
    sb_tensor r4;
    if (st == SB_OK) {
        const int64_t xs[4] = {n, c, h, w};
        sb_tensor x4 = x_cl ? *xc : reshaped(xc, 4, xs), y4 = y_cl ? *y : reshaped(y, 4, ysizes);
        if (fuse) {
            if (cs[3]) {
                r4 = r_cl ? *cs[3] : reshaped(cs[3], 4, ysizes);
                fusion.residual = &r4;
            }
            p.fusion = &fusion;
        }
        st = be->conv2d(&y4, &x4, wc, bc, &p);
    }
    /* what the backend did not fuse, in order: batch norm, residual, activation, pooling */
    if (st == SB_OK && extras && !fuse && sb_tensor_numel(y) > 0)
        st = conv_epilogue(&y, bn ? &bnc : NULL, cs[3], act);
    else if (st == SB_OK && opt->relu && !p.relu && sb_tensor_numel(y) > 0) {
        sb_tensor *activated;
        st = sb_tensor_empty(y->ndim, y->sizes, y->dtype, sb_tensor_device(y), &activated);
        if (st == SB_OK) {
            st = be->activation(SB_ACT_RELU, activated, y);
            sb_tensor_free(y);
            y = activated;
        }
    }
    if (st == SB_OK && opt->max_pool2 && !p.max_pool2) {
        sb_pool2d_options po = sb_pool2d_defaults(2, 2);
        sb_tensor *pooled;
        st = sb_nn_max_pool2d(y, &po, &pooled);
        if (st == SB_OK) {
            sb_tensor_free(y);
            y = pooled;
        }
    }
    return finish(st, &set, y, out);
}

/* ---- pooling --------------------------------------------------------------------------- */

sb_pool2d_options sb_pool2d_defaults(int64_t kernel_h, int64_t kernel_w)
{
    return (sb_pool2d_options){.kernel = {kernel_h, kernel_w},
                               .stride = {0, 0},
                               .padding = {0, 0},
                               .dilation = {1, 1},
                               .ceil_mode = false,
                               .count_include_pad = true,
                               .divisor_override = 0};
}

/* PyTorch's pooling_output_shape: floor or ceil division, and with ceil_mode the last
 * window must start inside the input or the left padding. */
static int64_t pool_out_size(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dil,
                             bool ceil_mode)
{
    int64_t num = in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0);
    int64_t q = num >= 0 ? num / stride : -((-num + stride - 1) / stride);
    int64_t size = q + 1;
    if (ceil_mode && (size - 1) * stride >= in + pad) size--;
    return size;
}

static sb_status max_pool_kernel(const sb_nn_backend *be, sb_tensor *y4, const sb_tensor *x4,
                                 const void *p)
{
    return be->max_pool2d(y4, x4, p);
}

static sb_status avg_pool_kernel(const sb_nn_backend *be, sb_tensor *y4, const sb_tensor *x4,
                                 const void *p)
{
    return be->avg_pool2d(y4, x4, p);
}

static sb_status adaptive_avg_pool_kernel(const sb_nn_backend *be, sb_tensor *y4,
                                          const sb_tensor *x4, const void *unused)
{
    (void)unused;
    return be->adaptive_avg_pool2d(y4, x4);
}

/* A channels-last input (a convolution's result) pooled into a channels-last output, with
 * no reorder (the backend's pool2d_channels_last). */
static sb_status pool_channels_last(const sb_nn_backend *be, bool is_max, const sb_tensor *x,
                                    const sb_pool2d_params *p, int64_t oh, int64_t ow,
                                    sb_tensor **out)
{
    sb_tensor *y;
    SB_TRY(empty_channels_last(x, x->sizes[0], x->sizes[1], oh, ow, &y));
    sb_status st = is_max ? be->max_pool2d(y, x, p) : be->avg_pool2d(y, x, p);
    if (st != SB_OK) {
        sb_tensor_free(y);
        return st;
    }
    *out = y;
    return SB_OK;
}

static sb_status pool2d(const char *op, bool is_max, const sb_tensor *x,
                        const sb_pool2d_options *opt, sb_tensor **out)
{
    image_shape in;
    SB_TRY(image_input(op, x, &in));
    const int64_t c = in.c, h = in.h, w = in.w;
    if (c == 0 || h == 0 || w == 0)
        return sb_fail(SB_EINVAL, "%s: input's channel and spatial sizes must be non-zero, got %s",
                       op, sb_tensor_shape_text(x).s);
    sb_pool2d_params p = {.count_include_pad = opt->count_include_pad,
                          .divisor_override = opt->divisor_override};
    const int64_t in_sz[2] = {h, w};
    int64_t out_sz[2];
    for (int i = 0; i < 2; i++) {
        const int64_t k = opt->kernel[i];
        const int64_t s = opt->stride[i] == 0 ? k : opt->stride[i];
        const int64_t pad = opt->padding[i];
        const int64_t d = is_max ? opt->dilation[i] : 1;
        if (k < 1)
            return sb_fail(SB_EINVAL, "%s: kernel_size must be positive, got %lldx%lld", op,
                           (long long)opt->kernel[0], (long long)opt->kernel[1]);
        if (s < 1)
            return sb_fail(SB_EINVAL, "%s: stride must be positive, got %lld", op, (long long)s);
        if (d < 1)
            return sb_fail(SB_EINVAL, "%s: dilation must be positive, got %lld", op, (long long)d);
        if (pad < 0 || pad > k / 2)
            return sb_fail(SB_EINVAL,
                           "%s: padding must be between 0 and half the kernel size, got "
                           "padding %lld for kernel size %lld",
                           op, (long long)pad, (long long)k);
        p.kernel[i] = k;
        p.stride[i] = s;
        p.pad[i] = pad;
        p.dilation[i] = d;
        out_sz[i] = pool_out_size(in_sz[i], k, pad, s, d, opt->ceil_mode);
    }
    if (out_sz[0] < 1 || out_sz[1] < 1)
        return sb_fail(SB_EINVAL,
                       "%s: output size is too small: input %s gives %lldx%lld with kernel "
                       "%lldx%lld, stride %lldx%lld, padding %lldx%lld",
                       op, sb_tensor_shape_text(x).s, (long long)out_sz[0], (long long)out_sz[1],
                       (long long)p.kernel[0], (long long)p.kernel[1], (long long)p.stride[0],
                       (long long)p.stride[1], (long long)p.pad[0], (long long)p.pad[1]);
    if (!is_max && opt->divisor_override < 0)
        return sb_fail(SB_EINVAL, "%s: divisor_override must be positive, got %lld", op,
                       (long long)opt->divisor_override);
    const sb_nn_backend *be;
    SB_TRY(backend_of(x, &be));
    if (be->pool2d_channels_last && is_channels_last(x))
        return pool_channels_last(be, is_max, x, &p, out_sz[0], out_sz[1], out);
    return run_image_op(be, x, &in, out_sz[0], out_sz[1],
                        is_max ? max_pool_kernel : avg_pool_kernel, &p, out);
}

sb_status sb_nn_max_pool2d(const sb_tensor *x, const sb_pool2d_options *opt, sb_tensor **out)
{
    return pool2d("max_pool2d", true, x, opt, out);
}

sb_status sb_nn_avg_pool2d(const sb_tensor *x, const sb_pool2d_options *opt, sb_tensor **out)
{
    return pool2d("avg_pool2d", false, x, opt, out);
}

sb_status sb_nn_adaptive_avg_pool2d(const sb_tensor *x, int64_t oh, int64_t ow, sb_tensor **out)
{
    const char *op = "adaptive_avg_pool2d";
    image_shape in;
    SB_TRY(image_input(op, x, &in));
    const int64_t h = in.h, w = in.w;
    if (h == 0 || w == 0)
        return sb_fail(SB_EINVAL, "%s: input's spatial sizes must be non-zero, got %s", op,
                       sb_tensor_shape_text(x).s);
    if (oh <= 0) oh = h;
    if (ow <= 0) ow = w;
    const sb_nn_backend *be;
    SB_TRY(backend_of(x, &be));
    /* Output sizes that divide the input's: the windows are avg_pool2d's with kernel =
     * stride = h / oh (ResNet's global pooling), so a channels-last input stays unreordered. */
    if (be->pool2d_channels_last && is_channels_last(x) && h % oh == 0 && w % ow == 0) {
        const sb_pool2d_params p = {.kernel = {h / oh, w / ow},
                                    .stride = {h / oh, w / ow},
                                    .dilation = {1, 1},
                                    .count_include_pad = true};
        return pool_channels_last(be, false, x, &p, oh, ow, out);
    }
    return run_image_op(be, x, &in, oh, ow, adaptive_avg_pool_kernel, NULL, out);
}

/* ---- batch norm ------------------------------------------------------------------------ */

sb_status sb_nn_batch_norm(const sb_tensor *x, const sb_tensor *running_mean,
                           const sb_tensor *running_var, const sb_tensor *weight,
                           const sb_tensor *bias, double eps, sb_tensor **out)
{
    const char *op = "batch_norm";
    if (x->ndim < 2)
        return sb_fail(SB_EINVAL, "%s: input must be at least 2-D (N, C, ...), got %d-D %s", op,
                       x->ndim, sb_tensor_shape_text(x).s);
    SB_TRY(check_floating(op, x));
    if (!running_mean || !running_var)
        return sb_fail(SB_EINVAL, "%s: running_mean and running_var are required (inference mode)",
                       op);
    const int64_t c = x->sizes[1];
    SB_TRY(check_vector(op, "running_mean", x, running_mean, c, "the input's channels"));
    SB_TRY(check_vector(op, "running_var", x, running_var, c, "the input's channels"));
    if (weight) SB_TRY(check_vector(op, "weight", x, weight, c, "the input's channels"));
    if (bias) SB_TRY(check_vector(op, "bias", x, bias, c, "the input's channels"));
    if (!(eps >= 0)) return sb_fail(SB_EINVAL, "%s: eps must be non-negative, got %g", op, eps);
    const sb_nn_backend *be;
    SB_TRY(backend_of(x, &be));
    sb_tensor *y;
    SB_TRY(sb_tensor_empty(x->ndim, x->sizes, x->dtype, sb_tensor_device(x), &y));
    int64_t l = 1;
    for (int d = 2; d < x->ndim; d++)
        l *= x->sizes[d];
    contig_set set = {0};
    const sb_tensor *cs[5] = {NULL};
    sb_status st =
        contig_all(&set, 5, (const sb_tensor *[5]){x, running_mean, running_var, weight, bias}, cs);
    const sb_tensor *xc = cs[0], *mc = cs[1], *vc = cs[2], *wc = cs[3], *bc = cs[4];
    if (st == SB_OK && sb_tensor_numel(y) > 0) {
        const int64_t s3[3] = {x->sizes[0], c, l};
        sb_tensor x3 = reshaped(xc, 3, s3), y3 = reshaped(y, 3, s3);
        st = be->batch_norm(&y3, &x3, mc, vc, wc, bc, eps);
    }
    return finish(st, &set, y, out);
}

/* ---- pointwise ------------------------------------------------------------------------- */

sb_status sb_nn_activate(sb_nn_activation act, const sb_tensor *x, sb_tensor **out)
{
    if ((unsigned)act >= SB_ACT_COUNT)
        return sb_fail(SB_EINVAL, "activation: unknown activation %d", (int)act);
    const char *op = sb_nn_activation_name(act);
    SB_TRY(check_floating(op, x));
    const sb_nn_backend *be;
    SB_TRY(backend_of(x, &be));
    sb_tensor *y;
    SB_TRY(sb_tensor_empty(x->ndim, x->sizes, x->dtype, sb_tensor_device(x), &y));
    contig_set set = {0};
    const sb_tensor *xc;
    sb_status st = contig_add(&set, x, &xc);
    if (st == SB_OK && sb_tensor_numel(y) > 0) st = be->activation(act, y, xc);
    return finish(st, &set, y, out);
}

static sb_status normalize_dim(const char *op, int ndim, int dim, int *out)
{
    /* A 0-D tensor has one dim for this purpose, as in PyTorch (dim 0 or -1). */
    int n = ndim > 0 ? ndim : 1;
    int d = dim < 0 ? dim + n : dim;
    if (d < 0 || d >= n)
        return sb_fail(SB_ERANGE, "%s: dim %d out of range for a %d-D tensor", op, dim, ndim);
    *out = d;
    return SB_OK;
}

sb_status sb_nn_softmax(const sb_tensor *x, int dim, bool log, sb_tensor **out)
{
    const char *op = log ? "log_softmax" : "softmax";
    SB_TRY(check_floating(op, x));
    int d;
    SB_TRY(normalize_dim(op, x->ndim, dim, &d));
    const sb_nn_backend *be;
    SB_TRY(backend_of(x, &be));
    int64_t outer = 1, inner = 1, size = x->ndim > 0 ? x->sizes[d] : 1;
    for (int i = 0; i < d; i++)
        outer *= x->sizes[i];
    for (int i = d + 1; i < x->ndim; i++)
        inner *= x->sizes[i];
    sb_tensor *y;
    SB_TRY(sb_tensor_empty(x->ndim, x->sizes, x->dtype, sb_tensor_device(x), &y));
    contig_set set = {0};
    const sb_tensor *xc;
    sb_status st = contig_add(&set, x, &xc);
    if (st == SB_OK && sb_tensor_numel(y) > 0) st = be->softmax(y, xc, outer, size, inner, log);
    return finish(st, &set, y, out);
}

sb_status sb_nn_flatten(const sb_tensor *x, int start_dim, int end_dim, sb_tensor **out)
{
    const char *op = "flatten";
    int s = 0, e = 0;
    SB_TRY(normalize_dim(op, x->ndim, start_dim, &s));
    SB_TRY(normalize_dim(op, x->ndim, end_dim, &e));
    if (s > e)
        return sb_fail(SB_EINVAL,
                       "%s: start_dim must not come after end_dim, got start %d and end %d "
                       "for a %d-D tensor",
                       op, start_dim, end_dim, x->ndim);
    if (x->ndim == 0) {
        const int64_t one = 1;
        return sb_tensor_reshape(x, 1, &one, out);
    }
    int64_t sizes[SB_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < s; i++)
        sizes[nd++] = x->sizes[i];
    int64_t merged = 1;
    for (int i = s; i <= e; i++)
        merged *= x->sizes[i];
    sizes[nd++] = merged;
    for (int i = e + 1; i < x->ndim; i++)
        sizes[nd++] = x->sizes[i];
    return sb_tensor_reshape(x, nd, sizes, out);
}
