#include "data/transform.h"

#include "image/scratch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sb_status sb_transform_new(sb_transform **out)
{
    sb_transform *tf = calloc(1, sizeof *tf);
    if (!tf) return sb_fail(SB_ENOMEM, "cannot allocate a transform");
    *out = tf;
    return SB_OK;
}

void sb_transform_free(sb_transform *tf)
{
    if (!tf) return;
    for (int i = 0; i < tf->nsteps; i++) {
        free(tf->steps[i].mean);
        free(tf->steps[i].std);
        free(tf->steps[i].lut);
    }
    free(tf->steps);
    free(tf);
}

static sb_status push_step(sb_transform *tf, sb_transform_step step)
{
    sb_transform_step *grown = realloc(tf->steps, sizeof *grown * (size_t)(tf->nsteps + 1));
    if (!grown) return sb_fail(SB_ENOMEM, "cannot grow a transform");
    tf->steps = grown;
    tf->steps[tf->nsteps++] = step;
    return SB_OK;
}

sb_status sb_transform_add_to_tensor(sb_transform *tf)
{
    float *lut = malloc(sizeof(float) * 256);
    if (!lut) return sb_fail(SB_ENOMEM, "cannot allocate ToTensor");
    for (int x = 0; x < 256; x++)
        lut[x] = (float)x / 255.0f;
    sb_status s = push_step(
        tf, (sb_transform_step){.kind = SB_TRANSFORM_TO_TENSOR, .lut = lut, .lut_channels = 1});
    if (s != SB_OK) free(lut);
    return s;
}

/* Folds a Normalize into the ToTensor before it. */
static sb_status fuse_normalize(sb_transform_step *to_tensor, const sb_transform_step *norm)
{
    float *lut = malloc(sizeof(float) * 256 * (size_t)norm->channels);
    if (!lut) return sb_fail(SB_ENOMEM, "cannot allocate ToTensor");
    for (int k = 0; k < norm->channels; k++)
        for (int x = 0; x < 256; x++) {
            float v = (float)x / 255.0f;
            v = v - norm->mean[k];
            lut[k * 256 + x] = v / norm->std[k];
        }
    free(to_tensor->lut);
    to_tensor->lut = lut;
    to_tensor->lut_channels = norm->channels;
    to_tensor->fused = true;
    return SB_OK;
}

sb_status sb_transform_add_normalize(sb_transform *tf, int channels, const double *mean,
                                     const double *std)
{
    if (channels < 1) return sb_fail(SB_EINVAL, "Normalize: mean and std must not be empty");
    sb_transform_step step = {.kind = SB_TRANSFORM_NORMALIZE,
                              .channels = channels,
                              .mean = malloc(sizeof(float) * (size_t)channels),
                              .std = malloc(sizeof(float) * (size_t)channels)};
    if (!step.mean || !step.std) {
        free(step.mean);
        free(step.std);
        return sb_fail(SB_ENOMEM, "cannot allocate Normalize");
    }
    for (int c = 0; c < channels; c++) {
        if (std[c] == 0) {
            free(step.mean);
            free(step.std);
            return sb_fail(SB_EINVAL, "Normalize: std[%d] is 0 (division by zero)", c + 1);
        }
        step.mean[c] = (float)mean[c];
        step.std[c] = (float)std[c];
    }
    sb_transform_step *prev = tf->nsteps ? &tf->steps[tf->nsteps - 1] : NULL;
    sb_status s = SB_OK;
    if (prev && prev->kind == SB_TRANSFORM_TO_TENSOR && !prev->fused)
        s = fuse_normalize(prev, &step);
    if (s == SB_OK) s = push_step(tf, step);
    if (s != SB_OK) {
        free(step.mean);
        free(step.std);
    }
    return s;
}

static sb_status check_size(const char *what, int h, int w)
{
    if (h < 1 || w < 1)
        return sb_fail(SB_EINVAL, "%s: size must be positive, got (%d, %d)", what, h, w);
    return SB_OK;
}

