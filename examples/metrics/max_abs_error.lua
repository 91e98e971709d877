-- max_abs_error: the largest |output - target| seen, a custom metric script.
-- Load it with `sbengine --metrics examples/metrics script.lua` (or SBENGINE_METRICS_PATH).
local metrics = require "sbengine.metrics"

metrics.register("max_abs_error", metrics.define {
  name = "max_abs_error",
  -- one state field; shards merge by taking the larger maximum
  state = { worst = "max" },
  init = function() return { worst = 0 } end,
  update = function(state, output, target)
    local batch_worst = (output - target):abs():max():item()
    state.worst = math.max(state.worst, batch_worst)
  end,
  compute = function(state) return state.worst end,
})
