/* Per-sample transforms that run in the DataLoader's worker threads (no Lua).
 *
 * A transform is a flat chain of steps (Compose flattens into it). ToTensor turns a uint8
 * image (H,W) or (H,W,C) into float32 (C,H,W) scaled to [0,1]; Normalize subtracts a
 * per-channel mean and divides by a per-channel std on a float (C,...) sample, as
 * torchvision's. ToTensor followed by Normalize runs as one fused table lookup per pixel. */
#ifndef SB_DATA_TRANSFORM_H
#define SB_DATA_TRANSFORM_H

#include "data/dataset.h"

typedef enum sb_transform_kind { SB_TRANSFORM_TO_TENSOR, SB_TRANSFORM_NORMALIZE } sb_transform_kind;

typedef struct sb_transform_step {
    sb_transform_kind kind;
    int channels; /* Normalize: entries in mean/std (1 = every channel) */
    float *mean, *std;
    /* ToTensor: the float value of every byte per channel, lut[k * 256 + byte], computed
     * with torchvision's operation order ((x / 255 - mean) / std in float32), so the
     * results are bit-identical and one table lookup per pixel. `fused` when it already
     * includes the Normalize that follows. */
    float *lut;
    int lut_channels;
    bool fused;
} sb_transform_step;

typedef struct sb_transform {
    int nsteps;
    sb_transform_step *steps;
} sb_transform;

sb_status sb_transform_new(sb_transform **out); /* the identity */
sb_status sb_transform_add_to_tensor(sb_transform *tf);
/* Rejects an empty list, different lengths and a zero std. */
sb_status sb_transform_add_normalize(sb_transform *tf, int channels, const double *mean,
                                     const double *std);
/* Appends a copy of every step of `other` (Compose of composes). */
sb_status sb_transform_append(sb_transform *tf, const sb_transform *other);
sb_status sb_transform_clone(const sb_transform *tf, sb_transform **out);
void sb_transform_free(sb_transform *tf); /* NULL is a no-op */

/* The spec of the output for an input spec, or an error naming the step and what it
 * expected ("Normalize: 3 means for a sample with 1 channel"). */
sb_status sb_transform_output_spec(const sb_transform *tf, const sb_sample_spec *in,
                                   sb_sample_spec *out);
/* Runs the chain on one sample: `src` laid out as `in`, `dst` has room for the output
 * spec. Call sb_transform_output_spec first: apply trusts that it succeeded. */
void sb_transform_apply(const sb_transform *tf, const sb_sample_spec *in, const void *src,
                        void *dst);

#endif