sb_status sb_transform_add_resize(sb_transform *tf, int size_h, int size_w, sb_interp interp,
                                  int max_size)
{
    if (size_w < 0 ? size_h < 1 : (size_h < 1 || size_w < 1))
        return sb_fail(SB_EINVAL, "Resize: size must be positive, got %d",
                       size_h < 1 ? size_h : size_w);
    if (max_size > 0 && size_w >= 0)
        return sb_fail(SB_EINVAL, "Resize: max_size should only be passed if size specifies the "
                                  "length of the smaller edge, i.e. size should be an int");
    if (max_size > 0 && max_size <= size_h)
        return sb_fail(SB_EINVAL,
                       "Resize: max_size = %d must be strictly greater than the requested size for "
                       "the smaller edge size = %d",
                       max_size, size_h);
    return push_step(tf, (sb_transform_step){.kind = SB_TRANSFORM_RESIZE,
                                             .size_h = size_h,
                                             .size_w = size_w,
                                             .interp = interp,
                                             .max_size = max_size > 0 ? max_size : 0});
}

sb_status sb_transform_add_center_crop(sb_transform *tf, int h, int w)
{
    SB_TRY(check_size("CenterCrop", h, w));
    return push_step(
        tf, (sb_transform_step){.kind = SB_TRANSFORM_CENTER_CROP, .size_h = h, .size_w = w});
}

sb_status sb_transform_add_pad(sb_transform *tf, const int pad[4], sb_pad_mode mode,
                               const uint8_t fill[3])
{
    sb_transform_step st = {.kind = SB_TRANSFORM_PAD, .pad_mode = mode};
    memcpy(st.pad, pad, sizeof st.pad);
    memcpy(st.fill, fill, 3);
    st.fill[3] = 0;
    return push_step(tf, st);
}

sb_status sb_transform_add_grayscale(sb_transform *tf, int channels)
{
    if (channels != 1 && channels != 3)
        return sb_fail(SB_EINVAL, "Grayscale: num_output_channels should be either 1 or 3, got %d",
                       channels);
    return push_step(tf, (sb_transform_step){.kind = SB_TRANSFORM_GRAYSCALE, .channels = channels});
}

sb_status sb_transform_add_five_crop(sb_transform *tf, int h, int w)
{
    SB_TRY(check_size("FiveCrop", h, w));
    return push_step(tf,
                     (sb_transform_step){.kind = SB_TRANSFORM_FIVE_CROP, .size_h = h, .size_w = w});
}

sb_status sb_transform_add_ten_crop(sb_transform *tf, int h, int w, bool vertical_flip)
{
    SB_TRY(check_size("TenCrop", h, w));
    return push_step(
        tf, (sb_transform_step){
                .kind = SB_TRANSFORM_TEN_CROP, .size_h = h, .size_w = w, .vflip = vertical_flip});
}

static bool is_image_step(sb_transform_kind kind)
{
    return kind != SB_TRANSFORM_TO_TENSOR && kind != SB_TRANSFORM_NORMALIZE;
}

sb_status sb_transform_append(sb_transform *tf, const sb_transform *other)
{
    for (int i = 0; i < other->nsteps; i++) {
        const sb_transform_step *st = &other->steps[i];
        if (st->kind == SB_TRANSFORM_TO_TENSOR) {
            SB_TRY(sb_transform_add_to_tensor(tf));
        } else if (is_image_step(st->kind)) {
            sb_transform_step copy = *st;
            copy.mean = copy.std = copy.lut = NULL;
            SB_TRY(push_step(tf, copy));
        } else {
            double mean[256], std[256];
            double *m = st->channels <= 256 ? mean : malloc(sizeof(double) * (size_t)st->channels);
            double *s = st->channels <= 256 ? std : malloc(sizeof(double) * (size_t)st->channels);
            if (!m || !s) {
                if (m != mean) free(m);
                if (s != std) free(s);
                return sb_fail(SB_ENOMEM, "cannot copy Normalize");
            }
            for (int c = 0; c < st->channels; c++) {
                m[c] = st->mean[c];
                s[c] = st->std[c];
            }
            sb_status rc = sb_transform_add_normalize(tf, st->channels, m, s);
            if (m != mean) free(m);
            if (s != std) free(s);
            SB_TRY(rc);
        }
    }
    return SB_OK;
}

