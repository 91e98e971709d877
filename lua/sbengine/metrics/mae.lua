-- mae: mean absolute error: sum(|output - target|) / count, over every element
-- (output and target of the same shape, or output (N, 1) against target (N)).
local core = require "sbengine.core"
local metrics = require "sbengine.metrics"

metrics.register("mae", metrics.define {
  name = "mae",
  state = { sum_sq = "sum", sum_abs = "sum", count = "sum" },
  init = function() return { sum_sq = 0, sum_abs = 0, count = 0 } end,
  update = function(state, output, target)
    local sq, ab, n = core.metric.error_sums(output, target)
    state.sum_sq, state.sum_abs, state.count = state.sum_sq + sq, state.sum_abs + ab, state.count + n
  end,
  compute = function(state)
    if state.count == 0 then return 0 end
    return state.sum_abs / state.count
  end,
})
