-- The sbengine side of tools/perf/gpu: GEMM TFLOP/s, host-to-device GB/s, LeNet-5 over the
-- 10k MNIST test images and the small ResNet at batch 1024. Prints "name<TAB>value<TAB>unit"
-- lines. Usage: sbengine tools/perf/gpu_bench.lua [MNIST_ROOT] [SOURCE_DIR]
local sb = require "sbengine"
local clock = require("sbengine.core").sys.monotonic
local root = arg[1] or "./.data/vision/mnist"
local src = arg[2] or "."

local ok, why = sb.cuda.available()
if not ok then
  io.stderr:write("gpu_bench: no GPU: ", why, "\n")
  os.exit(77)
end

local function report(name, value, unit) print(("%s\t%.6g\t%s"):format(name, value, unit)) end

-- Median seconds of `runs` timed calls of fn after `warmup` untimed ones; fn's GPU work is
-- finished before the clock stops.
local function time(fn, runs, warmup)
  for _ = 1, warmup or 2 do fn() end
  sb.cuda.synchronize()
  local samples = {}
  for i = 1, runs do
    local t0 = clock()
    fn()
    sb.cuda.synchronize()
    samples[i] = clock() - t0
  end
  table.sort(samples)
  return samples[(runs + 1) // 2]
end

-- GEMM: n x n x n, exact fp32 (no TF32) and bfloat16 with fp32 accumulation.
local n = tonumber(os.getenv("SB_PERF_GEMM_N") or "8192")
local a, b = sb.randn(n, n):cuda(), sb.randn(n, n):cuda()
local t = time(function() return a:matmul(b) end, 10)
report("sgemm_" .. n, 2 * n ^ 3 / t / 1e12, "TFLOP/s")
local ah, bh = a:to("bfloat16"), b:to("bfloat16")
t = time(function() return ah:matmul(bh) end, 10)
report("bf16_gemm_" .. n, 2 * n ^ 3 / t / 1e12, "TFLOP/s")
a, b, ah, bh = nil, nil, nil, nil
collectgarbage()

-- Host to device: 256 MiB from pinned memory (a DataLoader batch with pin_memory) and
-- from ordinary memory.
local host = sb.rand(64, 1024, 1024)
local loader = sb.data.DataLoader(sb.data.TensorDataset(host), { batch_size = 64, pin_memory = true })
local pinned
for _, input in loader:iter() do pinned = input end
local bytes = 64 * 1024 * 1024 * 4
if loader.pinned then
  t = time(function() return pinned:cuda() end, 10)
  report("h2d_pinned_256MiB", bytes / t / 1e9, "GB/s")
else
  io.stderr:write("gpu_bench: DataLoader batches are not pinned: ", tostring(loader.pin_memory_note), "\n")
end
t = time(function() return host:cuda() end, 10)
report("h2d_pageable_256MiB", bytes / t / 1e9, "GB/s")
host, pinned = nil, nil
collectgarbage()

-- LeNet-5 over the 10k MNIST test images (synthetic images when MNIST is not under root):
-- pinned batches of 128 copied to the GPU, normalised, classified, argmax; all in the timing.
local images, source
local okm, ds = pcall(sb.data.MNIST, { root = root, train = false })
if okm then
  local l = sb.data.DataLoader(ds, { batch_size = 10000, pin_memory = true })
  for _, input in l:iter() do images = input end
  images = images:reshape(10000, 1, 28, 28) -- samples are [28, 28]; a view of the pinned batch
  source = "mnist"
else
  images = (sb.rand(10000, 1, 28, 28) * 255):byte()
  source = "synthetic"
end
local model = dofile(src .. "/examples/models/lenet5.lua"):to("cuda")
local batches = {}
for s = 1, 10000, 128 do batches[#batches + 1] = images:narrow(1, s, math.min(128, 10001 - s)) end
t = time(function()
  for _, x in ipairs(batches) do
    local g = (x:cuda():float() / 255 - 0.1307) / 0.3081
    model(g):argmax(2)
  end
end, 5, 1)
report("lenet5_mnist10k_" .. source, 10000 / t, "images/s")

-- The small ResNet at batch 1024 (inputs already on the GPU).
local resnet = dofile(src .. "/examples/models/small_resnet.lua")
resnet:load_state_dict(src .. "/tests/fixtures/nn/small_resnet.safetensors")
resnet:to("cuda")
local x = sb.randn(1024, 3, 32, 32):cuda()
t = time(function() return resnet(x) end, 10)
report("small_resnet_b1024", 1024 / t, "images/s")
local stats = sb.cuda.memory_stats()
report("max_allocated", stats.max_allocated / 2 ^ 20, "MiB")
