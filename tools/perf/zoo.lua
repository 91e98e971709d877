-- The sbengine side of tools/perf/zoo (which writes the weights and inputs with torchvision,
-- times PyTorch on the same ones and compares the outputs):
--
--   sbengine --threads N tools/perf/zoo.lua DIR NAME TARGET_S MAX_REPEATS BATCH...
--
-- DIR holds NAME.safetensors (torchvision's state_dict) and inputs.safetensors (x1, x32...:
-- one [BATCH, 3, 224, 224] input per batch size). For each BATCH: warm-up passes (two for
-- the first BATCH: the engine keeps prepared convolution weights from their second use on;
-- one for the others), then timed passes until TARGET_S seconds have been spent or
-- MAX_REPEATS passes run (at least one). The last output of each batch is written to DIR/NAME_sbengine.safetensors (y1,
-- y32...) for the driver to compare with PyTorch's. Prints "batch key value" lines.
local sb = require "sbengine"
local clock = sb.bench.clock

local dir, name = arg[1], arg[2]
local target, max_repeats = tonumber(arg[3]), tonumber(arg[4])
assert(dir and name and target and max_repeats and arg[5],
  "usage: zoo.lua DIR NAME TARGET_S MAX_REPEATS BATCH...")

local function median(t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
end

local t0 = clock()
local model = sb.models[name]{weights = dir .. "/" .. name .. ".safetensors"} -- eval mode
print(("0 load_seconds %.6f"):format(clock() - t0))
local inputs = sb.io.load_safetensors(dir .. "/inputs.safetensors")

local outputs = {}
for i = 5, #arg do
  local batch = math.tointeger(tonumber(arg[i]))
  local x = assert(inputs["x" .. batch], "inputs.safetensors has no x" .. arg[i])
  -- Warm-up: page faults, primitive caches, prepared weights, the thread pool.
  local w0, y = clock(), nil
  for _ = 1, i == 5 and 2 or 1 do y = model(x) end
  local warm = clock() - w0
  local times, cpu, spent = {}, {}, 0
  repeat
    local c0, s0 = os.clock(), clock()
    y = model(x)
    times[#times + 1], cpu[#cpu + 1] = clock() - s0, os.clock() - c0
    spent = spent + times[#times]
  until spent >= target or #times >= max_repeats
  outputs["y" .. batch] = y
  print(("%d warmup_seconds %.6f"):format(batch, warm))
  print(("%d passes %d"):format(batch, #times))
  print(("%d seconds %.6f"):format(batch, median(times)))
  print(("%d cpu_seconds %.6f"):format(batch, median(cpu)))
  x, y = nil, nil
  collectgarbage()
end
sb.io.save_safetensors(dir .. "/" .. name .. "_sbengine.safetensors", outputs)
