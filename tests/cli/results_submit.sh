#!/usr/bin/env bash
# Nothing lost (DESIGN §4, issue 6): the CLI against a real HTTP server on 127.0.0.1
# (tests/server/fake_sotabench.py) that fails on purpose. For each fault: the store file
# exists, is valid JSON and holds every result; exit 3 when the submission failed, with a
# message saying what failed and how to resubmit; a later `sbengine submit FILE` succeeds
# and the server holds each result exactly once.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/fake_server.sh"
TOKEN="s3cret-token-XYZ"

start_fake_server port --token "$TOKEN"
PORT=$(cat port)

export SOTABENCH_URL="http://127.0.0.1:$PORT" SOTABENCH_TOKEN="$TOKEN"
# Fast retries keep each case short; timeouts stay generous (a busy machine must not turn a
# slow answer into a failure) except in the hanging-server case.
export SBENGINE_HTTP_BACKOFF=0.01 SBENGINE_HTTP_TIMEOUT=20 SBENGINE_HTTP_CONNECT_TIMEOUT=10
export SBENGINE_HTTP_RETRY_AFTER_MAX=2
unset SOTABENCH_STORE_FILENAME SOTABENCH_CHECK

cat >two.lua <<'LUA'
for _, name in ipairs { "LeNet-5", "ResNet-18" } do
  sb.BenchmarkResult { model = name, task = "Image Classification", dataset = "MNIST",
                       results = { ["Top 1 Accuracy"] = 0.99, ["Top 5 Accuracy"] = 1.0 } }
end
print("evaluated")
LUA

ctl() { "$PY" "$FAKE" "$@" >/dev/null; }

expect_store_holds() { # FILE N
    if "$PY" -c "import json,sys; d=json.load(open('$1')); sys.exit(0 if len(d)==$2 and all(r['idempotency_key'] for r in d) else 1)"; then
        sb_ok; else sb_fail "store file $1 is not a JSON array of $2 results"; fi
}
expect_server_has_exactly() { # FILE
    local msg
    if msg=$("$PY" "$FAKE" verify "$PORT" "$1"); then sb_ok; else sb_fail "server: $msg"; fi
}
expect_no_token() {
    if printf '%s%s' "$OUT" "$ERR" | grep -qF "$TOKEN"; then sb_fail "the token was printed"; else sb_ok; fi
}

# fault_case NAME PLAN EXIT [MESSAGE...]: a run with --submit against PLAN (its stderr must
# hold each MESSAGE), then a clean resubmission when the first one failed.
fault_case() {
    case_ "$1"
    ctl reset "$PORT"
    ctl plan "$PORT" "$2"
    rm -f store.json
    run_sb --out store.json --submit two.lua
    expect_exit "$3"
    local code=$3
    shift 3
    for m in "$@"; do expect_err "$m"; done
    expect_out "evaluated"
    expect_err "2 results stored in store.json"
    expect_store_holds store.json 2
    expect_no_token
    if [ "$code" -eq 3 ]; then
        expect_err "submission failed"
        expect_err "Resubmit with: sbengine submit --server http://127.0.0.1:$PORT store.json"
        ctl plan "$PORT" ""
        SBENGINE_HTTP_TIMEOUT=20 SBENGINE_HTTP_RETRIES=3 run_sb submit store.json
        expect_exit 0
        expect_no_token
    fi
    expect_server_has_exactly store.json
}

fault_case "no fault: both results submitted" "" 0
fault_case "500 then success: retried, stored once" "500" 0
fault_case "500 three times then success: the fourth attempt goes through" "500,500,500" 0
fault_case "500 every time: exit 3 after 4 attempts" "500*" 3 \
    "You broke SotaBench!!!" "after 4 attempts"
fault_case "a dropped connection once: the retry is recognised, not duplicated" "drop" 0
fault_case "dropped every time after storing: resubmission does not duplicate" "drop*" 3 \
    "connection dropped before a response"
