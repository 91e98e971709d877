/* Dataset file formats: md5, gzip, IDX/MNIST and CIFAR readers with their validation,
 * transforms. Files are generated here in a temporary directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/md5.h"
#include "data/dataset.h"
#include "data/file.h"
#include "data/transform.h"
#include "sbtest.h"

static char tmpdir[256];

static void path_in(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
}

/* The folder tmpdir/NAME (NAME may hold slashes), created with its parents. */
static void dir_in(char *buf, size_t size, const char *name)
{
    path_in(buf, size, name);
    SB_CHECK(sb_make_dirs(buf) == SB_OK);
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    SB_CHECK(f != NULL);
    if (!f) return;
    fwrite(data, 1, len, f);
    fclose(f);
}

static void write_gz(const char *path, const void *data, size_t len)
{
    gzFile f = gzopen(path, "wb");
    SB_CHECK(f != NULL);
    gzwrite(f, data, (unsigned)len);
    gzclose(f);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* An IDX images file of n 28x28 images (pixel = (i + y*28 + x) % 256) and a labels file. */
static size_t make_images(uint8_t *buf, uint32_t n)
{
    put_be32(buf, 0x00000803);
    put_be32(buf + 4, n);
    put_be32(buf + 8, 28);
    put_be32(buf + 12, 28);
    for (uint32_t i = 0; i < n; i++)
        for (int p = 0; p < 784; p++)
            buf[16 + i * 784 + p] = (uint8_t)((i + (uint32_t)p) % 256);
    return 16 + (size_t)n * 784;
}

static size_t make_labels(uint8_t *buf, uint32_t n)
{
    put_be32(buf, 0x00000801);
    put_be32(buf + 4, n);
    for (uint32_t i = 0; i < n; i++)
        buf[8 + i] = (uint8_t)(i % 10);
    return 8 + n;
}

static void test_md5(void)
{
    char hex[33];
    sb_md5_hex("", 0, hex);
    SB_CHECK(strcmp(hex, "d41d8cd98f00b204e9800998ecf8427e") == 0);
    sb_md5_hex("The quick brown fox jumps over the lazy dog", 43, hex);
    SB_CHECK(strcmp(hex, "9e107d9d372bb6826bd81d3542a419d6") == 0);
    /* Fed in odd pieces across block boundaries gives the same digest. */
    char big[1000];
    for (int i = 0; i < 1000; i++)
        big[i] = (char)(i * 7);
    char whole[33], pieces[33];
    sb_md5_hex(big, sizeof big, whole);
    sb_md5 ctx;
    sb_md5_init(&ctx);
    for (size_t off = 0; off < sizeof big;) {
        size_t step = off % 3 == 0 ? 63 : 17;
        if (off + step > sizeof big) step = sizeof big - off;
        sb_md5_update(&ctx, big + off, step);
        off += step;
    }
    sb_md5_final_hex(&ctx, pieces);
    SB_CHECK(strcmp(whole, pieces) == 0);
}

static void test_gzip_read_and_errors(void)
{
    char plain[512], gz[512], bad[512], trunc[512];
    path_in(plain, sizeof plain, "x.bin");
    path_in(gz, sizeof gz, "x.bin.gz");
    path_in(bad, sizeof bad, "bad.gz");
    path_in(trunc, sizeof trunc, "trunc.gz");
    uint8_t data[5000];
    for (int i = 0; i < 5000; i++)
        data[i] = (uint8_t)(i * 31);
    write_bytes(plain, data, sizeof data);
    write_gz(gz, data, sizeof data);
    uint8_t *got;
    size_t len;
    SB_CHECK(sb_read_file(plain, &got, &len) == SB_OK);
    SB_CHECK(len == sizeof data && memcmp(got, data, len) == 0);
    free(got);
    SB_CHECK(sb_read_file(gz, &got, &len) == SB_OK);
    SB_CHECK(len == sizeof data && memcmp(got, data, len) == 0);
    free(got);

    /* Corrupt: flip bytes in the deflate body; truncated: cut the file short. */
    uint8_t *zbytes;
    size_t zlen;
    SB_CHECK(sb_read_file(plain, &zbytes, &zlen) == SB_OK);
    free(zbytes);
    FILE *f = fopen(gz, "rb");
    uint8_t zbuf[8000];
    zlen = fread(zbuf, 1, sizeof zbuf, f);
    fclose(f);
    write_bytes(trunc, zbuf, zlen / 2);
    SB_CHECK(sb_read_file(trunc, &got, &len) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "truncated gzip file");
    for (size_t i = 20; i < 40; i++)
        zbuf[i] ^= 0x5a;
    write_bytes(bad, zbuf, zlen);
    SB_CHECK(sb_read_file(bad, &got, &len) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "corrupt gzip file");
    SB_CHECK_STR_CONTAINS(sb_error_message(), "bad.gz");

    SB_CHECK(sb_read_file("/nonexistent/file", &got, &len) == SB_EIO);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "/nonexistent/file");
}

