--- `sbengine results [STORE] [--diff A B] [--json]`: the results of a store file as a table
-- for people, compared two at a time, or as JSON for machines (docs/results.md, "Looking at
-- stored results"). Internal: engine/main.c calls main(args) and exits with what it returns
-- (0 ok, 2 usage error or unusable store file).
local cjson = require "cjson"
local core = require "sbengine.core"
local store = require "sbengine._store"
local util = require "sbengine._util"

local M = {}

M.USAGE = [[
usage: sbengine results [STORE] [--json]
       sbengine results [STORE] --diff A B [--json]

Lists the results stored in STORE (default: $SOTABENCH_STORE_FILENAME, else
sotabench_results.json), one row per result in the order the file holds them: its number,
the model, the dataset, the headline metrics, the speed (tasks per second), the device and
when it was made (UTC).

Options:
  --diff A B   compare results A and B metric by metric: numbers as listed (1 is the
               first; -1 the last, -2 the one before it), then the speed and every setting
               of the config and environment that differs
  --json       the same as JSON, for machines
  -h, --help   this help
]]

local NULL = cjson.null

local function value_of(v)
  if v == NULL then return nil end
  return v
end

local function field(d, key)
  local v = value_of(d[key])
  return type(v) == "table" and v or {}
end

local function fail(msg)
  io.stderr:write("sbengine results: " .. msg .. "\n")
  return 2
end

-- A number for a column: 4 significant digits, whole numbers from 10^4 up.
local function num(x)
  if math.type(x) == "integer" then return tostring(x) end
  if x ~= x or x == math.huge or x == -math.huge then return tostring(x) end
  if math.abs(x) >= 1e4 then return ("%.0f"):format(x) end
  return ("%.4g"):format(x)
end

-- A value of the config or environment as text.
local function text(v)
  v = value_of(v)
  if v == nil then return "-" end
  if type(v) == "number" then return num(v) end
  if type(v) == "table" then return core.result.encode_json(v) end
  return tostring(v)
end

local function when(d)
  local t = value_of(field(d, "environment").created_at)
  if type(t) ~= "string" then return "-" end
  local day, time = t:match("^(%d+%-%d+%-%d+)T(%d+:%d+)")
  return day and (day .. " " .. time) or t
end

local function speed(d)
  local v = value_of(field(d, "speed_mem_metrics")["Tasks / Evaluation Time"])
  return type(v) == "number" and v or nil
end

local HEADLINE = 3 -- metrics shown in the table; --diff and --json show all

local function headline(d)
  local r = field(d, "results")
  local names = util.sorted_keys(r)
  local parts = {}
  for i = 1, math.min(#names, HEADLINE) do
    local v = value_of(r[names[i]])
    parts[i] = ("%s %s"):format(names[i], type(v) == "number" and num(v) or "-")
  end
  if #names > HEADLINE then parts[#parts + 1] = ("(+%d more)"):format(#names - HEADLINE) end
  return #parts > 0 and table.concat(parts, ", ") or "-"
end

local function cut(s, n)
  if #s <= n then return s end
  return s:sub(1, n - 3) .. "..."
end

-- Rows of cells -> text with columns padded to the widest cell (the last is not padded).
local function columns(rows)
  local widths = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do widths[i] = math.max(widths[i] or 0, #cell) end
  end
  local lines = {}
  for _, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do
      cells[i] = i < #row and cell .. (" "):rep(widths[i] - #cell) or cell
    end
    lines[#lines + 1] = (table.concat(cells, "  "):gsub("%s+$", ""))
  end
  return table.concat(lines, "\n") .. "\n"
end

local function summary(i, d)
  local env = field(d, "environment")
  return {
    index = i,
    model = value_of(d.model) or NULL,
    dataset = value_of(d.dataset_name) or NULL,
    task = value_of(d.task) or NULL,
    results = field(d, "results"),
    speed_mem_metrics = field(d, "speed_mem_metrics"),
    device = value_of(env.device) or NULL,
    created_at = value_of(env.created_at) or NULL,
    run_hash = value_of(d.run_hash) or NULL,
    idempotency_key = value_of(d.idempotency_key) or NULL,
  }
end

local function list(path, dicts, json)
  if json then
    local rows = {}
    for i, d in ipairs(dicts) do rows[i] = summary(i, d) end
    io.stdout:write(core.result.encode_json(rows, true), "\n")
    return 0
  end
  if #dicts == 0 then
    io.stdout:write(("%s holds no results\n"):format(path))
    return 0
  end
  local rows = { { "#", "model", "dataset", "results", "speed", "device", "when (UTC)" } }
  for i, d in ipairs(dicts) do
    local s = speed(d)
    rows[#rows + 1] = { tostring(i), cut(text(d.model), 40), cut(text(d.dataset_name), 24),
      headline(d), s and (num(s) .. "/s") or "-", text(field(d, "environment").device), when(d) }
  end
  io.stdout:write(columns(rows))
  return 0
end

-- "3" or "-1" -> an index into dicts, or nil, message.
local function pick(spec, n)
  local k = math.tointeger(tonumber(spec))
  if not k or k == 0 then
    return nil, ("'%s' is not a result number (1 is the first result, -1 the last)"):format(spec)
  end
  local i = k > 0 and k or n + 1 + k
  if i < 1 or i > n then
    return nil, ("there is no result %s: the store file holds %d result%s"):format(spec, n,
      n == 1 and "" or "s")
  end
  return i
end

-- The keys of either table (but those in `skip`), sorted.
local function union_keys(ta, tb, skip)
  local set = {}
  for _, t in ipairs { ta, tb } do
    for k in pairs(t) do
      if not (skip and skip[k]) then set[k] = true end
    end
  end
  return util.sorted_keys(set)
end

-- The rows of one group of numbers: {name, a, b, change} for every name in either table.
local function compare_numbers(ta, tb)
  local rows = {}
  for _, name in ipairs(union_keys(ta, tb)) do
    local a, b = value_of(ta[name]), value_of(tb[name])
    local change
    if type(a) == "number" and type(b) == "number" then change = b - a end
    rows[#rows + 1] = { name = name, a = a, b = b, change = change }
  end
  return rows
end

-- The keys of two records whose values differ, as {name, a, b} (text).
local function compare_settings(ta, tb, skip)
  local rows = {}
  for _, name in ipairs(union_keys(ta, tb, skip)) do
    local a, b = text(ta[name]), text(tb[name])
    if a ~= b then rows[#rows + 1] = { name = name, a = ta[name], b = tb[name], ta = a, tb = b } end
  end
  return rows
end

local function change_text(r)
  if r.change == nil then
    if r.a == nil then return "only in B" end
    if r.b == nil then return "only in A" end
    return ""
  end
  if r.change == 0 then return "same" end
  local s = (r.change > 0 and "+" or "") .. num(r.change)
  if r.a ~= 0 then s = s .. (" (%+.1f%%)"):format(100 * r.change / math.abs(r.a)) end
  return s
end

local function diff(dicts, ia, ib, json)
  local a, b = dicts[ia], dicts[ib]
  local metrics = compare_numbers(field(a, "results"), field(b, "results"))
  local speeds = compare_numbers(field(a, "speed_mem_metrics"), field(b, "speed_mem_metrics"))
  local config = compare_settings(field(a, "config"), field(b, "config"))
  local env = compare_settings(field(a, "environment"), field(b, "environment"),
    { created_at = true })
  if json then
    -- {name, a, b[, change]} with null for what a result lacks
    local function rows_json(rows, with_change)
      local out = {}
      for i, r in ipairs(rows) do
        out[i] = { name = r.name, a = r.a == nil and NULL or r.a, b = r.b == nil and NULL or r.b }
        if with_change then out[i].change = r.change == nil and NULL or r.change end
      end
      return out
    end
    io.stdout:write(core.result.encode_json({
      a = summary(ia, a), b = summary(ib, b),
      results = rows_json(metrics, true), speed_mem_metrics = rows_json(speeds, true),
      config = rows_json(config), environment = rows_json(env),
    }, true), "\n")
    return 0
  end
  local A, B = "A: #" .. ia, "B: #" .. ib
  local rows = {
    { "", A, B, "" },
    { "model", text(a.model), text(b.model), "" },
    { "dataset", text(a.dataset_name), text(b.dataset_name), "" },
    { "when (UTC)", when(a), when(b), "" },
  }
  local function section(title, group, changes)
    if #group == 0 then return end
    rows[#rows + 1] = { title, "", "", changes and "B - A" or "" }
    for _, r in ipairs(group) do
      if changes then
        rows[#rows + 1] = { "  " .. r.name, r.a == nil and "-" or num(r.a),
          r.b == nil and "-" or num(r.b), change_text(r) }
      else
        rows[#rows + 1] = { "  " .. r.name, cut(r.ta, 40), cut(r.tb, 40), "" }
      end
    end
  end
  section("results", metrics, true)
  section("speed_mem_metrics", speeds, true)
  section("config (what differs)", config, false)
  section("environment (what differs)", env, false)
  io.stdout:write(columns(rows))
  return 0
end

--- Runs the command on `args` (the words after `results`); returns the exit code.
function M.main(args)
  local path, json, pair
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "-h" or a == "--help" then
      io.stdout:write(M.USAGE)
      return 0
    elseif a == "--json" then
      json = true
    elseif a == "--diff" then
      if not args[i + 1] or not args[i + 2] then
        return fail("--diff needs two result numbers, e.g. --diff 1 2 (see sbengine results --help)")
      end
      pair = { args[i + 1], args[i + 2] }
      i = i + 2
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      return fail(("unknown option '%s' (see sbengine results --help)"):format(a))
    elseif path then
      return fail(("one store file at a time: got '%s' and '%s'"):format(path, a))
    else
      path = a
    end
    i = i + 1
  end
  path = path or store.path()
  local dicts, err = store.read(path)
  if not dicts then return fail(err) end
  if not pair then return list(path, dicts, json) end
  local ia, ea = pick(pair[1], #dicts)
  if not ia then return fail(ea) end
  local ib, eb = pick(pair[2], #dicts)
  if not ib then return fail(eb) end
  return diff(dicts, ia, ib, json)
end

return M
