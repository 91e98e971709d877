#!/usr/bin/env bash
# benchmarks/stl10.lua and svhn.lua on the small files of tests/fixtures/vision_sets
# (tools/fixtures/vision_sets.py: STL10 labels 2 9 0, SVHN labels 0 1 5 0 9), with a model
# whose scores are the same for every image (class 0 first, then 1, 2, ...).
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/store_json.sh"
src="$SBENGINE_SOURCE_DIR"
fx="$SBENGINE_FIXTURES/vision_sets"

cat >constant.lua <<'LUA'
local side = tonumber(...)
local row = {}
for j = 1, 10 do row[j] = 10 - j end
local scores = sb.tensor({ row })
return function(x)
  assert(x:size(2) == 3 and x:size(3) == side, "unexpected input shape")
  return sb.zeros(x:size(1), 10) + scores
end
LUA

case_ "STL10: top-1 1 of 3 (label 0), top-5 2 of 3"
run_sb --data-root "$fx" --out s.json --quiet "$src/benchmarks/stl10.lua" --num-workers 2 constant.lua 96
expect_exit 0
OUT=$(json s.json 'r.dataset_name, r.results["Top 1 Accuracy"], r.results["Top 5 Accuracy"], r.speed_mem_metrics.Tasks')
expect_out "STL10	0.33333333333333	0.66666666666667	3"

case_ "SVHN: top-1 2 of 5 (label 0 twice), top-5 3 of 5"
run_sb --data-root "$fx" --out v.json --quiet "$src/benchmarks/svhn.lua" constant.lua 32
expect_exit 0
OUT=$(json v.json 'r.dataset_name, r.results["Top 1 Accuracy"], r.results["Top 5 Accuracy"], r.speed_mem_metrics.Tasks')
expect_out "SVHN	0.4	0.6	5"

case_ "SVHN without its file and without download says where it goes"
cat >no_svhn.lua <<'LUA'
require("sbengine.benchmarks.svhn").benchmark{ model = function(x) return x end, data_root = "nowhere", download = false }
LUA
run_sb no_svhn.lua
expect_exit 1
expect_err "SVHN: cannot open 'nowhere/test_32x32.mat'"

finish
