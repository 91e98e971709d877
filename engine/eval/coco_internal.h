/* Internal to engine/eval/coco*.c: the parsed ground truth (coco.c reads it, coco_evaluate.c
 * scores detections against it) and COCOeval's fixed parameters. */
#ifndef SB_EVAL_COCO_INTERNAL_H
#define SB_EVAL_COCO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eval/coco.h"
#include "eval/json_stream.h"

enum { NTHR = 10, NREC = 101, NAREA = 4, NMAXDET = 3, MAXDET = 100 };

typedef struct gt_ann {
    int64_t id;
    double bbox[4];
    double area;
    uint32_t image; /* index into image_ids */
    uint32_t cat;   /* index into cat_ids */
    uint32_t order; /* position in the file, for stable grouping */
    uint8_t iscrowd;
    /* masks: the segmentation's RLE as its compressed string (pycocotools keeps them so too;
     * ~1.3 bytes a run instead of 4), rle_len bytes at rle_at of sb_coco_gt.rle_str */
    uint32_t rle_h, rle_w, rle_len;
    size_t rle_at;
} gt_ann;

/* masks: an image's size, and annotations whose image size was not yet known when read */
typedef struct image_size {
    int64_t id;
    uint32_t h, w;
} image_size;
typedef struct deferred_segm {
    size_t ann;
    json_t *segm;
} deferred_segm;

struct sb_coco_gt {
    int64_t *image_ids, *cat_ids; /* sorted, unique */
    size_t n_images, n_cats, n_anns;
    gt_ann *anns;        /* grouped by image, then category, file order within */
    size_t *image_start; /* n_images + 1 offsets into anns */
    /* while parsing */
    size_t cap_images, cap_cats, cap_anns, cap_ann_images, cap_ann_cats;
    int64_t *ann_image_ids, *ann_cat_ids;
    const char *what;
    /* masks (iouType "segm") */
    bool masks;
    char *rle_str;
    size_t n_str, cap_str;
    image_size *sizes; /* while parsing; sorted by id once annotations start */
    size_t n_sizes, cap_sizes;
    bool sizes_sorted;
    deferred_segm *deferred;
    size_t n_deferred, cap_deferred;
};

/* The position of `id` in the sorted v[0, n), or -1. */
long sb_coco_find_id(const int64_t *v, size_t n, int64_t id);

/* Makes room for `need` elements of `size` bytes in *p (capacity *cap), doubling. */
bool sb_coco_grow(void **p, size_t *cap, size_t need, size_t size);

#endif
