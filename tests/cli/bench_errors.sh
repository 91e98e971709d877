#!/usr/bin/env bash
# Bad input to a benchmark: each gets a message that says what to do (and exit 1; 2 for
# command-line usage).
. "$(dirname "$0")/lib/assert.sh"
src="$SBENGINE_SOURCE_DIR"
data="$SBENGINE_FIXTURES/bench/mnist512"
lenet5="$src/examples/models/lenet5.lua"

case_ "a model that returns the wrong shape"
cat >wrong_shape.lua <<LUA
local lenet5 = dofile("$lenet5")
return function(x) return lenet5(x):view(-1, 2, 5) end
LUA
run_sb --data-root "$data" "$src/benchmarks/mnist.lua" wrong_shape.lua
expect_exit 1
expect_err "MNIST.benchmark: the model returned a tensor of shape [128, 2, 5]; expected 2 dimensions (batch_size, 10)"
expect_err "model_output_transform = function(output, target)"

case_ "a model with the wrong number of classes"
cat >wrong_width.lua <<LUA
local lenet5 = dofile("$lenet5")
return function(x) return lenet5(x):narrow(2, 1, 9) end
LUA
run_sb --data-root "$data" "$src/benchmarks/mnist.lua" wrong_width.lua
expect_exit 1
expect_err "the model returned 9 scores per input (shape [128, 9]) but the dataset has 10 classes"

case_ "a missing data root with download = false"
cat >no_data.lua <<LUA
local MNIST = require "sbengine.benchmarks.mnist"
MNIST.benchmark{ model = dofile("$lenet5"), data_root = "./no/such/root", download = false }
LUA
run_sb no_data.lua
expect_exit 1
expect_err "MNIST.benchmark: cannot load the MNIST dataset from data_root \"./no/such/root\""
expect_err "To fix it: point data_root (or --data-root DIR) at the folder that holds MNIST/raw/"
expect_err "sbengine fetch mnist"

case_ "weights for another architecture"
cat >other_arch.lua <<LUA
local model = sb.nn.Sequential(sb.nn.Flatten(), sb.nn.Linear(784, 10))
model:load_state_dict("$src/examples/models/lenet5_mnist.safetensors")
LUA
run_sb other_arch.lua
expect_exit 1
expect_err "load_state_dict"
expect_err "unexpected"
expect_err "build the same architecture (its state_dict keys and shapes must match), or pass {strict = false}"

case_ "an unknown metric name"
run_sb --data-root "$data" "$src/examples/metrics/mnist_calibration.lua" "$lenet5"
expect_exit 1
expect_err "MNIST.benchmark: metric 2 ('expected_calibration_error')"
expect_err "load it with --metrics DIR or SBENGINE_METRICS_PATH"

case_ "a mistyped option in benchmark{...}"
cat >typo.lua <<LUA
local MNIST = require "sbengine.benchmarks.mnist"
MNIST.benchmark{ model = dofile("$lenet5"), batchsize = 64 }
LUA
run_sb --data-root "$data" typo.lua
expect_exit 1
expect_err "MNIST.benchmark: unknown option 'batchsize' (did you mean 'batch_size'?)"

case_ "an option of the wrong type"
cat >bad_type.lua <<LUA
local MNIST = require "sbengine.benchmarks.mnist"
MNIST.benchmark{ model = dofile("$lenet5"), batch_size = "64" }
LUA
run_sb --data-root "$data" bad_type.lua
expect_exit 1
expect_err "MNIST.benchmark: option 'batch_size' must be a whole number >= 1, got \"64\""

case_ "a model file that returns nothing"
echo 'local m = 1' >nothing.lua
run_sb --data-root "$data" "$src/benchmarks/mnist.lua" nothing.lua
expect_exit 1
expect_err "nothing.lua returned nothing; it must end with \`return model\`"

case_ "an unknown benchmark option on the command line"
run_sb "$src/benchmarks/mnist.lua" --batch 5 "$lenet5"
expect_exit 2
expect_err "unknown option '--batch'"

case_ "cuda asked for where there is no GPU"
if "$SBENGINE" -e 'os.exit(sb.cuda.available() and 0 or 1)' 2>/dev/null; then
    echo "SKIP [$sb_current] a GPU is visible"
else
    run_sb --device cuda --data-root "$data" "$src/benchmarks/mnist.lua" "$lenet5"
    expect_exit 1
    expect_err "device \"cuda\" was asked for but CUDA is not usable: "
    expect_err "; use device = \"cpu\""
fi

finish
