-- The sbengine side of tools/perf/convnets (which writes the weights and reference outputs
-- with torchvision and times PyTorch on the same ones):
--
--   sbengine --threads N tools/perf/convnets.lua DIR REPEATS CASE...
--
-- CASE is "name:model:batch:size" (model resnet18|resnet50|mobilenet_v2|lenet5) or
-- "name:sgemm:n". DIR holds MODEL.safetensors (torchvision state_dict) and NAME_io.safetensors
-- (input, output). Each case: a check of the output against PyTorch's, 1 warm-up pass, then
-- REPEATS timed passes. Prints "name key value" lines for the driver.
local sb = require "sbengine"
local clock = sb.bench.clock

local dir = assert(arg[1], "usage: convnets.lua DIR REPEATS CASE...")
local repeats = tonumber(arg[2])
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"

local function median(t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
end

-- Median wall seconds and median process CPU seconds (all threads) of `repeats` passes.
local function time_passes(fn)
  fn() -- warm-up: page faults, primitive caches, the thread pool
  local times, cpu = {}, {}
  for r = 1, repeats do
    local t0, c0 = clock(), os.clock()
    fn()
    times[r], cpu[r] = clock() - t0, os.clock() - c0
  end
  return median(times), median(cpu)
end

local models = {}
local function model_for(name)
  if models[name] then return models[name] end
  local m
  if name == "lenet5" then
    m = dofile(here .. "../../examples/models/lenet5.lua")
  else
    m = sb.models[name]{weights = dir .. "/" .. name .. ".safetensors"} -- eval mode
  end
  models[name] = m
  return m
end

for i = 3, #arg do
  local name, kind, a = arg[i]:match("^([^:]+):([^:]+):(%d+)")
  if kind == "sgemm" then
    local n = tonumber(a)
    local x, y = sb.rand(n, n), sb.rand(n, n)
    -- Each result freed at once, as tools/perf/tensor_ops does: left to the collector, every
    -- pass would get fresh memory and pay its page faults inside the GEMM (measured: half
    -- the speed at 1024 and 2048; docs/perf.md).
    local t, c = time_passes(function() x:matmul(y):free() end)
    print(string.format("%s seconds %.6f", name, t))
    print(string.format("%s cpu_seconds %.6f", name, c))
    print(string.format("%s gflops %.2f", name, 2 * n * n * n / t / 1e9))
  else
    local model = model_for(kind)
    local io = sb.io.load_safetensors(dir .. "/" .. name .. "_io.safetensors")
    local x, want = io.input, io.output
    local got = model(x)
    -- Largest difference relative to the largest reference logit.
    local scale = want:abs():max():item()
    local diff = (got - want):abs():max():item()
    local t, c = time_passes(function() model(x) end)
    print(string.format("%s cpu_seconds %.6f", name, c))
    print(string.format("%s max_abs_diff %.3g", name, diff))
    print(string.format("%s rel_diff %.3g", name, diff / scale))
    print(string.format("%s seconds %.6f", name, t))
    print(string.format("%s images_per_s %.2f", name, tonumber(a) / t))
  end
end
