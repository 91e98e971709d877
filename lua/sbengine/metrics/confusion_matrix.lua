-- confusion_matrix{num_classes = C, ignore_index = nil}: counts and the scores derived from
-- them, as scikit-learn defines them (zero_division = 0):
--   matrix[t][p]  rows are true classes, columns predicted (class t-1, p-1)
--   precision, recall, f1, support: lists, one per class (index c+1 = class c)
--   precision_macro, recall_macro, f1_macro: unweighted means over all C classes
--   precision_micro, recall_micro, f1_micro: from the pooled counts
--   accuracy: the fraction of correct predictions
local metrics = require "sbengine.metrics"
local classification = require "sbengine._confusion"

local function ratio(a, b) return b > 0 and a / b or 0 end

local function compute(state, opts)
  local c = opts.num_classes
  local tp, predicted, support, total = classification.tallies(state, opts)
  local v = { matrix = {}, precision = {}, recall = {}, f1 = {}, support = support }
  local sp, sr, sf, correct = 0, 0, 0, 0
  for i = 1, c do
    v.matrix[i] = table.move(state.counts, (i - 1) * c + 1, i * c, 1, {})
    local p, r = ratio(tp[i], predicted[i]), ratio(tp[i], support[i])
    v.precision[i], v.recall[i] = p, r
    v.f1[i] = ratio(2 * tp[i], predicted[i] + support[i])
    sp, sr, sf, correct = sp + p, sr + r, sf + v.f1[i], correct + tp[i]
  end
  v.precision_macro, v.recall_macro, v.f1_macro = sp / c, sr / c, sf / c
  -- single-label: pooled FP = pooled FN = total - correct
  v.precision_micro = ratio(correct, total)
  v.recall_micro = ratio(correct, total)
  v.f1_micro = ratio(2 * correct, 2 * total)
  v.accuracy = ratio(correct, total)
  return v
end

metrics.register("confusion_matrix",
  metrics.define(classification.meter("confusion_matrix", compute)))
