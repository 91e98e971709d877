/* CIFAR-10 and CIFAR-100 binary files (plain or gzip): the first byte picks the variant,
 * the rest is the test split's file. */
#include "data/dataset.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *dir = fuzz_scratch();
    int classes = data[0] & 1 ? 100 : 10;
    bool coarse = classes == 100 && (data[0] & 2);
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, classes == 10 ? "test_batch.bin" : "test.bin");
    fuzz_write(path, data + 1, size - 1);
    sb_dataset *ds = NULL;
    if (sb_cifar_open(dir, classes, false, coarse, &ds) == SB_OK) sb_dataset_release(ds);
    remove(path);
    return 0;
}
