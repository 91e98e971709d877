--- ConvNeXt-Tiny/Small/Base/Large as torchvision 0.14 builds them
-- (torchvision/models/convnext.py).
local nn = require "sbengine.nn"
local ops = require "sbengine.models.ops"

local M = {}

--- LayerNorm2d: LayerNorm over the channels of [N, C, H, W] (channels moved last and back).
local LayerNorm2d = nn.LayerNorm:extend("LayerNorm2d")

function LayerNorm2d:forward(x)
  return nn.LayerNorm.forward(self, x:permute(1, 3, 4, 2)):permute(1, 4, 2, 3)
end

local function layer_norm_2d(channels)
  return LayerNorm2d(channels, {eps = 1e-6})
end

local CNBlock = nn.Module:extend("CNBlock")

function CNBlock:init(dim, layer_scale, sd_prob)
  self.block = nn.Sequential(
    nn.Conv2d(dim, dim, 7, {padding = 3, groups = dim}),
    ops.Permute({1, 3, 4, 2}),
    nn.LayerNorm(dim, {eps = 1e-6}),
    nn.Linear(dim, 4 * dim),
    nn.GELU(),
    nn.Linear(4 * dim, dim),
    ops.Permute({1, 4, 2, 3}))
  self:register_parameter("layer_scale", require("sbengine.core").tensor.full({dim, 1, 1}, layer_scale))
  self.stochastic_depth = ops.StochasticDepth(sd_prob, "row")
end

function CNBlock:forward(x)
  return self.stochastic_depth(self.layer_scale * self.block(x)) + x
end

local ConvNeXt = nn.Module:extend("ConvNeXt")

-- setting: {input_channels, out_channels or false, num_layers} per stage.
function ConvNeXt:init(setting, sd_prob, opts)
  local features = nn.Sequential(ops.Conv2dNormActivation(3, setting[1][1], {kernel_size = 4,
    stride = 4, padding = 0, bias = true, norm_layer = layer_norm_2d, activation = false}))
  local total = 0
  for _, c in ipairs(setting) do total = total + c[3] end
  local id = 0
  for _, c in ipairs(setting) do
    local stage = nn.Sequential()
    for _ = 1, c[3] do
      stage:append(CNBlock(c[1], 1e-6, sd_prob * id / (total - 1.0)))
      id = id + 1
    end
    features:append(stage)
    if c[2] then
      features:append(nn.Sequential(layer_norm_2d(c[1]), nn.Conv2d(c[1], c[2], 2, {stride = 2})))
    end
  end
  self.features = features
  self.avgpool = nn.AdaptiveAvgPool2d(1)
  local last = setting[#setting][2] or setting[#setting][1]
  self.classifier = nn.Sequential(layer_norm_2d(last), nn.Flatten(2),
    nn.Linear(last, opts.num_classes or 1000))
end

function ConvNeXt:forward(x)
  return self.classifier(self.avgpool(self.features(x)))
end

-- name -> stage settings, stochastic depth probability (torchvision's defaults)
M.variants = {
  convnext_tiny = {{{96, 192, 3}, {192, 384, 3}, {384, 768, 9}, {768, false, 3}}, 0.1},
  convnext_small = {{{96, 192, 3}, {192, 384, 3}, {384, 768, 27}, {768, false, 3}}, 0.4},
  convnext_base = {{{128, 256, 3}, {256, 512, 3}, {512, 1024, 27}, {1024, false, 3}}, 0.5},
  convnext_large = {{{192, 384, 3}, {384, 768, 3}, {768, 1536, 27}, {1536, false, 3}}, 0.5},
}

function M.build(name, opts)
  local v = M.variants[name]
  return ConvNeXt(v[1], opts.stochastic_depth_prob or v[2], opts)
end

M.options = {num_classes = true, stochastic_depth_prob = true}

return M
