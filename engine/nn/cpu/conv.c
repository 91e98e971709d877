/* linear and conv2d on the CPU: OpenBLAS sgemm, conv2d through im2col.
 *
 * conv2d runs one sgemm per image and group: out[n, g] (Og x OH*OW) = W[g] (Og x K) .
 * cols (K x OH*OW), K = Cg*KH*KW, with the bias pre-filled into out and beta = 1.
 * A 1x1, stride-1, unpadded convolution needs no im2col: the image is the cols matrix.
 *
 * Threads: with at least as many images (or row blocks for linear) as threads, the
 * engine pool splits them and OpenBLAS runs single-threaded inside each chunk (its own
 * threads would only oversubscribe the cores, and they spin with sched_yield for a while
 * after each call). With fewer, the work runs on the calling thread and OpenBLAS threads
 * each GEMM. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cpu/cpu_kernels.h"
#include "nn/cpu/onednn.h"
#include "nn/cpu/weight_cache.h"
#include "tensor/parallel.h"

/* Runs fn over [0, n) on the engine pool with OpenBLAS single-threaded meanwhile. The
 * Lua thread is the only caller of BLAS (loader workers never are), so switching the
 * process-wide OpenBLAS setting around the region is safe; it is restored after. */
static void blas_parallel_for(int64_t n, int64_t grain,
                              void (*fn)(void *ctx, int64_t begin, int64_t end), void *ctx)
{
    int blas_threads = openblas_get_num_threads();
    if (blas_threads > 1) openblas_set_num_threads(1);
    sb_parallel_for(n, grain, fn, ctx);
    if (blas_threads > 1) openblas_set_num_threads(blas_threads);
}

/* Below this many multiply-adds a GEMM is not worth a thread hand-off. */
#define SB_GEMM_PARALLEL_MIN_WORK (1 << 16)

typedef struct linear_job {
    const float *x, *w;
    float *y;
    int64_t in, o;
    bool bias;
} linear_job;

static void linear_rows(void *ctx, int64_t begin, int64_t end)
{
    const linear_job *j = ctx;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)(end - begin), (blasint)j->o,
                (blasint)j->in, 1.0f, j->x + begin * j->in, (blasint)j->in, j->w, (blasint)j->in,
                j->bias ? 1.0f : 0.0f, j->y + begin * j->o, (blasint)j->o);
}

sb_status sb_nn_cpu_linear(sb_tensor *out, const sb_tensor *x, const sb_tensor *weight,
                           const sb_tensor *bias)
{
    SB_TRY(sb_nn_cpu_require_float32("linear", x));
    int64_t n = x->sizes[0], in = x->sizes[1], o = weight->sizes[0];
    float *y = sb_tensor_data(out);
    if (n == 0 || o == 0) return SB_OK;
    if (bias) {
        const float *b = sb_tensor_data(bias);
        for (int64_t i = 0; i < n; i++)
            memcpy(y + i * o, b, (size_t)o * sizeof(float));
    }
    if (in == 0) {
        if (!bias) memset(y, 0, (size_t)(n * o) * sizeof(float));
        return SB_OK;
    }
    linear_job j = {sb_tensor_data(x), sb_tensor_data(weight), y, in, o, bias != NULL};
    const int threads = sb_get_num_threads();
    /* Row blocks of at least 8 rows (a GEMM micro-kernel's height), as many as threads. */
    if (threads > 1 && n >= 16 && n * in * o >= SB_GEMM_PARALLEL_MIN_WORK * threads) {
        int64_t grain = (n + threads - 1) / threads;
        blas_parallel_for(n, grain < 8 ? 8 : grain, linear_rows, &j);
    } else {
        linear_rows(&j, 0, n);
    }
    return SB_OK;
}

typedef struct conv_job {
    const float *x, *w, *b;
    float *y;
    int64_t C, H, W, O, KH, KW, OH, OW, groups; /* OH, OW: the convolution's output */
    int64_t POH, POW; /* the fused pooling's output (p.max_pool2), else OH, OW */
    sb_conv2d_params p;
    bool direct; /* 1x1, stride 1, no padding: cols = input */
    int failed;
} conv_job;

/* Floats of slack after the padded image and the cols buffer for im2col's block copies. */
#define SB_IM2COL_SLACK 8

