#!/usr/bin/env bash
# benchmarks/imagenet.lua on the shared loop over the small official-layout archives of
# tests/fixtures/imagenet (tools/fixtures/imagenet.py): the val/ folder is made from them,
# the default transforms run in the workers, and a model with fixed scores gives known
# accuracies.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/store_json.sh"
src="$SBENGINE_SOURCE_DIR"
fx="$SBENGINE_FIXTURES/imagenet"

# A prepared layout (as torchvision leaves it), made from the fixture archives by sbengine.
mkdir -p inet
cp "$fx"/ILSVRC2012_devkit_t12.tar.gz "$fx"/ILSVRC2012_img_val.tar inet/
devkit_md5=$(awk '$1 == "devkit_md5" {print $2}' "$fx/expected.txt")
val_md5=$(awk '$1 == "val_md5" {print $2}' "$fx/expected.txt")
cat >prepare.lua <<LUA
sb.data.ImageNet{ root = "inet", devkit_md5 = "$devkit_md5", val_md5 = "$val_md5" }
LUA
run_sb prepare.lua
expect_exit 0

# 1000 scores per image, highest for class 0, then 1, 2, ...: the 7 images have labels
# 1, 0, 2, 1, 0, 0, 2 (in file order 0 0 0 1 1 2 2): top-1 right for the 3 of class 0.
cat >constant.lua <<'LUA'
local row = {}
for j = 1, 1000 do row[j] = 1000 - j end
local scores = sb.tensor({ row })
return function(x)
  assert(x:size(2) == 3 and x:size(3) == 224 and x:size(4) == 224, "expected [B, 3, 224, 224]")
  return sb.zeros(x:size(1), 1000) + scores
end
LUA

case_ "ImageNet: default transforms, top-1 3 of 7, top-5 7 of 7"
run_sb --data-root inet --out r.json --quiet "$src/benchmarks/imagenet.lua" --num-workers 2 \
    --batch-size 4 constant.lua
expect_exit 0
OUT=$(json r.json 'r.dataset_name, r.task, r.results["Top 1 Accuracy"], r.results["Top 5 Accuracy"], r.speed_mem_metrics.Tasks')
expect_out "ImageNet	Image Classification	0.42857142857143	1	7"

case_ "a missing ImageNet root says where the data goes"
run_sb --data-root nowhere --quiet "$src/benchmarks/imagenet.lua" constant.lua
expect_exit 1
expect_err "ImageNet.benchmark: cannot load the ImageNet dataset from data_root \"nowhere\""
expect_err "ILSVRC2012_devkit_t12.tar.gz"

finish
