--- AlexNet as torchvision 0.14 builds it (torchvision/models/alexnet.py).
local nn = require "sbengine.nn"
local F = nn.functional

local M = {}

local AlexNet = nn.Module:extend("AlexNet")

function AlexNet:init(opts)
  local p = opts.dropout or 0.5
  self.features = nn.Sequential(
    nn.Conv2d(3, 64, 11, {stride = 4, padding = 2}), nn.ReLU(), nn.MaxPool2d(3, {stride = 2}),
    nn.Conv2d(64, 192, 5, {padding = 2}), nn.ReLU(), nn.MaxPool2d(3, {stride = 2}),
    nn.Conv2d(192, 384, 3, {padding = 1}), nn.ReLU(),
    nn.Conv2d(384, 256, 3, {padding = 1}), nn.ReLU(),
    nn.Conv2d(256, 256, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(3, {stride = 2}))
  self.avgpool = nn.AdaptiveAvgPool2d({6, 6})
  self.classifier = nn.Sequential(nn.Dropout(p), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
    nn.Dropout(p), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, opts.num_classes or 1000))
end

function AlexNet:forward(x)
  return self.classifier(F.flatten(self.avgpool(self.features(x)), 2))
end

M.AlexNet = AlexNet
M.variants = {alexnet = true}
function M.build(_, opts) return AlexNet(opts) end
M.options = {num_classes = true, dropout = true}

return M
