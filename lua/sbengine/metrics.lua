--- sb.metrics: AverageMeter, accuracy and the meter registry (DESIGN §3 "Metrics";
-- reference and examples in docs/metrics.md).
--
-- A meter has reset(), add(output, target), value(), merge(other) and state(). Meters made
-- with metrics.define declare their state and how each field merges ("sum", "min", "max",
-- "cat"), which makes merge exact for sharded evaluation. The per-batch arithmetic of the
-- shipped meters is in C (engine/metrics/); this file only keeps the books.
local calls = require "sbengine._calls"
local core = require "sbengine.core"
local errors = require "sbengine._errors"
local session = require "sbengine.session"

local metrics = {}

-- ---- AverageMeter and accuracy (the seed's torchbench helpers) -------------------------

local AverageMeter = {}
AverageMeter.__index = AverageMeter
AverageMeter.__name = "AverageMeter"

--- AverageMeter(): a running average, as torchbench's: update(val, n), fields val avg sum count.
function metrics.AverageMeter()
  local m = setmetatable({}, AverageMeter)
  m:reset()
  return m
end

function AverageMeter:reset()
  self.val, self.avg, self.sum, self.count = 0, 0, 0, 0
end

function AverageMeter:update(val, n)
  n = n or 1
  if type(val) ~= "number" then
    error("AverageMeter:update: val must be a number, got " .. type(val), 2)
  end
  if type(n) ~= "number" or n < 0 then
    error("AverageMeter:update: n must be a number >= 0, got " .. tostring(n), 2)
  end
  self.val = val
  self.sum = self.sum + val * n
  self.count = self.count + n
  self.avg = self.count > 0 and self.sum / self.count or 0
end

--- Merges another AverageMeter (or its state()) into this one: sums and counts add.
function AverageMeter:merge(other)
  local s = getmetatable(other) == AverageMeter and other:state() or other
  self.sum = self.sum + s.sum
  self.count = self.count + s.count
  self.avg = self.count > 0 and self.sum / self.count or 0
  return self
end

function AverageMeter:state()
  return { sum = self.sum, count = self.count }
end

function AverageMeter:__tostring()
  return ("AverageMeter(val=%g, avg=%g, count=%g)"):format(self.val, self.avg, self.count)
end

--- accuracy(output, target, {1, 5}) -> one percentage per k, as multiple values.
-- output (N, C): column j scores class j-1; target (N) class ids. Computed in C.
function metrics.accuracy(output, target, topk)
  topk = topk or { 1 }
  if type(topk) == "number" then topk = { topk } end
  local correct, rows = calls.c(2, core.metric.topk_correct, output, target, topk)
  local out = {}
  for i = 1, #topk do
    out[i] = rows > 0 and correct[i] * 100.0 / rows or 0.0
  end
  return table.unpack(out, 1, #topk)
end

-- ---- meters with declared state ----------------------------------------------------------

local MERGE = {}

local function elementwise(op)
  return function(a, b, field)
    if type(a) == "number" then return op(a, b) end
    if #a ~= #b then
      error(("merge: state '%s' has %d entries here and %d in the other meter (different "
        .. "options?)"):format(field, #a, #b), 3)
    end
    local out = {}
    for i = 1, #a do out[i] = op(a[i], b[i]) end
    return out
  end
end

MERGE.sum = elementwise(function(a, b) return a + b end)
MERGE.min = elementwise(math.min)
MERGE.max = elementwise(math.max)
MERGE.cat = function(a, b)
  local out = table.move(a, 1, #a, 1, {})
  return table.move(b, 1, #b, #out + 1, out)
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = copy(x) end
  return out
end

--- define{name=, state={field = "sum"|"min"|"max"|"cat"}, init=, update=, compute=, setup=}
-- -> a meter class (a table with new(opts)). See docs/metrics.md "Writing a metric".
function metrics.define(spec)
  if type(spec) ~= "table" then error("define: expected a table {name=, state=, ...}", 2) end
  if type(spec.name) ~= "string" then error("define: 'name' must be a string", 2) end
  for _, f in ipairs { "init", "update", "compute" } do
    if type(spec[f]) ~= "function" then
      error(("define %s: '%s' must be a function"):format(spec.name, f), 2)
    end
  end
  if type(spec.state) ~= "table" or next(spec.state) == nil then
    error(("define %s: 'state' must map each state field to sum, min, max or cat"):format(spec.name), 2)
  end
  for field, kind in pairs(spec.state) do
    if not MERGE[kind] then
      error(("define %s: state '%s' merges by '%s'; expected sum, min, max or cat")
        :format(spec.name, field, tostring(kind)), 2)
    end
  end

  local Meter = { name = spec.name, spec = spec, _defined = true }
  Meter.__index = Meter
  Meter.__name = spec.name

  function Meter.new(opts)
    if opts ~= nil and type(opts) ~= "table" then
      error(("%s: options must be a table, got %s"):format(spec.name, type(opts)), 2)
    end
    opts = copy(opts or {})
    if spec.setup then opts = spec.setup(opts) or opts end
    local m = setmetatable({ opts = opts }, Meter)
    m:reset()
    return m
  end

  function Meter:reset()
    local s = spec.init(self.opts)
    for field in pairs(spec.state) do
      if s[field] == nil then
        error(("%s: init did not set state '%s'"):format(spec.name, field), 2)
      end
    end
    self._state = s
    return self
  end

  function Meter:add(output, target)
    spec.update(self._state, output, target, self.opts)
    return self
  end

  function Meter:value()
    return spec.compute(self._state, self.opts)
  end

  --- A deep copy of the declared state fields.
  function Meter:state()
    local out = {}
    for field in pairs(spec.state) do out[field] = copy(self._state[field]) end
    return out
  end

  --- Merges another meter of the same kind (or a state() table) into this one.
  function Meter:merge(other)
    local s
    if getmetatable(other) == Meter then
      s = other._state
    elseif type(other) == "table" and getmetatable(other) == nil then
      s = other
    else
      error(("%s:merge: expected a %s meter or its state()"):format(spec.name, spec.name), 2)
    end
    for field, kind in pairs(spec.state) do
      if s[field] == nil then error(("%s:merge: state '%s' missing"):format(spec.name, field), 2) end
      self._state[field] = MERGE[kind](self._state[field], s[field], field)
    end
    return self
  end

  function Meter:__tostring()
    local v = self:value()
    if type(v) == "number" then return ("%s(%g)"):format(spec.name, v) end
    return spec.name .. " meter"
  end

  return Meter
end

-- ---- registry and metric scripts ---------------------------------------------------------

local registry, sources = {}, {}
local loaded_files = {}
local loading_file

--- register(name, MeterClass): MeterClass is a table whose new(opts) returns a meter.
function metrics.register(name, class)
  if type(name) ~= "string" or name == "" then
    error("register: name must be a non-empty string", 2)
  end
  if type(class) ~= "table" or type(class.new) ~= "function" then
    error(("register %s: expected a table with a new(opts) function"):format(name), 2)
  end
  -- Where this registration comes from: the metric script being loaded, else the line
  -- that called register.
  local from = loading_file
  if not from then
    local info = debug.getinfo(2, "Sl")
    from = info and info.currentline > 0 and ("%s:%d"):format(info.short_src, info.currentline)
      or "Lua code"
  end
  if registry[name] and registry[name] ~= class then
    error(("register: metric '%s' is registered twice: first by %s, again by %s; rename one of "
      .. "them (benchmarks ask for metrics by name)"):format(name, sources[name], from), 2)
  end
  registry[name] = class
  sources[name] = sources[name] or from
  return class
end

local builtin_dir = (debug.getinfo(1, "S").source:match("^@(.*)%.lua$") or "") -- .../metrics

--- Loads every *.lua file of `dir` (sorted by name); each registers its meter(s).
function metrics.load_scripts(dir, required)
  local names, err = core.sys.list_files(dir, ".lua")
  if not names then
    if required then error("metrics: " .. err, 2) end
    return
  end
  for _, name in ipairs(names) do
    local path = dir .. "/" .. name
    if not loaded_files[path] then
      loaded_files[path] = true
      local chunk, lerr = loadfile(path)
      if not chunk then error("metric script " .. lerr, 0) end
      loading_file = path
      local ok, rerr = pcall(chunk)
      loading_file = nil
      if not ok then error(("metric script %s failed: %s"):format(path, tostring(rerr)), 0) end
    end
  end
end

-- The shipped folder, then the sbengine/metrics/ folders on package.path (modules
-- sbengine.metrics.NAME that rocks install), then $SBENGINE_METRICS_PATH (':'-separated),
-- then --metrics DIR.
local function load_all()
  metrics.load_scripts(builtin_dir, true)
  local util = require "sbengine._util"
  for _, dir in ipairs(util.package_dirs("sbengine/metrics")) do
    if dir ~= util.clean_path(builtin_dir) then metrics.load_scripts(dir, false) end
  end
  for dir in (os.getenv("SBENGINE_METRICS_PATH") or ""):gmatch("[^:]+") do
    metrics.load_scripts(dir, true)
  end
  for _, dir in ipairs(session.config.metric_dirs or {}) do
    metrics.load_scripts(dir, true)
  end
end

-- Errors raised while a meter runs name the metric and the script that registered it
-- (sbengine._errors).
errors.register_kind("metric", function(v)
  local class = getmetatable(v)
  if type(class) ~= "table" or rawget(class, "_defined") ~= true then return nil end
  return {
    text = function(_, failing)
      local name = getmetatable(failing).name
      local from = sources[name]
      return ("metric '%s'%s"):format(name, from and from ~= "Lua code"
        and (" (" .. from .. ")") or "")
    end,
  }
end)

--- create(name, opts) -> a new meter of a registered kind.
function metrics.create(name, opts)
  load_all()
  local class = registry[name]
  if not class then
    error(("create: unknown metric '%s' (known: %s)"):format(tostring(name),
      table.concat(metrics.list(), ", ")), 2)
  end
  return class.new(opts)
end

--- list() -> the registered names, sorted.
function metrics.list()
  load_all()
  local names = {}
  for name in pairs(registry) do names[#names + 1] = name end
  table.sort(names)
  return names
end

--- source(name) -> the metric script (or "file:line" of the code) that registered `name`,
-- or nil.
function metrics.source(name)
  load_all()
  return registry[name] and sources[name] or nil
end

--- get(name) -> the registered class, or nil.
function metrics.get(name)
  load_all()
  return registry[name]
end

return metrics
