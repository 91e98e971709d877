#!/usr/bin/env bash
# tools/check-layers (run by `make lint`): the engine's include graph points one way, and an
# include against the layers is reported with the file, the line and the rule.
. "$(dirname "$0")/lib/assert.sh"
check=$SBENGINE_SOURCE_DIR/tools/check-layers

case_ "the source tree follows the layers"
"$check" "$SBENGINE_SOURCE_DIR" >"$SB_TMP/.out" 2>"$SB_TMP/.err"
RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
expect_exit 0
expect_out "check-layers: the include graph of engine/ points one way"

case_ "includes against the layers are named, one line each"
tree=$SB_TMP/tree
mkdir -p "$tree/engine/core" "$tree/engine/tensor" "$tree/engine/gpu" "$tree/engine/io" \
    "$tree/engine/bindings" "$tree/engine/cuda"
printf '#include "core/error.h"\n#include "tensor/tensor.h"\n' >"$tree/engine/core/bad.c"
printf '#include "gpu/cuda.h"\n#include "cuda/plugin.h"\n' >"$tree/engine/tensor/up.c"
printf '#include "cuda/plugin.h"\n#include "cuda/common.h"\n' >"$tree/engine/gpu/host.c"
printf '#include "gpu/cuda.h"\n' >"$tree/engine/cuda/plugin.cu"
printf '#include <lua.h>\n#include "bindings/l_util.h"\n' >"$tree/engine/io/lua.c"
printf '#include <lua.h>\n#include "gpu/cuda.h"\n' >"$tree/engine/bindings/l_ok.c"
"$check" "$tree" >"$SB_TMP/.out" 2>"$SB_TMP/.err"
RC=$?; OUT=$(cat "$SB_TMP/.out"); ERR=$(cat "$SB_TMP/.err")
expect_exit 1
expect_out 'engine/core/bad.c:2: includes "tensor/tensor.h": core/ includes only its own headers'
expect_out 'engine/tensor/up.c:1: includes "gpu/cuda.h": tensor/ includes only its own headers, core/'
expect_out 'engine/tensor/up.c:2: includes "cuda/plugin.h"'
expect_out 'engine/gpu/host.c:2: includes "cuda/common.h": gpu/ includes from cuda/ only cuda/plugin.h'
expect_out 'engine/cuda/plugin.cu:1: includes "gpu/cuda.h": cuda/ includes only its own headers, core/, nn/, tensor/'
expect_out 'engine/io/lua.c:1: includes <lua.h>: only engine/bindings/ and the executable include'
expect_out 'engine/io/lua.c:2: includes "bindings/l_util.h": nothing below the bindings includes them'
expect_err "check-layers: 7 includes against the layers"
if printf '%s' "$OUT" | grep -q "core/bad.c:1\|gpu/host.c:1\|l_ok.c"; then
    sb_fail "an allowed include was reported"
else
    sb_ok
fi

case_ "a new area must be added to the table"
mkdir -p "$tree/engine/newarea"
"$check" "$tree" >"$SB_TMP/.out" 2>"$SB_TMP/.err"
RC=$?; OUT=$(cat "$SB_TMP/.out")
expect_exit 1
expect_out "engine/newarea/: an area that tools/check-layers does not know"

finish
