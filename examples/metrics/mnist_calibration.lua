--- A benchmark with a metric of its own: MNIST's test set, torchbench's top-1/top-5
-- accuracy, plus the expected calibration error of scripts/expected_calibration_error.lua.
-- It reuses the dataset and defaults of sbengine.benchmarks.mnist.
--
--   sbengine --metrics examples/metrics/scripts examples/metrics/mnist_calibration.lua \
--            examples/models/lenet5.lua
--
-- Without --metrics the run stops with a message naming the unknown metric and saying how
-- to load its script.
local sb = require "sbengine"
local MNIST = require "sbengine.benchmarks.mnist"

return sb.bench.define{
  name = "MNIST",
  task = "Image Classification",
  num_classes = 10,
  dataset = MNIST.dataset,
  defaults = MNIST.defaults,
  data_help = MNIST.data_help,
  metrics = {
    { "topk_accuracy", { k = { 1, 5 } } },
    { "expected_calibration_error", { bins = 15 }, name = "Expected Calibration Error" },
  },
}
