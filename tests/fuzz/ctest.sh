#!/usr/bin/env bash
# ctest's entry to the fuzz targets (tests/CMakeLists.txt):
#   ctest.sh build BINARY_DIR            builds every target (the fixture the runs need)
#   ctest.sh run BINARY_DIR NAME RUNS    runs target NAME for RUNS inputs
# Skips (exit 77) when clang or its libFuzzer runtime is missing, naming the package.
set -u
here=$(cd "$(dirname "$0")" && pwd)
mode=$1 bin=$2
if ! command -v clang >/dev/null; then
    echo "clang not found: fuzz targets skipped (install the Debian package clang)"
    exit 77
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
if ! clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>/dev/null; then
    echo "clang cannot link a libFuzzer target: fuzz targets skipped (install the Debian package libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev)"
    exit 77
fi
args=(-s -C "$here" "BUILD=$bin/fuzz" "GENERATED=$bin/generated")
case $mode in
build) exec make "${args[@]}" -j "$(nproc)" all ;;
run) exec make "${args[@]}" "run-$3" "RUNS=$4" ;;
*) echo "usage: ctest.sh build|run BINARY_DIR [NAME RUNS]" >&2; exit 2 ;;
esac
