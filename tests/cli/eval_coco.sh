#!/usr/bin/env bash
# `sbengine eval coco`: a results file against an annotation file (the first case of
# tests/fixtures/eval/coco_bbox.json, whose numbers pycocotools computed), the store file,
# --submit's failure path, and the usage and input errors.
. "$(dirname "$0")/lib/assert.sh"

"$SBENGINE" -e '
  local cjson = require "cjson"
  local f = assert(io.open(os.getenv("SBENGINE_FIXTURES") .. "/eval/coco_bbox.json"))
  local case = cjson.decode(f:read("a"))[1]
  f:close()
  local g = assert(io.open("gt.json", "w")); g:write(case.gt); g:close()
  local d = assert(io.open("dets.json", "w")); d:write(cjson.encode(case.dets)); d:close()
  local e = assert(io.open("expected.txt", "w"))
  e:write(("%.3f\n%.17g\n"):format(case.stats[1], case.stats[1])); e:close()' || exit 1
AP3=$(sed -n 1p expected.txt)

case_ "eval coco prints COCOeval's summary and stores the result"
run_sb eval coco --annotations gt.json --predictions dets.json --model-name "My Detector" --out store.json
expect_exit 0
expect_out "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = $AP3"
expect_out "Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]"
expect_err "1 result stored in store.json"

case_ "the stored result has sotabench's COCO names and pycocotools' AP"
run_sb -e '
  local cjson = require "cjson"
  local r = cjson.decode(io.open("store.json"):read("a"))[1]
  print(r.dataset_name, r.task, r.model, ("%.17g"):format(r.results["box AP"]))'
expect_exit 0
expect_out "COCO minival	Object Detection	My Detector	$(sed -n 2p expected.txt)"

case_ "--submit that cannot reach the server: stored, exit 3"
SBENGINE_HTTP_RETRIES=0 run_sb eval coco --annotations gt.json --predictions dets.json --out store2.json --submit \
    --server http://127.0.0.1:9 --quiet
expect_exit 3
expect_no_out
expect_err "all of them are safe in store2.json"

case_ "a detection for an image the annotations do not have is an error naming it"
echo '[{"image_id": 5, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5}]' >bad.json
run_sb eval coco --annotations gt.json --predictions bad.json --out store3.json
expect_exit 1
expect_err "sbengine eval coco: sb.eval.COCO:add_results: image 5 is not in gt.json"

case_ "a malformed results file says where"
printf '[{"image_id": 5,\n' >broken.json
run_sb eval coco --annotations gt.json --predictions broken.json --out store3.json
expect_exit 1
expect_err "broken.json: line 2, column 1"

case_ "eval coco --iou-type segm: mask AP of the first case of coco_segm.json"
run_sb -e '
  local cjson = require "cjson"
  local f = assert(io.open(os.getenv("SBENGINE_FIXTURES") .. "/eval/coco_segm.json"))
  local case = cjson.decode(f:read("a")).cases[1]
  f:close()
  local g = assert(io.open("segm_gt.json", "w")); g:write(case.gt); g:close()
  local d = assert(io.open("segm_dets.json", "w")); d:write(cjson.encode(case.dets)); d:close()
  print(("%.17g"):format(case.stats[1]))'
expect_exit 0
MASK_AP=$OUT
case "$MASK_AP" in 0.[0-9]*) sb_ok ;; *) sb_fail "no mask AP in the fixture: '$MASK_AP'" ;; esac
run_sb eval coco --iou-type segm --annotations segm_gt.json --predictions segm_dets.json \
    --model-name "My Masks" --out store4.json
expect_exit 0
expect_err "1 result stored in store4.json"
run_sb -e '
  local cjson = require "cjson"
  local r = cjson.decode(io.open("store4.json"):read("a"))[1]
  print(r.task, ("%.17g"):format(r.results["mask AP"]))'
expect_exit 0
expect_out "Instance Segmentation	$MASK_AP"
run_sb eval coco --iou-type mask --annotations segm_gt.json --predictions segm_dets.json
expect_exit 2
expect_err "--iou-type must be bbox or segm, got mask"

case_ "usage errors exit 2"
run_sb eval coco --annotations gt.json
expect_exit 2
expect_err "coco needs --predictions FILE"
run_sb eval nope
expect_exit 2
expect_err "unknown evaluator 'nope' (known: coco, squad, wmt"
run_sb eval coco --annotations gt.json --predictions dets.json --bogus
expect_exit 2
expect_err "unknown option --bogus"

case_ "eval --help"
run_sb eval --help
expect_exit 0
expect_out "usage: sbengine eval coco --annotations FILE --predictions FILE"
finish
