/* CocoDetection (torchvision.datasets.CocoDetection): the images of a COCO annotation file
 * (instances_val2017.json) under ROOT, with each image's annotations.
 *
 * Samples are the file's images sorted by id (pycocotools' sorted(coco.imgs.keys()); an id
 * listed twice keeps its last entry, as a dict does), decoded when read (get_sized): uint8
 * [H, W, 3] of ROOT/<file_name>, as PIL's convert("RGB"); the target is the image id (int64).
 *
 * The file is read with eval/json_stream.h: its text is kept and each annotation is
 * remembered by its bytes, so memory is the file's size plus a few words per image and
 * annotation. An image's annotations are parsed again when asked for (the order of the file,
 * as pycocotools' imgToAnns), and handed over through a visitor. */
#ifndef SB_DATA_COCO_DETECTION_H
#define SB_DATA_COCO_DETECTION_H

#include "data/dataset.h"
#include "eval/json_stream.h"

/* Reads `ann_file`; the images are found under `root` when read. */
sb_status sb_coco_detection_open(const char *root, const char *ann_file, sb_dataset **out);
/* The same over the file's text (copied); `what` names it in messages. */
sb_status sb_coco_detection_parse(const char *root, const char *text, size_t len, const char *what,
                                  sb_dataset **out);
bool sb_coco_detection_check(const sb_dataset *ds); /* is it a CocoDetection? */
/* The id of sample `index` (0-based) and its file name; how many annotations it has. */
int64_t sb_coco_detection_image_id(const sb_dataset *ds, int64_t index, const char **file_name,
                                   size_t *n_annotations);
/* Walks the annotations of sample `index` as one JSON array (in the file's order). */
sb_status sb_coco_detection_annotations(const sb_dataset *ds, int64_t index,
                                        const sb_jstream_visitor *v, void *ctx);

#endif
