/* Pooling on the CPU, one (image, channel) plane per task, PyTorch's window rules; oneDNN's
 * primitive where chosen (nn/cpu/onednn.h). */
#include <math.h>
#include <stdbool.h>

#include "nn/cpu/cpu_kernels.h"
#include "nn/cpu/onednn.h"
#include "tensor/parallel.h"

typedef struct pool_job {
    const float *x;
    float *y;
    int64_t H, W, OH, OW;
    sb_pool2d_params p;
} pool_job;

static pool_job make_job(sb_tensor *out, const sb_tensor *x, const sb_pool2d_params *p)
{
    pool_job j = {.x = sb_tensor_data(x),
                  .y = sb_tensor_data(out),
                  .H = x->sizes[2],
                  .W = x->sizes[3],
                  .OH = out->sizes[2],
                  .OW = out->sizes[3]};
    if (p) j.p = *p;
    return j;
}

/* Planes per task so that a task is worth a thread hand-off. */
static int64_t plane_grain(const pool_job *j)
{
    int64_t work = j->OH * j->OW * (j->p.kernel[0] > 0 ? j->p.kernel[0] * j->p.kernel[1] : 1);
    int64_t grain = 16384 / (work > 0 ? work : 1);
    return grain > 0 ? grain : 1;
}

/* PyTorch's rule: a NaN wins over every number. */
static inline float max_nan(float m, float v)
{
    return (v > m || v != v) ? v : m;
}

/* 2x2 windows, stride 2 (LeNet, VGG): the max of each row pair first (contiguous, so it
 * vectorises), then of each column pair. The value is PyTorch's in any order: any NaN in
 * the window gives NaN, else the max. */
SB_NN_VECTOR_CLONES void sb_nn_cpu_max_pool_2x2(const float *x, int64_t W, int64_t OH, int64_t OW,
                                                float *y)
{
    float pair[2 * 512];
    for (int64_t oy = 0; oy < OH; oy++) {
        const float *r0 = x + 2 * oy * W, *r1 = r0 + W;
        float *out = y + oy * OW;
        for (int64_t x0 = 0; x0 < OW; x0 += 512) {
            const int64_t n = OW - x0 < 512 ? OW - x0 : 512;
            for (int64_t i = 0; i < 2 * n; i++)
                pair[i] = max_nan(r0[2 * x0 + i], r1[2 * x0 + i]);
            for (int64_t i = 0; i < n; i++)
                out[x0 + i] = max_nan(pair[2 * i], pair[2 * i + 1]);
        }
    }
}

/* Every window inside the image (no padding, no dilation, none past the edge): no bounds
 * checks; the 2x2 stride-2 case (LeNet, VGG) gets its own loop. */
static void max_pool_plane_inside(const pool_job *j, const float *x, float *y)
{
    const int64_t kh = j->p.kernel[0], kw = j->p.kernel[1];
    const int64_t sh = j->p.stride[0], sw = j->p.stride[1];
    const int64_t W = j->W, OW = j->OW;
    if (kh == 2 && kw == 2 && sh == 2 && sw == 2) {
        sb_nn_cpu_max_pool_2x2(x, W, j->OH, OW, y);
        return;
    }
    for (int64_t oy = 0; oy < j->OH; oy++) {
        float *out = y + oy * OW;
        const float *r = x + oy * sh * W;
        for (int64_t ox = 0; ox < OW; ox++)
            out[ox] = r[ox * sw];
        for (int64_t ky = 0; ky < kh; ky++) {
            for (int64_t kx = (ky == 0); kx < kw; kx++) {
                const float *p = r + ky * W + kx;
                for (int64_t ox = 0; ox < OW; ox++)
                    out[ox] = max_nan(out[ox], p[ox * sw]);
            }
        }
    }
}

/* Padding, no dilation (ResNet's 3x3 stride-2 stem pooling): each window row and column
 * offset runs over the outputs whose input position is inside the image, with no check
 * per element. Windows are scanned in the general loop's order (row, then column), so the
 * result is the same to the bit (the first of equal values, a NaN anywhere). */
