#!/usr/bin/env bash
# The benchmark loop's advice (issue 18, items 14 and 15): a model whose output has the wrong
# shape only gets fixes that can work (no `view` that cannot turn 9 columns into 10); a model
# whose outputs look like probabilities over the batch (softmax over dimension 1, PyTorch's
# dim=0) gets one warning.
. "$(dirname "$0")/lib/assert.sh"
unset SOTABENCH_STORE_FILENAME SOTABENCH_CHECK SOTABENCH_URL
mkdir -p .data/vision && cp -r "$SBENGINE_FIXTURES/bench/mnist512" .data/vision/mnist
MNIST="$SBENGINE_SOURCE_DIR/benchmarks/mnist.lua"
model() { printf 'return function(x) %s end\n' "$1" >model.lua; }
bench() { run_sb --quiet --no-store "$MNIST" --batch-size 128 model.lua; }
expect_no_err() { if printf '%s' "$ERR" | grep -qF -- "$1"; then sb_fail "stderr has '$1'"; else sb_ok; fi; }

case_ "9 scores for 10 classes: retrain the last layer; no view, no reshape, no narrow"
model 'return sb.zeros(x:size(1), 9)'
bench
expect_exit 1
expect_err "the model returned 9 scores per input (shape [128, 9]) but the dataset has 10 classes"
expect_err "make the model's last layer give 10 scores per input (for example sb.nn.Linear(in_features, 10)"
expect_no_err ":view("
expect_no_err ":reshape("
expect_no_err ":narrow("

case_ "11 scores for 10 classes: also the background column that can be dropped"
model 'return sb.zeros(x:size(1), 11)'
bench
expect_exit 1
expect_err "the model's last layer give 10 scores per input"
expect_err "return output:narrow(2, 2, 10) end"

case_ "[N, 2, 5]: 10 scores per input in the wrong shape: the reshape that works"
model 'return sb.zeros(x:size(1), 2, 5)'
bench
expect_exit 1
expect_err "expected 2 dimensions (batch_size, 10)"
expect_err "model_output_transform = function(output, target) return output:reshape(output:size(1), -1) end"

case_ "[N, 3, 3]: 9 values per input cannot be reshaped into 10 scores"
model 'return sb.zeros(x:size(1), 3, 3)'
bench
expect_exit 1
expect_err "expected 2 dimensions (batch_size, 10)"
expect_err "the model's last layer give 10 scores per input"
expect_no_err ":reshape("

case_ "[N]: class ids (argmax) instead of scores"
model 'return sb.zeros(x:size(1))'
bench
expect_exit 1
expect_err "return the scores of every class, not one value per input (class ids from argmax"
expect_no_err "model_output_transform"

case_ "[10, N]: a transposed output gets t()"
model 'return sb.zeros(10, x:size(1))'
bench
expect_exit 1
expect_err "the model returned 10 rows for a batch of 128 inputs"
expect_err "return output:t() end"

case_ "[N, 10] rows of a batch that is not N: no transposition suggested"
model 'return sb.zeros(5, 10)'
bench
expect_exit 1
expect_err "the model returned 5 rows for a batch of 128 inputs"
expect_no_err "output:t()"

case_ "a table holding the scores: pick them out"
model 'return { logits = sb.zeros(x:size(1), 10) }'
bench
expect_exit 1
expect_err "return output.logits end"

cat >softmax.lua <<'LUA'
local dim = tonumber((...)) or 1
local net = sb.nn.Sequential(sb.nn.Flatten(), sb.nn.Linear(784, 10))
return function(x) return sb.nn.functional.softmax(net(x), dim) end
LUA

case_ "softmax over dimension 1 (PyTorch's dim=0): one warning naming the fix"
run_sb --quiet --no-store "$MNIST" --batch-size 128 softmax.lua 1
expect_exit 0
expect_err "sbengine: warning: MNIST.benchmark: the model's outputs look like probabilities over the batch, not over the classes: each column of the first batch's [128, 10] output sums to 1"
expect_err "write softmax(x, 2) (or -1) where PyTorch code says softmax(x, dim=1)"
n=$(printf '%s\n' "$ERR" | grep -c "probabilities over the batch")
if [ "$n" -eq 1 ]; then sb_ok; else sb_fail "warned $n times, not once (4 batches)"; fi

case_ "softmax over the classes: no warning"
run_sb --quiet --no-store "$MNIST" --batch-size 128 softmax.lua 2
expect_exit 0
expect_no_err "probabilities over the batch"

case_ "raw scores: no warning"
run_sb --quiet --no-store "$MNIST" "$SBENGINE_SOURCE_DIR/examples/models/lenet5.lua"
expect_exit 0
expect_no_err "warning"

finish
