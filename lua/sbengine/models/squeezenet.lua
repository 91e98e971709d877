--- SqueezeNet 1.0 and 1.1 as torchvision 0.14 builds them (torchvision/models/squeezenet.py).
local nn = require "sbengine.nn"
local sbt = require("sbengine.core").tensor
local F = nn.functional

local M = {}

local Fire = nn.Module:extend("Fire")

function Fire:init(inplanes, squeeze, e1, e3)
  self.squeeze = nn.Conv2d(inplanes, squeeze, 1)
  self.squeeze_activation = nn.ReLU()
  self.expand1x1 = nn.Conv2d(squeeze, e1, 1)
  self.expand1x1_activation = nn.ReLU()
  self.expand3x3 = nn.Conv2d(squeeze, e3, 3, {padding = 1})
  self.expand3x3_activation = nn.ReLU()
end

function Fire:forward(x)
  x = F.relu(self.squeeze(x))
  return sbt.cat({F.relu(self.expand1x1(x)), F.relu(self.expand3x3(x))}, 2)
end

local function pool() return nn.MaxPool2d(3, {stride = 2, ceil_mode = true}) end

local SqueezeNet = nn.Module:extend("SqueezeNet")

function SqueezeNet:init(version, opts)
  if version == "1_0" then
    self.features = nn.Sequential(nn.Conv2d(3, 96, 7, {stride = 2}), nn.ReLU(), pool(),
      Fire(96, 16, 64, 64), Fire(128, 16, 64, 64), Fire(128, 32, 128, 128), pool(),
      Fire(256, 32, 128, 128), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
      Fire(384, 64, 256, 256), pool(), Fire(512, 64, 256, 256))
  else
    self.features = nn.Sequential(nn.Conv2d(3, 64, 3, {stride = 2}), nn.ReLU(), pool(),
      Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(), Fire(128, 32, 128, 128),
      Fire(256, 32, 128, 128), pool(), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
      Fire(384, 64, 256, 256), Fire(512, 64, 256, 256))
  end
  self.classifier = nn.Sequential(nn.Dropout(opts.dropout or 0.5),
    nn.Conv2d(512, opts.num_classes or 1000, 1), nn.ReLU(), nn.AdaptiveAvgPool2d({1, 1}))
end

function SqueezeNet:forward(x)
  return F.flatten(self.classifier(self.features(x)), 2)
end

M.variants = {squeezenet1_0 = "1_0", squeezenet1_1 = "1_1"}
function M.build(name, opts) return SqueezeNet(M.variants[name], opts) end
M.options = {num_classes = true, dropout = true}

return M
