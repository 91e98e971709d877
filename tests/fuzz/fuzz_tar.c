/* The tar extractor (plain or gzip archives, ustar and GNU long names, unsafe names
 * skipped) into a scratch folder that is emptied after each input. */
#include "data/dataset.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_scratch();
    char archive[600], out[600];
    snprintf(archive, sizeof archive, "%s/archive.tar", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    fuzz_write(archive, data, size);
    mkdir(out, 0700);
    int count = 0;
    sb_tar_extract(archive, out, "", (size_t)1 << 20, &count);
    fuzz_remove_tree(out);
    remove(archive);
    return 0;
}
