/* CIFAR-10 and CIFAR-100, binary version (https://www.cs.toronto.edu/~kriz/cifar.html):
 * fixed-size records of label byte(s) then 3072 pixel bytes as three 32x32 planes (R, G, B).
 * Images are stored HWC here, as torchvision's CIFAR10.data, so ToTensor gives CHW. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "data/file.h"

#define CIFAR_PIXELS 3072

typedef struct cifar_memory {
    uint8_t *images;
    int64_t *labels;
} cifar_memory;

static void cifar_free(void *ctx)
{
    cifar_memory *m = ctx;
    free(m->images);
    free(m->labels);
    free(m);
}

static void locate(const char *root, const char *subdir, const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/%s/%s", root, subdir, name);
    if (sb_file_exists(path)) return;
    char direct[4096];
    snprintf(direct, sizeof direct, "%s/%s", root, name);
    if (sb_file_exists(direct)) snprintf(path, size, "%s", direct);
}

sb_status sb_cifar_open(const char *root, int classes, bool train, bool coarse, sb_dataset **out)
{
    if (classes != 10 && classes != 100)
        return sb_fail(SB_EINVAL, "CIFAR: classes must be 10 or 100, got %d", classes);
    if (coarse && classes != 100)
        return sb_fail(SB_EINVAL, "CIFAR10 has no coarse labels (only CIFAR100 does)");
    SB_TRY(sb_check_readable_dir(root));
    const char *subdir = classes == 10 ? "cifar-10-batches-bin" : "cifar-100-binary";
    const char *names10_train[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                   "data_batch_4.bin", "data_batch_5.bin"};
    const char *names10_test[] = {"test_batch.bin"};
    const char *names100_train[] = {"train.bin"};
    const char *names100_test[] = {"test.bin"};
    const char **names;
    int nfiles;
    if (classes == 10) {
        names = train ? names10_train : names10_test;
        nfiles = train ? 5 : 1;
    } else {
        names = train ? names100_train : names100_test;
        nfiles = 1;
    }
    size_t label_bytes = classes == 10 ? 1 : 2;
    size_t record = label_bytes + CIFAR_PIXELS;
    int label_limit = classes == 10 ? 10 : (coarse ? 20 : 100);

    uint8_t *files[5] = {0};
    size_t lens[5] = {0}, total = 0;
    char paths[5][4096];
    sb_status s = SB_OK;
    for (int f = 0; f < nfiles && s == SB_OK; f++) {
        locate(root, subdir, names[f], paths[f], sizeof paths[f]);
        if (!sb_file_exists(paths[f])) {
            s = sb_fail(SB_EIO,
                        "CIFAR%d: %s not found in '%s/%s/' nor in '%s' (download "
                        "cifar-%d-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html "
                        "and extract it into '%s')",
                        classes, names[f], root, subdir, root, classes, root);
            break;
        }
        s = sb_read_file(paths[f], &files[f], &lens[f]);
        if (s == SB_OK && (lens[f] == 0 || lens[f] % record != 0))
            s = sb_fail(SB_EFORMAT,
                        "%s: %zu bytes is not a whole number of %zu-byte CIFAR%d records "
                        "(truncated or not a CIFAR%d binary file)",
                        paths[f], lens[f], record, classes, classes);
        total += lens[f] / record;
    }
    cifar_memory *mem = NULL;
    if (s == SB_OK) {
        mem = calloc(1, sizeof *mem);
        if (mem) {
            mem->images = malloc(total * CIFAR_PIXELS);
            mem->labels = malloc(total * sizeof(int64_t));
        }
        if (!mem || !mem->images || !mem->labels)
            s = sb_fail(SB_ENOMEM, "CIFAR%d: cannot allocate %zu images", classes, total);
    }
    size_t n = 0;
    for (int f = 0; f < nfiles && s == SB_OK; f++) {
        size_t count = lens[f] / record;
        for (size_t r = 0; r < count && s == SB_OK; r++, n++) {
            const uint8_t *rec = files[f] + r * record;
            int label = classes == 10 ? rec[0] : (coarse ? rec[0] : rec[1]);
            if (label >= label_limit) {
                s = sb_fail(SB_EFORMAT, "%s: record %zu has label %d, expected 0..%d", paths[f],
                            r + 1, label, label_limit - 1);
                break;
            }
            if (classes == 100 && rec[0] >= 20) {
                s = sb_fail(SB_EFORMAT, "%s: record %zu has coarse label %d, expected 0..19",
                            paths[f], r + 1, rec[0]);
                break;
            }
            mem->labels[n] = label;
            const uint8_t *planes = rec + label_bytes;
            uint8_t *hwc = mem->images + n * CIFAR_PIXELS;
            for (int p = 0; p < 1024; p++) {
                hwc[3 * p] = planes[p];
                hwc[3 * p + 1] = planes[1024 + p];
                hwc[3 * p + 2] = planes[2048 + p];
            }
        }
    }
    for (int f = 0; f < nfiles; f++)
        free(files[f]);
    if (s != SB_OK) {
        if (mem) cifar_free(mem);
        return s;
    }
    sb_sample_spec ispec = {SB_UINT8, 3, {32, 32, 3}};
    sb_sample_spec tspec = {SB_INT64, 0, {0}};
    s = sb_array_dataset_new(classes == 10 ? "CIFAR10" : "CIFAR100", (int64_t)total, &ispec,
                             mem->images, &tspec, mem->labels, cifar_free, mem, out);
    if (s != SB_OK) cifar_free(mem);
    return s;
}
