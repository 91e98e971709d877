-- The one preamble of the GPU specs (tests/lua/gpu/): without a visible GPU a spec file
-- reports one pending test that says why, and stops.
--   if require("gpu_helper").skip_without_gpu("CUDA tensors") then return end
local sb = require "sbengine"
local busted = require "busted"

local gpu = {}

--- True (after registering `name` as pending with the reason) when no GPU is visible.
function gpu.skip_without_gpu(name)
  local available, why = sb.cuda.available()
  if available then return false end
  busted.describe(name, function() busted.pending("no GPU: " .. tostring(why)) end)
  return true
end

return gpu
