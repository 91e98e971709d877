--- Building blocks shared by the model files, as torchvision.ops and torchvision.models._utils
-- define them: make_divisible, Conv2dNormActivation, SqueezeExcitation, StochasticDepth.
local nn = require "sbengine.nn"
local F = nn.functional

local M = {}

--- torchvision's _make_divisible: v rounded to a multiple of divisor, never below 90% of v.
function M.make_divisible(v, divisor, min_value)
  min_value = min_value or divisor
  local new_v = math.max(min_value, math.floor(v + divisor / 2) // divisor * divisor)
  if new_v < 0.9 * v then new_v = new_v + divisor end
  return math.tointeger(new_v) or new_v
end

--- Conv2dNormActivation(in, out, {kernel_size = 3, stride = 1, padding, groups = 1,
-- dilation = 1, bias, norm = true, norm_layer, eps = 1e-5, activation = nn.ReLU | false}): a
-- Sequential of Conv2d (padding (k - 1) / 2 * dilation unless given, bias only without a norm
-- unless given), the norm (BatchNorm2d(out, {eps}), or norm_layer(out)) and the activation.
M.Conv2dNormActivation = nn.Sequential:extend("Conv2dNormActivation")

function M.Conv2dNormActivation:init(inp, out, o)
  o = o or {}
  local k, dilation = o.kernel_size or 3, o.dilation or 1
  local norm = o.norm ~= false
  local bias = o.bias
  if bias == nil then bias = not norm end
  nn.Sequential.init(self, nn.Conv2d(inp, out, k, {stride = o.stride or 1,
    padding = o.padding or (k - 1) // 2 * dilation, dilation = dilation, groups = o.groups or 1,
    bias = bias}))
  if norm then self:append(o.norm_layer and o.norm_layer(out) or nn.BatchNorm2d(out, {eps = o.eps or 1e-5})) end
  local act = o.activation
  if act == nil then act = nn.ReLU end
  if act then self:append(act()) end
end

--- SqueezeExcitation(input_channels, squeeze_channels, {activation = nn.ReLU,
-- scale_activation = nn.Sigmoid}): x * sigma(fc2(delta(fc1(avgpool(x))))).
M.SqueezeExcitation = nn.Module:extend("SqueezeExcitation")

function M.SqueezeExcitation:init(input_channels, squeeze_channels, o)
  o = o or {}
  self.avgpool = nn.AdaptiveAvgPool2d(1)
  self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
  self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
  self.activation = (o.activation or nn.ReLU)()
  self.scale_activation = (o.scale_activation or nn.Sigmoid)()
end

function M.SqueezeExcitation:forward(x)
  local scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
  return scale * x
end

--- StochasticDepth(p, "row"): the identity in eval mode; in training mode drops each
-- sample's residual branch with probability p and scales the kept ones by 1 / (1 - p).
M.StochasticDepth = nn.Module:extend("StochasticDepth")

function M.StochasticDepth:init(p, mode)
  self.p, self.mode = p, mode or "row"
end

function M.StochasticDepth:forward(x)
  if not self.training or self.p == 0 then return x end
  local shape = {x:size(1)}
  for i = 2, x:dim() do shape[i] = 1 end
  local noise = require("sbengine.core").tensor.rand(shape, {device = x:device()}):ge(self.p)
  return x * noise:to(x:dtype()) * (1 / (1 - self.p))
end

function M.StochasticDepth:extra_repr()
  return ("p=%g, mode=%s"):format(self.p, self.mode)
end

--- Permute(dims): x:permute(dims) as a module (torchvision.ops.Permute; dims 1-based here).
M.Permute = nn.Module:extend("Permute")

function M.Permute:init(dims)
  self.dims = dims
end

function M.Permute:forward(x)
  return x:permute(self.dims)
end

function M.Permute:extra_repr()
  return "dims=[" .. table.concat(self.dims, ", ") .. "]"
end

--- A Sequential whose children have names (torchvision's Sequential(OrderedDict(...))):
-- NamedSequential({{"name", module}, ...}); runs them in that order.
M.NamedSequential = nn.Module:extend("NamedSequential")

function M.NamedSequential:init(named)
  for _, entry in ipairs(named) do self:add_module(entry[1], entry[2]) end
end

function M.NamedSequential:forward(x)
  for _, m in ipairs(self:children()) do x = m(x) end
  return x
end

--- x: [N, C, H, W] -> [N, C] by global average pooling.
function M.pool_flatten(x)
  return F.flatten(F.adaptive_avg_pool2d(x, 1), 2)
end

return M
