-- max_pool2d and avg_pool2d on channels-last inputs (a convolution's result), against PyTorch
-- (tests/fixtures/nn/pool.*, written by tools/fixtures/nn_pool.py from channels-last
-- tensors). With oneDNN these run its pooling primitive in that layout where it gives
-- PyTorch's numbers (engine/nn/cpu/onednn_pool.c; the rule: tests/c/test_pool_choice.c),
-- else the engine's kernel on an NCHW copy: the release build covers the first, the
-- sanitizer build (no oneDNN) the second. Tolerance: max pooling exact (NaN where PyTorch
-- has NaN); average pooling 2e-6 absolute (the summation order differs).
local sb = require "sbengine"
local F = sb.nn.functional

local fixtures = os.getenv("SBENGINE_FIXTURES") .. "/nn/"
local data = sb.io.load_safetensors(fixtures .. "pool.safetensors")
local cases = dofile(fixtures .. "pool_cases.lua")

local function channels_last(x)
  return x:permute(1, 3, 4, 2):contiguous():permute(1, 4, 2, 3)
end

local max_abs_diff = require("nn_cases").max_abs_diff

describe("pooling on channels-last inputs vs PyTorch", function()
  for _, case in ipairs(cases) do
    it(case.name, function()
      local x, want = data[case.input], data[case.out]
      local tol = case.op == "max_pool2d" and 0 or 2e-6
      local xcl = channels_last(x)
      assert.is_false(xcl:is_contiguous())
      local y = F[case.op](xcl, case.kernel, case.opts)
      for d = 1, 4 do assert.are.equal(want:size(d), y:size(d)) end
      -- the layout is kept: the next convolution reads it without a reorder
      if y:size(2) > 1 and y:size(3) * y:size(4) > 1 then assert.are.equal(1, y:stride(2)) end
      local err = max_abs_diff(y, want)
      assert.is_true(err <= tol, ("%s: max abs error %g"):format(case.name, err))
      -- the same numbers from the NCHW input (the engine's kernel)
      local yc = F[case.op](x, case.kernel, case.opts)
      assert.is_true(yc:is_contiguous())
      err = max_abs_diff(yc, want)
      assert.is_true(err <= tol, ("%s (NCHW): max abs error %g"):format(case.name, err))
    end)
  end

  it("adaptive_avg_pool2d of a channels-last input matches the NCHW one", function()
    sb.manual_seed(5)
    local x = sb.randn(3, 16, 12, 9)
    -- 1x1 (ResNet's global pooling) and other divisors: avg_pool2d's windows; 5x4: not
    for _, size in ipairs({1, {3, 3}, {6, 9}, {5, 4}}) do
      local want = F.adaptive_avg_pool2d(x, size)
      local got = F.adaptive_avg_pool2d(channels_last(x), size)
      for d = 1, 4 do assert.are.equal(want:size(d), got:size(d)) end
      assert.is_true(max_abs_diff(got, want) <= 2e-6, tostring(size))
    end
  end)

  it("keeps the layout through MaxPool2d between two channels-last convolutions", function()
    sb.manual_seed(3)
    local x = sb.randn(2, 8, 12, 12)
    local w1, w2 = sb.randn(32, 8, 3, 3) * 0.1, sb.randn(32, 32, 3, 3) * 0.1
    local y = F.conv2d(x, w1, nil, {padding = 1, activation = "relu", channels_last = true})
    local p = sb.nn.MaxPool2d(3, {stride = 2, padding = 1})(y)
    assert.are.equal(1, p:stride(2))
    local z = F.conv2d(p, w2, nil, {padding = 1})
    local ref = F.conv2d(F.max_pool2d(F.relu(F.conv2d(x, w1, nil, {padding = 1})), 3,
      {stride = 2, padding = 1}), w2, nil, {padding = 1})
    assert.is_true((z - ref):abs():max():item() <= 1e-5 * ref:abs():max():item())
  end)
end)
