-- ResNet-18, ResNet-50 and MobileNetV2 written with the public sb.nn API, with torchvision
-- 0.14's layer names (so its state_dict keys load unchanged) and its arithmetic, for
-- tools/perf/convnets (which checks the outputs against torchvision on the same weights).
--
--   local models = dofile("tools/perf/convnets_models.lua")
--   local m = models.resnet18()   -- random init; then m:load_state_dict(path); m:eval()
local sb = require "sbengine"
local nn, F = sb.nn, sb.nn.functional

local M = {}

-- ---- ResNet (torchvision.models.resnet: v1.5, the stride on the 3x3 convolution) ----------

local BasicBlock = nn.Module:extend("BasicBlock")
BasicBlock.expansion = 1

function BasicBlock:init(inp, planes, stride, downsample)
  self.conv1 = nn.Conv2d(inp, planes, 3, {stride = stride, padding = 1, bias = false})
  self.bn1 = nn.BatchNorm2d(planes)
  self.relu = nn.ReLU()
  self.conv2 = nn.Conv2d(planes, planes, 3, {padding = 1, bias = false})
  self.bn2 = nn.BatchNorm2d(planes)
  if downsample then self.downsample = downsample end
end

function BasicBlock:forward(x)
  local identity = self.downsample and self.downsample(x) or x
  local y = self.relu(self.bn1(self.conv1(x)))
  y = self.bn2(self.conv2(y))
  return F.relu(y + identity)
end

local Bottleneck = nn.Module:extend("Bottleneck")
Bottleneck.expansion = 4

function Bottleneck:init(inp, planes, stride, downsample)
  self.conv1 = nn.Conv2d(inp, planes, 1, {bias = false})
  self.bn1 = nn.BatchNorm2d(planes)
  self.conv2 = nn.Conv2d(planes, planes, 3, {stride = stride, padding = 1, bias = false})
  self.bn2 = nn.BatchNorm2d(planes)
  self.conv3 = nn.Conv2d(planes, planes * 4, 1, {bias = false})
  self.bn3 = nn.BatchNorm2d(planes * 4)
  self.relu = nn.ReLU()
  if downsample then self.downsample = downsample end
end

function Bottleneck:forward(x)
  local identity = self.downsample and self.downsample(x) or x
  local y = self.relu(self.bn1(self.conv1(x)))
  y = self.relu(self.bn2(self.conv2(y)))
  y = self.bn3(self.conv3(y))
  return F.relu(y + identity)
end

local ResNet = nn.Module:extend("ResNet")

function ResNet:init(block, layers, num_classes)
  self.inplanes = 64
  self.conv1 = nn.Conv2d(3, 64, 7, {stride = 2, padding = 3, bias = false})
  self.bn1 = nn.BatchNorm2d(64)
  self.relu = nn.ReLU()
  self.maxpool = nn.MaxPool2d(3, {stride = 2, padding = 1})
  self.layer1 = self:make_layer(block, 64, layers[1], 1)
  self.layer2 = self:make_layer(block, 128, layers[2], 2)
  self.layer3 = self:make_layer(block, 256, layers[3], 2)
  self.layer4 = self:make_layer(block, 512, layers[4], 2)
  self.avgpool = nn.AdaptiveAvgPool2d(1)
  self.fc = nn.Linear(512 * block.expansion, num_classes or 1000)
end

function ResNet:make_layer(block, planes, blocks, stride)
  local downsample
  if stride ~= 1 or self.inplanes ~= planes * block.expansion then
    downsample = nn.Sequential(
      nn.Conv2d(self.inplanes, planes * block.expansion, 1, {stride = stride, bias = false}),
      nn.BatchNorm2d(planes * block.expansion))
  end
  local layer = nn.Sequential(block(self.inplanes, planes, stride, downsample))
  self.inplanes = planes * block.expansion
  for _ = 2, blocks do layer:append(block(self.inplanes, planes, 1)) end
  return layer
end

function ResNet:forward(x)
  x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
  x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
  return self.fc(F.flatten(self.avgpool(x), 2))
end

function M.resnet18(num_classes) return ResNet(BasicBlock, {2, 2, 2, 2}, num_classes) end
function M.resnet50(num_classes) return ResNet(Bottleneck, {3, 4, 6, 3}, num_classes) end

-- ---- MobileNetV2 (torchvision.models.mobilenetv2, width 1.0) --------------------------------

local ReLU6 = nn.Module:extend("ReLU6")
function ReLU6:forward(x) return x:clamp(0, 6) end

-- torchvision's Conv2dNormActivation: a Sequential conv (no bias), BatchNorm2d, ReLU6.
local function conv_bn_relu6(inp, out, kernel, stride, groups)
  return nn.Sequential(
    nn.Conv2d(inp, out, kernel, {stride = stride or 1, padding = (kernel - 1) // 2,
                                 groups = groups or 1, bias = false}),
    nn.BatchNorm2d(out), ReLU6())
end

local InvertedResidual = nn.Module:extend("InvertedResidual")

function InvertedResidual:init(inp, out, stride, expand_ratio)
  local hidden = inp * expand_ratio
  self.use_res_connect = stride == 1 and inp == out
  local layers = {}
  if expand_ratio ~= 1 then layers[#layers + 1] = conv_bn_relu6(inp, hidden, 1) end
  layers[#layers + 1] = conv_bn_relu6(hidden, hidden, 3, stride, hidden)
  layers[#layers + 1] = nn.Conv2d(hidden, out, 1, {bias = false})
  layers[#layers + 1] = nn.BatchNorm2d(out)
  self.conv = nn.Sequential(table.unpack(layers))
end

function InvertedResidual:forward(x)
  if self.use_res_connect then return x + self.conv(x) end
  return self.conv(x)
end

local MobileNetV2 = nn.Module:extend("MobileNetV2")

function MobileNetV2:init(num_classes)
  local settings = { -- expansion t, channels c, repeats n, first stride s
    {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
    {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}}
  local input_channel = 32
  local features = nn.Sequential(conv_bn_relu6(3, input_channel, 3, 2))
  for _, s in ipairs(settings) do
    local t, c, n, stride = s[1], s[2], s[3], s[4]
    for i = 1, n do
      features:append(InvertedResidual(input_channel, c, i == 1 and stride or 1, t))
      input_channel = c
    end
  end
  features:append(conv_bn_relu6(input_channel, 1280, 1))
  self.features = features
  self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes or 1000))
end

function MobileNetV2:forward(x)
  x = F.adaptive_avg_pool2d(self.features(x), 1)
  return self.classifier(F.flatten(x, 2))
end

function M.mobilenet_v2(num_classes) return MobileNetV2(num_classes) end

return M
