/* CIFAR-10 and CIFAR-100, binary version (https://www.cs.toronto.edu/~kriz/cifar.html):
 * fixed-size records of label byte(s) then 3072 pixel bytes as three 32x32 planes (R, G, B);
 * or, when the binary files are absent, torchvision's python version (cifar-10-batches-py/,
 * cifar-100-python/: pickles read by the restricted unpickler with numpy's globals,
 * data/numpy_pickle.h). Images are stored HWC here, as torchvision's CIFAR10.data, so ToTensor
 * gives CHW. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/md5.h"
#include "data/dataset.h"
#include "data/file.h"
#include "data/numpy_pickle.h"
#include "net/download.h"

#define CIFAR_PIXELS 3072

/* Three 32x32 planes (R, G, B) -> one 32x32x3 HWC image. */
static void planes_to_hwc(const uint8_t *planes, uint8_t *hwc)
{
    for (int p = 0; p < 1024; p++) {
        hwc[3 * p] = planes[p];
        hwc[3 * p + 1] = planes[1024 + p];
        hwc[3 * p + 2] = planes[2048 + p];
    }
}

static void locate(const char *root, const char *subdir, const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/%s/%s", root, subdir, name);
    if (sb_path_exists(path)) return;
    char direct[4096];
    snprintf(direct, sizeof direct, "%s/%s", root, name);
    if (sb_path_exists(direct)) snprintf(path, size, "%s", direct);
}

/* Appends the images (HWC) and labels of one batch of torchvision's python version. */
static sb_status read_pickle_batch(const char *path, int classes, bool coarse, sb_data_blocks *mem,
                                   size_t *n)
{
    uint8_t *bytes;
    size_t len;
    SB_TRY(sb_read_file(path, &bytes, &len));
    sb_pickle *doc = sb_pickle_new();
    if (!doc) {
        free(bytes);
        return sb_fail(SB_ENOMEM, "CIFAR%d: out of memory", classes);
    }
    sb_pickle_value *root = NULL;
    sb_status s = sb_numpy_unpickle(doc, path, bytes, len, &root);
    if (s != SB_OK) {
        sb_pickle_free(doc);
        free(bytes);
        return s;
    }
    const char *key = classes == 10 ? "labels" : coarse ? "coarse_labels" : "fine_labels";
    const sb_numpy_array *data = sb_numpy_array_of(sb_pickle_dict_get(root, "data"));
    const sb_pickle_value *labels = sb_pickle_dict_get(root, key);
    int limit = classes == 10 ? 10 : coarse ? 20 : 100;
    size_t count = labels && labels->kind == SB_PICKLE_LIST ? labels->u.seq.len : 0;
    if (!data || data->ndim != 2 || data->shape[1] != CIFAR_PIXELS ||
        strcmp(data->dtype, "u1") != 0 || !labels || labels->kind != SB_PICKLE_LIST ||
        (size_t)data->shape[0] != count)
        s = sb_fail(SB_EFORMAT,
                    "%s: not a CIFAR%d python batch (expected a dict with 'data', a uint8 array "
                    "[N, 3072], and '%s', a list of N labels)",
                    path, classes, key);
    uint8_t *images = NULL;
    int64_t *grown_labels = NULL;
    if (s == SB_OK) {
        images = realloc(mem->inputs, (*n + count) * CIFAR_PIXELS + 1);
        if (images) mem->inputs = images;
        grown_labels = images ? realloc(mem->labels, (*n + count + 1) * sizeof(int64_t)) : NULL;
        if (grown_labels) mem->labels = grown_labels;
        if (!images || !grown_labels) s = sb_fail(SB_ENOMEM, "CIFAR%d: out of memory", classes);
    }
    for (size_t r = 0; s == SB_OK && r < count; r++) {
        const sb_pickle_value *l = labels->u.seq.items[r];
        if (l->kind != SB_PICKLE_INT || l->u.i < 0 || l->u.i >= limit) {
            s = sb_fail(SB_EFORMAT, "%s: label %zu is not an integer in 0..%d", path, r + 1,
                        limit - 1);
            break;
        }
        mem->labels[*n + r] = l->u.i;
        planes_to_hwc(data->data + r * CIFAR_PIXELS,
                      (uint8_t *)mem->inputs + (*n + r) * CIFAR_PIXELS);
    }
    if (s == SB_OK) *n += count;
    sb_pickle_free(doc);
    free(bytes);
    return s;
}

