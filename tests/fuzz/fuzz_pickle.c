/* The restricted pickle reader (engine/data/pickle.c) behind CIFAR's python version: any
 * bytes must give values or a clean error, and executing nothing. */
#include "data/pickle.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sb_pickle doc;
    if (sb_pickle_load("fuzz input", data, size, &doc) == SB_OK) {
        sb_pv_dict_get(doc.root, "data");
        sb_pickle_free(&doc);
    }
    return 0;
}