export SBENGINE_HTTP_RETRIES=1 SBENGINE_HTTP_TIMEOUT=1 # each attempt waits for the timeout
fault_case "a hanging server: the request times out" "hang*" 3 \
    "timed out (limit 1.0 s) after 2 attempts"
unset SBENGINE_HTTP_RETRIES
export SBENGINE_HTTP_TIMEOUT=20
fault_case "malformed JSON in the reply" "badjson*" 3 \
    "reply was not valid JSON"
fault_case "401: sotabench's message and where to fix the token" "401*" 3 \
    "Unauthorized - check the token in SOTABENCH_TOKEN"
fault_case "503: sotabench's message" "503*" 3 \
    "SotaBench server under maintenance."
fault_case "429 with Retry-After: waits, then succeeds" "429:0" 0
fault_case "429 asking to wait too long: gives up with sotabench's message" "429:100*" 3 \
    "SotaBench under pressure! (Too many requests)"
fault_case "400 shows the server's errors" "400*" 3 \
    "model: not a known model"

case_ "connection refused"
FREE_PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
ctl reset "$PORT"
rm -f store.json
SOTABENCH_URL="http://127.0.0.1:$FREE_PORT" run_sb --out store.json --submit two.lua
expect_exit 3
expect_store_holds store.json 2
expect_err "connection refused after 4 attempts"
expect_err "Resubmit with: sbengine submit --server http://127.0.0.1:$FREE_PORT store.json"
run_sb submit store.json
expect_exit 0
expect_server_has_exactly store.json

case_ "a wrong token is refused and never printed"
ctl reset "$PORT"
rm -f store.json
SOTABENCH_TOKEN="wrong-token-ABC" run_sb --out store.json --submit two.lua
expect_exit 3
expect_err "Unauthorized"
if printf '%s%s' "$OUT" "$ERR" | grep -qF "wrong-token-ABC"; then sb_fail "token printed"; else sb_ok; fi

case_ "the token comes from ~/.sotabench/sotabenchapi.ini and --profile"
mkdir -p home/.sotabench
printf '[default]\ntoken = nope\n\n[ci]\ntoken = %s\n' "$TOKEN" >home/.sotabench/sotabenchapi.ini
HOME="$SB_TMP/home" SOTABENCH_TOKEN= run_sb submit --profile ci store.json
expect_exit 0
expect_server_has_exactly store.json
HOME="$SB_TMP/home" SOTABENCH_TOKEN= run_sb submit --profile nosuch store.json
expect_exit 3
expect_err "profile 'nosuch' not found"

case_ "a script that fails after creating results still stores them, and does not submit"
ctl reset "$PORT"
rm -f store.json
printf 'sb.BenchmarkResult{model="M", task="T", dataset="D"}\nerror("late failure")\n' >late.lua
run_sb --out store.json --submit late.lua
expect_exit 1
expect_err "late failure"
expect_store_holds store.json 1
expect_err "not submitted because the script failed"

case_ "a script that leaves with os.exit still stores its results (and submits them)"
ctl reset "$PORT"
rm -f store.json
printf 'sb.BenchmarkResult{model="M", task="T", dataset="D"}\nos.exit(0)\n' >exits.lua
run_sb --out store.json --submit exits.lua
expect_exit 0
expect_store_holds store.json 1
expect_server_has_exactly store.json
printf 'sb.BenchmarkResult{model="M", task="T", dataset="D"}\nos.exit(5)\n' >exits5.lua
run_sb --out store.json exits5.lua
expect_exit 5
expect_store_holds store.json 2

case_ "the store file is appended to across runs"
rm -f store.json
run_sb --out store.json two.lua
run_sb --out store.json two.lua
expect_exit 0
expect_store_holds store.json 4
SOTABENCH_STORE_FILENAME=env.json run_sb two.lua
expect_store_holds env.json 2