static void test_idx_validation(void)
{
    static uint8_t buf[16 + 5 * 784];
    size_t len = make_images(buf, 5);
    int64_t dims[3];
    const uint8_t *data;
    SB_CHECK(sb_idx_parse("imgs", buf, len, 3, dims, &data) == SB_OK);
    SB_CHECK(dims[0] == 5 && dims[1] == 28 && dims[2] == 28 && data == buf + 16);
    SB_CHECK(sb_idx_parse("imgs", buf, len - 1, 3, dims, &data) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "truncated IDX file");
    SB_CHECK(sb_idx_parse("imgs", buf, 10, 3, dims, &data) == SB_EFORMAT);
    SB_CHECK(sb_idx_parse("imgs", buf, len, 1, dims, &data) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "wrong magic number 0x00000803");
    buf[0] = 0x1f;
    SB_CHECK(sb_idx_parse("imgs", buf, len, 3, dims, &data) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "wrong magic number");
    buf[0] = 0;
    buf[2] = 0x0d;
    SB_CHECK(sb_idx_parse("imgs", buf, len, 3, dims, &data) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "element type 0x0d");
}

static void write_mnist(const char *dir, uint32_t nimages, uint32_t nlabels, bool gz)
{
    static uint8_t ibuf[16 + 20 * 784], lbuf[8 + 20];
    size_t ilen = make_images(ibuf, nimages), llen = make_labels(lbuf, nlabels);
    char p[600];
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte%s", dir, gz ? ".gz" : "");
    gz ? write_gz(p, ibuf, ilen) : write_bytes(p, ibuf, ilen);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte%s", dir, gz ? ".gz" : "");
    gz ? write_gz(p, lbuf, llen) : write_bytes(p, lbuf, llen);
}

static void test_mnist_layouts_and_errors(void)
{
    char root[512], raw[600];
    dir_in(root, sizeof root, "mnist");
    dir_in(raw, sizeof raw, "mnist/MNIST/raw");

    sb_dataset *ds = NULL;
    SB_CHECK(sb_mnist_open(root, false, &ds) == SB_EIO);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "sbengine fetch mnist");
    SB_CHECK(sb_mnist_open("/nonexistent/root", false, &ds) == SB_EIO);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "/nonexistent/root");

    write_mnist(raw, 20, 20, true); /* torchvision layout, gzip */
    SB_CHECK(sb_mnist_open(root, false, &ds) == SB_OK);
    if (ds) {
        SB_CHECK(ds->length == 20 && strcmp(ds->name, "MNIST") == 0);
        SB_CHECK(ds->input.dtype == SB_UINT8 && ds->input.ndim == 2 && ds->input.sizes[0] == 28);
        SB_CHECK(ds->target.dtype == SB_INT64 && ds->target.ndim == 0);
        const void *in, *tg;
        SB_CHECK(ds->ops->get(ds, 13, &in, &tg, NULL) == SB_OK);
        SB_CHECK(((const uint8_t *)in)[5] == (13 + 5) % 256);
        SB_CHECK(*(const int64_t *)tg == 3);
        sb_dataset_release(ds);
        ds = NULL;
    }

    /* Files directly in ROOT, plain; image/label count mismatch. */
    char flat[512];
    dir_in(flat, sizeof flat, "flat");
    write_mnist(flat, 20, 19, false);
    SB_CHECK(sb_mnist_open(flat, false, &ds) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "20 images");
    SB_CHECK_STR_CONTAINS(sb_error_message(), "19 labels");
    write_mnist(flat, 7, 7, false);
    SB_CHECK(sb_mnist_open(flat, false, &ds) == SB_OK);
    if (ds) SB_CHECK(ds->length == 7);
    sb_dataset_release(ds);

    /* A label out of 0..9. */
    uint8_t lbuf[8 + 7];
    make_labels(lbuf, 7);
    lbuf[8 + 4] = 12;
    char p[600];
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", flat);
    write_bytes(p, lbuf, sizeof lbuf);
    SB_CHECK(sb_mnist_open(flat, false, &ds) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "label 12 of sample 5");
}

