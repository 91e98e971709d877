--- The built-in layers of sb.nn, each a Module subclass over sb.nn.functional.
-- Constructor arguments follow PyTorch's positional order; keyword arguments go in a
-- trailing options table. Dims are 1-based (Flatten's default start_dim is 2, PyTorch's 1).
local Module = require "sbengine.nn.module"
local F = require "sbengine.nn.functional"
local init = require "sbengine.nn._weight_init"
local util = require "sbengine._util"

local M = {}

local function pair(v, what)
  if type(v) == "number" then return {v, v} end
  if type(v) == "table" and #v == 2 then return {v[1], v[2]} end
  error(what .. " must be a number or a pair {h, w}", 3)
end

local function pair_text(p)
  return "(" .. p[1] .. ", " .. p[2] .. ")"
end

local function check_options(name, opts, known)
  return util.check_options(name, opts, known, 2)
end

local function check_positive_int(name, what, v)
  if math.type(v) ~= "integer" or v < 1 then
    error(string.format("%s: %s must be a positive integer, got %s", name, what, tostring(v)), 3)
  end
end

-- ---- Linear ---------------------------------------------------------------------------

--- Linear(in_features, out_features [, {bias = true}])
M.Linear = Module:extend("Linear")

function M.Linear:init(in_features, out_features, opts)
  opts = check_options("Linear", opts, {bias = true})
  check_positive_int("Linear", "in_features", in_features)
  check_positive_int("Linear", "out_features", out_features)
  self.in_features, self.out_features = in_features, out_features
  -- PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
  local bound = 1 / math.sqrt(in_features)
  self:register_parameter("weight", init.uniform({out_features, in_features}, -bound, bound))
  if opts.bias == false then
    self:register_parameter("bias", nil)
  else
    self:register_parameter("bias", init.uniform({out_features}, -bound, bound))
  end
end

function M.Linear:forward(x)
  return F.linear(x, self.weight, self.bias)
end

function M.Linear:extra_repr()
  return string.format("in_features=%d, out_features=%d, bias=%s", self.in_features,
    self.out_features, tostring(self.bias ~= nil))
end

-- ---- Conv2d ---------------------------------------------------------------------------

--- Conv2d(in_channels, out_channels, kernel_size [, {stride=1, padding=0, dilation=1,
-- groups=1, bias=true, padding_mode="zeros"}]); padding may be "same" or "valid".
M.Conv2d = Module:extend("Conv2d")

