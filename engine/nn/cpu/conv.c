/* linear and conv2d on the CPU: OpenBLAS sgemm, conv2d through im2col.
 *
 * conv2d runs one sgemm per image and group: out[n, g] (Og x OH*OW) = W[g] (Og x K) .
 * cols (K x OH*OW), K = Cg*KH*KW, with the bias pre-filled into out and beta = 1.
 * Small per-image GEMMs (OpenBLAS runs those on one thread anyway) are spread over the
 * pool by image, each thread with its own cols buffer; large ones run image by image
 * and let OpenBLAS thread each GEMM. A 1x1, stride-1, unpadded convolution needs no
 * im2col: the image itself is the cols matrix. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cpu/cpu_kernels.h"
#include "tensor/parallel.h"

/* OpenBLAS computes sgemm on one thread when m*n*k is at most this (interface/gemm.c:
 * SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD). */
#define SB_SGEMM_SINGLE_THREAD_WORK (65536 * 4)

sb_status sb_nn_cpu_linear(sb_tensor *out, const sb_tensor *x, const sb_tensor *weight,
                           const sb_tensor *bias)
{
    SB_TRY(sb_nn_cpu_require_float32("linear", x));
    int64_t n = x->sizes[0], in = x->sizes[1], o = weight->sizes[0];
    float *y = sb_tensor_data(out);
    if (n == 0 || o == 0) return SB_OK;
    float beta = 0.0f;
    if (bias) {
        const float *b = sb_tensor_data(bias);
        for (int64_t i = 0; i < n; i++)
            memcpy(y + i * o, b, (size_t)o * sizeof(float));
        beta = 1.0f;
    }
    if (in == 0) {
        if (!bias) memset(y, 0, (size_t)(n * o) * sizeof(float));
        return SB_OK;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)n, (blasint)o, (blasint)in, 1.0f,
                sb_tensor_data(x), (blasint)in, sb_tensor_data(weight), (blasint)in, beta, y,
                (blasint)o);
    return SB_OK;
}

typedef struct conv_job {
    const float *x, *w, *b;
    float *y;
    int64_t C, H, W, O, KH, KW, OH, OW, groups;
    sb_conv2d_params p;
    bool direct; /* 1x1, stride 1, no padding: cols = input */
    int failed;
} conv_job;

/* cols [Cg*KH*KW, OH*OW] from x [Cg, H, W] (zero outside the image). */
static void im2col(const conv_job *j, const float *x, int64_t cg, float *cols)
{
    const int64_t ohw = j->OH * j->OW;
    const int64_t sh = j->p.stride[0], sw = j->p.stride[1];
    const int64_t ph = j->p.pad[0], pw = j->p.pad[1];
    const int64_t dh = j->p.dilation[0], dw = j->p.dilation[1];
    for (int64_t c = 0; c < cg; c++) {
        const float *plane = x + c * j->H * j->W;
        for (int64_t ky = 0; ky < j->KH; ky++) {
            for (int64_t kx = 0; kx < j->KW; kx++) {
                float *row = cols + ((c * j->KH + ky) * j->KW + kx) * ohw;
                const int64_t ix0 = kx * dw - pw;
                /* output columns whose input column lies inside the image */
                int64_t lo = 0, hi = j->OW;
                if (ix0 < 0) lo = (-ix0 + sw - 1) / sw;
                if (ix0 + (hi - 1) * sw >= j->W) hi = ix0 >= j->W ? 0 : (j->W - 1 - ix0) / sw + 1;
                if (lo > hi) lo = hi;
                for (int64_t oy = 0; oy < j->OH; oy++) {
                    float *dst = row + oy * j->OW;
                    const int64_t iy = oy * sh - ph + ky * dh;
                    if (iy < 0 || iy >= j->H) {
                        memset(dst, 0, (size_t)j->OW * sizeof(float));
                        continue;
                    }
                    const float *src = plane + iy * j->W;
                    for (int64_t ox = 0; ox < lo; ox++)
                        dst[ox] = 0.0f;
                    if (sw == 1 && hi > lo) {
                        memcpy(dst + lo, src + ix0 + lo, (size_t)(hi - lo) * sizeof(float));
                    } else {
                        for (int64_t ox = lo; ox < hi; ox++)
                            dst[ox] = src[ix0 + ox * sw];
                    }
                    for (int64_t ox = hi; ox < j->OW; ox++)
                        dst[ox] = 0.0f;
                }
            }
        }
    }
}