/* The geometry of one image as im2col reads it: the image itself when no padding is
 * needed, else a zero-padded copy (so the copy loops below have no bounds checks). */
typedef struct conv_src {
    int64_t hp, wp; /* padded height and width */
    bool padded;
} conv_src;

static conv_src conv_src_geometry(const conv_job *j)
{
    /* Rows and columns the windows reach, from the top-left padding corner. */
    const int64_t need_h = (j->OH - 1) * j->p.stride[0] + (j->KH - 1) * j->p.dilation[0] + 1;
    const int64_t need_w = (j->OW - 1) * j->p.stride[1] + (j->KW - 1) * j->p.dilation[1] + 1;
    conv_src g;
    /* Stride-1 im2col reads whole blocks past a row's end: it needs the copy's slack. */
    g.padded =
        j->p.pad[0] > 0 || j->p.pad[1] > 0 || need_h > j->H || need_w > j->W || j->p.stride[1] == 1;
    g.hp = g.padded ? (j->p.pad[0] + j->H > need_h ? j->p.pad[0] + j->H : need_h) : j->H;
    g.wp = g.padded ? (j->p.pad[1] + j->W > need_w ? j->p.pad[1] + j->W : need_w) : j->W;
    return g;
}

/* pad [Cg, hp, wp] = x [Cg, H, W] placed at (pad_h, pad_w), zeros around. */
static void pad_image(const conv_job *j, const conv_src *g, const float *x, int64_t cg, float *pad)
{
    const int64_t ph = j->p.pad[0], pw = j->p.pad[1];
    for (int64_t c = 0; c < cg; c++) {
        float *plane = pad + c * g->hp * g->wp;
        const float *src = x + c * j->H * j->W;
        for (int64_t r = 0; r < g->hp; r++) {
            float *row = plane + r * g->wp;
            const int64_t iy = r - ph;
            if (iy < 0 || iy >= j->H) {
                for (int64_t i = 0; i < g->wp; i++)
                    row[i] = 0.0f;
                continue;
            }
            for (int64_t i = 0; i < pw; i++)
                row[i] = 0.0f;
            for (int64_t i = 0; i < j->W; i++)
                row[pw + i] = src[iy * j->W + i];
            for (int64_t i = pw + j->W; i < g->wp; i++)
                row[i] = 0.0f;
        }
    }
}

/* cols [Cg*KH*KW, OH*OW] from the (padded) image src [Cg, hp, wp]. Rows are short (tens of
 * floats), so plain loops that the vectoriser unrolls beat memcpy calls. */
SB_NN_VECTOR_CLONES static void im2col(const conv_job *j, const conv_src *g, const float *src,
                                       int64_t cg, float *cols)
{
    const int64_t ohw = j->OH * j->OW, OW = j->OW;
    const int64_t sh = j->p.stride[0], sw = j->p.stride[1];
    const int64_t dh = j->p.dilation[0], dw = j->p.dilation[1];
    for (int64_t c = 0; c < cg; c++) {
        const float *plane = src + c * g->hp * g->wp;
        for (int64_t ky = 0; ky < j->KH; ky++) {
            for (int64_t kx = 0; kx < j->KW; kx++) {
                float *dst = cols + ((c * j->KH + ky) * j->KW + kx) * ohw;
                const float *base = plane + ky * dh * g->wp + kx * dw;
                if (sw == 1) {
                    /* Whole 8-float blocks: a row's last block spills into the next
                     * row's start, which that row then overwrites (rows go in order);
                     * buffers carry SB_IM2COL_SLACK floats for the final spill. */
                    for (int64_t oy = 0; oy < j->OH; oy++, dst += OW) {
                        const float *in = base + oy * sh * g->wp;
                        for (int64_t ox = 0; ox < OW; ox += 8)
                            memcpy(dst + ox, in + ox, 8 * sizeof(float));
                    }
                } else {
                    for (int64_t oy = 0; oy < j->OH; oy++, dst += OW) {
                        const float *in = base + oy * sh * g->wp;
                        for (int64_t ox = 0; ox < OW; ox++)
                            dst[ox] = in[ox * sw];
                    }
                }
            }
        }
    }
}

