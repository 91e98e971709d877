#!/usr/bin/env bash
# The real client against a real `sbengine serve` on an ephemeral 127.0.0.1 port (SQLite, or
# PostgreSQL when SB_TEST_DB is a postgresql:// URL: tests/cli/server_postgres.sh): users and
# tokens, --submit, submit FILE, check (valid and rejected), the cache, run hashes, 401, 429,
# auth/token, the pages and a clean stop.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/serve.sh"
DB=${SB_TEST_DB:-$SB_TMP/results.sqlite}
export SBENGINE_HTTP_BACKOFF=0.01 SBENGINE_HTTP_TIMEOUT=20 SBENGINE_HTTP_RETRY_AFTER_MAX=0
unset SOTABENCH_STORE_FILENAME SOTABENCH_CHECK SOTABENCH_URL SOTABENCH_TOKEN

case_ "--add-user prints a token once; the database keeps only its hash"
TOKEN=$(add_user "$DB" alice)
RC=$?
expect_exit 0
if [[ "$TOKEN" =~ ^[0-9a-f]{64}$ ]]; then sb_ok; else sb_fail "token '$TOKEN' is not 64 hex digits"; fi
if [ -z "${SB_TEST_DB:-}" ]; then
    if grep -qF "$TOKEN" "$DB"* 2>/dev/null; then sb_fail "the token is stored in clear"; else sb_ok; fi
fi
run_sb serve --db "$DB" --add-user alice
expect_exit 1
expect_err "a user named 'alice' exists already"

start_serve "$DB"
export SOTABENCH_URL="$SERVE_URL" SOTABENCH_TOKEN="$TOKEN"

cat >two.lua <<'LUA'
for _, name in ipairs { "LeNet-5 <script>alert('x')</script>", "Robert'); DROP TABLE results;--" } do
  sb.BenchmarkResult { model = name, task = "Image Classification", dataset = "MNIST",
    results = { ["Top 1 Accuracy"] = name:match("^LeNet") and 0.99 or 0.95, ["Top 5 Accuracy"] = 1.0 },
    speed_mem_metrics = { ["Tasks / Evaluation Time"] = name:match("^LeNet") and 100 or 900,
                          ["Tasks"] = 1000, ["Evaluation Time"] = 1.0 },
    arxiv_id = "1512.03385", run_hash = string.rep(name:match("^LeNet") and "a" or "d", 64) }
end
print("evaluated")
LUA

case_ "--submit: every result reaches the server once, and says where its page is"
run_sb --out store.json --submit two.lua
expect_exit 0
expect_err "submitted LeNet-5 <script>alert('x')</script> on MNIST (new): http://127.0.0.1:$SERVE_PORT/r/1"
expect_err "(new): http://127.0.0.1:$SERVE_PORT/r/2"
CODE=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SERVE_PORT/r/2")
[ "$CODE" = 200 ] && sb_ok || sb_fail "the printed page /r/2 answered $CODE"
if [ -z "${SB_TEST_DB:-}" ]; then
    [ "$(sql "$DB" 'SELECT count(*) FROM results')" = 2 ] && sb_ok || sb_fail "the database does not hold 2 results"
fi

case_ "submit FILE again: acknowledged, nothing stored twice"
run_sb submit store.json
expect_exit 0
expect_err "already on the server"
if [ -z "${SB_TEST_DB:-}" ]; then
    [ "$(sql "$DB" 'SELECT count(*) FROM results')" = 2 ] && sb_ok || sb_fail "a result was stored twice"
fi

cat >lookup.lua <<'LUA'
local A = string.rep("a", 64)
local cached = sb.results.cached(A)
print("cached", cached and cached["Top 1 Accuracy"] or "miss")
print("unknown", sb.results.cached(string.rep("0", 64)) and "hit" or "miss")
local known = sb.results.check_run_hashes { A, string.rep("0", 64) }
print("known", tostring(known[A]), tostring(known[string.rep("0", 64)]))
LUA
case_ "the cache (sotabench's bare dict) and run hashes"
run_sb lookup.lua
expect_exit 0
expect_out "cached	0.99"
expect_out "unknown	miss"
expect_out "known	true	false"

