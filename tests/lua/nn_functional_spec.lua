-- sb.nn.functional against PyTorch (tests/fixtures/nn/ops.*, written by
-- tools/fixtures/nn_ops.py) and its argument checks.
local sb = require "sbengine"
local F = sb.nn.functional

local nn_cases = require "nn_cases"
local data, cases, build_args = nn_cases.data, nn_cases.cases, nn_cases.build_args

local function shape(t)
  local s = {}
  for i = 1, t:dim() do s[i] = t:size(i) end
  return s
end

local max_abs_diff = nn_cases.max_abs_diff

describe("sb.nn.functional vs PyTorch", function()
  it("has cases for every op", function()
    local seen = {}
    for _, c in ipairs(cases) do seen[c.op] = true end
    for _, op in ipairs({"linear", "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
                         "batch_norm", "relu", "gelu", "sigmoid", "tanh", "softmax",
                         "log_softmax", "flatten"}) do
      assert.is_true(seen[op] ~= nil, op)
    end
  end)

  for _, case in ipairs(cases) do
    it(case.name, function()
      local args = build_args(case)
      if case.narrow then assert.is_false(args[1]:is_contiguous()) end
      local y = F[case.op](table.unpack(args, 1, case.n))
      local want = data[case.out]
      assert.same(shape(want), shape(y))
      local err = max_abs_diff(y, want)
      assert.is_true(err <= 1e-4, string.format("%s: max abs error %g", case.name, err))
    end)
  end
end)

describe("conv2d's fused ReLU ({activation = 'relu'})", function()
  for _, case in ipairs(cases) do
    if case.op == "conv2d" then
      it(case.name, function()
        local args = build_args(case)
        local n = case.n
        local opts = args[n]
        if type(opts) ~= "table" or sb.is_tensor(opts) then
          -- no options table: add one after the bias slot
          n = math.max(n, 3) + 1
          opts = {}
        end
        local fused = {activation = "relu"}
        for k, v in pairs(opts) do fused[k] = v end
        args[n] = fused
        local y = F.conv2d(table.unpack(args, 1, n))
        local want = F.relu(data[case.out])
        local err = max_abs_diff(y, want)
        assert.is_true(err <= 1e-4, string.format("%s: max abs error %g", case.name, err))
        -- and with the fused 2x2 max pooling, where the output is large enough
        local d = want:dim()
        if want:numel() > 0 and want:size(d) >= 2 and want:size(d - 1) >= 2 then
          fused.max_pool = 2
          local pooled = F.conv2d(table.unpack(args, 1, n))
          err = max_abs_diff(pooled, F.max_pool2d(want, 2))
          assert.is_true(err <= 1e-4, string.format("%s pooled: max abs error %g", case.name, err))
          fused.activation = nil
          pooled = F.conv2d(table.unpack(args, 1, n))
          err = max_abs_diff(pooled, F.max_pool2d(data[case.out], 2))
          assert.is_true(err <= 1e-4, string.format("%s pooled, no relu: max abs error %g", case.name, err))
        end
      end)
    end
  end
end)

