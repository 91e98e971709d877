#!/usr/bin/env bash
# Failure injection on the writes that must not lose data (issue 16; docs/reliability.md), as
# SQLite's I/O-error tests do it: a clean run counts the file calls of the store write (open,
# flock, read, write, fsync, close, rename, on files below one folder), then the run is
# repeated failing the Nth call for every N: once (a transient error, EIO), from a store
# with results, none, or a corrupt one; and from the Nth on (a dead disk, ENOSPC), from a store
# with results. After each run the old store file must be intact, and the new
# result must be in the store or in the one rescue file the message names, or (when nothing
# can be written) on stderr as JSON; no temporary file may be left. The same for downloads:
# the destination holds the old file or the whole new one, never a part.
# The shim is tests/c/inject_io.c, preloaded (after the sanitizer runtimes in the ASan build).
. "$(dirname "$0")/lib/assert.sh"
PY=$(command -v /usr/bin/python3 || command -v python3) || { echo "python3 not found: skipped"; exit 77; }
: "${SB_INJECT_IO:?SB_INJECT_IO must name the injection shim (ctest sets it)}"
unset SOTABENCH_STORE_FILENAME SOTABENCH_CHECK SOTABENCH_URL
# Each run K has its own folder runs/K; its w/ is the watched folder (the store, its rescue
# files and TMPDIR live there), beside it what the checks read: old.json, rc, err, log, label.
PRELOAD="${SB_LUA_SANITIZER_PRELOAD:+$SB_LUA_SANITIZER_PRELOAD:}$SB_INJECT_IO"

cat >one.lua <<'LUA'
sb.BenchmarkResult { model = "new", task = "T", dataset = "D", results = { a = 1 } }
LUA

K=0
# new_run LABEL: a fresh run folder, $RUN; $W its watched folder
new_run() {
    K=$((K + 1))
    RUN="$SB_TMP/runs/$(printf %04d "$K")"
    W="$RUN/w"
    mkdir -p "$W/tmp"
    printf '%s\n' "$1" >"$RUN/label"
}

# run_injected N MODE ERRNO ARGS...: the run with its Nth watched call failing (N = 0: none)
run_injected() {
    local n=$1 mode=$2 err=$3
    shift 3
    SBINJECT_DIR="$W" SBINJECT_N="$n" SBINJECT_MODE="$mode" SBINJECT_ERRNO="$err" \
        SBINJECT_LOG="$RUN/log" TMPDIR="$W/tmp" LD_PRELOAD="$PRELOAD" OPENBLAS_NUM_THREADS=1 \
        "$SBENGINE" "$@" >"$RUN/out" 2>"$RUN/err" </dev/null
    RC=$?
    echo "$RC" >"$RUN/rc"
    OUT=$(cat "$RUN/out")
    ERR=$(cat "$RUN/err")
}
calls() { grep -c . "$RUN/log" 2>/dev/null || echo 0; }
fired() { grep -q " FAIL$" "$RUN/log" 2>/dev/null; }

# The store's three starting points: a store holding one result, no store yet, and a store
# that is not valid JSON (left alone; its rescue file goes beside it).
mkdir -p seed
"$SBENGINE" --out "$SB_TMP/seed/existing.json" -e \
    'sb.BenchmarkResult{model="old", task="T", dataset="D", results={a=0}}' 2>/dev/null
printf '[{"model": "old", "a": NaN}]\n' >seed/corrupt.json
prepare() {
    if [ -e "seed/$1.json" ]; then
        cp "seed/$1.json" "$W/store.json"
        cp "seed/$1.json" "$RUN/old.json"
    fi
}

