#!/usr/bin/env bash
# The CUDA plugin is loaded lazily: never at startup, and a missing plugin or driver means
# "no GPU" with the reason in the message. Runs on machines without a GPU.
. "$(dirname "$0")/lib/assert.sh"
unset SBENGINE_CUDA_PLUGIN # the lookup next to the binary is under test

maps_probe='for l in io.lines("/proc/self/maps") do
  if l:find("sbengine_cuda", 1, true) or l:find("libcublas", 1, true) then print("LOADED " .. l) return end
end print("not loaded")'

case_ "startup loads no CUDA library"
run_sb -e "$maps_probe"
expect_exit 0
expect_out "not loaded"

case_ "CPU tensors and their GC bookkeeping load no CUDA library"
run_sb -e 'local t = sb.zeros(1000, 1000) for _ = 1, 50 do t = t + 1 end' -e "$maps_probe"
expect_exit 0
expect_out "not loaded"

run_sb --version
built=1
printf '%s' "$OUT" | grep -q "CUDA: not built with CUDA" && built=0

if [ "$built" = 1 ]; then
    case_ "the plugin is found next to the binary and reports versions"
    expect_out_re "CUDA: runtime [0-9]+\.[0-9]+, cuBLAS [0-9]+\.[0-9]+\.[0-9]+, driver "

    case_ "asking for a CUDA fact loads the plugin"
    run_sb -e 'require("sbengine.core").sys.build_info()' -e "$maps_probe"
    expect_exit 0
    expect_out "LOADED"

    case_ "SBENGINE_CUDA_PLUGIN pointing nowhere: no GPU, with the reason"
    SBENGINE_CUDA_PLUGIN=/nonexistent/sbengine_cuda.so run_sb --version
    expect_exit 0
    expect_out "CUDA: plugin not loaded: cannot load the CUDA plugin: /nonexistent/sbengine_cuda.so"
    expect_out "GPU: none visible"
    SBENGINE_CUDA_PLUGIN=/nonexistent/sbengine_cuda.so run_sb devices
    expect_exit 0
    expect_out_re "^cpu	"
    expect_err "sbengine: no GPU: cannot load the CUDA plugin"

    case_ "a file that is not the plugin is refused with a clear reason"
    SBENGINE_CUDA_PLUGIN=$(ldd "$SBENGINE" | awk '/libc\.so/ {print $3}') run_sb --version
    expect_out "does not match this engine (no sb_cuda_plugin_open"

    case_ "a stale plugin is refused before it is called, naming the table that differs"
    SBENGINE_CUDA_PLUGIN=$SB_FAKE_CUDA_PLUGIN run_sb --version
    expect_exit 0
    expect_out "CUDA: plugin not loaded: the CUDA plugin $SB_FAKE_CUDA_PLUGIN does not match this engine (its tensor kernel table (struct sb_backend, engine/tensor/backend.h) is "
    expect_out "; rebuild or reinstall both)"
    for table in nn host plugin; do
        FAKE_CUDA_PLUGIN_STALE=$table SBENGINE_CUDA_PLUGIN=$SB_FAKE_CUDA_PLUGIN run_sb --version
        expect_exit 0
        expect_out_re "does not match this engine \(its $table [a-z ]*table \(struct sb_"
    done

    case_ "a CUDA tensor with a stale plugin (driver library present) raises with the reason"
    SBENGINE_CUDA_DRIVER_LIBRARY=libc.so.6 SBENGINE_CUDA_PLUGIN=$SB_FAKE_CUDA_PLUGIN \
        run_sb -e 'sb.zeros(2, {device = "cuda"})'
    expect_exit 1
    expect_err "CUDA is not available: the CUDA plugin $SB_FAKE_CUDA_PLUGIN does not match this engine (its tensor kernel table"

    case_ "a copied binary without the plugin next to it sees no GPU and says where it looked"
    mkdir -p alone && cp "$SBENGINE" alone/sbengine
    SBENGINE_CUDA_PLUGIN= SBENGINE_LUA_DIR="$SBENGINE_SOURCE_DIR/lua" "$SB_TMP/alone/sbengine" devices \
        >"$SB_TMP/.out" 2>"$SB_TMP/.err"
    RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
    expect_exit 0
    expect_err "the CUDA plugin sbengine_cuda.so was not found (looked in: $SB_TMP/alone/sbengine/sbengine_cuda.so"
    expect_err "set SBENGINE_CUDA_PLUGIN"
fi

if [ "$built" = 1 ] && ! printf '%s' "$OUT" | grep -q "GPU: cuda:0"; then
    if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 '; then
        case_ "no driver library: the reason says so"
        run_sb devices
        expect_exit 0
        expect_err "sbengine: no GPU: no NVIDIA driver (libcuda.so.1"

        case_ "no driver library: asking for a GPU loads no CUDA library"
        run_sb -e 'assert(not sb.cuda.available())' \
            -e 'assert(sb.utils.default_device() == "cpu")' -e "$maps_probe"
        expect_exit 0
        expect_out "not loaded"

        case_ "a missing plugin is reported before the missing driver"
        SBENGINE_CUDA_PLUGIN=/nonexistent/sbengine_cuda.so run_sb devices
        expect_err "sbengine: no GPU: cannot load the CUDA plugin: /nonexistent/sbengine_cuda.so"
    fi

    # A library standing in for libcuda.so.1 gets past the cheap check: the plugin is
    # loaded and the CUDA runtime gives the reason.
    case_ "driver library present but no driver: the reason names cudaGetDeviceCount"
    SBENGINE_CUDA_DRIVER_LIBRARY=libc.so.6 run_sb devices
    expect_exit 0
    expect_err_re "sbengine: no GPU: .*(cudaGetDeviceCount|no CUDA device visible)"

    case_ "driver library present, plugin ABI mismatch: the reason says so"
    SBENGINE_CUDA_DRIVER_LIBRARY=libc.so.6 \
        SBENGINE_CUDA_PLUGIN=$(ldd "$SBENGINE" | awk '/libc\.so/ {print $3}') run_sb devices
    expect_err "sbengine: no GPU: the CUDA plugin"
    expect_err "does not match this engine (no sb_cuda_plugin_open"
fi

finish
