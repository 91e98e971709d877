/* Resize with Pillow 9.4's arithmetic (src/libImaging/Resample.c and Geometry.c's affine
 * nearest-neighbour scale), which torchvision 0.14 calls for PIL images. Reproduced from the
 * description of the algorithm, checked byte for byte against Pillow's output. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/geometry.h"
#include "image/scratch.h"

#define PRECISION_BITS (32 - 8 - 2)

static double bilinear_filter(double x)
{
    if (x < 0.0) x = -x;
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

static double bicubic_filter(double x)
{
    const double a = -0.5; /* Pillow's (and Keys') a */
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static double sinc_filter(double x)
{
    if (x == 0.0) return 1.0;
    x = x * M_PI;
    return sin(x) / x;
}

static double lanczos_filter(double x)
{
    /* sinc windowed by a wider sinc, support 3 */
    if (-3.0 <= x && x < 3.0) return sinc_filter(x) * sinc_filter(x / 3);
    return 0.0;
}

typedef struct filter {
    double (*fn)(double);
    double support;
} filter;

/* For each output position: the first input index, the count, and `ksize` fixed-point
 * weights. Returns ksize, or 0 when out of memory. */
static int precompute_coeffs(int in_size, int out_size, const filter *f, int **bounds_out,
                             int32_t **kk_out)
{
    double scale = (double)(float)in_size / out_size, filterscale = scale;
    if (filterscale < 1.0) filterscale = 1.0;
    double support = f->support * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    double *kk = malloc(sizeof(double) * (size_t)out_size * (size_t)ksize);
    int32_t *fixed = malloc(sizeof(int32_t) * (size_t)out_size * (size_t)ksize);
    int *bounds = malloc(sizeof(int) * 2 * (size_t)out_size);
    if (!kk || !fixed || !bounds) {
        free(kk);
        free(fixed);
        free(bounds);
        return 0;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double *k = &kk[(size_t)xx * ksize];
        int x;
        for (x = 0; x < xmax; x++) {
            double wt = f->fn((x + xmin - center + 0.5) * ss);
            k[x] = wt;
            ww += wt;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++)
            k[x] = 0;
        bounds[xx * 2] = xmin;
        bounds[xx * 2 + 1] = xmax;
    }
    for (size_t i = 0; i < (size_t)out_size * (size_t)ksize; i++)
        fixed[i] = kk[i] < 0 ? (int32_t)(-0.5 + kk[i] * (1 << PRECISION_BITS))
                             : (int32_t)(0.5 + kk[i] * (1 << PRECISION_BITS));
    free(kk);
    *bounds_out = bounds;
    *kk_out = fixed;
    return ksize;
}

static inline uint8_t clip8(int32_t v)
{
    v >>= PRECISION_BITS; /* arithmetic shift: floor, as Pillow's lookup table index */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Rows [row0, row0 + rows) of src (width w) resampled horizontally into dst: output columns
 * [x0, x0 + ow) of the resized width. */
static void horizontal(const uint8_t *src, int w, int c, int row0, int rows, uint8_t *dst, int x0,
                       int ow, int ksize, const int *bounds, const int32_t *kk)
{
    bounds += 2 * x0;
    kk += (size_t)x0 * ksize;
    for (int y = 0; y < rows; y++) {
        const uint8_t *in = src + (size_t)(row0 + y) * w * c;
        uint8_t *out = dst + (size_t)y * ow * c;
        for (int xx = 0; xx < ow; xx++) {
            int xmin = bounds[xx * 2], xmax = bounds[xx * 2 + 1];
            const int32_t *k = &kk[(size_t)xx * ksize];
            const uint8_t *p = in + (size_t)xmin * c;
            if (c == 3) {
                int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int x = 0; x < xmax; x++, p += 3) {
                    s0 += p[0] * k[x];
                    s1 += p[1] * k[x];
                    s2 += p[2] * k[x];
                }
                out[xx * 3] = clip8(s0);
                out[xx * 3 + 1] = clip8(s1);
                out[xx * 3 + 2] = clip8(s2);
            } else {
                for (int ch = 0; ch < c; ch++) {
                    int32_t s = 1 << (PRECISION_BITS - 1);
                    for (int x = 0; x < xmax; x++)
                        s += p[x * c + ch] * k[x];
                    out[xx * c + ch] = clip8(s);
                }
            }
        }
    }
}

/* src (h' rows of width w) resampled vertically into dst (oh rows). */
static void vertical(const uint8_t *src, int w, int c, uint8_t *dst, int oh, int ksize,
                     const int *bounds, const int32_t *kk)
{
    size_t stride = (size_t)w * c;
    int32_t *acc = sb_scratch(4, sizeof(int32_t) * stride);
    for (int yy = 0; yy < oh; yy++) {
        int ymin = bounds[yy * 2], ymax = bounds[yy * 2 + 1];
        const int32_t *k = &kk[(size_t)yy * ksize];
        uint8_t *out = dst + (size_t)yy * stride;
        if (acc) {
            /* Row-wise accumulation: same sums in the same order, vectorisable. */
            for (size_t i = 0; i < stride; i++)
                acc[i] = 1 << (PRECISION_BITS - 1);
            for (int y = 0; y < ymax; y++) {
                const uint8_t *in = src + (size_t)(y + ymin) * stride;
                int32_t ky = k[y];
                for (size_t i = 0; i < stride; i++)
                    acc[i] += in[i] * ky;
            }
            for (size_t i = 0; i < stride; i++)
                out[i] = clip8(acc[i]);
        } else {
            for (size_t i = 0; i < stride; i++) {
                int32_t s = 1 << (PRECISION_BITS - 1);
                for (int y = 0; y < ymax; y++)
                    s += src[(size_t)(y + ymin) * stride + i] * k[y];
                out[i] = clip8(s);
            }
        }
    }
}

