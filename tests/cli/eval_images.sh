#!/usr/bin/env bash
# sbengine eval ade20k and sbengine eval imagenet: predictions from files, scored as the
# references do (tests/fixtures/segmentation_tree/expected.json, from the ADE20K scene-parsing
# code; tests/fixtures/eval/imagenet_eval.json, from sotabench-eval's ImageNetEvaluator).
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/store_json.sh"
src="$SBENGINE_SOURCE_DIR"
tree="$SBENGINE_FIXTURES/segmentation_tree"

# The threshold model's label maps as PNG files, the scene-parsing benchmark's submission form.
cat >predict.lua <<LUA
local ds = sb.data.ADE20K { root = "$tree",
  transform = sb.transforms.Compose { sb.transforms.ToTensor(),
    sb.transforms.Normalize({ 0.485, 0.456, 0.406 }, { 0.229, 0.224, 0.225 }) } }
local model = dofile("$src/tests/cli/ade20k_model.lua")
os.execute("mkdir -p preds")
for i = 1, #ds do
  local x = ds:get(i)
  local map = model(x:view(1, x:size(1), x:size(2), x:size(3)))[1]
  sb.image.save_png("preds/" .. ds.ids[i] .. ".png", map:to("uint8"))
end
LUA
run_sb --no-store predict.lua
expect_exit 0

case_ "eval ade20k: PNG label maps against the annotations"
run_sb eval ade20k --root "$tree" --predictions preds --model-name threshold --out a.json
expect_exit 0
expect_out "Mean IoU over 150 classes: 0.0256"
expect_out "images: 3"
OUT=$(json a.json 'r.dataset_name, r.task, r.model, string.format("%.15f %.15f", r.results["Mean IOU"], r.results.Accuracy)')
want=$("$SBENGINE" -e "local f = assert(io.open('$tree/expected.json'))
  local e = require('cjson').decode(f:read('a')).ade20k
  print(string.format('%.15f %.15f', e['Mean IOU'], e.Accuracy))")
expect_out "ADE20K val	Semantic Segmentation	threshold	$want"

case_ "eval ade20k: a prediction of an unknown image is an error naming it"
cp preds/ADE_val_00000001.png preds/ADE_val_00000009.png
run_sb eval ade20k --root "$tree" --predictions preds --out a.json
expect_exit 1
expect_err "image ADE_val_00000009 is not in"

case_ "eval ade20k needs --root"
run_sb eval ade20k --predictions preds
expect_exit 2
expect_err "ade20k needs --root DIR"

case_ "eval imagenet: top-1 and top-5 as sotabench-eval"
"$SBENGINE" -e "local cjson = require 'cjson'
  local f = assert(io.open('$SBENGINE_FIXTURES/eval/imagenet_eval.json'))
  local c = cjson.decode(f:read('a')).cases[1]
  f:close()
  local function write(p, t) local g = assert(io.open(p, 'w')); g:write(cjson.encode(t)); g:close() end
  write('targets.json', c.targets)
  write('scores.json', c.scores)
  print(c.results['Top 1 Accuracy'], c.results['Top 5 Accuracy'])" >want.txt
run_sb eval imagenet --targets targets.json --predictions scores.json --out i.json
expect_exit 0
expect_out "Top 1 Accuracy 0.25000"
OUT=$(json i.json 'r.dataset_name, r.task, r.model, r.results["Top 1 Accuracy"], r.results["Top 5 Accuracy"]')
expect_out "ImageNet	Image Classification	scores	$(cat want.txt)"

finish
