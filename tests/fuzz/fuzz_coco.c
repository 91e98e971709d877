/* The COCO annotation reader (engine/eval/coco.c over eval/json_stream.c): any bytes as an
 * annotation file give a parsed ground truth or a clean error, never a crash, leak or UB. */
#include "eval/coco.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sb_coco_gt *gt = NULL;
    if (sb_coco_gt_parse((const char *)data, size, "fuzz.json", &gt) == SB_OK) sb_coco_gt_free(gt);
    return 0;
}
