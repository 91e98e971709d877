-- sbengine._output_checks: PyTorch habits that silently change what a model's output means,
-- caught where the benchmark loop can see them (internal; docs/tensor.md "Coming from
-- PyTorch").
local util = require "sbengine._util"

local checks = {}

local FLOATING = { float32 = true, float64 = true, float16 = true, bfloat16 = true }

local function near_one(sums, tolerance)
  return (sums - 1):abs():max():item() <= tolerance
end

--- True when a (batch, classes) output looks like probabilities over the batch: every
-- column sums to 1 and the rows do not (softmax(x, 1) written for PyTorch's dim = 1).
function checks.probabilities_over_batch(output)
  if output:dim() ~= 2 or output:size(2) < 2 or not FLOATING[output:dtype()] then return false end
  local x = output:to("float64")
  if x:min():item() < 0 or x:max():item() > 1 then return false end
  local tolerance = 1e-3
  return near_one(x:sum(1), tolerance) and not near_one(x:sum(2), tolerance)
end

--- Says once on stderr when `output` (a host tensor) looks like probabilities over the
-- batch; returns true when it warned.
function checks.warn_probabilities_over_batch(output, where)
  if not checks.probabilities_over_batch(output) then return false end
  io.stderr:write(("sbengine: warning: %s: the model's outputs look like probabilities over "
    .. "the batch, not over the classes: each column of the first batch's %s output sums to 1 "
    .. "and its rows do not. Dimensions are 1-based here: softmax(x, 1) normalises over "
    .. "dimension 1, the batch (PyTorch's dim=0); the classes are dimension 2, so write "
    .. "softmax(x, 2) (or -1) where PyTorch code says softmax(x, dim=1) (docs/tensor.md, "
    .. "\"Coming from PyTorch\")\n"):format(where, util.shape_text(output)))
  return true
end

return checks
