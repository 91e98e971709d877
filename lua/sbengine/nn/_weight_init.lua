--- Parameter initialisation for the layers (internal: float32 tensors on the CPU; move with :to()).
--   init.uniform(shape, a, b)  U(a, b) from the engine generator (sb.manual_seed)
--   init.zeros(shape), init.ones(shape), init.rand_like(t)
local T = require("sbengine.core").tensor

local init = {}

-- While a builder that loads weights right after (sb.models with `weights`) runs, random
-- draws are skipped: every parameter is overwritten by the strict load, and drawing
-- 25 million numbers for ResNet-50 costs more than loading its checkpoint.
local skip_random = false

--- Runs fn(...) with random initialisation replaced by uninitialised tensors; returns
-- what fn returns (and re-raises its error).
function init.without_random(fn, ...)
  skip_random = true
  local res = table.pack(pcall(fn, ...))
  skip_random = false
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

function init.uniform(shape, a, b)
  if skip_random then return T.empty(shape) end
  return T.rand(shape) * (b - a) + a
end

function init.zeros(shape)
  return T.zeros(shape)
end

function init.ones(shape)
  return T.ones(shape)
end

--- U(0, 1) with t's shape, on t's device.
function init.rand_like(t)
  local shape = {}
  for i = 1, t:dim() do shape[i] = t:size(i) end
  return T.rand(shape, {device = t:device()})
end

return init
