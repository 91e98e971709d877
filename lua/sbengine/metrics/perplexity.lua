-- perplexity{log_probs = false, ignore_index = nil}: exp(mean negative log-likelihood of
-- the targets). output (N, C) holds logits (log-softmax is taken in C, stably) or, with
-- log_probs = true, log-probabilities; target (N) class ids.
local calls = require "sbengine._calls"
local core = require "sbengine.core"
local metrics = require "sbengine.metrics"

metrics.register("perplexity", metrics.define {
  name = "perplexity",
  state = { nll = "sum", count = "sum" },
  init = function() return { nll = 0, count = 0 } end,
  update = function(state, output, target, opts)
    -- level 3: update <- m:add <- the line that called m:add
    local nll, n = calls.c(3, core.metric.nll_sum, output, target, opts.log_probs,
      opts.ignore_index, "perplexity")
    state.nll, state.count = state.nll + nll, state.count + n
  end,
  compute = function(state)
    if state.count == 0 then return 0 / 0 end
    return math.exp(state.nll / state.count)
  end,
})
