--- DenseNet-121/161/169/201 as torchvision 0.14 builds them (torchvision/models/densenet.py).
local nn = require "sbengine.nn"
local sbt = require("sbengine.core").tensor
local ops = require "sbengine.models.ops"
local F = nn.functional

local M = {}

local DenseLayer = nn.Module:extend("_DenseLayer")

function DenseLayer:init(inp, growth_rate, bn_size)
  self.norm1 = nn.BatchNorm2d(inp)
  self.relu1 = nn.ReLU()
  self.conv1 = nn.Conv2d(inp, bn_size * growth_rate, 1, {bias = false})
  self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
  self.relu2 = nn.ReLU()
  self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, {padding = 1, bias = false})
end

function DenseLayer:forward(features) -- a list of tensors, concatenated along channels
  local x = #features == 1 and features[1] or sbt.cat(features, 2)
  x = self.conv1(F.relu(self.norm1(x)))
  return self.conv2(F.relu(self.norm2(x)))
end

local DenseBlock = nn.Module:extend("_DenseBlock")

function DenseBlock:init(num_layers, inp, bn_size, growth_rate)
  for i = 1, num_layers do
    self:add_module("denselayer" .. i, DenseLayer(inp + (i - 1) * growth_rate, growth_rate, bn_size))
  end
end

function DenseBlock:forward(x)
  local features = {x}
  for _, layer in self:named_children() do features[#features + 1] = layer(features) end
  return sbt.cat(features, 2)
end

local DenseNet = nn.Module:extend("DenseNet")

function DenseNet:init(growth_rate, block_config, num_init_features, opts)
  local features = nn.Sequential()
  features:add_module("conv0", nn.Conv2d(3, num_init_features, 7, {stride = 2, padding = 3, bias = false}))
  features:add_module("norm0", nn.BatchNorm2d(num_init_features))
  features:add_module("relu0", nn.ReLU())
  features:add_module("pool0", nn.MaxPool2d(3, {stride = 2, padding = 1}))
  local n = num_init_features
  for i, layers in ipairs(block_config) do
    features:add_module("denseblock" .. i, DenseBlock(layers, n, 4, growth_rate))
    n = n + layers * growth_rate
    if i ~= #block_config then
      local t = nn.Sequential()
      t:add_module("norm", nn.BatchNorm2d(n))
      t:add_module("relu", nn.ReLU())
      t:add_module("conv", nn.Conv2d(n, n // 2, 1, {bias = false}))
      t:add_module("pool", nn.AvgPool2d(2, {stride = 2}))
      features:add_module("transition" .. i, t)
      n = n // 2
    end
  end
  features:add_module("norm5", nn.BatchNorm2d(n))
  self.features = features
  self.classifier = nn.Linear(n, opts.num_classes or 1000)
end

function DenseNet:forward(x)
  return self.classifier(ops.pool_flatten(F.relu(self.features(x))))
end

-- name -> growth_rate, block_config, num_init_features
M.variants = {
  densenet121 = {32, {6, 12, 24, 16}, 64}, densenet161 = {48, {6, 12, 36, 24}, 96},
  densenet169 = {32, {6, 12, 32, 32}, 64}, densenet201 = {32, {6, 12, 48, 32}, 64},
}

function M.build(name, opts)
  local v = M.variants[name]
  return DenseNet(v[1], v[2], v[3], opts)
end

M.options = {num_classes = true}

return M