function M.Conv2d:init(in_channels, out_channels, kernel_size, opts)
  opts = check_options("Conv2d", opts, {stride = true, padding = true, dilation = true,
    groups = true, bias = true, padding_mode = true})
  check_positive_int("Conv2d", "in_channels", in_channels)
  check_positive_int("Conv2d", "out_channels", out_channels)
  local groups = opts.groups or 1
  check_positive_int("Conv2d", "groups", groups)
  if in_channels % groups ~= 0 or out_channels % groups ~= 0 then
    error(string.format("Conv2d: in_channels (%d) and out_channels (%d) must be divisible by groups (%d)",
      in_channels, out_channels, groups), 2)
  end
  if opts.padding_mode ~= nil and opts.padding_mode ~= "zeros" then
    error("Conv2d: only padding_mode = 'zeros' is supported, got '" .. tostring(opts.padding_mode) .. "'", 2)
  end
  self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
  self.kernel_size = pair(kernel_size, "Conv2d: kernel_size")
  self.stride = pair(opts.stride or 1, "Conv2d: stride")
  self.dilation = pair(opts.dilation or 1, "Conv2d: dilation")
  if type(opts.padding) == "string" then
    if opts.padding ~= "same" and opts.padding ~= "valid" then
      error("Conv2d: padding must be a number, {h, w}, 'same' or 'valid', got '" .. opts.padding .. "'", 2)
    end
    self.padding = opts.padding
  else
    self.padding = pair(opts.padding or 0, "Conv2d: padding")
  end
  local kh, kw = self.kernel_size[1], self.kernel_size[2]
  local fan_in = (in_channels // groups) * kh * kw
  local bound = 1 / math.sqrt(fan_in)
  self:register_parameter("weight", init.uniform({out_channels, in_channels // groups, kh, kw}, -bound, bound))
  if opts.bias == false then
    self:register_parameter("bias", nil)
  else
    self:register_parameter("bias", init.uniform({out_channels}, -bound, bound))
  end
  self._opts = {stride = self.stride, padding = self.padding, dilation = self.dilation, groups = groups}
  self._opts_relu = {stride = self.stride, padding = self.padding, dilation = self.dilation,
    groups = groups, activation = "relu"}
  self._opts_relu_pool = {stride = self.stride, padding = self.padding, dilation = self.dilation,
    groups = groups, activation = "relu", max_pool = 2}
end

function M.Conv2d:forward(x)
  return F.conv2d(x, self.weight, self.bias, self._opts)
end

function M.Conv2d:extra_repr()
  local s = string.format("%d, %d, kernel_size=%s, stride=%s", self.in_channels, self.out_channels,
    pair_text(self.kernel_size), pair_text(self.stride))
  if type(self.padding) == "string" then
    s = s .. ", padding=" .. self.padding
  elseif self.padding[1] ~= 0 or self.padding[2] ~= 0 then
    s = s .. ", padding=" .. pair_text(self.padding)
  end
  if self.dilation[1] ~= 1 or self.dilation[2] ~= 1 then s = s .. ", dilation=" .. pair_text(self.dilation) end
  if self.groups ~= 1 then s = s .. ", groups=" .. self.groups end
  if self.bias == nil then s = s .. ", bias=false" end
  return s
end

-- ---- BatchNorm ------------------------------------------------------------------------

local function batch_norm_class(name, check_input)
  local BN = Module:extend(name)
  --- BatchNormXd(num_features [, {eps=1e-5, momentum=0.1, affine=true,
  -- track_running_stats=true}]); inference only (eval mode, running statistics).
  function BN:init(num_features, opts)
    opts = check_options(name, opts, {eps = true, momentum = true, affine = true,
      track_running_stats = true})
    check_positive_int(name, "num_features", num_features)
    self.num_features = num_features
    self.eps = opts.eps or 1e-5
    self.momentum = opts.momentum or 0.1
    self.affine = opts.affine ~= false
    self.track_running_stats = opts.track_running_stats ~= false
    if self.affine then
      self:register_parameter("weight", init.ones({num_features}))
      self:register_parameter("bias", init.zeros({num_features}))
    end
    if self.track_running_stats then
      self:register_buffer("running_mean", init.zeros({num_features}))
      self:register_buffer("running_var", init.ones({num_features}))
    end
  end

  function BN:forward(x)
    check_input(x)
    if self.training or not self.track_running_stats then
      error(name .. ": batch statistics (training mode, or track_running_stats = false) are " ..
            "not supported; sbengine evaluates with running statistics: call model:eval()", 2)
    end
    return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
      {eps = self.eps})
  end

  function BN:extra_repr()
    return string.format("%d, eps=%g, momentum=%g, affine=%s, track_running_stats=%s",
      self.num_features, self.eps, self.momentum, tostring(self.affine),
      tostring(self.track_running_stats))
  end
  return BN
end

local shape_text = util.shape_text

M.BatchNorm1d = batch_norm_class("BatchNorm1d", function(x)
  if x:dim() ~= 2 and x:dim() ~= 3 then
    error("BatchNorm1d: expected 2-D (N,C) or 3-D (N,C,L) input, got " .. x:dim() .. "-D " ..
          shape_text(x), 3)
  end
end)

M.BatchNorm2d = batch_norm_class("BatchNorm2d", function(x)
  if x:dim() ~= 4 then
    error("BatchNorm2d: expected 4-D input (N,C,H,W), got " .. x:dim() .. "-D " .. shape_text(x), 3)
  end
end)

-- ---- LayerNorm ------------------------------------------------------------------------

--- LayerNorm(normalized_shape [, {eps = 1e-5, elementwise_affine = true}]): normalises over
-- the last #normalized_shape dims (an integer is one dim) with the biased variance, then
-- scales by `weight` and shifts by `bias` (of shape normalized_shape), as PyTorch.
M.LayerNorm = Module:extend("LayerNorm")

function M.LayerNorm:init(normalized_shape, opts)
  opts = check_options("LayerNorm", opts, {eps = true, elementwise_affine = true})
  local shape = type(normalized_shape) == "table" and normalized_shape or {normalized_shape}
  if #shape == 0 then error("LayerNorm: normalized_shape must not be empty", 2) end
  self.normalized_shape = {}
  for i, n in ipairs(shape) do
    check_positive_int("LayerNorm", "normalized_shape", n)
    self.normalized_shape[i] = n
  end
  self.eps = opts.eps or 1e-5
  self.elementwise_affine = opts.elementwise_affine ~= false
  if self.elementwise_affine then
    self:register_parameter("weight", init.ones(self.normalized_shape))
    self:register_parameter("bias", init.zeros(self.normalized_shape))
  end
end

function M.LayerNorm:forward(x)
  local k, d = #self.normalized_shape, x:dim()
  local lead, inner = {}, 1
  for i = 1, d - k do lead[i] = x:size(i) end
  for i = 1, k do
    if d - k + i < 1 or x:size(d - k + i) ~= self.normalized_shape[i] then
      error(("LayerNorm: input of shape %s does not end with normalized_shape %s"):format(
        shape_text(x), "[" .. table.concat(self.normalized_shape, ", ") .. "]"), 2)
    end
    inner = inner * self.normalized_shape[i]
  end
  local rows = x:reshape(-1, inner)
  local centred = rows - rows:mean(2, {keepdim = true})
  local var = (centred * centred):mean(2, {keepdim = true})
  local y = (centred / (var + self.eps):sqrt()):reshape(x:size())
  if self.weight then y = y * self.weight + self.bias end
  return y
end

function M.LayerNorm:extra_repr()
  return ("(%s,), eps=%g, elementwise_affine=%s"):format(table.concat(self.normalized_shape, ", "),
    self.eps, tostring(self.elementwise_affine))
end

-- ---- MultiheadAttention ---------------------------------------------------------------

--- MultiheadAttention(embed_dim, num_heads [, {bias = true, batch_first = false, dropout = 0}]):
-- PyTorch's, for query/key/value of one width (its in_proj_weight [3E, E], in_proj_bias,
-- out_proj). m(query, key, value [, {need_weights = true, average_attn_weights = true}])
-- returns the output ([L, N, E], or [N, L, E] with batch_first) and the attention weights
-- ([N, L, S], averaged over the heads; per head [N, H, L, S]) or nil. Inference only:
-- dropout is accepted for PyTorch's signature and not applied; masks are not supported.
M.MultiheadAttention = Module:extend("MultiheadAttention")

function M.MultiheadAttention:init(embed_dim, num_heads, opts)
  opts = check_options("MultiheadAttention", opts, {bias = true, batch_first = true, dropout = true})
  check_positive_int("MultiheadAttention", "embed_dim", embed_dim)
  check_positive_int("MultiheadAttention", "num_heads", num_heads)
  if embed_dim % num_heads ~= 0 then
    error(("MultiheadAttention: embed_dim (%d) must be divisible by num_heads (%d)"):format(
      embed_dim, num_heads), 2)
  end
  self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
  self.batch_first, self.dropout = opts.batch_first == true, opts.dropout or 0
  -- PyTorch: xavier_uniform_ for in_proj_weight, zero biases; out_proj as a Linear with
  -- a zero bias.
  local bound = math.sqrt(6 / (embed_dim + 3 * embed_dim))
  self:register_parameter("in_proj_weight", init.uniform({3 * embed_dim, embed_dim}, -bound, bound))
  if opts.bias ~= false then
    self:register_parameter("in_proj_bias", init.zeros({3 * embed_dim}))
  else
    self:register_parameter("in_proj_bias", nil)
  end
  self.out_proj = M.Linear(embed_dim, embed_dim, {bias = opts.bias ~= false})
  if self.out_proj.bias then self.out_proj.bias = Module.Parameter(init.zeros({embed_dim})) end
end

-- [N, L, E] -> [N * H, L, head_dim]
local function split_heads(x, heads, head_dim)
  local n, l = x:size(1), x:size(2)
  return x:reshape(n, l, heads, head_dim):permute(1, 3, 2, 4):reshape(n * heads, l, head_dim)
end

function M.MultiheadAttention:forward(query, key, value, opts)
  opts = check_options("MultiheadAttention:forward", opts,
    {need_weights = true, average_attn_weights = true})
  key, value = key or query, value or key or query
  for _, t in ipairs {query, key, value} do
    if t:dim() ~= 3 or t:size(3) ~= self.embed_dim then
      error(("MultiheadAttention: expected 3-D inputs with embed_dim %d as the last dim, got %s")
        :format(self.embed_dim, shape_text(t)), 2)
    end
  end
  if not self.batch_first then
    query, key, value = query:transpose(1, 2), key:transpose(1, 2), value:transpose(1, 2)
  end
  local e, h, hd = self.embed_dim, self.num_heads, self.head_dim
  local w, b = self.in_proj_weight, self.in_proj_bias
  local function project(x, i)
    return F.linear(x, w:narrow(1, i * e + 1, e), b and b:narrow(1, i * e + 1, e) or nil)
  end
  local n, l, s = query:size(1), query:size(2), key:size(2)
  local q = split_heads(project(query, 0), h, hd) * (1 / math.sqrt(hd))
  local k = split_heads(project(key, 1), h, hd)
  local v = split_heads(project(value, 2), h, hd)
  local attn = F.softmax(q:bmm(k:transpose(2, 3)), 3) -- [N * H, L, S]
  local out = attn:bmm(v):reshape(n, h, l, hd):permute(1, 3, 2, 4):reshape(n, l, e)
  out = self.out_proj(out)
  if not self.batch_first then out = out:transpose(1, 2) end
  local weights = nil
  if opts.need_weights ~= false then
    weights = attn:reshape(n, h, l, s)
    if opts.average_attn_weights ~= false then weights = weights:mean(2) end
  end
  return out, weights
end

function M.MultiheadAttention:extra_repr()
  return ("embed_dim=%d, num_heads=%d, batch_first=%s"):format(self.embed_dim, self.num_heads,
    tostring(self.batch_first))
end

-- ---- activations ----------------------------------------------------------------------

local function activation(name, fn, repr)
  local A = Module:extend(name)
  function A:init(opts)
    -- `inplace` is accepted for PyTorch compatibility; outputs are always new tensors.
    self._opts = check_options(name, opts, {inplace = true, approximate = true})
    if self._opts.approximate ~= nil and name ~= "GELU" then
      error(name .. ": unknown option 'approximate'", 2)
    end
  end
  function A:forward(x) return fn(x, self._opts) end
  if repr then A.extra_repr = repr end
  return A
end

M.ReLU = activation("ReLU", function(x) return F.relu(x) end)
M.Sigmoid = activation("Sigmoid", function(x) return F.sigmoid(x) end)
M.Tanh = activation("Tanh", function(x) return F.tanh(x) end)
--- GELU([{approximate = "none" | "tanh"}])
M.GELU = activation("GELU", function(x, o) return F.gelu(x, {approximate = o.approximate or "none"}) end,
  function(self) return "approximate='" .. (self._opts.approximate or "none") .. "'" end)

-- Written over tensor ops (so they run on every backend that has those ops), with
-- PyTorch's formulas: relu6(x) = min(max(x, 0), 6); silu(x) = x * sigmoid(x);
-- hardsigmoid(x) = relu6(x + 3) / 6; hardswish(x) = x * relu6(x + 3) / 6.
M.ReLU6 = activation("ReLU6", function(x) return x:clamp(0, 6) end)
M.SiLU = activation("SiLU", function(x) return x * F.sigmoid(x) end)
M.Hardsigmoid = activation("Hardsigmoid", function(x) return (x + 3):clamp(0, 6) / 6 end)
M.Hardswish = activation("Hardswish", function(x) return x * (x + 3):clamp(0, 6) / 6 end)

local function softmax_class(name, fn)
  local S = Module:extend(name)
  --- Softmax(dim) / LogSoftmax(dim): dim is 1-based (negative counts from the end).
  function S:init(dim)
    if type(dim) == "table" then dim = dim.dim end
    if math.type(dim) ~= "integer" or dim == 0 then
      error(name .. ": dim must be a non-zero integer (1-based, or negative from the end), got " ..
            tostring(dim), 2)
    end
    self.dim = dim
  end
  function S:forward(x) return fn(x, self.dim) end
  function S:extra_repr() return "dim=" .. self.dim end
  return S
end

M.Softmax = softmax_class("Softmax", F.softmax)
M.LogSoftmax = softmax_class("LogSoftmax", F.log_softmax)

-- ---- pooling --------------------------------------------------------------------------

--- MaxPool2d(kernel_size [, {stride=kernel_size, padding=0, dilation=1, ceil_mode=false}])
M.MaxPool2d = Module:extend("MaxPool2d")

function M.MaxPool2d:init(kernel_size, opts)
  opts = check_options("MaxPool2d", opts, {stride = true, padding = true, dilation = true,
    ceil_mode = true, return_indices = true})
  if opts.return_indices then error("MaxPool2d: return_indices is not supported", 2) end
  self.kernel_size = kernel_size
  self._opts = {stride = opts.stride, padding = opts.padding, dilation = opts.dilation,
    ceil_mode = opts.ceil_mode}
end

function M.MaxPool2d:forward(x)
  return F.max_pool2d(x, self.kernel_size, self._opts)
end

local function num_or_pair(v)
  if type(v) == "table" then return pair_text(v) end
  return tostring(v)
end

function M.MaxPool2d:extra_repr()
  local o = self._opts
  return string.format("kernel_size=%s, stride=%s, padding=%s, dilation=%s, ceil_mode=%s",
    num_or_pair(self.kernel_size), num_or_pair(o.stride or self.kernel_size), num_or_pair(o.padding or 0),
    num_or_pair(o.dilation or 1), tostring(o.ceil_mode or false))
end

--- AvgPool2d(kernel_size [, {stride=kernel_size, padding=0, ceil_mode=false,
-- count_include_pad=true, divisor_override=nil}])
M.AvgPool2d = Module:extend("AvgPool2d")

function M.AvgPool2d:init(kernel_size, opts)
  opts = check_options("AvgPool2d", opts, {stride = true, padding = true, ceil_mode = true,
    count_include_pad = true, divisor_override = true})
  self.kernel_size = kernel_size
  self._opts = {stride = opts.stride, padding = opts.padding, ceil_mode = opts.ceil_mode,
    count_include_pad = opts.count_include_pad, divisor_override = opts.divisor_override}
end

function M.AvgPool2d:forward(x)
  return F.avg_pool2d(x, self.kernel_size, self._opts)
end

function M.AvgPool2d:extra_repr()
  local o = self._opts
  return string.format("kernel_size=%s, stride=%s, padding=%s", num_or_pair(self.kernel_size),
    num_or_pair(o.stride or self.kernel_size), num_or_pair(o.padding or 0))
end

--- AdaptiveAvgPool2d(output_size): a number, or {h, w} (false keeps that input size).
M.AdaptiveAvgPool2d = Module:extend("AdaptiveAvgPool2d")

function M.AdaptiveAvgPool2d:init(output_size)
  self.output_size = output_size
end

function M.AdaptiveAvgPool2d:forward(x)
  return F.adaptive_avg_pool2d(x, self.output_size)
end

function M.AdaptiveAvgPool2d:extra_repr()
  local o = self.output_size
  if type(o) == "table" then
    return "output_size=(" .. tostring(o[1] or "None") .. ", " .. tostring(o[2] or "None") .. ")"
  end
  return "output_size=" .. tostring(o)
end

-- ---- shape and identity ---------------------------------------------------------------

--- Flatten([start_dim = 2 [, end_dim = -1]]) or Flatten({start_dim=, end_dim=}); 1-based:
-- the default keeps the batch dim, like PyTorch's nn.Flatten().
M.Flatten = Module:extend("Flatten")

function M.Flatten:init(start_dim, end_dim)
  if type(start_dim) == "table" then
    local o = check_options("Flatten", start_dim, {start_dim = true, end_dim = true})
    start_dim, end_dim = o.start_dim, o.end_dim
  end
  self.start_dim = start_dim or 2
  self.end_dim = end_dim or -1
end

function M.Flatten:forward(x)
  return F.flatten(x, self.start_dim, self.end_dim)
end

function M.Flatten:extra_repr()
  return string.format("start_dim=%d, end_dim=%d", self.start_dim, self.end_dim)
end

--- Identity(...): returns its input; arguments are ignored (as PyTorch).
M.Identity = Module:extend("Identity")

function M.Identity:forward(x)
  return x
end

--- Dropout([p = 0.5 [, {inplace=}]]): the identity in eval mode; in training mode zeroes
-- each element with probability p and scales the rest by 1/(1-p).
M.Dropout = Module:extend("Dropout")

function M.Dropout:init(p, opts)
  if type(p) == "table" then p, opts = p.p, p end
  p = p or 0.5
  if type(p) ~= "number" or p < 0 or p > 1 then
    error("Dropout: p must be a probability in [0, 1], got " .. tostring(p), 2)
  end
  self.p = p
  self.inplace = opts and opts.inplace or false
end

function M.Dropout:forward(x)
  if not self.training or self.p == 0 then return x end
  if self.p == 1 then return x * 0 end
  local keep = init.rand_like(x):ge(self.p)
  return x * keep:to(x:dtype()) * (1 / (1 - self.p))
end

function M.Dropout:extra_repr()
  return string.format("p=%g, inplace=%s", self.p, tostring(self.inplace))
end

-- ---- containers -----------------------------------------------------------------------

--- Sequential(m1, m2, ...): children named "0", "1", ... (PyTorch's keys); model[i] is the
-- i-th (1-based) child, #model their number.
M.Sequential = Module:extend("Sequential")

function M.Sequential:init(...)
  local n = select("#", ...)
  for i = 1, n do
    local m = select(i, ...)
    if not Module.is_module(m) then
      error(string.format("Sequential: argument #%d must be a module, got %s", i, type(m)), 3)
    end
    self:add_module(tostring(i - 1), m)
  end
end

--- Appends a module (named by its position); returns self.
function M.Sequential:append(m)
  self:add_module(tostring(#self), m)
  return self
end

-- ---- fused inference ------------------------------------------------------------------

-- An instance of exactly `class` (not a subclass) without a forward of its own: running it
-- as part of a fused conv2d gives what calling it would.
local function plain(m, class)
  return getmetatable(m) == class._instance_mt and rawget(m, "forward") == nil
end

-- The fused activation of an activation module, or nil.
local function activation_name(m)
  if plain(m, M.ReLU) then return "relu" end
  if plain(m, M.ReLU6) then return "relu6" end
  if plain(m, M.Hardswish) then return "hardswish" end
  if plain(m, M.SiLU) then return "silu" end
end

-- A BatchNorm2d that can be folded into conv: eval mode, running statistics, conv's channels.
local function foldable_bn(bn, conv)
  return plain(bn, M.BatchNorm2d) and not bn.training and bn.track_running_stats and
    bn.num_features == conv.out_channels
end

-- The activations by name, as the modules compute them (the unfused path).
local activations = {
  relu = function(x) return F.relu(x) end,
  relu6 = function(x) return x:clamp(0, 6) end,
  hardswish = function(x) return x * (x + 3):clamp(0, 6) / 6 end,
  silu = function(x) return x * F.sigmoid(x) end,
}

-- conv2d's options for conv with bn folded, the activation and the residual; channels_last
-- when only another conv2d reads the result.
local function fused_options(conv, bn, act, residual, channels_last)
  local o = {stride = conv.stride, padding = conv.padding, dilation = conv.dilation,
    groups = conv.groups, activation = act, residual = residual, channels_last = channels_last}
  if bn then
    o.batch_norm = {running_mean = bn.running_mean, running_var = bn.running_var,
      weight = bn.weight, bias = bn.bias, eps = bn.eps}
  end
  return o
end

--- conv_bn(x, conv, bn [, {activation = nil, residual = nil, channels_last = false}]):
-- act(bn(conv(x)) + residual), PyTorch's order in ResNet's blocks; bn, activation ("relu",
-- "relu6", "hardswish", "silu") and residual may be absent. When conv is a Conv2d and bn a
-- BatchNorm2d in eval mode (exactly those classes, without a forward of their own) on a 4-D
-- input, it runs as ONE conv2d: the batch norm folded into the weights (once; again after
-- any change to them), the residual and activation fused; otherwise the modules are called
-- one after another. channels_last: see F.conv2d (for a result only a convolution reads).
function M.conv_bn(x, conv, bn, opts)
  opts = check_options("conv_bn", opts, {activation = true, residual = true,
    channels_last = true})
  local act = opts.activation
  if act ~= nil and not activations[act] then
    error("conv_bn: activation must be 'relu', 'relu6', 'hardswish' or 'silu', got '" ..
          tostring(act) .. "'", 2)
  end
  if plain(conv, M.Conv2d) and (bn == nil or foldable_bn(bn, conv)) and x:dim() == 4 then
    return F.conv2d(x, conv.weight, conv.bias,
      fused_options(conv, bn, act, opts.residual, opts.channels_last))
  end
  local y = conv(x)
  if bn ~= nil then y = bn(y) end
  if opts.residual ~= nil then y = y + opts.residual end
  if act ~= nil then y = activations[act](y) end
  return y
end

-- A Conv2d directly followed by a ReLU (both exactly those classes, not subclasses) runs
-- as one conv2d with the ReLU fused: the same numbers, one pass less over the output.
-- The conv's own output is never visible outside this loop, so nothing can tell.
local function fused_conv_relu(conv, relu)
  return plain(conv, M.Conv2d) and plain(relu, M.ReLU)
end

-- ... and a MaxPool2d(2) right after that pair (kernel 2, stride 2, no padding, no
-- dilation, floor) is fused too: each image's activations are pooled while in cache.
local function is_pool2(m)
  if not plain(m, M.MaxPool2d) then return false end
  local function is(v, want)
    if v == nil then return true end
    if type(v) == "table" then return v[1] == want and v[2] == want end
    return v == want
  end
  local o = m._opts
  return (m.kernel_size == 2 or (type(m.kernel_size) == "table" and m.kernel_size[1] == 2 and
    m.kernel_size[2] == 2)) and is(o.stride, 2) and is(o.padding, 0) and is(o.dilation, 1) and
    not o.ceil_mode
end

-- The fusable group starting at children[i]: a Conv2d, then optionally a foldable
-- BatchNorm2d, then optionally an activation; returns bn, act, the group's size (nil when
-- there is no group of at least two, or the input is not 4-D).
local function conv_group(children, i, n, x)
  local conv = children[i]
  if not plain(conv, M.Conv2d) or x:dim() ~= 4 then return nil end
  local j, bn, act = i + 1, nil, nil
  if j <= n and foldable_bn(children[j], conv) then
    bn = children[j]
    j = j + 1
  end
  if j <= n then
    act = activation_name(children[j])
    if act then j = j + 1 end
  end
  if j == i + 1 then return nil end
  return bn, act, j - i
end

-- A Sequential (or a subclass: Conv2dNormActivation) that runs Sequential's own forward:
-- its children can run as part of the enclosing sequence, with the same result.
local function plain_sequential(m)
  return getmetatable(m) ~= nil and getmetatable(m).class ~= nil and
    m.forward == M.Sequential.forward and rawget(m, "forward") == nil
end

local function flat_children(seq, out)
  for _, m in ipairs(seq:children()) do
    if plain_sequential(m) then flat_children(m, out) else out[#out + 1] = m end
  end
  return out
end

-- The loop of Sequential's forward over its children (nested plain Sequentials flattened,
-- so that fusion sees through Conv2dNormActivation); `residual` (or nil) is added to the
-- output, fused into the last convolution when the sequence ends with a Conv2d
-- [+ BatchNorm2d]. A fused group whose result goes straight into another Conv2d leaves it
-- channels-last (no reorder between the two on oneDNN); the sequence's output never is.
local function run_sequential(self, x, residual)
  local children = flat_children(self, {})
  local i, n = 1, #children
  while i <= n do
    local m = children[i]
    if i + 1 < n and fused_conv_relu(m, children[i + 1]) and is_pool2(children[i + 2]) then
      x = F.conv2d(x, m.weight, m.bias, m._opts_relu_pool)
      i = i + 3
    else
      local bn, act, size = conv_group(children, i, n, x)
      local last = size and i + size - 1 == n or (i == n and plain(m, M.Conv2d) and x:dim() == 4)
      if residual ~= nil and last and act == nil then
        x = F.conv2d(x, m.weight, m.bias, fused_options(m, bn, nil, residual))
        return x
      elseif size then
        local to_conv = i + size <= n and plain(children[i + size], M.Conv2d)
        x = F.conv2d(x, m.weight, m.bias, fused_options(m, bn, act, nil, to_conv))
        i = i + size
      else
        x = m(x)
        i = i + 1
      end
    end
  end
  if residual ~= nil then x = x + residual end
  return x
end

function M.Sequential:forward(x)
  return run_sequential(self, x, nil)
end

--- seq:forward_add(x, residual): seq(x) + residual, the add fused into the last convolution
-- when the sequence ends with a Conv2d (and a BatchNorm2d); MobileNetV2's blocks use it.
function M.Sequential:forward_add(x, residual)
  return run_sequential(self, x, residual)
end

return M
