#!/usr/bin/env bash
# The GPU run's tools on a machine without a usable GPU (forced with a plugin path that does not
# exist, so this holds on a GPU machine too): tools/gpu-check and tools/perf/gpu measure nothing
# and must not pass for a run that did; the benchmark script itself runs on the CPU; and the
# plugin's build facts (architectures, RUNPATH) that issue 20 fixed.
. "$(dirname "$0")/lib/assert.sh"
src=${SBENGINE_SOURCE_DIR:?}
build=${SBENGINE_BUILD_DIR:?}
export SBENGINE_CUDA_PLUGIN=/nonexistent/sbengine_cuda.so

# The reason names the missing plugin, or (a build without CUDA, the sanitizer build) says so.
expect_reason() { expect_err_re "/nonexistent/sbengine_cuda.so|this build of sbengine has no CUDA support"; }

run_tool() {
    "$@" >"$SB_TMP/.out" 2>"$SB_TMP/.err" </dev/null
    RC=$?
    OUT=$(cat "$SB_TMP/.out")
    ERR=$(cat "$SB_TMP/.err")
}

case_ "tools/gpu-check without a GPU: exit 1, says nothing was tested or measured, and why"
run_tool "$src/tools/gpu-check" "$build"
expect_exit 1
expect_err "gpu-check: no usable GPU, nothing tested or measured: "
expect_reason

case_ "tools/perf/gpu without a GPU: exit 77 (skipped, not passed), with the reason"
run_tool "$src/tools/perf/gpu" "$build"
expect_exit 77
expect_err "tools/perf/gpu: no usable GPU, nothing measured: "

case_ "gpu_bench.lua without a GPU: exit 77 with the reason"
run_sb "$src/tools/perf/gpu_bench.lua"
expect_exit 77
expect_err "gpu_bench: no usable GPU, nothing measured: "

case_ "gpu_bench.lua runs through on the CPU (small sizes): every figure, and the MNIST file it read"
(cd "$src" && SB_PERF_DEVICE=cpu SB_PERF_GEMM_N=64 SB_PERF_RESNET_BATCH=1 SB_PERF_RUNS=1 \
    run_sb tools/perf/gpu_bench.lua "$SB_TMP/no-mnist" . && declare -p OUT ERR RC >"$SB_TMP/.vars")
. "$SB_TMP/.vars"
expect_exit 0
expect_out_re "^sgemm_64	[0-9.e+-]+	TFLOP/s"
expect_out "#file	synthetic"
expect_out_re "lenet5_mnist10k_synthetic	[0-9.e+-]+	images/s"
expect_out_re "resnet18_b1	[0-9.e+-]+	images/s"
expect_out_re "resnet50_b1	[0-9.e+-]+	images/s"

case_ "the default device says which it chose and why, once"
run_sb -e 'print(sb.utils.default_device()) print(sb.utils.default_device())'
expect_exit 0
expect_out "cpu"
expect_err "sbengine: device cpu (the default: no usable GPU: "
expect_reason
expect_err_lines 1

case_ "--quiet keeps the default device's note quiet"
run_sb --quiet -e 'print(sb.utils.default_device())'
expect_exit 0
expect_out "cpu"
expect_err_lines 0

case_ "--device cuda without a usable GPU: an error with the reason, no fall back"
run_sb --device cuda -e 'sb.utils.send_model_to_device(sb.nn.Linear(2, 2)) print("ran")'
expect_exit 1
expect_err 'device "cuda" was asked for but CUDA is not usable: '
expect_reason
if printf '%s' "$OUT" | grep -q ran; then sb_fail "the script went on without the GPU"; else sb_ok; fi

if [ -e "$build/lib/sbengine/sbengine_cuda.so" ]; then
    case_ "the plugin carries sm_80, sm_86, sm_89 and sm_90 code and compute_90 PTX"
    flags=$(cat "$build"/CMakeFiles/sbengine_cuda.dir/flags.make 2>/dev/null)
    for code in "arch=compute_80,code=[sm_80]" "arch=compute_86,code=[sm_86]" \
        "arch=compute_89,code=[sm_89]" "arch=compute_90,code=[compute_90,sm_90]"; do
        if printf '%s' "$flags" | grep -qF -- "$code"; then sb_ok; else sb_fail "nvcc flags lack $code"; fi
    done

    case_ "the build-tree plugin finds cuBLAS through its RUNPATH"
    runpath=$(readelf -d "$build/lib/sbengine/sbengine_cuda.so" | grep -E "RUNPATH|RPATH")
    if printf '%s' "$runpath" | grep -q "cuda[^ ]*/lib"; then sb_ok; else sb_fail "RUNPATH is '$runpath'"; fi
fi
finish
