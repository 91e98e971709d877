-- sbengine._util: small helpers the library's modules share (not a public module).
local util = {}

--- The sizes of tensor `t` as a list.
function util.shape_of(t)
  local s = {}
  for i = 1, t:dim() do s[i] = t:size(i) end
  return s
end

--- "[2, 3, 4]": the shape of a tensor, or a list of sizes, for messages.
function util.shape_text(x)
  local sizes = type(x) == "table" and getmetatable(x) == nil and x or util.shape_of(x)
  local parts = {}
  for i, n in ipairs(sizes) do parts[i] = tostring(n) end
  return "[" .. table.concat(parts, ", ") .. "]"
end

--- The keys of `t`, sorted.
function util.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- Levenshtein distance between two strings.
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

util.distance = distance -- Levenshtein distance, for lists of nearest names

--- The key of `candidates` closest to `name` when it is close enough to be a typo of it
-- (for "did you mean"), else nil.
function util.closest(name, candidates)
  name = tostring(name)
  local best, best_d = nil, math.huge
  for candidate in pairs(candidates) do
    local d = distance(name, candidate)
    if d < best_d or (d == best_d and candidate < best) then best, best_d = candidate, d end
  end
  if best_d <= math.max(2, #name // 3) then return best end
  return nil
end

--- The folders `<dir>/<sub>` for every `<dir>/?.lua` template of package.path, in order, each
-- once, with "a/b/../" spelled "a/" (the installed binary's path says <prefix>/bin/../share):
-- where installed modules of a namespace (sbengine/benchmarks, sbengine/metrics) live.
function util.package_dirs(sub)
  local dirs, seen = {}, {}
  for template in package.path:gmatch("[^;]+") do
    local dir = template:match("^(.*)/%?%.lua$")
    if dir then
      dir = util.clean_path(dir .. "/" .. sub)
      if not seen[dir] then seen[dir] = true; dirs[#dirs + 1] = dir end
    end
  end
  return dirs
end

--- `path` with every "name/../" taken out ("/usr/bin/../share" -> "/usr/share").
function util.clean_path(path)
  local n
  repeat path, n = path:gsub("/[^/]+/%.%./", "/", 1) until n == 0
  return path
end

--- Checks an options table: nil gives {}, anything but a table or an unknown key (one not
-- in the set `known`) is an error naming `fn`, raised `level` levels above the caller.
--- Whether a file at `path` can be opened for reading.
function util.file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

function util.check_options(fn, opts, known, level)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(("%s: options must be a table, got %s"):format(fn, type(opts)), level + 1)
  end
  for k in pairs(opts) do
    if not known[k] then
      error(("%s: unknown option '%s' (known: %s)"):format(fn, tostring(k),
        table.concat(util.sorted_keys(known), ", ")), level + 1)
    end
  end
  return opts
end

return util
