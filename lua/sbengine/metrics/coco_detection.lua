-- coco_detection{annotations = PATH, images = "added"|"all"}: bounding-box AP and AR exactly as
-- pycocotools' COCOeval (iouType "bbox") computes them (engine/eval/coco.c; docs/evaluators.md).
--   add(output, target): output is a list with one prediction per image, either torchvision's
--     {boxes = (K, 4) x1 y1 x2 y2, scores = (K), labels = (K) category ids} or a COCO results
--     list {{bbox = {x, y, w, h}, score =, category_id =}, ...}; target is the list (or a 1-D
--     tensor) of their image ids, or of tables with an image_id (torchbench's targets).
--   value(): {AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl, stats = {12}};
--     -1 where COCOeval gives -1 (nothing to score against).
-- images = "added" (default) evaluates the images given to add, as torchvision's and
-- sotabench-eval's CocoEvaluator do; "all" every image of the annotation file (COCOeval's
-- default). The state is the detections and image ids ("cat"): shards of images merge exactly.
local coco = require "sbengine._coco"
local metrics = require "sbengine.metrics"

metrics.register("coco_detection", metrics.define(coco.meter("coco_detection", "bbox")))