sb_status sb_transform_clone(const sb_transform *tf, sb_transform **out)
{
    sb_transform *copy = NULL;
    SB_TRY(sb_transform_new(&copy));
    sb_status s = sb_transform_append(copy, tf);
    if (s != SB_OK) {
        sb_transform_free(copy);
        return s;
    }
    *out = copy;
    return SB_OK;
}

bool sb_sample_spec_known(const sb_sample_spec *spec)
{
    for (int i = 0; i < spec->ndim; i++)
        if (spec->sizes[i] < 0) return false;
    return true;
}

/* An image sample: n images of h x w x c (sizes may be -1), and whether it is 2-D (H,W). */
typedef struct img_shape {
    int64_t n, h, w, c;
    bool flat;
} img_shape;

static const char *const step_names[] = {"ToTensor", "Normalize", "Resize",   "CenterCrop",
                                         "Pad",      "Grayscale", "FiveCrop", "TenCrop"};

static sb_status image_shape_of(const char *step, const sb_sample_spec *spec, img_shape *out)
{
    char shape[128];
    sb_sample_spec_format(spec, shape, sizeof shape);
    if (spec->dtype != SB_UINT8 || spec->ndim < 2 || spec->ndim > 4)
        return sb_fail(SB_EINVAL,
                       "%s: expected a uint8 image (H,W), (H,W,C) or a stack (N,H,W,C) (put it "
                       "before ToTensor), got %s",
                       step, shape);
    const int64_t *s = spec->sizes;
    if (spec->ndim == 2)
        *out = (img_shape){1, s[0], s[1], 1, true};
    else if (spec->ndim == 3)
        *out = (img_shape){1, s[0], s[1], s[2], false};
    else
        *out = (img_shape){s[0], s[1], s[2], s[3], false};
    if (out->c != -1 && (out->c < 1 || out->c > 4))
        return sb_fail(SB_EINVAL, "%s: expected 1 to 4 channels (H,W,C), got %s", step, shape);
    return SB_OK;
}

static sb_sample_spec image_spec(const img_shape *s)
{
    sb_sample_spec out = {SB_UINT8, 0, {0}};
    if (s->n != 1) {
        out.ndim = 4;
        out.sizes[0] = s->n;
        out.sizes[1] = s->h;
        out.sizes[2] = s->w;
        out.sizes[3] = s->c;
    } else if (s->flat && s->c == 1) {
        out.ndim = 2;
        out.sizes[0] = s->h;
        out.sizes[1] = s->w;
    } else {
        out.ndim = 3;
        out.sizes[0] = s->h;
        out.sizes[1] = s->w;
        out.sizes[2] = s->c;
    }
    return out;
}

