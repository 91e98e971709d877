#!/usr/bin/env bash
# Metric scripts from --metrics DIR and SBENGINE_METRICS_PATH, and the example of
# docs/metrics.md (which must show examples/metrics/max_abs_error.lua unchanged).
. "$(dirname "$0")/lib/assert.sh"
SRC="$SBENGINE_SOURCE_DIR"
unset SBENGINE_METRICS_PATH

case_ "docs/metrics.md shows examples/metrics/max_abs_error.lua unchanged"
awk '/<!-- example: examples\/metrics\/max_abs_error.lua -->/ {grab=1; next}
     grab && /^```lua/ {inside=1; next}
     inside && /^```/ {exit}
     inside {print}' "$SRC/docs/metrics.md" >from_docs.lua
if cmp -s from_docs.lua "$SRC/examples/metrics/max_abs_error.lua"; then sb_ok; else sb_fail "docs and example differ"; fi

cat >use.lua <<'LUA'
local m = sb.metrics.create("max_abs_error")
m:add(sb.tensor{1, 2, 3}, sb.tensor{1, 2.5, 0})
local other = sb.metrics.create("max_abs_error")
other:add(sb.tensor{10}, sb.tensor{0})
print(m:value(), m:merge(other):value())
LUA

case_ "--metrics DIR loads the example"
run_sb --metrics "$SRC/examples/metrics" use.lua
expect_exit 0
expect_out "3.0	10.0"

case_ "SBENGINE_METRICS_PATH loads it too"
mkdir -p empty
SBENGINE_METRICS_PATH="$SB_TMP/empty:$SRC/examples/metrics" run_sb use.lua
expect_exit 0
expect_out "3.0	10.0"

case_ "without it the metric is unknown, and the message lists the known ones"
run_sb use.lua
expect_exit 1
expect_err "unknown metric 'max_abs_error' (known: balanced_accuracy, bleu, coco_detection, coco_segmentation, confusion_matrix"

case_ "a metric script that fails names itself"
mkdir -p broken
echo 'error("no good")' >broken/bad.lua
run_sb --metrics broken -e 'sb.metrics.list()'
expect_exit 1
expect_err "metric script broken/bad.lua failed"
expect_err "no good"

case_ "a --metrics folder that does not exist is a usage error before anything runs"
run_sb --metrics nowhere -e 'print("ran")'
expect_exit 2
expect_err "--metrics nowhere: no such folder"
expect_no_out
echo 'x' >afile
run_sb --metrics afile -e 'print("ran")'
expect_exit 2
expect_err "--metrics afile: no such folder"

case_ "SBENGINE_METRICS_PATH naming a missing folder is an error naming it"
SBENGINE_METRICS_PATH=nowhere run_sb -e 'sb.metrics.list()'
expect_exit 1
expect_err "cannot list folder 'nowhere'"

case_ "registering a shipped name again names both files"
mkdir -p dup
printf 'local m = require "sbengine.metrics"\nm.register("mse", {new = function() end})\n' >dup/mse2.lua
run_sb --metrics dup -e 'sb.metrics.list()'
expect_exit 1
expect_err_re "metric 'mse' is registered twice: first by [^ ]*lua/sbengine/metrics/mse.lua, again by dup/mse2.lua"

case_ "registering a name twice from code names both lines"
cat >twice.lua <<'LUA'
local m = require "sbengine.metrics"
m.register("mine", { new = function() end })
m.register("mine", { new = function() end })
LUA
run_sb twice.lua
expect_exit 1
expect_err "metric 'mine' is registered twice: first by twice.lua:2, again by twice.lua:3"

# A benchmark with two metrics, the second one from a --metrics script (bench errors must
# name the metric that failed, and suggest --metrics only when a metric is missing).
mkdir -p data/vision && cp -r "$SBENGINE_FIXTURES/bench/mnist512" data/vision/mnist
cat >two_metrics.lua <<'LUA'
local sb = require "sbengine"
local T = sb.transforms
local B = sb.bench.define { name = "Two", task = "Image Classification", num_classes = 10,
  dataset = function(o) return sb.data.MNIST { root = o.data_root, train = false,
    transform = o.input_transform } end,
  defaults = { data_root = "data/vision/mnist", batch_size = 256, num_workers = 0,
    input_transform = T.ToTensor() },
  metrics = { "topk_accuracy", { arg[1] or "ones", arg[2] and { bad = true } or nil } } }
local model = sb.nn.Sequential(sb.nn.Flatten(), sb.nn.Linear(784, 10))
print(B.benchmark { model = model })
LUA
mkdir -p good
cat >good/ones.lua <<'LUA'
local metrics = require "sbengine.metrics"
metrics.register("ones", metrics.define {
  name = "ones", state = { n = "sum" },
  setup = function(opts)
    if opts.bad then error("ones: unknown option 'bad'", 0) end
  end,
  init = function() return { n = 0 } end,
  update = function(s, output) s.n = s.n + output:size(1) end,
  compute = function(s) return s.n end,
})
LUA

case_ "a metric script with a syntax error: named, not blamed on the first metric, no --metrics advice"
mkdir -p syntax && printf 'local x = = 1\n' >syntax/oops.lua
run_sb --no-store --metrics good --metrics syntax two_metrics.lua
expect_exit 1
expect_err "Two.benchmark: the metric scripts could not be loaded: metric script syntax/oops.lua:1:"
if printf '%s' "$ERR" | grep -q -- "--metrics DIR\|metric 1 ('topk_accuracy')"; then
    sb_fail "blamed the first metric or suggested --metrics"; else sb_ok; fi

case_ "a metric whose options are wrong is the one named, with its script"
run_sb --no-store --metrics good two_metrics.lua ones bad
expect_exit 1
expect_err "Two.benchmark: metric 2 ('ones', from good/ones.lua): ones: unknown option 'bad'"
if printf '%s' "$ERR" | grep -q -- "--metrics DIR"; then sb_fail "suggested --metrics"; else sb_ok; fi

case_ "a metric that is not registered suggests --metrics, and the closest name"
run_sb --no-store --metrics good two_metrics.lua onez
expect_exit 1
expect_err "Two.benchmark: metric 2 ('onez') is not registered (did you mean 'ones'?)"
expect_err "load it with --metrics DIR"

case_ "the metrics load: the benchmark runs"
run_sb --no-store --metrics good two_metrics.lua
expect_exit 0
expect_out "ones"

finish
