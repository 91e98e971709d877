#!/usr/bin/env bash
# Everyday use of the store file (issue 18, items 8-10): --no-store and sb.results.discard()
# keep trial results out of it; `sbengine results` lists it, compares two results and speaks
# JSON; after a failed submission the "Resubmit with" line repeats the run's --server and
# --profile, and following it literally works.
. "$(dirname "$0")/lib/assert.sh"
unset SOTABENCH_STORE_FILENAME SOTABENCH_CHECK SOTABENCH_URL SOTABENCH_TOKEN

cat >two.lua <<'LUA'
sb.BenchmarkResult { model = "LeNet-5", task = "Image Classification", dataset = "MNIST",
  results = { ["Top 1 Accuracy"] = 0.9912, ["Top 5 Accuracy"] = 0.9999 },
  speed_mem_metrics = { ["Tasks / Evaluation Time"] = 8000.5, Tasks = 10000,
    ["Evaluation Time"] = 1.25 }, config = { batch_size = 128, device = "cpu" } }
sb.BenchmarkResult { model = "LeNet-5 (wide)", task = "Image Classification", dataset = "MNIST",
  results = { ["Top 1 Accuracy"] = 0.9935, ["Top 5 Accuracy"] = 0.9999, Loss = 0.03 },
  speed_mem_metrics = { ["Tasks / Evaluation Time"] = 4000, Tasks = 10000,
    ["Evaluation Time"] = 2.5 }, config = { batch_size = 256, device = "cpu" } }
print("made two")
LUA

count_results() { lua5.4 -e "local n = 0; for _ in io.open('$1'):read('a'):gmatch('\"idempotency_key\"') do n = n + 1 end; print(n)"; }

case_ "--no-store: a trial run prints its results and stores none"
run_sb --out trial.json --no-store two.lua
expect_exit 0
expect_out "made two"
expect_err "--no-store: the 2 results of this run were not stored"
if [ -e trial.json ]; then sb_fail "--no-store wrote trial.json"; else sb_ok; fi

case_ "--no-store with --submit is a usage error before anything runs"
run_sb --out trial.json --no-store --submit two.lua
expect_exit 2
expect_err "--no-store and --submit do not go together"
if printf '%s' "$OUT" | grep -q "made two"; then sb_fail "the script ran"; else sb_ok; fi

case_ "sb.results.discard(r) keeps one result out; discard() every result so far"
cat >discard.lua <<'LUA'
local keep = sb.BenchmarkResult { model = "kept", task = "T", dataset = "D" }
local placeholder = sb.BenchmarkResult { model = "placeholder", task = "T", dataset = "D" }
print("one", sb.results.discard(placeholder), sb.results.discard(placeholder))
sb.BenchmarkResult { model = "trial 1", task = "T", dataset = "D" }
sb.BenchmarkResult { model = "trial 2", task = "T", dataset = "D" }
local n = #sb.results.collected()
print("all", sb.results.discard(), n)
sb.BenchmarkResult { model = "after", task = "T", dataset = "D" }
print(pcall(sb.results.discard, "LeNet-5"))
LUA
run_sb --out discard.json discard.lua
expect_exit 0
expect_out "one	1	0"
expect_out "all	3	3"
expect_out "expected a BenchmarkResult"
expect_err "1 result stored in discard.json"
if grep -q '"after"' discard.json && ! grep -q 'kept\|placeholder\|trial' discard.json; then sb_ok
else sb_fail "discard.json should hold only 'after': $(cat discard.json)"; fi

case_ "sbengine results STORE: one row per result"
run_sb --out store.json two.lua
expect_exit 0
run_sb results store.json
expect_exit 0
expect_out_re "^#  model +dataset +results +speed +device +when \(UTC\)"
expect_out_re "^1  LeNet-5 +MNIST +Top 1 Accuracy 0.9912, Top 5 Accuracy 0.9999 +8000/s +cpu +20[0-9-]+ [0-9:]+$"
expect_out_re "^2  LeNet-5 \(wide\) +MNIST +Loss 0.03, Top 1 Accuracy 0.9935, Top 5 Accuracy 0.9999 +4000/s"

case_ "sbengine results: the default store is \$SOTABENCH_STORE_FILENAME, then sotabench_results.json"
SOTABENCH_STORE_FILENAME=store.json run_sb results
expect_exit 0
expect_out "LeNet-5 (wide)"
mkdir -p elsewhere && cd elsewhere && run_sb results && cd ..
expect_exit 2
expect_err "store file sotabench_results.json does not exist"

case_ "sbengine results --diff A B: metric by metric, then what differs"
run_sb results store.json --diff 1 -1
expect_exit 0
expect_out_re "^ +A: #1 +B: #2$"
expect_out_re "^model +LeNet-5 +LeNet-5 \(wide\)"
expect_out_re "^  Top 1 Accuracy +0.9912 +0.9935 +\+0.0023 \(\+0.2%\)$"
expect_out_re "^  Top 5 Accuracy +0.9999 +0.9999 +same$"
expect_out_re "^  Loss +- +0.03 +only in B$"
expect_out_re "^  Tasks / Evaluation Time +8000 +4000 +-4000 \(-50.0%\)$"
expect_out_re "^config \(what differs\)"
expect_out_re "^  batch_size +128 +256"
if printf '%s' "$OUT" | grep -q "^  device"; then sb_fail "config.device is the same in both"; else sb_ok; fi

