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

-- "sum" merges through exact sums (below), not through this table.
MERGE.sum = true
MERGE.min = elementwise(math.min)
MERGE.max = elementwise(math.max)
MERGE.cat = function(a, b)
  local out = table.move(a, 1, #a, 1, {})
  return table.move(b, 1, #b, #out + 1, out)
end

-- ---- "sum" states: exact ---------------------------------------------------------------
-- Each entry of a "sum" field (the number, or each number of the list) is a running value,
-- which update and compute see, and, once a float has been added to it, the exact sum of
-- every term (sbengine._exact_sum) of which the running value is the correctly rounded
-- value. While only integers arrive the running value is the exact integer total. update sees
-- each "sum" field at 0 (a list of 0s) and adds this batch's part; add() then folds that
-- part into the exact sum. So the total is the correctly rounded sum of the batches' parts,
-- whatever their order or the ranks that added them.

local exact = require "sbengine._exact_sum"
local mtype = math.type

-- The entry with running value `v` and exact sum `p` (nil while integers only) plus the
-- term `x` -> the new running value and exact sum.
local function fold(v, p, x, name, field)
  local kind = mtype(x)
  if kind == nil then
    error(("%s: \"sum\" state '%s' must hold numbers, got %s"):format(name, field, type(x)), 0)
  end
  if p == nil then
    if kind == "integer" and mtype(v) == "integer" then return v + x, nil end
    p = exact.add_number(exact.new(), v)
  end
  exact.add_number(p, x)
  return exact.value(p), p
end

-- The same entry plus another meter's entry: its running value `x` and exact sum `q`.
local function fold_exact(v, p, x, q, name, field)
  if q == nil then return fold(v, p, x, name, field) end
  p = p or exact.add_number(exact.new(), v)
  exact.merge(p, q)
  return exact.value(p), p
end

-- Folds into entry i of the list field `field` (running values `v`, exact sums in
-- ex[field], made at the first float) another value `x` whose exact sum is `q` (or nil).
local function fold_entry(v, ex, field, i, x, q, name)
  local e, p = ex[field], nil
  v[i], p = fold_exact(v[i], e and e[i], x, q, name, field)
  if p and not e then
    e = {}
    ex[field] = e
  end
  if e then e[i] = p end
end

local ZEROS = setmetatable({}, { __mode = "v" })

local function zeros(n)
  local z = ZEROS[n]
  if not z then
    z = {}
    for i = 1, n do z[i] = 0 end
    ZEROS[n] = z
  end
  return table.move(z, 1, n, 1, {})
end

-- Scratch lists of 0s, one per list field of a meter, handed to update and zeroed again
-- where it wrote: a batch costs one pass over the list, no new list.
local function scratch_for(scratch, field, n)
  local z = scratch[field]
  if not z or #z ~= n then
    z = zeros(n)
    scratch[field] = z
  end
  return z
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

  for field in pairs(spec.state) do
    if field == "_exact" then
      error(("define %s: '_exact' is reserved (state() keeps the exact sums there)")
        :format(spec.name), 2)
    end
  end
  local sums = {}
  for field, kind in pairs(spec.state) do
    if kind == "sum" then sums[#sums + 1] = field end
  end
  table.sort(sums)
  local name = spec.name

  local Meter = { name = spec.name, spec = spec, _defined = true }
  Meter.__index = Meter
  Meter.__name = spec.name

  function Meter.new(opts)
    if opts ~= nil and type(opts) ~= "table" then
      error(("%s: options must be a table, got %s"):format(spec.name, type(opts)), 2)
    end
    opts = copy(opts or {})
    if spec.setup then opts = spec.setup(opts) or opts end
    local m = setmetatable({ opts = opts, _before = {}, _scratch = {} }, Meter)
    -- Closed when add() leaves: after an error in update the "sum" fields get their totals
    -- back (the failed batch adds nothing to them).
    m._guard = setmetatable({}, { __close = function(_, err)
      if err == nil then return end
      for _, field in ipairs(sums) do
        if m._before[field] ~= nil then m._state[field] = m._before[field] end
        m._scratch[field] = nil -- written to, maybe
      end
    end })
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
    self._exact = {} -- field -> exact sum (a number field) or {index -> exact sum} (a list)
    return self
  end

  function Meter:add(output, target)
    local s, before, scratch = self._state, self._before, self._scratch
    for _, field in ipairs(sums) do
      local v = s[field]
      before[field] = v
      s[field] = type(v) == "table" and scratch_for(scratch, field, #v) or 0
    end
    local guard <close> = self._guard
    spec.update(s, output, target, self.opts)
    local ex = self._exact
    for _, field in ipairs(sums) do
      local v, part = before[field], s[field]
      if type(v) == "table" then
        if type(part) ~= "table" or #part ~= #v then
          error(("%s: update left \"sum\" state '%s' as %s; expected a list of %d numbers")
            :format(name, field, type(part) == "table" and ("a list of " .. #part) or type(part),
              #v), 2)
        end
        for i = 1, #v do
          local x = part[i]
          if x ~= 0 then -- a part of 0 adds nothing
            fold_entry(v, ex, field, i, x, nil, name)
            part[i] = 0
          end
        end
        if part ~= scratch[field] then scratch[field] = nil end
        s[field] = v
      elseif part ~= 0 then
        s[field], ex[field] = fold(v, ex[field], part, name, field)
      else
        s[field] = v
      end
      before[field] = nil
    end
    return self
  end

  function Meter:value()
    return spec.compute(self._state, self.opts)
  end

  --- A deep copy of the declared state fields, and under `_exact` the exact sums of the
  -- "sum" fields that hold floats (what merge needs to stay exact).
  function Meter:state()
    local out = {}
    for field in pairs(spec.state) do out[field] = copy(self._state[field]) end
    if next(self._exact) then out._exact = copy(self._exact) end
    return out
  end

  --- Merges another meter of the same kind (or a state() table) into this one.
  function Meter:merge(other)
    local s, their_exact
    if getmetatable(other) == Meter then
      s, their_exact = other._state, other._exact
    elseif type(other) == "table" and getmetatable(other) == nil then
      s, their_exact = other, other._exact
    else
      error(("%s:merge: expected a %s meter or its state()"):format(spec.name, spec.name), 2)
    end
    their_exact = their_exact or {}
    local mine, ex = self._state, self._exact
    for field, kind in pairs(spec.state) do
      if s[field] == nil then error(("%s:merge: state '%s' missing"):format(spec.name, field), 2) end
      if kind ~= "sum" then
        mine[field] = MERGE[kind](mine[field], s[field], field)
      elseif type(mine[field]) == "table" then
        local v, x, q = mine[field], s[field], their_exact[field] or {}
        if type(x) ~= "table" or #x ~= #v then
          error(("merge: state '%s' has %d entries here and %s in the other meter (different "
            .. "options?)"):format(field, #v, type(x) == "table" and #x or type(x)), 2)
        end
        for i = 1, #v do fold_entry(v, ex, field, i, x[i], q[i], name) end
      else
        mine[field], ex[field] = fold_exact(mine[field], ex[field], s[field], their_exact[field],
          name, field)
      end
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
