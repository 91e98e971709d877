#!/usr/bin/env bash
# benchmarks/cifar10.lua and cifar100.lua on the shared loop, over small test files in the
# binary CIFAR format written here (20 images each), with a model whose scores are the
# same for every image: class 0 first, then 1, 2, ... so the accuracies are known.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/store_json.sh"
src="$SBENGINE_SOURCE_DIR"

cat >make_cifar.lua <<'LUA'
-- CIFAR-10 records: 1 label byte + 3072 pixel bytes; CIFAR-100: coarse, fine, 3072 bytes.
local function write(path, record)
  local f = assert(io.open(path, "wb"))
  for i = 0, 19 do f:write(record(i), string.rep(string.char(i * 12), 3072)) end
  f:close()
end
os.execute("mkdir -p c10/cifar-10-batches-bin c100/cifar-100-binary")
write("c10/cifar-10-batches-bin/test_batch.bin", function(i) return string.char(i % 10) end)
write("c100/cifar-100-binary/test.bin", function(i) return string.char(i % 20, i * 5 % 100) end)
LUA
lua5.4 make_cifar.lua

# The same scores for every image, highest for class 0: top-1 is right for label 0 only,
# top-5 for labels 0..4.
cat >constant.lua <<'LUA'
local classes = tonumber(...)
local row = {}
for j = 1, classes do row[j] = classes - j end
local scores = sb.tensor({ row })
return function(x) return sb.zeros(x:size(1), classes) + scores end
LUA

case_ "CIFAR-10: labels i % 10, so 2 of 20 right at top-1 and 10 of 20 at top-5"
run_sb --data-root c10 --out r10.json --quiet "$src/benchmarks/cifar10.lua" --num-workers 0 \
    --batch-size 8 constant.lua 10
expect_exit 0
OUT=$(json r10.json 'r.dataset_name, r.task, r.results["Top 1 Accuracy"], r.results["Top 5 Accuracy"], r.speed_mem_metrics.Tasks')
expect_out "CIFAR10	Image Classification	0.1	0.5	20"

case_ "CIFAR-100: fine labels i * 5 % 100, so only label 0 is right at top-1 and top-5"
run_sb --data-root c100 --out r100.json --quiet "$src/benchmarks/cifar100.lua" constant.lua 100
expect_exit 0
OUT=$(json r100.json 'r.dataset_name, r.results["Top 1 Accuracy"], r.results["Top 5 Accuracy"], r.speed_mem_metrics.Tasks')
expect_out "CIFAR100	0.05	0.05	20"

case_ "a CIFAR-10 model with 100 outputs is told it has the wrong width"
run_sb --data-root c10 --quiet "$src/benchmarks/cifar10.lua" constant.lua 100
expect_exit 1
expect_err "the model returned 100 scores per input (shape [20, 100]) but the dataset has 10 classes"

case_ "a missing CIFAR-10 root with download = false"
cat >no_cifar.lua <<'LUA'
local CIFAR10 = require "sbengine.benchmarks.cifar10"
CIFAR10.benchmark{ model = function(x) return x end, data_root = "nowhere", download = false }
LUA
run_sb no_cifar.lua
expect_exit 1
expect_err "CIFAR10.benchmark: cannot load the CIFAR10 dataset from data_root \"nowhere\""
expect_err "To fix it: point data_root (or --data-root DIR) at the folder that holds cifar-10-batches-bin/"

finish