/* The shape after one image step; sizes stay -1 where they cannot be known yet. */
static sb_status image_step_shape(const sb_transform_step *st, const img_shape *in, img_shape *out)
{
    *out = *in;
    bool known = in->h >= 0 && in->w >= 0;
    switch (st->kind) {
    case SB_TRANSFORM_RESIZE:
        if (st->size_w >= 0) {
            out->h = st->size_h;
            out->w = st->size_w;
        } else if (known) {
            int oh, ow;
            SB_TRY(sb_resize_output_size((int)in->h, (int)in->w, st->size_h, -1, st->max_size, &oh,
                                         &ow));
            out->h = oh;
            out->w = ow;
        }
        break;
    case SB_TRANSFORM_CENTER_CROP:
        out->h = st->size_h;
        out->w = st->size_w;
        break;
    case SB_TRANSFORM_PAD:
        if (known) {
            int oh, ow;
            SB_TRY(sb_pad_output_size((int)in->h, (int)in->w, st->pad, &oh, &ow));
            out->h = oh;
            out->w = ow;
        }
        break;
    case SB_TRANSFORM_GRAYSCALE:
        out->c = st->channels;
        out->flat = in->flat && st->channels == 1;
        break;
    default: { /* five / ten crop */
        const char *name = step_names[st->kind];
        if (in->n != 1)
            return sb_fail(SB_EINVAL, "%s: expected one image, got a stack of %lld", name,
                           (long long)in->n);
        if (known && (st->size_h > in->h || st->size_w > in->w))
            return sb_fail(SB_EINVAL,
                           "%s: requested crop size (%d, %d) is bigger than input size (%lld, "
                           "%lld)",
                           name, st->size_h, st->size_w, (long long)in->h, (long long)in->w);
        out->n = st->kind == SB_TRANSFORM_FIVE_CROP ? 5 : 10;
        out->h = st->size_h;
        out->w = st->size_w;
        out->flat = false;
        break;
    }
    }
    return SB_OK;
}

sb_status sb_transform_output_spec(const sb_transform *tf, const sb_sample_spec *in,
                                   sb_sample_spec *out)
{
    sb_sample_spec cur = *in;
    char shape[128];
    for (int i = 0; i < tf->nsteps; i++) {
        const sb_transform_step *st = &tf->steps[i];
        sb_sample_spec_format(&cur, shape, sizeof shape);
        if (is_image_step(st->kind)) {
            img_shape a, b;
            SB_TRY(image_shape_of(step_names[st->kind], &cur, &a));
            SB_TRY(image_step_shape(st, &a, &b));
            cur = image_spec(&b);
        } else if (st->kind == SB_TRANSFORM_TO_TENSOR) {
            if (cur.dtype != SB_UINT8 || cur.ndim < 2 || cur.ndim > 4)
                return sb_fail(SB_EINVAL,
                               "ToTensor: expected a uint8 image (H,W), (H,W,C) or a stack "
                               "(N,H,W,C), got %s",
                               shape);
            sb_sample_spec next = {SB_FLOAT32, cur.ndim == 4 ? 4 : 3, {0}};
            int64_t *s = cur.sizes;
            if (cur.ndim == 2) {
                next.sizes[0] = 1;
                next.sizes[1] = s[0];
                next.sizes[2] = s[1];
            } else if (cur.ndim == 3) {
                next.sizes[0] = s[2];
                next.sizes[1] = s[0];
                next.sizes[2] = s[1];
            } else {
                next.sizes[0] = s[0];
                next.sizes[1] = s[3];
                next.sizes[2] = s[1];
                next.sizes[3] = s[2];
            }
            cur = next;
        } else {
            if (cur.dtype != SB_FLOAT32 || cur.ndim < 1)
                return sb_fail(SB_EINVAL,
                               "Normalize: expected a float32 tensor (C,H,W) (put ToTensor "
                               "first), got %s",
                               shape);
            int64_t channels = cur.ndim == 4 ? cur.sizes[1] : cur.sizes[0];
            if (st->channels != 1 && channels >= 0 && st->channels != channels)
                return sb_fail(SB_EINVAL,
                               "Normalize: %d means/stds for a sample with %lld channels (%s)",
                               st->channels, (long long)channels, shape);
        }
    }
    *out = cur;
    return SB_OK;
}

