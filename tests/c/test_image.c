/* Image decoding and the image transforms against torchvision 0.14 + Pillow: every case of
 * tests/fixtures/images/expected.txt (tools/fixtures/images.py) must give the same shape and
 * the same bytes (sha256); bad files must be refused with a message naming them. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/sha256.h"
#include "data/transform.h"
#include "image/image.h"
#include "sbtest.h"

static char fixtures[4096];

static void path_of(const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/images/%s", fixtures, name);
}

static int parse_size(const char *s, int *h, int *w)
{
    if (strchr(s, 'x')) return sscanf(s, "%dx%d", h, w) == 2;
    *h = atoi(s);
    *w = -1;
    return 1;
}

/* One op of the fixture's chain syntax (see tools/fixtures/images.py) added to tf. */
static sb_status add_op(sb_transform *tf, char *op)
{
    char *parts[5] = {0};
    int n = 0;
    for (char *p = strtok(op, ":"); p && n < 5; p = strtok(NULL, ":"))
        parts[n++] = p;
    int h, w;
    if (strcmp(parts[0], "resize") == 0) {
        sb_interp interp;
        parse_size(parts[1], &h, &w);
        if (!sb_interp_from_name(parts[2], &interp)) return SB_EINVAL;
        return sb_transform_add_resize(tf, h, w, interp, atoi(parts[3]));
    }
    if (strcmp(parts[0], "centercrop") == 0) {
        parse_size(parts[1], &h, &w);
        return sb_transform_add_center_crop(tf, h, w < 0 ? h : w);
    }
    if (strcmp(parts[0], "fivecrop") == 0) {
        parse_size(parts[1], &h, &w);
        return sb_transform_add_five_crop(tf, h, w < 0 ? h : w);
    }
    if (strcmp(parts[0], "tencrop") == 0) {
        parse_size(parts[1], &h, &w);
        return sb_transform_add_ten_crop(tf, h, w < 0 ? h : w, strcmp(parts[2], "1") == 0);
    }
    if (strcmp(parts[0], "gray") == 0) return sb_transform_add_grayscale(tf, atoi(parts[1]));
    if (strcmp(parts[0], "pad") == 0) {
        int v[4], k = 0;
        for (char *p = parts[1]; k < 4 && p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
            v[k++] = atoi(p);
        int pad[4];
        if (k == 1) pad[0] = pad[1] = pad[2] = pad[3] = v[0];
        if (k == 2) pad[0] = pad[2] = v[0], pad[1] = pad[3] = v[1];
        if (k == 4) memcpy(pad, v, sizeof pad);
        sb_pad_mode mode;
        if (!sb_pad_mode_from_name(parts[2], &mode)) return SB_EINVAL;
        int f[3] = {0, 0, 0}, nf = sscanf(parts[3], "%d,%d,%d", &f[0], &f[1], &f[2]);
        uint8_t fill[3] = {(uint8_t)f[0], (uint8_t)(nf == 3 ? f[1] : f[0]),
                           (uint8_t)(nf == 3 ? f[2] : f[0])};
        return sb_transform_add_pad(tf, pad, mode, fill);
    }
    return SB_EINVAL;
}

static void test_fixture_cases(void)
{
    char path[8192];
    path_of("expected.txt", path, sizeof path);
    FILE *f = fopen(path, "r");
    SB_CHECK(f != NULL);
    if (!f) return;
    char line[1024];
    int cases = 0, failed = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char name[256], ops[512], shape[64], want[65];
        if (sscanf(line, "%255s %511s %63s %64s", name, ops, shape, want) != 4) continue;
        cases++;
        path_of(name, path, sizeof path);
        sb_image img = {0};
        sb_status s = sb_image_load(path, &img);
        if (s != SB_OK) {
            fprintf(stderr, "%s %s: %s\n", name, ops, sb_error_message());
            failed++;
            sb_image_free(&img);
            continue;
        }
        sb_sample_spec in = {SB_UINT8, 3, {img.height, img.width, 3}}, out = in;
        uint8_t *result = img.data;
        sb_transform *tf = NULL;
        if (strcmp(ops, "decode") != 0) {
            sb_transform_new(&tf);
            char chain[512];
            snprintf(chain, sizeof chain, "%s", ops);
            char *save = NULL;
            for (char *op = strtok_r(chain, "|", &save); op && s == SB_OK;
                 op = strtok_r(NULL, "|", &save)) {
                char copy[256];
                snprintf(copy, sizeof copy, "%s", op);
                s = add_op(tf, copy);
            }
            if (s == SB_OK) s = sb_transform_output_spec(tf, &in, &out);
            result = NULL;
            if (s == SB_OK) {
                result = malloc(sb_sample_spec_nbytes(&out));
                s = sb_transform_apply(tf, &in, img.data, result);
            }
        }
        char got_shape[64] = "", got[65] = "";
        if (s == SB_OK) {
            int n = 0;
            for (int i = 0; i < out.ndim; i++)
                n += snprintf(got_shape + n, sizeof got_shape - (size_t)n, "%s%lld", i ? "x" : "",
                              (long long)out.sizes[i]);
            sb_sha256 h;
            sb_sha256_init(&h);
            sb_sha256_update(&h, result, sb_sample_spec_nbytes(&out));
            sb_sha256_final_hex(&h, got);
        }
        /* torchvision's Grayscale(1) gives (H, W); ours (H, W, 1): the same bytes. */
        size_t ls = strlen(shape);
        bool shape_ok = strcmp(got_shape, shape) == 0 ||
                        (strncmp(got_shape, shape, ls) == 0 && strcmp(got_shape + ls, "x1") == 0);
        if (s != SB_OK || !shape_ok || strcmp(got, want) != 0) {
            fprintf(stderr, "MISMATCH %s %s: want %s %s, got %s %s %s\n", name, ops, shape, want,
                    got_shape, got, s != SB_OK ? sb_error_message() : "");
            failed++;
        }
        if (result != img.data) free(result);
        sb_transform_free(tf);
        sb_image_free(&img);
    }
    fclose(f);
    fprintf(stderr, "%d fixture cases, %d differ\n", cases, failed);
    SB_CHECK(cases >= 100);
    SB_CHECK(failed == 0);
}

