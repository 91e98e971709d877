-- Convolutions and pooling on CUDA against the CPU over a grid of shapes: grouped, depthwise,
-- strided, dilated and padded convolutions at several batch sizes, the fused batch norm,
-- residual and activations, max and average pooling. With cuDNN in use (sb.cuda.info().cudnn)
-- they run through it; ctest runs this file a second time as gpu.cudnn_off with
-- SBENGINE_CUDNN=0, where the plugin's own kernels must give the same results. Skipped
-- (pending) without a GPU.
local sb = require "sbengine"
local F = sb.nn.functional

if require("gpu_helper").skip_without_gpu("cuDNN convolutions and pooling") then return end

-- Relative to max(1, largest |value|), as tests/lua/gpu/cuda_nn_spec.lua: float32 differs from
-- the CPU in summation order only; 16-bit storage rounds inputs, weights and outputs.
local TOL = { float32 = 1e-4, float64 = 1e-10, float16 = 1e-2, bfloat16 = 6e-2 }

local function check_close(ref, got, dtype, what)
  assert.are.same(ref:size(), got:size(), what)
  local r = ref:double()
  local diff = (r - got:cpu():double()):abs():max():item()
  local scale = math.max(1, r:abs():max():item())
  assert(diff <= TOL[dtype] * scale,
    ("%s (%s): max difference %g > %g"):format(what, dtype, diff, TOL[dtype] * scale))
end

-- The CPU computes in float32; a 16-bit case compares with the CPU on the same rounded inputs.
local function on_gpu(t, dtype) return t:cuda():to(dtype) end
local function rounded(t, dtype)
  if dtype == "float32" or dtype == "float64" then return t end
  return t:to(dtype):float()
end

describe("cuDNN", function()
  it("sb.cuda.info() says whether cuDNN is in use and which version", function()
    local info = sb.cuda.info()
    assert.is_true(info.available)
    assert.is_string(info.runtime)
    if os.getenv("SBENGINE_CUDNN") == "0" then
      assert.is_false(info.cudnn)
      assert.matches("SBENGINE_CUDNN=0", info.cudnn_unused)
    elseif info.cudnn then
      assert.matches("^9%.%d+%.%d+$", info.cudnn)
    else
      assert.is_string(info.cudnn_unused)
    end
  end)
end)

