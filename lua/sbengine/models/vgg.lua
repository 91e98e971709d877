--- VGG-11/13/16/19, with and without batch norm, as torchvision 0.14 builds them
-- (torchvision/models/vgg.py): `features`, `avgpool`, `classifier`.
local nn = require "sbengine.nn"
local F = nn.functional

local M = {}

local cfgs = {
  A = {64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"},
  B = {64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"},
  D = {64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"},
  E = {64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512,
       512, 512, "M"},
}

local function make_layers(cfg, batch_norm)
  local layers = nn.Sequential()
  local in_channels = 3
  for _, v in ipairs(cfg) do
    if v == "M" then
      layers:append(nn.MaxPool2d(2, {stride = 2}))
    else
      layers:append(nn.Conv2d(in_channels, v, 3, {padding = 1}))
      if batch_norm then layers:append(nn.BatchNorm2d(v)) end
      layers:append(nn.ReLU())
      in_channels = v
    end
  end
  return layers
end

--- VGG(features, {num_classes = 1000, dropout = 0.5})
local VGG = nn.Module:extend("VGG")

function VGG:init(features, opts)
  self.features = features
  self.avgpool = nn.AdaptiveAvgPool2d({7, 7})
  local dropout = opts.dropout or 0.5
  self.classifier = nn.Sequential(nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(dropout),
    nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout), nn.Linear(4096, opts.num_classes or 1000))
end

function VGG:forward(x)
  return self.classifier(F.flatten(self.avgpool(self.features(x)), 2))
end

M.VGG = VGG

M.variants = {
  vgg11 = {"A", false}, vgg11_bn = {"A", true},
  vgg13 = {"B", false}, vgg13_bn = {"B", true},
  vgg16 = {"D", false}, vgg16_bn = {"D", true},
  vgg19 = {"E", false}, vgg19_bn = {"E", true},
}

function M.build(name, opts)
  local v = M.variants[name]
  return VGG(make_layers(cfgs[v[1]], v[2]), opts)
end

M.options = {num_classes = true, dropout = true}

return M
