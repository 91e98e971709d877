#!/usr/bin/env bash
# Nothing lost (issue 15): 4 real `sbengine submit` clients x 25 results while the server is
# killed with SIGKILL twice and restarted; clients resubmit until acknowledged; the database
# holds each result exactly once. tools/perf/server runs the same at 8 x 500.
. "$(dirname "$0")/lib/assert.sh"
[ -f "$SBENGINE_BUILD_DIR/lib/sbengine/sbengine_server.so" ] || { echo "no server plugin in this build: skipped"; exit 77; }
PY=$(command -v /usr/bin/python3 || command -v python3) || { echo "python3 not found: skipped"; exit 77; }
case_ "nothing lost"
OUT=$("$PY" "$SBENGINE_SOURCE_DIR/tools/perf/server" "$SBENGINE_BUILD_DIR" --only nothing-lost --clients 4 --results 25 --kills 2 2>&1)
RC=$? ERR=""
echo "$OUT"
expect_exit 0
expect_out "4 clients x 25 results, server killed (SIGKILL) 2 times: 100 stored, 100 distinct, expected 100"
finish