/* out[n][c][h][w] = lut[k(c)][in[n][h][w][c]]: ToTensor (and a fused Normalize) in one pass. */
static void to_tensor_lut(const sb_sample_spec *in, const uint8_t *src, float *dst,
                          const sb_transform_step *st)
{
    int64_t n = 1, h, w, c;
    if (in->ndim == 4) {
        n = in->sizes[0];
        h = in->sizes[1];
        w = in->sizes[2];
        c = in->sizes[3];
    } else {
        h = in->sizes[0];
        w = in->sizes[1];
        c = in->ndim == 3 ? in->sizes[2] : 1;
    }
    int64_t plane = h * w;
    for (int64_t img = 0; img < n; img++, src += plane * c, dst += plane * c) {
        for (int64_t ch = 0; ch < c; ch++) {
            const float *lut = st->lut + (st->lut_channels == 1 ? 0 : ch * 256);
            float *out = dst + ch * plane;
            if (c == 1) {
                for (int64_t i = 0; i < plane; i++)
                    out[i] = lut[src[i]];
            } else {
                const uint8_t *p = src + ch;
                for (int64_t i = 0; i < plane; i++)
                    out[i] = lut[p[i * c]];
            }
        }
    }
}

static void normalize_inplace(const sb_sample_spec *spec, float *data, const sb_transform_step *st)
{
    int64_t n = spec->ndim == 4 ? spec->sizes[0] : 1;
    int64_t c = spec->ndim == 4 ? spec->sizes[1] : spec->sizes[0];
    size_t per = sb_sample_spec_numel(spec) / (size_t)((n * c) != 0 ? n * c : 1);
    for (int64_t img = 0; img < n; img++)
        for (int64_t ch = 0; ch < c; ch++) {
            int k = st->channels == 1 ? 0 : (int)ch;
            float m = st->mean[k], sd = st->std[k];
            float *p = data + (size_t)(img * c + ch) * per;
            for (size_t i = 0; i < per; i++)
                p[i] = (p[i] - m) / sd;
        }
}

/* One image step on concrete shapes: in (a) -> out (b). */
static sb_status run_image_step(const sb_transform_step *st, const img_shape *a, const uint8_t *src,
                                const img_shape *b, uint8_t *dst)
{
    int h = (int)a->h, w = (int)a->w, c = (int)a->c, oh = (int)b->h, ow = (int)b->w;
    size_t in_bytes = (size_t)h * w * c, out_bytes = (size_t)oh * ow * b->c;
    if (st->kind == SB_TRANSFORM_FIVE_CROP || st->kind == SB_TRANSFORM_TEN_CROP) {
        int tops[5] = {0, 0, h - oh, h - oh, 0}, lefts[5] = {0, w - ow, 0, w - ow, 0};
        sb_center_crop_origin(h, w, oh, ow, &tops[4], &lefts[4]);
        for (int k = 0; k < 5; k++)
            sb_image_crop(src, h, w, c, tops[k], lefts[k], dst + k * out_bytes, oh, ow);
        if (st->kind == SB_TRANSFORM_TEN_CROP) {
            uint8_t *flipped = sb_scratch(2, in_bytes);
            if (!flipped) return sb_fail(SB_ENOMEM, "TenCrop: out of memory");
            sb_image_flip(src, h, w, c, st->vflip, flipped);
            for (int k = 0; k < 5; k++)
                sb_image_crop(flipped, h, w, c, tops[k], lefts[k], dst + (5 + k) * out_bytes, oh,
                              ow);
        }
        return SB_OK;
    }
    for (int64_t k = 0; k < a->n; k++, src += in_bytes, dst += out_bytes) {
        switch (st->kind) {
        case SB_TRANSFORM_RESIZE:
            SB_TRY(sb_image_resize(src, h, w, c, dst, oh, ow, st->interp));
            break;
        case SB_TRANSFORM_CENTER_CROP: {
            int top, left;
            sb_center_crop_origin(h, w, oh, ow, &top, &left);
            sb_image_crop(src, h, w, c, top, left, dst, oh, ow);
            break;
        }
        case SB_TRANSFORM_PAD: {
            uint8_t fill[4];
            for (int i = 0; i < c; i++)
                fill[i] = st->fill[c == 1 ? 0 : i];
            sb_image_pad(src, h, w, c, st->pad, st->pad_mode, fill, dst);
            break;
        }
        default: /* grayscale */
            sb_image_grayscale(src, h, w, c, dst, (int)b->c);
            break;
        }
    }
    return SB_OK;
}

