#include "data/vision_sets.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/file.h"

#ifdef SBENGINE_HAVE_MATIO
#include <matio.h>
#endif

/* --- STL10 ------------------------------------------------------------------------------- */

#define STL_SIDE 96
#define STL_BYTES (STL_SIDE * STL_SIDE * 3)

typedef struct stl_impl {
    int fd;
    char path[4096];
    int64_t *labels;
} stl_impl;

static sb_status stl_get(const sb_dataset *ds, int64_t index, const void **input,
                         const void **target, void *scratch)
{
    const stl_impl *s = ds->impl;
    uint8_t *raw = (uint8_t *)scratch + STL_BYTES, *hwc = scratch;
    size_t got = 0;
    off_t at = (off_t)index * STL_BYTES;
    while (got < STL_BYTES) {
        ssize_t n = pread(s->fd, raw + got, STL_BYTES - got, at + (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            return sb_fail(SB_EIO, "STL10: cannot read image %lld of '%s': %s",
                           (long long)index + 1, s->path, n < 0 ? strerror(errno) : "file shrank");
        got += (size_t)n;
    }
    /* raw[c][x][y] (the authors' column-major layout) -> hwc[y][x][c] */
    for (int c = 0; c < 3; c++)
        for (int x = 0; x < STL_SIDE; x++)
            for (int y = 0; y < STL_SIDE; y++)
                hwc[(y * STL_SIDE + x) * 3 + c] = raw[(c * STL_SIDE + x) * STL_SIDE + y];
    *input = hwc;
    *target = &s->labels[index];
    return SB_OK;
}

static void stl_destroy(sb_dataset *ds)
{
    stl_impl *s = ds->impl;
    close(s->fd);
    free(s->labels);
    free(s);
}

static const sb_dataset_ops stl_ops = {stl_get, stl_destroy, NULL};

sb_status sb_stl10_open(const char *root, const char *split, sb_dataset **out)
{
    if (strcmp(split, "train") != 0 && strcmp(split, "test") != 0)
        return sb_fail(SB_EINVAL, "STL10: split must be \"train\" or \"test\", got \"%s\"", split);
    char xpath[4096], ypath[4096];
    snprintf(xpath, sizeof xpath, "%s/stl10_binary/%s_X.bin", root, split);
    snprintf(ypath, sizeof ypath, "%s/stl10_binary/%s_y.bin", root, split);
    uint8_t *y;
    size_t ny;
    SB_TRY(sb_read_file(ypath, &y, &ny));
    stl_impl *s = calloc(1, sizeof *s);
    sb_dataset *ds = calloc(1, sizeof *ds);
    int64_t *labels = malloc(sizeof(int64_t) * (ny ? ny : 1));
    sb_status st = SB_OK;
    if (!s || !ds || !labels) st = sb_fail(SB_ENOMEM, "STL10: out of memory");
    for (size_t i = 0; st == SB_OK && i < ny; i++) {
        if (y[i] < 1 || y[i] > 10)
            st = sb_fail(SB_EFORMAT, "STL10: '%s' label %zu is %d, expected 1..10", ypath, i + 1,
                         y[i]);
        else
            labels[i] = y[i] - 1;
    }
    free(y);
    int fd = -1;
    struct stat sst;
    if (st == SB_OK) {
        fd = open(xpath, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &sst) != 0)
            st = sb_fail(SB_EIO, "STL10: cannot open '%s': %s", xpath, strerror(errno));
        else if ((uint64_t)sst.st_size != (uint64_t)ny * STL_BYTES)
            st = sb_fail(SB_EFORMAT,
                         "STL10: '%s' has %lld bytes, expected %zu images of 96x96x3 = %llu "
                         "bytes (as many as '%s' has labels)",
                         xpath, (long long)sst.st_size, ny, (unsigned long long)ny * STL_BYTES,
                         ypath);
    }
    if (st != SB_OK) {
        if (fd >= 0) close(fd);
        free(s);
        free(ds);
        free(labels);
        return st;
    }
    s->fd = fd;
    s->labels = labels;
    snprintf(s->path, sizeof s->path, "%s", xpath);
    ds->ops = &stl_ops;
    snprintf(ds->name, sizeof ds->name, "STL10");
    ds->length = (int64_t)ny;
    ds->input = (sb_sample_spec){SB_UINT8, 3, {STL_SIDE, STL_SIDE, 3}};
    ds->target = (sb_sample_spec){SB_INT64, 0, {0}};
    ds->has_target = true;
    ds->input_scratch = 2 * STL_BYTES;
    ds->refcount = 1;
    ds->impl = s;
    *out = ds;
    return SB_OK;
}

/* --- SVHN --------------------------------------------------------------------------------- */

#ifdef SBENGINE_HAVE_MATIO
sb_status sb_svhn_open(const char *root, const char *split, sb_dataset **out)
{
    if (strcmp(split, "train") != 0 && strcmp(split, "test") != 0 && strcmp(split, "extra") != 0)
        return sb_fail(SB_EINVAL,
                       "SVHN: split must be \"train\", \"test\" or \"extra\", got \"%s\"", split);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s_32x32.mat", root, split);
    if (!sb_file_exists(path)) return sb_fail(SB_EIO, "SVHN: cannot open '%s': no such file", path);
    mat_t *mat = Mat_Open(path, MAT_ACC_RDONLY);
    if (!mat) return sb_fail(SB_EFORMAT, "SVHN: '%s' is not a MATLAB file", path);
    matvar_t *x = Mat_VarRead(mat, "X"), *y = Mat_VarRead(mat, "y");
    Mat_Close(mat);
    sb_status s = SB_OK;
    size_t n = 0;
    if (!x || !y || x->class_type != MAT_C_UINT8 || x->rank != 4 || x->dims[0] != 32 ||
        x->dims[1] != 32 || x->dims[2] != 3)
        s = sb_fail(SB_EFORMAT, "SVHN: '%s' must hold X (uint8 32x32x3xN) and y (N labels)", path);
    if (s == SB_OK) {
        n = x->dims[3];
        size_t ny = y->rank >= 1 ? y->dims[0] * (y->rank > 1 ? y->dims[1] : 1) : 0;
        if (ny != n)
            s = sb_fail(SB_EFORMAT, "SVHN: '%s' has %zu images but %zu labels", path, n, ny);
    }
    sb_data_blocks *m = s == SB_OK ? calloc(1, sizeof *m) : NULL;
    if (s == SB_OK && m) {
        m->inputs = malloc(n * 3072 + 1);
        m->labels = malloc(sizeof(int64_t) * (n + 1));
    }
    if (s == SB_OK && (!m || !m->inputs || !m->labels))
        s = sb_fail(SB_ENOMEM, "SVHN: out of memory");
    for (size_t i = 0; s == SB_OK && i < n; i++) {
        double v;
        switch (y->class_type) {
        case MAT_C_DOUBLE:
            v = ((const double *)y->data)[i];
            break;
        case MAT_C_UINT8:
            v = ((const uint8_t *)y->data)[i];
            break;
        case MAT_C_INT32:
            v = ((const int32_t *)y->data)[i];
            break;
        default:
            v = -1;
            break;
        }
        if (v < 1 || v > 10 || v != (int)v) {
            s = sb_fail(SB_EFORMAT, "SVHN: '%s' label %zu is %g, expected 1..10", path, i + 1, v);
            break;
        }
        m->labels[i] = v == 10 ? 0 : (int64_t)v;
        /* X(r, c, ch, i) column-major -> image i, [r][c][ch] */
        const uint8_t *src = (const uint8_t *)x->data + i * 3072;
        uint8_t *dst = (uint8_t *)m->inputs + i * 3072;
        for (int ch = 0; ch < 3; ch++)
            for (int c = 0; c < 32; c++)
                for (int r = 0; r < 32; r++)
                    dst[(r * 32 + c) * 3 + ch] = src[ch * 1024 + c * 32 + r];
    }
    if (x) Mat_VarFree(x);
    if (y) Mat_VarFree(y);
    if (s != SB_OK) {
        if (m) sb_data_blocks_free(m);
        return s;
    }
    sb_sample_spec ispec = {SB_UINT8, 3, {32, 32, 3}}, tspec = {SB_INT64, 0, {0}};
    s = sb_array_dataset_new("SVHN", (int64_t)n, &ispec, m->inputs, &tspec, m->labels,
                             sb_data_blocks_free, m, out);
    if (s != SB_OK) sb_data_blocks_free(m);
    return s;
}
#else
sb_status sb_svhn_open(const char *root, const char *split, sb_dataset **out)
{
    (void)out;
    return sb_fail(SB_EUNSUPPORTED,
                   "SVHN: cannot read '%s/%s_32x32.mat': this sbengine was built without libmatio "
                   "(install libmatio-dev and rebuild)",
                   root, split);
}
#endif
