-- balanced_accuracy{num_classes = C}: the mean recall over the classes that occur in the
-- targets (scikit-learn's balanced_accuracy_score).
local metrics = require "sbengine.metrics"
local classification = require "sbengine._confusion"

local function compute(state, opts)
  local tp, _, support = classification.tallies(state, opts)
  local sum, n = 0, 0
  for i = 1, opts.num_classes do
    if support[i] > 0 then sum, n = sum + tp[i] / support[i], n + 1 end
  end
  return n > 0 and sum / n or 0
end

metrics.register("balanced_accuracy",
  metrics.define(classification.meter("balanced_accuracy", compute)))
