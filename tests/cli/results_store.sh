#!/usr/bin/env bash
# The store file under parallel runs: runs that finish at the same time append one after the
# other (a lock on the file), so no run loses another's results.
. "$(dirname "$0")/lib/assert.sh"
PY=$(command -v /usr/bin/python3 || command -v python3) || { echo "python3 not found: skipped"; exit 77; }
unset SOTABENCH_STORE_FILENAME SOTABENCH_CHECK SOTABENCH_URL

cat >five.lua <<'LUA'
for i = 1, 5 do
  sb.BenchmarkResult { model = ("run %s #%d"):format(arg[1], i), task = "T", dataset = "D",
                       results = { score = i / 10 } }
end
LUA

case_ "six runs finishing together keep all 30 results"
for r in 1 2 3 4 5 6; do
    "$SBENGINE" --out store.json five.lua "$r" 2>"err.$r" &
done
wait
if "$PY" -c "
import json, sys
d = json.load(open('store.json'))
models = sorted(r['model'] for r in d)
keys = {r['idempotency_key'] for r in d}
sys.exit(0 if len(d) == 30 and len(set(models)) == 30 and len(keys) == 30 else 1)"; then
    sb_ok; else sb_fail "store.json does not hold the 30 results: $(head -c 300 store.json)"; fi
if cat err.* | grep -q "stored in store.json"; then sb_ok; else sb_fail "no store message"; fi

case_ "no temporary or lock files are left behind"
if ls | grep -q "store.json."; then sb_fail "left: $(ls)"; else sb_ok; fi

case_ "a store file that cannot be written: the results are saved elsewhere, and the message says where"
mkdir -p tmp
printf 'sb.BenchmarkResult{model="M", task="T", dataset="D"}\n' >one.lua
TMPDIR="$SB_TMP/tmp" run_sb --out no/such/dir/store.json one.lua
expect_exit 1
expect_err "store file no/such/dir/store.json cannot be written: lock_file: cannot open 'no/such/dir/store.json'"
expect_err "the 1 result of this run was saved to $SB_TMP/tmp/sbengine-results-"
expect_err_lines 1 # the message alone, no traceback of the engine's frames
rescue=$(ls tmp/sbengine-results-*.json 2>/dev/null | head -1)
if [ -n "$rescue" ] && "$PY" -c "import json,sys; sys.exit(0 if json.load(open('$rescue'))[0]['model']=='M' else 1)"; then
    sb_ok; else sb_fail "no rescue file with the result"; fi

case_ "a store path that is a pipe or a device is left as it is; the results are saved elsewhere"
# Renaming a new file over such a path would replace the node itself (with --out /dev/null,
# run as root, the system's /dev/null). A device of our own stands in for /dev/null.
mkfifo pipe
nodes=(pipe)
if [ "$(id -u)" -eq 0 ] && mknod -m 666 nulldev c 1 3 2>/dev/null; then nodes+=(nulldev); fi
for node in "${nodes[@]}"; do
    rm -f tmp/sbengine-results-*.json
    TMPDIR="$SB_TMP/tmp" timeout 60 "$SBENGINE" --out "$node" one.lua >"$SB_TMP/.out" 2>"$SB_TMP/.err" </dev/null
    RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
    expect_exit 1
    expect_err "store file $node cannot be written: lock_file: '$node' is not a regular file"
    expect_err "the 1 result of this run was saved to $SB_TMP/tmp/sbengine-results-"
    if [ -p pipe ] && { [ "$node" = pipe ] || [ -c nulldev ]; }; then sb_ok; else sb_fail "$node was replaced"; fi
    run_sb -e "sb.BenchmarkResult{model='M', task='T', dataset='D'}:save('$node')"
    expect_err "save: '$node' is not a regular file"
done
if [ -p pipe ] && { [ ! -e nulldev ] || [ -c nulldev ]; }; then sb_ok; else sb_fail "a node was replaced"; fi

finish