static void check_refused(const char *name, const char *needle)
{
    char path[8192];
    path_of(name, path, sizeof path);
    sb_image img = {0};
    sb_status s = sb_image_load(path, &img);
    SB_CHECK(s != SB_OK);
    SB_CHECK_STR_CONTAINS(sb_error_message(), name);
    SB_CHECK_STR_CONTAINS(sb_error_message(), needle);
    sb_image_free(&img);
}

static void test_bad_files(void)
{
    check_refused("bad_truncated.jpg", "truncated");
    check_refused("bad_truncated_progressive.jpg", "truncated");
    check_refused("bad_truncated.png", "truncated");
    check_refused("bad_empty.jpg", "empty file");
    check_refused("bad_text.png", "cannot identify image file");
    check_refused("bad_bomb.jpg", "decompression bomb");
    check_refused("bad_bomb.png", "decompression bomb");
    check_refused("bad_huge.png", "decompression bomb");
    check_refused("no_such_file.jpg", "No such file");
}

/* A PNG header declaring 3082270647 x 3082270647 pixels: the size check must not overflow
 * (fuzz_image found width * height overflowing int64). */
static void test_size_check_does_not_overflow(void)
{
    uint8_t png[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                       0xB7, 0xB7, 0xB7, 0xB7, 0xB7, 0xB7, 0xB7, 0xB7, 8, 2, 0, 0, 0};
    sb_image img = {0};
    SB_CHECK(sb_image_decode("huge.png", png, sizeof png, &img) == SB_ERANGE);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "is too large");
    int64_t old = sb_image_set_max_pixels(0); /* no limit: still refused */
    SB_CHECK(sb_image_decode("huge.png", png, sizeof png, &img) == SB_ERANGE);
    sb_image_set_max_pixels(old);
    sb_image_free(&img);
}

