#!/usr/bin/env bash
# The run-hash cache of sb.bench against a real HTTP server on 127.0.0.1
# (tests/server/fake_sotabench.py): a model the server has seen is evaluated for one batch
# only and gets the server's results; --no-cache and check mode always evaluate; a server
# that fails makes the lookup fail soft (a warning, then a full evaluation).
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/fake_server.sh"
src="$SBENGINE_SOURCE_DIR"
data="$SBENGINE_FIXTURES/bench/mnist512"
TOKEN="bench-token"

start_fake_server port --token "$TOKEN"
PORT=$(cat port)
export SOTABENCH_URL="http://127.0.0.1:$PORT" SOTABENCH_TOKEN="$TOKEN"
export SBENGINE_HTTP_BACKOFF=0.01 SBENGINE_HTTP_TIMEOUT=20 SBENGINE_HTTP_CONNECT_TIMEOUT=10
unset SOTABENCH_STORE_FILENAME SOTABENCH_CHECK

# LeNet-5 that counts its batches on stdout.
cat >counting.lua <<LUA
local lenet5 = dofile("$src/examples/models/lenet5.lua")
local calls = 0
sb.session.at_finish(function() print("batches evaluated", calls) end)
return function(x) calls = calls + 1; return lenet5(x) end
LUA

case_ "a first run evaluates everything and submits"
run_sb --data-root "$data" --out first.json --quiet --submit "$src/benchmarks/mnist.lua" counting.lua
expect_exit 0
expect_out "batches evaluated	4"
expect_err "submitted counting on MNIST"

case_ "the same model again: one batch, then the server's results"
run_sb --data-root "$data" --out second.json --quiet "$src/benchmarks/mnist.lua" counting.lua
expect_exit 0
expect_out "batches evaluated	1"
expect_err "no model change detected"
OUT=$("$SBENGINE" -e "local a = require('cjson').decode(io.open('second.json'):read('a'))
  local b = require('cjson').decode(io.open('first.json'):read('a'))
  print(a[1].results['Top 1 Accuracy'] == b[1].results['Top 1 Accuracy'], a[1].run_hash == b[1].run_hash, next(a[1].speed_mem_metrics) == nil)")
expect_out "true	true	true"

case_ "--no-cache evaluates everything"
run_sb --data-root "$data" --out third.json --quiet --no-cache "$src/benchmarks/mnist.lua" counting.lua
expect_exit 0
expect_out "batches evaluated	4"

case_ "a failing server: a warning, then the whole evaluation"
"$PY" "$FAKE" plan "$PORT" '500*' >/dev/null
run_sb --data-root "$data" --out fourth.json --quiet "$src/benchmarks/mnist.lua" counting.lua
expect_exit 0
expect_out "batches evaluated	4"
expect_err "cache lookup skipped"
"$PY" "$FAKE" reset "$PORT" >/dev/null

finish