/* torchvision's python version (cifar-10-batches-py/, cifar-100-python/), read when the
 * binary version is absent. */
static sb_status open_pickles(const char *root, int classes, bool train, bool coarse,
                              sb_dataset **out)
{
    const char *dir = classes == 10 ? "cifar-10-batches-py" : "cifar-100-python";
    const char *c10_train[] = {"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                               "data_batch_5"};
    const char *c10_test[] = {"test_batch"}, *c100_train[] = {"train"}, *c100_test[] = {"test"};
    const char **names =
        classes == 10 ? (train ? c10_train : c10_test) : (train ? c100_train : c100_test);
    int nfiles = classes == 10 && train ? 5 : 1;
    sb_data_blocks *mem = calloc(1, sizeof *mem);
    if (!mem) return sb_fail(SB_ENOMEM, "CIFAR%d: out of memory", classes);
    size_t n = 0;
    sb_status s = SB_OK;
    for (int f = 0; f < nfiles && s == SB_OK; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/%s", root, dir, names[f]);
        s = read_pickle_batch(path, classes, coarse, mem, &n);
    }
    if (s == SB_OK && n == 0)
        s = sb_fail(SB_EFORMAT, "CIFAR%d: '%s/%s' holds no images", classes, root, dir);
    if (s != SB_OK) {
        sb_data_blocks_free(mem);
        return s;
    }
    sb_sample_spec ispec = {SB_UINT8, 3, {32, 32, 3}};
    sb_sample_spec tspec = {SB_INT64, 0, {0}};
    s = sb_array_dataset_new(classes == 10 ? "CIFAR10" : "CIFAR100", (int64_t)n, &ispec,
                             mem->inputs, &tspec, mem->labels, sb_data_blocks_free, mem, out);
    if (s != SB_OK) sb_data_blocks_free(mem);
    return s;
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
    locate(root, subdir, names[0], paths[0], sizeof paths[0]);
    if (!sb_file_exists(paths[0])) {
        char py[4096];
        snprintf(py, sizeof py, "%s/%s/%s", root,
                 classes == 10 ? "cifar-10-batches-py" : "cifar-100-python",
                 classes == 10 ? (train ? "data_batch_1" : "test_batch")
                               : (train ? "train" : "test"));
        if (sb_file_exists(py)) return open_pickles(root, classes, train, coarse, out);
    }
    for (int f = 0; f < nfiles && s == SB_OK; f++) {
        locate(root, subdir, names[f], paths[f], sizeof paths[f]);
        if (!sb_path_exists(paths[f])) {
            s = sb_fail(SB_EIO,
                        "CIFAR%d: %s not found in '%s/%s/' nor in '%s' (download "
                        "cifar-%d-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html "
                        "and extract it into '%s')",
                        classes, names[f], root, subdir, root, classes, root);
            break;
        }
        /* A batch file holds 10,000 records (CIFAR-100's train.bin 50,000): read no more. */
        sb_read_limit limit = {record * (classes == 100 && train ? 50000 : 10000), NULL, NULL,
                               classes == 10 ? "a CIFAR-10 batch file (10,000 records)"
                               : train       ? "CIFAR-100's train.bin (50,000 records)"
                                             : "CIFAR-100's test.bin (10,000 records)"};
        s = sb_read_file_bounded(paths[f], &limit, &files[f], &lens[f]);
        if (s == SB_OK && (lens[f] == 0 || lens[f] % record != 0))
            s = sb_fail(SB_EFORMAT,
                        "%s: %zu bytes is not a whole number of %zu-byte CIFAR%d records "
                        "(truncated or not a CIFAR%d binary file)",
                        paths[f], lens[f], record, classes, classes);
        total += lens[f] / record;
    }
    sb_data_blocks *mem = NULL;
    if (s == SB_OK) {
        mem = calloc(1, sizeof *mem);
        if (mem) {
            mem->inputs = malloc(total * CIFAR_PIXELS);
            mem->labels = malloc(total * sizeof(int64_t));
        }
        if (!mem || !mem->inputs || !mem->labels)
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
            planes_to_hwc(rec + label_bytes, (uint8_t *)mem->inputs + n * CIFAR_PIXELS);
        }
    }
    for (int f = 0; f < nfiles; f++)
        free(files[f]);
    if (s != SB_OK) {
        sb_data_blocks_free(mem);
        return s;
    }
    sb_sample_spec ispec = {SB_UINT8, 3, {32, 32, 3}};
    sb_sample_spec tspec = {SB_INT64, 0, {0}};
    s = sb_array_dataset_new(classes == 10 ? "CIFAR10" : "CIFAR100", (int64_t)total, &ispec,
                             mem->inputs, &tspec, mem->labels, sb_data_blocks_free, mem, out);
    if (s != SB_OK) sb_data_blocks_free(mem);
    return s;
}

