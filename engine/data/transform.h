/* Per-sample transforms that run in the DataLoader's worker threads (no Lua).
 *
 * A transform is a flat chain of steps (Compose flattens into it). Image steps (Resize,
 * CenterCrop, Pad, Grayscale, FiveCrop, TenCrop) take uint8 images (H,W), (H,W,C) or a
 * stack (N,H,W,C) and give torchvision 0.14's bytes for PIL images (engine/image/geometry.h);
 * FiveCrop/TenCrop turn one image into a stack of 5/10. ToTensor turns a uint8 image (H,W),
 * (H,W,C) or stack (N,H,W,C) into float32 (C,H,W) / (N,C,H,W) scaled to [0,1]; Normalize
 * subtracts a per-channel mean and divides by a per-channel std on a float (C,...) or
 * (N,C,H,W) sample, as torchvision's. ToTensor followed by Normalize runs as one fused table
 * lookup per pixel.
 *
 * Sample specs may have unknown sizes (-1): the images of a folder differ in size until a
 * step such as CenterCrop fixes it. */
#ifndef SB_DATA_TRANSFORM_H
#define SB_DATA_TRANSFORM_H

#include "data/dataset.h"
#include "image/geometry.h"

typedef enum sb_transform_kind {
    SB_TRANSFORM_TO_TENSOR,
    SB_TRANSFORM_NORMALIZE,
    SB_TRANSFORM_RESIZE,
    SB_TRANSFORM_CENTER_CROP,
    SB_TRANSFORM_PAD,
    SB_TRANSFORM_GRAYSCALE,
    SB_TRANSFORM_FIVE_CROP,
    SB_TRANSFORM_TEN_CROP
} sb_transform_kind;

typedef struct sb_transform_step {
    sb_transform_kind kind;
    int channels; /* Normalize: entries in mean/std (1 = every channel); Grayscale: 1 or 3 */
    float *mean, *std;
    /* ToTensor: the float value of every byte per channel, lut[k * 256 + byte], computed
     * with torchvision's operation order ((x / 255 - mean) / std in float32), so the
     * results are bit-identical and one table lookup per pixel. `fused` when it already
     * includes the Normalize that follows. */
    float *lut;
    int lut_channels;
    bool fused;
    /* Resize: size_w < 0 = size_h is the shorter side. Crops: the crop size. */
    int size_h, size_w;
    sb_interp interp;
    int max_size; /* Resize: 0 = none */
    int pad[4];   /* Pad: left, top, right, bottom */
    sb_pad_mode pad_mode;
    uint8_t fill[4];
    bool vflip; /* TenCrop: flip top-bottom instead of left-right */
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
/* size_w < 0: resize the shorter side to size_h (max_size caps the longer, 0 = no cap). */
sb_status sb_transform_add_resize(sb_transform *tf, int size_h, int size_w, sb_interp interp,
                                  int max_size);
sb_status sb_transform_add_center_crop(sb_transform *tf, int h, int w);
/* pad: left, top, right, bottom; fill: one value per channel (3 given, gray uses fill[0]). */
sb_status sb_transform_add_pad(sb_transform *tf, const int pad[4], sb_pad_mode mode,
                               const uint8_t fill[3]);
sb_status sb_transform_add_grayscale(sb_transform *tf, int channels);
sb_status sb_transform_add_five_crop(sb_transform *tf, int h, int w);
sb_status sb_transform_add_ten_crop(sb_transform *tf, int h, int w, bool vertical_flip);
/* Appends a copy of every step of `other` (Compose of composes). */
sb_status sb_transform_append(sb_transform *tf, const sb_transform *other);
sb_status sb_transform_clone(const sb_transform *tf, sb_transform **out);
void sb_transform_free(sb_transform *tf); /* NULL is a no-op */

/* The spec of the output for an input spec, or an error naming the step and what it
 * expected ("Normalize: 3 means for a sample with 1 channel"). Unknown input sizes (-1)
 * give unknown output sizes where the step keeps them. */
sb_status sb_transform_output_spec(const sb_transform *tf, const sb_sample_spec *in,
                                   sb_sample_spec *out);
/* True when every size of the spec is known. */
bool sb_sample_spec_known(const sb_sample_spec *spec);
/* Runs the chain on one sample: `src` laid out as `in` (all sizes known), `dst` has room
 * for the output spec. Call sb_transform_output_spec first. Image steps allocate temporary
 * buffers: the only failure is running out of memory. */
sb_status sb_transform_apply(const sb_transform *tf, const sb_sample_spec *in, const void *src,
                             void *dst);

#endif
