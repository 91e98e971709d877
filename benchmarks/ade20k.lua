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
-- the classes, at the image's size, or, as torchvision's segmentation models, {out = scores}
-- (the default model_output_transform takes `out`, as torchbench's).
local sb = require "sbengine"
local T = sb.transforms

return sb.bench.define{
  name = "ADE20K",
  dataset_name = "ADE20K val",
  task = "Semantic Segmentation",
  dataset = function(o)
    return sb.data.ADE20K{ root = o.data_root, split = "validation",
      transform = o.input_transform, target_transform = o.target_transform }
  end,
  defaults = {
    -- torchbench's default_seg_output_transform: torchvision's segmentation models return
    -- {out = scores}
    model_output_transform = function(output, target)
      if type(output) == "table" and output.out ~= nil then return output.out, target end
      return output, target
    end,
    input_transform = T.Compose{ T.ToTensor(),
      T.Normalize({ 0.485, 0.456, 0.406 }, { 0.229, 0.224, 0.225 }) },
    data_root = "./.data/vision/ade20k", download = false, batch_size = 1, num_workers = 4,
  },
  metrics = { { "mean_iou", { protocol = "ade20k", num_classes = 150 } } },
  result_names = { mean_iou = "Mean IOU", pixel_accuracy = "Accuracy" },
  check_outputs = function(output, target)
    sb.bench.check_segmentation_outputs(output, target, 150, "ADE20K.benchmark")
  end,
  data_help = "point data_root (or --data-root DIR) at the folder that holds "
    .. "ADEChallengeData2016/ (images/validation/*.jpg and annotations/validation/*.png, "
    .. "from ADEChallengeData2016.zip of http://sceneparsing.csail.mit.edu/)",
}
