/* Sizes, crops, padding, grayscale and flips with torchvision 0.14 / Pillow 9.4 semantics. */
#include "image/geometry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const interp_names[] = {"nearest", "bilinear", "bicubic", "lanczos"};

/* The index of `name` in names[0..n-1], or -1. */
static int name_index(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

bool sb_interp_from_name(const char *name, sb_interp *out)
{
    int i = name_index(interp_names, 4, name);
    if (i >= 0) *out = (sb_interp)i;
    return i >= 0;
}

const char *sb_interp_name(sb_interp interp)
{
    return interp_names[interp];
}

sb_status sb_resize_output_size(int h, int w, int size_h, int size_w, int max_size, int *out_h,
                                int *out_w)
{
    int64_t nh, nw;
    if (size_w >= 0) {
        if (max_size > 0)
            return sb_fail(SB_EINVAL, "Resize: max_size is only allowed when size is one number "
                                      "(the shorter side)");
        nh = size_h;
        nw = size_w;
    } else {
        int64_t shorter = w <= h ? w : h, longer = w <= h ? h : w;
        int64_t new_short = size_h;
        int64_t new_long = (int64_t)((double)(size_h * longer) / (double)shorter);
        if (max_size > 0) {
            if (max_size <= size_h)
                return sb_fail(SB_EINVAL,
                               "Resize: max_size = %d must be strictly greater than the requested "
                               "size for the smaller edge size = %d",
                               max_size, size_h);
            if (new_long > max_size) {
                new_short = (int64_t)((double)((int64_t)max_size * new_short) / (double)new_long);
                new_long = max_size;
            }
        }
        nw = w <= h ? new_short : new_long;
        nh = w <= h ? new_long : new_short;
    }
    if (nh < 1 || nw < 1 || nh > INT32_MAX / 4 || nw > INT32_MAX / 4)
        return sb_fail(SB_EINVAL, "Resize: a %d x %d image would become %lld x %lld (H x W)", h, w,
                       (long long)nh, (long long)nw);
    *out_h = (int)nh;
    *out_w = (int)nw;
    return SB_OK;
}

void sb_image_crop(const uint8_t *src, int h, int w, int c, int top, int left, uint8_t *dst, int oh,
                   int ow)
{
    size_t px = (size_t)c;
    for (int y = 0; y < oh; y++) {
        uint8_t *out = dst + (size_t)y * ow * px;
        int sy = top + y;
        if (sy < 0 || sy >= h) {
            memset(out, 0, (size_t)ow * px);
            continue;
        }
        int x0 = left < 0 ? -left : 0;          /* first x inside the image */
        int x1 = left + ow > w ? w - left : ow; /* one past the last */
        if (x1 < x0) x1 = x0;
        if (x0 > ow) x0 = x1 = ow;
        memset(out, 0, (size_t)x0 * px);
        memcpy(out + (size_t)x0 * px, src + ((size_t)sy * w + (size_t)(left + x0)) * px,
               (size_t)(x1 - x0) * px);
        memset(out + (size_t)x1 * px, 0, (size_t)(ow - x1) * px);
    }
}

/* Python's round(d / 2.0) for d >= 0: halves go to the even neighbour. */
static int half_round_even(int d)
{
    int q = d / 2;
    if (d % 2 && q % 2) q++;
    return q;
}

void sb_center_crop_origin(int h, int w, int ch, int cw, int *top, int *left)
{
    int pl = cw > w ? (cw - w) / 2 : 0, pt = ch > h ? (ch - h) / 2 : 0;
    int pr = cw > w ? (cw - w + 1) / 2 : 0, pb = ch > h ? (ch - h + 1) / 2 : 0;
    int ph = h + pt + pb, pw = w + pl + pr; /* the zero-padded image torchvision crops from */
    *top = half_round_even(ph - ch) - pt;
    *left = half_round_even(pw - cw) - pl;
}

static const char *const pad_names[] = {"constant", "edge", "reflect", "symmetric"};

bool sb_pad_mode_from_name(const char *name, sb_pad_mode *out)
{
    int i = name_index(pad_names, 4, name);
    if (i >= 0) *out = (sb_pad_mode)i;
    return i >= 0;
}

sb_status sb_pad_output_size(int h, int w, const int pad[4], int *out_h, int *out_w)
{
    int64_t oh = (int64_t)h + pad[1] + pad[3], ow = (int64_t)w + pad[0] + pad[2];
    int64_t ih = (int64_t)h + (pad[1] < 0 ? pad[1] : 0) + (pad[3] < 0 ? pad[3] : 0);
    int64_t iw = (int64_t)w + (pad[0] < 0 ? pad[0] : 0) + (pad[2] < 0 ? pad[2] : 0);
    if (oh < 1 || ow < 1 || ih < 1 || iw < 1 || oh > INT32_MAX / 4 || ow > INT32_MAX / 4)
        return sb_fail(SB_EINVAL,
                       "Pad: padding (left %d, top %d, right %d, bottom %d) leaves no image of a "
                       "%d x %d input",
                       pad[0], pad[1], pad[2], pad[3], h, w);
    *out_h = (int)oh;
    *out_w = (int)ow;
    return SB_OK;
}

/* map[i] = the source index of output position i (l + n + r positions) as numpy.pad gives
 * it (torchvision pads PIL images with numpy for the non-constant modes); -1 = fill. Reflect
 * and symmetric follow numpy's own iteration, which for pads wider than the image is not
 * simply periodic. */
static void pad_map(int n, int l, int r, sb_pad_mode mode, int *map)
{
    int len = n + l + r;
    for (int i = 0; i < len; i++) {
        int k = i - l;
        map[i] = k >= 0 && k < n           ? k
                 : mode == SB_PAD_CONSTANT ? -1
                 : k < 0                   ? 0
                                           : n - 1; /* edge; also numpy's rule for n == 1 */
    }
    if (n == 1 || (mode != SB_PAD_REFLECT && mode != SB_PAD_SYMMETRIC)) return;
    int edge = mode == SB_PAD_SYMMETRIC ? 1 : 0;
    while (l > 0 || r > 0) {
        int old_length = len - r - l - (edge ? 0 : 1);
        if (l > 0) {
            int chunk = old_length < l ? old_length : l, from = l - edge + chunk;
            for (int j = 0; j < chunk; j++)
                map[l - chunk + j] = map[from - j];
            l -= chunk;
        }
        if (r > 0) {
            int chunk = old_length < r ? old_length : r, from = len - r + edge - 2;
            for (int j = 0; j < chunk; j++)
                map[len - r + j] = map[from - j];
            r -= chunk;
        }
    }
}

void sb_image_pad(const uint8_t *src, int h, int w, int c, const int pad[4], sb_pad_mode mode,
                  const uint8_t *fill, uint8_t *dst)
{
    /* Negative padding crops first (torchvision), the rest pads the cropped image. */
    int cl = pad[0] < 0 ? -pad[0] : 0, ct = pad[1] < 0 ? -pad[1] : 0;
    int ih = h - ct - (pad[3] < 0 ? -pad[3] : 0), iw = w - cl - (pad[2] < 0 ? -pad[2] : 0);
    int l = pad[0] > 0 ? pad[0] : 0, t = pad[1] > 0 ? pad[1] : 0;
    int r = pad[2] > 0 ? pad[2] : 0, b = pad[3] > 0 ? pad[3] : 0;
    int oh = ih + t + b, ow = iw + l + r;
    int *rows = malloc(sizeof(int) * ((size_t)oh + (size_t)ow));
    size_t px = (size_t)c;
    if (!rows) { /* cannot happen for sizes sb_pad_output_size accepts; keep it defined */
        memset(dst, 0, (size_t)oh * ow * px);
        return;
    }
    int *cols = rows + oh;
    pad_map(ih, t, b, mode, rows);
    pad_map(iw, l, r, mode, cols);
    for (int y = 0; y < oh; y++) {
        uint8_t *out = dst + (size_t)y * ow * px;
        for (int x = 0; x < ow; x++) {
            if (rows[y] < 0 || cols[x] < 0)
                memcpy(out + (size_t)x * px, fill, px);
            else
                memcpy(out + (size_t)x * px,
                       src + ((size_t)(rows[y] + ct) * w + (size_t)(cols[x] + cl)) * px, px);
        }
    }
    free(rows);
}

void sb_image_grayscale(const uint8_t *src, int h, int w, int c, uint8_t *dst, int out_c)
{
    size_t n = (size_t)h * w;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = src + i * (size_t)c;
        uint8_t v =
            c >= 3 ? (uint8_t)((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16) : p[0];
        for (int k = 0; k < out_c; k++)
            dst[i * (size_t)out_c + (size_t)k] = v;
    }
}

void sb_image_flip(const uint8_t *src, int h, int w, int c, bool vertical, uint8_t *dst)
{
    size_t px = (size_t)c, row = (size_t)w * px;
    for (int y = 0; y < h; y++) {
        const uint8_t *in = src + (size_t)(vertical ? h - 1 - y : y) * row;
        uint8_t *out = dst + (size_t)y * row;
        if (vertical)
            memcpy(out, in, row);
        else
            for (int x = 0; x < w; x++)
                memcpy(out + (size_t)x * px, in + (size_t)(w - 1 - x) * px, px);
    }
}
