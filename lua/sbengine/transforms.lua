--- sb.transforms: per-sample transforms, as torchvision.transforms.
--
-- ToTensor, Normalize and the image transforms (Resize, CenterCrop, Pad, Grayscale,
-- FiveCrop, TenCrop), and a Compose of only those, are C transforms: the DataLoader runs them
-- in its worker threads (ToTensor + Normalize fused into one pass). Lambda(fn) wraps a Lua function;
-- a dataset whose transform contains one is loaded on the Lua thread (the slower path).
-- Every transform is callable on one sample: `t(x)`.
local core = require "sbengine.core"
local errors = require "sbengine._errors"

local transforms = {}

local Transform = {}
Transform.__index = Transform

local function new(kind, fields)
  fields.kind = kind
  fields._built_at = errors.built_at(2) -- for errors raised while it runs (sbengine._errors)
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

-- A size as torchvision takes it: n, {n} or {h, w} -> h, w (w = -1 for "shorter side = n"
-- when `shorter` is true, else w = h).
local function size_arg(fn, size, shorter)
  local function int(v, what)
    if math.type(v) ~= "integer" or v < 1 then
      error(("%s: %s must be a positive integer, got %s"):format(fn, what, tostring(v)), 4)
    end
    return v
  end
  if type(size) == "number" then return int(size, "size"), shorter and -1 or size end
  if type(size) == "table" and (#size == 1 or #size == 2) then
    local h = int(size[1], "size[1]")
    if #size == 1 then return h, shorter and -1 or h end
    return h, int(size[2], "size[2]")
  end
  error(("%s: size must be an integer or a list {h, w} (or {n}), got %s"):format(fn, type(size)), 3)
end

local function options(fn, opts, known)
  if opts == nil then return {} end
  if type(opts) ~= "table" then error(("%s: options must be a table, got %s"):format(fn, type(opts)), 3) end
  for k in pairs(opts) do
    if not known[k] then error(("%s: unknown option '%s'"):format(fn, tostring(k)), 3) end
  end
  return opts
end

local interpolations = { nearest = true, bilinear = true, bicubic = true, lanczos = true }

--- Resize(size[, {interpolation = "bilinear", max_size}]): torchvision's Resize on a uint8
-- image (H,W,C): an integer resizes the shorter side (the aspect ratio kept), {h, w} gives
-- the size. Pillow's antialiased resampling, byte for byte.
function transforms.Resize(size, opts)
  local h, w = size_arg("Resize", size, true)
  opts = options("Resize", opts, { interpolation = true, max_size = true })
  local interp = opts.interpolation or "bilinear"
  if not interpolations[interp] then
    error(("Resize: interpolation must be nearest, bilinear, bicubic or lanczos, got %s"):format(tostring(interp)), 2)
  end
  local max_size = opts.max_size or 0
  if math.type(max_size) ~= "integer" then error("Resize: max_size must be an integer", 2) end
  if opts.max_size and w ~= -1 then
    error("Resize: max_size should only be passed if size specifies the length of the smaller edge, i.e. size should be an int", 2)
  end
  if opts.max_size and max_size <= h then
    error(("Resize: max_size = %d must be strictly greater than the requested size for the smaller edge size = %d"):format(max_size, h), 2)
  end
  return new("Resize", { size = size, h = h, w = w, interpolation = interp, max_size = max_size })
end

--- CenterCrop(size): the central h x w window (zero padding when the image is smaller).
function transforms.CenterCrop(size)
  local h, w = size_arg("CenterCrop", size)
  return new("CenterCrop", { h = h, w = w })
end

--- FiveCrop(size): the four corners and the centre, as a stack (5,h,w,C).
function transforms.FiveCrop(size)
  local h, w = size_arg("FiveCrop", size)
  return new("FiveCrop", { h = h, w = w })
end

--- TenCrop(size[, {vertical_flip = false}]): FiveCrop of the image and of its mirror, (10,h,w,C).
function transforms.TenCrop(size, opts)
  local h, w = size_arg("TenCrop", size)
  opts = options("TenCrop", opts, { vertical_flip = true })
  return new("TenCrop", { h = h, w = w, vertical_flip = opts.vertical_flip == true })
end

--- Grayscale([num_output_channels = 1]): PIL's convert("L"), on 1 or 3 channels.
function transforms.Grayscale(n)
  if type(n) == "table" then n = n.num_output_channels end
  n = n or 1
  if n ~= 1 and n ~= 3 then error(("Grayscale: num_output_channels should be either 1 or 3, got %s"):format(tostring(n)), 2) end
  return new("Grayscale", { channels = n })
end

local pad_modes = { constant = true, edge = true, reflect = true, symmetric = true }

--- Pad(padding[, {fill = 0, padding_mode = "constant"}]): padding is n, {lr, tb} or
-- {left, top, right, bottom}; negative values crop. fill: a number or {r, g, b} (0..255).
function transforms.Pad(padding, opts)
  local p
  if math.type(padding) == "integer" then
    p = { padding, padding, padding, padding }
  elseif type(padding) == "table" and (#padding == 1 or #padding == 2 or #padding == 4) then
    for i = 1, #padding do
      if math.type(padding[i]) ~= "integer" then error(("Pad: padding[%d] must be an integer"):format(i), 2) end
    end
    if #padding == 1 then p = { padding[1], padding[1], padding[1], padding[1] }
    elseif #padding == 2 then p = { padding[1], padding[2], padding[1], padding[2] }
    else p = { padding[1], padding[2], padding[3], padding[4] } end
  else
    error("Pad: padding must be an integer or a list of 1, 2 or 4 integers", 2)
  end
  opts = options("Pad", opts, { fill = true, padding_mode = true })
  local mode = opts.padding_mode or "constant"
  if not pad_modes[mode] then
    error(("Pad: padding_mode should be either constant, edge, reflect or symmetric, got %s"):format(tostring(mode)), 2)
  end
  local fill = opts.fill or 0
  if type(fill) == "number" then fill = { fill, fill, fill } end
  if type(fill) ~= "table" or #fill ~= 3 then error("Pad: fill must be a number or {r, g, b}", 2) end
  for i = 1, 3 do
    if math.type(fill[i]) ~= "integer" or fill[i] < 0 or fill[i] > 255 then
      error(("Pad: fill[%d] must be an integer in 0..255, got %s"):format(i, tostring(fill[i])), 2)
    end
  end
  return new("Pad", { padding = p, fill = fill, padding_mode = mode })
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
  elseif t.kind == "Resize" then
    out[#out + 1] = { "resize", t.h, t.w, t.interpolation, t.max_size }
  elseif t.kind == "CenterCrop" then
    out[#out + 1] = { "center_crop", t.h, t.w }
  elseif t.kind == "FiveCrop" then
    out[#out + 1] = { "five_crop", t.h, t.w }
  elseif t.kind == "TenCrop" then
    out[#out + 1] = { "ten_crop", t.h, t.w, t.vertical_flip }
  elseif t.kind == "Grayscale" then
    out[#out + 1] = { "grayscale", t.channels }
  elseif t.kind == "Pad" then
    local p, f = t.padding, t.fill
    out[#out + 1] = { "pad", p[1], p[2], p[3], p[4], t.padding_mode, f[1], f[2], f[3] }
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
  -- No tail calls: this frame must stay on the stack for an error to name the transform.
  local compiled = transforms.compile(self)
  local y
  if compiled then
    y = compiled:apply(x)
    return y
  end
  if self.kind == "Lambda" then
    y = self.fn(x)
    return y
  end
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
  elseif self.kind == "Resize" then
    local size = self.w == -1 and tostring(self.h) or ("(%d, %d)"):format(self.h, self.w)
    return ("Resize(size=%s, interpolation=%s%s)"):format(size, self.interpolation,
      self.max_size > 0 and (", max_size=%d"):format(self.max_size) or "")
  elseif self.kind == "CenterCrop" or self.kind == "FiveCrop" or self.kind == "TenCrop" then
    return ("%s(size=(%d, %d))"):format(self.kind, self.h, self.w)
  elseif self.kind == "Compose" then
    local parts = {}
    for i, item in ipairs(self.transforms) do parts[i] = tostring(item) end
    return "Compose(" .. table.concat(parts, ", ") .. ")"
  end
  return self.kind .. "()"
end

transforms.is_transform = is_transform

-- Errors raised while a transform runs name it: `(step 2 of the Compose) Lambda()`.
errors.register_kind("transform", function(v)
  if not is_transform(v) then return nil end
  return {
    text = function(top, failing)
      if not rawequal(top, failing) and top.kind == "Compose" then
        for i, item in ipairs(top.transforms) do
          if rawequal(item, failing) then
            return ("(step %d of the Compose) %s"):format(i, tostring(failing))
          end
        end
      end
      return "transform " .. tostring(failing)
    end,
    built_at = function(t) return rawget(t, "_built_at") end,
  }
end)

return transforms