static void max_pool_plane_padded(const pool_job *j, const float *x, float *y)
{
    const int64_t kh = j->p.kernel[0], kw = j->p.kernel[1];
    const int64_t sh = j->p.stride[0], sw = j->p.stride[1];
    const int64_t ph = j->p.pad[0], pw = j->p.pad[1];
    const int64_t H = j->H, W = j->W, OW = j->OW;
    int64_t lo[64], hi[64]; /* per kx: the outputs [lo, hi) whose column is inside */
    const int64_t nkx = kw < 64 ? kw : 64;
    for (int64_t kx = 0; kx < nkx; kx++) {
        const int64_t off = kx - pw; /* input column = ox * sw + off */
        int64_t a = off >= 0 ? 0 : (-off + sw - 1) / sw;
        int64_t b = W - off <= 0 ? 0 : (W - off - 1) / sw + 1;
        lo[kx] = a;
        hi[kx] = b < OW ? b : OW;
    }
    for (int64_t oy = 0; oy < j->OH; oy++) {
        float *out = y + oy * OW;
        for (int64_t ox = 0; ox < OW; ox++)
            out[ox] = -INFINITY;
        for (int64_t ky = 0; ky < kh; ky++) {
            const int64_t iy = oy * sh - ph + ky;
            if (iy < 0 || iy >= H) continue;
            const float *row = x + iy * W;
            for (int64_t kx = 0; kx < kw; kx++) {
                if (kx >= 64) { /* wider than any real window: checked per element */
                    for (int64_t ox = 0; ox < OW; ox++) {
                        const int64_t ix = ox * sw - pw + kx;
                        if (ix >= 0 && ix < W) out[ox] = max_nan(out[ox], row[ix]);
                    }
                    continue;
                }
                for (int64_t ox = lo[kx]; ox < hi[kx]; ox++)
                    out[ox] = max_nan(out[ox], row[ox * sw + kx - pw]);
            }
        }
    }
}

static void max_pool_planes(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    const int64_t kh = j->p.kernel[0], kw = j->p.kernel[1];
    const int64_t sh = j->p.stride[0], sw = j->p.stride[1];
    const int64_t ph = j->p.pad[0], pw = j->p.pad[1];
    const int64_t dh = j->p.dilation[0], dw = j->p.dilation[1];
    const bool inside = ph == 0 && pw == 0 && dh == 1 && dw == 1 && (j->OH - 1) * sh + kh <= j->H &&
                        (j->OW - 1) * sw + kw <= j->W;
    for (int64_t plane = begin; plane < end; plane++) {
        const float *x = j->x + plane * j->H * j->W;
        float *y = j->y + plane * j->OH * j->OW;
        if (inside) {
            max_pool_plane_inside(j, x, y);
            continue;
        }
        if (dh == 1 && dw == 1) {
            max_pool_plane_padded(j, x, y);
            continue;
        }
        for (int64_t oy = 0; oy < j->OH; oy++) {
            const int64_t y0 = oy * sh - ph;
            for (int64_t ox = 0; ox < j->OW; ox++) {
                const int64_t x0 = ox * sw - pw;
                float best = -INFINITY;
                for (int64_t ky = 0; ky < kh; ky++) {
                    const int64_t iy = y0 + ky * dh;
                    if (iy < 0 || iy >= j->H) continue;
                    const float *row = x + iy * j->W;
                    for (int64_t kx = 0; kx < kw; kx++) {
                        const int64_t ix = x0 + kx * dw;
                        if (ix < 0 || ix >= j->W) continue;
                        best = max_nan(best, row[ix]);
                    }
                }
                y[oy * j->OW + ox] = best;
            }
        }
    }
}

/* Runs `planes` over every (image, channel) plane of out; oneDNN instead where chosen.
 * x and out are both contiguous or both channels-last (the front-end's pool2d_channels_last);
 * the engine's kernels work in NCHW, so channels-last ones are copied in and out. */
static sb_status pool(const char *op, bool is_max, sb_tensor *out, const sb_tensor *x,
                      const sb_pool2d_params *p, void (*planes)(void *, int64_t, int64_t))
{
    SB_TRY(sb_nn_cpu_require_float32(op, x));
    sb_status st;
    if (sb_onednn_pool2d(is_max, out, x, p, &st)) return st;
    if (!sb_tensor_is_contiguous(x) || !sb_tensor_is_contiguous(out)) {
        sb_tensor *xc = NULL, *oc = NULL;
        st = sb_tensor_contiguous(x, &xc);
        if (st == SB_OK)
            st = sb_tensor_empty(4, out->sizes, out->dtype, sb_tensor_device(out), &oc);
        if (st == SB_OK) st = pool(op, is_max, oc, xc, p, planes);
        if (st == SB_OK) st = sb_tensor_copy_(out, oc);
        sb_tensor_free(xc);
        sb_tensor_free(oc);
        return st;
    }
    pool_job j = make_job(out, x, p);
    sb_parallel_for(out->sizes[0] * out->sizes[1], plane_grain(&j), planes, &j);
    return SB_OK;
}