/* Stride-1 convolutions run on the "wide" output grid OH x wp (the padded image's width):
 * on that grid the im2col row of (c, ky, kx) is ONE contiguous span of the padded image,
 * so building cols is a memcpy per row instead of a loop over short output rows. The GEMM
 * computes wp - OW extra columns per row, dropped when the result is compacted into the
 * output (which also adds the bias). */
SB_NN_VECTOR_CLONES static void im2col_wide(const conv_job *j, const conv_src *g, const float *src,
                                            int64_t cg, float *cols)
{
    const int64_t nw = j->OH * g->wp, span = (j->OH - 1) * g->wp + j->OW;
    const int64_t dh = j->p.dilation[0], dw = j->p.dilation[1];
    for (int64_t c = 0; c < cg; c++) {
        const float *plane = src + c * g->hp * g->wp;
        for (int64_t ky = 0; ky < j->KH; ky++) {
            for (int64_t kx = 0; kx < j->KW; kx++) {
                float *dst = cols + ((c * j->KH + ky) * j->KW + kx) * nw;
                memcpy(dst, plane + ky * dh * g->wp + kx * dw, (size_t)span * sizeof(float));
                for (int64_t i = span; i < nw; i++) /* columns past the last row's end */
                    dst[i] = 0.0f;
            }
        }
    }
}

SB_NN_VECTOR_CLONES static void compact_wide(const conv_job *j, const conv_src *g,
                                             const float *wide, const float *bias, int64_t og,
                                             float *y)
{
    /* lo = 0 is the fused ReLU (NaN passes through, as F.relu); -inf is none */
    const float lo = j->p.relu ? 0.0f : -INFINITY;
    const int64_t OW = j->OW, rows = og * j->OH;
    for (int64_t r = 0; r < rows; r++) {
        const float b = bias ? bias[r / j->OH] : 0.0f;
        const float *src = wide + r * g->wp;
        float *dst = y + r * OW;
        if (r + 1 < rows) {
            /* Whole 8-float blocks: the spill lands on the next row, written after this
             * one (src stays inside the wide buffer, wp >= OW). */
            for (int64_t ox = 0; ox < OW; ox += 8)
                for (int i = 0; i < 8; i++) {
                    const float v = src[ox + i] + b;
                    dst[ox + i] = v < lo ? lo : v;
                }
        } else { /* the last row: nothing of ours after it */
            for (int64_t ox = 0; ox < OW; ox++) {
                const float v = src[ox] + b;
                dst[ox] = v < lo ? lo : v;
            }
        }
    }
}

SB_NN_VECTOR_CLONES static void relu_inplace(float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = y[i] < 0.0f ? 0.0f : y[i];
}

