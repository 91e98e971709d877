#!/usr/bin/env bash
# benchmarks/coco.lua on the small COCO tree of tests/fixtures/coco_tree
# (tools/fixtures/coco_tree.py): a model with fixed detections (derived from the ground truth,
# jittered) gives the box AP that pycocotools computes on them (stats.lua) to 1e-12, in one
# process, in any batch size and sharded across MPI ranks; bad data says what to fix.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/store_json.sh"
src="$SBENGINE_SOURCE_DIR"
tree="$SBENGINE_FIXTURES/coco_tree"

cat >fixed.lua <<LUA
-- For each image, the detections the fixture wrote for an image of its size, as torchvision's
-- detection models return them (float32 boxes and scores, int64 labels).
local by_size = dofile("$tree/detections.lua")
return function(images)
  local out = {}
  for i, x in ipairs(images) do
    assert(x:dim() == 3 and x:size(1) == 3, "expected [3, H, W] images")
    local d = assert(by_size[("%dx%d"):format(x:size(2), x:size(3))], "an image of unknown size")
    local n = #d.scores
    out[i] = {
      boxes = n > 0 and sb.tensor(d.boxes, { dtype = "float32" }) or sb.zeros(0, 4),
      scores = n > 0 and sb.tensor(d.scores, { dtype = "float32" }) or sb.zeros(0),
      labels = n > 0 and sb.tensor(d.labels, { dtype = "int64" }) or sb.zeros(0, { dtype = "int64" }),
    }
  end
  return out
end
LUA

# The stored results against pycocotools' stats, to 1e-12; prints "ok" or what differs.
cat >check.lua <<LUA
local want = dofile("$tree/stats.lua")
local f = assert(io.open(arg[1]))
local all = require("cjson").decode(f:read("a"))
local r = all[#all]
local names = { "box AP", "AP50", "AP75", "APS", "APM", "APL" }
local bad = {}
for i, name in ipairs(names) do
  local got = r.results[name]
  if type(got) ~= "number" or math.abs(got - want[i]) > 1e-12 then
    bad[#bad + 1] = ("%s %s, pycocotools %.17g"):format(name, tostring(got), want[i])
  end
end
local ar = r.extra and r.extra.coco_detection or {}
for i, name in ipairs({ "AR1", "AR10", "AR100", "ARs", "ARm", "ARl" }) do
  if type(ar[name]) ~= "number" or math.abs(ar[name] - want[6 + i]) > 1e-12 then
    bad[#bad + 1] = ("%s %s, pycocotools %.17g"):format(name, tostring(ar[name]), want[6 + i])
  end
end
print(#bad == 0 and "ok" or table.concat(bad, "; "))
print(r.dataset_name, r.task, math.tointeger(r.speed_mem_metrics.Tasks), r.run_hash)
LUA

for bs in 1 2 4; do
    case_ "COCO: batch size $bs gives pycocotools' box AP"
    run_sb --data-root "$tree" --out r$bs.json --quiet "$src/benchmarks/coco.lua" --batch-size $bs \
        fixed.lua
    expect_exit 0
    run_sb check.lua r$bs.json
    expect_out "ok"
    expect_out "COCO minival	Object Detection	6	"
done

case_ "the run hash reads the first batch: batch size 1 and 2 differ, the same run repeats"
run_sb --data-root "$tree" --out again.json --quiet "$src/benchmarks/coco.lua" fixed.lua
h1=$(json r1.json 'r.run_hash'); h2=$(json r2.json 'r.run_hash'); again=$(json again.json 'r.run_hash')
if [ "$h1" = "$again" ] && [ "$h1" != "$h2" ]; then sb_ok; else sb_fail "run hashes $h1 $h2 $again"; fi

case_ "a model that returns a tensor is told the detection output it must give"
cat >scores.lua <<'LUA'
return function(images) return sb.zeros(#images, 91) end
LUA
run_sb --data-root "$tree" --quiet "$src/benchmarks/coco.lua" scores.lua
expect_exit 1
expect_err "COCO.benchmark: the model returned a tensor; expected a list with one prediction per image"
expect_err "{boxes = (N, 4) x1 y1 x2 y2 in the image's pixels, scores = (N), labels = (N) category ids}"

case_ "a missing COCO root says where the data goes"
run_sb --data-root nowhere --quiet "$src/benchmarks/coco.lua" fixed.lua
expect_exit 1
expect_err "COCO.benchmark: cannot load the COCO dataset from data_root \"nowhere\""
expect_err "annotations/instances_val2017.json"

case_ "an image file missing names the file and the image id"
mkdir -p broken/annotations broken/val2017
cp "$tree"/annotations/instances_val2017.json broken/annotations/
cp "$tree"/val2017/*.jpg broken/val2017/
rm broken/val2017/000000000139.jpg
run_sb --data-root broken --quiet "$src/benchmarks/coco.lua" fixed.lua
expect_exit 1
expect_err "image 139"
expect_err "000000000139.jpg"

. "$(dirname "$0")/lib/mpi.sh"
reference=$(json r2.json 'r.results["box AP"], r.results.AP50, r.results.APS, r.run_hash, r.speed_mem_metrics.Tasks')
for n in 2 3; do
    case_ "mpirun -n $n: the single process's box AP and run hash"
    run_mpi $n --threads 1 --data-root "$tree" --out m$n.json --quiet "$src/benchmarks/coco.lua" \
        --batch-size 2 fixed.lua
    expect_exit 0
    OUT=$(json m$n.json 'r.results["box AP"], r.results.AP50, r.results.APS, r.run_hash, r.speed_mem_metrics.Tasks')
    if [ "$OUT" = "$reference" ]; then sb_ok; else sb_fail "$OUT differs from one process's: $reference"; fi
done

finish
