-- rmse: root mean squared error: sqrt(mse), over every element
-- (output and target of the same shape, or output (N, 1) against target (N)).
local metrics = require "sbengine.metrics"
local error_meter = require "sbengine._regression"

metrics.register("rmse", error_meter("rmse", function(sum_sq, _, count)
  return math.sqrt(sum_sq / count)
end))
