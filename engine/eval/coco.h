/* COCO bounding-box and mask evaluation, equal to pycocotools' COCOeval (iouType "bbox" or
 * "segm", default Params): IoU as maskApi's bbIou or rleIou (engine/eval/coco_mask.h) (a crowd
 * box's union is the detection's own area), greedy matching per IoU threshold (0.50:0.05:0.95) in
 * score order, per category, per area range (all, small < 32², medium < 96², large), the 101-point
 * interpolated precision and the 12 summary numbers of COCOeval.summarize(), averaged as numpy
 * averages them (pairwise sums). docs/evaluators.md lists the edge cases the fixtures cover. */
#ifndef SB_EVAL_COCO_H
#define SB_EVAL_COCO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "eval/coco_mask.h"

/* Ground truth: the images, categories and annotations of an instances_*.json file. */
typedef struct sb_coco_gt sb_coco_gt;

/* One detection, as a line of a COCO results file (bbox = x, y, width, height). For masks
 * ("segm"), `mask` is its segmentation and `area` the area loadRes gives it (the mask's, or the
 * bbox's width * height when the results carry boxes: loadRes's bbox branch wins); bbox is
 * then unused. */
typedef struct sb_coco_det {
    int64_t image_id, category_id;
    double bbox[4];
    double score;
    const sb_rle *mask;
    double area;
} sb_coco_det;

#define SB_COCO_STATS 12
/* The summary numbers in COCOeval.stats order: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100,
 * ARs, ARm, ARl (-1 where COCOeval gives -1: no ground truth to score against). */
extern const char *const sb_coco_stat_names[SB_COCO_STATS];

/* Reads an annotation file (images, categories and annotations with bbox, area, iscrowd).
 * Memory: the file's bytes while parsing plus ~64 bytes per annotation after. */
sb_status sb_coco_gt_load(const char *path, sb_coco_gt **out);
sb_status sb_coco_gt_parse(const char *text, size_t len, const char *what, sb_coco_gt **out);
/* masks: also reads each annotation's "segmentation" (polygons, RLE or compressed RLE, as
 * COCO.annToRLE; the images need "height" and "width") for sb_coco_evaluate_segm. Memory: the
 * masks as compressed RLE strings (~1.3 bytes a run). */
sb_status sb_coco_gt_load_ex(const char *path, bool masks, sb_coco_gt **out);
sb_status sb_coco_gt_parse_ex(const char *text, size_t len, const char *what, bool masks,
                              sb_coco_gt **out);
bool sb_coco_gt_has_masks(const sb_coco_gt *gt);
void sb_coco_gt_free(sb_coco_gt *gt);

size_t sb_coco_gt_image_count(const sb_coco_gt *gt);
size_t sb_coco_gt_annotation_count(const sb_coco_gt *gt);
size_t sb_coco_gt_category_count(const sb_coco_gt *gt);
bool sb_coco_gt_has_image(const sb_coco_gt *gt, int64_t image_id);
bool sb_coco_gt_has_category(const sb_coco_gt *gt, int64_t category_id);

/* Reads a results file: a JSON array of {image_id, category_id, bbox, score}. *dets is
 * malloc()ed (the caller frees it). */
sb_status sb_coco_dets_load(const char *path, sb_coco_det **dets, size_t *count);
/* Reads a results file for masks: {image_id, category_id, segmentation = {size, counts}, score}
 * and optionally bbox. As loadRes: when the first detection has a non-empty bbox every
 * detection's area is its bbox's width * height, else its mask's area. *dets and their masks
 * are freed with sb_coco_dets_free. */
sb_status sb_coco_dets_load_segm(const char *path, sb_coco_det **dets, size_t *count);
void sb_coco_dets_free(sb_coco_det *dets, size_t count);

/* Evaluates `dets` against `gt` over the images `image_ids` (n_images of them, duplicates
 * allowed; NULL: every image of gt, as COCOeval's default). A detection of an image not in gt
 * is an error naming it (pycocotools' loadRes refuses it too); detections of images outside
 * the evaluated set and of categories gt does not list are left out, as COCOeval does. Within
 * an image, detections of equal score keep their order in `dets` (COCOeval's stable sorts). */
sb_status sb_coco_evaluate(const sb_coco_gt *gt, const int64_t *image_ids, size_t n_images,
                           const sb_coco_det *dets, size_t n_dets, double stats[SB_COCO_STATS]);
/* The same for masks (iouType "segm"): IoU as rleIou of the detections' masks and the ground
 * truths' (gt loaded with masks), area ranges by the annotations' "area" and the detections'
 * `area`. Every detection needs a mask. */
sb_status sb_coco_evaluate_segm(const sb_coco_gt *gt, const int64_t *image_ids, size_t n_images,
                                const sb_coco_det *dets, size_t n_dets,
                                double stats[SB_COCO_STATS]);

#endif
