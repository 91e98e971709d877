--- The store file: a JSON array of every result of every run (DESIGN §4).
--
-- Written with the C writer (sotabench's key order) and appended to textually, so objects
-- already in the file keep their exact bytes; read with lua-cjson (for `sbengine submit`).
-- Every write is atomic (temporary file, fsync, rename): a crash leaves the old file; writers
-- are serialised with a lock on the file (core.sys.lock_file). An existing file is checked
-- strictly (RFC 8259, in C) before anything is appended to it.
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
  local text, err2, code2 = f:read("a")
  f:close()
  if text == nil then
    if code2 == 21 then error(("store file %s is a folder, not a file"):format(path), 0) end
    error(("store file %s cannot be read: %s"):format(path, tostring(err2)), 0)
  end
  return text
end

-- Checks, strictly (RFC 8259: lua-cjson would accept raw control characters, invalid UTF-8,
-- NaN, 0x10), that `text` is a JSON array; returns its length or nil, reason.
local function array_length(text)
  local top, members = core.finish.json_shape(text)
  if not top then return nil, "it is " .. members:gsub("^not valid JSON: ", "not valid JSON (") .. ")" end
  if top ~= "[" then return nil, "it is not a JSON array" end
  return members
end
store.array_length = array_length

-- A failure of store.append: {kind = "not_array"|"unwritable", message = text}; tostring
-- gives the message.
local Failure = { __tostring = function(f) return f.message end }
local function failure(kind, message)
  return setmetatable({ kind = kind, message = message }, Failure)
end

-- Calls fn(...); a failure becomes "store file PATH cannot be written: <reason>".
local function store_call(path, fn, ...)
  local ok, result = pcall(fn, ...)
  if not ok then
    local reason = tostring(result):gsub("^[^:]*:%d+: ", "")
    error(failure("unwritable", ("store file %s cannot be written: %s"):format(path, reason)), 0)
  end
  return result
end

--- Appends `list` (BenchmarkResults; `new_text`, their JSON array, when already made) to the
-- store file at `path`, atomically. A file that exists but is not a JSON array (checked
-- strictly) is left alone. Raises {kind = "not_array" | "unwritable", message = ...}; the
-- caller (results.finish_run) saves the results elsewhere and says where.
function store.append(path, list, new_text)
  new_text = new_text or core.result.array_json(list, true)
  new_text = new_text:gsub("%s+$", "")
  -- Read-modify-write under an exclusive lock on the store file itself, so that runs that
  -- finish at the same time append one after the other instead of losing one another's.
  local lock <close> = store_call(path, core.sys.lock_file, path)
  local ok, old = pcall(read_text, path)
  if not ok then error(failure("unwritable", tostring(old)), 0) end
  local text
  if old == nil or old:match("^%s*$") then
    text = new_text
  else
    local n, why = array_length(old)
    if not n then
      error(failure("not_array", ("store file %s was not appended to because %s")
        :format(path, why)), 0)
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
  local decoded_ok, decoded = pcall(cjson.decode, text)
  if not decoded_ok then
    return nil, ("store file %s is valid JSON that lua-cjson cannot read: %s"):format(path,
      tostring(decoded))
  end
  for i = 1, n do
    if type(decoded[i]) ~= "table" then
      return nil, ("store file %s: entry %d is not an object"):format(path, i)
    end
  end
  return decoded
end

return store
