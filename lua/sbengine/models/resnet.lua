--- ResNet, ResNeXt and Wide ResNet as torchvision 0.14 builds them (torchvision/models/resnet.py):
-- the same modules, names and state_dict keys, evaluated in eval mode.
local nn = require "sbengine.nn"
local F = nn.functional

local M = {}

local function conv3x3(inp, out, stride, groups, dilation)
  return nn.Conv2d(inp, out, 3, {stride = stride or 1, padding = dilation or 1,
    groups = groups or 1, bias = false, dilation = dilation or 1})
end

local function conv1x1(inp, out, stride)
  return nn.Conv2d(inp, out, 1, {stride = stride or 1, bias = false})
end

--- BasicBlock: two 3x3 convolutions (ResNet-18/34).
local BasicBlock = nn.Module:extend("BasicBlock")
BasicBlock.expansion = 1

function BasicBlock:init(inplanes, planes, stride, downsample, groups, base_width)
  if groups ~= 1 or base_width ~= 64 then
    error("BasicBlock only supports groups = 1 and width_per_group = 64", 4)
  end
  self.conv1 = conv3x3(inplanes, planes, stride)
  self.bn1 = nn.BatchNorm2d(planes)
  self.relu = nn.ReLU()
  self.conv2 = conv3x3(planes, planes)
  self.bn2 = nn.BatchNorm2d(planes)
  if downsample then self.downsample = downsample end
end

-- nn.conv_bn runs conv + batch norm (+ residual) + ReLU as one fused conv2d in eval mode
-- (the same formula as the modules one after another); a result only the next convolution
-- reads stays channels-last.
-- cl: the block's result may be channels-last too (ResNet:forward, whose next block or
-- pooling reads it).
function BasicBlock:forward(x, cl)
  local out = nn.conv_bn(x, self.conv1, self.bn1, {activation = "relu", channels_last = true})
  local identity = self.downsample and self.downsample(x) or x
  return nn.conv_bn(out, self.conv2, self.bn2, {activation = "relu", residual = identity,
    channels_last = cl == true})
end

--- Bottleneck: 1x1, 3x3 (stride, groups), 1x1 expanding by 4 (ResNet-50 and deeper).
local Bottleneck = nn.Module:extend("Bottleneck")
Bottleneck.expansion = 4

function Bottleneck:init(inplanes, planes, stride, downsample, groups, base_width)
  local width = math.floor(planes * (base_width / 64.0)) * groups
  self.conv1 = conv1x1(inplanes, width)
  self.bn1 = nn.BatchNorm2d(width)
  self.conv2 = conv3x3(width, width, stride, groups)
  self.bn2 = nn.BatchNorm2d(width)
  self.conv3 = conv1x1(width, planes * 4)
  self.bn3 = nn.BatchNorm2d(planes * 4)
  self.relu = nn.ReLU()
  if downsample then self.downsample = downsample end
end

function Bottleneck:forward(x, cl)
  local out = nn.conv_bn(x, self.conv1, self.bn1, {activation = "relu", channels_last = true})
  out = nn.conv_bn(out, self.conv2, self.bn2, {activation = "relu", channels_last = true})
  local identity = self.downsample and self.downsample(x) or x
  return nn.conv_bn(out, self.conv3, self.bn3, {activation = "relu", residual = identity,
    channels_last = cl == true})
end

--- ResNet(block, layers, {num_classes = 1000, groups = 1, width_per_group = 64})
local ResNet = nn.Module:extend("ResNet")

function ResNet:init(block, layers, opts)
  self.inplanes = 64
  self.groups = opts.groups or 1
  self.base_width = opts.width_per_group or 64
  self.conv1 = nn.Conv2d(3, 64, 7, {stride = 2, padding = 3, bias = false})
  self.bn1 = nn.BatchNorm2d(64)
  self.relu = nn.ReLU()
  self.maxpool = nn.MaxPool2d(3, {stride = 2, padding = 1})
  self.layer1 = self:make_layer(block, 64, layers[1], 1)
  self.layer2 = self:make_layer(block, 128, layers[2], 2)
  self.layer3 = self:make_layer(block, 256, layers[3], 2)
  self.layer4 = self:make_layer(block, 512, layers[4], 2)
  self.avgpool = nn.AdaptiveAvgPool2d({1, 1})
  self.fc = nn.Linear(512 * block.expansion, opts.num_classes or 1000)
end

function ResNet:make_layer(block, planes, blocks, stride)
  local downsample
  if stride ~= 1 or self.inplanes ~= planes * block.expansion then
    downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
      nn.BatchNorm2d(planes * block.expansion))
  end
  local layer = nn.Sequential(block(self.inplanes, planes, stride, downsample, self.groups,
    self.base_width))
  self.inplanes = planes * block.expansion
  for _ = 2, blocks do
    layer:append(block(self.inplanes, planes, 1, nil, self.groups, self.base_width))
  end
  return layer
end

-- A layer as make_layer builds it: a Sequential of this file's blocks, none replaced or
-- given a forward of its own; its blocks can hand each other channels-last results.
local function stock_layer(layer)
  if getmetatable(layer) ~= nn.Sequential._instance_mt or rawget(layer, "forward") ~= nil then
    return false
  end
  for _, b in ipairs(layer:children()) do
    local mt = getmetatable(b)
    if (mt ~= BasicBlock._instance_mt and mt ~= Bottleneck._instance_mt) or
       rawget(b, "forward") ~= nil then
      return false
    end
  end
  return true
end

function ResNet:forward(x)
  x = self.maxpool(nn.conv_bn(x, self.conv1, self.bn1, {activation = "relu"}))
  for _, layer in ipairs({self.layer1, self.layer2, self.layer3, self.layer4}) do
    if stock_layer(layer) then
      for _, block in ipairs(layer:children()) do x = block:forward(x, true) end
    else
      x = layer(x)
    end
  end
  return self.fc(F.flatten(self.avgpool(x), 2))
end

M.ResNet, M.BasicBlock, M.Bottleneck = ResNet, BasicBlock, Bottleneck

-- name -> block, layers, fixed options (torchvision's builders)
M.variants = {
  resnet18 = {BasicBlock, {2, 2, 2, 2}, {}},
  resnet34 = {BasicBlock, {3, 4, 6, 3}, {}},
  resnet50 = {Bottleneck, {3, 4, 6, 3}, {}},
  resnet101 = {Bottleneck, {3, 4, 23, 3}, {}},
  resnet152 = {Bottleneck, {3, 8, 36, 3}, {}},
  resnext50_32x4d = {Bottleneck, {3, 4, 6, 3}, {groups = 32, width_per_group = 4}},
  resnext101_32x8d = {Bottleneck, {3, 4, 23, 3}, {groups = 32, width_per_group = 8}},
  resnext101_64x4d = {Bottleneck, {3, 4, 23, 3}, {groups = 64, width_per_group = 4}},
  wide_resnet50_2 = {Bottleneck, {3, 4, 6, 3}, {width_per_group = 128}},
  wide_resnet101_2 = {Bottleneck, {3, 4, 23, 3}, {width_per_group = 128}},
}

function M.build(name, opts)
  local v = M.variants[name]
  local o = {num_classes = opts.num_classes}
  for k, val in pairs(v[3]) do o[k] = val end
  return ResNet(v[1], v[2], o)
end

M.options = {num_classes = true}

return M