describe("sb.nn.functional argument checks", function()
  local x = sb.zeros(1, 28, 28)
  local function fails(pattern, fn, ...)
    local ok, err = pcall(fn, ...)
    assert.is_false(ok)
    assert.truthy(tostring(err):find(pattern, 1, true), tostring(err))
  end

  it("names the op, the argument and what was expected", function()
    fails("conv2d: input must be 4-D (N,C,H,W) or unbatched 3-D (C,H,W), got 2-D [28, 28]",
          F.conv2d, sb.zeros(28, 28), sb.zeros(6, 1, 5, 5))
    fails("conv2d: input has 3 channels but weight [6, 1, 5, 5] with groups = 1 expects 1",
          F.conv2d, sb.zeros(1, 3, 28, 28), sb.zeros(6, 1, 5, 5))
    fails("conv2d: bias must have shape [6] (out_channels), got [5]",
          F.conv2d, sb.zeros(1, 1, 28, 28), sb.zeros(6, 1, 5, 5), sb.zeros(5))
    fails("conv2d: out_channels (weight [6, 1, 5, 5]) must be divisible by groups = 4",
          F.conv2d, sb.zeros(1, 4, 8, 8), sb.zeros(6, 1, 5, 5), nil, {groups = 4})
    fails("conv2d: kernel height 5 (dilation 1) is larger than the input height 4 plus padding 0",
          F.conv2d, sb.zeros(1, 1, 4, 4), sb.zeros(6, 1, 5, 5))
    fails("conv2d: padding='same' is not supported for strided convolutions",
          F.conv2d, sb.zeros(1, 1, 8, 8), sb.zeros(2, 1, 3, 3), nil, {padding = "same", stride = 2})
    fails("conv2d: activation must be 'relu', 'relu6', 'hardswish' or 'silu' (or absent), got 'gelu'", F.conv2d, sb.zeros(1, 1, 8, 8),
          sb.zeros(2, 1, 3, 3), nil, {activation = "gelu"})
    fails("conv2d: max_pool must be 2 (or absent), got 3", F.conv2d, sb.zeros(1, 1, 8, 8),
          sb.zeros(2, 1, 3, 3), nil, {max_pool = 3})
    fails("conv2d: the fused 2x2 max pooling needs a convolution output of at least 2x2, got 1x1",
          F.conv2d, sb.zeros(1, 1, 3, 3), sb.zeros(2, 1, 3, 3), nil, {max_pool = 2})
    fails("conv2d: unknown option 'strides'", F.conv2d, sb.zeros(1, 1, 8, 8), sb.zeros(2, 1, 3, 3),
          nil, {strides = 2})
    fails("conv2d: weight is float64 but input is float32",
          F.conv2d, sb.zeros(1, 1, 8, 8), sb.zeros({2, 1, 3, 3}, {dtype = "float64"}))
    fails("conv2d: input must be a floating-point tensor, got int64",
          F.conv2d, sb.zeros({1, 1, 8, 8}, {dtype = "int64"}), sb.zeros(2, 1, 3, 3))
    fails("linear: input's last dimension must be in_features = 400 (weight [120, 400]), got input [2, 784]",
          F.linear, sb.zeros(2, 784), sb.zeros(120, 400))
    fails("linear: weight must be 2-D", F.linear, sb.zeros(2, 4), sb.zeros(4))
    fails("max_pool2d: padding must be between 0 and half the kernel size, got padding 2 for kernel size 2",
          F.max_pool2d, sb.zeros(1, 1, 8, 8), 2, {padding = 2})
    fails("max_pool2d: output size is too small", F.max_pool2d, sb.zeros(1, 1, 1, 1), 2)
    fails("max_pool2d: bad argument #2 (kernel_size expected", F.max_pool2d, x)
    fails("avg_pool2d: unknown option 'dilation'", F.avg_pool2d, sb.zeros(1, 1, 8, 8), 2, {dilation = 2})
    fails("avg_pool2d: divisor_override must be positive", F.avg_pool2d, sb.zeros(1, 1, 8, 8), 2,
          {divisor_override = 0})
    fails("adaptive_avg_pool2d: input must be 4-D (N,C,H,W) or unbatched 3-D (C,H,W), got 2-D",
          F.adaptive_avg_pool2d, sb.zeros(3, 3), 1)
    fails("batch_norm: running_mean must have shape [3] (the input's channels), got [4]",
          F.batch_norm, sb.zeros(2, 3), sb.zeros(4), sb.ones(3))
    fails("batch_norm: training mode is not supported", F.batch_norm, sb.zeros(2, 3), sb.zeros(3),
          sb.ones(3), nil, nil, {training = true})
    fails("softmax: dim 4 is out of range for a 3-D tensor (expected 1..3 or -3..-1)", F.softmax, x, 4)
    fails("softmax: dim 0 is not valid: dims are 1-based", F.softmax, x, 0)
    fails("log_softmax: bad argument #2 (dim expected", F.log_softmax, x)
    fails("flatten: start_dim must not come after end_dim", F.flatten, x, 3, 2)
    fails("gelu: approximate must be 'none' or 'tanh', got 'fast'", F.gelu, x, {approximate = "fast"})
    fails("relu: input must be a floating-point tensor, got uint8", F.relu, sb.zeros({2}, {dtype = "uint8"}))
  end)

  it("computes in float32 on the CPU and says so for float64", function()
    fails("relu: the CPU kernels compute in float32, got float64", F.relu,
          sb.zeros({2}, {dtype = "float64"}))
  end)

  it("handles empty batches", function()
    local y = F.conv2d(sb.zeros(0, 1, 8, 8), sb.zeros(2, 1, 3, 3))
    assert.same({0, 2, 6, 6}, shape(y))
    assert.same({0, 4}, shape(F.linear(sb.zeros(0, 3), sb.zeros(4, 3))))
    assert.same({0, 1, 4, 4}, shape(F.max_pool2d(sb.zeros(0, 1, 8, 8), 2)))
    assert.same({0, 5}, shape(F.softmax(sb.zeros(0, 5), 2)))
  end)

  it("flatten returns a view of a contiguous input", function()
    local t = sb.zeros(2, 3, 4)
    local f = F.flatten(t, 2)
    f[1][1] = 5
    assert.equal(5, t[1][1][1])
  end)
end)
