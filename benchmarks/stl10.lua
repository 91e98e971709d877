--- STL10 (dataset "STL10", torchvision's name): the test split; image classification over 10
-- classes, torchbench-style parameters; "Top 1 Accuracy" and "Top 5 Accuracy" as fractions.
--   local STL10 = require "sbengine.benchmarks.stl10"
--   local result = STL10.benchmark{model = model, paper_model_name = "..."}
-- As the main script: sbengine benchmarks/stl10.lua MODEL.lua (see --help).
local sb = require "sbengine"
local T = sb.transforms

return sb.bench.define{
  name = "STL10",
  task = "Image Classification",
  num_classes = 10,
  dataset = function(o)
    return sb.data.STL10{ root = o.data_root, split = "test", download = o.download,
      transform = o.input_transform, target_transform = o.target_transform }
  end,
  defaults = {
    input_transform = T.Compose{ T.ToTensor(), T.Normalize({ 0.5, 0.5, 0.5 }, { 0.5, 0.5, 0.5 }) },
    data_root = "./.data/vision/stl10", download = true, batch_size = 128, num_workers = 4,
  },
  metrics = { { "topk_accuracy", { k = { 1, 5 } } } }, -- "Top 1 Accuracy", "Top 5 Accuracy"
  data_help = "point data_root (or --data-root DIR) at the folder that holds "
    .. "stl10_binary/, or run: sbengine fetch stl10 DIR",
}
