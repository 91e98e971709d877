# Starting the fake results server (tests/server/fake_sotabench.py) for the end-to-end tests.
# Source it after assert.sh:
#   . "$(dirname "$0")/lib/fake_server.sh"
#   start_fake_server port --token "$TOKEN"; PORT=$(cat port)
# Sets PY (Debian's python3 first: a pyenv shim adds ~0.1 s to each of the many small calls
# the tests make) and FAKE; without python3 the test is skipped (exit 77).
PY=$(command -v /usr/bin/python3 || command -v python3) || { echo "python3 not found: skipped"; exit 77; }
FAKE="$SBENGINE_SOURCE_DIR/tests/server/fake_sotabench.py"
FAKE_PIDS=""

# start_fake_server PORT_FILE [serve options...]: starts one server in the background (it is
# stopped when the test exits) and waits until it has written its port to PORT_FILE.
start_fake_server() {
    local port_file=$1
    shift
    "$PY" "$FAKE" serve --port-file "$port_file" "$@" &
    FAKE_PIDS="$FAKE_PIDS $!"
    trap 'kill $FAKE_PIDS 2>/dev/null; rm -rf "$SB_TMP"' EXIT
    for _ in $(seq 100); do [ -s "$port_file" ] && return 0; sleep 0.05; done
    echo "the fake server did not start (no port in $port_file)" >&2
    exit 1
}
