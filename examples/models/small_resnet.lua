-- A small ResNet (CIFAR-sized input [N,3,32,32] -> [N,10]) showing how to define a block
-- in Lua: BasicBlock subclasses sb.nn.Module with its own forward (a residual sum).
--
--   local model = dofile("examples/models/small_resnet.lua")   -- random init, eval mode
--   model:load_state_dict("weights.safetensors")                -- PyTorch state_dict keys
--
-- Same architecture as tools/fixtures/nn_resnet.py, whose random-init weights and outputs
-- tests/lua/nn_models_spec.lua compares against.
local sb = require "sbengine"
local nn, F = sb.nn, sb.nn.functional

local BasicBlock = nn.Module:extend("BasicBlock")

function BasicBlock:init(inp, out, stride)
  stride = stride or 1
  -- Fields become children in assignment order: conv1.weight, bn1.running_mean, ...
  self.conv1 = nn.Conv2d(inp, out, 3, {stride = stride, padding = 1, bias = false})
  self.bn1 = nn.BatchNorm2d(out)
  self.relu = nn.ReLU()
  self.conv2 = nn.Conv2d(out, out, 3, {padding = 1, bias = false})
  self.bn2 = nn.BatchNorm2d(out)
  if stride ~= 1 or inp ~= out then
    self.downsample = nn.Sequential(nn.Conv2d(inp, out, 1, {stride = stride, bias = false}),
                                    nn.BatchNorm2d(out))
  end
end

function BasicBlock:forward(x)
  local identity = self.downsample and self.downsample(x) or x
  local y = self.relu(self.bn1(self.conv1(x)))
  y = self.bn2(self.conv2(y))
  return F.relu(y + identity)
end

local SmallResNet = nn.Module:extend("SmallResNet")

function SmallResNet:init(num_classes)
  self.conv1 = nn.Conv2d(3, 8, 3, {padding = 1, bias = false})
  self.bn1 = nn.BatchNorm2d(8)
  self.relu = nn.ReLU()
  self.layer1 = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 8))
  self.layer2 = nn.Sequential(BasicBlock(8, 16, 2), BasicBlock(16, 16))
  self.layer3 = nn.Sequential(BasicBlock(16, 32, 2))
  self.avgpool = nn.AdaptiveAvgPool2d(1)
  self.fc = nn.Linear(32, num_classes or 10)
end

function SmallResNet:forward(x)
  x = self.relu(self.bn1(self.conv1(x)))
  x = self.layer3(self.layer2(self.layer1(x)))
  return self.fc(F.flatten(self.avgpool(x), 2))
end

return SmallResNet():eval()
