# A throwaway PostgreSQL server for the tests (Debian's postgresql package): initdb in a
# temporary folder, listening on 127.0.0.1 on a free port, trust authentication, stopped when
# the test exits. Source it after assert.sh; `start_postgres` sets PG_URL. Skips (exit 77)
# without the package. As root, the cluster belongs to the unprivileged user nobody
# (PostgreSQL refuses to run as root).
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    echo "PostgreSQL is not installed (Debian package postgresql): skipped"
    exit 77
fi

pg_as() { # run a PostgreSQL program as the cluster's owner
    if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

start_postgres() {
    PG_DIR=$(mktemp -d /tmp/sbengine-pg.XXXXXX)
    chmod 755 "$PG_DIR"
    [ "$(id -u)" -eq 0 ] && chown nobody "$PG_DIR"
    PG_PORT=$("${PY:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U sbtest --auth=trust -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 ||
        { echo "initdb failed: $(tail -5 "$PG_DIR/initdb.log")" >&2; exit 1; }
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$PG_DIR -c fsync=on" start >/dev/null ||
        { echo "PostgreSQL did not start: $(tail -5 "$PG_DIR/server.log")" >&2; exit 1; }
    PG_URL="postgresql://sbtest@127.0.0.1:$PG_PORT/postgres"
    trap 'pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1; rm -rf "$PG_DIR" "$SB_TMP"' EXIT
}
