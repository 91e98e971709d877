--- EfficientNet-B0 ... B7 as torchvision 0.14 builds them (torchvision/models/efficientnet.py).
local nn = require "sbengine.nn"
local ops = require "sbengine.models.ops"

local M = {}
local CNA, make_divisible = ops.Conv2dNormActivation, ops.make_divisible

local MBConv = nn.Module:extend("MBConv")

-- c: {expand_ratio, kernel, stride, input_channels, out_channels}
function MBConv:init(c, sd_prob, eps)
  local expand, k, stride, inp, out = c[1], c[2], c[3], c[4], c[5]
  self.use_res_connect = stride == 1 and inp == out
  local expanded = make_divisible(inp * expand, 8)
  local block = nn.Sequential()
  if expanded ~= inp then
    block:append(CNA(inp, expanded, {kernel_size = 1, eps = eps, activation = nn.SiLU}))
  end
  block:append(CNA(expanded, expanded, {kernel_size = k, stride = stride, groups = expanded,
    eps = eps, activation = nn.SiLU}))
  block:append(ops.SqueezeExcitation(expanded, math.max(1, inp // 4), {activation = nn.SiLU}))
  block:append(CNA(expanded, out, {kernel_size = 1, eps = eps, activation = false}))
  self.block = block
  self.stochastic_depth = ops.StochasticDepth(sd_prob, "row")
end

function MBConv:forward(x)
  local r = self.block(x)
  if self.use_res_connect then r = self.stochastic_depth(r) + x end
  return r
end

local EfficientNet = nn.Module:extend("EfficientNet")

function EfficientNet:init(width_mult, depth_mult, dropout, eps, opts)
  local base = {{1, 3, 1, 32, 16, 1}, {6, 3, 2, 16, 24, 2}, {6, 5, 2, 24, 40, 2},
                {6, 3, 2, 40, 80, 3}, {6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4},
                {6, 3, 1, 192, 320, 1}}
  local setting, total = {}, 0
  for i, b in ipairs(base) do
    setting[i] = {b[1], b[2], b[3], make_divisible(b[4] * width_mult, 8),
      make_divisible(b[5] * width_mult, 8), math.ceil(b[6] * depth_mult)}
    total = total + setting[i][6]
  end
  local sd_prob = opts.stochastic_depth_prob or 0.2
  local features = nn.Sequential(CNA(3, setting[1][4], {stride = 2, eps = eps, activation = nn.SiLU}))
  local id = 0
  for _, c in ipairs(setting) do
    local stage = nn.Sequential()
    for j = 1, c[6] do
      local bc = {c[1], c[2], j == 1 and c[3] or 1, j == 1 and c[4] or c[5], c[5]}
      stage:append(MBConv(bc, sd_prob * id / total, eps))
      id = id + 1
    end
    features:append(stage)
  end
  local last_in = setting[#setting][5]
  features:append(CNA(last_in, 4 * last_in, {kernel_size = 1, eps = eps, activation = nn.SiLU}))
  self.features = features
  self.avgpool = nn.AdaptiveAvgPool2d(1)
  self.classifier = nn.Sequential(nn.Dropout(opts.dropout or dropout),
    nn.Linear(4 * last_in, opts.num_classes or 1000))
end

function EfficientNet:forward(x)
  return self.classifier(ops.pool_flatten(self.features(x)))
end

-- name -> width_mult, depth_mult, dropout, batch-norm eps
M.variants = {
  efficientnet_b0 = {1.0, 1.0, 0.2, 1e-5}, efficientnet_b1 = {1.0, 1.1, 0.2, 1e-5},
  efficientnet_b2 = {1.1, 1.2, 0.3, 1e-5}, efficientnet_b3 = {1.2, 1.4, 0.3, 1e-5},
  efficientnet_b4 = {1.4, 1.8, 0.4, 1e-5}, efficientnet_b5 = {1.6, 2.2, 0.4, 1e-3},
  efficientnet_b6 = {1.8, 2.6, 0.5, 1e-3}, efficientnet_b7 = {2.0, 3.1, 0.5, 1e-3},
}

function M.build(name, opts)
  local v = M.variants[name]
  return EfficientNet(v[1], v[2], v[3], v[4], opts)
end

M.options = {num_classes = true, dropout = true, stochastic_depth_prob = true}

return M
