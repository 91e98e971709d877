/* STL10 and SVHN readers against torchvision on small files in the real formats
 * (tools/fixtures/vision_sets.py): same labels, same HWC bytes (sha256). */
#include <stdlib.h>
#include <string.h>

#include "core/sha256.h"
#include "data/vision_sets.h"
#include "sbtest.h"

static char dir[4096];

static void check_against_expected(const char *name, sb_dataset *ds)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/expected.txt", dir);
    FILE *f = fopen(path, "r");
    SB_CHECK(f != NULL);
    if (!f) return;
    char line[512], set[32], shape[32], want[65];
    int index, label, n = 0;
    void *scratch = malloc(ds->input_scratch ? ds->input_scratch : 1);
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%31s %d %d %31s %64s", set, &index, &label, shape, want) != 5 ||
            strcmp(set, name) != 0)
            continue;
        n++;
        const void *in, *tg;
        SB_CHECK(ds->ops->get(ds, index - 1, &in, &tg, scratch) == SB_OK);
        int64_t got_label;
        memcpy(&got_label, tg, sizeof got_label);
        SB_CHECK(got_label == label);
        sb_sha256 h;
        char hex[65];
        sb_sha256_init(&h);
        sb_sha256_update(&h, in, sb_sample_spec_nbytes(&ds->input));
        sb_sha256_final_hex(&h, hex);
        if (strcmp(hex, want) != 0) fprintf(stderr, "%s %d: bytes differ\n", name, index);
        SB_CHECK(strcmp(hex, want) == 0);
    }
    fclose(f);
    free(scratch);
    SB_CHECK(n == ds->length && n > 0);
}

static void test_stl10(void)
{
    sb_dataset *ds;
    SB_CHECK(sb_stl10_open(dir, "test", &ds) == SB_OK);
    SB_CHECK(ds->length == 3 && ds->input.sizes[0] == 96 && ds->input.sizes[2] == 3);
    check_against_expected("STL10", ds);
    sb_dataset_release(ds);
    SB_CHECK(sb_stl10_open(dir, "train", &ds) == SB_EIO);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "train_y.bin");
    SB_CHECK(sb_stl10_open(dir, "unlabeled", &ds) == SB_EINVAL);
}

static void test_svhn(void)
{
    sb_dataset *ds;
    sb_status s = sb_svhn_open(dir, "test", &ds);
#ifndef SBENGINE_HAVE_MATIO
    SB_CHECK(s == SB_EUNSUPPORTED);
    return;
#endif
    SB_CHECK(s == SB_OK);
    if (s != SB_OK) return;
    SB_CHECK(ds->length == 5);
    check_against_expected("SVHN", ds);
    sb_dataset_release(ds);
    SB_CHECK(sb_svhn_open(dir, "train", &ds) == SB_EIO);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "train_32x32.mat");
    /* a file that is not what it claims */
    char bad[8192];
    snprintf(bad, sizeof bad, "%s/stl10_binary", dir);
    SB_CHECK(sb_svhn_open(bad, "test", &ds) == SB_EIO);
}

static void test_not_a_mat_file(void)
{
    char path[] = "/tmp/sb_svhn_XXXXXX";
    SB_CHECK(mkdtemp(path) != NULL);
    char file[8192];
    snprintf(file, sizeof file, "%s/test_32x32.mat", path);
    FILE *f = fopen(file, "w");
    fputs("not a MATLAB file at all, just text that is long enough to have a header.........."
          "..............................................................................",
          f);
    fclose(f);
    sb_dataset *ds;
    sb_status s = sb_svhn_open(path, "test", &ds);
    SB_CHECK(s == SB_EFORMAT || s == SB_EUNSUPPORTED);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "test_32x32.mat");
    remove(file);
    remove(path);
}

int main(void)
{
    const char *fx = getenv("SBENGINE_FIXTURES");
    snprintf(dir, sizeof dir, "%s/vision_sets", fx ? fx : "tests/fixtures");
    SB_RUN(test_stl10);
    SB_RUN(test_svhn);
    SB_RUN(test_not_a_mat_file);
    return sb_test_summary();
}
