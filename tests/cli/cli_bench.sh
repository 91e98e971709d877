#!/usr/bin/env bash
# sbengine bench NAME (issue 18, item 5): a shipped benchmark run by name gives the result the
# benchmark file as the main script gives; --list shows every benchmark with its dataset and
# metrics; an unknown name gets a did-you-mean; a benchmark from a rock's tree is found.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/store_json.sh"
src="$SBENGINE_SOURCE_DIR"
data="$SBENGINE_FIXTURES/bench/mnist512"
lenet5="$src/examples/models/lenet5.lua"

case_ "bench --list lists the shipped benchmarks with their datasets and metrics"
run_sb bench --list
expect_exit 0
expect_out_re "^NAME +DATASET +TASK +METRICS +FILE"
for f in "$src"/benchmarks/*.lua; do expect_out_re "^$(basename "$f" .lua) "; done
expect_out_re "^mnist +MNIST +Image Classification +topk_accuracy +$src/benchmarks/mnist.lua$"

case_ "bench mnist MODEL.lua gives the result of the benchmark file as the main script"
run_sb bench --quiet --out byname.json --data-root "$data" mnist --batch-size 100 "$lenet5"
expect_exit 0
expect_out "Top 1 Accuracy  0.9921875"
run_sb --quiet --out byfile.json --data-root "$data" "$src/benchmarks/mnist.lua" --batch-size 100 "$lenet5"
expect_exit 0
a=$(json byname.json r.run_hash); b=$(json byfile.json r.run_hash)
if [ -n "$a" ] && [ "$a" = "$b" ]; then sb_ok; else sb_fail "run hashes differ: '$a' '$b'"; fi

case_ "bench NAME without a model prints the benchmark's usage under its name"
run_sb bench mnist
expect_exit 2
expect_err "usage: sbengine bench [ENGINE OPTIONS] mnist [OPTIONS] MODEL.lua"
run_sb bench mnist --help
expect_exit 0
expect_out "--batch-size N"

case_ "a benchmark file's path works as NAME"
run_sb bench --quiet --out bypath.json --data-root "$data" "$src/benchmarks/mnist.lua" "$lenet5"
expect_exit 0
expect_out "Top 1 Accuracy  0.9921875"
run_sb bench no_such_benchmark.lua "$lenet5"
expect_exit 2
expect_err "no benchmark file 'no_such_benchmark.lua'"

case_ "an unknown benchmark name is a usage error with a did-you-mean"
run_sb bench mnsit "$lenet5"
expect_exit 2
expect_err "no benchmark 'mnsit' (did you mean 'mnist'?)"
expect_err "cifar10"

case_ "a benchmark installed in a LuaRocks tree is found by name"
mkdir -p "$SB_TMP/home/.luarocks/share/lua/5.4/sbengine/benchmarks"
cat >"$SB_TMP/home/.luarocks/share/lua/5.4/sbengine/benchmarks/tiny.lua" <<'LUA'
local sb = require "sbengine"
return sb.bench.define{
  name = "Tiny", task = "Image Classification", num_classes = 2,
  dataset = function()
    return sb.data.TensorDataset(sb.tensor{ { 1, 0 }, { 0, 1 } }, sb.tensor({ 0, 1 }, { dtype = "int64" }))
  end,
  defaults = { batch_size = 2, num_workers = 0 },
  metrics = { { "topk_accuracy", { k = { 1 } } } },
}
LUA
echo 'return function(x) return x end' >identity.lua
HOME="$SB_TMP/home" run_sb bench --list
expect_exit 0
expect_out_re "^tiny +Tiny +Image Classification +topk_accuracy +$SB_TMP/home/.luarocks/share/lua/5.4/sbengine/benchmarks/tiny.lua$"
HOME="$SB_TMP/home" run_sb bench --quiet --out tiny.json tiny identity.lua
expect_exit 0
expect_out "Top 1 Accuracy  1"

finish
