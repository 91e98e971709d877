--- Parameter initialisation for the layers (internal: float32 tensors on the CPU; move with :to()).
--   init.uniform(shape, a, b)  U(a, b) from the engine generator (sb.manual_seed)
--   init.zeros(shape), init.ones(shape), init.rand_like(t)
local T = require("sbengine.core").tensor

local init = {}

function init.uniform(shape, a, b)
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