sb_status sb_nn_cpu_max_pool2d(sb_tensor *out, const sb_tensor *x, const sb_pool2d_params *p)
{
    return pool("max_pool2d", true, out, x, p, max_pool_planes);
}

/* PyTorch's average-pooling window along one axis for output position o: [lo, hi) is the
 * window clipped to the input (what is summed); the extent returned is the window clipped
 * to the padded input (what the divisor counts by default). */
static inline int64_t avg_window(int64_t o, int64_t stride, int64_t k, int64_t pad, int64_t size,
                                 int64_t *lo, int64_t *hi)
{
    const int64_t start = o * stride - pad;
    const int64_t end = start + k < size + pad ? start + k : size + pad;
    *lo = start < 0 ? 0 : start;
    *hi = end > size ? size : end;
    return end - start;
}

static void avg_pool_planes(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    const int64_t kh = j->p.kernel[0], kw = j->p.kernel[1];
    const int64_t sh = j->p.stride[0], sw = j->p.stride[1];
    const int64_t ph = j->p.pad[0], pw = j->p.pad[1];
    for (int64_t plane = begin; plane < end; plane++) {
        const float *x = j->x + plane * j->H * j->W;
        float *y = j->y + plane * j->OH * j->OW;
        for (int64_t oy = 0; oy < j->OH; oy++) {
            int64_t hstart, hend;
            const int64_t pool_h = avg_window(oy, sh, kh, ph, j->H, &hstart, &hend);
            for (int64_t ox = 0; ox < j->OW; ox++) {
                int64_t wstart, wend;
                const int64_t pool_w = avg_window(ox, sw, kw, pw, j->W, &wstart, &wend);
                float sum = 0.0f;
                for (int64_t iy = hstart; iy < hend; iy++)
                    for (int64_t ix = wstart; ix < wend; ix++)
                        sum += x[iy * j->W + ix];
                int64_t divisor;
                if (j->p.divisor_override > 0)
                    divisor = j->p.divisor_override;
                else if (j->p.count_include_pad)
                    divisor = pool_h * pool_w;
                else
                    divisor = (hend - hstart) * (wend - wstart);
                y[oy * j->OW + ox] = divisor > 0 ? sum / (float)divisor : NAN;
            }
        }
    }
}

sb_status sb_nn_cpu_avg_pool2d(sb_tensor *out, const sb_tensor *x, const sb_pool2d_params *p)
{
    return pool("avg_pool2d", false, out, x, p, avg_pool_planes);
}

static void adaptive_avg_planes(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    for (int64_t plane = begin; plane < end; plane++) {
        const float *x = j->x + plane * j->H * j->W;
        float *y = j->y + plane * j->OH * j->OW;
        for (int64_t oy = 0; oy < j->OH; oy++) {
            const int64_t y0 = oy * j->H / j->OH;
            const int64_t y1 = ((oy + 1) * j->H + j->OH - 1) / j->OH;
            for (int64_t ox = 0; ox < j->OW; ox++) {
                const int64_t x0 = ox * j->W / j->OW;
                const int64_t x1 = ((ox + 1) * j->W + j->OW - 1) / j->OW;
                float sum = 0.0f;
                for (int64_t iy = y0; iy < y1; iy++)
                    for (int64_t ix = x0; ix < x1; ix++)
                        sum += x[iy * j->W + ix];
                y[oy * j->OW + ox] = sum / (float)((y1 - y0) * (x1 - x0));
            }
        }
    }
}

sb_status sb_nn_cpu_adaptive_avg_pool2d(sb_tensor *out, const sb_tensor *x)
{
    SB_TRY(sb_nn_cpu_require_float32("adaptive_avg_pool2d", x));
    pool_job j = make_job(out, x, NULL);
    j.p.kernel[0] = (j.H + j.OH - 1) / (j.OH > 0 ? j.OH : 1) + 1;
    j.p.kernel[1] = (j.W + j.OW - 1) / (j.OW > 0 ? j.OW : 1) + 1;
    sb_parallel_for(out->sizes[0] * out->sizes[1], plane_grain(&j), adaptive_avg_planes, &j);
    return SB_OK;
}
