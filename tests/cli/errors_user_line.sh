#!/usr/bin/env bash
# Errors at the user's line (issue 18, item 11): an error raised inside a layer, the nn
# library, a transform or a metric script starts with the user's line, names the part that
# failed (the module path inside the model, the transform, the metric), and the traceback
# still shows the library's frames.
. "$(dirname "$0")/lib/assert.sh"
unset SOTABENCH_STORE_FILENAME SOTABENCH_CHECK SOTABENCH_URL SBENGINE_METRICS_PATH
mkdir -p .data/vision && cp -r "$SBENGINE_FIXTURES/bench/mnist512" .data/vision/mnist
MNIST="$SBENGINE_SOURCE_DIR/benchmarks/mnist.lua"
first_line() { printf '%s\n' "$ERR" | head -n 1; }
expect_first() { # the first stderr line is exactly $1
    if [ "$(first_line)" = "$1" ]; then sb_ok; else sb_fail "first stderr line is not: $1"; fi
}

case_ "a model called by the user's script: the call's line, the layer, where it was built"
cat >direct.lua <<'LUA'
local model = sb.nn.Sequential(sb.nn.Flatten(), sb.nn.Linear(700, 10))
local x = sb.rand(2, 1, 28, 28)
print(model(x))
LUA
run_sb direct.lua
expect_exit 1
expect_first "sbengine: direct.lua:3: (layer 2) Linear, built at direct.lua:1: linear: input's last dimension must be in_features = 700 (weight [10, 700]), got input [2, 784]"
expect_err "stack traceback:"
expect_err_re "sbengine/nn/_layers.lua:[0-9]+: in "
expect_err "direct.lua:3: in main chunk"

case_ "a model run by a benchmark: the line of the model file that built the failing layer"
cat >model.lua <<'LUA'
local nn = sb.nn
return nn.Sequential(
  nn.Flatten(),
  nn.Linear(700, 10))
LUA
run_sb --no-store --quiet "$MNIST" model.lua
expect_exit 1
expect_first "sbengine: model.lua:4: (layer 2) Linear: linear: input's last dimension must be in_features = 700 (weight [10, 700]), got input [128, 784]"
expect_err_re "sbengine/bench.lua:[0-9]+: in "

case_ "a nested module: its dotted path (PyTorch's state_dict names), also inside a fused conv + relu"
cat >nested.lua <<'LUA'
local nn = sb.nn
local Net = nn.Module:extend("Net")
function Net:init()
  self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(3, 8, 3), nn.ReLU())
  self.fc = nn.Linear(8, 10)
end
function Net:forward(x)
  local y = self.features(x)
  return self.fc(y:mean(3):mean(3))
end
return Net()
LUA
run_sb --no-store --quiet "$MNIST" nested.lua
expect_exit 1
expect_first "sbengine: nested.lua:8: features.2 (Conv2d), built at nested.lua:4: conv2d: input has 4 channels but weight [8, 3, 3, 3] with groups = 1 expects 3 (input [128, 4, 26, 26])"

case_ "a forward the user wrote: its own line first"
cat >block.lua <<'LUA'
local nn = sb.nn
local Block = nn.Module:extend("Block")
function Block:init() self.fc = nn.Linear(784, 10) end
function Block:forward(x)
  local y = self.fc(x:view(x:size(1), -1))
  return y + sb.zeros(3, 3)
end
return nn.Sequential(nn.Identity(), Block())
LUA
run_sb --no-store --quiet "$MNIST" block.lua
expect_exit 1
expect_first "sbengine: block.lua:6: (layer 2) Block, built at block.lua:8: add: shapes [128, 10] and [3, 3] cannot be broadcast together (size 128 vs 3 at dim 2 from the end)"

case_ "a transform: the user's line and the step of the Compose"
cat >transform.lua <<'LUA'
local T = sb.transforms
local t = T.Compose { T.ToTensor(),
  function(x) return x:view(-1, 5) end }
local ds = sb.data.MNIST { root = "./.data/vision/mnist", train = false, transform = t }
for _, x in sb.data.DataLoader(ds, { batch_size = 4 }):iter() do print(x) end
LUA
run_sb transform.lua
expect_exit 1
expect_first "sbengine: DataLoader: MNIST: dataset index 1: transform.lua:3: (step 2 of the Compose) Lambda(), built at transform.lua:2: view: shape [-1, 5] is invalid for a tensor [1, 28, 28] of 784 elements"

case_ "a metric script: its line, the metric and its file"
mkdir -p mine
cat >mine/argmax3.lua <<'LUA'
local metrics = require "sbengine.metrics"
metrics.register("argmax3", metrics.define {
  name = "argmax3", state = { n = "sum" },
  init = function() return { n = 0 } end,
  update = function(s, output)
    s.n = s.n + output:argmax(3):sum():item()
  end,
  compute = function(s) return s.n end,
})
LUA
cat >bench3.lua <<'LUA'
local sb = require "sbengine"
local B = sb.bench.define { name = "M3", task = "Image Classification", num_classes = 10,
  dataset = function(o) return sb.data.MNIST { root = o.data_root, train = false,
    transform = sb.transforms.ToTensor() } end,
  defaults = { data_root = "./.data/vision/mnist", batch_size = 64, num_workers = 0 },
  metrics = { "topk_accuracy", "argmax3" } }
B.benchmark { model = sb.nn.Sequential(sb.nn.Flatten(), sb.nn.Linear(784, 10)) }
LUA
run_sb --no-store --quiet --metrics mine bench3.lua
expect_exit 1
expect_first "sbengine: mine/argmax3.lua:6: metric 'argmax3' (mine/argmax3.lua): argmax: dim 3 is out of range for a 2-D tensor [64, 10] (expected 1..2 or -2..-1)"

case_ "an error outside any model, transform or metric is left as it is"
run_sb -e 'local t = sb.zeros(2) + sb.zeros(3)'
expect_exit 1
expect_first "sbengine: (command line):1: add: shapes [2] and [3] cannot be broadcast together (size 2 vs 3 at dim 1 from the end)"

finish