cat >check_ok.lua <<'LUA'
sb.BenchmarkResult { model = "Checked", task = "Image Classification", dataset = "MNIST",
  results = { ["Top 1 Accuracy"] = 0.5, ["Top 5 Accuracy"] = 0.9 } }
LUA
cat >check_bad.lua <<'LUA'
local r = sb.BenchmarkResult { model = "Odd", task = "Image Classification", dataset = "MNIST",
  results = { ["Top 3 Accuracy"] = 0.5 } }
print("check", r:check())
LUA
case_ "check: a valid result"
run_sb check check_ok.lua
expect_exit 0
expect_err "check: Checked on MNIST: valid"
case_ "check: metrics that differ from the benchmark's earlier results are rejected (exit 3)"
run_sb check check_bad.lua
expect_exit 3
expect_out "check	nil	results: the metrics (Top 3 Accuracy) differ from this benchmark's earlier results (Top 1 Accuracy,Top 5 Accuracy)"
expect_err "check: Odd on MNIST: results: the metrics (Top 3 Accuracy) differ"

case_ "a result the server refuses is not stored, and says why (exit 3)"
run_sb --out bad.json --submit check_bad.lua
expect_exit 3
expect_err "differ from this benchmark's earlier results"
expect_err "sbengine submit bad.json"

case_ "401: a wrong token"
SOTABENCH_TOKEN=0000 run_sb submit store.json
expect_exit 3
expect_err "Unauthorized - check the token"
case_ "401: no token"
env -u SOTABENCH_TOKEN "$SBENGINE" submit store.json >/dev/null 2>.err </dev/null
RC=$? ERR=$(cat .err) OUT=""
expect_exit 3
expect_err "Unauthorized"

case_ "POST auth/token/: a user with a password gets a token that works"
printf 'correct horse\n' | "$SBENGINE" serve --db "$DB" --add-user bob --password-stdin >/dev/null 2>&1
BOB=$(curl -s -X POST -d '{"username": "bob", "password": "correct horse"}' "$SERVE_URL/auth/token/" |
      "$PY" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
SOTABENCH_TOKEN="$BOB" run_sb submit store.json
expect_exit 0
CODE=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"username": "bob", "password": "wrong"}' "$SERVE_URL/auth/token/")
[ "$CODE" = 401 ] && sb_ok || sb_fail "a wrong password got HTTP $CODE"

case_ "reads are public: results/ and benchmarks/"
BODY=$(curl -s "$SERVE_URL/results/?dataset=MNIST&task=Image%20Classification")
printf '%s' "$BODY" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if len(d)==2 and d[0]["submitter"]=="alice" else 1)' && sb_ok || sb_fail "results/: $BODY"
BODY=$(curl -s "$SERVE_URL/benchmarks/")
printf '%s' "$BODY" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[0]["results"]==2 and d[0]["best"]["model"].startswith("LeNet") else 1)' && sb_ok || sb_fail "benchmarks/: $BODY"

