-- The sbengine side of tools/perf/gpu: GEMM TFLOP/s, host-to-device GB/s, LeNet-5 over the
-- 10k MNIST test images, ResNet-18/50 evaluation at a large batch, and the peak memory of each
-- model section. Prints "name<TAB>value<TAB>unit" lines, and "#file<TAB>path" for the MNIST
-- file it read (the driver checks that PyTorch read the same one).
-- Usage: sbengine tools/perf/gpu_bench.lua [MNIST_ROOT] [SOURCE_DIR]
-- Env: SB_PERF_DEVICE (default cuda; "cpu" tries the script without a GPU), SB_PERF_GEMM_N
-- (8192), SB_PERF_RESNET_BATCH (1024), SB_PERF_RUNS (repetitions of each timing, 10).
-- The same env, the same rules in tools/perf/gpu_torch.py: peak memory reset before each
-- section, random matrices, pinned copies on both sides, the same MNIST file.
local sb = require "sbengine"
local clock = require("sbengine.core").sys.monotonic
local root = arg[1] or "./.data/vision/mnist"
local src = arg[2] or "."
local dev = os.getenv("SB_PERF_DEVICE") or "cuda"
local gpu = dev ~= "cpu"

if gpu then
  local ok, why = sb.cuda.available()
  if not ok then
    io.stderr:write("gpu_bench: no usable GPU, nothing measured: ", tostring(why), "\n")
    os.exit(77)
  end
end

local function report(name, value, unit) print(("%s\t%.6g\t%s"):format(name, value, unit)) end
local function sync() if gpu then sb.cuda.synchronize() end end
local runs = tonumber(os.getenv("SB_PERF_RUNS") or "10")

-- Median seconds of `n` timed calls of fn after `warmup` untimed ones; fn's GPU work is
-- finished before the clock stops.
local function time(fn, n, warmup)
  for _ = 1, warmup or 2 do fn() end
  sync()
  local samples = {}
  for i = 1, n do
    local t0 = clock()
    fn()
    sync()
    samples[i] = clock() - t0
  end
  table.sort(samples)
  return samples[(n + 1) // 2]
end

-- Each model section starts from a clean slate: garbage of the last one collected, the
-- cache given back, the peak counter reset (gpu_torch.py does the same).
local function section()
  collectgarbage()
  if gpu then
    sb.cuda.synchronize()
    sb.cuda.empty_cache()
    sb.cuda.reset_peak()
  end
end
local function report_peak(name)
  if gpu then report("peak_" .. name, sb.cuda.memory_stats().max_allocated / 2 ^ 20, "MiB") end
end

-- GEMM: n x n x n of random matrices, exact fp32 (no TF32) and bfloat16 with fp32 accumulation.
section()
local n = tonumber(os.getenv("SB_PERF_GEMM_N") or "8192")
local a, b = sb.randn(n, n):to(dev), sb.randn(n, n):to(dev)
local t = time(function() return a:matmul(b) end, runs)
report("sgemm_" .. n, 2 * n ^ 3 / t / 1e12, "TFLOP/s")
if gpu then -- bfloat16 is a storage type on the CPU: no products there
  local ah, bh = a:to("bfloat16"), b:to("bfloat16")
  t = time(function() return ah:matmul(bh) end, runs)
  report("bf16_gemm_" .. n, 2 * n ^ 3 / t / 1e12, "TFLOP/s")
end
a, b = nil, nil

-- Host to device: 256 MiB from pinned memory (a DataLoader batch with pin_memory) and from
-- ordinary memory.
section()
if gpu then
  local host = sb.rand(64, 1024, 1024)
  local loader = sb.data.DataLoader(sb.data.TensorDataset(host), { batch_size = 64, pin_memory = true })
  local pinned
  for _, input in loader:iter() do pinned = input end
  local bytes = 64 * 1024 * 1024 * 4
  if not loader.pinned then
    io.stderr:write("gpu_bench: DataLoader batches are not pinned: ", tostring(loader.pin_memory_note), "\n")
    os.exit(1)
  end
  t = time(function() return pinned:cuda() end, runs)
  report("h2d_pinned_256MiB", bytes / t / 1e9, "GB/s")
  t = time(function() return host:cuda() end, runs)
  report("h2d_pageable_256MiB", bytes / t / 1e9, "GB/s")
end

-- LeNet-5 over the 10k MNIST test images: the IDX file found in sb.data.MNIST's order (plain
-- before .gz, MNIST/raw/ before the root itself), synthetic images when there is none (the
-- figure's name says so). Batches of 128 from pinned memory, copied, normalised, classified,
-- argmax; all in the timing.
section()
local file
for _, pattern in ipairs { "%s/MNIST/raw/%s", "%s/MNIST/raw/%s.gz", "%s/%s", "%s/%s.gz" } do
  local path = pattern:format(root, "t10k-images-idx3-ubyte")
  local f = io.open(path, "rb")
  if f then f:close() file = path break end
end
local images, source
if file then
  local l = sb.data.DataLoader(sb.data.MNIST { root = root, train = false },
    { batch_size = 10000, pin_memory = gpu })
  for _, input in l:iter() do images = input end
  if gpu and not l.pinned then
    io.stderr:write("gpu_bench: the MNIST batch is not pinned: ", tostring(l.pin_memory_note), "\n")
    os.exit(1)
  end
  images = images:reshape(10000, 1, 28, 28) -- samples are [28, 28]; a view of the pinned batch
  source = "mnist"
else
  local synthetic = (sb.rand(10000, 1, 28, 28) * 255):byte()
  local l = sb.data.DataLoader(sb.data.TensorDataset(synthetic), { batch_size = 10000, pin_memory = gpu })
  for _, input in l:iter() do images = input end
  source, file = "synthetic", "synthetic"
end
print("#file\t" .. file)
local model = dofile(src .. "/examples/models/lenet5.lua"):to(dev)
local batches = {}
for s = 1, 10000, 128 do batches[#batches + 1] = images:narrow(1, s, math.min(128, 10001 - s)) end
t = time(function()
  for _, x in ipairs(batches) do
    local g = (x:to(dev):float() / 255 - 0.1307) / 0.3081
    model(g):argmax(2)
  end
end, math.max(1, runs // 2), 1)
report("lenet5_mnist10k_" .. source, 10000 / t, "images/s")
report_peak("lenet5")
model, batches, images = nil, nil, nil

-- ResNet-18 and ResNet-50 evaluation at a large batch, inputs already on the device. Random
-- weights drawn as PyTorch's defaults (the speed does not depend on their values).
local batch = tonumber(os.getenv("SB_PERF_RESNET_BATCH") or "1024")
for _, name in ipairs { "resnet18", "resnet50" } do
  section()
  local net = sb.models[name] {}:to(dev)
  local x = sb.randn(batch, 3, 224, 224):to(dev)
  t = time(function() return net(x) end, math.max(1, runs // 2), 1)
  report(name .. "_b" .. batch, batch / t, "images/s")
  report_peak(name .. "_b" .. batch)
  net, x = nil, nil
end
