/* The CIFAR python version's reader: the restricted unpickler with numpy's globals
 * (engine/data/numpy_pickle.c): any bytes must give values or a clean error, and execute
 * nothing. */
#include "data/numpy_pickle.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sb_pickle *doc = sb_pickle_new();
    sb_pickle_value *root;
    if (doc && sb_numpy_unpickle(doc, "fuzz input", data, size, &root) == SB_OK)
        sb_numpy_array_of(sb_pickle_dict_get(root, "data"));
    sb_pickle_free(doc);
    return 0;
}
