--- sb.models: torchvision's architectures with torchvision 0.14's names, constructor options
-- and state_dict keys (docs/models.md).
--
--   local model = sb.models.resnet50{weights = "resnet50.pth", num_classes = 1000}
--
-- Every constructor returns the model in eval mode; `weights` (a PyTorch checkpoint or a
-- safetensors file) is loaded strictly with Module:load_state_dict.
local init = require "sbengine.nn._weight_init"

local M = {}

-- The architecture families, one file each; a family lists its constructor names in
-- `variants`, builds one with `build(name, opts)`, and names its options in `options`.
local families = {
  (require "sbengine.models.resnet"),
  (require "sbengine.models.vgg"),
  (require "sbengine.models.alexnet"),
  (require "sbengine.models.mobilenet"),
  (require "sbengine.models.efficientnet"),
  (require "sbengine.models.densenet"),
  (require "sbengine.models.squeezenet"),
  (require "sbengine.models.convnext"),
  (require "sbengine.models.vision_transformer"),
}

local common_options = {weights = true, weights_key = true, strip_prefix = true, progress = true}

local names = {}

local function constructor(name, family)
  return function(opts)
    if opts == nil then opts = {} end
    if type(opts) ~= "table" then
      error(("sb.models.%s: options must be a table, got %s"):format(name, type(opts)), 2)
    end
    for k in pairs(opts) do
      if not common_options[k] and not family.options[k] then
        local known = {}
        for n in pairs(common_options) do known[#known + 1] = n end
        for n in pairs(family.options) do known[#known + 1] = n end
        table.sort(known)
        error(("sb.models.%s: unknown option '%s' (known: %s)"):format(name, tostring(k),
          table.concat(known, ", ")), 2)
      end
    end
    local nc = opts.num_classes
    if nc ~= nil and (math.type(nc) ~= "integer" or nc < 1) then
      error(("sb.models.%s: num_classes must be a positive integer, got %s"):format(name, tostring(nc)), 2)
    end
    if opts.weights ~= nil and type(opts.weights) ~= "string" then
      error(("sb.models.%s: weights must be a file path (string), got %s"):format(name, type(opts.weights)), 2)
    end
    local model
    if opts.weights then
      -- Random draws would all be overwritten by the strict load below.
      model = init.without_random(family.build, name, opts)
    else
      model = family.build(name, opts)
    end
    if opts.weights then
      local ok, err = pcall(model.load_state_dict, model, opts.weights,
        {key = opts.weights_key, strip_prefix = opts.strip_prefix})
      if not ok then error(("sb.models.%s: %s"):format(name, err), 2) end
    end
    return model:eval()
  end
end

for _, family in ipairs(families) do
  for name in pairs(family.variants) do
    M[name] = constructor(name, family)
    names[#names + 1] = name
  end
end
table.sort(names)

--- The constructor names, sorted.
function M.list()
  local out = {}
  for i, n in ipairs(names) do out[i] = n end
  return out
end

return M
