#!/usr/bin/env bash
# The install layout: `cmake --install` puts the binary, the Lua module and the Lua
# library in a conventional prefix, and both the installed `sbengine` and plain `lua5.4`
# find them. User modules come from LUA_PATH and from a LuaRocks tree (~/.luarocks).
. "$(dirname "$0")/lib/assert.sh"
: "${SBENGINE_BUILD_DIR:?}" "${SBENGINE_SOURCE_DIR:?}"

prefix="$SB_TMP/prefix"
if ! cmake --install "$SBENGINE_BUILD_DIR" --prefix "$prefix" >"$SB_TMP/install.log" 2>&1; then
    cat "$SB_TMP/install.log" >&2
    echo "cmake --install failed" >&2
    exit 1
fi
installed="$prefix/bin/sbengine"
# Nothing from the source tree may leak into what the installed binary sees.
unset LUA_PATH LUA_CPATH SBENGINE_CUDA_PLUGIN

case_ "the layout"
for f in bin/sbengine lib/lua/5.4/sbengine.so share/sbengine/lua/sbengine/init.lua \
         share/sbengine/lua/sbengine/session.lua; do
    if [ -e "$prefix/$f" ]; then sb_ok; else RC=0 OUT="" ERR=""; sb_fail "missing $f"; fi
done

case_ "the installed binary uses the installed library, not the source tree"
SBENGINE="$installed" run_sb -e 'print(package.searchpath("sbengine", package.path))'
expect_exit 0
expect_out "$prefix/bin/../share/sbengine/lua/sbengine/init.lua"

case_ "installed benchmarks are found by require"
if ls "$SBENGINE_SOURCE_DIR"/benchmarks/*.lua >/dev/null 2>&1; then
    name=$(basename "$(ls "$SBENGINE_SOURCE_DIR"/benchmarks/*.lua | head -1)" .lua)
    SBENGINE="$installed" run_sb -e "print(package.searchpath('sbengine.benchmarks.$name', package.path))"
    expect_exit 0
    expect_out "$prefix/bin/../share/sbengine/lua/sbengine/benchmarks/$name.lua"
fi

case_ "plain lua5.4 loads the installed module and library"
LUA_CPATH="$prefix/lib/lua/5.4/?.so;;" \
LUA_PATH="$prefix/share/sbengine/lua/?.lua;$prefix/share/sbengine/lua/?/init.lua;;" \
    lua54 -e 'local sb = require "sbengine"; print("version", sb.version)' >"$SB_TMP/.out" 2>"$SB_TMP/.err"
RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
expect_exit 0
expect_out "version	"

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
    expect_file="$prefix/lib/sbengine/sbengine_cuda.so"
    if [ -e "$expect_file" ]; then sb_ok; else RC=0 OUT="" ERR=""; sb_fail "missing $expect_file"; fi
    SBENGINE="$installed" run_sb -e 'print(require("sbengine.core").sys.build_info().cublas)'
    expect_exit 0
    expect_out_re "^[0-9]{5,}$"
    LUA_CPATH="$prefix/lib/lua/5.4/?.so;;" \
    LUA_PATH="$prefix/share/sbengine/lua/?.lua;$prefix/share/sbengine/lua/?/init.lua;;" \
        lua54 -e 'require "sbengine"; print(require("sbengine.core").sys.build_info().cublas)' >"$SB_TMP/.out" 2>"$SB_TMP/.err"
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