case_ "sbengine results --json and --diff --json: for machines"
run_sb results --json store.json
expect_exit 0
if printf '%s' "$OUT" | lua5.4 -e 'local c = require "cjson"; local t = c.decode(io.read("a"))
  assert(#t == 2 and t[2].index == 2 and t[2].model == "LeNet-5 (wide)")
  assert(t[1].results["Top 1 Accuracy"] == 0.9912 and t[1].speed_mem_metrics.Tasks == 10000)
  assert(t[1].device == "cpu" and #t[1].idempotency_key == 36)'; then sb_ok; else sb_fail "--json"; fi
run_sb results --json --diff 2 1 store.json
expect_exit 0
if printf '%s' "$OUT" | lua5.4 -e 'local c = require "cjson"; local t = c.decode(io.read("a"))
  assert(t.a.index == 2 and t.b.index == 1)
  local by = {}
  for _, r in ipairs(t.results) do by[r.name] = r end
  assert(math.abs(by["Top 1 Accuracy"].change - (0.9912 - 0.9935)) < 1e-12)
  assert(by.Loss.b == c.null and by.Loss.change == c.null)
  assert(t.config[1].name == "batch_size" and t.config[1].a == 256)'; then sb_ok; else sb_fail "--diff --json"; fi

case_ "sbengine results: mistakes are usage errors (exit 2) that say what is wrong"
run_sb results store.json --diff 1 3
expect_exit 2
expect_err "there is no result 3: the store file holds 2 results"
run_sb results store.json --diff 1 x
expect_exit 2
expect_err "'x' is not a result number"
run_sb results store.json --diff 1
expect_exit 2
expect_err "--diff needs two result numbers"
run_sb results store.json --jsn
expect_exit 2
expect_err "unknown option '--jsn'"
printf 'not json' >bad.json
run_sb results bad.json
expect_exit 2
expect_err "store file bad.json cannot be used"
printf '[]' >empty.json
run_sb results empty.json
expect_exit 0
expect_out "empty.json holds no results"
run_sb results --help
expect_exit 0
expect_out "usage: sbengine results [STORE] [--json]"

# Item 10: the "Resubmit with" line, followed literally, reaches the same server.
. "$(dirname "$0")/lib/fake_server.sh"
TOKEN="tok-123"
start_fake_server port --token "$TOKEN"
PORT=$(cat port)
export SBENGINE_HTTP_BACKOFF=0.01 SBENGINE_HTTP_RETRIES=1
mkdir -p home/.sotabench
printf '[default]\ntoken = nope\n\n[ci]\ntoken = %s\n' "$TOKEN" >home/.sotabench/sotabenchapi.ini
resubmit_line() { printf '%s\n' "$ERR" | sed -n 's/.*Resubmit with: \(.*\) (results already.*/\1/p'; }

case_ "a failed --submit says to resubmit with the run's --server and --profile"
"$PY" "$FAKE" plan "$PORT" "500*" >/dev/null
rm -f sub.json
HOME="$SB_TMP/home" run_sb --server "http://127.0.0.1:$PORT" --profile ci --out sub.json --submit two.lua
expect_exit 3
expect_err "Resubmit with: sbengine submit --server http://127.0.0.1:$PORT --profile ci sub.json"
line=$(resubmit_line)
"$PY" "$FAKE" plan "$PORT" "" >/dev/null
# Literally: a shell that has only HOME (the profile holds the token), none of the run's options.
OUT=$(cd "$SB_TMP" && env -u SOTABENCH_URL HOME="$SB_TMP/home" PATH="$(dirname "$SBENGINE"):$PATH" \
    bash -c "$line" 2>&1)
RC=$?
ERR=$OUT
expect_exit 0
expect_err "submitted LeNet-5 (wide) on MNIST (new)"
if "$PY" "$FAKE" verify "$PORT" sub.json >/dev/null; then sb_ok; else sb_fail "the server does not hold sub.json's results once"; fi

case_ "sbengine submit FILE that fails again repeats its own --server; a quoted URL stays quoted"
"$PY" "$FAKE" plan "$PORT" "500*" >/dev/null
HOME="$SB_TMP/home" run_sb submit --server "http://127.0.0.1:$PORT/?a=b c" --profile ci sub.json
expect_exit 3
expect_err "Resubmit with: sbengine submit --server 'http://127.0.0.1:$PORT/?a=b c' --profile ci sub.json"
"$PY" "$FAKE" plan "$PORT" "" >/dev/null

case_ "the URL from SOTABENCH_URL is repeated too, so the line works in another shell"
"$PY" "$FAKE" plan "$PORT" "500*" >/dev/null
SOTABENCH_URL="http://127.0.0.1:$PORT" SOTABENCH_TOKEN="$TOKEN" run_sb submit sub.json
expect_exit 3
expect_err "Resubmit with: sbengine submit --server http://127.0.0.1:$PORT sub.json"
"$PY" "$FAKE" plan "$PORT" "" >/dev/null

finish
