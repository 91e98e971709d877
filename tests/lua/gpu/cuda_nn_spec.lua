-- sb.nn.functional and the example models on CUDA against the CPU: every case of the
-- PyTorch fixture (tests/fixtures/nn/ops_cases.lua, non-contiguous inputs included) in
-- float32, the same cases stored in float16/bfloat16, a convolution large enough to run
-- im2col in chunks, and LeNet-5 / the small ResNet giving identical argmax on both devices.
-- Skipped (pending) without a GPU.
local sb = require "sbengine"
local F = sb.nn.functional

if require("gpu_helper").skip_without_gpu("CUDA nn ops") then return end

local src = os.getenv("SBENGINE_SOURCE_DIR")
local fixtures = os.getenv("SBENGINE_FIXTURES") .. "/nn/"
local nn_cases = require "nn_cases"
local data, cases, build_args = nn_cases.data, nn_cases.cases, nn_cases.build_args

-- Tolerances relative to max(1, largest |value|): float32 differs from the CPU only in
-- summation order (GEMM, pooling sums); 16-bit storage rounds inputs and outputs.
local TOL = { float32 = 1e-4, float16 = 1e-2, bfloat16 = 6e-2 }

local function max_abs_diff(a, b)
  local fa, fb = a:contiguous():view(-1):totable(), b:contiguous():view(-1):totable()
  assert(#fa == #fb, "element counts differ")
  local worst, scale = 0, 1
  for i = 1, #fa do
    local x, y = fa[i], fb[i]
    if x ~= x or y ~= y then
      if not (x ~= x and y ~= y) then return math.huge, 1 end
    else
      worst = math.max(worst, math.abs(x - y))
      scale = math.max(scale, math.abs(x))
    end
  end
  return worst, scale
end

local function floating(t) return t:dtype() == "float32" or t:dtype() == "float64" end

describe("CUDA nn functional ops", function()
  for _, dtype in ipairs { "float32", "float16", "bfloat16" } do
    it("every fixture case agrees with the CPU in " .. dtype, function()
      local checked = 0
      for _, case in ipairs(cases) do
        local cpu_args = build_args(case, function(t)
          -- the CPU reference sees the same rounded inputs as the 16-bit GPU run
          if dtype ~= "float32" and floating(t) then return t:to(dtype):float() end
          return t
        end)
        local gpu_args = build_args(case, function(t)
          local g = t:cuda()
          if dtype ~= "float32" and floating(t) then g = g:to(dtype) end
          return g
        end)
        local ok_cpu, ref = pcall(F[case.op], table.unpack(cpu_args, 1, case.n))
        if ok_cpu then
          local got = F[case.op](table.unpack(gpu_args, 1, case.n))
          assert.is_true(got:device():match("^cuda") ~= nil, case.name)
          assert.are.equal(dtype == "float32" and ref:dtype() or dtype, got:dtype(), case.name)
          local diff, scale = max_abs_diff(ref, got:cpu():float())
          assert(diff <= TOL[dtype] * scale,
            ("%s (%s): max difference %g > %g"):format(case.name, dtype, diff, TOL[dtype] * scale))
          checked = checked + 1
        end
      end
      assert.is_true(checked > 50, "cases checked: " .. checked)
    end)
  end

  it("a large batch convolution (im2col in chunks) agrees with the CPU", function()
    local x = sb.randn(300, 16, 64, 64)
    local w, b = sb.randn(32, 16, 3, 3) * 0.1, sb.randn(32)
    local ref = F.conv2d(x, w, b, { padding = 1 })
    local got = F.conv2d(x:cuda(), w:cuda(), b:cuda(), { padding = 1 })
    local diff = (ref - got:cpu()):abs():max():item()
    local scale = math.max(1, ref:abs():max():item())
    assert(diff <= TOL.float32 * scale, ("max difference %g"):format(diff))
  end)

  it("a convolution over zero input channels is its bias (an empty GEMM inner dimension)", function()
    local x, w = sb.randn(2, 0, 5, 5), sb.randn(3, 0, 3, 3)
    for _, bias in ipairs { false, true } do
      local b = bias and sb.randn(3) or nil
      local ref = F.conv2d(x, w, b)
      local got = F.conv2d(x:cuda(), w:cuda(), b and b:cuda())
      assert.are.same(ref:totable(), got:cpu():totable())
    end
  end)

  it("arguments on different devices are an error naming both", function()
    local ok, err = pcall(F.linear, sb.randn(2, 3):cuda(), sb.randn(4, 3))
    assert.is_false(ok)
    assert.matches("cpu", err, 1, true)
    assert.matches("cuda:0", err, 1, true)
  end)
end)

describe("CUDA example models", function()
  it("LeNet-5 gives the CPU's logits and identical argmax on 512 MNIST images", function()
    local model = dofile(src .. "/examples/models/lenet5.lua")
    local fx = sb.io.load_safetensors(fixtures .. "lenet5_mnist_first512.safetensors")
    local x = (fx.images:float() / 255 - 0.1307) / 0.3081
    local ref = model(x)
    model:to("cuda")
    local got = model(x:cuda())
    assert.are.equal("cuda:0", got:device())
    local diff = (ref - got:cpu()):abs():max():item()
    assert.is_true(diff <= 1e-4, "max abs difference " .. diff)
    assert.are.same(ref:argmax(2):totable(), got:argmax(2):cpu():totable())
  end)

  it("the small ResNet gives the CPU's outputs and identical argmax", function()
    local model = dofile(src .. "/examples/models/small_resnet.lua")
    model:load_state_dict(fixtures .. "small_resnet.safetensors")
    local io_fx = sb.io.load_safetensors(fixtures .. "small_resnet_io.safetensors")
    local ref = model(io_fx.input)
    model:to("cuda")
    local got = model(io_fx.input:cuda())
    local diff = (ref - got:cpu()):abs():max():item()
    assert.is_true(diff <= 1e-4, "max abs difference " .. diff)
    assert.are.same(ref:argmax(2):totable(), got:argmax(2):cpu():totable())
  end)
end)
