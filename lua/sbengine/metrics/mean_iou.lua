-- mean_iou{num_classes = C, ignore_index = 255, protocol = nil|"torchvision"|"ade20k"}:
-- intersection over union per class from the pixel confusion matrix (scores (N, C, H, W) or
-- predicted ids (N, H, W) against targets (N, H, W); targets equal to ignore_index are skipped).
--   iou             per class: TP / (TP + FP + FN)
--   mean_iou        the mean of iou
--   pixel_accuracy  correct pixels / counted pixels
-- The protocols (docs/evaluators.md#semantic-segmentation):
--   default      iou[c+1] for class c, NaN (0/0) when the class is absent from both predictions
--                and targets; the mean is over the defined ones (mmsegmentation's nanmean)
--   torchvision  torchvision's references/segmentation ConfusionMatrix (PASCAL VOC, Cityscapes):
--                float32 arithmetic, the plain mean over all C classes (NaN when one is absent)
--   ade20k       the ADE20K scene-parsing benchmark's evaluation code: labels 1..C (default
--                150) scored, label 0 ("other") not counted, iou[c] for class c, 0 for a class
--                absent from both; scores (N, C, H, W) predict class = column (1-based)
local metrics = require "sbengine.metrics"
local classification = require "sbengine._confusion"

local PROTOCOLS = { torchvision = true, ade20k = true }

-- x rounded to float32 (as a float32 tensor stores it)
local function f32(x)
  return (string.unpack("f", string.pack("f", x)))
end

local function default_compute(state, opts)
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

-- torchvision's ConfusionMatrix.compute() on h = mat.float(): every step rounded to float32.
local function torchvision_compute(state, opts)
  local tp, predicted, support, total = classification.tallies(state, opts)
  local iou, sum, correct = {}, 0, 0
  for i = 1, opts.num_classes do
    local d = f32(tp[i])
    iou[i] = f32(d / f32(f32(f32(support[i]) + f32(predicted[i])) - d))
    sum = sum + iou[i]
    correct = correct + tp[i]
  end
  return { iou = iou, mean_iou = f32(sum / opts.num_classes),
           pixel_accuracy = f32(f32(correct) / f32(total)) }
end

-- The scene-parsing code's intersectionAndUnion and pixelAccuracy summed over the images: the
-- counts live in a (C+1) x (C+1) matrix whose row 0 ("other") is never filled.
local function ade20k_compute(state, opts)
  local tp, predicted, support, total = classification.tallies(state, opts)
  local iou, sum, correct = {}, 0, 0
  for c = 1, opts.classes do
    local union = predicted[c + 1] + support[c + 1] - tp[c + 1]
    iou[c] = union > 0 and tp[c + 1] / union or 0
    sum = sum + iou[c]
    correct = correct + tp[c + 1]
  end
  return { iou = iou, mean_iou = sum / opts.classes,
           pixel_accuracy = total > 0 and correct / total or 0 }
end

local meter = classification.meter("mean_iou", default_compute)
local check = meter.setup
meter.setup = function(opts)
  local protocol = opts.protocol
  if protocol ~= nil and not PROTOCOLS[protocol] then
    error(("mean_iou: option protocol must be \"torchvision\" or \"ade20k\" (or nil), got %s")
      :format(tostring(protocol)), 3)
  end
  if protocol == "ade20k" then
    if opts.ignore_index ~= nil then
      error("mean_iou: protocol \"ade20k\" always skips label 0; ignore_index does not apply", 3)
    end
    opts.num_classes = opts.num_classes or 150
    opts = check(opts)
    opts.classes, opts.num_classes, opts.ignore_index = opts.num_classes, opts.num_classes + 1, 0
    return opts
  end
  if opts.ignore_index == nil then opts.ignore_index = 255 end
  return check(opts)
end
local update = meter.update
meter.update = function(state, output, target, opts)
  if opts.protocol == "ade20k" and type(output) == "userdata" and type(target) == "userdata"
      and output:dim() == target:dim() + 1 then
    if output:size(2) ~= opts.classes then
      error(("mean_iou: output has %d classes, protocol \"ade20k\" scores %d"):format(
        output:size(2), opts.classes), 3)
    end
    output = output:argmax(2) -- positions 1..C are the labels 1..C
  end
  return update(state, output, target, opts)
end
meter.compute = function(state, opts)
  if opts.protocol == "torchvision" then return torchvision_compute(state, opts) end
  if opts.protocol == "ade20k" then return ade20k_compute(state, opts) end
  return default_compute(state, opts)
end

metrics.register("mean_iou", metrics.define(meter))
