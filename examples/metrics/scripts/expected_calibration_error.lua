-- A custom metric script: expected calibration error (Guo et al., "On Calibration of Modern
-- Neural Networks", arXiv 1706.04599). It measures how far a classifier's confidence (its
-- highest softmax probability) is from how often it is right: predictions are put in
-- `bins` equal-width bins by confidence, and ECE = sum over bins of
-- |correct - sum of confidences| / N. 0 is perfectly calibrated.
--
-- Load it with `sbengine --metrics examples/metrics/scripts ...` (or put the folder in
-- SBENGINE_METRICS_PATH); then sb.metrics.create("expected_calibration_error", {bins = 15}).
local metrics = require "sbengine.metrics"

metrics.register("expected_calibration_error", metrics.define {
  name = "expected_calibration_error",
  -- Per-bin sums: sharded evaluations merge exactly by adding them.
  state = { count = "sum", confidence = "sum", correct = "sum" },
  setup = function(opts)
    opts.bins = opts.bins or 15
    if math.type(opts.bins) ~= "integer" or opts.bins < 1 then
      error("expected_calibration_error: bins must be a whole number >= 1, got "
        .. tostring(opts.bins), 3)
    end
    return opts
  end,
  init = function(opts)
    local count, confidence, correct = {}, {}, {}
    for b = 1, opts.bins do count[b], confidence[b], correct[b] = 0, 0, 0 end
    return { count = count, confidence = confidence, correct = correct }
  end,
  update = function(state, output, target, opts)
    -- softmax's largest probability is exp(0) / sum(exp(output - row max)).
    local top, position = output:max(2, { keepdim = true })
    local sums = (output - top):exp():sum(2):totable()
    local predicted, labels = position:totable(), target:totable()
    for i = 1, #sums do
      local confidence = 1 / sums[i]
      local b = math.min(opts.bins, math.floor(confidence * opts.bins) + 1)
      state.count[b] = state.count[b] + 1
      state.confidence[b] = state.confidence[b] + confidence
      -- Output column j scores class j - 1 (class ids are the dataset's values).
      if predicted[i][1] - 1 == labels[i] then state.correct[b] = state.correct[b] + 1 end
    end
  end,
  compute = function(state, opts)
    local n, gap = 0, 0
    for b = 1, opts.bins do
      n = n + state.count[b]
      gap = gap + math.abs(state.correct[b] - state.confidence[b])
    end
    return n > 0 and gap / n or 0
  end,
})
