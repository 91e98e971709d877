-- mae: mean absolute error: sum(|output - target|) / count, over every element
-- (output and target of the same shape, or output (N, 1) against target (N)).
local metrics = require "sbengine.metrics"
local error_meter = require "sbengine._regression"

metrics.register("mae", error_meter("mae", function(_, sum_abs, count) return sum_abs / count end))
