#!/usr/bin/env bash
# Packages (issue 18, item 3): libsbengine for C users through pkg-config and through a CMake
# package config (a small C program built both ways and run), `make uninstall` removing what
# was installed, and `make deb` (CPack): a Debian package that declares its dependencies,
# holds the binary, the Lua library where lua5.4 looks, the man page, and that apt accepts.
# Shares the build folder's install_manifest.txt with install.sh (RESOURCE_LOCK in ctest).
. "$(dirname "$0")/lib/assert.sh"
: "${SBENGINE_BUILD_DIR:?}" "${SBENGINE_SOURCE_DIR:?}"
build="$SBENGINE_BUILD_DIR"
manifest="$build/install_manifest.txt"
[ -e "$manifest" ] && cp "$manifest" "$SB_TMP/manifest.saved"
restore_manifest() {
    if [ -e "$SB_TMP/manifest.saved" ]; then cp "$SB_TMP/manifest.saved" "$manifest"; else rm -f "$manifest"; fi
}
trap 'restore_manifest; rm -rf "$SB_TMP"' EXIT
prefix="$SB_TMP/prefix"
if ! cmake --install "$build" --prefix "$prefix" >"$SB_TMP/install.log" 2>&1; then
    cat "$SB_TMP/install.log" >&2; echo "cmake --install failed" >&2; exit 1
fi
cp "$manifest" "$SB_TMP/manifest.ours"
libdir=$(cd "$prefix" && dirname "$(ls lib*/libsbengine.a)")
# The sanitizer build's library needs the sanitizers' runtimes in the program too.
san=""
if [ -n "${SB_LUA_SANITIZER_PRELOAD:-}" ]; then san="-fsanitize=address,undefined"; export ASAN_OPTIONS=detect_leaks=0; fi

cat >app.c <<'C'
#include <stdio.h>
#include <core/buildinfo.h>
#include <tensor/tensor.h>
int main(void)
{
    int64_t sizes[2] = {2, 3};
    sb_tensor *t = NULL;
    if (sb_tensor_zeros(2, sizes, SB_FLOAT32, SB_CPU, &t) != SB_OK) return 1;
    printf("sbengine %s, %lld elements\n", sb_engine_version(), (long long)sb_tensor_numel(t));
    sb_tensor_free(t);
    return 0;
}
C

case_ "a C program builds against libsbengine with pkg-config"
flags=$(PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" pkg-config --cflags --libs --static sbengine 2>&1)
RC=$?; OUT="$flags"; ERR=""
expect_exit 0
if cc $san -o app_pc app.c $flags >"$SB_TMP/cc.log" 2>&1; then sb_ok; else ERR=$(cat "$SB_TMP/cc.log"); sb_fail "cc failed"; fi
./app_pc >"$SB_TMP/.out" 2>"$SB_TMP/.err"; RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
expect_exit 0
expect_out "6 elements"

case_ "a C program builds against libsbengine with find_package(sbengine)"
mkdir -p cm
cat >cm/CMakeLists.txt <<'CMAKE'
cmake_minimum_required(VERSION 3.22)
project(app LANGUAGES C)
find_package(sbengine 0.1 CONFIG REQUIRED)
add_executable(app ../app.c)
target_link_libraries(app PRIVATE sbengine::sbengine)
CMAKE
if cmake -S cm -B cm/build -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="$san" >"$SB_TMP/cm.log" 2>&1 &&
   cmake --build cm/build >>"$SB_TMP/cm.log" 2>&1; then sb_ok
else RC=1; OUT=""; ERR=$(tail -20 "$SB_TMP/cm.log"); sb_fail "the CMake project did not build"; fi
cm/build/app >"$SB_TMP/.out" 2>"$SB_TMP/.err"; RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
expect_exit 0
expect_out "6 elements"

case_ "the man page is installed"
if [ -f "$prefix/share/man/man1/sbengine.1" ]; then sb_ok; else sb_fail "no share/man/man1/sbengine.1"; fi

case_ "make uninstall removes what was installed, and our folders"
cp "$SB_TMP/manifest.ours" "$manifest"
cmake --build "$build" --target uninstall >"$SB_TMP/.out" 2>"$SB_TMP/.err"
RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
expect_exit 0
left=$(find "$prefix" -type f | head -5)
if [ -z "$left" ]; then sb_ok; else sb_fail "left after uninstall: $left"; fi
for d in share/lua/5.4/sbengine include/sbengine "$libdir/cmake/sbengine"; do
    if [ -e "$prefix/$d" ]; then sb_fail "folder $d left"; else sb_ok; fi
done
restore_manifest

case_ "make deb builds a package that declares its dependencies and holds the layout"
if ! command -v dpkg-deb >/dev/null; then
    echo "note: dpkg-deb is missing; the package is not built" >&2
elif [ -n "$san" ]; then
    echo "note: the package is built and checked in the release build's run, not the sanitizer build's" >&2
else
    (cd "$build" && rm -f sbengine_*.deb && cpack -G DEB) >"$SB_TMP/cpack.log" 2>&1
    RC=$?; OUT=""; ERR=$(tail -20 "$SB_TMP/cpack.log")
    restore_manifest
    expect_exit 0
    deb=$(ls "$build"/sbengine_*.deb 2>/dev/null | head -1)
    if [ -n "$deb" ]; then sb_ok; else sb_fail "no sbengine_*.deb in $build"; fi
    OUT=$(dpkg-deb -f "$deb" Package Version Depends 2>&1)
    for dep in liblua5.4-0 libopenblas0 libcurl4 lua-cjson zlib1g; do expect_out "$dep"; done
    OUT=$(dpkg-deb -c "$deb")
    for f in ./usr/bin/sbengine /lua/5.4/sbengine.so ./usr/share/lua/5.4/sbengine/init.lua \
             ./usr/share/lua/5.4/sbengine/benchmarks/mnist.lua ./usr/share/man/man1/sbengine.1; do
        expect_out "$f"
    done
    dpkg-deb -x "$deb" root
    root/usr/bin/sbengine -e 'print(package.searchpath("sbengine", package.path))' >"$SB_TMP/.out" 2>"$SB_TMP/.err"
    RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
    expect_exit 0
    expect_out "root/usr/bin/../share/lua/5.4/sbengine/init.lua"
    if command -v apt-get >/dev/null; then
        apt-get install -s "$deb" >"$SB_TMP/.out" 2>"$SB_TMP/.err"
        RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
        expect_exit 0
        expect_out "Inst sbengine"
    fi
    rm -f "$deb"
fi

finish
