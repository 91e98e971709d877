/* PNG decoding and encoding through libpng.
 *
 * Decoding gives what Pillow's PngImagePlugin + convert("RGB") give: gray expanded (1/2/4-bit
 * scaled to 0..255), palette indices looked up in a 256-entry table that starts as Pillow's
 * gray ramp (an index past the PLTE entries gives (i, i, i)), alpha and tRNS ignored, 16-bit
 * samples reduced to their high byte, except 16-bit gray without alpha (Pillow's mode "I"),
 * whose values are clipped to 0..255. No gamma or colour-profile correction is applied. */
#include "image/image.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef SBENGINE_HAVE_PNG
#include <png.h>

#include "core/atomic_file.h"

typedef struct png_reader {
    const uint8_t *bytes;
    size_t len, pos;
    int truncated;
    char message[256];
} png_reader;

static void on_png_error(png_structp png, png_const_charp msg)
{
    png_reader *r = png_get_error_ptr(png);
    if (r) snprintf(r->message, sizeof r->message, "%s", msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* recoverable problems (a bad ancillary chunk) are skipped, as in PIL */
}

static void read_bytes(png_structp png, png_bytep out, size_t n)
{
    png_reader *r = png_get_io_ptr(png);
    if (n > r->len - r->pos) {
        r->truncated = 1;
        png_error(png, "image file is truncated");
    }
    memcpy(out, r->bytes + r->pos, n);
    r->pos += n;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* indices: the palette indices as stored (channels 1), refusing a PNG without a palette */
static sb_status png_decode(const char *what, const uint8_t *bytes, size_t len, bool indices,
                            sb_image *img)
{
    /* The declared size is checked before libpng reads on: IHDR is the first chunk. */
    if (len >= 24 && memcmp(bytes + 12, "IHDR", 4) == 0)
        SB_TRY(sb_image_check_size(what, "PNG", be32(bytes + 16), be32(bytes + 20)));
    png_reader r = {bytes, len, 0, 0, ""};
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        return sb_fail(SB_ENOMEM, "'%s': cannot start the PNG decoder", what);
    }
    uint8_t *volatile raw = NULL;
    png_bytep *volatile rows = NULL;
    volatile sb_status status = SB_OK;
    if (setjmp(png_jmpbuf(png))) {
        if (status == SB_OK)
            status = r.truncated
                         ? sb_fail(SB_EFORMAT, "'%s': image file is truncated (PNG)", what)
                         : sb_fail(SB_EFORMAT, "'%s': broken PNG file: %s", what, r.message);
        free(raw);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return status;
    }
    png_set_read_fn(png, &r, read_bytes);
    /* The pixel limit is ours; libpng's own size limits must not refuse first. */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int depth = png_get_bit_depth(png, info), type = png_get_color_type(png, info);
    status = sb_image_check_size(what, "PNG", w, h);
    if (status == SB_OK && indices && type != PNG_COLOR_TYPE_PALETTE)
        status = sb_fail(SB_EFORMAT,
                         "'%s': not a palette PNG (colour type %d), so it has no palette "
                         "indices; mode \"L\" reads gray label maps",
                         what, type);
    uint8_t palette[256 * 3];
    if (type == PNG_COLOR_TYPE_PALETTE) {
        for (int i = 0; i < 256; i++)
            palette[3 * i] = palette[3 * i + 1] = palette[3 * i + 2] = (uint8_t)i;
        png_colorp plte;
        int n = 0;
        if (png_get_PLTE(png, info, &plte, &n) & PNG_INFO_PLTE)
            for (int i = 0; i < n && i < 256; i++) {
                palette[3 * i] = plte[i].red;
                palette[3 * i + 1] = plte[i].green;
                palette[3 * i + 2] = plte[i].blue;
            }
    }
    bool gray16 = type == PNG_COLOR_TYPE_GRAY && depth == 16;
    if (depth < 8) png_set_packing(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16 && !gray16) png_set_strip_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (status == SB_OK) status = sb_image_reserve(img, (int)h, (int)w, indices ? 1 : 3);
    /* rows land in the output as they are */
    bool direct = type == PNG_COLOR_TYPE_RGB || indices;
    if (status == SB_OK && !direct) {
        raw = malloc(rowbytes * h);
        if (!raw)
            status = sb_fail(SB_ENOMEM, "'%s': cannot allocate %zu bytes", what, rowbytes * h);
    }
    if (status == SB_OK) {
        rows = malloc(sizeof(png_bytep) * h);
        if (!rows) status = sb_fail(SB_ENOMEM, "'%s': cannot allocate the PNG row table", what);
    }
    if (status != SB_OK) {
        free(raw);
        png_destroy_read_struct(&png, &info, NULL);
        return status;
    }
    for (png_uint_32 y = 0; y < h; y++)
        rows[y] =
            direct ? img->data + (size_t)y * w * (indices ? 1 : 3) : raw + (size_t)y * rowbytes;
    png_read_image(png, rows);
    free(rows);
    if (!direct) {
        for (png_uint_32 y = 0; y < h; y++) {
            const uint8_t *in = raw + (size_t)y * rowbytes;
            uint8_t *out = img->data + (size_t)y * w * 3;
            for (png_uint_32 x = 0; x < w; x++, out += 3) {
                switch (type) {
                case PNG_COLOR_TYPE_GRAY:
                    if (gray16) {
                        unsigned v = (unsigned)in[2 * x] << 8 | in[2 * x + 1];
                        out[0] = out[1] = out[2] = (uint8_t)(v > 255 ? 255 : v);
                    } else {
                        out[0] = out[1] = out[2] = in[x];
                    }
                    break;
                case PNG_COLOR_TYPE_GRAY_ALPHA:
                    out[0] = out[1] = out[2] = in[2 * x];
                    break;
                case PNG_COLOR_TYPE_PALETTE:
                    memcpy(out, palette + 3 * in[x], 3);
                    break;
                default: /* RGBA */
                    memcpy(out, in + 4 * x, 3);
                    break;
                }
            }
        }
    }
    free(raw);
    png_destroy_read_struct(&png, &info, NULL);
    return SB_OK;
}

sb_status sb_png_decode(const char *what, const uint8_t *bytes, size_t len, sb_image *img)
{
    return png_decode(what, bytes, len, false, img);
}

sb_status sb_png_decode_indices(const char *what, const uint8_t *bytes, size_t len, sb_image *img)
{
    return png_decode(what, bytes, len, true, img);
}

typedef struct png_writer {
    sb_atomic_file file;
    sb_status status;
    char message[256];
} png_writer;

static void write_bytes(png_structp png, png_bytep data, size_t n)
{
    png_writer *wr = png_get_io_ptr(png);
    if (wr->status != SB_OK) return;
    wr->status = sb_atomic_write(&wr->file, data, n);
}

static void flush_nothing(png_structp png)
{
    (void)png;
}

static void on_write_error(png_structp png, png_const_charp msg)
{
    png_writer *wr = png_get_error_ptr(png);
    snprintf(wr->message, sizeof wr->message, "%s", msg);
    png_longjmp(png, 1);
}

sb_status sb_image_save_png(const char *path, const uint8_t *pixels, int height, int width,
                            int channels)
{
    if (height < 1 || width < 1)
        return sb_fail(SB_EINVAL, "save_png: image must not be empty, got %d x %d", width, height);
    int type = channels == 1   ? PNG_COLOR_TYPE_GRAY
               : channels == 3 ? PNG_COLOR_TYPE_RGB
               : channels == 4 ? PNG_COLOR_TYPE_RGB_ALPHA
                               : -1;
    if (type < 0)
        return sb_fail(SB_EINVAL, "save_png: expected 1, 3 or 4 channels, got %d", channels);
    png_writer wr = {{0}, SB_OK, ""};
    SB_TRY(sb_atomic_open(&wr.file, path));
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, &wr, on_write_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(png ? &png : NULL, NULL);
        sb_atomic_abort(&wr.file);
        return sb_fail(SB_ENOMEM, "save_png: cannot start the PNG encoder");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        sb_atomic_abort(&wr.file);
        return sb_fail(SB_EIO, "save_png: cannot write '%s': %s", path, wr.message);
    }
    png_set_write_fn(png, &wr, write_bytes, flush_nothing);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * width * channels));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (wr.status != SB_OK) {
        sb_atomic_abort(&wr.file);
        return wr.status;
    }
    return sb_atomic_commit(&wr.file);
}

#else

/* indices: the palette indices as stored (channels 1), refusing a PNG without a palette */
static sb_status png_decode(const char *what, const uint8_t *bytes, size_t len, bool indices,
                            sb_image *img)
{
    (void)bytes;
    (void)len;
    (void)img;
    return sb_fail(SB_EUNSUPPORTED,
                   "'%s': this sbengine was built without libpng (install libpng-dev and rebuild)",
                   what);
}

sb_status sb_png_decode_indices(const char *what, const uint8_t *bytes, size_t len, sb_image *img)
{
    return sb_png_decode(what, bytes, len, img);
}

sb_status sb_image_save_png(const char *path, const uint8_t *pixels, int height, int width,
                            int channels)
{
    (void)pixels;
    (void)height;
    (void)width;
    (void)channels;
    return sb_fail(SB_EUNSUPPORTED,
                   "save_png: cannot write '%s': this sbengine was built without libpng (install "
                   "libpng-dev and rebuild)",
                   path);
}

#endif
