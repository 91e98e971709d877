-- topk_accuracy{k = {1, 5}}: the fraction of rows whose target is among the k highest scores,
-- named as torchbench's results: {["Top 1 Accuracy"] = 0.99, ["Top 5 Accuracy"] = 1.0}.
local calls = require "sbengine._calls"
local core = require "sbengine.core"
local metrics = require "sbengine.metrics"

metrics.register("topk_accuracy", metrics.define {
  name = "topk_accuracy",
  state = { correct = "sum", total = "sum" },
  setup = function(opts)
    opts.k = opts.k or { 1, 5 }
    if type(opts.k) == "number" then opts.k = { opts.k } end
    for i, k in ipairs(opts.k) do opts.k[i] = math.tointeger(k) or k end
    for i, k in ipairs(opts.k) do
      if math.type(k) ~= "integer" or k < 1 then
        error(("topk_accuracy: k[%d] must be a whole number >= 1, got %s"):format(i, tostring(k)), 3)
      end
    end
    return opts
  end,
  init = function(opts)
    local zeros = {}
    for i = 1, #opts.k do zeros[i] = 0 end
    return { correct = zeros, total = 0 }
  end,
  update = function(state, output, target, opts)
    -- level 3: update <- m:add <- the line that called m:add
    local correct, rows = calls.c(3, core.metric.topk_correct, output, target, opts.k,
      "topk_accuracy")
    for i = 1, #correct do state.correct[i] = state.correct[i] + correct[i] end
    state.total = state.total + rows
  end,
  compute = function(state, opts)
    local out = {}
    for i, k in ipairs(opts.k) do
      out[("Top %d Accuracy"):format(k)] = state.total > 0 and state.correct[i] / state.total or 0
    end
    return out
  end,
})
