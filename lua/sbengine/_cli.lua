--- Sub-commands of the `sbengine` executable that are written in Lua.
-- engine/main.c calls `cli.<command>(...)` and uses the returned integer as exit code.
local cli = {}

--- sbengine submit FILE: sends every result stored in FILE to the results server.
-- 0 = all received, 2 = FILE unusable, 3 = the server did not take them all.
-- Results the server already has (same idempotency key) are not duplicated.
function cli.submit(file)
  local core = require "sbengine.core"
  local store = require "sbengine._store"
  local results = require "sbengine.results"
  local dicts, err = store.read(file)
  if not dicts then
    io.stderr:write("sbengine: " .. err .. "\n")
    return 2
  end
  if #dicts == 0 then
    io.stderr:write(("sbengine: %s holds no results; nothing to submit\n"):format(file))
    return 2
  end
  local list = {}
  for i, d in ipairs(dicts) do
    local ok, r = pcall(core.result.from_dict, d)
    if not ok then
      io.stderr:write(("sbengine: %s: entry %d: %s\n"):format(file, i, r))
      return 2
    end
    list[i] = r
  end
  return results.submit_list(list, file)
end

-- Where benchmark definitions are: every `sbengine/benchmarks/` folder that package.path
-- reaches (installed, rocks), and the source tree's benchmarks/ (init.lua's searcher).
local function benchmark_dirs()
  local dirs, seen = {}, {}
  local function add(dir)
    if not seen[dir] then seen[dir] = true; dirs[#dirs + 1] = dir end
  end
  local init = package.searchpath("sbengine", package.path)
  local tree = init and init:match("^(.*)/sbengine/init%.lua$")
  if tree then
    local root = tree:match("^(.*)/lua$") or (tree .. "/..")
    local f = io.open(root .. "/benchmarks/mnist.lua", "r")
    if f then f:close(); add(root .. "/benchmarks") end
  end
  for _, dir in ipairs(require("sbengine._util").package_dirs("sbengine/benchmarks")) do add(dir) end
  return dirs
end

-- name -> file of every benchmark found, first folder first.
local function benchmarks()
  local core = require "sbengine.core"
  local found, names = {}, {}
  for _, dir in ipairs(benchmark_dirs()) do
    for _, file in ipairs(core.sys.list_files(dir, ".lua") or {}) do
      local name = file:match("^([%w_]+)%.lua$")
      if name and not found[name] then
        found[name] = dir .. "/" .. file
        names[#names + 1] = name
      end
    end
  end
  table.sort(names)
  return found, names
end

--- sbengine bench NAME: the file of benchmark NAME, or nil and why.
function cli.bench_path(name)
  if name:match("%.lua$") then -- a benchmark file given by its path
    local f = io.open(name, "r")
    if f then f:close(); return name end
    return nil, ("no benchmark file '%s'"):format(name)
  end
  local found, names = benchmarks()
  if found[name] then return found[name] end
  local best = require("sbengine._util").closest(name, found)
  return nil, ("no benchmark '%s'%s; the benchmarks found: %s (sbengine bench --list says more; "
    .. "a rock installs more as sbengine.benchmarks.NAME)"):format(name,
      best and (" (did you mean '%s'?)"):format(best) or "",
      #names > 0 and table.concat(names, ", ") or "none")
end

--- sbengine bench --list: each benchmark with its dataset, task and metrics.
function cli.bench_list()
  local found, names = benchmarks()
  local rows = { { "NAME", "DATASET", "TASK", "METRICS", "FILE" } }
  for _, name in ipairs(names) do
    local ok, B = pcall(require, "sbengine.benchmarks." .. name)
    if ok and type(B) == "table" and B.task then
      local metrics = {}
      for i, m in ipairs(B.metrics or {}) do
        metrics[i] = type(m) == "table" and (m.name or m[1]) or tostring(m)
      end
      rows[#rows + 1] = { name, B.dataset_name or B.name, B.task, table.concat(metrics, ", "),
        found[name] }
    else
      rows[#rows + 1] = { name, "?", "?", "(does not load: " .. tostring(B):gsub("\n.*", "")
        .. ")", found[name] }
    end
  end
  local widths = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do widths[i] = math.max(widths[i] or 0, #cell) end
  end
  for _, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do
      cells[i] = i < #row and cell .. (" "):rep(widths[i] - #cell) or cell
    end
    print(table.concat(cells, "  "))
  end
  return 0
end

--- The prompt's tab completion (engine/cli/repl.c): the completions of `text`, an expression
-- such as "sb.nn.Lin" or "t:si", as whole words. Fields come from the table and from the
-- table its metatable's __index is; after ':' only functions.
function cli.complete(text)
  local path, sep, stem = text:match("^(.-)([.:]?)([%w_]*)$")
  local t = _G
  if sep ~= "" then
    for name in path:gmatch("[^.:]+") do
      local ok, v = pcall(function() return t[name] end)
      if not ok or v == nil then return {} end
      t = v
    end
  end
  local seen, out = {}, {}
  local function add_keys(tbl)
    if type(tbl) ~= "table" then return end
    for k, v in pairs(tbl) do
      if type(k) == "string" and k:match("^[%a_][%w_]*$") and not seen[k]
          and k:sub(1, #stem) == stem and (sep ~= ":" or type(v) == "function") then
        seen[k] = true
        out[#out + 1] = path .. sep .. k
      end
    end
  end
  add_keys(t)
  local mt = getmetatable(t)
  local index = type(mt) == "table" and mt.__index
  if type(index) == "table" then
    add_keys(index)
  elseif type(index) == "function" and debug.getinfo(index, "S").what == "C" then
    -- a C __index (the tensor userdata's) keeps its methods table as an upvalue
    for i = 1, 4 do
      local name, v = debug.getupvalue(index, i)
      if name == nil then break end
      add_keys(v)
    end
  end
  if sep == "" then
    for _, kw in ipairs { "and", "break", "do", "else", "elseif", "end", "false", "for",
      "function", "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then",
      "true", "until", "while" } do
      if kw:sub(1, #stem) == stem and not seen[kw] then out[#out + 1] = kw end
    end
  end
  table.sort(out)
  return out
end

return cli
