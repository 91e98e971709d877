--- CIFAR-100 (dataset "CIFAR100", torchvision's name): the 10,000 test images, binary
-- version, fine labels.
-- torchbench's parameters and defaults; results are fractions in [0, 1].
--   local CIFAR100 = require "sbengine.benchmarks.cifar100"
--   local result = CIFAR100.benchmark{model = model, paper_model_name = "ResNet-56"}
local sb = require "sbengine"
local T = sb.transforms

return sb.bench.define{
  name = "CIFAR100",
  task = "Image Classification",
  num_classes = 100,
  dataset = function(o)
    return sb.data.CIFAR100{ root = o.data_root, train = false, download = o.download,
      transform = o.input_transform, target_transform = o.target_transform }
  end,
  defaults = {
    input_transform = T.Compose{ T.ToTensor(),
      T.Normalize({ 0.5, 0.5, 0.5 }, { 0.5, 0.5, 0.5 }) },
    data_root = "./.data/vision/cifar100", download = true, batch_size = 128, num_workers = 4,
  },
  metrics = { { "topk_accuracy", { k = { 1, 5 } } } }, -- "Top 1 Accuracy", "Top 5 Accuracy"
  data_help = "point data_root (or --data-root DIR) at the folder that holds "
    .. "cifar-100-binary/, or run: sbengine fetch cifar100 DIR",
}
