#!/usr/bin/env bash
# The store's disk and the temporary folder both full (issue 16, defect 5): the run says
# that nothing could be saved, prints the results as JSON on stderr (the last resort) and
# exits non-zero. A real full file system: a 64 KiB tmpfs, filled up; mounting one needs
# root (or CAP_SYS_ADMIN), so without it the test is skipped.
. "$(dirname "$0")/lib/assert.sh"
PY=$(command -v /usr/bin/python3 || command -v python3) || { echo "python3 not found: skipped"; exit 77; }
unset SOTABENCH_STORE_FILENAME SOTABENCH_CHECK SOTABENCH_URL
mkdir -p full
if ! mount -t tmpfs -o size=64k tmpfs full 2>/dev/null; then
    echo "cannot mount a tmpfs (needs root): skipped"
    exit 77
fi
trap 'umount "$SB_TMP/full" 2>/dev/null; rm -rf "$SB_TMP"' EXIT
mkdir -p full/tmp
dd if=/dev/zero of=full/filler bs=4k 2>/dev/null # until the disk is full
cat >one.lua <<'LUA'
sb.BenchmarkResult { model = "Full-Disk-Model", task = "T", dataset = "D", results = { a = 1 } }
LUA

case_ "store and TMPDIR on a full disk: nothing could be saved, the JSON is on stderr, exit 1"
TMPDIR="$SB_TMP/full/tmp" run_sb --out full/store.json one.lua
expect_exit 1
expect_err "store file full/store.json cannot be written"
expect_err "nothing could be saved: no rescue file could be written either"
expect_err "No space left on device"
# the JSON after the message is the result, whole
json=$(printf '%s\n' "$ERR" | sed -n '/^\[/,$p')
if printf '%s' "$json" | "$PY" -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[0]['model']=='Full-Disk-Model' else 1)"; then
    sb_ok; else sb_fail "stderr does not end with the results as JSON"; fi

case_ "the full disk is left without temporary files"
if ls full full/tmp | grep -q "store.json\.\|sbengine-results"; then sb_fail "left: $(ls full full/tmp)"; else sb_ok; fi

finish
