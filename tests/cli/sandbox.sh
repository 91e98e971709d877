#!/usr/bin/env bash
# `sbengine --sandbox SCRIPT.lua` (docs/cli.md): each way out of the sandbox fails, in Lua and
# through the engine's own C bindings (which Landlock stops in the kernel); a submission still
# runs, reads its own folder and the data root, and its result is stored. The kernel's part
# (Landlock) is checked where this kernel offers it, and the run says which protections were
# active either way. The seccomp half (no exec, no fork, no sockets) is tests/c/test_sandbox.c.
. "$(dirname "$0")/lib/assert.sh"
. "$(dirname "$0")/lib/fake_server.sh"
unset SOTABENCH_STORE_FILENAME SOTABENCH_CHECK SOTABENCH_URL
# LeakSanitizer's exit check starts a tracer process, which the sandbox forbids
if [ -n "${SB_LUA_SANITIZER_PRELOAD:-}" ]; then export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"; fi

abi=$("$SBENGINE" -e 'print((require "sbengine.core").sandbox.landlock_abi())')
if [ "${abi:-0}" -gt 0 ] 2>/dev/null; then
    landlock=1
else
    landlock=0
    echo "this kernel has no Landlock ($("$SBENGINE" -e 'print(select(2, (require "sbengine.core").sandbox.landlock_abi()))')):" \
         "the file-system escapes are checked only for the report that says so"
fi

mkdir -p sub .data out secret
echo "the submission's own file" >sub/weights.txt
echo "a data file" >.data/data.txt
echo "not for the script" >secret/key.txt
cjson=$("$SBENGINE" -e 'print(package.searchpath("cjson", package.cpath))')
cp "$cjson" sub/evilmod.so
printf 'return { exec = os.execute, popen = io.popen }\n' >sub/escape_helper.lua

cat >sub/escape.lua <<'LUA'
local function say(k, v) print(k .. "=" .. tostring(v)) end
say("os.execute", os.execute)
say("io.popen", io.popen)
say("package.loadlib", package.loadlib)
say("debug.getupvalue", debug.getupvalue)
say("debug.sethook", debug.sethook)
say("string_mt", getmetatable(""))
say("token", os.getenv("SOTABENCH_TOKEN"))
say("require_core", (pcall(require, "sbengine.core")))
say("require_server", (pcall(require, "sbengine._server")))
say("require_c_module", (pcall(require, "evilmod")))
say("bytecode", (load(string.dump(function() return 1 end))) ~= nil)
-- chunks the script loads run in the sandbox too
package.path = "sub/?.lua;" .. package.path
local helper = require "escape_helper"
say("helper_exec", helper.exec)
say("dofile_exec", dofile((arg[0]:gsub("escape", "escape_helper"))).exec)
say("load_exec", load("return os.execute")())
-- files: its own folder and the data root are readable
say("own_file", io.open((arg[0]:gsub("escape.lua", "weights.txt"))) ~= nil)
say("data_file", io.open(".data/data.txt") ~= nil)
-- and nothing else, whether through io or the engine's C bindings
say("etc_passwd", io.open("/etc/passwd") ~= nil)
say("environ", io.open("/proc/self/environ") ~= nil)
say("secret", io.open("secret/key.txt") ~= nil)
say("write_tmp", io.open(os.getenv("TMPDIR") .. "/sandbox-io.txt", "w") ~= nil)
local img = sb.zeros({ 2, 2, 3 }, { dtype = "uint8" })
say("save_png_tmp", (pcall(sb.image.save_png, os.getenv("TMPDIR") .. "/sandbox.png", img)))
say("safetensors_tmp", (pcall(sb.io.save_safetensors, os.getenv("TMPDIR") .. "/sandbox.safetensors", { x = sb.zeros({ 2 }) })))
say("safetensors_secret", (pcall(sb.io.save_safetensors, "secret/w.safetensors", { x = sb.zeros({ 2 }) })))
say("save_png_data", (pcall(sb.image.save_png, ".data/ok.png", img)))
sb.BenchmarkResult { model = "sandboxed", task = "T", dataset = "D", results = { a = 1 } }
LUA