static void test_cifar(void)
{
    char root[512], dir[600];
    dir_in(root, sizeof root, "cifar");
    dir_in(dir, sizeof dir, "cifar/cifar-10-batches-bin");
    static uint8_t rec[3 * 3073];
    for (int r = 0; r < 3; r++) {
        rec[r * 3073] = (uint8_t)(r + 4);
        for (int p = 0; p < 3072; p++)
            rec[r * 3073 + 1 + p] = (uint8_t)(p / 1024 * 100 + r);
    }
    char p[700];
    snprintf(p, sizeof p, "%s/test_batch.bin", dir);
    write_bytes(p, rec, sizeof rec);
    sb_dataset *ds = NULL;
    SB_CHECK(sb_cifar_open(root, 10, false, false, &ds) == SB_OK);
    if (ds) {
        SB_CHECK(ds->length == 3 && strcmp(ds->name, "CIFAR10") == 0);
        SB_CHECK(ds->input.ndim == 3 && ds->input.sizes[2] == 3);
        const void *in, *tg;
        ds->ops->get(ds, 2, &in, &tg, NULL);
        const uint8_t *px = in;
        /* HWC: pixel 0 is (R, G, B) = (0+2, 100+2, 200+2). */
        SB_CHECK(px[0] == 2 && px[1] == 102 && px[2] == 202);
        SB_CHECK(*(const int64_t *)tg == 6);
        sb_dataset_release(ds);
    }
    /* Truncated: not a whole number of records. */
    write_bytes(p, rec, sizeof rec - 10);
    SB_CHECK(sb_cifar_open(root, 10, false, false, &ds) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "not a whole number of 3073-byte");
    /* Train needs all five batches. */
    SB_CHECK(sb_cifar_open(root, 10, true, false, &ds) == SB_EIO);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "data_batch_1.bin");
    /* A label out of range. */
    rec[0] = 10;
    write_bytes(p, rec, sizeof rec);
    SB_CHECK(sb_cifar_open(root, 10, false, false, &ds) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "label 10");

    /* CIFAR-100: coarse then fine label byte, files directly in ROOT. */
    char root100[512];
    dir_in(root100, sizeof root100, "cifar100");
    static uint8_t rec100[2 * 3074];
    rec100[0] = 3;
    rec100[1] = 77;
    rec100[3074] = 19;
    rec100[3075] = 99;
    snprintf(p, sizeof p, "%s/train.bin", root100);
    write_bytes(p, rec100, sizeof rec100);
    SB_CHECK(sb_cifar_open(root100, 100, true, false, &ds) == SB_OK);
    if (ds) {
        const void *in, *tg;
        ds->ops->get(ds, 1, &in, &tg, NULL);
        SB_CHECK(*(const int64_t *)tg == 99);
        sb_dataset_release(ds);
    }
    SB_CHECK(sb_cifar_open(root100, 100, true, true, &ds) == SB_OK);
    if (ds) {
        const void *in, *tg;
        ds->ops->get(ds, 0, &in, &tg, NULL);
        SB_CHECK(*(const int64_t *)tg == 3);
        sb_dataset_release(ds);
    }
}

static void test_transforms(void)
{
    sb_transform *tf;
    SB_CHECK(sb_transform_new(&tf) == SB_OK);
    SB_CHECK(sb_transform_add_to_tensor(tf) == SB_OK);
    double mean[3] = {0.5, 0.25, 0.0}, std[3] = {0.5, 2.0, 1.0};
    SB_CHECK(sb_transform_add_normalize(tf, 3, mean, std) == SB_OK);
    sb_sample_spec in = {SB_UINT8, 3, {2, 2, 3}}, out;
    SB_CHECK(sb_transform_output_spec(tf, &in, &out) == SB_OK);
    SB_CHECK(out.dtype == SB_FLOAT32 && out.ndim == 3 && out.sizes[0] == 3 && out.sizes[1] == 2);
    uint8_t px[12];
    for (int i = 0; i < 12; i++)
        px[i] = (uint8_t)(i * 20);
    float dst[12];
    sb_transform_apply(tf, &in, px, dst);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 4; i++) {
            float expect = ((float)px[i * 3 + c] / 255.0f - (float)mean[c]) / (float)std[c];
            SB_CHECK(dst[c * 4 + i] == expect); /* bit-identical to torchvision's order */
        }
    /* Grayscale input: 3 means for 1 channel is an error naming Normalize. */
    sb_sample_spec gray = {SB_UINT8, 2, {28, 28}};
    SB_CHECK(sb_transform_output_spec(tf, &gray, &out) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "Normalize: 3 means/stds");
    sb_transform_free(tf);

    /* Normalize without ToTensor on uint8; ToTensor on float. */
    SB_CHECK(sb_transform_new(&tf) == SB_OK);
    SB_CHECK(sb_transform_add_normalize(tf, 1, mean, std) == SB_OK);
    SB_CHECK(sb_transform_output_spec(tf, &gray, &out) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "put ToTensor first");
    double zero = 0;
    SB_CHECK(sb_transform_add_normalize(tf, 1, mean, &zero) == SB_EINVAL);
    sb_transform_free(tf);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sb_data_formats_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    SB_RUN(test_md5);
    SB_RUN(test_gzip_read_and_errors);
    SB_RUN(test_idx_validation);
    SB_RUN(test_mnist_layouts_and_errors);
    SB_RUN(test_cifar);
    SB_RUN(test_transforms);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return sb_test_summary();
}
