-- coco_segmentation{annotations = PATH, images = "added"|"all"}: mask AP and AR exactly as
-- pycocotools' COCOeval (iouType "segm") computes them (engine/eval/coco.c, coco_mask.c;
-- docs/evaluators.md). The annotations' segmentations are polygons or RLE, read as
-- COCO.annToRLE reads them.
--   add(output, target): output is a list with one prediction per image, a COCO results list
--     {{segmentation = {size = {h, w}, counts = "..." or {...}}, score =, category_id =,
--     bbox = optional}, ...}; target is the list (or a 1-D tensor) of their image ids. A
--     detection that carries a bbox is placed in the area ranges by the bbox's area, as loadRes
--     does when results have boxes, else by its mask's area.
--   value(): as coco_detection's, {AP, AP50, ..., ARl, stats = {12}}.
-- The state is the detections, their masks and the image ids ("cat"): shards merge exactly.
local coco = require "sbengine._coco"
local metrics = require "sbengine.metrics"

metrics.register("coco_segmentation", metrics.define(coco.meter("coco_segmentation", "segm")))
