-- Checkpoint loading figures for tools/perf/models: one measurement per process, so the peak
-- resident memory (VmHWM) belongs to that measurement alone.
--
--   sbengine tools/perf/models_load.lua MODE PATH
--     MODE "load_pytorch": sb.io.load_pytorch(PATH), then every byte read (a sum per tensor)
--     MODE "model":        sb.models.resnet50{weights = PATH}, then every parameter read
--
-- Prints "key value" lines: seconds (wall) of the load, of the load plus the read, the
-- process CPU seconds of the load (all threads), and the resident-memory growth in MiB after
-- the load and at its peak after the read.
local sb = require "sbengine"
local core = require "sbengine.core"

local mode, path = arg[1], arg[2]
local clock = core.sys.monotonic

local function status(field)
  for line in io.lines("/proc/self/status") do
    local v = line:match("^" .. field .. ":%s+(%d+)")
    if v then return tonumber(v) / 1024 end
  end
end

local base = status("VmRSS")
local t0, c0 = clock(), os.clock()
local tensors
if mode == "load_pytorch" then
  tensors = sb.io.load_pytorch(path)
else
  tensors = sb.models.resnet50{weights = path}:state_dict()
end
local t1, c1 = clock(), os.clock()
local rss_loaded = status("VmRSS") - base
for _, t in pairs(tensors) do
  if t:dtype() == "float32" then t:sum() end
end
local t2 = clock()
print("load_s", t1 - t0)
print("load_cpu_s", c1 - c0)
print("load_and_read_s", t2 - t0)
print("rss_after_load_mib", rss_loaded)
print("peak_after_read_mib", status("VmHWM") - base)
