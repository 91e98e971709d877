#!/usr/bin/env bash
# The server on PostgreSQL 15 (a real one, started here in a temporary folder): the whole
# end-to-end suite (tests/cli/server_e2e.sh) on it, two `sbengine serve` processes sharing the
# database with the same results sent to both at once (each stored once), and the
# nothing-lost run at a small size.
. "$(dirname "$0")/lib/assert.sh"
PY=$(command -v /usr/bin/python3 || command -v python3)
. "$(dirname "$0")/lib/postgres.sh"
[ -f "$SBENGINE_BUILD_DIR/lib/sbengine/sbengine_server.so" ] || { echo "no server plugin in this build: skipped"; exit 77; }
start_postgres

case_ "the end-to-end suite on PostgreSQL"
SB_TEST_DB="$PG_URL" bash "$SBENGINE_SOURCE_DIR/tests/cli/server_e2e.sh" >e2e.log 2>&1
RC=$? OUT=$(tail -3 e2e.log) ERR=$(grep FAIL e2e.log | head -20)
expect_exit 0

case_ "two servers on one database: the same results sent to both at once are stored once"
TOKEN=$("$SBENGINE" serve --db "$PG_URL" --add-user twin 2>/dev/null)
"$SBENGINE" --quiet --out twin.json -e 'for i = 1, 40 do sb.BenchmarkResult { model = "twin-" .. i, task = "T", dataset = "Twins", results = { acc = i / 40 } } end' 2>/dev/null
for n in a b; do
    "$SBENGINE" serve --db "$PG_URL" --listen 127.0.0.1:0 >"serve-$n.out" 2>&1 &
    echo $! >"serve-$n.pid"
done
for n in a b; do
    for _ in $(seq 200); do grep -q "listening on" "serve-$n.out" && break; sleep 0.05; done
done
PA=$(grep -o '127.0.0.1:[0-9]*' serve-a.out | head -1) PB=$(grep -o '127.0.0.1:[0-9]*' serve-b.out | head -1)
SOTABENCH_TOKEN=$TOKEN SOTABENCH_URL="http://$PA/api/v0" "$SBENGINE" submit twin.json >/dev/null 2>a.err &
CA=$!
SOTABENCH_TOKEN=$TOKEN SOTABENCH_URL="http://$PB/api/v0" "$SBENGINE" submit twin.json >/dev/null 2>b.err &
CB=$!
wait "$CA" "$CB"
N=$(pg_as "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U sbtest -d postgres -At -c "SELECT count(*), count(DISTINCT idempotency_key) FROM results WHERE dataset = 'Twins'")
OUT=$N ERR=$(cat a.err b.err)
[ "$N" = "40|40" ] && sb_ok || sb_fail "expected 40 results stored once each, got $N"
kill "$(cat serve-a.pid)" "$(cat serve-b.pid)"
wait "$(cat serve-a.pid)" "$(cat serve-b.pid)" 2>/dev/null

case_ "PostgreSQL restarted under a running server: it reconnects"
"$SBENGINE" serve --db "$PG_URL" --listen 127.0.0.1:0 >serve-r.out 2>&1 &
SR=$!
for _ in $(seq 200); do grep -q "listening on" serve-r.out && break; sleep 0.05; done
PR=$(grep -o '127.0.0.1:[0-9]*' serve-r.out | head -1)
curl -s -o /dev/null "http://$PR/api/v0/benchmarks/"
pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w restart >/dev/null 2>&1
CODE=000
for _ in 1 2 3 4 5; do
    CODE=$(curl -s -o /dev/null -w '%{http_code}' "http://$PR/api/v0/benchmarks/")
    [ "$CODE" = 200 ] && break
done
OUT=$CODE ERR=$(tail -3 serve-r.out)
[ "$CODE" = 200 ] && sb_ok || sb_fail "after the restart the server answers $CODE"
SOTABENCH_TOKEN=$TOKEN SOTABENCH_URL="http://$PR/api/v0" SBENGINE_HTTP_BACKOFF=0.1 run_sb submit twin.json
expect_exit 0
kill "$SR"
wait "$SR" 2>/dev/null

case_ "nothing lost on PostgreSQL: 4 clients x 25 results, the server killed twice"
OUT=$("$PY" "$SBENGINE_SOURCE_DIR/tools/perf/server" "$SBENGINE_BUILD_DIR" --only nothing-lost --clients 4 --results 25 --kills 2 --db "$PG_URL" 2>&1)
RC=$? ERR=""
echo "$OUT"
expect_exit 0
expect_out "-> OK"
finish