sb_status sb_transform_apply(const sb_transform *tf, const sb_sample_spec *in, const void *src,
                             void *dst)
{
    sb_sample_spec cur = *in;
    const void *data = src; /* where the sample is now */
    int slot = 0;           /* image steps alternate between this thread's scratch 0 and 1 */
    bool in_dst = false;
    int last_image = -1;
    for (int i = 0; i < tf->nsteps; i++)
        if (is_image_step(tf->steps[i].kind)) last_image = i;
    for (int i = 0; i < tf->nsteps; i++) {
        const sb_transform_step *st = &tf->steps[i];
        if (is_image_step(st->kind)) {
            img_shape a, b;
            sb_status s = image_shape_of(step_names[st->kind], &cur, &a);
            if (s == SB_OK) s = image_step_shape(st, &a, &b);
            if (s != SB_OK) return s;
            const sb_transform_step *crop = i + 1 < tf->nsteps ? &tf->steps[i + 1] : NULL;
            int top = 0, left = 0;
            bool fuse = false; /* Resize then CenterCrop inside it: resize only the window */
            if (st->kind == SB_TRANSFORM_RESIZE && crop && crop->kind == SB_TRANSFORM_CENTER_CROP &&
                crop->size_h <= b.h && crop->size_w <= b.w) {
                sb_center_crop_origin((int)b.h, (int)b.w, crop->size_h, crop->size_w, &top, &left);
                fuse = true;
            }
            int rh = (int)b.h, rw = (int)b.w;
            if (fuse) {
                b.h = crop->size_h;
                b.w = crop->size_w;
                i++;
            }
            sb_sample_spec next = image_spec(&b);
            bool last = i == last_image && i == tf->nsteps - 1;
            uint8_t *out = last ? dst : sb_scratch(slot, sb_sample_spec_nbytes(&next));
            if (!out) return sb_fail(SB_ENOMEM, "%s: out of memory", step_names[st->kind]);
            if (fuse) {
                uint8_t *dst8 = out;
                const uint8_t *src8 = data;
                size_t in_bytes = (size_t)a.h * a.w * a.c, out_bytes = (size_t)b.h * b.w * b.c;
                for (int64_t k = 0; k < a.n && s == SB_OK; k++)
                    s = sb_image_resize_window(src8 + k * in_bytes, (int)a.h, (int)a.w, (int)a.c,
                                               rh, rw, st->interp, top, left, (int)b.h, (int)b.w,
                                               dst8 + k * out_bytes);
            } else {
                s = run_image_step(st, &a, data, &b, out);
            }
            if (s != SB_OK) return s;
            slot = 1 - slot;
            data = out;
            cur = next;
            in_dst = last;
        } else if (st->kind == SB_TRANSFORM_TO_TENSOR) {
            /* output_spec guarantees a uint8 input: only image steps come before. */
            to_tensor_lut(&cur, data, dst, st);
            sb_transform_output_spec(&(sb_transform){1, (sb_transform_step *)st}, &cur, &cur);
            data = dst;
            in_dst = true;
            if (st->fused) i++;
        } else {
            if (!in_dst) memcpy(dst, data, sb_sample_spec_nbytes(&cur));
            data = dst;
            in_dst = true;
            normalize_inplace(&cur, dst, st);
        }
    }
    if (!in_dst) memcpy(dst, data, sb_sample_spec_nbytes(&cur));
    return SB_OK;
}