static void test_pixel_limit_is_configurable(void)
{
    char path[8192];
    path_of("crop_420.jpg", path, sizeof path); /* 201 x 151 = 30351 pixels */
    int64_t old = sb_image_set_max_pixels(30000);
    sb_image img = {0};
    SB_CHECK(sb_image_load(path, &img) == SB_ERANGE);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "30351 pixels exceeds the limit of 30000");
    sb_image_set_max_pixels(30351);
    SB_CHECK(sb_image_load(path, &img) == SB_OK);
    sb_image_set_max_pixels(0); /* off */
    SB_CHECK(sb_image_load(path, &img) == SB_OK);
    SB_CHECK(sb_image_set_max_pixels(old) == 0);
    SB_CHECK(sb_image_max_pixels() == SB_IMAGE_DEFAULT_MAX_PIXELS);
    sb_image_free(&img);
}

static void test_save_png_round_trip(void)
{
    char path[8192];
    path_of("crop_444.jpg", path, sizeof path);
    sb_image a = {0}, b = {0};
    SB_CHECK(sb_image_load(path, &a) == SB_OK);
    char out[] = "/tmp/sb_image_XXXXXX";
    int fd = mkstemp(out);
    SB_CHECK(fd >= 0);
    close(fd);
    SB_CHECK(sb_image_save_png(out, a.data, a.height, a.width, 3) == SB_OK);
    SB_CHECK(sb_image_load(out, &b) == SB_OK);
    SB_CHECK(a.height == b.height && a.width == b.width);
    SB_CHECK(memcmp(a.data, b.data, (size_t)a.height * a.width * 3) == 0);
    SB_CHECK(sb_image_save_png("/nonexistent/dir/x.png", a.data, a.height, a.width, 3) == SB_EIO);
    SB_CHECK(sb_image_save_png(out, a.data, a.height, a.width, 2) == SB_EINVAL);
    unlink(out);
    sb_image_free(&a);
    sb_image_free(&b);
}

static void test_transform_errors(void)
{
    sb_transform *tf;
    sb_transform_new(&tf);
    SB_CHECK(sb_transform_add_resize(tf, 256, -1, SB_INTERP_BILINEAR, 200) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "max_size = 200 must be strictly greater");
    SB_CHECK(sb_transform_add_grayscale(tf, 2) == SB_EINVAL);
    SB_CHECK(sb_transform_add_five_crop(tf, 300, 300) == SB_OK);
    sb_sample_spec in = {SB_UINT8, 3, {100, 200, 3}}, out;
    SB_CHECK(sb_transform_output_spec(tf, &in, &out) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "bigger than input size (100, 200)");
    sb_sample_spec var = {SB_UINT8, 3, {-1, -1, 3}};
    SB_CHECK(sb_transform_output_spec(tf, &var, &out) == SB_OK);
    SB_CHECK(out.ndim == 4 && out.sizes[0] == 5 && out.sizes[1] == 300 && out.sizes[3] == 3);
    sb_transform_free(tf);
}

int main(void)
{
    const char *dir = getenv("SBENGINE_FIXTURES");
    snprintf(fixtures, sizeof fixtures, "%s", dir ? dir : "tests/fixtures");
#if !defined(SBENGINE_HAVE_JPEG) || !defined(SBENGINE_HAVE_PNG)
    fprintf(stderr, "skipped: built without libjpeg/libpng (libjpeg62-turbo-dev, libpng-dev)\n");
    return 77;
#endif
    SB_RUN(test_fixture_cases);
    SB_RUN(test_bad_files);
    SB_RUN(test_size_check_does_not_overflow);
    SB_RUN(test_pixel_limit_is_configurable);
    SB_RUN(test_save_png_round_trip);
    SB_RUN(test_transform_errors);
    return sb_test_summary();
}
