#!/usr/bin/env bash
# The install layout: `cmake --install` puts the binary, the Lua module and the Lua library
# where Lua looks (<prefix>/share/lua/5.4/sbengine/, <prefix>/<libdir>/lua/5.4/sbengine.so),
# so both the installed `sbengine` and plain `lua5.4`/busted find them with no environment
# variables: tested by installing with prefix /usr/local into a DESTDIR and giving lua5.4
# nothing but its own default search path with /usr/local/ moved into that DESTDIR. User
# modules come from LUA_PATH and from a LuaRocks tree (~/.luarocks).
. "$(dirname "$0")/lib/assert.sh"
: "${SBENGINE_BUILD_DIR:?}" "${SBENGINE_SOURCE_DIR:?}"

root="$SB_TMP/root"
prefix="$root/usr/local"
# The install below writes the build folder's install_manifest.txt with /usr/local paths:
# put back what was there, so that a later `make uninstall` never sees them.
manifest="$SBENGINE_BUILD_DIR/install_manifest.txt"
[ -e "$manifest" ] && cp "$manifest" "$SB_TMP/manifest.saved"
trap 'if [ -e "$SB_TMP/manifest.saved" ]; then cp "$SB_TMP/manifest.saved" "$manifest"; else rm -f "$manifest"; fi; rm -rf "$SB_TMP"' EXIT
if ! DESTDIR="$root" cmake --install "$SBENGINE_BUILD_DIR" --prefix /usr/local >"$SB_TMP/install.log" 2>&1; then
    cat "$SB_TMP/install.log" >&2
    echo "cmake --install failed" >&2
    exit 1
fi
installed="$prefix/bin/sbengine"
libdir=$(cd "$prefix" && dirname "$(ls -d lib*/lua/5.4/sbengine.so)")
# Nothing from the source tree may leak into what the installed binary sees.
unset LUA_PATH LUA_CPATH LUA_PATH_5_4 LUA_CPATH_5_4 SBENGINE_CUDA_PLUGIN
# Lua's own defaults, with /usr/local/ moved into the DESTDIR: what an install to /usr/local sees.
default_path=$(lua5.4 -e 'io.write(package.path)')
default_cpath=$(lua5.4 -e 'io.write(package.cpath)')
as_installed() {
    LUA_PATH="${default_path//\/usr\/local\//$prefix/}" LUA_CPATH="${default_cpath//\/usr\/local\//$prefix/}" "$@"
}
case "$default_path" in
    */usr/local/share/lua/5.4/?.lua*) ;;
    *) echo "lua5.4's default path lacks /usr/local/share/lua/5.4: $default_path" >&2; exit 1 ;;
esac

case_ "the layout"
for f in bin/sbengine "$libdir/sbengine.so" share/lua/5.4/sbengine/init.lua \
         share/lua/5.4/sbengine/session.lua share/lua/5.4/sbengine/benchmarks/mnist.lua; do
    if [ -e "$prefix/$f" ]; then sb_ok; else RC=0 OUT="" ERR=""; sb_fail "missing $f"; fi
done

case_ "the installed binary uses the installed library, not the source tree"
SBENGINE="$installed" run_sb -e 'print(package.searchpath("sbengine", package.path))'
expect_exit 0
expect_out "$prefix/bin/../share/lua/5.4/sbengine/init.lua"

case_ "installed benchmarks are found by require and by sbengine bench"
SBENGINE="$installed" run_sb -e "print(package.searchpath('sbengine.benchmarks.mnist', package.path))"
expect_exit 0
expect_out "$prefix/bin/../share/lua/5.4/sbengine/benchmarks/mnist.lua"
SBENGINE="$installed" run_sb bench --list
expect_exit 0
expect_out_re "^mnist +MNIST .*/share/lua/5.4/sbengine/benchmarks/mnist.lua$"
SBENGINE="$installed" run_sb fetch --list
expect_exit 0
expect_out_re "^mnist "

case_ "plain lua5.4 on its default path loads the installed module and library"
as_installed lua54 -e 'local sb = require "sbengine"; print("version", sb.version)
  print(package.searchpath("sbengine", package.path))' >"$SB_TMP/.out" 2>"$SB_TMP/.err"
RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
expect_exit 0
expect_out "version	"
expect_out "$prefix/share/lua/5.4/sbengine/init.lua"

case_ "plain lua5.4 stores the results of a script when it ends"
mkdir -p plain && (cd plain && as_installed lua54 -e 'local sb = require "sbengine"
  sb.BenchmarkResult{model = "M", task = "T", dataset = "D"}' >"$SB_TMP/.out" 2>"$SB_TMP/.err")
RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
expect_exit 0
expect_err "1 result stored in sotabench_results.json"
if grep -q '"model": "M"' plain/sotabench_results.json 2>/dev/null; then sb_ok; else sb_fail "no store file"; fi

case_ "busted on its default path runs a spec that requires sbengine (and stores nothing)"
if command -v busted >/dev/null; then
    mkdir -p spec
    cat >spec/installed_spec.lua <<'LUA'
describe("the installed sbengine", function()
  it("loads", function()
    local sb = require "sbengine"
    assert.is_string(sb.version)
    sb.BenchmarkResult{ model = "M", task = "T", dataset = "D" }
  end)
end)
LUA
    (cd spec && as_installed lua54 "$(command -v busted)" installed_spec.lua >"$SB_TMP/.out" 2>"$SB_TMP/.err")
    RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
    expect_exit 0
    expect_out "1 success"
    if [ -e spec/sotabench_results.json ]; then sb_fail "busted wrote a store file"; else sb_ok; fi
else
    echo "note: busted is not installed (lua-busted); that case is skipped" >&2
fi

case_ "LUA_PATH is honoured for user modules"
mkdir -p "$SB_TMP/mods"
echo 'return { hello = "from LUA_PATH" }' >"$SB_TMP/mods/usermod.lua"
LUA_PATH="$SB_TMP/mods/?.lua;;" SBENGINE="$installed" run_sb -e 'print(require("usermod").hello)'
expect_exit 0
expect_out "from LUA_PATH"

case_ "a LuaRocks tree in ~/.luarocks is honoured"
mkdir -p "$SB_TMP/home/.luarocks/share/lua/5.4"
echo 'return { hello = "from a rock" }' >"$SB_TMP/home/.luarocks/share/lua/5.4/rockmod.lua"
HOME="$SB_TMP/home" SBENGINE="$installed" run_sb -e 'print(require("rockmod").hello)'
expect_exit 0
expect_out "from a rock"

if "$installed" --version | grep -q "^CUDA: runtime"; then
    case_ "the installed binary and Lua module find the installed CUDA plugin"
    expect_file="$prefix/$libdir/../../sbengine/sbengine_cuda.so"
    if [ -e "$expect_file" ]; then sb_ok; else RC=0 OUT="" ERR=""; sb_fail "missing $expect_file"; fi
    SBENGINE="$installed" run_sb -e 'print(require("sbengine.core").sys.build_info().cublas)'
    expect_exit 0
    expect_out_re "^[0-9]{5,}$"
    as_installed lua54 -e 'require "sbengine"; print(require("sbengine.core").sys.build_info().cublas)' >"$SB_TMP/.out" 2>"$SB_TMP/.err"
    RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
    expect_exit 0
    expect_out_re "^[0-9]{5,}$"
fi

if "$installed" --version | grep -q "^MPI: Open MPI" && command -v mpirun >/dev/null; then
    case_ "the installed binary finds the installed MPI plugin under mpirun"
    launcher=(mpirun --oversubscribe -x "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")
    [ "$(id -u)" = 0 ] && launcher+=(--allow-run-as-root)
    timeout 120 "${launcher[@]}" -n 2 "$installed" -e 'print("ranks", sb.dist.size())' \
        >"$SB_TMP/.out" 2>"$SB_TMP/.err" </dev/null
    RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
    expect_exit 0
    expect_out "ranks	2"
fi

case_ "the in-tree binary finds the source tree's library"
run_sb -e 'print(package.searchpath("sbengine", package.path))'
expect_exit 0
expect_out "$SBENGINE_SOURCE_DIR/lua/sbengine/init.lua"

finish
