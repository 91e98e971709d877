#!/usr/bin/env bash
# sb.progress on stderr as the CLI runs it (DESIGN §5): on a terminal redrawn in place and
# coloured unless NO_COLOR is set or TERM=dumb; nothing with --quiet or off a terminal, unless
# --progress forces plain lines. `script` gives the engine a terminal.
. "$(dirname "$0")/lib/assert.sh"
command -v script >/dev/null || { echo "script (util-linux) not found: skipped"; exit 77; }
loop='for i in sb.progress(3, {desc = "x"}) do end'
ESC=$'\033'

# on_tty FILE ENV... -- ARGS...: runs sbengine ARGS on a pseudo-terminal, its output in FILE.
on_tty() {
    local file=$1 env=()
    shift
    while [ "$1" != -- ]; do env+=("$1"); shift; done
    shift
    local cmd
    printf -v cmd '%q ' "$SBENGINE" "$@"
    env "${env[@]}" script -qec "$cmd" "$file" >"$SB_TMP/.out" 2>&1 </dev/null
    RC=$?; OUT=$(cat "$file"); ERR=""
}

case_ "a terminal: redrawn in place, in colour"
on_tty plain.txt NO_COLOR= TERM=xterm -- -e "$loop"
expect_exit 0
expect_out "x: 100%|"
expect_out "| 3/3 ["
expect_out $'\r'"x:"
expect_out "${ESC}[K"
expect_out "${ESC}[32m"

case_ "NO_COLOR and TERM=dumb: no colour"
on_tty nocolor.txt NO_COLOR=1 TERM=xterm -- -e "$loop"
expect_out "x: 100%|"
if printf '%s' "$OUT" | grep -qF "${ESC}[32m"; then sb_fail "coloured with NO_COLOR"; else sb_ok; fi
on_tty dumb.txt NO_COLOR= TERM=dumb -- -e "$loop"
expect_out "x: 100%|"
if printf '%s' "$OUT" | grep -qF "${ESC}[32m"; then sb_fail "coloured with TERM=dumb"; else sb_ok; fi

case_ "--quiet: no bar, even on a terminal"
on_tty quiet.txt NO_COLOR= TERM=xterm -- --quiet -e "$loop"
expect_exit 0
if printf '%s' "$OUT" | grep -qF "x:"; then sb_fail "a bar with --quiet"; else sb_ok; fi

case_ "off a terminal: nothing, unless --progress forces plain lines"
run_sb -e "$loop"
expect_exit 0
if [ -z "$ERR" ]; then sb_ok; else sb_fail "a bar off a terminal"; fi
NO_COLOR= TERM=xterm run_sb --progress -e "$loop"
expect_err "x: 100%|"
if printf '%s' "$ERR" | grep -qF -e $'\r' -e "$ESC"; then sb_fail "escapes off a terminal"; else sb_ok; fi

finish
