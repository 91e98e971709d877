/* Pixel operations on uint8 images laid out [height][width][channels] (channels 1..4), with
 * torchvision 0.14's semantics on PIL images: the arithmetic of Pillow 9.4 reproduced so the
 * bytes are identical (tests/c/test_image.c against tools/fixtures/images.py). */
#ifndef SB_IMAGE_GEOMETRY_H
#define SB_IMAGE_GEOMETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

typedef enum sb_interp {
    SB_INTERP_NEAREST,
    SB_INTERP_BILINEAR,
    SB_INTERP_BICUBIC,
    SB_INTERP_LANCZOS
} sb_interp;

/* "nearest" ... -> SB_INTERP_*; returns false for an unknown name. */
bool sb_interp_from_name(const char *name, sb_interp *out);
const char *sb_interp_name(sb_interp interp);

/* torchvision's _compute_resized_output_size: size_w < 0 means `size_h` is an int for the
 * shorter side (the aspect ratio kept, the longer side truncated as Python's int()), capped by
 * max_size (0 = none). Fails when max_size <= size or a side would be < 1. */
sb_status sb_resize_output_size(int h, int w, int size_h, int size_w, int max_size, int *out_h,
                                int *out_w);

/* Pillow's Image.resize(size, resample) for one image (src h x w -> dst oh x ow). NEAREST is
 * Pillow's affine scale; the others its two-pass resampling (filter support scaled by the
 * downscale factor, coefficients normalised then rounded to 22-bit fixed point, horizontal
 * pass then vertical pass, each rounded to 8 bits). Allocates a temporary buffer. */
sb_status sb_image_resize(const uint8_t *src, int h, int w, int c, uint8_t *dst, int oh, int ow,
                          sb_interp interp);

/* The wh x ww window at (top, left) of that resize (inside the oh x ow output), computing only
 * what the window needs: the same bytes as resizing then cropping. */
sb_status sb_image_resize_window(const uint8_t *src, int h, int w, int c, int oh, int ow,
                                 sb_interp interp, int top, int left, int wh, int ww, uint8_t *dst);

/* Copies the oh x ow window whose top-left corner is (top, left) in src; pixels outside the
 * image are 0 (as PIL's crop). */
void sb_image_crop(const uint8_t *src, int h, int w, int c, int top, int left, uint8_t *dst, int oh,
                   int ow);

/* torchvision's center_crop: where the top-left corner of a ch x cw crop falls (zero padding
 * when the crop is larger than the image, then Python's round-half-even). */
void sb_center_crop_origin(int h, int w, int ch, int cw, int *top, int *left);

typedef enum sb_pad_mode {
    SB_PAD_CONSTANT,
    SB_PAD_EDGE,
    SB_PAD_REFLECT,
    SB_PAD_SYMMETRIC
} sb_pad_mode;
bool sb_pad_mode_from_name(const char *name, sb_pad_mode *out);

/* torchvision's pad: padding (left, top, right, bottom), negative values crop first; the
 * output size is (h + top + bottom) x (w + left + right). Fails when that is empty. */
sb_status sb_pad_output_size(int h, int w, const int pad[4], int *out_h, int *out_w);
void sb_image_pad(const uint8_t *src, int h, int w, int c, const int pad[4], sb_pad_mode mode,
                  const uint8_t *fill, uint8_t *dst);

/* PIL's convert("L") (ITU-R 601-2 luma in 16-bit fixed point) written to `out_c` (1 or 3)
 * channels; a 1-channel input is copied. */
void sb_image_grayscale(const uint8_t *src, int h, int w, int c, uint8_t *dst, int out_c);

/* Mirror left-right (or top-bottom). */
void sb_image_flip(const uint8_t *src, int h, int w, int c, bool vertical, uint8_t *dst);

#endif
