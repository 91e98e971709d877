#!/usr/bin/env bash
# benchmarks/ade20k.lua and voc_segmentation.lua on the small trees of
# tests/fixtures/segmentation_tree (tools/fixtures/segmentation_tree.py): a threshold model
# (tests/cli/ade20k_model.lua) scored as the ADE20K scene-parsing code and torchvision's
# ConfusionMatrix score it (expected.json, from that code); then the same ADE20K predictions
# through sb.eval.ADE20K.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/store_json.sh"
src="$SBENGINE_SOURCE_DIR"
tree="$SBENGINE_FIXTURES/segmentation_tree"

# Prints "ok" when the last result of FILE has the reference's numbers: ADE20K's to 1e-12
# relative (the reference adds machine epsilon to each image's union); VOC's float32 accuracy
# equal and its mean IoU within a float32 ulp (torch's own summation order).
same_as_reference() {
    local which=${2:-ade20k}
    "$SBENGINE" -e "local cjson = require 'cjson'
        local function read(p) local f = assert(io.open(p)); local d = cjson.decode(f:read('a')); f:close(); return d end
        local a, want = read('$1'), read('$tree/expected.json')['$which']
        local r = a[#a]
        for _, k in ipairs { 'Mean IOU', 'Accuracy' } do
          local got = r.results[k]
          local tol = '$which' == 'ade20k' and 1e-12 * want[k] or k == 'Mean IOU' and 2^-23 * want[k] or 0
          assert(math.abs(got - want[k]) <= tol, ('%s: %.17g, the reference %.17g'):format(k, got, want[k]))
        end
        print('ok', r.dataset_name, r.task, type(r.speed_mem_metrics) == 'table' and r.speed_mem_metrics.Tasks or nil)"
}

case_ "ADE20K: a threshold model, Mean IOU and Accuracy as the scene-parsing code"
run_sb --data-root "$tree" --out r.json --quiet "$src/benchmarks/ade20k.lua" --num-workers 2 \
    "$src/tests/cli/ade20k_model.lua"
expect_exit 0
OUT=$(same_as_reference r.json 2>&1)
expect_out "ok	ADE20K val	Semantic Segmentation	3"

case_ "sb.eval.ADE20K over the same predictions"
cat >eval_ade.lua <<LUA
local ds = sb.data.ADE20K { root = "$tree",
  transform = sb.transforms.Compose { sb.transforms.ToTensor(),
    sb.transforms.Normalize({ 0.485, 0.456, 0.406 }, { 0.229, 0.224, 0.225 }) } }
local model = dofile("$src/tests/cli/ade20k_model.lua")
local ev = sb.eval.ADE20K { root = "$tree", model_name = "threshold" }
for i = 1, #ds do
  local x = ds:get(i)
  ev:add { [ds.ids[i]] = model(x:view(1, x:size(1), x:size(2), x:size(3)))[1] }
end
ev:save()
LUA
run_sb --out e.json --quiet eval_ade.lua
expect_exit 0
OUT=$(same_as_reference e.json 2>&1)
expect_out "ok	ADE20K val	Semantic Segmentation	nil"

case_ "PASCAL VOC: torchbench's defaults, Mean IOU and Accuracy as torchvision's ConfusionMatrix"
run_sb --data-root "$tree" --out v.json --quiet "$src/benchmarks/voc_segmentation.lua" \
    --batch-size 2 "$src/tests/cli/ade20k_model.lua"
expect_exit 0
OUT=$(same_as_reference v.json voc 2>&1)
expect_out "ok	PASCAL VOC 2012 val	Semantic Segmentation	3"

case_ "PASCAL VOC: torchvision's {out = scores} is taken by the default output transform"
echo 'return function(x) return { out = sb.zeros(x:size(1), 21, x:size(3), x:size(4)) } end' >tv.lua
run_sb --data-root "$tree" --out t.json --quiet "$src/benchmarks/voc_segmentation.lua" \
    --batch-size 3 tv.lua
expect_exit 0
OUT=$(json t.json 'r.results["Mean IOU"] > 0, r.speed_mem_metrics.Tasks')
expect_out "true	3"

case_ "a model that returns the wrong shape is told what is expected"
echo 'return function(x) return sb.zeros(x:size(1), 10) end' >bad.lua
run_sb --data-root "$tree" --quiet "$src/benchmarks/ade20k.lua" bad.lua
expect_exit 1
expect_err "expected scores (N, 150, H, W) or label maps (N, H, W)"

case_ "a missing ADE20K root says where the data goes"
run_sb --data-root nowhere --quiet "$src/benchmarks/ade20k.lua" "$src/tests/cli/ade20k_model.lua"
expect_exit 1
expect_err "ADEChallengeData2016.zip"

finish
