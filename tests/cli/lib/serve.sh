# Starting a real `sbengine serve` for the end-to-end tests. Source it after assert.sh:
#   . "$(dirname "$0")/lib/serve.sh"
#   start_serve DB [serve options...]   -> SERVE_PORT, SERVE_PID, SERVE_URL (the API base)
#   stop_serve [SIGNAL]                 -> SERVE_RC (the server's exit status)
# A build without the server plugin (its packages were missing) skips the test (exit 77).
SERVE_PLUGIN="$SBENGINE_BUILD_DIR/lib/sbengine/sbengine_server.so"
if [ ! -f "$SERVE_PLUGIN" ]; then
    echo "no server plugin in this build: install libmicrohttpd-dev libsqlite3-dev libsodium-dev libjansson-dev (tools/setup): skipped"
    exit 77
fi
PY=$(command -v /usr/bin/python3 || command -v python3) || { echo "python3 not found: skipped"; exit 77; }
command -v curl >/dev/null || { echo "curl not found (Debian package curl): skipped"; exit 77; }
SERVE_PIDS=""
trap 'for p in $SERVE_PIDS; do kill -9 "$p" 2>/dev/null; done; rm -rf "$SB_TMP"' EXIT

start_serve() {
    local db=$1
    shift
    rm -f serve.out
    "$SBENGINE" serve --db "$db" --listen 127.0.0.1:0 "$@" >serve.out 2>>serve.err &
    SERVE_PID=$!
    SERVE_PIDS="$SERVE_PIDS $SERVE_PID"
    for _ in $(seq 400); do
        SERVE_PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' serve.out 2>/dev/null | grep -o '[0-9]*$')
        if [ -n "$SERVE_PORT" ]; then
            SERVE_URL="http://127.0.0.1:$SERVE_PORT/api/v0"
            return 0
        fi
        kill -0 "$SERVE_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "sbengine serve did not start: $(cat serve.err)" >&2
    exit 1
}

stop_serve() {
    kill "-${1:-TERM}" "$SERVE_PID" 2>/dev/null
    wait "$SERVE_PID" 2>/dev/null
    SERVE_RC=$?
}

# add_user DB NAME -> prints the token
add_user() { "$SBENGINE" serve --db "$1" --add-user "$2" 2>/dev/null; }

# sql DB QUERY: one value from the SQLite database (python3's sqlite3, always in Debian's python3)
sql() { "$PY" -c 'import sqlite3,sys; r=sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone(); print(r[0] if r else "")' "$1" "$2"; }
