#!/usr/bin/env bash
# The CLI contract of DESIGN §5: scripts and their arguments, -e, exit codes, messages.
. "$(dirname "$0")/lib/assert.sh"

case_ "a script runs and sees its arguments in arg and ..."
cat >args.lua <<'LUA'
print(arg[0], arg[1], arg[2], #arg, select("#", ...), ...)
print(type(sb), sb == require("sbengine"))
LUA
run_sb args.lua one --two
expect_exit 0
expect_out "args.lua	one	--two	2	2	one	--two"
expect_out "table	true"

case_ "engine options before the script, script options after it"
run_sb --quiet args.lua --quiet
expect_exit 0
expect_out "args.lua	--quiet"

case_ "run is the default command"
run_sb run args.lua x
expect_exit 0
expect_out "args.lua	x"

case_ "-e runs code, several times, in order"
run_sb -e 'io.write("a")' -e 'print("b")'
expect_exit 0
expect_out "ab"

case_ "a runtime error gives a traceback with file:line and exit 1"
cat >boom.lua <<'LUA'
local function inner() error("kaboom") end
inner()
LUA
run_sb boom.lua
expect_exit 1
expect_err "boom.lua:1: kaboom"
expect_err "stack traceback:"
expect_err "boom.lua:2:"

case_ "a syntax error is one line with file:line and exit 1"
printf 'local x = = 2\n' >syntax.lua
run_sb syntax.lua
expect_exit 1
expect_err "syntax.lua:1:"
expect_err_lines 1

case_ "a missing script is a usage error"
run_sb nope.lua
expect_exit 2
expect_err "cannot open script 'nope.lua'"
expect_err_lines 1

case_ "an unknown option is a usage error naming it"
run_sb --frobnicate x.lua
expect_exit 2
expect_err "unknown option '--frobnicate'"
expect_err_lines 1

case_ "an option without its value is a usage error"
run_sb --out
expect_exit 2
expect_err "option '--out' needs a value"

case_ "--threads must be a positive number"
run_sb --threads zero args.lua
expect_exit 2
expect_err "--threads needs a whole number"

case_ "--help and --version"
run_sb --help
expect_exit 0
expect_out "usage: sbengine [OPTIONS] SCRIPT.lua [ARGS...]"
expect_out "Exit status: 0 ok, 1 script error, 2 usage error, 3 evaluated but submission failed,"
run_sb --version
expect_exit 0
expect_out_re "^sbengine [0-9]+\.[0-9]+\.[0-9]+ \("
expect_out "Lua: Lua 5.4"
expect_out "BLAS: OpenBLAS"
expect_out_re "^BLAS kernel: [A-Za-z0-9]+ \\("
expect_out_re "^oneDNN: (oneDNN [0-9]+\\.[0-9]+\\.[0-9]+ \\([a-z0-9_]+\\)|not built with oneDNN|not available: .+)$"
expect_out_re "CUDA: (not built with CUDA|runtime [0-9]+\.[0-9]+, cuBLAS)"
expect_out_re "GPU: (none visible|cuda:0)"

case_ "a user's OPENBLAS_CORETYPE is respected and named; without it the engine decides"
OPENBLAS_CORETYPE=Prescott run_sb --version
expect_exit 0
expect_out "BLAS kernel: Prescott (the user's OPENBLAS_CORETYPE=Prescott)"
saved_coretype=${OPENBLAS_CORETYPE-unset}
unset OPENBLAS_CORETYPE
run_sb --version
[ "$saved_coretype" = unset ] || export OPENBLAS_CORETYPE="$saved_coretype"
expect_out_re "BLAS kernel: [A-Za-z0-9]+ \\((OpenBLAS's own choice|cpuid: )"

case_ "lua-cjson is reachable from scripts"
run_sb -e 'print(require("cjson").encode({ a = 1 }))'
expect_exit 0
expect_out '{"a":1}'

case_ "devices lists the CPU"
run_sb devices
expect_exit 0
expect_out_re "^cpu	[0-9]+ cores"

case_ "a script on stdin runs when stdin is not a terminal"
"$SBENGINE" - x <<<'print("from stdin", arg[1])' >"$SB_TMP/.out" 2>&1
RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=""
expect_exit 0
expect_out "from stdin	x"

case_ "-i gives a prompt that evaluates expressions"
printf '1 + 1\nlocal t = {\n}\nprint(type(t))\nerror("oops")\nprint("after")\n' | "$SBENGINE" -i >"$SB_TMP/.out" 2>"$SB_TMP/.err"
RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
expect_exit 0
expect_out "2"
expect_out "after"
expect_err "oops"

finish
