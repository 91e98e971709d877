--- MobileNetV2 and MobileNetV3 (large, small) as torchvision 0.14 builds them
-- (torchvision/models/mobilenetv2.py, mobilenetv3.py).
local nn = require "sbengine.nn"
local ops = require "sbengine.models.ops"

local M = {}
local CNA, make_divisible = ops.Conv2dNormActivation, ops.make_divisible

-- ---- MobileNetV2 -------------------------------------------------------------------------

local InvertedResidualV2 = nn.Module:extend("InvertedResidual")

function InvertedResidualV2:init(inp, oup, stride, expand_ratio)
  local hidden = math.floor(inp * expand_ratio + 0.5)
  self.use_res_connect = stride == 1 and inp == oup
  local conv = nn.Sequential()
  if expand_ratio ~= 1 then
    conv:append(CNA(inp, hidden, {kernel_size = 1, activation = nn.ReLU6}))
  end
  conv:append(CNA(hidden, hidden, {stride = stride, groups = hidden, activation = nn.ReLU6}))
  conv:append(nn.Conv2d(hidden, oup, 1, {bias = false}))
  conv:append(nn.BatchNorm2d(oup))
  self.conv = conv
end

function InvertedResidualV2:forward(x)
  if self.use_res_connect then return self.conv:forward_add(x, x) end -- x + conv(x), fused
  return self.conv(x)
end

local MobileNetV2 = nn.Module:extend("MobileNetV2")

function MobileNetV2:init(opts)
  local setting = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1},
                   {6, 160, 3, 2}, {6, 320, 1, 1}}
  local input_channel, last_channel = 32, 1280
  local features = nn.Sequential(CNA(3, input_channel, {stride = 2, activation = nn.ReLU6}))
  for _, s in ipairs(setting) do
    local t, c, n, st = s[1], s[2], s[3], s[4]
    local out = make_divisible(c, 8)
    for i = 1, n do
      features:append(InvertedResidualV2(input_channel, out, i == 1 and st or 1, t))
      input_channel = out
    end
  end
  features:append(CNA(input_channel, last_channel, {kernel_size = 1, activation = nn.ReLU6}))
  self.features = features
  self.classifier = nn.Sequential(nn.Dropout(opts.dropout or 0.2),
    nn.Linear(last_channel, opts.num_classes or 1000))
end

function MobileNetV2:forward(x)
  return self.classifier(ops.pool_flatten(self.features(x)))
end

-- ---- MobileNetV3 -------------------------------------------------------------------------

local InvertedResidualV3 = nn.Module:extend("InvertedResidual")

-- cnf: {input, kernel, expanded, out, use_se, activation ("RE" | "HS"), stride}
function InvertedResidualV3:init(c, eps)
  local inp, k, exp, out, use_se, act_name, stride = table.unpack(c)
  self.use_res_connect = stride == 1 and inp == out
  local act = act_name == "HS" and nn.Hardswish or nn.ReLU
  local block = nn.Sequential()
  if exp ~= inp then
    block:append(CNA(inp, exp, {kernel_size = 1, eps = eps, activation = act}))
  end
  block:append(CNA(exp, exp, {kernel_size = k, stride = stride, groups = exp, eps = eps,
    activation = act}))
  if use_se then
    block:append(ops.SqueezeExcitation(exp, make_divisible(exp // 4, 8),
      {scale_activation = nn.Hardsigmoid}))
  end
  block:append(CNA(exp, out, {kernel_size = 1, eps = eps, activation = false}))
  self.block = block
end

function InvertedResidualV3:forward(x)
  if self.use_res_connect then return self.block:forward_add(x, x) end -- fused when it can be
  return self.block(x)
end

local v3_settings = {
  mobilenet_v3_large = {{
    {16, 3, 16, 16, false, "RE", 1}, {16, 3, 64, 24, false, "RE", 2},
    {24, 3, 72, 24, false, "RE", 1}, {24, 5, 72, 40, true, "RE", 2},
    {40, 5, 120, 40, true, "RE", 1}, {40, 5, 120, 40, true, "RE", 1},
    {40, 3, 240, 80, false, "HS", 2}, {80, 3, 200, 80, false, "HS", 1},
    {80, 3, 184, 80, false, "HS", 1}, {80, 3, 184, 80, false, "HS", 1},
    {80, 3, 480, 112, true, "HS", 1}, {112, 3, 672, 112, true, "HS", 1},
    {112, 5, 672, 160, true, "HS", 2}, {160, 5, 960, 160, true, "HS", 1},
    {160, 5, 960, 160, true, "HS", 1}}, 1280},
  mobilenet_v3_small = {{
    {16, 3, 16, 16, true, "RE", 2}, {16, 3, 72, 24, false, "RE", 2},
    {24, 3, 88, 24, false, "RE", 1}, {24, 5, 96, 40, true, "HS", 2},
    {40, 5, 240, 40, true, "HS", 1}, {40, 5, 240, 40, true, "HS", 1},
    {40, 5, 120, 48, true, "HS", 1}, {48, 5, 144, 48, true, "HS", 1},
    {48, 5, 288, 96, true, "HS", 2}, {96, 5, 576, 96, true, "HS", 1},
    {96, 5, 576, 96, true, "HS", 1}}, 1024},
}

local MobileNetV3 = nn.Module:extend("MobileNetV3")

function MobileNetV3:init(setting, last_channel, opts)
  local eps = 0.001
  local features = nn.Sequential(CNA(3, setting[1][1], {stride = 2, eps = eps,
    activation = nn.Hardswish}))
  for _, c in ipairs(setting) do features:append(InvertedResidualV3(c, eps)) end
  local last_in = setting[#setting][4]
  features:append(CNA(last_in, 6 * last_in, {kernel_size = 1, eps = eps,
    activation = nn.Hardswish}))
  self.features = features
  self.avgpool = nn.AdaptiveAvgPool2d(1)
  self.classifier = nn.Sequential(nn.Linear(6 * last_in, last_channel), nn.Hardswish(),
    nn.Dropout(opts.dropout or 0.2), nn.Linear(last_channel, opts.num_classes or 1000))
end

function MobileNetV3:forward(x)
  return self.classifier(ops.pool_flatten(self.features(x)))
end

M.variants = {mobilenet_v2 = true, mobilenet_v3_large = true, mobilenet_v3_small = true}

function M.build(name, opts)
  if name == "mobilenet_v2" then return MobileNetV2(opts) end
  local s = v3_settings[name]
  return MobileNetV3(s[1], s[2], opts)
end

M.options = {num_classes = true, dropout = true}

return M
