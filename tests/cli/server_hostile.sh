#!/usr/bin/env bash
# Hostile input against a real `sbengine serve` (tests/server/hostile.py): 10 MB bodies,
# invalid UTF-8, deep nesting, NaN, SQL metacharacters, scripts in paths, slow clients.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/serve.sh"
TOKEN=$(add_user results.sqlite mallory)
start_serve results.sqlite --timeout 1
case_ "hostile requests"
OUT=$("$PY" "$SBENGINE_SOURCE_DIR/tests/server/hostile.py" "$SERVE_PORT" "$TOKEN" 2>&1)
RC=$?
ERR=""
echo "$OUT"
expect_exit 0
case_ "the server survived and stops cleanly"
stop_serve TERM
RC=$SERVE_RC
expect_exit 0
finish
