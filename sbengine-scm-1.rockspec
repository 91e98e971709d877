-- The engine's Lua side as a LuaRocks rock: the Lua library (sbengine, sbengine.nn, ...), the C
-- module sbengine.so it needs, the shipped benchmarks and the `sbengine` binary, built with
-- CMake. A benchmark or metric rock can then say `dependencies = { "sbengine" }`.
-- From the source tree:
--   luarocks --lua-version 5.4 make --local sbengine-scm-1.rockspec
-- installs into ~/.luarocks (share/lua/5.4/sbengine/, lib/lua/5.4/sbengine.so, bin/sbengine).
-- The Debian packages the build needs are tools/setup's (liblua5.4-dev, libopenblas-dev, ...).
rockspec_format = "3.0"
package = "sbengine"
version = "scm-1"
-- `luarocks make` builds from this folder; the format requires a source all the same.
source = { url = "file://." }
description = {
  summary = "Native engine for machine-learning evaluation benchmarks written in Lua",
  detailed = [[
A C engine with tensors on CPU and GPU, nn layers that load PyTorch weights, data loaders,
metric meters and sotabench-compatible results; benchmarks are Lua modules
(sbengine.benchmarks.NAME) and metrics are Lua modules (sbengine.metrics.NAME).]],
}
dependencies = { "lua >= 5.4, < 5.5" }
build_dependencies = {}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    SBENGINE_LUA_INSTALL_DIR = "$(LUADIR)",
    SBENGINE_LUA_CMOD_INSTALL_DIR = "$(LIBDIR)",
    CMAKE_INSTALL_BINDIR = "$(BINDIR)",
    BUILD_TESTING = "OFF",
  },
}
