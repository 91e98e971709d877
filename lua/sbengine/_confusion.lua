-- sbengine._confusion: the confusion-matrix bookkeeping shared by the confusion_matrix,
-- balanced_accuracy and mean_iou meters (lua/sbengine/metrics/); registers nothing.
local calls = require "sbengine._calls"
local core = require "sbengine.core"

local classification = {}

function classification.setup(name)
  return function(opts)
    opts.num_classes = math.tointeger(opts.num_classes) or opts.num_classes
    if opts.ignore_index ~= nil then
      opts.ignore_index = math.tointeger(opts.ignore_index) or opts.ignore_index
    end
    if math.type(opts.num_classes) ~= "integer" or opts.num_classes < 1 then
      error(("%s: option num_classes must be a whole number >= 1, got %s")
        :format(name, tostring(opts.num_classes)), 3)
    end
    if opts.ignore_index ~= nil and math.type(opts.ignore_index) ~= "integer" then
      error(("%s: option ignore_index must be a whole number"):format(name), 3)
    end
    return opts
  end
end

function classification.init(opts)
  local zeros = {}
  for i = 1, opts.num_classes * opts.num_classes do zeros[i] = 0 end
  return { counts = zeros }
end

-- The update function of meter `name` (its errors name it).
function classification.updater(name)
  return function(state, output, target, opts)
    -- level 3: update <- m:add <- the line that called m:add
    local cells, amounts = calls.c(3, core.metric.confusion_add, output, target,
      opts.num_classes, opts.ignore_index, name)
    local s = state.counts
    for i = 1, #cells do
      local cell = cells[i]
      s[cell] = s[cell] + amounts[i]
    end
  end
end

-- counts (row-major, row = true class) -> per-class tp, predicted, support
function classification.tallies(state, opts)
  local c = opts.num_classes
  local tp, predicted, support, total = {}, {}, {}, 0
  for i = 1, c do tp[i], predicted[i], support[i] = 0, 0, 0 end
  for t = 1, c do
    for p = 1, c do
      local n = state.counts[(t - 1) * c + p]
      support[t] = support[t] + n
      predicted[p] = predicted[p] + n
      total = total + n
      if t == p then tp[t] = tp[t] + n end
    end
  end
  return tp, predicted, support, total
end

-- The definition table (for metrics.define) of meter `name` over the C*C counts, with
-- `compute(state, opts)`; `defaults` (optional) fills options before they are checked.
function classification.meter(name, compute, defaults)
  local setup = classification.setup(name)
  return {
    name = name,
    state = { counts = "sum" },
    setup = function(opts)
      for k, v in pairs(defaults or {}) do
        if opts[k] == nil then opts[k] = v end
      end
      return setup(opts)
    end,
    init = classification.init,
    update = classification.updater(name),
    compute = compute,
  }
end

return classification
