#!/usr/bin/env bash
# Meter values that are not numbers (issue 18, item 13): per-class lists, a confusion matrix,
# a tensor, a string go to the result's `extra` under the same names, never dropped; the
# store file keeps them (between config and environment) and the results server accepts them.
. "$(dirname "$0")/lib/assert.sh"
unset SOTABENCH_STORE_FILENAME SOTABENCH_CHECK SOTABENCH_URL SOTABENCH_TOKEN SBENGINE_METRICS_PATH
mkdir -p .data/vision && cp -r "$SBENGINE_FIXTURES/bench/mnist512" .data/vision/mnist

mkdir -p mine
cat >mine/odd.lua <<'LUA'
-- a meter whose value mixes a number, a list, a tensor and a string
local metrics = require "sbengine.metrics"
metrics.register("odd", metrics.define {
  name = "odd", state = { n = "sum" },
  init = function() return { n = 0 } end,
  update = function(s, output) s.n = s.n + output:size(1) end,
  compute = function(s)
    return { count = s.n, halves = { s.n / 2, s.n / 2 }, eye = sb.zeros(2, 2) + 1,
             note = "made by odd" }
  end,
})
metrics.register("listy", metrics.define {
  name = "listy", state = { n = "sum" },
  init = function() return { n = 0 } end,
  update = function(s, output) s.n = s.n + 1 end,
  compute = function(s) return { s.n, s.n * 2 } end,
})
LUA
cat >cm.lua <<'LUA'
local sb = require "sbengine"
local B = sb.bench.define { name = "CM", task = "Image Classification", num_classes = 10,
  dataset = function(o) return sb.data.MNIST { root = o.data_root, train = false,
    transform = sb.transforms.ToTensor() } end,
  defaults = { data_root = "./.data/vision/mnist", batch_size = 128, num_workers = 0 },
  metrics = { "topk_accuracy", { "confusion_matrix", { num_classes = 10 }, name = "CM" },
              "odd", "listy" } }
local r = B.benchmark { model = sb.nn.Sequential(sb.nn.Flatten(), sb.nn.Linear(784, 10)),
  paper_model_name = "linear" }
local total = 0
for _, row in ipairs(r.extra["CM matrix"]) do for _, c in ipairs(row) do total = total + c end end
print("matrix", #r.extra["CM matrix"], #r.extra["CM matrix"][1], total)
print("precision", #r.extra["CM precision"], r.results["CM precision_macro"] ~= nil)
print("odd", r.results.count, r.extra.halves[1], r.extra.eye[2][2], r.extra.note)
print("listy", r.extra.listy[1], r.extra.listy[2], r.results.listy)
print(r)
LUA

case_ "a benchmark's non-number meter values are kept in extra"
run_sb --quiet --out store.json --metrics mine cm.lua
expect_exit 0
expect_out "matrix	10	10	512"
expect_out "precision	10	true"
expect_out "odd	512	256.0	1.0	made by odd"
expect_out "listy	4	8	nil"
expect_out_re "^  extra$"
expect_out_re "^    CM matrix +\[\[[0-9]"

case_ "the store file keeps extra between config and environment"
if lua5.4 -e '
  local text = io.open("store.json"):read("a")
  local c, e, v = text:find([["config"]]), text:find([["extra"]]), text:find([["environment"]])
  assert(c and e and v and c < e and e < v, "key order")
  local d = require("cjson").decode(text)[1]
  assert(#d.extra["CM matrix"] == 10 and d.extra.note == "made by odd")
  assert(d.results["CM accuracy"] and d.results["Top 1 Accuracy"])'; then sb_ok; else sb_fail "store.json: $(head -c 600 store.json)"; fi

case_ "sbengine submit reads a stored extra back unchanged"
run_sb -e '
  local d = require("cjson").decode(io.open("store.json"):read("a"))[1]
  local r = require("sbengine.core").result.from_dict(d)
  print(r.extra.note, #r.extra["CM support"])'
expect_exit 0
expect_out "made by odd	10"

case_ "extra must be a table of name = value"
run_sb -e 'sb.BenchmarkResult { model = "M", task = "T", dataset = "D", extra = { 1, 2 } }'
expect_exit 1
expect_err "BenchmarkResult: extra: expected a table of name = value (the meter values that are not numbers), got array"
run_sb -e 'sb.BenchmarkResult { model = "M", task = "T", dataset = "D", extra = { f = print } }'
expect_exit 1
expect_err 'extra["f"]: a function cannot be stored in JSON'

if [ -f "$SBENGINE_BUILD_DIR/lib/sbengine/sbengine_server.so" ] && command -v curl >/dev/null; then
    . "$(dirname "$0")/lib/serve.sh"
    export SBENGINE_HTTP_BACKOFF=0.01
    case_ "the results server accepts extra and keeps it"
    TOKEN=$(add_user "$SB_TMP/r.sqlite" alice)
    start_serve "$SB_TMP/r.sqlite"
    SOTABENCH_URL="$SERVE_URL" SOTABENCH_TOKEN="$TOKEN" run_sb submit store.json
    expect_exit 0
    expect_err "submitted linear on CM (new)"
    body=$(sql "$SB_TMP/r.sqlite" 'SELECT body FROM results')
    if printf '%s' "$body" | grep -q '"extra":{"CM f1":\[' ; then sb_ok; else sb_fail "the stored body lacks extra: ${body:0:300}"; fi
    case_ "the results server refuses an extra that is not an object"
    printf '{"model":"M","task":"T","dataset_name":"D","results":{"a":1},"extra":[1]}' >bad.json
    OUT=$(curl -s -H "Authorization: JWT $TOKEN" -H 'Content-Type: application/json' \
        --data-binary @bad.json "$SERVE_URL/check/results/")
    RC=0 ERR=""
    expect_out "extra: must be an object or null"
    stop_serve
else
    echo "SKIP [the results server accepts extra] no server plugin or curl in this build"
fi

finish
