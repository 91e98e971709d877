-- mean_iou{num_classes = C, ignore_index = 255}: intersection over union per class from the
-- pixel confusion matrix (scores (N, C, H, W) or predicted ids (N, H, W) against targets
-- (N, H, W); targets equal to ignore_index are skipped).
--   iou[c+1]        TP / (TP + FP + FN) for class c; NaN (0/0) when the class is absent
--                   from both predictions and targets
--   mean_iou        the mean over the classes whose IoU is defined
--   pixel_accuracy  correct pixels / counted pixels
local metrics = require "sbengine.metrics"
local classification = require "sbengine._confusion"

local function compute(state, opts)
  local tp, predicted, support, total = classification.tallies(state, opts)
  local iou, sum, n, correct = {}, 0, 0, 0
  for i = 1, opts.num_classes do
    local union = predicted[i] + support[i] - tp[i]
    if union > 0 then
      iou[i] = tp[i] / union
      sum, n = sum + iou[i], n + 1
    else
      iou[i] = 0 / 0
    end
    correct = correct + tp[i]
  end
  return { iou = iou, mean_iou = n > 0 and sum / n or 0,
           pixel_accuracy = total > 0 and correct / total or 0 }
end

metrics.register("mean_iou",
  metrics.define(classification.meter("mean_iou", compute, { ignore_index = 255 })))
