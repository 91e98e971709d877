#!/usr/bin/env bash
# A model whose outputs are NaN must not score 100 % (issue 16, defect 1): LeNet-5 with
# NaN outputs on the first 512 MNIST test images scores as PyTorch ranks NaN (an all-NaN row
# predicts class 0), the run says how many rows were not finite and from which batch, the
# result records it in `environment`, and --submit refuses it unless --allow-nonfinite.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/store_json.sh"
. "$(dirname "$0")/lib/fake_server.sh"
src="$SBENGINE_SOURCE_DIR"
data="$SBENGINE_FIXTURES/bench/mnist512"
TOKEN="nonfinite-token"
unset SOTABENCH_STORE_FILENAME SOTABENCH_CHECK SOTABENCH_URL SBENGINE_ALLOW_NONFINITE

cat >nan_lenet.lua <<LUA
local lenet = dofile("$src/examples/models/lenet5.lua")
return function(x) return lenet(x) * (0 / 0) end
LUA
# How many of the 512 images are a 0: the only ones an all-NaN row gets right.
zeros=$("$SBENGINE" -e "local ds = sb.data.MNIST{root = '$data', train = false}
  local n = 0
  for i = 1, #ds do local _, y = ds:get(i); if y == 0 then n = n + 1 end end
  print(n)")

case_ "NaN outputs score what PyTorch's topk gives (class 0), not 100 %"
run_sb --data-root "$data" --out r.json --quiet "$src/benchmarks/mnist.lua" nan_lenet.lua
expect_exit 0
expect_err "the model's outputs held NaN or infinite values in 512 of 512 rows (the first in batch 1)"
OUT=$(json r.json 'math.floor(r.results["Top 1 Accuracy"] * 512 + 0.5), r.environment.nonfinite_output_rows, r.environment.nonfinite_first_batch')
expect_out "$zeros	512	1"
if [ "$zeros" -gt 0 ] && [ "$zeros" -lt 512 ]; then sb_ok; else sb_fail "the subset has $zeros zeros"; fi

case_ "a finite model records nothing"
run_sb --data-root "$data" --out f.json --quiet "$src/benchmarks/mnist.lua" "$src/examples/models/lenet5.lua"
expect_exit 0
OUT=$(json f.json 'r.environment.nonfinite_output_rows == nil')
expect_out "true"

start_fake_server port --token "$TOKEN"
PORT=$(cat port)
export SOTABENCH_URL="http://127.0.0.1:$PORT" SOTABENCH_TOKEN="$TOKEN" SBENGINE_HTTP_BACKOFF=0.01

case_ "--submit refuses a result with non-finite outputs, and says how to send it anyway"
run_sb --data-root "$data" --out s.json --quiet --submit "$src/benchmarks/mnist.lua" nan_lenet.lua
expect_exit 3
expect_err "not submitted: result 1 of 1 (nan_lenet on MNIST) comes from a model whose outputs held NaN or infinite values in 512 rows"
expect_err "sbengine submit --server http://127.0.0.1:$PORT --allow-nonfinite s.json"
OUT=$(json s.json 'r.environment.nonfinite_output_rows')
expect_out "512"

case_ "sbengine submit refuses it too; --allow-nonfinite sends it"
run_sb submit s.json
expect_exit 3
expect_err "comes from a model whose outputs held NaN or infinite values"
run_sb submit --allow-nonfinite s.json
expect_exit 0
expect_err "submitted nan_lenet on MNIST (new)"

case_ "SBENGINE_ALLOW_NONFINITE=1 does the same"
SBENGINE_ALLOW_NONFINITE=1 run_sb submit s.json
expect_exit 0
expect_err "already on the server"

finish
