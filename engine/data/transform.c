#include "data/transform.h"

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
    sb_status s =
        push_step(tf, (sb_transform_step){SB_TRANSFORM_TO_TENSOR, 0, NULL, NULL, lut, 1, false});
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
    sb_transform_step step = {SB_TRANSFORM_NORMALIZE,
                              channels,
                              malloc(sizeof(float) * (size_t)channels),
                              malloc(sizeof(float) * (size_t)channels),
                              NULL,
                              0,
                              false};
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

sb_status sb_transform_append(sb_transform *tf, const sb_transform *other)
{
    for (int i = 0; i < other->nsteps; i++) {
        const sb_transform_step *st = &other->steps[i];
        if (st->kind == SB_TRANSFORM_TO_TENSOR) {
            SB_TRY(sb_transform_add_to_tensor(tf));
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

sb_status sb_transform_output_spec(const sb_transform *tf, const sb_sample_spec *in,
                                   sb_sample_spec *out)
{
    sb_sample_spec cur = *in;
    char shape[128];
    for (int i = 0; i < tf->nsteps; i++) {
        const sb_transform_step *st = &tf->steps[i];
        sb_sample_spec_format(&cur, shape, sizeof shape);
        if (st->kind == SB_TRANSFORM_TO_TENSOR) {
            if (cur.dtype != SB_UINT8 || (cur.ndim != 2 && cur.ndim != 3))
                return sb_fail(SB_EINVAL,
                               "ToTensor: expected a uint8 image (H,W) or (H,W,C), got %s", shape);
            sb_sample_spec next = {SB_FLOAT32, 3, {0}};
            if (cur.ndim == 2) {
                next.sizes[0] = 1;
                next.sizes[1] = cur.sizes[0];
                next.sizes[2] = cur.sizes[1];
            } else {
                next.sizes[0] = cur.sizes[2];
                next.sizes[1] = cur.sizes[0];
                next.sizes[2] = cur.sizes[1];
            }
            cur = next;
        } else {
            if (cur.dtype != SB_FLOAT32 || cur.ndim < 1)
                return sb_fail(SB_EINVAL,
                               "Normalize: expected a float32 tensor (C,H,W) (put ToTensor "
                               "first), got %s",
                               shape);
            if (st->channels != 1 && st->channels != cur.sizes[0])
                return sb_fail(SB_EINVAL,
                               "Normalize: %d means/stds for a sample with %lld channels (%s)",
                               st->channels, (long long)cur.sizes[0], shape);
        }
    }
    *out = cur;
    return SB_OK;
}

/* out[c][h][w] = lut[k(c)][in[h][w][c]]: ToTensor (and a fused Normalize) in one pass. */
static void to_tensor_lut(const sb_sample_spec *in, const uint8_t *src, float *dst,
                          const sb_transform_step *st)
{
    int64_t h = in->sizes[0], w = in->sizes[1], c = in->ndim == 3 ? in->sizes[2] : 1;
    int64_t plane = h * w;
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

static void normalize_inplace(const sb_sample_spec *spec, float *data, const sb_transform_step *st)
{
    int64_t c = spec->sizes[0];
    size_t per = sb_sample_spec_numel(spec) / (size_t)(c ? c : 1);
    for (int64_t ch = 0; ch < c; ch++) {
        int k = st->channels == 1 ? 0 : (int)ch;
        float m = st->mean[k], sd = st->std[k];
        float *p = data + (size_t)ch * per;
        for (size_t i = 0; i < per; i++)
            p[i] = (p[i] - m) / sd;
    }
}

void sb_transform_apply(const sb_transform *tf, const sb_sample_spec *in, const void *src,
                        void *dst)
{
    sb_sample_spec cur = *in;
    bool in_dst = false; /* after the first step the sample lives in dst */
    for (int i = 0; i < tf->nsteps; i++) {
        const sb_transform_step *st = &tf->steps[i];
        if (st->kind == SB_TRANSFORM_TO_TENSOR) {
            /* output_spec guarantees a uint8 input, so this is the first step. */
            to_tensor_lut(&cur, src, dst, st);
            int64_t c = cur.ndim == 3 ? cur.sizes[2] : 1;
            sb_sample_spec next_spec = {SB_FLOAT32, 3, {c, cur.sizes[0], cur.sizes[1]}};
            cur = next_spec;
            in_dst = true;
            if (st->fused) i++;
        } else {
            if (!in_dst) memcpy(dst, src, sb_sample_spec_nbytes(&cur));
            in_dst = true;
            normalize_inplace(&cur, dst, st);
        }
    }
    if (!in_dst) memcpy(dst, src, sb_sample_spec_nbytes(&cur));
}
