#!/usr/bin/env bash
# Evaluation across processes against a results server on 127.0.0.1
# (tests/server/fake_sotabench.py): `mpirun -n 3 ... --submit` submits the one result once;
# a second run finds the first batch's run hash in the server's cache and every rank stops.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/fake_server.sh"
src="$SBENGINE_SOURCE_DIR"
data="$SBENGINE_FIXTURES/bench/mnist512"
lenet5="$src/examples/models/lenet5.lua"
. "$(dirname "$0")/lib/mpi.sh"
TOKEN="s3cret-token-XYZ"
start_fake_server port --token "$TOKEN"
PORT=$(cat port)
export SOTABENCH_URL="http://127.0.0.1:$PORT" SOTABENCH_TOKEN="$TOKEN"
export SBENGINE_HTTP_BACKOFF=0.01 SBENGINE_HTTP_TIMEOUT=20 SBENGINE_HTTP_CONNECT_TIMEOUT=10
unset SOTABENCH_STORE_FILENAME SOTABENCH_CHECK

case_ "mpirun -n 3 --submit: rank 0 submits the one result, once"
run_mpi 3 --threads 1 --data-root "$data" --out store.json --quiet --submit \
    "$src/benchmarks/mnist.lua" --batch-size 100 "$lenet5"
expect_exit 0
n=$(printf '%s\n' "$ERR" | grep -c "sbengine: submitted lenet5 on MNIST (new)")
if [ "$n" = 1 ]; then sb_ok; else sb_fail "submitted $n times"; fi
if "$PY" "$FAKE" verify "$PORT" store.json; then sb_ok; else sb_fail "the server does not hold the stored result exactly once"; fi

case_ "a second run: the server knows the first batch's run hash; every rank stops, one message"
run_mpi 3 --threads 1 --data-root "$data" --out store.json --quiet \
    "$src/benchmarks/mnist.lua" --batch-size 100 "$lenet5"
expect_exit 0
n=$(printf '%s\n' "$ERR" | grep -c "no model change detected")
if [ "$n" = 1 ]; then sb_ok; else sb_fail "the cache message came $n times"; fi
expect_err "1 result stored in store.json"
OUT=$("$SBENGINE" -e 'local a = require("cjson").decode(io.open("store.json"):read("a"))
  print(#a, a[1].results["Top 1 Accuracy"] == a[2].results["Top 1 Accuracy"], a[1].run_hash == a[2].run_hash)')
expect_out "2	true	true"

finish
