-- mse: mean squared error: sum((output - target)^2) / count, over every element
-- (output and target of the same shape, or output (N, 1) against target (N)).
local metrics = require "sbengine.metrics"
local error_meter = require "sbengine._regression"

metrics.register("mse", error_meter("mse", function(sum_sq, _, count) return sum_sq / count end))