/* --- download -------------------------------------------------------------------------------- */

const char *const sb_cifar_default_mirrors = "https://www.cs.toronto.edu/~kriz/";

static bool split_present(const char *root, int classes, bool train)
{
    const char *subdir = classes == 10 ? "cifar-10-batches-bin" : "cifar-100-binary";
    const char *names10[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                             "data_batch_4.bin", "data_batch_5.bin"};
    const char *test10[] = {"test_batch.bin"}, *train100[] = {"train.bin"},
               *test100[] = {"test.bin"};
    const char **names = classes == 10 ? (train ? names10 : test10) : (train ? train100 : test100);
    int n = classes == 10 && train ? 5 : 1;
    char py[4096]; /* torchvision's python version serves as well */
    snprintf(py, sizeof py, "%s/%s/%s", root,
             classes == 10 ? "cifar-10-batches-py" : "cifar-100-python",
             classes == 10 ? (train ? "data_batch_1" : "test_batch") : (train ? "train" : "test"));
    if (sb_file_exists(py)) return true;
    for (int i = 0; i < n; i++) {
        char path[4096];
        locate(root, subdir, names[i], path, sizeof path);
        if (!sb_path_exists(path)) return false;
    }
    return true;
}

typedef struct cifar_fetch {
    const char *file;
    sb_data_progress_fn progress;
    void *ctx;
} cifar_fetch;

static int cifar_progress(void *ctx, uint64_t done, uint64_t total)
{
    cifar_fetch *f = ctx;
    return f->progress(f->ctx, f->file, done, total);
}

sb_status sb_cifar_download(const char *root, int classes, bool train, const char *mirrors,
                            const char *md5, sb_data_progress_fn progress, void *ctx)
{
    if (classes != 10 && classes != 100)
        return sb_fail(SB_EINVAL, "CIFAR: classes must be 10 or 100, got %d", classes);
    if (split_present(root, classes, train)) return SB_OK;
    const char *file = classes == 10 ? "cifar-10-binary.tar.gz" : "cifar-100-binary.tar.gz";
    if (!md5)
        md5 =
            classes == 10 ? "c32a1d4ab5d03f1284b67883e8d87530" : "03b5dce01913d631647c71ecec9e9cb8";
    if (!mirrors) mirrors = getenv("SBENGINE_CIFAR_MIRRORS");
    if (!mirrors || !*mirrors) mirrors = sb_cifar_default_mirrors;
    SB_TRY(sb_make_dirs(root));

    char archive[4096];
    snprintf(archive, sizeof archive, "%s/%s", root, file);
    char have[33] = "";
    if (sb_file_exists(archive) && sb_md5_file(archive, have) == SB_OK && strcmp(have, md5) == 0) {
        /* a verified archive from an earlier run: no network */
    } else {
        cifar_fetch f = {file, progress, ctx};
        sb_download_options opts = {
            .md5 = md5, .progress = progress ? cifar_progress : NULL, .progress_ctx = &f};
        sb_status s =
            sb_download_from_mirrors(mirrors, file, archive, &opts, "SBENGINE_CIFAR_MIRRORS");
        if (s == SB_EINVAL) return sb_fail_context(s, "CIFAR%d", classes);
        if (s != SB_OK) {
            char why[8192];
            snprintf(why, sizeof why, "%s", sb_error_message());
            return sb_fail(s,
                           "CIFAR%d: could not download %s; %s\nDownload it from "
                           "https://www.cs.toronto.edu/~kriz/cifar.html and extract it into "
                           "'%s', or set SBENGINE_CIFAR_MIRRORS to mirrors you can reach",
                           classes, file, why, root);
        }
    }
    int count = 0;
    const char *subdir = classes == 10 ? "cifar-10-batches-bin/" : "cifar-100-binary/";
    SB_TRY(sb_tar_extract(archive, root, subdir, SB_CIFAR_ARCHIVE_MAX, &count));
    if (!split_present(root, classes, train))
        return sb_fail(SB_EFORMAT, "CIFAR%d: %s has no %s files for the %s split", classes, archive,
                       subdir, train ? "train" : "test");
    return SB_OK;
}
