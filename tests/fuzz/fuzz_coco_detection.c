/* sb.data.CocoDetection's reader (engine/data/coco_detection.c over eval/json_stream.c): any
 * bytes as an annotation file give a dataset or a clean error, and every image's annotations
 * then walk (parsed again from the kept text) without a crash, leak or UB. */
#include "data/coco_detection.h"
#include "fuzz_common.h"

static sb_status count_begin(void *ctx, bool array, size_t size)
{
    (void)array;
    *(size_t *)ctx += size;
    return SB_OK;
}

static sb_status count_end(void *ctx, bool array)
{
    (void)ctx, (void)array;
    return SB_OK;
}

static sb_status count_member(void *ctx, const char *key)
{
    (void)ctx, (void)key;
    return SB_OK;
}

static sb_status count_element(void *ctx, size_t index)
{
    (void)ctx, (void)index;
    return SB_OK;
}

static sb_status count_integer(void *ctx, int64_t v)
{
    (void)v;
    (*(size_t *)ctx)++;
    return SB_OK;
}

static sb_status count_real(void *ctx, double v)
{
    (void)v;
    (*(size_t *)ctx)++;
    return SB_OK;
}

static sb_status count_string(void *ctx, const char *s, size_t len)
{
    (void)s;
    *(size_t *)ctx += len;
    return SB_OK;
}

static sb_status count_boolean(void *ctx, bool v)
{
    (void)v;
    (*(size_t *)ctx)++;
    return SB_OK;
}

static sb_status count_null(void *ctx)
{
    (*(size_t *)ctx)++;
    return SB_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const sb_jstream_visitor counter = {count_begin,   count_end,     count_member,
                                               count_element, count_integer, count_real,
                                               count_string,  count_boolean, count_null};
    sb_dataset *ds = NULL;
    if (sb_coco_detection_parse("/nonexistent", (const char *)data, size, "fuzz.json", &ds) !=
        SB_OK)
        return 0;
    size_t total = 0;
    for (int64_t i = 0; i < ds->length; i++) {
        const char *name;
        size_t n;
        sb_coco_detection_image_id(ds, i, &name, &n);
        total += n;
        sb_coco_detection_annotations(ds, i, &counter, &total);
    }
    sb_dataset_release(ds);
    return 0;
}