case_ "submit: an unusable file is exit 2 with a message"
run_sb submit missing.json
expect_exit 2
expect_err "store file missing.json does not exist"
echo '{"a": 1}' >bad.json
run_sb submit bad.json
expect_exit 2
expect_err "is not a JSON array"
echo '[{"model": "x"}]' >bad2.json
run_sb submit bad2.json
expect_exit 2
expect_err "bad2.json: entry 1: stored result: task: required"

case_ "no server configured: stored, exit 3, says how to submit"
rm -f store.json
SOTABENCH_URL= HOME="$SB_TMP" run_sb --out store.json --submit two.lua
expect_exit 3
expect_store_holds store.json 2
expect_err "no results server configured"

# ---- check mode and the cache (the library calls a benchmark loop makes) ----------------
HASH=$(printf 'a%.0s' $(seq 64))
cat >check.lua <<LUA
local r = sb.BenchmarkResult { model = "LeNet-5", task = "Image Classification",
  dataset = "MNIST", results = { ["Top 1 Accuracy"] = 0.5 }, run_hash = "$HASH" }
print("mode", sb.results.check_mode())
print("check", r:check())
local cached = sb.results.cached("$HASH")
print("cached", cached and cached["Top 1 Accuracy"] or "miss")
local known = sb.results.check_run_hashes { "$HASH" }
print("known", known and tostring(known["$HASH"]))
LUA

case_ "sbengine check: full mode, validated by the server, nothing stored"
ctl reset "$PORT"
rm -f store.json
run_sb check --out store.json check.lua
expect_exit 0
expect_out "mode	full"
expect_out "check	true"
expect_out "cached	miss"
expect_out "known	false"
expect_err "check mode: 1 result built, not stored"
expect_err "check: LeNet-5 on MNIST: valid"
if [ -e store.json ]; then sb_fail "check mode wrote the store file"; else sb_ok; fi

case_ "sbengine check: a result the server rejects is exit 3 with the server's errors"
ctl plan "$PORT" "ok,ok,ok,400"
run_sb check --out store.json check.lua
expect_exit 3
expect_err "check: LeNet-5 on MNIST: model: not a known model"
ctl plan "$PORT" ""

case_ "check: sotabench's reply shape: a non-empty response.errors is a rejection (exit 3)"
ctl plan "$PORT" "reject,ok,ok,reject"
run_sb check --out store.json check.lua
expect_exit 3
expect_out "check	nil	model: not on the leaderboard"
expect_err "check: LeNet-5 on MNIST: model: not on the leaderboard"
ctl plan "$PORT" ""

case_ "check --params and SOTABENCH_CHECK=params"
run_sb check --params check.lua
expect_out "mode	params"
SOTABENCH_CHECK=params run_sb check.lua
expect_out "mode	params"

case_ "the cache finds a submitted run hash; --no-cache does not ask"
run_sb --out store.json --submit check.lua
expect_exit 0
expect_out "cached	miss"
run_sb --out store.json check.lua
expect_out "cached	0.5"
expect_out "known	true"
ctl plan "$PORT" "ok,bare"
run_sb --out store.json check.lua
expect_out "cached	0.5"
ctl reset "$PORT"
run_sb --out store.json --no-cache check.lua
expect_out "cached	miss"
if "$PY" "$FAKE" state "$PORT" | grep -q get_results_by_hash; then sb_fail "--no-cache asked the server"; else sb_ok; fi

case_ "the cache lookup is fail-soft"
ctl plan "$PORT" "500*"
run_sb --out store.json check.lua
expect_exit 0
expect_out "cached	miss"
expect_err "cache lookup skipped"
ctl plan "$PORT" ""
SOTABENCH_URL= HOME="$SB_TMP" run_sb --out store.json check.lua
expect_exit 0
expect_out "cached	miss"
expect_out "check	nil	no results server configured"
SOTABENCH_URL= HOME="$SB_TMP" run_sb check check.lua
expect_exit 0
expect_err "no results server configured (--server URL or SOTABENCH_URL): the results were not validated"

finish
