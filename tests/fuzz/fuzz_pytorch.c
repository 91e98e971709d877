/* libFuzzer target: sb_pytorch_parse over arbitrary bytes (the zip reader, the legacy
 * layout, the restricted unpickler and the tensor checks). Built and run by
 * tests/fuzz/Makefile (docs/reliability.md); seeds in tests/fuzz/corpus/pytorch. */
#include <stddef.h>
#include <stdint.h>

#include "io/pytorch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sb_pytorch_state_dict *sd = NULL;
    if (sb_pytorch_parse(data, size, NULL, "fuzz", NULL, &sd) == SB_OK) sb_pytorch_free(sd);
    return 0;
}
