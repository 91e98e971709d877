-- LeNet-5 forward over the 10,000 MNIST test images, preloaded in one tensor, batch 256
-- (run by tools/perf/lenet5_forward, which also times PyTorch on the same weights).
--
--   sbengine tools/perf/lenet5_forward.lua RAW_DIR [THREADS] [REPEATS]
--
-- Prints one line per figure, "key value", for the driver to parse.
local sb = require "sbengine"

local raw_dir = arg[1] or "/work/main/.data/vision/mnist/MNIST/raw"
local threads = tonumber(arg[2] or "2")
local repeats = tonumber(arg[3] or "7")
sb.set_num_threads(threads)

-- The engine's monotonic wall clock (what sb.bench times evaluations with).
local clock = sb.bench.clock

local f = assert(io.open(raw_dir .. "/t10k-images-idx3-ubyte", "rb"))
local bytes = f:read("a")
f:close()
local images = sb.from_bytes(bytes:sub(17), {10000, 1, 28, 28}, "uint8")
local labels_f = assert(io.open(raw_dir .. "/t10k-labels-idx1-ubyte", "rb"))
local labels = sb.from_bytes(labels_f:read("a"):sub(9), {10000}, "uint8")
labels_f:close()
local x = ((images:float() / 255 - 0.1307) / 0.3081):contiguous()

local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
local model = dofile(here .. "../../examples/models/lenet5.lua")

local batch = 256
local function pass()
  local correct = 0
  for i = 1, 10000, batch do
    local n = math.min(batch, 10000 - i + 1)
    local y = model(x:narrow(1, i, n))
    correct = correct + y:argmax(2):eq(labels:narrow(1, i, n):long() + 1):sum():item()
  end
  return correct
end

local correct = pass() -- warm-up (page faults, thread pool start)
local times, cpu = {}, {}
for r = 1, repeats do
  local t0, c0 = clock(), os.clock()
  pass()
  times[r] = clock() - t0
  cpu[r] = os.clock() - c0
end
table.sort(times)
table.sort(cpu)
local median = times[(repeats + 1) // 2]

-- Multiply-adds per image: conv1 6x28x28x25, conv2 16x10x10x150, fc 400x120 + 120x84 + 84x10.
local macs = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 10
local gflop = 2 * macs * 10000 / 1e9

-- OpenBLAS sgemm peak on this machine and thread count: a large square product.
local n = 1536
local a, b = sb.rand(n, n), sb.rand(n, n)
a:matmul(b)
local best = math.huge
for _ = 1, 5 do
  local t0 = clock()
  a:matmul(b)
  best = math.min(best, clock() - t0)
end
local peak = 2 * n * n * n / best / 1e9

print(string.format("threads %d", threads))
print(string.format("accuracy %.4f", correct / 10000))
print(string.format("forward_median_s %.4f", median))
print(string.format("forward_min_s %.4f", times[1]))
print(string.format("forward_cpu_median_s %.4f", cpu[(repeats + 1) // 2]))
print(string.format("gflop %.3f", gflop))
print(string.format("gflops %.1f", gflop / median))
print(string.format("sgemm_peak_gflops %.1f", peak))
