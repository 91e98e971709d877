/* Image decoding and encoding (JPEG through libjpeg-turbo, PNG through libpng).
 *
 * The decoders give what torchvision's default loader gives,
 * `PIL.Image.open(f).convert("RGB")` with Debian's python3-pil (same libjpeg-turbo):
 * uint8 pixels, row-major, [height][width][3]. JPEG uses libjpeg's defaults as PIL does
 * (ISLOW integer DCT, fancy upsampling); CMYK/YCCK JPEGs are read as Adobe-inverted CMYK and
 * converted with Pillow's CMYK->RGB formula; PNG alpha is dropped (not composited), gray and
 * palette are expanded, 16-bit samples keep their high byte, except 16-bit gray without alpha,
 * which PIL opens as 32-bit integers and clips to 0..255. A truncated file is refused, as PIL
 * refuses it unless LOAD_TRUNCATED_IMAGES is set. */
#ifndef SB_IMAGE_IMAGE_H
#define SB_IMAGE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* PIL's Image.MAX_IMAGE_PIXELS: images with more pixels are refused as decompression bombs. */
#define SB_IMAGE_DEFAULT_MAX_PIXELS INT64_C(89478485)

/* The process-wide pixel limit (width * height) checked before any pixel memory is
 * allocated; <= 0 disables the check. Returns the previous value. Thread-safe. */
int64_t sb_image_set_max_pixels(int64_t max_pixels);
int64_t sb_image_max_pixels(void);

typedef enum sb_image_format { SB_IMAGE_UNKNOWN, SB_IMAGE_JPEG, SB_IMAGE_PNG } sb_image_format;

/* Recognises the format from the first bytes (the signature), not from a file name. */
sb_image_format sb_image_sniff(const uint8_t *bytes, size_t len);

/* A decoded image: `channels` is 3 (RGB) after decoding. */
typedef struct sb_image {
    int height, width, channels;
    uint8_t *data; /* height * width * channels bytes */
    size_t capacity;
} sb_image;

/* Decodes JPEG or PNG bytes into `img` as RGB. `img->data` is reused when its capacity is
 * large enough, else reallocated (start from a zeroed sb_image; free with sb_image_free).
 * `what` names the source (a path) in error messages. */
sb_status sb_image_decode(const char *what, const uint8_t *bytes, size_t len, sb_image *img);

/* Reads and decodes the file at `path` (errors name it: missing, unreadable, empty). */
sb_status sb_image_load(const char *path, sb_image *img);

void sb_image_free(sb_image *img);

/* Makes sure img->data holds at least height * width * channels bytes. */
sb_status sb_image_reserve(sb_image *img, int height, int width, int channels);

/* Writes an 8-bit PNG (channels 1 = gray, 3 = RGB, 4 = RGBA) atomically. */
sb_status sb_image_save_png(const char *path, const uint8_t *pixels, int height, int width,
                            int channels);

/* What a decode gives (PIL's mode names): RGB = `Image.open(f).convert("RGB")`, [H][W][3];
 * L = `convert("L")` (luminance, PIL's integer formula), [H][W][1]; P = the palette indices of
 * a palette PNG as stored, `np.array(Image.open(f))` for a PIL mode "P" image, [H][W][1] (a
 * file without a palette is refused: segmentation label maps are read this way). */
typedef enum sb_image_mode { SB_IMAGE_RGB, SB_IMAGE_L, SB_IMAGE_P } sb_image_mode;

/* sb_image_decode / sb_image_load giving `mode`. */
sb_status sb_image_decode_mode(const char *what, const uint8_t *bytes, size_t len,
                               sb_image_mode mode, sb_image *img);
sb_status sb_image_load_mode(const char *path, sb_image_mode mode, sb_image *img);

/* Decoder entry points (used by sb_image_decode); each checks the pixel limit. */
sb_status sb_jpeg_decode(const char *what, const uint8_t *bytes, size_t len, sb_image *img);
sb_status sb_png_decode(const char *what, const uint8_t *bytes, size_t len, sb_image *img);
/* The palette indices of a palette PNG, one byte per pixel (channels 1). */
sb_status sb_png_decode_indices(const char *what, const uint8_t *bytes, size_t len, sb_image *img);

/* Checks width * height against the pixel limit and the dimensions against 0. */
sb_status sb_image_check_size(const char *what, const char *format, int64_t width, int64_t height);

#endif
