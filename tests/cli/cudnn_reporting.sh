#!/usr/bin/env bash
# Whether the CUDA plugin uses cuDNN, and why not, as `sbengine --version`, `sb.cuda.info()`
# and the switches (SBENGINE_CUDNN=0, SBENGINE_CUDNN_LIBRARY) report it. Runs without a GPU:
# loading cuDNN's front library and asking its version needs none.
. "$(dirname "$0")/lib/assert.sh"
unset SBENGINE_CUDNN SBENGINE_CUDNN_LIBRARY

case_ "sb.cuda.info() answers on any build, with or without a GPU"
run_sb -e 'local i = sb.cuda.info()
  assert(type(i.available) == "boolean" and i.tf32 == false)
  assert(i.cudnn == false or i.cudnn:match("^%d+%.%d+%.%d+$"), tostring(i.cudnn))
  if not i.cudnn then assert(#i.cudnn_unused > 0) end
  if not i.available then assert(#i.unavailable > 0) end
  print("cudnn=" .. tostring(i.cudnn))'
expect_exit 0
expect_out "cudnn="

run_sb --version
if printf '%s' "$OUT" | grep -q "CUDA: not built with CUDA"; then
    case_ "a build without CUDA has no cuDNN, and says why"
    run_sb -e 'local i = sb.cuda.info() assert(i.cudnn == false) print(i.cudnn_unused)'
    expect_exit 0
    expect_out "no CUDA plugin: this build of sbengine has no CUDA support"
    finish
    exit
fi

case_ "--version has a cuDNN line: the version in use, or why none is"
expect_out_re "^cuDNN: ([0-9]+\.[0-9]+\.[0-9]+ \(convolutions and pooling\)|not used: .+)$"
built_without=0
printf '%s' "$OUT" | grep -q "cuDNN: not used: this sbengine_cuda.so was built without cuDNN" && built_without=1

if [ "$built_without" = 0 ]; then
    case_ "SBENGINE_CUDNN=0 switches it off"
    SBENGINE_CUDNN=0 run_sb --version
    expect_exit 0
    expect_out "cuDNN: not used: disabled by SBENGINE_CUDNN=0"
    SBENGINE_CUDNN=off run_sb -e 'local i = sb.cuda.info() assert(i.cudnn == false) print(i.cudnn_unused)'
    expect_exit 0
    expect_out "disabled by SBENGINE_CUDNN=off"

    case_ "a cuDNN that cannot be loaded: the plugin's own kernels, and the reason"
    SBENGINE_CUDNN_LIBRARY=/nonexistent/libcudnn.so.9 run_sb --version
    expect_exit 0
    expect_out "cuDNN: not used: cannot load cuDNN: /nonexistent/libcudnn.so.9"

    case_ "a library that is not cuDNN is refused, naming the missing entry point"
    SBENGINE_CUDNN_LIBRARY=libc.so.6 run_sb --version
    expect_exit 0
    expect_out "cuDNN: not used: libc.so.6 has no cudnnGetVersion"

    case_ "SBENGINE_CUDNN=1 (not a switch-off value) leaves cuDNN as found"
    run_sb --version
    found=$(printf '%s' "$OUT" | grep '^cuDNN:')
    SBENGINE_CUDNN=1 run_sb --version
    expect_out "$found"
fi
finish
