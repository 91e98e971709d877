-- busted helper for tests/lua: the specs run under plain lua5.4 with LUA_PATH/LUA_CPATH
-- set by ctest (tests/CMakeLists.txt) to this source tree and the build's sbengine.so.
-- Specs that drive the CLI find the binary in $SBENGINE.
package.path = (os.getenv("SBENGINE_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
