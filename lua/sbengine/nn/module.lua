--- sb.nn.Module: the base of every layer, and of user-defined blocks.
--
--   local Block = sb.nn.Module:extend("Block")
--   function Block:init(c) self.conv = sb.nn.Conv2d(c, c, 3, {padding = 1}) end
--   function Block:forward(x) return sb.nn.functional.relu(self.conv(x) + x) end
--
-- As in PyTorch, an instance keeps its children, parameters and buffers in ordered
-- registries (not in the instance table itself), so assigning a module or a registered
-- tensor to a field updates the registry and the state_dict keys follow field names in
-- assignment order ("conv.weight").
local errors = require "sbengine._errors"
local util = require "sbengine._util"

local Module = {}

local function is_module(v)
  return type(v) == "table" and rawget(v, "_modules") ~= nil
end

local function is_tensor(v)
  return type(v) == "userdata" and getmetatable(v) ~= nil and getmetatable(v).__name == "sbengine.Tensor"
end

-- Tensors marked with sb.nn.Parameter(t): assigning one to a field registers it as a
-- parameter. Weak keys: the mark never keeps a tensor alive.
local parameter_marks = setmetatable({}, {__mode = "k"})

--- Marks `t` as a parameter (returns `t`); see Module:register_parameter.
function Module.Parameter(t)
  assert(is_tensor(t), "Parameter: expected a tensor")
  parameter_marks[t] = true
  return t
end

