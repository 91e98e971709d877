/* MNIST's IDX files, plain or gzip (bounded inflation included): the input is the images
 * file, a valid labels file of 2 digits sits next to it. */
#include "data/dataset.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char images[600], labels[600];
    const char *dir = fuzz_scratch();
    if (!labels[0]) {
        snprintf(labels, sizeof labels, "%s/t10k-labels-idx1-ubyte", dir);
        static const uint8_t two[] = {0, 0, 8, 1, 0, 0, 0, 2, 3, 7};
        fuzz_write(labels, two, sizeof two);
    }
    /* the .gz name when the input has the gzip magic, as a user's file would */
    bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    snprintf(images, sizeof images, "%s/t10k-images-idx3-ubyte", dir);
    remove(images);
    strcat(images, ".gz");
    remove(images);
    if (!gz) images[strlen(images) - 3] = '\0';
    fuzz_write(images, data, size);
    sb_dataset *ds = NULL;
    if (sb_mnist_open(dir, false, &ds) == SB_OK) sb_dataset_release(ds);
    return 0;
}
