#!/usr/bin/env bash
# Results are not lost at the edges of the store write (issue 16, defects 3, 5, 7):
# a signal during the write waits for it, a second one saves the results to the run's rescue
# file and says so; concurrent runs against a corrupt store each get their own rescue file
# and print one message; when the store's disk and the temporary folder are both full the run
# says nothing could be saved, prints the results as JSON on stderr and exits non-zero.
. "$(dirname "$0")/lib/assert.sh"
PY=$(command -v /usr/bin/python3 || command -v python3) || { echo "python3 not found: skipped"; exit 77; }
command -v flock >/dev/null || { echo "flock (util-linux) not found: skipped"; exit 77; }
unset SOTABENCH_STORE_FILENAME SOTABENCH_CHECK SOTABENCH_URL
mkdir -p tmp
export TMPDIR="$SB_TMP/tmp"

cat >one.lua <<'LUA'
sb.BenchmarkResult { model = "M", task = "T", dataset = "D", results = { a = 1 } }
LUA

holds() { # FILE N: FILE is a JSON array of N results
    "$PY" -c "import json,sys; d=json.load(open('$1')); sys.exit(0 if len(d)==$2 else 1)" 2>/dev/null
}

# Starts `sbengine --out store.json one.lua` while another process holds the store's lock,
# and waits until the run is blocked on that lock (its request shows in /proc/locks).
start_blocked_run() {
    printf '[]\n' >store.json
    # the sleep itself holds the lock, so that killing it releases the lock at once
    (exec 9<>store.json && flock -x 9 && exec sleep 60) &
    LOCKER=$!
    local inode
    inode=$(stat -c %i store.json)
    for _ in $(seq 1 200); do grep -q "FLOCK.*:$inode " /proc/locks && break; sleep 0.05; done
    "$SBENGINE" --out store.json one.lua >"$SB_TMP/.out" 2>"$SB_TMP/.err" </dev/null &
    RUN=$!
    for _ in $(seq 1 200); do grep -q -- "-> FLOCK.*:$inode " /proc/locks && return 0; sleep 0.05; done
    echo "the run never waited for the lock" >&2
}
collect() { wait "$RUN"; RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err"); }

for sig in TERM INT; do
    case_ "SIG$sig during the store write: the write finishes, then the run exits 128+signal"
    start_blocked_run
    kill -s "$sig" "$RUN"
    sleep 0.2
    kill "$LOCKER"; wait "$LOCKER" 2>/dev/null
    collect
    if [ "$sig" = INT ]; then expect_exit 130; else expect_exit 143; fi
    expect_err "SIG$sig received while storing the results: finishing the write first"
    expect_err "1 result stored in store.json"
    if holds store.json 1; then sb_ok; else sb_fail "store.json lacks the result: $(cat store.json)"; fi
done

case_ "a second signal during the store write saves the results to a rescue file and says so"
rm -f tmp/*.json
start_blocked_run
kill -s TERM "$RUN"
sleep 0.2
kill -s TERM "$RUN"
collect
kill "$LOCKER"; wait "$LOCKER" 2>/dev/null
expect_exit 143
expect_err "stopped by a second SIGTERM while storing the results: the 1 result of this run was saved to $SB_TMP/tmp/sbengine-results-"
rescue=$(ls "$SB_TMP"/tmp/sbengine-results-*.json 2>/dev/null)
if [ "$(printf '%s\n' "$rescue" | grep -c .)" = 1 ] && holds "$rescue" 1; then sb_ok; else sb_fail "rescue files: '$rescue'"; fi
expect_err "sbengine submit $rescue sends them"
if holds store.json 0; then sb_ok; else sb_fail "store.json changed: $(cat store.json)"; fi

case_ "five runs against a corrupt store: five rescue files, one result each, one message each"
rm -f tmp/*.json store.json.recovered-*
printf '[{"a": NaN}]' >store.json
for r in 1 2 3 4 5; do "$SBENGINE" --out store.json one.lua 2>"err.$r" & done
wait
n=$(ls store.json.recovered-*.json 2>/dev/null | wc -l)
if [ "$n" = 5 ]; then sb_ok; else sb_fail "$n rescue files: $(ls)"; fi
for f in store.json.recovered-*.json; do
    if holds "$f" 1; then sb_ok; else sb_fail "$f does not hold one result"; fi
done
for r in 1 2 3 4 5; do
    ERR=$(cat "err.$r")
    expect_err_lines 1
    expect_err "store file store.json was not appended to because it is not valid JSON (NaN or Infinity"
    expect_err_re "the 1 result of this run was saved to store.json.recovered-[0-9TZ]+-[0-9]+-[0-9a-f]{8}.json instead"
done
if [ "$(cat store.json)" = '[{"a": NaN}]' ]; then sb_ok; else sb_fail "the corrupt store was changed"; fi
if ls tmp | grep -q .; then sb_fail "a second rescue copy in TMPDIR: $(ls tmp)"; else sb_ok; fi

finish
