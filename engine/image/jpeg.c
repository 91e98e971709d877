/* JPEG decoding through libjpeg's API, set up as Pillow's JpegDecode.c sets it up: the
 * library's defaults (ISLOW DCT, fancy upsampling), out_color_space chosen from the number
 * of components (1 -> gray, 3 -> RGB, 4 -> CMYK, read as Adobe-inverted), libjpeg warnings
 * ignored, and a file that ends before the last scanline refused as truncated. */
#include "image/image.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef SBENGINE_HAVE_JPEG
#include <jpeglib.h>

typedef struct jpeg_guard {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    int truncated;
} jpeg_guard;

static void on_error(j_common_ptr cinfo)
{
    jpeg_guard *g = (jpeg_guard *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, g->message);
    longjmp(g->jump, 1);
}

static void on_message(j_common_ptr cinfo)
{
    (void)cinfo; /* warnings (corrupt data libjpeg recovers from) are ignored, as in PIL */
}

static void src_init(j_decompress_ptr cinfo)
{
    (void)cinfo;
}

/* All bytes are in the buffer from the start: asking for more means the file is cut short. */
static boolean src_fill(j_decompress_ptr cinfo)
{
    jpeg_guard *g = (jpeg_guard *)cinfo->err;
    g->truncated = 1;
    snprintf(g->message, sizeof g->message, "image file is truncated");
    longjmp(g->jump, 1);
    return FALSE;
}

static void src_skip(j_decompress_ptr cinfo, long n)
{
    struct jpeg_source_mgr *src = cinfo->src;
    if (n <= 0) return;
    if ((size_t)n > src->bytes_in_buffer) src_fill(cinfo);
    src->next_input_byte += n;
    src->bytes_in_buffer -= (size_t)n;
}

static void src_term(j_decompress_ptr cinfo)
{
    (void)cinfo;
}

/* Pillow's Convert.c cmyk2rgb on Adobe-inverted CMYK (rawmode "CMYK;I"). */
static void cmyk_row_to_rgb(const uint8_t *in, uint8_t *out, int width)
{
    for (int x = 0; x < width; x++, in += 4, out += 3) {
        int nk = 255 - (255 - in[3]);
        for (int c = 0; c < 3; c++) {
            int tmp = (255 - in[c]) * nk + 128;
            int v = nk - (((tmp >> 8) + tmp) >> 8);
            out[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

sb_status sb_jpeg_decode(const char *what, const uint8_t *bytes, size_t len, sb_image *img)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_source_mgr src;
    jpeg_guard g;
    memset(&g, 0, sizeof g);
    cinfo.err = jpeg_std_error(&g.pub);
    g.pub.error_exit = on_error;
    g.pub.output_message = on_message;
    /* volatile: read after a longjmp */
    uint8_t *volatile row = NULL;
    volatile int rows_done = 0, finishing = 0;
    volatile sb_status status = SB_OK;
    if (setjmp(g.jump)) {
        if (finishing && rows_done == (int)cinfo.output_height) {
            /* Every row is out: what follows (the EOI marker) is not needed, as in PIL. */
        } else if (status == SB_OK) {
            status = g.truncated
                         ? sb_fail(SB_EFORMAT,
                                   "'%s': image file is truncated (JPEG ends after "
                                   "%d of %d rows)",
                                   what, rows_done, (int)cinfo.output_height)
                         : sb_fail(SB_EFORMAT, "'%s': broken JPEG data: %s", what, g.message);
        }
        free(row);
        jpeg_destroy_decompress(&cinfo);
        return status;
    }
    jpeg_create_decompress(&cinfo);
    src.next_input_byte = bytes;
    src.bytes_in_buffer = len;
    src.init_source = src_init;
    src.fill_input_buffer = src_fill;
    src.skip_input_data = src_skip;
    src.resync_to_restart = jpeg_resync_to_restart;
    src.term_source = src_term;
    cinfo.src = &src;
    jpeg_read_header(&cinfo, TRUE);
    int comps = cinfo.num_components;
    if (comps == 1)
        cinfo.out_color_space = JCS_GRAYSCALE;
    else if (comps == 3)
        cinfo.out_color_space = JCS_RGB;
    else if (comps == 4)
        cinfo.out_color_space = JCS_CMYK;
    else
        status = sb_fail(SB_EFORMAT, "'%s': cannot handle %d-layer JPEG images", what, comps);
    if (status == SB_OK)
        status = sb_image_check_size(what, "JPEG", cinfo.image_width, cinfo.image_height);
    if (status == SB_OK)
        status = sb_image_reserve(img, (int)cinfo.image_height, (int)cinfo.image_width, 3);
    if (status == SB_OK && comps != 3) {
        row = malloc((size_t)cinfo.image_width * (size_t)comps);
        if (!row) status = sb_fail(SB_ENOMEM, "'%s': cannot allocate a JPEG row", what);
    }
    if (status != SB_OK) {
        jpeg_destroy_decompress(&cinfo);
        free(row);
        return status;
    }
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width;
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *out = img->data + (size_t)cinfo.output_scanline * (size_t)w * 3;
        JSAMPROW target = comps == 3 ? out : row;
        jpeg_read_scanlines(&cinfo, &target, 1);
        if (comps == 1) {
            for (int x = 0; x < w; x++)
                out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = row[x];
        } else if (comps == 4) {
            cmyk_row_to_rgb(row, out, w);
        }
        rows_done++;
    }
    finishing = 1;
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    return SB_OK;
}

#else

sb_status sb_jpeg_decode(const char *what, const uint8_t *bytes, size_t len, sb_image *img)
{
    (void)bytes;
    (void)len;
    (void)img;
    return sb_fail(SB_EUNSUPPORTED,
                   "'%s': this sbengine was built without libjpeg (install libjpeg62-turbo-dev "
                   "and rebuild)",
                   what);
}

#endif
