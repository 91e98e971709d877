--- PASCAL VOC 2012 semantic segmentation (dataset "PASCAL VOC 2012 val", torchbench's name):
-- the 1,449 validation images, 21 classes (0 background), object borders (255) not counted.
-- torchbench's PASCALVOC defaults: image and target resized to 520 x 480 (bilinear; nearest for
-- the target), ToTensor, Normalize with the ImageNet mean/std, batch size 32; scored as
-- torchvision's segmentation reference (the mean_iou meter's "torchvision" protocol: float32,
-- the plain mean over the 21 classes): "Mean IOU" and "Accuracy", fractions in [0, 1].
--   local VOC = require "sbengine.benchmarks.voc_segmentation"
--   local result = VOC.benchmark{model = model, paper_model_name = "FCN ResNet-101"}
-- As the main script: sbengine benchmarks/voc_segmentation.lua MODEL.lua (see --help).
-- The model returns scores (N, 21, H, W) or label maps (N, H, W) at the input's size, or, as
-- torchvision's segmentation models, {out = scores} (the default model_output_transform takes
-- `out`, as torchbench's).
local sb = require "sbengine"
local T = sb.transforms

return sb.bench.define{
  name = "PASCALVOC",
  dataset_name = "PASCAL VOC 2012 val",
  task = "Semantic Segmentation",
  dataset = function(o)
    return sb.data.VOCSegmentation{ root = o.data_root, year = "2012", image_set = "val",
      transform = o.input_transform, target_transform = o.target_transform }
  end,
  defaults = {
    -- torchbench's default_seg_output_transform: torchvision's segmentation models return
    -- {out = scores}
    model_output_transform = function(output, target)
      if type(output) == "table" and output.out ~= nil then return output.out, target end
      return output, target
    end,
    input_transform = T.Compose{ T.Resize({ 520, 480 }), T.ToTensor(),
      T.Normalize({ 0.485, 0.456, 0.406 }, { 0.229, 0.224, 0.225 }) },
    target_transform = T.Resize({ 520, 480 }, { interpolation = "nearest" }),
    data_root = "./.data/vision/voc", download = false, batch_size = 32, num_workers = 4,
  },
  metrics = { { "mean_iou", { protocol = "torchvision", num_classes = 21, ignore_index = 255 } } },
  result_names = { mean_iou = "Mean IOU", pixel_accuracy = "Accuracy" },
  check_outputs = function(output, target)
    sb.bench.check_segmentation_outputs(output, target, 21, "PASCALVOC.benchmark")
  end,
  data_help = "point data_root (or --data-root DIR) at the folder that holds "
    .. "VOCdevkit/VOC2012/ (JPEGImages, SegmentationClass, ImageSets/Segmentation/val.txt, "
    .. "from VOCtrainval_11-May-2012.tar)",
}