describe("conv2d on CUDA", function()
  -- {N, C, H, W, O, k, stride, padding, dilation, groups}
  local shapes = {
    { 1, 3, 17, 17, 8, 3, 1, 1, 1, 1 },
    { 2, 16, 14, 14, 32, 3, 1, 1, 1, 1 },
    { 3, 16, 15, 13, 16, 3, 2, 1, 1, 1 },   -- strided, odd sizes
    { 4, 8, 16, 16, 12, 3, 1, 2, 2, 1 },    -- dilated
    { 2, 8, 12, 12, 8, 5, 1, 2, 1, 1 },
    { 5, 12, 10, 10, 12, 3, 1, 1, 1, 3 },   -- grouped
    { 2, 16, 9, 9, 32, 3, 2, 0, 1, 4 },     -- grouped, strided, unpadded
    { 3, 32, 14, 14, 32, 3, 1, 1, 1, 32 },  -- depthwise
    { 2, 32, 15, 15, 32, 3, 2, 1, 1, 32 },  -- depthwise, strided
    { 1, 16, 13, 13, 32, 5, 1, 4, 2, 16 },  -- depthwise with multiplier 2, dilated
    { 8, 64, 7, 7, 128, 1, 1, 0, 1, 1 },    -- 1x1
    { 4, 64, 14, 14, 128, 1, 2, 0, 1, 1 },  -- 1x1 strided (ResNet's downsample)
    { 2, 3, 32, 32, 16, 7, 2, 3, 1, 1 },    -- ResNet's stem
    { 7, 6, 11, 9, 10, 3, 1, 0, 1, 2 },
    { 16, 32, 8, 8, 64, 3, 1, 1, 1, 1 },
  }
  for i, s in ipairs(shapes) do
    local n, c, h, w, o, k, stride, pad, dil, groups = table.unpack(s)
    it(("case %d: [%d,%d,%d,%d] -> %d, k%d s%d p%d d%d g%d"):format(i, n, c, h, w, o, k, stride,
      pad, dil, groups), function()
      local x = sb.randn(n, c, h, w)
      local wt = sb.randn(o, c // groups, k, k) * (1 / math.sqrt(c // groups * k * k))
      local b = sb.randn(o)
      local opt = { stride = stride, padding = pad, dilation = dil, groups = groups }
      local ref = F.conv2d(x, wt, b, opt)
      check_close(ref, F.conv2d(x:cuda(), wt:cuda(), b:cuda(), opt), "float32", "with bias")
      local ref_nb = F.conv2d(x, wt, opt)
      check_close(ref_nb, F.conv2d(x:cuda(), wt:cuda(), opt), "float32", "without bias")
      for _, dtype in ipairs { "float16", "bfloat16" } do
        local r = F.conv2d(rounded(x, dtype), rounded(wt, dtype), rounded(b, dtype), opt)
        check_close(r, F.conv2d(on_gpu(x, dtype), on_gpu(wt, dtype), on_gpu(b, dtype), opt),
          dtype, "16-bit")
      end
    end)
  end

  it("float64 convolutions agree with a float64 reference built from float32 ones", function()
    -- The CPU computes float32 only: the float64 result is checked against the float32 one at
    -- float32's tolerance, and its own two runs against each other exactly.
    local x, wt = sb.randn(2, 8, 10, 10), sb.randn(16, 4, 3, 3) * 0.2
    local opt = { padding = 1, groups = 2 }
    local ref = F.conv2d(x, wt, opt)
    local a = F.conv2d(x:cuda():double(), wt:cuda():double(), opt)
    check_close(ref, a:float(), "float32", "float64")
  end)

  it("padding = 'same' with an even kernel (extra row and column at the end)", function()
    local x, wt = sb.randn(2, 4, 9, 10), sb.randn(6, 4, 4, 2)
    local ref = F.conv2d(x, wt, { padding = "same" })
    check_close(ref, F.conv2d(x:cuda(), wt:cuda(), { padding = "same" }), "float32", "same")
  end)

  it("a batch of one image and a large batch use the same shapes' algorithms correctly", function()
    local wt, b = sb.randn(32, 16, 3, 3) * 0.1, sb.randn(32)
    for _, n in ipairs { 1, 2, 64, 1 } do
      local x = sb.randn(n, 16, 20, 20)
      check_close(F.conv2d(x, wt, b, { padding = 1 }),
        F.conv2d(x:cuda(), wt:cuda(), b:cuda(), { padding = 1 }), "float32", "batch " .. n)
    end
  end)

  local acts = { "relu", "relu6", "hardswish", "silu" }
  for _, act in ipairs(acts) do
    it("folds batch norm and fuses the residual and " .. act .. " as the CPU does", function()
      local x = sb.randn(3, 16, 12, 12)
      local wt, b = sb.randn(24, 16, 3, 3) * 0.1, sb.randn(24)
      local bn = { running_mean = sb.randn(24), running_var = sb.rand(24) + 0.5,
                   weight = sb.randn(24), bias = sb.randn(24), eps = 1e-5 }
      local r = sb.randn(3, 24, 12, 12)
      local gbn = {}
      for key, v in pairs(bn) do gbn[key] = type(v) == "number" and v or v:cuda() end
      for _, with in ipairs { { b = true, r = true }, { b = false, r = true },
                              { b = true, r = false }, { b = false, r = false } } do
        local opt = { padding = 1, batch_norm = bn, residual = with.r and r or nil, activation = act }
        local gopt = { padding = 1, batch_norm = gbn, residual = with.r and r:cuda() or nil,
                       activation = act }
        local ref = F.conv2d(x, wt, with.b and b or nil, opt)
        local got = F.conv2d(x:cuda(), wt:cuda(), with.b and b:cuda() or nil, gopt)
        check_close(ref, got, "float32", ("%s bias=%s residual=%s"):format(act,
          tostring(with.b), tostring(with.r)))
      end
    end)
  end

  it("batch norm over a convolution of no input channels (the folded bias alone)", function()
    local x, wt = sb.randn(2, 0, 5, 5), sb.randn(3, 0, 3, 3)
    local bn = { running_mean = sb.randn(3), running_var = sb.rand(3) + 0.5, eps = 1e-5 }
    local gbn = { running_mean = bn.running_mean:cuda(), running_var = bn.running_var:cuda(),
                  eps = 1e-5 }
    local ref = F.conv2d(x, wt, { batch_norm = bn, activation = "relu" })
    check_close(ref, F.conv2d(x:cuda(), wt:cuda(), { batch_norm = gbn, activation = "relu" }),
      "float32", "no input channels")
  end)

  it("fuses a residual and an activation without batch norm, grouped and strided", function()
    local x, wt = sb.randn(2, 8, 11, 11), sb.randn(8, 2, 3, 3)
    local r = sb.randn(2, 8, 6, 6)
    local opt = { stride = 2, padding = 1, groups = 4, residual = r, activation = "relu" }
    local gopt = { stride = 2, padding = 1, groups = 4, residual = r:cuda(), activation = "relu" }
    check_close(F.conv2d(x, wt, opt), F.conv2d(x:cuda(), wt:cuda(), gopt), "float32", "residual")
  end)

  it("sb.nn.conv_bn and a model's blocks give the CPU's result", function()
    local nn = sb.nn
    local conv, bn = nn.Conv2d(8, 8, 3, { padding = 1, bias = false }), nn.BatchNorm2d(8)
    bn.running_mean:copy(sb.randn(8))
    bn.running_var:copy(sb.rand(8) + 0.5)
    conv:eval()
    bn:eval()
    local x = sb.randn(2, 8, 10, 10)
    local ref = nn.conv_bn(x, conv, bn, { activation = "relu", residual = x })
    conv:to("cuda")
    bn:to("cuda")
    local gx = x:cuda()
    check_close(ref, nn.conv_bn(gx, conv, bn, { activation = "relu", residual = gx }), "float32",
      "conv_bn")
  end)

  it("with TF32 off (the default), float32 keeps float32's precision", function()
    assert.is_false(sb.cuda.allow_tf32())
    -- values whose products need more than TF32's 10-bit mantissa
    local x = sb.randn(4, 64, 16, 16) + 1000
    local wt = sb.randn(64, 64, 3, 3) * 0.01 + 0.001
    local ref = F.conv2d(x, wt, { padding = 1 })
    check_close(ref, F.conv2d(x:cuda(), wt:cuda(), { padding = 1 }), "float32", "no TF32")
  end)
end)

describe("pooling on CUDA", function()
  -- {N, C, H, W, kernel, stride, padding, ceil_mode}
  local shapes = {
    { 2, 3, 112, 112, 3, 2, 1, false }, -- ResNet's stem
    { 4, 8, 7, 7, 7, 7, 0, false },
    { 3, 5, 9, 11, 3, 2, 0, true },    -- ceil mode with a clipped window
    { 2, 4, 8, 8, 2, 2, 0, false },
    { 1, 6, 13, 10, 4, 3, 2, true },
    { 8, 16, 6, 6, 3, 1, 1, false },
  }
  for i, s in ipairs(shapes) do
    local n, c, h, w, k, stride, pad, ceil = table.unpack(s)
    it(("case %d: [%d,%d,%d,%d] k%d s%d p%d ceil=%s"):format(i, n, c, h, w, k, stride, pad,
      tostring(ceil)), function()
      local x = sb.randn(n, c, h, w)
      local opt = { stride = stride, padding = pad, ceil_mode = ceil }
      for _, dtype in ipairs { "float32", "float16", "bfloat16" } do
        local xr, gx = rounded(x, dtype), on_gpu(x, dtype)
        check_close(F.max_pool2d(xr, k, opt), F.max_pool2d(gx, k, opt), dtype, "max")
        for _, include in ipairs { true, false } do
          local aopt = { stride = stride, padding = pad, ceil_mode = ceil,
                         count_include_pad = include }
          check_close(F.avg_pool2d(xr, k, aopt), F.avg_pool2d(gx, k, aopt), dtype,
            "avg count_include_pad=" .. tostring(include))
        end
      end
    end)
  end

  it("dilated max pooling and divisor_override (the plugin's own kernels)", function()
    local x = sb.randn(2, 3, 15, 15)
    local mopt = { stride = 2, padding = 1, dilation = 2 }
    check_close(F.max_pool2d(x, 3, mopt), F.max_pool2d(x:cuda(), 3, mopt), "float32", "dilated")
    local aopt = { stride = 2, divisor_override = 5 }
    check_close(F.avg_pool2d(x, 3, aopt), F.avg_pool2d(x:cuda(), 3, aopt), "float32", "override")
  end)

  it("max pooling propagates NaN as the CPU does", function()
    local x = sb.randn(1, 2, 6, 6)
    x[1][1][2][2] = 0 / 0
    local ref = F.max_pool2d(x, 2):view(-1):totable()
    local got = F.max_pool2d(x:cuda(), 2):cpu():view(-1):totable()
    for j = 1, #ref do
      if ref[j] ~= ref[j] then
        assert(got[j] ~= got[j], "NaN expected at " .. j)
      else
        assert.are.equal(ref[j], got[j])
      end
    end
  end)
end)

describe("a model on CUDA", function()
  it("ResNet-18 (random weights, eval) gives the CPU's logits", function()
    local net = sb.models.resnet18 {}
    net:eval()
    local x = sb.randn(2, 3, 64, 64)
    local ref = net(x)
    net:to("cuda")
    local got = net(x:cuda())
    -- 20 layers of float32 rounding in different orders
    local diff = (ref - got:cpu()):abs():max():item()
    assert(diff <= 1e-3 * math.max(1, ref:abs():max():item()), "max difference " .. diff)
    assert.are.same(ref:argmax(2):totable(), got:argmax(2):cpu():totable())
  end)
end)
