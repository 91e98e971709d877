#!/usr/bin/env bash
# The command line's help (issue 18, item 6): every subcommand has its own --help,
# `sbengine help [CMD]` says the same, unknown options and commands get a "did you mean",
# an option of another command says whose it is, and an engine option given after a
# benchmark script says it belongs before the script.
. "$(dirname "$0")/lib/assert.sh"
src="$SBENGINE_SOURCE_DIR"

case_ "sbengine --help lists every command with its usage"
run_sb --help
expect_exit 0
for cmd in run check submit bench fetch devices serve report help; do
    expect_out_re "^  $cmd +[a-z]"
done
expect_out "usage: sbengine [OPTIONS] SCRIPT.lua"
expect_out "--device D"

case_ "sbengine help is sbengine --help"
global="$OUT"
run_sb help
expect_exit 0
if [ "$OUT" = "$global" ]; then sb_ok; else sb_fail "sbengine help differs from sbengine --help"; fi

case_ "sbengine submit --help describes submit, with submit's options only"
run_sb submit --help
expect_exit 0
expect_out "usage: sbengine submit [OPTIONS] FILE"
expect_out "Sends every result stored in FILE"
expect_out "--server URL"
if printf '%s' "$OUT" | grep -q -- "--device"; then sb_fail "submit --help lists --device"; else sb_ok; fi
submit_help="$OUT"
run_sb help submit
expect_exit 0
if [ "$OUT" = "$submit_help" ]; then sb_ok; else sb_fail "help submit differs from submit --help"; fi

case_ "each command's --help starts with its own usage"
for cmd in run check submit bench fetch devices help; do
    run_sb "$cmd" --help
    expect_exit 0
    expect_out "usage: sbengine"
    if [ "$cmd" != run ]; then expect_out "sbengine $cmd"; fi
done
run_sb check --help
expect_out "--params"
run_sb bench --help
expect_out "--list"

case_ "sbengine help serve is the server's own help"
run_sb help serve
if [ "$RC" -eq 0 ]; then expect_out "usage: sbengine serve"; else expect_err "server plugin"; fi

case_ "an unknown option gets a did-you-mean"
run_sb --devcie cpu x.lua
expect_exit 2
expect_err "unknown option '--devcie' (did you mean '--device'?)"
run_sb check --parms x.lua
expect_exit 2
expect_err "sbengine check: unknown option '--parms' (did you mean '--params'?)"
expect_err "(see sbengine check --help)"
run_sb --zzzzzzzzzz x.lua
expect_exit 2
expect_err "unknown option '--zzzzzzzzzz' (see sbengine --help)"

case_ "an option of another command says whose it is"
run_sb submit --device cpu store.json
expect_exit 2
expect_err "option '--device' is not an option of \`submit\`; it belongs to: run, check, bench"

case_ "a mistyped command gets a did-you-mean; an unknown help topic too"
run_sb sumbit store.json
expect_exit 2
expect_err "unknown command 'sumbit' (did you mean 'submit'?)"
run_sb help chek
expect_exit 2
expect_err "unknown command 'chek' (did you mean 'check'?)"

case_ "a script that is not there is still a missing script, not a command"
run_sb no_such_script.lua
expect_exit 2
expect_err "cannot open script 'no_such_script.lua'"

case_ "an engine option after a benchmark script belongs before it"
run_sb "$src/benchmarks/mnist.lua" --device cpu model.lua
expect_exit 2
expect_err "'--device' is an engine option: it belongs before the benchmark (sbengine --device ... SCRIPT.lua MODEL.lua)"
run_sb bench mnist --out=x.json model.lua
expect_exit 2
expect_err "'--out' is an engine option: it belongs before the benchmark (sbengine bench --out ... mnist MODEL.lua)"

case_ "a typo'd benchmark option gets a did-you-mean"
run_sb bench mnist --batchsize 3 model.lua
expect_exit 2
expect_err "unknown option '--batchsize' (did you mean '--batch-size'?)"

case_ "commands that need an argument say so"
run_sb submit
expect_exit 2
expect_err "sbengine submit: needs the store file to send"
run_sb check
expect_exit 2
expect_err "sbengine check: needs a script"
run_sb bench
expect_exit 2
expect_err "sbengine bench: needs a benchmark name (sbengine bench --list lists them)"
run_sb devices extra
expect_exit 2
expect_err "sbengine devices: takes no arguments, got 'extra'"

finish
