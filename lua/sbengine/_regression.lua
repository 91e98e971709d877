-- sbengine._regression: the error sums shared by the mse, mae and rmse meters
-- (lua/sbengine/metrics/); registers nothing. One state and one C reduction per batch
-- (core.metric.error_sums); the three meters differ only in how they read the sums.
local calls = require "sbengine._calls"
local core = require "sbengine.core"
local metrics = require "sbengine.metrics"

--- A meter class named `name` whose value is `value(sum_sq, sum_abs, count)` (0 before any
-- element was seen).
return function(name, value)
  return metrics.define {
    name = name,
    state = { sum_sq = "sum", sum_abs = "sum", count = "sum" },
    init = function() return { sum_sq = 0, sum_abs = 0, count = 0 } end,
    update = function(state, output, target)
      -- level 3: update <- m:add <- the line that called m:add
      local sq, ab, n = calls.c(3, core.metric.error_sums, output, target, name)
      state.sum_sq, state.sum_abs, state.count = state.sum_sq + sq, state.sum_abs + ab, state.count + n
    end,
    compute = function(state)
      if state.count == 0 then return 0 end
      return value(state.sum_sq, state.sum_abs, state.count)
    end,
  }
end
