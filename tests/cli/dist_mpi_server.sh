#!/usr/bin/env bash
# Evaluation across processes against a results server on 127.0.0.1
# (tests/server/fake_sotabench.py): `mpirun -n 3 ... --submit` submits the one result once;
# a second run finds the first batch's run hash in the server's cache and every rank stops.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/fake_server.sh"
src="$SBENGINE_SOURCE_DIR"
data="$SBENGINE_FIXTURES/bench/mnist512"
lenet5="$src/examples/models/lenet5.lua"
"$SBENGINE" --version | grep -q "^MPI: not built" && { echo "no MPI support in this build (libopenmpi-dev): skipped"; exit 77; }
command -v mpirun >/dev/null || { echo "mpirun not found (install openmpi-bin: tools/setup): skipped"; exit 77; }
TOKEN="s3cret-token-XYZ"
start_fake_server port --token "$TOKEN"
PORT=$(cat port)
export SOTABENCH_URL="http://127.0.0.1:$PORT" SOTABENCH_TOKEN="$TOKEN"
export SBENGINE_HTTP_BACKOFF=0.01 SBENGINE_HTTP_TIMEOUT=20 SBENGINE_HTTP_CONNECT_TIMEOUT=10
unset SOTABENCH_STORE_FILENAME SOTABENCH_CHECK

mpi=(mpirun --oversubscribe -x "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)
run_mpi() {
    local n=$1
    shift
    timeout 120 "${mpi[@]}" -n "$n" "$SBENGINE" "$@" >"$SB_TMP/.out" 2>"$SB_TMP/.err" </dev/null
    RC=$?
    OUT=$(cat "$SB_TMP/.out")
    ERR=$(cat "$SB_TMP/.err")
}

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
