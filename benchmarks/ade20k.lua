--- ADE20K (the scene-parsing benchmark's ADEChallengeData2016, dataset "ADE20K val" as
-- sotabench names it): semantic segmentation of the 2,000 validation images into 150 classes,
-- scored at each annotation's own size as the benchmark's evaluation code does (the mean_iou
-- meter's "ade20k" protocol: label 0 "other" not counted, absent classes IoU 0): "Mean IOU"
-- and "Accuracy" (pixel accuracy), fractions in [0, 1].
--   local ADE20K = require "sbengine.benchmarks.ade20k"
--   local result = ADE20K.benchmark{model = model, paper_model_name = "HRNetV2"}
-- As the main script: sbengine benchmarks/ade20k.lua MODEL.lua (see --help).
-- The model gets a batch of normalised images (batch_size 1 by default: the images differ in
-- size) and returns scores (N, 150, H, W) for the classes 1..150 or label maps (N, H, W) of
-- the classes, at the image's size; model_output_transform adapts other forms (torchvision's
-- segmentation models return {out = scores}).
local sb = require "sbengine"
local T = sb.transforms

local function shape(t)
  local s = {}
  for d = 1, t:dim() do s[d] = t:size(d) end
  return "[" .. table.concat(s, ", ") .. "]"
end

return sb.bench.define{
  name = "ADE20K",
  dataset_name = "ADE20K val",
  task = "Semantic Segmentation",
  dataset = function(o)
    return sb.data.ADE20K{ root = o.data_root, split = "validation",
      transform = o.input_transform, target_transform = o.target_transform }
  end,
  defaults = {
    input_transform = T.Compose{ T.ToTensor(),
      T.Normalize({ 0.485, 0.456, 0.406 }, { 0.229, 0.224, 0.225 }) },
    data_root = "./.data/vision/ade20k", download = false, batch_size = 1, num_workers = 4,
  },
  metrics = { { "mean_iou", { protocol = "ade20k", num_classes = 150 } } },
  result_names = { mean_iou = "Mean IOU", pixel_accuracy = "Accuracy" },
  check_outputs = function(output, target)
    local ok = type(output) == "userdata" and type(output.dim) == "function"
    if ok then
      local n, h, w = target:size(1), target:size(target:dim() - 1), target:size(target:dim())
      ok = (output:dim() == 4 and output:size(1) == n and output:size(2) == 150
              and output:size(3) == h and output:size(4) == w)
        or (output:dim() == 3 and output:size(1) == n and output:size(2) == h
              and output:size(3) == w)
    end
    if not ok then
      error(("ADE20K.benchmark: the model returned %s; expected scores (N, 150, H, W) or label "
        .. "maps (N, H, W) at the size of the target %s (a torchvision segmentation model's "
        .. "{out = ...}: model_output_transform = function(o, t) return o.out, t end)")
        :format(type(output) == "userdata" and "a tensor of shape " .. shape(output)
          or "a " .. type(output), shape(target)), 0)
    end
  end,
  data_help = "point data_root (or --data-root DIR) at the folder that holds "
    .. "ADEChallengeData2016/ (images/validation/*.jpg and annotations/validation/*.png, "
    .. "from ADEChallengeData2016.zip of http://sceneparsing.csail.mit.edu/)",
}
