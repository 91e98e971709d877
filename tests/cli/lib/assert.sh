# Helpers for the end-to-end CLI tests (tests/cli/*.sh). Source it first:
#   . "$(dirname "$0")/lib/assert.sh"
# `run_sb ARGS...` runs $SBENGINE and captures $OUT, $ERR and $RC; the expect_* helpers
# print what differs and count failures; `finish` prints the summary and sets the exit code.
set -u
: "${SBENGINE:?SBENGINE must point to the sbengine binary (ctest sets it)}"
SB_TMP=$(mktemp -d)
trap 'rm -rf "$SB_TMP"' EXIT
cd "$SB_TMP" || exit 1
sb_passed=0
sb_failed=0
sb_current=""

case_() { sb_current="$1"; }

run_sb() {
    "$SBENGINE" "$@" >"$SB_TMP/.out" 2>"$SB_TMP/.err" </dev/null
    RC=$?
    OUT=$(cat "$SB_TMP/.out")
    ERR=$(cat "$SB_TMP/.err")
}

# Plain lua5.4 (not instrumented) loading the sanitizer build's sbengine.so needs the
# sanitizer runtimes preloaded; ctest sets SB_LUA_SANITIZER_PRELOAD in that build.
lua54() {
    if [ -n "${SB_LUA_SANITIZER_PRELOAD:-}" ]; then
        LD_PRELOAD="$SB_LUA_SANITIZER_PRELOAD" ASAN_OPTIONS=detect_leaks=0 lua5.4 "$@"
    else
        lua5.4 "$@"
    fi
}

sb_fail() {
    echo "FAIL [$sb_current] $*" >&2
    echo "  exit: $RC" >&2
    echo "  stdout: $(printf '%s' "$OUT" | head -c 2000)" >&2
    echo "  stderr: $(printf '%s' "$ERR" | head -c 2000)" >&2
    sb_failed=$((sb_failed + 1))
}
sb_ok() { sb_passed=$((sb_passed + 1)); }

expect_exit() { if [ "$RC" -eq "$1" ]; then sb_ok; else sb_fail "expected exit $1"; fi; }
expect_out() { if printf '%s' "$OUT" | grep -qF -- "$1"; then sb_ok; else sb_fail "stdout lacks '$1'"; fi; }
expect_err() { if printf '%s' "$ERR" | grep -qF -- "$1"; then sb_ok; else sb_fail "stderr lacks '$1'"; fi; }
expect_out_re() { if printf '%s' "$OUT" | grep -qE -- "$1"; then sb_ok; else sb_fail "stdout does not match /$1/"; fi; }
expect_err_re() { if printf '%s' "$ERR" | grep -qE -- "$1"; then sb_ok; else sb_fail "stderr does not match /$1/"; fi; }
expect_err_lines() {
    local n
    n=$(printf '%s\n' "$ERR" | grep -c .)
    if [ "$n" -eq "$1" ]; then sb_ok; else sb_fail "expected $1 stderr line(s), got $n"; fi
}
expect_no_out() { if [ -z "$OUT" ]; then sb_ok; else sb_fail "expected empty stdout"; fi; }

finish() {
    echo "$sb_passed passed, $sb_failed failed"
    [ "$sb_failed" -eq 0 ]
}
