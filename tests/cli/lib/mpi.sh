# Running sbengine under a real Open MPI in the CLI tests (sourced after lib/assert.sh):
# skips the test (exit 77, after `finish` when cases ran already) when the build has no MPI
# support or mpirun is missing; `run_mpi N ARGS...` runs N ranks of $SBENGINE and captures
# $OUT, $ERR and $RC as run_sb does (a 120 s limit: a hang fails rather than blocks);
# `mpi` is the launcher's command line for a test that starts it itself.
if "$SBENGINE" --version | grep -q "^MPI: not built"; then
    echo "this build has no MPI support (libopenmpi-dev, tools/setup): skipped"
    finish
    exit 77
fi
command -v mpirun >/dev/null || { echo "mpirun not found (install openmpi-bin: tools/setup): skipped"; finish; exit 77; }

# Root in a container needs --allow-run-as-root; --oversubscribe lets 3 ranks share 2 cores.
# Open MPI's own allocations still held at MPI_Finalize are not the engine's: no leak check
# in the ranks of the sanitizer build.
mpi=(mpirun --oversubscribe -x "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)

run_mpi() {
    local n=$1
    shift
    timeout 120 "${mpi[@]}" -n "$n" "$SBENGINE" "$@" >"$SB_TMP/.out" 2>"$SB_TMP/.err" </dev/null
    RC=$?
    OUT=$(cat "$SB_TMP/.out")
    ERR=$(cat "$SB_TMP/.err")
}
