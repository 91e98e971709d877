-- LeNet-5 for MNIST, trained by tools/train/lenet5_mnist.py (test top-1 99.04%).
--
--   local model = dofile("examples/models/lenet5.lua")   -- built, weights loaded, eval mode
--   local logits = model(images)    -- images [N,1,28,28] float32, normalised with
--                                   -- mean 0.1307 and std 0.3081; logits [N,10]
--
-- The layer order matches the PyTorch nn.Sequential that wrote the weights, so the
-- safetensors keys ("0.weight", "3.bias", "7.weight", ...) load unchanged.
local sb = require "sbengine"
local nn = sb.nn

local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"

local model = nn.Sequential(
  nn.Conv2d(1, 6, 5, {padding = 2}), nn.ReLU(), nn.MaxPool2d(2),
  nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
  nn.Flatten(),
  nn.Linear(400, 120), nn.ReLU(),
  nn.Linear(120, 84), nn.ReLU(),
  nn.Linear(84, 10))

model:load_state_dict(here .. "lenet5_mnist.safetensors")
model:eval()
return model