-- An ordered registry: names in insertion order, values by name (a value may be nil, as
-- PyTorch's `bias = None`, and is then skipped by the iterators).
local function registry()
  return {names = {}, values = {}, has = {}}
end

local function reg_set(r, name, value)
  if not r.has[name] then
    r.has[name] = true
    r.names[#r.names + 1] = name
  end
  r.values[name] = value
end

local function reg_remove(r, name)
  if not r.has[name] then return end
  r.has[name] = nil
  r.values[name] = nil
  for i, n in ipairs(r.names) do
    if n == name then
      table.remove(r.names, i)
      break
    end
  end
end

local function instance_index(self, key)
  local children = rawget(self, "_modules")
  if children.has[key] then return children.values[key] end
  local params = rawget(self, "_parameters")
  if params.has[key] then return params.values[key] end
  local buffers = rawget(self, "_buffers")
  if buffers.has[key] then return buffers.values[key] end
  if type(key) == "number" then -- model[i]: the i-th child (1-based), for Sequential
    local name = children.names[key]
    return name and children.values[name]
  end
  return getmetatable(self).class[key]
end

local function instance_newindex(self, key, value)
  local children = rawget(self, "_modules")
  local params = rawget(self, "_parameters")
  local buffers = rawget(self, "_buffers")
  if is_module(value) then
    reg_remove(params, key)
    reg_remove(buffers, key)
    rawset(self, key, nil)
    reg_set(children, key, value)
  elseif params.has[key] and (value == nil or is_tensor(value)) then
    reg_set(params, key, value)
  elseif buffers.has[key] and (value == nil or is_tensor(value)) then
    reg_set(buffers, key, value)
  elseif is_tensor(value) and parameter_marks[value] then
    reg_remove(children, key)
    reg_set(params, key, value)
  else
    reg_remove(children, key)
    reg_remove(params, key)
    reg_remove(buffers, key)
    rawset(self, key, value)
  end
end

local function instance_call(self, ...)
  return self:forward(...)
end

local function instance_len(self)
  return #rawget(self, "_modules").names
end

local function instance_tostring(self)
  return self:__repr()
end

-- Creates an instance of `class` and runs its init.
local function construct(class, ...)
  local self = {
    _modules = registry(),
    _parameters = registry(),
    _buffers = registry(),
    training = true,
    -- the user's line that built it, for errors raised while it runs (sbengine._errors)
    _built_at = errors.built_at(2),
  }
  setmetatable(self, class._instance_mt)
  self:init(...)
  return self
end

local function make_class(name, parent)
  local class = {__name = name, super = parent}
  class._instance_mt = {
    class = class,
    __name = name,
    __index = instance_index,
    __newindex = instance_newindex,
    __call = instance_call,
    __len = instance_len,
    __tostring = instance_tostring,
  }
  return setmetatable(class, {
    __index = parent,
    __call = construct,
    __tostring = function() return "sb.nn." .. name .. " (class)" end,
  })
end

--- A subclass: `local Block = sb.nn.Module:extend("Block")`; `Block(...)` builds one
-- (calling `Block:init(...)`), `Block.super` is the parent class.
function Module:extend(name)
  if type(name) ~= "string" then
    error("Module:extend: expected a class name (string), got " .. type(name), 2)
  end
  return make_class(name, self)
end

Module.__name = "Module"
Module._instance_mt = {class = Module, __name = "Module", __index = instance_index,
  __newindex = instance_newindex, __call = instance_call, __len = instance_len,
  __tostring = instance_tostring}
setmetatable(Module, {__call = construct, __tostring = function() return "sb.nn.Module (class)" end})

-- Errors raised while a model runs name the module that failed (sbengine._errors):
-- `(layer 2) Linear` for a Sequential's child, else the dotted path `features.3.conv (Conv2d)`.
local function path_in(top, m)
  for _, e in ipairs(Module._collect_modules(top)) do
    if rawequal(e[2], m) and e[1] ~= "" then return e[1] end
  end
  return nil
end

errors.register_kind("module", function(v)
  if not is_module(v) then return nil end
  return {
    text = function(top, failing)
      local class = getmetatable(failing).__name or "Module"
      local name = not rawequal(top, failing) and path_in(top, failing)
      if not name then return class end
      if getmetatable(top).__name == "Sequential" and name:match("^%d+$") then
        return ("(layer %d) %s"):format(tonumber(name) + 1, class)
      end
      return ("%s (%s)"):format(name, class)
    end,
    built_at = function(m) return rawget(m, "_built_at") end,
    -- A Sequential runs a fused Conv2d + ReLU (+ MaxPool2d) itself: its local holding the
    -- child it was on names the part.
    inner = function(m, locals)
      if getmetatable(m).__name ~= "Sequential" then return nil end
      local children, found = rawget(m, "_modules").values, nil
      for _, v in ipairs(locals) do
        for _, c in pairs(children) do
          if rawequal(v, c) then found = v end
        end
      end
      return found
    end,
  }
end)

function Module:init() end

function Module:forward()
  error(self.__name .. ":forward is not implemented (define function " .. self.__name ..
        ":forward(x) in the class)", 2)
end

function Module:class_name()
  return getmetatable(self).__name
end

--- Registers `t` (a tensor or nil) as parameter `name`: in named_parameters and state_dict.
function Module:register_parameter(name, t)
  assert(t == nil or is_tensor(t), "register_parameter: expected a tensor or nil")
  reg_remove(rawget(self, "_modules"), name)
  reg_remove(rawget(self, "_buffers"), name)
  rawset(self, name, nil)
  reg_set(rawget(self, "_parameters"), name, t)
end

--- Registers `t` as buffer `name`: in state_dict, moved by :to(), not a parameter
-- (BatchNorm's running_mean).
function Module:register_buffer(name, t)
  assert(t == nil or is_tensor(t), "register_buffer: expected a tensor or nil")
  reg_remove(rawget(self, "_modules"), name)
  reg_remove(rawget(self, "_parameters"), name)
  rawset(self, name, nil)
  reg_set(rawget(self, "_buffers"), name, t)
end

--- Registers `m` as child `name` (what assigning a field does).
function Module:add_module(name, m)
  assert(is_module(m), "add_module: expected a module")
  instance_newindex(self, tostring(name), m)
end

-- Ordered (name, value) pairs of one registry, skipping nil values.
local function entries(r)
  local out = {}
  for _, n in ipairs(r.names) do
    local v = r.values[n]
    if v ~= nil then out[#out + 1] = {n, v} end
  end
  return out
end

local function list_iter(list)
  local i = 0
  return function()
    i = i + 1
    local e = list[i]
    if e then return e[1], e[2] end
  end
end

--- for name, child in m:named_children() do ... end
function Module:named_children()
  return list_iter(entries(rawget(self, "_modules")))
end

function Module:children()
  local out = {}
  for _, m in self:named_children() do out[#out + 1] = m end
  return out
end

-- Depth-first (prefix, module) list: self first.
local function collect_modules(m, prefix, out)
  out[#out + 1] = {prefix, m}
  for name, child in m:named_children() do
    collect_modules(child, prefix == "" and name or (prefix .. "." .. name), out)
  end
  return out
end

Module._collect_modules = function(m) return collect_modules(m, "", {}) end

--- for name, m in model:named_modules() do ... end ("" is the model itself)
function Module:named_modules()
  return list_iter(collect_modules(self, "", {}))
end

function Module:modules()
  local out = {}
  for _, m in self:named_modules() do out[#out + 1] = m end
  return out
end

local function named_tensors(self, which)
  local out = {}
  for _, e in ipairs(collect_modules(self, "", {})) do
    local prefix, m = e[1], e[2]
    for _, kv in ipairs(entries(rawget(m, which))) do
      out[#out + 1] = {prefix == "" and kv[1] or (prefix .. "." .. kv[1]), kv[2]}
    end
  end
  return out
end

--- for name, p in model:named_parameters() do ... end, in registration order with
-- PyTorch's dotted names ("features.0.weight").
function Module:named_parameters()
  return list_iter(named_tensors(self, "_parameters"))
end

--- An array of the parameter tensors, in named_parameters order.
function Module:parameters()
  local out = {}
  for _, p in self:named_parameters() do out[#out + 1] = p end
  return out
end

function Module:named_buffers()
  return list_iter(named_tensors(self, "_buffers"))
end

function Module:buffers()
  local out = {}
  for _, b in self:named_buffers() do out[#out + 1] = b end
  return out
end

--- {name = tensor} of every parameter and buffer (the tensors themselves, not copies).
function Module:state_dict()
  local sd = {}
  for _, e in ipairs(named_tensors(self, "_parameters")) do sd[e[1]] = e[2] end
  for _, e in ipairs(named_tensors(self, "_buffers")) do sd[e[1]] = e[2] end
  return sd
end

--- Calls fn(m) on every module, children first (as PyTorch's apply); returns self.
function Module:apply(fn)
  for _, child in self:named_children() do child:apply(fn) end
  fn(self)
  return self
end

--- Moves (or converts) every parameter and buffer in place with tensor:to(what)
-- ("cuda", "cpu", "cuda:1", "float64", ...); returns self.
function Module:to(what)
  for _, m in ipairs(self:modules()) do
    for _, which in ipairs({"_parameters", "_buffers"}) do
      local r = rawget(m, which)
      for _, name in ipairs(r.names) do
        local t = r.values[name]
        if t ~= nil then r.values[name] = t:to(what) end
      end
    end
  end
  return self
end

function Module:cuda() return self:to("cuda") end
function Module:cpu() return self:to("cpu") end
function Module:float() return self:to("float32") end
function Module:double() return self:to("float64") end

--- Training mode on (default) or off, recursively; returns self.
function Module:train(mode)
  if mode == nil then mode = true end
  for _, m in ipairs(self:modules()) do rawset(m, "training", mode and true or false) end
  return self
end

--- Evaluation mode: Dropout becomes the identity, BatchNorm uses running statistics.
function Module:eval()
  return self:train(false)
end

local shape_of, shape_text = util.shape_of, util.shape_text

local function same_shape(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

local function is_ignored_key(key)
  return key == "num_batches_tracked" or key:sub(-20) == ".num_batches_tracked"
end

-- The (up to 3) names of `candidates` nearest to `key`, as "a, b, c".
local function nearest_names(key, candidates)
  local scored = {}
  for _, c in ipairs(candidates) do scored[#scored + 1] = {c, util.distance(key, c)} end
  table.sort(scored, function(x, y) return x[2] < y[2] or (x[2] == y[2] and x[1] < y[1]) end)
  local out = {}
  for i = 1, math.min(3, #scored) do out[i] = scored[i][1] end
  return table.concat(out, ", ")
end

-- Reads a weights file: safetensors or a PyTorch checkpoint (by its first bytes).
local function load_file(path, file_opts)
  local sbio = require("sbengine.io")
  if sbio.weights_format(path) == "pytorch" then return sbio.load_pytorch(path, file_opts) end
  if file_opts.key ~= nil then
    error("load_state_dict: key applies to PyTorch checkpoints, and " .. path ..
          " is not one", 0)
  end
  local sd = sbio.load_safetensors(path)
  local prefix = file_opts.strip_prefix
  if prefix == nil then return sd end
  local out = {}
  for k, v in pairs(sd) do
    if k:sub(1, #prefix) == prefix then k = k:sub(#prefix + 1) end
    out[k] = v
  end
  return out
end

--- Copies tensors from `source` ({name = tensor}, or the path of a safetensors file or a
-- PyTorch checkpoint) into the parameters and buffers with the same names. strict (default
-- true): every missing key, unexpected key and shape mismatch is reported in ONE error, and
-- nothing is loaded. Non-strict: missing and unexpected keys are returned, shape mismatches
-- still fail. BatchNorm's "num_batches_tracked" entries are accepted and ignored. With a
-- path, `key` and `strip_prefix` are passed to sb.io.load_pytorch.
-- Returns {missing_keys = {...}, unexpected_keys = {...}}.
function Module:load_state_dict(source, opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error("load_state_dict: options must be a table, got " .. type(opts), 2)
  end
  for k in pairs(opts) do
    if k ~= "strict" and k ~= "key" and k ~= "strip_prefix" then
      error("load_state_dict: unknown option '" .. tostring(k) .. "' (known: key, strict, strip_prefix)", 2)
    end
  end
  local strict = opts.strict
  if strict == nil then strict = true end
  if type(strict) ~= "boolean" then
    error("load_state_dict: strict must be a boolean, got " .. type(strict), 2)
  end
  local what, from_file = "", false
  if type(source) == "string" then
    what, from_file = " from " .. source, true
    local ok, loaded = pcall(load_file, source, {key = opts.key, strip_prefix = opts.strip_prefix})
    if not ok then error(loaded, 2) end
    source = loaded
  elseif type(source) ~= "table" then
    error("load_state_dict: expected a table {name = tensor} or the path of a safetensors file " ..
          "or PyTorch checkpoint, got " .. type(source), 2)
  elseif opts.key ~= nil or opts.strip_prefix ~= nil then
    error("load_state_dict: key and strip_prefix apply to a file path, not to a table", 2)
  end
  local targets = {}
  local order = {}
  for _, which in ipairs({"_parameters", "_buffers"}) do
    for _, e in ipairs(collect_modules(self, "", {})) do
      local prefix, m = e[1], e[2]
      local r = rawget(m, which)
      for _, name in ipairs(r.names) do
        if r.values[name] ~= nil then
          local key = prefix == "" and name or (prefix .. "." .. name)
          targets[key] = {registry = r, name = name}
          order[#order + 1] = key
        end
      end
    end
  end
  table.sort(order)
  local missing, unexpected, mismatched = {}, {}, {}
  for _, key in ipairs(order) do
    local src = source[key]
    if src == nil then
      missing[#missing + 1] = key
    else
      if not is_tensor(src) then
        error("load_state_dict: value for '" .. key .. "' must be a tensor, got " .. type(src), 2)
      end
      local t = targets[key]
      local expected, got = shape_of(t.registry.values[t.name]), shape_of(src)
      if not same_shape(expected, got) then
        mismatched[#mismatched + 1] = string.format("shape mismatch for %s: expected %s, got %s",
          key, shape_text(expected), shape_text(got))
      end
    end
  end
  local keys = {}
  for key in pairs(source) do
    if type(key) ~= "string" then
      error("load_state_dict: keys must be strings, got a " .. type(key), 2)
    end
    keys[#keys + 1] = key
  end
  table.sort(keys)
  for _, key in ipairs(keys) do
    if not targets[key] and not is_ignored_key(key) then unexpected[#unexpected + 1] = key end
  end
  local problems = {}
  for _, key in ipairs(strict and missing or {}) do problems[#problems + 1] = "missing key: " .. key end
  for i, key in ipairs(strict and unexpected or {}) do
    -- The nearest names say what was meant ("fc.weigth" -> fc.weight); the search is
    -- quadratic, so only the first few unexpected keys get one.
    local near = i <= 10 and #order > 0 and (" (nearest: " .. nearest_names(key, order) .. ")") or ""
    problems[#problems + 1] = "unexpected key: " .. key .. near
  end
  for _, msg in ipairs(mismatched) do problems[#problems + 1] = msg end
  if #problems > 0 then
    -- Say what to do: the usual cause is weights saved from another architecture.
    local hint = "\nThese weights were saved from a model with other layers or shapes: build the "
      .. "same architecture (its state_dict keys and shapes must match)"
      .. (strict and ", or pass {strict = false} to load only the keys both have" or "")
    local prefixed = #unexpected > 0
    for _, key in ipairs(unexpected) do
      if key:sub(1, 7) ~= "module." then prefixed = false break end
    end
    if prefixed then
      hint = "\nEvery unexpected key starts with 'module.' (a model saved inside DataParallel): " ..
        "pass {strip_prefix = 'module.'}"
    end
    error(string.format("load_state_dict: %d problem%s loading %s%s (nothing was loaded):\n  %s%s",
      #problems, #problems == 1 and "" or "s", self:class_name(), what,
      table.concat(problems, "\n  "), hint), 2)
  end
  for _, key in ipairs(order) do
    local src = source[key]
    if src ~= nil then
      local t = targets[key]
      local dst = t.registry.values[t.name]
      -- Tensors read from a file belong to nobody else: a contiguous one of the right dtype
      -- and device becomes the parameter itself (a view of the mapped file, copy-on-write)
      -- instead of being copied, so a checkpoint costs its size once, not twice.
      if from_file and src:is_contiguous() and src:dtype() == dst:dtype() and
         src:device() == dst:device() then
        t.registry.values[t.name] = src
      else
        dst:copy(src)
      end
    end
  end
  return {missing_keys = missing, unexpected_keys = unexpected}
end

--- Text after the class name in tostring (PyTorch's extra_repr).
function Module:extra_repr()
  return ""
end

function Module:__repr()
  local name = self:class_name()
  local lines = {}
  for child_name, child in self:named_children() do
    local text = tostring(child):gsub("\n", "\n  ")
    lines[#lines + 1] = "  (" .. child_name .. "): " .. text
  end
  local extra = self:extra_repr()
  if #lines == 0 then return name .. "(" .. extra .. ")" end
  local head = name .. "(" .. (extra ~= "" and (extra .. "\n") or "\n")
  return head .. table.concat(lines, "\n") .. "\n)"
end

Module.is_module = is_module

return Module
