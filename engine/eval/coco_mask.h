/* COCO instance masks as run-length encodings, equal to pycocotools' maskApi.c (common/ of
 * cocoapi, Simplified BSD licence, Piotr Dollar and Tsung-Yi Lin): the same column-major runs
 * (first run counts zeros), the same polygon rasterisation (rleFrPoly), merge, area, bounding
 * box (rleToBbox), IoU with the crowd rule (rleIou) and the compressed string form (LEB128-like,
 * 6 bits a character, characters 48..111, each count after the second stored as the difference
 * to the one two before).
 *
 * Unlike maskApi, every input is checked: counts must sum to height * width, strings must be
 * well formed, polygons need an even number of finite coordinates. Errors are sb_fail()
 * messages that start with the caller's `what` (e.g. "instances.json: annotation 42"). */
#ifndef SB_EVAL_COCO_MASK_H
#define SB_EVAL_COCO_MASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "eval/json_stream.h"

typedef struct sb_rle {
    uint32_t h, w;
    size_t m;       /* number of runs */
    uint32_t *cnts; /* m run lengths, zeros first; malloc()ed by the functions below */
} sb_rle;

void sb_rle_free(sb_rle *r);

/* maskApi's rleEncode of one mask: `mask` is h * w bytes in column-major (Fortran) order,
 * nonzero = inside. */
sb_status sb_rle_encode(const uint8_t *mask, uint32_t h, uint32_t w, sb_rle *out);
/* rleDecode: writes h * w bytes (0 or 1), column-major. */
void sb_rle_decode(const sb_rle *r, uint8_t *mask);
/* rleMerge: union (or intersection) of n masks; masks of different sizes give an empty 0 x 0
 * RLE, as maskApi does. */
sb_status sb_rle_merge(const sb_rle *rs, size_t n, bool intersect, sb_rle *out);
/* rleArea: the number of pixels inside. */
uint32_t sb_rle_area(const sb_rle *r);
/* rleToBbox: x, y, width, height (all zero for an empty mask). */
void sb_rle_to_bbox(const sb_rle *r, double bb[4]);
/* bbIou of one box pair (x, y, w, h): a crowd box's union is the detection's own area. */
double sb_bb_iou(const double *D, const double *G, bool crowd);
/* rleIou: o[g * m + d] for m detections and n ground truths; a crowd ground truth's union is
 * the detection's own area; masks of different sizes give -1. */
sb_status sb_rle_iou(const sb_rle *dt, size_t m, const sb_rle *gt, size_t n, const uint8_t *iscrowd,
                     double *o);
/* rleFrPoly: k points (x0, y0, x1, y1, ...). */
sb_status sb_rle_from_poly(const double *xy, size_t k, uint32_t h, uint32_t w, const char *what,
                           sb_rle *out);
/* rleToString: a NUL-terminated malloc()ed string. */
sb_status sb_rle_to_string(const sb_rle *r, char **out);
/* rleFrString over `len` bytes of `s`, checked. */
sb_status sb_rle_from_string(const char *s, size_t len, uint32_t h, uint32_t w, const char *what,
                             sb_rle *out);
/* An uncompressed RLE: m counts that must sum to h * w. */
sb_status sb_rle_from_counts(const uint32_t *cnts, size_t m, uint32_t h, uint32_t w,
                             const char *what, sb_rle *out);

/* COCO.annToRLE of an annotation's "segmentation": a list of polygons (merged into one mask;
 * a first part of 4 numbers or fewer is an error, as in pycocotools), an uncompressed RLE {size =
 * [h, w], counts = [...]} or a compressed one {size, counts = "..."}. h and w are the image's size
 * (used by polygons; has_size false: no image size is known, polygons are an error). */
sb_status sb_coco_segm_from_json(const json_t *segm, bool has_size, uint32_t h, uint32_t w,
                                 const char *what, sb_rle *out);

#endif