case_ "pages: the leaderboard escapes every user string and sorts by any column"
PAGE=$(curl -s "http://127.0.0.1:$SERVE_PORT/b/MNIST/Image%20Classification")
OUT=$PAGE
expect_out "LeNet-5 &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
expect_out "Robert&#39;); DROP TABLE results;--"
if printf '%s' "$PAGE" | grep -q "<script>"; then sb_fail "a raw <script> on the page"; else sb_ok; fi
expect_out '<svg id="pareto"'
expect_out 'https://arxiv.org/abs/1512.03385'
first_model() { printf '%s' "$1" | grep -o '<td class="model"><a href="[^"]*">[^<]*' | head -1 | sed 's/.*">//'; }
[ "$(first_model "$PAGE")" = "LeNet-5 &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" ] && sb_ok || sb_fail "default order: $(first_model "$PAGE")"
PAGE=$(curl -s "http://127.0.0.1:$SERVE_PORT/b/MNIST/Image%20Classification?sort=Tasks%20%2F%20Evaluation%20Time&order=desc")
[ "$(first_model "$PAGE")" = "Robert&#39;); DROP TABLE results;--" ] && sb_ok || sb_fail "sorted by throughput: $(first_model "$PAGE")"
CSV=$(curl -s "http://127.0.0.1:$SERVE_PORT/b/MNIST/Image%20Classification?format=csv")
OUT=$CSV
expect_out "\"Robert'); DROP TABLE results;--\",0.95,1,900,1000,1"
OUT=$(curl -s "http://127.0.0.1:$SERVE_PORT/r/1")
expect_out "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
expect_out "alice"
OUT=$(curl -s "http://127.0.0.1:$SERVE_PORT/")
expect_out ">MNIST</a>"
CODE=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SERVE_PORT/r/999")
[ "$CODE" = 404 ] && sb_ok || sb_fail "/r/999 answered $CODE"

case_ "the README's flow: examples/sotabench.lua --submit, then ranked on its leaderboard with plots"
run_sb --data-root "$SBENGINE_FIXTURES/bench/mnist512" --out lenet.json --quiet --submit "$SBENGINE_SOURCE_DIR/examples/sotabench.lua"
expect_exit 0
expect_err "submitted LeNet-5 on MNIST (new)"
OUT=$(curl -s "http://127.0.0.1:$SERVE_PORT/b/MNIST/Image%20Classification")
expect_out ">LeNet-5</a>"
expect_out '<svg id="pareto"'
expect_out '<svg id="history"'

case_ "sbengine report: the same leaderboard from the store file, one HTML file"
run_sb report store.json -o report.html
expect_exit 0
expect_err "2 results in 1 benchmark written to report.html"
OUT=$(cat report.html)
expect_out "LeNet-5 &lt;script&gt;"
expect_out '<svg id="pareto"'
expect_out 'class="leaderboard"'

case_ "SIGTERM stops the server cleanly"
stop_serve TERM
RC=$SERVE_RC
expect_exit 0
ERR=$(cat serve.err)
expect_err "SIGTERM: stopping"

case_ "--public-url: replies name the result's page at the address users reach"
start_serve "$DB" --public-url https://results.example.org/sb/
ERR=$(cat serve.out)
expect_err "public URL https://results.example.org/sb/"
first_result() { "$SBENGINE" -e "local l = require('cjson').decode(io.open('store.json'):read('a')); io.write($1)"; }
OUT=$(curl -s -X POST -H "Authorization: JWT $TOKEN" -H "Idempotency-Key: $(first_result 'l[1].idempotency_key')" \
  --data-binary "$(first_result "require('cjson').encode(l[1])")" "$SERVE_URL/results/")
expect_out '"url":"https://results.example.org/sb/r/1"'
stop_serve TERM

case_ "429 with Retry-After when a token goes over its rate"
start_serve "$DB" --rate-limit 2
export SOTABENCH_URL="$SERVE_URL"
for _ in 1 2; do curl -s -o /dev/null -H "Authorization: JWT $TOKEN" "$SERVE_URL/benchmarks/"; done
HEADERS=$(curl -s -D - -o /dev/null -H "Authorization: JWT $TOKEN" "$SERVE_URL/benchmarks/")
OUT=$HEADERS
expect_out "429"
expect_out_re "Retry-After: [0-9]+"
run_sb submit store.json
expect_exit 3
expect_err "SotaBench under pressure! (Too many requests)"
stop_serve INT
RC=$SERVE_RC
expect_exit 0
finish
