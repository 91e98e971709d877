/* Format dispatch, the pixel limit, file reading and the image buffer. */
#include "image/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/sys.h"
#include "image/geometry.h"

static int64_t max_pixels = SB_IMAGE_DEFAULT_MAX_PIXELS;

int64_t sb_image_set_max_pixels(int64_t limit)
{
    return __atomic_exchange_n(&max_pixels, limit, __ATOMIC_RELAXED);
}

int64_t sb_image_max_pixels(void)
{
    return __atomic_load_n(&max_pixels, __ATOMIC_RELAXED);
}

sb_status sb_image_check_size(const char *what, const char *format, int64_t width, int64_t height)
{
    if (width <= 0 || height <= 0)
        return sb_fail(SB_EFORMAT, "'%s': %s declares an empty image (%lld x %lld)", what, format,
                       (long long)width, (long long)height);
    int64_t limit = sb_image_max_pixels(), pixels;
    /* Past 2^40 pixels no limit could allow it, and 3 bytes per pixel must fit a size_t. */
    bool huge = __builtin_mul_overflow(width, height, &pixels) || pixels > ((int64_t)1 << 40);
    if (huge)
        return sb_fail(SB_ERANGE,
                       "'%s': %s image of %lld x %lld pixels is too large (a possible "
                       "decompression bomb)",
                       what, format, (long long)width, (long long)height);
    if (limit > 0 && pixels > limit)
        return sb_fail(SB_ERANGE,
                       "'%s': %s image of %lld x %lld = %lld pixels exceeds the limit of %lld "
                       "pixels (a possible decompression bomb; raise it with "
                       "sb.image.set_max_pixels(n))",
                       what, format, (long long)width, (long long)height, (long long)pixels,
                       (long long)limit);
    return SB_OK;
}

sb_image_format sb_image_sniff(const uint8_t *b, size_t len)
{
    if (len >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return SB_IMAGE_JPEG;
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (len >= 8 && memcmp(b, png_sig, 8) == 0) return SB_IMAGE_PNG;
    return SB_IMAGE_UNKNOWN;
}

sb_status sb_image_reserve(sb_image *img, int height, int width, int channels)
{
    size_t need = (size_t)height * (size_t)width * (size_t)channels;
    if (need == 0) need = 1;
    if (img->capacity < need) {
        uint8_t *grown = realloc(img->data, need);
        if (!grown)
            return sb_fail(SB_ENOMEM, "cannot allocate %zu bytes for a %d x %d image", need, width,
                           height);
        img->data = grown;
        img->capacity = need;
    }
    img->height = height;
    img->width = width;
    img->channels = channels;
    return SB_OK;
}

void sb_image_free(sb_image *img)
{
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

sb_status sb_image_decode(const char *what, const uint8_t *bytes, size_t len, sb_image *img)
{
    if (len == 0) return sb_fail(SB_EFORMAT, "'%s': empty file (0 bytes), not an image", what);
    switch (sb_image_sniff(bytes, len)) {
    case SB_IMAGE_JPEG:
        return sb_jpeg_decode(what, bytes, len, img);
    case SB_IMAGE_PNG:
        return sb_png_decode(what, bytes, len, img);
    default:
        return sb_fail(SB_EFORMAT, "'%s': cannot identify image file (not a JPEG or PNG)", what);
    }
}

static sb_status read_whole(const char *path, uint8_t **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sb_fail(SB_EIO, "cannot open image '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sb_fail(SB_EIO, "image '%s' is not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    sb_status s = sb_read_fd(fd, size, path, data);
    close(fd);
    if (s == SB_OK) *len = size;
    return s;
}

sb_status sb_image_decode_mode(const char *what, const uint8_t *bytes, size_t len,
                               sb_image_mode mode, sb_image *img)
{
    if (mode == SB_IMAGE_P) {
        if (len > 0 && sb_image_sniff(bytes, len) == SB_IMAGE_PNG)
            return sb_png_decode_indices(what, bytes, len, img);
        if (len == 0) return sb_fail(SB_EFORMAT, "'%s': empty file (0 bytes), not an image", what);
        return sb_fail(SB_EFORMAT,
                       "'%s': mode \"P\" reads palette PNGs, and this is not a PNG file", what);
    }
    SB_TRY(sb_image_decode(what, bytes, len, img));
    if (mode == SB_IMAGE_L) {
        /* in place: pixel i's byte is written after pixel i's three bytes are read */
        sb_image_grayscale(img->data, img->height, img->width, img->channels, img->data, 1);
        img->channels = 1;
    }
    return SB_OK;
}

sb_status sb_image_load_mode(const char *path, sb_image_mode mode, sb_image *img)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    SB_TRY(read_whole(path, &bytes, &len));
    sb_status s = sb_image_decode_mode(path, bytes, len, mode, img);
    free(bytes);
    return s;
}

sb_status sb_image_load(const char *path, sb_image *img)
{
    return sb_image_load_mode(path, SB_IMAGE_RGB, img);
}