mkdir -p tmp
case_ "an untrusted script: every escape fails, its result is stored, the run says what was active"
SOTABENCH_TOKEN=s3cr3t-token TMPDIR="$SB_TMP/tmp" run_sb --sandbox --out out/store.json sub/escape.lua
expect_exit 0
for k in os.execute io.popen package.loadlib debug.getupvalue debug.sethook string_mt token \
         helper_exec dofile_exec load_exec; do
    expect_out "$k=nil"
done
for k in require_core require_server require_c_module bytecode; do expect_out "$k=false"; done
expect_out "own_file=true"
expect_out "data_file=true"
expect_out "save_png_data=true"
expect_err "sbengine: sandbox: Lua: no os.execute, io.popen, package.loadlib, debug, C modules or engine internals"
expect_err "processes: seccomp (no exec, no fork); network: none"
expect_err "1 result stored in out/store.json"
if grep -q '"sandboxed"' out/store.json 2>/dev/null; then sb_ok; else sb_fail "the result is not in the store"; fi
if grep -q '"sandbox": "\(Landlock ABI [0-9]* (files.*), seccomp\|seccomp only\)' out/store.json; then sb_ok; else sb_fail "the result does not record the sandbox: $(grep sandbox out/store.json)"; fi
if printf '%s%s' "$OUT" "$ERR" | grep -q s3cr3t; then sb_fail "the token was shown"; else sb_ok; fi

if [ "$landlock" = 1 ]; then
    case_ "Landlock: files outside the allowed paths cannot be read or written, in Lua or in C"
    expect_err "file system: Landlock ABI $abi"
    for k in etc_passwd environ secret write_tmp save_png_tmp safetensors_tmp safetensors_secret; do
        expect_out "$k=false"
    done
    if ls tmp secret | grep -q sandbox; then sb_fail "files written outside: $(ls tmp secret)"; else sb_ok; fi
    if [ -e secret/w.safetensors ]; then sb_fail "secret/w.safetensors written"; else sb_ok; fi

    case_ "--allow-read opens one more path to reading, not to writing"
    printf 'print(io.open("secret/key.txt") ~= nil, io.open("secret/new.txt", "w") ~= nil)\n' >sub/allow.lua
    run_sb --sandbox --allow-read secret --out out/store.json sub/allow.lua
    expect_exit 0
    expect_out "true	false"
else
    case_ "without Landlock the run says that files are not limited by the kernel"
    expect_err "file system: NOT enforced by the kernel (no Landlock"
fi

case_ "the results client still works: the token reaches the configured server, never the script"
TOKEN="s3cret-sandbox-token"
start_fake_server port --token "$TOKEN"
PORT=$(cat port)
cat >sub/submit.lua <<'LUA'
print("token seen:", os.getenv("SOTABENCH_TOKEN"))
-- moving the server from the script does not move the token
require("sbengine.session").config.server = "http://127.0.0.1:1/"
sb.BenchmarkResult { model = "sandboxed submit", task = "T", dataset = "D", results = { a = 1 } }
LUA
SOTABENCH_TOKEN="$TOKEN" run_sb --sandbox --server "http://127.0.0.1:$PORT" --submit --out out/store.json sub/submit.lua
expect_exit 0
expect_out "token seen:	nil"
expect_err "sbengine: submitted sandboxed submit on D"
if [ "$landlock" = 1 ] && [ "$("$SBENGINE" -e 'print((require "sbengine.core").sandbox.landlock_abi() >= 4)')" = true ]; then
    expect_err "network: TCP to port $PORT only (Landlock)"
fi

case_ "--sandbox refuses -i and submit"
run_sb --sandbox -i
expect_exit 2
expect_err "--sandbox runs a script, not -i"

finish