static void conv_images(void *ctx, int64_t begin, int64_t end)
{
    conv_job *j = ctx;
    const int64_t cg = j->C / j->groups, og = j->O / j->groups;
    const int64_t k = cg * j->KH * j->KW, ohw = j->OH * j->OW;
    const conv_src g = conv_src_geometry(j);
    /* The wide grid wastes (wp - OW) / OW of the GEMM: worth it up to about 25% (LeNet's
     * first layer: 32 / 28), not for small images with large kernels (its second: 14 / 10). */
    const bool wide = !j->direct && j->p.stride[0] == 1 && j->p.stride[1] == 1 &&
                      4 * g.wp <= 5 * j->OW && j->OW >= 8; /* compact_wide's blocks */
    /* columns of the GEMM: the output grid, or the wide grid */
    const int64_t ncols = wide ? j->OH * g.wp : ohw;
    const bool compact = wide && g.wp != j->OW;
    float *cols = NULL, *pad = NULL, *wide_out = NULL, *full = NULL;
    const int64_t pohw = j->POH * j->POW;
    if (j->p.max_pool2) { /* one image-group's convolution output, pooled from cache */
        full = malloc((size_t)(og * ohw) * sizeof(float));
        if (!full) {
            __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
            return;
        }
    }
    if (!j->direct) {
        cols = malloc((size_t)(k * ncols + SB_IM2COL_SLACK) * sizeof(float));
        if (g.padded) pad = malloc((size_t)(cg * g.hp * g.wp + SB_IM2COL_SLACK) * sizeof(float));
        if (compact) wide_out = malloc((size_t)(og * ncols) * sizeof(float));
        if (!cols || (g.padded && !pad) || (compact && !wide_out)) {
            free(cols);
            free(pad);
            free(wide_out);
            free(full);
            __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
            return;
        }
        /* Block copies read (never use) the slack: keep it defined. */
        if (pad) memset(pad + cg * g.hp * g.wp, 0, SB_IM2COL_SLACK * sizeof(float));
    }
    for (int64_t n = begin; n < end; n++) {
        const float *xn = j->x + n * j->C * j->H * j->W;
        float *yn = j->y + n * j->O * pohw;
        for (int64_t g_i = 0; g_i < j->groups; g_i++) {
            const float *xg = xn + g_i * cg * j->H * j->W;
            /* the convolution's result: the output itself, or the scratch to pool from */
            float *yg = full ? full : yn + g_i * og * ohw;
            const float *bias = j->b ? j->b + g_i * og : NULL;
            float beta = 0.0f;
            if (bias && !compact) {
                for (int64_t o = 0; o < og; o++) {
                    float *row = yg + o * ohw;
                    for (int64_t i = 0; i < ohw; i++)
                        row[i] = bias[o];
                }
                beta = 1.0f;
            }
            const float *b_matrix = xg;
            if (!j->direct) {
                const float *src = xg;
                if (g.padded) {
                    pad_image(j, &g, xg, cg, pad);
                    src = pad;
                }
                if (wide)
                    im2col_wide(j, &g, src, cg, cols);
                else
                    im2col(j, &g, src, cg, cols);
                b_matrix = cols;
            }
            float *out = compact ? wide_out : yg;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)og, (blasint)ncols,
                        (blasint)k, 1.0f, j->w + g_i * og * k, (blasint)k, b_matrix, (blasint)ncols,
                        beta, out, (blasint)ncols);
            if (compact)
                compact_wide(j, &g, wide_out, bias, og, yg);
            else if (j->p.relu)
                relu_inplace(yg, og * ohw); /* still in cache */
            if (full) {
                float *pooled = yn + g_i * og * pohw;
                for (int64_t o = 0; o < og; o++)
                    sb_nn_cpu_max_pool_2x2(full + o * ohw, j->OW, j->POH, j->POW,
                                           pooled + o * pohw);
            }
        }
    }
    free(cols);
    free(pad);
    free(wide_out);
    free(full);
}

/* The engine's own convolution of a prepared job (j->y is out's data). */
static sb_status conv_run_own(conv_job *jp, int64_t n, const sb_tensor *out)
{
    conv_job j = *jp;
    const sb_conv2d_params *p = &jp->p;
    if (sb_tensor_numel(out) == 0) return SB_OK;
    const int64_t k = (j.C / j.groups) * j.KH * j.KW;
    if (k == 0) { /* no input channels: the output (pooled or not) is the bias */
        const int64_t ohw = j.POH * j.POW;
        for (int64_t i = 0; i < n * j.O; i++)
            for (int64_t s = 0; s < ohw; s++) {
                const float v = j.b ? j.b[i % j.O] : 0.0f;
                j.y[i * ohw + s] = p->relu && v < 0.0f ? 0.0f : v;
            }
        return SB_OK;
    }
    j.direct = j.KH == 1 && j.KW == 1 && p->stride[0] == 1 && p->stride[1] == 1 && p->pad[0] == 0 &&
               p->pad[1] == 0 && j.OH == j.H && j.OW == j.W;
    const int threads = sb_get_num_threads();
    const int64_t image_work = j.O * j.OH * j.OW * k;
    if (threads > 1 && n >= threads && n * image_work >= SB_GEMM_PARALLEL_MIN_WORK * threads)
        blas_parallel_for(n, 1, conv_images, &j);
    else
        conv_images(&j, 0, n);
    if (j.failed)
        return sb_fail(SB_ENOMEM, "conv2d: out of memory for the im2col buffer (%lld floats)",
                       (long long)(k * j.OH * j.OW));
    return SB_OK;
}

/* conv2d's residual and activation after the engine's own kernel (the fused ReLU alone is
 * done in the kernel): the formulas of the Lua modules, NaN kept as PyTorch keeps it. */
