/* The strict JSON check of the store file (engine/core/json_validate.c): never crashes, and
 * whatever it accepts, appending an element to it keeps it valid (what store.lua does). */
#include "core/json_validate.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sb_json_shape shape;
    if (sb_json_validate((const char *)data, size, &shape) != SB_OK) return 0;
    if (shape.top != '[' || shape.members == 0) return 0;
    /* "[...old...]" -> "[...old..., 1]" as the store's textual append */
    size_t end = size;
    while (end > 0 && data[end - 1] != ']')
        end--;
    char *joined = malloc(end + 3);
    if (!joined) return 0;
    memcpy(joined, data, end - 1);
    memcpy(joined + end - 1, ",1]", 3);
    sb_json_shape after;
    if (sb_json_validate(joined, end + 2, &after) != SB_OK || after.members != shape.members + 1)
        abort();
    free(joined);
    return 0;
}
