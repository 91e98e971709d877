--- The store file: a JSON array of every result of every run (DESIGN §4).
--
-- Written with the C writer (sotabench's key order) and appended to textually, so objects
-- already in the file keep their exact bytes; read with lua-cjson (for `sbengine submit`).
-- Every write is atomic (temporary file, fsync, rename): a crash leaves the old file; writers
-- are serialised with a lock on the file (core.sys.lock_file).
local core = require "sbengine.core"
local cjson = require "cjson"
local session = require "sbengine.session"

local store = {}

store.DEFAULT = "sotabench_results.json"

--- --out, else $SOTABENCH_STORE_FILENAME, else sotabench_results.json.
function store.path()
  local env = os.getenv("SOTABENCH_STORE_FILENAME")
  if session.config.out then return session.config.out end
  if env and env ~= "" then return env end
  return store.DEFAULT
end

local function read_text(path)
  local f, err, code = io.open(path, "rb")
  if not f then
    if code == 2 then return nil end -- ENOENT: a new store file
    error(("store file %s cannot be read: %s"):format(path, err), 0)
  end
  local text = f:read("a")
  f:close()
  return text
end

-- Checks that `text` is a JSON array; returns its length or nil, reason.
local function array_length(text)
  if not text:match("^%s*%[") then return nil, "it is not a JSON array" end
  local ok, decoded = pcall(cjson.decode, text)
  if not ok then return nil, "it is not valid JSON (" .. tostring(decoded) .. ")" end
  return #decoded
end

-- Calls fn(...); a failure becomes "store file PATH cannot be written: <reason>".
local function store_call(path, fn, ...)
  local ok, result = pcall(fn, ...)
  if not ok then
    local reason = tostring(result):gsub("^[^:]*:%d+: ", "")
    error(("store file %s cannot be written: %s"):format(path, reason), 0)
  end
  return result
end

--- Appends `list` (BenchmarkResults) to the store file at `path`, atomically.
-- A file that exists but is not a JSON array is left alone: the new results go to
-- "<path>.recovered-<time>.json" instead and an error says so (nothing is lost).
function store.append(path, list)
  local new_text = core.result.array_json(list, true)
  -- Read-modify-write under an exclusive lock on the store file itself, so that runs that
  -- finish at the same time append one after the other instead of losing one another's.
  local lock <close> = store_call(path, core.sys.lock_file, path)
  local old = read_text(path)
  local text
  if old == nil or old:match("^%s*$") then
    text = new_text
  else
    local n, why = array_length(old)
    if not n then
      local rescue = ("%s.recovered-%s.json"):format(path, os.date("!%Y%m%dT%H%M%SZ"))
      core.sys.write_file_atomic(rescue, new_text .. "\n")
      error(("store file %s was not appended to because %s; the %d new result%s %s written "
        .. "to %s"):format(path, why, #list, #list == 1 and "" or "s",
        #list == 1 and "was" or "were", rescue), 0)
    end
    if n == 0 then
      text = new_text
    else
      -- "[ ...old objects... ]" + "[ ...new... ]" -> "[ ...old..., ...new... ]"
      local head = old:match("^(.-)%s*%]%s*$")
      text = head .. "," .. new_text:sub(2)
    end
  end
  store_call(path, core.sys.write_file_atomic, path, text .. "\n")
end

--- The objects of a store file, decoded (cjson.null for JSON null), or nil, message.
function store.read(path)
  local ok, text = pcall(read_text, path)
  if not ok then return nil, text end
  if text == nil then return nil, ("store file %s does not exist"):format(path) end
  local n, why = array_length(text)
  if not n then return nil, ("store file %s cannot be used: %s"):format(path, why) end
  local decoded = cjson.decode(text)
  for i = 1, n do
    if type(decoded[i]) ~= "table" then
      return nil, ("store file %s: entry %d is not an object"):format(path, i)
    end
  end
  return decoded
end

return store
