#!/usr/bin/env bash
# Metric scripts from --metrics DIR and SBENGINE_METRICS_PATH, and the example of
# docs/metrics.md (which must show examples/metrics/max_abs_error.lua unchanged).
. "$(dirname "$0")/lib/assert.sh"
SRC="$SBENGINE_SOURCE_DIR"
unset SBENGINE_METRICS_PATH

case_ "docs/metrics.md shows examples/metrics/max_abs_error.lua unchanged"
awk '/<!-- example: examples\/metrics\/max_abs_error.lua -->/ {grab=1; next}
     grab && /^```lua/ {inside=1; next}
     inside && /^```/ {exit}
     inside {print}' "$SRC/docs/metrics.md" >from_docs.lua
if cmp -s from_docs.lua "$SRC/examples/metrics/max_abs_error.lua"; then sb_ok; else sb_fail "docs and example differ"; fi

cat >use.lua <<'LUA'
local m = sb.metrics.create("max_abs_error")
m:add(sb.tensor{1, 2, 3}, sb.tensor{1, 2.5, 0})
local other = sb.metrics.create("max_abs_error")
other:add(sb.tensor{10}, sb.tensor{0})
print(m:value(), m:merge(other):value())
LUA

case_ "--metrics DIR loads the example"
run_sb --metrics "$SRC/examples/metrics" use.lua
expect_exit 0
expect_out "3.0	10.0"

case_ "SBENGINE_METRICS_PATH loads it too"
mkdir -p empty
SBENGINE_METRICS_PATH="$SB_TMP/empty:$SRC/examples/metrics" run_sb use.lua
expect_exit 0
expect_out "3.0	10.0"

case_ "without it the metric is unknown, and the message lists the known ones"
run_sb use.lua
expect_exit 1
expect_err "unknown metric 'max_abs_error' (known: balanced_accuracy, bleu, coco_detection, confusion_matrix"

case_ "a metric script that fails names itself"
mkdir -p broken
echo 'error("no good")' >broken/bad.lua
run_sb --metrics broken -e 'sb.metrics.list()'
expect_exit 1
expect_err "metric script broken/bad.lua failed"
expect_err "no good"

case_ "a --metrics folder that does not exist is an error naming it"
run_sb --metrics nowhere -e 'sb.metrics.list()'
expect_exit 1
expect_err "cannot list folder 'nowhere'"

case_ "registering a shipped name again names who had it"
mkdir -p dup
printf 'local m = require "sbengine.metrics"\nm.register("mse", {new = function() end})\n' >dup/mse2.lua
run_sb --metrics dup -e 'sb.metrics.list()'
expect_exit 1
expect_err "metric 'mse' is already registered (by "
expect_err "metrics/mse.lua)"

finish