/* Geometry.c's ImagingScaleAffine: positions accumulated in double, truncated. */
static sb_status resize_nearest(const uint8_t *src, int h, int w, int c, uint8_t *dst, int oh,
                                int ow)
{
    int *xin = malloc(sizeof(int) * (size_t)ow);
    if (!xin) return sb_fail(SB_ENOMEM, "Resize: out of memory");
    double ax = (double)(float)w / ow, ay = (double)(float)h / oh;
    double xo = ax * 0.5;
    for (int x = 0; x < ow; x++) {
        int xi = xo < 0.0 ? -1 : (int)xo;
        xin[x] = xi < w ? xi : -1;
        xo += ax;
    }
    double yo = ay * 0.5;
    for (int y = 0; y < oh; y++) {
        int yi = yo < 0.0 ? -1 : (int)yo;
        uint8_t *out = dst + (size_t)y * ow * c;
        if (yi < 0 || yi >= h) {
            memset(out, 0, (size_t)ow * c);
        } else {
            const uint8_t *in = src + (size_t)yi * w * c;
            for (int x = 0; x < ow; x++) {
                if (xin[x] < 0)
                    memset(out + (size_t)x * c, 0, (size_t)c);
                else
                    memcpy(out + (size_t)x * c, in + (size_t)xin[x] * c, (size_t)c);
            }
        }
        yo += ay;
    }
    free(xin);
    return SB_OK;
}

sb_status sb_image_resize(const uint8_t *src, int h, int w, int c, uint8_t *dst, int oh, int ow,
                          sb_interp interp)
{
    return sb_image_resize_window(src, h, w, c, oh, ow, interp, 0, 0, oh, ow, dst);
}

sb_status sb_image_resize_window(const uint8_t *src, int h, int w, int c, int oh, int ow,
                                 sb_interp interp, int top, int left, int wh, int ww, uint8_t *dst)
{
    if (oh == h && ow == w) {
        sb_image_crop(src, h, w, c, top, left, dst, wh, ww);
        return SB_OK;
    }
    if (interp == SB_INTERP_NEAREST || top != 0 || left != 0 || wh != oh || ww != ow) {
        if (interp == SB_INTERP_NEAREST) {
            if (top == 0 && left == 0 && wh == oh && ww == ow)
                return resize_nearest(src, h, w, c, dst, oh, ow);
            uint8_t *full = sb_scratch(5, (size_t)oh * ow * c);
            if (!full) return sb_fail(SB_ENOMEM, "Resize: out of memory");
            SB_TRY(resize_nearest(src, h, w, c, full, oh, ow));
            sb_image_crop(full, oh, ow, c, top, left, dst, wh, ww);
            return SB_OK;
        }
    }
    static const filter filters[] = {
        [SB_INTERP_BILINEAR] = {bilinear_filter, 1.0},
        [SB_INTERP_BICUBIC] = {bicubic_filter, 2.0},
        [SB_INTERP_LANCZOS] = {lanczos_filter, 3.0},
    };
    const filter *f = &filters[interp];
    int *bh = NULL, *bv = NULL;
    int32_t *kh = NULL, *kv = NULL;
    int ksize_h = precompute_coeffs(w, ow, f, &bh, &kh);
    int ksize_v = ksize_h ? precompute_coeffs(h, oh, f, &bv, &kv) : 0;
    if (!ksize_v) {
        free(bh);
        free(kh);
        return sb_fail(SB_ENOMEM, "Resize: out of memory");
    }
    /* Each output pixel depends only on its own weights and the horizontally resampled rows
     * it reads, so computing just the window [top, top + wh) x [left, left + ww) of the
     * resized image gives the same bytes as resizing everything and cropping. */
    bool need_h = ow != w, need_v = oh != h;
    int *bvw = bv + 2 * top;
    int32_t *kvw = kv + (size_t)top * ksize_v;
    sb_status s = SB_OK;
    if (need_h && !need_v) {
        horizontal(src, w, c, top, wh, dst, left, ww, ksize_h, bh, kh);
    } else if (!need_h) {
        uint8_t *cols = sb_scratch(3, (size_t)h * ww * c);
        if (!cols) {
            s = sb_fail(SB_ENOMEM, "Resize: out of memory");
        } else {
            sb_image_crop(src, h, w, c, 0, left, cols, h, ww);
            vertical(cols, ww, c, dst, wh, ksize_v, bvw, kvw);
        }
    } else {
        /* Only the input rows the vertical pass reads go through the horizontal pass. */
        int first = bvw[0], last = bvw[wh * 2 - 2] + bvw[wh * 2 - 1];
        for (int i = 0; i < wh; i++)
            bvw[i * 2] -= first;
        uint8_t *tmp = sb_scratch(3, (size_t)(last - first) * ww * c);
        if (!tmp) {
            s = sb_fail(SB_ENOMEM, "Resize: out of memory");
        } else {
            horizontal(src, w, c, first, last - first, tmp, left, ww, ksize_h, bh, kh);
            vertical(tmp, ww, c, dst, wh, ksize_v, bvw, kvw);
        }
    }
    free(bh);
    free(kh);
    free(bv);
    free(kv);
    return s;
}
