--- sb.transforms: per-sample transforms, as torchvision.transforms.
--
-- ToTensor and Normalize (and a Compose of only those) are C transforms: the DataLoader
-- runs them in its worker threads, fused into one pass. Lambda(fn) wraps a Lua function;
-- a dataset whose transform contains one is loaded on the Lua thread (the slower path).
-- Every transform is callable on one sample: `t(x)`.
local core = require "sbengine.core"

local transforms = {}

local Transform = {}
Transform.__index = Transform

local function new(kind, fields)
  fields.kind = kind
  return setmetatable(fields, Transform)
end

local function is_transform(x) return getmetatable(x) == Transform end

local function is_callable(x)
  if type(x) == "function" then return true end
  local mt = getmetatable(x)
  return type(mt) == "table" and mt.__call ~= nil
end

--- ToTensor(): uint8 image (H,W) or (H,W,C) -> float32 (C,H,W) scaled to [0,1].
function transforms.ToTensor() return new("ToTensor", {}) end

local function number_list(what, v)
  if type(v) == "number" then return { v } end
  if type(v) ~= "table" or #v == 0 then
    error(("Normalize: %s must be a number or a non-empty list of numbers, got %s"):format(what, type(v)), 3)
  end
  local out = {}
  for i = 1, #v do
    if type(v[i]) ~= "number" then
      error(("Normalize: %s[%d] must be a number, got %s"):format(what, i, type(v[i])), 3)
    end
    out[i] = v[i]
  end
  return out
end

--- Normalize(mean, std): (x - mean[c]) / std[c] per channel of a float (C,H,W) sample.
-- mean and std are numbers or lists with one entry per channel (or one for all).
function transforms.Normalize(mean, std)
  local m, s = number_list("mean", mean), number_list("std", std)
  if #m ~= #s then
    error(("Normalize: mean has %d entries but std has %d"):format(#m, #s), 2)
  end
  for i = 1, #s do
    if s[i] == 0 then error(("Normalize: std[%d] is 0 (division by zero)"):format(i), 2) end
  end
  return new("Normalize", { mean = m, std = s })
end

--- Lambda(fn): a Lua function as a transform (runs on the Lua thread).
function transforms.Lambda(fn)
  if not is_callable(fn) then
    error(("Lambda: expected a function, got %s"):format(type(fn)), 2)
  end
  return new("Lambda", { fn = fn })
end

--- Compose{t1, t2, ...}: applies the transforms in order. Plain Lua functions are accepted
-- and treated as Lambda.
function transforms.Compose(list)
  if type(list) ~= "table" or is_transform(list) then
    error("Compose: expected a list of transforms, e.g. Compose{ToTensor(), Normalize(m, s)}", 2)
  end
  local items = {}
  for i = 1, #list do
    local t = list[i]
    if is_transform(t) then
      items[i] = t
    elseif is_callable(t) then
      items[i] = transforms.Lambda(t)
    else
      error(("Compose: item %d is a %s, expected a transform or a function"):format(i, type(t)), 2)
    end
  end
  return new("Compose", { transforms = items })
end

-- The C steps of `t` as a flat list, or nil when any part is a Lua function.
local function c_steps(t, out)
  out = out or {}
  if t.kind == "ToTensor" then
    out[#out + 1] = { "to_tensor" }
  elseif t.kind == "Normalize" then
    out[#out + 1] = { "normalize", t.mean, t.std }
  elseif t.kind == "Compose" then
    for _, item in ipairs(t.transforms) do
      if not c_steps(item, out) then return nil end
    end
  else
    return nil
  end
  return out
end

--- transforms.is_c(t): true when `t` runs entirely in C (worker threads).
function transforms.is_c(t)
  return is_transform(t) and c_steps(t) ~= nil
end

--- transforms.compile(t): the C transform object (core) for a C-only transform, else nil.
function transforms.compile(t)
  if not is_transform(t) then return nil end
  if t._compiled == nil then
    local steps = c_steps(t)
    t._compiled = steps and core.data.transform(steps) or false
  end
  return t._compiled or nil
end

function Transform:__call(x)
  local compiled = transforms.compile(self)
  if compiled then return compiled:apply(x) end
  if self.kind == "Lambda" then return self.fn(x) end
  -- A Compose with Lua parts: run maximal C runs fused, Lua parts as they come.
  for _, item in ipairs(self.transforms) do x = item(x) end
  return x
end

local function fmt_list(l)
  local parts = {}
  for i, v in ipairs(l) do parts[i] = string.format("%g", v) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

function Transform:__tostring()
  if self.kind == "Normalize" then
    return ("Normalize(mean=%s, std=%s)"):format(fmt_list(self.mean), fmt_list(self.std))
  elseif self.kind == "Compose" then
    local parts = {}
    for i, item in ipairs(self.transforms) do parts[i] = tostring(item) end
    return "Compose(" .. table.concat(parts, ", ") .. ")"
  end
  return self.kind .. "()"
end

transforms.is_transform = is_transform

return transforms
