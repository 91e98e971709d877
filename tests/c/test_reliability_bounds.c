/* Bounded reads (issue 16, defect 2): a small .gz must not inflate without end. Every
 * gzip reader stops at what the IDX header, or the dataset's known size, allows plus a
 * margin, and says so naming the file. Files are generated here in a temporary directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data/dataset.h"
#include "data/file.h"
#include "sbtest.h"

static char tmpdir[256];

static void path_in(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A gzip file of `head` followed by `zeros` zero bytes (written in 1 MiB pieces). */
static void write_gz_bomb(const char *path, const uint8_t *head, size_t head_len, size_t zeros)
{
    gzFile f = gzopen(path, "wb9");
    SB_CHECK(f != NULL);
    if (!f) return;
    gzwrite(f, head, (unsigned)head_len);
    static uint8_t chunk[1 << 20];
    while (zeros) {
        size_t n = zeros < sizeof chunk ? zeros : sizeof chunk;
        gzwrite(f, chunk, (unsigned)n);
        zeros -= n;
    }
    gzclose(f);
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* A folder tmpdir/NAME holding a gzip images file whose header declares `n` images of 28x28
 * followed by `extra` more zero bytes, and a gzip labels file of `n` zeros. */
static void write_mnist_gz(const char *name, uint32_t n, size_t extra, char *dir, size_t size)
{
    path_in(dir, size, name);
    SB_CHECK(sb_make_dirs(dir) == SB_OK);
    char images[600], labels[600];
    snprintf(images, sizeof images, "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(labels, sizeof labels, "%s/t10k-labels-idx1-ubyte.gz", dir);
    uint8_t head[16], lhead[8];
    put_be32(head, 0x00000803);
    put_be32(head + 4, n);
    put_be32(head + 8, 28);
    put_be32(head + 12, 28);
    write_gz_bomb(images, head, sizeof head, (size_t)n * 784 + extra);
    put_be32(lhead, 0x00000801);
    put_be32(lhead + 4, n);
    write_gz_bomb(labels, lhead, sizeof lhead, n);
}

static void test_mnist_gzip_bomb_stops_at_the_header_size(void)
{
    /* The header declares 2 images of 28x28 (1,568 data bytes); the stream goes on with
     * 64 MiB of zeros (a ~64 KB file). */
    char dir[300];
    write_mnist_gz("bomb", 2, (size_t)64 << 20, dir, sizeof dir);
    long before = peak_rss_kib();
    sb_dataset *ds = NULL;
    SB_CHECK(sb_mnist_open(dir, false, &ds) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "t10k-images-idx3-ubyte.gz' inflates to more than");
    SB_CHECK_STR_CONTAINS(sb_error_message(), "the most its IDX header allows");
    /* Inflating stopped near the bound: the peak grew by far less than the 64 MiB. */
    long grown_mib = (peak_rss_kib() - before) / 1024;
    SB_CHECK(grown_mib < 32);
    if (grown_mib >= 32) fprintf(stderr, "  peak memory grew by %ld MiB\n", grown_mib);
}

static void test_idx_slack_keeps_the_trailing_bytes_message(void)
{
    char dir[300];
    write_mnist_gz("trailing", 0, 100, dir, sizeof dir); /* 100 stray bytes: within the margin */
    sb_dataset *ds = NULL;
    SB_CHECK(sb_mnist_open(dir, false, &ds) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "100 unexpected bytes after the IDX data");
}

/* IDX dimensions at 0, 1 and 2^32 - 1 (the field's max): a product that overflows is said
 * before anything is inflated or allocated. */
static void test_idx_dimension_boundaries(void)
{
    uint32_t sizes[][3] = {
        {0, 28, 28}, {1, 28, 28}, {0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 28, 28}};
    for (int k = 0; k < 4; k++) {
        char dir[300], images[600], labels[600];
        char name[32];
        snprintf(name, sizeof name, "dims%d", k);
        path_in(dir, sizeof dir, name);
        SB_CHECK(sb_make_dirs(dir) == SB_OK);
        snprintf(images, sizeof images, "%s/t10k-images-idx3-ubyte.gz", dir);
        snprintf(labels, sizeof labels, "%s/t10k-labels-idx1-ubyte.gz", dir);
        uint8_t head[16], lhead[8];
        put_be32(head, 0x00000803);
        for (int d = 0; d < 3; d++)
            put_be32(head + 4 + 4 * d, sizes[k][d]);
        bool small = sizes[k][0] <= 1;
        write_gz_bomb(images, head, sizeof head, small ? (size_t)sizes[k][0] * 784 : 4096);
        put_be32(lhead, 0x00000801);
        put_be32(lhead + 4, small ? sizes[k][0] : 1);
        write_gz_bomb(labels, lhead, sizeof lhead, small ? sizes[k][0] : 1);
        sb_dataset *ds = NULL;
        sb_status s = sb_mnist_open(dir, false, &ds);
        if (small) {
            SB_CHECK(s == SB_OK);
            sb_dataset_release(ds);
        } else if (k == 2) {
            SB_CHECK(s == SB_EFORMAT);
            SB_CHECK_STR_CONTAINS(sb_error_message(), "IDX dimensions overflow");
        } else {
            SB_CHECK(s == SB_EFORMAT); /* declares ~3.4 TB, holds 4 KiB: truncated */
            SB_CHECK_STR_CONTAINS(sb_error_message(), "truncated IDX file");
        }
    }
}

static void test_idx_wrong_magic_is_said_before_inflating(void)
{
    char dir[300], images[600];
    path_in(dir, sizeof dir, "magic");
    SB_CHECK(sb_make_dirs(dir) == SB_OK);
    snprintf(images, sizeof images, "%s/t10k-images-idx3-ubyte.gz", dir);
    char labels[600];
    snprintf(labels, sizeof labels, "%s/t10k-labels-idx1-ubyte.gz", dir);
    uint8_t head[16] = {0x50, 0x4b, 3, 4}; /* a zip file, not IDX */
    write_gz_bomb(images, head, sizeof head, (size_t)64 << 20);
    write_gz_bomb(labels, head, 8, 0);
    sb_dataset *ds = NULL;
    SB_CHECK(sb_mnist_open(dir, false, &ds) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "wrong magic number 0x504b0304");
}

static void test_fixed_bounds(void)
{
    char gz[600], plain[600];
    path_in(gz, sizeof gz, "fixed.gz");
    path_in(plain, sizeof plain, "fixed.bin");
    uint8_t head[4] = {1, 2, 3, 4};
    write_gz_bomb(gz, head, sizeof head, 4096 - 4);
    FILE *f = fopen(plain, "wb");
    for (int i = 0; i < 4096; i++)
        fputc(i & 0xff, f);
    fclose(f);
    uint8_t *data = NULL;
    size_t len = 0;
    /* max, max - 1 (one byte too many), and both files */
    sb_read_limit exact = {4096, NULL, NULL, "the test"};
    sb_read_limit short_by_one = {4095, NULL, NULL, "the test"};
    SB_CHECK(sb_read_file_bounded(gz, &exact, &data, &len) == SB_OK && len == 4096);
    free(data);
    SB_CHECK(sb_read_file_bounded(plain, &exact, &data, &len) == SB_OK && len == 4096);
    free(data);
    SB_CHECK(sb_read_file_bounded(gz, &short_by_one, &data, &len) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(),
                          "inflates to more than 4095 bytes, the most the test allows");
    SB_CHECK(sb_read_file_bounded(plain, &short_by_one, &data, &len) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "holds more than 4095 bytes");
    /* an empty file and a bound of 1 */
    char empty[600];
    path_in(empty, sizeof empty, "empty.gz");
    write_gz_bomb(empty, head, 0, 0);
    sb_read_limit one = {1, NULL, NULL, "the test"};
    SB_CHECK(sb_read_file_bounded(empty, &one, &data, &len) == SB_OK && len == 0);
    free(data);
}

static void test_tar_and_cifar_bounds(void)
{
    char archive[600], out[600];
    path_in(archive, sizeof archive, "big.tar.gz");
    path_in(out, sizeof out, "untar");
    SB_CHECK(sb_make_dirs(out) == SB_OK);
    /* A tar header is not even needed: the bound stops the read first. */
    uint8_t head[4] = {0};
    write_gz_bomb(archive, head, sizeof head, (size_t)8 << 20);
    int count = 0;
    SB_CHECK(sb_tar_extract(archive, out, "", (size_t)1 << 20, &count) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(),
                          "inflates to more than 1048576 bytes, the most this archive allows");

    /* A CIFAR-10 batch file bigger than 10,000 records. */
    char dir[600], batch[700];
    path_in(dir, sizeof dir, "cifar/cifar-10-batches-bin");
    SB_CHECK(sb_make_dirs(dir) == SB_OK);
    snprintf(batch, sizeof batch, "%s/test_batch.bin", dir);
    write_gz_bomb(batch, head, 0, (size_t)10001 * 3073);
    path_in(dir, sizeof dir, "cifar");
    sb_dataset *ds = NULL;
    SB_CHECK(sb_cifar_open(dir, 10, false, false, &ds) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(),
                          "the most a CIFAR-10 batch file (10,000 records) allows");
}

static void test_folder_in_place_of_a_file(void)
{
    char dir[600], images[700];
    path_in(dir, sizeof dir, "folder");
    snprintf(images, sizeof images, "%s/t10k-images-idx3-ubyte", dir);
    SB_CHECK(sb_make_dirs(images) == SB_OK);
    uint8_t *data = NULL;
    size_t len = 0;
    SB_CHECK(sb_read_file(images, &data, &len) == SB_EIO);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "is a folder, not a file");
    /* MNIST says so too (it used to look for the file elsewhere, then try a download) */
    char labels[700];
    snprintf(labels, sizeof labels, "%s/t10k-labels-idx1-ubyte", dir);
    FILE *f = fopen(labels, "wb");
    fclose(f);
    sb_dataset *ds = NULL;
    SB_CHECK(sb_mnist_open(dir, false, &ds) == SB_EIO);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "t10k-images-idx3-ubyte' is a folder, not a file");
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sbengine_bounds_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    SB_RUN(test_mnist_gzip_bomb_stops_at_the_header_size);
    SB_RUN(test_idx_slack_keeps_the_trailing_bytes_message);
    SB_RUN(test_idx_dimension_boundaries);
    SB_RUN(test_idx_wrong_magic_is_said_before_inflating);
    SB_RUN(test_fixed_bounds);
    SB_RUN(test_tar_and_cifar_bounds);
    SB_RUN(test_folder_in_place_of_a_file);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return sb_test_summary();
}
