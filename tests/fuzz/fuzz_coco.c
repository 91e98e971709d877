/* The COCO annotation reader (engine/eval/coco.c over eval/json_stream.c) and the mask decoder
 * (eval/coco_mask.c): any bytes as an annotation file, read without and with its masks, give a
 * parsed ground truth or a clean error; the same bytes as a compressed RLE string of a 16 x 16
 * mask give a mask that encodes back to a string decoding to the same runs, or a clean error.
 * Never a crash, leak or UB. */
#include <stdlib.h>
#include <string.h>

#include "eval/coco.h"
#include "eval/coco_mask.h"
#include "fuzz_common.h"

static void rle_string(const uint8_t *data, size_t size)
{
    sb_rle r = {0}, back = {0};
    if (sb_rle_from_string((const char *)data, size, 16, 16, "fuzz", &r) != SB_OK) return;
    char *s = NULL;
    if (sb_rle_to_string(&r, &s) == SB_OK) {
        if (sb_rle_from_string(s, strlen(s), 16, 16, "fuzz", &back) != SB_OK || back.m != r.m ||
            (r.m && memcmp(back.cnts, r.cnts, r.m * sizeof *r.cnts) != 0))
            abort(); /* rleToString and rleFrString must be inverses */
        uint8_t mask[256];
        sb_rle_decode(&r, mask);
        double bb[4], iou = 0;
        sb_rle_to_bbox(&r, bb);
        uint8_t crowd = 1;
        if (sb_rle_iou(&r, 1, &back, 1, &crowd, &iou) == SB_OK && sb_rle_area(&r) > 0 && iou != 1)
            abort(); /* a mask against itself */
    }
    free(s);
    sb_rle_free(&r);
    sb_rle_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sb_coco_gt *gt = NULL;
    if (sb_coco_gt_parse((const char *)data, size, "fuzz.json", &gt) == SB_OK) sb_coco_gt_free(gt);
    gt = NULL;
    if (sb_coco_gt_parse_ex((const char *)data, size, "fuzz.json", true, &gt) == SB_OK)
        sb_coco_gt_free(gt);
    rle_string(data, size);
    return 0;
}
