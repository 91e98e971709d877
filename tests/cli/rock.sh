#!/usr/bin/env bash
# The engine's rock and metric rocks (issue 18, item 2): sbengine-scm-1.rockspec lints; a metric
# rock that installs the module sbengine.metrics.NAME into a LuaRocks tree is found without
# --metrics, by sbengine and by plain lua5.4; `sbengine bench` uses it. Building the engine's
# own rock compiles the whole engine (minutes): only with SBENGINE_TEST_ROCK=1.
. "$(dirname "$0")/lib/assert.sh"
command -v luarocks >/dev/null || { echo "luarocks is not installed (tools/setup installs it): skipped"; exit 77; }
src="$SBENGINE_SOURCE_DIR"
export HOME="$SB_TMP/home"
mkdir -p "$HOME"

case_ "the engine's rockspec builds with CMake into LuaRocks' folders"
# (`luarocks lint` also wants a license field, which the project has not declared yet.)
run_sb -e "local spec = {}; assert(loadfile('$src/sbengine-scm-1.rockspec', 't', spec))()
  print(spec.package, spec.version, spec.build.type, spec.build.variables.SBENGINE_LUA_INSTALL_DIR,
    spec.build.variables.SBENGINE_LUA_CMOD_INSTALL_DIR, spec.build.variables.CMAKE_INSTALL_BINDIR)"
expect_exit 0
expect_out "sbengine	scm-1	cmake	\$(LUADIR)	\$(LIBDIR)	\$(BINDIR)"
for v in SBENGINE_LUA_INSTALL_DIR SBENGINE_LUA_CMOD_INSTALL_DIR; do
    if grep -q "set($v " "$src/CMakeLists.txt"; then sb_ok; else sb_fail "CMakeLists.txt has no $v"; fi
done

case_ "a metric rock installs sbengine.metrics.NAME into the LuaRocks tree"
mkdir -p mrock
cp "$src/examples/metrics/max_abs_error.lua" mrock/
cat >mrock/sbengine-metric-max-abs-error-1.0-1.rockspec <<'ROCK'
rockspec_format = "3.0"
package = "sbengine-metric-max-abs-error"
version = "1.0-1"
source = { url = "file://." }
dependencies = { "lua >= 5.4" }
build = { type = "builtin", modules = { ["sbengine.metrics.max_abs_error"] = "max_abs_error.lua" } }
ROCK
(cd mrock && luarocks --lua-version 5.4 make --local sbengine-metric-max-abs-error-1.0-1.rockspec) \
    >"$SB_TMP/.out" 2>"$SB_TMP/.err" </dev/null
RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
expect_exit 0
expect_out "is now installed"

case_ "sbengine finds the rock's metric without --metrics"
run_sb -e 'local m = sb.metrics.create("max_abs_error"); m:add(sb.tensor{1, 5}, sb.tensor{1, 2}); print(m:value())'
expect_exit 0
expect_out "3"

case_ "plain lua5.4 finds it too, through the same package.path"
LUA_PATH="$HOME/.luarocks/share/lua/5.4/?.lua;$LUA_PATH" lua54 -e 'local sb = require "sbengine"
  local found = false
  for _, n in ipairs(sb.metrics.list()) do found = found or n == "max_abs_error" end
  print(found)' >"$SB_TMP/.out" 2>"$SB_TMP/.err"
RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
expect_exit 0
expect_out "true"

if [ "${SBENGINE_TEST_ROCK:-0}" = 1 ]; then
    case_ "luarocks make --local builds and installs the engine's rock"
    git -C "$src" ls-files -z | (mkdir -p erock && cd "$src" && xargs -0 tar -cf - ) | tar -xf - -C erock
    # No CUDA here (its kernels alone take many minutes); two compile jobs.
    (cd erock && CUDACXX=/bin/false MAKEFLAGS=-j2 luarocks --lua-version 5.4 make --local sbengine-scm-1.rockspec) \
        >"$SB_TMP/.out" 2>"$SB_TMP/.err" </dev/null
    RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(tail -30 "$SB_TMP/.err")
    expect_exit 0
    expect_out "sbengine scm-1 is now installed"
    "$HOME/.luarocks/bin/sbengine" -e 'print(package.searchpath("sbengine", package.path))' >"$SB_TMP/.out" 2>"$SB_TMP/.err"
    RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
    expect_exit 0
    expect_out "$HOME/.luarocks/bin/../share/lua/5.4/sbengine/init.lua"
    (unset LUA_PATH LUA_CPATH; eval "$(luarocks --lua-version 5.4 path)"; lua54 -e 'print(require("sbengine").version)') >"$SB_TMP/.out" 2>"$SB_TMP/.err"
    RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
    expect_exit 0
    expect_out_re "^[0-9]+\.[0-9]+"
fi

finish