static void conv_images(void *ctx, int64_t begin, int64_t end)
{
    conv_job *j = ctx;
    const int64_t cg = j->C / j->groups, og = j->O / j->groups;
    const int64_t k = cg * j->KH * j->KW, ohw = j->OH * j->OW;
    float *cols = NULL;
    if (!j->direct) {
        cols = malloc((size_t)(k * ohw) * sizeof(float));
        if (!cols) {
            __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
            return;
        }
    }
    for (int64_t n = begin; n < end; n++) {
        const float *xn = j->x + n * j->C * j->H * j->W;
        float *yn = j->y + n * j->O * ohw;
        for (int64_t g = 0; g < j->groups; g++) {
            const float *xg = xn + g * cg * j->H * j->W;
            float *yg = yn + g * og * ohw;
            float beta = 0.0f;
            if (j->b) {
                for (int64_t o = 0; o < og; o++) {
                    const float v = j->b[g * og + o];
                    float *row = yg + o * ohw;
                    for (int64_t i = 0; i < ohw; i++)
                        row[i] = v;
                }
                beta = 1.0f;
            }
            const float *b_matrix = xg;
            if (!j->direct) {
                im2col(j, xg, cg, cols);
                b_matrix = cols;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)og, (blasint)ohw,
                        (blasint)k, 1.0f, j->w + g * og * k, (blasint)k, b_matrix, (blasint)ohw,
                        beta, yg, (blasint)ohw);
        }
    }
    free(cols);
}

sb_status sb_nn_cpu_conv2d(sb_tensor *out, const sb_tensor *x, const sb_tensor *weight,
                           const sb_tensor *bias, const sb_conv2d_params *p)
{
    SB_TRY(sb_nn_cpu_require_float32("conv2d", x));
    conv_job j = {
        .x = sb_tensor_data(x),
        .w = sb_tensor_data(weight),
        .b = bias ? sb_tensor_data(bias) : NULL,
        .y = sb_tensor_data(out),
        .C = x->sizes[1],
        .H = x->sizes[2],
        .W = x->sizes[3],
        .O = weight->sizes[0],
        .KH = weight->sizes[2],
        .KW = weight->sizes[3],
        .OH = out->sizes[2],
        .OW = out->sizes[3],
        .groups = p->groups,
        .p = *p,
    };
    const int64_t n = x->sizes[0];
    if (sb_tensor_numel(out) == 0) return SB_OK;
    const int64_t k = (j.C / j.groups) * j.KH * j.KW;
    if (k == 0) { /* no input channels: the output is the bias */
        const int64_t ohw = j.OH * j.OW;
        for (int64_t i = 0; i < n * j.O; i++)
            for (int64_t s = 0; s < ohw; s++)
                j.y[i * ohw + s] = j.b ? j.b[i % j.O] : 0.0f;
        return SB_OK;
    }
    j.direct = j.KH == 1 && j.KW == 1 && p->stride[0] == 1 && p->stride[1] == 1 && p->pad[0] == 0 &&
               p->pad[1] == 0 && j.OH == j.H && j.OW == j.W;
    const int64_t gemm_work = (j.O / j.groups) * j.OH * j.OW * k;
    if (gemm_work <= SB_SGEMM_SINGLE_THREAD_WORK)
        sb_parallel_for(n, 1, conv_images, &j);
    else
        conv_images(&j, 0, n);
    if (j.failed)
        return sb_fail(SB_ENOMEM, "conv2d: out of memory for the im2col buffer (%lld floats)",
                       (long long)(k * j.OH * j.OW));
    return SB_OK;
}
