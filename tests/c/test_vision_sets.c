/* STL10 and SVHN readers against torchvision on small files in the real formats
 * (tools/fixtures/vision_sets.py): same labels, same HWC bytes (sha256). */
#include <stdlib.h>
#include <string.h>

#include "core/sha256.h"
#include "data/numpy_pickle.h"
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

/* torchvision's python-version CIFAR files: the same labels and HWC bytes as torchvision's
 * ds.targets and ds.data. */
static void test_cifar_pickles(void)
{
    char fx[4096], path[8192];
    snprintf(fx, sizeof fx, "%s/../cifar_pickles", dir);
    snprintf(path, sizeof path, "%s/expected.txt", fx);
    FILE *f = fopen(path, "r");
    SB_CHECK(f != NULL);
    if (!f) return;
    char line[512], sub[16], name[16], labels[128], want[65];
    int cases = 0;
    while (fgets(line, sizeof line, f) &&
           sscanf(line, "%15s %15s %127s %64s", sub, name, labels, want) == 4) {
        cases++;
        snprintf(path, sizeof path, "%s/%s", fx, sub);
        sb_dataset *ds;
        int classes = strcmp(name, "CIFAR10") == 0 ? 10 : 100;
        sb_status s = sb_cifar_open(path, classes, false, false, &ds);
        SB_CHECK(s == SB_OK);
        if (s != SB_OK) {
            fprintf(stderr, "%s %s: %s\n", sub, name, sb_error_message());
            continue;
        }
        char got[128] = "";
        sb_sha256 h;
        sb_sha256_init(&h);
        for (int64_t i = 0; i < ds->length; i++) {
            const void *in, *tg;
            SB_CHECK(ds->ops->get(ds, i, &in, &tg, NULL) == SB_OK);
            int64_t label;
            memcpy(&label, tg, sizeof label);
            size_t n = strlen(got);
            snprintf(got + n, sizeof got - n, "%s%lld", i ? "," : "", (long long)label);
            sb_sha256_update(&h, in, 3072);
        }
        char hex[65];
        sb_sha256_final_hex(&h, hex);
        SB_CHECK(strcmp(got, labels) == 0);
        SB_CHECK(strcmp(hex, want) == 0);
        sb_dataset_release(ds);
    }
    fclose(f);
    SB_CHECK(cases == 3);
    /* coarse labels of CIFAR-100 */
    snprintf(path, sizeof path, "%s/p4", fx);
    sb_dataset *ds;
    SB_CHECK(sb_cifar_open(path, 100, false, true, &ds) == SB_OK);
    const void *in, *tg;
    SB_CHECK(ds->ops->get(ds, 0, &in, &tg, NULL) == SB_OK && *(const int64_t *)tg == 10);
    sb_dataset_release(ds);
    /* a pickle that would run os.system is refused, naming what it calls */
    snprintf(path, sizeof path, "%s/evil", fx);
    SB_CHECK(sb_cifar_open(path, 10, false, false, &ds) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "refusing to call pickle global 'os.system'");
    SB_CHECK_STR_CONTAINS(sb_error_message(), "test_batch");
}

/* Hostile and broken pickles, through the CIFAR reader's allow-list (data/numpy_pickle.h):
 * refused with a message, never a crash. */
static void test_pickle_refuses(void)
{
    static const struct {
        const char *bytes;
        size_t len;
        const char *needle;
    } cases[] = {
        {"\x80\x02"
         "cbuiltins\neval\n.",
         18, "refusing to call pickle global 'builtins.eval'"},
        {"\x80\x02}q\x00(U\x04"
         "data",
         11, "truncated pickle"},
        {"\x80\x02K\x01K\x02.", 7, "ends with more than one value on its stack"},
        {"\x80\x02("
         "i__main__\nX\n.",
         15, "refusing to call pickle global '__main__.X'"},
        {"\x80\x02h\x05.", 5, "GET of a memo entry that was never PUT"},
        {"\x80\x02"
         "e.",
         4, "no MARK before this opcode"},
        {"\x80\x02T\xff\xff\xff\x7f"
         "abc.",
         11, "runs past the end"},
        {"", 0, "truncated pickle"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sb_pickle *doc = sb_pickle_new();
        sb_pickle_value *root;
        SB_CHECK(sb_numpy_unpickle(doc, "x.pkl", (const uint8_t *)cases[i].bytes, cases[i].len,
                                   &root) == SB_EFORMAT);
        SB_CHECK_STR_CONTAINS(sb_error_message(), cases[i].needle);
        sb_pickle_free(doc);
    }
}

int main(void)
{
    const char *fx = getenv("SBENGINE_FIXTURES");
    snprintf(dir, sizeof dir, "%s/vision_sets", fx ? fx : "tests/fixtures");
    SB_RUN(test_stl10);
    SB_RUN(test_svhn);
    SB_RUN(test_not_a_mat_file);
    SB_RUN(test_cifar_pickles);
    SB_RUN(test_pickle_refuses);
    return sb_test_summary();
}
