#!/usr/bin/env bash
# The MNIST benchmark end to end with the real LeNet-5 weights on the first 512 MNIST test
# images (tests/fixtures/bench/mnist512, written by tools/fixtures/bench_mnist_subset.py
# together with PyTorch's counts on them): the same correct answers as PyTorch, the store
# file, the benchmark file as the main script, check mode, a custom metric.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/store_json.sh"
src="$SBENGINE_SOURCE_DIR"
data="$SBENGINE_FIXTURES/bench/mnist512"
lenet5="$src/examples/models/lenet5.lua"
reference() { awk -v k="$1" '$1 == k { print $2 }' "$data/pytorch_lenet5.txt"; }

case_ "the benchmark file without a model prints its usage"
run_sb "$src/benchmarks/mnist.lua"
expect_exit 2
expect_err "usage: sbengine [ENGINE OPTIONS] $src/benchmarks/mnist.lua [OPTIONS] MODEL.lua"
expect_err "--batch-size N"

case_ "a model file that is not there is a usage error naming it"
run_sb "$src/benchmarks/mnist.lua" --batch-size 64 no_such_model.lua
expect_exit 2
expect_err "cannot open the model file: no_such_model.lua: No such file or directory"
expect_err "--help says more"

case_ "a typo'd option is a usage error that lists the options"
run_sb "$src/benchmarks/mnist.lua" --batchsize 64 "$lenet5"
expect_exit 2
expect_err "unknown option '--batchsize'"
expect_err "--batch-size N"

case_ "a model file that returns no model says what it must return"
echo 'return 42' >number_model.lua
run_sb "$src/benchmarks/mnist.lua" number_model.lua
expect_exit 1
expect_err "number_model.lua returned a number; it must end with \`return model\`"

case_ "a typo'd --device is a usage error before anything runs"
run_sb --device gpu "$src/benchmarks/mnist.lua" "$lenet5"
expect_exit 2
expect_err "--device must be cpu, cuda or cuda:N, got 'gpu'"

case_ "--help prints the usage on stdout"
run_sb "$src/benchmarks/mnist.lua" --help
expect_exit 0
expect_out "Evaluates the model that MODEL.lua returns"

case_ "sbengine benchmarks/mnist.lua MODEL.lua: PyTorch's correct count, stored"
run_sb --data-root "$data" --out r.json --quiet "$src/benchmarks/mnist.lua" "$lenet5"
expect_exit 0
expect_out "Top 1 Accuracy"
expect_err "1 result stored in r.json"
OUT=$(json r.json 'math.floor(r.results["Top 1 Accuracy"] * 512 + 0.5), math.floor(r.results["Top 5 Accuracy"] * 512 + 0.5)')
expect_out "$(reference top1_correct)	$(reference top5_correct)"
OUT=$(json r.json 'r.model, r.dataset_name, r.task, r.speed_mem_metrics.Tasks, #r.run_hash')
expect_out "lenet5	MNIST	Image Classification	512	64"
OUT=$(json r.json 'r.speed_mem_metrics["Evaluation Time"] > 0, r.speed_mem_metrics["Tasks / Evaluation Time"] > 0, r.speed_mem_metrics["Max Memory Allocated (Total)"] > 0')
expect_out "true	true	true"
OUT=$(json r.json 'r.config.batch_size, r.config.num_workers, r.config.device')
expect_out "128	4	cpu"

case_ "benchmark options from the command line"
run_sb --data-root "$data" --out r2.json --quiet "$src/benchmarks/mnist.lua" --batch-size 100 --num-workers 0 --model-name "LeNet-5 (cli)" "$lenet5"
expect_exit 0
OUT=$(json r2.json 'r.model, r.config.batch_size, r.config.num_workers, math.floor(r.results["Top 1 Accuracy"] * 512 + 0.5)')
expect_out "LeNet-5 (cli)	100	0	$(reference top1_correct)"

case_ "a different first batch (100 images, not 128) gives a different run hash"
OUT="$(json r.json r.run_hash) $(json r2.json r.run_hash)"
if [ "$(json r.json r.run_hash)" != "$(json r2.json r.run_hash)" ]; then sb_ok; else sb_fail "hashes should differ"; fi

case_ "examples/sotabench.lua: the submission script"
run_sb --data-root "$data" --out s.json --quiet "$src/examples/sotabench.lua"
expect_exit 0
expect_out "LeNet-5"
expect_out "Top 1 Accuracy"
expect_err "1 result stored in s.json"
OUT=$(json s.json 'r.model, r.results["Top 1 Accuracy"] >= 0.985')
expect_out "LeNet-5	true"

case_ "check mode runs one batch"
cat >check.lua <<LUA
local MNIST = require "sbengine.benchmarks.mnist"
local calls = 0
local model = dofile("$lenet5")
local r = MNIST.benchmark{ model = function(x) calls = calls + 1; return model(x) end }
print("calls", calls, "tasks", (r.speed_mem_metrics or {}).Tasks)
LUA
SOTABENCH_CHECK=full run_sb --data-root "$data" --out c.json check.lua
expect_exit 0
expect_out "calls	1	tasks	128"
expect_err "check mode: 1 result built, not stored"

case_ "params-check mode does not evaluate"
SOTABENCH_CHECK=params run_sb --data-root "$data" --out c.json check.lua
expect_exit 0
expect_out "calls	0	tasks	nil"

case_ "a custom metric script and the benchmark that uses it (examples/metrics)"
run_sb --metrics "$src/examples/metrics/scripts" --data-root "$data" --out m.json --quiet \
    "$src/examples/metrics/mnist_calibration.lua" "$lenet5"
expect_exit 0
expect_out "Expected Calibration Error"
OUT=$(json m.json "math.abs(r.results['Expected Calibration Error'] - $(reference expected_calibration_error_15)) < 1e-5, math.floor(r.results['Top 1 Accuracy'] * 512 + 0.5)")
expect_out "true	$(reference top1_correct)"

finish
