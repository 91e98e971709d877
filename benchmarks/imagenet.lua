--- ImageNet (ILSVRC2012, dataset "ImageNet", torchvision's name): the 50,000 validation images;
-- image classification over 1000 classes. torchbench's parameters and defaults: Resize(256),
-- CenterCrop(224), ToTensor, Normalize with the ImageNet mean/std; "Top 1 Accuracy" and
-- "Top 5 Accuracy" as fractions in [0, 1].
--   local ImageNet = require "sbengine.benchmarks.imagenet"
--   local result = ImageNet.benchmark{model = model, paper_model_name = "ResNet-50"}
-- As the main script: sbengine benchmarks/imagenet.lua MODEL.lua (see --help).
-- The data cannot be downloaded (licence): data_root holds val/<wnid>/*.JPEG, or the official
-- archives ILSVRC2012_devkit_t12.tar.gz and ILSVRC2012_img_val.tar, extracted there once.
local sb = require "sbengine"
local T = sb.transforms

return sb.bench.define{
  name = "ImageNet",
  task = "Image Classification",
  num_classes = 1000,
  dataset = function(o)
    return sb.data.ImageNet{ root = o.data_root, split = "val",
      transform = o.input_transform, target_transform = o.target_transform }
  end,
  defaults = {
    input_transform = T.Compose{ T.Resize(256), T.CenterCrop(224), T.ToTensor(),
      T.Normalize({ 0.485, 0.456, 0.406 }, { 0.229, 0.224, 0.225 }) },
    data_root = "./.data/vision/imagenet", download = false, batch_size = 128, num_workers = 4,
  },
  metrics = { { "topk_accuracy", { k = { 1, 5 } } } }, -- "Top 1 Accuracy", "Top 5 Accuracy"
  data_help = "point data_root (or --data-root DIR) at the folder that holds val/<wnid>/ "
    .. "(torchvision's prepared layout) or the two official archives "
    .. "ILSVRC2012_devkit_t12.tar.gz and ILSVRC2012_img_val.tar (from https://image-net.org/, "
    .. "registration required)",
}
