/* The safetensors reader over a file image in memory (sb_safetensors_parse): header JSON,
 * dtypes, shapes, offsets and the tensors made from them. */
#include "fuzz_common.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sb_safetensors *st = NULL;
    if (sb_safetensors_parse(data, size, NULL, "fuzz.safetensors", &st) == SB_OK) {
        for (size_t i = 0; i < st->count; i++)
            if (!st->entries[i].name || !st->entries[i].tensor) abort();
    }
    sb_safetensors_free(st);
    return 0;
}
