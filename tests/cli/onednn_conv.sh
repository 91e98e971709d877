#!/usr/bin/env bash
# conv2d through oneDNN (32+ output channels, docs/nn.md) gives the numbers of the engine's
# own kernel (SBENGINE_ONEDNN=0) within float rounding: grouped, depthwise, strided, dilated,
# padded, with bias, fused ReLU and fused 2x2 pooling, batches cut into slices per thread.
# (tools/perf/convnets checks whole ResNets and MobileNetV2 against torchvision as well.)
. "$(dirname "$0")/lib/assert.sh"

run_sb --version
if printf '%s' "$OUT" | grep -q "^oneDNN: not built with oneDNN"; then
    echo "onednn_conv: skipped: this build has no oneDNN (libdnnl-dev missing, or the sanitizer build)"
    exit 77
fi

cat >"$SB_TMP/convs.lua" <<'LUA'
local F = sb.nn.functional
sb.manual_seed(7)
local cases = {
  {x = {3, 16, 13, 11}, w = {32, 16, 3, 3}, o = {padding = 1}},
  {x = {5, 32, 12, 12}, w = {64, 8, 3, 3}, o = {stride = 2, padding = 1, groups = 4}},
  {x = {4, 48, 9, 10}, w = {48, 1, 3, 3}, o = {padding = 1, groups = 48}, bias = true},
  {x = {2, 16, 17, 15}, w = {32, 16, 3, 3}, o = {dilation = 2, padding = 2, activation = "relu"}, bias = true},
  {x = {3, 8, 14, 14}, w = {40, 8, 5, 5}, o = {padding = 2, activation = "relu", max_pool = 2}, bias = true},
  {x = {1, 24, 8, 8}, w = {32, 24, 1, 1}, o = {stride = 2}},
  {x = {6, 64, 7, 7}, w = {128, 64, 1, 1}, o = {}, bias = true},
}
for i, c in ipairs(cases) do
  local x, w = sb.randn(table.unpack(c.x)), sb.randn(table.unpack(c.w))
  local b = c.bias and sb.randn(c.w[1]) or nil
  local t = F.conv2d(x, w, b, c.o):contiguous():view(-1):totable()
  for j = 1, #t do t[j] = string.format("%.9g", t[j]) end
  print(table.concat(t, " "))
end
LUA

case_ "oneDNN and the engine's kernel agree"
SBENGINE_ONEDNN=0 run_sb --threads 2 "$SB_TMP/convs.lua"
expect_exit 0
own="$OUT"
run_sb --threads 2 "$SB_TMP/convs.lua"
expect_exit 0
onednn="$OUT"
run_sb --threads 1 "$SB_TMP/convs.lua"
expect_exit 0
onednn1="$OUT"
for other in "$onednn" "$onednn1"; do
    if paste -d '\n' <(printf '%s\n' "$own") <(printf '%s\n' "$other") | lua5.4 -e '
        local worst = 0
        while true do
          local a, b = io.read("l"), io.read("l")
          if not a then break end
          local xs, ys = {}, {}
          for v in a:gmatch("%S+") do xs[#xs + 1] = tonumber(v) end
          for v in b:gmatch("%S+") do ys[#ys + 1] = tonumber(v) end
          assert(#xs == #ys and #xs > 0, "different sizes")
          local scale = 0
          for i = 1, #xs do scale = math.max(scale, math.abs(xs[i])) end
          for i = 1, #xs do worst = math.max(worst, math.abs(xs[i] - ys[i]) / scale) end
        end
        io.stderr:write("largest relative difference ", worst, "\n")
        os.exit(worst < 1e-5 and 0 or 1)'; then sb_ok; else sb_fail "oneDNN differs from the engine's kernel"; fi
done

case_ "--version names oneDNN, or says why it is not used"
SBENGINE_ONEDNN=0 run_sb --version
expect_out "oneDNN: off (SBENGINE_ONEDNN=0)"

finish
