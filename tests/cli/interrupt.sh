#!/usr/bin/env bash
# Never lose a result: a run stopped with Ctrl-C (SIGINT) or SIGTERM unwinds the script
# and still writes every result it created to the store file, then exits 128 + signal.
. "$(dirname "$0")/lib/assert.sh"

cat >slow.lua <<'LUA'
local r = sb.BenchmarkResult{ model = "M", task = "Image Classification", dataset = "MNIST",
                              results = { ["Top 1 Accuracy"] = 0.5 } }
io.open("started", "w"):close()
while true do end -- an evaluation that takes too long
LUA

for sig in INT TERM; do
    case_ "SIG$sig during the script stores the results"
    rm -f started store.json
    "$SBENGINE" --out store.json slow.lua >"$SB_TMP/.out" 2>"$SB_TMP/.err" &
    pid=$!
    for _ in $(seq 1 200); do [ -e started ] && break; sleep 0.05; done
    kill -s "$sig" "$pid"
    wait "$pid"
    RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
    if [ "$sig" = INT ]; then expect_exit 130; else expect_exit 143; fi
    expect_err "interrupted by SIG$sig"
    if lua5.4 -e 'local t = require("cjson").decode(io.open("store.json"):read("a"))
                  assert(#t == 1 and t[1].model == "M")' 2>"$SB_TMP/.lua_err"; then
        sb_ok
    else
        sb_fail "store.json lacks the result: $(cat "$SB_TMP/.lua_err")"
    fi
done

finish