static void fusion_epilogue(float *y, int64_t n, const float *res, sb_conv_act act)
{
    for (int64_t i = 0; i < n; i++) {
        float v = res ? y[i] + res[i] : y[i];
        switch (act) {
        case SB_CONV_ACT_RELU:
            v = v < 0.0f ? 0.0f : v;
            break;
        case SB_CONV_ACT_RELU6:
            v = v < 0.0f ? 0.0f : v > 6.0f ? 6.0f : v;
            break;
        case SB_CONV_ACT_HARDSWISH: {
            float c = v + 3.0f;
            c = c < 0.0f ? 0.0f : c > 6.0f ? 6.0f : c;
            v = v * c / 6.0f;
            break;
        }
        case SB_CONV_ACT_SILU:
            v = v * (1.0f / (1.0f + expf(-v)));
            break;
        default:
            break;
        }
        y[i] = v;
    }
}

/* The engine's kernel works in NCHW: channels-last inputs are copied into it, and the
 * result into a channels-last out. */
static sb_status conv_contiguous(sb_tensor *out, const sb_tensor *x, const sb_tensor *weight,
                                 const sb_tensor *bias, const sb_conv2d_params *p)
{
    const sb_conv2d_fusion *f = p->fusion;
    sb_tensor *xc = NULL, *rc = NULL, *oc = NULL;
    sb_status st = sb_tensor_contiguous(x, &xc);
    if (st == SB_OK && f && f->residual) st = sb_tensor_contiguous(f->residual, &rc);
    if (st == SB_OK) st = sb_tensor_empty(4, out->sizes, out->dtype, sb_tensor_device(out), &oc);
    if (st == SB_OK) {
        sb_conv2d_fusion fc;
        sb_conv2d_params pc = *p;
        if (f) {
            fc = *f;
            fc.residual = rc;
            pc.fusion = &fc;
        }
        st = sb_nn_cpu_conv2d(oc, xc, weight, bias, &pc);
    }
    if (st == SB_OK) st = sb_tensor_copy_(out, oc);
    sb_tensor_free(xc);
    sb_tensor_free(rc);
    sb_tensor_free(oc);
    return st;
}

sb_status sb_nn_cpu_conv2d(sb_tensor *out, const sb_tensor *x, const sb_tensor *weight,
                           const sb_tensor *bias, const sb_conv2d_params *p)
{
    SB_TRY(sb_nn_cpu_require_float32("conv2d", x));
    sb_status onednn_status;
    if (sb_onednn_conv2d(out, x, weight, bias, p, &onednn_status)) return onednn_status;
    const sb_conv2d_fusion *f = p->fusion;
    if (!sb_tensor_is_contiguous(x) || !sb_tensor_is_contiguous(out) ||
        (f && f->residual && !sb_tensor_is_contiguous(f->residual)))
        return conv_contiguous(out, x, weight, bias, p);
    const sb_prepared_weights *prepared = NULL;
    if (f && f->bn) { /* batch norm folded into the weights and bias (kept while unchanged) */
        sb_status st = SB_OK;
        prepared = sb_weight_cache_get(weight, bias, f->bn, NULL, 0, NULL, 0, NULL, NULL, &st);
        if (!prepared) return st;
    }
    conv_job j = {
        .x = sb_tensor_data(x),
        .w = prepared ? prepared->w : sb_tensor_data(weight),
        .b = prepared ? prepared->b
             : bias   ? sb_tensor_data(bias)
                      : NULL,
        .y = sb_tensor_data(out),
        .C = x->sizes[1],
        .H = x->sizes[2],
        .W = x->sizes[3],
        .O = weight->sizes[0],
        .KH = weight->sizes[2],
        .KW = weight->sizes[3],
        .OH = p->max_pool2 ? p->out_h : out->sizes[2],
        .OW = p->max_pool2 ? p->out_w : out->sizes[3],
        .POH = out->sizes[2],
        .POW = out->sizes[3],
        .groups = p->groups,
        .p = *p,
    };
    /* the kernel's own ReLU when nothing comes between it and the convolution */
    if (f) j.p.relu = f->act == SB_CONV_ACT_RELU && !f->residual;
    const bool epilogue = f && !j.p.relu && (f->residual || f->act != SB_CONV_ACT_NONE);
    sb_status st = conv_run_own(&j, x->sizes[0], out);
    if (st == SB_OK && epilogue)
        fusion_epilogue(j.y, sb_tensor_numel(out), f->residual ? sb_tensor_data(f->residual) : NULL,
                        f->act);
    sb_weight_cache_release(prepared);
    return st;
}