# Checks the state after each saved run (runs/K: w/ the folder, old.json, rc, err, log, label);
# prints "ok LABEL" or "FAIL LABEL: what is wrong" per run. One Python for all runs.
check_runs() {
    "$PY" - "$SB_TMP"/runs/* <<'PY'
import glob, json, os, sys
def models(data):
    return [r.get("model") for r in json.loads(data)]
def check(run):
  w = os.path.join(run, "w")
  rc = int(open(os.path.join(run, "rc")).read())
  err = open(os.path.join(run, "err"), encoding="utf-8", errors="replace").read()
  store = os.path.join(w, "store.json")
  old_path = os.path.join(run, "old.json")
  old = open(old_path, "rb").read() if os.path.exists(old_path) else None
  new = open(store, "rb").read() if os.path.exists(store) else None
  # a store that did not exist may be left empty: the lock is taken on it, and an empty store
  # reads as a new one
  if old is None and new == b"":
      new = None
  problems = []
  left = [p for p in glob.glob(os.path.join(w, "**", "*.tmp.*"), recursive=True)]
  if left:
      problems.append("temporary files left: %s" % left)
  stored = False
  if new != old:
      # the store changed: it must be the old results followed by the new one, old bytes kept
      try:
          got = models(new)
      except Exception as e:
          problems.append("the store is no longer valid JSON (%s): %r" % (e, new[:200]))
          got = None
      if got is not None:
          want = (models(old) if old else []) + ["new"]
          if got != want:
              problems.append("the store holds %s, expected %s" % (got, want))
          elif old and json.loads(new)[0] != json.loads(old)[0]:
              problems.append("the old result changed")
          stored = True
  rescues = glob.glob(os.path.join(w, "tmp", "sbengine-results-*.json")) + \
            glob.glob(os.path.join(w, "store.json.recovered-*.json"))
  if stored:
      if rc != 0:
          problems.append("stored, but exit %d" % rc)
      if "1 result stored in " + store not in err:
          problems.append("stored without the message")
      if rescues:
          problems.append("stored, and rescue files too: %s" % rescues)
  elif rescues:
      if len(rescues) != 1:
          problems.append("%d rescue files: %s" % (len(rescues), rescues))
      elif models(open(rescues[0], "rb").read()) != ["new"]:
          problems.append("the rescue file does not hold the new result")
      elif "was saved to " + rescues[0] not in err:
          problems.append("the message does not name the rescue file %s" % rescues[0])
      if rc == 0:
          problems.append("not stored, yet exit 0")
  else:
      # the last resort: nothing could be written anywhere; the results follow as JSON
      mark = "follow as JSON; copy them into a file and run sbengine submit FILE:\n"
      if "nothing could be saved" not in err or mark not in err:
          problems.append("the result is neither stored, nor in a rescue file, nor on stderr")
      else:
          try:
              if models(err.split(mark, 1)[1]) != ["new"]:
                  problems.append("the JSON on stderr is not the new result")
          except Exception as e:
              problems.append("the text on stderr is not JSON: %s" % e)
      if rc == 0:
          problems.append("nothing saved, yet exit 0")
  return "; ".join(problems)
for run in sys.argv[1:]:
    label = open(os.path.join(run, "label")).read().strip()
    calls = open(os.path.join(run, "log")).read().replace("\n", "|") if os.path.exists(os.path.join(run, "log")) else ""
    problem = check(run)
    print("ok " + label if not problem else "FAIL %s: %s; calls: %s" % (label, problem, calls))
PY
}

for start in existing absent corrupt; do
    new_run "store from $start: a clean run"
    prepare "$start"
    run_injected 0 once EIO --out "$W/store.json" "$SB_TMP/one.lua"
    case_ "store from $start: a clean run counts its file calls"
    clean=$(calls)
    if [ "$clean" -ge 4 ]; then sb_ok; else sb_fail "only $clean watched calls: $(cat "$RUN/log" 2>/dev/null)"; fi
    # a dead disk (every call from the Nth on fails) ends the same way whatever the start:
    # nothing can be written, so the results go to stderr; once from a store with results
    modes="once:EIO"
    [ "$start" = existing ] && modes="once:EIO persist:ENOSPC"
    for mode in $modes; do
        n=1
        while :; do
            new_run "store from $start: call $n of the store write fails (${mode%%:*}, ${mode#*:})"
            prepare "$start"
            run_injected "$n" "${mode%%:*}" "${mode#*:}" --out "$W/store.json" "$SB_TMP/one.lua"
            if ! fired; then rm -rf "$RUN"; break; fi # past the last call: every one has failed
            n=$((n + 1))
            [ "$n" -le 60 ] || { case_ "store from $start"; sb_fail "more than 60 calls: the count does not end"; break; }
        done
    done
done
store_runs=$(ls runs | wc -l)
while read -r verdict rest; do
    case_ "${rest%%: *}"
    if [ "$verdict" = ok ]; then sb_ok; else sb_fail "${rest#*: }"; fi
done < <(check_runs)
echo "store write: $store_runs runs, each failing one call or all from one on"

# Downloads (core.data.download, file:// through libcurl): the destination is the old file or
# the whole new one, nothing else; a failure is an error naming the file.
mkdir -p src
head -c 40000 /dev/urandom >src/blob.bin
md5=$(md5sum src/blob.bin | cut -d' ' -f1)
cat >dl.lua <<LUA
local core = require "sbengine.core"
core.data.download("file://$SB_TMP/src/blob.bin", arg[1], { md5 = "$md5" })
LUA
dl_runs=0
for case in absent:once:EIO existing:persist:ENOSPC; do
    start=${case%%:*} mode=${case#*:}
    for mode in $mode; do
        n=1
        while :; do
            new_run "download to a destination $start: call $n fails (${mode%%:*}, ${mode#*:})"
            case_ "$(cat "$RUN/label")"
            [ "$start" = existing ] && printf 'old\n' >"$W/blob.bin"
            run_injected "$n" "${mode%%:*}" "${mode#*:}" "$SB_TMP/dl.lua" "$W/blob.bin"
            dl_runs=$((dl_runs + 1))
            fired || break
            if ls "$W" | grep -q '\.tmp\.'; then sb_fail "temporary file left: $(ls "$W")"; fi
            if [ -e "$W/blob.bin" ] && cmp -s "$W/blob.bin" src/blob.bin; then
                if [ "$RC" -eq 0 ]; then sb_ok; else sb_fail "downloaded, yet exit $RC"; fi
            else
                if [ "$start" = existing ]; then
                    if [ "$(cat "$W/blob.bin" 2>/dev/null)" = old ]; then sb_ok; else sb_fail "the old file changed"; fi
                elif [ -e "$W/blob.bin" ]; then
                    sb_fail "a partial file under the real name"
                fi
                if [ "$RC" -ne 0 ]; then sb_ok; else sb_fail "failed, yet exit 0"; fi
                expect_err "$W/blob.bin"
            fi
            n=$((n + 1))
            [ "$n" -le 60 ] || { sb_fail "more than 60 calls: the count does not end"; break; }
        done
    done
done
echo "downloads: $dl_runs injected runs"
finish
