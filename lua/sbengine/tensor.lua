--- sbengine.tensor: the public tensor functions (docs/tensor.md).
--
-- The tensor userdata and its methods are C (engine/bindings/l_tensor.c); this module picks
-- the public names out of `sbengine.core.tensor`, installs them on `sb`, and applies the
-- CLI's --threads when the session is configured.
local core = require "sbengine.core"
local session = require "sbengine.session"

local T = core.tensor

local tensor = {}

--- Functions that become `sb.<name>`.
tensor.exports = {
  "tensor", "zeros", "ones", "empty", "full", "rand", "randn", "arange", "from_bytes", "cat", "stack",
  "manual_seed", "is_tensor", "set_num_threads", "get_num_threads", "memory_stats",
  "reset_peak_memory_stats", "empty_cache",
}
for _, name in ipairs(tensor.exports) do tensor[name] = T[name] end

--- The method table of every tensor: functions added here become `t:name(...)`.
tensor.methods = T.methods

--- Copies the public functions onto `sb`.
function tensor.install(sb)
  for _, name in ipairs(tensor.exports) do sb[name] = T[name] end
end

-- `sbengine --threads N` sets the engine pool and OpenBLAS (SBENGINE_NUM_THREADS is read
-- by the core itself on first use).
session.configure_hooks[#session.configure_hooks + 1] = function(config)
  if config.threads then T.set_num_threads(config.threads) end
end

return tensor
